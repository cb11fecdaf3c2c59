// .msg files (MS-OXMSG): an OLE2 compound file read through libolecf; the property streams,
// recipients, attachments and embedded messages are decoded here into an OutlookItem.
#include "msg.hpp"

#include <fcntl.h>
#include <libbfio.h>
#include <libolecf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "credsift/outlook.hpp"
#include "outlook_item.hpp"
#include "range_io.hpp"

namespace credsift::outlook_detail {
namespace {

constexpr int kMaxEmbeddedDepth = 8;
constexpr int kMaxSubItems = 10000;  // recipients or attachments of one message
constexpr uint32_t kObjectEmbedded = 0x3701000D;

std::string take_error(libolecf_error_t*& error) {
  if (!error) return "unknown libolecf error";
  char buf[512] = {};
  libolecf_error_sprint(error, buf, sizeof buf);
  libolecf_error_free(&error);
  error = nullptr;
  return one_line_backtrace(buf);
}

struct OleItemFree {
  void operator()(libolecf_item_t* item) const {
    if (item) libolecf_item_free(&item, nullptr);
  }
};
using OleItem = std::unique_ptr<libolecf_item_t, OleItemFree>;

uint32_t le32(const unsigned char* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

OleItem child(libolecf_item_t* parent, std::string_view name) {
  libolecf_error_t* err = nullptr;
  libolecf_item_t* raw = nullptr;
  if (libolecf_item_get_sub_item_by_utf8_name(parent, reinterpret_cast<const uint8_t*>(name.data()),
                                              name.size(), &raw, &err) != 1) {
    if (err) libolecf_error_free(&err);
    return nullptr;
  }
  return OleItem(raw);
}

std::string item_name(libolecf_item_t* item) {
  libolecf_error_t* err = nullptr;
  size_t size = 0;
  if (libolecf_item_get_utf8_name_size(item, &size, &err) != 1 || size == 0 || size > 256) {
    if (err) libolecf_error_free(&err);
    return {};
  }
  std::string name(size, '\0');
  if (libolecf_item_get_utf8_name(item, reinterpret_cast<uint8_t*>(name.data()), size, &err) != 1) {
    if (err) libolecf_error_free(&err);
    return {};
  }
  name.resize(strnlen(name.data(), name.size()));
  return name;
}

// Reads the MAPI objects of one storage within a byte budget shared by the whole message, so
// that a file whose streams claim gigabytes (or point at each other) costs at most the limit.
class MsgDecoder {
 public:
  MsgDecoder(uint64_t max_bytes) : budget_(max_bytes), max_bytes_(max_bytes) {}

  // `header` is the size of the property stream's header: 32 for the top-level message, 24 for
  // an embedded one, 8 for recipients and attachments.
  void read_message(libolecf_item_t* storage, size_t header, int depth, OutlookItem& out) {
    read_properties(storage, header, out.props, out.problems, false);
    int count = 0;
    libolecf_error_t* err = nullptr;
    if (libolecf_item_get_number_of_sub_items(storage, &count, &err) != 1) {
      out.problems.push_back("storage cannot be listed: " + take_error(err));
      return;
    }
    int recipients = 0, attachments = 0;
    for (int i = 0; i < count; ++i) {
      libolecf_item_t* raw = nullptr;
      if (libolecf_item_get_sub_item(storage, i, &raw, &err) != 1) {
        take_error(err);
        continue;
      }
      OleItem sub(raw);
      const std::string name = item_name(sub.get());
      if (name.rfind("__recip_version1.0_", 0) == 0) {
        if (++recipients > kMaxSubItems) continue;
        Properties r;
        read_properties(sub.get(), 8, r, out.problems, false);
        out.recipients.push_back(std::move(r));
      } else if (name.rfind("__attach_version1.0_", 0) == 0) {
        if (++attachments > kMaxSubItems) continue;
        out.attachments.push_back(read_attachment(sub.get(), depth, out.problems));
      }
    }
    if (recipients > kMaxSubItems || attachments > kMaxSubItems)
      out.problems.push_back("more than " + std::to_string(kMaxSubItems) +
                             " recipients or attachments: the rest not read");
  }

 private:
  OutlookAttachment read_attachment(libolecf_item_t* storage, int depth,
                                    std::vector<std::string>& problems) {
    OutlookAttachment a;
    read_properties(storage, 8, a.props, problems, true);
    char name[32];
    snprintf(name, sizeof name, "__substg1.0_%08X", kObjectEmbedded);
    if (OleItem embedded = child(storage, name)) {
      if (depth >= kMaxEmbeddedDepth) {
        problems.push_back("embedded message nested deeper than " +
                           std::to_string(kMaxEmbeddedDepth) + " levels, not read");
        return a;
      }
      a.embedded = std::make_unique<OutlookItem>();
      read_message(embedded.get(), 24, depth + 1, *a.embedded);
      for (auto& p : a.embedded->problems) problems.push_back(std::move(p));
      a.embedded->problems.clear();
      return a;
    }
    for (const uint16_t type : {kPtBinary, kPtObject}) {
      snprintf(name, sizeof name, "__substg1.0_%04X%04X", kPidAttachData, type);
      if (OleItem data = child(storage, name)) {
        uint32_t size = 0;
        libolecf_error_t* err = nullptr;
        if (libolecf_item_get_size(data.get(), &size, &err) != 1) {
          problems.push_back("attachment data size cannot be read: " + take_error(err));
          return a;
        }
        a.data_size = size;
        if (type == kPtObject) break;  // an OLE object storage, not file bytes
        if (size > budget_) {
          a.over_limit = true;
          return a;
        }
        read_stream(data.get(), size, a.data, problems);
        break;
      }
    }
    return a;
  }

  bool read_stream(libolecf_item_t* stream, uint32_t size, std::string& out,
                   std::vector<std::string>& problems) {
    libolecf_error_t* err = nullptr;
    out.resize(size);
    size_t have = 0;
    while (have < size) {
      const ssize_t got = libolecf_stream_read_buffer_at_offset(
          stream, reinterpret_cast<uint8_t*>(out.data() + have), size - have,
          static_cast<off64_t>(have), &err);
      if (got < 0) {
        problems.push_back("stream read error at byte " + std::to_string(have) + ": " +
                           take_error(err));
        out.resize(have);
        budget_ -= std::min<uint64_t>(budget_, have);
        return false;
      }
      if (got == 0) break;
      have += static_cast<size_t>(got);
    }
    out.resize(have);
    budget_ -= std::min<uint64_t>(budget_, have);
    return true;
  }

  void read_properties(libolecf_item_t* storage, size_t header, Properties& props,
                       std::vector<std::string>& problems, bool skip_attach_data) {
    OleItem stream = child(storage, "__properties_version1.0");
    if (!stream) {
      problems.push_back("no __properties_version1.0 stream");
      return;
    }
    libolecf_error_t* err = nullptr;
    uint32_t size = 0;
    if (libolecf_item_get_size(stream.get(), &size, &err) != 1) {
      problems.push_back("property stream size cannot be read: " + take_error(err));
      return;
    }
    // 16 bytes an entry; a property stream larger than the message limit is hostile.
    if (size > max_bytes_ || size > budget_) {
      problems.push_back("property stream of " + std::to_string(size) +
                         " bytes over the message size limit, not read");
      return;
    }
    std::string table;
    if (!read_stream(stream.get(), size, table, problems)) return;
    if (table.size() < header) {
      problems.push_back("property stream shorter than its header");
      return;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(table.data());
    for (size_t pos = header; pos + 16 <= table.size(); pos += 16) {
      const uint32_t tag = le32(p + pos);
      const auto type = static_cast<uint16_t>(tag & 0xFFFF);
      const auto id = static_cast<uint16_t>(tag >> 16);
      if (type & 0x1000) continue;  // multi-valued
      if (skip_attach_data && id == kPidAttachData) continue;
      Property value;
      value.type = type;
      switch (type) {
        case kPtInt16:
        case kPtInt32:
        case kPtBoolean:
        case 0x0004:
        case 0x000A:
          value.data.assign(table, pos + 8, 4);
          break;
        case kPtInt64:
        case kPtSystime:
        case 0x0005:
        case 0x0006:
        case 0x0007:
          value.data.assign(table, pos + 8, 8);
          break;
        case kPtString8:
        case kPtUnicode:
        case kPtBinary: {
          char name[32];
          snprintf(name, sizeof name, "__substg1.0_%08X", tag);
          OleItem data = child(storage, name);
          if (!data) continue;
          uint32_t data_size = 0;
          if (libolecf_item_get_size(data.get(), &data_size, &err) != 1) {
            take_error(err);
            continue;
          }
          if (data_size > budget_) {
            char hex[16];
            snprintf(hex, sizeof hex, "0x%04X", id);
            problems.push_back(std::string("property ") + hex + " (" + std::to_string(data_size) +
                               " bytes) over the message size limit, skipped");
            continue;
          }
          std::string raw;
          read_stream(data.get(), data_size, raw, problems);
          if (type == kPtUnicode)
            value.data = utf16le_to_utf8(raw);
          else if (type == kPtString8) {
            while (!raw.empty() && raw.back() == '\0') raw.pop_back();
            value.data = cp1252_to_utf8(raw);
          } else {
            value.data = std::move(raw);
          }
          break;
        }
        default:
          continue;
      }
      props[id] = std::move(value);
    }
  }

  uint64_t budget_;
  uint64_t max_bytes_;
};

struct OleFile {
  libbfio_handle_t* range = nullptr;  // over the caller's bytes (an attached .msg); freed last
  libolecf_file_t* file = nullptr;
  ~OleFile() {
    if (file) {
      libolecf_file_close(file, nullptr);
      libolecf_file_free(&file, nullptr);
    }
    if (range) libbfio_handle_free(&range, nullptr);
  }
};

// Opens the compound file (from a path, or from bytes when path is empty) and checks that it
// is an Outlook item: a root property stream and a message class.
constexpr const char* kImplausibleLayout = "damaged OLE2 compound file: ";

std::unique_ptr<OleFile> open_ole(const std::string* path, std::string_view bytes,
                                  std::string& error, bool& not_msg) {
  not_msg = false;
  auto ole = std::make_unique<OleFile>();
  libolecf_error_t* err = nullptr;
  if (libolecf_file_initialize(&ole->file, &err) != 1) {
    error = "cannot initialise libolecf: " + take_error(err);
    return nullptr;
  }
  int rc;
  if (path) {
    // The layout is checked before libolecf sees the file (see ole2_layout_plausible).
    bool plausible = false;
    std::string why = "cannot be read, or smaller than its header";
    const int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && ::fstat(fd, &st) == 0 && st.st_size >= 512) {
      void* map = ::mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (map != MAP_FAILED) {
        plausible = ole2_layout_plausible(
            std::string_view(static_cast<const char*>(map), st.st_size), &why);
        ::munmap(map, size_t(st.st_size));
      }
    }
    if (fd >= 0) ::close(fd);
    if (!plausible) {
      error = kImplausibleLayout + why;
      return nullptr;
    }
    rc = libolecf_file_open(ole->file, path->c_str(), LIBOLECF_OPEN_READ, &err);
  } else {
    if (std::string why; !ole2_layout_plausible(bytes, &why)) {
      error = kImplausibleLayout + why;
      return nullptr;
    }
    // libbfio's own memory ranges read past their end on hostile compound files (found by
    // msg_fuzz: a heap overflow inside libbfio_memory_range_read, Debian libbfio 20170123); our
    // range handle stops at the end and reads in place, with no syscall per sector.
    ole->range = bounded_range_handle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (!ole->range) {
      error = "cannot create a memory range for an attached .msg";
      return nullptr;
    }
    rc = libolecf_file_open_file_io_handle(ole->file, ole->range, LIBOLECF_OPEN_READ, &err);
  }
  if (rc != 1) {
    error = "damaged OLE2 compound file: " + take_error(err);
    libolecf_file_free(&ole->file, nullptr);
    ole->file = nullptr;
    return nullptr;
  }
  return ole;
}

OleItem root_of(OleFile& ole, std::string& error) {
  libolecf_error_t* err = nullptr;
  libolecf_item_t* raw = nullptr;
  if (libolecf_file_get_root_item(ole.file, &raw, &err) != 1 || !raw) {
    error = "OLE2 compound file without a root storage: " + take_error(err);
    return nullptr;
  }
  return OleItem(raw);
}

bool is_msg_root(libolecf_item_t* root) {
  return child(root, "__properties_version1.0") != nullptr &&
         (child(root, "__substg1.0_001A001F") != nullptr ||
          child(root, "__substg1.0_001A001E") != nullptr);
}

}  // namespace

}  // namespace credsift::outlook_detail

namespace credsift {

bool ole2_header_plausible(std::string_view header, uint64_t file_size) {
  if (header.size() < 512 || file_size < 512) return false;  // smaller than the header
  const auto u32 = [&](size_t at) {
    return uint32_t(uint8_t(header[at])) | uint32_t(uint8_t(header[at + 1])) << 8 |
           uint32_t(uint8_t(header[at + 2])) << 16 | uint32_t(uint8_t(header[at + 3])) << 24;
  };
  const unsigned shift = uint8_t(header[0x1E]) | uint8_t(header[0x1F]) << 8;
  if (shift != 9 && shift != 12) return false;
  const uint64_t sectors = file_size / (uint64_t(1) << shift) + 1;
  for (size_t count_at : {size_t(0x28), size_t(0x2C), size_t(0x40), size_t(0x48)})
    if (u32(count_at) > sectors) return false;
  return true;
}

bool ole2_layout_plausible(std::string_view file, std::string* why) {
  const auto refuse = [&](uint64_t at, const std::string& what) {
    if (why) *why = what + " (at byte " + std::to_string(at) + ")";
    return false;
  };
  if (!ole2_header_plausible(file, file.size()))
    return refuse(0, "its header points outside the file (more sectors than it holds)");
  const auto u32 = [&](uint64_t at) {
    return uint32_t(uint8_t(file[at])) | uint32_t(uint8_t(file[at + 1])) << 8 |
           uint32_t(uint8_t(file[at + 2])) << 16 | uint32_t(uint8_t(file[at + 3])) << 24;
  };
  constexpr uint32_t kEndOfChain = 0xFFFFFFFE;
  constexpr uint32_t kFree = 0xFFFFFFFF;
  const uint64_t sector_size = uint64_t(1) << (uint8_t(file[0x1E]) | uint8_t(file[0x1F]) << 8);
  // The mini stream cut-off and sector size are fixed by MS-CFB; libolecf takes them from here.
  if (u32(0x38) != 4096 || (uint8_t(file[0x20]) | uint8_t(file[0x21]) << 8) != 6)
    return refuse(0x1E, "mini sector size or mini stream cut-off not the fixed ones");
  const uint64_t sectors = (file.size() - 512 + sector_size - 1) / sector_size;
  const auto sector_at = [&](uint32_t sector) { return 512 + uint64_t(sector) * sector_size; };
  const auto whole_sector = [&](uint32_t sector) {
    return sector < sectors && sector_at(sector) + sector_size <= file.size();
  };
  // The FAT: its sectors listed in the header, then in the DIFAT chain.
  const uint32_t fat_sectors = u32(0x2C);
  std::vector<uint32_t> fat_list;
  for (uint32_t i = 0; i < 109 && fat_list.size() < fat_sectors; ++i)
    fat_list.push_back(u32(0x4C + 4 * i));
  uint32_t difat = u32(0x44);
  for (uint32_t hops = 0; fat_list.size() < fat_sectors; ++hops) {
    if (hops > sectors || !whole_sector(difat))
      return refuse(0x44, "DIFAT chain leaves the file or loops");
    for (uint64_t i = 0; i + 1 < sector_size / 4 && fat_list.size() < fat_sectors; ++i)
      fat_list.push_back(u32(sector_at(difat) + 4 * i));
    difat = u32(sector_at(difat) + sector_size - 4);
  }
  std::vector<uint32_t> fat;
  for (uint32_t sector : fat_list) {
    if (!whole_sector(sector)) return refuse(0x4C, "a FAT sector lies outside the file");
    for (uint64_t i = 0; i < sector_size / 4; ++i) fat.push_back(u32(sector_at(sector) + 4 * i));
  }
  // The directory chain, each sector visited once.
  std::vector<uint32_t> directory;
  std::vector<bool> seen(fat.size());
  for (uint32_t sector = u32(0x30); sector != kEndOfChain; sector = fat[sector]) {
    if (sector >= fat.size() || seen[sector] || !whole_sector(sector))
      return refuse(directory.empty() ? 0x30 : sector_at(directory.back()),
                    "directory chain leaves the file or loops");
    seen[sector] = true;
    directory.push_back(sector);
  }
  // libolecf finds a mini stream sector by walking the FAT chain of the mini stream once per
  // 512 bytes of its offset, and it takes a stream's first sector and each mini FAT entry
  // unchecked: a first sector in the billions, or a mini FAT entry of 0xFFFFFFFA (a reserved
  // value) over a looping mini stream chain, made it walk for seconds on one read (found by
  // msg_fuzz). Every stream must start inside the data it lives in, the mini stream's own chain
  // must be whole, and the chain of every small stream must stay inside the mini stream.
  uint64_t mini_sectors = 0;
  uint64_t root_at = 0;
  uint32_t root_start = kEndOfChain;
  struct SmallStream {
    uint64_t entry_at;
    uint32_t start;
    uint64_t size;
  };
  std::vector<SmallStream> small_streams;
  bool root = true;
  for (uint32_t sector : directory) {
    for (uint64_t at = sector_at(sector); at + 128 <= sector_at(sector) + sector_size; at += 128) {
      const uint8_t type = uint8_t(file[at + 66]);
      const uint32_t start = u32(at + 116);
      const uint64_t size = u32(at + 120);  // the high half is not used by version 3 files
      if (root) {
        if (type != 5 || size > file.size())
          return refuse(at, "root directory entry missing or larger than the file");
        mini_sectors = (size + 63) / 64;
        root_at = at;
        root_start = start;
        root = false;
        continue;
      }
      if (type != 2 || size == 0) continue;
      if (size < 4096 ? start >= mini_sectors : start >= sectors)
        return refuse(at, "a stream starts outside the data it lives in");
      if (size < 4096) small_streams.push_back({at, start, size});
    }
  }
  // The mini stream's chain: as many distinct sectors inside the file as its size needs.
  uint32_t sector = root_start;
  for (uint64_t i = 0, need = (mini_sectors * 64 + sector_size - 1) / sector_size; i < need; ++i) {
    if (sector >= fat.size() || seen[sector] || !whole_sector(sector))
      return refuse(root_at, "the mini stream's sector chain leaves the file or loops");
    seen[sector] = true;
    sector = fat[sector];
  }
  std::vector<uint32_t> mini_fat;
  for (uint32_t i = 0, count = u32(0x40), at = u32(0x3C); i < count; ++i) {
    if (at >= fat.size() || !whole_sector(at))
      return refuse(0x3C, "mini FAT chain leaves the file");
    for (uint64_t e = 0; e < sector_size / 4; ++e) {
      const uint32_t next = u32(sector_at(at) + 4 * e);
      // In the mini FAT only a mini sector, the end of a chain or a free entry make sense.
      if (next != kEndOfChain && next != kFree && next >= mini_sectors) {
        char value[16];
        snprintf(value, sizeof value, "0x%08X", next);
        return refuse(sector_at(at) + 4 * e, "mini FAT entry " + std::to_string(mini_fat.size()) +
                                                 " is " + value +
                                                 ", not a sector of the mini stream");
      }
      mini_fat.push_back(next);
    }
    at = fat[at];
  }
  // Each small stream's chain, as far as its size reaches (at most 64 steps): a free entry
  // inside it would send libolecf to mini sector 0xFFFFFFFF. An early end of chain is a plain
  // read error, cheap, and left to the reader to report.
  for (const SmallStream& stream : small_streams) {
    uint32_t mini = stream.start;
    for (uint64_t i = 1, need = (stream.size + 63) / 64; i < need; ++i) {
      if (mini >= mini_fat.size())
        return refuse(stream.entry_at, "a small stream's chain leaves the mini FAT");
      mini = mini_fat[mini];
      if (mini == kEndOfChain) break;
      if (mini >= mini_sectors)
        return refuse(stream.entry_at, "a small stream's chain reaches a free mini sector");
    }
  }
  return true;
}

}  // namespace credsift

namespace credsift::outlook_detail {

std::optional<OutlookItem> read_msg_file(const std::string& path, uint64_t max_bytes,
                                         std::string& error) {
  bool not_msg = false;
  auto ole = open_ole(&path, {}, error, not_msg);
  if (!ole) return std::nullopt;
  OleItem root = root_of(*ole, error);
  if (!root) return std::nullopt;
  if (!is_msg_root(root.get())) return std::nullopt;  // a .doc, an .xls: not ours
  OutlookItem item;
  MsgDecoder(max_bytes).read_message(root.get(), 32, 0, item);
  return item;
}

std::optional<std::string> msg_bytes_to_rfc5322(std::string_view bytes, uint64_t max_bytes,
                                                std::vector<std::string>& problems) {
  if (bytes.substr(0, 8) != std::string_view("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8))
    return std::nullopt;
  std::string error;
  bool not_msg = false;
  auto ole = open_ole(nullptr, bytes, error, not_msg);
  if (!ole) {
    problems.push_back(error);
    return std::nullopt;
  }
  OleItem root = root_of(*ole, error);
  if (!root || !is_msg_root(root.get())) return std::nullopt;
  OutlookItem item;
  MsgDecoder(max_bytes).read_message(root.get(), 32, 0, item);
  for (auto& p : item.problems) problems.push_back(std::move(p));
  item.problems.clear();
  return render_rfc5322(item, max_bytes, problems);
}

}  // namespace credsift::outlook_detail

namespace credsift {

std::optional<std::string> outlook_item_to_rfc5322(std::string_view file_bytes, uint64_t max_bytes,
                                                   std::vector<std::string>* problems) {
  std::vector<std::string> ignored;
  return outlook_detail::msg_bytes_to_rfc5322(file_bytes, max_bytes,
                                              problems ? *problems : ignored);
}

}  // namespace credsift

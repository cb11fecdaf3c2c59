// PST/OST through libpff: every folder (walked with an explicit stack, bounded depth, a visited
// set against cycles), every item in it, then the items libpff recovers from unallocated space.
// Each item becomes an OutlookItem and is rendered as an RFC 5322 message; items are read and
// rendered in the scan's parallel stage, in runs of consecutive items, each run through one
// libpff handle.
#include <fcntl.h>
#include <libbfio.h>
#include <libpff.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "../outlook/outlook_item.hpp"
#include "../outlook/range_io.hpp"
#include "guarded_map.hpp"
#include "outlook.hpp"
#include "pst_checksum.hpp"
#include "pst_decrypt.hpp"

namespace credsift::source_detail {
namespace {

using namespace outlook_detail;

using Level = Diagnostic::Level;

constexpr size_t kMaxFolderDepth = 64;
constexpr int kMaxEmbeddedDepth = 8;
constexpr size_t kReadChunk = 1 << 20;
// Pages of the mapped PST that readers touched are dropped from the process (not from the page
// cache) after this many rendered bytes, so that RSS stays bounded on a PST of any size.
constexpr uint64_t kDropMappedPagesEvery = 256ull << 20;

std::string take_error(libpff_error_t*& error) {
  if (!error) return "unknown libpff error";
  char buf[512] = {};
  libpff_error_sprint(error, buf, sizeof buf);
  libpff_error_free(&error);
  error = nullptr;
  return one_line_backtrace(buf);
}

struct ItemFree {
  void operator()(libpff_item_t* item) const {
    if (item) libpff_item_free(&item, nullptr);
  }
};
using ItemPtr = std::unique_ptr<libpff_item_t, ItemFree>;

struct RecordSetFree {
  void operator()(libpff_record_set_t* set) const {
    if (set) libpff_record_set_free(&set, nullptr);
  }
};
struct RecordEntryFree {
  void operator()(libpff_record_entry_t* entry) const {
    if (entry) libpff_record_entry_free(&entry, nullptr);
  }
};

// The PST mapped once and shared by every libpff handle on it: libpff reads a block at a time
// (8 KiB on enron.pst), and through a file handle each read is an lseek plus a read system call
// (15,000 of them for a 14 MB PST); from the mapping (bounded_range_handle: never past its end)
// it is a copy. Guarded: a PST truncated during the scan reads as zeros past its new end (libpff
// then reports checksum errors).
struct PstImage {
  std::unique_ptr<GuardedMapping> mapping;
  std::atomic<uint64_t> rendered{0};  // bytes rendered since the mapped pages were last dropped

  static std::shared_ptr<PstImage> map(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    struct stat st {};
    std::shared_ptr<PstImage> image;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      image = std::make_shared<PstImage>();
      image->mapping = std::make_unique<GuardedMapping>(fd, static_cast<size_t>(st.st_size));
      if (!image->mapping->ok()) image.reset();  // no mapping: libpff reads the file itself
    }
    ::close(fd);
    return image;
  }

  void account(uint64_t bytes) {
    if (rendered.fetch_add(bytes) + bytes < kDropMappedPagesEvery) return;
    rendered.store(0);
    // Other workers may be reading the mapping: they fault the pages back in from the cache.
    const std::string_view all = mapping->bytes();
    madvise(const_cast<char*>(all.data()), all.size(), MADV_DONTNEED);
  }
};

struct PffFile {
  libpff_file_t* pff = nullptr;
  libbfio_handle_t* range = nullptr;  // over the shared PstImage; freed after the file
  std::shared_ptr<PstImage> image;
  PffFile() = default;
  PffFile(const PffFile&) = delete;
  PffFile& operator=(const PffFile&) = delete;
  ~PffFile() {
    if (pff) {
      libpff_file_close(pff, nullptr);
      libpff_file_free(&pff, nullptr);
    }
    if (range) libbfio_handle_free(&range, nullptr);
  }
};

std::unique_ptr<PffFile> open_pff(const std::string& path, std::shared_ptr<PstImage> image,
                                  std::string& error) {
  auto file = std::make_unique<PffFile>();
  libpff_error_t* err = nullptr;
  if (libpff_file_initialize(&file->pff, &err) != 1) {
    error = "cannot initialise libpff: " + take_error(err);
    file->pff = nullptr;
    return nullptr;
  }
  int opened = -1;
  if (image) {
    const std::string_view bytes = image->mapping->bytes();
    file->range =
        bounded_range_handle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (file->range) {
      file->image = std::move(image);
      opened = libpff_file_open_file_io_handle(file->pff, file->range, LIBPFF_OPEN_READ, &err);
    }
  }
  if (opened == -1 && !file->image)
    opened = libpff_file_open(file->pff, path.c_str(), LIBPFF_OPEN_READ, &err);
  if (opened != 1) {
    error = "not a readable PST/OST file: " + take_error(err);
    libpff_file_free(&file->pff, nullptr);
    file->pff = nullptr;
    return nullptr;
  }
  return file;
}

// Consecutive items of a PST, in the walk's order, that one worker reads through one libpff
// handle (InputBatch::complete_run): a folder's items from `first`, `count` of them, whose
// origin indexes start at `first_index`. The PST's last run also reads the items libpff
// recovers from unallocated space.
struct RunSegment {
  std::optional<uint32_t> folder_id;  // none: the folder cannot be found again
  std::shared_ptr<const std::string> folder;
  int first = 0, count = 0;
  uint64_t first_index = 0;
};
struct Run {
  std::vector<RunSegment> segments;
  bool recover = false;
  uint64_t recovered_first_index = 0;
};

// Reads runs of items into OutlookItems and renders them, in the scan's parallel stage. A
// libpff file handle is not thread-safe: each run takes a handle from the pool (the walk's own
// handle once the walk is done, opened on the same file when the pool is empty) and gives it
// back. A run is many items (a small PST is one run), so that two threads scanning a directory
// of PSTs read each PST through one handle, as one thread does: a second handle costs an open
// (the name-to-id map, the index roots) and its caches filled again, and with items handed out
// one at a time, 2 threads needed 1.22x the CPU of one.
class PstItems {
 public:
  PstItems(std::shared_ptr<const std::string> file, std::shared_ptr<PstImage> image,
           uint64_t max_bytes, ItemReport report)
      : file_(std::move(file)),
        image_(std::move(image)),
        max_bytes_(max_bytes),
        report_(std::move(report)) {}

  const std::shared_ptr<PstImage>& image() const { return image_; }

  // The walk's handle, into the pool (the walk holds no item of it any more).
  void give(std::unique_ptr<PffFile> file) {
    auto handle = std::make_unique<Handle>();
    handle->owned = std::move(file);
    handle->file = handle->owned.get();
    release(std::move(handle));
  }

  void read_run(const Run& run, std::vector<Message>& out) {
    std::unique_ptr<Handle> handle = pooled();
    std::string error;
    if (!handle) handle = open_handle(error);
    for (const RunSegment& segment : run.segments) {
      for (int k = 0; k < segment.count; ++k) {
        const int index = segment.first + k;
        Message m;
        m.origin = origin(*segment.folder, segment.first_index + uint64_t(k), false);
        if (!segment.folder_id)
          unreadable(m, "item " + std::to_string(index) + " of folder '" + *segment.folder +
                            "' cannot be read: the folder has no node id");
        else if (!handle)
          unreadable(m, "item " + std::to_string(index) + " of folder '" + *segment.folder +
                            "' cannot be read: " + error);
        else
          read_with(*handle, m, *segment.folder_id, *segment.folder, index);
        out.push_back(std::move(m));
      }
    }
    if (run.recover) {
      if (handle)
        recover(*handle->file, run.recovered_first_index, out);
      else
        report_(Level::Warning, 0, "recovery of deleted items failed: " + error);
    }
    if (handle) release(std::move(handle));
  }

 private:
  struct Handle {
    std::unique_ptr<PffFile> owned;
    PffFile* file = nullptr;
    uint32_t folder_id = 0;
    ItemPtr folder;  // the folder last read from, freed before the file
  };

  Origin origin(const std::string& folder, uint64_t index, bool recovered) const {
    Origin o;
    o.file = file_;
    o.index = index;
    o.location.folder = folder;
    o.location.recovered = recovered;
    return o;
  }

  // The items libpff recovers from unallocated space (listed by the handle that looked).
  void recover(PffFile& file, uint64_t first_index, std::vector<Message>& out) {
    libpff_error_t* err = nullptr;
    if (libpff_file_recover_items(file.pff, 0, &err) != 1) {
      report_(Level::Warning, 0, "recovery of deleted items failed: " + take_error(err));
      return;
    }
    int count = 0;
    if (libpff_file_get_number_of_recovered_items(file.pff, &count, &err) != 1) {
      take_error(err);
      count = 0;
    }
    for (int index = 0; index < count; ++index) {
      Message m;
      m.origin = origin("", first_index + uint64_t(index), true);
      libpff_item_t* raw = nullptr;
      if (libpff_file_get_recovered_item_by_index(file.pff, index, &raw, &err) != 1 || !raw)
        unreadable(
            m, "recovered item " + std::to_string(index) + " cannot be read: " + take_error(err));
      else
        build(m, ItemPtr(raw), "");
      out.push_back(std::move(m));
    }
  }

  void read_with(Handle& handle, Message& m, uint32_t folder_id, const std::string& folder,
                 int index) {
    libpff_error_t* err = nullptr;
    if (!handle.folder || handle.folder_id != folder_id) {
      handle.folder.reset();
      libpff_item_t* raw = nullptr;
      if (libpff_file_get_item_by_identifier(handle.file->pff, folder_id, &raw, &err) != 1 ||
          !raw) {
        unreadable(m, "folder '" + folder + "' (node " + std::to_string(folder_id) +
                          ") cannot be read again: " + take_error(err));
        return;
      }
      handle.folder.reset(raw);
      handle.folder_id = folder_id;
    }
    libpff_item_t* raw = nullptr;
    if (libpff_folder_get_sub_message(handle.folder.get(), index, &raw, &err) != 1 || !raw) {
      unreadable(m, "item " + std::to_string(index) + " of folder '" + folder +
                        "' cannot be read: " + take_error(err));
    } else {
      build(m, ItemPtr(raw), folder);
    }
  }

  // An item libpff cannot hand out still counts: as a skipped message with the reason.
  void unreadable(Message& m, std::string why) {
    m.origin.location.item_type = "other";
    m.skip_reason = "unreadable PST item";
    report_(Level::Warning, 0, std::move(why));
  }

  void build(Message& m, ItemPtr item, const std::string& folder) {
    libpff_error_t* err = nullptr;
    uint32_t id = 0;
    if (libpff_item_get_identifier(item.get(), &id, &err) == 1)
      m.origin.location.node_id = id;
    else
      take_error(err);
    const std::optional<uint64_t> node = m.origin.location.node_id;
    OutlookItem outlook;
    read_item(item.get(), outlook, 0);
    item.reset();
    std::vector<std::string> problems = std::move(outlook.problems);
    auto text = std::make_shared<std::string>(render_rfc5322(outlook, max_bytes_, problems));
    m.origin.location.item_type =
        item_type_of(string_property(outlook.props, kPidMessageClass).value_or(""));
    const std::string where = "node " + (node ? std::to_string(*node) : std::string("?")) +
                              (folder.empty() ? std::string() : " in '" + folder + "'");
    for (const std::string& p : problems) report_(Level::Warning, 0, where + ": " + p);
    if (outlook.props.empty() && outlook.attachments.empty()) {
      m.skip_reason = "unreadable PST item";  // nothing to scan: not counted as scanned
      return;
    }
    if (text->size() > max_bytes_) {
      m.skip_reason = "message larger than " + std::to_string(max_bytes_) + " bytes";
      return;
    }
    m.bytes = *text;
    if (image_) image_->account(text->size());
    m.keepalive = std::move(text);
  }

 private:
  std::unique_ptr<Handle> pooled() {
    std::lock_guard lock(mutex_);
    if (free_.empty()) return nullptr;
    auto handle = std::move(free_.back());
    free_.pop_back();
    return handle;
  }

  std::unique_ptr<Handle> open_handle(std::string& error) {
    auto handle = std::make_unique<Handle>();
    handle->owned = open_pff(*file_, image_, error);
    if (!handle->owned) return nullptr;
    handle->file = handle->owned.get();
    return handle;
  }

  void release(std::unique_ptr<Handle> handle) {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(handle));
  }

  // Reads the properties of one record set. Values over the size limit are left out (the
  // attachment data silently: the caller reports it with the attachment's name).
  void read_properties(libpff_item_t* item, int set_index, Properties& props,
                       std::vector<std::string>& problems, bool skip_attach_data) {
    libpff_error_t* err = nullptr;
    libpff_record_set_t* raw_set = nullptr;
    if (libpff_item_get_record_set_by_index(item, set_index, &raw_set, &err) != 1 || !raw_set) {
      problems.push_back("properties cannot be read: " + take_error(err));
      return;
    }
    std::unique_ptr<libpff_record_set_t, RecordSetFree> set(raw_set);
    int count = 0;
    if (libpff_record_set_get_number_of_entries(set.get(), &count, &err) != 1) {
      problems.push_back("properties cannot be listed: " + take_error(err));
      return;
    }
    for (int i = 0; i < count; ++i) {
      libpff_record_entry_t* raw_entry = nullptr;
      if (libpff_record_set_get_entry_by_index(set.get(), i, &raw_entry, &err) != 1 || !raw_entry) {
        take_error(err);
        continue;
      }
      std::unique_ptr<libpff_record_entry_t, RecordEntryFree> entry(raw_entry);
      uint32_t id = 0, type = 0;
      if (libpff_record_entry_get_entry_type(entry.get(), &id, &err) != 1 ||
          libpff_record_entry_get_value_type(entry.get(), &type, &err) != 1) {
        take_error(err);
        continue;
      }
      if (type & 0x1000) continue;  // multi-valued: not text a person types
      if (id == kPidAttachData && (skip_attach_data || type != kPtBinary)) continue;
      size_t size = 0;
      if (libpff_record_entry_get_data_size(entry.get(), &size, &err) != 1) {
        take_error(err);
        continue;
      }
      if (size > max_bytes_) {
        if (id == kPidAttachData) continue;
        char tag[16];
        snprintf(tag, sizeof tag, "0x%04X", id);
        problems.push_back(std::string("property ") + tag + " (" + std::to_string(size) +
                           " bytes) over the message size limit, skipped");
        continue;
      }
      Property value;
      value.type = static_cast<uint16_t>(type);
      if (type == kPtString8 || type == kPtUnicode) {
        size_t utf8_size = 0;
        if (size == 0) {
          // empty string
        } else if (libpff_record_entry_get_data_as_utf8_string_size(entry.get(), &utf8_size,
                                                                    &err) == 1 &&
                   utf8_size > 0 && utf8_size <= 4 * size + 4) {
          value.data.resize(utf8_size);
          if (libpff_record_entry_get_data_as_utf8_string(
                  entry.get(), reinterpret_cast<uint8_t*>(value.data.data()), utf8_size, &err) !=
              1) {
            problems.push_back("text property cannot be decoded: " + take_error(err));
            continue;
          }
          value.data.resize(strnlen(value.data.data(), value.data.size()));
        } else {
          take_error(err);
          continue;
        }
      } else if (size > 0) {
        value.data.resize(size);
        if (libpff_record_entry_get_data(entry.get(), reinterpret_cast<uint8_t*>(value.data.data()),
                                         size, &err) != 1) {
          take_error(err);
          continue;
        }
      }
      props[static_cast<uint16_t>(id)] = std::move(value);
    }
  }

  void read_item(libpff_item_t* item, OutlookItem& out, int depth) {
    libpff_error_t* err = nullptr;
    read_properties(item, 0, out.props, out.problems, false);

    libpff_item_t* raw_recipients = nullptr;
    const int has_recipients = libpff_message_get_recipients(item, &raw_recipients, &err);
    if (has_recipients == 1 && raw_recipients) {
      ItemPtr recipients(raw_recipients);
      int sets = 0;
      if (libpff_item_get_number_of_record_sets(recipients.get(), &sets, &err) == 1) {
        for (int i = 0; i < sets && i < 100000; ++i) {
          Properties r;
          read_properties(recipients.get(), i, r, out.problems, false);
          out.recipients.push_back(std::move(r));
        }
      } else {
        take_error(err);
      }
    } else if (has_recipients < 0) {
      out.problems.push_back("recipients cannot be read: " + take_error(err));
    }

    int attachments = 0;
    if (libpff_message_get_number_of_attachments(item, &attachments, &err) != 1) {
      take_error(err);
      attachments = 0;
    }
    uint64_t budget = max_bytes_;
    for (int i = 0; i < attachments; ++i) {
      libpff_item_t* raw = nullptr;
      if (libpff_message_get_attachment(item, i, &raw, &err) != 1 || !raw) {
        out.problems.push_back("attachment " + std::to_string(i + 1) +
                               " cannot be read: " + take_error(err));
        continue;
      }
      ItemPtr attachment(raw);
      OutlookAttachment a;
      int type = 0;
      if (libpff_attachment_get_type(attachment.get(), &type, &err) != 1) {
        take_error(err);
        type = LIBPFF_ATTACHMENT_TYPE_UNDEFINED;
      }
      // The attached file's bytes come with the record set libpff reads anyway: taken from
      // there, not read (and checksummed) a second time through the attachment's data stream.
      read_properties(attachment.get(), 0, a.props, out.problems,
                      type != LIBPFF_ATTACHMENT_TYPE_DATA);
      if (type == LIBPFF_ATTACHMENT_TYPE_ITEM) {
        if (depth >= kMaxEmbeddedDepth) {
          out.problems.push_back("embedded item nested deeper than " +
                                 std::to_string(kMaxEmbeddedDepth) + " levels, not read");
          continue;
        }
        libpff_item_t* raw_embedded = nullptr;
        if (libpff_attachment_get_item(attachment.get(), &raw_embedded, &err) != 1 ||
            !raw_embedded) {
          out.problems.push_back("embedded item " + std::to_string(i + 1) +
                                 " cannot be read: " + take_error(err));
          continue;
        }
        ItemPtr embedded(raw_embedded);
        a.embedded = std::make_unique<OutlookItem>();
        read_item(embedded.get(), *a.embedded, depth + 1);
        for (auto& p : a.embedded->problems) out.problems.push_back(std::move(p));
        a.embedded->problems.clear();
      } else if (type == LIBPFF_ATTACHMENT_TYPE_DATA) {
        if (auto it = a.props.find(kPidAttachData); it != a.props.end()) {
          a.data = std::move(it->second.data);
          a.props.erase(it);
          a.data_size = a.data.size();
        } else {
          size64_t size = 0;
          if (libpff_attachment_get_data_size(attachment.get(), &size, &err) != 1) {
            out.problems.push_back("attachment " + std::to_string(i + 1) +
                                   " size cannot be read: " + take_error(err));
            continue;
          }
          a.data_size = size;
          if (size <= budget && size > 0)
            read_attachment_data(attachment.get(), size, a, out.problems, i + 1);
        }
        if (a.data_size > budget) {
          a.over_limit = true;
          std::string().swap(a.data);
        }
        budget -= a.data.size();
      }
      out.attachments.push_back(std::move(a));
    }
  }

  void read_attachment_data(libpff_item_t* attachment, uint64_t size, OutlookAttachment& a,
                            std::vector<std::string>& problems, int number) {
    libpff_error_t* err = nullptr;
    if (libpff_attachment_data_seek_offset(attachment, 0, SEEK_SET, &err) < 0) {
      problems.push_back("attachment " + std::to_string(number) +
                         " cannot be read: " + take_error(err));
      return;
    }
    a.data.resize(size);
    size_t have = 0;
    while (have < size) {
      const size_t want = std::min<size_t>(kReadChunk, size - have);
      const ssize_t got = libpff_attachment_data_read_buffer(
          attachment, reinterpret_cast<uint8_t*>(a.data.data() + have), want, &err);
      if (got < 0) {
        problems.push_back("attachment " + std::to_string(number) + " read error at byte " +
                           std::to_string(have) + ": " + take_error(err));
        break;
      }
      if (got == 0) break;
      have += static_cast<size_t>(got);
    }
    a.data.resize(have);
  }

  std::shared_ptr<const std::string> file_;
  std::shared_ptr<PstImage> image_;  // null when the PST could not be mapped
  uint64_t max_bytes_;
  ItemReport report_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Handle>> free_;
};

// The serial part: walks the folder tree when the PST opens (cheap: no item is read, only
// folders and their item counts), then hands the folder items out in runs whose reading and
// rendering is left to the parallel stage.
class PstReader : public ItemReader {
 public:
  PstReader(std::shared_ptr<const std::string> file, const SourceOptions& options,
            ItemReport report)
      : file_(file),
        report_(report),
        items_(std::make_shared<PstItems>(std::move(file), PstImage::map(*file_),
                                          options.max_message_bytes, std::move(report))) {}

  bool open(std::string& error) {
    std::unique_ptr<PffFile> pff = open_pff(*file_, items_->image(), error);
    if (!pff) return false;
    libpff_error_t* err = nullptr;
    libpff_item_t* root = nullptr;
    const int rc = libpff_file_get_root_folder(pff->pff, &root, &err);
    if (rc != 1 || !root) {
      error = "PST/OST without a readable root folder (truncated or damaged index): " +
              (rc < 0 ? take_error(err) : std::string("none"));
      return false;
    }
    push_folder(ItemPtr(root), "", 0);
    while (!stack_.empty()) step();
    items_->give(std::move(pff));  // every folder item of the walk is freed by now
    // Runs of about kRunBytes of the file (the items' average share of it), at most
    // kMaxRunItems items: memory in flight stays near that of the mbox reader's spans.
    uint64_t size = 0;
    if (items_->image()) size = items_->image()->mapping->bytes().size();
    const uint64_t runs = std::max<uint64_t>(1, (size + kRunBytes - 1) / kRunBytes);
    run_items_ = std::clamp<uint64_t>((items_total_ + runs - 1) / runs, 1, kMaxRunItems);
    return true;
  }

  std::optional<Message> next() override { return next_completed(); }

  std::optional<InputBatch> next_batch() override {
    if (done_) return std::nullopt;
    auto run = std::make_shared<Run>();
    uint64_t items = 0;
    while (next_segment_ < segments_.size() && items < run_items_) {
      RunSegment& segment = segments_[next_segment_];
      const int take =
          static_cast<int>(std::min<uint64_t>(uint64_t(segment.count), run_items_ - items));
      run->segments.push_back(
          {segment.folder_id, segment.folder, segment.first, take, segment.first_index});
      items += uint64_t(take);
      segment.first += take;
      segment.first_index += uint64_t(take);
      segment.count -= take;
      if (segment.count == 0) ++next_segment_;
    }
    if (next_segment_ == segments_.size()) {
      // The last run (or the only one, of a PST without folder items) looks for deleted items.
      run->recover = true;
      run->recovered_first_index = items_total_;
      done_ = true;
      segments_.clear();
    }
    InputBatch batch;
    batch.complete_run = [items = items_, run](std::vector<Message>& out) {
      items->read_run(*run, out);
    };
    return batch;
  }

 private:
  static constexpr uint64_t kRunBytes = 16 << 20;
  static constexpr uint64_t kMaxRunItems = 4096;

  struct Frame {
    ItemPtr folder;
    std::string path;
    size_t depth = 0;
    int folders = 0, next_folder = 0;
  };

  // A folder's items become a segment (in the walk's order, which numbers them), its
  // subfolders are walked after them.
  void push_folder(ItemPtr folder, std::string path, size_t depth) {
    libpff_error_t* err = nullptr;
    uint32_t id = 0;
    std::optional<uint32_t> known_id;
    if (libpff_item_get_identifier(folder.get(), &id, &err) == 1) {
      if (!visited_.insert(id).second) {
        report_(Level::Warning, 0,
                "folder '" + path + "' (node " + std::to_string(id) +
                    ") appears twice in the folder tree (a cycle): read once");
        return;
      }
      known_id = id;
    } else {
      take_error(err);
    }
    Frame frame;
    frame.folder = std::move(folder);
    frame.path = std::move(path);
    frame.depth = depth;
    int messages = 0;
    if (libpff_folder_get_number_of_sub_messages(frame.folder.get(), &messages, &err) != 1) {
      report_(Level::Warning, 0,
              "folder '" + frame.path + "': messages cannot be listed: " + take_error(err));
      messages = 0;
    }
    if (messages > 0) {
      segments_.push_back(
          {known_id, std::make_shared<const std::string>(frame.path), 0, messages, items_total_});
      items_total_ += uint64_t(messages);
    }
    if (libpff_folder_get_number_of_sub_folders(frame.folder.get(), &frame.folders, &err) != 1) {
      report_(Level::Warning, 0,
              "folder '" + frame.path + "': subfolders cannot be listed: " + take_error(err));
      frame.folders = 0;
    }
    stack_.push_back(std::move(frame));
  }

  // One step of the walk: into the next subfolder of the folder on top, or out of it.
  void step() {
    Frame& top = stack_.back();
    libpff_error_t* err = nullptr;
    if (top.next_folder < top.folders) {
      const int index = top.next_folder++;
      libpff_item_t* raw = nullptr;
      if (libpff_folder_get_sub_folder(top.folder.get(), index, &raw, &err) != 1 || !raw) {
        report_(Level::Warning, 0,
                "subfolder " + std::to_string(index) + " of folder '" + top.path +
                    "' cannot be read: " + take_error(err));
        return;
      }
      ItemPtr folder(raw);
      if (top.depth + 1 > kMaxFolderDepth) {
        report_(Level::Warning, 0,
                "folder '" + top.path + "': subfolders deeper than " +
                    std::to_string(kMaxFolderDepth) + " levels not read");
        return;
      }
      std::string name = folder_name(folder.get());
      std::string path = top.path.empty() ? name : top.path + "/" + name;
      const size_t depth = top.depth + 1;
      push_folder(std::move(folder), std::move(path), depth);  // invalidates `top`
      return;
    }
    stack_.pop_back();
  }

  static std::string folder_name(libpff_item_t* folder) {
    libpff_error_t* err = nullptr;
    size_t size = 0;
    if (libpff_folder_get_utf8_name_size(folder, &size, &err) != 1 || size == 0 || size > 4096) {
      if (err) libpff_error_free(&err);
      return "(unnamed)";
    }
    std::string name(size, '\0');
    if (libpff_folder_get_utf8_name(folder, reinterpret_cast<uint8_t*>(name.data()), size, &err) !=
        1) {
      if (err) libpff_error_free(&err);
      return "(unnamed)";
    }
    name.resize(strnlen(name.data(), name.size()));
    for (char& c : name)
      if (c == '/') c = '_';  // a slash inside a name would read as a path step
    return name;
  }

  std::shared_ptr<const std::string> file_;
  ItemReport report_;
  std::shared_ptr<PstItems> items_;
  std::vector<Frame> stack_;  // the walk's, empty once the PST is open
  std::unordered_set<uint32_t> visited_;
  std::vector<RunSegment> segments_;
  size_t next_segment_ = 0;
  uint64_t items_total_ = 0;  // folder items; the recovered ones are numbered after them
  uint64_t run_items_ = 1;
  bool done_ = false;
};

}  // namespace

bool is_pst_magic(std::string_view head) { return head.substr(0, 4) == "!BDN"; }

bool is_ole2_magic(std::string_view head) {
  return head.substr(0, 8) == std::string_view("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);
}

std::unique_ptr<ItemReader> open_pst(std::shared_ptr<const std::string> file,
                                     const SourceOptions& options, ItemReport report,
                                     std::string& error) {
  auto reader = std::make_unique<PstReader>(std::move(file), options, std::move(report));
  if (!reader->open(error)) return nullptr;
  return reader;
}

}  // namespace credsift::source_detail

// libpff checks every data block it reads against the block's stored weak CRC-32 (the
// reflected CRC-32 of polynomial 0xEDB88320 without zlib's pre- and post-inversion) with a
// byte-at-a-time table loop from its bundled libfmapi, and it reads an attachment's blocks twice
// (once to size the data array, once for the value): a third of a PST scan's CPU went there.
// libpff calls it through its PLT (an exported symbol of libpff.so.1), so this definition in the
// executable takes its place: the same value, by carry-less multiplication (pst_checksum.cpp).
// Checked against libpff's own in tests/pst (PstChecksum); where libpff is ever linked so that
// it binds the call to itself, this is simply not used.
extern "C" __attribute__((visibility("default"))) int libfmapi_checksum_calculate_weak_crc32(
    uint32_t* crc32, const uint8_t* buffer, size_t size, uint32_t initial_value,
    void** /*error: never set (libpff reports a failure itself)*/) {
  if (!crc32 || (!buffer && size > 0)) return -1;
  *crc32 = credsift::source_detail::pst_weak_crc32(initial_value, buffer, size);
  return 1;
}

// libpff undoes the compressible encryption of every block it reads with a byte-at-a-time table
// loop (4% of a PST scan's CPU), also called through its PLT: the same substitution 64 bytes a
// step (pst_decrypt.cpp) for that type, libpff's own function for the others and on error.
extern "C" __attribute__((visibility("default"))) ssize_t libpff_encryption_decrypt(
    uint8_t encryption_type, uint32_t key, uint8_t* data, size_t size, void** error) {
  using namespace credsift::source_detail;
  if (encryption_type == 1 && data && size <= size_t(SSIZE_MAX) &&
      pst_decrypt_compressible(data, size))
    return static_cast<ssize_t>(size);
  const PffDecrypt own = libpff_own_decrypt();
  return own ? own(encryption_type, key, data, size, error) : -1;
}

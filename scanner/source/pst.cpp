// PST/OST through libpff: every folder (walked with an explicit stack, bounded depth, a visited
// set against cycles), every item in it, then the items libpff recovers from unallocated space.
// Each item becomes an OutlookItem and is rendered as an RFC 5322 message; folder items are
// read and rendered in the scan's parallel stage, each worker through a libpff handle of its own.
#include <fcntl.h>
#include <libbfio.h>
#include <libpff.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

// Reads items into OutlookItems and renders them. Shared by the serial walk (recovered items)
// and the parallel stage, which reads folder items through handles of its own: a libpff file
// handle is not thread-safe, so each worker takes one from the pool (opened on the same file)
// and gives it back. The walking handle is lent to a worker while the walk does not need it:
// a 1-thread scan then opens the PST once, not twice (an open reads the name-to-id map and
// the item tree, and each handle fills its own caches: 5% of the CPU of a scan of many small
// PSTs). The walk needs its handle only to step into a folder and for recovered items, not to
// hand out a folder's items, so it rarely waits for a worker (at most one item's read).
class PstItems {
 public:
  PstItems(std::shared_ptr<const std::string> file, std::shared_ptr<PstImage> image,
           uint64_t max_bytes, ItemReport report)
      : file_(std::move(file)),
        image_(std::move(image)),
        max_bytes_(max_bytes),
        report_(std::move(report)) {}

  const std::shared_ptr<PstImage>& image() const { return image_; }

  // The walk's own handle, lent from here on (null: no more).
  void lend_walker(PffFile* walker) {
    std::lock_guard lock(walker_mutex_);
    walker_.file = walker;
    walker_.folder.reset();
  }

  // Held by the walk while it uses its handle or items read through it.
  std::unique_lock<std::mutex> lock_walker() { return std::unique_lock(walker_mutex_); }

  // Item `index` of the folder with node id `folder_id`, into `m` (origin already set).
  void complete(Message& m, uint32_t folder_id, const std::string& folder, int index) {
    std::unique_ptr<Handle> handle = pooled();
    if (!handle) {
      std::unique_lock lock(walker_mutex_, std::try_to_lock);
      if (lock.owns_lock() && walker_.file) {
        read_with(walker_, m, folder_id, folder, index);
        return;
      }
    }
    std::string error;
    if (!handle) handle = open_handle(error);
    if (!handle) {
      unreadable(m, "item " + std::to_string(index) + " of folder '" + folder +
                        "' cannot be read: " + error);
      return;
    }
    read_with(*handle, m, folder_id, folder, index);
    release(std::move(handle));
  }

 private:
  struct Handle {
    std::unique_ptr<PffFile> owned;
    PffFile* file = nullptr;  // `owned`, or the walk's handle
    uint32_t folder_id = 0;
    ItemPtr folder;  // the folder last read from, freed before the file
  };

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

 public:
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
  std::mutex walker_mutex_;  // whoever uses walker_ holds it
  Handle walker_;            // the walk's handle (file null once the walk is gone)
};

// The serial part: walks the folder tree (cheap: no item is read here) and hands out each
// folder item as a message whose reading and rendering is left to the parallel stage.
class PstReader : public ItemReader {
 public:
  PstReader(std::shared_ptr<const std::string> file, const SourceOptions& options,
            ItemReport report)
      : file_(file),
        report_(report),
        items_(std::make_shared<PstItems>(std::move(file), PstImage::map(*file_),
                                          options.max_message_bytes, std::move(report))) {}

  ~PstReader() override {
    items_->lend_walker(nullptr);  // waits for a worker still reading through it
    stack_.clear();
  }

  bool open(std::string& error) {
    pff_ = open_pff(*file_, items_->image(), error);
    if (!pff_) return false;
    libpff_error_t* err = nullptr;
    libpff_item_t* root = nullptr;
    const int rc = libpff_file_get_root_folder(pff_->pff, &root, &err);
    if (rc != 1 || !root) {
      error = "PST/OST without a readable root folder (truncated or damaged index): " +
              (rc < 0 ? take_error(err) : std::string("none"));
      return false;
    }
    push_folder(ItemPtr(root), "", 0);
    items_->lend_walker(pff_.get());
    return true;
  }

  std::optional<Message> next() override { return next_completed(); }

  std::optional<InputBatch> next_batch() override {
    for (;;) {
      if (!stack_.empty()) {
        if (auto batch = next_from_folder()) return batch;
        continue;
      }
      const std::unique_lock lock = items_->lock_walker();
      if (!recovery_done_) start_recovery();
      if (recovered_next_ < recovered_count_) {
        // Recovered items live only in the walking handle's list: read here, in order.
        const int index = recovered_next_++;
        Message m;
        m.origin = origin("", true);
        libpff_error_t* err = nullptr;
        libpff_item_t* raw = nullptr;
        if (libpff_file_get_recovered_item_by_index(pff_->pff, index, &raw, &err) != 1 || !raw)
          items_->unreadable(
              m, "recovered item " + std::to_string(index) + " cannot be read: " + take_error(err));
        else
          items_->build(m, ItemPtr(raw), "");
        return InputBatch{std::move(m), std::nullopt, {}};
      }
      return std::nullopt;
    }
  }

 private:
  struct Frame {
    ItemPtr folder;
    std::string path;
    std::optional<uint32_t> id;
    size_t depth = 0;
    int folders = 0, next_folder = 0;
    int messages = 0, next_message = 0;
  };

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
    frame.id = known_id;
    frame.depth = depth;
    if (libpff_folder_get_number_of_sub_messages(frame.folder.get(), &frame.messages, &err) != 1) {
      report_(Level::Warning, 0,
              "folder '" + frame.path + "': messages cannot be listed: " + take_error(err));
      frame.messages = 0;
    }
    if (libpff_folder_get_number_of_sub_folders(frame.folder.get(), &frame.folders, &err) != 1) {
      report_(Level::Warning, 0,
              "folder '" + frame.path + "': subfolders cannot be listed: " + take_error(err));
      frame.folders = 0;
    }
    stack_.push_back(std::move(frame));
  }

  std::optional<InputBatch> next_from_folder() {
    Frame& top = stack_.back();
    libpff_error_t* err = nullptr;
    if (top.next_message < top.messages) {
      const int index = top.next_message++;
      Message m;
      m.origin = origin(top.path, false);
      if (!top.id) {
        // A folder without a node id cannot be found again by a worker: read it here.
        const std::unique_lock lock = items_->lock_walker();
        libpff_item_t* raw = nullptr;
        if (libpff_folder_get_sub_message(top.folder.get(), index, &raw, &err) != 1 || !raw)
          items_->unreadable(m, "item " + std::to_string(index) + " of folder '" + top.path +
                                    "' cannot be read: " + take_error(err));
        else
          items_->build(m, ItemPtr(raw), top.path);
        return InputBatch{std::move(m), std::nullopt, {}};
      }
      auto complete = [items = items_, folder_id = *top.id, path = top.path, index](
                          Message& message) { items->complete(message, folder_id, path, index); };
      return InputBatch{std::move(m), std::nullopt, std::move(complete)};
    }
    // Stepping into or out of a folder uses the walking handle (lent to the workers otherwise).
    const std::unique_lock lock = items_->lock_walker();
    if (top.next_folder < top.folders) {
      const int index = top.next_folder++;
      libpff_item_t* raw = nullptr;
      if (libpff_folder_get_sub_folder(top.folder.get(), index, &raw, &err) != 1 || !raw) {
        report_(Level::Warning, 0,
                "subfolder " + std::to_string(index) + " of folder '" + top.path +
                    "' cannot be read: " + take_error(err));
        return std::nullopt;
      }
      ItemPtr folder(raw);
      if (top.depth + 1 > kMaxFolderDepth) {
        report_(Level::Warning, 0,
                "folder '" + top.path + "': subfolders deeper than " +
                    std::to_string(kMaxFolderDepth) + " levels not read");
        return std::nullopt;
      }
      std::string name = folder_name(folder.get());
      std::string path = top.path.empty() ? name : top.path + "/" + name;
      const size_t depth = top.depth + 1;
      push_folder(std::move(folder), std::move(path), depth);  // invalidates `top`
      return std::nullopt;
    }
    stack_.pop_back();
    return std::nullopt;
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

  void start_recovery() {
    recovery_done_ = true;
    libpff_error_t* err = nullptr;
    if (libpff_file_recover_items(pff_->pff, 0, &err) != 1) {
      report_(Level::Warning, 0, "recovery of deleted items failed: " + take_error(err));
      return;
    }
    if (libpff_file_get_number_of_recovered_items(pff_->pff, &recovered_count_, &err) != 1) {
      take_error(err);
      recovered_count_ = 0;
    }
  }

  Origin origin(const std::string& folder, bool recovered) {
    Origin o;
    o.file = file_;
    o.index = index_++;
    o.location.folder = folder;
    o.location.recovered = recovered;
    return o;
  }

  std::shared_ptr<const std::string> file_;
  ItemReport report_;
  std::shared_ptr<PstItems> items_;
  std::unique_ptr<PffFile> pff_;  // the walking handle, declared before the folders it holds
  std::vector<Frame> stack_;
  std::unordered_set<uint32_t> visited_;
  bool recovery_done_ = false;
  int recovered_count_ = 0, recovered_next_ = 0;
  uint64_t index_ = 0;
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

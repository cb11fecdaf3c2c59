// Archives of mailboxes as inputs (Purview and Vault deliver a .zip of PSTs, .msg or mbox files):
// libarchive walks the entries in order, each one sniffed by content. Mail that reads front to
// back is streamed through MessageSource's stream reader (never held whole); PST/OST and .msg
// need random access and nested archives a reader of their own, so those are spilled to an
// unlinked 0600 temporary file. Bombs are stopped by --max-ratio (decompressed over compressed
// bytes, per entry and per archive), which also bounds a spill, as does the free space of
// $TMPDIR; nesting by --max-archive-depth.
#include "container.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <vector>

#include "not_mail.hpp"

namespace credsift::source_detail {
namespace {

using Level = Diagnostic::Level;

constexpr size_t kSniffBytes = 64 << 10;   // read of an entry before deciding what it is
constexpr size_t kBlock = 64 << 10;        // libarchive's reads from the archive file
constexpr size_t kHardNesting = 32;        // whatever --max-archive-depth says
constexpr uint64_t kRatioFloor = 1 << 20;  // smaller outputs are never called bombs
// Left free in $TMPDIR by a spill: a PST in a zip must not fill the disk others work on.
constexpr uint64_t kSpillReserve = 256ull << 20;

std::string errno_text(int err) { return std::generic_category().message(err); }

struct ArchiveCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveCloser>;

bool has(std::string_view head, size_t at, std::string_view magic) {
  return head.size() >= at + magic.size() && head.substr(at, magic.size()) == magic;
}

bool definite_archive(std::string_view head) {
  using namespace std::string_view_literals;
  const bool zip = has(head, 0, "PK\x03\x04"sv) || has(head, 0, "PK\x05\x06"sv);
  // A .docx, .odt or .jar is a zip too, but a document: one not-mail file, not its parts.
  if (zip) return not_mail_type(head) == "ZIP archive";
  return has(head, 0, "7z\xBC\xAF\x27\x1C"sv) || has(head, 257, "ustar"sv);
}

bool compressed(std::string_view head) {
  using namespace std::string_view_literals;
  return has(head, 0, "\x1F\x8B"sv) || has(head, 0, "BZh"sv) ||
         has(head, 0,
             "\xFD"
             "7zXZ\0"sv);
}

// The first tar header of a gzip'd file, inflated with zlib: unlike libarchive's filter, which
// fails a truncated stream before handing out its first bytes, this tells a cut .tar.gz (a
// damaged archive, reported as one) from a gzip'd mailbox (read by the stream reader).
bool gzip_holds_tar(std::string_view compressed_head) {
  using namespace std::string_view_literals;
  if (!has(compressed_head, 0, "\x1F\x8B"sv)) return false;
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return false;
  unsigned char out[512];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed_head.data()));
  z.avail_in = uInt(compressed_head.size());
  z.next_out = out;
  z.avail_out = sizeof out;
  while (z.avail_out > 0 && inflate(&z, Z_NO_FLUSH) == Z_OK) {
  }
  const size_t have = sizeof out - z.avail_out;
  inflateEnd(&z);
  return has(std::string_view(reinterpret_cast<const char*>(out), have), 257, "ustar"sv);
}

std::string archive_error(archive* a, const char* fallback) {
  const char* text = archive_error_string(a);
  return text && *text ? text : fallback;
}

// `raw`: a compressed single file (mail.mbox.gz inside a zip) reads as one entry.
ArchivePtr open_archive_fd(int fd, bool raw, std::string& error) {
  ArchivePtr a(archive_read_new());
  if (!a) {
    error = "cannot initialise libarchive";
    return nullptr;
  }
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_format_zip(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_7zip(a.get());
  if (raw) archive_read_support_format_raw(a.get());
  if (archive_read_open_fd(a.get(), fd, kBlock) != ARCHIVE_OK) {
    error = archive_error(a.get(), "not a readable archive");
    return nullptr;
  }
  return a;
}

std::string strip_compression_suffix(std::string_view name) {
  for (std::string_view ext : {".gz", ".bz2", ".xz", ".tgz", ".tbz2", ".txz"}) {
    if (name.size() > ext.size() && name.ends_with(ext)) {
      std::string base(name.substr(0, name.size() - ext.size()));
      if (ext.size() == 4 && ext[1] == 't') base += ".tar";
      return base;
    }
  }
  return "data";
}

// An entry in a Maildir's cur/ or new/ is a message whatever it looks like, as on disk.
bool in_maildir(std::string_view entry) {
  const size_t slash = entry.rfind('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view dir = entry.substr(0, slash);
  return dir == "cur" || dir == "new" || dir.ends_with("/cur") || dir.ends_with("/new");
}

// One archive being walked: the input itself, or an archive spilled from an entry of another.
struct ArchiveLevel {
  ArchivePtr archive;
  std::unique_ptr<SpillFile> spill;  // a nested archive's bytes
  int owned_fd = -1;                 // the input's own descriptor (dup'ed), closed at the end
  std::string name;                  // for diagnostics: "export.zip", "export.zip!inner.zip"
  std::string prefix;                // container path of its entries: "", "inner.zip!"
  uint64_t raw_size = 0;             // bytes of the archive file
  uint64_t produced = 0;             // bytes decompressed from it so far
  bool per_entry_ratio = true;       // not for 7z: a solid block serves many entries
  bool raw = false;                  // one compressed file, its entry named after it
  std::string raw_name;
  bool pending = false;  // the first header was read while opening
  bool dead = false;     // a fatal error or a bomb: no further entries

  std::string entry;         // the current entry's path
  int64_t entry_header = 0;  // where its header starts in the (decompressed) archive stream
  uint64_t entry_out = 0;
  int64_t entry_raw_start = 0;

  ~ArchiveLevel() {
    archive.reset();
    if (owned_fd >= 0) ::close(owned_fd);
  }
  std::string label() const { return name + "!" + entry; }
  std::string where() const {
    return " (entry header at archive byte " + std::to_string(entry_header) + ")";
  }
};

class ContainerReader;

class ArchiveEntryBytes : public EntryBytes {
 public:
  ArchiveEntryBytes(ContainerReader& owner, ArchiveLevel& level, std::string head)
      : owner_(owner), level_(level), head_(std::move(head)) {}
  size_t read(char* dst, size_t n) override;
  bool failed() const override { return failed_; }
  uint64_t fail_offset() const override { return offset_; }

 private:
  ContainerReader& owner_;
  ArchiveLevel& level_;
  std::string head_;  // bytes read to sniff the entry, replayed first
  size_t head_pos_ = 0;
  uint64_t offset_ = 0;
  bool failed_ = false, done_ = false;
};

class ContainerReader : public ItemReader {
 public:
  ContainerReader(std::shared_ptr<const std::string> file, const SourceOptions& options,
                  ContainerHooks hooks)
      : file_(std::move(file)), options_(options), hooks_(std::move(hooks)) {}

  void push(std::unique_ptr<ArchiveLevel> level) { levels_.push_back(std::move(level)); }

  std::optional<Message> next() override { return next_completed(); }

  std::optional<InputBatch> next_batch() override {
    for (;;) {
      if (current_) {
        if (std::optional<InputBatch> batch = current_->next_batch()) {
          if (batch->message) {
            batch->message->origin.file = file_;
            batch->message->origin.location.container = container_;
          }
          // A spilled PST's items are read in the parallel stage, by name: its file stays.
          if (batch->complete && spill_)
            batch->complete = [inner = std::move(batch->complete), keep = spill_](Message& m) {
              inner(m);
            };
          if (batch->complete_run)
            batch->complete_run = [inner = std::move(batch->complete_run), keep = spill_,
                                   file = file_,
                                   container = container_](std::vector<Message>& out) {
              const size_t first = out.size();
              inner(out);
              for (size_t i = first; i < out.size(); ++i) {
                out[i].origin.file = file;
                out[i].origin.location.container = container;
              }
            };
          return batch;
        }
        current_.reset();
        spill_.reset();
      }
      if (!advance()) return std::nullopt;
    }
  }

  // Up to n bytes of the level's current entry; -1 after an error or a limit (reported).
  la_ssize_t read_entry(ArchiveLevel& level, char* dst, size_t n) {
    const la_ssize_t got = archive_read_data(level.archive.get(), dst, n);
    if (got < 0) {
      if (got == ARCHIVE_FATAL) level.dead = true;
      hooks_.fail(level.label(), level.entry_out,
                  "archive entry unreadable after " + std::to_string(level.entry_out) +
                      " bytes (truncated or damaged archive?)" + level.where() + ": " +
                      archive_error(level.archive.get(), "read error"));
      return -1;
    }
    level.entry_out += uint64_t(got);
    level.produced += uint64_t(got);
    const int64_t raw_now = archive_filter_bytes(level.archive.get(), -1);
    const uint64_t entry_raw =
        raw_now > level.entry_raw_start ? uint64_t(raw_now - level.entry_raw_start) : 0;
    // The slack of one read block: libarchive reads ahead, so a small entry may cost no read.
    const double max_ratio = options_.max_compression_ratio;
    if (level.per_entry_ratio && level.entry_out > kRatioFloor &&
        double(level.entry_out) > max_ratio * double(entry_raw + kBlock)) {
      hooks_.report(Level::Warning, level.label(), level.entry_out,
                    "decompression ratio of the entry above --max-ratio " + ratio_text() +
                        " after " + std::to_string(level.entry_out) + " bytes" + level.where() +
                        " (zip bomb?): the rest of the entry is not read");
      // Skipping the rest of a compressed stream (tar.gz) means inflating it all: stop there.
      if (archive_filter_count(level.archive.get()) > 1) {
        level.dead = true;
        hooks_.report(Level::Warning, level.name, level.entry_out,
                      "the archive is one compressed stream: the entries after '" + level.entry +
                          "' are not read");
      }
      return -1;
    }
    if (level.produced > kRatioFloor &&
        double(level.produced) > max_ratio * double(std::max<uint64_t>(level.raw_size, kBlock))) {
      level.dead = true;
      hooks_.report(Level::Warning, level.label(), level.entry_out,
                    "decompression ratio of the archive above --max-ratio " + ratio_text() +
                        level.where() + " (" + std::to_string(level.produced) + " bytes from " +
                        std::to_string(level.raw_size) +
                        "; zip bomb?): the rest of the archive is not read");
      return -1;
    }
    return got;
  }

 private:
  // Moves to the next entry that yields a reader; false when every level is done.
  bool advance() {
    while (!levels_.empty()) {
      ArchiveLevel& level = *levels_.back();
      if (level.dead) {
        levels_.pop_back();
        continue;
      }
      // The first header was read when the archive was opened.
      const bool first = level.pending;
      level.pending = false;
      if (!first) {
        archive_entry* entry = nullptr;
        const int rc = archive_read_next_header(level.archive.get(), &entry);
        if (rc == ARCHIVE_EOF) {
          levels_.pop_back();
          continue;
        }
        if (rc < ARCHIVE_WARN) {
          const std::string after =
              level.entry.empty() ? "at its start" : "after '" + level.entry + "'";
          // Where libarchive stopped reading the file: the damage lies before it.
          const int64_t read = archive_filter_bytes(level.archive.get(), -1);
          hooks_.fail(level.name, read > 0 ? uint64_t(read) : 0,
                      "archive damaged or truncated " + after + ": " +
                          archive_error(level.archive.get(), "unreadable") +
                          "; the rest of it is not read");
          levels_.pop_back();
          continue;
        }
        if (!take_header(level, entry)) continue;
      }
      if (open_entry(level)) return true;
    }
    return false;
  }

  // Records the entry's name; false when it is not read (not a file, encrypted).
  bool take_header(ArchiveLevel& level, archive_entry* entry) {
    level.entry_out = 0;
    level.entry_header = archive_read_header_position(level.archive.get());
    level.entry_raw_start = archive_filter_bytes(level.archive.get(), -1);
    if (level.raw) {
      level.entry = level.raw_name;
      return true;
    }
    const char* pathname = archive_entry_pathname(entry);
    level.entry = pathname ? pathname : "?";
    if (level.entry.size() > 1024) level.entry.resize(1024);
    if (archive_entry_filetype(entry) != AE_IFREG) return false;
    if (archive_entry_is_encrypted(entry)) {
      hooks_.fail(level.label(), 0, "encrypted archive entry" + level.where() + ": not read");
      return false;
    }
    return true;
  }

 public:
  void take_first_header(ArchiveLevel& level, archive_entry* entry) {
    level.pending = take_header(level, entry);
    if (!level.pending) level.entry.clear();
  }

 private:
  bool open_entry(ArchiveLevel& level) {
    std::string head;
    head.resize(kSniffBytes);
    size_t have = 0;
    while (have < kSniffBytes) {
      const la_ssize_t got = read_entry(level, head.data() + have, kSniffBytes - have);
      if (got < 0) return false;
      if (got == 0) break;
      have += size_t(got);
    }
    head.resize(have);
    if (head.empty()) return false;  // an empty file: nothing to read, nothing wrong
    const std::string label = level.label();
    if (definite_archive(head) || compressed(head)) return open_nested(level, std::move(head));
    if (is_pst_magic(head) || is_ole2_magic(head)) return open_outlook(level, std::move(head));
    container_ = level.prefix + level.entry;
    current_ =
        hooks_.open_stream(std::make_shared<const std::string>(label),
                           std::make_unique<ArchiveEntryBytes>(*this, level, std::move(head)),
                           in_maildir(level.entry));
    return current_ != nullptr;
  }

  // The whole entry in an unlinked temporary file, for readers that need random access.
  std::unique_ptr<SpillFile> spill(ArchiveLevel& level, const std::string& head) {
    std::string error;
    std::unique_ptr<SpillFile> file = SpillFile::create(error);
    if (!file) {
      hooks_.fail(level.label(), 0, "cannot spill the entry to a temporary file: " + error);
      return nullptr;
    }
    if (!file->write(head.data(), head.size(), error)) {
      hooks_.fail(level.label(), 0, "cannot spill the entry to a temporary file: " + error);
      return nullptr;
    }
    const uint64_t room = file->room(kSpillReserve);
    std::vector<char> buffer(kBlock);
    for (;;) {
      if (file->size() > room) {
        hooks_.fail(level.label(), 0,
                    "entry larger than the free space of the temporary directory (" +
                        std::to_string(room) + " bytes, keeping " +
                        std::to_string(kSpillReserve >> 20) +
                        " MiB free; a PST, .msg or archive inside an archive is copied to "
                        "$TMPDIR to be read)" +
                        level.where() + ": not read");
        return nullptr;
      }
      const la_ssize_t got = read_entry(level, buffer.data(), buffer.size());
      if (got < 0) return nullptr;
      if (got == 0) break;
      if (!file->write(buffer.data(), size_t(got), error)) {
        hooks_.fail(level.label(), file->size(),
                    "cannot spill the entry to a temporary file: " + error);
        return nullptr;
      }
    }
    if (!file->rewind(error)) {
      hooks_.fail(level.label(), 0, error);
      return nullptr;
    }
    return file;
  }

  bool open_outlook(ArchiveLevel& level, std::string head) {
    const bool pst = is_pst_magic(head);
    std::unique_ptr<SpillFile> file = spill(level, head);
    if (!file) return false;
    const std::string label = level.label();
    ItemReport report = [hooks = hooks_, label](Level l, uint64_t offset, std::string what) {
      hooks.report(l, label, offset, std::move(what));
    };
    auto path = std::make_shared<const std::string>(file->path());
    std::string error;
    std::unique_ptr<ItemReader> items = pst ? open_pst(path, options_, std::move(report), error)
                                            : open_msg(path, options_, std::move(report), error);
    if (!items) {
      // The readers name the file they opened: the entry is what the user can find.
      for (size_t at; (at = error.find(*path)) != std::string::npos;)
        error.replace(at, path->size(), label);
      if (error.empty())
        hooks_.not_mail(label, not_mail_type(head));  // an OLE2 file that is no Outlook item
      else
        hooks_.fail(label, 0, error);
      return false;
    }
    container_ = level.prefix + level.entry;
    current_ = std::move(items);
    spill_ = std::shared_ptr<SpillFile>(std::move(file));
    return true;
  }

  bool open_nested(ArchiveLevel& level, std::string head) {
    const std::string label = level.label();
    const size_t max_depth = std::min(options_.max_archive_depth, kHardNesting);
    if (levels_.size() > max_depth) {
      hooks_.fail(label, 0,
                  "archive nesting deeper than --max-archive-depth " + std::to_string(max_depth) +
                      level.where() + ": not read");
      return false;
    }
    const bool raw = !definite_archive(head);
    std::unique_ptr<SpillFile> file = spill(level, head);
    if (!file) return false;
    std::string error;
    auto nested = std::make_unique<ArchiveLevel>();
    nested->archive = open_archive_fd(file->fd(), raw, error);
    if (!nested->archive) {
      hooks_.fail(label, 0, error);
      return false;
    }
    nested->name = label;
    nested->prefix = level.prefix + level.entry + "!";
    nested->raw_size = file->size();
    nested->spill = std::move(file);
    archive_entry* entry = nullptr;
    const int rc = archive_read_next_header(nested->archive.get(), &entry);
    if (rc == ARCHIVE_EOF) return false;
    if (rc < ARCHIVE_WARN) {
      hooks_.fail(label, 0,
                  "not a readable archive: " + archive_error(nested->archive.get(), "unreadable"));
      return false;
    }
    const int format = archive_format(nested->archive.get()) & ARCHIVE_FORMAT_BASE_MASK;
    nested->per_entry_ratio = format != ARCHIVE_FORMAT_7ZIP;
    nested->raw = format == ARCHIVE_FORMAT_RAW;
    if (nested->raw) {
      std::string_view base = level.entry;
      if (const size_t slash = base.rfind('/'); slash != std::string_view::npos)
        base = base.substr(slash + 1);
      nested->raw_name = strip_compression_suffix(base);
    }
    take_first_header(*nested, entry);
    levels_.push_back(std::move(nested));
    return false;  // advance() reads its first entry
  }

  std::string ratio_text() const {
    return std::to_string(uint64_t(options_.max_compression_ratio));
  }

  std::shared_ptr<const std::string> file_;
  SourceOptions options_;
  ContainerHooks hooks_;
  // Declared before the reader of the current entry, which reads from the innermost level.
  std::vector<std::unique_ptr<ArchiveLevel>> levels_;
  std::unique_ptr<ItemReader> current_;
  std::shared_ptr<SpillFile> spill_;  // the current entry's spilled bytes (PST, .msg)
  std::string container_;             // the current entry's path for the origin
};

size_t ArchiveEntryBytes::read(char* dst, size_t n) {
  if (head_pos_ < head_.size()) {
    const size_t k = std::min(n, head_.size() - head_pos_);
    memcpy(dst, head_.data() + head_pos_, k);
    head_pos_ += k;
    offset_ += k;
    if (head_pos_ == head_.size()) std::string().swap(head_);
    return k;
  }
  if (done_) return 0;
  const la_ssize_t got = owner_.read_entry(level_, dst, n);
  if (got <= 0) {
    done_ = true;
    failed_ = got < 0;
    return 0;
  }
  offset_ += uint64_t(got);
  return size_t(got);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

SpillFile::SpillFile(int fd) : fd_(fd), path_("/proc/self/fd/" + std::to_string(fd)) {}

SpillFile::~SpillFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<SpillFile> SpillFile::create(std::string& error) {
  const char* env = std::getenv("TMPDIR");
  const std::string dir = env && *env ? env : "/tmp";
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC | O_EXCL, 0600);
  if (fd < 0) {
    // File systems without O_TMPFILE: a named file, unlinked at once.
    std::string name = dir + "/credsift-spill-XXXXXX";
    fd = mkostemp(name.data(), O_CLOEXEC);
    if (fd < 0) {
      error = "cannot create a temporary file in " + dir + ": " + errno_text(errno);
      return nullptr;
    }
    ::unlink(name.c_str());
  }
  // The readers open it again by name: /proc/self/fd must be there.
  struct stat st {};
  auto file = std::unique_ptr<SpillFile>(new SpillFile(fd));
  if (::stat(file->path_.c_str(), &st) != 0) {
    error = "cannot reach the temporary file through " + file->path_ + ": " + errno_text(errno);
    return nullptr;
  }
  return file;
}

bool SpillFile::write(const char* data, size_t n, std::string& error) {
  while (n > 0) {
    const ssize_t w = ::write(fd_, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      error = "write error: " + errno_text(errno);
      return false;
    }
    data += w;
    n -= size_t(w);
    size_ += uint64_t(w);
  }
  return true;
}

uint64_t SpillFile::room(uint64_t reserve) const {
  struct statvfs fs {};
  if (::fstatvfs(fd_, &fs) != 0) return UINT64_MAX;  // unknown: the write errors will tell
  const uint64_t free_bytes = uint64_t(fs.f_bavail) * uint64_t(fs.f_frsize);
  return free_bytes > reserve ? free_bytes - reserve : 0;
}

bool SpillFile::rewind(std::string& error) {
  if (::lseek(fd_, 0, SEEK_SET) != 0) {
    error = "cannot rewind the temporary file: " + errno_text(errno);
    return false;
  }
  return true;
}

bool may_be_archive(std::string_view head) { return definite_archive(head) || compressed(head); }

std::unique_ptr<ItemReader> open_archive_input(const std::string& path, int fd,
                                               std::string_view head, const SourceOptions& options,
                                               ContainerHooks hooks) {
  if (!definite_archive(head) && !compressed(head)) return nullptr;
  std::string compressed_head(kSniffBytes, '\0');
  const ssize_t got = ::pread(fd, compressed_head.data(), compressed_head.size(), 0);
  compressed_head.resize(got > 0 ? size_t(got) : 0);
  const bool definite = definite_archive(head) || gzip_holds_tar(compressed_head);
  auto file = std::make_shared<const std::string>(path);
  auto reader = std::make_unique<ContainerReader>(file, options, hooks);
  auto level = std::make_unique<ArchiveLevel>();
  level->name = path;
  struct stat st {};
  if (fstat(fd, &st) == 0) level->raw_size = uint64_t(st.st_size);
  level->owned_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  std::string error;
  if (level->owned_fd >= 0 && ::lseek(level->owned_fd, 0, SEEK_SET) == 0)
    level->archive = open_archive_fd(level->owned_fd, false, error);
  else
    error = "cannot read: " + errno_text(errno);
  archive_entry* entry = nullptr;
  int rc = ARCHIVE_FATAL;
  if (level->archive) rc = archive_read_next_header(level->archive.get(), &entry);
  if (rc < ARCHIVE_WARN || rc == ARCHIVE_EOF) {
    if (!definite) {
      // A compressed mailbox, not a compressed tar: the caller streams it from the start, and
      // the dup'ed descriptor shares the file offset libarchive moved.
      ::lseek(fd, 0, SEEK_SET);
      return nullptr;
    }
    if (rc != ARCHIVE_EOF) {
      hooks.fail(path, 0,
                 "not a readable archive: " +
                     (level->archive ? archive_error(level->archive.get(), "unreadable") : error));
    }
    return reader;  // nothing to read in it
  }
  const int format = archive_format(level->archive.get()) & ARCHIVE_FORMAT_BASE_MASK;
  level->per_entry_ratio = format != ARCHIVE_FORMAT_7ZIP;
  reader->take_first_header(*level, entry);
  reader->push(std::move(level));
  return reader;
}

}  // namespace credsift::source_detail

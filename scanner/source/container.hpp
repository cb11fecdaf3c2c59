#pragma once
// Archives of mailboxes as inputs (container.cpp): a zip, 7z or tar (plain or gzip/bzip2/xz
// compressed) whose entries are sniffed by content like any input. Mail that can be streamed
// (mbox, .eml, JSON exports) is streamed through MessageSource's own stream reader; PST/OST and
// .msg entries, which need random access, and nested archives are spilled to an unlinked 0600
// file under $TMPDIR, bounded by --max-ratio and by the free space there.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "credsift/diagnostic.hpp"
#include "credsift/source.hpp"
#include "outlook.hpp"

namespace credsift::source_detail {

// An unlinked temporary file (O_TMPFILE, or mkstemp + unlink), mode 0600, in $TMPDIR or /tmp.
// path() names it for readers that open by name (libpff, libolecf) while it is open.
class SpillFile {
 public:
  static std::unique_ptr<SpillFile> create(std::string& error);
  ~SpillFile();
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;
  bool write(const char* data, size_t n, std::string& error);
  bool rewind(std::string& error);  // for reading it from the start
  // Bytes it may grow to: the free space of its file system less `reserve` (at the time asked).
  uint64_t room(uint64_t reserve) const;
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  explicit SpillFile(int fd);
  int fd_;
  uint64_t size_ = 0;
  std::string path_;
};

// One archive entry's bytes, as the stream reader pulls them: read() returns 0 at the end or
// after an error (then reported, and failed() is set).
class EntryBytes {
 public:
  virtual ~EntryBytes() = default;
  virtual size_t read(char* dst, size_t n) = 0;
  virtual bool failed() const = 0;
  virtual uint64_t fail_offset() const = 0;
};

// What the container reader needs from MessageSource: its diagnostics and counts, and its stream
// reader for the entries that are streamed (`name` is "archive!entry", `maildir` when the
// entry lies in a Maildir's cur/ or new/).
struct ContainerHooks {
  std::function<void(Diagnostic::Level, const std::string& file, uint64_t offset, std::string)>
      report;
  std::function<void(const std::string& file, uint64_t offset, std::string)> fail;
  std::function<void(const std::string& file, std::string_view type)> not_mail;
  std::function<std::unique_ptr<ItemReader>(std::shared_ptr<const std::string> name,
                                            std::unique_ptr<EntryBytes> bytes, bool maildir)>
      open_stream;
};

// Could `head` (the file's first bytes) start an archive of mailboxes? Zip, 7z and tar by their
// magic; gzip, bzip2 and xz only as candidates (a compressed tar, or a compressed mailbox).
bool may_be_archive(std::string_view head);

// Opens the archive file `path` (descriptor `fd`, not taken; `head` its first 512 bytes or
// fewer) as an input; nullptr when it is no
// archive libarchive reads (a gzip'd mbox: the caller reads it as before). Every message comes
// out with origin.file = path and origin.location.container = the entry's path inside it
// ("Custodian1/mail.pst", nested archives joined with '!').
std::unique_ptr<ItemReader> open_archive_input(const std::string& path, int fd,
                                               std::string_view head, const SourceOptions& options,
                                               ContainerHooks hooks);

}  // namespace credsift::source_detail

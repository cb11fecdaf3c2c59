// MessageSource: walks the inputs in order and yields one message at a time. Plain files are
// memory-mapped (small ones read) and split lazily; gzip and stdin are streamed through a
// bounded window, so memory never depends on the size of a mailbox.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <system_error>

#include "container.hpp"
#include "credsift/source.hpp"
#include "credsift/text.hpp"
#include "guarded_map.hpp"
#include "json_export.hpp"
#include "mbox.hpp"
#include "not_mail.hpp"
#include "outlook.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;
using namespace source_detail;
using Level = Diagnostic::Level;

constexpr size_t kSniffBytes = 64 << 10;
constexpr size_t kRawChunk = 256 << 10;  // compressed bytes read per step
constexpr size_t kSmallFile = 64 << 10;  // below this, read() beats mmap + munmap
constexpr size_t kSkipContext = 8;       // bytes kept before the scan point while skipping

std::string errno_text(int err) { return std::generic_category().message(err); }

std::string too_large_reason(uint64_t max_message_bytes) {
  return "message larger than " + std::to_string(max_message_bytes) + " bytes";
}

struct Context {
  SourceOptions options;
  DiagnosticSink sink;
  uint64_t bytes_read = 0;
  uint64_t files_failed = 0;
  uint64_t files_not_mail = 0;
  std::map<std::string, uint64_t> not_mail_by_type;
  uint64_t inputs_failed = 0;     // of them, inputs named by the user (not found by walking)
  bool reading_explicit = false;  // the item being read was named by the user

  void report(Level level, const std::string& file, uint64_t offset, std::string message) {
    if (sink) sink(Diagnostic{level, file, offset, std::move(message)});
  }
  void fail(const std::string& file, uint64_t offset, std::string message) {
    ++files_failed;
    if (reading_explicit) ++inputs_failed;
    report(Level::Error, file, offset, std::move(message));
  }
  std::string too_large() const { return too_large_reason(options.max_message_bytes); }
  void not_mail(const std::string& file, std::string_view type) {
    ++files_not_mail;
    ++not_mail_by_type[std::string(type)];
    if (type == kUnrecognisedContent)
      report(Level::Warning, file, 0, "skipped: content not recognised as mail");
    else
      report(Level::Warning, file, 0, "skipped: not mail (" + std::string(type) + ")");
  }
  // A file whose magic bytes say it is no mail is reported and counted, whatever its role.
  bool is_not_mail(const std::string& file, std::string_view head) {
    const std::string_view type = not_mail_type(head);
    if (!type.empty()) not_mail(file, type);
    return !type.empty();
  }
};

// How an input was reached decides what happens to content that is not recognised as mail.
enum class Role {
  Explicit,  // named by the user: read as one message whatever it holds
  Walked,    // found in a directory: skipped with a warning unless it looks like mail
  Maildir,   // in a Maildir's cur/ or new/: a message by definition
};

struct Item {
  std::string path;
  Role role;
  std::string root;  // walked items: the real path of the directory named by the user
};

class Reader {
 public:
  virtual ~Reader() = default;
  virtual std::optional<Message> next() = 0;
  virtual std::optional<InputBatch> next_batch(size_t /*span_bytes*/) {
    std::optional<Message> message = next();
    if (!message) return std::nullopt;
    return InputBatch{std::move(message), std::nullopt, {}};
  }
};

// Graph and Gmail JSON exports (json_export.cpp), fed by `pull`.
class JsonReader : public Reader {
 public:
  JsonReader(Context& ctx, std::shared_ptr<const std::string> file, PullBytes pull,
             uint64_t size_hint = 0)
      : reader_(file,
                {ctx.options.max_message_bytes, ctx.options.max_message_bytes,
                 std::max<size_t>(ctx.options.stream_chunk_bytes, 1)},
                {[&ctx, file](uint64_t offset, std::string message) {
                   ctx.report(Level::Warning, *file, offset, std::move(message));
                 },
                 [&ctx, file](uint64_t offset, std::string message) {
                   ctx.fail(*file, offset, std::move(message));
                 }},
                std::move(pull), size_hint) {}
  std::optional<Message> next() override { return reader_.next(); }

 private:
  JsonExportReader reader_;
};

// ---------------------------------------------------------------------------------------------
// Byte streams (stdin, fifos, gzip): read() returns 0 at the end or after an error, which the
// stream has then reported itself (with the offset in the decompressed data).

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual size_t read(char* dst, size_t n) = 0;
  bool failed() const { return failed_; }
  uint64_t fail_offset() const { return fail_offset_; }

 protected:
  bool failed_ = false;
  uint64_t fail_offset_ = 0;
};

class Fd {
 public:
  Fd(int fd, bool owned) : fd_(fd), owned_(owned) {}
  ~Fd() {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
  bool owned_;
};

// Raw bytes of a descriptor, after `prefix` (bytes already read to look for the gzip magic).
class RawInput {
 public:
  RawInput(Context& ctx, std::unique_ptr<Fd> fd, std::string prefix)
      : ctx_(ctx), fd_(std::move(fd)), prefix_(std::move(prefix)) {}

  // Returns 0 at end of input or on error (error() is then non-empty).
  size_t read(char* dst, size_t n) {
    if (prefix_pos_ < prefix_.size()) {
      const size_t k = std::min(n, prefix_.size() - prefix_pos_);
      memcpy(dst, prefix_.data() + prefix_pos_, k);
      prefix_pos_ += k;
      consumed_ += k;
      return k;
    }
    for (;;) {
      const ssize_t r = ::read(fd_->get(), dst, n);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        error_ = "read error: " + errno_text(errno);
        return 0;
      }
      ctx_.bytes_read += static_cast<uint64_t>(r);
      consumed_ += static_cast<uint64_t>(r);
      return static_cast<size_t>(r);
    }
  }
  const std::string& error() const { return error_; }
  uint64_t consumed() const { return consumed_; }

 private:
  Context& ctx_;
  std::unique_ptr<Fd> fd_;
  std::string prefix_;
  size_t prefix_pos_ = 0;
  uint64_t consumed_ = 0;
  std::string error_;
};

class PlainStream : public ByteStream {
 public:
  PlainStream(Context& ctx, std::string file, RawInput in)
      : ctx_(ctx), file_(std::move(file)), in_(std::move(in)) {}
  size_t read(char* dst, size_t n) override {
    if (done_) return 0;
    const size_t got = in_.read(dst, n);
    if (got == 0) {
      done_ = true;
      if (!in_.error().empty()) {
        failed_ = true;
        fail_offset_ = in_.consumed();
        ctx_.fail(file_, fail_offset_, in_.error());
      }
    }
    return got;
  }

 private:
  Context& ctx_;
  std::string file_;
  RawInput in_;
  bool done_ = false;
};

// Streaming gunzip, concatenated members included (as gzip(1) does).
class GzipStream : public ByteStream {
 public:
  GzipStream(Context& ctx, std::string file, RawInput in)
      : ctx_(ctx), file_(std::move(file)), in_(std::move(in)), ibuf_(new unsigned char[kRawChunk]) {
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) {
      fail("cannot initialise zlib");
      done_ = true;
    } else {
      initialised_ = true;
    }
  }
  ~GzipStream() override {
    if (initialised_) inflateEnd(&zs_);
  }

  size_t read(char* dst, size_t n) override {
    if (done_) return 0;
    n = std::min<size_t>(n, UINT_MAX);
    request_ = n;
    zs_.next_out = reinterpret_cast<Bytef*>(dst);
    zs_.avail_out = static_cast<uInt>(n);
    while (zs_.avail_out == n && !done_) {
      if (zs_.avail_in == 0) {
        const size_t got = in_.read(reinterpret_cast<char*>(ibuf_.get()), kRawChunk);
        if (got == 0) {
          if (!in_.error().empty()) {
            fail(in_.error());
          } else if (in_member_) {
            fail("truncated gzip data (unexpected end of file)");
          }
          done_ = true;
          break;
        }
        zs_.next_in = ibuf_.get();
        zs_.avail_in = static_cast<uInt>(got);
      }
      if (!in_member_) {
        if (zs_.next_in[0] != 0x1f) {
          ctx_.report(Level::Warning, file_, out_ + (n - zs_.avail_out),
                      "trailing garbage after gzip data ignored (compressed byte " +
                          std::to_string(compressed_pos()) + ")");
          done_ = true;
          break;
        }
        inflateReset(&zs_);
        in_member_ = true;
      }
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        in_member_ = false;
      } else if (rc == Z_OK || (rc == Z_BUF_ERROR && zs_.avail_in == 0)) {
        // progress, or more input needed
      } else {
        fail(std::string("corrupt gzip data: ") + (zs_.msg ? zs_.msg : "inflate failed"));
        done_ = true;
      }
    }
    const size_t produced = n - zs_.avail_out;
    out_ += produced;
    return produced;
  }

 private:
  uint64_t compressed_pos() const { return in_.consumed() - zs_.avail_in; }
  void fail(const std::string& what) {
    failed_ = true;
    // The offset is in the decompressed data (what the other offsets refer to); the compressed
    // position is in the text for whoever wants to look at the file itself.
    fail_offset_ = out_ + (request_ - zs_.avail_out);
    ctx_.fail(file_, fail_offset_,
              what + " (compressed byte " + std::to_string(compressed_pos()) + ")");
  }

  Context& ctx_;
  std::string file_;
  RawInput in_;
  std::unique_ptr<unsigned char[]> ibuf_;
  z_stream zs_{};
  bool initialised_ = false;
  bool in_member_ = true;
  bool done_ = false;
  uint64_t out_ = 0;    // decompressed bytes returned before this read()
  size_t request_ = 0;  // size asked for by this read()
};

// Peeks at the first two bytes for the gzip magic; the bytes are replayed, never lost.
std::unique_ptr<ByteStream> open_stream(Context& ctx, const std::string& file,
                                        std::unique_ptr<Fd> fd) {
  std::string prefix(2, '\0');
  size_t have = 0;
  std::string error;
  while (have < 2) {
    const ssize_t r = ::read(fd->get(), prefix.data() + have, 2 - have);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      error = "read error: " + errno_text(errno);
      break;
    }
    if (r == 0) break;
    have += static_cast<size_t>(r);
    ctx.bytes_read += static_cast<uint64_t>(r);
  }
  if (!error.empty()) {
    ctx.fail(file, 0, error);
    return nullptr;
  }
  prefix.resize(have);
  const bool gzip = have == 2 && static_cast<unsigned char>(prefix[0]) == 0x1f &&
                    static_cast<unsigned char>(prefix[1]) == 0x8b;
  RawInput raw(ctx, std::move(fd), std::move(prefix));
  if (gzip) return std::make_unique<GzipStream>(ctx, file, std::move(raw));
  return std::make_unique<PlainStream>(ctx, file, std::move(raw));
}

Message make_message(const std::shared_ptr<const std::string>& file, uint64_t offset,
                     uint64_t index) {
  Message m;
  m.origin.file = file;
  m.origin.offset = offset;
  m.origin.index = index;
  return m;
}

void set_owned_bytes(Message& m, std::string bytes) {
  auto owned = std::make_shared<const std::string>(std::move(bytes));
  m.bytes = *owned;
  m.keepalive = std::move(owned);
}

// A message held in memory that keepalive owns: a view into it, copied only when mboxrd escapes
// must go, or skipped (with the reason) when over the size limit.
Message memory_message(const std::shared_ptr<const std::string>& file,
                       const std::shared_ptr<const void>& keepalive, uint64_t max_message_bytes,
                       uint64_t offset, uint64_t index, std::string_view bytes, bool unescape) {
  Message m = make_message(file, offset, index);
  if (bytes.size() > max_message_bytes) {
    m.skip_reason = too_large_reason(max_message_bytes);
  } else if (unescape) {
    set_owned_bytes(m, unescape_mboxrd(bytes));
  } else {
    m.bytes = bytes;
    m.keepalive = keepalive;
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Streamed input: a window `buf_` over the decompressed data, `base_` its offset. The window
// holds the message being assembled (or, past the size limit, only a few bytes of context).

class StreamReader : public Reader {
 public:
  StreamReader(Context& ctx, std::shared_ptr<const std::string> file,
               std::unique_ptr<ByteStream> in, Role role)
      : ctx_(ctx), file_(std::move(file)), in_(std::move(in)), role_(role) {
    // The window never holds more than a message at the limit plus one read and the separator
    // lookahead. Reserved once (address space, not memory: pages are touched as they fill), so
    // that growth never doubles it past the limit.
    try {
      buf_.reserve(std::min<uint64_t>(ctx_.options.max_message_bytes, 4ull << 30) +
                   2 * std::max<size_t>(ctx_.options.stream_chunk_bytes, 1) + kLookahead);
    } catch (const std::exception&) {
    }
  }

  std::optional<Message> next() override {
    if (json_) return json_->next();
    if (mode_ == Mode::Sniff) sniff();
    if (json_) return json_->next();
    if (mode_ == Mode::Single) return single();
    if (mode_ == Mode::Mbox) return mbox();
    return std::nullopt;
  }

 private:
  enum class Mode { Sniff, Mbox, Single, Done };

  std::string_view view() const { return buf_; }

  // Bytes a separator decision may need past its candidate, plus slack.
  static constexpr size_t kLookahead = kMaxFromLine + kMaxFieldName + 64;

  // Reads one chunk, or less: at most up_to bytes (a message near the limit reads no further
  // than needed to know it is over).
  void fill(size_t up_to = SIZE_MAX) {
    if (eof_) return;
    const size_t chunk = std::max<size_t>(std::min(ctx_.options.stream_chunk_bytes, up_to), 1);
    const size_t old = buf_.size();
    buf_.resize(old + chunk);
    const size_t got = in_->read(buf_.data() + old, chunk);
    buf_.resize(old + got);
    if (got == 0) eof_ = true;
  }

  // Discards buf_[0, k); indices into the window shift with it.
  void drop(size_t k) {
    if (k == 0) return;
    buf_.erase(0, k);
    base_ += k;
    data_start_ = false;
    msg_ = msg_ >= k ? msg_ - k : 0;
    scan_ = scan_ >= k ? scan_ - k : 0;
    header_scan_ = header_scan_ >= k ? header_scan_ - k : 0;
  }

  // Has the header block of the message held from msg_ grown past the header limit without
  // ending? Then the message is skipped while read: a 200 MB header line over stdin was held
  // whole, copied, and decoded (450 MB and more). The search goes on where it stopped.
  bool header_block_too_long() {
    const uint64_t limit = ctx_.options.max_header_bytes;
    if (limit == 0 || headers_done_) return false;
    const std::string_view v = view();
    const size_t from = std::max(header_scan_, msg_);
    if (from == msg_ && (v.substr(msg_).starts_with("\n") || v.substr(msg_).starts_with("\r\n"))) {
      headers_done_ = true;  // no header fields at all
      return false;
    }
    if (text::find_from(v, from, "\n\n") != std::string_view::npos ||
        text::find_from(v, from, "\n\r\n") != std::string_view::npos) {
      headers_done_ = true;
      return false;
    }
    header_scan_ = std::max(from, v.size() >= 2 ? v.size() - 2 : size_t{0});
    if (v.size() - msg_ <= limit + kLookahead) return false;
    header_skip_ = true;
    return true;
  }

  void start_headers() {
    header_scan_ = msg_;
    headers_done_ = false;
    header_skip_ = false;
  }

  void sniff() {
    while (buf_.size() < kSniffBytes && !eof_) fill();
    if (buf_.empty()) {
      mode_ = Mode::Done;
      return;
    }
    const std::string_view head = std::string_view(buf_).substr(0, kSniffBytes);
    if (ctx_.is_not_mail(*file_, head)) {
      mode_ = Mode::Done;
      return;
    }
    if (looks_like_json_export(head)) {
      // The window read so far first, then the rest of the stream.
      json_ = std::make_unique<JsonReader>(ctx_, file_, [this](char* dst, size_t n) -> size_t {
        if (pos_ < buf_.size()) {
          const size_t k = std::min(n, buf_.size() - pos_);
          memcpy(dst, buf_.data() + pos_, k);
          pos_ += k;
          return k;
        }
        return in_->read(dst, n);
      });
      mode_ = Mode::Done;
      return;
    }
    const InputFormat format = sniff_format(head);
    if (format == InputFormat::Unknown && role_ == Role::Walked) {
      ctx_.not_mail(*file_, kUnrecognisedContent);
      mode_ = Mode::Done;
      return;
    }
    mode_ = format == InputFormat::Mbox ? Mode::Mbox : Mode::Single;
  }

  // Marks a message cut short by an input error, or too large; else gives it its bytes.
  Message finish(uint64_t offset, uint64_t size, std::string_view bytes, bool at_end,
                 bool skipped) {
    Message m = make_message(file_, offset, index_++);
    if (at_end && in_->failed()) {
      m.skip_reason = "incomplete: input error at byte " + std::to_string(in_->fail_offset());
    } else if (header_skip_) {
      m.skip_reason =
          "header block larger than " + std::to_string(ctx_.options.max_header_bytes) + " bytes";
    } else if (skipped || size > ctx_.options.max_message_bytes) {
      m.skip_reason = ctx_.too_large();
    } else {
      set_owned_bytes(m, has_escaped_from(bytes) ? unescape_mboxrd(bytes) : std::string(bytes));
    }
    return m;
  }

  std::optional<Message> single() {
    mode_ = Mode::Done;
    drop(bom_length(view()));
    const uint64_t offset = base_;
    bool skipping = false;
    msg_ = 0;
    start_headers();
    while (!eof_) {
      // Past the limit, keep counting without keeping.
      if (buf_.size() > ctx_.options.max_message_bytes || (!skipping && header_block_too_long())) {
        skipping = true;
        drop(buf_.size());
      }
      fill(skipping ? SIZE_MAX
                    : static_cast<size_t>(ctx_.options.max_message_bytes + 1 - buf_.size()));
    }
    const uint64_t size = base_ + buf_.size() - offset;
    if (size == 0) return std::nullopt;
    return finish(offset, size, view(), true, skipping);
  }

  std::optional<Message> mbox() {
    for (;;) {
      if (!in_msg_) {
        if (have_next_) {
          msg_ = next_header_;
          garbage_ = false;
          have_next_ = false;
        } else {
          const size_t start = bom_length(view());
          size_t hs = 0;
          Decision d;
          while ((d = from_line_at(view(), start, eof_, &hs)) == Decision::NeedMore) fill();
          garbage_ = d != Decision::Yes;
          msg_ = garbage_ ? start : hs;
        }
        in_msg_ = true;
        skipping_ = false;
        scan_ = msg_;
        start_headers();
        msg_offset_ = base_ + msg_;
      }
      const SepScan s = find_separator(view(), scan_, data_start_, eof_);
      if (s.kind == Decision::NeedMore) {
        scan_ = s.resume;
        // The message ends at least two bytes (its blank line) before any later separator,
        // so it is known to be over the limit once the scan point passes limit + 2.
        if (!skipping_ && scan_ - msg_ > ctx_.options.max_message_bytes + 2) skipping_ = true;
        if (!skipping_ && header_block_too_long()) skipping_ = true;
        drop(skipping_ ? (scan_ > kSkipContext ? scan_ - kSkipContext : 0) : msg_);
        if (skipping_) {
          fill();
        } else {
          // Never more of one message than the limit and the lookahead that proves it over.
          const uint64_t cap = ctx_.options.max_message_bytes + 2 + 2 * kLookahead;
          const uint64_t held = buf_.size() - msg_;
          fill(held < cap ? static_cast<size_t>(cap - held) : kLookahead);
        }
        continue;
      }
      const bool at_end = s.kind == Decision::No;
      size_t end;
      if (!at_end) {
        end = s.from_line - separator_blank_length(view(), s.from_line);
        if (!skipping_) end = std::max(end, msg_);
        next_header_ = s.header_start;
        have_next_ = true;
      } else {
        end = skipping_ ? buf_.size() : trim_final_blank(view(), msg_, buf_.size());
        mode_ = Mode::Done;
      }
      in_msg_ = false;
      const uint64_t end_offset = base_ + end;
      std::string_view bytes;
      if (!skipping_) {
        bytes = view().substr(msg_, end - msg_);
        if (garbage_ && is_blank(bytes)) {
          if (at_end) return std::nullopt;
          continue;
        }
      }
      // Nothing is dropped here: the window is compacted only before the next read, so many
      // small messages in one chunk cost no copying of the window.
      return finish(msg_offset_, end_offset - msg_offset_, bytes, at_end, skipping_);
    }
  }

  Context& ctx_;
  std::shared_ptr<const std::string> file_;
  std::unique_ptr<ByteStream> in_;
  Role role_;
  Mode mode_ = Mode::Sniff;

  std::string buf_;
  uint64_t base_ = 0;
  bool data_start_ = true;  // buf_[0] is the first byte of the data
  bool eof_ = false;

  bool in_msg_ = false;
  bool have_next_ = false;
  bool garbage_ = false;
  bool skipping_ = false;
  bool headers_done_ = false;  // the current message's header block is known to end in time
  bool header_skip_ = false;   // skipped for its header block (else for its size)
  size_t header_scan_ = 0;     // window index where the search for its end goes on
  size_t msg_ = 0;             // window index of the current message's first byte (unless skipping)
  size_t scan_ = 0;
  size_t next_header_ = 0;
  uint64_t msg_offset_ = 0;
  uint64_t index_ = 0;
  std::unique_ptr<JsonReader> json_;  // set when the stream holds a JSON export
  size_t pos_ = 0;                    // of buf_, handed to json_ so far
};

// ---------------------------------------------------------------------------------------------
// A plain file in memory (mapped or read): messages are views, the mapping is their keepalive.

class MemoryReader : public Reader {
 public:
  // data: the whole file, or for a shard the slice of it from base_offset whose first message
  // has index first_index in the file.
  MemoryReader(Context& ctx, std::shared_ptr<const std::string> file,
               std::shared_ptr<const void> keepalive, std::string_view data, bool mbox,
               bool count_bytes, const GuardedMapping* mapping, uint64_t base_offset = 0,
               uint64_t first_index = 0)
      : ctx_(ctx),
        file_(std::move(file)),
        keepalive_(std::move(keepalive)),
        data_(data),
        mbox_(mbox),
        count_bytes_(count_bytes),
        mapping_(mapping),
        base_offset_(base_offset),
        first_index_(first_index),
        index_(first_index) {}

  std::optional<Message> next() override {
    if (mbox_) {
      const auto piece = next_mbox_piece(data_, cursor_);
      account(cursor_.consumed);
      if (!piece) {
        shrank_before(data_.size());
        return std::nullopt;
      }
      if (shrank_before(piece->offset)) return std::nullopt;
      release_behind(piece->offset);
      Message message = build(piece->offset, piece->bytes, piece->needs_unescape);
      if (message.skip_reason.empty() && mapping_ &&
          piece->offset + piece->bytes.size() > intact_bytes())
        message.skip_reason = "incomplete: the file shrank to " +
                              std::to_string(mapping_->intact_bytes()) + " bytes during the scan";
      return message;
    }
    if (single_done_) return std::nullopt;
    single_done_ = true;
    account(data_.size());
    const size_t start = bom_length(data_);
    return build(start, data_.substr(start), false);
  }

  std::optional<InputBatch> next_batch(size_t span_bytes) override {
    if (!mbox_) return Reader::next_batch(span_bytes);
    if (span_begin_ >= data_.size()) {
      shrank_before(data_.size());
      return std::nullopt;
    }
    // A span ends at a separator: the separator test looks only at the bytes around a
    // candidate, so the first one found after begin + span_bytes is one that next() finds too.
    const size_t begin = span_begin_;
    // Near the end of the file spans shrink to a quarter of what is left (not below 1 MiB), so
    // that the threads finish together rather than one scanning a last full span alone.
    constexpr size_t kMinTailSpan = 1 << 20;
    const size_t tail_span = std::max((data_.size() - begin) / 4, kMinTailSpan);
    const size_t at_least = std::max<size_t>(std::min(span_bytes, tail_span), 1);
    size_t end = data_.size();
    if (data_.size() - begin > at_least) {
      const SepScan s = find_span_end(begin + at_least);
      if (s.kind == Decision::Yes) end = s.from_line;
    }
    span_begin_ = end;
    account(end);
    if (shrank_before(begin)) return std::nullopt;
    MboxSpan span{data_.substr(begin, end - begin), keepalive_,   file_,       base_offset_ + begin,
                  ctx_.options.max_message_bytes,   first_index_, count_bytes_};
    return InputBatch{std::nullopt, std::move(span), {}};
  }

 private:
  // The first separator at or after lo, as find_separator over the whole data finds it. In a
  // mapped file it is looked for in a copy of the 64 KiB there (pread): touching the mapping
  // made the serial reader set up page tables (and fault in pages no worker reads from the
  // mapping) for every span, ~1.5% of a one-thread scan of the mail profile. The separator test
  // reads 3 bytes before a candidate and at most kMaxFromLine after it, so a Yes in the window
  // is the answer; a window without one (NeedMore, or No before the file's end) goes on in the
  // mapping, as does a failed read.
  SepScan find_span_end(size_t lo) {
    constexpr size_t kWindow = 64 << 10, kBefore = 4;
    if (mapping_ && lo >= kBefore && lo < data_.size()) {
      const size_t from = lo - kBefore;
      const size_t length = std::min(kWindow, data_.size() - from);
      window_.resize(length);
      if (read_mapped(data_.substr(from, length), window_.data())) {
        const bool eof = from + length == data_.size();
        SepScan s = find_separator(window_, kBefore, false, eof);
        if (s.kind == Decision::Yes) {
          s.from_line += from;
          s.header_start += from;
          return s;
        }
        if (s.kind == Decision::No && eof) return s;
      }
    }
    return find_separator(data_, lo, true, true);
  }

  void account(size_t upto) {
    if (count_bytes_ && upto > accounted_) ctx_.bytes_read += upto - accounted_;
    accounted_ = std::max(accounted_, upto);
  }

  // Resident pages of a mapped mbox far behind the message handed out are dropped, so memory
  // stays flat whatever the file size. Always safe: a read-only private mapping that was never
  // written faults a dropped page back in from the page cache, should a message in flight
  // still read it.
  void release_behind(size_t offset) {
    constexpr size_t kLag = 16 << 20, kStep = 4 << 20;
    if (!count_bytes_ || offset < kLag + kStep) return;  // count_bytes_: mapped files only
    static const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t upto = (offset - kLag) / page * page;
    if (upto < released_ + kStep) return;
    madvise(const_cast<char*>(data_.data()) + released_, upto - released_, MADV_DONTNEED);
    released_ = upto;
  }

  // A mapped file that shrank under us ends where its data ends: reported once as failed at
  // that offset; messages before it are kept (and a message cut by it fails on its own).
  // Bytes of data_ still backed by the file (data_ starts at base_offset_ for a shard's slice).
  uint64_t intact_bytes() const {
    const uint64_t intact = mapping_->intact_bytes();
    return intact > base_offset_ ? intact - base_offset_ : 0;
  }

  bool shrank_before(uint64_t offset) {
    if (!mapping_ || intact_bytes() >= data_.size() || offset < intact_bytes()) return false;
    if (!shrink_reported_) {
      shrink_reported_ = true;
      span_begin_ = data_.size();
      ctx_.fail(*file_, mapping_->intact_bytes(),
                "the file shrank to " + std::to_string(mapping_->intact_bytes()) +
                    " bytes during the scan (of " + std::to_string(data_.size()) +
                    "): the rest is not scanned");
    }
    return true;
  }

  Message build(uint64_t offset, std::string_view bytes, bool unescape) {
    return memory_message(file_, keepalive_, ctx_.options.max_message_bytes, base_offset_ + offset,
                          index_++, bytes, unescape);
  }

  Context& ctx_;
  std::shared_ptr<const std::string> file_;
  std::shared_ptr<const void> keepalive_;
  std::string_view data_;
  bool mbox_;
  bool count_bytes_;
  const GuardedMapping* mapping_;  // null for files read into memory
  bool shrink_reported_ = false;
  MboxCursor cursor_;
  bool single_done_ = false;
  size_t accounted_ = 0;
  size_t released_ = 0;
  size_t span_begin_ = 0;
  std::string window_;  // find_span_end's copy
  uint64_t base_offset_;
  uint64_t first_index_;
  uint64_t index_;
};

// PST/OST and .msg files: the container reader renders each item as a message (outlook.hpp).
class OutlookReader : public Reader {
 public:
  explicit OutlookReader(std::unique_ptr<ItemReader> items) : items_(std::move(items)) {}
  std::optional<Message> next() override { return items_->next(); }
  std::optional<InputBatch> next_batch(size_t /*span_bytes*/) override {
    return items_->next_batch();
  }

 private:
  std::unique_ptr<ItemReader> items_;
};
// An archive entry (container.cpp) read by the stream reader, and that reader as an item reader.
class EntryStream : public ByteStream {
 public:
  explicit EntryStream(std::unique_ptr<EntryBytes> in) : in_(std::move(in)) {}
  size_t read(char* dst, size_t n) override {
    const size_t got = in_->read(dst, n);
    if (got == 0 && in_->failed()) {
      failed_ = true;
      fail_offset_ = in_->fail_offset();
    }
    return got;
  }

 private:
  std::unique_ptr<EntryBytes> in_;
};
class ReaderItems : public ItemReader {
 public:
  explicit ReaderItems(std::unique_ptr<Reader> reader) : reader_(std::move(reader)) {}
  std::optional<Message> next() override { return reader_->next(); }

 private:
  std::unique_ptr<Reader> reader_;
};

// Reads a file held in memory as a stream; a mapped file's pages are given back behind the
// reader (and counted as read), so a JSON lines file of any size keeps memory flat.
PullBytes memory_pull(Context& ctx, std::shared_ptr<const void> keepalive, std::string_view data,
                      bool mapped) {
  return [&ctx, keepalive = std::move(keepalive), data, mapped, at = size_t{0},
          released = size_t{0}](char* dst, size_t n) mutable -> size_t {
    const size_t k = std::min(n, data.size() - at);
    memcpy(dst, data.data() + at, k);
    at += k;
    if (mapped) {
      ctx.bytes_read += k;
      static const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
      constexpr size_t kStep = 8 << 20;
      const size_t upto = at / page * page;
      if (upto >= released + kStep) {
        madvise(const_cast<char*>(data.data()) + released, upto - released, MADV_DONTNEED);
        released = upto;
      }
    }
    return k;
  };
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct MessageSource::Impl {
  Context ctx;
  std::deque<Item> pending;
  std::unique_ptr<Reader> current;
  uint64_t sequence = 0;

  void open(const Item& item);
  template <typename Take>
  auto pull(Take take) -> decltype(take(*current));
  void open_regular(const Item& item);
  bool open_outlook(const Item& item, std::string_view magic, uint64_t size);
  bool open_archive(const Item& item, int fd, std::string_view head, uint64_t size);
  void open_stream_input(const Item& item, std::unique_ptr<Fd> fd);
  void expand_directory(const std::string& path, const std::string& root);
  bool outside_tree(const Item& item);
  bool list_directory(const std::string& path, std::vector<fs::directory_entry>& out);
};

bool MessageSource::Impl::list_directory(const std::string& path,
                                         std::vector<fs::directory_entry>& out) {
  std::error_code ec;
  fs::directory_iterator it(path, ec);
  if (ec) {
    ctx.fail(path, 0, "cannot read directory: " + ec.message());
    return false;
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    out.push_back(*it);
  }
  if (ec) {
    ctx.fail(path, 0, "cannot read directory: " + ec.message());
    return false;
  }
  // Sorted by name so that a run over the same tree always yields the same order.
  std::sort(out.begin(), out.end(), [](const fs::directory_entry& a, const fs::directory_entry& b) {
    return a.path().native() < b.path().native();
  });
  return true;
}

void MessageSource::Impl::expand_directory(const std::string& path, const std::string& root) {
  std::vector<fs::directory_entry> entries;
  if (!list_directory(path, entries)) return;
  auto is_real_dir = [](const fs::directory_entry& e) {
    std::error_code ec;
    return e.is_directory(ec) && !e.is_symlink(ec);
  };
  auto has_subdir = [&](const char* name) {
    return std::any_of(entries.begin(), entries.end(), [&](const fs::directory_entry& e) {
      return e.path().filename() == name && is_real_dir(e);
    });
  };
  std::vector<Item> items;
  if (has_subdir("cur") && has_subdir("new")) {
    // Maildir: cur/ then new/; tmp/ holds deliveries in progress. Files in the Maildir root
    // are index and uid lists; subdirectories are Maildir++ folders, walked as usual.
    for (const char* sub : {"cur", "new"}) {
      std::vector<fs::directory_entry> messages;
      if (!list_directory((fs::path(path) / sub).string(), messages)) continue;
      for (const auto& e : messages) {
        std::error_code ec;
        if (!e.is_directory(ec)) items.push_back({e.path().string(), Role::Maildir, root});
      }
    }
    for (const auto& e : entries) {
      const auto name = e.path().filename();
      if (name == "cur" || name == "new" || name == "tmp") continue;
      std::error_code ec;
      if (e.is_directory(ec)) items.push_back({e.path().string(), Role::Walked, root});
    }
  } else {
    for (const auto& e : entries) items.push_back({e.path().string(), Role::Walked, root});
  }
  pending.insert(pending.begin(), items.begin(), items.end());
}

// Whether a walked symbolic link resolves to a file outside the directory the user named.
bool MessageSource::Impl::outside_tree(const Item& item) {
  std::error_code ec;
  const std::string target = fs::canonical(item.path, ec).string();
  if (ec || item.root.empty()) return true;
  return !(target.size() > item.root.size() && target.starts_with(item.root) &&
           (item.root.back() == '/' || target[item.root.size()] == '/'));
}

void MessageSource::Impl::open_stream_input(const Item& item, std::unique_ptr<Fd> fd) {
  auto stream = open_stream(ctx, item.path, std::move(fd));
  if (!stream) return;
  current = std::make_unique<StreamReader>(ctx, std::make_shared<const std::string>(item.path),
                                           std::move(stream), item.role);
}

void MessageSource::Impl::open_regular(const Item& item) {
  const int fd = ::open(item.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ctx.fail(item.path, 0, "cannot open: " + errno_text(errno));
    return;
  }
  auto owner = std::make_unique<Fd>(fd, true);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ctx.fail(item.path, 0, "cannot stat: " + errno_text(errno));
    return;
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size == 0) return;          // empty: nothing to read, nothing wrong
  unsigned char magic[512] = {};  // a tar's magic is at 257
  const ssize_t got = pread(fd, magic, sizeof magic, 0);
  if (got < 0) {
    ctx.fail(item.path, 0, "read error: " + errno_text(errno));
    return;
  }
  if (open_archive(item, fd, std::string_view(reinterpret_cast<const char*>(magic), got), size))
    return;
  if (got >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    open_stream_input(item, std::move(owner));
    return;
  }
  if (open_outlook(item, std::string_view(reinterpret_cast<const char*>(magic), got), size)) return;
  auto file = std::make_shared<const std::string>(item.path);
  std::shared_ptr<const void> keepalive;
  std::string_view data;
  const GuardedMapping* guarded = nullptr;
  bool counted = false;
  if (size <= kSmallFile) {
    auto content = std::make_shared<std::string>(size, '\0');
    size_t have = 0;
    while (have < size) {
      const ssize_t r = pread(fd, content->data() + have, size - have, static_cast<off_t>(have));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        ctx.fail(item.path, have, "read error: " + errno_text(errno));
        return;
      }
      if (r == 0) break;  // shrank since fstat
      have += static_cast<size_t>(r);
    }
    content->resize(have);
    ctx.bytes_read += have;
    counted = true;
    data = *content;
    keepalive = std::move(content);
  } else {
    auto mapping = std::make_shared<const GuardedMapping>(fd, size);
    if (!mapping->ok()) {
      open_stream_input(item, std::move(owner));  // some file systems cannot map: stream
      return;
    }
    data = mapping->bytes();
    madvise(const_cast<char*>(data.data()), size, MADV_SEQUENTIAL);
    guarded = mapping.get();
    keepalive = std::move(mapping);
  }
  const std::string_view head = data.substr(0, std::min(data.size(), kSniffBytes));
  if (ctx.is_not_mail(item.path, head)) return;
  if (looks_like_json_export(head)) {
    current = std::make_unique<JsonReader>(
        ctx, std::move(file), memory_pull(ctx, std::move(keepalive), data, !counted), data.size());
    return;
  }
  const InputFormat format = sniff_format(head);
  if (format == InputFormat::Unknown && item.role == Role::Walked) {
    ctx.not_mail(item.path, kUnrecognisedContent);
    return;
  }
  const bool mbox = format == InputFormat::Mbox;
  uint64_t base_offset = 0, first_index = 0;
  if (const auto slice = ctx.options.slices.find(item.path);
      mbox && slice != ctx.options.slices.end()) {
    // A shard's byte range, cut by the plan at message separators.
    base_offset = std::min<uint64_t>(slice->second.begin, data.size());
    data =
        data.substr(base_offset, std::min<uint64_t>(slice->second.end, data.size()) - base_offset);
    first_index = slice->second.first_index;
  }
  current = std::make_unique<MemoryReader>(ctx, std::move(file), std::move(keepalive), data, mbox,
                                           !counted, guarded, base_offset, first_index);
}

// PST/OST by their magic, .msg by the OLE2 magic and its MAPI streams; true when handled.
bool MessageSource::Impl::open_outlook(const Item& item, std::string_view magic, uint64_t size) {
  const bool pst = is_pst_magic(magic);
  if (!pst && !is_ole2_magic(magic)) return false;
  auto file = std::make_shared<const std::string>(item.path);
  ItemReport report = [this, path = item.path](Level level, uint64_t offset, std::string what) {
    ctx.report(level, path, offset, std::move(what));
  };
  std::string error;
  auto items = pst ? open_pst(file, ctx.options, std::move(report), error)
                   : open_msg(file, ctx.options, std::move(report), error);
  if (!items) {
    if (error.empty()) return false;  // an OLE2 file that is no Outlook item
    ctx.fail(item.path, 0, error);
    return true;
  }
  ctx.bytes_read += size;
  current = std::make_unique<OutlookReader>(std::move(items));
  return true;
}

// A zip, 7z or tar of mailboxes (container.cpp); true when handled.
bool MessageSource::Impl::open_archive(const Item& item, int fd, std::string_view head,
                                       uint64_t size) {
  if (!may_be_archive(head)) return false;
  ContainerHooks hooks;
  hooks.report = [this](Level level, const std::string& file, uint64_t offset, std::string what) {
    ctx.report(level, file, offset, std::move(what));
  };
  // Each unreadable entry is a file unreadable; the input named by the user counts once.
  hooks.fail = [this, counted = std::make_shared<bool>(false)](const std::string& file,
                                                               uint64_t offset, std::string what) {
    const bool named = ctx.reading_explicit;
    ctx.reading_explicit = named && !*counted;
    *counted = *counted || named;
    ctx.fail(file, offset, std::move(what));
    ctx.reading_explicit = named;
  };
  hooks.not_mail = [this](const std::string& file, std::string_view type) {
    ctx.not_mail(file, type);
  };
  hooks.open_stream = [this](std::shared_ptr<const std::string> name,
                             std::unique_ptr<EntryBytes> bytes,
                             bool maildir) -> std::unique_ptr<ItemReader> {
    return std::make_unique<ReaderItems>(std::make_unique<StreamReader>(
        ctx, std::move(name), std::make_unique<EntryStream>(std::move(bytes)),
        maildir ? Role::Maildir : Role::Walked));
  };
  auto items = open_archive_input(item.path, fd, head, ctx.options, std::move(hooks));
  if (!items) return false;
  ctx.bytes_read += size;
  current = std::make_unique<OutlookReader>(std::move(items));
  return true;
}

void MessageSource::Impl::open(const Item& item) {
  if (item.path == "-" && item.role == Role::Explicit) {
    open_stream_input(item, std::make_unique<Fd>(ctx.options.stdin_fd, false));
    return;
  }
  struct stat st {};
  if (item.role != Role::Explicit) {
    // Found by walking: directory symlinks are not followed, so a loop cannot trap the walk.
    if (lstat(item.path.c_str(), &st) != 0) {
      ctx.fail(item.path, 0, "cannot stat: " + errno_text(errno));
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      if (stat(item.path.c_str(), &st) != 0) {
        ctx.fail(item.path, 0, "broken symbolic link: " + errno_text(errno));
        return;
      }
      if (S_ISDIR(st.st_mode)) {
        ctx.report(Level::Warning, item.path, 0, "symbolic link to a directory not followed");
        return;
      }
      if (!ctx.options.follow_symlinks && outside_tree(item)) {
        // A Maildir entry pointing at /etc/shadow must not make a root scan report it.
        ctx.report(Level::Warning, item.path, 0,
                   "symbolic link out of the tree being walked not followed (--follow "
                   "follows it)");
        return;
      }
    }
  } else if (stat(item.path.c_str(), &st) != 0) {
    ctx.fail(item.path, 0, "cannot open: " + errno_text(errno));
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    std::string root = item.root;
    if (root.empty()) {
      std::error_code ec;
      root = fs::canonical(item.path, ec).string();
    }
    expand_directory(item.path, root);
  } else if (S_ISREG(st.st_mode)) {
    const std::pair<uint64_t, uint64_t> id{st.st_dev, st.st_ino};
    if (std::find(ctx.options.excluded_files.begin(), ctx.options.excluded_files.end(), id) !=
        ctx.options.excluded_files.end()) {
      ctx.report(Level::Warning, item.path, 0, "skipped: a file of the case store");
      return;
    }
    open_regular(item);
  } else if (item.role == Role::Explicit && S_ISSOCK(st.st_mode)) {
    ctx.fail(item.path, 0, "cannot read: a socket, not a mailbox");
  } else if (item.role == Role::Explicit) {
    // A fifo or device named by the user, e.g. <(zcat archive.gz): stream it.
    const int fd = ::open(item.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      ctx.fail(item.path, 0, "cannot open: " + errno_text(errno));
      return;
    }
    open_stream_input(item, std::make_unique<Fd>(fd, true));
  } else {
    ctx.report(Level::Warning, item.path, 0, "skipped: not a regular file");
  }
}

MessageSource::MessageSource(std::vector<std::string> inputs, SourceOptions options,
                             DiagnosticSink diagnostics)
    : impl_(std::make_unique<Impl>()) {
  impl_->ctx.options = options;
  impl_->ctx.sink = std::move(diagnostics);
  for (auto& input : inputs) {
    Role role = Role::Explicit;
    if (const auto slice = options.slices.find(input); slice != options.slices.end())
      role = slice->second.maildir  ? Role::Maildir
             : slice->second.walked ? Role::Walked
                                    : Role::Explicit;
    impl_->pending.push_back({std::move(input), role, {}});
  }
}

MessageSource::~MessageSource() = default;

// Takes from the current reader until it runs dry, then opens the next input.
template <typename Take>
auto MessageSource::Impl::pull(Take take) -> decltype(take(*current)) {
  for (;;) {
    if (current) {
      if (auto got = take(*current)) return got;
      current.reset();
    }
    if (pending.empty()) return std::nullopt;
    const Item item = std::move(pending.front());
    pending.pop_front();
    ctx.reading_explicit = item.role == Role::Explicit;
    open(item);
  }
}

std::optional<Message> MessageSource::next() {
  auto message = impl_->pull([](Reader& reader) { return reader.next(); });
  if (message) message->sequence = impl_->sequence++;
  return message;
}

std::optional<InputBatch> MessageSource::next_batch(size_t span_bytes) {
  auto batch = impl_->pull([&](Reader& reader) { return reader.next_batch(span_bytes); });
  if (batch && batch->message) batch->message->sequence = impl_->sequence++;
  return batch;
}

std::vector<Message> split_span(const MboxSpan& span) {
  std::vector<Message> messages;
  MboxCursor cursor;
  uint64_t index = 0;
  std::vector<uint64_t> offsets;
  // A mapped span is read into a reused buffer (see read_span_copy); the mapping is the
  // fallback, prefaulted.
  const std::optional<SpanCopy> copy = span.mapped ? read_span_copy(span.bytes) : std::nullopt;
  if (span.mapped && !copy) prefault(span.bytes);
  const std::string_view bytes = copy ? copy->bytes : span.bytes;
  const std::shared_ptr<const void>& keepalive = copy ? copy->keepalive : span.keepalive;
  while (const auto piece = next_mbox_piece(bytes, cursor)) {
    offsets.push_back(piece->offset);
    messages.push_back(memory_message(span.file, keepalive, span.max_message_bytes,
                                      span.offset + piece->offset, index++, piece->bytes,
                                      piece->needs_unescape));
  }
  if (copy) return messages;  // read whole: nothing past a shrink
  // Past the end of a file that shrank there are only zero pages, not messages (asked after
  // the split: reading the span is what finds out).
  if (span.mapped) {
    const size_t intact = mapped_bytes_intact(span.bytes);
    size_t keep = 0;
    while (keep < messages.size() && offsets[keep] < intact) ++keep;
    messages.resize(keep);
  }
  return messages;
}

void release_span(const MboxSpan& span) {
  if (!span.mapped) return;
  // Whole pages inside the span only: a page shared with the next span may still be in use.
  static const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(span.bytes.data());
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = (begin + span.bytes.size()) / page * page;
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

size_t message_bytes_intact(const Message& message) { return mapped_bytes_intact(message.bytes); }

uint64_t MessageSource::bytes_read() const { return impl_->ctx.bytes_read; }
uint64_t MessageSource::files_failed() const { return impl_->ctx.files_failed; }
uint64_t MessageSource::files_not_mail() const { return impl_->ctx.files_not_mail; }
const std::map<std::string, uint64_t>& MessageSource::not_mail_by_type() const {
  return impl_->ctx.not_mail_by_type;
}
uint64_t MessageSource::inputs_failed() const { return impl_->ctx.inputs_failed; }

}  // namespace credsift

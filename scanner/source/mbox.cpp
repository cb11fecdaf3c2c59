// mbox splitting, mboxrd unescaping and format sniffing. Hot paths search for two-byte pairs
// with SIMD (text::find_pair) so that splitting runs at memory speed; no per-byte std::string work.
#include "mbox.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "credsift/text.hpp"
#include "guarded_map.hpp"

namespace credsift {
namespace source_detail {
namespace {

bool is_field_name_char(unsigned char c) { return c > 32 && c < 127 && c != ':'; }

const char* find(std::string_view hay, size_t from, std::string_view needle) {
  const size_t hit = text::find_from(hay, from, needle);
  return hit == std::string_view::npos ? nullptr : hay.data() + hit;
}

}  // namespace

size_t bom_length(std::string_view buf) { return buf.starts_with("\xEF\xBB\xBF") ? 3 : 0; }

Decision header_line_at(std::string_view buf, size_t p, bool eof) {
  const size_t n = buf.size();
  size_t i = p;
  while (i < n && is_field_name_char(static_cast<unsigned char>(buf[i]))) {
    if (i - p >= kMaxFieldName) return Decision::No;
    ++i;
  }
  if (i == n) return eof ? Decision::No : Decision::NeedMore;
  if (i == p) return Decision::No;
  const size_t name_end = i;
  // Obsolete syntax (RFC 5322 4.5) allows whitespace before the colon.
  while (i < n && (buf[i] == ' ' || buf[i] == '\t')) {
    if (i - name_end >= kMaxFieldName) return Decision::No;
    ++i;
  }
  if (i == n) return eof ? Decision::No : Decision::NeedMore;
  return buf[i] == ':' ? Decision::Yes : Decision::No;
}

Decision from_line_at(std::string_view buf, size_t p, bool eof, size_t* header_start) {
  static constexpr std::string_view kFrom = "From ";
  const size_t n = buf.size();
  if (p > n) return Decision::No;
  const size_t avail = n - p;
  if (avail < kFrom.size()) {
    if (eof || buf.substr(p) != kFrom.substr(0, avail)) return Decision::No;
    return Decision::NeedMore;
  }
  if (buf.compare(p, kFrom.size(), kFrom) != 0) return Decision::No;
  const size_t limit = std::min(n, p + kMaxFromLine);
  const size_t scan_from = p + kFrom.size();
  const void* nl = memchr(buf.data() + scan_from, '\n', limit - scan_from);
  if (nl == nullptr) return (limit == n && !eof) ? Decision::NeedMore : Decision::No;
  const size_t h = static_cast<size_t>(static_cast<const char*>(nl) - buf.data()) + 1;
  const Decision d = header_line_at(buf, h, eof);
  if (d == Decision::Yes) *header_start = h;
  return d;
}

bool after_blank_line(std::string_view buf, size_t p, bool data_start) {
  if (p == 0) return data_start;
  if (buf[p - 1] != '\n') return false;
  size_t e = p - 1;  // end of the previous line's content
  if (e > 0 && buf[e - 1] == '\r') --e;
  if (e == 0) return data_start;
  return buf[e - 1] == '\n';
}

SepScan find_separator(std::string_view buf, size_t lo, bool data_start, bool eof) {
  static constexpr std::string_view kNeedle = "\nFrom ";
  const size_t n = buf.size();
  size_t i = lo == 0 ? 0 : lo - 1;  // a '\n' at i starts a line at i + 1 >= lo
  while (const char* hit = find(buf, i, kNeedle)) {
    const size_t c = static_cast<size_t>(hit - buf.data());
    const size_t p = c + 1;
    if (after_blank_line(buf, p, data_start)) {
      size_t hs = 0;
      switch (from_line_at(buf, p, eof, &hs)) {
        case Decision::Yes:
          return {Decision::Yes, p, hs, 0};
        case Decision::NeedMore:
          return {Decision::NeedMore, 0, 0, p};
        case Decision::No:
          break;
      }
    }
    i = p;
  }
  if (eof) return {Decision::No, 0, 0, 0};
  // A needle cut by the end of the buffer starts its line at n - 4 or later.
  return {Decision::NeedMore, 0, 0, std::max(lo, n >= 4 ? n - 4 : size_t{0})};
}

size_t separator_blank_length(std::string_view buf, size_t from_line) {
  return (from_line >= 2 && buf[from_line - 2] == '\r') ? 2 : 1;
}

size_t trim_final_blank(std::string_view buf, size_t begin, size_t end) {
  if (end - begin < 2 || buf[end - 1] != '\n') return end;
  size_t e = end - 1;
  if (e > begin && buf[e - 1] == '\r') --e;
  return (e > begin && buf[e - 1] == '\n') ? e : end;
}

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

bool has_escaped_from(std::string_view s) {
  size_t i = 0;
  while (const char* hit = find(s, i, ">From ")) {
    size_t j = static_cast<size_t>(hit - s.data());
    const size_t c = j;
    while (j > 0 && s[j - 1] == '>') --j;
    if (j == 0 || s[j - 1] == '\n') return true;
    i = c + 1;
  }
  return false;
}

std::optional<MboxPiece> next_mbox_piece(std::string_view buf, MboxCursor& cursor) {
  while (!cursor.done) {
    size_t hs = 0;
    bool garbage = false;
    if (!cursor.started) {
      cursor.started = true;
      const size_t start = bom_length(buf);
      if (from_line_at(buf, start, true, &hs) != Decision::Yes) {
        // No From_ line first: whatever precedes the first separator is a message of its own,
        // so that nothing is lost (blank leading lines are dropped below).
        hs = start;
        garbage = true;
      }
    } else {
      hs = cursor.next_header;
    }
    const SepScan s = find_separator(buf, hs, true, true);
    size_t end;
    if (s.kind == Decision::Yes) {
      end = std::max(hs, s.from_line - separator_blank_length(buf, s.from_line));
      cursor.next_header = s.header_start;
      cursor.consumed = s.from_line;
    } else {
      end = trim_final_blank(buf, hs, buf.size());
      cursor.done = true;
      cursor.consumed = buf.size();
    }
    const std::string_view piece = buf.substr(hs, end - hs);
    if (garbage && is_blank(piece)) continue;
    return MboxPiece{hs, piece, has_escaped_from(piece)};
  }
  return std::nullopt;
}

void prefault(std::string_view mapped) {
#if defined(MADV_POPULATE_READ)
  static const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(mapped.data()) / page * page;
  const auto end = reinterpret_cast<uintptr_t>(mapped.data()) + mapped.size();
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_READ);
#else
  (void)mapped;
#endif
}

namespace {

// Buffers of spans read by read_span_copy. A span is the pipeline's 2 MiB plus the rest of
// the message that crosses that mark; a larger one goes through the mapping.
constexpr size_t kSpanBufferBytes = 16 << 20;
// Free buffers kept for reuse (more than the spans one scan has between split and emit at
// once, in practice one or two per thread); any beyond are unmapped.
constexpr size_t kPooledBuffers = 8;

class SpanBufferPool {
 public:
  char* acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        char* buffer = free_.back();
        free_.pop_back();
        return buffer;
      }
    }
    void* buffer =
        mmap(nullptr, kSpanBufferBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buffer == MAP_FAILED) return nullptr;
#if defined(MADV_HUGEPAGE)
    // Huge pages: 8 TLB entries per span instead of 2048, and a first touch per 2 MiB.
    madvise(buffer, kSpanBufferBytes, MADV_HUGEPAGE);
#endif
    return static_cast<char*>(buffer);
  }

  void release(char* buffer) {
    {
      std::lock_guard lock(mutex_);
      if (free_.size() < kPooledBuffers) {
        free_.push_back(buffer);
        return;
      }
    }
    munmap(buffer, kSpanBufferBytes);
  }

 private:
  std::mutex mutex_;
  std::vector<char*> free_;
};

SpanBufferPool& span_buffer_pool() {
  // Never destroyed: a message may outlive static destruction order (its keepalive).
  static SpanBufferPool* pool = new SpanBufferPool;
  return *pool;
}

}  // namespace

std::optional<SpanCopy> read_span_copy(std::string_view mapped) {
  if (mapped.empty() || mapped.size() > kSpanBufferBytes) return std::nullopt;
  char* buffer = span_buffer_pool().acquire();
  if (buffer == nullptr) return std::nullopt;
  std::shared_ptr<const void> keepalive(buffer, [](const void* b) {
    span_buffer_pool().release(static_cast<char*>(const_cast<void*>(b)));
  });
  if (!read_mapped(mapped, buffer)) return std::nullopt;  // keepalive returns the buffer
  return SpanCopy{std::move(keepalive), std::string_view(buffer, mapped.size())};
}

}  // namespace source_detail

using namespace source_detail;

std::vector<MboxPiece> split_mbox(std::string_view buffer) {
  std::vector<MboxPiece> pieces;
  MboxCursor cursor;
  while (auto piece = next_mbox_piece(buffer, cursor)) pieces.push_back(*piece);
  return pieces;
}

std::string unescape_mboxrd(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t copied = 0;
  size_t i = 0;
  while (const char* hit = find(bytes, i, ">From ")) {
    const size_t c = static_cast<size_t>(hit - bytes.data());
    size_t j = c;
    while (j > 0 && bytes[j - 1] == '>') --j;
    if (j == 0 || bytes[j - 1] == '\n') {
      out.append(bytes.substr(copied, j - copied));
      copied = j + 1;  // drop one '>'
    }
    i = c + 1;
  }
  out.append(bytes.substr(copied));
  return out;
}

namespace {

// Header names that commonly open a message; a first line "Name: value" alone is too weak a
// signal (YAML, INI-ish notes), so one of these must appear in the leading header block.
bool is_mail_header(std::string_view name) {
  static constexpr std::array<std::string_view, 34> kNames = {"return-path",
                                                              "received",
                                                              "delivered-to",
                                                              "from",
                                                              "to",
                                                              "cc",
                                                              "bcc",
                                                              "subject",
                                                              "date",
                                                              "message-id",
                                                              "mime-version",
                                                              "content-type",
                                                              "reply-to",
                                                              "sender",
                                                              "in-reply-to",
                                                              "references",
                                                              "dkim-signature",
                                                              "arc-seal",
                                                              "authentication-results",
                                                              "received-spf",
                                                              "envelope-to",
                                                              "user-agent",
                                                              "thread-topic",
                                                              "thread-index",
                                                              "list-id",
                                                              "list-unsubscribe",
                                                              "precedence",
                                                              "importance",
                                                              "content-transfer-encoding",
                                                              "resent-from",
                                                              "resent-date",
                                                              "status",
                                                              "domainkey-signature",
                                                              "organization"};
  auto iequal = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return (x >= 'A' && x <= 'Z' ? x + 32 : x) == y;
           });
  };
  if (name.size() > 2 && (name[0] == 'X' || name[0] == 'x') && name[1] == '-') return true;
  return std::any_of(kNames.begin(), kNames.end(),
                     [&](std::string_view k) { return iequal(name, k); });
}

}  // namespace

InputFormat sniff_format(std::string_view head) {
  if (head.empty()) return InputFormat::Unknown;
  size_t p = bom_length(head);
  const size_t first = p;
  // mbox: "From " first, possibly after blank lines (some exporters lead with one).
  while (p < head.size() && (head[p] == '\n' || head[p] == '\r')) ++p;
  if (head.substr(p).starts_with("From ")) return InputFormat::Mbox;
  // eml: a header block that opens at the first byte and names a mail header.
  p = first;
  bool first_line = true;
  while (p < head.size()) {
    const size_t nl = head.find('\n', p);
    const size_t line_end = nl == std::string_view::npos ? head.size() : nl;
    std::string_view line = head.substr(p, line_end - p);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header block
    if (line[0] == ' ' || line[0] == '\t') {
      if (first_line) return InputFormat::Unknown;  // continuation before any field
    } else {
      if (header_line_at(line, 0, true) != Decision::Yes) break;
      std::string_view name = line.substr(0, line.find(':'));
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      if (is_mail_header(name)) return InputFormat::Eml;
    }
    first_line = false;
    if (nl == std::string_view::npos) break;
    p = nl + 1;
  }
  // Binary data behind a real header block is still mail (a garbage body); without one it is not.
  if (memchr(head.data(), '\0', head.size()) != nullptr) return InputFormat::Unknown;
  // An mbox with something before its first From_ line (an exporter's banner, a stray line):
  // split_mbox keeps that text as a message of its own, so nothing is lost.
  if (find_separator(head, 1, true, true).kind == Decision::Yes) return InputFormat::Mbox;
  return InputFormat::Unknown;
}

}  // namespace credsift

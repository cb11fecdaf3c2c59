// Zero-copy MIME structure parser: headers, parameters, multipart splitting, part walk.
// The walk uses an explicit stack: nesting depth is input-controlled, recursion would not be.
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../extract/extract_internal.hpp"
#include "credsift/mime.hpp"
#include "credsift/text.hpp"
#include "mime_internal.hpp"

namespace credsift {
namespace mime_detail {

void add_problem(std::vector<DecodeProblem>& problems, uint64_t offset, std::string what) {
  // A hostile message could otherwise produce one problem per line.
  if (problems.size() >= 1000) return;
  problems.push_back({offset, std::move(what)});
}

}  // namespace mime_detail

// Every limit's message says "<what> limit N ... reached" or names the ratio or the header
// block; the wording is the contract (tests/unit/mime_rfc2045_test.cpp holds it).
bool is_limit_problem(const DecodeProblem& problem) {
  const std::string& what = problem.what;
  return (what.find(" limit ") != std::string::npos &&
          what.find(" reached") != std::string::npos) ||
         what.find("decompression ratio") != std::string::npos ||
         what.find("inflates beyond") != std::string::npos ||
         what.find("header block exceeds") != std::string::npos;
}

using namespace mime_detail;

namespace {

constexpr size_t npos = std::string_view::npos;

// The fields the decoder looks up, recognised once while the block is parsed (by length first,
// so that most names cost one comparison) instead of one scan of all fields per lookup.
enum class Known : uint8_t {
  Other,
  ContentType,
  ContentDisposition,
  ContentTransferEncoding,
  MessageId,
  Date,
  From,
  To,
  Cc,
  Subject
};

struct Field {
  std::string_view name;
  std::string_view value;  // raw, may contain folding line breaks
  bool folded = false;     // a continuation line was joined: value holds a line break
  Known kind = Known::Other;
};

Known known_field(std::string_view name) {
  switch (name.size()) {
    case 2:
      return iequals(name, "To") ? Known::To : iequals(name, "Cc") ? Known::Cc : Known::Other;
    case 4:
      return iequals(name, "Date")   ? Known::Date
             : iequals(name, "From") ? Known::From
                                     : Known::Other;
    case 7:
      return iequals(name, "Subject") ? Known::Subject : Known::Other;
    case 10:
      return iequals(name, "Message-ID") ? Known::MessageId : Known::Other;
    case 12:
      return iequals(name, "Content-Type") ? Known::ContentType : Known::Other;
    case 19:
      return iequals(name, "Content-Disposition") ? Known::ContentDisposition : Known::Other;
    case 25:
      return iequals(name, "Content-Transfer-Encoding") ? Known::ContentTransferEncoding
                                                        : Known::Other;
    default:
      return Known::Other;
  }
}

struct HeaderBlock {
  std::vector<Field> fields;
  // First field of each MIME kind, or -1: content_info reads these three.
  int content_type = -1, content_disposition = -1, content_transfer_encoding = -1;
  std::vector<std::string_view> malformed;  // lines that are neither fields nor folding
  std::string_view body;
  bool no_headers = false;  // the first line is not a header: everything is body
};

// Problem offsets are relative to the raw message; entities decoded into storage report the
// offset of the part they came from.
struct Locator {
  const char* base;
  size_t size;
  uint64_t fallback;
  uint64_t at(const char* p) const {
    auto b = reinterpret_cast<uintptr_t>(base), q = reinterpret_cast<uintptr_t>(p);
    return (base && q >= b && q <= b + size) ? uint64_t(q - b) : fallback;
  }
};

inline bool is_name_char(char c) { return c > 32 && c < 127 && c != ':'; }

// Returns the index of the colon after the field name (whose length goes to *name_length), or
// npos when the line is no field.
size_t field_colon(std::string_view line, size_t* name_length) {
  size_t i = 0;
  while (i < line.size() && is_name_char(line[i])) ++i;
  if (i == 0) return npos;
  *name_length = i;
  while (i < line.size() && is_wsp(line[i])) ++i;
  if (i >= line.size() || line[i] != ':') return npos;
  return i;
}

// The line breaks of a text, 64 bytes at a time: a header block is mostly short lines, and one
// memchr call per line (its set-up dominates on 40 bytes) was half of parse_headers.
class LineBreaks {
 public:
  explicit LineBreaks(std::string_view text) : data_(text.data()), size_(text.size()) {}

  // The first '\n' at or after `from`, or npos.
  size_t next(size_t from) {
    while (from < size_) {
      const size_t chunk = from & ~size_t{63};
      if (chunk != chunk_) load(chunk);
      const uint64_t bits = mask_ & (~uint64_t{0} << (from - chunk));
      if (bits != 0) return chunk + size_t(__builtin_ctzll(bits));
      from = chunk + 64;
    }
    return npos;
  }

 private:
  void load(size_t chunk) {
    chunk_ = chunk;
    mask_ = 0;
    const char* p = data_ + chunk;
#if defined(__SSE2__)
    if (chunk + 64 <= size_) {
      const __m128i lf = _mm_set1_epi8('\n');
      for (int k = 0; k < 4; ++k) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
        mask_ |= uint64_t(uint32_t(_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf)))) << (16 * k);
      }
      return;
    }
#endif
    const size_t n = std::min<size_t>(64, size_ - chunk);
    for (size_t k = 0; k < n; ++k)
      if (p[k] == '\n') mask_ |= uint64_t{1} << k;
  }

  const char* data_;
  size_t size_;
  size_t chunk_ = npos;
  uint64_t mask_ = 0;
};

HeaderBlock parse_headers(std::string_view e, bool top, const DecodeLimits& limits,
                          const Locator& loc, std::vector<DecodeProblem>& problems) {
  HeaderBlock hb;
  hb.fields.reserve(32);  // one allocation for a typical block instead of six doublings
  const size_t n = e.size();
  size_t pos = 0;
  bool first = true;
  bool last_is_field = false;
  // The block ends at the limit: the rest of its fields are ignored and the body starts after
  // the next blank line.
  auto end_block = [&](size_t at, size_t search_from) {
    add_problem(problems, loc.at(e.data() + at),
                "header block exceeds " + std::to_string(limits.max_header_bytes) +
                    " bytes; remaining fields ignored");
    const size_t a = text::find_from(e, search_from, "\n\n");
    const size_t b = text::find_from(e, search_from, "\n\r\n");
    const size_t end = std::min(a, b);
    hb.body = end == npos ? std::string_view() : e.substr(end + (end == a ? 2 : 3));
  };
  LineBreaks breaks(e);
  while (pos < n) {
    const size_t lf = breaks.next(pos);
    size_t line_end = lf != npos ? lf : n;
    size_t next = lf != npos ? line_end + 1 : n;
    size_t content_end = line_end;
    if (content_end > pos && e[content_end - 1] == '\r') --content_end;
    // A line that crosses the limit is cut there and ends the block: a 200 MB header line was
    // copied into the headers segment and again into its split lines (1.46 GB peak).
    const bool cut = content_end > limits.max_header_bytes;
    if (cut) content_end = std::max(pos, size_t(limits.max_header_bytes));
    std::string_view line = e.substr(pos, content_end - pos);
    if (pos > limits.max_header_bytes || (cut && line.empty())) {
      end_block(pos, pos);
      return hb;
    }
    if (line.empty()) {
      hb.body = e.substr(next);
      return hb;
    }
    if (first && top && line.substr(0, 5) == "From " && next < n) {
      // An mbox separator the source left in place: not part of the message.
      add_problem(problems, loc.at(e.data() + pos), "mbox 'From ' line before the headers skipped");
      pos = next;
      continue;
    }
    if (is_wsp(line[0])) {
      if (last_is_field) {
        Field& f = hb.fields.back();
        f.value = std::string_view(f.value.data(), size_t(e.data() + content_end - f.value.data()));
        f.folded = true;
      } else if (first) {
        hb.no_headers = true;
        hb.body = e;
        return hb;
      } else if (!hb.malformed.empty()) {
        hb.malformed.push_back(line);
      }
    } else if (size_t name_length = 0, colon = field_colon(line, &name_length); colon != npos) {
      const std::string_view name = line.substr(0, name_length);
      const Known kind = known_field(name);
      const int index = int(hb.fields.size());
      if (kind == Known::ContentType && hb.content_type < 0) hb.content_type = index;
      if (kind == Known::ContentDisposition && hb.content_disposition < 0)
        hb.content_disposition = index;
      if (kind == Known::ContentTransferEncoding && hb.content_transfer_encoding < 0)
        hb.content_transfer_encoding = index;
      hb.fields.push_back({name, line.substr(colon + 1), false, kind});
      last_is_field = true;
    } else if (first) {
      hb.no_headers = true;
      hb.body = e;
      return hb;
    } else {
      add_problem(problems, loc.at(line.data()), "header line without a colon");
      hb.malformed.push_back(line);
      last_is_field = false;
    }
    if (cut) {
      end_block(pos, content_end);
      return hb;
    }
    first = false;
    pos = next;
  }
  hb.body = e.substr(n);
  return hb;
}

// Appends v without its CR and LF bytes (the line breaks of folding), a run at a time.
void append_unfolded(std::string_view v, std::string& out) {
  size_t from = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '\r' && v[i] != '\n') continue;
    out.append(v.data() + from, i - from);
    from = i + 1;
  }
  out.append(v.data() + from, v.size() - from);
}

// Unfolds a raw field value (removes the line breaks of folding) and trims it.
std::string_view unfold(std::string_view v, std::string& tmp) {
  v = trim(v);
  if (std::memchr(v.data(), '\n', v.size()) == nullptr) return v;
  tmp.clear();
  tmp.reserve(v.size());
  append_unfolded(v, tmp);
  return tmp;
}

// Appends a field value as the headers segment shows it: unfolded, trimmed, RFC 2047 words
// decoded, UTF-8. Values without encoded words (nearly all) go straight into `out`.
void append_header_value(std::string_view raw, std::string& out, std::string& tmp) {
  std::string_view v = trim(raw);
  const bool folded = std::memchr(v.data(), '\n', v.size()) != nullptr;
  if (v.find("=?") != npos) {
    out.append(decode_rfc2047(folded ? unfold(v, tmp) : v));
    return;
  }
  if (folded) {
    tmp.clear();
    append_unfolded(v, tmp);
    v = tmp;
  }
  // What decode_rfc2047 does with plain text: UTF-8 kept, other bytes read as windows-1252.
  if (is_valid_utf8(v)) {
    out.append(v);
    return;
  }
  std::string converted;
  out.append(to_utf8_view(v, "", &converted, nullptr));
}

// Bytes that keep a header value off the plain path: 8-bit bytes (a charset to check), "=?"
// (RFC 2047 words) and a CR that is no CRLF. Found over a whole block in one pass, each next
// one only when asked, since the fields are asked about in order.
class NonPlainBytes {
 public:
  explicit NonPlainBytes(std::string_view block) : block_(block) {}

  // Whether [begin, end) of the block holds none of them.
  bool plain(const char* begin, const char* end) {
    const size_t from = size_t(begin - block_.data());
    if (from < from_ || (found_ != npos && found_ < from)) {
      from_ = from;
      found_ = scan(from);
    }
    return found_ == npos || found_ >= size_t(end - block_.data());
  }

 private:
  size_t scan(size_t i) const {
    const char* d = block_.data();
    const size_t n = block_.size();
#if defined(__SSE2__)
    const __m128i equals = _mm_set1_epi8('='), question = _mm_set1_epi8('?');
    const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
    for (; i + 17 <= n; i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i));
      const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i + 1));
      const __m128i word = _mm_and_si128(_mm_cmpeq_epi8(v, equals), _mm_cmpeq_epi8(w, question));
      const __m128i bare_cr = _mm_andnot_si128(_mm_cmpeq_epi8(w, lf), _mm_cmpeq_epi8(v, cr));
      const unsigned mask =
          unsigned(_mm_movemask_epi8(v)) | unsigned(_mm_movemask_epi8(_mm_or_si128(word, bare_cr)));
      if (mask != 0) return i + size_t(__builtin_ctz(mask));
    }
#endif
    for (; i < n; ++i) {
      const unsigned char c = static_cast<unsigned char>(d[i]);
      const bool last = i + 1 == n;
      if (c >= 0x80 || (c == '=' && !last && d[i + 1] == '?') ||
          (c == '\r' && (last || d[i + 1] != '\n')))
        return i;
    }
    return npos;
  }

  std::string_view block_;
  size_t from_ = npos;
  size_t found_ = npos;
};

// append_header_value for a value of plain bytes (see NonPlainBytes): no decoding to do, only
// the line breaks of folding to drop, a line at a time.
void append_plain_value(const Field& f, std::string& out) {
  const std::string_view v = trim(f.value);
  if (!f.folded) {
    out.append(v);
    return;
  }
  size_t from = 0;
  while (const void* lf = std::memchr(v.data() + from, '\n', v.size() - from)) {
    size_t end = size_t(static_cast<const char*>(lf) - v.data());
    const size_t next = end + 1;
    if (end > from && v[end - 1] == '\r') --end;
    out.append(v.data() + from, end - from);
    from = next;
  }
  out.append(v.data() + from, v.size() - from);
}

const Field* find_field(const HeaderBlock& hb, int index) {
  return index < 0 ? nullptr : &hb.fields[size_t(index)];
}

struct ParamPiece {
  int index;  // -1 when there are no continuations
  bool encoded;
  std::string value;
};

struct WantedParam {
  explicit WantedParam(std::string_view n) : name(n) {}
  WantedParam(const WantedParam&) = delete;  // `plain` may point into `plain_storage`
  WantedParam& operator=(const WantedParam&) = delete;
  std::string_view name;
  // The value: a view of the parsed text when it is a plain slice of it (nearly always), else
  // of plain_storage (quoted-pair escapes or line breaks removed).
  std::string_view plain;
  std::string plain_storage;
  bool has_plain = false;
  std::vector<ParamPiece> pieces;  // RFC 2231
};

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(char(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string finish_param(WantedParam& w) {
  if (!w.pieces.empty()) {
    std::stable_sort(w.pieces.begin(), w.pieces.end(),
                     [](const ParamPiece& a, const ParamPiece& b) { return a.index < b.index; });
    std::string charset;
    std::string bytes;
    bool first = true;
    for (ParamPiece& p : w.pieces) {
      std::string_view v = p.value;
      if (p.encoded && first) {
        // charset'language'value
        size_t q1 = v.find('\'');
        size_t q2 = q1 == npos ? npos : v.find('\'', q1 + 1);
        if (q2 != npos) {
          charset = std::string(v.substr(0, q1));
          v = v.substr(q2 + 1);
        }
      }
      first = false;
      if (p.encoded)
        bytes += percent_decode(v);
      else
        bytes.append(v);
    }
    return to_utf8(bytes, charset);
  }
  if (!w.has_plain) return {};
  // Many mailers put RFC 2047 words in parameters although the RFC forbids it.
  if (w.plain.find("=?") != npos) return decode_rfc2047(w.plain);
  return to_utf8(w.plain, "");
}

// Parses "; a=b; c="d"" from s, collecting only the wanted parameter names (linear).
void parse_params(std::string_view s, WantedParam* wanted, size_t nwanted) {
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    while (i < n && (is_space(s[i]) || s[i] == ';')) ++i;
    if (i >= n) break;
    size_t name_start = i;
    while (i < n && s[i] != '=' && s[i] != ';' && !is_space(s[i])) ++i;
    std::string_view name = s.substr(name_start, i - name_start);
    while (i < n && is_space(s[i])) ++i;
    if (i >= n || s[i] != '=') {
      while (i < n && s[i] != ';') ++i;
      continue;
    }
    ++i;
    while (i < n && is_space(s[i])) ++i;
    // The value as a view of `s` when nothing is to be dropped from it (the common case: no
    // allocation), else copied into `value` without its escapes and line breaks.
    std::string_view value_view;
    std::string value;
    bool copied = false;
    if (i < n && s[i] == '"') {
      ++i;
      const size_t vs = i;
      while (i < n && s[i] != '"' && s[i] != '\\' && s[i] != '\r' && s[i] != '\n') ++i;
      value_view = s.substr(vs, i - vs);
      if (i < n && s[i] != '"') {
        copied = true;
        value.assign(value_view);
        while (i < n && s[i] != '"') {
          if (s[i] == '\\' && i + 1 < n) ++i;
          if (s[i] != '\r' && s[i] != '\n') value.push_back(s[i]);
          ++i;
        }
      }
      if (i < n) ++i;
      while (i < n && s[i] != ';') ++i;
    } else {
      size_t vs = i;
      while (i < n && s[i] != ';') ++i;
      value_view = trim(s.substr(vs, i - vs));
      if (value_view.find_first_of("\r\n") != npos) {
        copied = true;
        for (char c : value_view)
          if (c != '\r' && c != '\n') value.push_back(c);
      }
    }
    // name, name*, name*N, name*N*
    std::string_view base = name;
    int index = -1;
    bool encoded = false;
    bool extended = false;
    if (size_t star = name.find('*'); star != npos) {
      extended = true;
      base = name.substr(0, star);
      std::string_view rest = name.substr(star + 1);
      if (!rest.empty() && rest.back() == '*') {
        encoded = true;
        rest.remove_suffix(1);
      } else if (rest.empty()) {
        encoded = true;  // name*=charset'lang'value
      }
      if (!rest.empty()) {
        if (rest.size() > 1 && rest.back() == '*') rest.remove_suffix(1);
        index = 0;
        for (char c : rest) {
          if (c < '0' || c > '9' || index > 100000) {
            index = -2;
            break;
          }
          index = index * 10 + (c - '0');
        }
        if (index == -2) continue;
      }
    }
    for (size_t k = 0; k < nwanted; ++k) {
      if (!iequals(base, wanted[k].name)) continue;
      if (extended) {
        if (wanted[k].pieces.size() < 10000)
          wanted[k].pieces.push_back(
              {index, encoded, copied ? std::move(value) : std::string(value_view)});
      } else if (!wanted[k].has_plain) {
        if (copied) {
          wanted[k].plain_storage = std::move(value);
          wanted[k].plain = wanted[k].plain_storage;
        } else {
          wanted[k].plain = value_view;
        }
        wanted[k].has_plain = true;
      }
      break;
    }
  }
}

struct ContentInfo {
  std::string type = "text/plain";  // lower-case type/subtype
  std::string charset;
  std::string boundary;
  std::string name;      // Content-Type name
  std::string filename;  // Content-Disposition filename, else name
  bool attachment = false;
  bool flowed = false;  // RFC 3676 format=flowed
  bool delsp = false;
  enum Cte { Identity, Base64, QuotedPrintable } cte = Identity;
};

ContentInfo content_info(const HeaderBlock& hb, bool digest_child) {
  ContentInfo ci;
  if (digest_child) ci.type = "message/rfc822";
  std::string tmp;
  if (const Field* f = find_field(hb, hb.content_type)) {
    std::string_view v = unfold(f->value, tmp);
    size_t semi = v.find(';');
    std::string_view t = trim(v.substr(0, semi));
    // Drop a trailing comment such as "text/plain (generated)".
    if (size_t paren = t.find('('); paren != npos) t = trim(t.substr(0, paren));
    size_t slash = t.find('/');
    if (slash != npos && slash > 0 && slash + 1 < t.size()) {
      std::string_view ty = trim(t.substr(0, slash)), sub = trim(t.substr(slash + 1));
      // "TEXT/PLAIN charset=US-ASCII" (the ';' forgotten): the subtype ends at whitespace.
      sub = sub.substr(0, sub.find_first_of(" \t\r\n"));
      if (!ty.empty() && !sub.empty() && ty.find(' ') == npos) {
        // Built in place, lower-cased at once: one allocation at most (none up to 15 bytes).
        ci.type.assign(ty);
        ci.type += '/';
        ci.type += sub;
        for (char& c : ci.type) c = ascii_lower(c);
      }
    }
    if (semi != npos) {
      WantedParam w[5] = {WantedParam("charset"), WantedParam("boundary"), WantedParam("name"),
                          WantedParam("format"), WantedParam("delsp")};
      parse_params(v.substr(semi + 1), w, 5);
      ci.flowed = iequals(trim(w[3].plain), "flowed");
      ci.delsp = iequals(trim(w[4].plain), "yes");
      ci.charset = finish_param(w[0]);
      // The boundary is compared byte for byte: keep it raw.
      if (w[1].has_plain) ci.boundary = w[1].plain;
      ci.name = finish_param(w[2]);
    }
  }
  if (const Field* f = find_field(hb, hb.content_disposition)) {
    std::string_view v = unfold(f->value, tmp);
    size_t semi = v.find(';');
    ci.attachment = iequals(trim(v.substr(0, semi)), "attachment");
    if (semi != npos) {
      WantedParam w[1] = {WantedParam("filename")};
      parse_params(v.substr(semi + 1), w, 1);
      ci.filename = finish_param(w[0]);
    }
  }
  if (ci.filename.empty()) ci.filename = ci.name;
  if (const Field* f = find_field(hb, hb.content_transfer_encoding)) {
    std::string_view v = unfold(f->value, tmp);
    if (size_t paren = v.find('('); paren != npos) v = trim(v.substr(0, paren));
    if (iequals(v, "base64"))
      ci.cte = ContentInfo::Base64;
    else if (iequals(v, "quoted-printable"))
      ci.cte = ContentInfo::QuotedPrintable;
  }
  return ci;
}

struct Split {
  std::vector<std::string_view> parts;
  bool closed = false;
};

// Splits a multipart body at delimiter lines ("--boundary" at line start, optional trailing
// whitespace; "--boundary--" closes). The line break before a delimiter belongs to it.
Split split_multipart(std::string_view body, std::string_view boundary, size_t max_parts) {
  Split sp;
  const size_t n = body.size();
  const size_t blen = boundary.size();
  size_t part_start = npos;
  size_t pos = 0;  // start of a candidate line
  bool at_start = true;
  while (pos < n) {
    size_t cand;
    if (at_start) {
      cand = 0;
      at_start = false;
    } else {
      size_t f = text::find_from(body, pos == 0 ? 0 : pos - 1, "\n--");
      if (f == npos) break;
      cand = f + 1;
    }
    const void* nlp = std::memchr(body.data() + cand, '\n', n - cand);
    size_t line_end = nlp ? size_t(static_cast<const char*>(nlp) - body.data()) : n;
    size_t next = nlp ? line_end + 1 : n;
    std::string_view line = body.substr(cand, line_end - cand);
    bool is_delim = false, closing = false;
    if (line.size() >= 2 + blen && line[0] == '-' && line[1] == '-' &&
        line.substr(2, blen) == boundary) {
      std::string_view rest = line.substr(2 + blen);
      if (rest.size() >= 2 && rest[0] == '-' && rest[1] == '-') {
        closing = true;
        rest.remove_prefix(2);
      }
      is_delim = true;
      for (char c : rest)
        if (!is_space(c)) {
          is_delim = false;
          break;
        }
    }
    if (is_delim) {
      if (part_start != npos) {
        size_t end = cand;
        if (end > part_start && body[end - 1] == '\n') --end;
        if (end > part_start && body[end - 1] == '\r') --end;
        if (sp.parts.size() < max_parts)
          sp.parts.push_back(body.substr(part_start, end - part_start));
      }
      if (closing) {
        sp.closed = true;
        return sp;
      }
      part_start = next;
    }
    pos = next;
    if (next >= n) break;
  }
  if (part_start != npos && sp.parts.size() < max_parts)
    sp.parts.push_back(body.substr(std::min(part_start, n)));
  return sp;
}

struct WorkItem {
  std::string_view data;  // the entity: headers + body
  Locator loc;
  std::string leaf_path;     // path of this entity when it is a leaf
  std::string child_prefix;  // prefix of its children when it is a multipart
  std::string headers_path;  // non-empty for messages: "headers", "2:headers"
  size_t depth = 0;
  bool top = false;
  bool digest_child = false;
};

std::string join_path(const std::string& prefix, size_t i) {
  return prefix.empty() ? std::to_string(i) : prefix + "." + std::to_string(i);
}

struct LeafInfo {
  std::string_view path;
  const ContentInfo& ci;
  std::string_view body;  // before transfer decoding
  uint64_t offset;
};

// Walks the MIME tree in document order without recursion.
template <class OnHeaders, class OnLeaf>
void walk(std::string_view raw, const DecodeLimits& limits, std::vector<DecodeProblem>& problems,
          std::vector<std::unique_ptr<std::string>>& storage, size_t& parts, bool& parts_reported,
          OnHeaders&& on_headers, OnLeaf&& on_leaf) {
  std::vector<WorkItem> stack;
  Locator raw_loc{raw.data(), raw.size(), 0};
  stack.push_back({raw, raw_loc, "1", "", "headers", 0, true, false});
  bool depth_reported = false;
  while (!stack.empty()) {
    WorkItem item = std::move(stack.back());
    stack.pop_back();
    HeaderBlock hb = parse_headers(item.data, item.top, limits, item.loc, problems);
    uint64_t item_offset = item.loc.at(item.data.data());
    if (hb.no_headers && item.top)
      add_problem(problems, item_offset, "first line is not a header; whole message read as text");
    if (!item.headers_path.empty()) on_headers(item.headers_path, hb, item.top);
    ContentInfo ci = content_info(hb, item.digest_child);
    uint64_t body_offset = item.loc.at(hb.body.data());
    bool multipart = ci.type.starts_with("multipart/");
    bool message =
        ci.type == "message/rfc822" || ci.type == "message/news" || ci.type == "message/global";
    if ((multipart || message) && item.depth >= limits.max_depth) {
      if (!depth_reported)
        add_problem(problems, body_offset,
                    "nesting depth limit " + std::to_string(limits.max_depth) +
                        " reached; deeper content read as text");
      depth_reported = true;
      ci.type = "text/plain";
      multipart = message = false;
    }
    if (multipart) {
      if (ci.boundary.empty()) {
        add_problem(problems, body_offset, "multipart without boundary; read as text");
        ci.type = "text/plain";
      } else {
        Split sp = split_multipart(hb.body, ci.boundary, limits.max_parts + 1);
        if (sp.parts.empty()) {
          add_problem(problems, body_offset, "multipart without any part; read as text");
          ci.type = "text/plain";
        } else {
          if (!sp.closed)
            add_problem(problems, item.loc.at(hb.body.data() + hb.body.size()),
                        "multipart closing boundary missing");
          bool digest = ci.type == "multipart/digest";
          size_t first_new = stack.size();
          for (size_t i = 0; i < sp.parts.size(); ++i) {
            if (parts >= limits.max_parts) {
              if (!parts_reported)
                add_problem(problems, item.loc.at(sp.parts[i].data()),
                            "part limit " + std::to_string(limits.max_parts) +
                                " reached; remaining parts skipped");
              parts_reported = true;
              break;
            }
            ++parts;
            std::string p = join_path(item.child_prefix, i + 1);
            stack.push_back({sp.parts[i], item.loc, p, p, "", item.depth + 1, false, digest});
          }
          std::reverse(stack.begin() + first_new, stack.end());
          continue;
        }
      }
    }
    if (message) {
      std::string_view inner = hb.body;
      Locator loc = item.loc;
      if (ci.cte != ContentInfo::Identity) {
        // Encoded message/rfc822 is illegal but sent; parse the decoded bytes.
        auto s = std::make_unique<std::string>(ci.cte == ContentInfo::Base64
                                                   ? decode_base64(hb.body)
                                                   : decode_quoted_printable(hb.body));
        inner = *s;
        storage.push_back(std::move(s));
        loc = Locator{nullptr, 0, body_offset};
      }
      const std::string& q = item.leaf_path;
      stack.push_back({inner, loc, q + ".1", q, q + ":headers", item.depth + 1, false, false});
      continue;
    }
    on_leaf(LeafInfo{item.leaf_path, ci, hb.body, body_offset});
  }
}

bool has_text_extension(std::string_view filename) {
  static constexpr std::string_view kExt[] = {
      ".env",    ".json",   ".yaml", ".yml",  ".conf", ".cfg",   ".ini",    ".properties",
      ".txt",    ".csv",    ".xml",  ".ps1",  ".sh",   ".toml",  ".pem",    ".key",
      ".config", ".htm",    ".html", ".log",  ".bash", ".zsh",   ".py",     ".js",
      ".ts",     ".rb",     ".php",  ".sql",  ".md",   ".tf",    ".tfvars", ".netrc",
      ".npmrc",  ".pgpass", ".crt",  ".cer",  ".pub",  ".asc",   ".bat",    ".cmd",
      ".gradle", ".go",     ".java", ".cs",   ".kt",   ".swift", ".rs",     ".c",
      ".cpp",    ".h",      ".hpp",  ".ovpn", ".rdp",  ".kube",  ".cnf",    ".dockerfile"};
  for (auto e : kExt)
    if (iends_with(filename, e)) return true;
  // Dot-files such as ".env.production" or ".npmrc" carry secrets by design.
  return istarts_with(filename, ".env") || iequals(filename, "dockerfile") ||
         iequals(filename, "credentials") || iequals(filename, "id_rsa") ||
         iequals(filename, "id_ed25519") || iequals(filename, "id_ecdsa");
}

bool is_textual(const ContentInfo& ci) {
  std::string_view t = ci.type;
  if (t == "text/rtf") return false;  // RTF is read by the extract stage (rtf.cpp)
  if (t.starts_with("text/")) return true;
  static constexpr std::string_view kTypes[] = {
      "application/json",       "application/xml",          "application/yaml",
      "application/x-yaml",     "application/x-sh",         "application/x-shellscript",
      "application/javascript", "application/x-javascript", "application/toml",
      "application/x-pem-file", "application/pgp-keys",     "application/x-httpd-php",
      "application/sql",        "application/x-python",     "application/ld+json"};
  for (auto k : kTypes)
    if (t == k) return true;
  if (t.ends_with("+xml") || t.ends_with("+json") || t.ends_with("+yaml")) return true;
  return has_text_extension(ci.filename);
}

bool is_html(const ContentInfo& ci) {
  return ci.type == "text/html" || ci.type == "application/xhtml+xml" ||
         (!ci.type.starts_with("text/") &&
          (iends_with(ci.filename, ".html") || iends_with(ci.filename, ".htm")));
}

// Transfer decoding: a view when nothing needs decoding, else a view into *storage.
std::string_view transfer_decode(const LeafInfo& leaf, std::string* storage,
                                 std::vector<DecodeProblem>& problems) {
  switch (leaf.ci.cte) {
    case ContentInfo::Base64: {
      bool err = false;
      *storage = decode_base64(leaf.body, &err);
      if (err) add_problem(problems, leaf.offset, "base64 body truncated or garbled");
      return *storage;
    }
    case ContentInfo::QuotedPrintable:
      *storage = decode_quoted_printable(leaf.body);
      return *storage;
    case ContentInfo::Identity:
      break;
  }
  return leaf.body;
}

}  // namespace

namespace mime_detail {

void decode_into(std::string_view raw, DecodeContext& ctx, DecodedMessage& dm,
                 size_t archive_depth) {
  const DecodeLimits& limits = ctx.limits;
  auto keep = [&](std::string&& s) -> std::string_view {
    dm.storage.push_back(std::make_unique<std::string>(std::move(s)));
    return *dm.storage.back();
  };
  auto on_headers = [&](const std::string& path, const HeaderBlock& hb, bool top) {
    if (hb.fields.empty() && hb.malformed.empty()) return;
    // One pass, one allocation: each value is decoded straight into the segment's text.
    size_t estimate = 0;
    for (const Field& f : hb.fields) estimate += f.name.size() + f.value.size() + 3;
    for (std::string_view m : hb.malformed) estimate += m.size() + 1;
    std::string text;
    text.reserve(estimate);
    std::string tmp;
    NonPlainBytes non_plain(hb.fields.empty()
                                ? std::string_view()
                                : std::string_view(hb.fields.front().name.data(),
                                                   size_t(hb.fields.back().value.data() +
                                                          hb.fields.back().value.size() -
                                                          hb.fields.front().name.data())));
    for (size_t i = 0; i < hb.fields.size(); ++i) {
      const Field& f = hb.fields[i];
      text.append(f.name);
      text.append(": ");
      const size_t value_start = text.size();
      if (non_plain.plain(f.value.data(), f.value.data() + f.value.size()))
        append_plain_value(f, text);
      else
        append_header_value(f.value, text, tmp);
      if (top && f.kind != Known::Other) {
        Envelope& e = dm.envelope;
        std::string* slot = nullptr;
        switch (f.kind) {
          case Known::MessageId:
            slot = &e.message_id;
            break;
          case Known::Date:
            slot = &e.date;
            break;
          case Known::From:
            slot = &e.from;
            break;
          case Known::To:
            slot = &e.to;
            break;
          case Known::Cc:
            slot = &e.cc;
            break;
          case Known::Subject:
            slot = &e.subject;
            break;
          default:
            break;
        }
        if (slot && slot->empty()) slot->assign(text, value_start, std::string::npos);
      }
      text.push_back('\n');
    }
    for (std::string_view m : hb.malformed) {
      text.append(to_utf8(m, ""));
      text.push_back('\n');
    }
    dm.segments.push_back({keep(std::move(text)), path, SegmentKind::Headers});
  };
  auto on_leaf = [&](const LeafInfo& leaf) {
    const ContentInfo& ci = leaf.ci;
    bool attachment = ci.attachment || !ci.filename.empty();
    if (!ci.filename.empty())
      dm.segments.push_back({keep(std::string(ci.filename)), std::string(leaf.path) + ":filename",
                             SegmentKind::AttachmentName});
    std::string path(leaf.path);
    if (attachment) path += ci.filename.empty() ? ":attachment" : ":attachment=" + ci.filename;
    bool textual = is_textual(ci);
    // Binary attachments may be archives, documents or credential files: decode them by content.
    if (!textual && (attachment || !ci.type.starts_with("multipart/"))) {
      std::string decoded;
      std::string_view bytes = transfer_decode(leaf, &decoded, dm.problems);
      if (bytes.data() == decoded.data() && !decoded.empty()) bytes = keep(std::move(decoded));
      if (!attachment && is_rtf(bytes))  // an RTF body (Outlook's, or a PST's text/rtf part)
        decode_rtf(bytes, path, leaf.offset, SegmentKind::Body, ctx, dm);
      else
        decode_blob(bytes, ci.filename, path, leaf.offset, archive_depth, ctx, dm);
      return;
    }
    std::string decoded;
    std::string_view bytes = transfer_decode(leaf, &decoded, dm.problems);
    if (attachment) emit_credential_file(bytes, path, dm);
    std::string converted;
    bool unknown = false;
    std::string_view text;
    if (utf16_with_bom(bytes)) {
      converted = to_utf8(bytes, "UTF-16");
      text = converted;
    } else {
      text = to_utf8_view(bytes, ci.charset, &converted, &unknown);
    }
    if (unknown)
      add_problem(dm.problems, leaf.offset,
                  "unknown charset '" + to_utf8(ci.charset.substr(0, 64), "") + "'");
    if (is_html(ci)) {
      text = keep(html_to_text(text));
    } else if (ci.flowed) {
      text = keep(join_flowed(text, ci.delsp));
    } else if (text.data() == converted.data() && !converted.empty()) {
      text = keep(std::move(converted));
    } else if (text.data() == decoded.data() && !decoded.empty()) {
      text = keep(std::move(decoded));
    }
    if (text.empty()) return;
    dm.segments.push_back(
        {text, path, attachment ? SegmentKind::AttachmentContent : SegmentKind::Body});
    decode_uuencoded_blocks(text, path, leaf.offset, archive_depth, ctx, dm);
  };
  walk(raw, limits, dm.problems, dm.storage, ctx.parts, ctx.parts_reported, on_headers, on_leaf);
}

}  // namespace mime_detail

namespace {

// Lines longer than the limit are cut into pieces of that length so that matching stays bounded.
void split_long_lines(DecodedMessage& dm, size_t max_line) {
  if (max_line == 0) return;
  bool reported = false;
  for (Segment& seg : dm.segments) {
    std::string_view t = seg.text;
    if (t.size() <= max_line) continue;
    size_t start = 0;
    bool long_line = false;
    while (start < t.size()) {
      const void* nl = std::memchr(t.data() + start, '\n', t.size() - start);
      size_t end = nl ? size_t(static_cast<const char*>(nl) - t.data()) : t.size();
      if (end - start > max_line) {
        long_line = true;
        break;
      }
      start = end + 1;
    }
    if (!long_line) continue;
    std::string out;
    out.reserve(t.size() + t.size() / max_line + 1);
    size_t run = 0;
    for (char c : t) {
      if (c == '\n') {
        run = 0;
      } else if (run == max_line) {
        out.push_back('\n');
        run = 0;
      }
      if (c != '\n') ++run;
      out.push_back(c);
    }
    if (!reported)
      add_problem(dm.problems, 0,
                  seg.part_path + ": line longer than " + std::to_string(max_line) +
                      " bytes; split for matching");
    reported = true;
    dm.storage.push_back(std::make_unique<std::string>(std::move(out)));
    seg.text = *dm.storage.back();
  }
}

}  // namespace

DecodedMessage decode_message(std::string_view raw, const DecodeLimits& limits) {
  DecodedMessage dm;
  DecodeContext ctx(limits);
  decode_into(raw, ctx, dm, 0);
  split_long_lines(dm, limits.max_line_bytes);
  return dm;
}

std::vector<PartLeaf> part_leaves(std::string_view raw, const DecodeLimits& limits) {
  std::vector<PartLeaf> leaves;
  std::vector<DecodeProblem> problems;
  std::vector<std::unique_ptr<std::string>> storage;
  size_t parts = 0;
  bool parts_reported = false;
  walk(
      raw, limits, problems, storage, parts, parts_reported,
      [](const std::string&, const HeaderBlock&, bool) {},
      [&](const LeafInfo& leaf) {
        std::string decoded;
        std::string_view bytes = transfer_decode(leaf, &decoded, problems);
        leaves.push_back(
            {std::string(leaf.path), leaf.ci.type, leaf.ci.filename,
             bytes.data() == decoded.data() ? std::move(decoded) : std::string(bytes)});
      });
  return leaves;
}

}  // namespace credsift

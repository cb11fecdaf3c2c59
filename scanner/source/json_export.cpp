// Microsoft Graph and Gmail API JSON exports -> RFC 5322 messages, with simdjson On Demand.
//
// Two shapes of file: JSON lines (one record a line, streamed through a window whatever the
// file size; a line over the message size limit is skipped and counted) and one JSON document
// (an array, or a Graph page {"value":[...]}), read whole within a size limit or not at all. A
// record is a message object, an array of them, or a page; the messages of an array come out
// one per call, so only the record and one rendered message are in memory at a time.
//
// Rendering keeps to what the MIME decoder reads well: header values on one line (line breaks
// in JSON strings would start new header fields), bodies and attachments in base64 (whose
// lines can never look like a boundary), boundaries that differ per nesting level.
#include "json_export.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "mbox.hpp"

namespace credsift::source_detail {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

constexpr size_t kMaxItemDepth = 8;       // itemAttachment holding an itemAttachment ...
constexpr size_t kMaxPartDepth = 32;      // Gmail payload parts tree
constexpr size_t kSniffKeyDepth = 4;      // keys deeper than this say nothing about the shape
constexpr size_t kBigRecord = 16 << 20;   // after a record this large, buffers are given back
constexpr size_t kMaxItemIdBytes = 1024;  // ids land in every output: keep them short
constexpr size_t kBase64Line = 76;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// ---------------------------------------------------------------------------------------------
// Sniffing

// Keys only a Graph or Gmail message carries, and generic ones that count only in pairs.
constexpr std::array<std::string_view, 16> kStrongKeys{
    "internetMessageId", "toRecipients",   "ccRecipients",     "bccRecipients",
    "bodyPreview",       "sentDateTime",   "receivedDateTime", "internetMessageHeaders",
    "conversationId",    "hasAttachments", "threadId",         "labelIds",
    "historyId",         "internalDate",   "sizeEstimate",     "parentFolderId"};
constexpr std::array<std::string_view, 10> kWeakKeys{
    "raw",    "payload",     "body",    "subject",        "from",
    "sender", "attachments", "snippet", "@odata.context", "@odata.etag"};

}  // namespace

bool looks_like_json_export(std::string_view head) {
  size_t i = bom_length(head);
  while (i < head.size() && is_space(head[i])) ++i;
  if (i == head.size() || (head[i] != '[' && head[i] != '{')) return false;
  int depth = 0;
  unsigned weak = 0;
  while (i < head.size()) {
    const char c = head[i];
    if (c == '{' || c == '[') {
      ++depth;
      ++i;
    } else if (c == '}' || c == ']') {
      if (--depth < 0) return false;
      ++i;
    } else if (c == '"') {
      const size_t start = ++i;
      while (i < head.size() && head[i] != '"') i += head[i] == '\\' ? 2 : 1;
      if (i >= head.size()) break;  // the head ends inside a string
      const std::string_view text = head.substr(start, i - start);
      ++i;
      size_t j = i;
      while (j < head.size() && is_space(head[j])) ++j;
      if (j < head.size() && head[j] == ':' && depth <= static_cast<int>(kSniffKeyDepth)) {
        for (std::string_view key : kStrongKeys)
          if (text == key) return true;
        for (size_t k = 0; k < kWeakKeys.size(); ++k)
          if (text == kWeakKeys[k]) weak |= 1u << k;
        if (std::popcount(weak) >= 2) return true;
      }
    } else {
      ++i;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Base64

namespace {

constexpr int8_t kInvalid = -1, kSpace = -2, kPad = -3;

constexpr std::array<int8_t, 256> make_base64_table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (int i = 0; i < 62; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  t['+'] = t['-'] = 62;
  t['/'] = t['_'] = 63;
  t[' '] = t['\t'] = t['\r'] = t['\n'] = kSpace;
  t['='] = kPad;
  return t;
}
constexpr auto kBase64Table = make_base64_table();
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Walks `in`, handing each 6-bit value to `take`; false on a byte outside both alphabets, data
// after padding, too much padding, or a length no encoder produces.
template <typename Take>
bool walk_base64(std::string_view in, Take take) {
  size_t data = 0, pads = 0;
  for (const char ch : in) {
    const int8_t v = kBase64Table[static_cast<unsigned char>(ch)];
    if (v >= 0) {
      if (pads) return false;
      take(static_cast<uint8_t>(v));
      ++data;
    } else if (v == kPad) {
      if (++pads > 2) return false;
    } else if (v == kInvalid) {
      return false;
    }
  }
  if (data % 4 == 1) return false;
  if (pads && (data + pads) % 4 != 0) return false;
  return true;
}

}  // namespace

bool decode_base64_strict(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size() / 4 * 3 + 3);
  uint32_t bits = 0;
  int have = 0;
  return walk_base64(in, [&](uint8_t v) {
    bits = bits << 6 | v;
    have += 6;
    if (have >= 8) {
      have -= 8;
      out.push_back(static_cast<char>((bits >> have) & 0xFF));
    }
  });
}

bool rewrap_base64(std::string_view in, std::string& out) {
  const size_t start = out.size();
  out.reserve(start + in.size() + in.size() / kBase64Line + 4);
  size_t column = 0, data = 0;
  const auto put = [&](char c) {
    out.push_back(c);
    if (++column == kBase64Line) {
      out.push_back('\n');
      column = 0;
    }
  };
  if (!walk_base64(in, [&](uint8_t v) {
        put(kBase64Alphabet[v]);
        ++data;
      }))
    return false;
  while (data % 4) {
    put('=');
    ++data;
  }
  if (column) out.push_back('\n');
  return true;
}

void encode_base64_lines(std::string_view bytes, std::string& out) {
  out.reserve(out.size() + (bytes.size() + 2) / 3 * 4 + bytes.size() / 57 + 2);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size(), column = 0;
  while (n > 0) {
    const uint32_t b0 = p[0], b1 = n > 1 ? p[1] : 0, b2 = n > 2 ? p[2] : 0;
    const uint32_t v = b0 << 16 | b1 << 8 | b2;
    out.push_back(kBase64Alphabet[v >> 18 & 63]);
    out.push_back(kBase64Alphabet[v >> 12 & 63]);
    out.push_back(n > 1 ? kBase64Alphabet[v >> 6 & 63] : '=');
    out.push_back(n > 2 ? kBase64Alphabet[v & 63] : '=');
    const size_t step = std::min<size_t>(n, 3);
    p += step;
    n -= step;
    column += 4;
    if (column == kBase64Line) {
      out.push_back('\n');
      column = 0;
    }
  }
  if (column) out.push_back('\n');
}

// ---------------------------------------------------------------------------------------------
// Dates

namespace {

std::string rfc5322_date(int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                         int offset_minutes) {
  static constexpr const char* kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::chrono::sys_days day{std::chrono::year{static_cast<int>(y)} / std::chrono::month{mo} /
                                  std::chrono::day{d}};
  const char* weekday = kDays[((day.time_since_epoch().count() % 7) + 7) % 7];
  const int off = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char out[64];
  std::snprintf(out, sizeof out, "%s, %02u %s %04lld %02u:%02u:%02u %c%02d%02d", weekday, d,
                kMonths[mo - 1], static_cast<long long>(y), h, mi, s,
                offset_minutes < 0 ? '-' : '+', off / 60, off % 60);
  return out;
}

bool digits(std::string_view s, size_t at, size_t n, unsigned& value) {
  if (at + n > s.size()) return false;
  value = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    value = value * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return true;
}

// Gmail's internalDate: milliseconds since the epoch, as a decimal string.
std::string epoch_ms_to_rfc5322(std::string_view ms) {
  if (ms.empty() || ms.size() > 15) return {};
  constexpr int64_t kLastMs = 253402300799999;  // 9999-12-31T23:59:59.999Z: chrono's years are ints
  int64_t value = 0;
  for (char c : ms) {
    if (c < '0' || c > '9') return {};
    value = value * 10 + (c - '0');
  }
  if (value > kLastMs) return {};
  const int64_t seconds = value / 1000;
  const std::chrono::year_month_day civil{
      std::chrono::sys_days{std::chrono::days{seconds / 86400}}};
  const auto rest = static_cast<unsigned>(seconds % 86400);
  return rfc5322_date(int{civil.year()}, unsigned{civil.month()}, unsigned{civil.day()},
                      rest / 3600, rest / 60 % 60, rest % 60, 0);
}

}  // namespace

std::string iso8601_to_rfc5322(std::string_view iso) {
  unsigned y, mo, d, h, mi, s = 0;
  if (!digits(iso, 0, 4, y) || iso.size() < 16 || iso[4] != '-' || !digits(iso, 5, 2, mo) ||
      iso[7] != '-' || !digits(iso, 8, 2, d) || (iso[10] != 'T' && iso[10] != ' ') ||
      !digits(iso, 11, 2, h) || iso[13] != ':' || !digits(iso, 14, 2, mi))
    return {};
  size_t i = 16;
  if (i < iso.size() && iso[i] == ':') {
    if (!digits(iso, i + 1, 2, s)) return {};
    i += 3;
    if (i < iso.size() && iso[i] == '.') {
      ++i;
      while (i < iso.size() && iso[i] >= '0' && iso[i] <= '9') ++i;
    }
  }
  int offset = 0;
  if (i < iso.size() && (iso[i] == 'Z' || iso[i] == 'z')) {
    ++i;
  } else if (i < iso.size() && (iso[i] == '+' || iso[i] == '-')) {
    unsigned oh, om = 0;
    if (!digits(iso, i + 1, 2, oh)) return {};
    size_t j = i + 3;
    if (j < iso.size() && iso[j] == ':') ++j;
    if (j < iso.size() && !digits(iso, j, 2, om)) return {};
    if (j < iso.size()) j += 2;
    offset = static_cast<int>(oh * 60 + om) * (iso[i] == '-' ? -1 : 1);
    i = j;
  }
  if (i != iso.size()) return {};
  static constexpr unsigned kMonthDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > kMonthDays[mo - 1] || h > 23 || mi > 59 || s > 60 ||
      offset <= -24 * 60 || offset >= 24 * 60)
    return {};
  return rfc5322_date(y, mo, d, h, mi, s, offset);
}

// ---------------------------------------------------------------------------------------------
// Rendering

namespace {

// A header value on one line: CR, LF and NUL would end the field (or the header block).
void append_value(std::string& out, std::string_view value) {
  for (const char c : value) out.push_back(c == '\r' || c == '\n' || c == '\0' ? ' ' : c);
}

// Field names from the export are data: anything but printable ASCII without ':' becomes '-',
// so that the field (and the secret its value may hold) stays a header line.
void append_field_name(std::string& out, std::string_view name) {
  if (name.empty()) {
    out += "X-Unnamed";
    return;
  }
  for (const char c : name.substr(0, 256)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u > 32 && u < 127 && c != ':' ? c : '-');
  }
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  append_field_name(out, name);
  out += ": ";
  append_value(out, value);
  out += '\n';
}

struct Address {
  std::string_view name, address;
};

void append_addresses(std::string& out, std::string_view field, const std::vector<Address>& list) {
  if (list.empty()) return;
  out += field;
  out += ": ";
  bool first = true;
  for (const Address& a : list) {
    if (a.name.empty() && a.address.empty()) continue;
    if (!first) out += ", ";
    first = false;
    if (!a.name.empty()) {
      out += '"';
      for (const char c : a.name) {
        if (c == '"' || c == '\\') out += '\\';
        out.push_back(c == '\r' || c == '\n' || c == '\0' ? ' ' : c);
      }
      out += "\" ";
    }
    out += '<';
    for (const char c : a.address)
      out.push_back(c == '\r' || c == '\n' || c == '\0' || c == '<' || c == '>' || c == ',' ? ' '
                                                                                            : c);
    out += '>';
  }
  out += '\n';
}

// A content type we write as given: "type/subtype" in token characters, no parameters (the
// parameters of an export's attachment type would only let it pose as multipart).
std::string_view leaf_type(std::string_view type) {
  const auto token = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$&^_.+-").find(c) != std::string_view::npos;
  };
  const size_t semi = type.find(';');
  type = type.substr(0, semi);
  while (!type.empty() && is_space(type.back())) type.remove_suffix(1);
  while (!type.empty() && is_space(type.front())) type.remove_prefix(1);
  const size_t slash = type.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == type.size() ||
      type.size() > 128)
    return "application/octet-stream";
  for (size_t i = 0; i < type.size(); ++i)
    if (i != slash && !token(type[i])) return "application/octet-stream";
  if (type.size() >= 10 && iequals(type.substr(0, 10), "multipart/"))
    return "application/octet-stream";
  return type;
}

// `; name="..."` or, for non-ASCII names, the RFC 2231 form.
void append_name_param(std::string& out, std::string_view param, std::string_view name) {
  const bool ascii = std::all_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 32 && u < 127;
  });
  out += "; ";
  out += param;
  if (ascii) {
    out += "=\"";
    for (const char c : name) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
    return;
  }
  out += "*=UTF-8''";
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '.' ||
        c == '-' || c == '_') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
}

std::string boundary(std::string_view family, size_t depth) {
  return "=_credsift_" + std::string(family) + "_" + std::to_string(depth);
}

// Strings from the parser stay valid until it parses the next record, which is after the
// record's last message is rendered: the collected fields are views into it.
struct Header {
  std::string_view name, value;
};

struct Collected {
  std::string_view id, subject, message_id, sent, received, internal_date;
  std::string_view body_type, body_content;
  bool has_body = false, has_raw = false, has_payload = false;
  bool graph = false, gmail = false;  // keys seen of each family
  std::vector<Address> from, sender, to, cc, bcc, reply_to;
  std::vector<Header> headers;
  std::vector<std::string> attachments;  // rendered MIME parts
  std::string_view raw;
  std::string payload;  // the rendered Gmail payload tree
};

// Fatal errors end the record: the iterator cannot be trusted any more. A value of an
// unexpected type is not an error: it is left alone (and skipped by the iteration).
struct JsonError {
  error_code code;
};

void check(error_code e) {
  if (e != SUCCESS) throw JsonError{e};
}

od::json_type type_of(od::value& v) {
  od::json_type t;
  check(v.type().get(t));
  return t;
}

void read_string(od::value v, std::string_view& out) {
  if (type_of(v) == od::json_type::string) check(v.get_string().get(out));
}

// Calls take(key, value) for every field of an object value (nothing if it is no object).
template <typename Take>
void for_fields(od::value v, Take take) {
  if (type_of(v) != od::json_type::object) return;
  od::object object;
  check(v.get_object().get(object));
  for (auto result : object) {
    od::field field;
    check(std::move(result).get(field));
    std::string_view key;
    check(field.unescaped_key().get(key));
    take(key, field.value());
  }
}

template <typename Take>
void for_elements(od::value v, Take take) {
  if (type_of(v) != od::json_type::array) return;
  od::array array;
  check(v.get_array().get(array));
  for (auto result : array) {
    od::value element;
    check(std::move(result).get(element));
    take(element);
  }
}

// {"emailAddress": {"name": ..., "address": ...}}
void read_recipient(od::value v, std::vector<Address>& out) {
  Address a;
  for_fields(v, [&](std::string_view key, od::value value) {
    if (key != "emailAddress") return;
    for_fields(value, [&](std::string_view k, od::value field) {
      if (k == "name") read_string(field, a.name);
      if (k == "address") read_string(field, a.address);
    });
  });
  if (!a.name.empty() || !a.address.empty()) out.push_back(a);
}

void read_recipients(od::value v, std::vector<Address>& out) {
  for_elements(v, [&](od::value element) { read_recipient(element, out); });
}

void read_headers(od::value v, std::vector<Header>& out) {
  for_elements(v, [&](od::value element) {
    Header h;
    bool named = false;
    for_fields(element, [&](std::string_view key, od::value field) {
      if (key == "name") {
        read_string(field, h.name);
        named = true;
      }
      if (key == "value") read_string(field, h.value);
    });
    if (named || !h.value.empty()) out.push_back(h);
  });
}

// Warnings and the reason a message fails, while one message is being rendered.
struct RenderContext {
  const std::function<void(std::string)>& warn;
  std::string failure;  // first problem that makes the message unusable
  void fail(std::string why) {
    if (failure.empty()) failure = std::move(why);
  }
};

void collect(od::value message, size_t depth, Collected& c, RenderContext& rc);
std::string render_graph(const Collected& c, size_t depth);

std::string quoted(std::string_view name) {
  std::string out = "\"";
  append_value(out, name.substr(0, 256));
  return out + "\"";
}

// One entry of a Graph message's "attachments": a file (contentBytes, base64), an Outlook
// item (a nested message resource, rendered as message/rfc822), or a reference (a link).
void read_attachment(od::value v, size_t depth, Collected& c, RenderContext& rc) {
  std::string_view odata_type, name, content_type, content_bytes, source_url;
  bool has_bytes = false, has_item = false;
  std::string item;
  for_fields(v, [&](std::string_view key, od::value field) {
    if (key == "@odata.type") read_string(field, odata_type);
    if (key == "name") read_string(field, name);
    if (key == "contentType") read_string(field, content_type);
    if (key == "sourceUrl") read_string(field, source_url);
    if (key == "contentBytes" && type_of(field) == od::json_type::string) {
      check(field.get_string().get(content_bytes));
      has_bytes = true;
    }
    if (key == "item" && type_of(field) == od::json_type::object) {
      has_item = true;
      if (depth + 1 > kMaxItemDepth) {
        rc.warn("attachment " + quoted(name) + ": Outlook items nested deeper than " +
                std::to_string(kMaxItemDepth) + " levels not rendered");
        return;
      }
      Collected nested;
      collect(field, depth + 1, nested, rc);
      item = render_graph(nested, depth + 1);
    }
  });
  std::string part;
  if (has_item && !item.empty()) {
    part += "Content-Type: message/rfc822";
    part += "\nContent-Disposition: attachment";
    if (!name.empty()) append_name_param(part, "filename", name);
    part += "\n\n";
    part += item;
  } else {
    part += "Content-Type: ";
    part += has_bytes ? leaf_type(content_type) : std::string_view("text/plain");
    if (!name.empty()) append_name_param(part, "name", name);
    part += "\nContent-Disposition: attachment";
    if (!name.empty()) append_name_param(part, "filename", name);
    part += "\nContent-Transfer-Encoding: base64\n\n";
    if (has_bytes) {
      if (!rewrap_base64(content_bytes, part)) {
        rc.fail("attachment " + quoted(name) + ": contentBytes is not valid base64");
        return;
      }
    } else if (!source_url.empty()) {
      // A reference attachment is a link; links carry tokens (SAS signatures) often enough.
      std::string text = std::string(name) + "\n" + std::string(source_url) + "\n";
      encode_base64_lines(text, part);
    } else if (!has_item) {
      rc.warn("attachment " + quoted(name) + " (" + std::string(odata_type.substr(0, 64)) +
              "): its content is not in the export (only the name is scanned)");
    }
  }
  c.attachments.push_back(std::move(part));
}

// A Gmail payload part: headers, body.data (base64url) or body.attachmentId (data elsewhere),
// and child parts. Rendered as a MIME entity (header block, blank line, body).
void render_gmail_part(od::value v, size_t depth, std::string& out, RenderContext& rc) {
  std::string_view mime_type, filename, part_id, data, attachment_id;
  bool has_data = false;
  std::vector<Header> headers;
  std::vector<std::string> children;
  bool deep = false;
  for_fields(v, [&](std::string_view key, od::value field) {
    if (key == "mimeType") read_string(field, mime_type);
    if (key == "filename") read_string(field, filename);
    if (key == "partId") read_string(field, part_id);
    if (key == "headers") read_headers(field, headers);
    if (key == "body") {
      for_fields(field, [&](std::string_view k, od::value body) {
        if (k == "data" && type_of(body) == od::json_type::string) {
          check(body.get_string().get(data));
          has_data = true;
        }
        if (k == "attachmentId") read_string(body, attachment_id);
      });
    }
    if (key == "parts") {
      for_elements(field, [&](od::value child) {
        if (depth + 1 > kMaxPartDepth) {
          deep = true;
          return;
        }
        std::string rendered;
        render_gmail_part(child, depth + 1, rendered, rc);
        children.push_back(std::move(rendered));
      });
    }
  });
  if (deep)
    rc.warn("payload parts nested deeper than " + std::to_string(kMaxPartDepth) +
            " levels not rendered");
  const bool multipart = mime_type.size() >= 10 && iequals(mime_type.substr(0, 10), "multipart/");
  const bool rfc822 = iequals(mime_type, "message/rfc822") && !children.empty();
  bool has_type = false, has_version = false;
  for (const Header& h : headers) {
    if (iequals(h.name, "Content-Transfer-Encoding")) continue;
    if (iequals(h.name, "Content-Type")) {
      if (multipart || rfc822) continue;  // ours, with our boundary
      has_type = true;
    }
    if (iequals(h.name, "MIME-Version")) has_version = true;
    append_header(out, h.name, h.value);
  }
  if (depth == 0 && !has_version) out += "MIME-Version: 1.0\n";
  if (multipart && !children.empty()) {
    const std::string b = boundary("gmail", depth);
    out += "Content-Type: ";
    append_value(out, mime_type.substr(0, 128));
    out += "; boundary=\"" + b + "\"\n\n";
    for (const std::string& child : children) {
      out += "--" + b + "\n";
      out += child;
      if (out.back() != '\n') out += '\n';
    }
    out += "--" + b + "--\n";
    return;
  }
  if (rfc822) {
    out += "Content-Type: message/rfc822\n\n";
    out += children.front();
    return;
  }
  if (!has_type) {
    out += "Content-Type: ";
    out += mime_type.empty() ? std::string_view("text/plain") : leaf_type(mime_type);
    if (!filename.empty()) append_name_param(out, "name", filename);
    out += '\n';
  }
  out += "Content-Transfer-Encoding: base64\n\n";
  if (has_data) {
    if (!rewrap_base64(data, out))
      rc.fail("payload part " + quoted(part_id) + ": body.data is not valid base64url");
  } else if (!attachment_id.empty()) {
    rc.warn("payload part " + quoted(part_id) + " " + quoted(filename) +
            ": attachment data not in the export (body.attachmentId; only the name is scanned)");
  }
}

// One pass over a message object: Graph and Gmail fields alike (the object says which it is).
void collect(od::value message, size_t depth, Collected& c, RenderContext& rc) {
  for_fields(message, [&](std::string_view key, od::value v) {
    if (key == "id") {
      read_string(v, c.id);
    } else if (key == "subject") {
      read_string(v, c.subject);
      c.graph = true;
    } else if (key == "internetMessageId") {
      read_string(v, c.message_id);
      c.graph = true;
    } else if (key == "sentDateTime") {
      read_string(v, c.sent);
      c.graph = true;
    } else if (key == "receivedDateTime") {
      read_string(v, c.received);
      c.graph = true;
    } else if (key == "from") {
      read_recipient(v, c.from);
      c.graph = true;
    } else if (key == "sender") {
      read_recipient(v, c.sender);
      c.graph = true;
    } else if (key == "toRecipients") {
      read_recipients(v, c.to);
      c.graph = true;
    } else if (key == "ccRecipients") {
      read_recipients(v, c.cc);
      c.graph = true;
    } else if (key == "bccRecipients") {
      read_recipients(v, c.bcc);
      c.graph = true;
    } else if (key == "replyTo") {
      read_recipients(v, c.reply_to);
      c.graph = true;
    } else if (key == "internetMessageHeaders") {
      read_headers(v, c.headers);
      c.graph = true;
    } else if (key == "body") {
      for_fields(v, [&](std::string_view k, od::value field) {
        if (k == "contentType") read_string(field, c.body_type);
        if (k == "content") {
          read_string(field, c.body_content);
          c.has_body = true;
        }
      });
      c.graph = true;
    } else if (key == "uniqueBody" || key == "bodyPreview") {
      c.graph = true;  // the body holds all of it
    } else if (key == "attachments") {
      for_elements(v, [&](od::value a) { read_attachment(a, depth, c, rc); });
      c.graph = true;
    } else if (key == "raw" && type_of(v) == od::json_type::string) {
      check(v.get_string().get(c.raw));
      c.has_raw = c.gmail = true;
    } else if (key == "payload" && type_of(v) == od::json_type::object) {
      if (depth == 0) {
        render_gmail_part(v, 0, c.payload, rc);
        c.has_payload = true;
      }
      c.gmail = true;
    } else if (key == "internalDate") {
      read_string(v, c.internal_date);
      c.gmail = true;
    } else if (key == "threadId" || key == "labelIds" || key == "historyId" || key == "snippet" ||
               key == "sizeEstimate") {
      c.gmail = true;
    } else if (key == "conversationId" || key == "parentFolderId" || key == "hasAttachments" ||
               key == "@odata.etag" || key == "@odata.type") {
      c.graph = true;
    }
  });
}

std::string render_graph(const Collected& c, size_t depth) {
  std::string out;
  // Transport headers first when the export has them; the fields built from the resource fill
  // in only what they lack. Their MIME fields describe the original structure, not ours.
  bool have_from = false, have_sender = false, have_to = false, have_cc = false, have_bcc = false,
       have_reply_to = false, have_subject = false, have_date = false, have_id = false;
  for (const Header& h : c.headers) {
    if (iequals(h.name, "Content-Type") || iequals(h.name, "Content-Transfer-Encoding") ||
        iequals(h.name, "MIME-Version"))
      continue;
    have_from |= iequals(h.name, "From");
    have_sender |= iequals(h.name, "Sender");
    have_to |= iequals(h.name, "To");
    have_cc |= iequals(h.name, "Cc");
    have_bcc |= iequals(h.name, "Bcc");
    have_reply_to |= iequals(h.name, "Reply-To");
    have_subject |= iequals(h.name, "Subject");
    have_date |= iequals(h.name, "Date");
    have_id |= iequals(h.name, "Message-ID");
    append_header(out, h.name, h.value);
  }
  if (!have_from) append_addresses(out, "From", c.from);
  if (!have_sender) append_addresses(out, "Sender", c.sender);
  if (!have_to) append_addresses(out, "To", c.to);
  if (!have_cc) append_addresses(out, "Cc", c.cc);
  if (!have_bcc) append_addresses(out, "Bcc", c.bcc);
  if (!have_reply_to) append_addresses(out, "Reply-To", c.reply_to);
  if (!have_subject && !c.subject.empty()) append_header(out, "Subject", c.subject);
  if (!have_date) {
    const std::string_view when = !c.sent.empty() ? c.sent : c.received;
    if (!when.empty()) {
      const std::string date = iso8601_to_rfc5322(when);
      append_header(out, "Date", date.empty() ? when : std::string_view(date));
    }
  }
  if (!have_id && !c.message_id.empty()) append_header(out, "Message-ID", c.message_id);
  out += "MIME-Version: 1.0\n";
  const std::string b = boundary("graph", depth);
  if (!c.attachments.empty())
    out += "Content-Type: multipart/mixed; boundary=\"" + b + "\"\n\n--" + b + "\n";
  out += iequals(c.body_type, "html") ? "Content-Type: text/html; charset=utf-8\n"
                                      : "Content-Type: text/plain; charset=utf-8\n";
  out += "Content-Transfer-Encoding: base64\n\n";
  encode_base64_lines(c.body_content, out);
  if (!c.attachments.empty()) {
    for (const std::string& part : c.attachments) {
      out += "--" + b + "\n";
      out += part;
      if (out.back() != '\n') out += '\n';
    }
    out += "--" + b + "--\n";
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The reader

struct JsonExportReader::Impl {
  enum class Mode { Start, Lines, Document, Done };

  std::shared_ptr<const std::string> file;
  JsonExportLimits limits;
  JsonExportEvents events;
  PullBytes pull;
  uint64_t size_hint = 0;
  Mode mode = Mode::Start;

  // Input window: buf[pos, end) not yet consumed, buf[0] at file offset `base`.
  std::string buf;
  size_t pos = 0;
  uint64_t base = 0;
  bool eof = false;
  uint64_t line_number = 0;  // lines consumed so far

  // The record being read: its bytes (padded for simdjson), the parse, and for an array or a
  // page, where the iteration stands.
  std::unique_ptr<od::parser> parser;
  std::string record;
  size_t record_length = 0;
  uint64_t record_offset = 0;
  uint64_t record_index = 0;
  bool whole_file = false;
  od::document doc;
  bool iterating = false;
  od::array_iterator it, end;
  uint64_t element_index = 0;

  void warn(uint64_t offset, std::string message) {
    if (events.warn) events.warn(offset, std::move(message));
  }
  void fail_file(uint64_t offset, std::string message) {
    if (events.fail_file) events.fail_file(offset, std::move(message));
  }

  size_t fill() {
    if (eof) return 0;
    if (pos > 0 && pos == buf.size()) {
      base += pos;
      buf.clear();
      pos = 0;
    } else if (pos > 0 && pos >= buf.size() / 2) {
      buf.erase(0, pos);
      base += pos;
      pos = 0;
    }
    const size_t chunk = std::max<size_t>(limits.read_chunk_bytes, 1);
    const size_t old = buf.size();
    buf.resize(old + chunk);
    const size_t got = pull(buf.data() + old, chunk);
    buf.resize(old + got);
    if (got == 0) eof = true;
    return got;
  }

  Message message(uint64_t offset, uint64_t index) const {
    Message m;
    m.origin.file = file;
    m.origin.offset = offset;
    m.origin.index = index;
    return m;
  }

  std::optional<Message> next() {
    for (;;) {
      if (iterating) {
        if (auto m = next_element()) return m;
        continue;
      }
      switch (mode) {
        case Mode::Start:
          start();
          break;
        case Mode::Lines:
          if (auto m = next_line()) return m;
          break;
        case Mode::Document:
          if (auto m = read_document()) return m;
          break;
        case Mode::Done:
          return std::nullopt;
      }
    }
  }

  // JSON lines when the first line is a whole value and more follows; a document otherwise
  // (pretty-printed, or all on one line). A first line over the limit means lines: it is
  // skipped, and the lines after it are read.
  void start() {
    size_t newline, scanned = 0;
    while ((newline = buf.find('\n', scanned)) == std::string::npos) {
      if (eof) {
        mode = Mode::Document;
        return;
      }
      if (buf.size() > limits.max_message_bytes) {
        mode = Mode::Lines;
        return;
      }
      scanned = buf.size();
      fill();
    }
    const size_t first = bom_length(buf);
    if (!balanced(std::string_view(buf).substr(first, newline - first))) {
      mode = Mode::Document;
      return;
    }
    size_t rest = newline;
    for (;;) {
      while (rest < buf.size() && is_space(buf[rest])) ++rest;
      if (rest < buf.size() || eof || buf.size() > limits.max_document_bytes) break;
      fill();
    }
    mode = rest < buf.size() ? Mode::Lines : Mode::Document;
  }

  // Is `line` exactly one JSON object or array (brackets balanced outside strings)?
  static bool balanced(std::string_view line) {
    size_t i = 0;
    while (i < line.size() && is_space(line[i])) ++i;
    if (i == line.size() || (line[i] != '{' && line[i] != '[')) return false;
    int depth = 0;
    for (; i < line.size(); ++i) {
      const char c = line[i];
      if (c == '"') {
        for (++i; i < line.size() && line[i] != '"'; ++i)
          if (line[i] == '\\') ++i;
        if (i >= line.size()) return false;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) {
          for (++i; i < line.size(); ++i)
            if (!is_space(line[i])) return false;
          return true;
        }
      }
    }
    return false;
  }

  std::optional<Message> next_line() {
    size_t scan = pos;
    uint64_t skipped = 0;  // bytes of an over-long line already dropped
    uint64_t line_offset = base + pos;
    for (;;) {
      const size_t newline = buf.find('\n', scan);
      const bool at_end = newline == std::string::npos && eof;
      if (newline == std::string::npos && !at_end) {
        if (skipped + (buf.size() - pos) > limits.max_message_bytes) {
          // Over the limit: keep counting, stop keeping.
          skipped += buf.size() - pos;
          pos = buf.size();
        }
        const size_t searched = buf.size() - pos;  // fill() may move the window
        fill();
        scan = pos + searched;
        continue;
      }
      const size_t stop = at_end ? buf.size() : newline;
      const uint64_t index = line_number++;
      std::string_view line = std::string_view(buf).substr(pos, stop - pos);
      const uint64_t length = skipped + line.size();
      pos = at_end ? buf.size() : newline + 1;
      if (at_end && length == 0) {
        mode = Mode::Done;
        return std::nullopt;
      }
      if (index == 0 && skipped == 0) {
        const size_t bom = bom_length(line);
        line.remove_prefix(bom);
        line_offset += bom;
      }
      if (length > limits.max_message_bytes) {
        Message m = message(line_offset, index);
        m.skip_reason =
            "JSON line larger than " + std::to_string(limits.max_message_bytes) + " bytes";
        if (at_end) mode = Mode::Done;
        return m;
      }
      while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
      size_t lead = 0;
      while (lead < line.size() && is_space(line[lead])) ++lead;
      if (lead == line.size()) {
        if (at_end) {
          mode = Mode::Done;
          return std::nullopt;
        }
        line_offset = base + pos;
        scan = pos;
        skipped = 0;
        continue;
      }
      load_record(line.substr(lead), line_offset + lead, index, false);
      if (at_end) mode = Mode::Done;
      return begin_record();
    }
  }

  std::optional<Message> read_document() {
    mode = Mode::Done;
    // One allocation for the whole document (with room for the last read and the padding):
    // growing by doubling would copy it and keep up to twice its size.
    if (size_hint > buf.size() && size_hint <= limits.max_document_bytes)
      buf.reserve(size_hint + std::max<size_t>(limits.read_chunk_bytes, 1) +
                  simdjson::SIMDJSON_PADDING);
    while (!eof) {
      if (buf.size() - pos > limits.max_document_bytes) {
        fail_file(base + pos, "JSON document larger than " +
                                  std::to_string(limits.max_document_bytes) +
                                  " bytes: not read (write it as JSON lines, one message a line)");
        return std::nullopt;
      }
      fill();
    }
    std::string_view text = std::string_view(buf).substr(pos);
    if (text.size() > limits.max_document_bytes) {
      fail_file(base + pos, "JSON document larger than " +
                                std::to_string(limits.max_document_bytes) +
                                " bytes: not read (write it as JSON lines, one message a line)");
      return std::nullopt;
    }
    const size_t bom = bom_length(text);
    // The window becomes the record: no copy of a document that may be hundreds of MB.
    record = std::move(buf);
    buf = std::string();
    const size_t start = pos + bom;
    record.erase(0, start);
    record_offset = base + start;
    pos = 0;
    base += start + record.size();
    record_length = record.size();
    record.append(simdjson::SIMDJSON_PADDING, '\0');
    record_index = 0;
    whole_file = true;
    return begin_record();
  }

  void load_record(std::string_view bytes, uint64_t offset, uint64_t index, bool whole) {
    record.assign(bytes);
    record_length = bytes.size();
    record.append(simdjson::SIMDJSON_PADDING, '\0');
    record_offset = offset;
    record_index = index;
    whole_file = whole;
  }

  // The record's problem: a failed message for a line, the file's failure for a document.
  std::optional<Message> record_failed(uint64_t offset, uint64_t index, const std::string& why) {
    finish_record();
    if (whole_file) {
      fail_file(offset, why + "; the rest of the document is not read");
      Message m = message(offset, index);
      m.failure = why;
      return m;
    }
    Message m = message(offset, index);
    m.failure = why;
    return m;
  }

  static std::string json_error(error_code e) {
    return std::string("invalid JSON: ") + simdjson::error_message(e);
  }

  std::optional<Message> begin_record() {
    if (!parser) parser = std::make_unique<od::parser>();
    error_code e = parser->iterate(record.data(), record_length, record.size()).get(doc);
    if (e != SUCCESS) {
      if (whole_file) {
        fail_file(record_offset, json_error(e) + ": document not read");
        finish_record();
        return std::nullopt;
      }
      return record_failed(record_offset, record_index, json_error(e));
    }
    try {
      od::json_type type;
      check(doc.type().get(type));
      if (type == od::json_type::array) {
        od::array array;
        check(doc.get_array().get(array));
        return begin_array(array);
      }
      if (type != od::json_type::object)
        return record_failed(record_offset, record_index, "record is not a JSON object or array");
      // A Graph page holds the messages in "value"; anything else is one message.
      od::value value;
      e = doc.find_field_unordered("value").get(value);
      if (e == SUCCESS && type_of(value) == od::json_type::array) {
        od::array array;
        check(value.get_array().get(array));
        return begin_array(array);
      }
      if (e != SUCCESS && e != simdjson::NO_SUCH_FIELD) throw JsonError{e};
      doc.rewind();
      od::value root;
      check(doc.get_value().get(root));
      std::optional<Message> m = render(root, record_offset, record_index);
      finish_record();
      return m;
    } catch (const JsonError& error) {
      if (whole_file) {
        // Nothing was handed out: the file failed, no message can be counted.
        fail_file(record_offset, json_error(error.code) + ": document not read");
        finish_record();
        return std::nullopt;
      }
      return record_failed(record_offset, record_index, json_error(error.code));
    }
  }

  std::optional<Message> begin_array(od::array& array) {
    check(array.begin().get(it));
    check(array.end().get(end));
    iterating = true;
    element_index = 0;
    return std::nullopt;  // next() takes the elements
  }

  std::optional<Message> next_element() {
    if (!(it != end)) {
      finish_record();
      return std::nullopt;
    }
    const uint64_t index = element_index++;
    uint64_t offset = record_offset;
    try {
      od::value element;
      check((*it).get(element));
      offset =
          record_offset + static_cast<uint64_t>(element.raw_json_token().data() - record.data());
      std::optional<Message> m;
      if (type_of(element) != od::json_type::object) {
        m = message(offset, index);
        m->failure = "array element is not a JSON object";
      } else {
        m = render(element, offset, index);
      }
      ++it;
      return m;
    } catch (const JsonError& error) {
      return record_failed(offset, index, json_error(error.code));
    }
  }

  std::optional<Message> render(od::value object, uint64_t offset, uint64_t index) {
    const std::function<void(std::string)> warn_here = [&](std::string text) {
      warn(offset, "message " + std::to_string(index) + ": " + text);
    };
    RenderContext rc{warn_here, {}};
    Collected c;
    collect(object, 0, c, rc);
    Message m = message(offset, index);
    m.origin.location.item_id = std::string(c.id.substr(0, kMaxItemIdBytes));
    std::string bytes;
    if (c.has_raw) {
      if (!decode_base64_strict(c.raw, bytes)) rc.fail("Gmail raw is not valid base64url");
    } else if (c.has_payload) {
      bytes = std::move(c.payload);
      if (!c.internal_date.empty() && bytes.find("\nDate:") == std::string::npos &&
          !bytes.starts_with("Date:")) {
        const std::string date = epoch_ms_to_rfc5322(c.internal_date);
        if (!date.empty()) bytes.insert(0, "Date: " + date + "\n");
      }
    } else if (c.graph) {
      bytes = render_graph(c, 0);
    } else if (c.gmail) {
      m.skip_reason = "Gmail message without raw or payload (exported with format=minimal?)";
      return m;
    } else {
      rc.fail("record is not a Graph or Gmail message (no message field)");
    }
    if (!rc.failure.empty()) {
      m.failure = std::move(rc.failure);
      return m;
    }
    if (bytes.size() > limits.max_message_bytes) {
      m.skip_reason = "message larger than " + std::to_string(limits.max_message_bytes) + " bytes";
      return m;
    }
    auto owned = std::make_shared<const std::string>(std::move(bytes));
    m.bytes = *owned;
    m.keepalive = std::move(owned);
    return m;
  }

  // Done with the record: big buffers are given back so that one huge line does not keep its
  // memory for the rest of the file.
  void finish_record() {
    iterating = false;
    if (record_length > kBigRecord) {
      parser.reset();
      std::string().swap(record);
    }
    if (buf.capacity() > 2 * std::max<size_t>(limits.read_chunk_bytes, kBigRecord) &&
        buf.size() - pos < limits.read_chunk_bytes) {
      std::string rest = buf.substr(pos);
      base += pos;
      pos = 0;
      buf.swap(rest);
      buf.shrink_to_fit();
    }
  }
};

JsonExportReader::JsonExportReader(std::shared_ptr<const std::string> file, JsonExportLimits limits,
                                   JsonExportEvents events, PullBytes pull, uint64_t size_hint)
    : impl_(std::make_unique<Impl>()) {
  impl_->size_hint = size_hint;
  impl_->file = std::move(file);
  impl_->limits = limits;
  impl_->events = std::move(events);
  impl_->pull = std::move(pull);
}

JsonExportReader::~JsonExportReader() = default;

std::optional<Message> JsonExportReader::next() { return impl_->next(); }

}  // namespace credsift::source_detail

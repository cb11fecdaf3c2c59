// OutlookItem -> RFC 5322. Bodies go out as 8bit text parts, attachments as binary parts (no
// base64 round trip: the decoder takes their bytes as they are); the boundary is chosen so that
// no part contains it.
#include "outlook_item.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <functional>

#include "credsift/outlook.hpp"

namespace credsift::outlook_detail {
namespace {

uint64_t load_le(std::string_view data, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes && i < data.size(); ++i)
    value |= static_cast<uint64_t>(static_cast<unsigned char>(data[i])) << (8 * i);
  return value;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    if (c < 0x80)
      n = 0;
    else if ((c >> 5) == 6)
      n = 1;
    else if ((c >> 4) == 14)
      n = 2;
    else if ((c >> 3) == 30)
      n = 3;
    else
      return false;
    if (n > s.size() - i - 1) return false;
    for (size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n + 1;
  }
  return true;
}

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Base64 in lines of 76 characters, CRLF-terminated.
void append_base64(std::string& out, std::string_view data) {
  out.reserve(out.size() + data.size() / 3 * 4 + data.size() / 57 * 2 + 8);
  size_t line = 0;
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<unsigned char>(data[k]); };
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += kBase64[v & 63];
    if (++line == 19) {
      out += "\r\n";
      line = 0;
    }
  }
  if (i < data.size()) {
    const uint32_t v = (byte(i) << 16) | (i + 1 < data.size() ? byte(i + 1) << 8 : 0);
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < data.size() ? kBase64[(v >> 6) & 63] : '=';
    out += '=';
    ++line;
  }
  if (line) out += "\r\n";
}

// A header value: plain when it is printable ASCII, else one RFC 2047 encoded word (which also
// keeps a CR or LF in a hostile property from starting a header of its own).
std::string header_value(std::string_view value) {
  const bool plain = std::all_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7F;
  });
  if (plain) return std::string(value);
  std::string text = is_valid_utf8(value) ? std::string(value) : cp1252_to_utf8(value);
  std::string encoded = "=?UTF-8?B?";
  std::string b64;
  append_base64(b64, text);
  b64.erase(std::remove_if(b64.begin(), b64.end(), [](char c) { return c == '\r' || c == '\n'; }),
            b64.end());
  return encoded + b64 + "?=";
}

std::string mailbox(std::string_view name, std::string_view address) {
  std::string out;
  if (!name.empty() && name != address) {
    const bool simple = std::all_of(name.begin(), name.end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return u >= 0x20 && u < 0x7F && c != '"' && c != '\\';
    });
    out = simple ? "\"" + std::string(name) + "\"" : header_value(name);
  }
  if (!address.empty()) {
    if (!out.empty()) out += ' ';
    out += '<' + header_value(address) + '>';
  }
  return out;
}

std::string rfc5322_date(int64_t epoch) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto t = static_cast<time_t>(epoch);
  struct tm tm {};
  if (!gmtime_r(&t, &tm)) return {};
  char buf[64];
  snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday % 7],
           tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
           tm.tm_sec);
  return buf;
}

bool ieq_prefix(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  return true;
}

// Transport headers without their MIME fields (the body we build is not the original one),
// with CRLF line ends, ending before the first blank line.
std::string transport_headers(std::string_view raw) {
  std::string out;
  bool dropping = false;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t end = raw.find('\n', pos);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view line = raw.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      if (out.empty()) continue;  // leading blank lines
      break;
    }
    const bool continuation = line[0] == ' ' || line[0] == '\t';
    if (!continuation) {
      dropping = ieq_prefix(line, "content-type") ||
                 ieq_prefix(line, "content-transfer-encoding") ||
                 ieq_prefix(line, "mime-version") || ieq_prefix(line, "content-disposition");
      // A line that is no header at all would end the header block early: keep it folded.
      if (!dropping && line.find(':') == std::string_view::npos) {
        out += ' ';
        out.append(line);
        out += "\r\n";
        continue;
      }
    } else if (out.empty()) {
      continue;
    }
    if (dropping) continue;
    out.append(line);
    out += "\r\n";
  }
  return out;
}

std::string charset_of_cpid(std::optional<int64_t> cpid, std::string_view data) {
  if (cpid) {
    switch (*cpid) {
      case 65001:
        return "utf-8";
      case 20127:
        return "us-ascii";
      case 28591:
        return "iso-8859-1";
      case 28592:
        return "iso-8859-2";
      case 28605:
        return "iso-8859-15";
      case 1200:
        return "utf-16le";
      case 50220:
      case 50221:
      case 50222:
        return "iso-2022-jp";
      case 932:
        return "shift_jis";
      case 936:
        return "gbk";
      case 949:
        return "euc-kr";
      case 950:
        return "big5";
      case 51932:
        return "euc-jp";
      case 20866:
        return "koi8-r";
      default:
        if (*cpid >= 1250 && *cpid <= 1258) return "windows-" + std::to_string(*cpid);
    }
  }
  return is_valid_utf8(data) ? "utf-8" : "windows-1252";
}

struct Part {
  std::string headers;    // without the trailing blank line
  std::string_view body;  // into the item's properties, or into `owned`
  std::string owned;      // a body made here (decompressed RTF, fields, an embedded item)
  bool binary = false;    // an attachment's bytes: always closed with a line break of its own
};

Part owned_part(std::string headers, std::string body) {
  Part p{std::move(headers), {}, std::move(body), false};
  p.body = p.owned;
  return p;
}

// Names for the text fields of contacts, appointments, tasks and notes; others by tag.
std::string property_name(uint16_t id) {
  static const std::map<uint16_t, const char*> kNames = {
      {0x0037, "Subject"},
      {0x0E1D, "Normalized subject"},
      {0x3001, "Display name"},
      {0x3003, "E-mail address"},
      {0x3A06, "Given name"},
      {0x3A11, "Surname"},
      {0x3A16, "Company"},
      {0x3A17, "Title"},
      {0x3A18, "Department"},
      {0x3A08, "Business phone"},
      {0x3A09, "Home phone"},
      {0x3A1C, "Mobile phone"},
      {0x3A29, "Business address"},
      {0x3A5D, "Home address"},
      {0x3A4C, "FTP site"},
      {0x3A51, "Business home page"},
      {0x3A50, "Personal home page"},
      {0x3A45, "Display name prefix"},
      {0x3A44, "Middle name"},
      {0x3A4F, "Nickname"},
      {0x3A00, "Account"},
      {0x3A0A, "Initials"},
      {0x3A2E, "Assistant"},
      {0x3A30, "Assistant phone"},
      {0x0070, "Conversation topic"},
      {0x0E03, "Display Cc"},
      {0x0E04, "Display To"},
      {0x0E02, "Display Bcc"},
  };
  const auto it = kNames.find(id);
  if (it != kNames.end()) return it->second;
  char buf[24];
  snprintf(buf, sizeof buf, "Property 0x%04X", id);
  return buf;
}

bool is_mail_type(std::string_view type) { return type == "mail"; }

void render_into(const OutlookItem& item, uint64_t max_bytes, int depth,
                 std::vector<std::string>& problems, std::string& out);

constexpr int kMaxEmbeddedDepth = 8;

}  // namespace

// ---------------------------------------------------------------------------------------------

std::optional<std::string> string_property(const Properties& props, uint16_t id) {
  const auto it = props.find(id);
  if (it == props.end()) return std::nullopt;
  if (it->second.type != kPtString8 && it->second.type != kPtUnicode) return std::nullopt;
  return it->second.data;
}

std::optional<int64_t> integer_property(const Properties& props, uint16_t id) {
  const auto it = props.find(id);
  if (it == props.end()) return std::nullopt;
  switch (it->second.type) {
    case kPtInt16:
      return static_cast<int16_t>(load_le(it->second.data, 2));
    case kPtInt32:
      return static_cast<int32_t>(load_le(it->second.data, 4));
    case kPtInt64:
      return static_cast<int64_t>(load_le(it->second.data, 8));
    case kPtBoolean:
      return load_le(it->second.data, 1) != 0;
    default:
      return std::nullopt;
  }
}

int64_t filetime_to_unix(uint64_t filetime) {
  return static_cast<int64_t>(filetime / 10000000ull) - 11644473600ll;
}

std::optional<int64_t> time_property(const Properties& props, uint16_t id) {
  const auto it = props.find(id);
  if (it == props.end() || it->second.type != kPtSystime || it->second.data.size() < 8)
    return std::nullopt;
  const uint64_t ft = load_le(it->second.data, 8);
  if (ft == 0) return std::nullopt;
  return filetime_to_unix(ft);
}

std::string item_type_of(std::string_view message_class) {
  std::string lower(message_class);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto starts = [&](std::string_view prefix) {
    return lower.compare(0, prefix.size(), prefix) == 0 &&
           (lower.size() == prefix.size() || lower[prefix.size()] == '.');
  };
  if (lower.empty() || starts("ipm.note") || starts("ipm.post") || starts("report.ipm.note") ||
      starts("ipm.schedule.meeting") || starts("ipm.outlook.recall") || starts("ipm.taskrequest"))
    return starts("ipm.schedule.meeting") ? "appointment" : "mail";
  if (starts("ipm.appointment")) return "appointment";
  if (starts("ipm.contact") || starts("ipm.distlist")) return "contact";
  if (starts("ipm.task")) return "task";
  if (starts("ipm.stickynote")) return "note";
  return "other";
}

std::string cp1252_to_utf8(std::string_view bytes) {
  static constexpr uint16_t kHigh[32] = {
      0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
  std::string out;
  out.reserve(bytes.size());
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80)
      out += ch;
    else if (c < 0xA0)
      append_utf8(out, kHigh[c - 0x80]);
    else
      append_utf8(out, c);
  }
  return out;
}

std::string utf16le_to_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() / 2);
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
    uint32_t u = static_cast<uint32_t>(load_le(bytes.substr(i, 2), 2));
    if (u >= 0xD800 && u < 0xDC00 && i + 3 < bytes.size()) {
      const auto lo = static_cast<uint32_t>(load_le(bytes.substr(i + 2, 2), 2));
      if (lo >= 0xDC00 && lo < 0xE000) {
        append_utf8(out, 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
        i += 2;
        continue;
      }
    }
    if (u >= 0xD800 && u < 0xE000) u = 0xFFFD;
    append_utf8(out, u);
  }
  // A trailing NUL terminator is no text.
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

namespace {

void render_into(const OutlookItem& item, uint64_t max_bytes, int depth,
                 std::vector<std::string>& problems, std::string& out) {
  const Properties& props = item.props;
  const std::string message_class = string_property(props, kPidMessageClass).value_or("");
  const std::string type = item_type_of(message_class);

  // Headers.
  std::string headers;
  const std::string raw_headers = string_property(props, kPidTransportHeaders).value_or("");
  if (!raw_headers.empty()) headers = transport_headers(raw_headers);
  if (headers.find(':') == std::string::npos) {
    headers.clear();
    auto first = [&](std::initializer_list<uint16_t> ids) {
      for (uint16_t id : ids)
        if (auto v = string_property(props, id); v && !v->empty()) return *v;
      return std::string();
    };
    // An Exchange sender has an X.500 address in PR_SENDER_EMAIL_ADDRESS; the SMTP one is
    // elsewhere.
    std::string from_address = first({kPidSenderSmtp, kPidSentRepresentingSmtp});
    if (from_address.empty()) {
      const std::string addr_type = first({kPidSenderAddrType, kPidSentRepresentingAddrType});
      const std::string email = first({kPidSenderEmail, kPidSentRepresentingEmail});
      if (addr_type.empty() || addr_type == "SMTP" || email.find('@') != std::string::npos)
        from_address = email;
    }
    const std::string from_name = first({kPidSentRepresentingName, kPidSenderName});
    if (!from_name.empty() || !from_address.empty())
      headers += "From: " + mailbox(from_name, from_address) + "\r\n";
    std::string to, cc, bcc;
    for (const Properties& r : item.recipients) {
      std::string address = string_property(r, kPidSmtpAddress).value_or("");
      if (address.empty()) {
        const std::string addr_type = string_property(r, kPidAddrType).value_or("");
        const std::string email = string_property(r, kPidEmailAddress).value_or("");
        if (addr_type.empty() || addr_type == "SMTP" || email.find('@') != std::string::npos)
          address = email;
      }
      const std::string name = string_property(r, kPidDisplayName).value_or("");
      if (name.empty() && address.empty()) continue;
      const int64_t kind = integer_property(r, kPidRecipientType).value_or(1) & 0xF;
      std::string& list = kind == 2 ? cc : kind == 3 ? bcc : to;
      if (!list.empty()) list += ",\r\n ";
      list += mailbox(name, address);
    }
    if (!to.empty()) headers += "To: " + to + "\r\n";
    if (!cc.empty()) headers += "Cc: " + cc + "\r\n";
    if (!bcc.empty()) headers += "Bcc: " + bcc + "\r\n";
    if (auto subject = string_property(props, kPidSubject))
      headers += "Subject: " + header_value(*subject) + "\r\n";
    std::optional<int64_t> when = time_property(props, kPidClientSubmitTime);
    if (!when) when = time_property(props, kPidDeliveryTime);
    if (!when) when = time_property(props, kPidCreationTime);
    if (when) headers += "Date: " + rfc5322_date(*when) + "\r\n";
    if (auto id = string_property(props, kPidInternetMessageId); id && !id->empty())
      headers += "Message-ID: " + header_value(*id) + "\r\n";
  }
  if (!message_class.empty())
    headers += "X-Outlook-Message-Class: " + header_value(message_class) + "\r\n";

  // Parts. A part moved into `parts` keeps its `owned` buffer (the view follows the move only
  // for long strings), so views are taken once every part is in place.
  std::vector<Part> parts;
  parts.reserve(4 + item.attachments.size());
  const std::optional<int64_t> cpid = integer_property(props, kPidInternetCpid);
  if (auto it = props.find(kPidBody);
      it != props.end() && !it->second.data.empty() &&
      (it->second.type == kPtString8 || it->second.type == kPtUnicode))
    parts.push_back({"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit",
                     it->second.data,
                     {},
                     false});
  if (auto it = props.find(kPidHtml); it != props.end() && !it->second.data.empty()) {
    const bool is_string = it->second.type == kPtString8 || it->second.type == kPtUnicode;
    const std::string charset = is_string ? "utf-8" : charset_of_cpid(cpid, it->second.data);
    parts.push_back(
        {"Content-Type: text/html; charset=" + charset + "\r\nContent-Transfer-Encoding: 8bit",
         it->second.data,
         {},
         false});
  }
  if (auto it = props.find(kPidRtfCompressed); it != props.end() && !it->second.data.empty()) {
    LzfuResult rtf = decompress_lzfu(it->second.data, max_bytes);
    if (!rtf.text.empty())
      parts.push_back(owned_part("Content-Type: text/rtf\r\nContent-Transfer-Encoding: 8bit",
                                 std::move(rtf.text)));
    else if (!rtf.error.empty())
      problems.push_back("compressed RTF body is not a valid MS-OXRTFCP stream: " + rtf.error);
  }
  if (!is_mail_type(type)) {
    // People keep passwords in contact fields and notes: every other text field goes along.
    std::string fields;
    for (const auto& [id, value] : props) {
      if (value.type != kPtString8 && value.type != kPtUnicode) continue;
      if (id == kPidBody || id == kPidHtml || id == kPidMessageClass || id == kPidSubject ||
          id == kPidTransportHeaders || value.data.empty())
        continue;
      fields += property_name(id) + ": " + value.data + "\r\n";
    }
    if (!fields.empty())
      parts.push_back(
          owned_part("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
                     "8bit\r\nContent-Description: item fields",
                     std::move(fields)));
  }

  uint64_t used = headers.size();
  for (const Part& p : parts) used += p.headers.size() + p.body.size() + 64;
  size_t index = 0;
  for (const OutlookAttachment& a : item.attachments) {
    ++index;
    std::string name = string_property(a.props, kPidAttachLongFilename).value_or("");
    if (name.empty()) name = string_property(a.props, kPidAttachFilename).value_or("");
    if (name.empty()) name = string_property(a.props, kPidDisplayName).value_or("");
    if (a.embedded) {
      if (depth >= kMaxEmbeddedDepth) {
        problems.push_back("embedded item nested deeper than " + std::to_string(kMaxEmbeddedDepth) +
                           " levels, not read");
        continue;
      }
      std::string inner;
      render_into(*a.embedded, max_bytes > used ? max_bytes - used : 0, depth + 1, problems, inner);
      if (used + inner.size() > max_bytes) {
        problems.push_back("embedded item " + std::to_string(index) + " (" +
                           std::to_string(inner.size()) +
                           " bytes) over the message size limit, "
                           "skipped");
        continue;
      }
      used += inner.size();
      std::string part_headers = "Content-Type: message/rfc822";
      if (!name.empty())
        part_headers +=
            "\r\nContent-Disposition: attachment; filename=\"" + header_value(name) + "\"";
      parts.push_back(owned_part(std::move(part_headers), std::move(inner)));
      continue;
    }
    if (a.over_limit || used + a.data.size() + 256 > max_bytes) {
      problems.push_back("attachment " + std::to_string(index) +
                         (name.empty() ? std::string() : " '" + name + "'") + " (" +
                         std::to_string(std::max<uint64_t>(a.data_size, a.data.size())) +
                         " bytes) over the message size limit, skipped");
      continue;
    }
    std::string mime = string_property(a.props, kPidAttachMimeTag).value_or("");
    const bool mime_ok =
        !mime.empty() && mime.find('/') != std::string::npos &&
        std::all_of(mime.begin(), mime.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("/.+-_", c) != nullptr;
        });
    if (!mime_ok) mime = "application/octet-stream";
    std::string part_headers = "Content-Type: " + mime;
    std::string quoted;
    for (char c : header_value(name))
      if (c != '"' && c != '\\') quoted += c;
    if (!name.empty()) part_headers += "; name=\"" + quoted + "\"";
    part_headers += "\r\nContent-Transfer-Encoding: binary\r\nContent-Disposition: attachment";
    if (!name.empty()) part_headers += "; filename=\"" + quoted + "\"";
    used += a.data.size() + part_headers.size();
    parts.push_back({std::move(part_headers), a.data, {}, true});
  }
  for (Part& p : parts)
    if (!p.owned.empty()) p.body = p.owned;

  // A boundary that no part contains.
  std::string boundary;
  for (unsigned n = 0;; ++n) {
    boundary = "=_credsift_" + std::to_string(depth) + "_" + std::to_string(n);
    const std::string delimiter = "--" + boundary;
    // glibc's memmem (a shift table on byte pairs) goes through attachments at several times
    // the speed of std::boyer_moore_horspool_searcher here.
    if (std::none_of(parts.begin(), parts.end(), [&](const Part& p) {
          return memmem(p.body.data(), p.body.size(), delimiter.data(), delimiter.size()) !=
                 nullptr;
        }))
      break;
  }
  size_t total = out.size() + headers.size() + 128 + boundary.size();
  for (const Part& p : parts) total += p.headers.size() + p.body.size() + boundary.size() + 12;
  out.reserve(total);
  out += headers;
  out += "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"";
  out += boundary;
  out += "\"\r\n\r\n";
  for (const Part& p : parts) {
    out += "--";
    out += boundary;
    out += "\r\n";
    out += p.headers;
    out += "\r\n\r\n";
    out += p.body;
    // The line break before a delimiter belongs to the delimiter: a binary part gets its own,
    // so that its last bytes stay its own.
    if (p.binary || out.back() != '\n') out += "\r\n";
  }
  out += "--";
  out += boundary;
  out += "--\r\n";
}

}  // namespace

std::string render_rfc5322(const OutlookItem& item, uint64_t max_bytes,
                           std::vector<std::string>& problems) {
  std::string out;
  render_into(item, max_bytes, 0, problems, out);
  return out;
}

std::string one_line_backtrace(const char* text) {
  std::string out;
  for (const char* p = text; *p; ++p) {
    if (*p == '\n') {
      if (!out.empty() && out.back() != ' ') out += "; ";
    } else {
      out += *p;
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out;
}

}  // namespace credsift::outlook_detail

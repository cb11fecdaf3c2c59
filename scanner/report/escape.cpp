#include "credsift/escape.hpp"

#include <cstdint>
#include <cstdio>

namespace credsift {

bool is_invisible_control(char32_t code) {
  return (code >= 0x80 && code <= 0x9F) || code == 0x200E || code == 0x200F ||
         (code >= 0x202A && code <= 0x202E) || (code >= 0x2066 && code <= 0x2069);
}

Utf8Char decode_utf8(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return {lead, 1};
  size_t length = 0;
  char32_t min_code = 0;
  if ((lead & 0xE0) == 0xC0)
    length = 2, min_code = 0x80;
  else if ((lead & 0xF0) == 0xE0)
    length = 3, min_code = 0x800;
  else if ((lead & 0xF8) == 0xF0)
    length = 4, min_code = 0x10000;
  else
    return {};
  if (i + length > text.size()) return {};
  char32_t code = lead & (0x3F >> (length - 1));
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return {};
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  if (code < min_code || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return {};
  return {code, length};
}

std::string escape_file_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  char buffer[8];
  for (size_t i = 0; i < name.size();) {
    const Utf8Char decoded = decode_utf8(name, i);
    if (decoded.length == 0) {
      std::snprintf(buffer, sizeof buffer, "\\x%02x", static_cast<unsigned char>(name[i]));
      out += buffer;
      ++i;
      continue;
    }
    if (name[i] == '\\') out += '\\';
    out.append(name.substr(i, decoded.length));
    i += decoded.length;
  }
  return out;
}

std::string escape_for_terminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char buffer[16];
  for (size_t i = 0; i < text.size();) {
    const Utf8Char decoded = decode_utf8(text, i);
    if (decoded.length == 0) {
      std::snprintf(buffer, sizeof buffer, "\\x%02x", static_cast<unsigned char>(text[i]));
      out += buffer;
      ++i;
      continue;
    }
    const char32_t code = decoded.code;
    if ((code < 0x20 && code != '\t') || code == 0x7F) {
      std::snprintf(buffer, sizeof buffer, "\\x%02x", static_cast<unsigned>(code));
      out += buffer;
    } else if (is_invisible_control(code)) {
      std::snprintf(buffer, sizeof buffer, "\\u{%x}", static_cast<unsigned>(code));
      out += buffer;
    } else {
      out.append(text.substr(i, decoded.length));
    }
    i += decoded.length;
  }
  return out;
}

}  // namespace credsift

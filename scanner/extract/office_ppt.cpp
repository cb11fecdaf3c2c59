// PowerPoint 97-2003 .ppt text (MS-PPT): the text atoms of the "PowerPoint Document" stream
// (TextCharsAtom UTF-16LE, TextBytesAtom 8-bit) and CString atoms (hyperlink targets, comments),
// found by a flat walk over the record tree: a container's header is stepped over and its
// children read in turn, so nesting costs no stack.
#include <cstdint>
#include <string>
#include <string_view>

#include "extract_internal.hpp"

namespace credsift::mime_detail {

namespace {

uint16_t le16(std::string_view s, size_t at) {
  return uint16_t(uint8_t(s[at]) | uint8_t(s[at + 1]) << 8);
}
uint32_t le32(std::string_view s, size_t at) {
  return uint32_t(le16(s, at)) | uint32_t(le16(s, at + 2)) << 16;
}

constexpr uint16_t kTextCharsAtom = 0x0FA0;
constexpr uint16_t kTextBytesAtom = 0x0FA8;
constexpr uint16_t kCString = 0x0FBA;

}  // namespace

OfficeText ppt_text(std::string_view stream, uint64_t max_output) {
  OfficeText result;
  std::string& out = result.text;
  size_t pos = 0;
  bool full = false;
  while (pos + 8 <= stream.size() && !full) {
    const uint16_t ver_instance = le16(stream, pos);
    const uint16_t type = le16(stream, pos + 2);
    const uint32_t len = le32(stream, pos + 4);
    pos += 8;
    if ((ver_instance & 0x0F) == 0x0F) continue;  // container: its children follow
    if (len > stream.size() - pos) {
      result.problems.push_back("PowerPoint record at offset " + std::to_string(pos - 8) +
                                " runs past the stream");
      break;
    }
    std::string_view d = stream.substr(pos, len);
    pos += len;
    std::string text;
    if (type == kTextCharsAtom || type == kCString) {
      uint32_t high = 0;
      for (size_t i = 0; i + 1 < d.size(); i += 2) {
        uint32_t u = le16(d, i);
        if (u >= 0xD800 && u <= 0xDBFF) {
          high = u;
          continue;
        }
        if (u >= 0xDC00 && u <= 0xDFFF) {
          if (!high) continue;
          u = 0x10000 + ((high - 0xD800) << 10) + (u - 0xDC00);
        }
        high = 0;
        append_utf8(text, u == '\r' || u == 0x0B ? '\n' : u);
      }
      // Program tags ("___PPT10") name binary extension data, not text.
      if (type == kCString && text.starts_with("___PPT")) continue;
    } else if (type == kTextBytesAtom) {
      for (char c : d) append_utf8(text, c == '\r' || c == 0x0B ? '\n' : uint8_t(c));
    } else {
      continue;
    }
    if (trim(text).empty()) continue;
    if (out.size() + text.size() + 1 > max_output) {
      full = true;
      result.problems.push_back("PowerPoint text beyond the decompressed-bytes limit");
      break;
    }
    out.append(text);
    out.push_back('\n');
  }
  return result;
}

}  // namespace credsift::mime_detail

// Compressed RTF (MS-OXRTFCP): Outlook's PR_RTF_COMPRESSED bodies, LZ77 with a 4 KiB ring
// dictionary primed with common RTF text ("LZFu"), or stored uncompressed ("MELA").
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "credsift/outlook.hpp"

namespace credsift {

namespace {

constexpr std::string_view kPrebuf =
    "{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern "
    "\\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0"
    "\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

uint32_t le32(std::string_view s, size_t at) {
  return uint32_t(uint8_t(s[at])) | uint32_t(uint8_t(s[at + 1])) << 8 |
         uint32_t(uint8_t(s[at + 2])) << 16 | uint32_t(uint8_t(s[at + 3])) << 24;
}

}  // namespace

LzfuResult decompress_lzfu(std::string_view in, size_t max_output) {
  LzfuResult r;
  if (in.size() < 16) {
    r.error = "compressed RTF header truncated";
    return r;
  }
  const uint32_t comp_size = le32(in, 0), raw_size = le32(in, 4), type = le32(in, 8);
  std::string_view data = in.substr(16);
  if (uint64_t(comp_size) + 4 <= in.size())
    data = in.substr(16, comp_size >= 12 ? comp_size - 12 : 0);
  if (comp_size + 4 > in.size()) r.error = "compressed RTF shorter than its header says";
  const size_t limit = std::min<size_t>(max_output, raw_size);
  if (type == 0x414C454D) {  // "MELA": stored
    r.text.assign(data.substr(0, std::min(limit, data.size())));
    return r;
  }
  if (type != 0x75465A4C) {  // "LZFu"
    r.error = "unknown compressed RTF type";
    return r;
  }
  std::array<char, 4096> dict{};
  std::copy(kPrebuf.begin(), kPrebuf.end(), dict.begin());
  uint32_t write = uint32_t(kPrebuf.size());
  size_t pos = 0;
  r.text.reserve(std::min<size_t>(limit, data.size() * 4));
  while (pos < data.size()) {
    const uint8_t control = uint8_t(data[pos++]);
    for (int bit = 0; bit < 8; ++bit) {
      if (pos >= data.size()) return r;
      if (!(control & (1u << bit))) {
        if (r.text.size() >= limit) {
          r.truncated = r.text.size() < raw_size;
          return r;
        }
        const char c = data[pos++];
        r.text.push_back(c);
        dict[write] = c;
        write = (write + 1) & 0xFFF;
        continue;
      }
      if (pos + 2 > data.size()) {
        r.error = "compressed RTF reference truncated";
        return r;
      }
      const uint32_t ref = uint32_t(uint8_t(data[pos])) << 8 | uint8_t(data[pos + 1]);
      pos += 2;
      uint32_t offset = ref >> 4;
      const uint32_t length = (ref & 0xF) + 2;
      if (offset == write) return r;  // the end marker
      for (uint32_t k = 0; k < length; ++k) {
        if (r.text.size() >= limit) {
          r.truncated = r.text.size() < raw_size;
          return r;
        }
        const char c = dict[offset];
        offset = (offset + 1) & 0xFFF;
        r.text.push_back(c);
        dict[write] = c;
        write = (write + 1) & 0xFFF;
      }
    }
  }
  return r;
}

}  // namespace credsift

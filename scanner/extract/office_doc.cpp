// Word 97-2003 .doc text (MS-DOC): the FIB names the table stream and the CLX; the CLX's piece
// table maps character positions to runs of 8-bit (windows-1252) or UTF-16LE text in the
// WordDocument stream. Field instructions are dropped and field results kept, as Word shows them.
#include <cstdint>
#include <string>
#include <string_view>

#include "extract_internal.hpp"

namespace credsift::mime_detail {

namespace {

constexpr size_t kMaxPieces = 1u << 20;

uint16_t le16(std::string_view s, size_t at) {
  return uint16_t(uint8_t(s[at]) | uint8_t(s[at + 1]) << 8);
}
uint32_t le32(std::string_view s, size_t at) {
  return uint32_t(le16(s, at)) | uint32_t(le16(s, at + 2)) << 16;
}

// Word's own control characters to text; field codes (between 0x13 and 0x14) dropped.
class WordText {
 public:
  explicit WordText(uint64_t max_output) : max_(max_output) {}

  void code_unit(uint32_t c) {
    if (c == 0x13) {
      ++field_depth_;
      in_instruction_ = true;
      return;
    }
    if (c == 0x14) {
      in_instruction_ = false;
      return;
    }
    if (c == 0x15) {
      if (field_depth_ > 0) --field_depth_;
      in_instruction_ = false;
      return;
    }
    if (in_instruction_) return;
    switch (c) {
      case 0x0D:
      case 0x0B:
      case 0x0C:
        put('\n');
        return;
      case 0x07:
        put('\t');
        return;
      case 0x09:
        put('\t');
        return;
      case 0x1E:
        put('-');
        return;
      case 0xA0:
        put(' ');
        return;
      default:
        break;
    }
    if (c < 0x20) return;  // pictures, footnote marks, optional hyphens ...
    if (c >= 0xD800 && c <= 0xDBFF) {
      high_ = c;
      return;
    }
    if (c >= 0xDC00 && c <= 0xDFFF) {
      if (!high_) return;
      c = 0x10000 + ((high_ - 0xD800) << 10) + (c - 0xDC00);
    }
    high_ = 0;
    if (c < 0x80) {
      put(char(c));
    } else {
      std::string u;
      append_utf8(u, c);
      for (char b : u) put(b);
    }
  }

  bool full() const { return full_; }
  std::string take() { return std::move(out_); }

 private:
  void put(char c) {
    if (out_.size() >= max_) {
      full_ = true;
      return;
    }
    out_.push_back(c);
  }
  uint64_t max_;
  std::string out_;
  uint32_t field_depth_ = 0;
  bool in_instruction_ = false;
  uint32_t high_ = 0;
  bool full_ = false;
};

// windows-1252 bytes 0x80-0x9F (compressed pieces use this code page, MS-DOC 2.4.1).
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

uint32_t cp1252(uint8_t b) { return b >= 0x80 && b < 0xA0 ? kCp1252High[b - 0x80] : b; }

}  // namespace

OfficeText doc_text(std::string_view word, std::string_view table0, std::string_view table1,
                    uint64_t max_output) {
  OfficeText result;
  if (word.size() < 0x22 || le16(word, 0) != 0xA5EC) {
    result.problems.push_back("Word document without a valid FIB");
    return result;
  }
  const uint16_t nfib = le16(word, 2);
  const uint16_t flags = le16(word, 0x0A);
  if (flags & 0x0100) {
    result.problems.push_back("Word document is encrypted; text not decoded");
    return result;
  }
  WordText text(max_output);
  if (nfib < 101) {
    // Word 6/95: one run of 8-bit text between fcMin and fcMac.
    const uint32_t fc_min = le32(word, 0x18), fc_mac = le32(word, 0x1C);
    if (fc_min >= fc_mac || fc_mac > word.size()) {
      result.problems.push_back("Word 6/95 document with text bounds outside the stream");
      return result;
    }
    for (uint32_t i = fc_min; i < fc_mac && !text.full(); ++i) text.code_unit(cp1252(word[i]));
    result.text = text.take();
    return result;
  }
  // FibBase (32 bytes), csw + fibRgW, cslw + fibRgLw, cbRgFcLcb + fibRgFcLcb: fcClx is pair 33.
  size_t at = 32;
  const size_t csw = le16(word, at);
  at += 2 + csw * 2;
  if (at + 2 > word.size()) {
    result.problems.push_back("Word FIB truncated");
    return result;
  }
  const size_t cslw = le16(word, at);
  at += 2 + cslw * 4;
  if (at + 2 > word.size()) {
    result.problems.push_back("Word FIB truncated");
    return result;
  }
  const size_t pairs = le16(word, at);
  at += 2;
  if (pairs <= 33 || at + 34 * 8 > word.size()) {
    result.problems.push_back("Word FIB without a piece table entry");
    return result;
  }
  const uint32_t fc_clx = le32(word, at + 33 * 8), lcb_clx = le32(word, at + 33 * 8 + 4);
  const std::string_view table = (flags & 0x0200) ? table1 : table0;
  if (table.empty() || uint64_t(fc_clx) + lcb_clx > table.size() || lcb_clx == 0) {
    result.problems.push_back("Word piece table outside the table stream");
    return result;
  }
  std::string_view clx = table.substr(fc_clx, lcb_clx);
  // Skip the Prc entries (formatting) up to the Pcdt.
  size_t p = 0;
  while (p < clx.size() && clx[p] == 0x01) {
    if (p + 3 > clx.size()) break;
    p += 3 + le16(clx, p + 1);
  }
  if (p + 5 > clx.size() || clx[p] != 0x02) {
    result.problems.push_back("Word piece table (Pcdt) missing");
    return result;
  }
  const uint32_t lcb = le32(clx, p + 1);
  std::string_view plc = clx.substr(p + 5);
  if (lcb < 4 || lcb > plc.size() || (lcb - 4) % 12 != 0) {
    result.problems.push_back("Word piece table has a bad size");
    return result;
  }
  const size_t pieces = (lcb - 4) / 12;
  if (pieces > kMaxPieces) {
    result.problems.push_back("Word piece table has too many pieces");
    return result;
  }
  bool reported = false;
  for (size_t i = 0; i < pieces && !text.full(); ++i) {
    const uint32_t cp_start = le32(plc, i * 4), cp_end = le32(plc, i * 4 + 4);
    if (cp_end <= cp_start) continue;
    const uint64_t chars = cp_end - cp_start;
    const size_t pcd = (pieces + 1) * 4 + i * 8;
    const uint32_t fc_raw = le32(plc, pcd + 2);
    const bool compressed = fc_raw & 0x40000000u;
    const uint64_t fc = compressed ? (fc_raw & 0x3FFFFFFFu) / 2 : (fc_raw & 0x3FFFFFFFu);
    const uint64_t bytes = compressed ? chars : chars * 2;
    if (fc + bytes > word.size()) {
      if (!reported)
        result.problems.push_back("Word text piece " + std::to_string(i) +
                                  " lies outside the WordDocument stream");
      reported = true;
      continue;
    }
    for (uint64_t k = 0; k < chars && !text.full(); ++k) {
      if (compressed)
        text.code_unit(cp1252(uint8_t(word[fc + k])));
      else
        text.code_unit(le16(word, size_t(fc + 2 * k)));
    }
  }
  if (text.full()) result.problems.push_back("Word text beyond the decompressed-bytes limit");
  result.text = text.take();
  return result;
}

}  // namespace credsift::mime_detail

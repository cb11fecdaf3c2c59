// Excel 97-2003 .xls text (MS-XLS, BIFF8; BIFF5 "Book" streams too): the shared string table
// (SST, continued across CONTINUE records), string cells (LABELSST, LABEL, RSTRING, formula
// STRING results) and numbers (NUMBER, RK, MULRK, formula results). Each sheet starts with its
// name on a line; rows are lines, cells are separated by tabs.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "extract_internal.hpp"

namespace credsift::mime_detail {

namespace {

constexpr size_t kMaxSharedStrings = 1u << 22;

uint16_t le16(std::string_view s, size_t at) {
  return uint16_t(uint8_t(s[at]) | uint8_t(s[at + 1]) << 8);
}
uint32_t le32(std::string_view s, size_t at) {
  return uint32_t(le16(s, at)) | uint32_t(le16(s, at + 2)) << 16;
}

// Characters of an XLUnicodeString body: 8-bit (high bytes zero, Latin-1) or UTF-16LE.
void append_chars(std::string_view bytes, bool high, std::string& out) {
  if (!high) {
    for (char c : bytes) append_utf8(out, uint8_t(c));
    return;
  }
  uint32_t pending_high = 0;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
    uint32_t u = le16(bytes, i);
    if (u >= 0xD800 && u <= 0xDBFF) {
      pending_high = u;
      continue;
    }
    if (u >= 0xDC00 && u <= 0xDFFF) {
      if (!pending_high) continue;
      u = 0x10000 + ((pending_high - 0xD800) << 10) + (u - 0xDC00);
    }
    pending_high = 0;
    append_utf8(out, u);
  }
}

// The SST record and its CONTINUE records read as one sequence; a string's characters that
// cross into a CONTINUE record restart with a new option byte (MS-XLS 2.5.293).
class ChunkReader {
 public:
  explicit ChunkReader(std::vector<std::string_view> chunks) : chunks_(std::move(chunks)) {}

  bool u8(uint8_t& v) {
    if (!ready()) return false;
    v = uint8_t(chunks_[i_][pos_++]);
    return true;
  }
  bool u16(uint16_t& v) {
    uint8_t a, b;
    if (!u8(a) || !u8(b)) return false;
    v = uint16_t(a | b << 8);
    return true;
  }
  bool u32(uint32_t& v) {
    uint16_t a, b;
    if (!u16(a) || !u16(b)) return false;
    v = uint32_t(a) | uint32_t(b) << 16;
    return true;
  }
  bool skip(uint64_t n) {
    while (n > 0) {
      if (!ready()) return false;
      const size_t step = size_t(std::min<uint64_t>(n, chunks_[i_].size() - pos_));
      pos_ += step;
      n -= step;
    }
    return true;
  }
  bool chars(size_t count, bool high, std::string& out) {
    while (count > 0) {
      if (i_ >= chunks_.size()) return false;
      if (pos_ >= chunks_[i_].size()) {
        if (i_ + 1 >= chunks_.size()) return false;
        ++i_;
        pos_ = 0;
        uint8_t flags;
        if (!u8(flags)) return false;
        high = flags & 1;
        continue;
      }
      const size_t width = high ? 2 : 1;
      const size_t n = std::min(count, (chunks_[i_].size() - pos_) / width);
      if (n == 0) {
        pos_ = chunks_[i_].size();  // an odd byte left: the next chunk carries the character
        continue;
      }
      append_chars(chunks_[i_].substr(pos_, n * width), high, out);
      pos_ += n * width;
      count -= n;
    }
    return true;
  }

 private:
  bool ready() {
    while (i_ < chunks_.size() && pos_ >= chunks_[i_].size()) {
      ++i_;
      pos_ = 0;
    }
    return i_ < chunks_.size();
  }
  std::vector<std::string_view> chunks_;
  size_t i_ = 0, pos_ = 0;
};

std::string number_text(double v) {
  if (!std::isfinite(v)) return {};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

double rk_value(uint32_t rk) {
  double v;
  if (rk & 2) {
    v = double(int32_t(rk) >> 2);
  } else {
    uint64_t bits = uint64_t(rk & 0xFFFFFFFCu) << 32;
    std::memcpy(&v, &bits, sizeof v);
  }
  return (rk & 1) ? v / 100 : v;
}

double le_double(std::string_view s, size_t at) {
  uint64_t bits = uint64_t(le32(s, at)) | uint64_t(le32(s, at + 4)) << 32;
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

}  // namespace

OfficeText xls_text(std::string_view book, uint64_t max_output) {
  OfficeText result;
  std::string& out = result.text;
  std::vector<std::string> sst;
  std::vector<std::string> sheet_names;
  size_t sheet = 0;
  bool biff8 = true, in_sheet = false, row_open = false, full = false;
  uint32_t last_row = UINT32_MAX;
  auto cell = [&](uint32_t row, std::string_view value) {
    if (!in_sheet || full) return;
    if (row_open && row == last_row)
      out.push_back('\t');
    else if (row_open)
      out.push_back('\n');
    row_open = true;
    last_row = row;
    out.append(value);
    if (out.size() > max_output) {
      out.resize(size_t(max_output));
      full = true;
    }
  };
  // An XLUnicodeString (BIFF8) or an 8-bit string (BIFF5) within one record.
  auto record_string = [&](std::string_view d, size_t at, bool wide_count) -> std::string {
    std::string s;
    if (at + (wide_count ? 2 : 1) > d.size()) return s;
    size_t cch = wide_count ? le16(d, at) : uint8_t(d[at]);
    at += wide_count ? 2 : 1;
    bool high = false;
    if (biff8) {
      if (at >= d.size()) return s;
      high = d[at] & 1;
      ++at;
    }
    const size_t bytes = std::min(cch * (high ? 2 : 1), d.size() - at);
    append_chars(d.substr(at, bytes), high, s);
    return s;
  };
  size_t pos = 0;
  bool pending_formula_string = false;
  uint32_t formula_row = 0;
  while (pos + 4 <= book.size() && !full) {
    const uint16_t type = le16(book, pos), len = le16(book, pos + 2);
    if (pos + 4 + len > book.size()) {
      result.problems.push_back("Excel record at offset " + std::to_string(pos) +
                                " runs past the Workbook stream");
      break;
    }
    std::string_view d = book.substr(pos + 4, len);
    const size_t next = pos + 4 + len;
    switch (type) {
      case 0x0809:  // BOF
        if (len >= 4) {
          biff8 = le16(d, 0) >= 0x0600;
          if (le16(d, 2) == 0x0010) {
            in_sheet = true;
            if (!out.empty()) out.append("\n");
            out.append(sheet < sheet_names.size() ? sheet_names[sheet] : "Sheet");
            out.push_back('\n');
            row_open = false;
            ++sheet;
          } else {
            in_sheet = false;
          }
        }
        break;
      case 0x000A:  // EOF
        if (in_sheet && row_open) out.push_back('\n');
        in_sheet = row_open = false;
        break;
      case 0x002F:  // FILEPASS
        result.problems.push_back("Excel workbook is encrypted; text not decoded");
        return result;
      case 0x0085:  // BOUNDSHEET
        if (len >= 7 && sheet_names.size() < 65536)
          sheet_names.push_back(record_string(d, 6, false));
        break;
      case 0x00FC: {  // SST
        std::vector<std::string_view> chunks{d.substr(std::min<size_t>(8, d.size()))};
        size_t p = next;
        while (p + 4 <= book.size() && le16(book, p) == 0x003C) {
          const uint16_t clen = le16(book, p + 2);
          if (p + 4 + clen > book.size()) break;
          chunks.push_back(book.substr(p + 4, clen));
          p += 4 + clen;
        }
        const uint32_t unique = len >= 8 ? le32(d, 4) : 0;
        ChunkReader r(std::move(chunks));
        uint64_t total = 0;
        for (uint32_t i = 0; i < unique && sst.size() < kMaxSharedStrings; ++i) {
          uint16_t cch;
          uint8_t flags;
          uint16_t runs = 0;
          uint32_t ext = 0;
          if (!r.u16(cch) || !r.u8(flags)) break;
          if ((flags & 0x08) && !r.u16(runs)) break;
          if ((flags & 0x04) && !r.u32(ext)) break;
          std::string s;
          if (!r.chars(cch, flags & 1, s)) {
            result.problems.push_back("Excel shared string table truncated");
            break;
          }
          total += s.size();
          if (total > max_output) break;
          sst.push_back(std::move(s));
          if (!r.skip(uint64_t(runs) * 4 + ext)) break;
        }
        break;
      }
      case 0x00FD:  // LABELSST
        if (len >= 10) {
          const uint32_t index = le32(d, 6);
          if (index < sst.size()) cell(le16(d, 0), sst[index]);
        }
        break;
      case 0x0204:  // LABEL
      case 0x00D6:  // RSTRING
        if (len >= 8) cell(le16(d, 0), record_string(d, 6, true));
        break;
      case 0x0203:  // NUMBER
        if (len >= 14) cell(le16(d, 0), number_text(le_double(d, 6)));
        break;
      case 0x027E:  // RK
        if (len >= 10) cell(le16(d, 0), number_text(rk_value(le32(d, 6))));
        break;
      case 0x00BD:  // MULRK: row, first column, (ixfe, rk)*, last column
        if (len >= 6)
          for (size_t at = 4; at + 6 <= size_t(len) - 2; at += 6)
            cell(le16(d, 0), number_text(rk_value(le32(d, at + 2))));
        break;
      case 0x0006:  // FORMULA: a number, or a string in the STRING record that follows
        if (len >= 14) {
          if (le16(d, 12) != 0xFFFF) {
            cell(le16(d, 0), number_text(le_double(d, 6)));
          } else if (uint8_t(d[6]) == 0) {
            pending_formula_string = true;
            formula_row = le16(d, 0);
          }
        }
        break;
      case 0x0207:  // STRING
        if (pending_formula_string) cell(formula_row, record_string(d, 0, true));
        pending_formula_string = false;
        break;
      default:
        break;
    }
    if (type != 0x0006 && type != 0x0207) pending_formula_string = false;
    pos = next;
  }
  if (full) result.problems.push_back("Excel text beyond the decompressed-bytes limit");
  return result;
}

}  // namespace credsift::mime_detail

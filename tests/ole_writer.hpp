#pragma once
// Test helper: minimal OLE2 compound files (MS-CFB version 3, 512-byte sectors) and the legacy
// Office streams inside them (.doc FIB + piece table, .xls BIFF8 records, .ppt text atoms), so
// that tests can build the documents they read. Streams are padded to the 4096-byte mini-stream
// cutoff so that every stream lives in regular sectors.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace credsift::test {

inline void put16(std::string& s, uint16_t v) {
  s.push_back(char(v & 0xFF));
  s.push_back(char(v >> 8));
}
inline void put32(std::string& s, uint32_t v) {
  put16(s, uint16_t(v & 0xFFFF));
  put16(s, uint16_t(v >> 16));
}
inline void set32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = char((v >> (8 * i)) & 0xFF);
}

// streams: (name, bytes), all in the root storage.
inline std::string ole_file(std::vector<std::pair<std::string, std::string>> streams) {
  constexpr uint32_t kEnd = 0xFFFFFFFE, kFree = 0xFFFFFFFF, kFatSect = 0xFFFFFFFD,
                     kNoStream = 0xFFFFFFFF;
  for (auto& [name, data] : streams)
    if (data.size() < 4096) data.resize(4096, '\0');
  std::vector<uint32_t> fat;
  std::string body;
  std::vector<uint32_t> starts;
  for (auto& [name, data] : streams) {
    const uint32_t first = uint32_t(fat.size());
    starts.push_back(first);
    const size_t sectors = (data.size() + 511) / 512;
    for (size_t i = 0; i < sectors; ++i)
      fat.push_back(i + 1 == sectors ? kEnd : uint32_t(fat.size() + 1));
    std::string padded = data;
    padded.resize(sectors * 512, '\0');
    body += padded;
  }
  // Directory: root + one entry per stream, four 128-byte entries per sector.
  std::string dir;
  auto entry = [&](const std::string& name, uint8_t type, uint32_t left, uint32_t right,
                   uint32_t child, uint32_t start, uint32_t size) {
    std::string e(128, '\0');
    for (size_t i = 0; i < name.size() && i < 31; ++i) e[2 * i] = name[i];
    e[64] = char((name.size() + 1) * 2);
    e[66] = char(type);
    e[67] = 1;  // black
    set32(e, 68, left);
    set32(e, 72, right);
    set32(e, 76, child);
    set32(e, 116, start);
    set32(e, 120, size);
    dir += e;
  };
  // Siblings as a right-leaning chain in CFB order (shorter names first, then by name).
  std::vector<size_t> order(streams.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const std::string &x = streams[a].first, &y = streams[b].first;
    if (x.size() != y.size()) return x.size() < y.size();
    std::string ux = x, uy = y;
    for (char& c : ux) c = char(toupper(c));
    for (char& c : uy) c = char(toupper(c));
    return ux < uy;
  });
  std::vector<uint32_t> right(streams.size(), kNoStream);
  for (size_t k = 0; k + 1 < order.size(); ++k) right[order[k]] = uint32_t(order[k + 1] + 1);
  entry("Root Entry", 5, kNoStream, kNoStream, order.empty() ? kNoStream : uint32_t(order[0] + 1),
        kEnd, 0);
  for (size_t i = 0; i < streams.size(); ++i)
    entry(streams[i].first, 2, kNoStream, right[i], kNoStream, starts[i],
          uint32_t(streams[i].second.size()));
  while (dir.size() % 512) dir += std::string(128, '\0');
  // Unused directory entries must have no siblings: mark them free (all-zero is "empty").
  const uint32_t dir_start = uint32_t(fat.size());
  const size_t dir_sectors = dir.size() / 512;
  for (size_t i = 0; i < dir_sectors; ++i)
    fat.push_back(i + 1 == dir_sectors ? kEnd : uint32_t(fat.size() + 1));
  body += dir;
  // FAT sectors: 128 entries each, including themselves.
  size_t fat_sectors = 1;
  while ((fat.size() + fat_sectors + 127) / 128 > fat_sectors) ++fat_sectors;
  const uint32_t fat_start = uint32_t(fat.size());
  for (size_t i = 0; i < fat_sectors; ++i) fat.push_back(kFatSect);
  fat.resize(fat_sectors * 128, kFree);
  std::string fat_bytes;
  for (uint32_t v : fat) put32(fat_bytes, v);
  body += fat_bytes;
  std::string header("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);
  header.resize(0x18, '\0');
  put16(header, 0x003E);
  put16(header, 0x0003);
  put16(header, 0xFFFE);
  put16(header, 9);
  put16(header, 6);
  header.resize(0x2C, '\0');
  put32(header, uint32_t(fat_sectors));
  put32(header, dir_start);
  put32(header, 0);
  put32(header, 4096);
  put32(header, kEnd);
  put32(header, 0);
  put32(header, kEnd);
  put32(header, 0);
  for (size_t i = 0; i < 109; ++i) put32(header, i < fat_sectors ? uint32_t(fat_start + i) : kFree);
  header.resize(512, '\0');
  return header + body;
}

// Word 97 document whose text is one 8-bit piece (or UTF-16 when `utf16`).
inline std::string word_document(const std::string& text, bool utf16 = false) {
  std::string word(0x800, '\0');
  word[0] = char(0xEC);
  word[1] = char(0xA5);
  word[2] = char(0xC1);  // nFib 0x00C1 (Word 97)
  word[0x0A] = 0x00;
  word[0x0B] = 0x02;  // fWhichTblStm: 1Table
  std::string fib;
  put16(fib, 14);
  fib += std::string(28, '\0');
  put16(fib, 22);
  std::string lw(88, '\0');
  set32(lw, 12, uint32_t(text.size()));  // ccpText
  fib += lw;
  put16(fib, 93);
  std::string pairs(93 * 8, '\0');
  std::string clx;
  clx.push_back(0x02);
  put32(clx, 16);
  put32(clx, 0);
  put32(clx, uint32_t(text.size()));
  put16(clx, 0);
  put32(clx, utf16 ? 0x800u : (0x800u * 2) | 0x40000000u);
  put16(clx, 0);
  set32(pairs, 33 * 8, 0);                         // fcClx in 1Table
  set32(pairs, 33 * 8 + 4, uint32_t(clx.size()));  // lcbClx
  fib += pairs;
  word.replace(32, fib.size(), fib);
  if (utf16)
    for (char c : text) put16(word, uint8_t(c));
  else
    word += text;
  return ole_file({{"WordDocument", word}, {"1Table", clx}});
}

inline std::string biff_record(uint16_t type, const std::string& data) {
  std::string r;
  put16(r, type);
  put16(r, uint16_t(data.size()));
  return r + data;
}

// Excel 97 workbook: one sheet named `sheet`, row 0 holds the strings (through the SST), row 1
// one number.
inline std::string excel_workbook(const std::string& sheet, const std::vector<std::string>& cells,
                                  double number) {
  std::string bof;
  put16(bof, 0x0600);
  put16(bof, 0x0005);
  bof += std::string(12, '\0');
  std::string book = biff_record(0x0809, bof);
  std::string bound;
  put32(bound, 0);
  put16(bound, 0);
  bound.push_back(char(sheet.size()));
  bound.push_back(0);
  bound += sheet;
  book += biff_record(0x0085, bound);
  std::string sst;
  put32(sst, uint32_t(cells.size()));
  put32(sst, uint32_t(cells.size()));
  for (const std::string& c : cells) {
    put16(sst, uint16_t(c.size()));
    sst.push_back(0);
    sst += c;
  }
  book += biff_record(0x00FC, sst);
  book += biff_record(0x000A, "");
  std::string sheet_bof;
  put16(sheet_bof, 0x0600);
  put16(sheet_bof, 0x0010);
  sheet_bof += std::string(12, '\0');
  book += biff_record(0x0809, sheet_bof);
  for (size_t i = 0; i < cells.size(); ++i) {
    std::string l;
    put16(l, 0);
    put16(l, uint16_t(i));
    put16(l, 15);
    put32(l, uint32_t(i));
    book += biff_record(0x00FD, l);
  }
  std::string n;
  put16(n, 1);
  put16(n, 0);
  put16(n, 15);
  std::string bits(8, '\0');
  std::memcpy(bits.data(), &number, 8);
  n += bits;
  book += biff_record(0x0203, n);
  book += biff_record(0x000A, "");
  return ole_file({{"Workbook", book}});
}

inline std::string ppt_record(uint16_t ver_instance, uint16_t type, const std::string& data) {
  std::string r;
  put16(r, ver_instance);
  put16(r, type);
  put32(r, uint32_t(data.size()));
  return r + data;
}

// PowerPoint 97 document: a Document container holding one UTF-16 text atom per line of
// `chars_text` and one 8-bit text atom of `bytes_text`.
inline std::string powerpoint_document(const std::string& chars_text,
                                       const std::string& bytes_text) {
  std::string utf16;
  for (char c : chars_text) put16(utf16, uint8_t(c));
  std::string slides = ppt_record(0x0000, 0x0FA0, utf16) + ppt_record(0x0000, 0x0FA8, bytes_text);
  std::string list = ppt_record(0x000F, 0x0FF0, slides);
  std::string doc = ppt_record(0x000F, 0x03E8, list);
  return ole_file({{"PowerPoint Document", doc}, {"Current User", std::string(64, '\0')}});
}

}  // namespace credsift::test

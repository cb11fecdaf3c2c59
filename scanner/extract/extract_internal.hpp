#pragma once
// Helpers shared by the extract stage's translation units and the decode stage that calls it;
// not part of the public contract. The two stages are one static library pair: mime calls
// decode_blob for attachments, extract calls decode_into for messages inside archives.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../mime/mime_internal.hpp"
#include "credsift/extract.hpp"

namespace credsift::mime_detail {

// The recursion of nested archives uses the native stack: keep it shallow whatever is asked.
inline constexpr size_t kHardArchiveDepth = 32;
inline constexpr size_t kMaxPdfPages = 2000;

inline bool starts_with_bytes(std::string_view s, std::string_view magic) {
  return s.size() >= magic.size() && s.substr(0, magic.size()) == magic;
}

inline std::string_view head(std::string_view s, size_t n) {
  return s.substr(0, std::min(n, s.size()));
}

// An attachment or archive entry that is not plain text (or may hide more): archives, OOXML,
// PDF, credential files, UTF-16 or sniffed text. `path` names it; `offset` is where its part
// starts in the top-level message (problems point there).
void decode_blob(std::string_view bytes, std::string_view name, const std::string& path,
                 uint64_t offset, size_t archive_depth, DecodeContext& ctx, DecodedMessage& dm);

// Emits a CredentialFile segment when the bytes are a credential file; true when they were.
bool emit_credential_file(std::string_view bytes, const std::string& path, DecodedMessage& dm);

// uuencoded blocks ("begin 644 name" ... "end") in a text body, decoded as attachments.
void decode_uuencoded_blocks(std::string_view text, const std::string& path, uint64_t offset,
                             size_t archive_depth, DecodeContext& ctx, DecodedMessage& dm);

// Do the bytes start with a UTF-16 byte order mark?
bool utf16_with_bom(std::string_view bytes);
// iconv's "UTF-16" reads the byte order mark and drops it.
inline std::string utf16_to_utf8(std::string_view bytes) { return to_utf8(bytes, "UTF-16"); }
// No NUL and few control bytes in the first 8 KiB: decoded as text.
bool is_text_like(std::string_view bytes);

// Takes `bytes` of output from the message's decompression budget; reports (once) and returns
// false when it is spent.
bool charge(DecodeContext& ctx, uint64_t bytes, const std::string& path, uint64_t offset,
            DecodedMessage& dm);

// A message inside an archive or attached as a file is decoded as a whole message, its paths
// under the file's.
bool names_a_message(std::string_view name);
void decode_nested_message(std::string_view bytes, const std::string& path, uint64_t offset,
                           size_t depth, DecodeContext& ctx, DecodedMessage& dm);

// --- archives (archive.cpp) ---
enum class Container { None, Zip, Tar, SevenZip, Compressed };
Container container_of(std::string_view bytes);
void decode_archive(std::string_view bytes, std::string_view name, const std::string& path,
                    uint64_t offset, size_t depth, Container kind, DecodeContext& ctx,
                    DecodedMessage& dm);

// --- XML text of OOXML parts (ooxml.cpp) ---
// Appends XML character data with its entities and character references decoded.
void append_xml_text(std::string_view s, std::string& out);
// Local name of the tag starting at s[i] == '<' ("w:p" -> "p"), whether it closes, and its end.
struct Tag {
  std::string_view name;
  std::string_view raw;  // between '<' and '>'
  bool closing = false;
  bool self_closing = false;
  size_t end = std::string_view::npos;  // index after '>'
};
Tag read_tag(std::string_view s, size_t i);
std::string_view attribute(std::string_view raw, std::string_view name);
// Text of a WordprocessingML / DrawingML / SpreadsheetML part: element text, paragraphs and
// rows as lines, cells separated by tabs; shared strings resolved in worksheets.
std::string ooxml_text(std::string_view xml, const std::vector<std::string>* shared);
std::vector<std::string> shared_strings(std::string_view xml);
bool is_ooxml_text_part(std::string_view name);

// --- RTF (rtf.cpp) ---
bool is_rtf(std::string_view bytes);
void decode_rtf(std::string_view bytes, const std::string& path, uint64_t offset, SegmentKind kind,
                DecodeContext& ctx, DecodedMessage& dm);

// --- TNEF (tnef.cpp) ---
bool is_tnef(std::string_view bytes);
void decode_tnef(std::string_view bytes, const std::string& path, uint64_t offset, size_t depth,
                 DecodeContext& ctx, DecodedMessage& dm);

// --- legacy Office in OLE2 compound files (office*.cpp) ---
bool is_ole2(std::string_view bytes);
// A compound file read from memory through libolecf.
class OleFile {
 public:
  explicit OleFile(std::string_view bytes);  // `bytes` must outlive the object
  ~OleFile();
  OleFile(const OleFile&) = delete;
  OleFile& operator=(const OleFile&) = delete;
  bool ok() const;
  // A stream of the root storage, whole (never more bytes than the file has); none when absent
  // or unreadable.
  std::optional<std::string> stream(std::string_view name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
// Text of a Word, Excel or PowerPoint document; false when the compound file is none of them.
bool decode_ole_document(std::string_view bytes, const std::string& path, uint64_t offset,
                         DecodeContext& ctx, DecodedMessage& dm);
// The readers of each format's streams, at most max_output bytes of UTF-8 text each.
struct OfficeText {
  std::string text;
  std::vector<std::string> problems;
};
OfficeText doc_text(std::string_view word_document, std::string_view table0,
                    std::string_view table1, uint64_t max_output);
OfficeText xls_text(std::string_view workbook, uint64_t max_output);
OfficeText ppt_text(std::string_view powerpoint_document, uint64_t max_output);

// --- PDF (pdf.cpp) ---
// poppler-backed text of a PDF attachment, our own reader first.
void decode_pdf(std::string_view bytes, const std::string& path, uint64_t offset,
                DecodeContext& ctx, DecodedMessage& dm);

// Our own PDF text extractor (pdf.cpp), tried before poppler: it reads plain and Flate content
// streams with simple fonts in standard encodings or ToUnicode CMaps, and declines everything
// else (handled == false: nothing was reported, poppler must read the file).
struct PdfTextLimits {
  size_t max_pages = 2000;               // pages read; page_count still counts them all
  uint64_t max_inflated = 256ull << 20;  // bytes inflated from streams
  double max_compression_ratio = 200;    // inflated / file bytes, above 1 MB (deflate bombs)
};
struct PdfText {
  bool handled = false;
  size_t page_count = 0;
  std::vector<std::string> pages;  // UTF-8, poppler's page::text() layout ("\f" ends a page)
};
// A limit that stops inflation is reported to `problems` (naming `path`, at `offset`); the
// pages read before it keep their text and the result is still handled.
PdfText pdf_text_fast(std::string_view bytes, const PdfTextLimits& limits, const std::string& path,
                      uint64_t offset, std::vector<DecodeProblem>& problems);

}  // namespace credsift::mime_detail

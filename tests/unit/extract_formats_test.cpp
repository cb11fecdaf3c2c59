// The extract stage's readers for RTF, compressed RTF (LZFu), TNEF, legacy Office binaries
// (.doc, .xls, .ppt through OLE2) and OpenDocument, on documents the tests build themselves.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "../../scanner/extract/extract_internal.hpp"
#include "../archive_writer.hpp"
#include "../ole_writer.hpp"
#include "credsift/extract.hpp"

using namespace credsift;
using namespace credsift::test;
using namespace credsift::mime_detail;

namespace {

DecodedMessage decode(const std::string& bytes, const std::string& name,
                      const DecodeLimits& limits = {}) {
  DecodedMessage dm;
  decode_attachment(bytes, name, "2:attachment=" + name, limits, dm);
  return dm;
}

std::string text_at(const DecodedMessage& dm, const std::string& path) {
  for (const Segment& s : dm.segments)
    if (s.part_path == path) return std::string(s.text);
  return "<no segment " + path + ">";
}

std::string paths(const DecodedMessage& dm) {
  std::string out;
  for (const Segment& s : dm.segments) out += s.part_path + "\n";
  return out;
}

}  // namespace

// --- RTF ---------------------------------------------------------------------------------

TEST(Rtf, ParagraphsEscapesAndUnicode) {
  const std::string rtf =
      "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fswiss Arial;}}"
      "{\\colortbl;\\red255\\green0\\blue0;}{\\stylesheet{\\s0 Normal;}}"
      "{\\*\\generator Writer;}\\pard Hello \\b world\\b0\\par "
      "caf\\'e9 \\u8364?5\\tab x\\line \\{braces\\}\\par}";
  RtfText t = rtf_to_text(rtf);
  EXPECT_EQ(t.text, "Hello world\ncaf\u00e9 \u20ac5\tx\n{braces}\n");
  EXPECT_FALSE(t.unbalanced);
}

TEST(Rtf, CodePagesFromFontsAndDocument) {
  // \ansicpg1251 for the document; font 1 is Greek (\fcharset161).
  const std::string rtf =
      "{\\rtf1\\ansi\\ansicpg1251{\\fonttbl{\\f0 Times;}{\\f1\\fcharset161 Greek;}}"
      "\\f0 \\'cf\\'e0\\'f0\\'ee\\'eb\\'fc \\f1 \\'e1\\par}";
  EXPECT_EQ(rtf_to_text(rtf).text, "\u041f\u0430\u0440\u043e\u043b\u044c \u03b1\n");
}

TEST(Rtf, UnicodeFallbackSkippingFollowsUc) {
  EXPECT_EQ(rtf_to_text("{\\rtf1\\uc2 a\\u1234\\'3f\\'3fb\\uc0\\u1235 c}").text, "a\u04d2b\u04d3c");
  // A surrogate pair as two \u words.
  EXPECT_EQ(rtf_to_text("{\\rtf1 \\u-10179?\\u-8704?}").text, "\U0001F600");
}

TEST(Rtf, SkipsBinaryPicturesAndObjectData) {
  std::string rtf =
      "{\\rtf1 before {\\pict\\pngblip 89504e47}{\\object{\\*\\objdata 0102}"
      "{\\result shown}} \\bin5 {}}\\ after}";
  EXPECT_EQ(rtf_to_text(rtf).text, "before shown after");
}

TEST(Rtf, HtmlEncapsulatedKeepsTextOutsideHtmlrtf) {
  const std::string rtf =
      "{\\rtf1\\ansi\\fromhtml1 {\\*\\htmltag19 <html>}\\htmlrtf {\\fonttbl}\\htmlrtf0 "
      "token=abc{\\*\\htmltag84 <br>}\\htmlrtf \\par \\htmlrtf0 next}";
  EXPECT_EQ(rtf_to_text(rtf).text, "token=abc\nnext");
}

TEST(Rtf, HostileInputIsBounded) {
  std::string deep(200000, '{');
  deep = "{\\rtf1 " + deep + "x";
  RtfText t = rtf_to_text(deep);
  EXPECT_EQ(t.text, "x");
  EXPECT_TRUE(t.unbalanced);
  RtfText capped = rtf_to_text("{\\rtf1 " + std::string(1000, 'a') + "}", 100);
  EXPECT_TRUE(capped.truncated);
  EXPECT_LE(capped.text.size(), 100u);
  // \bin with a length beyond the input, a lone backslash, \'h at the end.
  EXPECT_EQ(rtf_to_text("{\\rtf1 a\\bin999999999 zz").text, "a");
  EXPECT_EQ(rtf_to_text("{\\rtf1 a\\").text, "a");
  EXPECT_EQ(rtf_to_text("{\\rtf1 a\\'4").text, "a");
}

TEST(Rtf, AttachmentAndPartPath) {
  DecodedMessage dm = decode("{\\rtf1\\ansi password: hunter2-rtf\\par}", "notes.rtf");
  EXPECT_EQ(text_at(dm, "2:attachment=notes.rtf"), "password: hunter2-rtf\n") << paths(dm);
}

// --- compressed RTF ----------------------------------------------------------------------

// Compressing with literals only: a control byte of zero bits before every 8 literals, then the
// end marker (a reference to the write position).
std::string lzfu_literals(const std::string& raw) {
  std::string data;
  size_t i = 0;
  uint32_t write = 207;
  while (true) {
    const size_t n = std::min<size_t>(8, raw.size() - i);
    if (n == 8) {
      data.push_back(0);
      data += raw.substr(i, 8);
      i += 8;
      write = (write + 8) & 0xFFF;
      continue;
    }
    data.push_back(char(1u << n));
    data += raw.substr(i, n);
    write = (write + uint32_t(n)) & 0xFFF;
    data.push_back(char(write >> 4));
    data.push_back(char((write & 0xF) << 4));
    break;
  }
  std::string out;
  put32(out, uint32_t(data.size() + 12));
  put32(out, uint32_t(raw.size()));
  put32(out, 0x75465A4C);
  put32(out, 0);
  return out + data;
}

TEST(Lzfu, SpecificationExample) {
  // MS-OXRTFCP 3.1.1: "{\rtf1\ansi\ansicpg1252\pard hello world}\r\n".
  const unsigned char bytes[] = {0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a,
                                 0x46, 0x75, 0xf1, 0xc5, 0xc7, 0xa7, 0x03, 0x00, 0x0a, 0x00,
                                 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a,
                                 0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77,
                                 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f, 0xa0};
  LzfuResult r = decompress_lzfu(std::string(reinterpret_cast<const char*>(bytes), sizeof bytes));
  EXPECT_EQ(r.text, "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n");
  EXPECT_TRUE(r.error.empty()) << r.error;
}

TEST(Lzfu, LiteralsRoundTripAndBounds) {
  const std::string raw = "{\\rtf1 secret body text, longer than eight bytes}";
  EXPECT_EQ(decompress_lzfu(lzfu_literals(raw)).text, raw);
  LzfuResult capped = decompress_lzfu(lzfu_literals(raw), 10);
  EXPECT_EQ(capped.text, raw.substr(0, 10));
  EXPECT_TRUE(capped.truncated);
  EXPECT_FALSE(decompress_lzfu("short").error.empty());
  std::string stored;
  put32(stored, 12 + 5);
  put32(stored, 5);
  put32(stored, 0x414C454D);
  put32(stored, 0);
  EXPECT_EQ(decompress_lzfu(stored + "{\\rtf").text, "{\\rtf");
}

// --- TNEF --------------------------------------------------------------------------------

std::string tnef_attribute(uint8_t level, uint32_t id, const std::string& data) {
  std::string a(1, char(level));
  put32(a, id);
  put32(a, uint32_t(data.size()));
  a += data;
  uint16_t sum = 0;
  for (char c : data) sum = uint16_t(sum + uint8_t(c));
  put16(a, sum);
  return a;
}

std::string mapi_binary(uint16_t type, uint16_t id, const std::string& value) {
  std::string p;
  put16(p, type);
  put16(p, id);
  put32(p, 1);
  put32(p, uint32_t(value.size()));
  p += value;
  while (p.size() % 4) p.push_back('\0');
  return p;
}

std::string mapi_props(const std::vector<std::string>& props) {
  std::string d;
  put32(d, uint32_t(props.size()));
  for (const std::string& p : props) d += p;
  return d;
}

std::string tnef_stream(const std::string& attributes) {
  std::string t;
  put32(t, 0x223E9F78);
  put16(t, 0x1234);
  return t + attributes;
}

TEST(Tnef, BodiesAndAttachments) {
  const std::string rtf = "{\\rtf1\\ansi rtf body key=rtf-secret-42\\par}";
  std::string attrs =
      tnef_attribute(1, 0x00069003,
                     mapi_props({mapi_binary(0x001E, 0x1000, std::string("plain body text\0", 16)),
                                 mapi_binary(0x0102, 0x1009, lzfu_literals(rtf)),
                                 mapi_binary(0x0102, 0x1013, "<p>html <b>body</b></p>")})) +
      tnef_attribute(2, 0x00069002, std::string(14, '\0')) +
      tnef_attribute(2, 0x00018010, std::string("REPORT~1.TXT\0", 13)) +
      tnef_attribute(2, 0x0006800F, "db_password=tnef-attached-secret\n") +
      tnef_attribute(2, 0x00069005,
                     mapi_props({mapi_binary(
                         0x001F, 0x3707, std::string("r\0e\0p\0o\0r\0t\0.\0t\0x\0t\0\0\0", 22))}));
  DecodedMessage dm = decode(tnef_stream(attrs), "winmail.dat");
  EXPECT_EQ(text_at(dm, "2:attachment=winmail.dat!body"), "plain body text") << paths(dm);
  EXPECT_EQ(text_at(dm, "2:attachment=winmail.dat!body.rtf"), "rtf body key=rtf-secret-42\n");
  EXPECT_EQ(text_at(dm, "2:attachment=winmail.dat!body.html"), "html body\n");
  EXPECT_EQ(text_at(dm, "2:attachment=winmail.dat!report.txt"),
            "db_password=tnef-attached-secret\n");
  EXPECT_EQ(text_at(dm, "2:attachment=winmail.dat!report.txt:filename"), "report.txt");
  EXPECT_TRUE(dm.problems.empty());
}

TEST(Tnef, EmbeddedMessageAndLegacyBody) {
  std::string inner = tnef_stream(tnef_attribute(1, 0x0002800C, "inner body token\0"));
  std::string object = std::string(16, 'I') + inner;  // interface id, then the TNEF stream
  std::string attrs = tnef_attribute(1, 0x0002800C, std::string("outer body\0", 11)) +
                      tnef_attribute(2, 0x00069002, std::string(14, '\0')) +
                      tnef_attribute(2, 0x00069005,
                                     mapi_props({mapi_binary(0x001E, 0x3001, "Fwd: note"),
                                                 mapi_binary(0x000D, 0x3701, object)}));
  DecodedMessage dm = decode(tnef_stream(attrs), "winmail.dat");
  EXPECT_EQ(text_at(dm, "2:attachment=winmail.dat!body"), "outer body");
  EXPECT_EQ(text_at(dm, "2:attachment=winmail.dat!Fwd: note!body"), "inner body token")
      << paths(dm);
}

TEST(Tnef, TruncatedAndLyingLengthsAreReported) {
  std::string attrs = tnef_attribute(1, 0x0002800C, "body one");
  std::string whole = tnef_stream(attrs);
  DecodedMessage dm = decode(whole.substr(0, whole.size() - 4), "winmail.dat");
  ASSERT_FALSE(dm.problems.empty());
  EXPECT_NE(dm.problems[0].what.find("longer than the stream"), std::string::npos);
  // A property count of four billion and a property that claims more bytes than there are.
  std::string lying;
  put32(lying, 0xFFFFFFFF);
  put16(lying, 0x001E);
  put16(lying, 0x1000);
  put32(lying, 1);
  put32(lying, 0x7FFFFFFF);
  DecodedMessage dm2 = decode(tnef_stream(tnef_attribute(1, 0x00069003, lying)), "winmail.dat");
  EXPECT_FALSE(dm2.problems.empty());
}

// --- legacy Office ---------------------------------------------------------------------

TEST(Office, WordDocumentText) {
  DecodedMessage dm =
      decode(word_document("Quarterly plan\rserver password: Wd-8cV2-plant\r"), "plan.doc");
  EXPECT_EQ(text_at(dm, "2:attachment=plan.doc"),
            "Quarterly plan\nserver password: Wd-8cV2-plant\n")
      << paths(dm);
  DecodedMessage wide = decode(word_document("caf\xe9 wide\r", true), "w.doc");
  EXPECT_EQ(text_at(wide, "2:attachment=w.doc"), "caf\u00e9 wide\n");
  // Field instructions are dropped, results kept: {HYPERLINK "x"}shown.
  DecodedMessage field = decode(word_document("a \x13HYPERLINK \"x\"\x14shown\x15 b\r"), "f.doc");
  EXPECT_EQ(text_at(field, "2:attachment=f.doc"), "a shown b\n");
}

TEST(Office, ExcelWorkbookText) {
  DecodedMessage dm =
      decode(excel_workbook("Logins", {"host", "password", "Xl-77-plant"}, 42.5), "budget.xls");
  EXPECT_EQ(text_at(dm, "2:attachment=budget.xls"), "Logins\nhost\tpassword\tXl-77-plant\n42.5\n")
      << paths(dm);
}

TEST(Office, PowerPointText) {
  DecodedMessage dm = decode(powerpoint_document("Slide title", "vpn key Pp-1234"), "deck.ppt");
  EXPECT_EQ(text_at(dm, "2:attachment=deck.ppt"), "Slide title\nvpn key Pp-1234\n") << paths(dm);
}

// libolecf reads the attachment in place (the bounded range handle): a document that ends right
// before an inaccessible page is read whole, and nothing past its end is touched (a fault here).
TEST(Office, ReadsInPlaceUpToTheEndOfTheBytes) {
  const std::string doc = word_document("fenced text\r");
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  const size_t span = (doc.size() + page - 1) / page * page;
  void* map =
      mmap(nullptr, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  char* fence = static_cast<char*>(map) + span;
  ASSERT_EQ(mprotect(fence, page, PROT_NONE), 0);
  std::memcpy(fence - doc.size(), doc.data(), doc.size());
  {
    OleFile ole(std::string_view(fence - doc.size(), doc.size()));
    ASSERT_TRUE(ole.ok());
    auto word = ole.stream("WordDocument");
    ASSERT_TRUE(word.has_value());
    auto table = ole.stream("1Table");
    ASSERT_TRUE(table.has_value());
    EXPECT_EQ(doc_text(*word, "", *table, 1000).text, "fenced text\n");
  }
  munmap(map, span + page);
}

TEST(Office, DamagedDocumentsAreReported) {
  std::string doc = word_document("text\r");
  DecodedMessage truncated = decode(doc.substr(0, 1500), "t.doc");
  EXPECT_FALSE(truncated.problems.empty());
  // A piece table pointing beyond the stream.
  OfficeText bad = doc_text(std::string(40, '\0'), "", "", 1000);
  EXPECT_FALSE(bad.problems.empty());
  std::string book;
  put16(book, 0x0809);
  put16(book, 0x4000);
  OfficeText lying = xls_text(book, 1000);
  EXPECT_FALSE(lying.problems.empty());
  std::string ppt;
  put16(ppt, 0);
  put16(ppt, 0x0FA0);
  put32(ppt, 0xFFFFFFF0);
  EXPECT_FALSE(ppt_text(ppt, 1000).problems.empty());
}

// --- OpenDocument ------------------------------------------------------------------------

TEST(OpenDocument, TextSpreadsheetAndPresentation) {
  const std::string content =
      "<?xml version=\"1.0\"?><office:document-content><office:body><office:text>"
      "<text:h>Title</text:h><text:p>key<text:s/>=<text:tab/>Od-secret-9</text:p>"
      "<table:table><table:table-row><table:table-cell><text:p>a</text:p></table:table-cell>"
      "<table:table-cell><text:p>b</text:p></table:table-cell></table:table-row></table:table>"
      "</office:text></office:body></office:document-content>";
  std::string odt = test_archive::zip({{"mimetype", "application/vnd.oasis.opendocument.text"},
                                       {"content.xml", content},
                                       {"styles.xml", "<x>style text</x>"}});
  DecodedMessage dm = decode(odt, "doc.odt");
  EXPECT_EQ(text_at(dm, "2:attachment=doc.odt!content.xml"), "Title\nkey =\tOd-secret-9\na\tb\n")
      << paths(dm);
}

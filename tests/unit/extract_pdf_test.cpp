// Our own PDF text extractor (scanner/extract/pdf.cpp) held against poppler: on every PDF it
// accepts its text must be poppler's (whitespace runs collapsed), on the PDFs it must not read it
// declines and the decoded message carries poppler's text, and hostile PDFs neither crash it
// nor escape the decompression limits.
#include <gtest/gtest.h>
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../../scanner/extract/extract_internal.hpp"
#include "credsift/mime.hpp"
#include "mime_test_support.hpp"

using namespace credsift;
using namespace credsift::testing;
using credsift::mime_detail::pdf_text_fast;
using credsift::mime_detail::PdfText;
using credsift::mime_detail::PdfTextLimits;

namespace {

std::string flate(const std::string& data) {
  uLongf size = compressBound(uLong(data.size()));
  std::string out(size, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &size,
            reinterpret_cast<const Bytef*>(data.data()), uLong(data.size()), 6);
  out.resize(size);
  return out;
}

// A stream object body: dictionary entries (without << >>) and data; /Length is added.
std::string stream(const std::string& entries, const std::string& data) {
  return "<< " + entries + " /Length " + std::to_string(data.size()) + " >>\nstream\n" + data +
         "\nendstream";
}

// A PDF of numbered objects (1 is the catalog) with a correct cross-reference table.
std::string make_pdf(const std::vector<std::string>& objects,
                     const std::string& trailer_extra = "") {
  std::string out = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(out.size());
    out += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = out.size();
  out += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t offset : offsets) {
    char entry[32];
    std::snprintf(entry, sizeof entry, "%010zu 00000 n \n", offset);
    out += entry;
  }
  return out + "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R " +
         trailer_extra + " >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
}

const char* kHelvetica = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";

// One page whose content is `content` (Flate-compressed when asked), font F1 = `font`.
std::string one_page(const std::string& content, const std::string& font = kHelvetica,
                     bool compress = true) {
  return make_pdf({"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                   "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                   "/Resources << /Font << /F1 5 0 R >> >> >>",
                   compress ? stream("/Filter /FlateDecode", flate(content)) : stream("", content),
                   font});
}

// The PDF that corpora/generator makes: Helvetica, Flate text of "(..) Tj T*" lines and a DCT
// image of noise that the page names but never draws.
std::string generator_like(const std::vector<std::string>& lines, uint32_t seed) {
  std::string text = "BT /F1 11 Tf 72 720 Td 14 TL\n";
  for (const std::string& line : lines) {
    std::string escaped;
    for (char c : line) {
      if (c == '(' || c == ')' || c == '\\') escaped += '\\';
      escaped += c;
    }
    text += "(" + escaped + ") Tj T*\n";
  }
  text += "ET\n";
  std::mt19937 random(seed);
  std::string image(4096 + random() % 8192, '\0');
  for (char& c : image) c = char(random());
  return make_pdf({"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                   "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                   "/Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>",
                   stream("/Filter /FlateDecode", flate(text)), kHelvetica,
                   stream("/Type /XObject /Subtype /Image /Width 64 /Height 64 /ColorSpace "
                          "/DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode",
                          image)});
}

void silence(const std::string&, void*) {}

// poppler's text, page by page, as decode_pdf's fallback builds it.
std::string poppler_text(const std::string& pdf) {
  poppler::set_debug_error_function(silence, nullptr);
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(pdf.data(), int(pdf.size())));
  if (!doc || doc->is_locked()) return {};
  std::string text;
  for (int i = 0; i < doc->pages(); ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    if (!page) continue;
    poppler::byte_array utf8 = page->text().to_utf8();
    text.append(utf8.data(), utf8.size());
    text.push_back('\n');
  }
  return text;
}

PdfText fast(const std::string& pdf, std::vector<DecodeProblem>* problems = nullptr,
             const PdfTextLimits& limits = {}) {
  std::vector<DecodeProblem> local;
  return pdf_text_fast(pdf, limits, "test.pdf", 7, problems ? *problems : local);
}

std::string joined(const PdfText& text) {
  std::string out;
  for (const std::string& page : text.pages) out += page + "\n";
  return out;
}

std::string collapse_whitespace(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f') {
      space = !out.empty();
    } else {
      if (space) out += ' ';
      space = false;
      out += c;
    }
  }
  return out;
}

// The fast path accepts the PDF and its text is poppler's.
void expect_same_as_poppler(const std::string& pdf, const std::string& must_contain) {
  PdfText text = fast(pdf);
  ASSERT_TRUE(text.handled);
  const std::string ours = collapse_whitespace(joined(text));
  const std::string reference = collapse_whitespace(poppler_text(pdf));
  EXPECT_EQ(ours, reference) << "ours: " << joined(text) << "\npoppler: " << poppler_text(pdf);
  EXPECT_NE(ours.find(must_contain), std::string::npos) << ours;
}

DecodedMessage with_attachment(const std::string& pdf, const DecodeLimits& limits = {}) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  size_t i = 0;
  for (; i + 2 < pdf.size(); i += 3) {
    uint32_t v = (uint8_t(pdf[i]) << 16) | (uint8_t(pdf[i + 1]) << 8) | uint8_t(pdf[i + 2]);
    for (int k = 18; k >= 0; k -= 6) b64 += kAlphabet[(v >> k) & 63];
    if ((i / 3) % 19 == 18) b64 += '\n';
  }
  if (i < pdf.size()) {
    uint32_t v = uint8_t(pdf[i]) << 16;
    if (i + 1 < pdf.size()) v |= uint8_t(pdf[i + 1]) << 8;
    b64 += kAlphabet[(v >> 18) & 63];
    b64 += kAlphabet[(v >> 12) & 63];
    b64 += i + 1 < pdf.size() ? kAlphabet[(v >> 6) & 63] : '=';
    b64 += '=';
  }
  const std::string raw =
      "From: a@example.com\nSubject: doc\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
      "--b\nContent-Type: text/plain\n\nsee attached\n--b\nContent-Type: application/pdf\n"
      "Content-Disposition: attachment; filename=\"doc.pdf\"\nContent-Transfer-Encoding: "
      "base64\n\n" +
      b64 + "\n--b--\n";
  return decode_message(raw, limits);
}

// The fast path declines, and the decoded message carries exactly poppler's text.
void expect_declined_to_poppler(const std::string& pdf) {
  EXPECT_FALSE(fast(pdf).handled);
  DecodedMessage dm = with_attachment(pdf);
  const Segment* segment = find_segment(dm, "2:attachment=doc.pdf");
  const std::string reference = poppler_text(pdf);
  if (reference.find_first_not_of(" \n\f") == std::string::npos) {
    EXPECT_EQ(segment, nullptr) << segment->text;
  } else {
    ASSERT_NE(segment, nullptr) << paths(dm) << problems(dm);
    EXPECT_EQ(segment->text, reference);
  }
}

// --- the same text as poppler ------------------------------------------------------------------

std::vector<std::string> random_lines(const std::vector<std::string>& vocabulary, uint32_t seed) {
  std::mt19937 random(seed);
  std::vector<std::string> lines;
  for (int line = 0; line < 30; ++line) {
    std::string words;
    for (int w = 0; w < 9; ++w) {
      if (w) words += ' ';
      words += vocabulary[random() % vocabulary.size()];
    }
    lines.push_back(words);
  }
  return lines;
}

TEST(PdfFast, GeneratorDocumentsMatchPopplerExactly) {
  // Words as the generator writes them: Latin-1 bytes shown through Helvetica's standard
  // encoding (0xE9 is Oslash there, 0xA3 sterling), parentheses and backslashes escaped.
  const std::vector<std::string> vocabulary = {"invoice",
                                               "Rechnung",
                                               "caf\xe9",
                                               "(draft)",
                                               "back\\slash",
                                               "50%",
                                               "token:",
                                               "O'Brien",
                                               "don't",
                                               "d\xe9j",
                                               "r\xe9sum\xe9",
                                               "\xa3"
                                               "12",
                                               "\xbf"
                                               "qu\xe9?",
                                               "a-b_c",
                                               "x",
                                               "`q`"};
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    const std::string pdf = generator_like(random_lines(vocabulary, seed), seed);
    PdfText text = fast(pdf);
    ASSERT_TRUE(text.handled) << seed;
    // Exact, not only up to whitespace: the scan's findings must not depend on the path taken.
    EXPECT_EQ(joined(text), poppler_text(pdf)) << seed;
  }
}

TEST(PdfFast, CodesWithoutGlyphShowNothing) {
  // 0xFC, 0xDF, 0xE0 (u dieresis, sharp s, a grave in Latin-1) have no glyph in the standard
  // encoding: both readers show nothing for them. Only whitespace may differ: poppler lays
  // lines out physically, so a line whose first word is pushed right (by a leading space, or
  // a space after a glyphless code) starts with a space in its text, and single-letter words
  // around a glyphless code lose their space ("x \xe0y" is "xy" for poppler, "x y" here).
  const std::vector<std::string> vocabulary = {"M\xfcller",
                                               "stra\xdf"
                                               "e",
                                               "\xe0",
                                               "plain",
                                               "token:",
                                               "caf\xe9",
                                               "Gr\xfc\xdf"
                                               "e"};
  for (uint32_t seed = 1; seed <= 6; ++seed)
    expect_same_as_poppler(generator_like(random_lines(vocabulary, seed), seed), "Mller");
}

TEST(PdfFast, KerningSplitsWordsOnlyAtWideGaps) {
  expect_same_as_poppler(
      one_page("BT /F1 12 Tf 72 720 Td [(Pass) 30 (word) -250 (is) -600 (hunter) -40 (2)] TJ ET"),
      "Password is hunter2");
}

TEST(PdfFast, HexAndLiteralStringsWithEscapes) {
  expect_same_as_poppler(
      one_page("BT /F1 12 Tf 72 720 Td 14 TL <48656c6c6f20576f726c64> Tj T* <4142 43 4> Tj T* "
               "(\\101\\102\\103 \\(nested (parens) ok\\) back\\\\slash) Tj T* (split \\\nline "
               "\\116ext) Tj ET"),
      "Hello World");
  expect_same_as_poppler(
      one_page("BT /F1 12 Tf 72 720 Td 14 TL (ABC \\(nested (parens) ok\\)) Tj ET"),
      "(nested (parens) ok)");
}

TEST(PdfFast, WinAnsiAndMacRomanAccents) {
  expect_same_as_poppler(
      one_page("BT /F1 12 Tf 72 720 Td 14 TL (caf\\351 M\\374ller Stra\\337e \\200 5) Tj T* "
               "(\\223quoted\\224 \\226 dash) Tj ET",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"),
      "café Müller Straße € 5");
  expect_same_as_poppler(
      one_page(
          "BT /F1 12 Tf 72 720 Td (caf\\216 M\\237ller \\247) Tj ET",
          "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /MacRomanEncoding >>"),
      "café Müller ß");
  expect_same_as_poppler(
      one_page("BT /F1 12 Tf 72 720 Td (na\\357ve \\340 la carte) Tj ET",
               "<< /Type /Font /Subtype /TrueType /BaseFont /Arial /Encoding /WinAnsiEncoding >>"),
      "naïve à la carte");
}

TEST(PdfFast, DifferencesWithStandardGlyphNames) {
  expect_same_as_poppler(
      one_page("BT /F1 12 Tf 72 720 Td (\\001\\002\\003 d\\004j\\005 \\006ber \\007 x\\010y) Tj ET",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Type /Encoding "
               "/BaseEncoding /WinAnsiEncoding /Differences [1 /K /e /y 4 /eacute /agrave "
               "/Udieresis 7 /Euro /uni00DF] >> >>"),
      "Key déjà Über € xßy");
}

// A ToUnicode CMap for 2-byte codes: bfchar, bfrange with a start value and with an array.
const char* kToUnicode =
    "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
    "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
    "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\n"
    "endcodespacerange\n3 beginbfchar\n<0003> <0020>\n<0010> <00E9>\n<0011> <D83DDE00>\n"
    "endbfchar\n2 beginbfrange\n<0020> <0039> <0041>\n<0040> <0042> [<0078> <0079> <007A>]\n"
    "endbfrange\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n";

std::string type0_font_objects(bool with_to_unicode, std::vector<std::string>& objects) {
  // Objects 5 (Type0), 6 (CIDFont), 7 (descriptor), 8 (ToUnicode).
  objects.push_back(std::string("<< /Type /Font /Subtype /Type0 /BaseFont /Arial /Encoding "
                                "/Identity-H /DescendantFonts [6 0 R]") +
                    (with_to_unicode ? " /ToUnicode 8 0 R" : "") + " >>");
  objects.push_back(
      "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Arial /CIDSystemInfo << /Registry "
      "(Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 7 0 R /DW 600 >>");
  objects.push_back(
      "<< /Type /FontDescriptor /FontName /Arial /Flags 32 /FontBBox [0 -200 1000 900] "
      "/ItalicAngle 0 /Ascent 900 /Descent -200 /CapHeight 700 /StemV 80 >>");
  objects.push_back(stream("/Filter /FlateDecode", flate(kToUnicode)));
  return {};
}

std::string type0_pdf(const std::string& content, bool with_to_unicode) {
  std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
      "/Resources << /Font << /F1 5 0 R >> >> >>",
      stream("/Filter /FlateDecode", flate(content))};
  type0_font_objects(with_to_unicode, objects);
  return make_pdf(objects);
}

TEST(PdfFast, Type0IdentityFontWithToUnicode) {
  // Codes 0x20.. map to A.., 0x40..0x42 to x y z, 0x10 to é, 0x11 to an emoji (surrogates).
  expect_same_as_poppler(
      type0_pdf("BT /F1 12 Tf 72 720 Td 14 TL <0020002100220010> Tj T* [<0040> 20 <00410042> -300 "
                "<00230003002400250011>] TJ ET",
                true),
      "ABCé xyz D EF\xf0\x9f\x98\x80");
}

TEST(PdfFast, PagesInTreeOrderWithContentArraysAndInheritedResources) {
  const std::string pdf = make_pdf(
      {"<< /Type /Catalog /Pages 2 0 R >>",
       "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 3 /Resources << /Font << /F1 9 0 R >> >> >>",
       "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents [5 0 R 6 0 R] >>",
       "<< /Type /Pages /Parent 2 0 R /Kids [7 0 R] /Count 1 >>",
       stream("/Filter /FlateDecode", flate("BT /F1 12 Tf 72 720 Td (first page) Tj")),
       stream("", " 0 -20 Td (continued) Tj ET"),
       "<< /Type /Page /Parent 4 0 R /MediaBox [0 0 612 792] /Contents 8 0 R >>",
       stream("/Filter [/FlateDecode]",
              flate("BT /F1 10 Tf 1 0 0 1 72 700 Tm (second) Tj 1 0 0 1 72 680 Tm (page) Tj "
                    "0 -14 TD (third) ' 2 0 (fourth) \" ET\n"
                    "q 10 0 0 10 0 0 cm BI /W 2 /H 2 /BPC 8 /CS /G ID \x01\xff EI\x02\x03 EI Q\n"
                    "BT /F1 10 Tf 72 600 Td (after image) Tj ET")),
       kHelvetica});
  PdfText text = fast(pdf);
  ASSERT_TRUE(text.handled);
  EXPECT_EQ(text.page_count, 2u);
  expect_same_as_poppler(pdf, "first page continued second page third fourth after image");
}

TEST(PdfFast, WrongLengthsAreFoundByEndstream) {
  const std::string content = "BT /F1 12 Tf 72 720 Td (length is wrong) Tj ET";
  for (const char* length : {"5", "100000", "9 0 R", "-3", "47"}) {
    const std::string pdf =
        make_pdf({"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                  "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                  "/Resources << /Font << /F1 5 0 R >> >> >>",
                  "<< /Length " + std::string(length) + " >>\nstream\n" + content + "\nendstream",
                  kHelvetica});
    PdfText text = fast(pdf);
    ASSERT_TRUE(text.handled) << length;
    EXPECT_EQ(joined(text), "length is wrong\n\f\n") << length;
    // poppler trusts a /Length that its (correct) cross-reference table does not contradict:
    // with /Length 5 it reads "BT /F" and finds no text. Where it reads the stream, the texts
    // agree.
    const std::string reference = poppler_text(pdf);
    if (reference.find("length") != std::string::npos) {
      EXPECT_EQ(joined(text), reference) << length;
    }
  }
}

TEST(PdfFast, LinesPlacedByTheMatrixStayInStreamOrder) {
  expect_same_as_poppler(
      one_page("BT /F1 12 Tf 72 720 Td (top line) Tj ET q 1 0 0 1 0 -100 cm BT /F1 12 Tf 72 720 "
               "Td (moved down) Tj ET Q BT /F1 12 Tf 72 500 Td (bottom) Tj ET"),
      "top line moved down bottom");
}

// Where the readers differ on purpose: poppler drops characters drawn outside the page (text
// hidden off the edge, or a line too long for it); a secret scanner wants them.
TEST(PdfFast, TextOutsideThePageIsKept) {
  std::string long_line;
  for (int i = 0; i < 30; ++i) long_line += "words ";
  const std::string pdf = one_page(
      "BT /F1 12 Tf 72 720 Td 14 TL (on the page) Tj T* (" + long_line +
      "token: tok_OffPage123) Tj ET BT /F1 12 Tf 900 400 Td (hidden: tok_Hidden456) Tj ET");
  PdfText text = fast(pdf);
  ASSERT_TRUE(text.handled);
  EXPECT_EQ(collapse_whitespace(joined(text)),
            "on the page " + long_line + "token: tok_OffPage123 hidden: tok_Hidden456");
  const std::string reference = poppler_text(pdf);
  EXPECT_NE(reference.find("on the page"), std::string::npos) << reference;
  EXPECT_EQ(reference.find("tok_OffPage123"), std::string::npos) << reference;
  EXPECT_EQ(reference.find("tok_Hidden456"), std::string::npos) << reference;
}

// --- declined: poppler's text -----------------------------------------------------------------

TEST(PdfFast, DeclinesEncryptedDocuments) {
  const std::string pdf = make_pdf(
      {"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
       "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
       "/Resources << /Font << /F1 5 0 R >> >> >>",
       stream("", "BT /F1 12 Tf 72 720 Td (secret) Tj ET"), kHelvetica,
       "<< /Filter /Standard /V 1 /R 2 /O <" + std::string(64, 'a') + "> /U <" +
           std::string(64, 'b') + "> /P -44 >>"},
      "/Encrypt 6 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>]");
  expect_declined_to_poppler(pdf);
  DecodedMessage dm = with_attachment(pdf);
  EXPECT_TRUE(has_problem(dm, "doc.pdf: PDF")) << problems(dm);
}

TEST(PdfFast, DeclinesObjectStreams) {
  // The font lives in an object stream (object 6 holds object 5).
  const std::string font = kHelvetica;
  const std::string objstm_data = "5 0 " + font;
  const std::string pdf =
      make_pdf({"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                "/Resources << /Font << /F1 5 0 R >> >> >>",
                stream("", "BT /F1 12 Tf 72 720 Td (in object stream) Tj ET"), "null",
                stream("/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", flate(objstm_data))});
  expect_declined_to_poppler(pdf);
}

TEST(PdfFast, DeclinesType0WithoutToUnicode) {
  expect_declined_to_poppler(type0_pdf("BT /F1 12 Tf 72 720 Td <00200021> Tj ET", false));
}

TEST(PdfFast, DeclinesUnsupportedFilters) {
  std::string hex;
  for (unsigned char c : std::string("BT /F1 12 Tf 72 720 Td (hex encoded) Tj ET")) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", c);
    hex += b;
  }
  const std::string pdf =
      make_pdf({"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                "/Resources << /Font << /F1 5 0 R >> >> >>",
                stream("/Filter /ASCIIHexDecode", hex + ">"), kHelvetica});
  expect_declined_to_poppler(pdf);
  EXPECT_NE(poppler_text(pdf).find("hex encoded"), std::string::npos);
}

TEST(PdfFast, DeclinesWhatNeedsGlyphWidthsOrOtherStreams) {
  // A horizontal move after text (word gap unknown without widths), an ambiguous kerning, a
  // raised run, an embedded font without an encoding, a Type3 font, a form XObject.
  expect_declined_to_poppler(one_page("BT /F1 12 Tf 72 720 Td (left) Tj 40 0 Td (right) Tj ET"));
  expect_declined_to_poppler(one_page("BT /F1 12 Tf 72 720 Td [(Hello) -120 (World)] TJ ET"));
  expect_declined_to_poppler(one_page("BT /F1 12 Tf 72 720 Td (E = mc) Tj 5 Ts (2) Tj ET"));
  expect_declined_to_poppler(
      one_page("BT /F1 12 Tf 72 720 Td (x) Tj ET",
               "<< /Type /Font /Subtype /Type1 /BaseFont /ABCDEF+Custom /FontDescriptor << "
               "/FontFile3 9 0 R >> >>"));
  expect_declined_to_poppler(
      one_page("BT /F1 12 Tf 72 720 Td (x) Tj ET", "<< /Type /Font /Subtype /Type3 >>"));
  const std::string form = make_pdf(
      {"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
       "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
       "/Resources << /XObject << /X1 5 0 R >> >> >>",
       stream("", "/X1 Do"),
       stream("/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 6 0 "
              "R >> >>",
              "BT /F1 12 Tf 72 720 Td (inside a form) Tj ET"),
       kHelvetica});
  expect_declined_to_poppler(form);
  // Text that poppler reorders by position: a second column that starts at the top again, a
  // table whose label and value are separate runs on one baseline, a flipped page matrix.
  expect_declined_to_poppler(
      one_page("BT /F1 12 Tf 72 720 Td 14 TL (left one) Tj T* (left two) Tj ET "
               "BT /F1 12 Tf 320 720 Td 14 TL (right one) Tj T* (right two) Tj ET"));
  expect_declined_to_poppler(
      one_page("BT /F1 12 Tf 72 700 Td (password:) Tj ET BT /F1 12 Tf 200 700 Td (hunter2) Tj ET"));
  expect_declined_to_poppler(
      one_page("1 0 0 -1 0 792 cm BT /F1 12 Tf 1 0 0 -1 72 72 Tm (flipped) Tj ET"));
  // Right-to-left text (a ToUnicode map to Hebrew): poppler reorders it.
  expect_declined_to_poppler(make_pdf(
      {"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
       "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
       "/Resources << /Font << /F1 5 0 R >> >> >>",
       stream("", "BT /F1 12 Tf 72 720 Td (ABA) Tj ET"),
       "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
       stream("",
              "1 begincodespacerange <00> <FF> endcodespacerange 2 beginbfchar <41> <05D0> "
              "<42> <05D1> endbfchar")}));
  EXPECT_NE(poppler_text(form).find("inside a form"), std::string::npos);
}

// --- hostile input -------------------------------------------------------------------------------

TEST(PdfFast, DeflateBombIsStoppedAndReported) {
  const std::string zeros(64u << 20, '0');
  const std::string pdf = one_page("BT /F1 12 Tf 72 720 Td (" + zeros + ") Tj ET");
  ASSERT_LT(pdf.size(), 200u << 10);
  std::vector<DecodeProblem> reported;
  PdfText text = fast(pdf, &reported);
  EXPECT_TRUE(text.handled);
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].offset, 7u);
  EXPECT_NE(reported[0].what.find("test.pdf: PDF stream at byte "), std::string::npos);
  EXPECT_NE(reported[0].what.find("decompression ratio 200"), std::string::npos);
  // Through the decoder: the message's budget bounds it too, and the problem names the part.
  DecodeLimits small;
  small.max_decompressed_bytes = 1u << 20;
  small.max_compression_ratio = 1e9;
  DecodedMessage dm = with_attachment(pdf, small);
  EXPECT_TRUE(has_problem(dm, "2:attachment=doc.pdf: PDF stream at byte")) << problems(dm);
  EXPECT_TRUE(has_problem(dm, "decompressed-bytes limit 1048576")) << problems(dm);
}

TEST(PdfFast, TruncatedUnterminatedAndDeeplyNestedInputIsDeclined) {
  const std::string good = one_page("BT /F1 12 Tf 72 720 Td (complete) Tj ET", kHelvetica, false);
  // Truncated anywhere: declined or read, never a crash; poppler's result stands when declined.
  for (size_t cut = 0; cut < good.size(); cut += 7) {
    const std::string truncated = good.substr(0, cut);
    PdfText text = fast(truncated);
    if (text.handled) {
      EXPECT_EQ(text.pages.size(), text.page_count);
    }
  }
  expect_declined_to_poppler(one_page("BT /F1 12 Tf 72 720 Td (never closed Tj ET"));
  // "stream" not followed by an end of line: poppler does not read such data as we would.
  expect_declined_to_poppler(make_pdf(
      {"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
       "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
       "/Resources << /Font << /F1 5 0 R >> >> >>",
       "<< /Length 38 >>\nstream\bBT /F1 12 Tf 72 720 Td (x) Tj ET\nendstream", kHelvetica}));
  expect_declined_to_poppler(one_page("BT /F1 12 Tf 72 720 Td <4142 Tj ET"));
  const std::string deep_array = std::string(100000, '[') + std::string(100000, ']');
  expect_declined_to_poppler(one_page("BT /F1 12 Tf 72 720 Td " + deep_array + " TJ ET"));
  std::string deep_dict;
  for (int i = 0; i < 5000; ++i) deep_dict += "<< /A ";
  for (int i = 0; i < 5000; ++i) deep_dict += ">> ";
  EXPECT_FALSE(fast(make_pdf({"<< /Type /Catalog /Pages 2 0 R /Deep " + deep_dict + ">>",
                              "<< /Type /Pages /Kids [] /Count 0 >>"}))
                   .handled);
  // A page tree that points at itself.
  EXPECT_FALSE(fast(make_pdf({"<< /Type /Catalog /Pages 2 0 R >>",
                              "<< /Type /Pages /Kids [2 0 R] /Count 1 >>"}))
                   .handled);
}

// Inputs that libFuzzer found (tests/fuzz/pdf_fuzz.cpp), replayed with the fuzz target's checks;
// the sanitizer build turns the undefined behaviour they once hit into a failure.
TEST(PdfFast, FuzzRegressions) {
  const std::filesystem::path directory =
      std::filesystem::path(CREDSIFT_SOURCE_DIR) / "tests/fuzz/regressions/pdf";
  size_t inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string pdf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<DecodeProblem> reported;
    PdfText text = fast(pdf, &reported);
    if (!text.handled) {
      EXPECT_TRUE(reported.empty()) << entry.path();
    }
    EXPECT_LE(text.pages.size(), text.page_count) << entry.path();
    ++inputs;
  }
  EXPECT_GT(inputs, 0u);
}

TEST(PdfFast, RandomCorruptionNeverCrashes) {
  const std::string base = generator_like({"alpha beta", "gamma (delta)", "token: abc123"}, 5);
  std::mt19937 random(42);
  for (int round = 0; round < 400; ++round) {
    std::string pdf = base;
    const int flips = 1 + int(random() % 8);
    for (int i = 0; i < flips; ++i) pdf[random() % pdf.size()] = char(random());
    PdfText text = fast(pdf);
    if (text.handled) {
      EXPECT_LE(text.pages.size(), text.page_count);
    }
  }
}

}  // namespace

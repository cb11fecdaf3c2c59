// Our own PDF text extractor for the simple PDFs that mail carries (generated invoices, reports):
// plain or Flate content streams, simple fonts with standard encodings, ToUnicode CMaps. It reads
// the file body directly and never guesses: anything it does not fully understand (encryption,
// object streams, other filters, unmappable fonts, layouts whose spacing needs glyph widths) is
// declined, and poppler reads the file instead. Its text follows poppler's page::text() layout
// (lines, one space between words, "\f" after each page), so findings do not depend on the path.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "extract_internal.hpp"

namespace credsift::mime_detail {

namespace {

constexpr size_t npos = std::string_view::npos;
constexpr int kMaxNesting = 64;                    // arrays and dictionaries inside one another
constexpr int kMaxPageTreeDepth = 64;              // /Pages inside /Pages
constexpr size_t kMaxCMapCodes = 1u << 16;         // ToUnicode entries once bfranges are expanded
constexpr size_t kMinInflateAllowance = 1u << 20;  // the ratio limit starts counting above this

// Thrown when the file holds something this reader does not handle; poppler takes over.
struct Decline {};
// Thrown when a decompression limit stopped the reader; the problem is already reported.
struct LimitReached {};

[[noreturn]] void decline() { throw Decline{}; }

// --- encodings -----------------------------------------------------------------------------
// Unicode of each code in the PDF reference's standard encodings (Annex D), as poppler maps
// them; 0: no glyph (poppler shows nothing), 0xFB01/0xFB02: the fi/fl ligatures, which poppler
// writes as two letters.

constexpr std::array<uint16_t, 256> kStandardEncoding = {
    0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,
    0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,
    0,      0,      0,      0,      0,      0,      0,      0,      0x0020, 0x0021, 0x0022, 0x0023,
    0x0024, 0x0025, 0x0026, 0x2019, 0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037, 0x0038, 0x0039, 0x003A, 0x003B,
    0x003C, 0x003D, 0x003E, 0x003F, 0x0040, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F, 0x0050, 0x0051, 0x0052, 0x0053,
    0x0054, 0x0055, 0x0056, 0x0057, 0x0058, 0x0059, 0x005A, 0x005B, 0x005C, 0x005D, 0x005E, 0x005F,
    0x2018, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067, 0x0068, 0x0069, 0x006A, 0x006B,
    0x006C, 0x006D, 0x006E, 0x006F, 0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    0x0078, 0x0079, 0x007A, 0x007B, 0x007C, 0x007D, 0x007E, 0,      0,      0,      0,      0,
    0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,
    0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,
    0,      0,      0,      0,      0,      0x00A1, 0x00A2, 0x00A3, 0x2044, 0x00A5, 0x0192, 0x00A7,
    0x00A4, 0x0027, 0x201C, 0x00AB, 0x2039, 0x203A, 0xFB01, 0xFB02, 0,      0x2013, 0x2020, 0x2021,
    0x00B7, 0,      0x00B6, 0x2022, 0x201A, 0x201E, 0x201D, 0x00BB, 0x2026, 0x2030, 0,      0x00BF,
    0,      0x0060, 0x00B4, 0x02C6, 0x02DC, 0x00AF, 0x02D8, 0x02D9, 0x00A8, 0,      0x02DA, 0x00B8,
    0,      0x02DD, 0x02DB, 0x02C7, 0x2014, 0,      0,      0,      0,      0,      0,      0,
    0,      0,      0,      0,      0,      0,      0,      0,      0,      0x00C6, 0,      0x00AA,
    0,      0,      0,      0,      0x0141, 0x00D8, 0x0152, 0x00BA, 0,      0,      0,      0,
    0,      0x00E6, 0,      0,      0,      0x0131, 0,      0,      0x0142, 0x00F8, 0x0153, 0x00DF,
    0,      0,      0,      0};

constexpr std::array<uint16_t, 256> kWinAnsiEncoding = {
    0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,
    0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,
    0,      0,      0,      0,      0,      0,      0,      0,      0x0020, 0x0021, 0x0022, 0x0023,
    0x0024, 0x0025, 0x0026, 0x0027, 0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037, 0x0038, 0x0039, 0x003A, 0x003B,
    0x003C, 0x003D, 0x003E, 0x003F, 0x0040, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F, 0x0050, 0x0051, 0x0052, 0x0053,
    0x0054, 0x0055, 0x0056, 0x0057, 0x0058, 0x0059, 0x005A, 0x005B, 0x005C, 0x005D, 0x005E, 0x005F,
    0x0060, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067, 0x0068, 0x0069, 0x006A, 0x006B,
    0x006C, 0x006D, 0x006E, 0x006F, 0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    0x0078, 0x0079, 0x007A, 0x007B, 0x007C, 0x007D, 0x007E, 0x2022, 0x20AC, 0x2022, 0x201A, 0x0192,
    0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x2022, 0x017D, 0x2022,
    0x2022, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
    0x0153, 0x2022, 0x017E, 0x0178, 0x0020, 0x00A1, 0x00A2, 0x00A3, 0x00A4, 0x00A5, 0x00A6, 0x00A7,
    0x00A8, 0x00A9, 0x00AA, 0x00AB, 0x00AC, 0x002D, 0x00AE, 0x00AF, 0x00B0, 0x00B1, 0x00B2, 0x00B3,
    0x00B4, 0x00B5, 0x00B6, 0x00B7, 0x00B8, 0x00B9, 0x00BA, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x00BF,
    0x00C0, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x00C7, 0x00C8, 0x00C9, 0x00CA, 0x00CB,
    0x00CC, 0x00CD, 0x00CE, 0x00CF, 0x00D0, 0x00D1, 0x00D2, 0x00D3, 0x00D4, 0x00D5, 0x00D6, 0x00D7,
    0x00D8, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x00DD, 0x00DE, 0x00DF, 0x00E0, 0x00E1, 0x00E2, 0x00E3,
    0x00E4, 0x00E5, 0x00E6, 0x00E7, 0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF,
    0x00F0, 0x00F1, 0x00F2, 0x00F3, 0x00F4, 0x00F5, 0x00F6, 0x00F7, 0x00F8, 0x00F9, 0x00FA, 0x00FB,
    0x00FC, 0x00FD, 0x00FE, 0x00FF};

constexpr std::array<uint16_t, 256> kMacRomanEncoding = {
    0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,
    0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,      0,
    0,      0,      0,      0,      0,      0,      0,      0,      0x0020, 0x0021, 0x0022, 0x0023,
    0x0024, 0x0025, 0x0026, 0x0027, 0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037, 0x0038, 0x0039, 0x003A, 0x003B,
    0x003C, 0x003D, 0x003E, 0x003F, 0x0040, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F, 0x0050, 0x0051, 0x0052, 0x0053,
    0x0054, 0x0055, 0x0056, 0x0057, 0x0058, 0x0059, 0x005A, 0x005B, 0x005C, 0x005D, 0x005E, 0x005F,
    0x0060, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067, 0x0068, 0x0069, 0x006A, 0x006B,
    0x006C, 0x006D, 0x006E, 0x006F, 0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    0x0078, 0x0079, 0x007A, 0x007B, 0x007C, 0x007D, 0x007E, 0,      0x00C4, 0x00C5, 0x00C7, 0x00C9,
    0x00D1, 0x00D6, 0x00DC, 0x00E1, 0x00E0, 0x00E2, 0x00E4, 0x00E3, 0x00E5, 0x00E7, 0x00E9, 0x00E8,
    0x00EA, 0x00EB, 0x00ED, 0x00EC, 0x00EE, 0x00EF, 0x00F1, 0x00F3, 0x00F2, 0x00F4, 0x00F6, 0x00F5,
    0x00FA, 0x00F9, 0x00FB, 0x00FC, 0x2020, 0x00B0, 0x00A2, 0x00A3, 0x00A7, 0x2022, 0x00B6, 0x00DF,
    0x00AE, 0x00A9, 0x2122, 0x00B4, 0x00A8, 0x2260, 0x00C6, 0x00D8, 0x221E, 0x00B1, 0x2264, 0x2265,
    0x00A5, 0x00B5, 0x2202, 0x2211, 0x220F, 0x03C0, 0x222B, 0x00AA, 0x00BA, 0x2126, 0x00E6, 0x00F8,
    0x00BF, 0x00A1, 0x00AC, 0x221A, 0x0192, 0x2248, 0x2206, 0x00AB, 0x00BB, 0x2026, 0x0020, 0x00C0,
    0x00C3, 0x00D5, 0x0152, 0x0153, 0x2013, 0x2014, 0x201C, 0x201D, 0x2018, 0x2019, 0x00F7, 0x25CA,
    0x00FF, 0x0178, 0x2044, 0x00A4, 0x2039, 0x203A, 0xFB01, 0xFB02, 0x2021, 0x00B7, 0x201A, 0x201E,
    0x2030, 0x00C2, 0x00CA, 0x00C1, 0x00CB, 0x00C8, 0x00CD, 0x00CE, 0x00CF, 0x00CC, 0x00D3, 0x00D4,
    0xF8FF, 0x00D2, 0x00DA, 0x00DB, 0x00D9, 0x0131, 0x02C6, 0x02DC, 0x00AF, 0x02D8, 0x02D9, 0x02DA,
    0x00B8, 0x02DD, 0x02DB, 0x02C7};

// Glyph names that /Differences may use (Adobe Glyph List): Latin letters, digits, punctuation,
// Latin-1 and WinAnsi symbols. Single letters map to themselves and "uniXXXX" is decoded, so
// neither is listed.
struct GlyphName {
  std::string_view name;
  uint16_t unicode;
};
constexpr GlyphName kGlyphNames[] = {
    {"space", 0x0020},
    {"exclam", 0x0021},
    {"quotedbl", 0x0022},
    {"numbersign", 0x0023},
    {"dollar", 0x0024},
    {"percent", 0x0025},
    {"ampersand", 0x0026},
    {"quotesingle", 0x0027},
    {"quoteright", 0x2019},
    {"parenleft", 0x0028},
    {"parenright", 0x0029},
    {"asterisk", 0x002A},
    {"plus", 0x002B},
    {"comma", 0x002C},
    {"hyphen", 0x002D},
    {"period", 0x002E},
    {"slash", 0x002F},
    {"zero", 0x0030},
    {"one", 0x0031},
    {"two", 0x0032},
    {"three", 0x0033},
    {"four", 0x0034},
    {"five", 0x0035},
    {"six", 0x0036},
    {"seven", 0x0037},
    {"eight", 0x0038},
    {"nine", 0x0039},
    {"colon", 0x003A},
    {"semicolon", 0x003B},
    {"less", 0x003C},
    {"equal", 0x003D},
    {"greater", 0x003E},
    {"question", 0x003F},
    {"at", 0x0040},
    {"bracketleft", 0x005B},
    {"backslash", 0x005C},
    {"bracketright", 0x005D},
    {"asciicircum", 0x005E},
    {"underscore", 0x005F},
    {"grave", 0x0060},
    {"quoteleft", 0x2018},
    {"braceleft", 0x007B},
    {"bar", 0x007C},
    {"braceright", 0x007D},
    {"asciitilde", 0x007E},
    {"exclamdown", 0x00A1},
    {"cent", 0x00A2},
    {"sterling", 0x00A3},
    {"currency", 0x00A4},
    {"yen", 0x00A5},
    {"brokenbar", 0x00A6},
    {"section", 0x00A7},
    {"dieresis", 0x00A8},
    {"copyright", 0x00A9},
    {"ordfeminine", 0x00AA},
    {"guillemotleft", 0x00AB},
    {"logicalnot", 0x00AC},
    {"registered", 0x00AE},
    {"macron", 0x00AF},
    {"degree", 0x00B0},
    {"plusminus", 0x00B1},
    {"twosuperior", 0x00B2},
    {"threesuperior", 0x00B3},
    {"acute", 0x00B4},
    {"mu", 0x00B5},
    {"paragraph", 0x00B6},
    {"periodcentered", 0x00B7},
    {"cedilla", 0x00B8},
    {"onesuperior", 0x00B9},
    {"ordmasculine", 0x00BA},
    {"guillemotright", 0x00BB},
    {"onequarter", 0x00BC},
    {"onehalf", 0x00BD},
    {"threequarters", 0x00BE},
    {"questiondown", 0x00BF},
    {"Agrave", 0x00C0},
    {"Aacute", 0x00C1},
    {"Acircumflex", 0x00C2},
    {"Atilde", 0x00C3},
    {"Adieresis", 0x00C4},
    {"Aring", 0x00C5},
    {"AE", 0x00C6},
    {"Ccedilla", 0x00C7},
    {"Egrave", 0x00C8},
    {"Eacute", 0x00C9},
    {"Ecircumflex", 0x00CA},
    {"Edieresis", 0x00CB},
    {"Igrave", 0x00CC},
    {"Iacute", 0x00CD},
    {"Icircumflex", 0x00CE},
    {"Idieresis", 0x00CF},
    {"Eth", 0x00D0},
    {"Ntilde", 0x00D1},
    {"Ograve", 0x00D2},
    {"Oacute", 0x00D3},
    {"Ocircumflex", 0x00D4},
    {"Otilde", 0x00D5},
    {"Odieresis", 0x00D6},
    {"multiply", 0x00D7},
    {"Oslash", 0x00D8},
    {"Ugrave", 0x00D9},
    {"Uacute", 0x00DA},
    {"Ucircumflex", 0x00DB},
    {"Udieresis", 0x00DC},
    {"Yacute", 0x00DD},
    {"Thorn", 0x00DE},
    {"germandbls", 0x00DF},
    {"agrave", 0x00E0},
    {"aacute", 0x00E1},
    {"acircumflex", 0x00E2},
    {"atilde", 0x00E3},
    {"adieresis", 0x00E4},
    {"aring", 0x00E5},
    {"ae", 0x00E6},
    {"ccedilla", 0x00E7},
    {"egrave", 0x00E8},
    {"eacute", 0x00E9},
    {"ecircumflex", 0x00EA},
    {"edieresis", 0x00EB},
    {"igrave", 0x00EC},
    {"iacute", 0x00ED},
    {"icircumflex", 0x00EE},
    {"idieresis", 0x00EF},
    {"eth", 0x00F0},
    {"ntilde", 0x00F1},
    {"ograve", 0x00F2},
    {"oacute", 0x00F3},
    {"ocircumflex", 0x00F4},
    {"otilde", 0x00F5},
    {"odieresis", 0x00F6},
    {"divide", 0x00F7},
    {"oslash", 0x00F8},
    {"ugrave", 0x00F9},
    {"uacute", 0x00FA},
    {"ucircumflex", 0x00FB},
    {"udieresis", 0x00FC},
    {"yacute", 0x00FD},
    {"thorn", 0x00FE},
    {"ydieresis", 0x00FF},
    {"Euro", 0x20AC},
    {"quotesinglbase", 0x201A},
    {"florin", 0x0192},
    {"quotedblbase", 0x201E},
    {"ellipsis", 0x2026},
    {"dagger", 0x2020},
    {"daggerdbl", 0x2021},
    {"circumflex", 0x02C6},
    {"perthousand", 0x2030},
    {"Scaron", 0x0160},
    {"guilsinglleft", 0x2039},
    {"OE", 0x0152},
    {"Zcaron", 0x017D},
    {"quotedblleft", 0x201C},
    {"quotedblright", 0x201D},
    {"bullet", 0x2022},
    {"endash", 0x2013},
    {"emdash", 0x2014},
    {"tilde", 0x02DC},
    {"trademark", 0x2122},
    {"scaron", 0x0161},
    {"guilsinglright", 0x203A},
    {"oe", 0x0153},
    {"zcaron", 0x017E},
    {"Ydieresis", 0x0178},
    {"fi", 0xFB01},
    {"fl", 0xFB02},
    {"dotlessi", 0x0131},
    {"Lslash", 0x0141},
    {"lslash", 0x0142},
    {"fraction", 0x2044},
    {"minus", 0x2212},
};

// Unicode of a glyph name, or -1 when the name is not one we know.
int32_t glyph_unicode(std::string_view name) {
  if (name.size() == 1 &&
      ((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')))
    return name[0];
  if (name.size() == 7 && name.starts_with("uni")) {
    int32_t cp = 0;
    for (char c : name.substr(3)) {
      int v = hex_value(c);
      if (v < 0) return -1;
      cp = cp * 16 + v;
    }
    return (cp >= 0xD800 && cp <= 0xDFFF) ? -1 : cp;
  }
  for (const GlyphName& g : kGlyphNames)
    if (g.name == name) return g.unicode;
  return -1;
}

void append_unicode(std::string& out, uint32_t cp) {
  // poppler writes the fi and fl ligatures of the standard encodings as two letters.
  if (cp == 0xFB01) {
    out += "fi";
  } else if (cp == 0xFB02) {
    out += "fl";
  } else {
    append_utf8(out, cp);
  }
}

// --- objects -------------------------------------------------------------------------------

struct Value {
  enum class Kind : uint8_t { Null, Bool, Number, Name, String, Array, Dict, Ref, Keyword };
  Kind kind = Kind::Null;
  double number = 0;
  uint32_t ref = 0;          // object number of a reference
  std::string text;          // name (without '/', #xx decoded), string bytes or keyword
  std::vector<Value> items;  // array items; dictionary keys (Name) and values, alternating

  bool is(Kind k) const { return kind == k; }
  bool is_name(std::string_view n) const { return kind == Kind::Name && text == n; }
  const Value* get(std::string_view key) const {
    if (kind != Kind::Dict) return nullptr;
    for (size_t i = 0; i + 1 < items.size(); i += 2)
      if (items[i].text == key) return &items[i + 1];
    return nullptr;
  }
};

bool is_pdf_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\0';
}
bool is_delimiter(char c) {
  return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == '{' ||
         c == '}' || c == '/' || c == '%';
}
bool is_regular(char c) { return !is_pdf_space(c) && !is_delimiter(c); }

// Tokens of a PDF file body or content stream.
class Lexer {
 public:
  explicit Lexer(std::string_view s, size_t pos = 0) : s_(s), pos_(pos) {}
  size_t pos() const { return pos_; }
  void seek(size_t p) { pos_ = p; }
  bool at_end() {
    skip_space();
    return pos_ >= s_.size();
  }
  std::string_view source() const { return s_; }

  void skip_space() {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (is_pdf_space(c)) {
        ++pos_;
      } else if (c == '%') {
        while (pos_ < s_.size() && s_[pos_] != '\n' && s_[pos_] != '\r') ++pos_;
      } else {
        break;
      }
    }
  }

  // A keyword or number as raw characters (the caller decides); empty at a delimiter or end.
  std::string_view regular_run() {
    size_t start = pos_;
    while (pos_ < s_.size() && is_regular(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }

  // Parses one value; keywords (operators, "R", "obj", "stream") come back as Kind::Keyword.
  Value value(int depth = 0) {
    if (depth > kMaxNesting) decline();
    skip_space();
    if (pos_ >= s_.size()) decline();
    Value v;
    char c = s_[pos_];
    if (c == '/') {
      ++pos_;
      v.kind = Value::Kind::Name;
      v.text = name_chars();
    } else if (c == '(') {
      v.kind = Value::Kind::String;
      v.text = literal_string();
    } else if (c == '<' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '<') {
      pos_ += 2;
      v.kind = Value::Kind::Dict;
      while (true) {
        skip_space();
        if (pos_ + 1 < s_.size() && s_[pos_] == '>' && s_[pos_ + 1] == '>') {
          pos_ += 2;
          break;
        }
        Value key = value(depth + 1);
        if (!key.is(Value::Kind::Name)) decline();
        Value item = value(depth + 1);
        if (item.is(Value::Kind::Keyword)) decline();
        v.items.push_back(std::move(key));
        v.items.push_back(std::move(item));
      }
    } else if (c == '<') {
      v.kind = Value::Kind::String;
      v.text = hex_string();
    } else if (c == '[') {
      ++pos_;
      v.kind = Value::Kind::Array;
      while (true) {
        skip_space();
        if (pos_ < s_.size() && s_[pos_] == ']') {
          ++pos_;
          break;
        }
        Value item = value(depth + 1);
        if (item.is(Value::Kind::Keyword)) {
          // "N G R" inside an array: the two numbers before it are the reference.
          if (item.text != "R" || v.items.size() < 2 ||
              !v.items[v.items.size() - 1].is(Value::Kind::Number) ||
              !v.items[v.items.size() - 2].is(Value::Kind::Number) ||
              !(v.items[v.items.size() - 2].number >= 0 &&
                v.items[v.items.size() - 2].number <= double(UINT32_MAX)))
            decline();
          Value ref;
          ref.kind = Value::Kind::Ref;
          ref.ref = uint32_t(v.items[v.items.size() - 2].number);
          v.items.resize(v.items.size() - 2);
          v.items.push_back(std::move(ref));
          continue;
        }
        v.items.push_back(std::move(item));
      }
    } else if (c == ')' || c == '>' || c == ']' || c == '{' || c == '}') {
      decline();
    } else {
      std::string_view run = regular_run();
      if (run.empty()) decline();
      if (number(run, v.number)) {
        v.kind = Value::Kind::Number;
        maybe_reference(v);
      } else if (run == "true" || run == "false") {
        v.kind = Value::Kind::Bool;
        v.number = run == "true";
      } else if (run == "null") {
        v.kind = Value::Kind::Null;
      } else {
        v.kind = Value::Kind::Keyword;
        v.text = run;
      }
    }
    return v;
  }

  static bool number(std::string_view run, double& out) {
    if (run.empty()) return false;
    const char* first = run.data();
    const char* last = run.data() + run.size();
    if (*first == '+') ++first;
    if (first == last) return false;
    // PDF allows ".5" and "5." which from_chars reads too; "-.5" as well.
    auto [end, ec] = std::from_chars(first, last, out, std::chars_format::fixed);
    return ec == std::errc() && end == last;
  }

  std::string literal_string() {
    // At '('; balanced parentheses nest, backslash escapes.
    ++pos_;
    std::string out;
    int open = 1;
    while (true) {
      if (pos_ >= s_.size()) decline();  // unterminated
      char c = s_[pos_++];
      if (c == '(') {
        ++open;
        out += c;
      } else if (c == ')') {
        if (--open == 0) break;
        out += c;
      } else if (c == '\\') {
        if (pos_ >= s_.size()) decline();
        char e = s_[pos_++];
        switch (e) {
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case '\r':  // line continuation
            if (pos_ < s_.size() && s_[pos_] == '\n') ++pos_;
            break;
          case '\n':
            break;
          default:
            if (e >= '0' && e <= '7') {
              int code = e - '0';
              for (int k = 0; k < 2 && pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '7'; ++k)
                code = code * 8 + (s_[pos_++] - '0');
              out += char(code & 0xFF);
            } else {
              out += e;  // \( \) \\ and unknown escapes: the character itself
            }
        }
      } else if (c == '\r') {
        // An end of line inside a string is one '\n' whatever its form.
        if (pos_ < s_.size() && s_[pos_] == '\n') ++pos_;
        out += '\n';
      } else {
        out += c;
      }
    }
    return out;
  }

  std::string hex_string() {
    ++pos_;
    std::string out;
    int high = -1;
    while (true) {
      if (pos_ >= s_.size()) decline();
      char c = s_[pos_++];
      if (c == '>') break;
      if (is_pdf_space(c)) continue;
      int v = hex_value(c);
      if (v < 0) decline();
      if (high < 0) {
        high = v;
      } else {
        out += char(high * 16 + v);
        high = -1;
      }
    }
    if (high >= 0) out += char(high * 16);  // odd digit count: a trailing 0 is implied
    return out;
  }

 private:
  std::string name_chars() {
    std::string out;
    while (pos_ < s_.size() && is_regular(s_[pos_])) {
      char c = s_[pos_++];
      if (c == '#' && pos_ + 1 < s_.size() && hex_value(s_[pos_]) >= 0 &&
          hex_value(s_[pos_ + 1]) >= 0) {
        out += char(hex_value(s_[pos_]) * 16 + hex_value(s_[pos_ + 1]));
        pos_ += 2;
      } else {
        out += c;
      }
    }
    return out;
  }

  // After a number: "G R" makes it a reference (outside arrays, where the array parser does it).
  void maybe_reference(Value& v) {
    size_t save = pos_;
    skip_space();
    std::string_view gen = regular_run();
    double g = 0;
    if (!gen.empty() && number(gen, g)) {
      skip_space();
      if (regular_run() == "R" && v.number >= 0 && v.number <= double(UINT32_MAX)) {
        v.kind = Value::Kind::Ref;
        v.ref = uint32_t(v.number);
        return;
      }
    }
    pos_ = save;
  }

  std::string_view s_;
  size_t pos_;
};

struct Object {
  Value value;
  bool has_stream = false;
  size_t stream_begin = 0, stream_end = 0;  // raw stream bytes in the file
};

// --- CMaps ---------------------------------------------------------------------------------

// Code -> UTF-8 of a ToUnicode CMap, for one code width (1 byte for simple fonts, 2 for Type0).
struct ToUnicodeMap {
  std::unordered_map<uint32_t, std::string> codes;
};

uint32_t big_endian(std::string_view bytes) {
  uint32_t v = 0;
  for (unsigned char b : bytes) v = (v << 8) | b;
  return v;
}

// UTF-16BE (a ToUnicode destination) to UTF-8; `add` is added to the last unit (bfrange).
std::string utf16_destination(std::string_view bytes, uint32_t add) {
  if (bytes.empty() || bytes.size() % 2 != 0 || bytes.size() > 64) decline();
  std::vector<uint32_t> units;
  for (size_t i = 0; i < bytes.size(); i += 2)
    units.push_back((uint8_t(bytes[i]) << 8) | uint8_t(bytes[i + 1]));
  units.back() += add;
  if (units.back() > 0xFFFF) decline();
  std::string out;
  for (size_t i = 0; i < units.size(); ++i) {
    uint32_t u = units[i];
    if (u >= 0xD800 && u <= 0xDBFF && i + 1 < units.size() && units[i + 1] >= 0xDC00 &&
        units[i + 1] <= 0xDFFF) {
      u = 0x10000 + ((u - 0xD800) << 10) + (units[i + 1] - 0xDC00);
      ++i;
    } else if (u >= 0xD800 && u <= 0xDFFF) {
      decline();
    }
    if (u == 0) decline();  // poppler treats NUL destinations specially; let it
    append_unicode(out, u);
  }
  return out;
}

ToUnicodeMap parse_to_unicode(std::string_view cmap, size_t code_bytes) {
  ToUnicodeMap map;
  Lexer lex(cmap);
  std::vector<Value> operands;
  auto code_of = [&](const Value& v) {
    if (!v.is(Value::Kind::String) || v.text.size() != code_bytes) decline();
    return big_endian(v.text);
  };
  while (!lex.at_end()) {
    Value v = lex.value();
    if (!v.is(Value::Kind::Keyword)) {
      operands.push_back(std::move(v));
      if (operands.size() > 300) decline();
      continue;
    }
    const std::string& op = v.text;
    if (op == "begincodespacerange" || op == "beginbfchar" || op == "beginbfrange") {
      operands.clear();
      std::vector<Value> entries;
      std::string end = "end" + op.substr(5);
      while (true) {
        if (lex.at_end()) decline();
        Value e = lex.value();
        if (e.is(Value::Kind::Keyword)) {
          if (e.text != end) decline();
          break;
        }
        entries.push_back(std::move(e));
        if (entries.size() > 3 * 10000) decline();
      }
      if (op == "begincodespacerange") {
        if (entries.size() % 2) decline();
        for (const Value& e : entries)
          if (!e.is(Value::Kind::String) || e.text.size() != code_bytes) decline();
      } else if (op == "beginbfchar") {
        if (entries.size() % 2) decline();
        for (size_t i = 0; i < entries.size(); i += 2) {
          if (!entries[i + 1].is(Value::Kind::String)) decline();
          map.codes.insert_or_assign(code_of(entries[i]),
                                     utf16_destination(entries[i + 1].text, 0));
        }
      } else {
        if (entries.size() % 3) decline();
        for (size_t i = 0; i < entries.size(); i += 3) {
          uint32_t lo = code_of(entries[i]), hi = code_of(entries[i + 1]);
          if (hi < lo || map.codes.size() + (hi - lo) >= kMaxCMapCodes) decline();
          const Value& dst = entries[i + 2];
          for (uint32_t code = lo; code <= hi; ++code) {
            if (dst.is(Value::Kind::String)) {
              map.codes.insert_or_assign(code, utf16_destination(dst.text, code - lo));
            } else if (dst.is(Value::Kind::Array) && code - lo < dst.items.size() &&
                       dst.items[code - lo].is(Value::Kind::String)) {
              map.codes.insert_or_assign(code, utf16_destination(dst.items[code - lo].text, 0));
            } else {
              decline();
            }
          }
        }
      }
    } else if (op == "usecmap" || op == "begincidrange" || op == "begincidchar") {
      decline();  // mappings from elsewhere, or a CID CMap posing as ToUnicode
    } else {
      operands.clear();  // begincmap, def, findresource ... : PostScript around the mappings
    }
  }
  return map;
}

// --- fonts ---------------------------------------------------------------------------------

// The text of one code, classified once so that showing a string is a table walk.
struct CodeText {
  enum class Kind : uint8_t { Unknown, Empty, Space, Word, Mixed };
  Kind kind = Kind::Unknown;
  std::string text;

  void set(std::string utf8) {
    text = std::move(utf8);
    bool spaces = false, others = false;
    for (char c : text) (is_text_space(c) ? spaces : others) = true;
    kind = spaces && others ? Kind::Mixed
           : spaces         ? Kind::Space
           : others         ? Kind::Word
                            : Kind::Empty;
    // poppler reorders right-to-left scripts and merges combining marks into the previous
    // letter; text with them is left to poppler.
    for (size_t i = 0; i + 1 < text.size(); ++i) {
      const auto lead = uint8_t(text[i]), next = uint8_t(text[i + 1]);
      const bool hebrew_to_nko = lead >= 0xD6 && lead <= 0xDF;                   // U+0580..U+07FF
      const bool combining = lead == 0xCC || (lead == 0xCD && next < 0xB0);      // U+0300..U+036F
      const bool presentation = lead == 0xEF && (next >= 0xAC && next <= 0xBB);  // U+FB00..U+FEFF
      if (hebrew_to_nko || combining || presentation) kind = Kind::Unknown;
    }
  }
  static bool is_text_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
  }
};

using CodeTable = std::array<CodeText, 256>;

// The classified tables of the standard encodings, built once.
const CodeTable& code_table(const std::array<uint16_t, 256>& encoding) {
  auto build = [](const std::array<uint16_t, 256>& unicode) {
    CodeTable table;
    // A code without a glyph in the encoding shows nothing, in poppler too.
    for (size_t code = 0; code < 256; ++code) {
      std::string text;
      if (unicode[code]) append_unicode(text, unicode[code]);
      table[code].set(std::move(text));
    }
    return table;
  };
  static const CodeTable standard = build(kStandardEncoding);
  static const CodeTable win_ansi = build(kWinAnsiEncoding);
  static const CodeTable mac_roman = build(kMacRomanEncoding);
  if (&encoding == &kWinAnsiEncoding) return win_ansi;
  if (&encoding == &kMacRomanEncoding) return mac_roman;
  return standard;
}

struct Font {
  size_t code_bytes = 1;
  // Simple fonts: a shared standard table, or this font's own copy once it changes a code.
  // Unknown codes make the reader decline.
  const CodeTable* simple = &kNoCodes;
  std::unique_ptr<CodeTable> own;
  ToUnicodeMap wide;  // Type0 fonts
  bool type3 = false;

  CodeTable& writable() {
    if (!own) {
      own = std::make_unique<CodeTable>(*simple);
      simple = own.get();
    }
    return *own;
  }
  static const CodeTable kNoCodes;
};
const CodeTable Font::kNoCodes{};

// --- the document --------------------------------------------------------------------------

class Document {
 public:
  Document(std::string_view bytes, const PdfTextLimits& limits, const std::string& path,
           uint64_t offset, std::vector<DecodeProblem>& problems)
      : bytes_(bytes), limits_(limits), path_(path), offset_(offset), problems_(problems) {
    const double by_ratio = limits.max_compression_ratio * double(bytes.size());
    ratio_allowance_ = by_ratio >= 1.8e19
                           ? UINT64_MAX
                           : uint64_t(std::max(by_ratio, double(kMinInflateAllowance)));
  }

  PdfText extract() {
    PdfText result;
    read_objects();
    const Value* root = trailer_.get("Root");
    if (!root) decline();
    const Value& catalog = resolve(*root);
    const Value* pages = catalog.get("Pages");
    if (!pages) decline();
    std::vector<Page> page_list;
    std::unordered_set<uint32_t> visited;
    collect_pages(*pages, nullptr, 0, visited, page_list);
    if (page_list.empty()) decline();
    result.page_count = page_list.size();
    const size_t pages_read = std::min(page_list.size(), limits_.max_pages);
    try {
      for (size_t i = 0; i < pages_read; ++i) result.pages.push_back(page_text(page_list[i]));
    } catch (const LimitReached&) {
      // The pages before the limit keep their text; the problem is reported.
    }
    result.handled = true;
    return result;
  }

 private:
  struct Page {
    const Value* dict;
    const Value* resources;
  };

  void read_objects() {
    std::string_view s = bytes_;
    size_t p = 0;
    bool have_trailer = false;
    while (true) {
      size_t hit = s.find("obj", p);
      if (hit == npos) break;
      p = hit + 3;
      if (p < s.size() && is_regular(s[p])) continue;  // "objects", "endobj" checked below
      // Before "obj": generation number, object number, each after whitespace.
      size_t q = hit;
      auto digits_back = [&](size_t& at) {
        size_t end = at;
        while (at > 0 && s[at - 1] >= '0' && s[at - 1] <= '9') --at;
        return end - at;
      };
      if (q == 0 || !is_pdf_space(s[q - 1])) continue;
      while (q > 0 && is_pdf_space(s[q - 1])) --q;
      if (digits_back(q) == 0 || q == 0 || !is_pdf_space(s[q - 1])) continue;
      while (q > 0 && is_pdf_space(s[q - 1])) --q;
      size_t num_end = q;
      size_t num_digits = digits_back(q);
      if (num_digits == 0 || num_digits > 9 || (q > 0 && is_regular(s[q - 1]))) continue;
      uint32_t number = 0;
      std::from_chars(s.data() + q, s.data() + num_end, number);

      Lexer lex(s, p);
      Object object;
      object.value = lex.value();
      if (object.value.is(Value::Kind::Keyword)) decline();
      lex.skip_space();
      size_t after = lex.pos();
      if (s.substr(after, 6) == "stream") {
        if (!object.value.is(Value::Kind::Dict)) decline();
        size_t begin = after + 6;
        // The data starts after an end of line; without one, poppler reads something else.
        if (begin >= s.size() || (s[begin] != '\r' && s[begin] != '\n')) decline();
        if (s[begin] == '\r') ++begin;
        if (begin < s.size() && s[begin] == '\n') ++begin;
        size_t end = npos;
        if (const Value* length = object.value.get("Length");
            length && length->is(Value::Kind::Number) && length->number >= 0 &&
            length->number <= double(s.size() - begin)) {
          size_t candidate = begin + size_t(length->number);
          size_t k = candidate;
          while (k < s.size() && is_pdf_space(s[k])) ++k;
          if (s.substr(k, 9) == "endstream") {
            end = candidate;
            p = k + 9;
          }
        }
        if (end == npos) {
          size_t k = s.find("endstream", begin);
          if (k == npos) decline();  // truncated
          end = k;
          // The end-of-line before "endstream" is not data.
          if (end > begin && s[end - 1] == '\n') --end;
          if (end > begin && s[end - 1] == '\r') --end;
          p = k + 9;
        }
        object.has_stream = true;
        object.stream_begin = begin;
        object.stream_end = end;
        const Value* type = object.value.get("Type");
        if (type && type->is_name("ObjStm")) decline();  // objects we may need are inside
        if (type && type->is_name("XRef")) {
          trailer_ = object.value;  // a cross-reference stream carries the trailer entries
          have_trailer = true;
        }
      } else {
        p = after;
      }
      objects_.insert_or_assign(number, std::move(object));
    }
    // The last classic trailer wins over earlier ones (incremental updates append).
    size_t t = s.rfind("trailer");
    if (t != npos) {
      Lexer lex(s, t + 7);
      Value dict = lex.value();
      if (!dict.is(Value::Kind::Dict)) decline();
      trailer_ = std::move(dict);
      have_trailer = true;
    }
    if (!have_trailer) decline();
    if (trailer_.get("Encrypt")) decline();
  }

  const Value& resolve(const Value& v, int hops = 0) const {
    if (!v.is(Value::Kind::Ref)) return v;
    if (hops > 8) decline();
    auto it = objects_.find(v.ref);
    if (it == objects_.end()) return null_;
    return resolve(it->second.value, hops + 1);
  }

  const Object* object_of(const Value& v) const {
    if (!v.is(Value::Kind::Ref)) return nullptr;
    auto it = objects_.find(v.ref);
    return it == objects_.end() ? nullptr : &it->second;
  }

  void collect_pages(const Value& node_ref, const Value* inherited, int depth,
                     std::unordered_set<uint32_t>& visited, std::vector<Page>& out) {
    if (depth > kMaxPageTreeDepth) decline();
    if (node_ref.is(Value::Kind::Ref) && !visited.insert(node_ref.ref).second) decline();
    const Value& node = resolve(node_ref);
    if (!node.is(Value::Kind::Dict)) decline();
    const Value* resources = node.get("Resources");
    if (resources) resources = &resolve(*resources);
    if (!resources) resources = inherited;
    const Value* type = node.get("Type");
    const Value* kids = node.get("Kids");
    if ((type && type->is_name("Pages")) || (!type && kids)) {
      if (!kids) decline();
      const Value& list = resolve(*kids);
      if (!list.is(Value::Kind::Array)) decline();
      for (const Value& kid : list.items) collect_pages(kid, resources, depth + 1, visited, out);
      return;
    }
    if (type && !type->is_name("Page")) decline();
    out.push_back({&node, resources});
  }

  // Stream bytes after its filters; declines on filters other than Flate.
  std::string stream_data(const Object& object) {
    std::string_view raw =
        bytes_.substr(object.stream_begin, object.stream_end - object.stream_begin);
    const Value* filter = object.value.get("Filter");
    std::vector<const Value*> filters;
    if (filter) {
      const Value& f = resolve(*filter);
      if (f.is(Value::Kind::Name)) {
        filters.push_back(&f);
      } else if (f.is(Value::Kind::Array)) {
        for (const Value& item : f.items) filters.push_back(&item);
      } else if (!f.is(Value::Kind::Null)) {
        decline();
      }
    }
    if (filters.empty()) return std::string(raw);
    if (filters.size() > 1 || !(filters[0]->is_name("FlateDecode") || filters[0]->is_name("Fl")))
      decline();
    if (const Value* parms = object.value.get("DecodeParms")) {
      const Value& d = resolve(*parms);
      if (const Value* predictor = d.get("Predictor");
          predictor && !(predictor->is(Value::Kind::Number) && predictor->number == 1))
        decline();
    }
    return inflate_stream(raw, object.stream_begin);
  }

  std::string inflate_stream(std::string_view raw, size_t at) {
    z_stream z{};
    if (inflateInit(&z) != Z_OK) decline();
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
    z.avail_in = uInt(std::min<size_t>(raw.size(), UINT32_MAX));
    std::string out;
    char buffer[16384];
    int rc = Z_OK;
    while (true) {
      z.next_out = reinterpret_cast<Bytef*>(buffer);
      z.avail_out = sizeof buffer;
      rc = inflate(&z, Z_NO_FLUSH);
      size_t got = sizeof buffer - z.avail_out;
      inflated_ += got;
      if (inflated_ > limits_.max_inflated || inflated_ > ratio_allowance_) {
        inflateEnd(&z);
        const bool ratio = inflated_ > ratio_allowance_;
        add_problem(problems_, offset_,
                    path_ + ": PDF stream at byte " + std::to_string(at) +
                        (ratio ? " inflates beyond the decompression ratio " +
                                     std::to_string(int64_t(limits_.max_compression_ratio)) +
                                     " (deflate bomb?)"
                               : " inflates beyond the decompressed-bytes limit " +
                                     std::to_string(limits_.max_inflated)) +
                        "; the rest is not decoded");
        throw LimitReached{};
      }
      out.append(buffer, got);
      if (rc == Z_STREAM_END) break;
      if (rc != Z_OK) {
        // Corrupt or truncated data: poppler decodes what it can, with its own judgement.
        inflateEnd(&z);
        decline();
      }
    }
    inflateEnd(&z);
    return out;
  }

  const Font& font_named(const std::string& name, const Value* resources) {
    if (!resources) decline();
    const Value* fonts = resources->get("Font");
    if (!fonts) decline();
    const Value& font_dict_set = resolve(*fonts);
    const Value* entry = font_dict_set.get(name);
    if (!entry) decline();
    // Fonts are cached by object (shared across pages) or by their dictionary's address.
    const void* key = entry->is(Value::Kind::Ref) ? static_cast<const void*>(object_of(*entry))
                                                  : static_cast<const void*>(entry);
    if (!key) decline();
    auto it = fonts_.find(key);
    if (it != fonts_.end()) return it->second;
    return fonts_.emplace(key, make_font(resolve(*entry))).first->second;
  }

  Font make_font(const Value& dict) {
    if (!dict.is(Value::Kind::Dict)) decline();
    Font font;
    const Value* subtype = dict.get("Subtype");
    if (!subtype || !subtype->is(Value::Kind::Name)) decline();
    const std::string& kind = subtype->text;
    const Value* to_unicode = dict.get("ToUnicode");
    std::string cmap;
    if (to_unicode) {
      const Object* object = object_of(*to_unicode);
      if (!object || !object->has_stream) decline();
      cmap = stream_data(*object);
    }
    if (kind == "Type0") {
      const Value* encoding = dict.get("Encoding");
      // Vertical writing (Identity-V) is laid out in columns by poppler: not ours.
      if (!encoding || !encoding->is_name("Identity-H")) decline();
      if (!to_unicode) decline();
      font.code_bytes = 2;
      font.wide = parse_to_unicode(cmap, 2);
      return font;
    }
    if (kind != "Type1" && kind != "TrueType" && kind != "MMType1" && kind != "Type3") decline();
    font.type3 = kind == "Type3";
    bool embedded = false;
    if (const Value* descriptor = dict.get("FontDescriptor")) {
      const Value& d = resolve(*descriptor);
      embedded = d.get("FontFile") || d.get("FontFile2") || d.get("FontFile3");
    }
    std::string base_font;
    if (const Value* b = dict.get("BaseFont"); b && b->is(Value::Kind::Name)) base_font = b->text;
    const bool symbolic_builtin = base_font.find("Symbol") != std::string::npos ||
                                  base_font.find("Dingbats") != std::string::npos;
    // The encoding: a base table plus /Differences. Without one the font program decides,
    // which only the standard 14 fonts (not embedded) let us know.
    const std::array<uint16_t, 256>* base = nullptr;
    const Value* differences = nullptr;
    bool encoding_known = true;
    const Value* encoding = dict.get("Encoding");
    const Value* enc = encoding ? &resolve(*encoding) : nullptr;
    auto named = [](const Value& v) -> const std::array<uint16_t, 256>* {
      if (v.is_name("WinAnsiEncoding")) return &kWinAnsiEncoding;
      if (v.is_name("StandardEncoding")) return &kStandardEncoding;
      if (v.is_name("MacRomanEncoding")) return &kMacRomanEncoding;
      return nullptr;
    };
    if (enc && enc->is(Value::Kind::Name)) {
      base = named(*enc);
      if (!base) encoding_known = false;
    } else if (enc && enc->is(Value::Kind::Dict)) {
      if (const Value* b = enc->get("BaseEncoding")) {
        base = named(*b);
        if (!base) encoding_known = false;
      }
      differences = enc->get("Differences");
    } else if (enc) {
      encoding_known = false;
    }
    if (!base && encoding_known) {
      if (kind == "Type1" && !embedded && !symbolic_builtin && !font.type3) {
        base = &kStandardEncoding;
      } else {
        encoding_known = false;
      }
    }
    if (encoding_known) {
      font.simple = &code_table(*base);
      if (differences) {
        const Value& list = resolve(*differences);
        if (!list.is(Value::Kind::Array)) decline();
        int64_t code = -1;
        for (const Value& item : list.items) {
          if (item.is(Value::Kind::Number)) {
            if (!(item.number >= 0 && item.number <= 255)) decline();
            code = int64_t(item.number);
          } else if (item.is(Value::Kind::Name)) {
            if (code < 0 || code > 255) decline();
            int32_t u = glyph_unicode(item.text);
            if (u < 0) decline();
            std::string text;
            append_unicode(text, uint32_t(u));
            font.writable()[code].set(std::move(text));
            ++code;
          } else {
            decline();
          }
        }
      }
    }
    if (to_unicode) {
      ToUnicodeMap map = parse_to_unicode(cmap, 1);
      for (auto& [code, text] : map.codes) {
        font.writable()[code].set(text);
      }
    } else if (font.type3 || !encoding_known) {
      decline();
    }
    return font;
  }

  // The page's text in poppler's page::text() layout.
  std::string page_text(const Page& page) {
    if (const Value* annots = page.dict->get("Annots")) {
      // poppler draws annotation appearances (form fields, free text) into the page's text.
      const Value& list = resolve(*annots);
      if (list.is(Value::Kind::Array)) {
        for (const Value& a : list.items)
          if (const Value& annot = resolve(a);
              !annot.get("Subtype") || !annot.get("Subtype")->is_name("Link"))
            decline();
      } else if (!list.is(Value::Kind::Null)) {
        decline();
      }
    }
    std::string content;
    if (const Value* contents = page.dict->get("Contents")) {
      auto append_stream = [&](const Value& ref) {
        const Object* object = object_of(ref);
        if (!object) {
          if (ref.is(Value::Kind::Ref)) return;  // missing object: no content, as poppler
          decline();
        }
        if (!object->has_stream) {
          if (object->value.is(Value::Kind::Null)) return;
          decline();
        }
        content += stream_data(*object);
        content += '\n';
      };
      const Object* direct = object_of(*contents);
      if (direct && direct->value.is(Value::Kind::Array)) {
        for (const Value& item : direct->value.items) append_stream(item);
      } else if (contents->is(Value::Kind::Array)) {
        for (const Value& item : contents->items) append_stream(item);
      } else {
        append_stream(*contents);
      }
    }
    return TextRun(*this, page.resources).run(content);
  }

  // Interprets one page's content stream for its text.
  class TextRun {
   public:
    TextRun(Document& doc, const Value* resources) : doc_(doc), resources_(resources) {}

    std::string run(std::string_view content) {
      if (content.find("ActualText") != npos) decline();  // poppler substitutes those spans
      Lexer lex(content);
      std::vector<Value> operands;
      while (!lex.at_end()) {
        Value v = lex.value();
        if (!v.is(Value::Kind::Keyword)) {
          if (operands.size() > 64) decline();
          operands.push_back(std::move(v));
          continue;
        }
        op(v.text, operands, lex);
        operands.clear();
      }
      end_line();
      out_ += '\f';
      return std::move(out_);
    }

   private:
    static double num(const std::vector<Value>& ops, size_t i) {
      if (i >= ops.size() || !ops[i].is(Value::Kind::Number)) decline();
      return ops[i].number;
    }

    void op(const std::string& name, const std::vector<Value>& ops, Lexer& lex) {
      if (name == "Tj") {
        if (ops.size() != 1 || !ops[0].is(Value::Kind::String)) decline();
        show(ops[0].text);
      } else if (name == "TJ") {
        if (ops.size() != 1 || !ops[0].is(Value::Kind::Array)) decline();
        for (const Value& item : ops[0].items) {
          if (item.is(Value::Kind::String)) {
            show(item.text);
          } else if (item.is(Value::Kind::Number)) {
            kerning(item.number);
          } else {
            decline();
          }
        }
      } else if (name == "'") {
        if (ops.size() != 1 || !ops[0].is(Value::Kind::String)) decline();
        next_line();
        show(ops[0].text);
      } else if (name == "\"") {
        if (ops.size() != 3 || !ops[2].is(Value::Kind::String)) decline();
        char_spacing_ = num(ops, 1);
        next_line();
        show(ops[2].text);
      } else if (name == "Td" || name == "TD") {
        double tx = num(ops, 0), ty = num(ops, 1);
        if (name == "TD") leading_ = -ty;
        move(tx, ty);
      } else if (name == "T*") {
        next_line();
      } else if (name == "Tm") {
        for (size_t i = 0; i < 6; ++i) num(ops, i);
        if (ops.size() != 6) decline();
        // Rotated, skewed or mirrored text: poppler orders it by geometry we do not track.
        if (ops[1].number != 0 || ops[2].number != 0 || ops[0].number <= 0 || ops[3].number <= 0)
          decline();
        const double y = ops[5].number;
        if (line_started_ && y == line_y_) decline();
        scale_y_ = ops[3].number;
        line_y_ = y;
        end_line();
      } else if (name == "BT") {
        scale_y_ = 1;
        line_y_ = 0;
      } else if (name == "ET") {
        end_line();
      } else if (name == "Tf") {
        if (ops.size() != 2 || !ops[0].is(Value::Kind::Name)) decline();
        font_ = &doc_.font_named(ops[0].text, resources_);
        font_size_ = num(ops, 1);
      } else if (name == "TL") {
        leading_ = num(ops, 0);
      } else if (name == "Tc") {
        char_spacing_ = num(ops, 0);
      } else if (name == "q") {
        if (saved_ctm_.size() > 1000) decline();
        saved_ctm_.push_back(ctm_);
      } else if (name == "Q") {
        if (!saved_ctm_.empty()) {
          ctm_ = saved_ctm_.back();
          saved_ctm_.pop_back();
        }
      } else if (name == "cm") {
        concat(ops);
      } else if (name == "Tz") {
        if (num(ops, 0) != 100) decline();
      } else if (name == "Ts") {
        if (num(ops, 0) != 0) decline();  // a raised or lowered run may be a line of its own
      } else if (name == "BI") {
        skip_inline_image(lex);
      } else if (name == "Do") {
        if (ops.size() != 1 || !ops[0].is(Value::Kind::Name)) decline();
        xobject(ops[0].text);
      } else if (name == "d0" || name == "d1" || name == "sh" || name == "BX" || name == "EX") {
        // Nothing here carries text; BX/EX bracket operators we may not know, which is fine
        // since unknown operators are ignored anyway.
      }
      // Every other operator (graphics state, paths, colours, marked content) draws no text.
    }

    void xobject(const std::string& name) {
      if (!resources_) return;
      const Value* set = resources_->get("XObject");
      if (!set) return;
      const Value* entry = doc_.resolve(*set).get(name);
      if (!entry) return;
      const Value& x = doc_.resolve(*entry);
      // Form XObjects are content streams of their own, which poppler reads for text.
      if (const Value* subtype = x.get("Subtype"); !subtype || !subtype->is_name("Image"))
        decline();
    }

    void skip_inline_image(Lexer& lex) {
      // Key/value pairs up to ID, then binary data up to a whitespace-delimited EI.
      while (true) {
        if (lex.at_end()) decline();
        Value v = lex.value();
        if (v.is(Value::Kind::Keyword) && v.text == "ID") break;
      }
      std::string_view s = lex.source();
      size_t p = lex.pos() + 1;  // the single whitespace after ID
      while (true) {
        size_t hit = s.find("EI", p);
        if (hit == npos) decline();
        bool before = hit > 0 && is_pdf_space(s[hit - 1]);
        bool after = hit + 2 >= s.size() || is_pdf_space(s[hit + 2]) || is_delimiter(s[hit + 2]);
        if (before && after) {
          lex.seek(hit + 2);
          return;
        }
        p = hit + 2;
      }
    }

    void move(double tx, double ty) {
      if (ty != 0) {
        line_y_ += ty * scale_y_;
        end_line();
      } else if (tx != 0 && line_started_) {
        decline();  // a horizontal jump: whether poppler sees a word gap needs glyph widths
      }
    }

    void next_line() {
      if (leading_ == 0) {
        if (line_started_) decline();  // text drawn over text
        return;
      }
      move(0, -leading_);
    }

    void kerning(double thousandths) {
      if (!font_) decline();
      if (font_->type3) decline();  // Type3 glyph space is the font's own matrix
      // Measured on poppler: gaps of 0.12 em and more split words, 0.08 em and less do not;
      // in between it depends on the line's statistics.
      if (thousandths <= -200) {
        pending_space_ = true;
      } else if (thousandths < -90) {
        decline();
      }
    }

    void show(const std::string& bytes) {
      if (!font_) decline();
      if (font_size_ <= 0 || std::abs(char_spacing_) > 0.02 * font_size_) decline();
      const Font& f = *font_;
      if (f.code_bytes == 1) {
        for (unsigned char code : bytes) append((*f.simple)[code]);
        return;
      }
      if (bytes.size() % 2) decline();
      CodeText wide;
      for (size_t i = 0; i < bytes.size(); i += 2) {
        auto it = f.wide.codes.find(big_endian(std::string_view(bytes).substr(i, 2)));
        if (it == f.wide.codes.end()) decline();
        wide.set(it->second);
        append(wide);
      }
    }

    void append(const CodeText& code) {
      switch (code.kind) {
        case CodeText::Kind::Unknown:
          decline();
        case CodeText::Kind::Empty:
          return;
        case CodeText::Kind::Space:
          pending_space_ = true;
          return;
        case CodeText::Kind::Word:
          open_word();
          out_ += code.text;
          return;
        case CodeText::Kind::Mixed:
          for (char c : code.text) {
            if (CodeText::is_text_space(c)) {
              pending_space_ = true;
            } else {
              open_word();
              out_ += c;
            }
          }
      }
    }

    void open_word() {
      if (!line_started_) start_line();
      if (pending_space_) out_ += ' ';
      pending_space_ = false;
    }

    // poppler orders lines by position and joins runs on one baseline: the stream's order is
    // its order only while each line of text lies below the one before.
    void start_line() {
      if (!ctm_.upright) decline();
      const double y = ctm_.d * line_y_ + ctm_.f;
      if (have_previous_line_ && y >= previous_line_y_) decline();
      previous_line_y_ = y;
      have_previous_line_ = true;
      line_started_ = true;
      pending_space_ = false;
    }

    void concat(const std::vector<Value>& ops) {
      for (size_t i = 0; i < 6; ++i) num(ops, i);
      if (ops.size() != 6) decline();
      const double b = ops[1].number, c = ops[2].number, d = ops[3].number, f = ops[5].number;
      ctm_.upright = ctm_.upright && b == 0 && c == 0 && d > 0;
      ctm_.f = f * ctm_.d + ctm_.f;
      ctm_.d = d * ctm_.d;
    }

    void end_line() {
      pending_space_ = false;
      if (!line_started_) return;
      out_ += '\n';
      line_started_ = false;
    }

    Document& doc_;
    const Value* resources_;
    const Font* font_ = nullptr;
    double font_size_ = 0, leading_ = 0, char_spacing_ = 0;
    double scale_y_ = 1, line_y_ = 0;
    // The current transformation matrix as far as line order needs it: vertical scale and
    // offset, and whether it keeps text upright (no rotation, skew or flip).
    struct Ctm {
      double d = 1, f = 0;
      bool upright = true;
    };
    Ctm ctm_;
    std::vector<Ctm> saved_ctm_;
    double previous_line_y_ = 0;
    bool have_previous_line_ = false;
    bool pending_space_ = false;
    bool line_started_ = false;  // text was shown on this line
    std::string out_;
  };

  std::string_view bytes_;
  const PdfTextLimits& limits_;
  const std::string& path_;
  uint64_t offset_;
  std::vector<DecodeProblem>& problems_;
  uint64_t ratio_allowance_ = 0;
  uint64_t inflated_ = 0;
  std::unordered_map<uint32_t, Object> objects_;
  std::unordered_map<const void*, Font> fonts_;
  Value trailer_;
  const Value null_;
};

}  // namespace

PdfText pdf_text_fast(std::string_view bytes, const PdfTextLimits& limits, const std::string& path,
                      uint64_t offset, std::vector<DecodeProblem>& problems) {
  if (!bytes.starts_with("%PDF-")) return {};
  const size_t problems_before = problems.size();
  try {
    return Document(bytes, limits, path, offset, problems).extract();
  } catch (const Decline&) {
    problems.resize(problems_before);
    return {};
  } catch (const LimitReached&) {
    // Stopped before the page loop (a font's CMap stream): handled, with no text.
    PdfText stopped;
    stopped.handled = true;
    return stopped;
  }
}

}  // namespace credsift::mime_detail

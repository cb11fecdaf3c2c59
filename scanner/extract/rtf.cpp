// RTF to text: a bounded reader with an explicit group stack (no recursion), control words,
// \'hh bytes in the document's or the font's code page, \uN with \ucN fallback skipping, and
// the destinations that hold no readable text (font and colour tables, style sheets, pictures,
// object data, \* destinations) skipped. Outlook's HTML-encapsulated RTF (\fromhtml) keeps the
// text outside \htmlrtf runs.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "extract_internal.hpp"

namespace credsift::mime_detail {

namespace {

constexpr size_t kMaxGroupDepth = 4096;  // deeper groups inherit the deepest state kept
constexpr size_t kMaxFonts = 4096;
constexpr size_t kMaxWordBytes = 32;  // control words are at most 32 letters (RTF 1.9)

enum class Dest : uint8_t { Text, Skip, FontTable };

struct GroupState {
  Dest dest = Dest::Text;
  bool html_rtf = false;  // inside \htmlrtf ... \htmlrtf0: RTF-only rendering, not the text
  uint8_t uc = 1;         // bytes that stand in for each \uN
  int font = -1;
};

// Code page of an RTF \fcharset value (RTF 1.9 spec, table of character sets).
int charset_code_page(int charset) {
  switch (charset) {
    case 0:
      return 0;  // ANSI: the document's \ansicpg
    case 77:
      return 10000;
    case 128:
      return 932;
    case 129:
      return 949;
    case 130:
      return 1361;
    case 134:
      return 936;
    case 136:
      return 950;
    case 161:
      return 1253;
    case 162:
      return 1254;
    case 163:
      return 1258;
    case 177:
      return 1255;
    case 178:
      return 1256;
    case 186:
      return 1257;
    case 204:
      return 1251;
    case 222:
      return 874;
    case 238:
      return 1250;
    case 255:
      return 437;
    default:
      return 0;
  }
}

std::string code_page_charset(int cp) {
  switch (cp) {
    case 0:
      return "windows-1252";
    case 10000:
      return "MACINTOSH";
    case 932:
      return "CP932";
    case 949:
      return "CP949";
    case 1361:
      return "JOHAB";
    case 936:
      return "CP936";
    case 950:
      return "CP950";
    case 437:
      return "CP437";
    case 874:
      return "CP874";
    case 65001:
      return "UTF-8";
    default:
      if (cp >= 1250 && cp <= 1258) return "windows-" + std::to_string(cp);
      if (cp > 0 && cp < 100000) return "CP" + std::to_string(cp);
      return "windows-1252";
  }
}

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Destinations whose content is not the document's text.
bool skipped_destination(std::string_view w) {
  static constexpr std::string_view kSkip[] = {"colortbl",
                                               "stylesheet",
                                               "info",
                                               "pict",
                                               "objdata",
                                               "themedata",
                                               "colorschememapping",
                                               "datastore",
                                               "latentstyles",
                                               "listtable",
                                               "listoverridetable",
                                               "rsidtbl",
                                               "xmlnstbl",
                                               "filetbl",
                                               "revtbl",
                                               "generator",
                                               "mmathPr",
                                               "pgdsctbl",
                                               "nonshppict",
                                               "bkmkstart",
                                               "bkmkend",
                                               "listtext",
                                               "pntext",
                                               "pntxta",
                                               "pntxtb",
                                               "fontemb",
                                               "fontfile",
                                               "template",
                                               "userprops",
                                               "docvar",
                                               "wgrffmtfilter"};
  for (std::string_view s : kSkip)
    if (w == s) return true;
  return false;
}

class RtfReader {
 public:
  RtfReader(std::string_view in, size_t max_output) : in_(in), max_output_(max_output) {}

  RtfText run() {
    stack_.push_back({});
    while (pos_ < in_.size() && !result_.truncated) {
      const char c = in_[pos_];
      if (c == '{') {
        ++pos_;
        flush_bytes();
        open_group();
      } else if (c == '}') {
        ++pos_;
        flush_bytes();
        close_group();
      } else if (c == '\\') {
        control();
      } else if (c == '\r' || c == '\n') {
        ++pos_;
      } else {
        ++pos_;
        if (skip_fallback_ > 0) {
          --skip_fallback_;
          continue;
        }
        if (c == '\t') {
          text_char('\t');
        } else if (uint8_t(c) >= 0x80) {
          raw_byte(uint8_t(c));
        } else {
          text_char(c);
        }
      }
    }
    flush_bytes();
    if (depth_ != 0 && !result_.truncated) result_.unbalanced = true;
    return std::move(result_);
  }

 private:
  GroupState& state() { return stack_.back(); }
  bool emitting() const { return stack_.back().dest == Dest::Text && !stack_.back().html_rtf; }

  void open_group() {
    skip_fallback_ = 0;
    ++depth_;
    if (stack_.size() < kMaxGroupDepth) stack_.push_back(stack_.back());
    star_ = false;
  }

  void close_group() {
    skip_fallback_ = 0;
    if (depth_ == 0) return;  // stray '}': ignored
    if (depth_ < kMaxGroupDepth && stack_.size() > 1) stack_.pop_back();
    --depth_;
    star_ = false;
  }

  void control() {
    // in_[pos_] == '\\'
    if (pos_ + 1 >= in_.size()) {
      ++pos_;
      return;
    }
    const char c = in_[pos_ + 1];
    if (!is_letter(c)) {
      pos_ += 2;
      control_symbol(c);
      return;
    }
    size_t p = pos_ + 1;
    const size_t word_start = p;
    while (p < in_.size() && is_letter(in_[p]) && p - word_start < kMaxWordBytes) ++p;
    std::string_view word = in_.substr(word_start, p - word_start);
    bool has_param = false;
    bool negative = false;
    int64_t param = 0;
    if (p < in_.size() && in_[p] == '-' && p + 1 < in_.size() && in_[p + 1] >= '0' &&
        in_[p + 1] <= '9') {
      negative = true;
      ++p;
    }
    size_t digits = 0;
    while (p < in_.size() && in_[p] >= '0' && in_[p] <= '9') {
      if (digits < 10) param = param * 10 + (in_[p] - '0');
      ++digits;
      ++p;
    }
    has_param = digits > 0;
    if (negative) param = -param;
    if (p < in_.size() && in_[p] == ' ') ++p;  // the delimiting space belongs to the word
    pos_ = p;
    control_word(word, has_param, param);
  }

  void control_symbol(char c) {
    if (c == '\'') {
      // \'hh: one byte in the current code page.
      int hi = pos_ < in_.size() ? hex_value(in_[pos_]) : -1;
      int lo = pos_ + 1 < in_.size() ? hex_value(in_[pos_ + 1]) : -1;
      pos_ += hi < 0 ? 0 : lo < 0 ? 1 : 2;  // a cut-off escape is dropped
      if (skip_fallback_ > 0) {
        --skip_fallback_;
        return;
      }
      if (hi >= 0 && lo >= 0) raw_byte(uint8_t(hi * 16 + lo));
      return;
    }
    if (skip_fallback_ > 0) {
      --skip_fallback_;
      return;
    }
    switch (c) {
      case '\\':
      case '{':
      case '}':
        text_char(c);
        break;
      case '*':
        star_ = true;
        break;
      case '~':
        text_char(' ');
        break;  // non-breaking space
      case '_':
        text_char('-');
        break;  // non-breaking hyphen
      case '\r':
      case '\n':
        text_char('\n');
        break;  // "\<newline>" is \par
      case '\t':
        text_char('\t');
        break;
      default:
        break;  // \- optional hyphen, \: index entry, \| formula
    }
  }

  void control_word(std::string_view w, bool has_param, int64_t param) {
    const bool star = star_;
    star_ = false;
    if (w == "bin") {
      // \binN: N raw bytes that are not RTF.
      uint64_t n = has_param && param > 0 ? uint64_t(param) : 0;
      pos_ += size_t(std::min<uint64_t>(n, in_.size() - pos_));
      return;
    }
    if (skip_fallback_ > 0) {
      --skip_fallback_;
      return;
    }
    GroupState& s = state();
    if (star && w != "fldinst") {
      // Unknown or ignorable destination. fldinst is kept: HYPERLINK targets carry URLs.
      s.dest = Dest::Skip;
      return;
    }
    if (w == "fonttbl") {
      s.dest = Dest::FontTable;
      return;
    }
    if (skipped_destination(w)) {
      s.dest = Dest::Skip;
      return;
    }
    if (s.dest == Dest::FontTable) {
      if (w == "f" && has_param) {
        defining_font_ = int(param);
      } else if (w == "fcharset" && has_param && defining_font_ >= 0) {
        set_font_code_page(defining_font_, charset_code_page(int(param)));
      } else if (w == "cpg" && has_param && defining_font_ >= 0) {
        set_font_code_page(defining_font_, int(param));
      }
      return;
    }
    if (w == "ansicpg" && has_param) {
      flush_bytes();
      ansi_code_page_ = int(param);
    } else if (w == "f" && has_param) {
      flush_bytes();
      s.font = int(param);
    } else if (w == "uc" && has_param) {
      s.uc = uint8_t(std::clamp<int64_t>(param, 0, 255));
    } else if (w == "u" && has_param) {
      unicode(param);
      skip_fallback_ = s.uc;
    } else if (w == "htmlrtf") {
      s.html_rtf = !has_param || param != 0;
    } else if (w == "par" || w == "line" || w == "row" || w == "sect" || w == "page" ||
               w == "softline") {
      // Kept inside \htmlrtf runs too: there they stand for the HTML's <br> and <p>, and
      // without them the words around a line break would run together.
      if (s.dest == Dest::Text && s.html_rtf) {
        flush_bytes();
        append("\n");
      } else {
        text_char('\n');
      }
    } else if (w == "tab" || w == "cell") {
      text_char('\t');
    } else if (w == "lquote") {
      text_code_point(0x2018);
    } else if (w == "rquote") {
      text_code_point(0x2019);
    } else if (w == "ldblquote") {
      text_code_point(0x201C);
    } else if (w == "rdblquote") {
      text_code_point(0x201D);
    } else if (w == "bullet") {
      text_code_point(0x2022);
    } else if (w == "endash") {
      text_code_point(0x2013);
    } else if (w == "emdash") {
      text_code_point(0x2014);
    } else if (w == "emspace" || w == "enspace" || w == "qmspace") {
      text_char(' ');
    }
  }

  void set_font_code_page(int font, int cp) {
    if (fonts_.size() < kMaxFonts || fonts_.count(font)) fonts_[font] = cp;
  }

  int current_code_page() {
    const int font = state().font;
    if (font >= 0) {
      auto it = fonts_.find(font);
      if (it != fonts_.end() && it->second != 0) return it->second;
    }
    return ansi_code_page_;
  }

  void unicode(int64_t n) {
    if (n < 0) n += 65536;
    uint32_t u = uint32_t(n) & 0xFFFF;
    if (u >= 0xD800 && u <= 0xDBFF) {
      high_surrogate_ = u;
      return;
    }
    if (u >= 0xDC00 && u <= 0xDFFF) {
      if (high_surrogate_ == 0) return;
      u = 0x10000 + ((high_surrogate_ - 0xD800) << 10) + (u - 0xDC00);
    }
    high_surrogate_ = 0;
    text_code_point(u);
  }

  void raw_byte(uint8_t b) {
    if (!emitting()) return;
    if (pending_.empty()) pending_code_page_ = current_code_page();
    pending_.push_back(char(b));
    if (pending_.size() >= 4096) flush_bytes();
  }

  void flush_bytes() {
    if (pending_.empty()) return;
    std::string utf8 = to_utf8(pending_, code_page_charset(pending_code_page_));
    pending_.clear();
    append(utf8);
  }

  void text_char(char c) {
    if (!emitting()) return;
    flush_bytes();
    if (result_.text.size() >= max_output_) {
      result_.truncated = true;
      return;
    }
    result_.text.push_back(c);
  }

  void text_code_point(uint32_t cp) {
    if (!emitting()) return;
    flush_bytes();
    std::string utf8;
    append_utf8(utf8, cp);
    append(utf8);
  }

  void append(std::string_view s) {
    if (result_.text.size() + s.size() > max_output_) {
      result_.truncated = true;
      return;
    }
    result_.text.append(s);
  }

  std::string_view in_;
  size_t max_output_;
  size_t pos_ = 0;
  size_t depth_ = 0;  // group nesting, also beyond the states kept
  std::vector<GroupState> stack_;
  std::unordered_map<int, int> fonts_;  // font number -> code page (0: the document's)
  int defining_font_ = -1;
  int ansi_code_page_ = 1252;
  size_t skip_fallback_ = 0;  // \uN fallback characters still to skip
  bool star_ = false;
  uint32_t high_surrogate_ = 0;
  std::string pending_;  // \'hh bytes not yet converted (multi-byte code pages need pairs)
  int pending_code_page_ = 1252;
  RtfText result_;
};

}  // namespace

bool is_rtf(std::string_view bytes) {
  size_t i = 0;  // a few bytes of leading white space or a UTF-8 byte order mark are tolerated
  if (bytes.starts_with("\xEF\xBB\xBF")) i = 3;
  while (i < bytes.size() && i < 16 && is_space(bytes[i])) ++i;
  return bytes.substr(i).starts_with("{\\rtf");
}

void decode_rtf(std::string_view bytes, const std::string& path, uint64_t offset, SegmentKind kind,
                DecodeContext& ctx, DecodedMessage& dm) {
  const uint64_t budget = ctx.limits.max_decompressed_bytes - ctx.decompressed;
  RtfText rtf = rtf_to_text(bytes, size_t(std::min<uint64_t>(budget, bytes.size() * 4 + 64)));
  if (rtf.unbalanced)
    add_problem(dm.problems, offset, path + ": RTF groups unbalanced (truncated file?)");
  if (rtf.truncated)
    add_problem(dm.problems, offset,
                path + ": RTF text beyond the decompressed-bytes limit not decoded");
  if (trim(rtf.text).empty()) return;
  if (!charge(ctx, rtf.text.size(), path, offset, dm)) return;
  dm.storage.push_back(std::make_unique<std::string>(std::move(rtf.text)));
  dm.segments.push_back({*dm.storage.back(), path, kind});
}

}  // namespace credsift::mime_detail

namespace credsift {

RtfText rtf_to_text(std::string_view rtf, size_t max_output) {
  return mime_detail::RtfReader(rtf, max_output).run();
}

}  // namespace credsift

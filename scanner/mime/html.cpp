// HTML to plain text for matching: one linear pass, no DOM.
#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "credsift/mime.hpp"
#include "mime_internal.hpp"

namespace credsift {
using namespace mime_detail;

namespace {

struct NamedEntity {
  std::string_view name;  // a view, so that the search compares without strlen
  uint32_t cp;
};

// Sorted by name (byte order) for binary search.
constexpr NamedEntity kEntities[] = {
    {"AElig", 0xC6},    {"Aacute", 0xC1},   {"Acirc", 0xC2},    {"Agrave", 0xC0},
    {"Alpha", 0x391},   {"Aring", 0xC5},    {"Atilde", 0xC3},   {"Auml", 0xC4},
    {"Beta", 0x392},    {"Ccedil", 0xC7},   {"Delta", 0x394},   {"ETH", 0xD0},
    {"Eacute", 0xC9},   {"Ecirc", 0xCA},    {"Egrave", 0xC8},   {"Euml", 0xCB},
    {"Gamma", 0x393},   {"Iacute", 0xCD},   {"Icirc", 0xCE},    {"Igrave", 0xCC},
    {"Iuml", 0xCF},     {"Lambda", 0x39B},  {"Ntilde", 0xD1},   {"OElig", 0x152},
    {"Oacute", 0xD3},   {"Ocirc", 0xD4},    {"Ograve", 0xD2},   {"Omega", 0x3A9},
    {"Oslash", 0xD8},   {"Otilde", 0xD5},   {"Ouml", 0xD6},     {"Pi", 0x3A0},
    {"Scaron", 0x160},  {"Sigma", 0x3A3},   {"THORN", 0xDE},    {"Uacute", 0xDA},
    {"Ucirc", 0xDB},    {"Ugrave", 0xD9},   {"Uuml", 0xDC},     {"Yacute", 0xDD},
    {"Yuml", 0x178},    {"aacute", 0xE1},   {"acirc", 0xE2},    {"acute", 0xB4},
    {"aelig", 0xE6},    {"agrave", 0xE0},   {"alpha", 0x3B1},   {"amp", '&'},
    {"apos", '\''},     {"aring", 0xE5},    {"atilde", 0xE3},   {"auml", 0xE4},
    {"bdquo", 0x201E},  {"beta", 0x3B2},    {"brvbar", 0xA6},   {"bull", 0x2022},
    {"ccedil", 0xE7},   {"cedil", 0xB8},    {"cent", 0xA2},     {"circ", 0x2C6},
    {"colon", ':'},     {"comma", ','},     {"commat", '@'},    {"copy", 0xA9},
    {"curren", 0xA4},   {"dagger", 0x2020}, {"deg", 0xB0},      {"delta", 0x3B4},
    {"divide", 0xF7},   {"dollar", '$'},    {"eacute", 0xE9},   {"ecirc", 0xEA},
    {"egrave", 0xE8},   {"emsp", 0x2003},   {"ensp", 0x2002},   {"equals", '='},
    {"eth", 0xF0},      {"euml", 0xEB},     {"euro", 0x20AC},   {"excl", '!'},
    {"frac12", 0xBD},   {"frac14", 0xBC},   {"frac34", 0xBE},   {"gamma", 0x3B3},
    {"ge", 0x2265},     {"grave", '`'},     {"gt", '>'},        {"hellip", 0x2026},
    {"hyphen", 0x2010}, {"iacute", 0xED},   {"icirc", 0xEE},    {"iexcl", 0xA1},
    {"igrave", 0xEC},   {"iquest", 0xBF},   {"iuml", 0xEF},     {"lambda", 0x3BB},
    {"laquo", 0xAB},    {"larr", 0x2190},   {"lbrace", '{'},    {"lbrack", '['},
    {"ldquo", 0x201C},  {"le", 0x2264},     {"lowbar", '_'},    {"lpar", '('},
    {"lsaquo", 0x2039}, {"lsquo", 0x2018},  {"lt", '<'},        {"macr", 0xAF},
    {"mdash", 0x2014},  {"micro", 0xB5},    {"middot", 0xB7},   {"mu", 0x3BC},
    {"nbsp", ' '},      {"ndash", 0x2013},  {"ne", 0x2260},     {"not", 0xAC},
    {"ntilde", 0xF1},   {"num", '#'},       {"oacute", 0xF3},   {"ocirc", 0xF4},
    {"oelig", 0x153},   {"ograve", 0xF2},   {"omega", 0x3C9},   {"ordf", 0xAA},
    {"ordm", 0xBA},     {"oslash", 0xF8},   {"otilde", 0xF5},   {"ouml", 0xF6},
    {"para", 0xB6},     {"percnt", '%'},    {"period", '.'},    {"permil", 0x2030},
    {"pi", 0x3C0},      {"plus", '+'},      {"plusmn", 0xB1},   {"pound", 0xA3},
    {"quest", '?'},     {"quot", '"'},      {"raquo", 0xBB},    {"rarr", 0x2192},
    {"rbrace", '}'},    {"rbrack", ']'},    {"rdquo", 0x201D},  {"reg", 0xAE},
    {"rpar", ')'},      {"rsaquo", 0x203A}, {"rsquo", 0x2019},  {"sbquo", 0x201A},
    {"scaron", 0x161},  {"sect", 0xA7},     {"semi", ';'},      {"shy", 0xAD},
    {"sigma", 0x3C3},   {"sol", '/'},       {"sup1", 0xB9},     {"sup2", 0xB2},
    {"sup3", 0xB3},     {"szlig", 0xDF},    {"thinsp", 0x2009}, {"thorn", 0xFE},
    {"tilde", 0x2DC},   {"times", 0xD7},    {"trade", 0x2122},  {"uacute", 0xFA},
    {"ucirc", 0xFB},    {"ugrave", 0xF9},   {"uml", 0xA8},      {"uuml", 0xFC},
    {"verbar", '|'},    {"yacute", 0xFD},   {"yen", 0xA5},      {"yuml", 0xFF},
    {"zwj", 0x200D},    {"zwnj", 0x200C},
};

bool lookup_entity(std::string_view name, uint32_t* cp) {
  // The entities of nearly all mail first (HTML mail is full of &nbsp;), then the table.
  switch (name.size()) {
    case 2:
      if (name == "lt" || name == "gt") {
        *cp = name[0] == 'l' ? '<' : '>';
        return true;
      }
      break;
    case 3:
      if (name == "amp") {
        *cp = '&';
        return true;
      }
      break;
    case 4:
      if (name == "nbsp" || name == "quot") {
        *cp = name[0] == 'n' ? ' ' : '"';
        return true;
      }
      break;
    default:
      break;
  }
  auto it = std::lower_bound(std::begin(kEntities), std::end(kEntities), name,
                             [](const NamedEntity& e, std::string_view n) { return e.name < n; });
  if (it == std::end(kEntities) || it->name != name) return false;
  *cp = it->cp;
  return true;
}

inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_alnum(char c) { return is_alpha(c) || (c >= '0' && c <= '9'); }

// Decodes the entity at s[i] == '&' into out; returns the index after it, or i when none.
size_t decode_entity(std::string_view s, size_t i, std::string& out) {
  size_t n = s.size();
  size_t j = i + 1;
  if (j < n && s[j] == '#') {
    ++j;
    bool hex = j < n && (s[j] == 'x' || s[j] == 'X');
    if (hex) ++j;
    size_t digits_start = j;
    uint32_t cp = 0;
    while (j < n && j - digits_start < 8) {
      int d = hex ? hex_value(s[j]) : (s[j] >= '0' && s[j] <= '9' ? s[j] - '0' : -1);
      if (d < 0) break;
      cp = cp * (hex ? 16 : 10) + uint32_t(d);
      ++j;
    }
    if (j == digits_start) return i;
    if (j < n && s[j] == ';') ++j;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    append_utf8(out, cp);
    return j;
  }
  size_t name_start = j;
  while (j < n && j - name_start < 32 && is_alnum(s[j])) ++j;
  if (j == name_start || j >= n || s[j] != ';') {
    // A few entities commonly appear without the semicolon.
    uint32_t cp;
    std::string_view name = s.substr(name_start, j - name_start);
    if ((name == "nbsp" || name == "amp" || name == "lt" || name == "gt" || name == "quot") &&
        lookup_entity(name, &cp)) {
      append_utf8(out, cp);
      return j;
    }
    return i;
  }
  uint32_t cp;
  if (!lookup_entity(s.substr(name_start, j - name_start), &cp)) return i;
  append_utf8(out, cp);
  return j + 1;
}

void append_decoded(std::string_view text, std::string& out) {
  size_t i = 0;
  while (i < text.size()) {
    const void* amp = std::memchr(text.data() + i, '&', text.size() - i);
    size_t a = amp ? size_t(static_cast<const char*>(amp) - text.data()) : text.size();
    out.append(text.data() + i, a - i);
    if (a >= text.size()) break;
    size_t next = decode_entity(text, a, out);
    if (next == a) {
      out.push_back('&');
      next = a + 1;
    }
    i = next;
  }
}

// Tags that end a line of text. Called for every tag: by length first, then one lower-cased
// copy compared with the few names of that length (a loop of 36 caseless compares was ~1% of
// a thread on HTML mail).
bool is_block_tag(std::string_view t) {
  if (t.empty() || t.size() > 10) return false;
  char buffer[10];
  for (size_t i = 0; i < t.size(); ++i) buffer[i] = ascii_lower(t[i]);
  const std::string_view l(buffer, t.size());
  auto any = [&](std::initializer_list<std::string_view> names) {
    for (std::string_view name : names)
      if (l == name) return true;
    return false;
  };
  switch (t.size()) {
    case 1:
      return l == "p";
    case 2:
      return (l[0] == 'h' && l[1] >= '1' && l[1] <= '6') ||
             any({"br", "tr", "li", "ul", "ol", "hr", "dl", "dt", "dd"});
    case 3:
      return any({"div", "pre", "nav"});
    case 4:
      return any({"form", "main"});
    case 5:
      return any({"table", "tbody", "thead", "tfoot", "title", "aside"});
    case 6:
      return any({"header", "footer", "figure", "center"});
    case 7:
      return any({"section", "article", "address", "caption"});
    case 10:
      return l == "blockquote";
    default:
      return false;
  }
}

// First index >= from of c, memoised so that repeated failing searches stay linear.
struct NextFinder {
  std::string_view s;
  char c;
  size_t cached_from = std::string_view::npos;
  size_t cached_pos = std::string_view::npos;
  size_t find(size_t from) {
    if (cached_from != std::string_view::npos && from >= cached_from &&
        (cached_pos == std::string_view::npos || cached_pos >= from))
      return cached_pos;
    cached_from = from;
    cached_pos = s.find(c, from);
    return cached_pos;
  }
};

}  // namespace

std::string html_to_text(std::string_view html) {
  std::string out;
  out.reserve(html.size() / 2);
  const size_t n = html.size();
  NextFinder next_gt{html, '>'};
  NextFinder next_dquote{html, '"'};
  NextFinder next_squote{html, '\''};
  auto newline = [&] {
    if (!out.empty() && out.back() != '\n') out.push_back('\n');
  };
  std::vector<std::pair<size_t, size_t>> kept_values;  // per tag, reused to avoid allocations
  size_t i = 0;
  while (i < n) {
    const void* lt = std::memchr(html.data() + i, '<', n - i);
    size_t l = lt ? size_t(static_cast<const char*>(lt) - html.data()) : n;
    append_decoded(html.substr(i, l - i), out);
    if (l >= n) break;
    // Comment.
    if (html.substr(l, 4) == "<!--") {
      size_t e = html.find("-->", l + 4);
      i = e == std::string_view::npos ? n : e + 3;
      continue;
    }
    size_t j = l + 1;
    bool closing = j < n && html[j] == '/';
    if (closing) ++j;
    if (j < n && (html[j] == '!' || html[j] == '?')) {  // doctype, processing instruction
      size_t e = next_gt.find(j);
      i = e == std::string_view::npos ? n : e + 1;
      continue;
    }
    if (j >= n || !is_alpha(html[j])) {  // a bare '<' is text
      out.push_back('<');
      i = l + 1;
      continue;
    }
    size_t name_start = j;
    while (j < n && (is_alnum(html[j]) || html[j] == '-' || html[j] == ':')) ++j;
    std::string_view name = html.substr(name_start, j - name_start);
    // Attributes up to '>', honouring quotes; an unterminated quote falls back to the first '>'.
    size_t tag_end = std::string_view::npos;
    size_t k = j;
    std::string attrs_out;
    // (end of a kept URL value in the input, size of attrs_out after it): on the fallback below
    // only values inside the shortened tag are kept, or every later tag would emit them again.
    kept_values.clear();
    while (k < n) {
      char c = html[k];
      if (c == '>') {
        tag_end = k;
        break;
      }
      if (is_alpha(c)) {
        size_t an = k;
        while (k < n && (is_alnum(html[k]) || html[k] == '-' || html[k] == ':' || html[k] == '_'))
          ++k;
        std::string_view aname = html.substr(an, k - an);
        size_t m = k;
        while (m < n && is_space(html[m])) ++m;
        if (m < n && html[m] == '=') {
          ++m;
          while (m < n && is_space(html[m])) ++m;
          std::string_view value;
          if (m < n && (html[m] == '"' || html[m] == '\'')) {
            size_t close = html[m] == '"' ? next_dquote.find(m + 1) : next_squote.find(m + 1);
            if (close == std::string_view::npos) break;  // fall back below
            value = html.substr(m + 1, close - m - 1);
            k = close + 1;
          } else {
            size_t vs = m;
            while (m < n && !is_space(html[m]) && html[m] != '>') ++m;
            value = html.substr(vs, m - vs);
            k = m;
          }
          // URLs in links and images can carry credentials (user:pass@host, tokens).
          if ((iequals(aname, "href") || iequals(aname, "src") || iequals(aname, "action")) &&
              (value.find("://") != std::string_view::npos ||
               value.find('@') != std::string_view::npos)) {
            if (!attrs_out.empty() || (!out.empty() && !is_space(out.back())))
              attrs_out.push_back(' ');
            append_decoded(value, attrs_out);
            attrs_out.push_back(' ');
            kept_values.emplace_back(size_t(value.data() + value.size() - html.data()),
                                     attrs_out.size());
          }
        }
        continue;
      }
      ++k;
    }
    if (tag_end == std::string_view::npos) {
      tag_end = next_gt.find(j);
      size_t keep = 0;
      for (const auto& [value_end, size_after] : kept_values)
        if (value_end <= tag_end) keep = size_after;
      attrs_out.resize(keep);
      if (tag_end == std::string_view::npos) {
        // Unterminated tag at the end: keep the text rather than lose it.
        append_decoded(html.substr(l), out);
        break;
      }
    }
    out += attrs_out;
    i = tag_end + 1;
    if (!closing && (iequals(name, "script") || iequals(name, "style"))) {
      // Skip to the matching end tag (case-insensitive), or drop the rest.
      size_t p = i;
      size_t end = n;
      while (true) {
        size_t c = html.find("</", p);
        if (c == std::string_view::npos) break;
        if (istarts_with(html.substr(c + 2), name)) {
          size_t e = next_gt.find(c);
          end = c;
          i = e == std::string_view::npos ? n : e + 1;
          break;
        }
        p = c + 2;
      }
      if (end == n) i = n;
      continue;
    }
    if (is_block_tag(name)) {
      newline();
    } else if (iequals(name, "td") || iequals(name, "th")) {
      if (!closing && !out.empty() && !is_space(out.back())) out.push_back('\t');
    }
  }
  return out;
}

}  // namespace credsift

// OOXML (.docx, .xlsx, .pptx) parts to text: a small XML text reader (entities, tags by local
// name), shared strings resolved in worksheets.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "extract_internal.hpp"

namespace credsift::mime_detail {

namespace {
constexpr size_t npos = std::string_view::npos;
}  // namespace

void append_xml_text(std::string_view s, std::string& out) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == npos || semi - i > 12) {
      out.push_back('&');
      continue;
    }
    std::string_view name = s.substr(i + 1, semi - i - 1);
    uint32_t cp = 0;
    if (name == "amp")
      cp = '&';
    else if (name == "lt")
      cp = '<';
    else if (name == "gt")
      cp = '>';
    else if (name == "quot")
      cp = '"';
    else if (name == "apos")
      cp = '\'';
    else if (name.size() > 1 && name[0] == '#') {
      bool hex = name[1] == 'x' || name[1] == 'X';
      for (char c : name.substr(hex ? 2 : 1)) {
        int d = hex ? hex_value(c) : (c >= '0' && c <= '9' ? c - '0' : -1);
        if (d < 0 || cp > 0x10FFFF) {
          cp = 0;
          break;
        }
        cp = cp * (hex ? 16 : 10) + uint32_t(d);
      }
      if (cp > 0x10FFFF) cp = 0;
    }
    if (cp == 0) {
      out.push_back('&');
      continue;
    }
    append_utf8(out, cp);
    i = semi;
  }
}

Tag read_tag(std::string_view s, size_t i) {
  Tag t;
  size_t gt = s.find('>', i);
  if (gt == npos) return t;
  t.end = gt + 1;
  t.raw = s.substr(i + 1, gt - i - 1);
  std::string_view r = t.raw;
  if (!r.empty() && r[0] == '/') {
    t.closing = true;
    r.remove_prefix(1);
  }
  if (!r.empty() && r.back() == '/') t.self_closing = true;
  size_t n = 0;
  while (n < r.size() && !is_space(r[n]) && r[n] != '/') ++n;
  t.name = r.substr(0, n);
  if (size_t colon = t.name.find(':'); colon != npos) t.name = t.name.substr(colon + 1);
  return t;
}

std::string_view attribute(std::string_view raw, std::string_view name) {
  size_t p = 0;
  while ((p = raw.find(name, p)) != npos) {
    bool start_ok = p > 0 && is_space(raw[p - 1]);
    size_t q = p + name.size();
    if (start_ok && q + 1 < raw.size() && raw[q] == '=' &&
        (raw[q + 1] == '"' || raw[q + 1] == '\'')) {
      size_t close = raw.find(raw[q + 1], q + 2);
      if (close == npos) return {};
      return raw.substr(q + 2, close - q - 2);
    }
    p = q;
  }
  return {};
}

// Text of a WordprocessingML / DrawingML / SpreadsheetML part: element text, paragraphs and
// rows as lines, cells separated by tabs; shared strings resolved in worksheets.
std::string ooxml_text(std::string_view xml, const std::vector<std::string>* shared) {
  std::string out;
  size_t i = 0;
  bool in_value = false, shared_cell = false;
  std::string value;
  while (i < xml.size()) {
    size_t lt = xml.find('<', i);
    std::string_view text = xml.substr(i, (lt == npos ? xml.size() : lt) - i);
    if (in_value)
      value.append(text);
    else if (!trim(text).empty() || (!text.empty() && text.find('\n') == npos))
      append_xml_text(text, out);
    if (lt == npos) break;
    if (xml.substr(lt, 4) == "<!--") {
      size_t e = xml.find("-->", lt);
      i = e == npos ? xml.size() : e + 3;
      continue;
    }
    if (xml.substr(lt, 9) == "<![CDATA[") {
      size_t e = xml.find("]]>", lt);
      out.append(xml.substr(lt + 9, (e == npos ? xml.size() : e) - lt - 9));
      i = e == npos ? xml.size() : e + 3;
      continue;
    }
    Tag t = read_tag(xml, lt);
    if (t.end == npos) break;
    i = t.end;
    std::string_view n = t.name;
    if (n == "c" && !t.closing) {
      shared_cell = attribute(t.raw, "t") == "s";
    } else if (n == "v") {
      if (!t.closing && !t.self_closing) {
        in_value = true;
        value.clear();
      } else if (t.closing && in_value) {
        in_value = false;
        std::string decoded;
        append_xml_text(value, decoded);
        size_t index = 0;
        bool numeric = shared_cell && !decoded.empty() && decoded.size() < 10 &&
                       std::all_of(decoded.begin(), decoded.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
        if (numeric) index = std::stoul(decoded);
        if (numeric && shared && index < shared->size())
          out += (*shared)[index];
        else
          out += decoded;
      }
    } else if (t.closing && (n == "c" || n == "tc" || n == "table-cell")) {
      out.push_back('\t');
    } else if (t.closing && n == "p" && xml.substr(t.end).starts_with("</table:table-cell")) {
      // OpenDocument: a cell's last paragraph ends with the cell, a tab rather than a line.
    } else if ((t.closing && (n == "p" || n == "row" || n == "si" || n == "tr" || n == "h" ||
                              n == "table-row")) ||
               ((n == "br" || n == "cr" || n == "line-break") && !t.closing)) {
      while (!out.empty() && out.back() == '\t') out.pop_back();
      out.push_back('\n');
    } else if (n == "tab" && !t.closing) {
      out.push_back('\t');
    } else if (n == "s" && !t.closing) {
      out.push_back(' ');  // OpenDocument's <text:s/>: a space
    }
  }
  return out;
}

std::vector<std::string> shared_strings(std::string_view xml) {
  std::vector<std::string> strings;
  size_t p = 0;
  while ((p = xml.find("<si", p)) != npos) {
    if (p + 3 < xml.size() && xml[p + 3] != '>' && !is_space(xml[p + 3])) {
      p += 3;
      continue;
    }
    size_t e = xml.find("</si>", p);
    if (e == npos) e = xml.size();
    std::string s = ooxml_text(xml.substr(p, e - p), nullptr);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\t')) s.pop_back();
    strings.push_back(std::move(s));
    p = e;
    if (strings.size() > 1000000) break;
  }
  return strings;
}

bool is_ooxml_text_part(std::string_view name) {
  if (!iends_with(name, ".xml")) return false;
  for (std::string_view skip :
       {"styles", "theme", "fontTable", "settings", "webSettings", "numbering", "[Content_Types]",
        "app.xml", "core.xml", "presProps", "viewProps", "tableStyles", "slideLayout",
        "slideMaster", "calcChain", "_rels/"})
    if (name.find(skip) != npos) return false;
  return istarts_with(name, "word/") || istarts_with(name, "xl/") || istarts_with(name, "ppt/");
}

}  // namespace credsift::mime_detail

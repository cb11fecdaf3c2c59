// Attachments that hide text: archives (libarchive), OOXML, PDF (poppler), uuencoded blocks,
// UTF-16 text, and attachments that are credentials themselves (detected by content).
#include <archive.h>
#include <archive_entry.h>
#include <openssl/sha.h>
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/mime.hpp"
#include "credsift/source.hpp"
#include "credsift/text.hpp"
#include "mime_internal.hpp"

namespace credsift {
namespace mime_detail {

namespace {

constexpr size_t npos = std::string_view::npos;
// The recursion of nested archives uses the native stack: keep it shallow whatever is asked.
constexpr size_t kHardArchiveDepth = 32;
constexpr size_t kMaxPdfPages = 2000;

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

bool starts_with_bytes(std::string_view s, std::string_view magic) {
  return s.size() >= magic.size() && s.substr(0, magic.size()) == magic;
}

std::string_view head(std::string_view s, size_t n) { return s.substr(0, std::min(n, s.size())); }

bool is_pkcs12(std::string_view b) {
  // PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo (pkcs7-data | signedData) }
  if (b.size() < 24 || uint8_t(b[0]) != 0x30) return false;
  size_t i = 1;
  uint8_t len = uint8_t(b[i++]);
  if (len & 0x80) i += len & 0x7F;  // long or indefinite form
  if (i + 3 > b.size() || b.substr(i, 3) != std::string_view("\x02\x01\x03", 3)) return false;
  static constexpr std::string_view kData("\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x01", 11);
  static constexpr std::string_view kSigned("\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x02", 11);
  std::string_view window = head(b.substr(i), 40);
  return window.find(kData) != npos || window.find(kSigned) != npos;
}

}  // namespace

// Text: no NUL and under 2% other control bytes (line breaks, tab and form feed allowed) in
// the first 8 KiB. Every attachment is tested, so the loop runs 16 bytes at a time.
bool is_text_like(std::string_view b) {
  std::string_view h = head(b, 8192);
  if (h.empty()) return false;
  size_t control = 0, nul = 0, i = 0;
#if defined(__SSE2__)
  const __m128i max_control = _mm_set1_epi8(31);
  const __m128i zero = _mm_setzero_si128();
  __m128i control_sums = zero;
  for (; i + 16 <= h.size(); i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h.data() + i));
    __m128i is_control = _mm_cmpeq_epi8(_mm_min_epu8(x, max_control), x);
    for (char allowed : {'\n', '\r', '\t', '\f'})
      is_control = _mm_andnot_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(allowed)), is_control);
    // Control bytes are 0xFF lanes: the sum of absolute differences counts them (times 255)
    // without a popcount, which plain x86-64 lacks.
    control_sums = _mm_add_epi64(control_sums, _mm_sad_epu8(is_control, zero));
    nul |= size_t(_mm_movemask_epi8(_mm_cmpeq_epi8(x, zero)));
  }
  control += size_t(_mm_cvtsi128_si64(control_sums) +
                    _mm_cvtsi128_si64(_mm_unpackhi_epi64(control_sums, control_sums))) /
             255;
#endif
  for (; i < h.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(h[i]);
    nul |= c == 0;
    if (c < 32 && c != '\n' && c != '\r' && c != '\t' && c != '\f') ++control;
  }
  return nul == 0 && control * 50 < h.size();
}

namespace {

std::string utf16_to_utf8(std::string_view bytes) {
  // iconv's "UTF-16" reads the byte order mark and drops it.
  return to_utf8(bytes, "UTF-16");
}

}  // namespace

bool utf16_with_bom(std::string_view b) {
  return b.size() >= 2 && ((uint8_t(b[0]) == 0xFF && uint8_t(b[1]) == 0xFE) ||
                           (uint8_t(b[0]) == 0xFE && uint8_t(b[1]) == 0xFF));
}

}  // namespace mime_detail

using namespace mime_detail;

std::string credential_file_kind(std::string_view b) {
  if (starts_with_bytes(b, std::string_view("\xFE\xED\xFE\xED", 4))) return "jks";
  if (starts_with_bytes(b, std::string_view("\xCE\xCE\xCE\xCE", 4))) return "jceks";
  // KeePass 2.x (.kdbx) and 1.x (.kdb) signatures.
  if (starts_with_bytes(b, std::string_view("\x03\xD9\xA2\x9A\x67\xFB\x4B\xB5", 8)) ||
      starts_with_bytes(b, std::string_view("\x03\xD9\xA2\x9A\x65\xFB\x4B\xB5", 8)))
    return "kdbx";
  // The binary form inside "BEGIN OPENSSH PRIVATE KEY" (base64 decoded), as some tools store it.
  if (starts_with_bytes(b, std::string_view("openssh-key-v1\0", 15))) return "openssh";
  if (is_pkcs12(b)) return "pkcs12";
  std::string text;
  std::string_view t = b;
  if (utf16_with_bom(b)) {
    if (b.size() > (4u << 20)) return {};
    text = utf16_to_utf8(b);
    t = text;
  }
  // The rest are text formats: binary data (most attachments) needs no search.
  if (!is_text_like(t)) return {};
  std::string_view h = head(t, 4096);
  if (text::find_from(h, 0, "PuTTY-User-Key-File-") != npos &&
      text::find_from(t, 0, "Private-Lines:") != npos)
    return "putty";
  if (text::find_from(h, 0, "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----") != npos) return "ssh2";
  if (t.size() > (1u << 20)) return {};
  // .rdp: "password 51:b:<DPAPI blob in hex>".
  if (size_t p = text::find_from(t, 0, "password 51:b:");
      p != npos && t.size() > p + 14 + 32 && hex_value(t[p + 14]) >= 0)
    return "rdp";
  // OpenVPN profile carrying its key inline.
  bool openvpn = text::find_from(t, 0, "\nremote ") != npos || t.starts_with("remote ") ||
                 text::find_from(t, 0, "\nclient") != npos || t.starts_with("client");
  if (openvpn &&
      (t.find("<key>") != npos || t.find("<tls-auth>") != npos || t.find("<tls-crypt>") != npos ||
       t.find("<secret>") != npos || t.find("<pkcs12>") != npos))
    return "openvpn";
  return {};
}

namespace mime_detail {

bool emit_credential_file(std::string_view bytes, const std::string& path, DecodedMessage& dm) {
  std::string kind = credential_file_kind(bytes);
  if (kind.empty()) return false;
  dm.storage.push_back(std::make_unique<std::string>("credsift-binary-credential: " + kind +
                                                     " sha256=" + sha256_hex(bytes) + "\n"));
  dm.segments.push_back({*dm.storage.back(), path, SegmentKind::CredentialFile});
  return true;
}

namespace {

// --- XML (OOXML parts) --------------------------------------------------------------------

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

// Local name of the tag starting at s[i] == '<' ("w:p" -> "p"), whether it closes, and its end.
struct Tag {
  std::string_view name;
  std::string_view raw;  // between '<' and '>'
  bool closing = false;
  bool self_closing = false;
  size_t end = npos;  // index after '>'
};

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
    } else if (t.closing && (n == "c" || n == "tc")) {
      out.push_back('\t');
    } else if ((t.closing && (n == "p" || n == "row" || n == "si" || n == "tr")) ||
               ((n == "br" || n == "cr") && !t.closing)) {
      while (!out.empty() && out.back() == '\t') out.pop_back();
      out.push_back('\n');
    } else if (n == "tab" && !t.closing) {
      out.push_back('\t');
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

// --- archives ----------------------------------------------------------------------------

enum class Container { None, Zip, Tar, SevenZip, Compressed };

Container container_of(std::string_view b) {
  if (starts_with_bytes(b, "PK\x03\x04") || starts_with_bytes(b, "PK\x05\x06"))
    return Container::Zip;
  if (starts_with_bytes(b, std::string_view("\x37\x7A\xBC\xAF\x27\x1C", 6)))
    return Container::SevenZip;
  if (b.size() >= 262 && b.substr(257, 5) == "ustar") return Container::Tar;
  if (starts_with_bytes(b, "\x1F\x8B") || starts_with_bytes(b, "BZh") ||
      starts_with_bytes(b, std::string_view("\xFD"
                                            "7zXZ\0",
                                            6)))
    return Container::Compressed;
  return Container::None;
}

struct ArchiveCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveCloser>;

ArchivePtr open_archive(std::string_view b, bool raw) {
  ArchivePtr a(archive_read_new());
  if (!a) return nullptr;
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_lzma(a.get());
  if (raw) {
    archive_read_support_format_raw(a.get());
  } else {
    archive_read_support_format_zip(a.get());
    archive_read_support_format_tar(a.get());
    archive_read_support_format_7zip(a.get());
  }
  if (archive_read_open_memory(a.get(), b.data(), b.size()) != ARCHIVE_OK) return nullptr;
  return a;
}

std::string strip_compression_suffix(std::string_view name) {
  for (std::string_view ext : {".gz", ".bz2", ".xz", ".lzma", ".tgz", ".tbz2", ".txz", ".z"})
    if (iends_with(name, ext)) {
      std::string base(name.substr(0, name.size() - ext.size()));
      if (ext.size() == 4 && ext[1] == 't') base += ".tar";
      return base.empty() ? "data" : base;
    }
  return name.empty() ? "data" : std::string(name);
}

bool charge(DecodeContext& ctx, uint64_t bytes, const std::string& path, uint64_t offset,
            DecodedMessage& dm) {
  if (ctx.decompressed + bytes <= ctx.limits.max_decompressed_bytes) {
    ctx.decompressed += bytes;
    return true;
  }
  if (!ctx.budget_reported)
    add_problem(dm.problems, offset,
                path + ": decompressed-bytes limit " +
                    std::to_string(ctx.limits.max_decompressed_bytes) +
                    " per message reached; the rest is not decoded");
  ctx.budget_reported = true;
  return false;
}

bool names_a_message(std::string_view name) {
  return iends_with(name, ".eml") || iends_with(name, ".mbox") || iends_with(name, ".msg.txt");
}

// A message inside an archive or attached as a file is decoded as a whole message, its paths
// under the file's.
void decode_nested_message(std::string_view bytes, const std::string& path, uint64_t offset,
                           size_t depth, DecodeContext& ctx, DecodedMessage& dm) {
  if (depth > ctx.limits.max_archive_depth || depth > kHardArchiveDepth) {
    add_problem(dm.problems, offset,
                path + ": archive nesting depth limit " +
                    std::to_string(ctx.limits.max_archive_depth) + " reached; not decoded");
    return;
  }
  DecodedMessage inner;
  decode_into(bytes, ctx, inner, depth + 1);
  for (Segment& s : inner.segments) {
    s.part_path = path + "!" + s.part_path;
    dm.segments.push_back(std::move(s));
  }
  for (auto& s : inner.storage) dm.storage.push_back(std::move(s));
  for (DecodeProblem& p : inner.problems) add_problem(dm.problems, offset, path + ": " + p.what);
}

struct Entry {
  std::string name;
  std::string* data;  // owned by dm.storage
};

void decode_entry(const Entry& e, const std::string& path, uint64_t offset, size_t depth,
                  DecodeContext& ctx, DecodedMessage& dm);

// Reads every regular entry; false when the bytes are no archive of this kind.
bool extract_archive(std::string_view bytes, std::string_view name, const std::string& path,
                     uint64_t offset, size_t depth, bool raw, DecodeContext& ctx,
                     DecodedMessage& dm, std::vector<Entry>& entries) {
  ArchivePtr a = open_archive(bytes, raw);
  if (!a) return false;
  const DecodeLimits& limits = ctx.limits;
  const double ratio_cap = limits.max_compression_ratio * double(bytes.size());
  uint64_t produced = 0;
  archive_entry* entry = nullptr;
  bool any = false;
  while (true) {
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      if (!any && entries.empty()) return false;
      add_problem(
          dm.problems, offset,
          path + ": archive damaged after " + std::to_string(entries.size()) + " entries: " +
              (archive_error_string(a.get()) ? archive_error_string(a.get()) : "unreadable"));
      break;
    }
    any = true;
    if (archive_entry_filetype(entry) != AE_IFREG && !raw) continue;
    const char* pathname = archive_entry_pathname(entry);
    std::string entry_name = raw ? strip_compression_suffix(name) : (pathname ? pathname : "?");
    if (entry_name.size() > 1024) entry_name.resize(1024);
    if (archive_entry_is_encrypted(entry)) {
      add_problem(dm.problems, offset,
                  path + "!" + entry_name + ": encrypted archive entry, not decoded");
      continue;
    }
    if (ctx.parts >= limits.max_parts) {
      if (!ctx.parts_reported)
        add_problem(dm.problems, offset,
                    path + ": part limit " + std::to_string(limits.max_parts) +
                        " reached; remaining archive entries skipped");
      ctx.parts_reported = true;
      break;
    }
    ++ctx.parts;
    auto data = std::make_unique<std::string>();
    char buffer[65536];
    bool stop = false;
    while (true) {
      la_ssize_t got = archive_read_data(a.get(), buffer, sizeof buffer);
      if (got < 0) {
        add_problem(dm.problems, offset,
                    path + "!" + entry_name + ": " +
                        (archive_error_string(a.get()) ? archive_error_string(a.get())
                                                       : "unreadable entry") +
                        (archive_entry_is_encrypted(entry) ? " (encrypted)" : ""));
        break;
      }
      if (got == 0) break;
      produced += uint64_t(got);
      if (double(produced) > ratio_cap && produced > (1u << 20)) {
        add_problem(dm.problems, offset,
                    path + ": decompression ratio above " +
                        std::to_string(int64_t(limits.max_compression_ratio)) +
                        " (archive bomb?); the rest is not decoded");
        stop = true;
        break;
      }
      if (!charge(ctx, uint64_t(got), path, offset, dm)) {
        stop = true;
        break;
      }
      data->append(buffer, size_t(got));
    }
    if (!data->empty() || !stop) {
      dm.storage.push_back(std::move(data));
      entries.push_back({std::move(entry_name), dm.storage.back().get()});
    }
    if (stop) break;
  }
  if (!any) return false;
  (void)depth;
  return true;
}

void decode_archive(std::string_view bytes, std::string_view name, const std::string& path,
                    uint64_t offset, size_t depth, Container kind, DecodeContext& ctx,
                    DecodedMessage& dm) {
  std::vector<Entry> entries;
  bool ok = extract_archive(bytes, name, path, offset, depth, false, ctx, dm, entries);
  if (!ok && kind == Container::Compressed) {
    entries.clear();
    ok = extract_archive(bytes, name, path, offset, depth, true, ctx, dm, entries);
  }
  if (!ok) {
    add_problem(dm.problems, offset, path + ": not a readable archive");
    return;
  }
  // OOXML: a zip whose parts are XML that a user reads as a document.
  bool ooxml = kind == Container::Zip &&
               std::any_of(entries.begin(), entries.end(),
                           [](const Entry& e) { return e.name == "[Content_Types].xml"; });
  if (ooxml) {
    std::vector<std::string> shared;
    for (const Entry& e : entries)
      if (e.name == "xl/sharedStrings.xml") shared = shared_strings(*e.data);
    for (const Entry& e : entries) {
      if (!is_ooxml_text_part(e.name) || e.name == "xl/sharedStrings.xml") {
        // Embedded objects (xlsx in docx, media) may hide more.
        if (istarts_with(e.name, "word/embeddings/") || istarts_with(e.name, "xl/embeddings/") ||
            istarts_with(e.name, "ppt/embeddings/"))
          decode_entry(e, path + "!" + e.name, offset, depth + 1, ctx, dm);
        continue;
      }
      std::string text = ooxml_text(*e.data, &shared);
      if (trim(text).empty()) continue;
      dm.storage.push_back(std::make_unique<std::string>(std::move(text)));
      dm.segments.push_back(
          {*dm.storage.back(), path + "!" + e.name, SegmentKind::AttachmentContent});
    }
    return;
  }
  for (const Entry& e : entries) decode_entry(e, path + "!" + e.name, offset, depth + 1, ctx, dm);
}

void decode_entry(const Entry& e, const std::string& path, uint64_t offset, size_t depth,
                  DecodeContext& ctx, DecodedMessage& dm) {
  std::string_view base = e.name;
  if (size_t slash = base.rfind('/'); slash != npos) base = base.substr(slash + 1);
  decode_blob(*e.data, base, path, offset, depth, ctx, dm);
}

// --- PDF ---------------------------------------------------------------------------------

void silence_poppler(const std::string&, void*) {}

void decode_pdf(std::string_view bytes, const std::string& path, uint64_t offset,
                DecodeContext& ctx, DecodedMessage& dm) {
  // Both readers report too many pages, add pages while the decompression budget lasts, and
  // keep the text in the same way.
  auto note_page_count = [&](size_t count) {
    if (count > kMaxPdfPages)
      add_problem(dm.problems, offset,
                  path + ": PDF has " + std::to_string(count) + " pages; the first " +
                      std::to_string(kMaxPdfPages) + " decoded");
  };
  std::string text;
  auto add_page = [&](std::string_view page) {
    if (!charge(ctx, page.size() + 1, path, offset, dm)) return false;
    text.append(page);
    text.push_back('\n');
    return true;
  };
  auto keep_text = [&] {
    if (trim(text).empty()) return;
    dm.storage.push_back(std::make_unique<std::string>(std::move(text)));
    dm.segments.push_back({*dm.storage.back(), path, SegmentKind::AttachmentContent});
  };
  // Our own reader first: no lock, and much faster on the simple PDFs mail carries. poppler
  // reads whatever it declines.
  PdfTextLimits limits;
  limits.max_pages = kMaxPdfPages;
  limits.max_inflated = ctx.limits.max_decompressed_bytes - ctx.decompressed;
  limits.max_compression_ratio = ctx.limits.max_compression_ratio;
  if (PdfText fast = pdf_text_fast(bytes, limits, path, offset, dm.problems); fast.handled) {
    note_page_count(fast.page_count);
    for (const std::string& page : fast.pages)
      if (!add_page(page)) break;
    keep_text();
    return;
  }
  // poppler's global state (font and error handlers) is not meant for concurrent first use.
  static std::mutex poppler_mutex;
  std::lock_guard lock(poppler_mutex);
  // poppler-cpp builds its GlobalParams (font and encoding tables) when the first document opens
  // and frees them when the last one closes: with one PDF at a time that rebuild was a third of
  // the scan's CPU time on a mail archive (bench/stages_bench BM_PdfAttachmentMessage). An empty
  // document kept open for the life of the process makes it a one-time cost.
  static constexpr char kEmptyPdf[] =
      "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n"
      "<< /Type /Pages /Kids [] /Count 0 >>\nendobj\nxref\n0 3\n0000000000 65535 f \n"
      "0000000009 00000 n \n0000000058 00000 n \ntrailer\n<< /Size 3 /Root 1 0 R >>\n"
      "startxref\n110\n%%EOF\n";
  static const std::unique_ptr<poppler::document> keeps_global_params(
      poppler::document::load_from_raw_data(kEmptyPdf, int(sizeof kEmptyPdf - 1)));
  poppler::set_debug_error_function(silence_poppler, nullptr);
  if (bytes.size() > size_t(INT32_MAX)) return;
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(bytes.data(), int(bytes.size())));
  if (!doc) {
    add_problem(dm.problems, offset, path + ": PDF unreadable");
    return;
  }
  if (doc->is_locked()) {
    add_problem(dm.problems, offset, path + ": PDF is encrypted; text not decoded");
    return;
  }
  const int pages = doc->pages();
  note_page_count(size_t(std::max(pages, 0)));
  for (int i = 0; i < std::min(pages, int(kMaxPdfPages)); ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    if (!page) continue;
    poppler::byte_array utf8 = page->text().to_utf8();
    if (!add_page(std::string_view(utf8.data(), utf8.size()))) break;
  }
  keep_text();
}

}  // namespace

void decode_blob(std::string_view bytes, std::string_view name, const std::string& path,
                 uint64_t offset, size_t depth, DecodeContext& ctx, DecodedMessage& dm) {
  if (bytes.empty()) return;
  emit_credential_file(bytes, path, dm);
  if (Container kind = container_of(bytes); kind != Container::None) {
    if (depth >= ctx.limits.max_archive_depth || depth >= kHardArchiveDepth) {
      add_problem(dm.problems, offset,
                  path + ": archive nesting depth limit " +
                      std::to_string(ctx.limits.max_archive_depth) + " reached; not decoded");
      return;
    }
    decode_archive(bytes, name, path, offset, depth, kind, ctx, dm);
    return;
  }
  if (names_a_message(name) && is_text_like(bytes)) {
    decode_nested_message(bytes, path, offset, depth, ctx, dm);
    return;
  }
  if (auto msg = outlook_item_to_rfc5322(bytes, ctx.limits.max_decompressed_bytes)) {  // .msg
    if (!charge(ctx, msg->size(), path, offset, dm)) return;
    dm.storage.push_back(std::make_unique<std::string>(std::move(*msg)));
    decode_nested_message(*dm.storage.back(), path, offset, depth, ctx, dm);
    return;
  }
  if (starts_with_bytes(bytes, "%PDF-")) {
    decode_pdf(bytes, path, offset, ctx, dm);
    return;
  }
  std::string text;
  if (utf16_with_bom(bytes)) {
    text = utf16_to_utf8(bytes);
  } else if (is_text_like(bytes)) {
    text = to_utf8(bytes, "");
  } else {
    return;
  }
  if (text.empty()) return;
  dm.storage.push_back(std::make_unique<std::string>(std::move(text)));
  dm.segments.push_back({*dm.storage.back(), path, SegmentKind::AttachmentContent});
  decode_uuencoded_blocks(*dm.storage.back(), path, offset, depth, ctx, dm);
}

void decode_uuencoded_blocks(std::string_view text, const std::string& path, uint64_t offset,
                             size_t depth, DecodeContext& ctx, DecodedMessage& dm) {
  if (depth >= kHardArchiveDepth) return;
  // Every text segment is searched: a two-byte SIMD search for "\nbegin " rarely stops.
  auto next_begin_line = [&](size_t from) {
    if (from == 0 && text.starts_with("begin ")) return size_t{0};
    const size_t hit = text::find_from(text, from == 0 ? 0 : from - 1, "\nbegin ");
    return hit == npos ? npos : hit + 1;
  };
  size_t p = 0;
  while ((p = next_begin_line(p)) != npos) {
    size_t eol = text.find('\n', p);
    if (eol == npos) return;
    std::string_view line = text.substr(p, eol - p);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // "begin <octal mode> <name>"
    size_t m = 6;
    while (m < line.size() && line[m] >= '0' && line[m] <= '7') ++m;
    if (m == 6 || m - 6 > 4 || m >= line.size() || line[m] != ' ') {
      p = eol;
      continue;
    }
    std::string filename(trim(line.substr(m + 1)));
    std::string bytes;
    size_t q = eol + 1;
    bool ended = false;
    while (q < text.size()) {
      size_t e = text.find('\n', q);
      std::string_view l = text.substr(q, (e == npos ? text.size() : e) - q);
      q = e == npos ? text.size() : e + 1;
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      if (l == "end") {
        ended = true;
        break;
      }
      if (l.empty()) continue;
      size_t n = size_t((l[0] - 32) & 63);
      if (n == 0) continue;
      size_t before = bytes.size();
      for (size_t k = 1; k + 3 < l.size() + 3 && bytes.size() - before < n; k += 4) {
        auto sym = [&](size_t j) { return j < l.size() ? uint32_t((l[j] - 32) & 63) : 0u; };
        uint32_t v = (sym(k) << 18) | (sym(k + 1) << 12) | (sym(k + 2) << 6) | sym(k + 3);
        for (int b = 2; b >= 0 && bytes.size() - before < n; --b)
          bytes.push_back(char(v >> (8 * b)));
      }
      if (bytes.size() > ctx.limits.max_decompressed_bytes) break;
    }
    if (!ended)
      add_problem(dm.problems, offset,
                  path + ": uuencoded block '" + filename.substr(0, 64) + "' without an end line");
    if (!bytes.empty() && charge(ctx, bytes.size(), path, offset, dm)) {
      std::string name = filename.empty() ? "uuencoded" : filename;
      std::string sub = path + ":uuencoded=" + name;
      dm.storage.push_back(std::make_unique<std::string>(std::move(bytes)));
      std::string_view data = *dm.storage.back();
      dm.storage.push_back(std::make_unique<std::string>(name));
      dm.segments.push_back({*dm.storage.back(), sub + ":filename", SegmentKind::AttachmentName});
      decode_blob(data, name, sub, offset, depth + 1, ctx, dm);
    }
    p = q;
  }
}

}  // namespace mime_detail

std::string join_flowed(std::string_view text, bool delsp) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  bool joining = false;  // the previous line was soft-broken
  size_t joining_depth = 0;
  while (i < text.size()) {
    size_t e = text.find('\n', i);
    std::string_view line = text.substr(i, (e == npos ? text.size() : e) - i);
    i = e == npos ? text.size() : e + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t depth = 0;
    while (depth < line.size() && line[depth] == '>') ++depth;
    std::string_view content = line.substr(depth);
    if (!content.empty() && content[0] == ' ') content.remove_prefix(1);  // stuffing
    if (joining && depth != joining_depth) out.push_back('\n');           // quote depth changed
    if (!joining || depth != joining_depth) {
      out.append(depth, '>');
      if (depth) out.push_back(' ');
    }
    bool soft = !content.empty() && content.back() == ' ' && content != "-- ";
    if (soft && delsp) content.remove_suffix(1);
    out.append(content);
    joining = soft;
    joining_depth = depth;
    if (!soft && e != npos) out.push_back('\n');
  }
  return out;
}

void decode_attachment(std::string_view bytes, std::string_view filename,
                       const std::string& part_path, const DecodeLimits& limits,
                       DecodedMessage& dm) {
  DecodeContext ctx(limits);
  decode_blob(bytes, filename, part_path, 0, 0, ctx, dm);
}

}  // namespace credsift

// The extract stage's entry: one attachment's bytes dispatched by content (archives, OOXML, PDF,
// messages, text in any charset, uuencoded blocks), the message's decompression budget, and
// attachments that are credentials themselves (credentials.cpp).
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/extract.hpp"
#include "credsift/outlook.hpp"
#include "credsift/text.hpp"
#include "extract_internal.hpp"

namespace credsift {
namespace mime_detail {

namespace {
constexpr size_t npos = std::string_view::npos;
std::atomic<AttachedMailboxReader> attached_mailbox_reader{nullptr};

// An attached PST/OST: each item decoded as a nested message under the attachment's path.
void decode_attached_mailbox(std::string_view bytes, const std::string& path, uint64_t offset,
                             size_t depth, DecodeContext& ctx, DecodedMessage& dm) {
  const AttachedMailboxReader reader = attached_mailbox_reader.load();
  if (!reader) {
    add_problem(dm.problems, offset, path + ": attached PST/OST not opened (no mailbox reader)");
    return;
  }
  std::vector<std::string> problems;
  reader(
      bytes, ctx.limits.max_decompressed_bytes,
      [&](const std::string& label, std::string_view item) {
        if (!charge(ctx, item.size(), path, offset, dm)) return false;
        dm.storage.push_back(std::make_unique<std::string>(item));
        // A PST is a folder tree: its folders continue the attachment's path.
        decode_nested_message(*dm.storage.back(), path + "/" + label, offset, depth, ctx, dm);
        return true;
      },
      problems);
  for (const std::string& p : problems) add_problem(dm.problems, offset, path + ": " + p);
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

bool utf16_with_bom(std::string_view b) {
  return b.size() >= 2 && ((uint8_t(b[0]) == 0xFF && uint8_t(b[1]) == 0xFE) ||
                           (uint8_t(b[0]) == 0xFE && uint8_t(b[1]) == 0xFF));
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
  if (starts_with_bytes(bytes, "%PDF-")) {
    decode_pdf(bytes, path, offset, ctx, dm);
    return;
  }
  if (is_rtf(bytes)) {
    decode_rtf(bytes, path, offset, SegmentKind::AttachmentContent, ctx, dm);
    return;
  }
  if (is_tnef(bytes)) {
    decode_tnef(bytes, path, offset, depth, ctx, dm);
    return;
  }
  if (starts_with_bytes(bytes, "!BDN")) {
    decode_attached_mailbox(bytes, path, offset, depth, ctx, dm);
    return;
  }
  if (is_ole2(bytes)) {
    // An Outlook item (.msg, "forward as attachment") is a message: decoded like message/rfc822.
    if (auto msg = outlook_item_to_rfc5322(bytes, ctx.limits.max_decompressed_bytes)) {
      if (!charge(ctx, msg->size(), path, offset, dm)) return;
      dm.storage.push_back(std::make_unique<std::string>(std::move(*msg)));
      decode_nested_message(*dm.storage.back(), path, offset, depth, ctx, dm);
      return;
    }
    if (decode_ole_document(bytes, path, offset, ctx, dm)) return;
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

using namespace mime_detail;

void set_attached_mailbox_reader(AttachedMailboxReader reader) {
  attached_mailbox_reader.store(reader);
}

void decode_attachment(std::string_view bytes, std::string_view filename,
                       const std::string& part_path, const DecodeLimits& limits,
                       DecodedMessage& dm) {
  DecodeContext ctx(limits);
  decode_blob(bytes, filename, part_path, 0, 0, ctx, dm);
}

}  // namespace credsift

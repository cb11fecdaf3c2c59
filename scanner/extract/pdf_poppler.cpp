// PDF attachments to text: our own reader (pdf.cpp) first, poppler for what it declines. poppler
// lives in a plugin (poppler/poppler_plugin.cpp, libcredsift_poppler.so) loaded with dlopen the
// first time a PDF needs it: mapping poppler and its 25 libraries at every start cost more than
// the whole gateway check of a message. Without the plugin such a PDF gets a decode problem.
#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/plugin.hpp"
#include "extract_internal.hpp"
#include "poppler/poppler_plugin.h"

namespace credsift::mime_detail {

namespace {

struct PopplerPlugin {
  credsift_poppler_pdf_text_fn pdf_text = nullptr;
  std::string error;  // why pdf_text is null
};

PopplerPlugin load_poppler_plugin() {
  PopplerPlugin plugin;
  plugin.pdf_text = reinterpret_cast<credsift_poppler_pdf_text_fn>(
      open_plugin_entry("libcredsift_poppler.so", "credsift_poppler_abi", CREDSIFT_POPPLER_ABI,
                        "credsift_poppler_pdf_text", plugin.error));
  return plugin;
}

// Loaded once (thread-safe static), on the first PDF that our reader declines.
const PopplerPlugin& poppler_plugin() {
  static const PopplerPlugin plugin = load_poppler_plugin();
  return plugin;
}

}  // namespace

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
  // What our reader declines goes to poppler, in its plugin (loaded on first use).
  const PopplerPlugin& plugin = poppler_plugin();
  if (!plugin.pdf_text) {
    add_problem(dm.problems, offset,
                path + ": PDF text not decoded (needs poppler's reader): " + plugin.error);
    return;
  }
  struct PageSink {
    decltype(add_page)& add;
  } sink{add_page};
  const auto on_page = [](void* context, const char* utf8, size_t size) -> int {
    return static_cast<PageSink*>(context)->add(std::string_view(utf8, size)) ? 1 : 0;
  };
  size_t page_count = 0;
  switch (plugin.pdf_text(bytes.data(), bytes.size(), kMaxPdfPages, &page_count, on_page, &sink)) {
    case CREDSIFT_PDF_OK:
      break;
    case CREDSIFT_PDF_ENCRYPTED:
      add_problem(dm.problems, offset, path + ": PDF is encrypted; text not decoded");
      return;
    case CREDSIFT_PDF_FAILED:
      add_problem(dm.problems, offset, path + ": PDF reader failed (poppler)");
      return;
    default:
      add_problem(dm.problems, offset, path + ": PDF unreadable");
      return;
  }
  note_page_count(page_count);
  keep_text();
}

}  // namespace credsift::mime_detail

// PDF attachments to text: our own reader (pdf.cpp) first, poppler for what it declines.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "extract_internal.hpp"

namespace credsift::mime_detail {

namespace {

void silence_poppler(const std::string&, void*) {}

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

}  // namespace credsift::mime_detail

// libcredsift_poppler.so: poppler's text of a PDF, behind the C interface of poppler_plugin.h.
#include "poppler_plugin.h"

#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <climits>
#include <memory>
#include <mutex>
#include <new>
#include <string>

namespace {

void silence_poppler(const std::string&, void*) {}

// A one-page PDF with one line of text, xref offsets computed here so that poppler reads it
// without reconstructing anything.
std::string one_page_pdf() {
  const std::string content = "BT /F1 12 Tf 10 20 Td (credsift) Tj ET\n";
  const std::string objects[] = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 50] /Resources << /Font << /F1 4 0 R >> "
      ">> /Contents 5 0 R >>",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
      "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "endstream",
  };
  std::string pdf = "%PDF-1.4\n";
  std::string xref = "xref\n0 6\n0000000000 65535 f \n";
  int number = 1;
  for (const std::string& object : objects) {
    char entry[32];
    snprintf(entry, sizeof entry, "%010zu 00000 n \n", pdf.size());
    xref += entry;
    pdf += std::to_string(number++) + " 0 obj\n" + object + "\nendobj\n";
  }
  const size_t xref_offset = pdf.size();
  pdf += xref + "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n" + std::to_string(xref_offset) +
         "\n%%EOF\n";
  return pdf;
}

// Process-wide state poppler builds lazily, set up once from one thread. After that each call
// has a document of its own and no lock: poppler guards its shared caches (GlobalParams, fonts,
// CMaps) itself, but some of its one-time set-up is an unguarded `if (!static)` (GfxState's
// colour-management profiles, built by the first page drawn), and poppler-cpp's debug handler is
// a plain global. The extraction of PDF text was serialized by one lock before: 20-29% of a PST
// scan's CPU, on which two threads met.
void set_up_poppler() {
  poppler::set_debug_error_function(silence_poppler, nullptr);
  // poppler-cpp builds its GlobalParams (font and encoding tables) when the first document
  // opens and frees them when the last one closes: with one PDF at a time that rebuild was a
  // third of the scan's CPU time on a mail archive (bench/stages_bench BM_PdfAttachmentMessage).
  // An empty document kept open for the life of the process makes it a one-time cost.
  static constexpr char kEmptyPdf[] =
      "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n"
      "<< /Type /Pages /Kids [] /Count 0 >>\nendobj\nxref\n0 3\n0000000000 65535 f \n"
      "0000000009 00000 n \n0000000058 00000 n \ntrailer\n<< /Size 3 /Root 1 0 R >>\n"
      "startxref\n110\n%%EOF\n";
  static const std::unique_ptr<poppler::document> keeps_global_params(
      poppler::document::load_from_raw_data(kEmptyPdf, int(sizeof kEmptyPdf - 1)));
  // One page's text, the path every call takes, runs the lazy set-up of drawing a page.
  const std::string warm = one_page_pdf();
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(warm.data(), int(warm.size())));
  if (!doc) return;
  std::unique_ptr<poppler::page> page(doc->create_page(0));
  if (page) (void)page->text().to_utf8();
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int credsift_poppler_abi(void) {
  return CREDSIFT_POPPLER_ABI;
}

extern "C" __attribute__((visibility("default"))) int credsift_poppler_pdf_text(
    const char* data, size_t size, size_t max_pages, size_t* page_count,
    credsift_pdf_page_fn on_page, void* context) {
  *page_count = 0;
  if (size > size_t(INT_MAX)) return CREDSIFT_PDF_UNREADABLE;
  try {
    static std::once_flag set_up;
    std::call_once(set_up, set_up_poppler);
    std::unique_ptr<poppler::document> doc(poppler::document::load_from_raw_data(data, int(size)));
    if (!doc) return CREDSIFT_PDF_UNREADABLE;
    if (doc->is_locked()) return CREDSIFT_PDF_ENCRYPTED;
    const int pages = doc->pages();
    *page_count = size_t(pages > 0 ? pages : 0);
    for (int i = 0; i < pages && size_t(i) < max_pages; ++i) {
      std::unique_ptr<poppler::page> page(doc->create_page(i));
      if (!page) continue;
      poppler::byte_array utf8 = page->text().to_utf8();
      if (!on_page(context, utf8.data(), utf8.size())) break;
    }
    return CREDSIFT_PDF_OK;
  } catch (...) {  // nothing may unwind through the C interface
    return CREDSIFT_PDF_FAILED;
  }
}

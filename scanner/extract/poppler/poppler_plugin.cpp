// libcredsift_poppler.so: poppler's text of a PDF, behind the C interface of poppler_plugin.h.
#include "poppler_plugin.h"

#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <climits>
#include <memory>
#include <mutex>
#include <new>

namespace {

void silence_poppler(const std::string&, void*) {}

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
    // poppler's global state (font and error handlers) is not meant for concurrent first use.
    static std::mutex poppler_mutex;
    std::lock_guard lock(poppler_mutex);
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
    poppler::set_debug_error_function(silence_poppler, nullptr);
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

#pragma once
// The C interface of libcredsift_poppler.so, the plugin that holds poppler. poppler and its 25
// libraries (fonts, images, NSS ...) cost every credsift start about as much as the rest of the
// program; through this plugin they are mapped only when a PDF falls back to poppler
// (scanner/extract/pdf_poppler.cpp loads it with dlopen). No C++ type or exception crosses it.
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// Raised whenever the functions below change meaning; the loader refuses another version.
#define CREDSIFT_POPPLER_ABI 1

enum CredsiftPdfStatus {
  CREDSIFT_PDF_OK = 0,
  CREDSIFT_PDF_UNREADABLE = 1,  // poppler could not open the document
  CREDSIFT_PDF_ENCRYPTED = 2,   // opened, but locked: no text
  CREDSIFT_PDF_FAILED = 3,      // poppler threw or ran out of memory
};

// Called once per page in order with its UTF-8 text (poppler's page::text() layout); returns
// nonzero to go on, zero to stop (the caller's output budget is spent).
typedef int (*credsift_pdf_page_fn)(void* context, const char* utf8, size_t size);

typedef int (*credsift_poppler_abi_fn)(void);
// Text of the PDF in data[0, size), at most max_pages pages; *page_count gets the document's
// page count. Safe to call from several threads at once (each call reads its own document).
typedef int (*credsift_poppler_pdf_text_fn)(const char* data, size_t size, size_t max_pages,
                                            size_t* page_count, credsift_pdf_page_fn on_page,
                                            void* context);

int credsift_poppler_abi(void);
int credsift_poppler_pdf_text(const char* data, size_t size, size_t max_pages, size_t* page_count,
                              credsift_pdf_page_fn on_page, void* context);

#ifdef __cplusplus
}
#endif

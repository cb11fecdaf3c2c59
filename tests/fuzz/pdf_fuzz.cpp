// libFuzzer: our own PDF text extractor (scanner/extract/pdf.cpp) alone, without poppler behind it,
// so that the fuzzer spends its time in our parser. A declined file must have reported nothing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../../scanner/extract/extract_internal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  credsift::mime_detail::PdfTextLimits limits;
  limits.max_inflated = 16u << 20;
  const std::string path = "fuzz.pdf";
  std::vector<credsift::DecodeProblem> problems;
  credsift::mime_detail::PdfText text = credsift::mime_detail::pdf_text_fast(
      std::string_view(reinterpret_cast<const char*>(data), size), limits, path, 0, problems);
  if (!text.handled && !problems.empty()) __builtin_trap();
  if (text.pages.size() > text.page_count) __builtin_trap();
  return 0;
}

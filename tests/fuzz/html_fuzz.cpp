// libFuzzer: the HTML-to-text reducer; its output is never larger than a bounded multiple of
// the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "credsift/mime.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text =
      credsift::html_to_text(std::string_view(reinterpret_cast<const char*>(data), size));
  if (text.size() > 4 * size + 16) std::abort();
  return 0;
}

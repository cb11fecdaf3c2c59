// libFuzzer: one attachment's bytes through archive extraction (zip, tar, 7z, gzip, bzip2, xz),
// OOXML, PDF text and credential-file detection.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "credsift/extract.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  credsift::DecodeLimits limits;
  limits.max_decompressed_bytes = 16u << 20;
  credsift::DecodedMessage dm;
  credsift::decode_attachment(std::string_view(reinterpret_cast<const char*>(data), size),
                              "fuzz.bin", "2:attachment=fuzz.bin", limits, dm);
  return 0;
}

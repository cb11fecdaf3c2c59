// libFuzzer: the whole decode stage, one message to segments (archives and PDF included).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "credsift/mime.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  credsift::DecodeLimits limits;
  limits.max_decompressed_bytes = 16u << 20;  // libFuzzer's default RSS limit is 2 GB
  credsift::DecodedMessage dm =
      credsift::decode_message(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  for (const credsift::Segment& segment : dm.segments)
    if (segment.part_path.empty()) std::abort();
  if (dm.problems.size() > 1000) std::abort();  // problems are capped
  return 0;
}

// libFuzzer: RTF to text, alone and as an attachment (which also reads text/rtf bodies), and
// compressed RTF (LZFu) with its output read as RTF.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "credsift/extract.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const credsift::RtfText text = credsift::rtf_to_text(bytes, 1u << 20);
  if (text.text.size() > (1u << 20)) __builtin_trap();  // the output bound holds
  const credsift::LzfuResult lzfu = credsift::decompress_lzfu(bytes, 1u << 20);
  if (lzfu.text.size() > (1u << 20)) __builtin_trap();
  credsift::rtf_to_text(lzfu.text, 1u << 20);
  return 0;
}

// RTF to text, and compressed RTF (LZFu) with its output read as RTF; both within their bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "check.hpp"
#include "credsift/extract.hpp"

namespace credsift_fuzz {

inline void rtf_one_input(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const credsift::RtfText text = credsift::rtf_to_text(bytes, 1u << 20);
  FUZZ_CHECK(text.text.size() <= (1u << 20));
  const credsift::LzfuResult lzfu = credsift::decompress_lzfu(bytes, 1u << 20);
  FUZZ_CHECK(lzfu.text.size() <= (1u << 20));
  credsift::rtf_to_text(lzfu.text, 1u << 20);
}

}  // namespace credsift_fuzz

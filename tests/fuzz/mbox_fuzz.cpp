// libFuzzer: the mbox splitter on any bytes; pieces must tile the input in order.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "credsift/source.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view buffer(reinterpret_cast<const char*>(data), size);
  size_t previous_end = 0;
  for (const credsift::MboxPiece& piece : credsift::split_mbox(buffer)) {
    if (piece.bytes.data() < buffer.data() ||
        piece.bytes.data() + piece.bytes.size() > buffer.data() + buffer.size())
      std::abort();  // a piece outside the buffer
    size_t begin = size_t(piece.bytes.data() - buffer.data());
    if (begin < previous_end) std::abort();  // pieces overlap or go backwards
    previous_end = begin + piece.bytes.size();
    if (piece.needs_unescape) credsift::unescape_mboxrd(piece.bytes);
  }
  return 0;
}

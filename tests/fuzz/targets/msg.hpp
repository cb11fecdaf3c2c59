// A .msg (OLE2 compound file, MS-OXMSG) from bytes, as the decoder reads an attached one:
// libolecf for the container, our code for the property streams, then the rendering.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/outlook.hpp"

namespace credsift_fuzz {

inline void msg_one_input(const uint8_t* data, size_t size) {
  std::vector<std::string> problems;
  credsift::outlook_item_to_rfc5322(std::string_view(reinterpret_cast<const char*>(data), size),
                                    1 << 20, &problems);
}

}  // namespace credsift_fuzz

// TNEF (winmail.dat) as an attachment: attributes, MAPI properties, compressed RTF bodies,
// attachments inside decoded in turn, embedded messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "credsift/extract.hpp"

namespace credsift_fuzz {

inline void tnef_one_input(const uint8_t* data, size_t size) {
  credsift::DecodeLimits limits;
  limits.max_decompressed_bytes = 16u << 20;
  credsift::DecodedMessage dm;
  credsift::decode_attachment(std::string_view(reinterpret_cast<const char*>(data), size),
                              "winmail.dat", "2:attachment=winmail.dat", limits, dm);
}

}  // namespace credsift_fuzz

// Legacy Office binaries. The whole input as an attachment (OLE2 through libolecf, then the
// Word, Excel or PowerPoint reader), and the stream readers on their own: the first byte picks
// .doc (rest split into WordDocument and table streams), .xls or .ppt, so that the record
// parsers see inputs that no valid compound file would carry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "../../../scanner/extract/extract_internal.hpp"

namespace credsift_fuzz {

inline void office_one_input(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  credsift::DecodeLimits limits;
  limits.max_decompressed_bytes = 16u << 20;
  credsift::DecodedMessage dm;
  credsift::decode_attachment(bytes, "fuzz.doc", "2:attachment=fuzz.doc", limits, dm);
  if (size < 1) return;
  using namespace credsift::mime_detail;
  const std::string_view rest = bytes.substr(1);
  switch (data[0] % 3) {
    case 0: {
      const size_t half = rest.size() / 2;
      doc_text(rest.substr(0, half), rest.substr(half), rest.substr(half), 1u << 20);
      break;
    }
    case 1:
      xls_text(rest, 1u << 20);
      break;
    default:
      ppt_text(rest, 1u << 20);
      break;
  }
}

}  // namespace credsift_fuzz

// libFuzzer: a .msg (OLE2 compound file, MS-OXMSG) from bytes, as the decoder reads an attached
// one: libolecf for the container, our code for the property streams, then the rendering.
// Seeds: the .msg files that `readpst -m` writes from the PST test data (tests/pst/fetch), passed
// as an extra corpus directory; nothing derived from them is committed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/outlook.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> problems;
  credsift::outlook_item_to_rfc5322(std::string_view(reinterpret_cast<const char*>(data), size),
                                    1 << 20, &problems);
  return 0;
}

// libFuzzer entry for tests/fuzz/targets/rtf.hpp, which the unit tests share to replay the
// inputs kept in tests/fuzz/regressions/rtf/.
#include "targets/rtf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  credsift_fuzz::rtf_one_input(data, size);
  return 0;
}

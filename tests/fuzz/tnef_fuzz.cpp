// libFuzzer entry for tests/fuzz/targets/tnef.hpp, which the unit tests share to replay the
// inputs kept in tests/fuzz/regressions/tnef/.
#include "targets/tnef.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  credsift_fuzz::tnef_one_input(data, size);
  return 0;
}

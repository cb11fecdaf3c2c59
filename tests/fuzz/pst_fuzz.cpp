// libFuzzer entry for tests/fuzz/targets/pst.hpp, which the unit tests share to replay the
// inputs kept in tests/fuzz/regressions/pst/.
#include "targets/pst.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  credsift_fuzz::pst_one_input(data, size);
  return 0;
}

// libFuzzer entry for tests/fuzz/targets/office.hpp, which the unit tests share to replay the
// inputs kept in tests/fuzz/regressions/office/.
#include "targets/office.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  credsift_fuzz::office_one_input(data, size);
  return 0;
}

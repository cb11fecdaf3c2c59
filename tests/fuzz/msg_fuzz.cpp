// libFuzzer entry for tests/fuzz/targets/msg.hpp, which the unit tests share to replay the
// inputs kept in tests/fuzz/regressions/msg/.
#include "targets/msg.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  credsift_fuzz::msg_one_input(data, size);
  return 0;
}

// libFuzzer entry for tests/fuzz/targets/json_export.hpp, which the unit tests share to replay the
// inputs kept in tests/fuzz/regressions/json_export/.
#include "targets/json_export.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  credsift_fuzz::json_export_one_input(data, size);
  return 0;
}

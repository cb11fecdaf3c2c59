// libcredsift_verify.so's entry points (verify_plugin.hpp): the verify stage behind a C call.
#include "verify_plugin.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <string_view>

namespace {

void copy_error(const CredsiftVerifyCall& call, std::string_view message) {
  if (!call.error || call.error_size == 0) return;
  const size_t size = std::min(message.size(), call.error_size - 1);
  std::memcpy(call.error, message.data(), size);
  call.error[size] = '\0';
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int credsift_verify_abi(void) {
  return CREDSIFT_VERIFY_ABI;
}

extern "C" __attribute__((visibility("default"))) int credsift_verify_run(
    const CredsiftVerifyCall* call) {
  if (!call || !call->tickets || !call->options || !call->plan || !call->counts) return 1;
  try {
    *call->counts = credsift::verify_tickets(*call->tickets, *call->options, *call->plan);
    return 0;
  } catch (const std::exception& error) {
    copy_error(*call, error.what());
  } catch (...) {
    copy_error(*call, "unknown exception in the verify plugin");
  }
  return 1;
}

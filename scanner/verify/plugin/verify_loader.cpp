// Opens libcredsift_verify.so with the shared plugin search (credsift/plugin.hpp) and calls it.
#include "verify_loader.hpp"

#include <stdexcept>
#include <string>

#include "credsift/plugin.hpp"
#include "verify_plugin.hpp"

namespace credsift {

namespace {

struct VerifyPlugin {
  credsift_verify_run_fn run = nullptr;
  std::string error;  // why run is null
};

VerifyPlugin open_verify_plugin() {
  VerifyPlugin plugin;
  plugin.run = reinterpret_cast<credsift_verify_run_fn>(
      open_plugin_entry("libcredsift_verify.so", "credsift_verify_abi", CREDSIFT_VERIFY_ABI,
                        "credsift_verify_run", plugin.error));
  return plugin;
}

// Opened once (thread-safe static) and never closed.
const VerifyPlugin& verify_plugin() {
  static const VerifyPlugin plugin = open_verify_plugin();
  if (!plugin.run)
    throw std::runtime_error("live verification is unavailable: its plugin " + plugin.error);
  return plugin;
}

}  // namespace

void load_verify_plugin() { verify_plugin(); }

VerifyCounts verify_tickets_in_plugin(std::vector<Ticket>& tickets, const VerifyOptions& options,
                                      std::ostream& plan) {
  const VerifyPlugin& plugin = verify_plugin();
  VerifyCounts counts;
  char error[1024] = "";
  const CredsiftVerifyCall call{&tickets, &options, &plan, &counts, error, sizeof error};
  if (plugin.run(&call) != 0)
    throw std::runtime_error(std::string("verification failed: ") +
                             (error[0] ? error : "the verify plugin refused the call"));
  return counts;
}

}  // namespace credsift

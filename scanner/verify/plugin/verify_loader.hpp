#pragma once
// Live verification through libcredsift_verify.so, linked into the commands that offer
// --verify instead of the verify stage itself: the plugin and its libraries are opened only
// when a run asks for verification.
#include <ostream>
#include <vector>

#include "credsift/ticket.hpp"
#include "credsift/verify.hpp"

namespace credsift {

// Opens the plugin once (later calls return at once). Throws std::runtime_error naming the
// directories looked in, or the file and the loader's reason, when it cannot be used.
void load_verify_plugin();

// credsift::verify_tickets in the plugin (loading it first); throws std::runtime_error when the
// plugin cannot be loaded or verification failed inside it.
VerifyCounts verify_tickets_in_plugin(std::vector<Ticket>& tickets, const VerifyOptions& options,
                                      std::ostream& plan);

}  // namespace credsift

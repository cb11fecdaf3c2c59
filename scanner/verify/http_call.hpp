#pragma once
// Inside the verify stage: the HTTP call itself.
#include <string>

#include "credsift/verify.hpp"

namespace credsift {

std::string http_endpoint(const HttpVerifier& verifier, const VerifyOptions& options);
// One call; the result's endpoint is the URL (no secret in it), checked_at left to the caller.
Verification http_verify(const HttpVerifier& verifier, const std::string& secret,
                         const VerifyOptions& options);

}  // namespace credsift

#pragma once
// Inside the verify stage: the HTTP call itself.
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "credsift/verify.hpp"

namespace credsift {

// What a verifier may send: the secret and what was captured beside it.
struct HttpCredential {
  std::string secret;
  std::string user;    // the ticket's username: a Twilio account SID, an Azure account name
  std::string key_id;  // an AWS access key id paired with the secret key
};
HttpCredential http_credential(const Ticket& ticket);

// AWS accounts of canary-token services (Thinkst canarytokens.org and look-alikes): a key of
// theirs is a tripwire that alerts whoever planted it on any API call, GetCallerIdentity included.
const std::set<std::string>& aws_canary_accounts();

// Why this credential must not be sent to this verifier (nothing captured to pair it with, a
// canary account ...), or nullopt when it may be.
std::optional<std::string> http_not_sendable(const HttpVerifier& verifier,
                                             const HttpCredential& credential,
                                             const VerifyOptions& options);

// The URL shown and audited: never with the secret (a webhook's path shows as "/…").
std::string http_endpoint(const HttpVerifier& verifier, const VerifyOptions& options,
                          const HttpCredential* credential = nullptr);
// One call (a 429 asking for a short wait is retried once, and `on_retried` gets the 429's
// result first, for the audit log); checked_at left to the caller.
Verification http_verify(const HttpVerifier& verifier, const HttpCredential& credential,
                         const VerifyOptions& options,
                         const std::function<void(Verification)>& on_retried = {});

}  // namespace credsift

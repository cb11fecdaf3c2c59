#pragma once
// Inside the verify stage: connection-string verifiers (PostgreSQL, Redis).
#include <optional>
#include <string>

#include "credsift/verify.hpp"

namespace credsift {

struct ConnectionTarget {
  std::string protocol;  // postgres, redis (the --verify provider name)
  std::string host, port, user, database;
};

// What a connection-string ticket points at; nullopt for other tickets.
std::optional<ConnectionTarget> connection_target(const Ticket& ticket);
std::string connection_endpoint(const ConnectionTarget& target);  // postgres://host:port
// The address to connect to: the host resolved once and checked against the list. nullopt (and
// why, in `reason`) when not allowed.
std::optional<std::string> allowed_address(const ConnectionTarget& target,
                                           const HostAllowList& allow, std::string& reason);
Verification connection_verify(const ConnectionTarget& target, const std::string& address,
                               const std::string& secret, const VerifyOptions& options);

}  // namespace credsift

#pragma once
// Inside the verify stage: connection-string verifiers (PostgreSQL, MySQL/MariaDB, Redis, SMTP,
// IMAP, FTP, HTTP basic).
#include <optional>
#include <string>

#include "credsift/verify.hpp"

namespace credsift {

struct ConnectionTarget {
  std::string protocol;  // postgres, mysql, redis, smtp, imap, ftp, http-basic (--verify name)
  std::string scheme;    // as written: smtps, imaps, ftps, https select implicit TLS
  std::string host, port, user, database;  // database: the URI's first path segment
  bool uri = true;                         // from a URI: user and password are percent-encoded
};

// The providers connection_verify handles (for --verify=LIST).
bool is_connection_provider(const std::string& provider);
// What a connection-string ticket points at; nullopt for other tickets.
std::optional<ConnectionTarget> connection_target(const Ticket& ticket);
std::string connection_endpoint(const ConnectionTarget& target);  // postgres://host:port
// The address to connect to: the host resolved once and checked against the list. nullopt (and
// why, in `reason`) when not allowed.
std::optional<std::string> allowed_address(const ConnectionTarget& target,
                                           const HostAllowList& allow, std::string& reason);
// Once, before any worker thread: the client libraries' global set-up (not thread-safe).
void prepare_connection_clients();
Verification connection_verify(const ConnectionTarget& target, const std::string& address,
                               const std::string& secret, const VerifyOptions& options);

}  // namespace credsift

// Connection-string verifiers: authentication only, through each protocol's own client library,
// and only to hosts allowed with --verify-hosts: the name is resolved once here, the address
// checked against the list, and the client connects to that address (no second lookup).
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cctype>
#include <cstring>

#include "connection_call.hpp"

namespace credsift {

namespace {

std::string evidence_value(const Evidence& evidence, std::string_view name) {
  for (const auto& [key, value] : evidence)
    if (key == name) return value;
  return "";
}

// user:password in a URI is percent-encoded.
std::string percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() + 0 &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

std::optional<ConnectionTarget> connection_target(const Ticket& ticket) {
  ConnectionTarget target;
  const std::string& rule = ticket.rule ? ticket.rule->id : ticket.rules.front();
  if (rule == "connstr.postgres") {
    target.protocol = "postgres";
    target.port = "5432";
  } else if (rule == "connstr.redis") {
    target.protocol = "redis";
    target.port = "6379";
    if (evidence_value(ticket.validation.evidence, "scheme") == "rediss") return std::nullopt;
  } else {
    return std::nullopt;
  }
  target.host = evidence_value(ticket.identity, "host");
  if (target.host.empty()) target.host = evidence_value(ticket.validation.evidence, "host");
  if (target.host.empty()) return std::nullopt;
  if (const std::string port = evidence_value(ticket.validation.evidence, "port"); !port.empty())
    target.port = port;
  // A port from the mail is digits, but maybe too many: checked before any use.
  if (target.port.size() > 5 || std::stoul(target.port) == 0 || std::stoul(target.port) > 65535)
    return std::nullopt;
  target.user = percent_decode(evidence_value(ticket.identity, "username"));
  target.database = evidence_value(ticket.identity, "database");
  return target;
}

std::string connection_endpoint(const ConnectionTarget& target) {
  return target.protocol + "://" + target.host + ":" + target.port;
}

std::optional<std::string> allowed_address(const ConnectionTarget& target,
                                           const HostAllowList& allow, std::string& reason) {
  if (allow.empty()) {
    reason = "host not allowed (no --verify-hosts)";
    return std::nullopt;
  }
  // A name no glob allows is looked up only when a CIDR could allow its address.
  const bool name_allowed = allow.allows_name(target.host);
  if (!name_allowed && !allow.has_networks()) {
    reason = "host not allowed by --verify-hosts: " + target.host;
    return std::nullopt;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &found) != 0 || !found) {
    reason = "cannot resolve " + target.host;
    return std::nullopt;
  }
  std::optional<std::string> chosen;
  for (addrinfo* a = found; a && !chosen; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* bytes =
        a->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if (!::inet_ntop(a->ai_family, bytes, text, sizeof text)) continue;
    if (name_allowed || allow.allows_address(text)) chosen = text;
  }
  ::freeaddrinfo(found);
  if (!chosen) reason = "host not allowed by --verify-hosts: " + target.host;
  return chosen;
}

Verification connection_verify(const ConnectionTarget& target, const std::string& address,
                               const std::string& secret, const VerifyOptions& options) {
  Verification result;
  result.endpoint = connection_endpoint(target);
  const std::string password = percent_decode(secret);
  if (target.protocol == "postgres") {
    const std::string timeout = std::to_string(options.timeout_seconds);
    const std::string database = target.database.empty() ? "postgres" : target.database;
    // Explicit values: no service file, password file or GSSAPI guesswork from the environment.
    const char* keys[] = {"host",   "hostaddr",        "port",       "user",     "password",
                          "dbname", "connect_timeout", "gssencmode", "passfile", "application_name",
                          nullptr};
    const char* values[] = {target.host.c_str(), address.c_str(),  target.port.c_str(),
                            target.user.c_str(), password.c_str(), database.c_str(),
                            timeout.c_str(),     "disable",        "/nonexistent",
                            "credsift-verify",   nullptr};
    PGconn* connection = PQconnectdbParams(keys, values, 0);
    const std::string message = connection ? PQerrorMessage(connection) : "out of memory";
    const bool ok = connection && PQstatus(connection) == CONNECTION_OK;
    if (connection) PQfinish(connection);
    if (ok) {
      result.state = VerificationState::Live;
      result.reason = "authenticated";
      result.identity.emplace_back("user", target.user);
    } else if (contains(message, "password authentication failed") ||
               contains(message, "authentication failed") ||
               (contains(message, "role \"") && contains(message, "does not exist"))) {
      result.state = VerificationState::Revoked;
      result.reason = "authentication failed";
    } else if (contains(message, "database \"") && contains(message, "does not exist")) {
      // The server checks the password before it looks for the database.
      result.state = VerificationState::Live;
      result.reason = "authenticated (database does not exist)";
      result.identity.emplace_back("user", target.user);
    } else {
      result.state = VerificationState::Unknown;
      std::string first_line = message.substr(0, message.find('\n'));
      result.reason = "postgres: " + first_line.substr(0, 200);
    }
    return result;
  }
  // Redis: AUTH only. Debian's hiredis has no TLS, so this goes in clear: allowed hosts only.
  timeval timeout{options.timeout_seconds, 0};
  redisContext* context = redisConnectWithTimeout(address.c_str(), std::stoi(target.port), timeout);
  if (!context || context->err) {
    result.state = VerificationState::Unknown;
    result.reason = std::string("redis: ") + (context ? context->errstr : "out of memory");
    if (context) redisFree(context);
    return result;
  }
  redisSetTimeout(context, timeout);
  redisReply* reply = nullptr;
  if (target.user.empty())
    reply = static_cast<redisReply*>(
        redisCommand(context, "AUTH %b", password.data(), password.size()));
  else
    reply = static_cast<redisReply*>(redisCommand(context, "AUTH %b %b", target.user.data(),
                                                  target.user.size(), password.data(),
                                                  password.size()));
  if (!reply) {
    result.state = VerificationState::Unknown;
    result.reason = std::string("redis: ") + context->errstr;
  } else if (reply->type == REDIS_REPLY_STATUS) {
    result.state = VerificationState::Live;
    result.reason = "AUTH accepted";
    if (!target.user.empty()) result.identity.emplace_back("user", target.user);
  } else if (reply->type == REDIS_REPLY_ERROR &&
             (contains(reply->str, "WRONGPASS") || contains(reply->str, "invalid password") ||
              contains(reply->str, "invalid username-password"))) {
    result.state = VerificationState::Revoked;
    result.reason = "redis: " + std::string(reply->str, std::min<size_t>(reply->len, 200));
  } else {
    result.state = VerificationState::Unknown;
    result.reason = reply->type == REDIS_REPLY_ERROR
                        ? "redis: " + std::string(reply->str, std::min<size_t>(reply->len, 200))
                        : "redis: unexpected reply";
  }
  if (reply) freeReplyObject(reply);
  redisFree(context);
  return result;
}

}  // namespace credsift

// Connection-string verifiers: authentication only, through each protocol's own client library,
// and only to hosts allowed with --verify-hosts: the name is resolved once here, the address
// checked against the list, and the client connects to that address (no second lookup).
#include <arpa/inet.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <mysql.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

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

std::string first_line(std::string_view text, size_t limit = 200) {
  text = text.substr(0, text.find_first_of("\r\n"));
  return std::string(text.substr(0, limit));
}

struct Protocol {
  const char* rule;
  const char* provider;
  // scheme prefix -> default port; a scheme not listed is not verified (rediss, mysqlx, sftp,
  // pop3: no client here or no server to test it against).
  std::vector<std::pair<std::string, std::string>> ports;
  bool uri = true;
};

const std::vector<Protocol>& protocols() {
  static const std::vector<Protocol> all = {
      {"connstr.postgres", "postgres", {{"postgres", "5432"}, {"postgresql", "5432"}}},
      {"connstr.mysql", "mysql", {{"mysql", "3306"}, {"mariadb", "3306"}}},
      {"connstr.mysql_cli", "mysql", {{"", "3306"}}, false},
      {"connstr.redis", "redis", {{"redis", "6379"}}},
      {"connstr.smtp", "smtp", {{"smtp", "25"}, {"smtps", "465"}}},
      {"connstr.imap", "imap", {{"imap", "143"}, {"imaps", "993"}}},
      {"connstr.ftp", "ftp", {{"ftp", "21"}, {"ftps", "990"}}},
      {"connstr.http_basic", "http-basic", {{"http", "80"}, {"https", "443"}}},
  };
  return all;
}

// postgres+asyncpg, mysql+pymysql: the driver suffix does not change the protocol.
std::string base_scheme(const std::string& scheme) { return scheme.substr(0, scheme.find('+')); }

}  // namespace

bool is_connection_provider(const std::string& provider) {
  const auto& all = protocols();
  return std::any_of(all.begin(), all.end(),
                     [&](const Protocol& p) { return provider == p.provider; });
}

std::optional<ConnectionTarget> connection_target(const Ticket& ticket) {
  const std::string& rule = ticket.rule ? ticket.rule->id : ticket.rules.front();
  const auto& all = protocols();
  const auto protocol =
      std::find_if(all.begin(), all.end(), [&](const Protocol& p) { return rule == p.rule; });
  if (protocol == all.end()) return std::nullopt;
  ConnectionTarget target;
  target.protocol = protocol->provider;
  target.uri = protocol->uri;
  target.scheme = base_scheme(evidence_value(ticket.validation.evidence, "scheme"));
  const auto port = std::find_if(protocol->ports.begin(), protocol->ports.end(),
                                 [&](const auto& p) { return p.first == target.scheme; });
  if (port == protocol->ports.end()) return std::nullopt;
  target.port = port->second;
  target.host = evidence_value(ticket.identity, "host");
  if (target.host.empty()) target.host = evidence_value(ticket.validation.evidence, "host");
  if (target.host.empty()) return std::nullopt;
  if (const std::string given = evidence_value(ticket.validation.evidence, "port"); !given.empty())
    target.port = given;
  // A port from the mail is digits, but maybe too many: checked before any use.
  if (target.port.size() > 5 || std::stoul(target.port) == 0 || std::stoul(target.port) > 65535)
    return std::nullopt;
  target.user = evidence_value(ticket.identity, "username");
  if (target.uri) target.user = percent_decode(target.user);
  target.database = evidence_value(ticket.identity, "database");
  return target;
}

std::string connection_endpoint(const ConnectionTarget& target) {
  std::string scheme = target.protocol;
  if (target.protocol == "http-basic" || target.protocol == "smtp" || target.protocol == "imap" ||
      target.protocol == "ftp")
    scheme = target.scheme;
  std::string endpoint = scheme + "://" + target.host + ":" + target.port;
  if (target.protocol == "http-basic") endpoint += "/" + target.database;
  return endpoint;
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

void prepare_connection_clients() {
  static std::once_flag ready;
  std::call_once(ready, [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mysql_library_init(0, nullptr, nullptr);
  });
}

namespace {

Verification verify_postgres(const ConnectionTarget& target, const std::string& address,
                             const std::string& password, const VerifyOptions& options) {
  Verification result;
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
    result.reason = "postgres: " + first_line(message);
  }
  return result;
}

// MySQL/MariaDB through libmariadb: connect without a database (nothing to look up), TCP only,
// no option files, and only the challenge-response password plugins (a server cannot ask for
// the password in clear: mysql_clear_password and dialog are refused).
Verification verify_mysql(const ConnectionTarget& target, const std::string& address,
                          const std::string& password, const VerifyOptions& options) {
  Verification result;
  MYSQL* connection = mysql_init(nullptr);
  if (!connection) {
    result.state = VerificationState::Unknown;
    result.reason = "mysql: out of memory";
    return result;
  }
  const unsigned timeout = static_cast<unsigned>(options.timeout_seconds);
  const unsigned tcp = MYSQL_PROTOCOL_TCP;
  const unsigned no = 0;
  mysql_optionsv(connection, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(connection, MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_optionsv(connection, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
  mysql_optionsv(connection, MYSQL_OPT_PROTOCOL, &tcp);
  mysql_optionsv(connection, MYSQL_OPT_LOCAL_INFILE, &no);
  mysql_optionsv(connection, MARIADB_OPT_RESTRICTED_AUTH,
                 "mysql_native_password,caching_sha2_password,sha256_password,client_ed25519");
  const unsigned port = static_cast<unsigned>(std::stoul(target.port));
  const bool ok = mysql_real_connect(connection, address.c_str(), target.user.c_str(),
                                     password.c_str(), nullptr, port, nullptr, 0) != nullptr;
  const unsigned error = mysql_errno(connection);
  const std::string message = mysql_error(connection);
  mysql_close(connection);
  if (ok) {
    result.state = VerificationState::Live;
    result.reason = "authenticated";
    result.identity.emplace_back("user", target.user);
  } else if (error == 1045 || error == 1698) {  // ER_ACCESS_DENIED_ERROR, ..._NO_PASSWORD_ERROR
    result.state = VerificationState::Revoked;
    result.reason = "mysql: " + first_line(message);
  } else {
    // 1130 (this host may not connect), 2003 (refused), 2013 (lost) say nothing about the
    // password.
    result.state = VerificationState::Unknown;
    result.reason = "mysql: " + std::to_string(error) + " " + first_line(message);
  }
  return result;
}

// Redis: AUTH only. Debian's hiredis has no TLS, so this goes in clear: allowed hosts only.
Verification verify_redis(const ConnectionTarget& target, const std::string& address,
                          const std::string& password, const VerifyOptions& options) {
  Verification result;
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

// What a libcurl login exchange showed: whether the credentials were sent at all (a server
// that offers no authentication lets curl through without them) and the server's last reply.
struct Exchange {
  std::string protocol;
  bool credentials_sent = false;
  std::string last_reply;
};

int on_debug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  auto& exchange = *static_cast<Exchange*>(user);
  const std::string_view text(data, size);
  if (type == CURLINFO_HEADER_OUT) {
    // Only the command word is looked at; the line holds the secret (or its base64).
    if (exchange.protocol == "smtp")
      exchange.credentials_sent |= text.starts_with("AUTH ");
    else if (exchange.protocol == "ftp")
      exchange.credentials_sent |= text.starts_with("PASS ");
    else if (exchange.protocol == "imap")
      exchange.credentials_sent |=
          contains(text.substr(0, 32), " LOGIN ") || contains(text.substr(0, 32), " AUTHENTICATE ");
  } else if (type == CURLINFO_HEADER_IN && !text.empty()) {
    exchange.last_reply = first_line(text);
  }
  return 0;
}

size_t discard_body(char*, size_t size, size_t count, void*) { return size * count; }

struct CurlCall {
  CURL* curl = curl_easy_init();
  curl_slist* resolve = nullptr;
  ~CurlCall() {
    if (curl) curl_easy_cleanup(curl);
    curl_slist_free_all(resolve);
  }
};

// The common settings: the URL keeps the host name (TLS checks it), the connection goes to the
// checked address (CURLOPT_RESOLVE), one protocol, no proxy (it would make its own lookup), no
// redirects, certificate checks on.
void prepare(CurlCall& call, const ConnectionTarget& target, const std::string& address,
             const std::string& url, const VerifyOptions& options) {
  CURL* curl = call.curl;
  const std::string pinned =
      target.host + ":" + target.port + ":" +
      (address.find(':') != std::string::npos ? "[" + address + "]" : address);
  call.resolve = curl_slist_append(nullptr, pinned.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_RESOLVE, call.resolve);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, target.scheme.c_str());
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, options.timeout_seconds);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, std::min(options.timeout_seconds, 10L));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
}

// SMTP AUTH, IMAP LOGIN/AUTHENTICATE, FTP USER/PASS: libcurl logs in while connecting, and
// CONNECT_ONLY stops there (no mail sent, no mailbox opened, no file listed). smtp://, imap://
// and ftp:// upgrade with STARTTLS / AUTH TLS when the server offers it (certificate checked);
// smtps://, imaps://, ftps:// are TLS from the start.
Verification verify_login(const ConnectionTarget& target, const std::string& address,
                          const std::string& password, const VerifyOptions& options) {
  Verification result;
  CurlCall call;
  if (!call.curl) {
    result.state = VerificationState::Unknown;
    result.reason = "out of memory";
    return result;
  }
  const std::string url = target.scheme + "://" + target.host + ":" + target.port + "/";
  prepare(call, target, address, url, options);
  Exchange exchange;
  exchange.protocol = target.protocol;
  CURL* curl = call.curl;
  curl_easy_setopt(curl, CURLOPT_USERNAME, target.user.c_str());
  curl_easy_setopt(curl, CURLOPT_PASSWORD, password.c_str());
  curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
  curl_easy_setopt(curl, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);  // feeds on_debug only
  curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, on_debug);
  curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &exchange);
  const CURLcode code = curl_easy_perform(curl);
  const std::string said = exchange.last_reply.empty() ? "" : ": " + exchange.last_reply;
  if (code == CURLE_OK && exchange.credentials_sent) {
    result.state = VerificationState::Live;
    result.reason = "authenticated" + said;
    result.identity.emplace_back("user", target.user);
  } else if (code == CURLE_LOGIN_DENIED && exchange.credentials_sent) {
    result.state = VerificationState::Revoked;
    result.reason = "login refused" + said;
  } else if (code == CURLE_OK) {
    result.state = VerificationState::Unknown;
    result.reason = "the server offered no authentication" + said;
  } else {
    result.state = VerificationState::Unknown;
    result.reason = std::string(curl_easy_strerror(code)) + said;
  }
  return result;
}

// HTTP basic: HEAD of the URL's first path segment with the credentials; 401 is revoked. A
// success counts as live only when the same URL refuses a request without them (else the URL
// was never protected and says nothing about the password).
Verification verify_http_basic(const ConnectionTarget& target, const std::string& address,
                               const std::string& password, const VerifyOptions& options) {
  Verification result;
  const std::string url =
      target.scheme + "://" + target.host + ":" + target.port + "/" + target.database;
  const auto head = [&](bool with_credentials, long& status) {
    CurlCall call;
    if (!call.curl) return CURLE_OUT_OF_MEMORY;
    prepare(call, target, address, url, options);
    curl_easy_setopt(call.curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(call.curl, CURLOPT_USERAGENT, "credsift");
    if (with_credentials) {
      curl_easy_setopt(call.curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(call.curl, CURLOPT_USERNAME, target.user.c_str());
      curl_easy_setopt(call.curl, CURLOPT_PASSWORD, password.c_str());
    }
    const CURLcode code = curl_easy_perform(call.curl);
    status = 0;
    if (code == CURLE_OK) curl_easy_getinfo(call.curl, CURLINFO_RESPONSE_CODE, &status);
    return code;
  };
  long status = 0;
  if (const CURLcode code = head(true, status); code != CURLE_OK) {
    result.state = VerificationState::Unknown;
    result.reason = curl_easy_strerror(code);
    return result;
  }
  if (status == 401) {
    result.state = VerificationState::Revoked;
    result.reason = "HTTP 401 with these credentials";
    return result;
  }
  if (status < 200 || status >= 400) {
    result.state = VerificationState::Unknown;
    result.reason = "HTTP " + std::to_string(status);
    return result;
  }
  long anonymous = 0;
  if (const CURLcode code = head(false, anonymous); code != CURLE_OK) {
    result.state = VerificationState::Unknown;
    result.reason = std::string("without credentials: ") + curl_easy_strerror(code);
  } else if (anonymous == 401) {
    result.state = VerificationState::Live;
    result.reason = "HTTP " + std::to_string(status) + " with the credentials, 401 without";
    result.identity.emplace_back("user", target.user);
  } else {
    result.state = VerificationState::Unknown;
    result.reason = "HTTP " + std::to_string(anonymous) +
                    " without credentials too: the URL does not need them";
  }
  return result;
}

}  // namespace

Verification connection_verify(const ConnectionTarget& target, const std::string& address,
                               const std::string& secret, const VerifyOptions& options) {
  const std::string password = target.uri ? percent_decode(secret) : secret;
  Verification result;
  // A line break would end the protocol's command line and start another: never sent.
  if ((password + target.user).find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
    result.reason = "not sent: a line break or NUL in the credential";
    result.endpoint = connection_endpoint(target);
    return result;
  }
  if (target.protocol == "postgres")
    result = verify_postgres(target, address, password, options);
  else if (target.protocol == "mysql")
    result = verify_mysql(target, address, password, options);
  else if (target.protocol == "redis")
    result = verify_redis(target, address, password, options);
  else if (target.protocol == "http-basic")
    result = verify_http_basic(target, address, password, options);
  else
    result = verify_login(target, address, password, options);
  result.endpoint = connection_endpoint(target);
  return result;
}

}  // namespace credsift

#pragma once
// Opt-in live verification: asks each provider whether a ticket's credential still works, with
// a read-only identity call. Runs after the tickets are built (tickets -> verify -> outputs) and
// only in `credsift scan`: the gateway (check, milter) never links this stage.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/ticket.hpp"

namespace credsift {

// "5/s", "300/m", "2.5/s", "10" (per second). nullopt when unreadable or not positive.
std::optional<double> parse_rate(std::string_view text);

// A blocking token bucket: `rate` tokens a second, at most `burst` saved up. Thread-safe.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst);
  void acquire();  // waits until a token is free, then takes it

 private:
  std::mutex mutex_;
  double rate_, burst_, tokens_;
  std::chrono::steady_clock::time_point last_;
};

// --verify-hosts: host name globs (`*.corp.example.com`, `db?.acme.io`) and CIDRs
// (`10.20.0.0/16`, `::1/128`), comma separated. A connection goes only to an address that the
// list allows: the name resolved once, the address checked, the connection made to it.
class HostAllowList {
 public:
  static HostAllowList parse(std::string_view list);  // throws std::invalid_argument
  bool empty() const { return globs_.empty() && networks_.empty(); }
  bool has_networks() const { return !networks_.empty(); }
  bool allows_name(std::string_view host) const;
  bool allows_address(std::string_view numeric_address) const;  // "10.20.3.4", "::1"

 private:
  struct Network {
    int family = 0;
    unsigned char bytes[16] = {};
    unsigned prefix = 0;
  };
  std::vector<std::string> globs_;
  std::vector<Network> networks_;
};

// The HTTP verifiers, as data: what to call and how to read the answer.
struct HttpVerifier {
  std::string provider;  // github, gitlab ... (the --verify and --verify-rate name)
  std::vector<std::string> rule_ids;
  std::string base_url;  // https://api.github.com (replaced by --verify-endpoint)
  std::string method;    // GET or POST
  std::string path;      // /user
  // "{secret}" is replaced by the credential; in headers, path, base_url and basic_user, "{user}"
  // by the ticket's username (Twilio account SID, Azure account name) and "{key_id}" by its
  // access key id: a verifier that names one is not run for a ticket without it.
  std::vector<std::string> headers;
  bool basic_auth = false;  // HTTP basic: `basic_user` (may be empty), the secret as password
  std::string basic_user;
  std::vector<long> live_status, revoked_status;
  // For APIs that answer 200 either way: a JSON boolean field that must be true for live (Slack
  // "ok"); when false, `revoked_errors` lists the "error" values that mean revoked (others:
  // unknown).
  std::string ok_field;
  std::vector<std::string> revoked_errors;
  // Read before the status lists: an answer with this status whose body holds `contains`
  // means `state` (PyPI's 403 for a bad token, Google's API_KEY_INVALID, AWS error codes).
  struct BodyAnswer {
    long status;
    std::string contains;
    VerificationState state;
    std::string note;
  };
  std::vector<BodyAnswer> body_answers;
  // Signed requests, code rather than data: AWS SigV4 (STS) and Azure Storage SharedKey.
  enum class Signing { None, AwsSigV4, AzureSharedKey } signing = Signing::None;
  // Top-level JSON fields reported as identity (or, in an XML answer, <field> elements).
  std::vector<std::string> identity_fields;
  std::vector<std::string> identity_headers;  // response headers reported (X-OAuth-Scopes)
  // Webhooks: the secret is the URL itself (under base_url), posted `body`; live only when the
  // answer holds `live_body` (a live Slack hook answers a malformed post with invalid_payload).
  bool secret_is_url = false;
  std::string body = "";
  std::string live_body = "";
};
const std::vector<HttpVerifier>& http_verifiers();
const HttpVerifier* verifier_for_rule(std::string_view rule_id);

// Reads a provider's answer: the state, the reason and the identity.
Verification interpret_http_answer(const HttpVerifier& verifier, long status, std::string_view body,
                                   const std::map<std::string, std::string>& headers);

struct VerifyOptions {
  std::set<std::string> providers;  // empty: every provider with a verifier
  double global_rate = 5;           // contacts per second, all providers together
  std::map<std::string, double> provider_rates;
  unsigned concurrency = 4;
  long timeout_seconds = 15;
  bool dry_run = false;
  std::string hosts;                             // --verify-hosts (connection strings)
  std::map<std::string, std::string> endpoints;  // provider -> https://host[:port] base
  std::string ca_file;                           // extra trust for overridden endpoints
  std::string audit_path;                        // JSON lines, 0600, appended
  // Results kept in a case store, by fingerprint: a live or revoked one is reused, not sent
  // again (unknown ones are retried).
  std::map<std::string, Verification> cached;
  // AWS account ids never contacted (canary-token services): added to the built-in list.
  std::set<std::string> aws_skip_accounts;
  long max_retry_after_seconds = 10;  // a 429 asking to wait longer is reported unknown
};

// "github=2/s" -> (github, 2). Throws std::invalid_argument.
std::pair<std::string, double> parse_provider_rate(std::string_view text);
// "github=https://127.0.0.1:8443" -> (github, url). Throws std::invalid_argument (https only).
std::pair<std::string, std::string> parse_provider_endpoint(std::string_view text);

struct VerifyCounts {
  uint64_t live = 0, revoked = 0, unknown = 0, not_checked = 0, contacted = 0;
  uint64_t cached = 0;  // results taken from VerifyOptions::cached, not contacted
};

// Verifies the tickets in place (each fingerprint once), writes one audit line per contact, and
// puts live tickets first (otherwise keeping the order). With dry_run, writes to `plan` every
// endpoint that would be contacted, one a line, and contacts none.
VerifyCounts verify_tickets(std::vector<Ticket>& tickets, const VerifyOptions& options,
                            std::ostream& plan);

}  // namespace credsift

// Runs the verifiers over the tickets: provider selection, once per fingerprint, rate limits,
// a bounded number of workers, the audit log, and live tickets first.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <thread>

#include "connection_call.hpp"
#include "credsift/report.hpp"
#include "http_call.hpp"

namespace credsift {

namespace {

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// JSON lines, appended, created 0600: one line per contact, written as it happens.
class AuditLog {
 public:
  explicit AuditLog(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) throw std::runtime_error("cannot open the verification audit log " + path);
    ::fchmod(fd_, 0600);
  }
  ~AuditLog() {
    if (fd_ >= 0) ::close(fd_);
  }
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  void write(const std::string& fingerprint, const std::string& provider,
             const Verification& result) {
    std::string line = "{\"time\":" + json_string(result.checked_at) +
                       ",\"fingerprint\":" + json_string(fingerprint) +
                       ",\"provider\":" + json_string(provider) +
                       ",\"endpoint\":" + json_string(result.endpoint) +
                       ",\"result\":" + json_string(to_string(result.state)) +
                       ",\"reason\":" + json_string(result.reason) + "}\n";
    std::lock_guard lock(mutex_);
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) failed_ = true;
  }
  void check() const {
    if (failed_) throw std::runtime_error("cannot write the verification audit log " + path_);
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::mutex mutex_;
  bool failed_ = false;
};

struct Job {
  std::vector<size_t> tickets;  // every ticket with this fingerprint (normally one)
  std::string provider;
  const HttpVerifier* verifier = nullptr;      // an HTTP verifier, or
  HttpCredential credential;                   // (what it sends)
  std::optional<ConnectionTarget> connection;  // a connection string, to `address` only
  std::string address;
  std::string endpoint() const {
    return connection ? connection_endpoint(*connection) + " (" + address + ")" : "";
  }
};

bool known_provider(const std::string& provider) {
  const auto& all = http_verifiers();
  return is_connection_provider(provider) ||
         std::any_of(all.begin(), all.end(),
                     [&](const HttpVerifier& v) { return v.provider == provider; });
}

}  // namespace

VerifyCounts verify_tickets(std::vector<Ticket>& tickets, const VerifyOptions& options,
                            std::ostream& plan) {
  for (const std::string& provider : options.providers) {
    if (!known_provider(provider))
      throw std::invalid_argument("--verify: no verifier for provider '" + provider + "'");
  }
  for (const auto& endpoint : options.endpoints) {
    const std::string& provider = endpoint.first;  // captured below: clang 14 cannot capture
    const auto& all = http_verifiers();
    if (std::none_of(all.begin(), all.end(),
                     [&](const HttpVerifier& v) { return v.provider == provider; }))
      throw std::invalid_argument("--verify-endpoint: no verifier for provider '" + provider + "'");
  }

  const HostAllowList allow = HostAllowList::parse(options.hosts);
  VerifyCounts counts;
  // One job per fingerprint: a credential is sent at most once a run.
  std::vector<Job> jobs;
  std::map<std::string, size_t> job_of_fingerprint;
  for (size_t i = 0; i < tickets.size(); ++i) {
    Ticket& ticket = tickets[i];
    ticket.verification = {};
    if (const auto it = job_of_fingerprint.find(ticket.fingerprint);
        it != job_of_fingerprint.end()) {
      jobs[it->second].tickets.push_back(i);
      continue;
    }
    Job job;
    for (const std::string& rule_id : ticket.rules)
      if ((job.verifier = verifier_for_rule(rule_id))) break;
    if (!job.verifier) job.connection = connection_target(ticket);
    if (!job.verifier && !job.connection) {
      ticket.verification.reason = "no verifier for " + ticket.rules.front();
      continue;
    }
    job.provider = job.verifier ? job.verifier->provider : job.connection->protocol;
    if (!options.providers.empty() && !options.providers.count(job.provider)) {
      ticket.verification.reason = "provider " + job.provider + " not selected";
      continue;
    }
    if (ticket.secret.empty()) {
      ticket.verification.reason = "no secret captured";
      continue;
    }
    // A case store keeps secrets redacted unless scanned with --store-secrets: never send that.
    if (fingerprint(ticket.secret) != ticket.fingerprint) {
      ticket.verification.reason =
          "secret not kept in clear (scan with --store-secrets to verify from a case store)";
      continue;
    }
    if (const auto known = options.cached.find(ticket.fingerprint);
        known != options.cached.end() && (known->second.state == VerificationState::Live ||
                                          known->second.state == VerificationState::Revoked)) {
      ticket.verification = known->second;
      ++counts.cached;
      continue;
    }
    if (job.verifier) {
      job.credential = http_credential(ticket);
      if (const auto reason = http_not_sendable(*job.verifier, job.credential, options)) {
        ticket.verification.reason = *reason;
        ticket.verification.endpoint = http_endpoint(*job.verifier, options, &job.credential);
        continue;
      }
    }
    if (job.connection) {
      std::string reason;
      const std::optional<std::string> address = allowed_address(*job.connection, allow, reason);
      if (!address) {
        ticket.verification.reason = reason;
        ticket.verification.endpoint = connection_endpoint(*job.connection);
        continue;
      }
      job.address = *address;
    }
    job.tickets.push_back(i);
    job_of_fingerprint.emplace(ticket.fingerprint, jobs.size());
    jobs.push_back(std::move(job));
  }

  if (options.dry_run) {
    for (const Job& job : jobs) {
      const Ticket& ticket = tickets[job.tickets.front()];
      const std::string endpoint =
          job.verifier ? http_endpoint(*job.verifier, options, &job.credential) : job.endpoint();
      plan << "credsift: verify dry run: would contact " << job.provider << " "
           << (job.verifier ? job.verifier->method : std::string("AUTH")) << " " << endpoint
           << " for " << ticket.id << "\n";
      for (const size_t i : job.tickets) {
        tickets[i].verification.reason = "dry run: not contacted";
        tickets[i].verification.endpoint = endpoint;
      }
    }
  } else if (!jobs.empty()) {
    AuditLog audit(options.audit_path);
    prepare_connection_clients();
    TokenBucket global(options.global_rate, 1);
    std::map<std::string, std::unique_ptr<TokenBucket>> per_provider;
    for (const auto& [provider, rate] : options.provider_rates)
      per_provider.emplace(provider, std::make_unique<TokenBucket>(rate, 1));
    std::atomic<size_t> next{0};
    std::atomic<uint64_t> contacted{0};
    const auto work = [&] {
      for (size_t j; (j = next.fetch_add(1)) < jobs.size();) {
        const Job& job = jobs[j];
        if (const auto it = per_provider.find(job.provider); it != per_provider.end())
          it->second->acquire();
        global.acquire();
        const std::string checked_at = utc_now();
        const std::string& secret = tickets[job.tickets.front()].secret;
        Verification result =
            job.verifier
                ? http_verify(*job.verifier, job.credential, options,
                              [&](Verification attempt) {  // a 429 before its retry: audited too
                                attempt.checked_at = checked_at;
                                audit.write(tickets[job.tickets.front()].fingerprint, job.provider,
                                            attempt);
                                ++contacted;
                              })
                : connection_verify(*job.connection, job.address, secret, options);
        result.checked_at = checked_at;
        if (job.connection) result.endpoint = job.endpoint();
        audit.write(tickets[job.tickets.front()].fingerprint, job.provider, result);
        ++contacted;
        for (const size_t i : job.tickets) tickets[i].verification = result;
      }
    };
    const unsigned workers =
        std::max(1u, std::min<unsigned>(options.concurrency, static_cast<unsigned>(jobs.size())));
    std::vector<std::thread> threads;
    for (unsigned w = 1; w < workers; ++w) threads.emplace_back(work);
    work();
    for (std::thread& thread : threads) thread.join();
    audit.check();
    counts.contacted = contacted;
  }

  std::stable_partition(tickets.begin(), tickets.end(), [](const Ticket& ticket) {
    return ticket.verification.state == VerificationState::Live;
  });
  for (const Ticket& ticket : tickets) switch (ticket.verification.state) {
      case VerificationState::Live:
        ++counts.live;
        break;
      case VerificationState::Revoked:
        ++counts.revoked;
        break;
      case VerificationState::Unknown:
        ++counts.unknown;
        break;
      case VerificationState::NotChecked:
        ++counts.not_checked;
        break;
    }
  return counts;
}

}  // namespace credsift

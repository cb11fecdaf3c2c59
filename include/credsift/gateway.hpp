#pragma once
// Gateway: one message at a time, as a mail server sees it. A policy (JSON) maps each finding's
// severity and validation status to an action (pass, tag, hold, reject); the strongest action
// over the message's findings is the verdict. Used by `credsift check` and `credsift milter`.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/match.hpp"
#include "credsift/pipeline.hpp"
#include "credsift/report.hpp"

namespace credsift::gateway {

// Ordered by strength: a message gets the strongest action any of its findings asks for.
enum class Action { Pass, Tag, Hold, Reject };
std::string_view to_string(Action);
Action parse_action(std::string_view);  // throws std::invalid_argument

// What happens to a message that could not be scanned completely: fail-open passes it with a
// tag, fail-closed holds it.
enum class FailMode { Open, Closed };
std::string_view to_string(FailMode);
Action action_of(FailMode);

// severity ("low" .. "critical", or "*") -> validation status ("unverified", "rejected",
// "checksum-valid" ..., or "*") -> action. Status names are free strings, so statuses added to
// the validator later are usable from the policy file without a code change.
struct ActionTable {
  std::map<std::string, std::map<std::string, Action, std::less<>>, std::less<>> entries;
  // Exact severity and status first, then either one as "*", then "*" for both.
  std::optional<Action> lookup(std::string_view severity, std::string_view status) const;
};

struct Policy {
  ActionTable actions;
  std::optional<ActionTable> internal_actions;  // mail only between internal domains
  Action default_action = Action::Hold;         // a finding that no table entry covers
  // Addresses ("user@example.com") or whole domains ("@example.com"), compared without case.
  std::vector<std::string> allow_senders, allow_recipients;
  std::vector<std::string> allow_rules;  // rule ids whose findings never count
  std::vector<std::string> internal_domains;
  std::chrono::milliseconds max_scan_time{5000};
  FailMode on_timeout = FailMode::Open;
  FailMode on_error = FailMode::Open;    // the scan itself failed
  std::optional<FailMode> on_malformed;  // decode problems; nullopt: judged by findings alone
  std::string origin;                    // file the policy came from ("built-in" otherwise)
};

struct PolicyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The policy used without --policy: critical and high findings are held, others tagged,
// rejected hits (placeholders, examples) pass.
Policy default_policy();
// Throws PolicyError naming `origin` and the offending key.
Policy parse_policy(std::string_view json, const std::string& origin);
Policy load_policy(const std::filesystem::path& path);

struct MailEnvelope {
  std::string sender;                   // envelope sender (MAIL FROM), may be empty (bounces)
  std::vector<std::string> recipients;  // RCPT TO
};

// Sender and recipients read from the From/To/Cc header fields, for `check` run without an
// envelope. Header names without case, folded lines joined, only the addr-specs kept.
MailEnvelope envelope_from_headers(std::string_view raw_message);

bool address_matches(std::string_view address, const std::vector<std::string>& patterns);
bool is_internal(const Policy& policy, const MailEnvelope& envelope);

struct Verdict {
  Action action = Action::Pass;
  std::string reason;
  std::vector<Finding> findings;  // the findings that counted (allowlisted rules left out)
  size_t decode_problems = 0;
  std::vector<std::string> problem_texts;  // the first few decode problems, for logs
  bool scanned = false;                    // false when an allowlist passed the message unscanned
  double elapsed_ms = 0;
};

// The decision alone, from a finished scan (unit-tested without a matcher).
Verdict decide(const Policy& policy, const MailEnvelope& envelope, MessageResult result);

// Allowlists, then scan_message under the policy's time limit, then decide.
Verdict check_message(std::string_view raw_message, const MailEnvelope& envelope,
                      const Policy& policy, const Matcher& matcher, Matcher::Scratch& scratch);

// {"action":..,"reason":..,"findings":[{rule_id,severity,status,secret (redacted),fingerprint,
// part_path}],"decode_problems":N,"elapsed_ms":..}, one line.
std::string verdict_to_json(const Verdict& verdict);
// "2 aws.access_key_id, aws.secret_access_key": count and distinct rule ids, never secrets.
std::string findings_summary(const Verdict& verdict);
// The SMTP reply text for a rejected message: what was found and what to do, no secret.
std::string reject_text(const Verdict& verdict);

// Bytes of mail held across all connections of a milter: each connection is bounded by the
// message size limit, and this bounds their sum (16 connections of 60 MB must not make 1 GB).
// A message that cannot get its bytes is answered with a temporary failure: the sender's MTA
// retries later, nothing passes unscanned.
class InFlightBudget {
 public:
  explicit InFlightBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}
  bool try_reserve(uint64_t bytes) {
    uint64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (bytes > limit_ || used > limit_ - bytes) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
  }
  void release(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

}  // namespace credsift::gateway

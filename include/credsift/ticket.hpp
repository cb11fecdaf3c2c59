#pragma once
// Tickets: findings grouped into one rotation ticket per credential (fingerprint), with the
// identity it unlocks, every occurrence, who it was exposed to and how to rotate it; and the
// output formats for them (JSON lines, JSON, CSV, SARIF 2.1.0, Markdown, HTML, terminal).
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "credsift/report.hpp"
#include "credsift/rules.hpp"
#include "credsift/validate.hpp"

namespace credsift {

struct Occurrence {
  std::string rule_id;
  std::string file;
  uint64_t offset = 0;  // of the message in the file
  uint64_t message_index = 0;
  SharedEnvelope envelope = empty_envelope();  // message_id, date, from, to, cc, subject
  std::optional<int64_t> date_epoch;           // nullopt: no parseable Date (flagged)
  std::string part_path;
  uint64_t line = 0;
  ItemLocation location;  // PST folder, node id, archive entry ... (empty for plain mail files)
};

struct RelatedCapture {
  std::string role;  // "access_key_id" ...
  std::string rule_id, fingerprint, secret;
};

// The case's answer to "what has been done about it" (the case store keeps its history);
// `status` of the validation is a different thing: what the offline checks said.
enum class Triage { Open, Confirmed, FalsePositive, Rotated, AcceptedRisk };
std::string_view to_string(Triage triage);  // open, confirmed, false-positive ...
std::optional<Triage> parse_triage(std::string_view name);

// Opt-in live verification: did the provider accept the credential? Never `revoked` on a
// timeout, rate limit or server error (that is `unknown`).
enum class VerificationState { NotChecked, Live, Revoked, Unknown };
std::string_view to_string(VerificationState state);  // not-checked, live, revoked, unknown
struct Verification {
  VerificationState state = VerificationState::NotChecked;
  std::string reason;      // why not checked / unknown, or what the provider said
  std::string checked_at;  // ISO 8601 UTC, when contacted
  std::string endpoint;    // what was contacted (URL or host:port), never with the secret
  Evidence identity;       // account, user, scopes ... as the provider reported them
};

struct Ticket {
  std::string id;                  // "cs-" + 16 hex digits of the fingerprint: stable across runs
  std::string fingerprint;         // sha256 of the secret
  std::string secret;              // raw; redacted at output unless asked
  const Rule* rule = nullptr;      // the most specific rule that captured it: names the ticket
  std::vector<std::string> rules;  // every rule that captured it, in first-seen order
  Validation validation;           // of the naming rule's hit (status, evidence, confidence)
  Evidence identity;               // username, host, account_id, jwt_subject, key_type ...
  std::vector<RelatedCapture> related;  // captures that belong to the same credential
  std::optional<int64_t> first_seen, last_seen;
  std::vector<Occurrence> occurrences;
  std::set<std::string> addresses;  // every sender and recipient of a message holding it
  std::set<std::string> domains;
  std::set<std::string> external_domains;  // outside --internal-domain (empty when none given)
  bool undated = false;                    // some occurrence has no parseable Date
  Triage triage = Triage::Open;            // set from the case store; open for a plain scan
  std::string triage_owner, triage_note;   // the latest triage entry, when there is one
  bool reopened = false;  // was rotated, and seen again in mail dated after the rotation
  Verification verification;
  size_t messages() const;  // distinct messages among the occurrences
};

struct TicketOptions {
  std::vector<std::string> internal_domains;  // a domain and its subdomains are internal
  std::set<std::string> baseline;             // fingerprints already ticketed: suppressed
};

// Lower-cased addresses in an address-list header value ("A <a@x>, b@y, Group: c@z;").
std::vector<std::string> parse_address_list(std::string_view header);
std::string_view address_domain(std::string_view address);  // after the last '@'
bool is_internal_domain(std::string_view domain, const std::vector<std::string>& internal);

// Specificity of a rule for naming a ticket: provider rules (2) beat connection strings (1),
// which beat prose password rules (0).
int rule_specificity(const Rule& rule);

class TicketBuilder {
 public:
  explicit TicketBuilder(TicketOptions options = {});
  void add(const Finding& finding);  // rejected findings are kept aside, not ticketed
  // Tickets in priority order: severity, then validation evidence, then exposure breadth.
  std::vector<Ticket> build() const;
  const std::vector<Finding>& rejected() const { return rejected_; }
  uint64_t suppressed_findings() const { return suppressed_; }  // by the baseline
  std::set<std::string> suppressed_fingerprints() const { return suppressed_fingerprints_; }

 private:
  TicketOptions options_;
  // Arrival (input) order, secrets included. A deque: a growing vector moved every finding
  // to fresh pages again and again (a third of a 300 MB scan's page faults).
  std::deque<Finding> findings_;
  std::vector<Finding> rejected_;
  uint64_t suppressed_ = 0;
  std::set<std::string> suppressed_fingerprints_;
};

// Fingerprints named in a baseline: a file written by `credsift baseline`, or any tickets file
// (JSON lines or one JSON document). Throws std::runtime_error naming the file on bad input.
std::set<std::string> load_baseline(const std::string& path);
// A baseline document for the given fingerprints.
std::string baseline_json(const std::set<std::string>& fingerprints);

enum class OutputFormat { TicketsJsonl, TicketsJson, Csv, Sarif, Markdown, Findings, Html, Human };
std::optional<OutputFormat> parse_output_format(std::string_view name);

struct ReportContext {
  const ScanSummary* summary = nullptr;
  uint64_t suppressed_by_baseline = 0;
  bool show_secrets = false;
  bool include_rejected = false;
  std::string version;                        // credsift version for SARIF and JSON
  std::vector<std::string> internal_domains;  // the reports' exposure tables mark the others
  bool color = false;                         // Human: ANSI colours
  size_t width = 0;                           // Human: terminal columns (0: 100)
};

std::string ticket_to_json(const Ticket& ticket, bool show_secrets);  // one object
// The whole output in one format (TicketsJsonl: one ticket per line, then rejected hits when
// asked; Findings is written while scanning, not here).
std::string format_tickets(OutputFormat format, const std::vector<Ticket>& tickets,
                           const std::vector<Finding>& rejected, const ReportContext& context);

// Closing summary lines: tickets by severity and by status.
void print_ticket_summary(std::ostream& out, const std::vector<Ticket>& tickets,
                          uint64_t suppressed_by_baseline);

}  // namespace credsift

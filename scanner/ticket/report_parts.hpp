#pragma once
// What the human-facing reports (Markdown, HTML, terminal) share inside the ticket stage: how a
// ticket's fields are shown (redaction, masking of header values), and the aggregates every
// report draws (counts, exposure window, exposure by domain and address, messages over time).
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/ticket.hpp"

namespace credsift::report_parts {

std::string shown(std::string_view secret, bool show_secrets);  // redacted unless asked
// A header value of an occurrence with the ticket's secret (and related captures) masked,
// capped at kReportHeaderBytes.
std::string shown_header(std::string_view value, const Ticket& ticket, bool show_secrets);
// The identity with key ids shortened to their first and last 4 characters.
Evidence shown_identity(const Ticket& ticket, bool show_secrets);
std::string identity_text(const Evidence& identity);  // "name=value; name=value"
// Where to find a message again: file@offset, and inside a container its entry, folder, node.
std::string location_text(const Occurrence& occurrence);
std::string join(const std::set<std::string>& values, std::string_view separator);
std::string day_text(int64_t epoch_seconds);  // 2024-03-04 (UTC)
// Only http and https links are ever made clickable.
bool is_web_link(std::string_view url);

inline constexpr Severity kSeverityOrder[] = {Severity::Critical, Severity::High, Severity::Medium,
                                              Severity::Low};

struct DomainExposure {
  std::string domain;
  bool external = false;  // outside --internal-domain (false when none was given)
  uint64_t tickets = 0;   // credentials sent to or from this domain
  std::set<std::string> addresses;
  Severity worst = Severity::Low;  // the most severe of those credentials
};

struct AddressExposure {
  std::string address, domain;
  bool external = false;
  uint64_t tickets = 0;
  Severity worst = Severity::Low;
};

// Distinct messages carrying at least one ticketed credential, counted per period.
struct Timeline {
  std::string unit = "day";  // day, week (from Monday) or month: chosen from the span
  std::vector<std::pair<int64_t, uint64_t>> buckets;  // period start (UTC), messages; no gaps
  uint64_t dated_messages = 0, undated_messages = 0;
};

struct ReportModel {
  std::map<Severity, uint64_t> by_severity;
  std::map<std::string, uint64_t> by_status, by_triage, by_verification;
  std::optional<int64_t> first_seen, last_seen;  // the exposure window over all tickets
  uint64_t messages_with_credentials = 0;
  bool internal_domains_given = false;
  // Ordered by who must be told first: external before internal, then by worst severity, then
  // by the number of credentials.
  std::vector<DomainExposure> domains;
  std::vector<AddressExposure> addresses;
  Timeline timeline;
  uint64_t live_tickets = 0;  // verification said live
};

ReportModel build_report_model(const std::vector<Ticket>& tickets,
                               const std::vector<std::string>& internal_domains);

// The two formats that live in files of their own (html_report.cpp, human.cpp).
std::string format_html(const std::vector<Ticket>& tickets, const ReportContext& context);
std::string format_human(const std::vector<Ticket>& tickets, const ReportContext& context);

}  // namespace credsift::report_parts

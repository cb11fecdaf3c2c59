// credsift tickets: the case's tickets from a store, in a terminal table (the default view) or
// in any report format, filtered by triage, severity, provider, domain and mail date.
#include <boost/program_options.hpp>
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "credsift/report.hpp"
#include "credsift/store.hpp"
#include "scan_report.hpp"
#include "verify_options.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

namespace {

std::string day(const std::optional<int64_t>& epoch) {
  return epoch ? format_iso8601(*epoch).substr(0, 10) : "-";
}

// Only values the store made or the user typed reach the terminal (ids, rule ids, owners),
// and those too lose control characters.
std::string printable(std::string_view text, size_t width) {
  std::string out;
  for (char c : text) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  if (out.size() > width) out = out.substr(0, width - 1) + "~";
  return out;
}

}  // namespace

int command_tickets(const Arguments& arguments) {
  po::options_description visible(
      "credsift tickets --store DB [filters] [--output [FORMAT=]PATH]...\n\n"
      "The tickets of a case store: without --format or --output a table, most severe first;\n"
      "with them every report format of credsift scan, rebuilt from the stored findings.\n\n"
      "Options");
  std::string store_path, triage, severity, provider, domain, since, until, format;
  std::vector<std::string> outputs, internal_domains;
  size_t limit = 50;
  visible.add_options()("help,h", "show this help")("store", po::value(&store_path),
                                                    "the case store")(
      "triage", po::value(&triage),
      "only tickets in this triage state: open, confirmed, false-positive, rotated, "
      "accepted-risk")("severity", po::value(&severity),
                       "only tickets of at least this severity: low, medium, high, critical")(
      "provider", po::value(&provider), "only tickets of this provider (github, aws ...)")(
      "domain", po::value(&domain), "only tickets whose mail went from or to this domain")(
      "since", po::value(&since), "only tickets seen in mail dated on or after DATE")(
      "until", po::value(&until), "only tickets seen in mail dated on or before DATE")(
      "limit", po::value(&limit)->default_value(50), "rows of the table (0: all)")(
      "format,f", po::value(&format), "jsonl, json, csv, sarif, markdown (to stdout)")(
      "output,o", po::value(&outputs)->composing(),
      "[FORMAT=]PATH: write FORMAT to PATH, mode 0600 (repeatable)")(
      "internal-domain", po::value(&internal_domains)->composing(),
      "a domain of your own: others are flagged external")(
      "show-secrets", "print secrets in clear (only stored with scan --store-secrets)");
  VerifySettings verify_settings;
  add_verify_options(visible, verify_settings);
  const po::variables_map options = parse_arguments(split_verify_argument(arguments), visible);
  if (options.count("help")) {
    std::cout << visible << "\nExamples:\n  credsift tickets --store case.db --triage open\n"
              << "  credsift tickets --store case.db --severity high --output csv=open.csv "
                 "--output md=report.md\n"
              << "  credsift tickets --store case.db --verify --verify-hosts '*.corp.example.com'"
                 "   # re-verify the open tickets (needs scan --store-secrets)\n";
    return kExitClean;
  }
  if (store_path.empty()) throw po::error("--store DB is required");
  TicketFilter filter;
  if (!triage.empty()) {
    filter.triage = parse_triage(triage);
    if (!filter.triage) throw po::error("--triage: unknown state '" + triage + "'");
  }
  if (!severity.empty()) {
    try {
      filter.severity = parse_severity(severity);
    } catch (const std::invalid_argument&) {
      throw po::error("--severity: unknown severity '" + severity + "'");
    }
  }
  filter.provider = provider;
  filter.domain = domain;
  TicketSettings dates;
  dates.since = since;
  dates.until = until;
  ScanOptions window;
  apply_date_window(dates, window);
  filter.since = window.since;
  filter.until = window.until;

  // --verify re-verifies the case's open tickets (or those of --triage) and records the results
  // in the store: a contact each, never the stored result (that is what a scan reuses).
  const bool verify = options.count("verify") > 0;
  if (verify && !filter.triage) filter.triage = Triage::Open;
  StoreOptions store_options;
  store_options.read_only = !verify;
  store_options.create = false;
  CaseStore store(store_path, store_options);
  if (verify) {
    const TicketHook verify_hook =
        make_verify_hook(options, verify_settings, false, {[&store] { return &store; }, false});
    std::vector<std::unique_ptr<Rule>> rules;
    std::vector<Ticket> tickets = store.tickets(filter, TicketOptions{}, rules);
    const size_t redacted = std::count_if(tickets.begin(), tickets.end(), [](const Ticket& t) {
      return fingerprint(t.secret) != t.fingerprint;
    });
    if (redacted > 0)
      std::cerr << "credsift: " << redacted << " of " << tickets.size()
                << " tickets cannot be verified: the store keeps their secrets redacted (scan "
                   "with --store --store-secrets to verify from a case store)\n";
    std::string first_output;
    for (const OutputTarget& target :
         parse_output_targets(format.empty() ? "jsonl" : format, outputs))
      if (target.path != "-" && first_output.empty()) first_output = target.path;
    verify_hook(tickets, first_output);
  }

  if (format.empty() && outputs.empty()) {
    filter.limit = limit;
    const std::vector<TicketRow> rows = store.ticket_rows(filter);
    filter.limit = 0;
    const uint64_t total = store.count_tickets(filter);
    const std::map<std::string, Verification> verified = store.verifications();
    std::ostringstream out;
    out << std::left << std::setw(20) << "ID" << std::setw(9) << "SEVERITY" << std::setw(15)
        << "TRIAGE" << std::setw(28) << "RULE" << std::setw(17) << "VALIDATION" << std::setw(12)
        << "VERIFIED" << std::right << std::setw(6) << "SEEN" << std::setw(6) << "MSGS"
        << "  " << std::left << std::setw(11) << "LAST MAIL"
        << "OWNER\n";
    for (const TicketRow& row : rows) {
      std::string triage_text(to_string(row.triage));
      if (row.reopened) triage_text += "!";
      out << std::left << std::setw(20) << row.id << std::setw(9) << to_string(row.severity)
          << std::setw(15) << triage_text << std::setw(28) << printable(row.rule_id, 27)
          << std::setw(17) << row.status << std::setw(12)
          << (verified.count(row.fingerprint)
                  ? std::string(to_string(verified.at(row.fingerprint).state))
                  : std::string("-"))
          << std::right << std::setw(6) << row.occurrences << std::setw(6) << row.messages << "  "
          << std::left << std::setw(11) << day(row.last_seen) << printable(row.triage_owner, 30)
          << "\n";
    }
    out << rows.size() << " of " << total << " tickets";
    if (std::any_of(rows.begin(), rows.end(), [](const TicketRow& r) { return r.reopened; }))
      out << " (! reopened: seen again after its rotation)";
    out << "\n";
    std::cout << out.str();
    return total ? kExitFound : kExitClean;
  }

  const std::vector<OutputTarget> targets =
      parse_output_targets(format.empty() ? "jsonl" : format, outputs);
  TicketOptions ticket_options;
  ticket_options.internal_domains = internal_domains;
  std::vector<std::unique_ptr<Rule>> rules;
  const std::vector<Ticket> tickets = store.tickets(filter, ticket_options, rules);
  ReportContext context;
  context.show_secrets = options.count("show-secrets") > 0;
  context.version = CREDSIFT_VERSION;
  context.internal_domains = internal_domains;  // the reports mark the other domains external
  for (const OutputTarget& target : targets) {
    const std::string text = format_tickets(target.format, tickets, {}, context);
    if (target.path == "-") {
      std::cout << text << std::flush;
      continue;
    }
    OutputFile file(target.path);
    file.write(text);
    file.finish();
  }
  return tickets.empty() ? kExitClean : kExitFound;
}

}  // namespace credsift::cli

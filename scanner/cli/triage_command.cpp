// credsift triage: what has been done about tickets (rotated, false positive ...), with owner
// and note, kept with its history in the case store.
#include <pwd.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "credsift/escape.hpp"
#include "credsift/report.hpp"
#include "credsift/store.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

namespace {

Triage triage_state(const std::string& text, const std::string& where) {
  const auto state = parse_triage(text);
  if (!state)
    throw po::error(where + "unknown status '" + text +
                    "' (open, confirmed, false-positive, rotated, accepted-risk)");
  return *state;
}

// One CSV record: fields separated by commas, "quoted" fields with "" for a quote.
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

std::string actor() {
  if (const char* user = std::getenv("USER"); user && *user) return user;
  if (const passwd* entry = ::getpwuid(::getuid())) return entry->pw_name;
  return "uid " + std::to_string(::getuid());
}

std::string iso(int64_t seconds) { return format_iso8601(seconds); }

// A ticket's triage history: who changed what, when, and why; oldest first.
void print_history(std::ostream& out, const std::string& fingerprint,
                   const std::vector<TriageEvent>& events, bool json) {
  const std::string id = "cs-" + fingerprint.substr(7, 16);
  if (json) {
    out << "{\"id\":\"" << json_escape(id) << "\",\"fingerprint\":\"" << json_escape(fingerprint)
        << "\",\"triage\":\"" << to_string(events.empty() ? Triage::Open : events.back().status)
        << "\",\"history\":[";
    for (size_t i = 0; i < events.size(); ++i) {
      const TriageEvent& e = events[i];
      out << (i ? "," : "") << "{\"at\":\"" << iso(e.at) << "\",\"recorded_at\":\""
          << iso(e.recorded_at) << "\",\"previous\":\"" << to_string(e.previous)
          << "\",\"status\":\"" << to_string(e.status) << "\",\"owner\":\"" << json_escape(e.owner)
          << "\",\"note\":\"" << json_escape(e.note) << "\",\"actor\":\"" << json_escape(e.actor)
          << "\",\"automatic\":" << (e.automatic ? "true" : "false") << "}";
    }
    out << "]}\n";
    return;
  }
  out << id << " (" << fingerprint.substr(0, 23) << "…): "
      << (events.empty() ? "open, never triaged" : std::string(to_string(events.back().status)))
      << "\n";
  for (const TriageEvent& e : events) {
    out << "  " << iso(e.at) << "  " << to_string(e.previous) << " -> " << to_string(e.status)
        << "  by " << escape_for_terminal(e.actor) << (e.automatic ? " (automatic)" : "");
    if (e.recorded_at != e.at) out << ", recorded " << iso(e.recorded_at);
    if (!e.owner.empty()) out << "\n      owner: " << escape_for_terminal(e.owner);
    if (!e.note.empty()) out << "\n      note: " << escape_for_terminal(e.note);
    out << "\n";
  }
}

}  // namespace

int command_triage(const Arguments& arguments) {
  po::options_description visible(
      "credsift triage --store DB ID... --status STATUS [--note NOTE] [--owner OWNER]\n"
      "credsift triage --store DB --csv FILE\n"
      "credsift triage --store DB --history ID... [--json]\n\n"
      "Records what was done about tickets (all or none of the changes), with the history kept.\n"
      "A rotated ticket seen again in mail dated after its rotation is reopened by the next "
      "scan.\n\nOptions");
  std::string store_path, status, note, owner, csv, at;
  std::vector<std::string> ids;
  visible.add_options()("help,h", "show this help")("store", po::value(&store_path),
                                                    "the case store")(
      "status", po::value(&status), "open, confirmed, false-positive, rotated or accepted-risk")(
      "note", po::value(&note), "why, ticket numbers ...")("owner", po::value(&owner),
                                                           "who owns the credential now")(
      "at", po::value(&at), "when it happened (rotation time; default now): DATE or ISO 8601")(
      "csv", po::value(&csv), "FILE of id,status,note lines (a header line is skipped)")(
      "history", "show the tickets' triage history instead (who, when, what, why)")(
      "json", "with --history: one JSON object per ticket");
  po::options_description hidden;
  hidden.add_options()("id", po::value(&ids));
  const po::variables_map options = parse_arguments(arguments, visible, hidden, "id", -1);
  if (options.count("help")) {
    std::cout << visible
              << "\nExample:\n  credsift triage --store case.db cs-3f2a9c01 --status rotated "
                 "--note \"revoked by J. Doe, INC-4411\"\n";
    return kExitClean;
  }
  if (store_path.empty()) throw po::error("--store DB is required");
  if (options.count("history")) {
    if (ids.empty()) throw po::error("--history needs a ticket ID");
    if (!status.empty() || !csv.empty() || !note.empty() || !owner.empty() || !at.empty())
      throw po::error("--history shows; it takes no --status, --csv, --note, --owner or --at");
    CaseStore store(store_path, StoreOptions{.create = false, .read_only = true});
    for (const std::string& id : ids) {
      const std::string fingerprint = store.resolve_ticket(id);
      print_history(std::cout, fingerprint, store.triage_history(fingerprint),
                    options.count("json") > 0);
    }
    return kExitClean;
  }
  if (options.count("json")) throw po::error("--json goes with --history");
  std::optional<int64_t> when;
  if (!at.empty()) {
    when = parse_date_argument(at, false);
    if (!when) throw po::error("--at: cannot read the date '" + at + "'");
  }
  std::vector<TriageChange> changes;
  if (!csv.empty()) {
    if (!ids.empty() || !status.empty()) throw po::error("--csv replaces ID... and --status");
    std::ifstream in(csv);
    if (!in) throw std::runtime_error("cannot read " + csv);
    std::string line;
    uint64_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::vector<std::string> fields = csv_fields(line);
      if (number == 1 && fields[0] == "id") continue;
      if (fields.size() < 2)
        throw po::error(csv + " line " + std::to_string(number) + ": expected id,status,note");
      changes.push_back({fields[0],
                         triage_state(fields[1], csv + " line " + std::to_string(number) + ": "),
                         fields.size() > 2 ? fields[2] : std::string(), owner, when});
    }
  } else {
    if (ids.empty()) throw po::error("no ticket ID given");
    if (status.empty()) throw po::error("--status is required");
    const Triage state = triage_state(status, "--status: ");
    for (const std::string& id : ids) changes.push_back({id, state, note, owner, when});
  }
  CaseStore store(store_path, StoreOptions{.create = false});
  store.triage(changes, actor());
  std::cerr << "credsift: " << changes.size() << " tickets triaged\n";
  return kExitClean;
}

}  // namespace credsift::cli

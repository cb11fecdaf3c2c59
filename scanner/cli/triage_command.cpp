// credsift triage: what has been done about tickets (rotated, false positive ...), with owner
// and note, kept with its history in the case store.
#include <pwd.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "commands.hpp"
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

}  // namespace

int command_triage(const Arguments& arguments) {
  po::options_description visible(
      "credsift triage --store DB ID... --status STATUS [--note NOTE] [--owner OWNER]\n"
      "credsift triage --store DB --csv FILE\n\n"
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
      "csv", po::value(&csv), "FILE of id,status,note lines (a header line is skipped)");
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

// credsift command line: dispatches to one subcommand (see commands.hpp).
#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "credsift/escape.hpp"

namespace po = boost::program_options;
using namespace credsift::cli;
using credsift::escape_for_terminal;

namespace {

struct Command {
  std::string_view name;
  int (*run)(const Arguments&);
};

// One line per subcommand.
constexpr Command kCommands[] = {
    {"scan", command_scan},     {"rules", command_rules},   {"baseline", command_baseline},
    {"check", command_check},   {"milter", command_milter}, {"tickets", command_tickets},
    {"triage", command_triage}, {"merge", command_merge},   {"plan", command_plan},
};

const char* const kTopUsage = R"(credsift finds credentials shared by email.

Usage:
  credsift scan [options] INPUT...   scan mailboxes (mbox, Maildir, .eml, directories, gzip, -)
  credsift rules list [--json]       list the loaded rules
  credsift baseline --from TICKETS   fingerprints of a tickets file, for scan --baseline
  credsift rules check [DIR]         run every rule example and negative (DIR: your rules)
  credsift check [options] [FILE|-]  check one message for a mail gateway (exit 0 pass or tag,
                                     1 hold or reject, 2 error)
  credsift milter --socket SOCKET    run as a milter (Postfix smtpd_milters)
  credsift serve --socket PATH       keep the rules loaded for `check --daemon PATH` clients
  credsift tickets --store DB        the tickets of a case store (filters, every format)
  credsift triage --store DB ID... --status S   record what was done about tickets
  credsift plan INPUT... --shards N --manifest PLAN   cut a scan into shards (cluster arrays)
  credsift merge --store DB SHARD... merge shard stores into one case
  credsift --version
  credsift COMMAND --help            options of a command

Exit codes: 0 nothing found, 1 credentials found, 2 usage or fatal error.
)";

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  const Arguments arguments(argv + 1, argv + argc);
  try {
    if (arguments.empty() || arguments[0] == "--help" || arguments[0] == "-h" ||
        arguments[0] == "help") {
      std::cout << kTopUsage;
      return arguments.empty() ? kExitError : kExitClean;
    }
    if (arguments[0] == "--version" || arguments[0] == "version") {
      std::cout << "credsift " << CREDSIFT_VERSION << "\n";
      return kExitClean;
    }
    const Arguments rest(arguments.begin() + 1, arguments.end());
    for (const Command& command : kCommands)
      if (arguments[0] == command.name) return command.run(rest);
    std::cerr << "credsift: unknown command '" << escape_for_terminal(arguments[0]) << "'\n\n"
              << kTopUsage;
    return kExitError;
  } catch (const po::error& error) {
    std::cerr << "credsift: " << escape_for_terminal(error.what()) << "\n(see credsift "
              << escape_for_terminal(arguments[0]) << " --help)\n";
    return kExitError;
  } catch (const std::exception& error) {
    std::cerr << "credsift: error: " << escape_for_terminal(error.what()) << "\n";
    return kExitError;
  }
}

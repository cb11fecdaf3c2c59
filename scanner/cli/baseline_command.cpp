// credsift baseline: the fingerprints of a tickets file, for a later scan's --baseline.
#include <boost/program_options.hpp>
#include <iostream>

#include "commands.hpp"
#include "credsift/ticket.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

int command_baseline(const Arguments& arguments) {
  po::options_description visible(
      "credsift baseline --from TICKETS [--output FILE]\n\n"
      "Writes the fingerprints of every ticket in TICKETS (JSON lines or one JSON document "
      "from credsift scan)\nas a baseline: credsift scan --baseline FILE then suppresses and "
      "counts those credentials.\n\nOptions");
  std::string from, output;
  visible.add_options()("help,h", "show this help")("from", po::value(&from),
                                                    "tickets file written by credsift scan")(
      "output,o", po::value(&output), "write the baseline to FILE (mode 0600), not stdout");
  const po::variables_map options = parse_arguments(arguments, visible);
  if (options.count("help")) {
    std::cout << visible;
    return kExitClean;
  }
  if (from.empty()) throw po::error("--from TICKETS is required");
  const std::string text = baseline_json(load_baseline(from));
  if (output.empty()) {
    std::cout << text;
    return kExitClean;
  }
  check_output_paths({output}, {from});
  OutputFile file(output);
  file.write(text);
  file.finish();
  return kExitClean;
}

}  // namespace credsift::cli

// credsift baseline: the fingerprints of a tickets file, for a later scan's --baseline.
#include <boost/program_options.hpp>
#include <iostream>

#include "commands.hpp"
#include "credsift/store.hpp"
#include "credsift/ticket.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

int command_baseline(const Arguments& arguments) {
  po::options_description visible(
      "credsift baseline --from TICKETS [--output FILE]\n"
      "credsift baseline --store DB [--output FILE]\n\n"
      "Writes the fingerprints of every ticket in TICKETS (JSON lines or one JSON document "
      "from credsift scan)\nas a baseline: credsift scan --baseline FILE then suppresses and "
      "counts those credentials.\n\nOptions");
  std::string from, output, store_path;
  visible.add_options()("help,h", "show this help")("from", po::value(&from),
                                                    "tickets file written by credsift scan")(
      "output,o", po::value(&output), "write the baseline to FILE (mode 0600), not stdout")(
      "store", po::value(&store_path), "every credential of a case store instead");
  const po::variables_map options = parse_arguments(arguments, visible);
  if (options.count("help")) {
    std::cout << visible;
    return kExitClean;
  }
  if (from.empty() == store_path.empty())
    throw po::error("one of --from TICKETS or --store DB is required");
  std::string text;
  if (!store_path.empty()) {
    StoreOptions store_options;
    store_options.read_only = true;
    store_options.create = false;
    CaseStore store(store_path, store_options);
    text = baseline_json(store.fingerprints());
  } else {
    text = baseline_json(load_baseline(from));
  }
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

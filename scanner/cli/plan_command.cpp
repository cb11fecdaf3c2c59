// credsift plan: cut the inputs into shards for a cluster array job (Slurm, Kubernetes).
#include <boost/program_options.hpp>
#include <iostream>

#include "commands.hpp"
#include "credsift/store.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

int command_plan(const Arguments& arguments) {
  po::options_description visible(
      "credsift plan INPUT... --shards N --manifest PLAN\n\n"
      "Splits the inputs into N shards of about equal bytes: whole files, and byte ranges of\n"
      "big mbox files cut at message boundaries (with the message index at each cut). Each\n"
      "array task then runs: credsift scan --manifest PLAN --shard I --store shards/I.db\n\n"
      "Options");
  std::string manifest_path;
  uint64_t shards = 0;
  int index_base = 0;
  std::vector<std::string> inputs, extra_rules;
  visible.add_options()("help,h", "show this help")("shards,n", po::value(&shards),
                                                    "number of shards (array tasks)")(
      "manifest", po::value(&manifest_path), "write the plan to PLAN (JSON, mode 0600)")(
      "index-base", po::value(&index_base)->default_value(0),
      "number shards from 0 (--array=0-63) or 1 (--array=1-64, SGE)")(
      "rules", po::value(&extra_rules)->composing(),
      "extra rule file or directory, as the scans will load them")(
      "no-default-rules", "load only the rules given with --rules");
  RuleSelection rule_selection;
  add_rule_selection_options(visible, rule_selection);
  po::options_description hidden;
  hidden.add_options()("input", po::value(&inputs));
  const po::variables_map options = parse_arguments(arguments, visible, hidden, "input", -1);
  if (options.count("help")) {
    std::cout << visible
              << "\nExample:\n  credsift plan /archive --shards 64 --manifest plan.json\n"
              << "  sbatch --array=0-63%16 contrib/slurm/credsift-shard.sbatch plan.json\n";
    return kExitClean;
  }
  if (inputs.empty()) throw po::error("no INPUT given");
  if (shards == 0) throw po::error("--shards N is required (N >= 1)");
  if (manifest_path.empty()) throw po::error("--manifest PLAN is required");
  // The plan carries the rules fingerprint: a shard scanned with other rules is refused.
  const RuleSet rules = select_rules(
      load_rule_set(extra_rules, options.count("no-default-rules") > 0), rule_selection);
  const auto report = [](const Diagnostic& diagnostic) {
    std::cerr << "credsift: warning: " << diagnostic.file << ": " << diagnostic.message << "\n";
  };
  const Manifest manifest = plan_shards(inputs, shards, index_base, rules_version(rules), report);
  const std::string text = manifest_json(manifest);
  OutputFile file(manifest_path);
  file.write(text);
  file.finish();
  uint64_t total = 0, largest = 0, cut = 0;
  for (const ManifestShard& shard : manifest.shards) {
    total += shard.bytes;
    largest = std::max(largest, shard.bytes);
    for (const ManifestPiece& piece : shard.pieces) cut += !piece.whole;
  }
  std::cerr << "credsift: " << manifest.inputs.size() << " files, " << total << " bytes in "
            << manifest.shards.size() << " shards (" << manifest.index_base << " to "
            << manifest.index_base + manifest.shards.size() - 1 << "), largest " << largest
            << " bytes, " << cut << " mbox byte ranges\n";
  return kExitClean;
}

}  // namespace credsift::cli

// credsift merge: shard stores into one case (after a Slurm array, a Kubernetes Indexed Job).
#include <boost/program_options.hpp>
#include <iostream>

#include "commands.hpp"
#include "credsift/store.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

int command_merge(const Arguments& arguments) {
  po::options_description visible(
      "credsift merge --store CASE [--manifest PLAN] SHARD...\n\n"
      "Merges shard stores into CASE (created when missing) in one transaction. Every shard is\n"
      "checked first: a missing, corrupt or half-written store, another schema or rules "
      "version,\nor (with --manifest) a shard that never ran refuses the whole merge, naming "
      "them (exit 2).\nMerging is idempotent and the order of the shards does not matter. The "
      "shards' rows are\nstaged in SQLite temporary files (SQLITE_TMPDIR or TMPDIR: room for "
      "the shards' size).\n\n"
      "Options");
  std::string store_path, manifest_path;
  std::vector<std::string> shards;
  visible.add_options()("help,h", "show this help")("store", po::value(&store_path),
                                                    "the case store to merge into")(
      "manifest", po::value(&manifest_path),
      "the plan the shards ran: every shard of it must be there")("quiet,q", "no summary");
  po::options_description hidden;
  hidden.add_options()("shard", po::value(&shards));
  const po::variables_map options = parse_arguments(arguments, visible, hidden, "shard", -1);
  if (options.count("help")) {
    std::cout << visible
              << "\nExample:\n  credsift merge --store case.db --manifest plan.json shards/*.db\n";
    return kExitClean;
  }
  if (store_path.empty()) throw po::error("--store CASE is required");
  if (shards.empty()) throw po::error("no SHARD store given");
  std::optional<Manifest> manifest;
  if (!manifest_path.empty()) manifest = read_manifest(manifest_path);
  const MergeResult result = merge_into(store_path, shards, manifest ? &*manifest : nullptr);
  if (!options.count("quiet"))
    std::cerr << "credsift: merged " << result.shards << " shard stores into " << store_path << ": "
              << result.messages_added << " new messages, " << result.findings_added
              << " new findings, " << result.tickets << " tickets in the case\n";
  return kExitClean;
}

}  // namespace credsift::cli

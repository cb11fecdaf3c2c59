#include "store_scan.hpp"

#include <unistd.h>

#include <boost/program_options/errors.hpp>
#include <cstdlib>
#include <iostream>

namespace credsift::cli {

namespace {

std::optional<uint64_t> environment_number(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) return std::nullopt;
  char* end = nullptr;
  const unsigned long long number = std::strtoull(value, &end, 10);
  if (*end != '\0') throw StoreError(std::string(name) + "=" + value + ": not a number");
  return number;
}

}  // namespace

uint64_t resolve_shard(const std::optional<uint64_t>& option, const Manifest& manifest) {
  if (option) return *option;
  if (const auto slurm = environment_number("SLURM_ARRAY_TASK_ID")) return *slurm;
  if (const auto kubernetes = environment_number("JOB_COMPLETION_INDEX"))
    return *kubernetes + manifest.index_base;  // always 0-based
  if (const auto sge = environment_number("SGE_TASK_ID")) {
    if (*sge == 0) throw StoreError("SGE_TASK_ID=0: SGE task ids start at 1");
    return *sge - 1 + manifest.index_base;  // always 1-based
  }
  throw boost::program_options::error(
      "--manifest needs --shard I (or SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, SGE_TASK_ID)");
}

StoreScanSession::StoreScanSession(const StoreScanSettings& settings,
                                   std::shared_future<const Matcher*> matcher,
                                   std::vector<std::string>& inputs, ScanOptions& scan_options,
                                   bool quiet)
    : quiet_(quiet) {
  if (settings.store.empty()) throw boost::program_options::error("--manifest needs --store");
  ScanRecord record;
  if (!settings.manifest.empty()) {
    if (!inputs.empty())
      throw boost::program_options::error("--manifest names the inputs: give no INPUT");
    const Manifest manifest = read_manifest(settings.manifest);
    if (manifest.rules_version != rules_version(matcher.get()->rules()))
      throw StoreError(settings.manifest +
                       ": planned with other rules than these (plan again, or use the plan's "
                       "--rules and --ruleset)");
    check_manifest_inputs(manifest);
    const uint64_t number = resolve_shard(settings.shard, manifest);
    const ManifestShard& shard = manifest_shard(manifest, number);
    inputs = shard_inputs(manifest, shard, scan_options.source);
    record.manifest_digest = manifest.digest;
    record.shard = number;
    if (!quiet)
      std::cerr << "credsift: shard " << number << " of " << settings.manifest << ": "
                << shard.pieces.size() << " input pieces, " << shard.bytes << " bytes\n";
  } else if (inputs.empty()) {
    throw boost::program_options::error("no INPUT given (use - for standard input)");
  }
  record.inputs = inputs;
  StoreOptions options;
  options.store_secrets = settings.store_secrets;
  options.one_thread = true;  // the scan's serial stage writes, one message at a time
  store_ = std::make_unique<CaseStore>(settings.store, options);
  // The store's own files (the WAL exists once the store is open) are never inputs.
  scan_options.source.excluded_files = store_->own_files();
  scan_ =
      store_->begin_scan([matcher]() -> const RuleSet& { return matcher.get()->rules(); }, record);
  scan_->attach(scan_options);
}

StoreScanSession::~StoreScanSession() {
  if (!store_ || !store_->created()) return;
  scan_.reset();  // the writer stops; its unfinished batch rolls back
  bool scanned = true;
  try {
    scanned = !store_->rules_version().empty();  // "" before the first scan
  } catch (...) {
  }
  const std::string path = store_->path();
  store_.reset();  // closing the last connection removes the -wal and -shm files
  if (!scanned) ::unlink(path.c_str());
}

AfterScan StoreScanSession::after_scan() {
  return [this](const ScanSummary& summary) {
    scan_->finish(summary);
    if (!quiet_ && scan_->reopened())
      std::cerr << "credsift: " << scan_->reopened()
                << " rotated tickets reopened: seen again in mail dated after their rotation\n";
  };
}

}  // namespace credsift::cli

#pragma once
// scan --store and scan --manifest: the case store session around one scan (store_scan.cpp).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "credsift/pipeline.hpp"
#include "credsift/rules.hpp"
#include "credsift/store.hpp"
#include "scan_report.hpp"

namespace credsift::cli {

struct StoreScanSettings {
  std::string store, manifest;
  std::optional<uint64_t> shard;  // --shard, in the manifest's numbering
  bool store_secrets = false;
};

// The shard a task scans: --shard, else SLURM_ARRAY_TASK_ID (the manifest's numbering),
// JOB_COMPLETION_INDEX (0-based) or SGE_TASK_ID (1-based). Throws when none is set.
uint64_t resolve_shard(const std::optional<uint64_t>& option, const Manifest& manifest);

class StoreScanSession {
 public:
  // Opens the store (and the manifest: its inputs replace `inputs`, its slices go into the
  // source options) and hooks the store into the scan options.
  StoreScanSession(const StoreScanSettings& settings, const RuleSet& rules,
                   std::vector<std::string>& inputs, ScanOptions& scan_options, bool quiet);
  AfterScan after_scan();
  CaseStore& store() { return *store_; }

 private:
  std::unique_ptr<CaseStore> store_;
  std::unique_ptr<StoreScan> scan_;
  bool quiet_;
};

}  // namespace credsift::cli

#pragma once
// scan --store and scan --manifest: the case store session around one scan (store_scan.cpp).
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "credsift/match.hpp"
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
  // source options) and hooks the store into the scan options. The rules may still be loading:
  // into a case without messages the scan begins without them (CaseStore::begin_scan); else
  // (and with a manifest, checked against them) this waits for them.
  StoreScanSession(const StoreScanSettings& settings, std::shared_future<const Matcher*> matcher,
                   std::vector<std::string>& inputs, ScanOptions& scan_options, bool quiet);
  // A store this session created and that never recorded a scan (the rules failed to load) is
  // removed again.
  ~StoreScanSession();
  AfterScan after_scan();
  CaseStore& store() { return *store_; }

 private:
  std::unique_ptr<CaseStore> store_;
  std::unique_ptr<StoreScan> scan_;
  bool quiet_;
};

}  // namespace credsift::cli

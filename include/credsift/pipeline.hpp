#pragma once
// The pipeline: read (serial, in order) -> decode + match + validate (parallel) -> emit (serial,
// in order), as a tbb::parallel_pipeline with a bounded number of messages in flight.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "credsift/diagnostic.hpp"
#include "credsift/match.hpp"
#include "credsift/mime.hpp"
#include "credsift/report.hpp"
#include "credsift/source.hpp"

namespace credsift {

struct ScanOptions {
  SourceOptions source;
  DecodeLimits decode;
  unsigned threads = 0;        // 0: all hardware threads
  size_t messages_in_flight = 0;  // 0: 4 per thread
  bool include_rejected = false;  // also hand rejected findings to the sink
  // scan_message stops between segments once this passes (the gateway's time limit per message).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

// What one message yields: the work of the parallel stage.
struct MessageResult {
  std::vector<Finding> findings;
  std::vector<DecodeProblem> problems;
  uint64_t rejected = 0;
  bool failed = false;
  bool timed_out = false;  // the deadline passed: findings so far are kept, the rest unscanned
  std::string failure;  // why, when failed
};

MessageResult scan_message(const Message& message, const Matcher& matcher,
                           Matcher::Scratch& scratch, const ScanOptions& options);

using FindingSink = std::function<void(const Finding&)>;  // called serially, in input order

ScanSummary run_scan(const std::vector<std::string>& inputs, const Matcher& matcher,
                     const ScanOptions& options, const FindingSink& on_finding,
                     const DiagnosticSink& on_diagnostic);

}  // namespace credsift

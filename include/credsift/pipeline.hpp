#pragma once
// The pipeline: read (serial, in order) -> decode + match + validate (parallel) -> emit (serial,
// in order), as a tbb::parallel_pipeline with a bounded number of messages in flight.
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "credsift/diagnostic.hpp"
#include "credsift/match.hpp"
#include "credsift/mime.hpp"
#include "credsift/report.hpp"
#include "credsift/source.hpp"

namespace credsift {

struct MessageResult;

struct ScanOptions {
  SourceOptions source;
  DecodeLimits decode;
  unsigned threads = 0;  // 0: all hardware threads
  // Work items in flight: a message, or a 2 MiB span of a mapped mbox. 0: 16 per thread.
  size_t messages_in_flight = 0;
  bool include_rejected = false;  // also hand rejected findings to the sink
  bool strict_limits = false;     // a limit hit makes the scan incomplete (scan exits 2)
  // Exposure window on the message Date (epoch seconds, inclusive). Messages outside it are
  // counted, not scanned; messages without a parseable Date are scanned and counted as undated.
  std::optional<int64_t> since, until;
  // Called from the serial emit stage after each message with the input bytes and messages
  // done so far (for a progress line).
  std::function<void(uint64_t bytes, uint64_t messages)> on_progress;
  // scan_message stops between segments once this passes (the gateway's time limit per message).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // The case store's hooks (scan --store). `known` runs in the parallel stage before a message
  // is decoded: it may set result.case_key and return true when the message is already in the
  // case (not scanned again, counted as known); it may run before the matcher is loaded, so it
  // must not need the rules. `on_message` runs in the serial emit stage
  // after every message, in input order, whatever became of it.
  std::function<bool(const Message&, MessageResult&)> known;
  std::function<void(const Message&, const MessageResult&)> on_message;
};

// What one message yields: the work of the parallel stage.
struct MessageResult {
  std::vector<Finding> findings;
  std::vector<DecodeProblem> problems;
  uint64_t rejected = 0;
  std::map<std::string, uint64_t> rejected_by_reason;
  bool outside_window = false;  // Date outside since/until: not scanned
  bool undated = false;         // a window was set but the Date could not be read
  bool failed = false;
  bool timed_out = false;  // the deadline passed: findings so far are kept, the rest unscanned
  std::string failure;     // why, when failed
  bool known = false;      // already in the case store (ScanOptions::known): not scanned
  std::string case_key;    // the message's identity, set by ScanOptions::known
};

MessageResult scan_message(const Message& message, const Matcher& matcher,
                           Matcher::Scratch& scratch, const ScanOptions& options);

using FindingSink = std::function<void(const Finding&)>;  // called serially, in input order

ScanSummary run_scan(const std::vector<std::string>& inputs, const Matcher& matcher,
                     const ScanOptions& options, const FindingSink& on_finding,
                     const DiagnosticSink& on_diagnostic);

// The same, with a matcher still being loaded (on another thread): the workers read, split and
// decode messages meanwhile and wait for it only to match. Its load error (the future's
// exception) is thrown from here, even when no message needed it. Without options.known only
// (the store's check runs before decoding); with it, this waits for the matcher first.
ScanSummary run_scan(const std::vector<std::string>& inputs,
                     std::shared_future<const Matcher*> matcher, const ScanOptions& options,
                     const FindingSink& on_finding, const DiagnosticSink& on_diagnostic);

}  // namespace credsift

#pragma once
// What `credsift scan` does with its findings: tickets in one or more formats, the baseline,
// the date window, the progress line and the closing summary.
#include <boost/program_options/options_description.hpp>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "credsift/match.hpp"
#include "credsift/pipeline.hpp"
#include "credsift/ticket.hpp"

namespace credsift::cli {

// Runs on the built tickets before they are written (live verification); gets the first
// output file's path ("" when none).
using TicketHook = std::function<void(std::vector<Ticket>&, const std::string& report_path)>;

struct TicketSettings {
  std::vector<std::string> internal_domains;
  std::string baseline, since, until;
  std::string color = "auto";  // the terminal view: never, always, auto
  TicketHook before_output;    // empty: none
};

// --since, --until, --internal-domain, --baseline, --color.
void add_ticket_options(boost::program_options::options_description& options,
                        TicketSettings& settings);

struct OutputTarget {
  OutputFormat format = OutputFormat::TicketsJsonl;
  std::string path;  // "-": standard output
};

// Each --output is FORMAT=PATH or PATH (in the --format format); none: --format on stdout.
// --format auto is the terminal view when stdout is a terminal and no --output is given, else
// JSON lines.
// Throws boost::program_options::error on an unknown format.
std::vector<OutputTarget> parse_output_targets(const std::string& default_format,
                                               const std::vector<std::string>& outputs);

// Applies the date window to the scan options (throws program_options::error on a bad date).
void apply_date_window(const TicketSettings& settings, ScanOptions& options);

// Called when the scan is done, before the outputs are written (the case store commits).
using AfterScan = std::function<void(const ScanSummary&)>;

// Runs the scan and writes every target; returns the exit code. The matcher may still be
// loading (run_scan): its load error is thrown from here.
int scan_and_report(const std::vector<std::string>& inputs,
                    std::shared_future<const Matcher*> matcher, ScanOptions scan_options,
                    const std::vector<OutputTarget>& targets, const TicketSettings& settings,
                    bool quiet, bool show_secrets, const AfterScan& after_scan = {});

}  // namespace credsift::cli

#include "scan_report.hpp"

#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "credsift/escape.hpp"
#include "terminal.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace credsift::cli {

void add_ticket_options(po::options_description& options, TicketSettings& settings) {
  options.add_options()(
      "since", po::value(&settings.since),
      "only messages dated on or after DATE (YYYY-MM-DD, ISO 8601 or RFC 5322); messages "
      "without a parseable Date are scanned and counted")("until", po::value(&settings.until),
                                                          "only messages dated on or before DATE")(
      "internal-domain", po::value(&settings.internal_domains)->composing(),
      "a domain of your own (repeatable; subdomains included): other domains that sent or "
      "received a secret are flagged external")(
      "baseline", po::value(&settings.baseline),
      "suppress (and count) tickets whose fingerprints are in FILE (a tickets file or the "
      "output of credsift baseline)")(
      "color", po::value(&settings.color)->default_value(settings.color),
      "colour in the terminal view: never, always or auto (a terminal, and NO_COLOR not set)");
}

std::vector<OutputTarget> parse_output_targets(const std::string& default_format,
                                               const std::vector<std::string>& outputs) {
  const std::string resolved = default_format != "auto"                        ? default_format
                               : outputs.empty() && is_terminal(STDOUT_FILENO) ? "human"
                                                                               : "jsonl";
  const std::optional<OutputFormat> fallback = parse_output_format(resolved);
  if (!fallback) throw po::error("unknown --format " + default_format);
  std::vector<OutputTarget> targets;
  for (const std::string& output : outputs) {
    const size_t equals = output.find('=');
    if (equals != std::string::npos) {
      if (const auto format = parse_output_format(output.substr(0, equals))) {
        if (equals + 1 == output.size()) throw po::error("--output " + output + ": no PATH");
        targets.push_back({*format, output.substr(equals + 1)});
        continue;
      }
    }
    targets.push_back({*fallback, output});
  }
  if (targets.empty()) targets.push_back({*fallback, "-"});
  return targets;
}

void apply_date_window(const TicketSettings& settings, ScanOptions& options) {
  if (!settings.since.empty()) {
    options.since = parse_date_argument(settings.since, false);
    if (!options.since) throw po::error("--since: cannot read the date '" + settings.since + "'");
  }
  if (!settings.until.empty()) {
    options.until = parse_date_argument(settings.until, true);
    if (!options.until) throw po::error("--until: cannot read the date '" + settings.until + "'");
  }
  if (options.since && options.until && *options.since > *options.until)
    throw po::error("--since is after --until");
}

namespace {

// Bytes under the inputs that are regular files (directories walked), for the ETA. 0: unknown.
uint64_t total_input_bytes(const std::vector<std::string>& inputs) {
  uint64_t total = 0;
  for (const std::string& input : inputs) {
    if (input == "-") return 0;
    std::error_code error;
    if (fs::is_regular_file(input, error)) {
      if (input.ends_with(".gz")) return 0;  // decompressed size unknown
      total += fs::file_size(input, error);
    } else if (fs::is_directory(input, error)) {
      for (fs::recursive_directory_iterator it(input, error), end; !error && it != end;
           it.increment(error)) {
        if (!it->is_regular_file(error)) continue;
        if (it->path().extension() == ".gz") return 0;
        total += it->file_size(error);
      }
    }
  }
  return total;
}

// The progress line on a terminal: redrawn at most four times a second.
class Progress {
 public:
  explicit Progress(uint64_t total_bytes) : total_(total_bytes) {}
  void update(uint64_t bytes, uint64_t messages) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - started_).count();
    const double rate = seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0;
    std::ostringstream line;
    line << std::fixed << std::setprecision(1) << "credsift: " << static_cast<double>(bytes) / 1e6
         << " MB";
    if (total_) line << " of " << static_cast<double>(total_) / 1e6 << " MB";
    line << ", " << messages << " messages, " << rate << " MB/s";
    if (total_ && rate > 0 && bytes < total_)
      line << ", ETA " << static_cast<uint64_t>(static_cast<double>(total_ - bytes) / 1e6 / rate)
           << " s";
    std::cerr << "\r\033[K" << line.str() << std::flush;
    drawn_ = true;
  }
  ~Progress() {
    if (drawn_) std::cerr << "\r\033[K" << std::flush;
  }

 private:
  uint64_t total_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now(), last_{};
  bool drawn_ = false;
};

// JSONL tickets go out in blocks formatted on every thread of the scan while the previous block
// is written: after the scan this was one thread building a single string of the whole output
// (about a tenth of a 1-thread scan of real mail, all of it serial at 2 threads). The bytes are
// those of format_tickets.
void write_tickets_jsonl(OutputFile& file, const std::vector<Ticket>& tickets,
                         const std::vector<Finding>& rejected, const ReportContext& context,
                         unsigned threads) {
  constexpr size_t kBlock = 64;
  const unsigned workers = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
  tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism, workers);
  size_t next = 0;
  tbb::parallel_pipeline(
      4 * workers,
      tbb::make_filter<void, size_t>(tbb::filter_mode::serial_in_order,
                                     [&](tbb::flow_control& control) -> size_t {
                                       if (next >= tickets.size()) control.stop();
                                       const size_t begin = next;
                                       next += kBlock;
                                       return begin;
                                     }) &
          tbb::make_filter<size_t, std::string>(
              tbb::filter_mode::parallel,
              [&](size_t begin) {
                std::string text;
                const size_t end = std::min(tickets.size(), begin + kBlock);
                for (size_t i = begin; i < end; ++i) {
                  text += ticket_to_json(tickets[i], context.show_secrets);
                  text += '\n';
                }
                return text;
              }) &
          tbb::make_filter<std::string, void>(tbb::filter_mode::serial_in_order,
                                              [&](const std::string& text) { file.write(text); }));
  if (context.include_rejected)
    file.write(format_tickets(OutputFormat::TicketsJsonl, {}, rejected, context));
}

}  // namespace

int scan_and_report(const std::vector<std::string>& inputs,
                    std::shared_future<const Matcher*> matcher, ScanOptions scan_options,
                    const std::vector<OutputTarget>& targets, const TicketSettings& settings,
                    bool quiet, bool show_secrets, const AfterScan& after_scan) {
  (void)use_color(settings.color, -1);  // a bad --color fails before the scan
  TicketOptions ticket_options;
  ticket_options.internal_domains = settings.internal_domains;
  if (!settings.baseline.empty()) ticket_options.baseline = load_baseline(settings.baseline);

  // Every file is created before the scan, so that a bad path fails at once.
  std::vector<std::string> output_paths;
  for (const OutputTarget& target : targets) output_paths.push_back(target.path);
  check_output_paths(output_paths, inputs);
  std::vector<std::unique_ptr<OutputFile>> files;
  for (const OutputTarget& target : targets)
    files.push_back(std::make_unique<OutputFile>(target.path));

  TicketBuilder builder(ticket_options);
  const auto on_finding = [&](const Finding& finding) {
    builder.add(finding);
    for (size_t i = 0; i < targets.size(); ++i)
      if (targets[i].format == OutputFormat::Findings)
        files[i]->write(finding_to_json(finding, show_secrets) + "\n");
  };
  std::unique_ptr<Progress> progress;
  const auto on_diagnostic = [&](const Diagnostic& diagnostic) {
    if (quiet) return;
    // The line-clearing sequence only where a progress line may be drawn (a terminal).
    if (progress) std::cerr << "\r\033[K";
    std::cerr << "credsift: "
              << (diagnostic.level == Diagnostic::Level::Error ? "error: " : "warning: ")
              << escape_for_terminal(diagnostic.file) << " at byte " << diagnostic.offset << ": "
              << escape_for_terminal(diagnostic.message) << "\n";
  };
  if (!quiet && ::isatty(STDERR_FILENO)) {
    progress = std::make_unique<Progress>(total_input_bytes(inputs));
    scan_options.on_progress = [&](uint64_t bytes, uint64_t messages) {
      progress->update(bytes, messages);
    };
  }
  const ScanSummary summary =
      run_scan(inputs, std::move(matcher), scan_options, on_finding, on_diagnostic);
  progress.reset();
  if (after_scan) after_scan(summary);

  std::vector<Ticket> tickets = builder.build();
  if (settings.before_output) {
    std::string report_path;
    for (const OutputTarget& target : targets)
      if (target.path != "-" && report_path.empty()) report_path = target.path;
    settings.before_output(tickets, report_path);
  }
  ReportContext context;
  context.summary = &summary;
  context.suppressed_by_baseline = builder.suppressed_findings();
  context.show_secrets = show_secrets;
  context.include_rejected = scan_options.include_rejected;
  context.version = CREDSIFT_VERSION;
  context.internal_domains = settings.internal_domains;
  // Every output is finished even when one fails; any failure is then fatal (exit 2).
  std::string write_errors;
  for (size_t i = 0; i < targets.size(); ++i) {
    try {
      if (targets[i].format != OutputFormat::Findings) {
        ReportContext target_context = context;
        if (targets[i].format == OutputFormat::Human) {
          // Colour and width follow the terminal; a file gets no colour unless --color=always.
          const int fd = targets[i].path == "-" ? STDOUT_FILENO : -1;
          target_context.color =
              fd < 0 ? settings.color == "always" : use_color(settings.color, fd);
          target_context.width = fd < 0 ? 0 : terminal_width(fd);
        }
        if (targets[i].format == OutputFormat::TicketsJsonl)
          write_tickets_jsonl(*files[i], tickets, builder.rejected(), target_context,
                              scan_options.threads);
        else
          files[i]->write(
              format_tickets(targets[i].format, tickets, builder.rejected(), target_context));
      }
      files[i]->finish();
    } catch (const std::runtime_error& error) {
      write_errors += (write_errors.empty() ? "" : "; ") + std::string(error.what());
    }
  }
  if (!quiet) {
    print_summary(std::cerr, summary);
    print_ticket_summary(std::cerr, tickets, builder.suppressed_findings());
  }
  if (!write_errors.empty()) throw std::runtime_error(write_errors);
  // Findings are written above either way; an input the user named that could not be read
  // makes the scan incomplete, which a pipeline must not mistake for clean (or just found).
  if (scan_options.strict_limits && summary.limits_hit) {
    std::cerr << "credsift: error: " << summary.limits_hit << " message"
              << (summary.limits_hit == 1 ? "" : "s")
              << " not scanned whole (a limit was reached) and --strict-limits is set\n";
    return kExitError;
  }
  if (summary.inputs_failed) {
    std::cerr << "credsift: error: " << summary.inputs_failed << " input"
              << (summary.inputs_failed == 1 ? "" : "s")
              << " named on the command line could not be read: the scan is incomplete\n";
    return kExitError;
  }
  return tickets.empty() ? kExitClean : kExitFound;
}

}  // namespace credsift::cli

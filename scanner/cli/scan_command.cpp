// credsift scan: mailboxes in, rotation tickets out (scan_report.cpp writes them).
#include <boost/program_options.hpp>
#include <future>
#include <iostream>
#include <memory>
#include <thread>

#include "commands.hpp"
#include "credsift/match.hpp"
#include "credsift/pipeline.hpp"
#include "credsift/report.hpp"
#include "scan_report.hpp"
#include "store_scan.hpp"
#include "verify_options.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

namespace {
// The scan's matcher, left to the process's exit: taking it apart unmaps each rule's PCRE2 JIT
// code one by one, about 2% of a one-thread scan of small mail. Reachable from here, so leak
// checkers stay quiet.
const Matcher* matcher_kept_until_exit = nullptr;
}  // namespace

int command_scan(const Arguments& arguments) {
  po::options_description visible(
      "credsift scan [options] INPUT...\n\n"
      "INPUT is an mbox, a Maildir, an .eml file, a directory of "
      "them (walked recursively),\na gzip-compressed file of any of "
      "these, or - for standard input.\n\nOptions");
  std::vector<std::string> inputs, extra_rules;
  std::string format = "auto";
  std::vector<std::string> outputs;
  TicketSettings ticket_settings;
  unsigned threads = 0;
  uint64_t max_message_mb = 256;
  size_t max_depth = 64;
  DecodeLimits decode_limits;
  uint64_t max_decompressed_mb = decode_limits.max_decompressed_bytes >> 20;
  visible.add_options()("help,h", "show this help")(
      "format,f", po::value(&format)->default_value("auto"),
      "output format: auto (human on a terminal without --output, else jsonl), human (the "
      "terminal view), jsonl (one rotation ticket per line), json (one document), csv, sarif "
      "(SARIF 2.1.0), markdown, html (one self-contained page), or findings (one raw finding "
      "per line)")(
      "output,o", po::value(&outputs)->composing(),
      "[FORMAT=]PATH: write FORMAT (default: --format) to PATH, mode 0600; repeatable, one "
      "file per format; - is standard output")("threads,j", po::value(&threads)->default_value(0),
                                               "worker threads (0: all cores)")(
      "rules", po::value(&extra_rules)->composing(),
      "extra rule file or directory (repeatable), loaded after the built-in rules")(
      "no-default-rules", "load only the rules given with --rules")(
      "no-rule-cache", "compile the rules even when a cached database exists (and write none)")(
      "show-secrets", "print secrets in clear (default: first 4 characters then …)")(
      "include-rejected", "also print hits rejected as placeholders or low entropy")(
      "max-message-size", po::value(&max_message_mb)->default_value(256),
      "skip (and report) messages larger than this many MB")(
      "max-depth", po::value(&max_depth)->default_value(64),
      "MIME nesting depth decoded (deeper parts are reported, not decoded)")(
      "max-archive-depth", po::value(&decode_limits.max_archive_depth)->default_value(4),
      "archives (and .eml files) inside archives decoded; deeper ones are reported")(
      "max-decompressed", po::value(&max_decompressed_mb)->default_value(256),
      "MB of archive and PDF output decoded per message; the rest is reported")(
      "max-ratio", po::value(&decode_limits.max_compression_ratio)->default_value(200),
      "an archive expanding more than this many times its size stops (zip bombs)")(
      "max-parts", po::value(&decode_limits.max_parts)->default_value(10000),
      "MIME parts and archive entries decoded per message")(
      "max-line", po::value(&decode_limits.max_line_bytes)->default_value(4u << 20),
      "bytes per line matched; longer lines are split there and reported")(
      "strict-limits", "exit 2 when any limit kept part of the mail unscanned")(
      "follow", "follow symbolic links found while walking that point out of the walked tree")(
      "quiet,q", "no summary and no warnings on stderr");
  add_ticket_options(visible, ticket_settings);
  StoreScanSettings store_settings;
  visible.add_options()("store", po::value(&store_settings.store),
                        "record the scan in the case store DB (SQLite, created 0600): messages "
                        "already scanned with these rules are not scanned again")(
      "store-secrets", po::bool_switch(&store_settings.store_secrets),
      "keep secrets in clear in the store (to re-verify later); default: redacted")(
      "manifest", po::value(&store_settings.manifest),
      "scan one shard of a plan (credsift plan) into --store; the plan names the inputs")(
      "shard", po::value<uint64_t>()->notifier([&](uint64_t i) { store_settings.shard = i; }),
      "the shard to scan (else SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, SGE_TASK_ID)");
  VerifySettings verify_settings;
  add_verify_options(visible, verify_settings);
  RuleSelection rule_selection;
  add_rule_selection_options(visible, rule_selection);
  po::options_description hidden;
  hidden.add_options()("input", po::value(&inputs));
  const po::variables_map options =
      parse_arguments(split_verify_argument(arguments), visible, hidden, "input", -1);
  if (options.count("help")) {
    std::cout << visible << "\nExamples:\n  credsift scan corpora/samples\n"
              << "  credsift scan export.mbox --output tickets.jsonl --output md=report.md \\\n"
              << "      --output sarif=scan.sarif --internal-domain acme.com --since 2024-01-01\n"
              << "  credsift baseline --from tickets.jsonl --output baseline.json\n"
              << "  cat one.eml | credsift scan -\n";
    return kExitClean;
  }
  if (inputs.empty() && store_settings.manifest.empty())
    throw po::error("no INPUT given (use - for standard input)");
  const std::vector<OutputTarget> targets = parse_output_targets(format, outputs);

  const bool quiet = options.count("quiet") > 0;
  const bool show_secrets = options.count("show-secrets") > 0;
  std::unique_ptr<StoreScanSession> store;
  // With --store, verification results are kept in the case, and a credential already found
  // live or revoked there is not sent again.
  ticket_settings.before_output = make_verify_hook(
      options, verify_settings, quiet,
      {[&store]() -> CaseStore* { return store ? &store->store() : nullptr; }, true});
  MatcherOptions matcher_options;
  matcher_options.use_cache = options.count("no-rule-cache") == 0;
  std::promise<const Matcher*> loaded;
  const auto load = [&] {
    try {
      std::unique_ptr<Matcher> matcher = load_matcher(
          extra_rules, options.count("no-default-rules") > 0, &rule_selection, matcher_options);
      matcher_kept_until_exit = matcher.release();
      loaded.set_value(matcher_kept_until_exit);
    } catch (...) {
      loaded.set_exception(std::current_exception());
    }
  };
  const std::shared_future<const Matcher*> matcher = loaded.get_future().share();
  // On more than one thread the rules load beside the scan's start: the workers read, split
  // and decode the first messages meanwhile (run_scan), instead of waiting for it alone (the
  // rule files and the cached database: 6% of a one-thread scan of the mail profile, all of it
  // serial). So does --store into a case without messages (StoreScanSession); a plan is
  // checked against the rules first.
  const bool with_store = !store_settings.store.empty() || !store_settings.manifest.empty();
  std::jthread loader;
  if (threads != 1 && store_settings.manifest.empty()) {
    loader = std::jthread(load);
  } else {
    load();
    matcher.get();  // a load error stops the scan here, before any output is made
  }

  ScanOptions scan_options;
  scan_options.threads = threads;
  scan_options.source.max_message_bytes = max_message_mb << 20;
  scan_options.source.follow_symlinks = options.count("follow") > 0;
  scan_options.strict_limits = options.count("strict-limits") > 0;
  scan_options.decode = decode_limits;
  scan_options.decode.max_depth = max_depth;
  scan_options.decode.max_decompressed_bytes = max_decompressed_mb << 20;
  scan_options.source.max_compression_ratio = decode_limits.max_compression_ratio;
  scan_options.source.max_archive_depth = decode_limits.max_archive_depth;
  scan_options.include_rejected = options.count("include-rejected") > 0;
  apply_date_window(ticket_settings, scan_options);
  if (with_store)
    store =
        std::make_unique<StoreScanSession>(store_settings, matcher, inputs, scan_options, quiet);
  return scan_and_report(inputs, matcher, scan_options, targets, ticket_settings, quiet,
                         show_secrets, store ? store->after_scan() : AfterScan{});
}

}  // namespace credsift::cli

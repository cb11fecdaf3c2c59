// credsift command line: `credsift scan`, `credsift rules`.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "credsift/match.hpp"
#include "credsift/pipeline.hpp"
#include "credsift/report.hpp"
#include "credsift/rules.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace credsift;

namespace {

constexpr int kExitClean = 0;
constexpr int kExitFound = 1;
constexpr int kExitError = 2;

const char* const kTopUsage = R"(credsift finds credentials shared by email.

Usage:
  credsift scan [options] INPUT...   scan mailboxes (mbox, Maildir, .eml, directories, gzip, -)
  credsift rules list [--json]       list the loaded rules
  credsift --version
  credsift COMMAND --help            options of a command

Exit codes: 0 nothing found, 1 credentials found, 2 usage or fatal error.
)";

// The rules that ship with credsift: next to an installed binary, else the source tree.
fs::path default_rules_dir() {
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  if (!error) {
    const fs::path installed = exe.parent_path().parent_path() / "share/credsift/patterns";
    if (fs::is_directory(installed)) return installed;
  }
  return CREDSIFT_DEFAULT_RULES;
}

RuleSet load_rule_set(const std::vector<std::string>& extra, bool no_default) {
  std::vector<fs::path> paths;
  if (!no_default) paths.push_back(default_rules_dir());
  for (const std::string& path : extra) paths.emplace_back(path);
  return load_rules(paths);
}

// Output files hold redacted findings, but their metadata (who wrote to whom) is sensitive:
// created 0600 whatever the umask.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
    ::fchmod(fd, 0600);
    file_ = ::fdopen(fd, "w");
    if (!file_) {
      ::close(fd);
      throw std::runtime_error("cannot open " + path);
    }
  }
  ~OutputFile() {
    if (file_) std::fclose(file_);
  }
  FILE* get() { return file_; }

 private:
  FILE* file_ = nullptr;
};

void write_line(FILE* out, const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), out);
  std::fputc('\n', out);
}

int command_scan(const std::vector<std::string>& arguments) {
  po::options_description visible("credsift scan [options] INPUT...\n\n"
                                  "INPUT is an mbox, a Maildir, an .eml file, a directory of "
                                  "them (walked recursively),\na gzip-compressed file of any of "
                                  "these, or - for standard input.\n\nOptions");
  std::vector<std::string> inputs, extra_rules;
  std::string format = "jsonl", output;
  unsigned threads = 0;
  uint64_t max_message_mb = 256;
  size_t max_depth = 64;
  visible.add_options()("help,h", "show this help")(
      "format,f", po::value(&format)->default_value("jsonl"),
      "output format: jsonl (one finding per line) or json (one array)")(
      "output,o", po::value(&output), "write findings to this file (mode 0600) instead of stdout")(
      "threads,j", po::value(&threads)->default_value(0), "worker threads (0: all cores)")(
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
      "quiet,q", "no summary and no warnings on stderr");
  po::options_description hidden;
  hidden.add_options()("input", po::value(&inputs));
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("input", -1);

  po::variables_map options;
  po::store(po::command_line_parser(arguments).options(all).positional(positional).run(), options);
  po::notify(options);
  if (options.count("help")) {
    std::cout << visible << "\nExamples:\n  credsift scan corpora/samples\n"
              << "  credsift scan export.mbox --format jsonl --output findings.jsonl\n"
              << "  cat one.eml | credsift scan -\n";
    return kExitClean;
  }
  if (inputs.empty()) throw po::error("no INPUT given (use - for standard input)");
  if (format != "jsonl" && format != "json") throw po::error("unknown --format " + format);

  const bool quiet = options.count("quiet") > 0;
  const bool show_secrets = options.count("show-secrets") > 0;
  const RuleSet rules = load_rule_set(extra_rules, options.count("no-default-rules") > 0);
  MatcherOptions matcher_options;
  matcher_options.use_cache = options.count("no-rule-cache") == 0;
  const Matcher matcher(rules, matcher_options);

  ScanOptions scan_options;
  scan_options.threads = threads;
  scan_options.source.max_message_bytes = max_message_mb << 20;
  scan_options.decode.max_depth = max_depth;
  scan_options.include_rejected = options.count("include-rejected") > 0;

  std::unique_ptr<OutputFile> file;
  FILE* out = stdout;
  if (!output.empty()) {
    file = std::make_unique<OutputFile>(output);
    out = file->get();
  }
  bool first = true;
  if (format == "json") std::fputs("[", out);
  const auto on_finding = [&](const Finding& finding) {
    const std::string json = finding_to_json(finding, show_secrets);
    if (format == "json") {
      std::fputs(first ? "\n" : ",\n", out);
      std::fwrite(json.data(), 1, json.size(), out);
    } else {
      write_line(out, json);
    }
    first = false;
  };
  const auto on_diagnostic = [&](const Diagnostic& diagnostic) {
    if (quiet) return;
    std::cerr << "credsift: "
              << (diagnostic.level == Diagnostic::Level::Error ? "error: " : "warning: ")
              << diagnostic.file << " at byte " << diagnostic.offset << ": " << diagnostic.message
              << "\n";
  };
  const ScanSummary summary = run_scan(inputs, matcher, scan_options, on_finding, on_diagnostic);
  if (format == "json") std::fputs(first ? "]\n" : "\n]\n", out);
  std::fflush(out);
  if (!quiet) print_summary(std::cerr, summary);
  return summary.findings > 0 ? kExitFound : kExitClean;
}

int command_rules(const std::vector<std::string>& arguments) {
  po::options_description visible("credsift rules list [options]\n\nOptions");
  std::vector<std::string> extra_rules, words;
  visible.add_options()("help,h", "show this help")("json", "one JSON object per rule")(
      "rules", po::value(&extra_rules)->composing(), "extra rule file or directory")(
      "no-default-rules", "load only the rules given with --rules");
  po::options_description hidden;
  hidden.add_options()("word", po::value(&words));
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("word", -1);
  po::variables_map options;
  po::store(po::command_line_parser(arguments).options(all).positional(positional).run(), options);
  po::notify(options);
  if (options.count("help")) {
    std::cout << visible;
    return kExitClean;
  }
  if (words.size() != 1 || words[0] != "list") throw po::error("expected: credsift rules list");
  const RuleSet rules = load_rule_set(extra_rules, options.count("no-default-rules") > 0);
  for (const Rule& rule : rules.rules) {
    if (options.count("json")) {
      std::cout << "{\"id\":\"" << json_escape(rule.id) << "\",\"name\":\"" << json_escape(rule.name)
                << "\",\"provider\":\"" << json_escape(rule.provider) << "\",\"category\":\""
                << json_escape(rule.category) << "\",\"severity\":\"" << to_string(rule.severity)
                << "\"}\n";
    } else {
      std::printf("%-36s %-16s %-18s %s\n", rule.id.c_str(), rule.provider.c_str(),
                  rule.category.c_str(), std::string(to_string(rule.severity)).c_str());
    }
  }
  return kExitClean;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  const std::vector<std::string> arguments(argv + 1, argv + argc);
  try {
    if (arguments.empty() || arguments[0] == "--help" || arguments[0] == "-h" ||
        arguments[0] == "help") {
      std::cout << kTopUsage;
      return arguments.empty() ? kExitError : kExitClean;
    }
    if (arguments[0] == "--version" || arguments[0] == "version") {
      std::cout << "credsift " << CREDSIFT_VERSION << "\n";
      return kExitClean;
    }
    const std::vector<std::string> rest(arguments.begin() + 1, arguments.end());
    if (arguments[0] == "scan") return command_scan(rest);
    if (arguments[0] == "rules") return command_rules(rest);
    std::cerr << "credsift: unknown command '" << arguments[0] << "'\n\n" << kTopUsage;
    return kExitError;
  } catch (const po::error& error) {
    std::cerr << "credsift: " << error.what() << "\n(see credsift " << (arguments.empty() ? "" : arguments[0])
              << " --help)\n";
    return kExitError;
  } catch (const std::exception& error) {
    std::cerr << "credsift: error: " << error.what() << "\n";
    return kExitError;
  }
}

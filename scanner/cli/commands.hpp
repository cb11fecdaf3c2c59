#pragma once
// The credsift subcommands, one file each (scan_command.cpp, rules_command.cpp, ...), and what
// they share. main.cpp dispatches by name.
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/match.hpp"
#include "credsift/rule_select.hpp"
#include "credsift/rules.hpp"

namespace credsift::cli {

constexpr int kExitClean = 0;  // nothing found
constexpr int kExitFound = 1;  // credentials found
constexpr int kExitError = 2;  // usage or fatal error

using Arguments = std::vector<std::string>;

int command_scan(const Arguments& arguments);
int command_rules(const Arguments& arguments);
int command_baseline(const Arguments& arguments);  // baseline_command.cpp
int command_check(const Arguments& arguments);     // check_command.cpp
int command_milter(const Arguments& arguments);    // milter_command.cpp
int command_serve(const Arguments& arguments);     // serve_command.cpp (run by the front)
int command_tickets(const Arguments& arguments);   // tickets_command.cpp (case store)
int command_triage(const Arguments& arguments);    // triage_command.cpp
int command_merge(const Arguments& arguments);     // merge_command.cpp
int command_plan(const Arguments& arguments);      // plan_command.cpp

// The rules that ship with credsift: next to an installed binary, else the source tree.
std::filesystem::path default_rules_dir();
// The built-in rules (unless no_default) followed by the user's extra files or directories.
RuleSet load_rule_set(const std::vector<std::string>& extra, bool no_default);
// The same rules (narrowed by `selection` when given) compiled, through the rule cache: a warm
// start takes the rules from the cache and parses no JSON (Matcher::load).
std::unique_ptr<Matcher> load_matcher(const std::vector<std::string>& extra, bool no_default,
                                      const RuleSelection* selection,
                                      const MatcherOptions& options);
// --ruleset, --enable and --disable, filling `selection` (whose ruleset is the default shown).
void add_rule_selection_options(boost::program_options::options_description& options,
                                RuleSelection& selection);

// An output (output.cpp). A regular file (or a new path) is written to a temporary file
// created with mode 0600 next to it, then fsync'ed and renamed over the path: a symlink at the
// path is replaced, never followed, and a reader never sees half a report. "-", /dev/stdout,
// pipes, FIFOs and character devices are written directly. Every write is checked; finish()
// throws, naming the path, when any failed (the caller exits 2).
class OutputFile {
 public:
  explicit OutputFile(const std::string& path);
  ~OutputFile();  // without finish(): the temporary file is removed
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  FILE* get() { return file_; }
  void write(std::string_view text);
  void finish();
  const std::string& path() const { return path_; }

 private:
  std::string path_, temporary_;
  FILE* file_ = nullptr;
  bool is_stdout_ = false;
  int error_ = 0;  // first errno of a failed write
};

// Refuses (throws boost::program_options::error) outputs that name an input file or the same
// file (or standard output) twice: a report written over the mailbox it scans, or two reports
// interleaved in one file.
void check_output_paths(const std::vector<std::string>& outputs,
                        const std::vector<std::string>& inputs);

// Parses a subcommand's arguments: the visible options (shown by --help) plus the hidden ones,
// the leftover words going to the hidden option `positional_name` (at most `max_positional`,
// -1 for any number; none taken without a name). Throws boost::program_options::error on bad
// usage.
boost::program_options::variables_map parse_arguments(
    const Arguments& arguments, const boost::program_options::options_description& visible,
    const boost::program_options::options_description& hidden = {},
    const char* positional_name = nullptr, int max_positional = 0);

}  // namespace credsift::cli

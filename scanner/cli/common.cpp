#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "commands.hpp"

namespace fs = std::filesystem;

namespace credsift::cli {

fs::path default_rules_dir() {
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  if (!error) {
    const fs::path installed = exe.parent_path().parent_path() / "share/credsift/patterns";
    if (fs::is_directory(installed)) return installed;
  }
  return CREDSIFT_DEFAULT_RULES;
}

namespace {
std::vector<fs::path> rule_paths(const std::vector<std::string>& extra, bool no_default) {
  std::vector<fs::path> paths;
  if (!no_default) paths.push_back(default_rules_dir());
  for (const std::string& path : extra) paths.emplace_back(path);
  return paths;
}
}  // namespace

RuleSet load_rule_set(const std::vector<std::string>& extra, bool no_default) {
  return load_rules(rule_paths(extra, no_default));
}

std::unique_ptr<Matcher> load_matcher(const std::vector<std::string>& extra, bool no_default,
                                      const RuleSelection* selection,
                                      const MatcherOptions& options) {
  return Matcher::load(rule_paths(extra, no_default), selection, options);
}

void add_rule_selection_options(boost::program_options::options_description& options,
                                RuleSelection& selection) {
  namespace po = boost::program_options;
  options.add_options()(
      "ruleset", po::value(&selection.ruleset)->default_value(selection.ruleset),
      "named ruleset: default (all but noisy rules), strict (high-confidence rules only) or all")(
      "enable", po::value(&selection.enable)->composing(),
      "add rules by id, category or id glob such as 'github.*' (repeatable)")(
      "disable", po::value(&selection.disable)->composing(),
      "remove rules by id, category or id glob (repeatable; wins over --enable)");
}

boost::program_options::variables_map parse_arguments(
    const Arguments& arguments, const boost::program_options::options_description& visible,
    const boost::program_options::options_description& hidden, const char* positional_name,
    int max_positional) {
  namespace po = boost::program_options;
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  if (positional_name) positional.add(positional_name, max_positional);
  po::variables_map options;
  po::store(po::command_line_parser(arguments).options(all).positional(positional).run(), options);
  po::notify(options);
  return options;
}

}  // namespace credsift::cli

// credsift rules: what the loaded rule library holds, and whether its examples still hold.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "credsift/escape.hpp"
#include "credsift/match.hpp"
#include "credsift/report.hpp"
#include "credsift/rule_check.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

namespace {

const char* const kUsage =
    "credsift rules list [options]        the loaded rules (table, or --json)\n"
    "credsift rules check [options] [DIR]  compile the rules and run every example and\n"
    "                                      negative example; DIR adds rule files to check\n"
    "credsift rules compile [--cache DIR]  compile the rules into the cache that check, milter\n"
    "                                      and scan load (install time, as the cache's owner)\n\n"
    "Options";

int list_rules(const RuleSet& rules, bool json, const std::string& category) {
  if (!json)
    std::printf("%-40s %-16s %-18s %-8s %s\n", "ID", "PROVIDER", "CATEGORY", "SEVERITY",
                "CONFIDENCE");
  for (const Rule& rule : rules.rules) {
    if (!category.empty() && rule.category != category) continue;
    if (json) {
      std::cout << "{\"id\":\"" << json_escape(rule.id) << "\",\"name\":\""
                << json_escape(rule.name) << "\",\"provider\":\"" << json_escape(rule.provider)
                << "\",\"category\":\"" << json_escape(rule.category) << "\",\"severity\":\""
                << to_string(rule.severity) << "\",\"confidence\":\""
                << json_escape(rule.confidence) << "\",\"ruleset\":\"" << json_escape(rule.ruleset)
                << "\"}\n";
    } else {
      std::printf("%-40s %-16s %-18s %-8s %s\n", rule.id.c_str(), rule.provider.c_str(),
                  rule.category.c_str(), std::string(to_string(rule.severity)).c_str(),
                  rule.confidence.c_str());
    }
  }
  std::cout.flush();
  return kExitClean;
}

// One line per failure, naming the rule, its file and the example; non-zero exit on any.
int check_rules(const RuleSet& rules) {
  MatcherOptions options;
  options.use_cache = false;  // the point is to compile with Hyperscan and PCRE2
  const Matcher matcher(rules, options);
  const auto failures = check_rule_examples(matcher);
  for (const RuleCheckFailure& failure : failures) {
    const Rule& rule = rules.rules[failure.rule];
    std::string text = failure.text;
    for (char& c : text)
      if (c == '\n' || c == '\r') c = ' ';
    std::cout << "FAIL " << rule.id << " (" << rule.file.string()
              << "): " << (failure.negative ? "negative example" : "example") << " \"" << text
              << "\": " << failure.message << "\n";
  }
  size_t examples = 0;
  for (const Rule& rule : rules.rules)
    examples += rule.examples.size() + rule.negative_examples.size();
  std::cout << rules.rules.size() << " rules, " << examples << " examples and negatives, "
            << failures.size() << " failure" << (failures.size() == 1 ? "" : "s") << "\n";
  return failures.empty() ? kExitClean : kExitFound;
}

// Writes the compiled rules for `check`/`milter` (every loaded rule) and for `scan` (the
// selected ruleset, "default" unless --ruleset says otherwise) into the cache directory, keyed
// as those commands look them up (Matcher::load).
int compile_rules(const std::vector<std::string>& extra_rules, bool no_default,
                  RuleSelection selection, bool ruleset_given, const std::string& cache_dir) {
  if (!ruleset_given) selection.ruleset = "default";
  bool failed = false;
  MatcherOptions options;
  options.cache_dir = cache_dir;
  options.on_warning = [&](const std::string& text) {
    failed = true;
    std::cerr << "credsift: " << escape_for_terminal(text) << "\n";
  };
  for (const auto& [who, chosen] :
       {std::pair<const char*, const RuleSelection*>{"check, milter", nullptr},
        {"scan", &selection}}) {
    const std::unique_ptr<Matcher> matcher = load_matcher(extra_rules, no_default, chosen, options);
    std::error_code error;
    if (matcher->cache_file().empty() ||
        !std::filesystem::is_regular_file(matcher->cache_file(), error)) {
      failed = true;
      continue;
    }
    std::cout << matcher->cache_file().string() << " (" << matcher->rules().rules.size()
              << " rules, for " << who << (matcher->loaded_from_cache() ? "; already built" : "")
              << ")\n";
  }
  return failed ? kExitError : kExitClean;
}

}  // namespace

int command_rules(const Arguments& arguments) {
  po::options_description visible(kUsage);
  std::vector<std::string> extra_rules, words;
  std::string category, cache_dir;
  RuleSelection selection;
  selection.ruleset = "all";  // listing and checking show every loaded rule unless asked
  visible.add_options()("help,h", "show this help")("json", "list: one JSON object per rule")(
      "category", po::value(&category), "list: only rules of this category")(
      "rules", po::value(&extra_rules)->composing(), "extra rule file or directory (repeatable)")(
      "no-default-rules", "load only the rules given with --rules or DIR")(
      "cache", po::value(&cache_dir),
      "compile: the cache directory (default: $CREDSIFT_CACHE_DIR, $XDG_CACHE_HOME/credsift or "
      "~/.cache/credsift)");
  add_rule_selection_options(visible, selection);
  po::options_description hidden;
  hidden.add_options()("word", po::value(&words));
  const po::variables_map options = parse_arguments(arguments, visible, hidden, "word", -1);
  if (options.count("help")) {
    std::cout << visible << "\nExamples:\n  credsift rules list --category password\n"
              << "  credsift rules list --ruleset strict --json\n"
              << "  credsift rules check --no-default-rules my-rules/\n";
    return kExitClean;
  }
  const bool no_default = options.count("no-default-rules") > 0;
  if (!words.empty() && words[0] == "list" && words.size() == 1)
    return list_rules(select_rules(load_rule_set(extra_rules, no_default), selection),
                      options.count("json") > 0, category);
  if (!words.empty() && words[0] == "check" && words.size() <= 2) {
    if (words.size() == 2) extra_rules.push_back(words[1]);
    if (no_default && extra_rules.empty())
      throw po::error("--no-default-rules needs a DIR or --rules to check");
    return check_rules(select_rules(load_rule_set(extra_rules, no_default), selection));
  }
  if (words.size() == 1 && words[0] == "compile")
    return compile_rules(extra_rules, no_default, selection, !options["ruleset"].defaulted(),
                         cache_dir);
  throw po::error(
      "expected: credsift rules list | credsift rules check [DIR] | credsift rules compile");
}

}  // namespace credsift::cli

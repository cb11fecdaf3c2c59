// credsift rules: what the loaded rule library holds.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "credsift/report.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

int command_rules(const Arguments& arguments) {
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
      std::cout << "{\"id\":\"" << json_escape(rule.id) << "\",\"name\":\""
                << json_escape(rule.name) << "\",\"provider\":\"" << json_escape(rule.provider)
                << "\",\"category\":\"" << json_escape(rule.category) << "\",\"severity\":\""
                << to_string(rule.severity) << "\"}\n";
    } else {
      std::printf("%-36s %-16s %-18s %s\n", rule.id.c_str(), rule.provider.c_str(),
                  rule.category.c_str(), std::string(to_string(rule.severity)).c_str());
    }
  }
  return kExitClean;
}

}  // namespace credsift::cli

#include <fnmatch.h>

#include <algorithm>

#include "credsift/rule_select.hpp"

namespace credsift {

namespace {

bool in_ruleset(const Rule& rule, const std::string& ruleset) {
  if (ruleset == "all") return true;
  if (rule.ruleset == "all") return false;
  return ruleset == "default" || rule.confidence == "high";
}

}  // namespace

bool rule_matches_selector(const Rule& rule, const std::string& selector) {
  if (selector == rule.id || selector == rule.category) return true;
  return selector.find_first_of("*?[") != std::string::npos &&
         ::fnmatch(selector.c_str(), rule.id.c_str(), 0) == 0;
}

RuleSet select_rules(const RuleSet& rules, const RuleSelection& selection) {
  if (selection.ruleset != "default" && selection.ruleset != "all" && selection.ruleset != "strict")
    throw RuleError("unknown ruleset '" + selection.ruleset +
                    "' (expected default, all or strict)");
  const auto any_rule = [&](const std::string& selector) {
    return std::any_of(rules.rules.begin(), rules.rules.end(),
                       [&](const Rule& rule) { return rule_matches_selector(rule, selector); });
  };
  for (const auto* selectors : {&selection.enable, &selection.disable})
    for (const std::string& selector : *selectors)
      if (!any_rule(selector))
        throw RuleError("'" + selector + "' names no loaded rule id, category or id glob");

  const auto selected_by = [](const Rule& rule, const std::vector<std::string>& selectors) {
    return std::any_of(selectors.begin(), selectors.end(), [&](const std::string& selector) {
      return rule_matches_selector(rule, selector);
    });
  };
  RuleSet out;
  for (const Rule& rule : rules.rules) {
    const bool wanted = in_ruleset(rule, selection.ruleset) || selected_by(rule, selection.enable);
    if (wanted && !selected_by(rule, selection.disable)) out.rules.push_back(rule);
  }
  out.digest = rules.digest;  // of the files loaded; the matcher cache keys on patterns
  return out;
}

}  // namespace credsift

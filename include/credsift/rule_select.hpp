#pragma once
// Which of the loaded rules a scan runs: a named ruleset, then --enable / --disable.
#include <string>
#include <vector>

#include "credsift/rules.hpp"

namespace credsift {

struct RuleSelection {
  // "default": every rule not marked "ruleset": "all"; "strict": the default rules of high
  // confidence; "all": every loaded rule, noisy ones included.
  std::string ruleset = "default";
  // Selectors: a rule id, a category ("password"), or a glob over ids ("github.*", "*.prose.*").
  // Enabled rules join the ruleset; disabled ones leave it (disable wins).
  std::vector<std::string> enable;
  std::vector<std::string> disable;
};

// True when the selector names this rule (its id, its category, or a glob matching its id).
bool rule_matches_selector(const Rule& rule, const std::string& selector);

// The rules of `rules` that the selection keeps, in load order (same digest: of the files).
// Throws RuleError for an unknown ruleset or a selector that names no loaded rule (a typo
// would otherwise silently scan with the wrong rules).
RuleSet select_rules(const RuleSet& rules, const RuleSelection& selection);

}  // namespace credsift

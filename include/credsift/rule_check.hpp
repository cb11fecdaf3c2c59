#pragma once
// Runs every rule's examples and negative examples through the matcher and validate(): the
// logic behind `credsift rules check` and the rule library's unit test.
#include <cstdint>
#include <string>
#include <vector>

#include "credsift/match.hpp"

namespace credsift {

struct RuleCheckFailure {
  uint32_t rule = 0;      // index into the matcher's RuleSet::rules
  bool negative = false;  // a negative example yielded an accepted hit (else: example missed)
  std::string text;       // the example's text
  std::string message;    // what went wrong, with the hits the rule did produce
};

// An example fails unless the rule reports exactly its secret and validate() accepts it; a
// negative example fails if the rule reports any hit that validate() accepts.
std::vector<RuleCheckFailure> check_rule_examples(const Matcher& matcher);

}  // namespace credsift

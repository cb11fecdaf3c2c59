// The cheaper Hyperscan expressions of scanner/match/prefilter.hpp: each still applies to its
// rule (a rule edited since falls back to its own pattern, and this test names it), the split is
// checked.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../../scanner/match/prefilter.hpp"
#include "credsift/match.hpp"

namespace credsift {
namespace {

using match_detail::is_top_level_suffix;

const RuleSet& library() {
  static const RuleSet rules = load_rules({CREDSIFT_SOURCE_DIR "/patterns"});
  return rules;
}

const Rule* find_rule(std::string_view id) {
  for (const Rule& rule : library().rules)
    if (rule.id == id) return &rule;
  return nullptr;
}

TEST(Prefilter, EveryEntryStillFitsItsRule) {
  ASSERT_FALSE(match_detail::prefilters().empty());
  for (const auto& entry : match_detail::prefilters()) {
    const Rule* rule = find_rule(entry.rule_id);
    ASSERT_NE(rule, nullptr) << entry.rule_id;
    EXPECT_TRUE(is_top_level_suffix(rule->pattern, entry.suffix))
        << entry.rule_id << ": its pattern no longer ends with the prefilter suffix";
    EXPECT_EQ(match_detail::hyperscan_expression(*rule), entry.suffix) << entry.rule_id;
  }
  const Rule* other = find_rule("aws.access_key_id");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(match_detail::hyperscan_expression(*other), other->pattern);
}

TEST(Prefilter, OnlyATopLevelSplitIsASuffix) {
  EXPECT_TRUE(is_top_level_suffix("a[bc]{2}(?:x|y)z(?<secret>q+)", "z(?<secret>q+)"));
  EXPECT_TRUE(is_top_level_suffix("(?:a|b)c", "c"));
  EXPECT_FALSE(is_top_level_suffix("ab|cd", "cd"));       // top-level alternative
  EXPECT_FALSE(is_top_level_suffix("(?:ab|cd)", "cd)"));  // inside a group
  EXPECT_FALSE(is_top_level_suffix("a[b-d]", "d]"));      // inside a class
  EXPECT_FALSE(is_top_level_suffix("a[]x]y", "x]y"));     // ']' first in a class is a member
  EXPECT_FALSE(is_top_level_suffix("ab{2}", "{2}"));      // a quantifier
  EXPECT_FALSE(is_top_level_suffix("a\\sb", "sb"));       // half an escape
  EXPECT_FALSE(is_top_level_suffix("abc", "abc"));        // nothing left to drop
  EXPECT_FALSE(is_top_level_suffix("abc", "xbc"));
}

// That the rules find the same hits with their prefilters as without is checked on the whole
// library by match_two_stage_test (its reference matcher runs every rule's own pattern). Not here
// with a database of the one rule: for such a small database vectorscan 5.4.9 builds its
// small-write engine, which misses this suffix's matches near the end of a buffer shorter than
// ~100 bytes ("...;Pwd=A" of 84 bytes: no match; the suffix in the library's database, or the
// rule's own pattern alone, is found).

}  // namespace
}  // namespace credsift

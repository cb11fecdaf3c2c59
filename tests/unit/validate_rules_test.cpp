// Runs every rule's examples and negative examples through the full rule set: the examples
// document each rule, and this test keeps them honest.
#include <gtest/gtest.h>

#include <string>

#include "credsift/match.hpp"
#include "credsift/rule_check.hpp"
#include "credsift/rules.hpp"
#include "credsift/validate.hpp"

namespace credsift {
namespace {

const RuleSet& all_rules() {
  static const RuleSet rules = load_rules({std::string(CREDSIFT_SOURCE_DIR) + "/patterns"});
  return rules;
}

const Matcher& matcher() {
  static const Matcher m(all_rules());
  return m;
}

std::vector<Hit> scan(std::string_view text) {
  auto scratch = matcher().make_scratch();
  std::vector<Hit> hits;
  matcher().scan(text, 0, *scratch, hits);
  return hits;
}

// The same check as `credsift rules check`: every example found with its secret and accepted,
// no negative example accepted.
TEST(RuleExamples, EveryExampleFoundAndNoNegativeAccepted) {
  const auto failures = check_rule_examples(matcher());
  for (const RuleCheckFailure& failure : failures)
    ADD_FAILURE() << "rule " << all_rules().rules[failure.rule].id << ": " << failure.message
                  << " in:\n"
                  << failure.text;
  EXPECT_TRUE(failures.empty());
}

// The check itself must catch a wrong secret, a missed example and an accepted negative.
TEST(RuleExamples, CheckReportsBrokenExamples) {
  RuleSet set;
  Rule rule;
  rule.id = "t.token";
  rule.pattern = "\\b(?<secret>tok_[a-z0-9]{8})\\b";
  rule.examples = {{"id tok_a1b2c3d4 here", "tok_a1b2c3d4"},
                   {"short tok_a1b2 only", "tok_a1b2"},
                   {"id tok_a1b2c3d4", "tok_a1b2c3"}};
  rule.negative_examples = {"nothing here", "leaked tok_z9y8x7w6"};
  set.rules.push_back(rule);
  MatcherOptions options;
  options.use_cache = false;
  const Matcher checked(set, options);
  const auto failures = check_rule_examples(checked);
  ASSERT_EQ(failures.size(), 3u);
  EXPECT_FALSE(failures[0].negative);
  EXPECT_EQ(failures[0].text, "short tok_a1b2 only");
  EXPECT_NE(failures[0].message.find("no hit"), std::string::npos);
  EXPECT_FALSE(failures[1].negative);
  EXPECT_NE(failures[1].message.find("'tok_a1b2c3d4'"), std::string::npos);
  EXPECT_TRUE(failures[2].negative);
  EXPECT_EQ(failures[2].text, "leaked tok_z9y8x7w6");
}

TEST(RuleExamples, EveryRuleHasEnoughExamplesAndGuidance) {
  for (const Rule& rule : all_rules().rules) {
    EXPECT_GE(rule.examples.size(), 2u) << rule.id;
    EXPECT_GE(rule.negative_examples.size(), 2u) << rule.id;
    EXPECT_FALSE(rule.references.empty()) << rule.id;
    for (const std::string& url : rule.references)
      EXPECT_EQ(url.rfind("https://", 0), 0u) << rule.id << ": " << url;
    EXPECT_GE(rule.rotation.size(), 30u) << rule.id << ": rotation guidance too thin";
  }
}

// Every rule's examples, glued into one segment, must all still be found: rules must not
// depend on being alone at the start or end of the text.
TEST(RuleExamples, ExamplesAreFoundInsideOneLongSegment) {
  std::string text;
  std::vector<std::pair<uint32_t, std::string>> expected;
  const auto& rules = all_rules().rules;
  for (uint32_t i = 0; i < rules.size(); ++i)
    for (const RuleExample& example : rules[i].examples) {
      text += "\n\nNext item:\n" + example.text + "\n";
      expected.emplace_back(i, example.secret);
    }
  const auto hits = scan(text);
  for (const auto& [rule, secret] : expected) {
    bool found = false;
    for (const Hit& hit : hits)
      found |= hit.rule == rule &&
               text.compare(hit.secret.begin, hit.secret.end - hit.secret.begin, secret) == 0;
    EXPECT_TRUE(found) << "rule " << rules[rule].id << ": secret '" << secret
                       << "' missing in the combined segment";
  }
}

TEST(Validate, PlaceholdersAreRecognised) {
  for (const char* text : {"AKIAIOSFODNN7EXAMPLE", "xxxxxxxx", "********", "changeme", "<password>",
                           "${DB_PASSWORD}", "{{ secret }}", "%s", "$API_KEY", "[password]",
                           "password", "your_api_key_here", "REDACTED"})
    EXPECT_TRUE(is_placeholder(text)) << text;
  for (const char* text :
       {"Tr0ub4dor&3", "ghp_8Fq2LmZ0pQ7wXe4RtY1uIo9AsDfGhJkL3zXc", "Kx7#mQ2p", "hunter2!"})
    EXPECT_FALSE(is_placeholder(text)) << text;
}

TEST(Validate, Entropy) {
  EXPECT_DOUBLE_EQ(shannon_entropy(""), 0.0);
  EXPECT_DOUBLE_EQ(shannon_entropy("aaaa"), 0.0);
  EXPECT_DOUBLE_EQ(shannon_entropy("abab"), 1.0);
  EXPECT_DOUBLE_EQ(shannon_entropy("abcd"), 2.0);
  EXPECT_NEAR(shannon_entropy("0123456789abcdef"), 4.0, 1e-9);
}

TEST(Validate, MinEntropyRejectsLowEntropySecrets) {
  Rule rule;
  rule.id = "t.entropy";
  rule.min_entropy = 3.0;
  EXPECT_EQ(validate(rule, "abababababab").status, ValidationStatus::Rejected);
  EXPECT_EQ(validate(rule, "abababababab").reason, "low entropy");
  EXPECT_EQ(validate(rule, "q8Zr2LxW0pTm").status, ValidationStatus::Unverified);
  rule.min_entropy = 0;
  EXPECT_EQ(validate(rule, "abababababab").status, ValidationStatus::Unverified);
  EXPECT_EQ(validate(rule, "changeme").reason, "placeholder");
}

}  // namespace
}  // namespace credsift

// Runs every rule's examples and negative examples through the full rule set: the examples
// document each rule, and this test keeps them honest.
#include <gtest/gtest.h>

#include <string>

#include "credsift/match.hpp"
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

std::string describe(const std::vector<Hit>& hits, std::string_view text, uint32_t rule) {
  std::string out;
  for (const Hit& hit : hits) {
    if (hit.rule != rule) continue;
    const Rule& r = all_rules().rules[hit.rule];
    const std::string secret(text.substr(hit.secret.begin, hit.secret.end - hit.secret.begin));
    out += "\n  hit secret '" + secret + "' (" +
           std::string(to_string(validate(r, secret).status)) + " " + validate(r, secret).reason +
           ")";
  }
  return out.empty() ? "\n  (no hit of this rule)" : out;
}

TEST(RuleExamples, EveryExampleIsFoundWithItsSecret) {
  const auto& rules = all_rules().rules;
  for (uint32_t i = 0; i < rules.size(); ++i) {
    const Rule& rule = rules[i];
    for (const RuleExample& example : rule.examples) {
      const auto hits = scan(example.text);
      bool found = false;
      for (const Hit& hit : hits) {
        if (hit.rule != i) continue;
        const std::string_view secret =
            std::string_view(example.text)
                .substr(hit.secret.begin, hit.secret.end - hit.secret.begin);
        if (secret == example.secret && validate(rule, secret).status != ValidationStatus::Rejected)
          found = true;
      }
      EXPECT_TRUE(found) << "rule " << rule.id << ": example not found with secret '"
                         << example.secret << "' in:\n"
                         << example.text << describe(hits, example.text, i);
    }
  }
}

TEST(RuleExamples, NoNegativeExampleYieldsAnAcceptedHit) {
  const auto& rules = all_rules().rules;
  for (uint32_t i = 0; i < rules.size(); ++i) {
    const Rule& rule = rules[i];
    for (const std::string& negative : rule.negative_examples) {
      const auto hits = scan(negative);
      for (const Hit& hit : hits) {
        if (hit.rule != i) continue;
        const std::string_view secret =
            std::string_view(negative).substr(hit.secret.begin, hit.secret.end - hit.secret.begin);
        EXPECT_EQ(to_string(validate(rule, secret).status), "rejected")
            << "rule " << rule.id << ": negative example accepted with secret '" << secret
            << "' in:\n"
            << negative;
      }
    }
  }
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

// The compiled Hyperscan database is cached on disk, keyed by the rules' content.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "credsift/match.hpp"
#include "credsift/rules.hpp"

using namespace credsift;
namespace fs = std::filesystem;

namespace {

class MatchCache : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/credsift-cache-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    options_.cache_dir = dir_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static RuleSet rules(const std::string& token_prefix) {
    Rule rule;
    rule.id = "test.token";
    rule.pattern = token_prefix + "(?<secret>[a-z0-9]{8})";
    RuleSet set;
    set.rules.push_back(rule);
    return set;
  }

  static size_t hits(const Matcher& matcher, std::string_view text) {
    auto scratch = matcher.make_scratch();
    std::vector<Hit> out;
    matcher.scan(text, 0, *scratch, out);
    return out.size();
  }

  fs::path dir_;
  MatcherOptions options_;
};

TEST_F(MatchCache, SecondStartLoadsTheCompiledDatabase) {
  const Matcher cold(rules("tok_"), options_);
  EXPECT_FALSE(cold.loaded_from_cache());
  const Matcher warm(rules("tok_"), options_);
  EXPECT_TRUE(warm.loaded_from_cache());
  EXPECT_EQ(hits(warm, "a tok_abcd1234 and tok_zzzz9999"), 2u);
  EXPECT_EQ(hits(cold, "a tok_abcd1234 and tok_zzzz9999"), 2u);
}

TEST_F(MatchCache, ChangedRulesAreCompiledAgain) {
  const Matcher first(rules("tok_"), options_);
  const Matcher changed(rules("key_"), options_);
  EXPECT_FALSE(changed.loaded_from_cache());
  EXPECT_EQ(hits(changed, "key_abcd1234"), 1u);
  EXPECT_EQ(hits(changed, "tok_abcd1234"), 0u);
}

TEST_F(MatchCache, CorruptCacheFileIsIgnored) {
  { const Matcher first(rules("tok_"), options_); }
  for (const auto& entry : fs::directory_iterator(dir_))
    std::ofstream(entry.path(), std::ios::trunc) << "not a database";
  const Matcher again(rules("tok_"), options_);
  EXPECT_FALSE(again.loaded_from_cache());
  EXPECT_EQ(hits(again, "tok_abcd1234"), 1u);
  const Matcher repaired(rules("tok_"), options_);
  EXPECT_TRUE(repaired.loaded_from_cache());
}

TEST_F(MatchCache, DisabledCacheWritesNothing) {
  options_.use_cache = false;
  const Matcher matcher(rules("tok_"), options_);
  EXPECT_FALSE(matcher.loaded_from_cache());
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace

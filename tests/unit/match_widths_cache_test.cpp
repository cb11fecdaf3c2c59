// Rule widths cached with the Hyperscan database: a warm start reads them instead of analysing
// every pattern, and a damaged cache file falls back to the analysis.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "credsift/match.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;

RuleSet rules() {
  RuleSet set;
  for (auto [id, pattern] : {std::pair{"a", R"(key=(?<secret>[a-z]{4,20}))"},
                             std::pair{"b", R"(tok_(?<secret>[0-9A-F]{32}))"}}) {
    Rule rule;
    rule.id = id;
    rule.pattern = pattern;
    rule.file = "test.json";
    set.rules.push_back(rule);
  }
  return set;
}

class WidthsCache : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/credsift-widths-XXXXXX";
    options_.cache_dir = ::mkdtemp(pattern);
  }
  void TearDown() override { fs::remove_all(options_.cache_dir); }
  fs::path widths_file() const {
    for (const auto& entry : fs::directory_iterator(options_.cache_dir))
      if (entry.path().extension() == ".cache") return entry.path();
    return {};
  }
  MatcherOptions options_;
};

TEST_F(WidthsCache, WarmStartReadsTheSameWidths) {
  const Matcher cold(rules(), options_);
  EXPECT_FALSE(cold.loaded_from_cache());
  ASSERT_FALSE(widths_file().empty());
  const Matcher warm(rules(), options_);
  EXPECT_TRUE(warm.loaded_from_cache());
  for (uint32_t i = 0; i < 2; ++i) EXPECT_EQ(warm.max_width(i), cold.max_width(i));
  EXPECT_EQ(cold.max_width(0), 24u);
  EXPECT_EQ(cold.max_width(1), 36u);
}

TEST_F(WidthsCache, DamagedCacheFileIsIgnoredAndRewritten) {
  { const Matcher cold(rules(), options_); }
  const fs::path file = widths_file();
  ASSERT_FALSE(file.empty());
  options_.on_warning = [](const std::string&) {};
  for (const char* damage : {"24\n", "24\n36\n99\n", "credsift-rule-cache 1\nkey x\n"}) {
    std::ofstream(file, std::ios::trunc) << damage;
    const Matcher warm(rules(), options_);
    EXPECT_FALSE(warm.loaded_from_cache()) << damage;
    EXPECT_EQ(warm.max_width(0), 24u) << damage;
    EXPECT_EQ(warm.max_width(1), 36u) << damage;
    EXPECT_TRUE(Matcher(rules(), options_).loaded_from_cache()) << damage;  // rewritten
  }
}

}  // namespace
}  // namespace credsift

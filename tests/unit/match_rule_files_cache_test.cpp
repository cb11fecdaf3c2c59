// Matcher::load: the rule cache keyed by the rule files holds the rules themselves, so that a warm
// start parses no JSON; damage of any kind (a flipped byte in the rules, the widths or the
// database, a file cut short) is detected and the entry rebuilt; a changed rule file or rule
// selection makes a new entry.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "credsift/match.hpp"
#include "credsift/rule_select.hpp"
#include "credsift/rules.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;

std::string rule_json(const std::string& id, const std::string& prefix,
                      const std::string& description, const std::string& ruleset = "default") {
  return "{\"id\": \"" + id + "\", \"name\": \"Test " + id + "\", \"description\": \"" +
         description + "\", \"provider\": \"Test\", \"category\": \"api-token\", " +
         "\"pattern\": \"" + prefix + "(?<secret>[a-z0-9]{8})\", \"flags\": [\"caseless\"], " +
         "\"severity\": \"high\", \"confidence\": \"high\", \"min_entropy\": 2.5, " +
         "\"ruleset\": \"" + ruleset + "\", \"rotation\": \"Revoke it at https://example.test/" +
         id +
         "\", \"references\": [\"https://example.test/docs\", \"https://example.test/more\"], " +
         "\"examples\": [{\"text\": \"" + prefix + "abcd1234\", \"secret\": \"abcd1234\"}], " +
         "\"negative_examples\": [\"" + prefix + "ab\"]}";
}

class RuleFilesCache : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/credsift-rulefiles-XXXXXX";
    root_ = ::mkdtemp(pattern);
    fs::create_directory(root_ / "rules");
    fs::create_directory(root_ / "cache", root_);
    fs::permissions(root_ / "cache", fs::perms(0700));
    options_.cache_dir = root_ / "cache";
    options_.on_warning = [this](const std::string& text) { warnings_.push_back(text); };
    write_rules("the first description");
  }
  void TearDown() override { fs::remove_all(root_); }

  void write_rules(const std::string& description) {
    std::ofstream(root_ / "rules" / "a.json", std::ios::trunc)
        << R"({"rules": [)" << rule_json("test.alpha", "tok_", description) << ","
        << rule_json("test.noisy", "noise_", "noisy", "all") << "]}";
    std::ofstream(root_ / "rules" / "b.json", std::ios::trunc)
        << R"({"rules": [)" << rule_json("test.beta", "key_", "beta") << "]}";
  }

  std::unique_ptr<Matcher> load(const RuleSelection* selection = nullptr) {
    return Matcher::load({root_ / "rules"}, selection, options_);
  }

  fs::path cache_file() const {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(root_ / "cache"))
      if (entry.path().extension() == ".cache") files.push_back(entry.path());
    return files.size() == 1 ? files[0] : fs::path();
  }

  static std::string slurp(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
  }

  static size_t hits(const Matcher& matcher, std::string_view text) {
    auto scratch = matcher.make_scratch();
    std::vector<Hit> out;
    matcher.scan(text, 0, *scratch, out);
    return out.size();
  }

  bool warned(const std::string& what) const {
    for (const std::string& w : warnings_)
      if (w.find(what) != std::string::npos) return true;
    return false;
  }

  // Damages the cache file with `edit`, then checks that the next start compiles (with the
  // warning `why`) and rewrites it, and the one after loads it again.
  void expect_detected(const std::function<void(std::string&)>& edit, const std::string& why) {
    { const auto cold = load(); }
    const fs::path file = cache_file();
    ASSERT_FALSE(file.empty());
    std::string bytes = slurp(file);
    edit(bytes);
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    warnings_.clear();
    const auto damaged = load();
    EXPECT_FALSE(damaged->loaded_from_cache()) << why;
    EXPECT_TRUE(warned(why)) << why << ": " << (warnings_.empty() ? "" : warnings_[0]);
    EXPECT_EQ(hits(*damaged, "tok_abcd1234 key_zzzz9999 noise_abcd1234"), 3u);
    warnings_.clear();
    const auto repaired = load();
    EXPECT_TRUE(repaired->loaded_from_cache()) << why;
    EXPECT_TRUE(warnings_.empty());
  }

  fs::path root_;
  MatcherOptions options_;
  std::vector<std::string> warnings_;
};

TEST_F(RuleFilesCache, AWarmStartTakesTheRulesFromTheCache) {
  const auto cold = load();
  EXPECT_FALSE(cold->loaded_from_cache());
  const auto warm = load();
  EXPECT_TRUE(warm->loaded_from_cache());
  EXPECT_TRUE(warnings_.empty());
  const RuleSet& a = cold->rules();
  const RuleSet& b = warm->rules();
  EXPECT_EQ(b.digest, a.digest);
  ASSERT_EQ(b.rules.size(), 3u);
  for (size_t i = 0; i < a.rules.size(); ++i) {
    const Rule& x = a.rules[i];
    const Rule& y = b.rules[i];
    EXPECT_EQ(y.id, x.id);
    EXPECT_EQ(y.name, x.name);
    EXPECT_EQ(y.description, x.description);
    EXPECT_EQ(y.provider, x.provider);
    EXPECT_EQ(y.category, x.category);
    EXPECT_EQ(y.pattern, x.pattern);
    EXPECT_EQ(y.caseless, x.caseless);
    EXPECT_EQ(y.dotall, x.dotall);
    EXPECT_EQ(y.severity, x.severity);
    EXPECT_EQ(y.confidence, x.confidence);
    EXPECT_EQ(y.min_entropy, x.min_entropy);
    EXPECT_EQ(y.references, x.references);
    EXPECT_EQ(y.rotation, x.rotation);
    EXPECT_EQ(y.ruleset, x.ruleset);
    EXPECT_EQ(y.file, x.file);
    EXPECT_EQ(warm->max_width(static_cast<uint32_t>(i)), cold->max_width(static_cast<uint32_t>(i)));
    EXPECT_FALSE(x.examples.empty());
    EXPECT_TRUE(y.examples.empty());  // tests only: never on the scan path
    EXPECT_TRUE(y.negative_examples.empty());
  }
  EXPECT_EQ(hits(*warm, "TOK_ABCD1234 key_zzzz9999"), 2u);  // caseless survived
}

TEST_F(RuleFilesCache, EncodedRulesRoundTripAndRefuseTruncation) {
  const auto cold = load();
  const std::string bytes = encode_rules(cold->rules());
  const std::optional<RuleSet> back = decode_rules(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(encode_rules(*back), bytes);
  for (size_t cut : {size_t{0}, size_t{10}, bytes.size() / 2, bytes.size() - 1})
    EXPECT_FALSE(decode_rules(std::string_view(bytes).substr(0, cut))) << cut;
  EXPECT_FALSE(decode_rules(bytes + "x"));
}

TEST_F(RuleFilesCache, AChangedRuleFileMakesANewEntry) {
  { const auto cold = load(); }
  write_rules("a new description, same pattern");
  const auto changed = load();
  EXPECT_FALSE(changed->loaded_from_cache());
  EXPECT_EQ(changed->rules().rules[0].description, "a new description, same pattern");
  const auto warm = load();
  EXPECT_TRUE(warm->loaded_from_cache());
  EXPECT_EQ(warm->rules().rules[0].description, "a new description, same pattern");
}

TEST_F(RuleFilesCache, TheSelectionIsPartOfTheKeyAndStillChecked) {
  { const auto every = load(); }
  RuleSelection selection;  // "default": the noisy rule is out
  selection.disable = {"test.beta"};
  const auto cold = load(&selection);
  EXPECT_FALSE(cold->loaded_from_cache());
  const auto warm = load(&selection);
  EXPECT_TRUE(warm->loaded_from_cache());
  ASSERT_EQ(warm->rules().rules.size(), 1u);
  EXPECT_EQ(warm->rules().rules[0].id, "test.alpha");
  EXPECT_EQ(hits(*warm, "tok_abcd1234 key_zzzz9999 noise_abcd1234"), 1u);
  EXPECT_TRUE(load()->loaded_from_cache());  // every rule: its own entry, still there
  selection.disable = {"test.missing"};
  EXPECT_THROW(load(&selection), RuleError);
}

TEST_F(RuleFilesCache, AFlippedByteInTheRulesIsDetected) {
  expect_detected(
      [](std::string& bytes) {
        const size_t at = bytes.find("the first description");
        ASSERT_NE(at, std::string::npos);
        bytes[at] = 'T';
      },
      "do not match its digest");
}

TEST_F(RuleFilesCache, AFlippedByteDeepInTheDatabaseIsDetected) {
  // Past the digested head: Hyperscan's CRC of its bytecode refuses it.
  expect_detected(
      [](std::string& bytes) {
        ASSERT_GT(bytes.size(), 6000u);
        bytes[bytes.size() - 200] ^= 0x5a;
      },
      "database refused by Hyperscan");
}

TEST_F(RuleFilesCache, AFileCutShortIsDetected) {
  expect_detected([](std::string& bytes) { bytes.resize(bytes.size() - 100); }, "cut short");
  expect_detected([](std::string& bytes) { bytes.resize(300); }, "cut short");
  expect_detected([](std::string& bytes) { bytes += "more"; }, "not its size");
}

TEST_F(RuleFilesCache, RewrittenWidthsAreDetected) {
  expect_detected(
      [](std::string& bytes) {
        const size_t widths = bytes.find("\n3 ", 200);
        ASSERT_NE(widths, std::string::npos);
        bytes[widths + 3] = '0';
      },
      "do not match its digest");
}

TEST_F(RuleFilesCache, WithoutTheCacheTheRulesAreParsed) {
  options_.use_cache = false;
  const auto matcher = load();
  EXPECT_FALSE(matcher->loaded_from_cache());
  EXPECT_FALSE(matcher->rules().rules[0].examples.empty());
  EXPECT_TRUE(fs::is_empty(root_ / "cache"));
}

}  // namespace
}  // namespace credsift

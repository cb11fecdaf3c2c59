// The rule cache is data that runs: it is used only when its digest, its key and its owner and
// permissions say it is ours (issue 17, items 3, 4 and 11).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "credsift/match.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;

RuleSet rules(const std::string& prefix) {
  RuleSet set;
  for (int i = 0; i < 3; ++i) {
    Rule rule;
    rule.id = prefix + std::to_string(i);
    rule.pattern = prefix + std::to_string(i) + "_(?<secret>[a-z0-9]{8})";
    rule.file = "test.json";
    set.rules.push_back(rule);
  }
  return set;
}

size_t hits(const Matcher& matcher, std::string_view text) {
  auto scratch = matcher.make_scratch();
  std::vector<Hit> out;
  matcher.scan(text, 0, *scratch, out);
  return out.size();
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class CacheTrust : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/credsift-trust-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    options_.cache_dir = dir_;
    options_.on_warning = [this](const std::string& text) { warnings_.push_back(text); };
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path cache_file() const {
    for (const auto& entry : fs::directory_iterator(dir_))
      if (entry.path().extension() == ".cache") return entry.path();
    return {};
  }
  bool warned(std::string_view what) const {
    for (const std::string& w : warnings_)
      if (w.find(what) != std::string::npos) return true;
    return false;
  }
  fs::path dir_;
  MatcherOptions options_;
  std::vector<std::string> warnings_;
};

TEST_F(CacheTrust, AWarmStartUsesTheVerifiedCache) {
  { const Matcher cold(rules("tok"), options_); }
  const fs::path file = cache_file();
  ASSERT_FALSE(file.empty());
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);  // readable by a gateway user when root builds it
  EXPECT_EQ(slurp(file).rfind("credsift-rule-cache 5\nkey ", 0), 0u);
  const Matcher warm(rules("tok"), options_);
  EXPECT_TRUE(warm.loaded_from_cache());
  EXPECT_EQ(hits(warm, "tok1_abcd1234"), 1u);
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(CacheTrust, RewrittenWidthsAreRefused) {
  { const Matcher cold(rules("tok"), options_); }
  const fs::path file = cache_file();
  std::string bytes = slurp(file);
  // Widths of 0 would make every hit's capture window empty: nothing found, exit 0.
  const size_t widths = bytes.find("\n3 ", 200);
  ASSERT_NE(widths, std::string::npos);
  const size_t end = bytes.find('\n', widths + 1);
  for (size_t i = widths + 3; i < end; ++i)  // same length: the size line still holds
    if (bytes[i] != ' ') bytes[i] = '0';
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  const Matcher warm(rules("tok"), options_);
  EXPECT_FALSE(warm.loaded_from_cache());
  EXPECT_TRUE(warned("do not match its digest"));
  EXPECT_EQ(hits(warm, "tok1_abcd1234 tok2_zzzz9999"), 2u);
  EXPECT_GT(warm.max_width(0), 0u);
  // Rewritten by the compile: the next start trusts it again.
  warnings_.clear();
  EXPECT_TRUE(Matcher(rules("tok"), options_).loaded_from_cache());
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(CacheTrust, ADatabaseOfOtherRulesCopiedUnderTheKeyIsRefused) {
  { const Matcher mine(rules("tok"), options_); }
  const fs::path mine = cache_file();
  fs::rename(mine, dir_ / "mine");
  { const Matcher other(rules("key"), options_); }
  const fs::path other = cache_file();
  fs::rename(other, mine);  // the other rule set's file under my key's name
  const Matcher matcher(rules("tok"), options_);
  EXPECT_FALSE(matcher.loaded_from_cache());
  EXPECT_TRUE(warned("built for other rules"));
  EXPECT_EQ(hits(matcher, "tok0_abcd1234"), 1u);
  EXPECT_EQ(hits(matcher, "key0_abcd1234"), 0u);
}

TEST_F(CacheTrust, FilesAndDirectoriesOthersCanWriteAreRefused) {
  { const Matcher cold(rules("tok"), options_); }
  const fs::path file = cache_file();
  ::chmod(file.c_str(), 0666);
  EXPECT_FALSE(Matcher(rules("tok"), options_).loaded_from_cache());
  EXPECT_TRUE(warned("writable by group or others"));
  // The compile replaced it with a file of mode 0644; a group-writable directory is refused.
  warnings_.clear();
  ::chmod(dir_.c_str(), 0775);
  EXPECT_FALSE(Matcher(rules("tok"), options_).loaded_from_cache());
  EXPECT_TRUE(warned("the directory is writable by group or others"));
  // Sticky (like /tmp): others cannot replace our files there.
  warnings_.clear();
  ::chmod(dir_.c_str(), 01777);
  EXPECT_TRUE(Matcher(rules("tok"), options_).loaded_from_cache());
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(CacheTrust, FilesOfAnotherUserAreRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the file away";
  { const Matcher cold(rules("tok"), options_); }
  ASSERT_EQ(::chown(cache_file().c_str(), 12345, 12345), 0);
  EXPECT_FALSE(Matcher(rules("tok"), options_).loaded_from_cache());
  EXPECT_TRUE(warned("owned by uid 12345"));
}

TEST_F(CacheTrust, SymlinksAreNeitherReadNorWrittenThrough) {
  { const Matcher cold(rules("tok"), options_); }
  const fs::path file = cache_file();
  fs::rename(file, dir_ / "real");
  const fs::path victim = dir_ / "victim";
  std::ofstream(victim) << "precious";
  fs::create_symlink(victim, file);
  const Matcher matcher(rules("tok"), options_);
  EXPECT_FALSE(matcher.loaded_from_cache());
  EXPECT_TRUE(warned("symbolic link"));
  EXPECT_EQ(slurp(victim), "precious");  // the store replaced the link, not its target
  EXPECT_FALSE(fs::is_symlink(file));
  EXPECT_TRUE(Matcher(rules("tok"), options_).loaded_from_cache());
}

TEST_F(CacheTrust, AnUnwritableCacheWarnsOnce) {
  std::ofstream(dir_ / "file") << "x";
  options_.cache_dir = dir_ / "file" / "cache";  // cannot be created, even by root
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Matcher(rules("tok"), options_).loaded_from_cache());
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("credsift rules compile --cache"), std::string::npos);
}

}  // namespace
}  // namespace credsift

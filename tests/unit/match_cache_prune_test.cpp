// Writing a rule cache file prunes the directory to the newest few: every change of the rules left
// a 7-8 MB file behind (396 MB of them in one cache directory).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "../../scanner/match/rule_cache.hpp"

namespace credsift::match_detail {
namespace {

namespace fs = std::filesystem;

class CachePrune : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/credsift-prune-XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A file `age` minutes old.
  void make(const std::string& name, int age_minutes) const {
    std::ofstream(dir_ / name) << "old";
    fs::last_write_time(dir_ / name,
                        fs::file_time_type::clock::now() - std::chrono::minutes(age_minutes));
  }
  bool store(const std::string& key) const {
    const RuleCache cache(dir_, key, [](const std::string&) {});
    return cache.store({1, 2}, "rules", {}, std::string(8192, 'd'), {});
  }
  std::set<std::string> names() const {
    std::set<std::string> out;
    for (const auto& entry : fs::directory_iterator(dir_))
      out.insert(entry.path().filename().string());
    return out;
  }
  fs::path dir_;
};

// More older cache files than are kept.
constexpr int kOld = int(kKeptCacheFiles) + 4;

TEST_F(CachePrune, KeepsTheNewestFilesAndTheOneJustWritten) {
  // Older cache files of every format, the oldest first in the directory's order.
  for (int i = 0; i < kOld; ++i)
    make("rules-old" + std::to_string(i) + (i % 2 ? ".v4.cache" : ".v5.cache"), 100 - i);
  ASSERT_TRUE(store("new"));
  std::set<std::string> expected = {"rules-new.v5.cache"};
  for (int i = kOld - int(kKeptCacheFiles - 1); i < kOld; ++i)  // the newest old ones
    expected.insert("rules-old" + std::to_string(i) + (i % 2 ? ".v4.cache" : ".v5.cache"));
  EXPECT_EQ(names(), expected);
}

TEST_F(CachePrune, LeavesOtherFilesLinksAndFreshTemporariesAlone) {
  for (int i = 0; i < kOld; ++i) make("rules-old" + std::to_string(i) + ".v5.cache", 100 - i);
  make("notes.txt", 500);
  make("rules-readme", 500);
  make(".rules-x.v5.cache.tmp123", 5);    // another writer, now
  make(".rules-y.v5.cache.tmp456", 180);  // a crashed writer, hours ago
  fs::create_symlink(dir_ / "notes.txt", dir_ / "rules-link.v5.cache");
  ASSERT_TRUE(store("new"));
  const std::set<std::string> left = names();
  EXPECT_TRUE(left.count("notes.txt"));
  EXPECT_TRUE(left.count("rules-readme"));
  EXPECT_TRUE(left.count(".rules-x.v5.cache.tmp123"));
  EXPECT_FALSE(left.count(".rules-y.v5.cache.tmp456"));
  EXPECT_TRUE(left.count("rules-link.v5.cache"));
  EXPECT_TRUE(left.count("rules-new.v5.cache"));
  EXPECT_FALSE(left.count("rules-old0.v5.cache"));
  EXPECT_TRUE(left.count("rules-old" + std::to_string(kOld - 1) + ".v5.cache"));
  size_t caches = 0;
  for (const std::string& name : left)
    caches +=
        name.starts_with("rules-") && name.ends_with(".cache") && name != "rules-link.v5.cache";
  EXPECT_EQ(caches, kKeptCacheFiles);
}

TEST_F(CachePrune, RewritingOneKeyNeverRemovesIt) {
  for (int round = 0; round < 3; ++round) ASSERT_TRUE(store("same"));
  for (int i = 0; i < 2 * int(kKeptCacheFiles); ++i) ASSERT_TRUE(store("k" + std::to_string(i)));
  EXPECT_EQ(names().size(), kKeptCacheFiles);
  EXPECT_TRUE(names().count("rules-k" + std::to_string(2 * kKeptCacheFiles - 1) + ".v5.cache"));
  // The entry just written loads back.
  const RuleCache last(dir_, "k" + std::to_string(2 * kKeptCacheFiles - 1),
                       [](const std::string&) {});
  EXPECT_TRUE(last.load().has_value());
}

// A file loaded now counts as new: pruning removes the least recently used, not the oldest written.
TEST_F(CachePrune, AFileInUseIsKeptOverNewerUnusedOnes) {
  ASSERT_TRUE(store("used"));
  fs::last_write_time(dir_ / "rules-used.v5.cache",
                      fs::file_time_type::clock::now() - std::chrono::hours(5));
  for (int i = 0; i < kOld; ++i) make("rules-old" + std::to_string(i) + ".v5.cache", 100 - i);
  const RuleCache used(dir_, "used", [](const std::string&) {});
  ASSERT_TRUE(used.load().has_value());
  EXPECT_GT(fs::last_write_time(dir_ / "rules-used.v5.cache"),
            fs::file_time_type::clock::now() - std::chrono::minutes(1));
  ASSERT_TRUE(store("new"));
  EXPECT_TRUE(names().count("rules-used.v5.cache"));
  EXPECT_FALSE(names().count("rules-old0.v5.cache"));
}

}  // namespace
}  // namespace credsift::match_detail

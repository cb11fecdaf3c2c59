// run_scan with a matcher still loading (scan -j2 loads the rules beside the scan's start):
// messages decoded before it is there are matched once it is, with the same findings, and its
// load error comes out of run_scan.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "credsift/match.hpp"
#include "credsift/pipeline.hpp"

namespace credsift {
namespace {

std::string write_mbox() {
  const auto path = std::filesystem::temp_directory_path() /
                    ("credsift_pending_" + std::to_string(::getpid()) + ".mbox");
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < 3000; ++i) {
    out << "From a@b Mon Jan  1 00:00:00 2024\nSubject: m" << i << "\n\n";
    if (i % 7 == 0) out << "key tok_" << std::string(8, static_cast<char>('a' + i % 26)) << i;
    out << "\nplain text of message " << i << "\n\n";
  }
  return path.string();
}

RuleSet token_rules() {
  Rule rule;
  rule.id = "t.tok";
  rule.pattern = R"(\btok_(?<secret>[a-z]{8}[0-9]{1,4})\b)";
  rule.file = "test.json";
  RuleSet set;
  set.rules.push_back(rule);
  return set;
}

std::vector<std::string> scan_secrets(const std::string& mbox,
                                      std::shared_future<const Matcher*> matcher) {
  ScanOptions options;
  options.threads = 2;
  options.include_rejected = true;
  std::vector<std::string> secrets;
  run_scan({mbox}, std::move(matcher), options,
           [&](const Finding& f) { secrets.push_back(std::to_string(f.index) + " " + f.secret); },
           {});
  return secrets;
}

TEST(PendingMatcher, MessagesDecodedBeforeItIsLoadedKeepTheirFindings) {
  const std::string mbox = write_mbox();
  const Matcher matcher(token_rules());
  std::promise<const Matcher*> ready;
  ready.set_value(&matcher);
  const std::vector<std::string> expected = scan_secrets(mbox, ready.get_future().share());
  ASSERT_EQ(expected.size(), 429u);

  std::promise<const Matcher*> later;
  std::thread loader([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    later.set_value(&matcher);
  });
  EXPECT_EQ(scan_secrets(mbox, later.get_future().share()), expected);
  loader.join();
  std::filesystem::remove(mbox);
}

TEST(PendingMatcher, ItsLoadErrorComesOutOfTheScan) {
  const std::string mbox = write_mbox();
  std::promise<const Matcher*> failing;
  failing.set_exception(std::make_exception_ptr(MatchError("bad rule")));
  EXPECT_THROW(scan_secrets(mbox, failing.get_future().share()), MatchError);
  std::promise<const Matcher*> failing_without_input;
  failing_without_input.set_exception(std::make_exception_ptr(MatchError("bad rule")));
  ScanOptions options;
  options.threads = 2;
  EXPECT_THROW(run_scan({}, failing_without_input.get_future().share(), options, {}, {}),
               MatchError);
  std::filesystem::remove(mbox);
}

// scan --store into a new case: the store's `known` hook needs no rules, so the look-ups (and
// the hashing inside them) start while the rules load; a message found known is neither decoded
// nor matched, whether it was looked up before the matcher was there or after.
TEST(PendingMatcher, TheKnownHookRunsWhileItLoads) {
  const std::string mbox = write_mbox();
  const Matcher matcher(token_rules());
  std::promise<const Matcher*> ready;
  ready.set_value(&matcher);
  std::vector<std::string> expected;
  for (const std::string& finding : scan_secrets(mbox, ready.get_future().share()))
    if (std::stoul(finding) % 14 != 0) expected.push_back(finding);

  std::promise<const Matcher*> later;
  std::once_flag set_once;
  std::atomic<bool> rules_there{false};
  const auto load = [&] {
    std::call_once(set_once, [&] {
      rules_there = true;
      later.set_value(&matcher);
    });
  };
  std::atomic<int> looked_up_while_loading{0};
  ScanOptions options;
  options.threads = 2;
  options.include_rejected = true;
  options.known = [&](const Message& message, MessageResult&) {
    // The 100th look-up lets the rules arrive: a pipeline that waited for them first would only
    // get them from the fallback below, and look nothing up before.
    if (!rules_there.load() && ++looked_up_while_loading == 100) load();
    const size_t subject = message.bytes.find("Subject: m") + 10;
    return std::stoul(std::string(message.bytes.substr(subject, 6))) % 14 == 0;
  };
  std::thread fallback([&] {
    for (int i = 0; i < 500 && !rules_there.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    load();
  });
  std::vector<std::string> secrets;
  const ScanSummary summary = run_scan(
      {mbox}, later.get_future().share(), options,
      [&](const Finding& f) { secrets.push_back(std::to_string(f.index) + " " + f.secret); }, {});
  fallback.join();
  EXPECT_GE(looked_up_while_loading.load(), 100);
  EXPECT_EQ(summary.messages_known, 215u);  // messages 0, 14, ... 2996
  EXPECT_EQ(summary.messages_scanned, 3000u - 215u);
  EXPECT_EQ(secrets, expected);
  std::filesystem::remove(mbox);
}

}  // namespace
}  // namespace credsift

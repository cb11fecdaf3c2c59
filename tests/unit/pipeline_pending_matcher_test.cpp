// run_scan with a matcher still loading (scan -j2 loads the rules beside the scan's start):
// messages decoded before it is there are matched once it is, with the same findings, and its
// load error comes out of run_scan.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
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

}  // namespace
}  // namespace credsift

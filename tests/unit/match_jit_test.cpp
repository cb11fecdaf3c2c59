// A rule's first windows run in PCRE2's interpreter and later ones in its JIT copy
// (Matcher::Impl::code_for): both must report the same hits, from any thread.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "credsift/match.hpp"

namespace credsift {
namespace {

Rule make_rule(std::string id, std::string pattern) {
  Rule rule;
  rule.id = std::move(id);
  rule.pattern = std::move(pattern);
  rule.file = "test.json";
  return rule;
}

struct Seen {
  size_t begin, end, secret_begin, secret_end, user_begin;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> scan_once(const Matcher& matcher, Matcher::Scratch& scratch,
                            std::string_view text) {
  std::vector<Hit> hits;
  matcher.scan(text, 0, scratch, hits);
  std::vector<Seen> seen;
  for (const Hit& hit : hits) {
    size_t user = SIZE_MAX;
    for (const NamedSpan& c : hit.captures)
      if (c.name == "user") user = c.span.begin;
    seen.push_back({hit.match.begin, hit.match.end, hit.secret.begin, hit.secret.end, user});
  }
  return seen;
}

TEST(PcreJitOnDemand, InterpretedAndJitWindowsFindTheSameHits) {
  RuleSet set;
  set.rules.push_back(
      make_rule("t.pair", R"(\b(?<user>[a-z]{3,8})_(?:alt_)?tok_(?<secret>[A-Za-z0-9]{10,12})\b)"));
  const Matcher matcher(std::move(set));
  const std::string text =
      "x ann_tok_abcdEFGH1234 and bob_alt_tok_Zyxw987654, no cat_tok_short, end dan_tok_QQQQQQQQQQ";
  auto scratch = matcher.make_scratch();
  const std::vector<Seen> first = scan_once(matcher, *scratch, text);
  ASSERT_EQ(first.size(), 3u);
  // Far more windows than are interpreted, from two threads at once.
  auto many = [&] {
    auto local = matcher.make_scratch();
    for (int i = 0; i < 500; ++i) ASSERT_EQ(scan_once(matcher, *local, text), first) << i;
  };
  std::thread other(many);
  many();
  other.join();
  EXPECT_EQ(scan_once(matcher, *scratch, text), first);
}

}  // namespace
}  // namespace credsift

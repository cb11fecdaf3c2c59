#include "credsift/match.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <thread>

namespace credsift {
namespace {

Rule make_rule(std::string id, std::string pattern, bool caseless = false, bool dotall = false) {
  Rule rule;
  rule.id = std::move(id);
  rule.pattern = std::move(pattern);
  rule.caseless = caseless;
  rule.dotall = dotall;
  rule.file = "test.json";
  return rule;
}

RuleSet make_set(std::vector<Rule> rules) {
  RuleSet set;
  set.rules = std::move(rules);
  return set;
}

std::vector<Hit> scan(const Matcher& matcher, std::string_view text, uint32_t segment = 0) {
  auto scratch = matcher.make_scratch();
  std::vector<Hit> hits;
  matcher.scan(text, segment, *scratch, hits);
  return hits;
}

std::string_view slice(std::string_view text, Span span) {
  return text.substr(span.begin, span.end - span.begin);
}

std::string capture(const Hit& hit, std::string_view text, std::string_view name) {
  for (const NamedSpan& c : hit.captures)
    if (c.name == name) return std::string(slice(text, c.span));
  return "<none>";
}

// Runs the constructor and returns the MatchError message ("" if none was thrown).
std::string compile_error(std::vector<Rule> rules) {
  try {
    Matcher matcher(make_set(std::move(rules)));
  } catch (const MatchError& e) {
    return e.what();
  }
  return "";
}

const RuleSet& project_rules() {
  static const RuleSet set = load_rules({std::filesystem::path(CREDSIFT_SOURCE_DIR) / "patterns"});
  return set;
}

// Compiling the project's rules takes seconds; one matcher serves every test that needs it.
const Matcher& project_matcher() {
  static const Matcher matcher(project_rules());
  return matcher;
}

TEST(Matcher, UnboundedRuleIsRefusedById) {
  const std::string error = compile_error({make_rule("ok.rule", R"(tok_(?<secret>[a-z]{8}))"),
                                           make_rule("bad.unbounded", R"(key=(?<secret>\S+))")});
  EXPECT_NE(error.find("bad.unbounded"), std::string::npos) << error;
  EXPECT_NE(error.find("unbounded"), std::string::npos) << error;
  EXPECT_EQ(error.find("ok.rule"), std::string::npos) << error;
}

TEST(Matcher, UncompilablePatternIsNamedWithHyperscansMessage) {
  // Backreferences: PCRE2 accepts them, Hyperscan does not.
  const std::string error = compile_error({make_rule("ok.rule", R"(tok_(?<secret>[a-z]{8}))"),
                                           make_rule("bad.backref", R"((?<secret>[a-z]{4})-\1)"),
                                           make_rule("bad.syntax", R"(tok_(?<secret>[a-z]{8})")});
  EXPECT_NE(error.find("bad.backref"), std::string::npos) << error;
  EXPECT_NE(error.find("bad.syntax"), std::string::npos) << error;
  EXPECT_NE(error.find("Hyperscan"), std::string::npos) << error;
  EXPECT_EQ(error.find("ok.rule"), std::string::npos) << error;
}

TEST(Matcher, PatternWithoutSecretCaptureIsRefused) {
  const std::string error = compile_error({make_rule("no.secret", R"(tok_(?<token>[a-z]{8}))")});
  EXPECT_NE(error.find("no.secret"), std::string::npos) << error;
}

TEST(Matcher, OneDatabaseServesAllProjectRules) {
  const Matcher& matcher = project_matcher();
  EXPECT_EQ(matcher.rules().rules.size(), project_rules().rules.size());
  const std::string text =
      "key ghp_Z8mq2LxW0pTn7rYv4sKb9cJd3fHg6aQe1uIo and npm_Q7v2Lr9xWm4Tz8Kp1Bn6Yc3Hd5Gf0Js2Ea8U\n"
      "db: postgres://app:Qx7pL2mZ9v@db.acme.io/prod\n";
  const auto hits = scan(matcher, text);
  std::set<std::string> ids;
  for (const Hit& hit : hits) ids.insert(project_rules().rules[hit.rule].id);
  EXPECT_TRUE(ids.count("github.pat.classic"));
  EXPECT_TRUE(ids.count("npm.access_token"));
  EXPECT_TRUE(ids.count("connstr.postgres"));
  for (uint32_t i = 0; i < project_rules().rules.size(); ++i) {
    EXPECT_GT(matcher.max_width(i), 0u) << project_rules().rules[i].id;
    EXPECT_LE(matcher.max_width(i), 20000u) << project_rules().rules[i].id;
  }
}

TEST(Matcher, TwoSecretsOfOneRuleInOneSegmentAreBothFound) {
  const Matcher matcher(make_set({make_rule("t.tok", R"(\btok_(?<secret>[a-z0-9]{8})\b)")}));
  const std::string text = "first tok_abcd1234, then tok_wxyz9876 right after";
  const auto hits = scan(matcher, text);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(slice(text, hits[0].secret), "abcd1234");
  EXPECT_EQ(slice(text, hits[0].match), "tok_abcd1234");
  EXPECT_EQ(slice(text, hits[1].secret), "wxyz9876");
}

TEST(Matcher, DistantMatchesOfOneRuleAreBothFound) {
  const Matcher matcher(make_set({make_rule("t.tok", R"(tok_(?<secret>[a-z0-9]{8}))")}));
  std::string text = "tok_abcd1234" + std::string(100000, ' ') + "tok_wxyz9876";
  const auto hits = scan(matcher, text);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].match.begin, 0u);
  EXPECT_EQ(hits[1].match.end, text.size());
}

TEST(Matcher, CapturesUserHostAndSecret) {
  const Matcher& matcher = project_matcher();
  const std::string text = "Use mysql://report_ro:Zp4!kQ9w@mysql.acme.io:3306/sales today";
  const auto hits = scan(matcher, text, 7);
  const Rule* rule = nullptr;
  for (const Hit& hit : hits) {
    if (project_rules().rules[hit.rule].id != "connstr.mysql") continue;
    rule = &project_rules().rules[hit.rule];
    EXPECT_EQ(hit.segment, 7u);
    EXPECT_EQ(slice(text, hit.secret), "Zp4!kQ9w");
    EXPECT_EQ(capture(hit, text, "user"), "report_ro");
    EXPECT_EQ(capture(hit, text, "host"), "mysql.acme.io");
    EXPECT_EQ(capture(hit, text, "scheme"), "mysql");
    EXPECT_EQ(capture(hit, text, "secret"), "<none>");  // secret lives in Hit::secret only
  }
  EXPECT_NE(rule, nullptr);
}

TEST(Matcher, AdoNetCapturesWhatIsPresent) {
  const Matcher& matcher = project_matcher();
  const std::string text = "Server=sql01;Database=hr;User Id=hr_app;Password=Vq8#Lm2x;";
  bool seen = false;
  for (const Hit& hit : scan(matcher, text)) {
    if (project_rules().rules[hit.rule].id != "connstr.ado_net") continue;
    seen = true;
    EXPECT_EQ(slice(text, hit.secret), "Vq8#Lm2x");
    EXPECT_EQ(capture(hit, text, "host"), "sql01");
    EXPECT_EQ(capture(hit, text, "user"), "hr_app");
  }
  EXPECT_TRUE(seen);
}

TEST(Matcher, NumericSuffixReportsOneFieldCapturedInSeveralPlaces) {
  const Matcher matcher(make_set({make_rule(
      "t.alt", R"((?:a=(?<host>[a-z]{3})|b=(?<host_2>[a-z]{3})):(?<secret>[0-9]{4}))")}));
  const std::string text = "b=xyz:1234 a=abc:5678";
  const auto hits = scan(matcher, text);
  ASSERT_EQ(hits.size(), 2u);
  ASSERT_EQ(hits[0].captures.size(), 1u);
  EXPECT_EQ(hits[0].captures[0].name, "host");
  EXPECT_EQ(capture(hits[0], text, "host"), "xyz");
  EXPECT_EQ(capture(hits[1], text, "host"), "abc");
  EXPECT_EQ(slice(text, hits[1].secret), "5678");
}

TEST(Matcher, HitsAtSegmentStartAndEnd) {
  const Matcher matcher(make_set({make_rule("t.tok", R"(\btok_(?<secret>[a-z0-9]{8})\b)")}));
  const std::string alone = "tok_abcd1234";
  auto hits = scan(matcher, alone);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].match.begin, 0u);
  EXPECT_EQ(hits[0].match.end, alone.size());

  const std::string both = "tok_abcd1234 middle tok_wxyz9876";
  hits = scan(matcher, both);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].match.begin, 0u);
  EXPECT_EQ(hits[1].secret.end, both.size());
  EXPECT_TRUE(scan(matcher, "").empty());
}

TEST(Matcher, WordBoundaryAfterTheWindowIsRespected) {
  // PCRE2 sees one byte past the last reported end, so a trailing \b cannot pass on a
  // truncated subject: a 9-character run is no 8-character token.
  const Matcher matcher(make_set({make_rule("t.tok", R"(\btok_(?<secret>[a-z0-9]{8})\b)")}));
  EXPECT_TRUE(scan(matcher, "tok_abcd12345").empty());
  EXPECT_TRUE(scan(matcher, "xtok_abcd1234").empty());
}

TEST(Matcher, GrowingMatchYieldsOneHit) {
  // \S{4,64} makes Hyperscan report up to 61 end offsets; they collapse into one hit.
  const Matcher matcher(make_set({make_rule("t.pw", R"(pw:(?<secret>\S{4,64}))")}));
  const std::string text = "pw:" + std::string(50, 'k') + " and pw:Zq9#xLm2";
  const auto hits = scan(matcher, text);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(slice(text, hits[0].secret).size(), 50u);
  EXPECT_EQ(slice(text, hits[1].secret), "Zq9#xLm2");
}

TEST(Matcher, WindowIsBoundedByMaxWidth) {
  const Matcher matcher(
      make_set({make_rule("t.tok", R"(tok_(?<secret>[a-z0-9]{8}))"),
                make_rule("t.near", R"(key(?<secret>.{0,20}?)end)", false, true)}));
  EXPECT_EQ(matcher.max_width(0), 12u);
  EXPECT_EQ(matcher.max_width(1), 26u);
  // The match starts within max_width of the end Hyperscan reported, and nothing further back
  // (here a second "key" 30 bytes before) is pulled in.
  const std::string text = "key" + std::string(30, '.') + "key12345end";
  const auto hits = scan(matcher, text);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].match.begin, 33u);
  EXPECT_EQ(slice(text, hits[0].secret), "12345");
  EXPECT_THROW((void)matcher.max_width(2), std::out_of_range);
}

TEST(Matcher, HitsAreOrderedByPositionThenRuleWithoutDuplicates) {
  const Matcher matcher(make_set({make_rule("t.b", R"(tok_(?<secret>[a-z0-9]{8}))"),
                                  make_rule("t.a", R"(tok_(?<secret>[a-z0-9]{4}))"),
                                  make_rule("t.c", R"(zz(?<secret>[0-9]{3}))")}));
  const std::string text = "zz123 tok_abcd1234 zz456";
  const auto hits = scan(matcher, text);
  ASSERT_EQ(hits.size(), 4u);
  EXPECT_EQ(hits[0].rule, 2u);
  EXPECT_EQ(hits[0].match.begin, 0u);
  EXPECT_EQ(hits[1].rule, 0u);  // same position: lower rule index first
  EXPECT_EQ(hits[2].rule, 1u);
  EXPECT_EQ(hits[1].match.begin, hits[2].match.begin);
  EXPECT_EQ(hits[3].rule, 2u);
  for (size_t i = 1; i < hits.size(); ++i)
    EXPECT_FALSE(hits[i].rule == hits[i - 1].rule &&
                 hits[i].match.begin == hits[i - 1].match.begin);
}

TEST(Matcher, AppendsToExistingHits) {
  const Matcher matcher(make_set({make_rule("t.tok", R"(tok_(?<secret>[a-z0-9]{8}))")}));
  auto scratch = matcher.make_scratch();
  std::vector<Hit> hits;
  matcher.scan("tok_abcd1234", 0, *scratch, hits);
  matcher.scan("xx tok_wxyz9876", 1, *scratch, hits);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].segment, 0u);
  EXPECT_EQ(hits[1].segment, 1u);
  EXPECT_EQ(hits[1].match.begin, 3u);
}

TEST(Matcher, CaselessAndDotallFlagsApply) {
  const Matcher matcher(
      make_set({make_rule("t.ci", R"(password:(?<secret>[0-9]{4}))", true),
                make_rule("t.dot", R"(begin(?<secret>.{1,8})end)", false, true)}));
  const std::string text = "PassWord:1234 begin\nab\nend";
  const auto hits = scan(matcher, text);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(slice(text, hits[0].secret), "1234");
  EXPECT_EQ(slice(text, hits[1].secret), "\nab\n");
}

TEST(Matcher, InvalidUtf8AroundASecretIsHarmless) {
  const Matcher& matcher = project_matcher();
  const std::string token = "ghp_Z8mq2LxW0pTn7rYv4sKb9cJd3fHg6aQe1uIo";
  const std::string text = "\xff\xfe\xc3 " + token + " \xed\xa0\x80\xc0";
  bool seen = false;
  for (const Hit& hit : scan(matcher, text))
    seen |= project_rules().rules[hit.rule].id == "github.pat.classic" &&
            slice(text, hit.secret) == token;
  EXPECT_TRUE(seen);
}

TEST(Matcher, ScratchPerThreadGivesTheSameHits) {
  const Matcher& matcher = project_matcher();
  std::string text;
  for (int i = 0; i < 200; ++i)
    text += "line " + std::to_string(i) +
            " token ghp_Z8mq2LxW0pTn7rYv4sKb9cJd3fHg6aQe1uIo password: Kx7#mQ2p\n";
  const auto expected = scan(matcher, text);
  ASSERT_EQ(expected.size(), 400u);
  std::vector<std::vector<Hit>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results)
    threads.emplace_back([&] {
      auto scratch = matcher.make_scratch();
      for (int round = 0; round < 5; ++round) {
        result.clear();
        matcher.scan(text, 0, *scratch, result);
      }
    });
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) {
    ASSERT_EQ(result.size(), expected.size());
    for (size_t i = 0; i < result.size(); ++i) {
      EXPECT_EQ(result[i].rule, expected[i].rule);
      EXPECT_EQ(result[i].match.begin, expected[i].match.begin);
      EXPECT_EQ(result[i].secret.end, expected[i].secret.end);
    }
  }
}

TEST(Matcher, ScratchOfAnotherMatcherIsRefused) {
  const Matcher a(make_set({make_rule("t.a", R"(tok_(?<secret>[a-z0-9]{8}))")}));
  const Matcher b(make_set({make_rule("t.b", R"(key_(?<secret>[a-z0-9]{8}))")}));
  auto scratch = a.make_scratch();
  std::vector<Hit> hits;
  EXPECT_THROW(b.scan("key_abcd1234", 0, *scratch, hits), MatchError);
}

TEST(Matcher, EmptyRuleSetFindsNothing) {
  const Matcher matcher(RuleSet{});
  EXPECT_TRUE(scan(matcher, "ghp_Z8mq2LxW0pTn7rYv4sKb9cJd3fHg6aQe1uIo").empty());
}

TEST(Matcher, PemKeysCloseTogetherAreSeparateHits) {
  const Matcher& matcher = project_matcher();
  std::string body;
  for (int i = 0; i < 8; ++i)
    body += "MIIEpAIBAAKCAQEA3Tz2mMw9xQ7kLp0r8VbN1cYfH6sJd4gW2eRtUy5oIaZ+/Pq\n";
  const std::string key =
      "-----BEGIN RSA PRIVATE KEY-----\n" + body + "-----END RSA PRIVATE KEY-----";
  const std::string text = key + "\n\n" + key + "\n";
  int found = 0;
  for (const Hit& hit : scan(matcher, text))
    if (project_rules().rules[hit.rule].id == "private_key.rsa") {
      ++found;
      EXPECT_EQ(slice(text, hit.secret), key);
    }
  EXPECT_EQ(found, 2);
}

}  // namespace
}  // namespace credsift

// The verify stage's rails and answer reading, without a network: rates, the token bucket, the
// host allow-list, endpoint overrides, and how each kind of provider answer is read.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>

#include "credsift/verify.hpp"

namespace credsift {
namespace {

TEST(VerifyRate, ParsesUnits) {
  EXPECT_DOUBLE_EQ(*parse_rate("5/s"), 5);
  EXPECT_DOUBLE_EQ(*parse_rate("120/m"), 2);
  EXPECT_DOUBLE_EQ(*parse_rate("3600/h"), 1);
  EXPECT_DOUBLE_EQ(*parse_rate("2.5"), 2.5);
  EXPECT_FALSE(parse_rate("0/s"));
  EXPECT_FALSE(parse_rate("-1/s"));
  EXPECT_FALSE(parse_rate("5/fortnight"));
  EXPECT_FALSE(parse_rate("fast"));
  EXPECT_EQ(parse_provider_rate("github=2/s"), std::make_pair(std::string("github"), 2.0));
  EXPECT_EQ(parse_provider_rate("4/s"), std::make_pair(std::string(), 4.0));
  EXPECT_THROW(parse_provider_rate("github=lots"), std::invalid_argument);
}

TEST(VerifyRate, TokenBucketWaitsForTokens) {
  TokenBucket bucket(20, 1);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 11; ++i) bucket.acquire();
  // The first token is there at once; ten more at 20/s need at least half a second.
  EXPECT_GE(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 0.45);
}

TEST(VerifyHosts, GlobsAndNetworks) {
  const HostAllowList allow =
      HostAllowList::parse("*.corp.example.com, 10.20.0.0/16,::1,db?.acme.io");
  EXPECT_TRUE(allow.allows_name("pg.corp.example.com"));
  EXPECT_TRUE(allow.allows_name("PG.Corp.Example.com"));
  EXPECT_FALSE(allow.allows_name("corp.example.com.evil.net"));
  EXPECT_TRUE(allow.allows_name("db1.acme.io"));
  EXPECT_FALSE(allow.allows_name("db12.acme.io"));
  EXPECT_TRUE(allow.allows_address("10.20.3.4"));
  EXPECT_FALSE(allow.allows_address("10.21.0.1"));
  EXPECT_TRUE(allow.allows_address("::1"));
  EXPECT_FALSE(allow.allows_address("127.0.0.1"));
  EXPECT_FALSE(allow.allows_address("pg.corp.example.com"));  // names are not addresses
  EXPECT_TRUE(HostAllowList::parse("").empty());
  EXPECT_TRUE(HostAllowList::parse("10.0.0.1/31").allows_address("10.0.0.0"));
  EXPECT_FALSE(HostAllowList::parse("10.0.0.1/31").allows_address("10.0.0.2"));
  EXPECT_THROW(HostAllowList::parse("10.0.0.0/33"), std::invalid_argument);
  EXPECT_THROW(HostAllowList::parse("db.acme.io/8"), std::invalid_argument);
}

TEST(VerifyEndpoint, HttpsOnly) {
  EXPECT_EQ(parse_provider_endpoint("github=https://ghe.acme.io/api/v3/"),
            std::make_pair(std::string("github"), std::string("https://ghe.acme.io/api/v3")));
  EXPECT_THROW(parse_provider_endpoint("github=http://127.0.0.1:8080"), std::invalid_argument);
  EXPECT_THROW(parse_provider_endpoint("https://127.0.0.1"), std::invalid_argument);
}

TEST(VerifyRules, RuleIdsMapToVerifiers) {
  ASSERT_NE(verifier_for_rule("github.pat.classic"), nullptr);
  EXPECT_EQ(verifier_for_rule("github.pat.classic")->provider, "github");
  EXPECT_EQ(verifier_for_rule("gitlab.pat")->provider, "gitlab");
  EXPECT_EQ(verifier_for_rule("slack.bot_token")->provider, "slack");
  EXPECT_EQ(verifier_for_rule("npm.access_token")->provider, "npm");
  EXPECT_EQ(verifier_for_rule("connstr.postgres"), nullptr);
  for (const HttpVerifier& verifier : http_verifiers())
    EXPECT_TRUE(verifier.base_url.starts_with("https://")) << verifier.provider;
}

TEST(VerifyAnswer, StatusCodesAndIdentity) {
  const HttpVerifier& github = *verifier_for_rule("github.pat.classic");
  const Verification live = interpret_http_answer(github, 200, R"({"login":"octo","id":7})",
                                                  {{"x-oauth-scopes", "repo"}});
  EXPECT_EQ(live.state, VerificationState::Live);
  const Evidence expected = {{"login", "octo"}, {"id", "7"}, {"x-oauth-scopes", "repo"}};
  EXPECT_EQ(live.identity, expected);
  EXPECT_EQ(interpret_http_answer(github, 401, "{}", {}).state, VerificationState::Revoked);
  // Nothing but a clear "invalid" from the provider is revoked.
  for (const long status : {403L, 404L, 429L, 500L, 502L, 503L, 0L})
    EXPECT_EQ(interpret_http_answer(github, status, "", {}).state, VerificationState::Unknown)
        << status;
  const Verification limited = interpret_http_answer(github, 429, "", {{"retry-after", "30"}});
  EXPECT_NE(limited.reason.find("retry after 30"), std::string::npos);
}

TEST(VerifyAnswer, SlackOkField) {
  const HttpVerifier& slack = *verifier_for_rule("slack.bot_token");
  EXPECT_EQ(interpret_http_answer(slack, 200, R"({"ok":true,"user":"bot"})", {}).state,
            VerificationState::Live);
  EXPECT_EQ(interpret_http_answer(slack, 200, R"({"ok":false,"error":"invalid_auth"})", {}).state,
            VerificationState::Revoked);
  EXPECT_EQ(interpret_http_answer(slack, 200, R"({"ok":false,"error":"ratelimited"})", {}).state,
            VerificationState::Unknown);
  EXPECT_EQ(interpret_http_answer(slack, 200, "<html>", {}).state, VerificationState::Unknown);
}

TEST(VerifyAnswer, SlackWebhookMalformedPost) {
  const HttpVerifier& hook = *verifier_for_rule("slack.webhook");
  EXPECT_TRUE(hook.secret_is_url);
  EXPECT_EQ(interpret_http_answer(hook, 400, "invalid_payload", {}).state, VerificationState::Live);
  EXPECT_EQ(interpret_http_answer(hook, 400, "something else", {}).state,
            VerificationState::Unknown);
  EXPECT_EQ(interpret_http_answer(hook, 404, "no_service", {}).state, VerificationState::Revoked);
  EXPECT_EQ(interpret_http_answer(hook, 500, "", {}).state, VerificationState::Unknown);
}

TEST(VerifyTickets, NotCheckedWithoutVerifierOrSelection) {
  Rule prose;
  prose.id = "generic.password";
  Ticket nothing;
  nothing.rule = &prose;
  nothing.rules = {"generic.password"};
  nothing.secret = "hunter2";
  nothing.fingerprint = "a";
  Ticket github = nothing;
  github.rules = {"github.pat.classic"};
  github.fingerprint = "b";
  std::vector<Ticket> tickets = {nothing, github};
  VerifyOptions options;
  options.providers = {"slack"};
  std::ostringstream plan;
  const VerifyCounts counts = verify_tickets(tickets, options, plan);
  EXPECT_EQ(counts.contacted, 0u);
  EXPECT_EQ(counts.not_checked, 2u);
  EXPECT_EQ(tickets[0].verification.state, VerificationState::NotChecked);
  EXPECT_NE(tickets[0].verification.reason.find("no verifier"), std::string::npos);
  EXPECT_NE(tickets[1].verification.reason.find("not selected"), std::string::npos);
  options.providers = {"nosuchprovider"};
  EXPECT_THROW(verify_tickets(tickets, options, plan), std::invalid_argument);
}

}  // namespace
}  // namespace credsift

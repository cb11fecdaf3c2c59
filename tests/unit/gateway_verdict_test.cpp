// Gateway verdicts: the strongest action wins, allowlists, internal mail, fail-open/closed for
// failures, time-outs and malformed mail, and the texts that leave the milter (no secrets).
#include <gtest/gtest.h>

#include "credsift/gateway.hpp"

namespace credsift::gateway {
namespace {

Rule make_rule(std::string id, Severity severity) {
  Rule rule;
  rule.id = std::move(id);
  rule.severity = severity;
  return rule;
}

const Rule kCritical = make_rule("private_key.rsa", Severity::Critical);
const Rule kHigh = make_rule("aws.secret_access_key", Severity::High);
const Rule kLow = make_rule("password.prose.en", Severity::Low);

Finding finding(const Rule& rule, ValidationStatus status, std::string secret = "s3cr3tValue!") {
  Finding out;
  out.rule = &rule;
  out.secret = std::move(secret);
  out.fingerprint = fingerprint(out.secret);
  out.validation.status = status;
  out.part_path = "2:attachment=id_rsa";
  return out;
}

MessageResult result_with(std::vector<Finding> findings) {
  MessageResult result;
  result.findings = std::move(findings);
  return result;
}

Policy test_policy() {
  Policy policy;
  policy.actions.entries["critical"]["*"] = Action::Reject;
  policy.actions.entries["high"]["*"] = Action::Hold;
  policy.actions.entries["*"]["*"] = Action::Tag;
  policy.actions.entries["*"]["rejected"] = Action::Pass;
  policy.actions.entries["critical"]["rejected"] = Action::Pass;
  return policy;
}

const MailEnvelope kOutbound{"ann@corp.test", {"partner@other.test"}};

TEST(GatewayVerdict, NoFindingsPasses) {
  const Verdict verdict = decide(test_policy(), kOutbound, MessageResult{});
  EXPECT_EQ(verdict.action, Action::Pass);
  EXPECT_EQ(verdict.reason, "no credentials found");
}

TEST(GatewayVerdict, StrongestActionWinsAndPassedFindingsAreDropped) {
  const Verdict verdict = decide(test_policy(), kOutbound,
                                 result_with({finding(kLow, ValidationStatus::Unverified),
                                              finding(kCritical, ValidationStatus::StructureValid),
                                              finding(kLow, ValidationStatus::Rejected),
                                              finding(kHigh, ValidationStatus::Unverified)}));
  EXPECT_EQ(verdict.action, Action::Reject);
  EXPECT_EQ(verdict.findings.size(), 3u);  // the rejected (placeholder) hit passes
  EXPECT_EQ(verdict.reason, "private_key.rsa (critical, structure-valid) and 2 more");
}

TEST(GatewayVerdict, PlaceholderOnlyPasses) {
  const Verdict verdict = decide(test_policy(), kOutbound,
                                 result_with({finding(kCritical, ValidationStatus::Rejected)}));
  EXPECT_EQ(verdict.action, Action::Pass);
  EXPECT_TRUE(verdict.findings.empty());
}

TEST(GatewayVerdict, UncoveredFindingGetsTheDefaultAction) {
  Policy policy;
  policy.actions.entries["low"]["*"] = Action::Pass;
  policy.default_action = Action::Hold;
  EXPECT_EQ(
      decide(policy, kOutbound, result_with({finding(kHigh, ValidationStatus::Unverified)})).action,
      Action::Hold);
  EXPECT_EQ(
      decide(policy, kOutbound, result_with({finding(kLow, ValidationStatus::Unverified)})).action,
      Action::Pass);
}

TEST(GatewayVerdict, AllowlistedRuleDoesNotCount) {
  Policy policy = test_policy();
  policy.allow_rules = {"private_key.rsa"};
  const Verdict verdict =
      decide(policy, kOutbound, result_with({finding(kCritical, ValidationStatus::Unverified)}));
  EXPECT_EQ(verdict.action, Action::Pass);
}

TEST(GatewayVerdict, InternalMailUsesTheInternalTable) {
  Policy policy = test_policy();
  policy.internal_domains = {"corp.test"};
  policy.internal_actions.emplace();
  policy.internal_actions->entries["*"]["*"] = Action::Tag;
  const auto critical = [] {
    return result_with({finding(kCritical, ValidationStatus::Unverified)});
  };
  const Verdict internal = decide(policy, {"ann@corp.test", {"<Bob@CORP.test>"}}, critical());
  EXPECT_EQ(internal.action, Action::Tag);
  EXPECT_NE(internal.reason.find("internal mail"), std::string::npos);
  // One outside recipient makes the whole message external.
  EXPECT_EQ(
      decide(policy, {"ann@corp.test", {"bob@corp.test", "eve@other.test"}}, critical()).action,
      Action::Reject);
  EXPECT_EQ(decide(policy, {"mallory@other.test", {"bob@corp.test"}}, critical()).action,
            Action::Reject);
}

TEST(GatewayVerdict, FailedScanFollowsOnError) {
  MessageResult failed;
  failed.failed = true;
  failed.failure = "out of memory";
  Policy policy = test_policy();
  policy.on_error = FailMode::Open;
  EXPECT_EQ(decide(policy, kOutbound, failed).action, Action::Tag);
  policy.on_error = FailMode::Closed;
  const Verdict closed = decide(policy, kOutbound, failed);
  EXPECT_EQ(closed.action, Action::Hold);
  EXPECT_EQ(closed.reason, "scan failed (out of memory); on_error fail-closed");
}

TEST(GatewayVerdict, TimeoutIsAFloorNotACeiling) {
  Policy policy = test_policy();
  MessageResult timed_out;
  timed_out.timed_out = true;
  policy.on_timeout = FailMode::Open;
  EXPECT_EQ(decide(policy, kOutbound, timed_out).action, Action::Tag);
  policy.on_timeout = FailMode::Closed;
  EXPECT_EQ(decide(policy, kOutbound, timed_out).action, Action::Hold);
  // What was found before the limit still counts.
  MessageResult partial = result_with({finding(kCritical, ValidationStatus::Unverified)});
  partial.timed_out = true;
  EXPECT_EQ(decide(policy, kOutbound, partial).action, Action::Reject);
}

TEST(GatewayVerdict, MalformedMailFollowsOnMalformedWhenSet) {
  MessageResult malformed;
  malformed.problems.push_back({12, "truncated base64"});
  Policy policy = test_policy();
  EXPECT_EQ(decide(policy, kOutbound, malformed).action, Action::Pass);  // "ignore"
  policy.on_malformed = FailMode::Open;
  EXPECT_EQ(decide(policy, kOutbound, malformed).action, Action::Tag);
  policy.on_malformed = FailMode::Closed;
  const Verdict held = decide(policy, kOutbound, malformed);
  EXPECT_EQ(held.action, Action::Hold);
  EXPECT_EQ(held.decode_problems, 1u);
  EXPECT_NE(held.reason.find("truncated base64"), std::string::npos);
}

TEST(GatewayVerdict, TextsLeavingTheGatewayNeverCarryTheSecret) {
  const std::string secret = "AKIAsuperSECRETvalue123%\r\nX";
  const Verdict verdict =
      decide(test_policy(), kOutbound,
             result_with({finding(kCritical, ValidationStatus::Unverified, secret),
                          finding(kHigh, ValidationStatus::Unverified, secret),
                          finding(kHigh, ValidationStatus::Unverified, secret)}));
  const std::string json = verdict_to_json(verdict);
  const std::string summary = findings_summary(verdict);
  const std::string reply = reject_text(verdict);
  for (const std::string& text : {json, summary, reply})
    EXPECT_EQ(text.find("superSECRET"), std::string::npos) << text;
  EXPECT_EQ(summary, "3 private_key.rsa, aws.secret_access_key");
  EXPECT_NE(reply.find("private_key.rsa in part 2:attachment=id_rsa"), std::string::npos) << reply;
  for (char c : reply) EXPECT_TRUE(c >= 0x20 && c < 0x7f && c != '%') << reply;
  EXPECT_NE(json.find("\"action\":\"reject\""), std::string::npos);
  EXPECT_NE(json.find("\"secret\":\"AKIA…\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"fingerprint\":\"" + fingerprint(secret) + "\""), std::string::npos);
}

// check_message with a real one-rule matcher: scan, validation status, allowlists, deadline.
class GatewayCheck : public ::testing::Test {
 protected:
  GatewayCheck() : matcher_(rules(), no_cache()), scratch_(matcher_.make_scratch()) {}
  static RuleSet rules() {
    RuleSet set;
    Rule rule = make_rule("test.password", Severity::Critical);
    rule.pattern = R"(password=(?<secret>\S{4,40}))";
    rule.file = "test.json";
    set.rules.push_back(rule);
    return set;
  }
  static MatcherOptions no_cache() {
    MatcherOptions options;
    options.use_cache = false;
    return options;
  }
  Verdict check(std::string_view message, const Policy& policy,
                const MailEnvelope& envelope = kOutbound) {
    return check_message(message, envelope, policy, matcher_, *scratch_);
  }
  Matcher matcher_;
  std::unique_ptr<Matcher::Scratch> scratch_;
};

constexpr std::string_view kLeak = "Subject: db\r\n\r\nuse password=Zq7#vL2pW9xR4tY8 please\r\n";
constexpr std::string_view kPlaceholder = "Subject: db\r\n\r\nuse password=<password> here\r\n";

TEST_F(GatewayCheck, RealSecretIsRejectedPlaceholderPasses) {
  const Verdict leak = check(kLeak, test_policy());
  EXPECT_EQ(leak.action, Action::Reject);
  ASSERT_EQ(leak.findings.size(), 1u);
  EXPECT_EQ(leak.findings[0].part_path, "1");
  EXPECT_TRUE(leak.scanned);
  EXPECT_EQ(check(kPlaceholder, test_policy()).action, Action::Pass);
}

TEST_F(GatewayCheck, AllowlistedSenderOrRecipientsSkipTheScan) {
  Policy policy = test_policy();
  policy.allow_senders = {"@corp.test"};
  const Verdict sender = check(kLeak, policy);
  EXPECT_EQ(sender.action, Action::Pass);
  EXPECT_FALSE(sender.scanned);
  policy.allow_senders.clear();
  policy.allow_recipients = {"@vault.test"};
  EXPECT_EQ(check(kLeak, policy, {"a@corp.test", {"x@vault.test"}}).action, Action::Pass);
  EXPECT_EQ(check(kLeak, policy, {"a@corp.test", {"x@vault.test", "y@other.test"}}).action,
            Action::Reject);
}

TEST_F(GatewayCheck, DeadlineStopsTheScan) {
  Policy policy = test_policy();
  policy.max_scan_time = std::chrono::milliseconds(0);  // already passed when the scan starts
  policy.on_timeout = FailMode::Closed;
  const Verdict verdict = check(kLeak, policy);
  EXPECT_EQ(verdict.action, Action::Hold);
  EXPECT_TRUE(verdict.findings.empty());
  EXPECT_NE(verdict.reason.find("0 ms limit, on_timeout fail-closed"), std::string::npos)
      << verdict.reason;
  policy.on_timeout = FailMode::Open;
  EXPECT_EQ(check(kLeak, policy).action, Action::Tag);
}

}  // namespace
}  // namespace credsift::gateway

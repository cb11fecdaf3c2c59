// Gateway policy file: parsing, errors that name the key, lookup order, allowlist patterns.
#include <gtest/gtest.h>

#include "credsift/gateway.hpp"

namespace credsift::gateway {
namespace {

TEST(GatewayPolicy, ParsesEveryKey) {
  const Policy policy = parse_policy(R"({
    "comment": "test",
    "actions": {"critical": {"*": "reject", "rejected": "pass"}, "*": {"*": "tag"}},
    "internal_actions": {"*": {"*": "pass"}},
    "default_action": "reject",
    "allow": {"senders": ["Boss@Example.COM", "@trusted.test"], "recipients": ["@vault.test"],
              "rules": ["password.prose.en"]},
    "internal_domains": ["@Corp.Test", "corp2.test"],
    "max_scan_ms": 250,
    "on_timeout": "fail-closed",
    "on_error": "fail-open",
    "on_malformed": "fail-closed"
  })",
                                     "test.json");
  EXPECT_EQ(policy.actions.lookup("critical", "unverified"), Action::Reject);
  EXPECT_EQ(policy.actions.lookup("critical", "rejected"), Action::Pass);
  EXPECT_EQ(policy.actions.lookup("low", "rejected"), Action::Tag);
  ASSERT_TRUE(policy.internal_actions);
  EXPECT_EQ(policy.internal_actions->lookup("high", "checksum-valid"), Action::Pass);
  EXPECT_EQ(policy.default_action, Action::Reject);
  EXPECT_EQ(policy.allow_senders, (std::vector<std::string>{"boss@example.com", "@trusted.test"}));
  EXPECT_EQ(policy.allow_rules, (std::vector<std::string>{"password.prose.en"}));
  EXPECT_EQ(policy.internal_domains, (std::vector<std::string>{"corp.test", "corp2.test"}));
  EXPECT_EQ(policy.max_scan_time.count(), 250);
  EXPECT_EQ(policy.on_timeout, FailMode::Closed);
  EXPECT_EQ(policy.on_error, FailMode::Open);
  EXPECT_EQ(policy.on_malformed, FailMode::Closed);
  EXPECT_EQ(policy.origin, "test.json");
}

TEST(GatewayPolicy, ExampleFileShippedWithTheSourcesLoads) {
  const Policy policy = load_policy(std::filesystem::path(CREDSIFT_SOURCE_DIR) /
                                    "scanner/gateway/policy.example.json");
  EXPECT_EQ(policy.actions.lookup("critical", "structure-valid"), Action::Reject);
  EXPECT_EQ(policy.actions.lookup("critical", "rejected"), Action::Pass);
  EXPECT_FALSE(policy.on_malformed);
}

TEST(GatewayPolicy, LookupPrefersExactThenWildcards) {
  ActionTable table;
  table.entries["high"]["checksum-valid"] = Action::Reject;
  table.entries["high"]["*"] = Action::Hold;
  table.entries["*"]["rejected"] = Action::Pass;
  table.entries["*"]["*"] = Action::Tag;
  EXPECT_EQ(table.lookup("high", "checksum-valid"), Action::Reject);
  EXPECT_EQ(table.lookup("high", "rejected"), Action::Hold);  // severity row before "*" row
  EXPECT_EQ(table.lookup("low", "rejected"), Action::Pass);
  EXPECT_EQ(table.lookup("low", "a-status-added-later"), Action::Tag);
  EXPECT_FALSE(ActionTable{}.lookup("low", "unverified"));
}

void expect_error(const std::string& json, const std::string& fragment) {
  try {
    parse_policy(json, "p.json");
    ADD_FAILURE() << "accepted: " << json;
  } catch (const PolicyError& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("p.json"), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
  }
}

TEST(GatewayPolicy, ErrorsNameTheFileAndTheKey) {
  expect_error("{", "invalid JSON");
  expect_error("[]", "must be a JSON object");
  expect_error("{}", "'actions': missing");
  expect_error(R"({"actions": {}, "max_scan": 5})", "'max_scan': unknown key");
  expect_error(R"({"actions": {"hgh": {"*": "hold"}}})", "'actions.hgh': unknown severity");
  expect_error(R"({"actions": {"high": {"*": "drop"}}})", "'actions.high.*': unknown action");
  expect_error(R"({"actions": {"high": {"Checksum Valid": "hold"}}})", "'actions.high.Checksum");
  expect_error(R"({"actions": {"high": "hold"}})", "'actions.high': must be an object");
  expect_error(R"({"actions": {}, "max_scan_ms": 0})", "positive");
  expect_error(R"({"actions": {}, "on_timeout": "open"})", "fail-open or fail-closed");
  expect_error(R"({"actions": {}, "allow": {"sender": []}})", "'allow.sender'");
  expect_error(R"({"actions": {}, "allow": {"senders": [""]}})", "empty string");
  expect_error(R"({"actions": {}, "internal_domains": "corp.test"})", "array of strings");
}

TEST(GatewayPolicy, MissingFileIsAnError) {
  EXPECT_THROW(load_policy("/nonexistent/credsift-policy.json"), PolicyError);
}

TEST(GatewayPolicy, AddressPatterns) {
  const std::vector<std::string> patterns{"boss@example.com", "@trusted.test"};
  EXPECT_TRUE(address_matches("<Boss@Example.com>", patterns));
  EXPECT_TRUE(address_matches("anyone@TRUSTED.test", patterns));
  EXPECT_FALSE(address_matches("anyone@sub.trusted.test", patterns));
  EXPECT_FALSE(address_matches("boss@example.com.evil", patterns));
  EXPECT_FALSE(address_matches("<>", patterns));
}

TEST(GatewayPolicy, EnvelopeFromHeaders) {
  const MailEnvelope envelope = envelope_from_headers(
      "Subject: x\r\nFrom: \"Ann\" <Ann@Corp.test>\r\nTo: bob@corp.test,\r\n carol@other.test\r\n"
      "CC: Dan <dan@corp.test>\r\n\r\nTo: not-a-header@body.test\r\n");
  EXPECT_EQ(envelope.sender, "ann@corp.test");
  EXPECT_EQ(envelope.recipients,
            (std::vector<std::string>{"bob@corp.test", "carol@other.test", "dan@corp.test"}));
}

}  // namespace
}  // namespace credsift::gateway

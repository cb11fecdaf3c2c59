// The provider token rules (every patterns/*.json except the mail-specific files): coverage,
// metadata that the tickets use, and silence on the benign text that fills real mailboxes.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

#include "credsift/match.hpp"
#include "credsift/rules.hpp"
#include "credsift/validate.hpp"

namespace credsift {
namespace {

const RuleSet& all_rules() {
  static const RuleSet rules = load_rules({std::string(CREDSIFT_SOURCE_DIR) + "/patterns"});
  return rules;
}

bool is_provider_rule(const Rule& rule) {
  static const std::set<std::string> mail_files = {"passwords", "connection-strings",
                                                   "private-keys", "config-files", "files"};
  return !mail_files.contains(rule.file.stem().string());
}

TEST(ProviderRules, CoverAtLeast140Tokens) {
  size_t count = 0;
  std::set<std::string> providers;
  for (const Rule& rule : all_rules().rules)
    if (is_provider_rule(rule)) {
      ++count;
      providers.insert(rule.provider);
    }
  EXPECT_GE(count, 140u);
  for (const char* provider :
       {"aws",          "google",      "microsoft",  "azure",     "github",   "gitlab",
        "atlassian",    "slack",       "stripe",     "twilio",    "sendgrid", "mailgun",
        "mailchimp",    "postmark",    "npm",        "pypi",      "docker",   "hashicorp",
        "digitalocean", "heroku",      "cloudflare", "datadog",   "newrelic", "sentry",
        "okta",         "auth0",       "shopify",    "square",    "paypal",   "hubspot",
        "salesforce",   "zendesk",     "dropbox",    "telegram",  "discord",  "openai",
        "anthropic",    "huggingface", "databricks", "snowflake", "grafana",  "jfrog",
        "age",          "wireguard"})
    EXPECT_TRUE(providers.contains(provider)) << provider;
}

// Tickets group findings by provider and link the rotation guidance: the id's namespace must
// name the provider, and random tokens need an entropy floor so that masks and sample values
// ("xxxx", "0000") are rejected.
TEST(ProviderRules, MetadataIsConsistent) {
  for (const Rule& rule : all_rules().rules) {
    if (!is_provider_rule(rule)) continue;
    if (rule.provider != "generic") {  // jwt.token: a format, not a provider
      EXPECT_EQ(rule.id.substr(0, rule.id.find('.')), rule.provider) << rule.id;
    }
    EXPECT_FALSE(rule.name.empty()) << rule.id;
    EXPECT_GE(rule.description.size(), 20u) << rule.id;
    EXPECT_GE(rule.rotation.size(), 40u) << rule.id;
    if (rule.category == "api-token") {
      EXPECT_GE(rule.min_entropy, 2.5) << rule.id;
    }
  }
}

// Deterministic benign mail text: commit and file hashes, UUIDs, base64 image data (also right
// after a line that names a provider), provider names in prose and notification mail.
std::string benign_mail_text() {
  std::mt19937 random(20260105);
  auto hex = [&](size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out += "0123456789abcdef"[random() % 16];
    return out;
  };
  auto base64 = [&](size_t n) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < n; ++i) out += alphabet[random() % 64];
    return out;
  };
  auto uuid = [&] { return hex(8) + "-" + hex(4) + "-4" + hex(3) + "-a" + hex(3) + "-" + hex(12); };
  static const char* provider_lines[] = {
      "[JIRA] (ACME-1234) Deploy fails on staging, updated by Jane in Jira",
      "Datadog monitor triggered: p99 latency above 800 ms on checkout",
      "The Sentry issue links to the Confluence runbook page",
      "Cloudflare purge done, the Heroku dyno restarted, Okta SSO works again",
      "Please rotate the Vault token and the Auth0 secret before Friday",
      "Slack, Discord and Telegram bots are muted during the freeze",
      "the new Azure DevOps pipeline pulls from Docker Hub and PyPI",
  };
  std::string text;
  for (int message = 0; message < 300; ++message) {
    text += "From: build@acme.test\nSubject: nightly report " + std::to_string(message) + "\n\n";
    text += provider_lines[message % std::size(provider_lines)];
    text += "\n";
    for (int line = 0; line < 4; ++line) text += base64(76) + "\n";
    text += "commit " + hex(40) + "\nsha256 " + hex(64) + "  artifact.tar.gz\n";
    text += "request-id: " + uuid() + " trace " + uuid() + "\n";
    text += "md5 " + hex(32) + " size 18231\n";
    text += "<img src=\"data:image/png;base64," + base64(300) + "=\">\n\n";
  }
  return text;
}

TEST(ProviderRules, QuietOnBenignMailText) {
  const Matcher matcher(all_rules());
  auto scratch = matcher.make_scratch();
  const std::string text = benign_mail_text();
  std::vector<Hit> hits;
  matcher.scan(text, 0, *scratch, hits);
  for (const Hit& hit : hits) {
    const Rule& rule = all_rules().rules[hit.rule];
    if (!is_provider_rule(rule)) continue;
    const std::string secret = text.substr(hit.secret.begin, hit.secret.end - hit.secret.begin);
    EXPECT_EQ(validate(rule, secret).status, ValidationStatus::Rejected)
        << rule.id << " fired on benign text: '" << secret << "'";
  }
}

}  // namespace
}  // namespace credsift

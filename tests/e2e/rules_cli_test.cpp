// End-to-end: `credsift rules list|check` and the rule selection options, on the built binary.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "support.hpp"

namespace fs = std::filesystem;
using namespace credsift::e2e;

namespace {

// Runs credsift with the shared compiled-database cache: it is keyed by the rules' content, so
// runs with different rule sets never see each other's database.
ScanRun credsift(const std::string& arguments) { return run_credsift(arguments); }

size_t count_lines(const std::string& text) {
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

// The rule ids of a `rules list --json` output, checking that every line is a rule object.
std::set<std::string> listed_ids(const std::string& json_lines) {
  std::set<std::string> ids;
  simdjson::dom::parser parser;
  std::istringstream in(json_lines);
  std::string line;
  while (std::getline(in, line)) {
    simdjson::dom::element rule = parser.parse(line);
    for (const char* field : {"provider", "category", "severity"})
      EXPECT_FALSE(rule[field].get_string().value().empty()) << field << " in " << line;
    ids.emplace(rule["id"].get_string().value());
  }
  return ids;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A user rule file with one rule whose examples hold (good) or do not (bad).
std::string user_rule(const std::string& id, const std::string& example_secret) {
  return R"({"rules": [{"id": ")" + id + R"(", "name": "Acme internal token",
    "description": "Token of the Acme internal API", "provider": "acme", "category": "api-token",
    "pattern": "\\b(?<secret>acme_[A-Za-z0-9]{24})\\b", "severity": "high", "confidence": "high",
    "examples": [{"text": "token acme_Q7vRx2kL9mNsP4tW8yB1cF6h here", "secret": ")" +
         example_secret + R"("}],
    "negative_examples": ["acme_short", "no token here"],
    "references": ["https://example.com/acme-tokens"],
    "rotation": "Revoke it in the Acme admin console under API tokens and issue a new one."}]})";
}

TEST(RulesList, JsonHasEveryRuleAndTheCategoryFilterNarrowsIt) {
  const ScanRun all = credsift("rules list --json");
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const std::set<std::string> ids = listed_ids(all.out);
  EXPECT_GE(ids.size(), 70u);
  for (const char* id : {"password.prose.en", "password.prose.ja", "connstr.postgres",
                         "connstr.jdbc", "config.netrc", "private_key.putty"})
    EXPECT_TRUE(ids.count(id)) << id;

  const ScanRun passwords = credsift("rules list --json --category password");
  ASSERT_EQ(passwords.exit_code, 0) << passwords.err;
  const std::set<std::string> password_ids = listed_ids(passwords.out);
  EXPECT_GE(password_ids.size(), 12u);
  EXPECT_LT(password_ids.size(), ids.size());
  EXPECT_TRUE(password_ids.count("password.prose.de"));
  EXPECT_FALSE(password_ids.count("connstr.postgres"));

  const ScanRun table = credsift("rules list");
  ASSERT_EQ(table.exit_code, 0);
  EXPECT_EQ(count_lines(table.out), ids.size() + 1);  // a header line, then one per rule
  EXPECT_NE(table.out.find("connstr.mongodb"), std::string::npos);
}

TEST(RulesList, RulesetsEnableAndDisable) {
  const std::set<std::string> all = listed_ids(credsift("rules list --json --ruleset all").out);
  const std::set<std::string> standard =
      listed_ids(credsift("rules list --json --ruleset default").out);
  const std::set<std::string> strict =
      listed_ids(credsift("rules list --json --ruleset strict").out);
  EXPECT_LT(strict.size(), standard.size());
  EXPECT_LT(standard.size(), all.size());
  EXPECT_TRUE(all.count("config.env.token"));  // noisy: only in 'all'
  EXPECT_FALSE(standard.count("config.env.token"));
  EXPECT_TRUE(standard.count("password.prose.en"));  // medium confidence: not strict
  EXPECT_FALSE(strict.count("password.prose.en"));
  EXPECT_TRUE(strict.count("private_key.rsa"));

  const std::set<std::string> narrowed = listed_ids(
      credsift("rules list --json --ruleset default --disable 'password.prose.*' --disable "
               "private-key --enable config.env.token")
          .out);
  EXPECT_FALSE(narrowed.count("password.prose.fr"));
  EXPECT_FALSE(narrowed.count("private_key.rsa"));
  EXPECT_TRUE(narrowed.count("password.wifi.psk"));
  EXPECT_TRUE(narrowed.count("config.env.token"));
  EXPECT_TRUE(narrowed.count("connstr.postgres"));

  const ScanRun typo = credsift("rules list --disable pasword.prose.en");
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("pasword.prose.en"), std::string::npos) << typo.err;
  const ScanRun bad_ruleset = credsift("rules list --ruleset lenient");
  EXPECT_EQ(bad_ruleset.exit_code, 2);
  EXPECT_NE(bad_ruleset.err.find("lenient"), std::string::npos) << bad_ruleset.err;
}

TEST(RulesCheck, UserRulesPassAndABrokenExampleIsNamed) {
  TempDir dir;
  write_file(dir.path() / "acme.json",
             user_rule("acme.internal_token", "acme_Q7vRx2kL9mNsP4tW8yB1cF6h"));
  const ScanRun good = credsift("rules check --no-default-rules '" + dir.path().string() + "'");
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  EXPECT_NE(good.out.find("1 rules, 3 examples and negatives, 0 failures"), std::string::npos)
      << good.out;

  write_file(dir.path() / "acme.json",
             user_rule("acme.internal_token", "acme_Q7vRx2kL9mNsP4tW8yB1"));  // cut short
  const ScanRun bad = credsift("rules check --no-default-rules '" + dir.path().string() + "'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("FAIL acme.internal_token"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("token acme_Q7vRx2kL9mNsP4tW8yB1cF6h here"), std::string::npos) << bad.out;
}

TEST(RulesCheck, AnUncompilableRuleIsNamed) {
  TempDir dir;
  std::string rule = user_rule("acme.unbounded", "acme_Q7vRx2kL9mNsP4tW8yB1cF6h");
  rule.replace(rule.find("{24}"), 4, "+");
  write_file(dir.path() / "acme.json", rule);
  const ScanRun run = credsift("rules check --no-default-rules '" + dir.path().string() + "'");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("acme.unbounded"), std::string::npos) << run.err;
}

TEST(RulesCheck, TheBuiltInLibraryCompilesAndRunsItsExamples) {
  const ScanRun run = credsift("rules check --disable 'file.*'");
  // The library's own unit test decides pass or fail; here the command must run it all.
  EXPECT_TRUE(run.exit_code == 0 || run.exit_code == 1) << run.err;
  EXPECT_NE(run.out.find(" rules, "), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("FAIL password.prose."), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("FAIL connstr."), std::string::npos) << run.out;
}

TEST(ScanSelection, DisableAndEnableChangeWhatAScanReports) {
  TempDir dir;
  // Two rule files keep the three Hyperscan compiles short.
  const std::string rules = std::string(" --no-default-rules --rules '") + CREDSIFT_SOURCE_DIR +
                            "/patterns/passwords.json' --rules '" + CREDSIFT_SOURCE_DIR +
                            "/patterns/config-files.json' ";
  const fs::path message = dir.path() / "m.eml";
  write_file(message,
             "From: a@acme.test\nTo: b@acme.test\nSubject: access\nMessage-ID: <r1@acme.test>\n\n"
             "Hi,\nyour temporary password is Kx7#mQ2p.\n"
             "MAPS_API_KEY=7f3c9a1e5b2d8f4a6c0e9b7d3a1f5c8e\n");
  const ScanRun standard = credsift("scan -q" + rules + "'" + message.string() + "'");
  EXPECT_EQ(standard.exit_code, 1) << standard.err;
  EXPECT_NE(standard.out.find("password.prose.en"), std::string::npos) << standard.out;
  EXPECT_EQ(standard.out.find("config.env.token"), std::string::npos) << standard.out;

  const ScanRun disabled =
      credsift("scan -q --disable password" + rules + "'" + message.string() + "'");
  EXPECT_EQ(disabled.exit_code, 0) << disabled.out << disabled.err;

  const ScanRun all = credsift("scan -q --ruleset all" + rules + "'" + message.string() + "'");
  EXPECT_EQ(all.exit_code, 1);
  EXPECT_NE(all.out.find("config.env.token"), std::string::npos) << all.out;
}

}  // namespace

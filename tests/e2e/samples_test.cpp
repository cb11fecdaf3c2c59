// End-to-end: the built credsift binary on corpora/samples must report exactly the findings
// listed in corpora/samples.labels.tsv: none missing, none extra (--format findings: one raw
// finding per line). The tickets made of them are checked in tickets_test.cpp.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "support.hpp"

namespace fs = std::filesystem;
using namespace credsift::e2e;

namespace {

using Key = std::tuple<std::string, std::string, std::string, std::string>;  // msg, rule, fp, part

std::multiset<Key> labelled() {
  std::multiset<Key> keys;
  for (const Label& label : sample_labels())
    keys.emplace(label.message, label.rule, label.fingerprint, label.part);
  return keys;
}

struct Reported {
  std::multiset<Key> keys;
  std::vector<std::string> secrets;
};

Reported parse_jsonl(const std::string& text) {
  Reported reported;
  simdjson::dom::parser parser;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    simdjson::dom::element finding = parser.parse(line);
    reported.keys.emplace(strip_angles(finding["message_id"].get_string().value()),
                          std::string(finding["rule_id"].get_string().value()),
                          std::string(finding["fingerprint"].get_string().value()),
                          std::string(finding["part_path"].get_string().value()));
    reported.secrets.emplace_back(finding["secret"].get_string().value());
  }
  return reported;
}

std::string describe(const std::multiset<Key>& keys) {
  std::string out;
  for (const auto& [message, rule, fingerprint, part] : keys)
    out += "  " + message + "  " + rule + "  " + part + "  " + fingerprint.substr(0, 19) + "\n";
  return out;
}

TEST(Samples, ReportsExactlyTheLabelledFindings) {
  TempDir temp;
  const fs::path output = temp.path() / "findings.jsonl";
  const ScanRun run = run_credsift("scan '" + kSamples.string() + "' --format findings --output '" +
                                   output.string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  const std::multiset<Key> expected = labelled();
  const Reported reported = parse_jsonl(slurp(output));

  std::multiset<Key> missing, extra;
  std::set_difference(expected.begin(), expected.end(), reported.keys.begin(), reported.keys.end(),
                      std::inserter(missing, missing.end()));
  std::set_difference(reported.keys.begin(), reported.keys.end(), expected.begin(), expected.end(),
                      std::inserter(extra, extra.end()));
  EXPECT_TRUE(missing.empty()) << "missing findings:\n" << describe(missing) << run.err;
  EXPECT_TRUE(extra.empty()) << "unexpected findings:\n" << describe(extra);
  EXPECT_GE(expected.size(), 20u);  // the labels file was read

  // Every message is accounted for, and all of them were scanned.
  const std::string count = std::to_string(labelled_message_count());
  EXPECT_NE(run.err.find(count + " messages: " + count + " scanned, 0 skipped, 0 failed"),
            std::string::npos)
      << run.err;
  // Output files hold sensitive metadata: owner-only.
  struct stat info {};
  ASSERT_EQ(::stat(output.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST(Samples, SecretsAreRedactedUnlessAsked) {
  const ScanRun redacted = run_credsift("scan --format findings '" + kSamples.string() + "'");
  ASSERT_EQ(redacted.exit_code, 1) << redacted.err;
  const Reported reported = parse_jsonl(redacted.out);
  ASSERT_FALSE(reported.secrets.empty());
  for (const std::string& secret : reported.secrets) {
    EXPECT_TRUE(secret.ends_with("…")) << secret;
    EXPECT_LE(secret.size(), 4 + std::string("…").size()) << secret;
  }
  // The planted Stripe key must not appear anywhere in redacted output, but must with
  // --show-secrets.
  const std::string stripe_prefix = "sk_live_";
  EXPECT_EQ(redacted.out.find(stripe_prefix), std::string::npos);
  const ScanRun clear = run_credsift("scan --show-secrets '" + kSamples.string() + "'");
  EXPECT_NE(clear.out.find(stripe_prefix), std::string::npos);
}

TEST(Samples, OutputIsDeterministicAcrossThreadCounts) {
  const ScanRun one = run_credsift("scan --threads 1 '" + kSamples.string() + "'");
  const ScanRun two = run_credsift("scan --threads 2 '" + kSamples.string() + "'");
  const ScanRun again = run_credsift("scan --threads 2 '" + kSamples.string() + "'");
  EXPECT_EQ(one.exit_code, 1);
  EXPECT_FALSE(one.out.empty());
  EXPECT_EQ(one.out, two.out);
  EXPECT_EQ(two.out, again.out);
}

TEST(Samples, ReadsOneMessageFromStdin) {
  const ScanRun run = run_credsift("scan --format findings -", (kSamples / "eml/s05.eml").string());
  ASSERT_EQ(run.exit_code, 1) << run.err;
  const Reported reported = parse_jsonl(run.out);
  ASSERT_EQ(reported.keys.size(), 1u) << run.out;
  EXPECT_EQ(std::get<1>(*reported.keys.begin()), "slack.bot_token");
  EXPECT_NE(run.err.find("1 messages: 1 scanned"), std::string::npos) << run.err;
}

TEST(Samples, CleanInputExitsZero) {
  TempDir temp;
  const fs::path clean = temp.path() / "clean.eml";
  std::ofstream(clean) << "From: a@acme.test\nTo: b@acme.test\nSubject: hi\n\nNothing here.\n";
  const ScanRun run = run_credsift("scan '" + clean.string() + "'");
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_TRUE(run.out.empty());
}

TEST(Samples, JsonFormatIsOneDocumentOfTheJsonLinesTickets) {
  const ScanRun lines = run_credsift("scan '" + kSamples.string() + "'");
  const ScanRun document = run_credsift("scan --format json '" + kSamples.string() + "'");
  ASSERT_EQ(document.exit_code, 1) << document.err;
  simdjson::dom::parser parser;
  simdjson::dom::element root = parser.parse(document.out);
  const size_t line_count =
      static_cast<size_t>(std::count(lines.out.begin(), lines.out.end(), '\n'));
  EXPECT_EQ(root["tickets"].get_array().size(), line_count);
  EXPECT_EQ(root["summary"]["tickets"].get_uint64().value(), line_count);
  EXPECT_EQ(root["summary"]["messages_scanned"].get_uint64().value(), labelled_message_count());
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run_credsift("scan").exit_code, 2);
  EXPECT_EQ(run_credsift("scan --format nonsense x").exit_code, 2);
  EXPECT_EQ(run_credsift("frobnicate").exit_code, 2);
  const ScanRun help = run_credsift("scan --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--output"), std::string::npos);
  const ScanRun version = run_credsift("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("credsift "), std::string::npos);
}

TEST(Cli, UnreadableInputIsReportedAndTheScanGoesOn) {
  const ScanRun run =
      run_credsift("scan /nonexistent/mailbox '" + (kSamples / "eml/s09.eml").string() + "'");
  // A named input that cannot be read makes the scan incomplete: exit 2, findings still out.
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("/nonexistent/mailbox"), std::string::npos) << run.err;
  EXPECT_NE(run.out.find("password.prose.de"), std::string::npos);
}

}  // namespace

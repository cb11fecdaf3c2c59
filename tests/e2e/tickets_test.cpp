// End-to-end: the labelled sample corpus as rotation tickets, in every output format. The
// expected tickets are derived from corpora/samples.labels.tsv: one ticket per fingerprint, the
// AWS key id riding on the secret key of its message.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "support.hpp"

namespace fs = std::filesystem;
using namespace credsift::e2e;

namespace {

using Occurrence = std::tuple<std::string, std::string, std::string>;  // message, rule, part

struct ExpectedTicket {
  std::set<Occurrence> occurrences;
  std::set<std::string> messages;
};

// fingerprint -> expected ticket
std::map<std::string, ExpectedTicket> expected_tickets() {
  const std::vector<Label> labels = sample_labels();
  std::map<std::string, std::string> aws_secret_of_message;
  for (const Label& l : labels)
    if (l.rule.starts_with("aws.secret_access_key"))
      aws_secret_of_message[l.message] = l.fingerprint;
  std::map<std::string, ExpectedTicket> tickets;
  for (const Label& l : labels) {
    std::string fingerprint = l.fingerprint;
    if (l.rule == "aws.access_key_id" && aws_secret_of_message.count(l.message))
      fingerprint = aws_secret_of_message[l.message];
    tickets[fingerprint].occurrences.emplace(l.message, l.rule, l.part);
    tickets[fingerprint].messages.insert(l.message);
  }
  return tickets;
}

struct CorpusRun {
  TempDir dir;
  ScanRun scan;
  fs::path path(const std::string& name) const { return dir.path() / name; }
};

const CorpusRun& full_run() {
  // Destroyed at exit, which removes its directory.
  static const std::unique_ptr<CorpusRun> run = [] {
    auto r = std::make_unique<CorpusRun>();
    r->scan = run_credsift("scan '" + kSamples.string() + "' --internal-domain acme.test" +
                           " --output 'jsonl=" + r->path("t.jsonl").string() + "'" +
                           " --output 'json=" + r->path("t.json").string() + "'" +
                           " --output 'csv=" + r->path("t.csv").string() + "'" +
                           " --output 'sarif=" + r->path("t.sarif").string() + "'" +
                           " --output 'markdown=" + r->path("t.md").string() + "'");
    return r;
  }();
  return *run;
}

std::string str(simdjson::dom::element e) { return std::string(e.get_string().value()); }

TEST(Tickets, JsonLinesHoldExactlyTheLabelledTickets) {
  const CorpusRun& run = full_run();
  ASSERT_EQ(run.scan.exit_code, 1) << run.scan.err;
  const auto expected = expected_tickets();
  std::istringstream in(slurp(run.path("t.jsonl")));
  std::string line;
  std::set<std::string> seen;
  simdjson::dom::parser parser;
  while (std::getline(in, line)) {
    simdjson::dom::element ticket = parser.parse(line);
    ASSERT_EQ(str(ticket["record"]), "ticket");
    const std::string fingerprint = str(ticket["fingerprint"]);
    ASSERT_TRUE(expected.count(fingerprint)) << "unexpected ticket " << line;
    EXPECT_TRUE(seen.insert(fingerprint).second) << "two tickets for " << fingerprint;
    EXPECT_EQ(str(ticket["id"]), "cs-" + fingerprint.substr(7, 16));
    std::set<Occurrence> occurrences;
    for (simdjson::dom::element o : ticket["occurrences"].get_array())
      occurrences.emplace(strip_angles(str(o["message_id"])), str(o["rule_id"]),
                          str(o["part_path"]));
    EXPECT_EQ(occurrences, expected.at(fingerprint).occurrences) << line;
    EXPECT_EQ(ticket["message_count"].get_uint64().value(),
              expected.at(fingerprint).messages.size());
    const std::string secret = str(ticket["secret"]);
    EXPECT_TRUE(secret.ends_with("…")) << secret;
  }
  EXPECT_EQ(seen.size(), expected.size());
  const std::string count = std::to_string(labelled_message_count());
  EXPECT_NE(run.scan.err.find(count + " messages: " + count + " scanned"), std::string::npos)
      << run.scan.err;
  EXPECT_NE(run.scan.err.find(std::to_string(expected.size()) + " tickets"), std::string::npos)
      << run.scan.err;
}

// The JSON line of the ticket with the given naming rule that occurs in the given message.
std::string find_ticket(const std::string& text, const std::string& rule,
                        const std::string& message) {
  std::istringstream in(text);
  std::string line;
  simdjson::dom::parser parser;
  while (std::getline(in, line)) {
    simdjson::dom::element ticket = parser.parse(line);
    if (str(ticket["rule_id"]) != rule) continue;
    for (simdjson::dom::element o : ticket["occurrences"].get_array())
      if (strip_angles(str(o["message_id"])) == message) return line;
  }
  ADD_FAILURE() << "no " << rule << " ticket for " << message;
  return "{}";
}

TEST(Tickets, OneTokenInThreeMessagesToTwoDomainsIsOneTicket) {
  const CorpusRun& run = full_run();
  simdjson::dom::parser parser;
  const std::string line =
      find_ticket(slurp(run.path("t.jsonl")), "github.pat.classic", "s22@acme.test");
  const simdjson::dom::element t = parser.parse(line);
  EXPECT_EQ(str(t["status"]), "checksum-valid");
  EXPECT_EQ(str(t["confidence"]), "high");
  EXPECT_EQ(t["occurrences"].get_array().size(), 3u);
  std::set<std::string> messages, external, domains;
  for (simdjson::dom::element o : t["occurrences"].get_array())
    messages.insert(strip_angles(str(o["message_id"])));
  for (simdjson::dom::element d : t["exposure"]["external_domains"].get_array())
    external.insert(str(d));
  for (simdjson::dom::element d : t["exposure"]["domains"].get_array()) domains.insert(str(d));
  EXPECT_EQ(messages, (std::set<std::string>{"s22@acme.test", "s23@acme.test", "s24@acme.test"}));
  EXPECT_EQ(external, (std::set<std::string>{"outside.test", "partner.test"}));
  EXPECT_EQ(domains, (std::set<std::string>{"acme.test", "outside.test", "partner.test"}));
  EXPECT_TRUE(t["exposure"]["external"].get_bool().value());
  EXPECT_EQ(str(t["first_seen"]), "2024-04-01T10:00:00Z");
  EXPECT_EQ(str(t["last_seen"]), "2024-04-03T10:00:00Z");
  std::set<std::string> addresses;
  for (simdjson::dom::element a : t["exposure"]["addresses"].get_array()) addresses.insert(str(a));
  EXPECT_EQ(addresses, (std::set<std::string>{"ci@partner.test", "contractor@outside.test",
                                              "dev@acme.test", "pat@outside.test"}));
}

TEST(Tickets, ValidationEvidenceAndIdentity) {
  const std::string text = slurp(full_run().path("t.jsonl"));
  simdjson::dom::parser parser;
  const auto check = [&](const std::string& rule, const std::string& message,
                         const std::string& status,
                         std::vector<std::pair<std::string, std::string>> identity) {
    const std::string line = find_ticket(text, rule, message);
    const simdjson::dom::element t = parser.parse(line);
    EXPECT_EQ(str(t["status"]), status) << rule;
    for (const auto& [name, value] : identity) {
      std::string_view got;
      EXPECT_EQ(t["identity"][name].get(got), simdjson::SUCCESS) << rule << " " << name;
      EXPECT_EQ(got, value) << rule << " " << name;
    }
  };
  check("connstr.postgres", "s06@acme.test", "structure-valid",
        {{"username", "billing_svc"}, {"host", "db01.acme.test"}, {"database", "billing"}});
  check("connstr.ado_net", "s15@acme.test", "structure-valid",
        {{"username", "crm_app"}, {"host", "sql01.acme.test"}});
  check("jwt.token", "s15@acme.test", "structure-valid",
        {{"jwt_subject", "svc-deploy"}, {"jwt_issuer", "auth.acme.test"}});
  check("private_key.rsa", "s12@acme.test", "structure-valid", {{"key_type", "RSA"}});
  check("azure.storage.account_key", "s16@acme.test", "structure-valid", {});
  check("github.pat.classic", "s03@acme.test", "checksum-invalid", {});  // random fake body
  check("password.prose.de", "s09@acme.test", "unverified", {});
  // The AWS key id rides on its secret key's ticket.
  simdjson::dom::parser aws_parser, ado_parser, rsa_parser;
  const std::string aws_line = find_ticket(text, "aws.secret_access_key", "s02@acme.test");
  const simdjson::dom::element aws = aws_parser.parse(aws_line);
  EXPECT_EQ(aws["related"].get_array().size(), 1u);
  EXPECT_EQ(str(aws["related"].at(0)["role"]), "access_key_id");
  EXPECT_TRUE(str(aws["identity"]["access_key_id"]).starts_with("AKIA"));
  // The connection string names the ticket that the prose rule also found.
  const std::string ado_line = find_ticket(text, "connstr.ado_net", "s15@acme.test");
  const simdjson::dom::element ado = ado_parser.parse(ado_line);
  std::set<std::string> rules;
  for (simdjson::dom::element r : ado["rules"].get_array()) rules.insert(str(r));
  EXPECT_TRUE(rules.count("password.prose.en"));
  const std::string rsa_line = find_ticket(text, "private_key.rsa", "s12@acme.test");
  const simdjson::dom::element rsa = rsa_parser.parse(rsa_line);
  EXPECT_EQ(str(rsa["evidence"]["bits"]), "2048");
  EXPECT_EQ(str(rsa["evidence"]["encrypted"]), "false");
}

TEST(Tickets, OrderedBySeverityThenValidation) {
  std::istringstream in(slurp(full_run().path("t.jsonl")));
  std::string line;
  simdjson::dom::parser parser;
  const std::map<std::string, int> severity = {
      {"critical", 3}, {"high", 2}, {"medium", 1}, {"low", 0}};
  int previous = 4;
  while (std::getline(in, line)) {
    const int current = severity.at(str(parser.parse(line)["severity"]));
    EXPECT_LE(current, previous) << line;
    previous = current;
  }
}

std::vector<std::string> jsonl_fingerprints(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  simdjson::dom::parser parser;
  while (std::getline(in, line)) out.push_back(str(parser.parse(line)["fingerprint"]));
  return out;
}

TEST(Tickets, EveryFormatHoldsTheSameTicketsRedacted) {
  const CorpusRun& run = full_run();
  const std::vector<std::string> order = jsonl_fingerprints(slurp(run.path("t.jsonl")));
  ASSERT_EQ(order.size(), expected_tickets().size());

  simdjson::dom::parser parser;
  std::vector<std::string> from_json;
  const simdjson::dom::element document = parser.parse(slurp(run.path("t.json")));
  for (simdjson::dom::element t : document["tickets"].get_array())
    from_json.push_back(str(t["fingerprint"]));
  EXPECT_EQ(from_json, order);
  EXPECT_EQ(document["summary"]["messages_scanned"].get_uint64().value(), labelled_message_count());

  simdjson::dom::parser sarif_parser;
  const simdjson::dom::element sarif = sarif_parser.parse(slurp(run.path("t.sarif")));
  EXPECT_EQ(str(sarif["version"]), "2.1.0");
  std::vector<std::string> from_sarif;
  size_t locations = 0;
  for (simdjson::dom::element result : sarif["runs"].at(0)["results"].get_array()) {
    from_sarif.push_back(str(result["partialFingerprints"]["credsiftFingerprint/v1"]));
    locations += result["locations"].get_array().size();
  }
  EXPECT_EQ(from_sarif, order);
  size_t expected_locations = 0;
  for (const auto& [fp, t] : expected_tickets()) expected_locations += t.occurrences.size();
  EXPECT_EQ(locations, expected_locations);

  const std::string csv = slurp(run.path("t.csv"));
  EXPECT_TRUE(csv.starts_with("id,severity,status,"));
  size_t position = 0;
  for (const std::string& fp : order) {
    const size_t at = csv.find(fp, position);
    EXPECT_NE(at, std::string::npos) << fp;  // rows in ticket order
    if (at != std::string::npos) position = at;
  }
  const std::string markdown = slurp(run.path("t.md"));
  EXPECT_NE(markdown.find("## Exposure by domain"), std::string::npos);
  EXPECT_NE(markdown.find("| outside.test | yes |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("| acme.test | no |"), std::string::npos);
  for (const std::string& fp : order)
    EXPECT_NE(markdown.find("cs-" + fp.substr(7, 16)), std::string::npos) << fp;

  // No clear secret anywhere: every secret that --show-secrets prints is absent.
  std::vector<std::string> secrets;
  {
    std::istringstream in(
        run_credsift("scan --format findings --show-secrets '" + kSamples.string() + "'").out);
    std::string line;
    simdjson::dom::parser finding_parser;
    while (std::getline(in, line)) secrets.push_back(str(finding_parser.parse(line)["secret"]));
  }
  ASSERT_GE(secrets.size(), expected_tickets().size());
  for (const char* name : {"t.jsonl", "t.json", "t.csv", "t.sarif", "t.md"}) {
    const std::string text = slurp(run.path(name));
    for (const std::string& secret : secrets)
      EXPECT_EQ(text.find(secret), std::string::npos) << name << ": " << secret;
    struct stat info {};
    ASSERT_EQ(::stat(run.path(name).c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u) << name;
  }
}

TEST(Tickets, ShowSecretsPrintsThemInClear) {
  const ScanRun run = run_credsift("scan --show-secrets --format csv '" + kSamples.string() + "'");
  EXPECT_NE(run.out.find("sk_live_"), std::string::npos);
  EXPECT_NE(run.out.find("Tr0ub4dor&3xQ"), std::string::npos);
}

TEST(Tickets, BaselineSuppressesKnownTickets) {
  const CorpusRun& run = full_run();
  TempDir temp;
  const fs::path baseline = temp.path() / "baseline.json";
  const ScanRun made = run_credsift("baseline --from '" + run.path("t.jsonl").string() +
                                    "' --output '" + baseline.string() + "'");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  simdjson::dom::parser parser;
  // Every ticket's fingerprint and the AWS key id that rides on one.
  EXPECT_EQ(parser.parse(slurp(baseline))["fingerprints"].get_array().size(),
            expected_tickets().size() + 1);
  const ScanRun again =
      run_credsift("scan --baseline '" + baseline.string() + "' '" + kSamples.string() + "'");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(again.out.empty()) << again.out;
  EXPECT_NE(again.err.find("0 tickets ("), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("suppressed by the baseline"), std::string::npos) << again.err;
  // A tickets file works as a baseline too.
  const ScanRun direct = run_credsift("scan --baseline '" + run.path("t.json").string() + "' '" +
                                      kSamples.string() + "'");
  EXPECT_EQ(direct.exit_code, 0) << direct.err;
  EXPECT_EQ(run_credsift("scan --baseline /nonexistent '" + kSamples.string() + "'").exit_code, 2);
}

TEST(Tickets, DateWindowCountsAndFlagsUndatedMessages) {
  TempDir temp;
  const fs::path undated = temp.path() / "undated.eml";
  std::ofstream(undated) << "From: a@acme.test\nTo: b@else.test\nSubject: no date\n\n"
                         << "Your temporary password is Qw7!zR4pLm2x\n";
  const ScanRun run = run_credsift("scan --since 2024-04-01 --until 2024-04-02 '" +
                                   kSamples.string() + "' '" + undated.string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  // s22 and s23 are in the window, s24 (April 3) and the March messages are not.
  const size_t total = labelled_message_count() + 1;
  // s22 and s23 fall in the window, s24 (April 3) and the March messages do not.
  unsigned long messages = 0, scanned = 0, outside = 0;
  const size_t summary = run.err.find("credsift: ");
  ASSERT_NE(summary, std::string::npos) << run.err;
  ASSERT_EQ(std::sscanf(run.err.c_str() + summary,
                        "credsift: %lu messages: %lu scanned, 0 skipped, 0 failed, %lu outside",
                        &messages, &scanned, &outside),
            3)
      << run.err;
  EXPECT_EQ(messages, total);
  EXPECT_EQ(scanned + outside, total);
  EXPECT_GE(outside, 20u);
  EXPECT_NE(run.err.find("1 without a parseable Date (scanned)"), std::string::npos) << run.err;
  simdjson::dom::parser parser;
  std::istringstream in(run.out);
  std::string line;
  bool undated_flagged = false, shared_token_seen = false;
  while (std::getline(in, line)) {
    const simdjson::dom::element t = parser.parse(line);
    if (t["undated_occurrences"].get_bool().value()) {
      undated_flagged = true;
      EXPECT_TRUE(t["first_seen"].is_null());
    }
    if (str(t["status"]) == "checksum-valid" && str(t["rule_id"]) == "github.pat.classic") {
      shared_token_seen = true;
      EXPECT_EQ(t["occurrences"].get_array().size(), 2u) << line;  // s22 and s23 only
      EXPECT_EQ(str(t["last_seen"]), "2024-04-02T10:00:00Z");
    }
  }
  EXPECT_TRUE(undated_flagged) << run.out;
  EXPECT_TRUE(shared_token_seen) << run.out;
  EXPECT_EQ(run_credsift("scan --since yesterday x").exit_code, 2);
}

TEST(Tickets, RejectedHitsAreCountedAndListedOnRequest) {
  const ScanRun plain = run_credsift("scan '" + kSamples.string() + "'");
  EXPECT_NE(plain.err.find("documentation example key"), std::string::npos) << plain.err;
  EXPECT_EQ(plain.out.find("\"record\":\"rejected\""), std::string::npos);
  const ScanRun listed = run_credsift("scan --include-rejected '" + kSamples.string() + "'");
  EXPECT_NE(listed.out.find("\"record\":\"rejected\""), std::string::npos);
  EXPECT_NE(listed.out.find("\"reason\":\"documentation example key\""), std::string::npos);
}

}  // namespace

namespace {

TEST(Tickets, ProgressLineOnATerminalOnly) {
  if (std::system("command -v script >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "script(1) is not installed: no terminal to run credsift on";
  TempDir temp;
  const fs::path typescript = temp.path() / "typescript";
  const std::string inner = std::string("'") + CREDSIFT_BINARY + "' scan --format findings '" +
                            (kSamples / "inbox.mbox").string() + "' >/dev/null; true";
  ASSERT_EQ(std::system(
                ("script -qec \"" + inner + "\" '" + typescript.string() + "' >/dev/null").c_str()),
            0);
  const std::string terminal = slurp(typescript);
  EXPECT_NE(terminal.find(" MB, 1 messages, "), std::string::npos) << terminal;
  EXPECT_NE(terminal.find(" MB of "), std::string::npos) << terminal;  // the size is known
  // Not a terminal: no progress line.
  const ScanRun piped = run_credsift("scan '" + (kSamples / "inbox.mbox").string() + "'");
  EXPECT_EQ(piped.err.find(" MB, 1 messages, "), std::string::npos) << piped.err;
}

}  // namespace

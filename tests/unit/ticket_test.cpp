// Ticket aggregation, ordering, exposure, baseline files, mail dates and address lists.
#include "credsift/ticket.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace credsift {
namespace {

Rule make_rule(std::string id, std::string provider, std::string category, Severity severity) {
  Rule rule;
  rule.id = std::move(id);
  rule.name = rule.id;
  rule.provider = std::move(provider);
  rule.category = std::move(category);
  rule.severity = severity;
  rule.rotation = "rotate " + rule.id;
  return rule;
}

const Rule kProse = make_rule("password.prose.en", "generic", "password", Severity::High);
const Rule kConnstr =
    make_rule("connstr.postgres", "generic", "connection-string", Severity::Critical);
const Rule kGithub = make_rule("github.pat.classic", "github", "api-token", Severity::Critical);
const Rule kAwsId = make_rule("aws.access_key_id", "aws", "api-token", Severity::Medium);
const Rule kAwsSecret = make_rule("aws.secret_access_key", "aws", "api-token", Severity::Critical);
const Rule kSlack = make_rule("slack.webhook", "slack", "webhook", Severity::Medium);

Finding finding(const Rule& rule, std::string secret, std::string file, uint64_t offset,
                std::string date, std::string from, std::string to,
                ValidationStatus status = ValidationStatus::Unverified) {
  Finding f;
  f.rule = &rule;
  f.secret = std::move(secret);
  f.fingerprint = fingerprint(f.secret);
  f.validation.status = status;
  f.validation.confidence = "medium";
  f.file = std::move(file);
  f.offset = offset;
  Envelope envelope;
  envelope.message_id = "<" + std::to_string(offset) + "@x>";
  envelope.date = std::move(date);
  envelope.from = std::move(from);
  envelope.to = std::move(to);
  f.envelope = std::make_shared<const Envelope>(std::move(envelope));
  f.part_path = "1";
  f.line = 1;
  return f;
}

TEST(Tickets, OneTicketPerFingerprintAcrossMessagesAndRules) {
  TicketBuilder builder({{"acme.test"}, {}});
  builder.add(finding(kProse, "Gx4!mR8qZt2w", "a.mbox", 0, "Mon, 04 Mar 2024 09:00:00 +0000",
                      "dev@acme.test", "x@outside.test"));
  builder.add(finding(kConnstr, "Gx4!mR8qZt2w", "a.mbox", 0, "Mon, 04 Mar 2024 09:00:00 +0000",
                      "dev@acme.test", "x@outside.test", ValidationStatus::StructureValid));
  builder.add(finding(kProse, "Gx4!mR8qZt2w", "b.eml", 0, "Tue, 05 Mar 2024 09:00:00 +0100",
                      "dev@acme.test", "Ops <ops@sub.acme.test>, y@partner.test"));
  const std::vector<Ticket> tickets = builder.build();
  ASSERT_EQ(tickets.size(), 1u);
  const Ticket& t = tickets[0];
  EXPECT_EQ(t.rule->id, "connstr.postgres");  // connection string beats prose
  EXPECT_EQ(t.validation.status, ValidationStatus::StructureValid);
  EXPECT_EQ(t.occurrences.size(), 3u);
  EXPECT_EQ(t.messages(), 2u);
  EXPECT_EQ(t.id, "cs-" + t.fingerprint.substr(7, 16));
  EXPECT_EQ(t.external_domains, (std::set<std::string>{"outside.test", "partner.test"}));
  EXPECT_EQ(t.domains,
            (std::set<std::string>{"acme.test", "outside.test", "partner.test", "sub.acme.test"}));
  EXPECT_EQ(format_iso8601(*t.first_seen), "2024-03-04T09:00:00Z");
  EXPECT_EQ(format_iso8601(*t.last_seen), "2024-03-05T08:00:00Z");
  EXPECT_EQ(t.rules, (std::vector<std::string>{"password.prose.en", "connstr.postgres"}));
}

TEST(Tickets, AwsKeyIdJoinsTheSecretOfItsMessage) {
  TicketBuilder builder;
  builder.add(finding(kAwsId, "AKIAY34FZKBOKMUTVV7A", "m", 10, "", "a@x.test", "b@y.test",
                      ValidationStatus::StructureValid));
  builder.add(finding(kAwsSecret, "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", "m", 10, "",
                      "a@x.test", "b@y.test"));
  builder.add(finding(kAwsId, "AKIAY34FZKBOKMUTVV7B", "m", 99, "", "a@x.test", "b@y.test"));
  const std::vector<Ticket> tickets = builder.build();
  ASSERT_EQ(tickets.size(), 2u);  // the pair, and the lone key id of another message
  EXPECT_EQ(tickets[0].rule->id, "aws.secret_access_key");
  ASSERT_EQ(tickets[0].related.size(), 1u);
  EXPECT_EQ(tickets[0].related[0].secret, "AKIAY34FZKBOKMUTVV7A");
  EXPECT_TRUE(tickets[0].undated);
  EXPECT_EQ(tickets[1].rule->id, "aws.access_key_id");
}

TEST(Tickets, OrderedBySeverityThenEvidenceThenExposure) {
  TicketBuilder builder({{"acme.test"}, {}});
  builder.add(finding(kSlack, "https://hooks.slack.com/services/T0/B0/aaaaaaaaaaaaaaaaaaaaaaaa",
                      "m", 1, "", "a@acme.test", "b@acme.test"));
  builder.add(finding(kGithub, "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1", "m", 2, "",
                      "a@acme.test", "b@acme.test", ValidationStatus::ChecksumInvalid));
  builder.add(finding(kGithub, "ghp_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2", "m", 3, "",
                      "a@acme.test", "b@acme.test", ValidationStatus::ChecksumValid));
  builder.add(finding(kGithub, "ghp_cccccccccccccccccccccccccccccccccccc3", "m", 4, "",
                      "a@acme.test", "b@outside.test", ValidationStatus::ChecksumValid));
  const std::vector<Ticket> tickets = builder.build();
  ASSERT_EQ(tickets.size(), 4u);
  EXPECT_EQ(tickets[0].secret.back(), '3');         // valid and exposed outside
  EXPECT_EQ(tickets[1].secret.back(), '2');         // valid
  EXPECT_EQ(tickets[2].secret.back(), '1');         // checksum-invalid
  EXPECT_EQ(tickets[3].rule->id, "slack.webhook");  // medium severity last
}

TEST(Tickets, RejectedAndBaselinedFindingsAreNotTicketed) {
  const Finding known = finding(kGithub, "ghp_known", "m", 1, "", "a@x.test", "b@x.test");
  TicketBuilder builder({{}, {known.fingerprint}});
  builder.add(known);
  builder.add(
      finding(kProse, "changeme", "m", 1, "", "a@x.test", "b@x.test", ValidationStatus::Rejected));
  EXPECT_TRUE(builder.build().empty());
  EXPECT_EQ(builder.suppressed_findings(), 1u);
  EXPECT_EQ(builder.rejected().size(), 1u);
}

TEST(Baseline, ReadsBaselineDocumentsAndTicketFiles) {
  char name[] = "/tmp/credsift-baseline-XXXXXX";
  const int fd = ::mkstemp(name);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(name) << baseline_json({"sha256:aa", "sha256:bb"});
  EXPECT_EQ(load_baseline(name), (std::set<std::string>{"sha256:aa", "sha256:bb"}));
  std::ofstream(name) << "{\"record\":\"ticket\",\"fingerprint\":\"sha256:cc\",\"related\":"
                         "[{\"fingerprint\":\"sha256:dd\"}]}\n"
                      << "{\"record\":\"rejected\",\"fingerprint\":\"sha256:ee\"}\n";
  EXPECT_EQ(load_baseline(name), (std::set<std::string>{"sha256:cc", "sha256:dd"}));
  std::ofstream(name) << "{\"fingerprint\":\"sha256:ff\"}\nnot json\n";
  EXPECT_THROW(load_baseline(name), std::runtime_error);
  std::remove(name);
  EXPECT_THROW(load_baseline("/nonexistent/baseline"), std::runtime_error);
}

TEST(MailDate, Rfc5322AndObsoleteForms) {
  EXPECT_EQ(parse_mail_date("Mon, 04 Mar 2024 09:12:00 +0000"), 1709543520);
  EXPECT_EQ(parse_mail_date("4 Mar 2024 10:12:00 +0100"), 1709543520);
  EXPECT_EQ(parse_mail_date("Mon, 4 Mar 24 09:12 GMT"), 1709543520);
  EXPECT_EQ(parse_mail_date("Mon, 04 Mar 2024 04:12:00 EST (Eastern)"), 1709543520);
  EXPECT_EQ(parse_mail_date(""), std::nullopt);
  EXPECT_EQ(parse_mail_date("yesterday"), std::nullopt);
  EXPECT_EQ(parse_mail_date("Mon, 32 Mar 2024 09:12:00 +0000"), std::nullopt);
  EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_iso8601(1709543520), "2024-03-04T09:12:00Z");
  EXPECT_EQ(format_iso8601(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(format_iso8601(951782400), "2000-02-29T00:00:00Z");
  EXPECT_EQ(format_iso8601(INT64_MAX), "9999-12-31T23:59:59Z");  // a damaged store's date
  EXPECT_EQ(parse_mail_date("Thu, 29 Feb 2024 00:00:00 +0000"), 1709164800);
  EXPECT_EQ(parse_date_argument("2024-03-04", false), 1709510400);
  EXPECT_EQ(parse_date_argument("2024-03-04", true), 1709510400 + 86399);
  EXPECT_EQ(parse_date_argument("2024-03-04T09:12:00Z", false), 1709543520);
  EXPECT_EQ(parse_date_argument("2024-03-04T10:12+01:00", false), 1709543520);
  EXPECT_EQ(parse_date_argument("2024-13-01", false), std::nullopt);
}

TEST(Addresses, ListsWithNamesQuotesGroupsAndComments) {
  EXPECT_EQ(parse_address_list("\"Lee, Pat\" <Pat@Outside.test>, ci@partner.test (bot)"),
            (std::vector<std::string>{"ci@partner.test", "pat@outside.test"}));
  EXPECT_EQ(parse_address_list("Team: a@x.test, b@y.test;, c@z.test"),
            (std::vector<std::string>{"a@x.test", "b@y.test", "c@z.test"}));
  EXPECT_TRUE(parse_address_list("undisclosed-recipients:;").empty());
  EXPECT_TRUE(parse_address_list("not an address").empty());
  EXPECT_TRUE(is_internal_domain("mail.acme.test", {"acme.test"}));
  EXPECT_FALSE(is_internal_domain("notacme.test", {"acme.test"}));
}

TEST(Formats, CsvEscapesAndGuardsFormulas) {
  const Rule formula = make_rule("x.y", "=cmd", "api-token", Severity::High);
  TicketBuilder builder;
  builder.add(finding(formula, "=HYPERLINK(\"a\",\"b\")", "m", 1, "", "a@x.test", "b@x.test"));
  ReportContext context;
  context.show_secrets = true;
  const std::string csv = format_tickets(OutputFormat::Csv, builder.build(), {}, context);
  EXPECT_NE(csv.find("\"'=HYPERLINK(\"\"a\"\",\"\"b\"\")\""), std::string::npos) << csv;
  EXPECT_NE(csv.find("\"'=cmd\""), std::string::npos) << csv;
}

}  // namespace
}  // namespace credsift

// Redaction in the findings report. A secret of four characters or fewer redacts to itself
// plus "…", so a replace-until-gone loop over the Subject never ended (found on a 2 GB
// generated archive whose Subject carried a 4-digit PIN).
#include "credsift/report.hpp"

#include <gtest/gtest.h>

#include "credsift/rules.hpp"

namespace credsift {
namespace {

TEST(Redact, KeepsFourCharactersOfLongSecrets) {
  EXPECT_EQ(redact("ghp_abcdefghijkl"), "ghp_…");
  EXPECT_EQ(redact("5393"), "5393…");
  EXPECT_EQ(redact("éàüöxyz"), "éàüö…");
}

TEST(RedactWithin, ReplacesEveryOccurrenceOnce) {
  EXPECT_EQ(redact_within("PIN 5393, again 5393.", "5393"), "PIN 5393…, again 5393….");
  EXPECT_EQ(redact_within("token ghp_abcdefghijkl here", "ghp_abcdefghijkl"), "token ghp_… here");
  EXPECT_EQ(redact_within("nothing here", "ghp_abcdefghijkl"), "nothing here");
  EXPECT_EQ(redact_within("empty secret", ""), "empty secret");
}

TEST(FindingToJson, ShortSecretInSubjectIsRedactedAndTerminates) {
  Rule rule;
  rule.id = "pin.code";
  Finding finding;
  finding.rule = &rule;
  finding.secret = "5393";
  Envelope envelope;
  envelope.subject = "door code 5393";
  finding.envelope = std::make_shared<const Envelope>(envelope);
  const std::string json = finding_to_json(finding, false);
  EXPECT_NE(json.find("\"subject\":\"door code 5393…\""), std::string::npos) << json;
  EXPECT_NE(finding_to_json(finding, true).find("\"subject\":\"door code 5393\""),
            std::string::npos);
}

}  // namespace
}  // namespace credsift

// redact_header: every secret in a header redacted, the result capped like cap_header, and the
// work bounded by what is shown rather than by the header's size (issue 17: a 4 MB Subject with
// many findings cost header size x findings).
#include <gtest/gtest.h>

#include <string>

#include "credsift/report.hpp"

using namespace credsift;

namespace {

const std::string kToken = "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";
const std::string kOther = "AKIAIOSFODNN7EXAMPLE";

TEST(RedactHeader, ShortHeaderMatchesRedactWithin) {
  const std::string subject = "token " + kToken + " and again " + kToken + ".";
  EXPECT_EQ(redact_header(subject, {kToken}), redact_within(subject, kToken));
  EXPECT_EQ(redact_header(subject, {kToken}).find(kToken), std::string::npos);
  EXPECT_EQ(redact_header("no secret here", {kToken}), "no secret here");
  EXPECT_EQ(redact_header("", {kToken}), "");
  EXPECT_EQ(redact_header("plain", {""}), "plain");
}

TEST(RedactHeader, EverySecretRedactedInOnePass) {
  const std::string subject = kOther + " / " + kToken;
  const std::string out = redact_header(subject, {kToken, kOther});
  EXPECT_EQ(out, redact(kOther) + " / " + redact(kToken));
}

TEST(RedactHeader, OverlappingSecretsMergeIntoOneSpan) {
  // "abcdefgh" and "efghijkl" overlap in "abcdefghijkl": one redacted span, nothing in clear.
  const std::string out = redact_header("x abcdefghijkl y", {"abcdefgh", "efghijkl"});
  EXPECT_EQ(out, "x " + redact("abcdefghijkl") + " y");
  EXPECT_EQ(out.find("ijkl"), std::string::npos);
}

TEST(RedactHeader, LongHeaderCappedLikeCapHeader) {
  const std::string filler(5000, 'a');
  EXPECT_EQ(redact_header(filler, {kToken}), cap_header(filler));
  // A secret straddling the cut is not shown in part beyond its first characters.
  const std::string straddle = std::string(kReportHeaderBytes - 10, 'b') + kToken + filler;
  const std::string out = redact_header(straddle, {kToken});
  EXPECT_EQ(out.find(kToken.substr(0, 10)), std::string::npos);
  EXPECT_NE(out.find("…[+"), std::string::npos);
  EXPECT_LE(out.size(), kReportHeaderBytes + 32);
}

TEST(RedactHeader, CutKeepsUtf8Whole) {
  std::string text;
  while (text.size() < 3 * kReportHeaderBytes) text += "é";
  const std::string out = redact_header("x" + text, {kToken});
  const std::string shown = out.substr(0, out.find("…[+"));
  EXPECT_EQ(shown.size() % 2, 1u);  // "x" then whole two-byte characters
}

TEST(RedactHeader, RedactionsPullLaterTextIntoViewAndItIsRedactedToo) {
  // Many secrets shrink to a few bytes each: text after the first window comes into the shown
  // part and must be searched as well.
  std::string subject;
  while (subject.size() < 8 * kReportHeaderBytes) subject += kToken + " ";
  const std::string out = redact_header(subject, {kToken});
  EXPECT_EQ(out.find(kToken), std::string::npos);
  EXPECT_EQ(out.find(kToken.substr(0, 8)), std::string::npos);
  EXPECT_GE(out.find("…[+"), kReportHeaderBytes - 16);
}

// The quadratic case: a 4 MB Subject holding many secrets, redacted once per finding. The bytes
// searched per call are bounded by the cap, not by the header.
TEST(RedactHeader, WorkDoesNotGrowWithTheHeader) {
  std::string subject;
  std::vector<std::string> secrets;
  for (int i = 0; subject.size() < (4u << 20); ++i) {
    if (i % 1000 == 0) {
      secrets.push_back("sk_live_" + std::to_string(100000000 + i) + "abcdefghijkl");
      subject += secrets.back() + " ";
    }
    subject += "lorem ipsum dolor sit amet ";
  }
  size_t searched = 0;
  for (const std::string& secret : secrets) {
    const std::string out = redact_header(subject, {secret}, kReportHeaderBytes, &searched);
    EXPECT_EQ(out.find(secret), std::string::npos);
  }
  ASSERT_GT(secrets.size(), 100u);
  // Whole-header redaction would search 4 MB per call; the cap allows a few KB.
  EXPECT_LE(searched, secrets.size() * 16 * kReportHeaderBytes) << searched;
  // All of them at once: still bounded.
  std::vector<std::string_view> all(secrets.begin(), secrets.end());
  size_t searched_all = 0;
  const std::string out = redact_header(subject, all, kReportHeaderBytes, &searched_all);
  EXPECT_EQ(out.find(secrets[0]), std::string::npos);
  EXPECT_LE(searched_all, all.size() * 16 * kReportHeaderBytes) << searched_all;
}

}  // namespace

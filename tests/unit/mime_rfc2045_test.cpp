// Where our decoding differed from GMime on real mail and GMime was right (issue 17, 19-21).
#include <gtest/gtest.h>

#include <algorithm>

#include "credsift/mime.hpp"

namespace credsift {
namespace {

std::string single_part(const std::string& content_type, const std::string& body) {
  return "From: a@b\nContent-Type: " + content_type + "\nContent-Transfer-Encoding: base64\n\n" +
         body;
}

// 19: a footer appended after the padded data is not decoded into the body.
TEST(Rfc2045, Base64StopsAtPaddingFollowedByText) {
  EXPECT_EQ(decode_base64("aGVsbG8gd29ybGQ=\n-- \nTo unsubscribe, visit https://lists.x.org/\n"),
            "hello world");
  EXPECT_EQ(decode_base64("aGVsbG8=\r\n\r\n_______________\r\nMailing list\r\n"), "hello");
  const auto leaves =
      part_leaves(single_part("text/plain", "aGVsbG8gd29ybGQ=\n\nFooter: see list.\n"));
  ASSERT_EQ(leaves.size(), 1u);
  EXPECT_EQ(leaves[0].body, "hello world");
}

TEST(Rfc2045, Base64KeepsSeparatelyPaddedChunks) {
  // "a" "bc" "def", each padded alone, over lines and within one line.
  EXPECT_EQ(decode_base64("YQ==\nYmM=\nZGVm\n"), "abcdef");
  EXPECT_EQ(decode_base64("YQ==YmM=ZGVm"), "abcdef");
  EXPECT_EQ(decode_base64("YQ==\n\nYmM=\n"), "abc");
}

// 20: '-' and '_' belong to the URL-safe alphabet only when the body uses it.
TEST(Rfc2045, UrlSafeLettersOnlyInUrlSafeBodies) {
  // Unpadded standard body, then a "-----" line: the dashes are ignored, not decoded.
  EXPECT_EQ(decode_base64("aGVsbG8gd29y\n-----\n"), "hello wor");
  // The URL-safe alphabet, used by the body itself ("?" "?>" encodes to "Pz8-").
  EXPECT_EQ(decode_base64("Pz8-Pz8-\n"), "\x3f\x3f>\x3f\x3f>");
  EXPECT_EQ(decode_base64("Pz8_\n"), "\x3f\x3f\x3f");
  // The standard alphabet with '/' present: '_' is not a symbol.
  EXPECT_EQ(decode_base64("Pz8/\n___\n"), "\x3f\x3f\x3f");
}

// 21: the subtype ends at whitespace when the ';' before the parameters is missing.
TEST(Rfc2045, SubtypeEndsAtWhitespace) {
  const auto plain = part_leaves("From: a@b\nContent-Type: TEXT/PLAIN charset=US-ASCII\n\nhi\n");
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].content_type, "text/plain");
  const auto html = part_leaves("From: a@b\nContent-Type: text/html x=y\n\n<p>hi</p>\n");
  ASSERT_EQ(html.size(), 1u);
  EXPECT_EQ(html[0].content_type, "text/html");
}

// 16 (--strict-limits): the problems of a limit are told apart from other decode problems.
TEST(Rfc2045, LimitProblemsAreRecognised) {
  std::string raw = "From: a@b\nContent-Type: multipart/mixed; boundary=b\n\n";
  for (int i = 0; i < 4; ++i) raw += "--b\nContent-Type: text/plain\n\npart\n";
  raw += "--b--\n";
  DecodeLimits limits;
  limits.max_parts = 2;
  const DecodedMessage parts = decode_message(raw, limits);
  ASSERT_FALSE(parts.problems.empty());
  EXPECT_TRUE(std::any_of(parts.problems.begin(), parts.problems.end(), is_limit_problem));
  limits = {};
  limits.max_depth = 1;
  std::string nested =
      "From: a@b\nContent-Type: multipart/mixed; boundary=o\n\n--o\n"
      "Content-Type: multipart/mixed; boundary=i\n\n--i\n\ndeep\n--i--\n--o--\n";
  const DecodedMessage deep = decode_message(nested, limits);
  EXPECT_TRUE(std::any_of(deep.problems.begin(), deep.problems.end(), is_limit_problem));
  const DecodedMessage colon = decode_message("From: a@b\nno colon here\n\nbody\n");
  ASSERT_FALSE(colon.problems.empty());
  EXPECT_FALSE(std::any_of(colon.problems.begin(), colon.problems.end(), is_limit_problem));
}

}  // namespace
}  // namespace credsift

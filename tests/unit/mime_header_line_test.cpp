// Issue 17 item 12: one header line longer than the header block limit. It ends the block like
// too many fields do (problem named, fields before it kept, the line cut at the limit, body
// scanned) and is never copied whole.
#include <gtest/gtest.h>

#include <string>

#include "credsift/mime.hpp"
#include "mime_test_support.hpp"

using namespace credsift;
using namespace credsift::testing;

namespace {

DecodeLimits small_header_limit() {
  DecodeLimits limits;
  limits.max_header_bytes = 1000;
  return limits;
}

TEST(HeaderLine, LongerThanTheBlockLimitEndsTheBlock) {
  const std::string raw = "From: dev@acme.test\nSubject: " + std::string(50000, 'x') +
                          "\nTo: ops@acme.test\n\nkey in the body\n";
  const DecodedMessage dm = decode_message(raw, small_header_limit());
  EXPECT_TRUE(has_problem(dm, "header block exceeds 1000 bytes")) << problems(dm);
  // The problem sits at the line that crossed the limit.
  ASSERT_FALSE(dm.problems.empty());
  EXPECT_EQ(dm.problems.front().offset, raw.find("Subject:"));
  const Segment* headers = find_segment(dm, "headers");
  ASSERT_NE(headers, nullptr) << paths(dm);
  // The long line is kept up to the limit (1000 bytes of the block), nothing after it.
  const size_t kept = 1000 - std::string("From: dev@acme.test\nSubject: ").size();
  EXPECT_EQ(headers->text, "From: dev@acme.test\nSubject: " + std::string(kept, 'x') + "\n");
  EXPECT_EQ(dm.envelope.from, "dev@acme.test");
  EXPECT_EQ(dm.envelope.subject, std::string(kept, 'x'));
  EXPECT_TRUE(dm.envelope.to.empty());
  const Segment* body = find_segment(dm, "1");
  ASSERT_NE(body, nullptr) << paths(dm);
  EXPECT_EQ(body->text, "key in the body\n");
}

TEST(HeaderLine, FoldedPastTheLimitAndCrlf) {
  // A folded field whose continuation crosses the limit, CRLF line ends, in a nested part.
  const std::string raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nX-Long: a\r\n " +
                          std::string(5000, 'y') + "\r\n\r\ninner body\r\n--b--\r\n";
  const DecodedMessage dm = decode_message(raw, small_header_limit());
  EXPECT_TRUE(has_problem(dm, "header block exceeds")) << problems(dm);
  const Segment* body = find_segment(dm, "1");
  ASSERT_NE(body, nullptr) << paths(dm);
  EXPECT_EQ(body->text, "inner body");
}

TEST(HeaderLine, WithinTheLimitIsAField) {
  const std::string raw = "Subject: " + std::string(900, 'z') + "\n\nbody\n";
  const DecodedMessage dm = decode_message(raw, small_header_limit());
  EXPECT_FALSE(has_problem(dm, "header block exceeds")) << problems(dm);
  EXPECT_EQ(dm.envelope.subject, std::string(900, 'z'));
}

}  // namespace

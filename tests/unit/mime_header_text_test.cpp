// The headers segment's text, on the plain path (ASCII values without RFC 2047 words or bare
// CRs: copied, folding dropped a line at a time) and beside it the decoding path, with line
// breaks of every kind and fields long enough to cross the 16- and 64-byte steps of the scans.
#include <gtest/gtest.h>

#include <string>

#include "credsift/mime.hpp"
#include "mime_test_support.hpp"

using namespace credsift;
using namespace credsift::testing;

namespace {

std::string headers_text(const std::string& raw) {
  const DecodedMessage dm = decode_message(raw);
  const Segment* headers = find_segment(dm, "headers");
  return headers ? std::string(headers->text) : "(none)";
}

TEST(HeaderText, FoldedValuesLoseTheirLineBreaksLfAndCrlf) {
  const std::string received = "from mx21.relay0.example (mx18.relay.example [192.0.2.203])";
  for (const std::string eol : {"\n", "\r\n"}) {
    const std::string raw = "Received: " + received + eol + "\tby mail0.corp.example (Postfix)" +
                            eol + "\tfor <team@corp.example>; Sat Dec  9 22:15:36 2024" + eol +
                            "Subject:" + eol + " folded from the start" + eol +
                            "X-Long: " + std::string(130, 'k') + eol + eol + "body" + eol;
    EXPECT_EQ(headers_text(raw),
              "Received: " + received +
                  "\tby mail0.corp.example (Postfix)\tfor <team@corp.example>; Sat Dec  9 "
                  "22:15:36 2024\nSubject: folded from the start\nX-Long: " +
                  std::string(130, 'k') + "\n")
        << (eol == "\n" ? "LF" : "CRLF");
  }
}

TEST(HeaderText, BareCrInsideAValueIsKeptUnlessTheValueIsFolded) {
  // A lone CR is no line break: kept in a one-line value, dropped with the folding otherwise
  // (what unfolding always did).
  EXPECT_EQ(headers_text("X-A: one\rtwo\nX-B: three\rfour\n five\n\nbody\n"),
            "X-A: one\rtwo\nX-B: threefour five\n");
  EXPECT_EQ(headers_text("X-C: ends in cr\r\r\n\nbody\n"), "X-C: ends in cr\n");
}

TEST(HeaderText, EncodedWordsAndEightBitBytesBesidePlainFields) {
  const std::string raw =
      "Received: from a.example by b.example; Mon, 1 Jan 2024 00:00:00 +0000\n"
      "Subject: =?utf-8?B?0LTQvtCz0L7QstC+0YA=?= and\n =?utf-8?Q?caf=C3=A9?=\n"
      "X-Latin: caf\xe9 cr\xe8me\n"
      "X-Utf8: d\xc3\xa9j\xc3\xa0 vu\n"
      "X-Not-A-Word: a = ? b =x?\n"
      "To: ops@acme.test\n\nbody\n";
  EXPECT_EQ(headers_text(raw),
            "Received: from a.example by b.example; Mon, 1 Jan 2024 00:00:00 +0000\n"
            "Subject: \xd0\xb4\xd0\xbe\xd0\xb3\xd0\xbe\xd0\xb2\xd0\xbe\xd1\x80 and "
            "caf\xc3\xa9\n"
            "X-Latin: caf\xc3\xa9 cr\xc3\xa8me\n"
            "X-Utf8: d\xc3\xa9j\xc3\xa0 vu\n"
            "X-Not-A-Word: a = ? b =x?\n"
            "To: ops@acme.test\n");
}

TEST(HeaderText, ManyShortLinesAcrossTheScanSteps) {
  std::string raw, expected;
  for (int i = 0; i < 200; ++i) {
    const std::string name = "X-F" + std::to_string(i);
    const std::string value(size_t(1 + i % 37), char('a' + i % 26));
    raw += name + ":  " + value + (i % 5 == 0 ? "\n\t" + value : "") + " \n";
    expected += name + ": " + value + (i % 5 == 0 ? "\t" + value : "") + "\n";
  }
  // The folded ones keep the tab that starts their second line.
  raw += "\nbody\n";
  EXPECT_EQ(headers_text(raw), expected);
}

}  // namespace

// Text from mail shown to a human: control characters, ESC sequences and bidi overrides must
// come out visible and inert (issue 17, item 10).
#include <gtest/gtest.h>

#include "credsift/escape.hpp"
#include "credsift/report.hpp"

namespace credsift {
namespace {

TEST(EscapeForTerminal, KeepsPlainTextTabsAndUtf8) {
  EXPECT_EQ(escape_for_terminal("inbox/cur/1.eml"), "inbox/cur/1.eml");
  EXPECT_EQ(escape_for_terminal("a\tb"), "a\tb");
  EXPECT_EQ(escape_for_terminal("Grüße – 日本 🙂"), "Grüße – 日本 🙂");
  EXPECT_EQ(escape_for_terminal("C:\\path"), "C:\\path");
  EXPECT_EQ(escape_for_terminal(""), "");
}

TEST(EscapeForTerminal, ShowsC0ControlsDelAndEscSequences) {
  EXPECT_EQ(escape_for_terminal("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
  EXPECT_EQ(escape_for_terminal("\x1b[2J\x1b[H"), "\\x1b[2J\\x1b[H");
  EXPECT_EQ(escape_for_terminal("line\r\nnext"), "line\\x0d\\x0anext");
  EXPECT_EQ(escape_for_terminal(std::string_view("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(escape_for_terminal("x\x7fy"), "x\\x7fy");
}

TEST(EscapeForTerminal, ShowsC1ControlsAndBidiOverrides) {
  EXPECT_EQ(escape_for_terminal("\xc2\x9b"
                                "31m"),
            "\\u{9b}31m");  // CSI as a C1 character
  EXPECT_EQ(escape_for_terminal("invoice\xe2\x80\xaetxt.exe"), "invoice\\u{202e}txt.exe");
  EXPECT_EQ(escape_for_terminal("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad"),
            "\\u{202a}\\u{202b}\\u{202c}\\u{202d}");
  EXPECT_EQ(escape_for_terminal("\xe2\x81\xa6\xe2\x81\xa9"), "\\u{2066}\\u{2069}");
  EXPECT_EQ(escape_for_terminal("\xe2\x80\x8e\xe2\x80\x8f"), "\\u{200e}\\u{200f}");
  // Neighbours of the ranges are ordinary characters.
  EXPECT_EQ(escape_for_terminal("\xe2\x80\x8d\xe2\x80\xaf\xc2\xa0"),
            "\xe2\x80\x8d\xe2\x80\xaf\xc2\xa0");
}

TEST(EscapeForTerminal, ShowsBytesThatAreNotUtf8) {
  EXPECT_EQ(escape_for_terminal("caf\xe9"), "caf\\xe9");
  EXPECT_EQ(escape_for_terminal("\x9b"
                                "2J"),
            "\\x9b2J");                                               // a raw 8-bit CSI byte
  EXPECT_EQ(escape_for_terminal("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(escape_for_terminal("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(escape_for_terminal("\xe2\x80"), "\\xe2\\x80");           // cut short
}

TEST(EscapeFileName, KeepsUtf8AndEscapesOtherBytesReversibly) {
  EXPECT_EQ(escape_file_name("/mail/Grüße.mbox"), "/mail/Grüße.mbox");
  EXPECT_EQ(escape_file_name("/mail/caf\xe9.mbox"), "/mail/caf\\xe9.mbox");
  EXPECT_EQ(escape_file_name("a\\xe9"), "a\\\\xe9");  // a literal backslash stays apart
  EXPECT_EQ(escape_file_name("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(json_escape(escape_file_name("caf\xe9")), "caf\\\\xe9");  // no U+FFFD
}

TEST(JsonEscape, WritesBidiOverridesAndC1ControlsAsEscapes) {
  EXPECT_EQ(json_escape("a\xe2\x80\xae"
                        "b"),
            "a\\u202eb");
  EXPECT_EQ(json_escape("\xe2\x81\xa6"), "\\u2066");
  EXPECT_EQ(json_escape("\xc2\x85"), "\\u0085");
  EXPECT_EQ(json_escape("\x1b[31m"), "\\u001b[31m");
  EXPECT_EQ(json_escape("Grüße"), "Grüße");
}

}  // namespace
}  // namespace credsift

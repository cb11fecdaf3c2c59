// Unit tests of the decode stage: transfer decoders, RFC 2047, charsets, HTML, MIME structure.
#include "credsift/mime.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "mime_test_support.hpp"

using namespace credsift;
using namespace credsift::testing;

namespace {

bool is_view_into(std::string_view text, std::string_view raw) {
  return text.data() >= raw.data() && text.data() + text.size() <= raw.data() + raw.size();
}

}  // namespace

// ---------------------------------------------------------------- base64

TEST(Base64, Basic) {
  bool err = true;
  EXPECT_EQ(decode_base64("aGVsbG8gd29ybGQ=", &err), "hello world");
  EXPECT_FALSE(err);
  EXPECT_EQ(decode_base64("YQ=="), "a");
  EXPECT_EQ(decode_base64("YWI="), "ab");
  EXPECT_EQ(decode_base64("YWJj"), "abc");
  EXPECT_EQ(decode_base64(""), "");
}

TEST(Base64, CrlfAndWhitespace) {
  bool err = true;
  EXPECT_EQ(decode_base64("aGVs\r\nbG8g\r\n d29y bGQ=\r\n", &err), "hello world");
  EXPECT_FALSE(err);
}

TEST(Base64, MissingFinalPaddingDecodedButFlaggedAsTruncated) {
  // RFC 2045 pads every body; one that stops mid-quantum was cut short. Decode what is there.
  bool err = false;
  EXPECT_EQ(decode_base64("YQ", &err), "a");
  EXPECT_TRUE(err);
  err = false;
  EXPECT_EQ(decode_base64("YWI", &err), "ab");
  EXPECT_TRUE(err);
  EXPECT_EQ(decode_base64("YWI=", &err), "ab");
  EXPECT_FALSE(err);
}

TEST(Base64, SeparatelyPaddedChunksAllDecoded) {
  bool err = true;
  // "part one: " "pw: " "hunter22", each encoded and padded on its own.
  EXPECT_EQ(decode_base64("cGFydCBvbmU6IA==\ncHc6IA==\naHVudGVyMjI=\n", &err),
            "part one: pw: hunter22");
  EXPECT_FALSE(err);
  EXPECT_EQ(decode_base64("YQ==YWI=YWJj"), "aababc");
}

TEST(Base64, TruncatedSetsError) {
  bool err = false;
  EXPECT_EQ(decode_base64("YWJjZ", &err), "abc");
  EXPECT_TRUE(err);
}

TEST(Base64, GarbageSkippedAndReported) {
  bool err = false;
  EXPECT_EQ(decode_base64("aGVs|bG8*", &err), "hello");
  EXPECT_TRUE(err);
  err = false;
  std::string bin;
  for (int i = 0; i < 256; ++i) bin.push_back(char(i));
  decode_base64(bin, &err);  // must not read out of bounds or crash
  EXPECT_TRUE(err);
}

// ---------------------------------------------------------------- quoted-printable

TEST(QuotedPrintable, SoftLineBreaksJoined) {
  EXPECT_EQ(decode_quoted_printable("hun=\nter2"), "hunter2");
  EXPECT_EQ(decode_quoted_printable("hun=\r\nter2"), "hunter2");
  EXPECT_EQ(decode_quoted_printable("hun=  \r\nter2"), "hunter2");
}

TEST(QuotedPrintable, TrailingWhitespaceRemovedLineEndKept) {
  EXPECT_EQ(decode_quoted_printable("password: \nhunter2"), "password:\nhunter2");
  EXPECT_EQ(decode_quoted_printable("password:\t \r\nhunter2\r\n"), "password:\r\nhunter2\r\n");
  // An encoded space is content, not padding.
  EXPECT_EQ(decode_quoted_printable("a=20\nb"), "a \nb");
}

TEST(QuotedPrintable, Escapes) {
  EXPECT_EQ(decode_quoted_printable("password=3Dhunter2"), "password=hunter2");
  EXPECT_EQ(decode_quoted_printable("caf=E9 caf=e9"), "caf\xE9 caf\xE9");
}

TEST(QuotedPrintable, InvalidEscapesKeptLiterally) {
  EXPECT_EQ(decode_quoted_printable("a=ZZb"), "a=ZZb");
  EXPECT_EQ(decode_quoted_printable("a=4"), "a=4");
  EXPECT_EQ(decode_quoted_printable("100% =\n=G0"), "100% =G0");
  EXPECT_EQ(decode_quoted_printable("x="), "x");  // soft break at end of input
}

// ---------------------------------------------------------------- RFC 2047

TEST(Rfc2047, BEncoding) {
  EXPECT_EQ(decode_rfc2047("=?utf-8?B?w5xsbGk=?= <u@example.com>"), "\xC3\x9Clli <u@example.com>");
}

TEST(Rfc2047, QEncodingWithUnderscores) {
  EXPECT_EQ(decode_rfc2047("=?utf-8?Q?Zugangsdaten_f=C3=BCr?= den Server"),
            "Zugangsdaten f\xC3\xBCr den Server");
  EXPECT_EQ(decode_rfc2047("=?UTF-8?q?a_b?="), "a b");
}

TEST(Rfc2047, Latin1) { EXPECT_EQ(decode_rfc2047("=?iso-8859-1?q?J=F6rg?="), "J\xC3\xB6rg"); }

TEST(Rfc2047, AdjacentWordsJoinedWithoutSpace) {
  EXPECT_EQ(decode_rfc2047("=?utf-8?q?first?= =?utf-8?q?second?="), "firstsecond");
  EXPECT_EQ(decode_rfc2047("=?utf-8?q?first?=\r\n =?utf-8?q?_second?="), "first second");
  // A character split across two words survives.
  EXPECT_EQ(decode_rfc2047("=?utf-8?q?pr=C3?= =?utf-8?q?=BCfung?="),
            "pr\xC3\xBC"
            "fung");
  // Text between words keeps its spaces.
  EXPECT_EQ(decode_rfc2047("=?utf-8?q?a?= x =?utf-8?q?b?="), "a x b");
}

TEST(Rfc2047, MalformedLeftAsIs) {
  EXPECT_EQ(decode_rfc2047("=?utf-8?X?abc?="), "=?utf-8?X?abc?=");
  EXPECT_EQ(decode_rfc2047("=?utf-8?q?no end"), "=?utf-8?q?no end");
  EXPECT_EQ(decode_rfc2047("=??q?x?="), "=??q?x?=");
  EXPECT_EQ(decode_rfc2047("plain text"), "plain text");
}

TEST(Rfc2047, UnknownCharsetStillReadable) {
  EXPECT_EQ(decode_rfc2047("=?x-nonsense?q?token?="), "token");
}

// ---------------------------------------------------------------- charsets

TEST(Charset, Latin1) {
  EXPECT_EQ(to_utf8("caf\xE9", "iso-8859-1"), "caf\xC3\xA9");
  EXPECT_EQ(to_utf8("caf\xE9", "ISO-8859-15"), "caf\xC3\xA9");
  EXPECT_EQ(to_utf8("\xA4", "iso-8859-15"), "\xE2\x82\xAC");
}

// WHATWG: iso-8859-1 and us-ascii labels mean windows-1252; valid UTF-8 stays UTF-8.
TEST(Charset, Latin1AndAsciiLabelsDecodeAsWindows1252) {
  EXPECT_EQ(to_utf8("don\x92t", "iso-8859-1"), "don\xE2\x80\x99t");
  EXPECT_EQ(to_utf8("don\x92t", "ISO_8859-1"), "don\xE2\x80\x99t");
  EXPECT_EQ(to_utf8("don\x92t", "us-ascii"), "don\xE2\x80\x99t");
  EXPECT_EQ(to_utf8("\x80 \x85", "latin1"), "\xE2\x82\xAC \xE2\x80\xA6");
  EXPECT_EQ(to_utf8("don\xE2\x80\x99t", "iso-8859-1"), "don\xE2\x80\x99t");
  EXPECT_EQ(to_utf8("caf\xE9 \xA0", "iso-8859-1"), "caf\xC3\xA9 \xC2\xA0");
}

TEST(Charset, Windows1252EuroAndSmartQuotes) {
  EXPECT_EQ(to_utf8("\x80 \x93hi\x94 \x91x\x92", "windows-1252"),
            "\xE2\x82\xAC \xE2\x80\x9Chi\xE2\x80\x9D \xE2\x80\x98x\xE2\x80\x99");
}

TEST(Charset, Utf8AndAscii) {
  bool unknown = true;
  EXPECT_EQ(to_utf8("gr\xC3\xBC\xC3\x9F", "utf-8", &unknown), "gr\xC3\xBC\xC3\x9F");
  EXPECT_FALSE(unknown);
  EXPECT_EQ(to_utf8("plain", "us-ascii"), "plain");
}

TEST(Charset, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(to_utf8("a\xFF"
                    "b",
                    "utf-8"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(to_utf8("\xC3", "utf-8"), "\xEF\xBF\xBD");
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // beyond U+10FFFF
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x94\x91 key"));
}

TEST(Charset, UnknownCharset) {
  bool unknown = false;
  EXPECT_EQ(to_utf8("gr\xC3\xBC", "x-made-up", &unknown), "gr\xC3\xBC");  // valid UTF-8 kept
  EXPECT_TRUE(unknown);
  unknown = false;
  EXPECT_EQ(to_utf8("\x80", "x-made-up", &unknown), "\xE2\x82\xAC");  // else windows-1252
  EXPECT_TRUE(unknown);
}

TEST(Charset, IconvCharsets) {
  EXPECT_EQ(to_utf8("\xF0\xC1\xD2\xCF\xCC\xD8", "koi8-r"),
            "\xD0\x9F\xD0\xB0\xD1\x80\xD0\xBE\xD0\xBB\xD1\x8C");
  // Bytes iconv cannot convert become U+FFFD, the rest survives.
  std::string out = to_utf8("ok\x82\xA0", "shift_jis");
  EXPECT_EQ(out.substr(0, 2), "ok");
  EXPECT_TRUE(is_valid_utf8(out));
}

TEST(Charset, AnyBytesNeverCrash) {
  std::string bin;
  for (int i = 0; i < 256; ++i) bin.push_back(char(i));
  for (const char* cs : {"utf-8", "us-ascii", "iso-8859-1", "windows-1252", "koi8-r", "utf-16",
                         "shift_jis", "big5", "nonsense", ""})
    EXPECT_TRUE(is_valid_utf8(to_utf8(bin, cs))) << cs;
}

// ---------------------------------------------------------------- HTML

TEST(Html, TagsRemoved) { EXPECT_EQ(html_to_text("password: <b>s3cr3t</b>"), "password: s3cr3t"); }

TEST(Html, Entities) {
  EXPECT_EQ(html_to_text("a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;"), "a & b <c> \"d\" 'e'");
  EXPECT_EQ(html_to_text("caf&eacute; &#233; &#xE9; &#XE9;"),
            "caf\xC3\xA9 \xC3\xA9 \xC3\xA9 \xC3\xA9");
  EXPECT_EQ(html_to_text("x&nbsp;y"), "x y");
  EXPECT_EQ(html_to_text("&euro;&copy;&Uuml;"), "\xE2\x82\xAC\xC2\xA9\xC3\x9C");
  EXPECT_EQ(html_to_text("&unknown; & &#;"), "&unknown; & &#;");
}

TEST(Html, ScriptAndStyleDropped) {
  EXPECT_EQ(html_to_text("a<script>var t='x';</script>b<STYLE>p{}</STYLE>c"), "abc");
  EXPECT_EQ(html_to_text("a<script>never closed"), "a");
}

TEST(Html, BlockElementsBreakLines) {
  EXPECT_EQ(html_to_text("user<br>pass"), "user\npass");
  EXPECT_EQ(html_to_text("<p>one</p><p>two</p>"), "one\ntwo\n");
  EXPECT_EQ(html_to_text("<div>a</div><div>b</div>"), "a\nb\n");
  EXPECT_EQ(html_to_text("<ul><li>a</li><li>b</li></ul>"), "a\nb\n");
  EXPECT_EQ(html_to_text("<h1>t</h1>x"), "t\nx");
}

TEST(Html, LinksWithCredentialsKept) {
  std::string t = html_to_text("<a href=\"https://user:pa55@host/x?a=1&amp;b=2\">click</a>");
  EXPECT_NE(t.find("https://user:pa55@host/x?a=1&b=2"), std::string::npos) << t;
  EXPECT_NE(t.find("click"), std::string::npos);
  EXPECT_NE(html_to_text("<a href='mailto:a@b.c'>m</a>").find("mailto:a@b.c"), std::string::npos);
  EXPECT_EQ(html_to_text("<a href=\"/local\">x</a>"), "x");
  EXPECT_NE(html_to_text("<img src=https://t.example/p.png?token=abc>").find("token=abc"),
            std::string::npos);
}

TEST(Html, CommentsAndStrayAngles) {
  EXPECT_EQ(html_to_text("a<!-- hidden -->b"), "ab");
  EXPECT_EQ(html_to_text("1 < 2 and 3 > 2"), "1 < 2 and 3 > 2");
  EXPECT_EQ(html_to_text("<!DOCTYPE html>x"), "x");
  EXPECT_EQ(html_to_text("x <unterminated"), "x <unterminated");
}

TEST(Html, LinearOnHostileInput) {
  std::string evil;
  for (int i = 0; i < 200000; ++i) evil += "<a href=\"x";
  auto t0 = std::chrono::steady_clock::now();
  html_to_text(evil);
  std::string evil2(1 << 20, '<');
  html_to_text(evil2);
  std::string evil3;
  for (int i = 0; i < 100000; ++i) evil3 += "<script></scrip";
  html_to_text(evil3);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_LT(ms, 2000);
}

// ---------------------------------------------------------------- structure

TEST(Decode, SinglePartMessage) {
  std::string raw =
      "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nCc: c@example.com\r\n"
      "Subject: =?utf-8?q?hello_w=C3=B6rld?=\r\nMessage-ID: <1@x>\r\n"
      "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\npassword: hunter2\r\n";
  DecodedMessage dm = decode_message(raw);
  EXPECT_EQ(dm.envelope.subject, "hello w\xC3\xB6rld");
  EXPECT_EQ(dm.envelope.from, "Alice <alice@example.com>");
  EXPECT_EQ(dm.envelope.to, "bob@example.com");
  EXPECT_EQ(dm.envelope.cc, "c@example.com");
  EXPECT_EQ(dm.envelope.message_id, "<1@x>");
  EXPECT_EQ(dm.envelope.date, "Mon, 1 Jan 2024 10:00:00 +0000");
  EXPECT_EQ(paths(dm), "headers;1;");
  EXPECT_EQ(dm.segments[0].kind, SegmentKind::Headers);
  EXPECT_NE(dm.segments[0].text.find("Subject: hello w\xC3\xB6rld\n"), std::string::npos);
  EXPECT_EQ(dm.segments[1].text, "password: hunter2\r\n");
  EXPECT_EQ(dm.segments[1].kind, SegmentKind::Body);
  EXPECT_TRUE(is_view_into(dm.segments[1].text, raw)) << "plain UTF-8 body must not be copied";
  EXPECT_TRUE(dm.problems.empty());
}

TEST(Decode, HeaderUnfoldingAndCaseInsensitiveNames) {
  std::string raw =
      "SUBJECT: a long\r\n\tsubject\r\ncontent-TYPE: text/plain;\r\n charset=\"iso-8859-1\"\r\n"
      "content-transfer-encoding: Quoted-Printable\r\n\r\ncaf=E9\r\n";
  DecodedMessage dm = decode_message(raw);
  EXPECT_EQ(dm.envelope.subject, "a long\tsubject");
  ASSERT_NE(find_segment(dm, "1"), nullptr);
  EXPECT_EQ(find_segment(dm, "1")->text, "caf\xC3\xA9\r\n");
}

TEST(Decode, LfOnlyHeaderEnd) {
  DecodedMessage dm = decode_message("Subject: x\n\nbody\n");
  ASSERT_NE(find_segment(dm, "1"), nullptr);
  EXPECT_EQ(find_segment(dm, "1")->text, "body\n");
}

TEST(Decode, MultipartNestingAndPaths) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=outer\n\n"
      "--outer\nContent-Type: text/plain\n\nfirst\n"
      "--outer\nContent-Type: multipart/alternative; boundary=\"inner\"\n\n"
      "--inner\nContent-Type: text/plain\n\nplain\n"
      "--inner\nContent-Type: text/html\n\n<p>html &amp; more</p>\n"
      "--inner--\n"
      "--outer\nContent-Type: text/plain\nContent-Disposition: attachment; filename=config.txt\n\n"
      "DB_PASS=x\n"
      "--outer\nContent-Type: image/png\nContent-Disposition: attachment; filename=a.png\n"
      "Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
      "--outer--\n";
  DecodedMessage dm = decode_message(raw);
  EXPECT_EQ(paths(dm), "headers;1;2.1;2.2;3:filename;3:attachment=config.txt;4:filename;");
  EXPECT_EQ(find_segment(dm, "1")->text, "first");
  EXPECT_EQ(find_segment(dm, "2.1")->text, "plain");
  EXPECT_EQ(find_segment(dm, "2.2")->text, "html & more\n");
  EXPECT_EQ(find_segment(dm, "3:attachment=config.txt")->text, "DB_PASS=x");
  EXPECT_EQ(find_segment(dm, "3:attachment=config.txt")->kind, SegmentKind::AttachmentContent);
  EXPECT_EQ(find_segment(dm, "3:filename")->text, "config.txt");
  EXPECT_EQ(find_segment(dm, "3:filename")->kind, SegmentKind::AttachmentName);
  EXPECT_EQ(find_segment(dm, "4:filename")->text, "a.png");

  auto leaves = part_leaves(raw);
  ASSERT_EQ(leaves.size(), 5u);
  EXPECT_EQ(leaves[0].path, "1");
  EXPECT_EQ(leaves[1].path, "2.1");
  EXPECT_EQ(leaves[2].path, "2.2");
  EXPECT_EQ(leaves[2].content_type, "text/html");
  EXPECT_EQ(leaves[3].path, "3");
  EXPECT_EQ(leaves[3].filename, "config.txt");
  EXPECT_EQ(leaves[4].content_type, "image/png");
  EXPECT_EQ(leaves[4].body, std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST(Decode, TextualAttachmentsByTypeAndExtension) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: application/octet-stream; name=\".env\"\n\nAWS_SECRET=1\n"
      "--b\nContent-Type: application/octet-stream; name=\"blob.bin\"\n\n\x01\x02\n"
      "--b\nContent-Type: application/json\n\n{\"k\":1}\n"
      "--b\nContent-Type: application/octet-stream; name=\"id.pem\"\n\n-----BEGIN\n"
      "--b--\n";
  DecodedMessage dm = decode_message(raw);
  EXPECT_EQ(paths(dm),
            "headers;1:filename;1:attachment=.env;2:filename;3;4:filename;4:attachment=id.pem;");
}

TEST(Decode, BoundaryWithTrailingWhitespace) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
      "--b   \nContent-Type: text/plain\n\none\n--b\t\r\nContent-Type: text/plain\n\ntwo\n--b--  "
      "\n";
  auto leaves = part_leaves(raw);
  ASSERT_EQ(leaves.size(), 2u);
  EXPECT_EQ(leaves[0].body, "one");
  EXPECT_EQ(leaves[1].body, "two");
}

TEST(Decode, BoundaryMidLineIsNotABoundary) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
      "--b\n\nsee --b here and x--b\n--bc not mine either\n--b--\n";
  auto leaves = part_leaves(raw);
  ASSERT_EQ(leaves.size(), 1u);
  EXPECT_EQ(leaves[0].body, "see --b here and x--b\n--bc not mine either");
}

TEST(Decode, PreambleAndEpilogueIgnored) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=\"b\"\n\npreamble\n--b\n\nbody\n--b--\nepilogue\n";
  auto leaves = part_leaves(raw);
  ASSERT_EQ(leaves.size(), 1u);
  EXPECT_EQ(leaves[0].body, "body");
}

TEST(Decode, MissingInnerClosingBoundaryRecovered) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=outer\n\n"
      "--outer\nContent-Type: multipart/alternative; boundary=inner\n\n"
      "--inner\n\ninner one\n--inner\n\ninner two\n"
      "--outer\n\nouter two\n--outer--\n";
  auto leaves = part_leaves(raw);
  ASSERT_EQ(leaves.size(), 3u);
  EXPECT_EQ(leaves[0].path, "1.1");
  EXPECT_EQ(leaves[1].path, "1.2");
  EXPECT_EQ(leaves[1].body, "inner two");
  EXPECT_EQ(leaves[2].path, "2");
  EXPECT_EQ(leaves[2].body, "outer two");
  EXPECT_TRUE(has_problem(decode_message(raw), "closing boundary"));
}

TEST(Decode, Rfc822ForwardPaths) {
  std::string raw =
      "Subject: Fwd\nContent-Type: multipart/mixed; boundary=f\n\n"
      "--f\n\nforwarding\n"
      "--f\nContent-Type: message/rfc822\n\n"
      "From: orig@example.com\nSubject: =?utf-8?q?inner_subj?=\n"
      "Content-Type: multipart/alternative; boundary=o\n\n"
      "--o\n\npass Adm1n!\n--o\nContent-Type: text/html\n\n<p>pass</p>\n--o--\n"
      "--f\nContent-Type: message/rfc822\n\nSubject: single\n\nsingle body\n"
      "--f--\n";
  DecodedMessage dm = decode_message(raw);
  EXPECT_EQ(paths(dm), "headers;1;2:headers;2.1;2.2;3:headers;3.1;");
  EXPECT_EQ(find_segment(dm, "2:headers")->kind, SegmentKind::Headers);
  EXPECT_NE(find_segment(dm, "2:headers")->text.find("Subject: inner subj"), std::string::npos);
  EXPECT_EQ(find_segment(dm, "2.1")->text, "pass Adm1n!");
  EXPECT_EQ(find_segment(dm, "3.1")->text, "single body");
  EXPECT_EQ(dm.envelope.subject, "Fwd");
}

TEST(Decode, AttachmentNameRfc2231) {
  std::string raw =
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/plain\n"
      "Content-Disposition: attachment; filename*=utf-8''pr%C3%BCfung%20daten.txt\n\nx=1\n"
      "--b\nContent-Type: text/plain\nContent-Disposition: attachment;\n"
      " filename*0*=utf-8''long%20name%20;\n filename*1=\"part2.txt\"\n\ny=2\n"
      "--b\nContent-Type: text/plain; name=\"a;b.txt\"\n\nz=3\n"
      "--b\nContent-Type: text/plain; name=\"=?utf-8?q?r=C3=A9sum=C3=A9.txt?=\"\n\nw=4\n"
      "--b--\n";
  auto leaves = part_leaves(raw);
  ASSERT_EQ(leaves.size(), 4u);
  EXPECT_EQ(leaves[0].filename,
            "pr\xC3\xBC"
            "fung daten.txt");
  EXPECT_EQ(leaves[1].filename, "long name part2.txt");
  EXPECT_EQ(leaves[2].filename, "a;b.txt");
  EXPECT_EQ(leaves[3].filename, "r\xC3\xA9sum\xC3\xA9.txt");
  DecodedMessage dm = decode_message(raw);
  ASSERT_NE(find_segment(dm,
                         "1:attachment=pr\xC3\xBC"
                         "fung daten.txt"),
            nullptr)
      << paths(dm);
}

TEST(Decode, DeepNestingHitsDepthLimitWithoutStackOverflow) {
  std::string raw = "Subject: deep\n";
  const int depth = 1000;
  for (int i = 0; i < depth; ++i)
    raw += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" +
           std::to_string(i) + "\n";
  raw += "Content-Type: text/plain\n\nsecret at the bottom\n";
  for (int i = depth - 1; i >= 0; --i) raw += "--b" + std::to_string(i) + "--\n";
  DecodedMessage dm = decode_message(raw);
  EXPECT_TRUE(has_problem(dm, "depth limit"));
  bool seen = false;
  for (const Segment& s : dm.segments)
    seen |= s.text.find("secret at the bottom") != std::string_view::npos;
  EXPECT_TRUE(seen) << "content below the depth limit is still scanned as text";
  for (const DecodeProblem& p : dm.problems) EXPECT_LE(p.offset, raw.size());

  // The same with message/rfc822 nesting.
  std::string fwd;
  for (int i = 0; i < depth; ++i) fwd += "Content-Type: message/rfc822\n\n";
  fwd += "Subject: bottom\n\nbottom body\n";
  DecodedMessage dm2 = decode_message(fwd);
  EXPECT_TRUE(has_problem(dm2, "depth limit"));
}

TEST(Decode, PartLimit) {
  std::string raw = "Content-Type: multipart/mixed; boundary=b\n\n";
  for (int i = 0; i < 50; ++i) raw += "--b\n\npart\n";
  raw += "--b--\n";
  DecodeLimits limits;
  limits.max_parts = 10;
  EXPECT_EQ(part_leaves(raw, limits).size(), 10u);
  EXPECT_TRUE(has_problem(decode_message(raw, limits), "part limit"));
}

TEST(Decode, HeaderSizeLimit) {
  std::string raw = "Subject: x\n";
  for (int i = 0; i < 2000; ++i) raw += "X-Filler: " + std::string(100, 'a') + "\n";
  raw += "\nbody\n";
  DecodeLimits limits;
  limits.max_header_bytes = 10000;
  DecodedMessage dm = decode_message(raw, limits);
  EXPECT_TRUE(has_problem(dm, "header block exceeds"));
  ASSERT_NE(find_segment(dm, "1"), nullptr);
  EXPECT_EQ(find_segment(dm, "1")->text, "body\n");
}

TEST(Decode, HeaderWithoutBody) {
  DecodedMessage dm = decode_message("From: a@example.com\r\nSubject: only headers\r\n");
  EXPECT_EQ(dm.envelope.subject, "only headers");
  EXPECT_EQ(paths(dm), "headers;");
  EXPECT_EQ(decode_message("Subject: x").envelope.subject, "x");
  EXPECT_TRUE(decode_message("").segments.empty());
}

TEST(Decode, FirstLineNotAHeader) {
  DecodedMessage dm = decode_message("just some text\npassword: x\n");
  EXPECT_TRUE(has_problem(dm, "not a header"));
  ASSERT_NE(find_segment(dm, "1"), nullptr);
  EXPECT_EQ(find_segment(dm, "1")->text, "just some text\npassword: x\n");
}

TEST(Decode, HeaderLineWithoutColonKeptAndReported) {
  DecodedMessage dm = decode_message("Subject: a\nbroken line\nX-Key: k\n\nbody\n");
  EXPECT_TRUE(has_problem(dm, "without a colon"));
  EXPECT_NE(dm.segments[0].text.find("broken line"), std::string::npos);
  EXPECT_NE(dm.segments[0].text.find("X-Key: k"), std::string::npos);
}

TEST(Decode, Base64BodyAndCharsetProblems) {
  std::string raw =
      "Content-Type: text/plain; charset=x-bogus\nContent-Transfer-Encoding: base64\n\n"
      "cGFzc3dvcmQ6IGh1bnRlcjI=\n";
  DecodedMessage dm = decode_message(raw);
  ASSERT_NE(find_segment(dm, "1"), nullptr);
  EXPECT_EQ(find_segment(dm, "1")->text, "password: hunter2");
  EXPECT_TRUE(has_problem(dm, "unknown charset"));
  DecodedMessage bad = decode_message("Content-Transfer-Encoding: base64\n\ncGFzc3dvcmQ*6IGh1b");
  EXPECT_TRUE(has_problem(bad, "base64"));
}

TEST(Decode, QuotedPrintableBodyKeepsLineBreaks) {
  std::string raw =
      "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n"
      "password: \nhunter2\n";
  EXPECT_EQ(find_segment(decode_message(raw), "1")->text, "password:\nhunter2\n");
}

TEST(Decode, NulBytesAndBinaryGarbage) {
  std::string raw("Subject: nul\0here\n\nbody\0with\xFFnul\n", 31);
  DecodedMessage dm = decode_message(raw);
  for (const Segment& s : dm.segments) EXPECT_TRUE(is_valid_utf8(s.text)) << s.part_path;
  std::string garbage;
  uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 1103515245 + 12345;
    garbage.push_back(char(x >> 16));
  }
  for (std::string prefix :
       {"", "Content-Type: multipart/mixed; boundary=\"\x01\"\n\n",
        "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"}) {
    DecodedMessage g = decode_message(prefix + garbage);
    for (const Segment& s : g.segments) EXPECT_TRUE(is_valid_utf8(s.text));
    part_leaves(prefix + garbage);
  }
}

TEST(Decode, TwentyMegabyteSingleLine) {
  std::string raw = "Subject: big\n\n" + std::string(20u << 20, 'a') + "token";
  auto t0 = std::chrono::steady_clock::now();
  DecodedMessage dm = decode_message(raw);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  ASSERT_NE(find_segment(dm, "1"), nullptr);
  // Every byte is kept; the line is cut every max_line_bytes (4 MiB) for matching, and said so.
  EXPECT_EQ(find_segment(dm, "1")->text.size(), (20u << 20) + 5 + 5);
  EXPECT_TRUE(has_problem(dm, "line longer than 4194304 bytes"));
  EXPECT_LT(ms, 3000);
}

TEST(Decode, HostileHeadersStayLinear) {
  auto t0 = std::chrono::steady_clock::now();
  // A 4 MB header line.
  std::string raw = "Subject: " + std::string(4u << 20, 'x') + "\n\nbody\n";
  DecodeLimits limits;
  limits.max_header_bytes = 8u << 20;
  EXPECT_EQ(decode_message(raw, limits).envelope.subject.size(), 4u << 20);
  // 100,000 parameters.
  std::string params = "Content-Type: text/plain";
  for (int i = 0; i < 100000; ++i) params += "; p" + std::to_string(i) + "=\"v\"";
  params += "; charset=utf-8\n\nbody\n";
  limits.max_header_bytes = 16u << 20;
  EXPECT_EQ(find_segment(decode_message(params, limits), "1")->text, "body\n");
  // Many encoded-word starts that never finish.
  std::string words = "Subject: ";
  for (int i = 0; i < 200000; ++i) words += "=?a?q?x";
  words += "\n\nb\n";
  decode_message(words, limits);
  // Many folded lines.
  std::string folded = "Subject: a";
  for (int i = 0; i < 200000; ++i) folded += "\n b";
  folded += "\n\nb\n";
  decode_message(folded, limits);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_LT(ms, 5000);
}

// End-to-end: the reports for people (HTML, the terminal view, Markdown) on mail whose headers
// carry markup, ANSI and OSC escape sequences and bidi overrides: none of it may reach a browser
// as code or a terminal as control characters. The terminal view also runs under a pty
// (util-linux `script`), where --format auto picks it, with and without colour.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <regex>
#include <string>

#include "support.hpp"

namespace fs = std::filesystem;
using namespace credsift::e2e;

namespace {

constexpr const char* kToken = "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";
constexpr const char* kEsc = "\x1b";
constexpr const char* kBel = "\x07";
constexpr const char* kRlo = "\xe2\x80\xae";  // U+202E RIGHT-TO-LEFT OVERRIDE

// Two hostile messages: raw control bytes in headers, and the same through RFC 2047.
std::string hostile_mbox() {
  std::string mbox =
      "From eve@evil.example Mon Jan  1 10:00:00 2024\n"
      "From: \"Eve \x1b[31mRED\x1b[0m\" <eve@evil.example>\n"
      "To: ops@acme.test, \"\x1b]0;pwned\x07\" <victim@partner.example>\n"
      "Subject: <script>alert(1)</script> \xe2\x80\xae"
      "gnp.exe \x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\ \x1b[2J\n"
      "Date: Mon, 01 Jan 2024 10:00:00 +0000\n"
      "Message-ID: <hostile-1@evil.example>\n"
      "\n"
      "the token is ";
  mbox += kToken;
  mbox +=
      "\n\n"
      "From eve@evil.example Tue Jan  9 10:00:00 2024\n"
      "From: eve@evil.example\n"
      "To: ops@acme.test\n"
      "Subject: =?utf-8?q?=1B[2J=1B]0;x=07_=E2=80=AE_encoded_<img_src=x_onerror=alert(2)>?=\n"
      "Date: Tue, 09 Jan 2024 10:00:00 +0000\n"
      "Message-ID: <hostile-2@evil.example>\n"
      "\n"
      "again: ";
  mbox += kToken;
  mbox += "\n";
  return mbox;
}

struct HostileCorpus {
  TempDir dir;
  fs::path mbox = dir.path() / "hostile.mbox";
  HostileCorpus() { std::ofstream(mbox, std::ios::binary) << hostile_mbox(); }
};

const HostileCorpus& corpus() {
  static const HostileCorpus c;  // destroyed at exit, which removes its directory
  return c;
}

std::string scan(const std::string& options) {
  const ScanRun run = run_credsift("scan --quiet " + options + " '" + corpus().mbox.string() + "'");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  return run.out;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

void expect_no_raw_controls(const std::string& text, bool allow_sgr) {
  EXPECT_EQ(text.find(kBel), std::string::npos);
  EXPECT_EQ(text.find(kRlo), std::string::npos);
  if (!allow_sgr) {
    EXPECT_EQ(text.find(kEsc), std::string::npos);
    return;
  }
  // Only the view's own colour codes: ESC [ digits/semicolons m.
  static const std::regex sgr("\x1b\\[[0-9;]*m");
  const std::string rest = std::regex_replace(text, sgr, "");
  EXPECT_EQ(rest.find(kEsc), std::string::npos) << rest;
}

TEST(Reports, HtmlIsSelfContainedAndShowsMailAsText) {
  TempDir out;
  const fs::path file = out.path() / "report.html";
  scan("--internal-domain acme.test --output 'html=" + file.string() + "'");
  struct stat info {};
  ASSERT_EQ(::stat(file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const std::string html = slurp(file);
  EXPECT_NE(html.find("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"),
            std::string::npos);
  // The page's own four scripts (three of them JSON data: summary, tickets, occurrences), no
  // markup from mail.
  EXPECT_EQ(count(html, "<script"), 4u);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("onerror"), html.find("onerror=alert(2)"));  // only inside JSON text
  EXPECT_NE(html.find("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"), std::string::npos);
  EXPECT_NE(html.find("\\u003cimg src=x onerror=alert(2)\\u003e"), std::string::npos);
  for (const char* tag : {"<link", "<iframe", "<object", "<embed", "<frame", "<base"})
    EXPECT_EQ(html.find(tag), std::string::npos) << tag;
  EXPECT_EQ(html.find(kToken), std::string::npos) << "the secret is redacted";
  EXPECT_NE(html.find("ghp_…"), std::string::npos);
  // External exposure is in the data: partner.example is outside acme.test.
  EXPECT_NE(html.find("[\"partner.example\",1,1,"), std::string::npos);
}

TEST(Reports, HtmlOnStdoutWithShowSecrets) {
  const std::string html = scan("--format html --show-secrets");
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  EXPECT_NE(html.find(kToken), std::string::npos);
  EXPECT_NE(html.find("\"show_secrets\":true"), std::string::npos);
}

TEST(Reports, HumanViewEscapesEverythingFromMail) {
  const std::string plain = scan("--format human --color=never --internal-domain acme.test");
  expect_no_raw_controls(plain, false);
  EXPECT_NE(plain.find("[CRITICAL]"), std::string::npos) << plain;
  EXPECT_NE(plain.find("GitHub"), std::string::npos);
  EXPECT_NE(plain.find("ghp_…"), std::string::npos);
  EXPECT_EQ(plain.find(kToken), std::string::npos);
  EXPECT_NE(plain.find("partner.example (external)"), std::string::npos) << plain;
  EXPECT_NE(plain.find("2024-01-01 → 2024-01-09"), std::string::npos) << plain;

  const std::string colored = scan("--format human --color=always");
  expect_no_raw_controls(colored, true);
  EXPECT_NE(colored.find("\x1b[1;97;41m CRITICAL \x1b[0m"), std::string::npos) << colored;
}

TEST(Reports, HumanViewShowsHostileHeadersVisibly) {
  TempDir out;
  const fs::path file = out.path() / "view.txt";
  // With --show-secrets the view has nothing to mask; the identity and exposure lines still
  // come from mail: the victim's address holds an OSC title sequence.
  scan("--show-secrets --output 'human=" + file.string() + "'");
  const std::string text = slurp(file);
  expect_no_raw_controls(text, false);
  EXPECT_NE(text.find(kToken), std::string::npos);
  EXPECT_NE(text.find("partner.example"), std::string::npos);
}

TEST(Reports, BadColorIsAUsageError) {
  const ScanRun run = run_credsift("scan --color=sometimes '" + corpus().mbox.string() + "'");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--color"), std::string::npos) << run.err;
}

TEST(Reports, MarkdownHasTheHtmlSectionsAndEscapes) {
  const std::string md = scan("--format markdown --internal-domain acme.test");
  for (const char* section : {"## Summary", "## Exposure window", "## Exposure by domain",
                              "## Exposure by address", "## Tickets", "## Ticket details"})
    EXPECT_NE(md.find(section), std::string::npos) << section;
  EXPECT_EQ(md.find("<script>"), std::string::npos);
  EXPECT_NE(md.find("\\<script\\>alert(1)\\</script\\>"), std::string::npos) << md;
  expect_no_raw_controls(md, false);
  EXPECT_NE(md.find("| partner.example | yes | 1 |"), std::string::npos) << md;
  EXPECT_NE(md.find("exposure window: 2024-01-01T10:00:00Z to 2024-01-09T10:00:00Z (9 days)"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| 2024-01-01 | 1 |"), std::string::npos) << md;
  EXPECT_EQ(md.find(kToken), std::string::npos);
}

// ---- under a pseudo-terminal ----

// Runs credsift with stdout on a pty (util-linux script) of `columns` columns; returns what the
// terminal received, with the pty's CRLF line ends made LF again.
std::string run_on_pty(const std::string& environment, const std::string& arguments, int columns) {
  if (std::system("command -v script >/dev/null 2>&1") != 0) return "";
  TempDir temp;
  const fs::path out = temp.path() / "out", inner = temp.path() / "run.sh";
  std::ofstream(inner) << "stty cols " << columns << " rows 50 2>/dev/null\n"
                       << environment << " '" << CREDSIFT_BINARY << "' " << arguments
                       << " 2>/dev/null\n";
  const std::string command =
      "script -qec 'sh " + inner.string() + "' /dev/null </dev/null >'" + out.string() + "' 2>&1";
  std::system(command.c_str());
  std::string text = slurp(out);
  text.erase(std::remove(text.begin(), text.end(), '\r'), text.end());
  return text;
}

// Columns a line takes: code points, the view's colour codes excluded (its text is ASCII plus
// a few narrow symbols here).
size_t columns_of(const std::string& line) {
  static const std::regex sgr("\x1b\\[[0-9;]*m");
  const std::string text = std::regex_replace(line, sgr, "");
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

TEST(Reports, AutoOnATerminalIsTheColouredHumanView) {
  const std::string out =
      run_on_pty("env -u NO_COLOR TERM=xterm", "scan --quiet '" + corpus().mbox.string() + "'", 72);
  if (out.empty()) GTEST_SKIP() << "util-linux script is not installed";
  EXPECT_NE(out.find("\x1b[1;97;41m CRITICAL \x1b[0m"), std::string::npos) << out;
  EXPECT_EQ(out.find("{\"record\""), std::string::npos) << "not JSON lines on a terminal";
  expect_no_raw_controls(out, true);
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    EXPECT_LE(columns_of(line), 72u) << "wider than the terminal: " << line;
}

TEST(Reports, NoColorOnATerminalAndNarrowWidth) {
  const std::string out =
      run_on_pty("NO_COLOR=1 TERM=xterm", "scan --quiet '" + corpus().mbox.string() + "'", 50);
  if (out.empty()) GTEST_SKIP() << "util-linux script is not installed";
  EXPECT_NE(out.find("[CRITICAL]"), std::string::npos) << out;
  expect_no_raw_controls(out, false);
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    EXPECT_LE(columns_of(line), 50u) << "wider than the terminal: " << line;
  // --color=always wins over NO_COLOR; an --output keeps JSON lines on the terminal.
  const std::string forced = run_on_pty(
      "NO_COLOR=1 TERM=xterm", "scan --quiet --color=always '" + corpus().mbox.string() + "'", 80);
  EXPECT_NE(forced.find("\x1b[1;97;41m"), std::string::npos) << forced;
}

TEST(Reports, PipedOutputStaysJsonLines) {
  const std::string out = scan("");
  EXPECT_TRUE(out.starts_with("{\"record\":\"ticket\"")) << out.substr(0, 200);
}

}  // namespace

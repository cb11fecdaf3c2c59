// End-to-end: malformed mail never crashes or stops a scan. Each message is decoded as far as
// it can be, problems are reported with file and offset, and every message is counted.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "support.hpp"

namespace fs = std::filesystem;
using namespace credsift::e2e;

namespace {

class MalformedCorpus : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& bytes) {
    std::ofstream(temp_.path() / name, std::ios::binary) << bytes;
  }

  // Scans the directory "in" (walked recursively, as a user would give it).
  ScanRun scan(const std::string& extra = "") {
    return run_credsift("scan " + extra + " '" + (temp_.path() / "in").string() + "'");
  }

  TempDir temp_;
  const fs::path dir_ = temp_.path();
};

// Parses "N messages: S scanned, K skipped, F failed" from the summary.
std::array<long, 4> counts(const std::string& err) {
  std::smatch match;
  static const std::regex summary(R"((\d+) messages: (\d+) scanned, (\d+) skipped, (\d+) failed)");
  if (!std::regex_search(err, match, summary)) return {-1, -1, -1, -1};
  return {std::stol(match[1]), std::stol(match[2]), std::stol(match[3]), std::stol(match[4])};
}

TEST_F(MalformedCorpus, EveryMessageIsCountedAndTheScanGoesOn) {
  fs::create_directory(dir_ / "in");
  const std::string head = "From: a@acme.test\nTo: b@acme.test\nSubject: t\nMessage-ID: <m@x>\n";
  // Missing closing boundary, with a secret in the unterminated part.
  write("in/01-missing-boundary.eml",
        head +
            "Content-Type: multipart/mixed; boundary=\"zz\"\n\n--zz\nContent-Type: "
            "text/plain\n\npassword: Kx9!mQ2vRt\n");
  // Truncated base64 body.
  write("in/02-truncated-base64.eml",
        head +
            "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
            "cGFzc3dvcmQ6IFdhbHJ1czQ3IVRpZGU=\ncGFzc3dvcm");
  // An invalid charset name.
  write("in/03-bad-charset.eml", head +
                                     "Content-Type: text/plain; charset=\"x-no-such-cs\"\n\n"
                                     "caf\xe9 password: Pq7#zLw2Ny\n");
  // A body of binary garbage with NUL bytes.
  std::string garbage = head + "\n";
  for (int i = 0; i < 5000; ++i) garbage.push_back(static_cast<char>((i * 7919) % 256));
  write("in/04-garbage.eml", garbage);
  // A 20 MB single line.
  write("in/05-huge-line.eml", head + "Content-Type: text/plain\n\n" + std::string(20 << 20, 'a') +
                                   " password: Hl4$kR8wQz\n");
  // An mbox with CRLF line ends whose last message has no trailing newline.
  write("in/06-crlf.mbox",
        "From x Mon Jan  1 00:00:00 2024\r\nFrom: a@acme.test\r\nSubject: 1\r\n\r\nhello\r\n\r\n"
        "From x Mon Jan  1 00:00:00 2024\r\nFrom: a@acme.test\r\nSubject: 2\r\n\r\n"
        "password: Vb6%nT3pXe");

  const ScanRun run = scan();
  ASSERT_TRUE(run.exit_code == 0 || run.exit_code == 1) << run.exit_code << "\n" << run.err;
  const auto [total, scanned, skipped, failed] = counts(run.err);
  EXPECT_EQ(total, 7) << run.err;
  EXPECT_EQ(scanned + skipped + failed, total);
  // The secrets that survive the damage are still found.
  EXPECT_NE(run.out.find("01-missing-boundary.eml"), std::string::npos) << run.out << run.err;
  EXPECT_NE(run.out.find("05-huge-line.eml"), std::string::npos) << run.err;
  EXPECT_NE(run.out.find("06-crlf.mbox"), std::string::npos) << run.err;
  EXPECT_NE(run.out.find("03-bad-charset.eml"), std::string::npos) << run.err;
  // Problems name the file and a byte offset.
  EXPECT_NE(run.err.find("02-truncated-base64.eml at byte "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("03-bad-charset.eml at byte "), std::string::npos) << run.err;
}

TEST_F(MalformedCorpus, OversizedMessagesAreSkippedWithAReason) {
  fs::create_directory(dir_ / "in");
  write("in/big.eml", "From: a@acme.test\nSubject: big\n\n" + std::string(3 << 20, 'b') + "\n");
  write("in/small.eml", "From: a@acme.test\nSubject: small\n\npassword: Zr5^hN8cWq\n");
  const ScanRun run = scan("--max-message-size 1");
  const auto [total, scanned, skipped, failed] = counts(run.err);
  EXPECT_EQ(total, 2) << run.err;
  EXPECT_EQ(scanned, 1);
  EXPECT_EQ(skipped, 1);
  EXPECT_EQ(failed, 0);
  EXPECT_NE(run.err.find("big.eml"), std::string::npos) << run.err;
  EXPECT_EQ(run.exit_code, 1);
}

}  // namespace

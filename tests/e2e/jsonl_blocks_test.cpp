// End-to-end: JSONL tickets are formatted in blocks on the scan's threads and written in order
// (scan_report.cpp). With more tickets than one block holds, the output must be the same at one
// and at two threads, one line per ticket, and each line the object the JSON report holds at the
// same place (that report is still built in one piece by format_tickets).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "support.hpp"

using namespace credsift::e2e;

namespace {

// `count` messages, each with its own PostgreSQL password: one ticket per message.
std::string distinct_secrets_mbox(int count) {
  static constexpr std::string_view kAlphabet =
      "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::mt19937 random(7);
  std::string mbox;
  for (int i = 0; i < count; ++i) {
    std::string password;
    for (int k = 0; k < 20; ++k) password += kAlphabet[random() % kAlphabet.size()];
    const std::string n = std::to_string(i);
    mbox +=
        "From ops@acme.test Mon Jan  1 10:00:00 2024\nFrom: ops@acme.test\nTo: dev@acme.test\n"
        "Subject: db " +
        n + "\nDate: Mon, 01 Jan 2024 10:00:00 +0000\nMessage-ID: <m" + n +
        "@acme.test>\n\nDATABASE_URL=postgresql://svc:" + password + "@10.2.0." +
        std::to_string(i % 250) + "/app" + n + "\n\n";
  }
  return mbox;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t from = 0;
  while (from < text.size()) {
    const size_t end = text.find('\n', from);
    if (end == std::string::npos) {
      lines.push_back(text.substr(from));
      break;
    }
    lines.push_back(text.substr(from, end - from));
    from = end + 1;
  }
  return lines;
}

TEST(JsonlBlocks, SameTicketsAtOneAndTwoThreadsAsTheJsonReport) {
  constexpr int kTickets = 150;  // more than two blocks of 64
  TempDir dir;
  const fs::path mbox = dir.path() / "many.mbox";
  std::ofstream(mbox, std::ios::binary) << distinct_secrets_mbox(kTickets);

  auto scan = [&](const std::string& options) {
    const ScanRun run = run_credsift("scan --quiet " + options + " '" + mbox.string() + "'");
    EXPECT_EQ(run.exit_code, 1) << run.err;
    return run.out;
  };
  const std::string one = scan("-j1 --format jsonl");
  const std::string two = scan("-j2 --format jsonl");
  const std::string json = scan("-j1 --format json");

  EXPECT_EQ(one, two);
  ASSERT_FALSE(one.empty());
  EXPECT_EQ(one.back(), '\n');
  const std::vector<std::string> lines = lines_of(one);
  ASSERT_EQ(lines.size(), size_t(kTickets));
  size_t at = 0;
  for (const std::string& line : lines) {
    EXPECT_TRUE(line.starts_with("{\"record\":\"ticket\"")) << line.substr(0, 80);
    const size_t found = json.find(line, at);
    ASSERT_NE(found, std::string::npos) << "not in the JSON report, or out of order: " << line;
    at = found + line.size();
  }
}

}  // namespace

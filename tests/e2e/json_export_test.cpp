// End-to-end: `credsift scan` on Microsoft Graph and Gmail API exports with planted secrets, and
// on files that are not mail (a JPEG, a SQLite database, an ELF binary), which are reported
// with their type and never counted as messages.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support.hpp"

namespace fs = std::filesystem;
using namespace credsift::e2e;

namespace {

// Tokens of the sample corpus that validate (checksums and all).
const std::string kGithub = "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";
const std::string kStripe = "sk_live_18oQFYi2HRPxKn9RUr9SkcTdugDYarXV";

std::string b64(std::string_view bytes, bool url) {
  static constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                       uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kStd[v >> s & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kStd[v >> 18 & 63];
    out += kStd[v >> 12 & 63];
    out += i + 1 < bytes.size() ? kStd[v >> 6 & 63] : '=';
    out += '=';
  }
  if (url) {
    for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    while (!out.empty() && out.back() == '=') out.pop_back();
  }
  return out;
}

std::string graph(const std::string& id, const std::string& body, const std::string& extra = "") {
  return R"({"id":")" + id + R"(","sentDateTime":"2024-03-04T09:12:00Z","subject":"Rotation )" +
         id + R"(","internetMessageId":"<)" + id +
         R"(@graph.test>","body":{"contentType":"html","content":"<p>)" + body +
         R"(</p>"},"from":{"emailAddress":{"name":"Ann","address":"ann@acme.test"}},)"
         R"("toRecipients":[{"emailAddress":{"name":"Bob","address":"bob@partner.test"}}])" +
         extra + "}";
}

struct Row {
  std::string rule, file, item_id, part_path;
  uint64_t index = 0, offset = 0;
  auto operator<=>(const Row&) const = default;
};

std::vector<Row> findings(const std::string& out) {
  std::vector<Row> rows;
  simdjson::dom::parser parser;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    simdjson::dom::element f = parser.parse(line);
    Row row;
    row.rule = std::string(f["rule_id"].get_string().value());
    row.file = fs::path(std::string(f["file"].get_string().value())).filename().string();
    std::string_view item;
    if (f["item_id"].get_string().get(item) == simdjson::SUCCESS) row.item_id = item;
    row.part_path = std::string(f["part_path"].get_string().value());
    row.index = f["message_index"].get_uint64().value();
    row.offset = f["offset"].get_uint64().value();
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::array<long, 4> counts(const std::string& err) {
  std::smatch match;
  static const std::regex summary(R"((\d+) messages: (\d+) scanned, (\d+) skipped, (\d+) failed)");
  if (!std::regex_search(err, match, summary)) return {-1, -1, -1, -1};
  return {std::stol(match[1]), std::stol(match[2]), std::stol(match[3]), std::stol(match[4])};
}

TEST(JsonExportScan, GraphAndGmailSecretsFoundWithTheirItem) {
  TempDir temp;
  const std::string second = graph(
      "AAMkAD2", "see the attachment",
      R"(,"attachments":[{"@odata.type":"#microsoft.graph.fileAttachment","name":"billing.env",)"
      R"("contentType":"text/plain","contentBytes":")" +
          b64("STRIPE_KEY=" + kStripe + "\n", false) + R"("}])");
  const std::string graph_json = "{\"@odata.context\":\"x\",\"value\":[\n" +
                                 graph("AAMkAD1", "nothing here") + ",\n" + second + "\n]}\n";
  std::ofstream(temp.path() / "graph.json") << graph_json;

  const std::string raw =
      "From: eve@acme.test\nTo: ops@partner.test\nSubject: token\n"
      "Date: Tue, 5 Mar 2024 10:00:00 +0000\nMessage-ID: <raw@gmail.test>\n\n"
      "use " +
      kGithub + " for the deploy\n";
  const std::string payload =
      R"({"mimeType":"multipart/mixed","headers":[{"name":"Subject","value":"payload"},)"
      R"({"name":"Date","value":"Wed, 6 Mar 2024 10:00:00 +0000"}],"parts":[)"
      R"({"partId":"0","mimeType":"text/plain","headers":[],"body":{"data":")" +
      b64("hello\n", true) +
      R"("}},{"partId":"1","mimeType":"text/plain","filename":"keys.txt","headers":[)"
      R"({"name":"Content-Disposition","value":"attachment; filename=\"keys.txt\""}],)"
      R"("body":{"data":")" +
      b64("stripe " + kStripe + "\n", true) + R"("}}]})";
  const std::string line0 = R"({"id":"18e0","threadId":"18e0","raw":")" + b64(raw, true) + "\"}";
  const std::string line1 = R"({"id":"18e1","threadId":"18e1","payload":)" + payload + "}";
  std::ofstream(temp.path() / "gmail.jsonl") << line0 << "\n" << line1 << "\n";

  const ScanRun run =
      run_credsift("scan --threads 2 --format findings '" + (temp.path() / "graph.json").string() +
                   "' '" + (temp.path() / "gmail.jsonl").string() + "'");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(counts(run.err), (std::array<long, 4>{4, 4, 0, 0})) << run.err;
  const std::vector<Row> want = {
      {"github.pat.classic", "gmail.jsonl", "18e0", "1", 0, 0},
      {"stripe.secret_key.live", "gmail.jsonl", "18e1", "2:attachment=keys.txt", 1,
       line0.size() + 1},
      {"stripe.secret_key.live", "graph.json", "AAMkAD2", "2:attachment=billing.env", 1,
       graph_json.find(second)},
  };
  EXPECT_EQ(findings(run.out), want) << run.out << run.err;

  // Tickets: the occurrence says where the message is, and the Date came from sentDateTime.
  const ScanRun tickets =
      run_credsift("scan --format json '" + (temp.path() / "graph.json").string() + "'");
  EXPECT_EQ(tickets.exit_code, 1) << tickets.err;
  EXPECT_NE(tickets.out.find("\"item_id\":\"AAMkAD2\""), std::string::npos) << tickets.out;
  EXPECT_NE(tickets.out.find("\"date_utc\":\"2024-03-04T09:12:00Z\""), std::string::npos)
      << tickets.out;
}

TEST(JsonExportScan, BrokenRecordsNamedWithOffsetAndCounted) {
  TempDir temp;
  const std::string good = graph("ok", kGithub);
  const std::string jsonl = good + "\n{\"id\": \"cut\", \"subject\n" + good + "\n";
  std::ofstream(temp.path() / "broken.jsonl") << jsonl;
  const ScanRun run = run_credsift("scan '" + (temp.path() / "broken.jsonl").string() + "'");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(counts(run.err), (std::array<long, 4>{3, 2, 0, 1})) << run.err;
  EXPECT_NE(run.err.find("broken.jsonl at byte " + std::to_string(good.size() + 1) +
                         ": message 1 failed: invalid JSON"),
            std::string::npos)
      << run.err;
}

TEST(NotMailScan, JpegSqliteElfReportedWithTheirTypeNotCounted) {
  TempDir temp;
  const fs::path jpeg = temp.path() / "photo.jpg", db = temp.path() / "cases.db",
                 mbox = temp.path() / "clean.mbox";
  std::ofstream(jpeg, std::ios::binary)
      << std::string("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01", 13) << std::string(3000, '\x7F');
  const std::string make_db = "python3 -c \"import sqlite3; c = sqlite3.connect('" + db.string() +
                              "'); c.execute('create table t(password text)'); "
                              "c.execute(\\\"insert into t values ('hunter2')\\\"); c.commit()\"";
  ASSERT_EQ(std::system(make_db.c_str()), 0);
  std::ofstream(mbox)
      << "From a@b Mon Jan  1 00:00:00 2024\nFrom: a@acme.test\nSubject: hi\n\nhello\n";
  const std::string elf = CREDSIFT_BINARY;

  const ScanRun run = run_credsift("scan --format json '" + jpeg.string() + "' '" + db.string() +
                                   "' '" + elf + "' '" + mbox.string() + "'");
  EXPECT_EQ(run.exit_code, 0) << run.err;  // nothing found, nothing else wrong
  EXPECT_EQ(counts(run.err), (std::array<long, 4>{1, 1, 0, 0})) << run.err;
  EXPECT_NE(run.err.find(jpeg.string() + " at byte 0: skipped: not mail (JPEG image)"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find(db.string() + " at byte 0: skipped: not mail (SQLite database)"),
            std::string::npos);
  EXPECT_NE(run.err.find(elf + " at byte 0: skipped: not mail (ELF executable)"),
            std::string::npos);
  EXPECT_NE(run.err.find("3 files not mail (1 ELF executable, 1 JPEG image, 1 SQLite database)"),
            std::string::npos)
      << run.err;
  EXPECT_EQ(run.err.find("files unreadable"), std::string::npos);
  simdjson::dom::parser parser;
  const simdjson::dom::element doc = parser.parse(run.out);
  EXPECT_EQ(doc["summary"]["files_not_mail"].get_uint64().value(), 3u);
  EXPECT_EQ(doc["summary"]["not_mail_by_type"]["SQLite database"].get_uint64().value(), 1u);
  EXPECT_EQ(doc["summary"]["messages_scanned"].get_uint64().value(), 1u);
}

}  // namespace

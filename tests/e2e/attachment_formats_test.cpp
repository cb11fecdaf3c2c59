// credsift scan finds tokens planted in legacy Office attachments (.doc, .xls, .ppt), RTF
// attachments and bodies, OpenDocument files and TNEF (winmail.dat) attachments, with part paths
// that name the file.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "../ole_writer.hpp"
#include "credsift/mime.hpp"
#include "support.hpp"

using namespace credsift::e2e;
using namespace credsift::test;

namespace {

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) v |= uint8_t(bytes[i + 2]);
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? kAlphabet[v & 63] : '=');
    if (out.size() % 77 == 76) out.push_back('\n');
  }
  return out;
}

std::string attachment(const std::string& type, const std::string& name, const std::string& bytes) {
  return "--b\nContent-Type: " + type + "; name=\"" + name +
         "\"\nContent-Disposition: attachment; filename=\"" + name +
         "\"\nContent-Transfer-Encoding: base64\n\n" + base64(bytes) + "\n";
}

// Slack bot tokens, one per carrier (the rule needs the xoxb-<digits>-<digits>-<24+> shape).
const std::map<std::string, std::string> kTokens = {
    {"doc", "xoxb-2048361527-4096723185-a94UYr6Q9mOAAJT2bbhyc37f"},
    {"xls", "xoxb-2048361527-4096723185-b94UYr6Q9mOAAJT2bbhyc37f"},
    {"ppt", "xoxb-2048361527-4096723185-c94UYr6Q9mOAAJT2bbhyc37f"},
    {"rtf", "xoxb-2048361527-4096723185-d94UYr6Q9mOAAJT2bbhyc37f"},
    {"body", "xoxb-2048361527-4096723185-e94UYr6Q9mOAAJT2bbhyc37f"},
    {"tnef", "xoxb-2048361527-4096723185-g94UYr6Q9mOAAJT2bbhyc37f"},
};

std::string tnef_with_attachment(const std::string& name, const std::string& data) {
  auto attribute = [](uint8_t level, uint32_t id, const std::string& d) {
    std::string a(1, char(level));
    put32(a, id);
    put32(a, uint32_t(d.size()));
    a += d;
    put16(a, 0);
    return a;
  };
  std::string t;
  put32(t, 0x223E9F78);
  put16(t, 1);
  t += attribute(2, 0x00069002, std::string(14, '\0'));
  t += attribute(2, 0x00018010, name + '\0');
  t += attribute(2, 0x0006800F, data);
  return t;
}

}  // namespace

TEST(ExtractFormats, PlantedTokensInOfficeRtfAndTnefAttachmentsAreFound) {
  TempDir temp;
  std::string message =
      "From: a@example.test\nTo: b@example.test\nSubject: documents\n"
      "Message-ID: <docs@example.test>\nDate: Mon, 4 Mar 2024 10:00:00 +0000\n"
      "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
      "--b\nContent-Type: text/rtf\n\n{\\rtf1\\ansi Body token " +
      kTokens.at("body") + "\\par}\n";
  message += attachment("application/msword", "plan.doc",
                        word_document("Deploy notes\rslack: " + kTokens.at("doc") + "\r"));
  message += attachment("application/vnd.ms-excel", "budget.xls",
                        excel_workbook("Keys", {"slack", kTokens.at("xls")}, 1));
  message += attachment("application/vnd.ms-powerpoint", "deck.ppt",
                        powerpoint_document("Bot", "token " + kTokens.at("ppt")));
  message += attachment(
      "application/rtf", "notes.rtf",
      "{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}\\f0 token \\b " + kTokens.at("rtf") + "\\b0\\par}");
  message += attachment(
      "application/ms-tnef", "winmail.dat",
      tnef_with_attachment("report.doc", word_document("bot " + kTokens.at("tnef") + "\r")));
  message += "--b--\n";
  const fs::path eml = temp.path() / "docs.eml";
  std::ofstream(eml, std::ios::binary) << message;
  const ScanRun run = run_credsift("scan --format findings --show-secrets '" + eml.string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  const std::map<std::string, std::string> expected_paths = {
      {"body", "1"},
      {"doc", "2:attachment=plan.doc"},
      {"xls", "3:attachment=budget.xls"},
      {"ppt", "4:attachment=deck.ppt"},
      {"rtf", "5:attachment=notes.rtf"},
      {"tnef", "6:attachment=winmail.dat!report.doc"},
  };
  for (const auto& [carrier, token] : kTokens) {
    const std::string needle = "\"secret\":\"" + token + "\"";
    const size_t at = run.out.find(needle);
    ASSERT_NE(at, std::string::npos) << carrier << "\n" << run.out << run.err;
    const size_t line_end = run.out.find('\n', at);
    const std::string line = run.out.substr(at, line_end - at);
    EXPECT_NE(line.find("\"part_path\":\"" + expected_paths.at(carrier) + "\""), std::string::npos)
        << carrier << ": " << line;
  }
  EXPECT_NE(run.err.find("1 messages: 1 scanned"), std::string::npos) << run.err;
}

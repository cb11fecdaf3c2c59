// Graph and Gmail JSON exports (scanner/source/json_export.cpp) read through MessageSource, the
// rendered messages decoded by the MIME stage, and files that are not mail kept out of the
// message counts. Linked to the pipeline stage: these tests follow a record from the file to
// its findings.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../../scanner/source/json_export.hpp"
#include "../../scanner/source/not_mail.hpp"
#include "credsift/pipeline.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;
using source_detail::decode_base64_strict;
using source_detail::encode_base64_lines;
using source_detail::iso8601_to_rfc5322;
using source_detail::looks_like_json_export;
using source_detail::not_mail_type;
using source_detail::rewrap_base64;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/credsift-json-XXXXXX";
    if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string write(const std::string& name, const std::string& content) const {
    const fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string base64(std::string_view bytes) {
  std::string out;
  encode_base64_lines(bytes, out);
  std::erase(out, '\n');
  return out;
}

// Gmail's alphabet, without padding.
std::string base64url(std::string_view bytes) {
  std::string out = base64(bytes);
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string recipient(const std::string& name, const std::string& address) {
  return R"({"emailAddress":{"name":)" + json_string(name) + R"(,"address":)" +
         json_string(address) + "}}";
}

// A Graph message resource; `extra` is appended inside the object (",\"attachments\":[...]").
std::string graph_message(const std::string& id, const std::string& body, bool html = true,
                          const std::string& extra = "") {
  return R"({"@odata.etag":"W/\"x\"","id":)" + json_string(id) +
         R"(,"receivedDateTime":"2024-03-04T09:13:00Z","sentDateTime":"2024-03-04T09:12:00Z","subject":"Deploy )" +
         id + R"(","internetMessageId":"<)" + id + R"(@graph.test>","body":{"contentType":")" +
         (html ? "html" : "text") + R"(","content":)" + json_string(body) + R"(},"sender":)" +
         recipient("Ops", "ops@acme.test") + R"(,"from":)" +
         recipient("Ann \"the admin\" Lee", "ann@acme.test") + R"(,"toRecipients":[)" +
         recipient("Bob", "bob@partner.test") + "," + recipient("", "carol@acme.test") +
         R"(],"ccRecipients":[],"bccRecipients":[)" + recipient("Dan", "dan@acme.test") + "]" +
         extra + "}";
}

std::string file_attachment(const std::string& name, const std::string& type,
                            const std::string& content) {
  return R"({"@odata.type":"#microsoft.graph.fileAttachment","name":)" + json_string(name) +
         R"(,"contentType":)" + json_string(type) + R"(,"contentBytes":")" + base64(content) +
         "\"}";
}

std::string item_attachment(const std::string& name, const std::string& item) {
  return R"({"@odata.type":"#microsoft.graph.itemAttachment","name":)" + json_string(name) +
         R"(,"item":)" + item + "}";
}

std::string gmail_raw(const std::string& id, const std::string& message) {
  return R"({"id":)" + json_string(id) + R"(,"threadId":"t1","labelIds":["INBOX"],"raw":")" +
         base64url(message) + "\"}";
}

struct Got {
  std::string bytes, file, skip, failure, item_id;
  uint64_t offset = 0, index = 0;
};

struct SourceRun {
  std::vector<Got> messages;
  std::vector<Diagnostic> diagnostics;
  uint64_t files_failed = 0, files_not_mail = 0;
  std::map<std::string, uint64_t> not_mail_by_type;
  bool warned(std::string_view text) const {
    for (const Diagnostic& d : diagnostics)
      if (d.message.find(text) != std::string::npos) return true;
    return false;
  }
};

SourceRun read_all(std::vector<std::string> inputs, SourceOptions options = {}) {
  SourceRun run;
  MessageSource source(std::move(inputs), options,
                       [&](const Diagnostic& d) { run.diagnostics.push_back(d); });
  while (auto m = source.next())
    run.messages.push_back({std::string(m->bytes), *m->origin.file, m->skip_reason, m->failure,
                            m->origin.location.item_id, m->origin.offset, m->origin.index});
  run.files_failed = source.files_failed();
  run.files_not_mail = source.files_not_mail();
  run.not_mail_by_type = source.not_mail_by_type();
  return run;
}

std::string all_text(const DecodedMessage& decoded) {
  std::string out;
  for (const Segment& s : decoded.segments)
    out += "[" + s.part_path + "]" + std::string(s.text) + "\n";
  return out;
}

// The part path of the segment holding `needle`, or "" when none does.
std::string part_of(const DecodedMessage& decoded, std::string_view needle) {
  for (const Segment& s : decoded.segments)
    if (s.text.find(needle) != std::string_view::npos) return s.part_path;
  return "";
}

const std::string kSecretA = "tok_Q7v2Lr9xWm4Tz8Kp";
const std::string kSecretB = "tok_H3d5Gf0Js2Ea8Uc1";
const std::string kSecretC = "tok_Zq8mL2xW0pTn7rYv";
const std::string kSecretD = "tok_Nb6Yc3Hd5Gf0Js2E";

// ---------------------------------------------------------------------------------------------

TEST(JsonExportSniff, GraphAndGmailShapesOnly) {
  EXPECT_TRUE(looks_like_json_export("[" + graph_message("m1", "hi") + "]"));
  EXPECT_TRUE(
      looks_like_json_export(R"({"@odata.context":"x","value":[{"id":"1","subject":"s"}]})"));
  EXPECT_TRUE(looks_like_json_export("\xEF\xBB\xBF  \n" + gmail_raw("g1", "Subject: x\n\nhi\n")));
  EXPECT_TRUE(
      looks_like_json_export(R"({"id":"1","payload":{"mimeType":"text/plain"},"snippet":"")"));
  EXPECT_FALSE(looks_like_json_export(R"({"name":"app","version":"1.0","dependencies":{}})"));
  EXPECT_FALSE(looks_like_json_export(R"({"body":"only one generic key"})"));
  EXPECT_FALSE(looks_like_json_export("From: a@b\nSubject: {\"threadId\":1}\n\nx"));
  EXPECT_FALSE(looks_like_json_export(""));
  // A key name inside a string value is no key.
  EXPECT_FALSE(looks_like_json_export(R"({"note":"threadId: labelIds:"})"));
}

TEST(JsonExportBase64, StrictDecodeBothAlphabetsAndRewrap) {
  std::string out;
  ASSERT_TRUE(decode_base64_strict("aGVsbG8h-_--", out));
  EXPECT_EQ(out, "hello!\xFB\xFF\xBE");
  ASSERT_TRUE(decode_base64_strict("aGVs\nbG8=", out));
  EXPECT_EQ(out, "hello");
  EXPECT_FALSE(decode_base64_strict("aGVsbG8=x", out));  // data after padding
  EXPECT_FALSE(decode_base64_strict("aGVsb", out));      // impossible length
  EXPECT_FALSE(decode_base64_strict("aGV*bG8", out));    // not base64
  std::string wrapped;
  ASSERT_TRUE(rewrap_base64(std::string(200, 'Q'), wrapped));
  EXPECT_EQ(wrapped.find('\n'), 76u);
  std::string back;
  ASSERT_TRUE(decode_base64_strict(wrapped, back));
  EXPECT_EQ(back.size(), 150u);
}

TEST(JsonExportDates, Iso8601ToRfc5322) {
  EXPECT_EQ(iso8601_to_rfc5322("2024-03-04T09:12:00Z"), "Mon, 04 Mar 2024 09:12:00 +0000");
  EXPECT_EQ(iso8601_to_rfc5322("2024-02-29T23:59:59.1234567+05:30"),
            "Thu, 29 Feb 2024 23:59:59 +0530");
  EXPECT_EQ(iso8601_to_rfc5322("1999-12-31T00:00-08:00"), "Fri, 31 Dec 1999 00:00:00 -0800");
  EXPECT_EQ(iso8601_to_rfc5322("2024-13-04T09:12:00Z"), "");
  EXPECT_EQ(iso8601_to_rfc5322("yesterday"), "");
}

TEST(NotMail, MagicTable) {
  EXPECT_EQ(not_mail_type("\xFF\xD8\xFF\xE0\x00\x10JFIF"), "JPEG image");
  EXPECT_EQ(not_mail_type("\x89PNG\r\n\x1A\n...."), "PNG image");
  EXPECT_EQ(not_mail_type(std::string("SQLite format 3\0rest", 20)), "SQLite database");
  EXPECT_EQ(not_mail_type("\x7F"
                          "ELF\x02\x01\x01"),
            "ELF executable");
  EXPECT_EQ(not_mail_type("!BDN\x00\x00"), "Outlook PST/OST");
  std::string zip = std::string("PK\x03\x04", 4) + std::string(22, '\0') + "\x13" + '\0' +
                    std::string(2, '\0') + "[Content_Types].xml";
  EXPECT_EQ(not_mail_type(zip), "Office Open XML document");
  EXPECT_EQ(not_mail_type(std::string("PK\x05\x06", 4) + std::string(18, '\0')), "ZIP archive");
  std::string tar(512, '\0');
  tar.replace(257, 5, "ustar");
  EXPECT_EQ(not_mail_type(tar), "tar archive");
  // Text never matches, mail least of all.
  EXPECT_EQ(not_mail_type("From: a@example.test\nSubject: GIF89a\n\n"), "");
  EXPECT_EQ(not_mail_type("MZ is a fine start for a note"), "");
  EXPECT_EQ(not_mail_type(""), "");
}

// ---------------------------------------------------------------------------------------------

TEST(JsonExport, GraphArrayRenderedAsMail) {
  TempDir dir;
  const std::string first = graph_message("AAMk1", "<p>deploy key <b>" + kSecretA + "</b></p>");
  const std::string second = graph_message("AAMk2", "plain " + kSecretB + "\nbye", false);
  const std::string json = "[\n  " + first + ",\n  " + second + "\n]\n";
  const std::string path = dir.write("graph.json", json);
  const SourceRun run = read_all({path});
  ASSERT_EQ(run.messages.size(), 2u) << (run.diagnostics.empty() ? "" : run.diagnostics[0].message);
  EXPECT_EQ(run.files_failed, 0u);
  EXPECT_EQ(run.messages[0].item_id, "AAMk1");
  EXPECT_EQ(run.messages[1].item_id, "AAMk2");
  EXPECT_EQ(run.messages[0].index, 0u);
  EXPECT_EQ(run.messages[1].index, 1u);
  EXPECT_EQ(run.messages[0].offset, json.find(first));
  EXPECT_EQ(run.messages[1].offset, json.find(second));

  const DecodedMessage one = decode_message(run.messages[0].bytes);
  EXPECT_EQ(one.envelope.subject, "Deploy AAMk1");
  EXPECT_EQ(one.envelope.message_id, "<AAMk1@graph.test>");
  EXPECT_EQ(one.envelope.date, "Mon, 04 Mar 2024 09:12:00 +0000");
  EXPECT_NE(one.envelope.from.find("ann@acme.test"), std::string::npos) << one.envelope.from;
  EXPECT_NE(one.envelope.to.find("bob@partner.test"), std::string::npos) << one.envelope.to;
  EXPECT_NE(one.envelope.to.find("carol@acme.test"), std::string::npos) << one.envelope.to;
  EXPECT_EQ(part_of(one, kSecretA), "1") << all_text(one);
  EXPECT_EQ(part_of(one, "<b>"), "") << "HTML reduced to text";
  EXPECT_NE(run.messages[0].bytes.find("Bcc: \"Dan\" <dan@acme.test>"), std::string::npos);
  const DecodedMessage two = decode_message(run.messages[1].bytes);
  EXPECT_EQ(part_of(two, kSecretB), "1") << all_text(two);
}

TEST(JsonExport, GraphPageWithValueAndNextLink) {
  TempDir dir;
  const std::string json =
      "{\n \"@odata.context\": "
      "\"https://graph.microsoft.com/v1.0/$metadata#users('x')/messages\",\n"
      " \"value\": [" +
      graph_message("p1", kSecretA) + ", " + graph_message("p2", "nothing") +
      "],\n \"@odata.nextLink\": \"https://graph.microsoft.com/v1.0/next\"\n}\n";
  const SourceRun run = read_all({dir.write("page.json", json)});
  ASSERT_EQ(run.messages.size(), 2u);
  EXPECT_EQ(run.messages[0].item_id, "p1");
  EXPECT_EQ(run.messages[1].index, 1u);
  EXPECT_EQ(run.messages[1].offset, json.find("{\"@odata.etag\"", json.find("p1")));
  EXPECT_TRUE(run.messages[1].failure.empty());
  EXPECT_EQ(part_of(decode_message(run.messages[0].bytes), kSecretA), "1");
}

TEST(JsonExport, JsonLinesIndexIsTheLineOffsetItsStart) {
  TempDir dir;
  const std::string l0 = graph_message("L0", "a " + kSecretA);
  const std::string l2 =
      gmail_raw("G2", "From: x@y.test\nSubject: raw\n\nraw body " + kSecretB + "\n");
  const std::string l3 = graph_message("L3", "c");
  const std::string jsonl = l0 + "\n\n" + l2 + "\r\n" + l3;  // a blank line; CRLF; no final LF
  const SourceRun run = read_all({dir.write("export.jsonl", jsonl)});
  ASSERT_EQ(run.messages.size(), 3u);
  EXPECT_EQ(run.messages[0].index, 0u);
  EXPECT_EQ(run.messages[1].index, 2u);
  EXPECT_EQ(run.messages[2].index, 3u);
  EXPECT_EQ(run.messages[0].offset, 0u);
  EXPECT_EQ(run.messages[1].offset, jsonl.find(l2));
  EXPECT_EQ(run.messages[2].offset, jsonl.find(l3));
  EXPECT_EQ(run.messages[1].item_id, "G2");
  EXPECT_EQ(run.messages[1].bytes, "From: x@y.test\nSubject: raw\n\nraw body " + kSecretB + "\n");
}

TEST(JsonExport, GmailRawBinarySafe) {
  TempDir dir;
  std::string message = "Subject: bytes\nContent-Type: text/plain; charset=iso-8859-1\n\n";
  for (int c = 0; c < 256; ++c) message += static_cast<char>(c);  // every '-' and '_' case
  const SourceRun run = read_all({dir.write("gmail.json", "[" + gmail_raw("g", message) + "]")});
  ASSERT_EQ(run.messages.size(), 1u);
  EXPECT_EQ(run.messages[0].bytes, message);
}

TEST(JsonExport, GmailPayloadTreeRendered) {
  TempDir dir;
  const std::string text = "token in body " + kSecretA + "\n";
  const std::string env = "DB_PASSWORD=x\nAPI=" + kSecretB + "\n";
  const std::string payload =
      R"({"partId":"","mimeType":"multipart/mixed","filename":"","headers":[)"
      R"({"name":"From","value":"Eve <eve@acme.test>"},{"name":"To","value":"ops@partner.test"},)"
      R"({"name":"Subject","value":"=?UTF-8?B?w6kgY3JlZHM=?="},{"name":"Date","value":"Tue, 5 Mar 2024 10:00:00 +0000"},)"
      R"({"name":"Message-ID","value":"<pay@gmail.test>"},)"
      R"({"name":"Content-Type","value":"multipart/mixed; boundary=\"000orig\""}],)"
      R"("body":{"size":0},"parts":[)"
      R"({"partId":"0","mimeType":"multipart/alternative","headers":[{"name":"Content-Type","value":"multipart/alternative; boundary=\"000alt\""}],"body":{"size":0},"parts":[)"
      R"({"partId":"0.0","mimeType":"text/plain","filename":"","headers":[{"name":"Content-Type","value":"text/plain; charset=\"UTF-8\""},{"name":"Content-Transfer-Encoding","value":"quoted-printable"}],"body":{"size":10,"data":")" +
      base64url(text) +
      R"("}},{"partId":"0.1","mimeType":"text/html","headers":[],"body":{"data":")" +
      base64url("<div>html</div>") +
      R"("}}]},)"
      R"({"partId":"1","mimeType":"application/octet-stream","filename":"deploy.env","headers":[{"name":"Content-Type","value":"application/octet-stream; name=\"deploy.env\""},{"name":"Content-Disposition","value":"attachment; filename=\"deploy.env\""},{"name":"Content-Transfer-Encoding","value":"base64"}],"body":{"size":30,"data":")" +
      base64url(env) +
      R"("}},)"
      R"({"partId":"2","mimeType":"application/pdf","filename":"big.pdf","headers":[{"name":"Content-Disposition","value":"attachment; filename=\"big.pdf\""}],"body":{"attachmentId":"ANGjdJ8","size":900000}})"
      R"(]})";
  const std::string json =
      R"({"id":"18e1","threadId":"18e1","labelIds":["SENT"],"internalDate":"1709632800000","payload":)" +
      payload + "}\n";
  const SourceRun run = read_all({dir.write("payload.jsonl", json)});
  ASSERT_EQ(run.messages.size(), 1u);
  EXPECT_TRUE(run.messages[0].failure.empty()) << run.messages[0].failure;
  EXPECT_EQ(run.messages[0].item_id, "18e1");
  EXPECT_TRUE(run.warned("attachment data not in the export")) << run.diagnostics.size();
  const DecodedMessage decoded = decode_message(run.messages[0].bytes);
  EXPECT_TRUE(decoded.problems.empty()) << decoded.problems[0].what << "\n"
                                        << run.messages[0].bytes;
  EXPECT_EQ(decoded.envelope.subject, "é creds");
  EXPECT_EQ(decoded.envelope.message_id, "<pay@gmail.test>");
  EXPECT_EQ(part_of(decoded, kSecretA), "1.1") << all_text(decoded);
  EXPECT_EQ(part_of(decoded, kSecretB), "2:attachment=deploy.env") << all_text(decoded);
  EXPECT_EQ(part_of(decoded, "big.pdf"), "3:filename") << all_text(decoded);
}

TEST(JsonExport, GraphAttachmentsFilesAndNestedItems) {
  TempDir dir;
  const std::string innermost = graph_message("inner2", "deepest " + kSecretD, false);
  const std::string inner =
      graph_message("inner1", "forwarded " + kSecretC, false,
                    R"(,"attachments":[)" + item_attachment("Older mail", innermost) + "]");
  const std::string outer = graph_message(
      "outer", "see attached", true,
      R"(,"attachments":[)" +
          file_attachment("conf/app.env", "text/plain", "KEY=" + kSecretA + "\n") + "," +
          file_attachment("naïve.txt", "text/plain; charset=utf-8", kSecretB) + "," +
          item_attachment("Fwd: creds", inner) + "," +
          R"({"@odata.type":"#microsoft.graph.fileAttachment","name":"absent.bin","contentType":"application/octet-stream"})" +
          "]");
  const SourceRun run = read_all({dir.write("items.json", "[" + outer + "]")});
  ASSERT_EQ(run.messages.size(), 1u);
  ASSERT_TRUE(run.messages[0].failure.empty()) << run.messages[0].failure;
  EXPECT_TRUE(run.warned("\"absent.bin\"")) << run.diagnostics.size();
  const DecodedMessage decoded = decode_message(run.messages[0].bytes);
  EXPECT_TRUE(decoded.problems.empty()) << decoded.problems[0].what;
  EXPECT_EQ(part_of(decoded, kSecretA), "2:attachment=conf/app.env") << all_text(decoded);
  EXPECT_EQ(part_of(decoded, kSecretB), "3:attachment=naïve.txt") << all_text(decoded);
  EXPECT_EQ(part_of(decoded, kSecretC), "4.1") << all_text(decoded);
  EXPECT_EQ(part_of(decoded, kSecretD), "4.2.1") << all_text(decoded);
}

TEST(JsonExport, HostileHeaderValuesStayOnOneLine) {
  TempDir dir;
  const std::string json =
      R"([{"id":"h","subject":"hi\r\nBcc: injected@evil.test\n\nbody?","internetMessageHeaders":[)"
      R"({"name":"X-Note","value":"a\nb"},{"name":"Bad Name:","value":"v"},)"
      R"({"name":"Content-Type","value":"multipart/mixed; boundary=zzz"}],)"
      R"("body":{"contentType":"text","content":"--=_credsift_graph_0\nx"}}])";
  const SourceRun run = read_all({dir.write("h.json", json)});
  ASSERT_EQ(run.messages.size(), 1u);
  const std::string& bytes = run.messages[0].bytes;
  EXPECT_EQ(bytes.find("\nBcc:"), std::string::npos) << bytes;
  EXPECT_NE(bytes.find("Subject: hi  Bcc: injected@evil.test  body?\n"), std::string::npos)
      << bytes;
  EXPECT_NE(bytes.find("X-Note: a b\n"), std::string::npos);
  EXPECT_NE(bytes.find("Bad-Name-: v\n"), std::string::npos);
  EXPECT_EQ(bytes.find("boundary=zzz"), std::string::npos);
  const DecodedMessage decoded = decode_message(bytes);
  EXPECT_NE(part_of(decoded, "--=_credsift_graph_0"), "") << all_text(decoded);
}

TEST(JsonExport, BadRecordsAreCountedAndTheScanGoesOn) {
  TempDir dir;
  const std::vector<std::string> lines = {
      graph_message("ok1", "fine"),
      R"({"id":"broken", "subject": "unterminated})",
      "42",
      R"({"id":"x","threadId":"t","labelIds":["INBOX"],"snippet":"minimal format"})",
      R"({"id":"y","color":"blue","subject":"x"})",
      graph_message("badb64", "b", false,
                    R"(,"attachments":[{"name":"a.bin","contentBytes":"not*base64"}])"),
      R"({"id":"r","threadId":"t","raw":"%%%"})",
      R"({"id":"z","size":3})",
      graph_message("ok2", "fine"),
  };
  std::string jsonl;
  std::vector<uint64_t> starts;
  for (const std::string& l : lines) {
    starts.push_back(jsonl.size());
    jsonl += l + "\n";
  }
  const SourceRun run = read_all({dir.write("bad.jsonl", jsonl)});
  ASSERT_EQ(run.messages.size(), lines.size());
  EXPECT_EQ(run.files_failed, 0u);
  const auto& m = run.messages;
  EXPECT_TRUE(m[0].failure.empty() && m[0].skip.empty());
  EXPECT_NE(m[1].failure.find("invalid JSON"), std::string::npos) << m[1].failure;
  EXPECT_EQ(m[1].offset, starts[1]);
  EXPECT_NE(m[2].failure.find("not a JSON object"), std::string::npos) << m[2].failure;
  EXPECT_NE(m[3].skip.find("without raw or payload"), std::string::npos) << m[3].skip;
  EXPECT_TRUE(m[4].failure.empty()) << "a subject alone makes a (Graph) message";
  EXPECT_NE(m[5].failure.find("\"a.bin\": contentBytes is not valid base64"), std::string::npos)
      << m[5].failure;
  EXPECT_NE(m[6].failure.find("raw is not valid base64url"), std::string::npos) << m[6].failure;
  EXPECT_NE(m[7].failure.find("not a Graph or Gmail message"), std::string::npos);
  EXPECT_EQ(m[7].index, 7u);
  EXPECT_EQ(m[7].offset, starts[7]);
  EXPECT_TRUE(m[8].failure.empty());
  EXPECT_EQ(m[8].item_id, "ok2");
}

TEST(JsonExport, LineOverTheLimitSkippedWithItsOffset) {
  TempDir dir;
  SourceOptions options;
  options.max_message_bytes = 4096;
  options.stream_chunk_bytes = 1000;  // the long line spans many reads
  const std::string big = graph_message("big", std::string(20000, 'x'));
  const std::string jsonl =
      graph_message("a", "1") + "\n" + big + "\n" + graph_message("b", "2") + "\n";
  const SourceRun run = read_all({dir.write("big.jsonl", jsonl)}, options);
  ASSERT_EQ(run.messages.size(), 3u);
  EXPECT_EQ(run.messages[1].skip, "JSON line larger than 4096 bytes");
  EXPECT_EQ(run.messages[1].offset, jsonl.find(big));
  EXPECT_EQ(run.messages[1].index, 1u);
  EXPECT_EQ(run.messages[2].item_id, "b");
  EXPECT_EQ(run.messages[2].offset, jsonl.find(big) + big.size() + 1);
  EXPECT_EQ(run.messages[2].index, 2u);
}

TEST(JsonExport, DocumentOverTheLimitReportedNotHalfRead) {
  TempDir dir;
  SourceOptions options;
  options.max_message_bytes = 4096;
  std::string json = "[\n";
  for (int i = 0; i < 40; ++i)
    json += (i ? ",\n" : "") + graph_message("m" + std::to_string(i), "x");
  json += "\n]\n";
  const SourceRun run = read_all({dir.write("big.json", json)}, options);
  EXPECT_TRUE(run.messages.empty());
  EXPECT_EQ(run.files_failed, 1u);
  EXPECT_TRUE(run.warned("JSON document larger than 4096 bytes: not read"));
}

TEST(JsonExport, TruncatedOrBrokenDocumentReported) {
  TempDir dir;
  const std::string a = graph_message("t0", "a"), b = graph_message("t1", "b");
  // Cut short: simdjson sees the missing closing bracket before any element is handed out, so
  // the file is reported and nothing of it is counted as read.
  const std::string cut = "[\n" + a + ",\n" + b + ",\n{\"id\": \"t2\", ";
  for (const std::string& json : {cut, cut + "\"subj"}) {
    const SourceRun run = read_all({dir.write("cut.json", json)});
    EXPECT_EQ(run.files_failed, 1u);
    EXPECT_TRUE(run.messages.empty());
    EXPECT_TRUE(run.warned("invalid JSON")) << json;
    EXPECT_TRUE(run.warned("document not read")) << json;
  }
  // Broken in the middle: the elements before come out, the broken one fails, and the file is
  // reported as not read to its end.
  const std::string broken = "{\"id\":\"t2\" \"subject\":\"no comma\"}";
  const std::string json = "[\n" + a + ",\n" + broken + ",\n" + b + "\n]\n";
  const SourceRun run = read_all({dir.write("broken.json", json)});
  EXPECT_EQ(run.files_failed, 1u);
  ASSERT_EQ(run.messages.size(), 2u);
  EXPECT_EQ(run.messages[0].item_id, "t0");
  EXPECT_NE(run.messages[1].failure.find("invalid JSON"), std::string::npos);
  EXPECT_EQ(run.messages[1].offset, json.find(broken));
  EXPECT_EQ(run.messages[1].index, 1u);
  EXPECT_TRUE(run.warned("the rest of the document is not read"));
}

TEST(JsonExport, GzipAndStdinStreamsAreReadToo) {
  TempDir dir;
  const std::string jsonl =
      graph_message("z1", kSecretA) + "\n" + gmail_raw("z2", "Subject: s\n\nb\n") + "\n";
  const std::string path = (dir.path() / "export.jsonl.gz").string();
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, jsonl.data(), static_cast<unsigned>(jsonl.size())),
            static_cast<int>(jsonl.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
  const SourceRun run = read_all({path});
  ASSERT_EQ(run.messages.size(), 2u);
  EXPECT_EQ(run.messages[0].item_id, "z1");
  EXPECT_EQ(run.messages[1].offset, jsonl.find("{\"id\":\"z2\""));

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string doc = "[" + graph_message("s1", "x") + "]";
  ASSERT_EQ(write(fds[1], doc.data(), doc.size()), static_cast<ssize_t>(doc.size()));
  close(fds[1]);
  SourceOptions options;
  options.stdin_fd = fds[0];
  const SourceRun piped = read_all({"-"}, options);
  close(fds[0]);
  ASSERT_EQ(piped.messages.size(), 1u);
  EXPECT_EQ(piped.messages[0].item_id, "s1");
}

// ---------------------------------------------------------------------------------------------

TEST(NotMail, NamedFilesOfKnownTypesAreNeverMessages) {
  TempDir dir;
  const std::string jpeg = dir.write(
      "photo.jpg", std::string("\xFF\xD8\xFF\xE0\0\x10JFIF\0", 11) + std::string(5000, 'x'));
  const std::string elf = dir.write("tool", std::string("\x7F"
                                                        "ELF\x02\x01\x01\0",
                                                        8) +
                                                std::string(100000, '\0'));
  const std::string text = dir.write("notes.txt", "just a note, password: hunter2\n");
  const SourceRun run = read_all({jpeg, elf, text});
  ASSERT_EQ(run.messages.size(), 1u);  // the text file, named by the user, as before
  EXPECT_EQ(run.messages[0].file, text);
  EXPECT_EQ(run.files_not_mail, 2u);
  EXPECT_EQ(run.not_mail_by_type.at("JPEG image"), 1u);
  EXPECT_EQ(run.not_mail_by_type.at("ELF executable"), 1u);
  EXPECT_TRUE(run.warned("skipped: not mail (JPEG image)"));
  EXPECT_EQ(run.files_failed, 0u);
}

TEST(NotMail, WalkedAndCompressedFilesToo) {
  TempDir dir;
  fs::create_directories(dir.path() / "box" / "cur");
  fs::create_directories(dir.path() / "box" / "new");
  fs::create_directories(dir.path() / "box" / "tmp");
  dir.write("box/cur/1:2,S", "From: a@b.test\nSubject: one\n\nbody\n");
  dir.write("box/cur/2:2,S", std::string("\x89PNG\r\n\x1A\n", 8) + "....");  // in a Maildir
  dir.write("readme.md", "# not mail\n");
  const std::string gz = (dir.path() / "db.sqlite.gz").string();
  gzFile f = gzopen(gz.c_str(), "wb");
  const std::string sqlite = std::string("SQLite format 3\0", 16) + std::string(4000, '\1');
  gzwrite(f, sqlite.data(), static_cast<unsigned>(sqlite.size()));
  gzclose(f);
  const SourceRun run = read_all({dir.path().string()});
  ASSERT_EQ(run.messages.size(), 1u);
  EXPECT_EQ(run.files_not_mail, 3u);
  EXPECT_EQ(run.not_mail_by_type.at("PNG image"), 1u);
  EXPECT_EQ(run.not_mail_by_type.at("SQLite database"), 1u);
  EXPECT_EQ(run.not_mail_by_type.at(std::string(source_detail::kUnrecognisedContent)), 1u);
  EXPECT_TRUE(run.warned("skipped: content not recognised as mail"));
}

// ---------------------------------------------------------------------------------------------

Rule token_rule() {
  Rule rule;
  rule.id = "test.token";
  rule.pattern = R"(\btok_(?<secret>[A-Za-z0-9]{16})\b)";
  rule.file = "test.json";
  return rule;
}

TEST(JsonExportScan, SummaryAddsUpAndFindingsCarryTheItem) {
  TempDir dir;
  SourceOptions source;
  source.max_message_bytes = 8192;
  const std::string mbox = "From a@b Mon Jan  1 00:00:00 2024\nSubject: m1\n\n" + kSecretD +
                           "\n\nFrom a@b Mon Jan  1 00:00:00 2024\nSubject: m2\n\nx\n";
  const std::string jsonl =
      graph_message("AAMkGood", "key " + kSecretA) + "\n" + "not json\n" +
      graph_message("huge", std::string(10000, 'y')) + "\n" +
      R"({"id":"min","threadId":"t","labelIds":[]})" + "\n" +
      gmail_raw("gm", "Subject: g\nDate: Tue, 5 Mar 2024 10:00:00 +0000\n\n" + kSecretB + "\n") +
      "\n";
  const std::vector<std::string> inputs = {
      dir.write("a.mbox", mbox), dir.write("b.jsonl", jsonl),
      dir.write("c.jpg", std::string("\xFF\xD8\xFF\xDB", 4) + std::string(100, 'j'))};
  RuleSet rules;
  rules.rules.push_back(token_rule());
  const Matcher matcher(rules);
  ScanOptions options;
  options.source = source;
  options.threads = 2;
  options.include_rejected = true;
  std::vector<Finding> findings;
  const ScanSummary summary =
      run_scan(inputs, matcher, options, [&](const Finding& f) { findings.push_back(f); }, {});
  // 2 mbox messages + 5 JSON lines: 4 scanned, 1 skipped (huge), 1 skipped (minimal), 1 failed.
  EXPECT_EQ(summary.messages(), 7u);
  EXPECT_EQ(summary.messages_scanned, 4u);
  EXPECT_EQ(summary.messages_skipped, 2u);
  EXPECT_EQ(summary.messages_failed, 1u);
  EXPECT_EQ(summary.files_not_mail, 1u);
  EXPECT_EQ(summary.not_mail_by_type.at("JPEG image"), 1u);
  EXPECT_EQ(summary.files_failed, 0u);
  ASSERT_EQ(findings.size(), 3u);
  EXPECT_EQ(findings[1].location.item_id, "AAMkGood");
  EXPECT_EQ(findings[1].index, 0u);
  EXPECT_EQ(findings[1].offset, 0u);
  EXPECT_EQ(findings[1].envelope->message_id, "<AAMkGood@graph.test>");
  EXPECT_EQ(findings[2].location.item_id, "gm");
  EXPECT_EQ(findings[2].index, 4u);
  EXPECT_EQ(findings[2].offset, jsonl.find("{\"id\":\"gm\""));
  EXPECT_EQ(findings[2].part_path, "1");
}

// A JSON lines file larger than the memory it may use: streamed, RSS stays flat.
long max_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST(JsonExport, FiftyMegabytesOfLinesStreamedInBoundedMemory) {
  TempDir dir;
  const fs::path path = dir.path() / "big.jsonl";
  {
    std::ofstream out(path, std::ios::binary);
    const std::string filler(800, 'w');
    std::string chunk;
    for (int i = 0; chunk.size() < (1 << 20); ++i)
      chunk += graph_message("id" + std::to_string(i), filler) + "\n";
    for (int i = 0; i < 50; ++i) out << chunk;
  }
  const uint64_t size = fs::file_size(path);
  ASSERT_GE(size, 50u << 20);
  const long before = max_rss_kb();
  uint64_t messages = 0, bytes = 0;
  {
    MessageSource source({path.string()}, {}, {});
    while (auto m = source.next()) {
      ++messages;
      bytes += m->bytes.size();
      ASSERT_TRUE(m->failure.empty() && m->skip_reason.empty());
    }
  }
  const long grown_mb = (max_rss_kb() - before) / 1024;
  EXPECT_GT(messages, 30000u);
  EXPECT_GT(bytes, size / 2);
  // AddressSanitizer keeps up to 256 MB of freed memory in quarantine: a looser bound there.
#if defined(__SANITIZE_ADDRESS__)
  constexpr long kLimitMb = 320;
#else
  constexpr long kLimitMb = 24;
#endif
  EXPECT_LT(grown_mb, kLimitMb) << "peak RSS grew by " << grown_mb << " MB for a " << (size >> 20)
                                << " MB file";
}

}  // namespace
}  // namespace credsift

namespace credsift {
namespace {

// The fuzz target's seeds and any input it found (tests/fuzz/regressions/json_export/), replayed
// with its property: every record comes out as a message, a skip or a failure, within limits.
TEST(JsonExport, FuzzSeedsAndRegressionsReplay) {
  const fs::path fuzz = fs::path(CREDSIFT_SOURCE_DIR) / "tests/fuzz";
  size_t inputs = 0;
  for (const fs::path& dir : {fuzz / "json_export", fuzz / "regressions" / "json_export"}) {
    if (!fs::exists(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string data((std::istreambuf_iterator<char>(in)), {});
      if (data.empty()) continue;
      const std::string_view input = std::string_view(data).substr(1);
      source_detail::JsonExportLimits limits;
      limits.max_message_bytes = 1 << 16;
      limits.read_chunk_bytes = 1 + static_cast<unsigned char>(data[0]) % 64;
      size_t at = 0, messages = 0, scanned = 0;
      source_detail::JsonExportReader reader(
          std::make_shared<const std::string>(entry.path().string()), limits, {},
          [&](char* dst, size_t n) {
            const size_t k = std::min(n, input.size() - at);
            memcpy(dst, input.data() + at, k);
            at += k;
            return k;
          });
      while (auto m = reader.next()) {
        ++messages;
        EXPECT_LE(m->origin.offset, input.size());
        if (m->skip_reason.empty() && m->failure.empty()) {
          ++scanned;
          EXPECT_LE(decode_message(m->bytes).problems.size(), 100u) << entry.path();
        }
      }
      EXPECT_LE(messages, input.size()) << entry.path();
      if (dir == fuzz / "json_export") {
        EXPECT_GT(scanned, 0u) << entry.path();  // the seeds are real exports
      }
      ++inputs;
    }
  }
  EXPECT_GE(inputs, 3u);
}

}  // namespace
}  // namespace credsift

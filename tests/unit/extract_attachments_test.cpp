// Unit tests of what attachments hide: archives (libarchive), OOXML, PDF, messages inside
// archives, credential files detected by content, uuencode, format=flowed, UTF-16, and the
// limits that keep hostile archives bounded.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "../../scanner/extract/extract_internal.hpp"
#include "../archive_writer.hpp"
#include "credsift/extract.hpp"
#include "mime_test_support.hpp"

using namespace credsift;
using namespace credsift::testing;

namespace {

using test_archive::Files;
using test_archive::make_archive;
using test_archive::zip;

std::string compress(const std::string& data, const std::string& filter) {
  return make_archive({{"data", data}}, "raw", filter);
}

DecodedMessage attachment(const std::string& bytes, const std::string& name,
                          const DecodeLimits& limits = {}) {
  DecodedMessage dm;
  decode_attachment(bytes, name, "2:attachment=" + name, limits, dm);
  return dm;
}

std::string base64(std::string_view in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = uint8_t(in[i]) << 16 | uint8_t(in[i + 1]) << 8 | uint8_t(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
    if (out.size() % 77 == 76) out += '\n';
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16 | uint8_t(in[i + 1]) << 8;
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

std::string mail_with(const std::string& bytes, const std::string& filename,
                      const std::string& type = "application/octet-stream") {
  return "From: a@example.test\nSubject: files\nMIME-Version: 1.0\n"
         "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n"
         "see attached\n--b\nContent-Type: " +
         type + "\nContent-Disposition: attachment; filename=\"" + filename +
         "\"\nContent-Transfer-Encoding: base64\n\n" + base64(bytes) + "\n--b--\n";
}

}  // namespace

TEST(Archives, ZipEntriesBecomeSegmentsWithTheirPath) {
  std::string z = zip({{"config/.env", "DB_PASSWORD=hunter2\n"}, {"README.md", "# app\n"}});
  DecodedMessage dm = decode_message(mail_with(z, "deploy.zip"));
  const Segment* env = find_segment(dm, "2:attachment=deploy.zip!config/.env");
  ASSERT_NE(env, nullptr) << paths(dm);
  EXPECT_EQ(env->text, "DB_PASSWORD=hunter2\n");
  EXPECT_EQ(env->kind, SegmentKind::AttachmentContent);
  ASSERT_NE(find_segment(dm, "2:attachment=deploy.zip!README.md"), nullptr);
  EXPECT_TRUE(dm.problems.empty()) << problems(dm);
}

TEST(Archives, NestedArchivesUpToTheDepthLimit) {
  std::string inner = zip({{"secret.txt", "token=abc\n"}});
  std::string outer = zip({{"inner.zip", inner}});
  DecodedMessage dm = attachment(outer, "outer.zip");
  ASSERT_NE(find_segment(dm, "2:attachment=outer.zip!inner.zip!secret.txt"), nullptr) << paths(dm);

  std::string nested = zip({{"deep.txt", "deep\n"}});
  for (int i = 0; i < 6; ++i) nested = zip({{"level" + std::to_string(i) + ".zip", nested}});
  DecodeLimits limits;
  limits.max_archive_depth = 3;
  DecodedMessage deep = attachment(nested, "n.zip", limits);
  EXPECT_TRUE(has_problem(deep, "archive nesting depth limit 3")) << problems(deep);
  for (const Segment& s : deep.segments) EXPECT_EQ(s.part_path.find("deep.txt"), std::string::npos);
}

TEST(Archives, EncryptedZipEntryIsReported) {
  std::string z = make_archive({{"passwords.txt", "root: hunter2\n"}}, "zip", "none", "pw");
  DecodedMessage dm = attachment(z, "locked.zip");
  EXPECT_TRUE(has_problem(dm, "passwords.txt: encrypted archive entry")) << problems(dm);
  EXPECT_EQ(find_segment(dm, "2:attachment=locked.zip!passwords.txt"), nullptr);
}

TEST(Archives, TarGzip7zAndSingleStreamCompressors) {
  Files files = {{"etc/app.conf", "api_key=k1\n"}};
  for (const char* filter : {"none", "gzip", "bzip2", "xz"}) {
    DecodedMessage dm = attachment(make_archive(files, "ustar", filter), "bundle.tar");
    ASSERT_NE(find_segment(dm, "2:attachment=bundle.tar!etc/app.conf"), nullptr)
        << filter << ": " << paths(dm) << problems(dm);
  }
  DecodedMessage seven = attachment(make_archive(files, "7zip"), "bundle.7z");
  ASSERT_NE(find_segment(seven, "2:attachment=bundle.7z!etc/app.conf"), nullptr)
      << paths(seven) << problems(seven);
  for (auto [filter, name] :
       {std::pair{"gzip", "notes.txt.gz"}, std::pair{"bzip2", "notes.txt.bz2"},
        std::pair{"xz", "notes.txt.xz"}}) {
    DecodedMessage dm = attachment(compress("password: x\n", filter), name);
    const Segment* s = find_segment(dm, std::string("2:attachment=") + name + "!notes.txt");
    ASSERT_NE(s, nullptr) << filter << ": " << paths(dm) << problems(dm);
    EXPECT_EQ(s->text, "password: x\n");
  }
}

TEST(Archives, ZipBombStopsAtTheRatioLimit) {
  std::string zeros(64u << 20, '\0');
  std::string bomb = zip({{"zeros.bin", zeros}});
  zeros.clear();
  ASSERT_LT(bomb.size(), 1u << 20);
  DecodedMessage dm = attachment(bomb, "bomb.zip");
  EXPECT_TRUE(has_problem(dm, "decompression ratio above 200")) << problems(dm);
  size_t stored = 0;
  for (const auto& s : dm.storage) stored += s->size();
  EXPECT_LT(stored, bomb.size() * 201 + (1u << 20));
}

TEST(Archives, DecompressedBytesAndEntriesAreBudgetedPerMessage) {
  std::string text;
  for (int i = 0; text.size() < (3u << 20); ++i) text += "line " + std::to_string(i * 7919) + "\n";
  DecodeLimits limits;
  limits.max_decompressed_bytes = 1u << 20;
  DecodedMessage dm = attachment(zip({{"a.txt", text}, {"b.txt", text}}), "big.zip", limits);
  EXPECT_TRUE(has_problem(dm, "decompressed-bytes limit 1048576")) << problems(dm);
  EXPECT_EQ(find_segment(dm, "2:attachment=big.zip!b.txt"), nullptr);

  Files many;
  for (int i = 0; i < 50; ++i) many.push_back({"f" + std::to_string(i) + ".txt", "x\n"});
  limits = {};
  limits.max_parts = 10;
  DecodedMessage parts = attachment(zip(many), "many.zip", limits);
  EXPECT_TRUE(has_problem(parts, "part limit 10")) << problems(parts);
  EXPECT_EQ(parts.segments.size(), 10u);
}

TEST(Archives, DamagedArchiveIsReportedNotFatal) {
  std::string z = zip({{"a.txt", std::string(10000, 'a')}, {"b.txt", "b\n"}});
  DecodedMessage dm = attachment(z.substr(0, z.size() / 2), "cut.zip");
  EXPECT_FALSE(dm.problems.empty());
  DecodedMessage garbage = attachment(std::string("PK\x03\x04garbage", 11), "g.zip");
  EXPECT_TRUE(has_problem(garbage, "g.zip")) << problems(garbage);
}

TEST(Archives, MessageInsideAnArchiveIsDecodedAsAMessage) {
  std::string eml =
      "From: b@example.test\nSubject: inner\nContent-Type: text/plain\n"
      "Content-Transfer-Encoding: base64\n\n" +
      base64("password: Inner-Secret-42\n") + "\n";
  DecodedMessage dm = decode_message(mail_with(zip({{"fwd/old.eml", eml}}), "mails.zip"));
  const Segment* body = find_segment(dm, "2:attachment=mails.zip!fwd/old.eml!1");
  ASSERT_NE(body, nullptr) << paths(dm);
  EXPECT_EQ(body->text, "password: Inner-Secret-42\n");
  ASSERT_NE(find_segment(dm, "2:attachment=mails.zip!fwd/old.eml!headers"), nullptr);
}

TEST(Archives, EmlFileAttachedAsOctetStreamIsDecodedAsAMessage) {
  std::string eml = "From: b@example.test\nSubject: inner\n\npassword: Eml-File-8\n";
  DecodedMessage dm = decode_message(mail_with(eml, "saved.eml"));
  const Segment* body = find_segment(dm, "2:attachment=saved.eml!1");
  ASSERT_NE(body, nullptr) << paths(dm);
  EXPECT_EQ(body->text, "password: Eml-File-8\n");
}

TEST(Ooxml, DocxParagraphsAndXlsxCellsWithSharedStrings) {
  std::string docx = zip(
      {{"[Content_Types].xml", "<Types/>"},
       {"word/styles.xml", "<w:styles><w:t>not text</w:t></w:styles>"},
       {"word/document.xml",
        "<?xml version=\"1.0\"?><w:document><w:body><w:p><w:r><w:t>User: admin</w:t></w:r></w:p>"
        "<w:p><w:r><w:t xml:space=\"preserve\">Password: </w:t></w:r><w:r><w:t>S3cr&amp;t&#33;"
        "</w:t></w:r></w:p></w:body></w:document>"}});
  DecodedMessage dm = attachment(docx, "creds.docx");
  const Segment* doc = find_segment(dm, "2:attachment=creds.docx!word/document.xml");
  ASSERT_NE(doc, nullptr) << paths(dm);
  EXPECT_EQ(doc->text, "User: admin\nPassword: S3cr&t!\n");
  EXPECT_EQ(find_segment(dm, "2:attachment=creds.docx!word/styles.xml"), nullptr);

  std::string xlsx = zip(
      {{"[Content_Types].xml", "<Types/>"},
       {"xl/sharedStrings.xml",
        "<sst><si><t>host</t></si><si><t>password</t></si>"
        "<si><r><t>pa</t></r><r><t>ss&lt;1</t></r></si></sst>"},
       {"xl/worksheets/sheet1.xml",
        "<worksheet><sheetData><row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\">"
        "<v>1</v></c></row><row r=\"2\"><c t=\"inlineStr\"><is><t>db1</t></is></c><c t=\"s\">"
        "<v>2</v></c><c><v>42</v></c></row></sheetData></worksheet>"}});
  DecodedMessage book = attachment(xlsx, "hosts.xlsx");
  const Segment* sheet = find_segment(book, "2:attachment=hosts.xlsx!xl/worksheets/sheet1.xml");
  ASSERT_NE(sheet, nullptr) << paths(book);
  EXPECT_EQ(sheet->text, "host\tpassword\ndb1\tpass<1\t42\n");
}

TEST(Pdf, TextOfEveryPage) {
  std::string pdf =
      "%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]"
      "/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 200]/Contents 4 0 R"
      "/Resources<</Font<</F1 5 0 R>>>>>>endobj\n4 0 obj<</Length 51>>stream\nBT /F1 12 Tf 10 100 "
      "Td (password: Pdf-Secret-7) Tj ET\nendstream\nendobj\n5 0 obj<</Type/Font/Subtype/Type1"
      "/BaseFont/Helvetica>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
  DecodedMessage dm = attachment(pdf, "creds.pdf");
  const Segment* s = find_segment(dm, "2:attachment=creds.pdf");
  ASSERT_NE(s, nullptr) << paths(dm) << problems(dm);
  EXPECT_NE(s->text.find("password: Pdf-Secret-7"), std::string::npos) << s->text;
  DecodedMessage broken = attachment("%PDF-1.4\ngarbage", "broken.pdf");
  EXPECT_TRUE(has_problem(broken, "broken.pdf: PDF unreadable")) << problems(broken);
}

TEST(CredentialFiles, DetectedByContentWhateverTheName) {
  std::string pkcs12(
      "\x30\x82\x0A\x01\x02\x01\x03\x30\x82\x09\xC7\x06\x09\x2A\x86\x48\x86\xF7"
      "\x0D\x01\x07\x01\xA0\x82\x09\xB8\x04\x82\x09\xB4",
      30);
  std::string utf16_rdp = "\xFF\xFE";
  for (char c : std::string("full address:s:host\r\npassword "
                            "51:b:01000000D08C9DDF0115D1118C7A00C04FC297EB01000000\r\n")) {
    utf16_rdp.push_back(c);
    utf16_rdp.push_back('\0');
  }
  std::vector<std::pair<std::string, std::string>> cases = {
      {"pkcs12", pkcs12},
      {"jks", std::string("\xFE\xED\xFE\xED\x00\x00\x00\x02", 8)},
      {"jceks", std::string("\xCE\xCE\xCE\xCE\x00\x00\x00\x02", 8)},
      {"kdbx", std::string("\x03\xD9\xA2\x9A\x67\xFB\x4B\xB5\x01\x00\x04\x00", 12)},
      {"openssh", std::string("openssh-key-v1\0\0\0\0\x04none", 23)},
      {"putty",
       "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 2\nAAAA\n"
       "Private-Lines: 1\nAAAA\n"},
      {"ssh2", "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nP2/56wAAAA==\n"},
      {"openvpn", "client\nremote vpn.example.test 1194\n<key>\n-----BEGIN PRIVATE KEY-----\n"},
      {"rdp", utf16_rdp},
  };
  for (const auto& [kind, bytes] : cases) {
    EXPECT_EQ(credential_file_kind(bytes), kind);
    DecodedMessage dm = attachment(bytes, "file.bin");
    bool found = false;
    for (const Segment& s : dm.segments)
      if (s.kind == SegmentKind::CredentialFile) {
        found = true;
        EXPECT_EQ(s.part_path, "2:attachment=file.bin");
        EXPECT_TRUE(std::string_view(s.text).starts_with("credsift-binary-credential: " + kind +
                                                         " sha256="))
            << s.text;
        EXPECT_EQ(s.text.size(),
                  std::string("credsift-binary-credential:  sha256=\n").size() + kind.size() + 64);
      }
    EXPECT_TRUE(found) << kind;
  }
  for (std::string not_one :
       {std::string("\x30\x82\x01\x00\x02\x01\x01", 7), std::string("client\nremote x\n"),
        std::string("password 51:b:"), std::string("hello")})
    EXPECT_EQ(credential_file_kind(not_one), "") << not_one;
}

TEST(CredentialFiles, InsideAnArchiveAndAsATextAttachment) {
  DecodedMessage dm = attachment(
      zip({{"keys/server.jks", std::string("\xFE\xED\xFE\xED\0\0\0\2", 8)}}), "keys.zip");
  const Segment* s = find_segment(dm, "2:attachment=keys.zip!keys/server.jks");
  ASSERT_NE(s, nullptr) << paths(dm);
  EXPECT_EQ(s->kind, SegmentKind::CredentialFile);
  std::string ovpn = "client\nremote vpn.example.test 1194\n<tls-crypt>\nabc\n</tls-crypt>\n";
  DecodedMessage mail = decode_message(mail_with(ovpn, "office.ovpn", "text/plain"));
  bool marker = false, text = false;
  for (const Segment& seg : mail.segments) {
    if (seg.part_path != "2:attachment=office.ovpn") continue;
    marker |= seg.kind == SegmentKind::CredentialFile;
    text |= seg.kind == SegmentKind::AttachmentContent;
  }
  EXPECT_TRUE(marker && text) << paths(mail);
}

TEST(TextBodies, UuencodedBlockIsDecodedAsAnAttachment) {
  // "begin 644 creds.txt" + uuencode of "password: Uu-Secret-9\n"
  std::string mail =
      "From: a@example.test\nSubject: uu\n\nSee below.\n\nbegin 644 creds.txt\n"
      "6<&%S<W=O<F0Z(%5U+5-E8W)E=\"TY\"@``\n`\nend\nbye\n";
  DecodedMessage dm = decode_message(mail);
  const Segment* s = find_segment(dm, "1:uuencoded=creds.txt");
  ASSERT_NE(s, nullptr) << paths(dm);
  EXPECT_EQ(s->text, "password: Uu-Secret-9\n");
  ASSERT_NE(find_segment(dm, "1:uuencoded=creds.txt:filename"), nullptr);
}

// Blocks are found only where "begin " starts a line: at the body's first byte, after a
// previous block, and not inside a line.
TEST(TextBodies, UuencodedBlocksStartOnlyAtLineStarts) {
  const std::string block = "6<&%S<W=O<F0Z(%5U+5-E8W)E=\"TY\"@``\n`\nend\n";
  std::string mail = "From: a@example.test\nSubject: uu\n\nbegin 644 first.txt\n" + block +
                     "begin 600 second.txt\n" + block + "not a begin 644 third.txt\n" + block +
                     "xbegin 644 fourth.txt\n" + block;
  DecodedMessage dm = decode_message(mail);
  EXPECT_NE(find_segment(dm, "1:uuencoded=first.txt"), nullptr) << paths(dm);
  EXPECT_NE(find_segment(dm, "1:uuencoded=second.txt"), nullptr) << paths(dm);
  EXPECT_EQ(find_segment(dm, "1:uuencoded=third.txt"), nullptr) << paths(dm);
  EXPECT_EQ(find_segment(dm, "1:uuencoded=fourth.txt"), nullptr) << paths(dm);
}

TEST(TextBodies, FormatFlowedIsJoined) {
  EXPECT_EQ(join_flowed("token: abc \ndef\nnext line\n", false), "token: abc def\nnext line\n");
  EXPECT_EQ(join_flowed("token: abc \ndef\n", true), "token: abcdef\n");
  EXPECT_EQ(join_flowed("> quoted \n> more\n>> deeper\n", false), "> quoted more\n>> deeper\n");
  EXPECT_EQ(join_flowed(" From stuffed\n-- \nsig\n", false), "From stuffed\n-- \nsig\n");
  std::string mail =
      "From: a@example.test\nContent-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\n\n"
      "password: Flow \nSecret-11\n";
  DecodedMessage dm = decode_message(mail);
  ASSERT_NE(find_segment(dm, "1"), nullptr);
  EXPECT_EQ(find_segment(dm, "1")->text, "password: FlowSecret-11\n");
}

TEST(TextBodies, Utf16AttachmentWithBomAndUndeclaredCharsets) {
  std::string utf16 = "\xFF\xFE";
  for (char c : std::string("pass=caf\xE9\n")) {
    utf16.push_back(c);
    utf16.push_back('\0');
  }
  DecodedMessage dm = decode_message(mail_with(utf16, "notes.txt", "text/plain"));
  const Segment* s = find_segment(dm, "2:attachment=notes.txt");
  ASSERT_NE(s, nullptr) << paths(dm);
  EXPECT_EQ(s->text, "pass=caf\xC3\xA9\n");
  // No charset: valid UTF-8 stays, anything else is read as windows-1252.
  EXPECT_EQ(find_segment(decode_message("From: a@b\n\ncaf\xC3\xA9\n"), "1")->text, "caf\xC3\xA9\n");
  EXPECT_EQ(find_segment(decode_message("From: a@b\n\ncaf\xE9 \x80\n"), "1")->text,
            "caf\xC3\xA9 \xE2\x82\xAC\n");
}

TEST(Limits, OverlongLinesAreSplitAndReported) {
  std::string mail = "From: a@example.test\n\n" + std::string(5000, 'x') + "\nshort\n";
  DecodeLimits limits;
  limits.max_line_bytes = 1000;
  DecodedMessage dm = decode_message(mail, limits);
  EXPECT_TRUE(has_problem(dm, "line longer than 1000 bytes")) << problems(dm);
  const Segment* s = find_segment(dm, "1");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->text.size(), 5000u + 4 + 1 + 6);
  EXPECT_EQ(s->text.substr(1000, 1), "\n");
}

namespace credsift {
namespace {

// The byte-at-a-time definition that the 16-byte loop of is_text_like must agree with.
bool text_like_reference(std::string_view bytes) {
  const std::string_view head = bytes.substr(0, std::min<size_t>(bytes.size(), 8192));
  if (head.empty()) return false;
  size_t control = 0;
  for (unsigned char c : head) {
    if (c == 0) return false;
    if (c < 32 && c != '\n' && c != '\r' && c != '\t' && c != '\f') ++control;
  }
  return control * 50 < head.size();
}

TEST(IsTextLike, AgreesWithTheByteDefinition) {
  std::mt19937 random(5);
  const std::string special = std::string("\0\x01\x1f\x20\n\r\t\f\x7f\x80\xff", 11);
  for (int round = 0; round < 20000; ++round) {
    const size_t length = round % 4 == 0 ? 8100 + random() % 200 : random() % 300;
    std::string bytes(length, 'a');
    // Few or many control bytes, so both answers come up near the 2% line.
    const size_t odd = random() % (length / 20 + 3);
    for (size_t k = 0; k < odd && length > 0; ++k)
      bytes[random() % length] = special[random() % (round % 3 == 0 ? special.size() : 10) % 11];
    ASSERT_EQ(mime_detail::is_text_like(bytes), text_like_reference(bytes))
        << "round " << round << " length " << length;
  }
  EXPECT_FALSE(mime_detail::is_text_like(std::string(100, 'x') + '\0'));
  EXPECT_TRUE(mime_detail::is_text_like("plain text\r\n\tindented\f\n"));
  EXPECT_FALSE(mime_detail::is_text_like(""));
}

}  // namespace
}  // namespace credsift

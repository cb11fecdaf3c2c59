// OutlookItem rendering and the MS-OXRTFCP decompressor (scanner/outlook/), without any PST or
// .msg file.
#include "../../scanner/outlook/outlook_item.hpp"

#include <gtest/gtest.h>

#include <string>

#include "credsift/outlook.hpp"

namespace credsift::outlook_detail {
namespace {

Property text(std::string value) { return {kPtUnicode, std::move(value)}; }

Property systime(uint64_t filetime) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(filetime >> (8 * i));
  return {kPtSystime, bytes};
}

Property int32(int32_t v) {
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(static_cast<uint32_t>(v) >> (8 * i));
  return {kPtInt32, bytes};
}

std::string hex_bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out += static_cast<char>(b);
  return out;
}

TEST(OutlookItem, DecompressesTheSpecificationExample) {
  // MS-OXRTFCP 3.1.1, "Simple Compressed RTF".
  const std::string compressed =
      hex_bytes({0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1,
                 0xc5, 0xc7, 0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32,
                 0x35, 0x42, 0x32, 0x0a, 0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62,
                 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f, 0xa0});
  const LzfuResult rtf = decompress_lzfu(compressed, 1 << 20);
  EXPECT_TRUE(rtf.error.empty()) << rtf.error;
  EXPECT_EQ(rtf.text, "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n");
  // The output cap holds whatever the header claims.
  EXPECT_EQ(decompress_lzfu(compressed, 10).text.size(), 10u);
}

TEST(OutlookItem, RejectsOrStopsOnBrokenRtf) {
  EXPECT_FALSE(decompress_lzfu("short", 100).error.empty());
  std::string bad =
      hex_bytes({0x10, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 'X', 'X', 'X', 'X', 0, 0, 0, 0});
  EXPECT_EQ(decompress_lzfu(bad, 100).error, "unknown compressed RTF type");
  EXPECT_TRUE(decompress_lzfu(bad, 100).text.empty());
  // A lying raw size on a stored stream: clamped to the data there is.
  std::string stored =
      hex_bytes({0x14, 0, 0, 0, 0xff, 0xff, 0, 0, 'M', 'E', 'L', 'A', 0, 0, 0, 0}) + "{\\rtf1}";
  EXPECT_EQ(decompress_lzfu(stored, 1 << 20).text, "{\\rtf1}");
}

TEST(OutlookItem, BuildsHeadersFromProperties) {
  OutlookItem item;
  item.props[kPidMessageClass] = text("IPM.Note");
  item.props[kPidSubject] = text("Quarterly numbers");
  item.props[kPidSenderName] = text("Ann Smith");
  item.props[kPidSenderAddrType] = text("EX");
  item.props[kPidSenderEmail] = text("/O=ACME/OU=EXCHANGE/CN=RECIPIENTS/CN=ASMITH");
  item.props[kPidSenderSmtp] = text("ann@acme.test");
  item.props[kPidClientSubmitTime] = systime(130000000000000000ull);  // 2012-12-15
  item.props[kPidInternetMessageId] = text("<x1@acme.test>");
  item.props[kPidBody] = text("see the numbers\r\n");
  Properties to, cc;
  to[kPidDisplayName] = text("Bob");
  to[kPidSmtpAddress] = text("bob@acme.test");
  to[kPidRecipientType] = int32(1);
  cc[kPidDisplayName] = text("Carol");
  cc[kPidEmailAddress] = text("carol@acme.test");
  cc[kPidRecipientType] = int32(2);
  item.recipients = {to, cc};
  std::vector<std::string> problems;
  const std::string out = render_rfc5322(item, 1 << 20, problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_NE(out.find("From: \"Ann Smith\" <ann@acme.test>\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("To: \"Bob\" <bob@acme.test>\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Cc: \"Carol\" <carol@acme.test>\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Subject: Quarterly numbers\r\n"), std::string::npos);
  EXPECT_NE(out.find("Date: Fri, 14 Dec 2012 23:06:40 +0000\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Message-ID: <x1@acme.test>\r\n"), std::string::npos);
  EXPECT_NE(out.find("text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nsee "
                     "the numbers"),
            std::string::npos);
  EXPECT_EQ(item_type_of("IPM.Note"), "mail");
}

TEST(OutlookItem, TransportHeadersWinAndLoseTheirMimeFields) {
  OutlookItem item;
  item.props[kPidTransportHeaders] = text(
      "Received: from x\r\n\tby y\r\nSubject: real\r\nContent-Type: multipart/alternative;"
      "\r\n\tboundary=\"abc\"\r\nMIME-Version: 1.0\r\nFrom: a@b.test\r\n\r\n");
  item.props[kPidSubject] = text("ignored");
  item.props[kPidBody] = text("hello");
  std::vector<std::string> problems;
  const std::string out = render_rfc5322(item, 1 << 20, problems);
  EXPECT_EQ(out.rfind("Received: from x\r\n\tby y\r\nSubject: real\r\nFrom: a@b.test\r\n", 0), 0u)
      << out;
  EXPECT_EQ(out.find("abc"), std::string::npos);
  EXPECT_EQ(out.find("ignored"), std::string::npos);
}

TEST(OutlookItem, HostileValuesCannotAddHeadersOrBreakTheBoundary) {
  OutlookItem item;
  item.props[kPidSubject] = text("hi\r\nBcc: victim@x.test");
  item.props[kPidBody] = text("--=_credsift_0_0\r\nContent-Type: text/html\r\n\r\nfake");
  std::vector<std::string> problems;
  const std::string out = render_rfc5322(item, 1 << 20, problems);
  EXPECT_EQ(out.find("\r\nBcc:"), std::string::npos);
  EXPECT_NE(out.find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(out.find("boundary=\"=_credsift_0_1\""), std::string::npos) << out;
}

TEST(OutlookItem, AttachmentsAndEmbeddedItemsWithinTheLimit) {
  OutlookItem item;
  item.props[kPidSubject] = text("outer");
  OutlookAttachment small;
  small.props[kPidAttachLongFilename] = text("notes.txt");
  small.data = "password: hunter2";
  small.data_size = small.data.size();
  OutlookAttachment big;
  big.props[kPidAttachLongFilename] = text("big.bin");
  big.data = std::string(4000, 'x');
  big.data_size = big.data.size();
  OutlookAttachment skipped;
  skipped.props[kPidAttachFilename] = text("huge.iso");
  skipped.over_limit = true;
  skipped.data_size = 1ull << 40;
  OutlookAttachment inner;
  inner.embedded = std::make_unique<OutlookItem>();
  inner.embedded->props[kPidSubject] = text("inner");
  inner.embedded->props[kPidBody] = text("inner body");
  item.attachments.push_back(std::move(small));
  item.attachments.push_back(std::move(big));
  item.attachments.push_back(std::move(skipped));
  item.attachments.push_back(std::move(inner));
  std::vector<std::string> problems;
  const std::string out = render_rfc5322(item, 3000, problems);
  EXPECT_NE(out.find("filename=\"notes.txt\""), std::string::npos);
  // Attachments go out as binary parts, closed by a line break of their own.
  EXPECT_NE(out.find("Content-Transfer-Encoding: binary\r\nContent-Disposition: attachment; "
                     "filename=\"notes.txt\"\r\n\r\npassword: hunter2\r\n--"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("big.bin"), std::string::npos);
  EXPECT_NE(out.find("Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("boundary=\"=_credsift_1_0\""), std::string::npos);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("'big.bin' (4000 bytes) over the message size limit"),
            std::string::npos)
      << problems[0];
  EXPECT_NE(problems[1].find("'huge.iso'"), std::string::npos);
}

TEST(OutlookItem, BinaryAttachmentHoldingTheBoundaryGetsAnother) {
  OutlookItem item;
  item.props[kPidSubject] = text("s");
  OutlookAttachment a;
  a.data = std::string("x\r\n--=_credsift_0_0\r\ny\n", 23);
  a.data_size = a.data.size();
  item.attachments.push_back(std::move(a));
  std::vector<std::string> problems;
  const std::string out = render_rfc5322(item, 1 << 20, problems);
  EXPECT_NE(out.find("boundary=\"=_credsift_0_1\""), std::string::npos) << out;
  // The file's own last line break stays in the part.
  EXPECT_NE(out.find("y\n\r\n--=_credsift_0_1--"), std::string::npos) << out;
}

TEST(OutlookItem, ContactFieldsBecomeText) {
  OutlookItem item;
  item.props[kPidMessageClass] = text("IPM.Contact");
  item.props[kPidDisplayName] = text("Dana");
  item.props[0x3A08] = text("+1 555 0100");
  item.props[0x8005] = text("vpn password Winter2024!");
  std::vector<std::string> problems;
  const std::string out = render_rfc5322(item, 1 << 20, problems);
  EXPECT_EQ(item_type_of("IPM.Contact"), "contact");
  EXPECT_NE(out.find("Business phone: +1 555 0100\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Property 0x8005: vpn password Winter2024!\r\n"), std::string::npos);
}

TEST(OutlookItem, ItemTypes) {
  EXPECT_EQ(item_type_of(""), "mail");
  EXPECT_EQ(item_type_of("IPM.Note.SMIME"), "mail");
  EXPECT_EQ(item_type_of("REPORT.IPM.Note.NDR"), "mail");
  EXPECT_EQ(item_type_of("IPM.Appointment"), "appointment");
  EXPECT_EQ(item_type_of("IPM.Schedule.Meeting.Request"), "appointment");
  EXPECT_EQ(item_type_of("IPM.Task"), "task");
  EXPECT_EQ(item_type_of("IPM.StickyNote"), "note");
  EXPECT_EQ(item_type_of("IPM.Notes"), "other");
  EXPECT_EQ(item_type_of("IPM.Configuration.X"), "other");
}

TEST(OutlookItem, TextConversions) {
  EXPECT_EQ(utf16le_to_utf8(std::string("h\0\xe9\0=\xd8\0\xde\0\0", 10)),
            "h\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(utf16le_to_utf8(std::string("\0\xd8", 2)), "\xef\xbf\xbd");  // lone surrogate
  EXPECT_EQ(cp1252_to_utf8("\x80 \xe9"), "\xe2\x82\xac \xc3\xa9");
}

}  // namespace
}  // namespace credsift::outlook_detail

#pragma once
// An Outlook item (a PST/OST message or a .msg file) as MAPI properties, and its rendering as an
// RFC 5322 message, so that the decoder sees Outlook items exactly like mail from an mbox.
// The PST reader (libpff) and the .msg reader (our own MS-OXMSG code over libolecf) both fill
// an OutlookItem; only this file knows how one becomes a message.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credsift::outlook_detail {

// MAPI property types (MS-OXCDATA 2.11.1) and the property ids this code reads.
enum : uint16_t {
  kPtInt16 = 0x0002,
  kPtInt32 = 0x0003,
  kPtBoolean = 0x000B,
  kPtObject = 0x000D,
  kPtInt64 = 0x0014,
  kPtString8 = 0x001E,
  kPtUnicode = 0x001F,
  kPtSystime = 0x0040,
  kPtBinary = 0x0102,
};
enum : uint16_t {
  kPidMessageClass = 0x001A,
  kPidSubject = 0x0037,
  kPidClientSubmitTime = 0x0039,
  kPidSentRepresentingName = 0x0042,
  kPidSentRepresentingAddrType = 0x0064,
  kPidSentRepresentingEmail = 0x0065,
  kPidTransportHeaders = 0x007D,
  kPidRecipientType = 0x0C15,
  kPidSenderName = 0x0C1A,
  kPidSenderAddrType = 0x0C1E,
  kPidSenderEmail = 0x0C1F,
  kPidDeliveryTime = 0x0E06,
  kPidBody = 0x1000,
  kPidRtfCompressed = 0x1009,
  kPidHtml = 0x1013,
  kPidInternetMessageId = 0x1035,
  kPidDisplayName = 0x3001,
  kPidAddrType = 0x3002,
  kPidEmailAddress = 0x3003,
  kPidCreationTime = 0x3007,
  kPidAttachData = 0x3701,
  kPidAttachFilename = 0x3704,
  kPidAttachMethod = 0x3705,
  kPidAttachLongFilename = 0x3707,
  kPidAttachMimeTag = 0x370E,
  kPidSmtpAddress = 0x39FE,
  kPidInternetCpid = 0x3FDE,
  kPidSenderSmtp = 0x5D01,
  kPidSentRepresentingSmtp = 0x5D02,
};

// One property value. Strings (PT_STRING8, PT_UNICODE) are held as UTF-8, whatever their
// encoding in the file; every other type keeps its little-endian bytes as stored.
struct Property {
  uint16_t type = 0;
  std::string data;
};
using Properties = std::map<uint16_t, Property>;  // by property id (the tag's upper 16 bits)

std::optional<std::string> string_property(const Properties& props, uint16_t id);
std::optional<int64_t> integer_property(const Properties& props, uint16_t id);
// A PT_SYSTIME (FILETIME) as seconds since the Unix epoch.
std::optional<int64_t> time_property(const Properties& props, uint16_t id);
int64_t filetime_to_unix(uint64_t filetime);

struct OutlookItem;

struct OutlookAttachment {
  Properties props;
  std::string data;         // the attached file's bytes (empty for embedded items)
  uint64_t data_size = 0;   // its real size (data stays empty when it was over the limit)
  bool over_limit = false;  // not read: larger than what the message may hold
  std::unique_ptr<OutlookItem> embedded;  // an attached Outlook item (attach method 5)
};

struct OutlookItem {
  Properties props;
  std::vector<Properties> recipients;
  std::vector<OutlookAttachment> attachments;
  std::vector<std::string> problems;  // what could not be read, for the diagnostics
};

// The item's family from its message class: mail, appointment, contact, task, note or other.
std::string item_type_of(std::string_view message_class);

// libpff's and libolecf's error text is a backtrace, one line a call from the innermost out:
// kept whole on one line ("a; b; c") for a diagnostic.
std::string one_line_backtrace(const char* text);

// The item as an RFC 5322 message: the transport headers when the item has them, else headers
// built from its properties; a multipart/mixed body holding the plain text, HTML and RTF bodies,
// the other text fields of non-mail items, the attachments (base64, with their file names) and
// embedded items as message/rfc822 parts. Attachments that would take the message past
// max_bytes are left out and listed in `problems`.
std::string render_rfc5322(const OutlookItem& item, uint64_t max_bytes,
                           std::vector<std::string>& problems);

// Windows-1252 bytes as UTF-8 (PT_STRING8 of files without another codepage).
std::string cp1252_to_utf8(std::string_view bytes);
// UTF-16LE bytes as UTF-8; unpaired surrogates become U+FFFD.
std::string utf16le_to_utf8(std::string_view bytes);

}  // namespace credsift::outlook_detail

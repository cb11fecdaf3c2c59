#pragma once
// Extract: the text hidden inside one attachment's bytes (archives, OOXML, OpenDocument, PDF,
// RTF, TNEF, legacy Office binaries, credential files, text in any charset), as segments appended
// to the message being decoded. Called by the decode stage (mime) for every attachment; it calls
// back into that stage for messages found inside archives. Bounded by the message's DecodeLimits.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/mime.hpp"
#include "credsift/outlook.hpp"

namespace credsift {

// One attachment's bytes (after transfer decoding) decoded as the decode stage does: archive
// entries, OOXML text, PDF text, credential files, text in any charset; appends to *dm.
// Exposed for the archive fuzz target and tests.
void decode_attachment(std::string_view bytes, std::string_view filename,
                       const std::string& part_path, const DecodeLimits& limits,
                       DecodedMessage& dm);
// Kind of credential file the bytes are ("pkcs12", "jks", "jceks", "kdbx", "openssh",
// "ssh2", "putty", "openvpn", "rdp"), or empty when they are none.
std::string credential_file_kind(std::string_view bytes);

// A PST/OST attached to a mail is a mailbox: its reader lives in the source stage, which extract
// must not call, so whoever runs both (the pipeline) hands it in here once; without it an
// attached PST is reported as not opened. The reader gives each item as RFC 5322 text with a
// label naming its folder and node, which is decoded as a nested message
// ("2:attachment=old.pst/Inbox:node=2097188!1"). It must be safe to call from any thread.
using AttachedItem = std::function<bool(const std::string& label, std::string_view rfc5322)>;
using AttachedMailboxReader = void (*)(std::string_view bytes, uint64_t max_item_bytes,
                                       const AttachedItem& item,
                                       std::vector<std::string>& problems);
void set_attached_mailbox_reader(AttachedMailboxReader reader);

// RTF to UTF-8 text (scanner/extract/rtf.cpp): paragraphs as lines, cells as tabs, \'hh bytes in
// the document's or the font's code page, \uN characters; font tables, pictures, object data
// and other non-text destinations skipped. Never more than max_output bytes of text.
struct RtfText {
  std::string text;
  bool truncated = false;   // max_output reached
  bool unbalanced = false;  // the input ended inside a group
};
RtfText rtf_to_text(std::string_view rtf, size_t max_output = size_t(64) << 20);

}  // namespace credsift

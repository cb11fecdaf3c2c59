#pragma once
// .msg files and bytes (an Outlook item attached to a mail, or a fuzz input): MS-OXMSG over
// libolecf, into an OutlookItem or straight into an RFC 5322 message.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "outlook_item.hpp"

namespace credsift::outlook_detail {

// nullopt when the bytes are not an OLE2 .msg (problems says why when it looked like one).
std::optional<std::string> msg_bytes_to_rfc5322(std::string_view bytes, uint64_t max_bytes,
                                                std::vector<std::string>& problems);

// A .msg file read into an OutlookItem (its problems listed in it); nullopt with `error` empty
// when it is an OLE2 file but no Outlook item (a .doc, an .xls), with `error` set when it cannot
// be read.
std::optional<OutlookItem> read_msg_file(const std::string& path, uint64_t max_bytes,
                                         std::string& error);

}  // namespace credsift::outlook_detail

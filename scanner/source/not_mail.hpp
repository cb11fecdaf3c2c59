#pragma once
// Files that are certainly not mail, told by their magic bytes: they are reported with their
// type and counted apart, never scanned as a message.
#include <string_view>

namespace credsift::source_detail {

// The detected type ("JPEG image", "SQLite database" ...) of a file starting with `head`, or an
// empty view when the bytes match no known non-mail format. Text never matches.
std::string_view not_mail_type(std::string_view head);

// The type counted for a file found in a directory whose content is not recognised as mail.
inline constexpr std::string_view kUnrecognisedContent = "unrecognised content";

}  // namespace credsift::source_detail

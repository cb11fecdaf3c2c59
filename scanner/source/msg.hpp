#pragma once
// .msg bytes (an Outlook item attached to a mail, or a fuzz input) as an RFC 5322 message.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credsift::source_detail {

// nullopt when the bytes are not an OLE2 .msg (problems says why when it looked like one).
std::optional<std::string> msg_bytes_to_rfc5322(std::string_view bytes, uint64_t max_bytes,
                                                std::vector<std::string>& problems);

}  // namespace credsift::source_detail

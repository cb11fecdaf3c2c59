#pragma once
// The client side of `credsift serve` (serve_command.cpp): `credsift check --daemon SOCKET`. It
// needs nothing but libc and the protocol, so that the front binary can run it without mapping
// the scanner's libraries (scanner/cli/front/).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace credsift::cli {

// Sends `message` (and the envelope, when given) to the server at `socket_path`, prints its
// decode problems to stderr and its verdict line to stdout as `check` does; returns check's exit
// code (0 pass or tag, 1 hold or reject, 2 error: no server, refused request, write failure).
int check_through_daemon(const std::string& socket_path, const std::string& message,
                         const std::optional<std::string>& sender,
                         const std::vector<std::string>& recipients);

// The message from a file or "-" (stdin); nullopt once it passes max_bytes (reading stops
// there). Throws std::runtime_error naming the input on open or read errors.
std::optional<std::string> read_message(const std::string& input, uint64_t max_bytes);

}  // namespace credsift::cli

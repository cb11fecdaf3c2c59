#pragma once
// The request and response of `credsift serve` (see serve_command.cpp for the format), shared
// by the server and its client, `credsift check --daemon`.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credsift::cli::serve_protocol {

inline constexpr std::string_view kGreeting = "credsift-check 1";
inline constexpr size_t kMaxHeadBytes = 64 * 1024;  // the request lines before the message
inline constexpr size_t kMaxRecipients = 1000;

struct Request {
  std::optional<std::string> sender;
  std::vector<std::string> recipients;
  uint64_t size = 0;
};

// Protocol lines carry no newline or NUL: such bytes become '?'.
inline std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c == '\n' || c == '\r' || c == '\0') c = '?';
  return out;
}

inline bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    bytes.remove_prefix(size_t(written));
  }
  return true;
}

// For files and pipes (standard output), where send() does not apply.
inline bool write_all_fd(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    bytes.remove_prefix(size_t(written));
  }
  return true;
}

// Reads exactly `size` more bytes into `out`; an error text, or empty.
inline std::string read_exactly(int fd, uint64_t size, std::string& out) {
  out.resize(size_t(size));
  size_t have = 0;
  while (have < out.size()) {
    const ssize_t got = ::read(fd, out.data() + have, out.size() - have);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0)
      return std::string("reading the message: ") +
             (errno == EAGAIN ? "timed out" : std::strerror(errno));
    if (got == 0) return "the message ended early";
    have += size_t(got);
  }
  return {};
}

// Reads the request lines up to the empty line, a byte at a time: nothing of the message is
// consumed. An error text (the request is refused), or empty.
inline std::string read_request_head(int fd, Request& request) {
  std::string line;
  size_t total = 0;
  bool greeted = false, sized = false;
  for (;;) {
    char c = 0;
    const ssize_t got = ::read(fd, &c, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0)
      return std::string("reading the request: ") +
             (errno == EAGAIN ? "timed out" : std::strerror(errno));
    if (got == 0) return "the request ended early";
    if (++total > kMaxHeadBytes) return "request lines longer than 64 KiB";
    if (c != '\n') {
      line.push_back(c);
      continue;
    }
    if (!greeted) {
      if (line != kGreeting) return "not a credsift check request (or another version)";
      greeted = true;
    } else if (line.empty()) {
      return sized ? std::string() : "request without a size";
    } else if (line.starts_with("sender ")) {
      request.sender = line.substr(7);
    } else if (line.starts_with("recipient ")) {
      if (request.recipients.size() >= kMaxRecipients) return "more than 1000 recipients";
      request.recipients.push_back(line.substr(10));
    } else if (line.starts_with("size ")) {
      const char* end = line.data() + line.size();
      auto [after, error] = std::from_chars(line.data() + 5, end, request.size);
      if (error != std::errc() || after != end) return "bad size line";
      sized = true;
    } else {
      return "unknown request line";
    }
    line.clear();
  }
}

}  // namespace credsift::cli::serve_protocol

// credsift check --daemon: the client of credsift serve (see daemon_client.hpp).
#include "daemon_client.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include "serve_protocol.hpp"

namespace credsift::cli {

namespace {

constexpr int kExitClean = 0, kExitFound = 1, kExitError = 2;  // as commands.hpp

// Server text and paths on a terminal: control bytes shown as '?'.
std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

}  // namespace

// The message, or nullopt once it passes max_bytes: reading stops there, so an endless
// stdin costs max_bytes, not all memory.
std::optional<std::string> read_message(const std::string& input, uint64_t max_bytes) {
  const bool is_stdin = input == "-";
  const int fd = is_stdin ? STDIN_FILENO : ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(input + ": cannot open: " + std::strerror(errno));
  const std::string name = is_stdin ? "stdin" : input;
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      if (!is_stdin) ::close(fd);
      throw std::runtime_error(name + ": read error: " + std::strerror(error));
    }
    if (bytes.size() + static_cast<size_t>(got) > max_bytes) {
      if (!is_stdin) ::close(fd);
      return std::nullopt;
    }
    bytes.append(buffer, static_cast<size_t>(got));
  }
  if (!is_stdin) ::close(fd);
  return bytes;
}

// The check done by `credsift serve` at `socket_path`: the request, then its answer printed as
// a local check would print it.
int check_through_daemon(const std::string& socket_path, const std::string& message,
                         const std::optional<std::string>& sender,
                         const std::vector<std::string>& recipients) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof address.sun_path)
    throw std::runtime_error("--daemon socket path too long: " + socket_path);
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw std::runtime_error("cannot connect to credsift serve at " + socket_path + ": " +
                             std::strerror(errno));
  std::string head = std::string(serve_protocol::kGreeting) + "\n";
  if (sender) head += "sender " + serve_protocol::one_line(*sender) + "\n";
  for (const std::string& recipient : recipients)
    head += "recipient " + serve_protocol::one_line(recipient) + "\n";
  head += "size " + std::to_string(message.size()) + "\n\n";
  // A server that answers early (a message over its size limit) closes without reading it all.
  const bool sent = serve_protocol::write_all(fd, head) && serve_protocol::write_all(fd, message);
  ::shutdown(fd, SHUT_WR);

  std::string response;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (response.size() + size_t(got) > (1u << 20)) break;  // a verdict line is far shorter
    response.append(buffer, size_t(got));
  }
  for (size_t position = 0; position < response.size();) {
    size_t end = response.find('\n', position);
    if (end == std::string::npos) end = response.size();
    const std::string_view line = std::string_view(response).substr(position, end - position);
    position = end + 1;
    if (line.starts_with("problem ")) {
      std::cerr << "credsift check: warning: " << printable(line.substr(8)) << "\n";
    } else if (line.starts_with("verdict ")) {
      const std::string_view json = line.substr(8);
      const std::string out = std::string(json) + "\n";
      if (!serve_protocol::write_all_fd(STDOUT_FILENO, out)) {
        std::cerr << "credsift check: cannot write the verdict: " << std::strerror(errno) << "\n";
        return kExitError;
      }
      const bool blocked =
          json.starts_with(R"({"action":"hold")") || json.starts_with(R"({"action":"reject")");
      return blocked ? kExitFound : kExitClean;
    } else if (line.starts_with("error ")) {
      std::cerr << "credsift check: credsift serve: " << printable(line.substr(6)) << "\n";
      return kExitError;
    }
  }
  std::cerr << "credsift check: no answer from credsift serve at " << printable(socket_path)
            << (sent ? "" : " (sending failed)") << "\n";
  return kExitError;
}

}  // namespace credsift::cli

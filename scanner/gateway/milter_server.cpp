// The milter protocol server (see include/credsift/milter.hpp for why it is not libmilter).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <stdexcept>
#include <thread>

#include "credsift/milter.hpp"

namespace credsift::milter {

namespace {

constexpr uint32_t kProtocolVersion = 6;
// Steps the filter needs no say in, asked for when the MTA offers them: no connect, HELO,
// DATA or unknown-command calls, and no reply (so no round trip) to envelope, header and body
// commands.
constexpr uint32_t kWantedSteps = kStepNoConnect | kStepNoHelo | kStepNoUnknown | kStepNoData |
                                  kStepNoReplyMail | kStepNoReplyRecipient | kStepNoReplyHeader |
                                  kStepNoReplyEndOfHeaders | kStepNoReplyBody;
constexpr size_t kMaxMacroBytes = 64 << 10;  // macros kept per connection; more are dropped
// Room for a full body chunk (64 KiB) and the commands around it in one read.
constexpr size_t kReadBuffer = 128 << 10;

uint32_t read_u32(const char* bytes) {
  uint32_t value;
  std::memcpy(&value, bytes, 4);
  return ntohl(value);
}

void put_u32(std::string& out, uint32_t value) {
  value = htonl(value);
  out.append(reinterpret_cast<const char*>(&value), 4);
}

// Appends one reply frame: length (command byte + data), command, data.
void put_reply(std::string& out, char command, std::string_view data = {}) {
  put_u32(out, static_cast<uint32_t>(data.size() + 1));
  out += command;
  out.append(data);
}

// The NUL-terminated strings of a command's data, in order (a missing final NUL ends the last).
std::vector<std::string_view> split_nul(std::string_view data) {
  std::vector<std::string_view> parts;
  while (!data.empty()) {
    const size_t end = data.find('\0');
    parts.push_back(data.substr(0, end));
    if (end == std::string_view::npos) break;
    data.remove_prefix(end + 1);
  }
  return parts;
}

// Text for the MTA: no NUL, CR or LF (a reply is one line; NUL would cut it).
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c == '\0' || c == '\r' || c == '\n') c = ' ';
  return out;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd out{fd, POLLOUT, 0};
        if (::poll(&out, 1, 30'000) <= 0) return false;
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

// Bytes read from the MTA, not cleared first (a per-connection memset of the buffer showed in
// the profile).
class ReadBuffer {
 public:
  explicit ReadBuffer(size_t size)
      : bytes_(std::make_unique_for_overwrite<char[]>(size)), size_(size) {}
  char* data() { return bytes_.get(); }
  char operator[](size_t at) const { return bytes_[at]; }
  size_t size() const { return size_; }
  // A new size, keeping the first `keep` bytes.
  void resize(size_t size, size_t keep) {
    auto bytes = std::make_unique_for_overwrite<char[]>(size);
    std::memcpy(bytes.get(), bytes_.get(), keep);
    bytes_ = std::move(bytes);
    size_ = size;
  }

 private:
  std::unique_ptr<char[]> bytes_;
  size_t size_;
};

class Session {
 public:
  Session(int fd, Filter& filter, int timeout_ms, uint32_t max_command_bytes)
      : fd_(fd), filter_(filter), timeout_ms_(timeout_ms), max_command_(max_command_bytes) {
    int type = 0;
    socklen_t length = sizeof type;
    sockaddr_storage address{};
    socklen_t address_length = sizeof address;
    tcp_ = ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_length) == 0 &&
           (address.ss_family == AF_INET || address.ss_family == AF_INET6) &&
           ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == SOCK_STREAM;
    if (tcp_) {
      const int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  // replies leave at once
    }
  }

  std::string run() {
    for (;;) {
      // Every whole command already read, then the replies to all of them in one send.
      // A length is checked as soon as its 4 bytes are in, before any room is made for it.
      while (end_ - start_ >= 4) {
        const uint32_t length = read_u32(buffer_.data() + start_);
        if (length == 0 || length > max_command_) return "protocol error: command length";
        if (end_ - start_ - 4 < length) break;
        const char command = buffer_[start_ + 4];
        const std::string_view data(buffer_.data() + start_ + 5, length - 1);
        start_ += 4 + length;
        if (std::string status = handle(command, data); !status.empty()) {
          write_all(fd_, output_);
          return status;
        }
      }
      if (!output_.empty()) {
        if (!write_all(fd_, output_)) return "write failed";
        output_.clear();
      }
      if (std::string status = read_more(); !status.empty()) return status;
    }
  }

 private:
  // Reads what has arrived (up to the buffer's room) after the unparsed rest.
  std::string read_more() {
    std::memmove(buffer_.data(), buffer_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
    if (buffer_.size() > kReadBuffer && end_ < kReadBuffer) buffer_.resize(kReadBuffer, end_);
    // More room for a command larger than the buffer (bounded by max_command_).
    size_t needed = end_ + 1;
    if (end_ >= 4) needed = std::max<size_t>(needed, size_t{read_u32(buffer_.data())} + 4);
    if (needed > buffer_.size()) buffer_.resize(needed, end_);
    pollfd in{fd_, POLLIN, 0};
    for (;;) {
      const int ready = ::poll(&in, 1, timeout_ms_);
      if (ready > 0) break;
      if (ready == 0) return "timeout";
      if (errno != EINTR) return std::string("poll: ") + std::strerror(errno);
    }
    ssize_t got;
    do {
      got = ::recv(fd_, buffer_.data() + end_, buffer_.size() - end_, 0);
    } while (got < 0 && errno == EINTR);
    if (got == 0) return "closed";
    if (got < 0) return std::string("recv: ") + std::strerror(errno);
    end_ += static_cast<size_t>(got);
    if (tcp_) {
      // Acknowledge now: the MTA's commands that want no reply are small writes, and its
      // Nagle holds each one back until the previous one is acknowledged; a delayed ACK
      // (40 ms) per command was most of a message's time over TCP. Linux resets the flag, so
      // it is set again after every read.
      const int on = 1;
      ::setsockopt(fd_, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
    }
    return {};
  }

  bool no_reply(uint32_t step) const { return (steps_ & step) != 0; }
  void reply_continue(uint32_t no_reply_step) {
    if (!no_reply(no_reply_step)) put_reply(output_, 'c');
  }

  // Handles one command; a non-empty result ends the session.
  std::string handle(char command, std::string_view data) {
    switch (command) {
      case 'O': {  // negotiate: version, actions, steps the MTA offers
        if (data.size() < 12) return "protocol error: short negotiation";
        const uint32_t version = read_u32(data.data());
        actions_ = read_u32(data.data() + 4) & (kActionAddHeaders | kActionQuarantine);
        const uint32_t steps_offered = read_u32(data.data() + 8);
        if (version < 2) return "protocol error: milter version " + std::to_string(version);
        steps_ = steps_offered & kWantedSteps;
        std::string reply;
        put_u32(reply, std::min(version, kProtocolVersion));
        put_u32(reply, actions_);
        put_u32(reply, steps_);
        put_reply(output_, 'O', reply);
        return {};
      }
      case 'D': {  // macros for the next command: command byte, then name/value pairs
        const std::vector<std::string_view> parts =
            split_nul(data.substr(std::min<size_t>(1, data.size())));
        for (size_t i = 0; i + 1 < parts.size(); i += 2) {
          std::string_view name = parts[i];
          if (name.size() > 2 && name.front() == '{' && name.back() == '}')
            name = name.substr(1, name.size() - 2);
          auto found = macros_.find(name);
          if (found != macros_.end()) {
            macro_bytes_ -= found->second.size();
            found->second.assign(parts[i + 1]);
            macro_bytes_ += found->second.size();
          } else if (macro_bytes_ + name.size() + parts[i + 1].size() <= kMaxMacroBytes) {
            macros_.emplace(std::string(name), std::string(parts[i + 1]));
            macro_bytes_ += name.size() + parts[i + 1].size();
          }
        }
        return {};
      }
      case 'C':
        reply_continue(kStepNoReplyConnect);
        return {};
      case 'H':
        reply_continue(kStepNoReplyHelo);
        return {};
      case 'M': {
        const std::vector<std::string_view> arguments = split_nul(data);
        filter_.mail_from(arguments.empty() ? std::string_view() : arguments[0]);
        reply_continue(kStepNoReplyMail);
        return {};
      }
      case 'R': {
        const std::vector<std::string_view> arguments = split_nul(data);
        if (!arguments.empty()) filter_.recipient(arguments[0]);
        reply_continue(kStepNoReplyRecipient);
        return {};
      }
      case 'T':
        reply_continue(kStepNoReplyData);
        return {};
      case 'U':
        reply_continue(kStepNoReplyUnknown);
        return {};
      case 'L': {
        const size_t end = data.find('\0');
        if (end == std::string_view::npos) return "protocol error: header without a value";
        std::string_view value = data.substr(end + 1);
        if (!value.empty() && value.back() == '\0') value.remove_suffix(1);
        filter_.header(data.substr(0, end), value);
        reply_continue(kStepNoReplyHeader);
        return {};
      }
      case 'N':
        filter_.end_of_headers();
        reply_continue(kStepNoReplyEndOfHeaders);
        return {};
      case 'B':
        filter_.body(data);
        reply_continue(kStepNoReplyBody);
        return {};
      case 'E': {
        if (!data.empty()) filter_.body(data);  // a final chunk may come with the end
        auto id = macros_.find("i");
        const EndOfMessage end =
            filter_.end_of_message(id != macros_.end() ? id->second : "-", actions_);
        end_of_message_reply(end);
        return {};
      }
      case 'A':
        filter_.abort();
        return {};
      case 'K':  // quit, a new connection follows on this socket
        filter_.abort();
        macros_.clear();
        macro_bytes_ = 0;
        return {};
      case 'Q':
        filter_.abort();
        return "quit";
      default:
        return std::string("protocol error: unknown command ") +
               std::to_string(static_cast<unsigned char>(command));
    }
  }

  void end_of_message_reply(const EndOfMessage& end) {
    switch (end.verdict) {
      case EndOfMessage::Verdict::Reject:
        if (end.reject_reply.empty()) {
          put_reply(output_, 'r');
        } else {
          const std::string text = one_line(end.reject_reply);
          put_reply(output_, 'y', std::string_view(text.c_str(), text.size() + 1));
        }
        return;
      case EndOfMessage::Verdict::TempFail:
        put_reply(output_, 't');
        return;
      case EndOfMessage::Verdict::Continue:
        break;
    }
    if (actions_ & kActionAddHeaders) {
      for (const auto& [name, value] : end.add_headers) {
        std::string pair = one_line(name);
        pair += '\0';
        pair += one_line(value);
        pair += '\0';
        put_reply(output_, 'h', pair);
      }
    }
    if (!end.quarantine_reason.empty() && (actions_ & kActionQuarantine)) {
      const std::string reason = one_line(end.quarantine_reason);
      put_reply(output_, 'q', std::string_view(reason.c_str(), reason.size() + 1));
    }
    put_reply(output_, 'c');
  }

  const int fd_;
  Filter& filter_;
  const int timeout_ms_;
  const uint32_t max_command_;
  bool tcp_ = false;
  uint32_t steps_ = 0;    // no steps skipped until negotiated
  uint32_t actions_ = 0;  // modifications agreed on (none until negotiated)
  ReadBuffer buffer_{kReadBuffer};
  size_t start_ = 0, end_ = 0;  // the unparsed bytes of buffer_
  std::string output_;
  std::map<std::string, std::string, std::less<>> macros_;
  size_t macro_bytes_ = 0;
};

// "inet:PORT@HOST", "inet6:PORT@HOST", "unix:PATH" or "local:PATH" (libmilter's syntax).
int open_listener(const std::string& spec, std::string& unix_path) {
  const size_t colon = spec.find(':');
  const std::string kind = colon == std::string::npos ? "unix" : spec.substr(0, colon);
  const std::string rest = colon == std::string::npos ? spec : spec.substr(colon + 1);
  if (kind == "unix" || kind == "local") {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (rest.empty() || rest.size() >= sizeof address.sun_path)
      throw std::runtime_error("bad Unix socket path: " + rest);
    std::memcpy(address.sun_path, rest.data(), rest.size());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    struct stat existing {};
    if (::lstat(rest.c_str(), &existing) == 0 && S_ISSOCK(existing.st_mode))
      ::unlink(rest.c_str());  // a stale socket from an earlier run
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd, SOMAXCONN) != 0) {
      const std::string error = std::strerror(errno);
      ::close(fd);
      throw std::runtime_error("cannot listen on " + rest + ": " + error);
    }
    unix_path = rest;
    return fd;
  }
  if (kind != "inet" && kind != "inet6") throw std::runtime_error("bad socket: " + spec);
  const size_t at = rest.find('@');
  const std::string port = rest.substr(0, at);
  std::string host = at == std::string::npos ? "" : rest.substr(at + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = kind == "inet" ? AF_INET : AF_INET6;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int status =
          ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      status != 0)
    throw std::runtime_error("bad socket " + spec + ": " + ::gai_strerror(status));
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      ::bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    const std::string error = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::freeaddrinfo(found);
    throw std::runtime_error("cannot listen on " + spec + ": " + error);
  }
  ::freeaddrinfo(found);
  return fd;
}

}  // namespace

std::string serve_connection(int fd, Filter& filter, int timeout_ms, uint32_t max_command_bytes) {
  return Session(fd, filter, timeout_ms, max_command_bytes).run();
}

Server::Server(ServerOptions options, FilterFactory factory, Logger log_error)
    : options_(std::move(options)), factory_(std::move(factory)), log_error_(std::move(log_error)) {
  listen_fd_ = open_listener(options_.socket, unix_path_);
  if (::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
}

Server::~Server() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int fd : wake_pipe_)
    if (fd >= 0) ::close(fd);
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

void Server::stop() {
  const char byte = 's';
  [[maybe_unused]] const ssize_t written = ::write(wake_pipe_[1], &byte, 1);
}

void Server::run(int drain_ms) {
  for (;;) {
    pollfd waiting[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(waiting, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log_error_(std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (waiting[1].revents) break;
    if (!(waiting[0].revents & POLLIN)) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        log_error_(std::string("accept: ") + std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // no busy loop
      }
      continue;
    }
    if (open_ >= options_.max_connections) {
      log_error_("too many connections (" + std::to_string(options_.max_connections) +
                 "); one refused");
      ::close(fd);
      continue;
    }
    ++open_;
    if (!hand_to_worker(fd)) {
      --open_;
      ::close(fd);
    }
  }
  ::close(listen_fd_);
  listen_fd_ = -1;
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
  unix_path_.clear();
  for (int waited = 0; open_ > 0 && waited < drain_ms; waited += 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // Idle workers leave; one still serving a connection past the drain time leaves after it.
  std::unique_lock lock(queue_mutex_);
  stopping_workers_ = true;
  queue_ready_.notify_all();
  workers_done_.wait_for(lock, std::chrono::seconds(1), [this] { return workers_ == 0; });
}

// A connection goes to an idle worker, or to a new one when all are busy: workers stay for
// the next connection (a thread made per connection cost a millisecond or more at the 90th
// percentile on a loaded machine, measured), and there are never more than the peak of open
// connections (at most max_connections).
bool Server::hand_to_worker(int fd) {
  std::unique_lock lock(queue_mutex_);
  waiting_fds_.push_back(fd);
  if (idle_workers_ >= waiting_fds_.size()) {
    lock.unlock();
    queue_ready_.notify_one();
    return true;
  }
  try {
    ++workers_;
    std::thread([this] { work(); }).detach();
    return true;
  } catch (const std::exception& error) {
    --workers_;
    waiting_fds_.pop_back();
    lock.unlock();
    log_error_(std::string("no thread for a connection: ") + error.what());
    return false;
  }
}

void Server::work() {
  std::unique_lock lock(queue_mutex_);
  for (;;) {
    ++idle_workers_;
    queue_ready_.wait(lock, [this] { return !waiting_fds_.empty() || stopping_workers_; });
    --idle_workers_;
    if (waiting_fds_.empty()) break;  // stopping, nothing left to serve
    const int fd = waiting_fds_.front();
    waiting_fds_.pop_front();
    lock.unlock();
    serve(fd);
    lock.lock();
  }
  --workers_;
  workers_done_.notify_all();
}

void Server::serve(int fd) {
  try {
    std::unique_ptr<Filter> filter = factory_();
    const std::string status = serve_connection(fd, *filter, options_.timeout_ms);
    if (status != "quit" && status != "closed") log_error_("connection ended: " + status);
  } catch (const std::exception& error) {
    log_error_(std::string("connection failed: ") + error.what());
  }
  ::close(fd);
  --open_;
}

}  // namespace credsift::milter

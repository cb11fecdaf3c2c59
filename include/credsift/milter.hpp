#pragma once
// The milter protocol (version 6, as Postfix and Sendmail speak it) served by credsift itself
// instead of libmilter: libmilter reads each command with two poll+read pairs, answers each
// modification with its own write, and hands an idle connection from a worker thread to its
// manager thread after a 1 ms poll. Over TCP the many small writes then met Nagle and delayed
// ACKs (40 ms stalls, measured). Here a connection has one thread, reads whatever has arrived
// in one recv, and sends all the replies to it in one write, with TCP_NODELAY and quick ACKs.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace credsift::milter {

// Wire values (Sendmail's mfdef.h): the negotiated actions and steps.
inline constexpr uint32_t kActionAddHeaders = 0x01;  // SMFIF_ADDHDRS
inline constexpr uint32_t kActionQuarantine = 0x20;  // SMFIF_QUARANTINE
inline constexpr uint32_t kStepNoConnect = 0x01, kStepNoHelo = 0x02, kStepNoUnknown = 0x100,
                          kStepNoData = 0x200, kStepNoReplyHeader = 0x80,
                          kStepNoReplyConnect = 0x1000, kStepNoReplyHelo = 0x2000,
                          kStepNoReplyMail = 0x4000, kStepNoReplyRecipient = 0x8000,
                          kStepNoReplyData = 0x10000, kStepNoReplyUnknown = 0x20000,
                          kStepNoReplyEndOfHeaders = 0x40000, kStepNoReplyBody = 0x80000;

// What the filter says at the end of a message.
struct EndOfMessage {
  enum class Verdict { Continue, Reject, TempFail } verdict = Verdict::Continue;
  std::vector<std::pair<std::string, std::string>> add_headers;  // name, value
  std::string quarantine_reason;                                 // non-empty: hold
  std::string reject_reply;  // Reject: "550 5.7.1 text" (one line)
};

// One SMTP connection's filter; its calls come from that connection's thread only.
class Filter {
 public:
  virtual ~Filter() = default;
  virtual void mail_from(std::string_view sender) = 0;  // a new message starts
  virtual void recipient(std::string_view address) = 0;
  virtual void header(std::string_view name, std::string_view value) = 0;
  virtual void end_of_headers() = 0;
  virtual void body(std::string_view chunk) = 0;
  // queue_id: the MTA's "i" macro, or "-". actions: the kAction* the MTA agreed to.
  virtual EndOfMessage end_of_message(std::string_view queue_id, uint32_t actions) = 0;
  virtual void abort() = 0;  // the message in progress is dropped
};

// Reads commands from one connected socket until the MTA quits, the peer closes, a protocol
// error, or timeout_ms of silence; returns why it stopped ("quit", "closed", or an error).
// At most max_command_bytes per command (longer: protocol error); Postfix sends body chunks of
// 64 KiB and headers up to its header_size_limit (100 KiB by default).
std::string serve_connection(int fd, Filter& filter, int timeout_ms,
                             uint32_t max_command_bytes = 1u << 20);

struct ServerOptions {
  std::string socket;  // inet:PORT@HOST, inet6:PORT@HOST, unix:/path (or local:/path)
  int timeout_ms = 300'000;
  int max_connections = 1024;  // beyond it a connection is closed at once (the MTA tempfails)
};

// Listens on the socket and serves each connection on a worker thread of its own.
class Server {
 public:
  using FilterFactory = std::function<std::unique_ptr<Filter>()>;
  using Logger = std::function<void(const std::string&)>;
  // Opens the listening socket (a Unix socket path is replaced); throws std::runtime_error.
  Server(ServerOptions options, FilterFactory factory, Logger log_error);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Accepts until stop(); then waits up to drain_ms for open connections to finish.
  void run(int drain_ms = 30'000);
  void stop();  // async-signal-unsafe; call from a normal thread
  int open_connections() const { return open_; }

 private:
  bool hand_to_worker(int fd);
  void work();
  void serve(int fd);

  ServerOptions options_;
  FilterFactory factory_;
  Logger log_error_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::string unix_path_;
  std::atomic<int> open_{0};
  std::mutex queue_mutex_;
  std::condition_variable queue_ready_, workers_done_;
  std::deque<int> waiting_fds_;
  size_t idle_workers_ = 0, workers_ = 0;
  bool stopping_workers_ = false;
};

}  // namespace credsift::milter

// credsift serve: the rules and policy loaded once, checks answered over a Unix socket (as
// clamd does for clamdscan). `credsift check --daemon SOCKET` is its client: a gateway hook
// then pays for a small process start and one round trip, not for loading ~1,000 rules.
//
// Protocol, one request per connection (client -> server):
//   credsift-check 1\n
//   sender ADDRESS\n          optional; default: the From header
//   recipient ADDRESS\n       optional, repeatable; default: the To and Cc headers
//   size N\n
//   \n
//   N bytes of message
// server -> client: zero or more "problem TEXT\n" lines (decode problems), then either
// "verdict JSON\n" (the line `check` prints) or "error TEXT\n" (the client exits 2).
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "commands.hpp"
#include "credsift/escape.hpp"
#include "gateway_engine.hpp"
#include "serve_protocol.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

namespace {

struct ServeConfig {
  std::string socket_path, policy_file;
  std::vector<std::string> extra_rules;
  bool no_default_rules = false, use_rule_cache = true;
  uint64_t max_message_bytes = 64ull << 20;
  uint64_t max_in_flight_bytes = 512ull << 20;
  int max_clients = 32;
  int client_timeout_seconds = 30;
};

void log_line(const std::string& text) {
  static std::mutex mutex;
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::lock_guard lock(mutex);
  std::cerr << stamp << " credsift-serve[" << ::getpid() << "]: " << escape_for_terminal(text)
            << std::endl;
}

class Server {
 public:
  explicit Server(ServeConfig config)
      : config_(std::move(config)), budget_(config_.max_in_flight_bytes) {}

  std::shared_ptr<const GatewayEngine> engine() {
    std::lock_guard lock(engine_mutex_);
    return engine_;
  }
  void reload() {
    auto engine =
        build_gateway_engine(config_.policy_file, config_.extra_rules, config_.no_default_rules,
                             config_.use_rule_cache, ++generations_);
    log_line("engine " + std::to_string(engine->generation) + ": policy " + engine->policy.origin +
             ", " + std::to_string(engine->matcher->rules().rules.size()) + " rules (" +
             (engine->matcher->loaded_from_cache() ? "cached database" : "compiled") + ")");
    std::lock_guard lock(engine_mutex_);
    engine_ = std::move(engine);
  }

  // A client slot; blocks while max_clients are being served (they wait in the listen queue).
  void enter() {
    std::unique_lock lock(clients_mutex_);
    slot_free_.wait(lock, [&] { return clients_ < config_.max_clients; });
    ++clients_;
  }
  void leave() {
    {
      std::lock_guard lock(clients_mutex_);
      --clients_;
    }
    slot_free_.notify_all();
  }
  // Waits for clients in progress, at shutdown. Their socket timeouts and the policy's scan
  // time limit bound the wait.
  void drain() {
    std::unique_lock lock(clients_mutex_);
    slot_free_.wait(lock, [&] { return clients_ == 0; });
  }

  void serve_client(int fd);

 private:
  std::string handle(int fd);

  const ServeConfig config_;
  gateway::InFlightBudget budget_;
  std::mutex engine_mutex_, clients_mutex_;
  std::condition_variable slot_free_;
  int clients_ = 0;
  std::shared_ptr<const GatewayEngine> engine_;
  std::atomic<uint64_t> generations_{0};
};

// The response for one request (every line ends in \n).
std::string Server::handle(int fd) {
  serve_protocol::Request request;
  if (std::string why = serve_protocol::read_request_head(fd, request); !why.empty())
    return "error " + why + "\n";
  const std::shared_ptr<const GatewayEngine> engine = this->engine();
  const gateway::Policy& policy = engine->policy;
  if (request.size > config_.max_message_bytes) {
    gateway::Verdict verdict;
    verdict.action = gateway::action_of(policy.on_error);
    verdict.reason = "message larger than the server's --max-message-size (" +
                     std::to_string(config_.max_message_bytes >> 20) + " MB), on_error " +
                     std::string(gateway::to_string(policy.on_error));
    return "verdict " + gateway::verdict_to_json(verdict) + "\n";
  }
  if (!budget_.try_reserve(request.size))
    return "error server busy: its in-flight budget of " +
           std::to_string(config_.max_in_flight_bytes >> 20) + " MB is in use\n";
  struct Release {
    gateway::InFlightBudget& budget;
    uint64_t bytes;
    ~Release() { budget.release(bytes); }
  } release{budget_, request.size};

  std::string message;
  if (std::string why = serve_protocol::read_exactly(fd, request.size, message); !why.empty())
    return "error " + why + "\n";
  gateway::MailEnvelope envelope = gateway::envelope_from_headers(message);
  if (request.sender) envelope.sender = *request.sender;
  if (!request.recipients.empty()) envelope.recipients = request.recipients;

  std::unique_ptr<Matcher::Scratch> scratch = engine->take_scratch();
  const gateway::Verdict verdict =
      gateway::check_message(message, envelope, policy, *engine->matcher, *scratch);
  engine->give_back(std::move(scratch));
  std::string response;
  for (const std::string& problem : verdict.problem_texts)
    response += "problem " + serve_protocol::one_line(problem) + "\n";
  return response + "verdict " + gateway::verdict_to_json(verdict) + "\n";
}

void Server::serve_client(int fd) {
  // A client that stops sending or reading must not hold its slot for ever.
  timeval timeout{config_.client_timeout_seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string response;
  try {
    response = handle(fd);
  } catch (const std::exception& error) {
    response = "error check failed: " + serve_protocol::one_line(error.what()) + "\n";
  }
  serve_protocol::write_all(fd, response);
  ::close(fd);
}

// Listens on `path` with mode 0600 (the umask is tightened around bind, so there is no moment
// when others could connect). An existing socket at the path is replaced; anything else there
// is refused.
int listen_on(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path)
    throw std::runtime_error("socket path empty or longer than " +
                             std::to_string(sizeof address.sun_path - 1) + " bytes: " + path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      throw std::runtime_error(path + " exists and is not a socket; not replaced");
    ::unlink(path.c_str());
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  const int bind_error = errno;
  ::umask(old_mask);
  if (bound != 0 || ::chmod(path.c_str(), 0600) != 0 || ::listen(fd, 128) != 0) {
    const int error = bound != 0 ? bind_error : errno;
    ::close(fd);
    throw std::runtime_error("cannot listen on " + path + ": " + std::strerror(error));
  }
  return fd;
}

}  // namespace

int command_serve(const Arguments& arguments) {
  po::options_description visible(
      "credsift serve --socket PATH [options]\n\n"
      "Keeps the policy and compiled rules loaded and checks messages sent by\n"
      "`credsift check --daemon PATH`, one per connection. The socket is created with mode 0600\n"
      "(only this user, and root, can connect). SIGHUP reloads the policy and rules (checks in\n"
      "progress finish with the old ones); SIGTERM or SIGINT stops it once clients are done.\n\n"
      "Options");
  ServeConfig config;
  uint64_t max_message_mb = 64, max_in_flight_mb = 512;
  visible.add_options()("help,h", "show this help")("socket,s", po::value(&config.socket_path),
                                                    "Unix socket path to listen on")(
      "policy,p", po::value(&config.policy_file),
      "policy file (JSON, see README \"Gateway\"); default: hold critical and high, tag the rest")(
      "rules", po::value(&config.extra_rules)->composing(),
      "extra rule file or directory (repeatable), loaded after the built-in rules")(
      "no-default-rules", "load only the rules given with --rules")(
      "no-rule-cache", "compile the rules even when a cached database exists")(
      "max-message-size", po::value(&max_message_mb)->default_value(64),
      "larger messages are not scanned and get the policy's on_error action (MB)")(
      "max-in-flight", po::value(&max_in_flight_mb)->default_value(512),
      "MB of messages held across all clients; a request beyond it gets an error (exit 2)")(
      "max-clients", po::value(&config.max_clients)->default_value(32),
      "clients served at once; more wait in the listen queue")(
      "client-timeout", po::value(&config.client_timeout_seconds)->default_value(30),
      "seconds a client may stay silent before it is dropped");
  const po::variables_map options = parse_arguments(arguments, visible);
  if (options.count("help")) {
    std::cout << visible;
    return kExitClean;
  }
  if (config.socket_path.empty()) {
    std::cerr << "credsift serve: --socket is required\n" << visible;
    return kExitError;
  }
  if (config.max_clients < 1 || config.client_timeout_seconds < 1) {
    std::cerr << "credsift serve: --max-clients and --client-timeout must be at least 1\n";
    return kExitError;
  }
  config.no_default_rules = options.count("no-default-rules") > 0;
  config.use_rule_cache = options.count("no-rule-cache") == 0;
  config.max_message_bytes = max_message_mb << 20;
  config.max_in_flight_bytes = max_in_flight_mb << 20;

  // Signals are blocked in every thread and taken by sigwait below.
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, signal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a client gone before its answer is its problem

  Server server(config);
  int listener = -1;
  try {
    server.reload();
    listener = listen_on(config.socket_path);
  } catch (const std::exception& error) {
    log_line(std::string("cannot start: ") + error.what());
    return kExitError;
  }
  log_line("listening on " + config.socket_path);

  std::atomic<bool> stopping{false};
  std::thread acceptor([&] {
    for (;;) {
      server.enter();
      const int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        server.leave();
        if (stopping) return;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        if (stopping) return;
        log_line(std::string("accept: ") + std::strerror(errno));
        continue;
      }
      try {
        std::thread([&server, client] {
          server.serve_client(client);
          server.leave();
        }).detach();
      } catch (const std::exception&) {  // no thread: the client is dropped, not hung
        ::close(client);
        server.leave();
      }
    }
  });

  for (;;) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal == SIGHUP) {
      log_line("SIGHUP: reloading policy and rules");
      try {
        server.reload();
      } catch (const std::exception& error) {
        log_line(std::string("reload failed, keeping the previous policy and rules: ") +
                 error.what());
      }
      continue;
    }
    log_line("stopping");
    stopping = true;
    ::shutdown(listener, SHUT_RDWR);  // wakes accept
    break;
  }
  acceptor.join();
  ::close(listener);
  ::unlink(config.socket_path.c_str());
  server.drain();
  log_line("stopped");
  return kExitClean;
}

}  // namespace credsift::cli

// credsift milter: a libmilter daemon for Postfix (smtpd_milters) or Sendmail. Each message is
// collected from the header and body callbacks, rebuilt as RFC 5322 bytes and checked at
// end-of-body with the shared compiled rules; the policy's verdict becomes accept (with
// X-Credsift-* headers), quarantine (hold) or a 550 5.7.1 reject.
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <signal.h>
#include <syslog.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <condition_variable>
#include <cstdarg>
#include <ctime>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "commands.hpp"
#include "credsift/escape.hpp"
#include "credsift/gateway.hpp"
#include "credsift/match.hpp"
#include "gateway_engine.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

namespace {

using Engine = GatewayEngine;

struct Config {
  std::string policy_file;
  std::vector<std::string> extra_rules;
  bool no_default_rules = false;
  bool use_rule_cache = true;
  uint64_t max_message_bytes = 64ull << 20;
  uint64_t max_in_flight_bytes = 512ull << 20;  // across all connections
  bool syslog = false;
};

class Daemon {
 public:
  explicit Daemon(Config config) : budget(config.max_in_flight_bytes), config_(std::move(config)) {}

  void log(int priority, const char* format, ...) __attribute__((format(printf, 3, 4))) {
    char text[2048];
    va_list arguments;
    va_start(arguments, format);
    std::vsnprintf(text, sizeof text, format, arguments);
    va_end(arguments);
    if (config_.syslog) {
      ::syslog(priority, "%s", text);
      return;
    }
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
    std::lock_guard lock(log_mutex_);
    std::fprintf(stderr, "%s credsift-milter[%d]: %s\n", stamp, static_cast<int>(::getpid()),
                 escape_for_terminal(text).c_str());
    std::fflush(stderr);
  }

  // Builds a new engine from the configured files; throws on any error (the old one stays).
  std::shared_ptr<const Engine> build() {
    return build_gateway_engine(config_.policy_file, config_.extra_rules, config_.no_default_rules,
                                config_.use_rule_cache, ++generations_);
  }

  void install(std::shared_ptr<const Engine> engine) {
    log(LOG_INFO, "engine %llu: policy %s, %zu rules (%s)",
        static_cast<unsigned long long>(engine->generation), engine->policy.origin.c_str(),
        engine->matcher->rules().rules.size(),
        engine->matcher->loaded_from_cache() ? "cached database" : "compiled");
    std::lock_guard lock(engine_mutex_);
    engine_ = std::move(engine);
  }

  std::shared_ptr<const Engine> engine() {
    std::lock_guard lock(engine_mutex_);
    return engine_;
  }

  const Config& config() const { return config_; }
  std::atomic<int> open_connections{0};
  gateway::InFlightBudget budget;

 private:
  Config config_;
  std::mutex log_mutex_, engine_mutex_;
  std::shared_ptr<const Engine> engine_;
  std::atomic<uint64_t> generations_{0};
};

Daemon* daemon_instance = nullptr;  // libmilter callbacks are plain C functions

// One SMTP connection; it may carry several messages.
struct Connection {
  unsigned long no_reply = 0;  // SMFIP_NR_* steps the MTA agreed not to wait for
  std::string sender;
  std::vector<std::string> recipients;
  std::string message;
  bool too_big = false;
  bool over_budget = false;  // the milter's total in-flight bytes ran out: tempfail
  uint64_t reserved = 0;     // bytes of the in-flight budget this message holds

  void next_message() {
    sender.clear();
    recipients.clear();
    message.clear();
    if (message.capacity() > (1u << 20)) std::string().swap(message);  // a big one goes back
    too_big = false;
    over_budget = false;
    daemon_instance->budget.release(std::exchange(reserved, 0));
  }
  ~Connection() { daemon_instance->budget.release(reserved); }
};

Connection* connection_of(SMFICTX* context) {
  return static_cast<Connection*>(smfi_getpriv(context));
}

// The connection's state, made on first use: with SMFIP_NOCONNECT there is no connect
// callback, and without negotiation (an MTA older than milter protocol 6) no negotiate one.
Connection* ensure_connection(SMFICTX* context) {
  if (Connection* connection = connection_of(context)) return connection;
  try {
    auto connection = std::make_unique<Connection>();
    if (smfi_setpriv(context, connection.get()) != MI_SUCCESS) return nullptr;
    ++daemon_instance->open_connections;
    return connection.release();
  } catch (const std::exception&) {
    return nullptr;
  }
}

// The reply to a step: none when the MTA agreed not to wait for one (one round trip less per
// header line, which was most of a message's time), else continue. A failure there
// (no memory for the connection) turns into a temporary failure at end of message.
sfsistat reply(const Connection* connection, unsigned long no_reply_flag) {
  return connection && (connection->no_reply & no_reply_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

// Steps the milter needs no say in. Asked for only when the MTA offers them.
constexpr unsigned long kWantedSteps = SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOUNKNOWN |
                                       SMFIP_NODATA | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR |
                                       SMFIP_NR_EOH | SMFIP_NR_BODY;
constexpr unsigned long kNoReplySteps =
    SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY;

sfsistat on_negotiate(SMFICTX* context, unsigned long actions, unsigned long steps, unsigned long,
                      unsigned long, unsigned long* want_actions, unsigned long* want_steps,
                      unsigned long* want_2, unsigned long* want_3) {
  // Without memory for the connection, nothing is skipped: every step is answered, and the
  // message gets a temporary failure at its end (never SMFIS_REJECT here, which would let the
  // connection's mail pass this milter unscanned).
  Connection* connection = ensure_connection(context);
  *want_actions = actions & (SMFIF_ADDHDRS | SMFIF_QUARANTINE);
  *want_steps = connection ? steps & kWantedSteps : 0;
  *want_2 = 0;
  *want_3 = 0;
  if (connection) connection->no_reply = *want_steps & kNoReplySteps;
  return SMFIS_CONTINUE;
}

std::string queue_id(SMFICTX* context) {
  const char* id = smfi_getsymval(context, const_cast<char*>("i"));
  return id ? id : "-";
}

// Text for smfi_quarantine and logs: printable ASCII only.
std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 300))
    out += (c >= 0x20 && c < 0x7f && c != '%') ? static_cast<char>(c) : '?';
  return out;
}

sfsistat on_connect(SMFICTX* context, char*, _SOCK_ADDR*) {
  return ensure_connection(context) ? SMFIS_CONTINUE : SMFIS_TEMPFAIL;
}

sfsistat on_envfrom(SMFICTX* context, char** arguments) {
  Connection* connection = ensure_connection(context);
  if (connection) {
    connection->next_message();
    if (arguments && arguments[0]) connection->sender = arguments[0];
  }
  return reply(connection, SMFIP_NR_MAIL);
}

sfsistat on_envrcpt(SMFICTX* context, char** arguments) {
  Connection* connection = connection_of(context);
  if (connection && arguments && arguments[0]) {
    try {
      connection->recipients.emplace_back(arguments[0]);
    } catch (const std::bad_alloc&) {
      connection->too_big = true;
    }
  }
  return reply(connection, SMFIP_NR_RCPT);
}

// Adds to the message being received. Past the size limit, or when memory runs out, the
// message is marked too big instead and then gets the policy's on_error action.
void append(Connection& connection, std::initializer_list<std::string_view> pieces) {
  size_t size = 0;
  for (std::string_view piece : pieces) size += piece.size();
  if (connection.too_big || connection.over_budget) return;
  if (connection.message.size() + size > daemon_instance->config().max_message_bytes) {
    connection.too_big = true;
    return;
  }
  if (!daemon_instance->budget.try_reserve(size)) {
    connection.over_budget = true;
    return;
  }
  connection.reserved += size;
  try {
    for (std::string_view piece : pieces) connection.message.append(piece);
  } catch (const std::bad_alloc&) {
    connection.too_big = true;
  }
}

sfsistat on_header(SMFICTX* context, char* name, char* value) {
  Connection* connection = connection_of(context);
  if (connection) append(*connection, {name, ": ", value, "\r\n"});
  return reply(connection, SMFIP_NR_HDR);
}

sfsistat on_eoh(SMFICTX* context) {
  Connection* connection = connection_of(context);
  if (connection) append(*connection, {"\r\n"});
  return reply(connection, SMFIP_NR_EOH);
}

sfsistat on_body(SMFICTX* context, unsigned char* chunk, size_t size) {
  Connection* connection = connection_of(context);
  if (connection)
    append(*connection, {std::string_view(reinterpret_cast<const char*>(chunk), size)});
  return reply(connection, SMFIP_NR_BODY);
}

sfsistat on_eom(SMFICTX* context) {
  Connection* connection = connection_of(context);
  if (!connection) return SMFIS_TEMPFAIL;
  Daemon& daemon = *daemon_instance;
  const std::shared_ptr<const Engine> engine = daemon.engine();
  const std::string id = queue_id(context);
  gateway::Verdict verdict;
  try {
    gateway::MailEnvelope envelope{connection->sender, connection->recipients};
    if (connection->over_budget) {
      connection->next_message();
      daemon.log(LOG_WARNING, "%s: tempfail: the milter's in-flight budget of %llu MB is in use",
                 id.c_str(),
                 static_cast<unsigned long long>(daemon.config().max_in_flight_bytes >> 20));
      return SMFIS_TEMPFAIL;
    }
    if (connection->too_big) {
      verdict.action = gateway::action_of(engine->policy.on_error);
      verdict.reason = "message larger than the milter's limit, on_error " +
                       std::string(gateway::to_string(engine->policy.on_error));
    } else {
      std::unique_ptr<Matcher::Scratch> scratch = engine->take_scratch();
      verdict = gateway::check_message(connection->message, envelope, engine->policy,
                                       *engine->matcher, *scratch);
      engine->give_back(std::move(scratch));
    }
  } catch (const std::exception& error) {
    verdict = {};
    verdict.action = gateway::action_of(engine->policy.on_error);
    verdict.reason = std::string("check failed (") + error.what() + "), on_error " +
                     std::string(gateway::to_string(engine->policy.on_error));
  }
  connection->next_message();

  const std::string findings = gateway::findings_summary(verdict);
  daemon.log(verdict.action >= gateway::Action::Hold ? LOG_NOTICE : LOG_INFO,
             "%s: %s: %s; findings %s; %.2f ms", id.c_str(),
             std::string(gateway::to_string(verdict.action)).c_str(),
             printable(verdict.reason).c_str(), findings.c_str(), verdict.elapsed_ms);

  if (verdict.action == gateway::Action::Reject) {
    std::string text = gateway::reject_text(verdict);
    if (smfi_setreply(context, const_cast<char*>("550"), const_cast<char*>("5.7.1"), text.data()) !=
        MI_SUCCESS)
      daemon.log(LOG_WARNING, "%s: smfi_setreply failed", id.c_str());
    return SMFIS_REJECT;
  }
  std::string action(gateway::to_string(verdict.action));
  smfi_addheader(context, const_cast<char*>("X-Credsift-Verdict"), action.data());
  if (!verdict.findings.empty()) {
    std::string value = findings;
    smfi_addheader(context, const_cast<char*>("X-Credsift-Findings"), value.data());
  }
  if (verdict.action == gateway::Action::Hold) {
    std::string reason = "credsift: " + printable(verdict.reason);
    if (smfi_quarantine(context, reason.data()) != MI_SUCCESS)
      daemon.log(LOG_WARNING, "%s: smfi_quarantine failed", id.c_str());
  }
  return SMFIS_CONTINUE;
}

sfsistat on_abort(SMFICTX* context) {
  if (Connection* connection = connection_of(context)) connection->next_message();
  return SMFIS_CONTINUE;
}

sfsistat on_close(SMFICTX* context) {
  if (Connection* connection = connection_of(context)) {
    delete connection;
    smfi_setpriv(context, nullptr);
    --daemon_instance->open_connections;
  }
  return SMFIS_CONTINUE;
}

// Reloads run here, not in the signal loop, so that the loop is back in sigwait at once.
class Reloader {
 public:
  explicit Reloader(Daemon& daemon) : daemon_(daemon), thread_([this] { run(); }) {}
  ~Reloader() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  void request() {
    {
      std::lock_guard lock(mutex_);
      requested_ = true;
    }
    wake_.notify_one();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return requested_ || stopping_; });
      if (stopping_) return;
      requested_ = false;
      lock.unlock();
      try {
        daemon_.install(daemon_.build());
      } catch (const std::exception& error) {
        daemon_.log(LOG_ERR, "reload failed, keeping the previous policy and rules: %s",
                    error.what());
      }
      lock.lock();
    }
  }

  Daemon& daemon_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false, stopping_ = false;
  std::thread thread_;
};

}  // namespace

int command_milter(const Arguments& arguments) {
  po::options_description visible(
      "credsift milter --socket SOCKET [options]\n\n"
      "Runs as a milter for Postfix (smtpd_milters = inet:127.0.0.1:PORT) or Sendmail.\n"
      "SIGHUP reloads the policy and rules (messages in flight finish with the old ones);\n"
      "SIGTERM stops accepting connections and exits once open ones are done.\n\nOptions");
  Config config;
  std::string socket;
  int timeout = 300;
  uint64_t max_message_mb = 64, max_in_flight_mb = 512;
  visible.add_options()("help,h", "show this help")(
      "socket,s", po::value(&socket),
      "where to listen: inet:PORT@127.0.0.1, inet6:PORT@::1 or unix:/path/to/socket")(
      "policy,p", po::value(&config.policy_file),
      "policy file (JSON, see README \"Gateway\"); default: hold critical and high, tag the rest")(
      "rules", po::value(&config.extra_rules)->composing(),
      "extra rule file or directory (repeatable), loaded after the built-in rules")(
      "no-default-rules", "load only the rules given with --rules")(
      "no-rule-cache", "compile the rules even when a cached database exists")(
      "syslog", "log to syslog (facility mail) instead of standard error")(
      "timeout", po::value(&timeout)->default_value(300),
      "seconds of silence from the MTA before a connection is dropped")(
      "max-message-size", po::value(&max_message_mb)->default_value(64),
      "larger messages are not scanned and get the policy's on_error action (MB)")(
      "max-in-flight", po::value(&max_in_flight_mb)->default_value(512),
      "MB of mail held across all connections; a message beyond it gets a temporary failure");
  const po::variables_map options = parse_arguments(arguments, visible);
  if (options.count("help")) {
    std::cout << visible;
    return kExitClean;
  }
  if (socket.empty()) {
    std::cerr << "credsift milter: --socket is required\n" << visible;
    return kExitError;
  }
  config.no_default_rules = options.count("no-default-rules") > 0;
  config.use_rule_cache = options.count("no-rule-cache") == 0;
  config.syslog = options.count("syslog") > 0;
  config.max_message_bytes = max_message_mb << 20;
  config.max_in_flight_bytes = max_in_flight_mb << 20;
  if (config.syslog) ::openlog("credsift", LOG_PID, LOG_MAIL);

  Daemon daemon(config);
  daemon_instance = &daemon;
  try {
    daemon.install(daemon.build());
  } catch (const std::exception& error) {
    daemon.log(LOG_ERR, "cannot start: %s", error.what());
    return kExitError;
  }

  smfiDesc description{};
  description.xxfi_name = const_cast<char*>("credsift");
  description.xxfi_version = SMFI_VERSION;
  description.xxfi_flags = SMFIF_ADDHDRS | SMFIF_QUARANTINE;
  description.xxfi_connect = on_connect;
  description.xxfi_envfrom = on_envfrom;
  description.xxfi_envrcpt = on_envrcpt;
  description.xxfi_header = on_header;
  description.xxfi_eoh = on_eoh;
  description.xxfi_body = on_body;
  description.xxfi_eom = on_eom;
  description.xxfi_abort = on_abort;
  description.xxfi_close = on_close;
  description.xxfi_negotiate = on_negotiate;
  if (smfi_setconn(socket.data()) != MI_SUCCESS || smfi_settimeout(timeout) != MI_SUCCESS ||
      smfi_register(description) != MI_SUCCESS || smfi_opensocket(true) != MI_SUCCESS) {
    daemon.log(LOG_ERR, "cannot listen on %s", socket.c_str());
    return kExitError;
  }

  // libmilter's own signal thread stops the milter on SIGHUP. The signals are blocked in every
  // thread and this (main) thread waits for them; Linux hands a process-directed signal to the
  // thread group leader first when it is waiting for it, so SIGHUP reaches the reload here.
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGHUP, SIGTERM, SIGINT, SIGUSR1}) sigaddset(&signals, signal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Reloader reloader(daemon);
  const pthread_t main_thread = pthread_self();
  std::atomic<int> milter_result{MI_SUCCESS};
  std::thread milter([&] {
    milter_result = smfi_main();
    pthread_kill(main_thread, SIGUSR1);  // tells the loop below that libmilter has stopped
  });
  daemon.log(LOG_INFO, "listening on %s", socket.c_str());

  for (bool stopping = false;;) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal == SIGUSR1) break;
    if (signal == SIGHUP && !stopping) {
      daemon.log(LOG_INFO, "SIGHUP: reloading policy and rules");
      reloader.request();
    } else if (signal == SIGTERM || signal == SIGINT) {
      if (!stopping) daemon.log(LOG_INFO, "stopping");
      stopping = true;
      smfi_stop();
    }
  }
  milter.join();
  // smfi_main returns once the listener is closed; let open connections finish (bounded).
  for (int waited = 0; daemon.open_connections > 0 && waited < 300; ++waited)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  daemon.log(LOG_INFO, "stopped");
  return milter_result == MI_SUCCESS ? kExitClean : kExitError;
}

}  // namespace credsift::cli

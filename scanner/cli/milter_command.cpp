// credsift milter: a milter daemon for Postfix (smtpd_milters) or Sendmail (the protocol is
// served by credsift/milter.hpp). Each message is collected from the header and body commands,
// rebuilt as RFC 5322 bytes and checked at end-of-body with the shared compiled rules; the policy's
// verdict becomes accept (with X-Credsift-* headers), quarantine (hold) or a 550 5.7.1 reject.
#include <pthread.h>
#include <signal.h>
#include <syslog.h>

#include <algorithm>
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
#include "credsift/milter.hpp"
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
  gateway::InFlightBudget budget;

 private:
  Config config_;
  std::mutex log_mutex_, engine_mutex_;
  std::shared_ptr<const Engine> engine_;
  std::atomic<uint64_t> generations_{0};
};

// One SMTP connection's filter; it may carry several messages. Each message is collected from
// the header and body commands, rebuilt as RFC 5322 bytes and checked at its end.
class ConnectionFilter final : public milter::Filter {
 public:
  explicit ConnectionFilter(Daemon& daemon) : daemon_(daemon) {}
  ~ConnectionFilter() override { daemon_.budget.release(reserved_); }

  void mail_from(std::string_view sender) override {
    next_message();
    sender_ = sender;
  }
  void recipient(std::string_view address) override {
    recipient_bytes_ += address.size();
    if (recipients_.size() < kMaxRecipients && recipient_bytes_ <= kMaxRecipientBytes)
      recipients_.emplace_back(address);
    else
      too_big_ = true;  // the policy's on_error action, as for a message over the size limit
  }
  void header(std::string_view name, std::string_view value) override {
    append({name, ": ", value, "\r\n"});
  }
  void end_of_headers() override { append({"\r\n"}); }
  void body(std::string_view chunk) override { append({chunk}); }
  void abort() override { next_message(); }
  milter::EndOfMessage end_of_message(std::string_view queue_id, uint32_t actions) override;

 private:
  static constexpr size_t kMaxRecipients = 10'000, kMaxRecipientBytes = 1 << 20;

  void next_message() {
    sender_.clear();
    recipients_.clear();
    recipient_bytes_ = 0;
    message_.clear();
    if (message_.capacity() > (1u << 20)) std::string().swap(message_);  // a big one goes back
    too_big_ = false;
    over_budget_ = false;
    daemon_.budget.release(std::exchange(reserved_, 0));
  }

  // Adds to the message being received. Past the size limit, or when memory runs out, the
  // message is marked too big instead and then gets the policy's on_error action.
  void append(std::initializer_list<std::string_view> pieces) {
    size_t size = 0;
    for (std::string_view piece : pieces) size += piece.size();
    if (too_big_ || over_budget_) return;
    if (message_.size() + size > daemon_.config().max_message_bytes) {
      too_big_ = true;
      return;
    }
    if (!daemon_.budget.try_reserve(size)) {
      over_budget_ = true;
      return;
    }
    reserved_ += size;
    try {
      for (std::string_view piece : pieces) message_.append(piece);
    } catch (const std::bad_alloc&) {
      too_big_ = true;
    }
  }

  Daemon& daemon_;
  std::string sender_;
  std::vector<std::string> recipients_;
  size_t recipient_bytes_ = 0;
  std::string message_;
  bool too_big_ = false;
  bool over_budget_ = false;  // the milter's total in-flight bytes ran out: tempfail
  uint64_t reserved_ = 0;     // bytes of the in-flight budget this message holds
};

// Text for the quarantine reason and logs: printable ASCII only.
std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 300))
    out += (c >= 0x20 && c < 0x7f && c != '%') ? static_cast<char>(c) : '?';
  return out;
}

milter::EndOfMessage ConnectionFilter::end_of_message(std::string_view queue_id, uint32_t actions) {
  const std::shared_ptr<const Engine> engine = daemon_.engine();
  const std::string id = printable(queue_id);
  milter::EndOfMessage end;
  if (over_budget_) {
    next_message();
    daemon_.log(LOG_WARNING, "%s: tempfail: the milter's in-flight budget of %llu MB is in use",
                id.c_str(),
                static_cast<unsigned long long>(daemon_.config().max_in_flight_bytes >> 20));
    end.verdict = milter::EndOfMessage::Verdict::TempFail;
    return end;
  }
  gateway::Verdict verdict;
  try {
    gateway::MailEnvelope envelope{sender_, recipients_};
    if (too_big_) {
      verdict.action = gateway::action_of(engine->policy.on_error);
      verdict.reason = "message larger than the milter's limit, on_error " +
                       std::string(gateway::to_string(engine->policy.on_error));
    } else {
      std::unique_ptr<Matcher::Scratch> scratch = engine->take_scratch();
      verdict =
          gateway::check_message(message_, envelope, engine->policy, *engine->matcher, *scratch);
      engine->give_back(std::move(scratch));
    }
  } catch (const std::exception& error) {
    verdict = {};
    verdict.action = gateway::action_of(engine->policy.on_error);
    verdict.reason = std::string("check failed (") + error.what() + "), on_error " +
                     std::string(gateway::to_string(engine->policy.on_error));
  }
  next_message();

  const std::string findings = gateway::findings_summary(verdict);
  daemon_.log(verdict.action >= gateway::Action::Hold ? LOG_NOTICE : LOG_INFO,
              "%s: %s: %s; findings %s; %.2f ms", id.c_str(),
              std::string(gateway::to_string(verdict.action)).c_str(),
              printable(verdict.reason).c_str(), findings.c_str(), verdict.elapsed_ms);

  if (verdict.action == gateway::Action::Reject) {
    end.verdict = milter::EndOfMessage::Verdict::Reject;
    end.reject_reply = "550 5.7.1 " + gateway::reject_text(verdict);
    return end;
  }
  end.add_headers.emplace_back("X-Credsift-Verdict", gateway::to_string(verdict.action));
  if (!verdict.findings.empty()) end.add_headers.emplace_back("X-Credsift-Findings", findings);
  if (verdict.action == gateway::Action::Hold) {
    end.quarantine_reason = "credsift: " + printable(verdict.reason);
    if (!(actions & milter::kActionQuarantine))
      daemon_.log(LOG_WARNING, "%s: the MTA does not allow quarantine; the message passes",
                  id.c_str());
  }
  return end;
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
  try {
    daemon.install(daemon.build());
  } catch (const std::exception& error) {
    daemon.log(LOG_ERR, "cannot start: %s", error.what());
    return kExitError;
  }

  milter::ServerOptions server_options;
  server_options.socket = socket;
  server_options.timeout_ms = std::clamp(timeout, 1, 86'400) * 1000;
  std::unique_ptr<milter::Server> server;
  try {
    server = std::make_unique<milter::Server>(
        server_options, [&daemon] { return std::make_unique<ConnectionFilter>(daemon); },
        [&daemon](const std::string& text) { daemon.log(LOG_WARNING, "%s", text.c_str()); });
  } catch (const std::exception& error) {
    daemon.log(LOG_ERR, "cannot listen on %s: %s", socket.c_str(), error.what());
    return kExitError;
  }

  // The signals are blocked in every thread and this (main) thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGHUP, SIGTERM, SIGINT, SIGUSR1}) sigaddset(&signals, signal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Reloader reloader(daemon);
  const pthread_t main_thread = pthread_self();
  // After SIGTERM the listener closes and open connections finish (bounded) before it returns.
  std::thread accepting([&] {
    server->run();
    pthread_kill(main_thread, SIGUSR1);  // tells the loop below that the server has stopped
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
      server->stop();
    }
  }
  accepting.join();
  daemon.log(LOG_INFO, "stopped");
  return kExitClean;
}

}  // namespace credsift::cli

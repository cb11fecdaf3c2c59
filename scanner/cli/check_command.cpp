// credsift check: one message in (a file or stdin), one JSON verdict line out, the action as the
// exit code. Made for mail gateway hooks (Postfix content_filter pipes, procmail, scripts).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>

#include "commands.hpp"
#include "credsift/escape.hpp"
#include "credsift/gateway.hpp"
#include "credsift/match.hpp"
#include "serve_protocol.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

namespace {

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

int print_verdict(const gateway::Verdict& verdict) {
  // Decode problems (a PDF that no reader could open ...) go to stderr: the JSON line carries
  // their count only.
  for (const std::string& problem : verdict.problem_texts)
    std::cerr << "credsift check: warning: " << escape_for_terminal(problem) << "\n";
  OutputFile out("-");
  out.write(gateway::verdict_to_json(verdict) + "\n");
  out.finish();
  return verdict.action >= gateway::Action::Hold ? kExitFound : kExitClean;
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
      std::cerr << "credsift check: warning: " << escape_for_terminal(line.substr(8)) << "\n";
    } else if (line.starts_with("verdict ")) {
      const std::string_view json = line.substr(8);
      OutputFile out("-");
      out.write(std::string(json) + "\n");
      out.finish();
      const bool blocked =
          json.starts_with(R"({"action":"hold")") || json.starts_with(R"({"action":"reject")");
      return blocked ? kExitFound : kExitClean;
    } else if (line.starts_with("error ")) {
      std::cerr << "credsift check: credsift serve: " << escape_for_terminal(line.substr(6))
                << "\n";
      return kExitError;
    }
  }
  std::cerr << "credsift check: no answer from credsift serve at "
            << escape_for_terminal(socket_path) << (sent ? "" : " (sending failed)") << "\n";
  return kExitError;
}

}  // namespace

int command_check(const Arguments& arguments) {
  po::options_description visible(
      "credsift check [options] [FILE|-]\n\n"
      "Checks one RFC 5322 message (default: standard input) and prints one JSON line:\n"
      "{action, reason, findings: [{rule_id, severity, status, secret (redacted), fingerprint,\n"
      "part_path, line}], decode_problems, scanned, elapsed_ms}.\n"
      "Exit codes: 0 pass or tag, 1 hold or reject, 2 error.\n\nOptions");
  std::string input = "-", policy_file, sender, daemon_socket;
  std::vector<std::string> recipients, extra_rules;
  uint64_t max_message_mb = 64;
  visible.add_options()("help,h", "show this help")(
      "policy,p", po::value(&policy_file),
      "policy file (JSON, see README \"Gateway\"); default: hold critical and high, tag the rest")(
      "sender,f", po::value(&sender), "envelope sender (default: the From header)")(
      "recipient,r", po::value(&recipients)->composing(),
      "envelope recipient, repeatable (default: the To and Cc headers)")(
      "rules", po::value(&extra_rules)->composing(),
      "extra rule file or directory (repeatable), loaded after the built-in rules")(
      "no-default-rules", "load only the rules given with --rules")(
      "no-rule-cache", "compile the rules even when a cached database exists")(
      "max-message-size", po::value(&max_message_mb)->default_value(64),
      "larger messages are not scanned (reading stops there) and get the policy's on_error "
      "action (MB)")(
      "daemon", po::value(&daemon_socket),
      "have `credsift serve --socket PATH` check the message (its policy and rules; --policy "
      "and the rule options are then not used)");
  po::options_description hidden;
  hidden.add_options()("input", po::value(&input));
  const po::variables_map options = parse_arguments(arguments, visible, hidden, "input", 1);
  if (options.count("help")) {
    std::cout << visible;
    return kExitClean;
  }

  try {
    if (!daemon_socket.empty()) {
      const std::optional<std::string> read = read_message(input, max_message_mb << 20);
      if (!read) {
        std::cerr << "credsift check: message larger than --max-message-size (" << max_message_mb
                  << " MB)\n";
        return kExitError;
      }
      return check_through_daemon(
          daemon_socket, *read,
          options.count("sender") ? std::optional<std::string>(sender) : std::nullopt, recipients);
    }
    const gateway::Policy policy =
        policy_file.empty() ? gateway::default_policy() : gateway::load_policy(policy_file);
    const RuleSet rules = load_rule_set(extra_rules, options.count("no-default-rules") > 0);
    MatcherOptions matcher_options;
    matcher_options.use_cache = options.count("no-rule-cache") == 0;
    const Matcher matcher(rules, matcher_options);
    const auto scratch = matcher.make_scratch();

    const std::optional<std::string> read = read_message(input, max_message_mb << 20);
    if (!read) {
      gateway::Verdict verdict;
      verdict.action = gateway::action_of(policy.on_error);
      verdict.reason = "message larger than --max-message-size (" + std::to_string(max_message_mb) +
                       " MB), on_error " + std::string(gateway::to_string(policy.on_error));
      return print_verdict(verdict);
    }
    const std::string& message = *read;
    gateway::MailEnvelope envelope = gateway::envelope_from_headers(message);
    if (options.count("sender")) envelope.sender = sender;
    if (!recipients.empty()) envelope.recipients = recipients;

    const gateway::Verdict verdict =
        gateway::check_message(message, envelope, policy, matcher, *scratch);
    return print_verdict(verdict);
  } catch (const std::exception& error) {
    std::cerr << "credsift check: " << escape_for_terminal(error.what()) << "\n";
    return kExitError;
  }
}

}  // namespace credsift::cli

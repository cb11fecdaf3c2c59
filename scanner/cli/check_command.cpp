// credsift check: one message in (a file or stdin), one JSON verdict line out, the action as the
// exit code. Made for mail gateway hooks (Postfix content_filter pipes, procmail, scripts).
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
#include "daemon_client.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

namespace {

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
    MatcherOptions matcher_options;
    matcher_options.use_cache = options.count("no-rule-cache") == 0;
    const std::unique_ptr<Matcher> loaded =
        load_matcher(extra_rules, options.count("no-default-rules") > 0, nullptr, matcher_options);
    const Matcher& matcher = *loaded;
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

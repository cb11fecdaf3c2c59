// credsift check: one message in (a file or stdin), one JSON verdict line out, the action as the
// exit code. Made for mail gateway hooks (Postfix content_filter pipes, procmail, scripts).
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "commands.hpp"
#include "credsift/gateway.hpp"
#include "credsift/match.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

namespace {

std::string read_message(const std::string& input) {
  if (input != "-") {
    std::ifstream in(input, std::ios::binary);
    if (!in) throw std::runtime_error(input + ": cannot open: " + std::strerror(errno));
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw std::runtime_error(input + ": read error");
    return bytes;
  }
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("stdin: read error: ") + std::strerror(errno));
    }
    bytes.append(buffer, static_cast<size_t>(got));
  }
  return bytes;
}

}  // namespace

int command_check(const Arguments& arguments) {
  po::options_description visible(
      "credsift check [options] [FILE|-]\n\n"
      "Checks one RFC 5322 message (default: standard input) and prints one JSON line:\n"
      "{action, reason, findings: [{rule_id, severity, status, secret (redacted), fingerprint,\n"
      "part_path, line}], decode_problems, scanned, elapsed_ms}.\n"
      "Exit codes: 0 pass or tag, 1 hold or reject, 2 error.\n\nOptions");
  std::string input = "-", policy_file, sender;
  std::vector<std::string> recipients, extra_rules;
  visible.add_options()("help,h", "show this help")(
      "policy,p", po::value(&policy_file),
      "policy file (JSON, see README \"Gateway\"); default: hold critical and high, tag the rest")(
      "sender,f", po::value(&sender), "envelope sender (default: the From header)")(
      "recipient,r", po::value(&recipients)->composing(),
      "envelope recipient, repeatable (default: the To and Cc headers)")(
      "rules", po::value(&extra_rules)->composing(),
      "extra rule file or directory (repeatable), loaded after the built-in rules")(
      "no-default-rules", "load only the rules given with --rules")(
      "no-rule-cache", "compile the rules even when a cached database exists");
  po::options_description hidden;
  hidden.add_options()("input", po::value(&input));
  const po::variables_map options = parse_arguments(arguments, visible, hidden, "input", 1);
  if (options.count("help")) {
    std::cout << visible;
    return kExitClean;
  }

  try {
    const gateway::Policy policy =
        policy_file.empty() ? gateway::default_policy() : gateway::load_policy(policy_file);
    const RuleSet rules = load_rule_set(extra_rules, options.count("no-default-rules") > 0);
    MatcherOptions matcher_options;
    matcher_options.use_cache = options.count("no-rule-cache") == 0;
    const Matcher matcher(rules, matcher_options);
    const auto scratch = matcher.make_scratch();

    const std::string message = read_message(input);
    gateway::MailEnvelope envelope = gateway::envelope_from_headers(message);
    if (options.count("sender")) envelope.sender = sender;
    if (!recipients.empty()) envelope.recipients = recipients;

    const gateway::Verdict verdict =
        gateway::check_message(message, envelope, policy, matcher, *scratch);
    write_line(stdout, gateway::verdict_to_json(verdict));
    std::fflush(stdout);
    return verdict.action >= gateway::Action::Hold ? kExitFound : kExitClean;
  } catch (const std::exception& error) {
    std::cerr << "credsift check: " << error.what() << "\n";
    return kExitError;
  }
}

}  // namespace credsift::cli

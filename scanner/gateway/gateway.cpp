// Gateway verdicts: allowlists, a time-limited scan of one message, and the policy decision.
#include "credsift/gateway.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <regex>
#include <set>

#include "credsift/text.hpp"
#include "credsift/validate.hpp"

namespace credsift::gateway {

namespace {

using text::lower;

std::string domain_of(std::string_view address) {
  const size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : lower(address.substr(at + 1));
}

// Strips "<...>" around an envelope address as milters receive it.
std::string bare_address(std::string_view address) {
  while (!address.empty() && (address.front() == '<' || address.front() == ' '))
    address.remove_prefix(1);
  while (!address.empty() && (address.back() == '>' || address.back() == ' '))
    address.remove_suffix(1);
  return lower(address);
}

// SMTP reply text must be printable ASCII; '%' is dropped because MTA logs and milter
// libraries on the other side may read the text as a format.
std::string smtp_safe(std::string_view text) {
  std::string out;
  for (unsigned char c : text)
    out += (c >= 0x20 && c < 0x7f && c != '%') ? static_cast<char>(c) : '?';
  return out;
}

std::vector<std::string> addresses_in(std::string_view text) {
  static const std::regex address(R"([A-Za-z0-9._%+'=/!#$&*?^`{|}~-]+@[A-Za-z0-9.-]+[A-Za-z0-9])");
  std::vector<std::string> out;
  const std::string copy(text);
  for (auto it = std::sregex_iterator(copy.begin(), copy.end(), address);
       it != std::sregex_iterator(); ++it)
    out.push_back(lower(it->str()));
  return out;
}

std::string describe(const Finding& finding) {
  return finding.rule->id + " (" + std::string(to_string(finding.rule->severity)) + ", " +
         std::string(to_string(finding.validation.status)) + ")";
}

}  // namespace

MailEnvelope envelope_from_headers(std::string_view raw) {
  MailEnvelope envelope;
  std::string field;  // the current header field, unfolded
  const auto take = [&] {
    const size_t colon = field.find(':');
    if (colon == std::string::npos) return;
    const std::string name = lower(field.substr(0, colon));
    const std::string_view value = std::string_view(field).substr(colon + 1);
    if (name == "from" && envelope.sender.empty()) {
      const auto found = addresses_in(value);
      if (!found.empty()) envelope.sender = found.front();
    } else if (name == "to" || name == "cc") {
      for (std::string& address : addresses_in(value))
        envelope.recipients.push_back(std::move(address));
    }
  };
  size_t position = 0;
  while (position < raw.size()) {
    size_t end = raw.find('\n', position);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view line = raw.substr(position, end - position);
    position = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header block
    if (line.front() == ' ' || line.front() == '\t') {
      field += line;
    } else {
      take();
      field = line;
    }
  }
  take();
  return envelope;
}

bool address_matches(std::string_view address, const std::vector<std::string>& patterns) {
  const std::string bare = bare_address(address);
  if (bare.empty()) return false;
  const std::string domain = domain_of(bare);
  for (const std::string& pattern : patterns) {
    if (pattern.empty()) continue;
    if (pattern.front() == '@' ? std::string_view(pattern).substr(1) == domain : pattern == bare)
      return true;
  }
  return false;
}

bool is_internal(const Policy& policy, const MailEnvelope& envelope) {
  if (policy.internal_domains.empty() || envelope.recipients.empty()) return false;
  const auto internal = [&](std::string_view address) {
    const std::string domain = domain_of(bare_address(address));
    return !domain.empty() &&
           std::find(policy.internal_domains.begin(), policy.internal_domains.end(), domain) !=
               policy.internal_domains.end();
  };
  return internal(envelope.sender) &&
         std::all_of(envelope.recipients.begin(), envelope.recipients.end(), internal);
}

Verdict decide(const Policy& policy, const MailEnvelope& envelope, MessageResult result) {
  Verdict verdict;
  verdict.scanned = true;
  verdict.decode_problems = result.problems.size();
  for (size_t i = 0; i < result.problems.size() && i < 5; ++i)
    verdict.problem_texts.push_back(result.problems[i].what);
  if (result.failed) {
    verdict.action = action_of(policy.on_error);
    verdict.reason =
        "scan failed (" + result.failure + "); on_error " + std::string(to_string(policy.on_error));
    return verdict;
  }

  const bool internal = is_internal(policy, envelope);
  const ActionTable& table =
      internal && policy.internal_actions ? *policy.internal_actions : policy.actions;
  size_t strongest = 0;
  for (Finding& finding : result.findings) {
    if (std::find(policy.allow_rules.begin(), policy.allow_rules.end(), finding.rule->id) !=
        policy.allow_rules.end())
      continue;
    const Action action =
        table.lookup(to_string(finding.rule->severity), to_string(finding.validation.status))
            .value_or(policy.default_action);
    if (action == Action::Pass) continue;
    if (verdict.findings.empty() || action > verdict.action) {
      verdict.action = action;
      strongest = verdict.findings.size();
    }
    verdict.findings.push_back(std::move(finding));
  }
  if (verdict.findings.empty()) {
    verdict.reason = "no credentials found";
  } else {
    verdict.reason = describe(verdict.findings[strongest]);
    if (verdict.findings.size() > 1)
      verdict.reason += " and " + std::to_string(verdict.findings.size() - 1) + " more";
    if (internal && policy.internal_actions) verdict.reason += ", internal mail";
  }

  const auto at_least = [&](Action floor, const std::string& why) {
    verdict.action = std::max(verdict.action, floor);
    verdict.reason += "; " + why;
  };
  if (result.timed_out)
    at_least(action_of(policy.on_timeout),
             "scan stopped at the " + std::to_string(policy.max_scan_time.count()) +
                 " ms limit, on_timeout " + std::string(to_string(policy.on_timeout)));
  if (verdict.decode_problems > 0 && policy.on_malformed)
    at_least(action_of(*policy.on_malformed),
             std::to_string(verdict.decode_problems) +
                 " decode problem(s), first: " + result.problems.front().what + ", on_malformed " +
                 std::string(to_string(*policy.on_malformed)));
  return verdict;
}

Verdict check_message(std::string_view raw_message, const MailEnvelope& envelope,
                      const Policy& policy, const Matcher& matcher, Matcher::Scratch& scratch) {
  const auto started = std::chrono::steady_clock::now();
  const auto finish = [&](Verdict verdict) {
    verdict.elapsed_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    return verdict;
  };
  if (address_matches(envelope.sender, policy.allow_senders)) {
    Verdict verdict;
    verdict.reason = "sender " + bare_address(envelope.sender) + " is allowlisted";
    return finish(std::move(verdict));
  }
  if (!envelope.recipients.empty() &&
      std::all_of(
          envelope.recipients.begin(), envelope.recipients.end(),
          [&](const std::string& to) { return address_matches(to, policy.allow_recipients); })) {
    Verdict verdict;
    verdict.reason = "every recipient is allowlisted";
    return finish(std::move(verdict));
  }

  Message message;
  message.bytes = raw_message;
  ScanOptions options;
  options.include_rejected = true;  // the policy decides what a rejected hit means
  options.deadline = started + policy.max_scan_time;
  return finish(decide(policy, envelope, scan_message(message, matcher, scratch, options)));
}

std::string verdict_to_json(const Verdict& verdict) {
  std::string out = "{\"action\":\"" + std::string(to_string(verdict.action)) + "\",\"reason\":\"" +
                    json_escape(verdict.reason) + "\",\"findings\":[";
  for (size_t i = 0; i < verdict.findings.size(); ++i) {
    const Finding& finding = verdict.findings[i];
    if (i) out += ',';
    out += "{\"rule_id\":\"" + json_escape(finding.rule->id) + "\",\"severity\":\"" +
           std::string(to_string(finding.rule->severity)) + "\",\"status\":\"" +
           std::string(to_string(finding.validation.status)) + "\",\"secret\":\"" +
           json_escape(redact(finding.secret)) + "\",\"fingerprint\":\"" + finding.fingerprint +
           "\",\"part_path\":\"" + json_escape(finding.part_path) +
           "\",\"line\":" + std::to_string(finding.line) + "}";
  }
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.3f", verdict.elapsed_ms);
  out += "],\"decode_problems\":" + std::to_string(verdict.decode_problems) +
         ",\"scanned\":" + (verdict.scanned ? "true" : "false") + ",\"elapsed_ms\":" + elapsed +
         "}";
  return out;
}

std::string findings_summary(const Verdict& verdict) {
  std::string out = std::to_string(verdict.findings.size());
  std::set<std::string> seen;
  const char* separator = " ";
  for (const Finding& finding : verdict.findings) {
    if (!seen.insert(finding.rule->id).second) continue;
    out += separator + finding.rule->id;
    separator = ", ";
  }
  return out;
}

std::string reject_text(const Verdict& verdict) {
  std::string text = "credsift: message not accepted, it carries ";
  if (verdict.findings.empty()) {
    text += "content that could not be checked (" + verdict.reason + ")";
  } else {
    text += std::to_string(verdict.findings.size()) + " credential(s): ";
    std::set<std::string> seen;
    const char* separator = "";
    for (const Finding& finding : verdict.findings) {
      if (!seen.insert(finding.rule->id + finding.part_path).second) continue;
      text += separator + finding.rule->id + " in part " + finding.part_path;
      separator = ", ";
    }
    text += ". Remove the secret, rotate it, and send again";
  }
  text = smtp_safe(text);
  if (text.size() > 400) text = text.substr(0, 397) + "...";
  return text;
}

}  // namespace credsift::gateway

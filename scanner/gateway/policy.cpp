// The gateway policy file: JSON, read with simdjson's DOM. Unknown keys are errors, because a
// misspelt key in a security policy must not silently fall back to a default.
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>

#include "credsift/gateway.hpp"
#include "credsift/text.hpp"

namespace credsift::gateway {

namespace {

namespace dom = simdjson::dom;

using text::lower;

class PolicyReader {
 public:
  explicit PolicyReader(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw PolicyError(origin_ + (key.empty() ? "" : ": '" + key + "'") + ": " + what);
  }

  Policy read(std::string_view json) {
    Policy policy;
    policy.origin = origin_;
    dom::parser parser;
    dom::element root;
    if (auto error = parser.parse(json.data(), json.size()).get(root))
      fail("", std::string("invalid JSON: ") + simdjson::error_message(error));
    dom::object top;
    if (root.get_object().get(top)) fail("", "the policy must be a JSON object");
    bool has_actions = false;
    for (auto field : top) {
      const std::string key(field.key);
      if (key == "comment") continue;
      if (key == "actions") {
        policy.actions = table(key, field.value);
        has_actions = true;
      } else if (key == "internal_actions") {
        policy.internal_actions = table(key, field.value);
      } else if (key == "default_action") {
        policy.default_action = action(key, field.value);
      } else if (key == "allow") {
        allow(field.value, policy);
      } else if (key == "internal_domains") {
        policy.internal_domains = strings(key, field.value, true);
        for (std::string& domain : policy.internal_domains)
          if (!domain.empty() && domain.front() == '@') domain.erase(0, 1);
      } else if (key == "max_scan_ms") {
        int64_t ms = 0;
        if (field.value.get_int64().get(ms) || ms <= 0)
          fail(key, "must be a positive number of milliseconds");
        policy.max_scan_time = std::chrono::milliseconds(ms);
      } else if (key == "on_timeout") {
        policy.on_timeout = fail_mode(key, field.value);
      } else if (key == "on_error") {
        policy.on_error = fail_mode(key, field.value);
      } else if (key == "on_malformed") {
        if (string(key, field.value) == "ignore")
          policy.on_malformed.reset();
        else
          policy.on_malformed = fail_mode(key, field.value);
      } else {
        fail(key,
             "unknown key (known: actions, internal_actions, default_action, allow, "
             "internal_domains, max_scan_ms, on_timeout, on_error, on_malformed, comment)");
      }
    }
    if (!has_actions) fail("actions", "missing: the policy needs a severity x status table");
    return policy;
  }

 private:
  std::string string(const std::string& key, dom::element value) const {
    std::string_view text;
    if (value.get_string().get(text)) fail(key, "must be a string");
    return std::string(text);
  }

  std::vector<std::string> strings(const std::string& key, dom::element value,
                                   bool fold_case) const {
    dom::array array;
    if (value.get_array().get(array)) fail(key, "must be an array of strings");
    std::vector<std::string> out;
    for (dom::element item : array) {
      std::string text = string(key, item);
      if (text.empty()) fail(key, "empty string in the list");
      out.push_back(fold_case ? lower(text) : text);
    }
    return out;
  }

  Action action(const std::string& key, dom::element value) const {
    try {
      return parse_action(string(key, value));
    } catch (const std::invalid_argument& error) {
      fail(key, error.what());
    }
  }

  FailMode fail_mode(const std::string& key, dom::element value) const {
    const std::string text = string(key, value);
    if (text == "fail-open") return FailMode::Open;
    if (text == "fail-closed") return FailMode::Closed;
    fail(key, "'" + text + "': expected fail-open or fail-closed" +
                  (key == "on_malformed" ? " or ignore" : ""));
  }

  ActionTable table(const std::string& key, dom::element value) const {
    dom::object severities;
    if (value.get_object().get(severities))
      fail(key, "must be an object {severity: {status: action}}");
    ActionTable table;
    for (auto by_severity : severities) {
      const std::string severity(by_severity.key);
      const std::string where = key + "." + severity;
      if (severity != "*") {
        try {
          parse_severity(severity);
        } catch (const std::invalid_argument&) {
          fail(where, "unknown severity (low, medium, high, critical or *)");
        }
      }
      dom::object statuses;
      if (by_severity.value.get_object().get(statuses))
        fail(where, "must be an object {status: action}");
      auto& row = table.entries[severity];
      for (auto by_status : statuses) {
        const std::string status(by_status.key);
        const bool well_formed =
            status == "*" ||
            (!status.empty() && std::all_of(status.begin(), status.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || c == '-';
            }));
        if (!well_formed)
          fail(where + "." + status, "a status is lower-case words joined by '-', or *");
        row[status] = action(where + "." + status, by_status.value);
      }
    }
    return table;
  }

  void allow(dom::element value, Policy& policy) const {
    dom::object lists;
    if (value.get_object().get(lists))
      fail("allow", "must be an object {senders, recipients, rules}");
    for (auto field : lists) {
      const std::string key = "allow." + std::string(field.key);
      if (field.key == "senders")
        policy.allow_senders = strings(key, field.value, true);
      else if (field.key == "recipients")
        policy.allow_recipients = strings(key, field.value, true);
      else if (field.key == "rules")
        policy.allow_rules = strings(key, field.value, false);
      else
        fail(key, "unknown key (known: senders, recipients, rules)");
    }
  }

  std::string origin_;
};

}  // namespace

std::string_view to_string(Action action) {
  switch (action) {
    case Action::Pass:
      return "pass";
    case Action::Tag:
      return "tag";
    case Action::Hold:
      return "hold";
    case Action::Reject:
      return "reject";
  }
  return "hold";
}

Action parse_action(std::string_view text) {
  for (Action action : {Action::Pass, Action::Tag, Action::Hold, Action::Reject})
    if (text == to_string(action)) return action;
  throw std::invalid_argument("unknown action '" + std::string(text) +
                              "' (pass, tag, hold or reject)");
}

std::string_view to_string(FailMode mode) {
  return mode == FailMode::Open ? "fail-open" : "fail-closed";
}

Action action_of(FailMode mode) { return mode == FailMode::Open ? Action::Tag : Action::Hold; }

std::optional<Action> ActionTable::lookup(std::string_view severity,
                                          std::string_view status) const {
  const auto find = [&](std::string_view row_key,
                        std::string_view column) -> std::optional<Action> {
    const auto row = entries.find(row_key);
    if (row == entries.end()) return std::nullopt;
    const auto cell = row->second.find(column);
    if (cell == row->second.end()) return std::nullopt;
    return cell->second;
  };
  for (const auto& [row, column] :
       {std::pair{severity, status}, std::pair{severity, std::string_view("*")},
        std::pair{std::string_view("*"), status},
        std::pair{std::string_view("*"), std::string_view("*")}})
    if (auto action = find(row, column)) return action;
  return std::nullopt;
}

Policy default_policy() {
  Policy policy;
  policy.origin = "built-in";
  policy.actions.entries["critical"]["*"] = Action::Hold;
  policy.actions.entries["high"]["*"] = Action::Hold;
  policy.actions.entries["*"]["*"] = Action::Tag;
  policy.actions.entries["*"]["rejected"] = Action::Pass;
  policy.actions.entries["critical"]["rejected"] = Action::Pass;
  policy.actions.entries["high"]["rejected"] = Action::Pass;
  return policy;
}

Policy parse_policy(std::string_view json, const std::string& origin) {
  return PolicyReader(origin).read(json);  // simdjson copies into a padded buffer
}

Policy load_policy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PolicyError(path.string() + ": cannot open");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw PolicyError(path.string() + ": read error");
  return parse_policy(bytes, path.string());
}

}  // namespace credsift::gateway

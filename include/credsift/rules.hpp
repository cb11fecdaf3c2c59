#pragma once
// Rules are data: patterns/*.json, loaded with simdjson. See README "Rule schema".
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace credsift {

enum class Severity { Low, Medium, High, Critical };
std::string_view to_string(Severity);
Severity parse_severity(std::string_view);  // throws std::invalid_argument

struct RuleExample {
  std::string text;    // a snippet the rule must match
  std::string secret;  // the `secret` capture expected from it
};

struct Rule {
  std::string id;  // stable, namespaced: "github.pat.classic"
  std::string name;
  std::string description;
  std::string provider;
  std::string category;   // api-token, private-key, connection-string, password, webhook, ...
  std::string pattern;    // PCRE2 syntax that Hyperscan also accepts, with (?<secret>...)
  bool caseless = false;  // "flags": ["caseless"]
  bool dotall = false;    // "flags": ["dotall"]
  Severity severity = Severity::High;
  std::string confidence = "medium";  // high, medium, low
  double min_entropy = 0;             // Shannon bits per character the secret must reach (0: none)
  std::vector<RuleExample> examples;
  std::vector<std::string> negative_examples;
  std::vector<std::string> references;
  std::string rotation;  // what to revoke and where
  // The smallest named ruleset holding the rule: "default" (also in strict when confidence is
  // high, and in all) or "all" (noisy rules, only with --ruleset all).
  std::string ruleset = "default";
  std::filesystem::path file;  // where the rule was loaded from
};

struct RuleSet {
  std::vector<Rule> rules;
  std::string digest;  // SHA-256 over every loaded file's bytes, in load order
};

struct RuleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Loads every *.json under each path (a file or a directory, sorted by name). Throws RuleError
// naming the file and the rule id for a malformed rule, a missing field or a duplicate id.
RuleSet load_rules(const std::vector<std::filesystem::path>& paths);

// One rule file's bytes, as load_rules reads them.
struct RuleFile {
  std::filesystem::path path;
  std::string bytes;
};
// The files load_rules(paths) loads, in its order, with their bytes: a caller can key a cache on
// exactly the bytes it then parses. Throws RuleError for a missing or unreadable path.
std::vector<RuleFile> read_rule_files(const std::vector<std::filesystem::path>& paths);
RuleSet load_rules(const std::vector<RuleFile>& files);

// A compact binary form of a rule set for the compiled-rules cache
// (scanner/rules/rules_binary.cpp): every field the scan path reads, without the examples and
// negative examples (tests only), so that a warm start parses no JSON. decode_rules returns nullopt
// for bytes it cannot read whole.
std::string encode_rules(const RuleSet& rules);
std::optional<RuleSet> decode_rules(std::string_view bytes);

}  // namespace credsift

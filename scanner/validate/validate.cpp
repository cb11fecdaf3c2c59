#include "credsift/validate.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <string>

namespace credsift {

std::string_view to_string(ValidationStatus status) {
  switch (status) {
    case ValidationStatus::Unverified:
      return "unverified";
    case ValidationStatus::Rejected:
      return "rejected";
  }
  return "unverified";
}

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// A run of one repeated character ("xxxxxxxx", "********", "00000000") is a mask, not a secret.
bool is_one_character_repeated(std::string_view text) {
  return text.size() >= 3 &&
         std::all_of(text.begin(), text.end(), [&](char c) { return c == text.front(); });
}

// Words that, inside a captured secret, mark it as an example or a template value.
constexpr std::array kPlaceholderWords = {
    "example", "changeme", "change_me", "change-me", "placeholder", "your_password",
    "yourpassword", "your-password", "<password>", "password_here", "passwordhere",
    "replace_me", "replaceme", "redacted", "dummy", "sample", "xxxx", "****", "....",
    "your_api_key", "your-api-key", "yourapikey", "insert", "secret_here", "your_token",
    "your-token", "<token>", "<secret>", "<your", "[password]", "[your", "(your"};

}  // namespace

bool is_placeholder(std::string_view secret) {
  if (secret.empty()) return true;
  if (is_one_character_repeated(secret)) return true;
  const std::string text = lower(secret);
  // Template and variable references: ${VAR}, $VAR, {{var}}, %s, %(name)s, <...>, ENV[...]
  if (contains(text, "${") || contains(text, "{{") || contains(text, "}}")) return true;
  if (text.front() == '$' && text.size() > 1 &&
      (std::isupper(static_cast<unsigned char>(secret[1])) || secret[1] == '_'))
    return true;
  if (text == "%s" || contains(text, "%s") || contains(text, "%(")) return true;
  if (text.front() == '<' && text.back() == '>') return true;
  if (text.front() == '[' && text.back() == ']') return true;
  if (text == "password" || text == "passwd" || text == "secret" || text == "null" ||
      text == "none" || text == "undefined" || text == "true" || text == "false" ||
      text == "test" || text == "testing" || text == "foobar")
    return true;
  for (std::string_view word : kPlaceholderWords)
    if (contains(text, word)) return true;
  return false;
}

double shannon_entropy(std::string_view text) {
  if (text.empty()) return 0;
  std::array<size_t, 256> counts{};
  for (unsigned char c : text) ++counts[c];
  double entropy = 0;
  const double n = static_cast<double>(text.size());
  for (size_t count : counts) {
    if (count == 0) continue;
    const double p = static_cast<double>(count) / n;
    entropy -= p * std::log2(p);
  }
  return entropy;
}

Validation validate(const Rule& rule, std::string_view secret) {
  if (is_placeholder(secret)) return {ValidationStatus::Rejected, "placeholder"};
  if (rule.min_entropy > 0 && shannon_entropy(secret) < rule.min_entropy)
    return {ValidationStatus::Rejected, "low entropy"};
  return {ValidationStatus::Unverified, ""};
}

}  // namespace credsift

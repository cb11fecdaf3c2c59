// The generic family (generic.*): a credential-like name next to a value. The rules only find
// the shape; this decides whether the value looks like a secret or like the many other things
// people put next to words such as token, secret and key.
#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "credsift/text.hpp"
#include "credsift/validate.hpp"

namespace credsift {

namespace {

bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return is_lower(c) || is_upper(c); }
bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_uuid(std::string_view v) {
  if (v.size() != 36) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? v[i] != '-' : !is_hex_digit(v[i])) return false;
  }
  return true;
}

// 1.2.3, v2.10.0-beta.1+build.5, 2024.01.15
bool is_version(std::string_view v) {
  if (!v.empty() && (v.front() == 'v' || v.front() == 'V')) v.remove_prefix(1);
  size_t i = 0;
  int dots = 0;
  while (i < v.size() && (is_digit(v[i]) || v[i] == '.')) dots += v[i++] == '.';
  if (i == 0 || dots == 0 || !is_digit(v.front())) return false;
  if (i == v.size()) return true;
  if (v[i] != '-' && v[i] != '+') return false;
  return std::all_of(v.begin() + static_cast<std::ptrdiff_t>(i), v.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '+';
  });
}

bool ends_with_file_extension(std::string_view v) {
  static constexpr std::array kExtensions = {
      ".json", ".pem",  ".key",  ".txt", ".yml", ".yaml", ".xml", ".properties", ".env",
      ".cfg",  ".conf", ".ini",  ".p12", ".pfx", ".crt",  ".cer", ".js",         ".ts",
      ".py",   ".sh",   ".html", ".png", ".jpg", ".gpg",  ".asc", ".jks",        ".toml"};
  const std::string lowered = text::lower(v);
  return std::any_of(kExtensions.begin(), kExtensions.end(),
                     [&](std::string_view e) { return std::string_view(lowered).ends_with(e); });
}

// Words joined by _ - . (snake_case, kebab-case, dotted names) or camelCase with no digits, or
// words with at most a short numeric part: names of things, not random values.
bool is_identifier(std::string_view v) {
  if (std::none_of(v.begin(), v.end(), is_digit) && std::all_of(v.begin(), v.end(), [](char c) {
        return is_alpha(c) || c == '_' || c == '-' || c == '.';
      }))
    return true;
  size_t segments = 0;
  size_t start = 0;
  for (size_t i = 0; i <= v.size(); ++i) {
    if (i < v.size() && v[i] != '_' && v[i] != '-' && v[i] != '.') continue;
    const std::string_view segment = v.substr(start, i - start);
    start = i + 1;
    if (segment.empty()) continue;
    ++segments;
    const bool letters = std::all_of(segment.begin(), segment.end(), is_alpha);
    const bool digits = std::all_of(segment.begin(), segment.end(), is_digit);
    if (!letters && !digits && segment.size() > 3) return false;
  }
  return segments >= 2;
}

// An ascending or repeated run (abcdefgh, 12345678) of 8 or more: keyboard filler, not random.
bool has_sequential_run(std::string_view v) {
  int run = 1;
  for (size_t i = 1; i < v.size(); ++i) {
    run = (v[i] == v[i - 1] + 1) ? run + 1 : 1;
    if (run >= 8) return true;
  }
  return false;
}

bool name_says_digest(std::string_view context) {
  const std::string lowered = text::lower(context);
  for (std::string_view word :
       {"sha", "hash", "checksum", "digest", "etag", "commit", "md5", "crc", "fingerprint"})
    if (lowered.find(word) != std::string::npos) return true;
  return false;
}

}  // namespace

std::string generic_secret_rejection(std::string_view value, std::string_view name_context) {
  if (value.size() < 16) return "too short for a generic secret";
  const std::string lowered = text::lower(value);
  if (lowered.find("://") != std::string::npos || lowered.starts_with("www.") ||
      lowered.starts_with("http"))
    return "a URL, not a secret";
  if (value.front() == '/' || value.starts_with("./") || value.starts_with("../") ||
      value.starts_with("~/") || ends_with_file_extension(value))
    return "a path or file name, not a secret";
  if (value.find('@') != std::string_view::npos &&
      value.find('.', value.find('@')) != std::string_view::npos)
    return "an e-mail address, not a secret";
  for (std::string_view encoded : {"%7b", "%7d", "%3c", "%3e", "%24"})
    if (lowered.find(encoded) != std::string::npos) return "a URL-encoded template variable";
  if (is_uuid(value)) return "a UUID (an identifier)";
  if (is_version(value)) return "a version string";
  const bool all_hex = std::all_of(value.begin(), value.end(), is_hex_digit);
  if (all_hex && name_says_digest(name_context)) return "a hash or digest of data";
  const bool lower = std::any_of(value.begin(), value.end(), is_lower);
  const bool upper = std::any_of(value.begin(), value.end(), is_upper);
  const bool digit = std::any_of(value.begin(), value.end(), is_digit);
  if (lower + upper + digit < 2) return "one character class only";
  if (is_identifier(value)) return "an identifier, not a secret";
  if (has_sequential_run(value)) return "a sequential run, not random";
  std::array<bool, 256> seen{};
  size_t distinct = 0;
  for (unsigned char c : value) distinct += !std::exchange(seen[c], true);
  if (distinct < 10) return "too few distinct characters";
  return {};
}

void drop_generic_hits_shadowed_by_provider_rules(const RuleSet& rules, std::vector<Hit>& hits) {
  const auto generic = [&](const Hit& hit) {
    return std::string_view(rules.rules[hit.rule].id).starts_with("generic.");
  };
  if (std::none_of(hits.begin(), hits.end(), generic)) return;
  struct Place {
    uint32_t segment;
    Span secret;
  };
  std::vector<Place> specific;  // copies: remove_if below moves the hits
  for (const Hit& hit : hits)
    if (!generic(hit)) specific.push_back({hit.segment, hit.secret});
  const auto shadowed = [&](const Hit& hit) {
    if (!generic(hit)) return false;
    return std::any_of(specific.begin(), specific.end(), [&](const Place& other) {
      return other.segment == hit.segment && other.secret.begin < hit.secret.end &&
             hit.secret.begin < other.secret.end;
    });
  };
  hits.erase(std::remove_if(hits.begin(), hits.end(), shadowed), hits.end());
}

}  // namespace credsift

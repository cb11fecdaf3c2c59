#include "credsift/validate.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <ctime>
#include <string>

#include "credsift/text.hpp"

namespace credsift {

std::string_view to_string(ValidationStatus status) {
  switch (status) {
    case ValidationStatus::Unverified:
      return "unverified";
    case ValidationStatus::Rejected:
      return "rejected";
    case ValidationStatus::ChecksumValid:
      return "checksum-valid";
    case ValidationStatus::ChecksumInvalid:
      return "checksum-invalid";
    case ValidationStatus::StructureValid:
      return "structure-valid";
    case ValidationStatus::StructureInvalid:
      return "structure-invalid";
    case ValidationStatus::Partial:
      return "partial";
  }
  return "unverified";
}

int evidence_rank(ValidationStatus status) {
  switch (status) {
    case ValidationStatus::ChecksumValid:
      return 5;
    case ValidationStatus::StructureValid:
      return 4;
    case ValidationStatus::Partial:
      return 3;
    case ValidationStatus::Unverified:
      return 2;
    case ValidationStatus::ChecksumInvalid:
    case ValidationStatus::StructureInvalid:
      return 1;
    case ValidationStatus::Rejected:
      return 0;
  }
  return 0;
}

std::string_view Validation::evidence_of(std::string_view name) const {
  for (const auto& [key, value] : evidence)
    if (key == name) return value;
  return {};
}

namespace {

using text::lower;

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
    "example",      "changeme",      "change_me",    "change-me",
    "placeholder",  "your_password", "yourpassword", "your-password",
    "<password>",   "password_here", "passwordhere", "replace_me",
    "replaceme",    "redacted",      "dummy",        "sample",
    "xxxx",         "****",          "....",         "your_api_key",
    "your-api-key", "yourapikey",    "insert",       "secret_here",
    "your_token",   "your-token",    "<token>",      "<secret>",
    "<your",        "[password]",    "[your",        "(your",
    "changeit",     "0123456789",    "abcdefghij",   "00000000-0000-0000-0000-000000000000"};

// Key ids and keys printed in providers' documentation: widely copied, never live.
constexpr std::array kDocumentationKeys = {
    "AKIAIOSFODNN7EXAMPLE",
    "AKIAI44QH8DHBEXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    "ASIAIOSFODNN7EXAMPLE",
    "abcdef.0123456789abcdef"};  // the kubeadm bootstrap token of the Kubernetes docs

}  // namespace

namespace {
// For values that legitimately start with $ (crypt hashes): masks and template words only.
bool has_placeholder_word(std::string_view secret) {
  if (is_one_character_repeated(secret)) return true;
  const std::string text = lower(secret);
  for (std::string_view word : kPlaceholderWords)
    if (word != "...." && contains(text, word)) return true;  // '.' is a crypt(3) digit
  return false;
}
}  // namespace

bool is_placeholder(std::string_view secret) {
  if (secret.empty()) return true;
  if (is_one_character_repeated(secret)) return true;
  const std::string text = lower(secret);
  // Template and variable references: ${VAR}, $VAR, {{var}}, %s, %(name)s, <...>, %VAR%
  if (contains(text, "${") || contains(text, "{{") || contains(text, "}}")) return true;
  if (text.front() == '$' && text.size() > 1 &&
      (std::isupper(static_cast<unsigned char>(secret[1])) || secret[1] == '_'))
    return true;
  if (text.size() > 2 && text.front() == '%' && text.back() == '%') return true;
  if (text == "%s" || contains(text, "%s") || contains(text, "%(")) return true;
  if (text.front() == '<' && text.back() == '>') return true;
  if (text.front() == '[' && text.back() == ']') return true;
  if (text.size() > 2 && text.front() == '{' && text.back() == '}') return true;
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

uint32_t crc32(std::string_view data) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

namespace {
constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
}

std::string base62_encode(uint32_t value, size_t width) {
  std::string out;
  do {
    out.push_back(kBase62[value % 62]);
    value /= 62;
  } while (value);
  while (out.size() < width) out.push_back('0');
  std::reverse(out.begin(), out.end());
  return out;
}

std::optional<bool> base62_crc32_checksum_ok(std::string_view token, std::string_view prefix) {
  if (!token.starts_with(prefix) || token.size() != prefix.size() + 36) return std::nullopt;
  const std::string_view body = token.substr(prefix.size(), 30);
  const std::string_view checksum = token.substr(prefix.size() + 30);
  for (char c : token.substr(prefix.size()))
    if (kBase62.find(c) == std::string_view::npos) return std::nullopt;
  return base62_encode(crc32(body), 6) == checksum;
}

// Grafana service account tokens: glsa_<32 alphanumerics>_<8 hex>, the hex being the CRC32
// (IEEE) of "glsa_<32 alphanumerics>" written as its four bytes in little-endian order
// (Grafana's own token generator, pkg/components/satokengen).
std::optional<bool> grafana_checksum_ok(std::string_view token) {
  constexpr std::string_view kPrefix = "glsa_";
  if (!token.starts_with(kPrefix) || token.size() != kPrefix.size() + 32 + 1 + 8 ||
      token[kPrefix.size() + 32] != '_')
    return std::nullopt;
  const std::string_view key = token.substr(0, kPrefix.size() + 32);
  const std::string_view checksum = token.substr(kPrefix.size() + 33);
  const uint32_t crc = crc32(key);
  unsigned char little_endian[4];
  for (int byte = 0; byte < 4; ++byte) little_endian[byte] = (crc >> (8 * byte)) & 0xFF;
  const std::string expected = text::hex(little_endian, sizeof little_endian);
  std::string given(checksum);
  std::transform(given.begin(), given.end(), given.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return given == expected;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z')
      value = c - 'A';
    else if (c >= 'a' && c <= 'z')
      value = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      value = c - '0' + 52;
    else if (c == '+' || c == '-')
      value = 62;
    else if (c == '/' || c == '_')
      value = 63;
    else if (c == '=')
      break;
    else if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
      continue;
    else
      return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

std::optional<std::string> aws_account_id(std::string_view key_id) {
  if (key_id.size() != 20) return std::nullopt;
  // The 16 characters after the 4-character type prefix are base32 (A-Z, 2-7): 80 bits. The
  // first bit marks a new-generation id; the next 40 bits are the account number (research by
  // A. Steele, T. Beery and WithSecure Labs; AWS's sts:GetAccessKeyInfo returns the same).
  uint64_t high = 0;  // first 48 bits
  for (size_t i = 4; i < 20; ++i) {
    const char c = key_id[i];
    uint64_t value;
    if (c >= 'A' && c <= 'Z')
      value = static_cast<uint64_t>(c - 'A');
    else if (c >= '2' && c <= '7')
      value = static_cast<uint64_t>(c - '2' + 26);
    else
      return std::nullopt;
    if (i < 4 + 10) high = (high << 5) | value;  // 10 characters: 50 bits, keep the top 48
  }
  high >>= 2;
  if (!(high & (uint64_t{1} << 47))) return std::nullopt;  // old generation: no account inside
  const uint64_t account = (high & 0x7FFFFFFFFF80ull) >> 7;
  std::string digits = std::to_string(account);
  if (digits.size() < 12) digits.insert(0, 12 - digits.size(), '0');
  return digits;
}

std::string_view hash_kind(std::string_view text) {
  const bool all_hex = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c));
  });
  const bool one_case =
      std::none_of(text.begin(), text.end(), [](char c) { return c >= 'a' && c <= 'f'; }) ||
      std::none_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'F'; });
  if (all_hex && one_case) {
    switch (text.size()) {
      case 32:
        return "md5";
      case 40:
        return "sha1";
      case 64:
        return "sha256";
      case 128:
        return "sha512";
    }
  }
  if ((text.starts_with("$2a$") || text.starts_with("$2b$") || text.starts_with("$2y$")) &&
      text.size() == 60)
    return "bcrypt";
  if ((text.starts_with("$1$") || text.starts_with("$5$") || text.starts_with("$6$") ||
       text.starts_with("$argon2")) &&
      text.size() > 20)
    return "crypt";
  return {};
}

Validation validate_azure_storage_key(std::string_view key) {
  Validation result;
  result.validator = "azure-storage-key";
  const std::optional<std::string> bytes = base64_decode(key);
  if (bytes && bytes->size() == 64) {
    result.status = ValidationStatus::StructureValid;
    result.evidence.emplace_back("key_bytes", "64");
  } else {
    result.status = ValidationStatus::StructureInvalid;
    result.reason = "not base64 of 64 bytes";
  }
  return result;
}

Validation validate_pypi_macaroon(std::string_view token) {
  Validation result;
  result.validator = "pypi-macaroon";
  result.status = ValidationStatus::StructureInvalid;
  if (!token.starts_with("pypi-")) {
    result.reason = "no pypi- prefix";
    return result;
  }
  const std::optional<std::string> bytes = base64_decode(token.substr(5));
  // Macaroon v2 binary: version byte 2, then fields (type byte, varint length, data); field 1 is
  // the location, field 2 the identifier.
  if (!bytes || bytes->size() < 3 || static_cast<unsigned char>((*bytes)[0]) != 2) {
    result.reason = "not a v2 macaroon";
    return result;
  }
  size_t position = 1;
  while (position < bytes->size()) {
    const unsigned char type = static_cast<unsigned char>((*bytes)[position++]);
    if (type == 0) break;  // end of the header section
    uint64_t length = 0;
    int shift = 0;
    while (position < bytes->size() && shift < 35) {
      const unsigned char b = static_cast<unsigned char>((*bytes)[position++]);
      length |= static_cast<uint64_t>(b & 0x7F) << shift;
      shift += 7;
      if (!(b & 0x80)) break;
    }
    if (length > bytes->size() - position) {
      result.reason = "macaroon field runs past the end";
      return result;
    }
    const std::string value = bytes->substr(position, length);
    position += length;
    if (type == 1) result.evidence.emplace_back("location", value);
    if (type == 2) {
      result.status = ValidationStatus::StructureValid;
      result.reason.clear();
      return result;
    }
  }
  if (result.reason.empty()) result.reason = "macaroon without identifier";
  return result;
}

namespace {

// A URI connection string: scheme://user:password@host[:port][/database][?...]
bool parse_uri(std::string_view text, Evidence& evidence) {
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return false;
  evidence.emplace_back("scheme", lower(text.substr(0, scheme_end)));
  std::string_view rest = text.substr(scheme_end + 3);
  const size_t at = rest.rfind('@', rest.find_first_of("/?#") == std::string_view::npos
                                        ? std::string_view::npos
                                        : rest.find_first_of("/?#"));
  if (at == std::string_view::npos) return false;
  const std::string_view userinfo = rest.substr(0, at);
  const size_t colon = userinfo.find(':');
  if (colon != std::string_view::npos && colon > 0)
    evidence.emplace_back("user", std::string(userinfo.substr(0, colon)));
  rest = rest.substr(at + 1);
  const size_t host_end = rest.find_first_of(":/?#, \t\r\n\"'<>;");
  std::string_view host = rest.substr(0, host_end);
  if (host.empty()) return false;
  evidence.emplace_back("host", lower(host));
  if (host_end == std::string_view::npos) return true;
  rest = rest.substr(host_end);
  if (rest.front() == ':') {
    const size_t port_end = rest.find_first_not_of("0123456789", 1);
    const std::string_view port =
        rest.substr(1, port_end == std::string_view::npos ? std::string_view::npos : port_end - 1);
    if (!port.empty()) evidence.emplace_back("port", std::string(port));
    rest = port_end == std::string_view::npos ? std::string_view() : rest.substr(port_end);
  }
  if (!rest.empty() && rest.front() == '/') {
    const size_t database_end = rest.find_first_of("?#, \t\r\n\"'<>;", 1);
    const std::string_view database = rest.substr(
        1, database_end == std::string_view::npos ? std::string_view::npos : database_end - 1);
    if (!database.empty()) evidence.emplace_back("database", std::string(database));
  }
  return true;
}

using text::trim;

// ADO.NET / ODBC: key=value; pairs.
bool parse_key_values(std::string_view text, Evidence& evidence) {
  bool any = false;
  std::string host, port, user, database;
  size_t position = 0;
  while (position < text.size()) {
    size_t end = text.find(';', position);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view pair = text.substr(position, end - position);
    position = end + 1;
    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    std::string key = lower(trim(pair.substr(0, equals)));
    key.erase(std::remove(key.begin(), key.end(), ' '), key.end());
    std::string value(trim(pair.substr(equals + 1)));
    if (key == "server" || key == "datasource" || key == "address" || key == "addr" ||
        key == "networkaddress" || key == "host") {
      host = value;
      if (host.starts_with("tcp:")) host.erase(0, 4);
      const size_t comma = host.find(',');
      if (comma != std::string::npos) {
        port = host.substr(comma + 1);
        host.resize(comma);
      }
      any = true;
    } else if (key == "userid" || key == "uid" || key == "username" || key == "user") {
      user = value;
    } else if (key == "database" || key == "initialcatalog") {
      database = value;
    } else if (key == "port") {
      port = value;
    }
  }
  if (!any) return false;
  evidence.emplace_back("scheme", "ado.net");
  if (!user.empty()) evidence.emplace_back("user", user);
  evidence.emplace_back("host", lower(host));
  if (!port.empty()) evidence.emplace_back("port", port);
  if (!database.empty()) evidence.emplace_back("database", database);
  return true;
}

}  // namespace

Validation validate_connection_string(std::string_view text, std::string_view password) {
  Validation result;
  result.validator = "connection-string";
  if (is_placeholder(password)) {
    result.status = ValidationStatus::Rejected;
    result.reason = "placeholder or variable password";
    return result;
  }
  // A password pasted without percent-encoding (mysql://app:Lm3#kP9!w@db) holds characters that
  // end the userinfo; parse with it masked. A "password" of port digits and a path is a host.
  std::string masked(text);
  if (const size_t at = masked.find(password); !password.empty() && at != std::string::npos)
    masked.replace(at, password.size(), "x");
  if (password.size() > 1 && std::isdigit(static_cast<unsigned char>(password.front()))) {
    const size_t digits = password.find_first_not_of("0123456789");
    if (digits != std::string_view::npos && digits <= 5 &&
        std::string_view("/?#").find(password[digits]) != std::string_view::npos) {
      result.status = ValidationStatus::Rejected;
      result.reason = "a port and path, not a password";
      return result;
    }
  }
  if (parse_uri(masked, result.evidence) || parse_key_values(masked, result.evidence)) {
    result.status = ValidationStatus::StructureValid;
  } else {
    result.evidence.clear();
    result.status = ValidationStatus::StructureInvalid;
    result.reason = "no host in the connection string";
  }
  return result;
}

std::string unwrap_code_pem(std::string_view text) {
  if (!contains(text, "\\n") && !contains(text, "\"") && !contains(text, "'"))
    return std::string(text);
  // Keep what is inside the string literals: the block starts inside one, and each quote
  // toggles; then turn the escapes back into the characters they stand for.
  std::string inside;
  bool in_literal = true;
  for (char c : text) {
    if (c == '"' || c == '\'') {
      in_literal = !in_literal;
      continue;
    }
    if (in_literal) inside.push_back(c);
  }
  std::string out;
  out.reserve(inside.size());
  for (size_t i = 0; i < inside.size(); ++i) {
    if (inside[i] == '\\' && i + 1 < inside.size()) {
      const char next = inside[i + 1];
      if (next == 'n' || next == 'r' || next == 't' || next == '\\' || next == '/') {
        out.push_back(next == 'n' ? '\n' : next == 'r' ? '\r' : next == 't' ? '\t' : next);
        ++i;
        continue;
      }
    }
    out.push_back(inside[i]);
  }
  return out;
}

namespace {

std::string one_step(std::string_view confidence, int direction) {
  static constexpr std::array<std::string_view, 3> kLevels = {"low", "medium", "high"};
  int level = 1;
  for (int i = 0; i < 3; ++i)
    if (kLevels[static_cast<size_t>(i)] == confidence) level = i;
  level = std::clamp(level + direction, 0, 2);
  return std::string(kLevels[static_cast<size_t>(level)]);
}

std::string confidence_for(const Rule& rule, const Validation& validation) {
  switch (validation.status) {
    case ValidationStatus::ChecksumValid:
      return "high";  // a random string passes a 32-bit checksum once in 4 billion
    case ValidationStatus::StructureValid:
      if (validation.evidence_of("expired") == "true") return one_step(rule.confidence, -1);
      return one_step(rule.confidence, +1);
    case ValidationStatus::Partial:
      return one_step(rule.confidence, -1);
    case ValidationStatus::ChecksumInvalid:
    case ValidationStatus::StructureInvalid:
    case ValidationStatus::Rejected:
      return "low";
    case ValidationStatus::Unverified:
      break;
  }
  return rule.confidence.empty() ? "medium" : rule.confidence;
}

bool has_prefix(std::string_view text, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](std::string_view p) { return text.starts_with(p); });
}

// Chooses the structural or checksum check from the rule id and the secret's shape.
std::optional<Validation> run_validator(const Rule& rule, std::string_view secret,
                                        std::string_view match) {
  const std::string_view id = rule.id;
  for (std::string_view prefix : {"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_"}) {
    if (!secret.starts_with(prefix)) continue;
    const std::optional<bool> ok = base62_crc32_checksum_ok(secret, prefix);
    if (!ok) break;
    Validation result;
    result.validator = prefix == "npm_" ? "npm-checksum" : "github-checksum";
    result.status = *ok ? ValidationStatus::ChecksumValid : ValidationStatus::ChecksumInvalid;
    if (!*ok) result.reason = "CRC32 checksum does not match";
    return result;
  }
  if (const std::optional<bool> ok = grafana_checksum_ok(secret)) {
    Validation result;
    result.validator = "grafana-checksum";
    result.status = *ok ? ValidationStatus::ChecksumValid : ValidationStatus::ChecksumInvalid;
    if (!*ok) result.reason = "CRC32 checksum does not match";
    return result;
  }
  if (has_prefix(id, {"jwt."}) ||
      (secret.starts_with("eyJ") && std::count(secret.begin(), secret.end(), '.') == 2))
    return validate_jwt(secret, static_cast<int64_t>(std::time(nullptr)));
  if ((has_prefix(id, {"private_key."}) || contains(id, ".private_key")) &&
      secret.starts_with("-----BEGIN") && !contains(secret, "PGP")) {
    Validation pem = validate_pem_private_key(unwrap_code_pem(secret));
    // No END line: whatever the body says, the key is cut short.
    if (id == "private_key.truncated" && pem.status == ValidationStatus::StructureValid) {
      pem.status = ValidationStatus::Partial;
      pem.reason = "no END line: the key is cut short";
    }
    return pem;
  }
  if (rule.category == "password-hash") return validate_password_hash(secret, id);
  if (has_prefix(id, {"aws."}) && secret.size() == 20 &&
      has_prefix(secret, {"AKIA", "ASIA", "ABIA", "ACCA"})) {
    Validation result;
    result.validator = "aws-key-id";
    result.status = ValidationStatus::StructureValid;
    if (const auto account = aws_account_id(secret))
      result.evidence.emplace_back("account_id", *account);
    else
      result.evidence.emplace_back("generation", "old (no account id encoded)");
    result.evidence.emplace_back("key_kind",
                                 secret.starts_with("ASIA") ? "temporary" : "long-term");
    return result;
  }
  if (has_prefix(id, {"azure.storage"})) return validate_azure_storage_key(secret);
  if (has_prefix(id, {"pypi."}) || secret.starts_with("pypi-AgE"))
    return validate_pypi_macaroon(secret);
  if (has_prefix(id, {"connstr."}) && !match.empty())
    return validate_connection_string(match, secret);
  return std::nullopt;
}

}  // namespace

Validation validate(const Rule& rule, std::string_view secret) {
  return validate(rule, secret, {}, {});
}

Validation validate(const Rule& rule, std::string_view secret, std::string_view match,
                    const std::vector<std::pair<std::string, std::string>>& captures) {
  Validation result;
  const auto reject = [&](std::string reason) {
    result.status = ValidationStatus::Rejected;
    result.reason = std::move(reason);
    result.confidence = "low";
    return result;
  };
  for (std::string_view key : kDocumentationKeys)
    if (secret == key) return reject("documentation example key");
  const bool hash_rule = rule.category == "password-hash";
  if (hash_rule ? has_placeholder_word(secret) : is_placeholder(secret))
    return reject("placeholder");
  if (rule.min_entropy > 0 && shannon_entropy(secret) < rule.min_entropy)
    return reject("low entropy");
  if (rule.category == "password" || rule.id.starts_with("password.")) {
    // "password = read_secret(...)" in a patch: a function call, not a password.
    const size_t paren = secret.find('(');
    if (paren != std::string_view::npos && paren > 0 &&
        std::all_of(secret.begin(), secret.begin() + static_cast<std::ptrdiff_t>(paren),
                    [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
                    }))
      return reject("a function call, not a password");
    const std::string_view kind = hash_kind(secret);
    if (!kind.empty()) return reject("looks like a " + std::string(kind) + " hash, not a secret");
  }
  if (rule.id.starts_with("generic.")) {
    std::string_view name;
    for (const auto& [capture, value] : captures)
      if (capture == "name") name = value;
    const size_t at = match.find(secret);
    const std::string_view context =
        !name.empty() ? name : match.substr(0, at == std::string_view::npos ? 0 : at);
    if (std::string reason = generic_secret_rejection(secret, context); !reason.empty())
      return reject(std::move(reason));
  }
  if (std::optional<Validation> checked = run_validator(rule, secret, match)) {
    result = std::move(*checked);
    if (result.status == ValidationStatus::Rejected) {
      result.confidence = "low";
      return result;
    }
  }
  // Captures the rule took (user, host) are evidence of the identity even without a parser.
  for (const auto& [name, value] : captures)
    if ((name == "user" || name == "host" || name == "key_id") && result.evidence_of(name).empty())
      result.evidence.emplace_back(name, value);
  result.confidence = confidence_for(rule, result);
  return result;
}

}  // namespace credsift

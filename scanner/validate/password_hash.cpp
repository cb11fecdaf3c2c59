// Password hashes (category password-hash): which scheme the hash is, its cost where the format
// carries one, and whether the scheme is a reversible obfuscation (Cisco type 7, Junos $9$).
#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "credsift/validate.hpp"

namespace credsift {

namespace {

bool all_of_set(std::string_view text, std::string_view set) {
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return set.find(c) != std::string_view::npos; });
}

constexpr std::string_view kCryptAlphabet =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kHexDigits = "0123456789abcdefABCDEF";

bool is_hex(std::string_view text) { return !text.empty() && all_of_set(text, kHexDigits); }

// "$id$[rounds=N$]salt$hash": the salt and hash lengths of the scheme.
bool crypt_fields_ok(std::string_view rest, size_t max_salt, size_t hash_length,
                     std::string& rounds) {
  if (rest.starts_with("rounds=")) {
    const size_t end = rest.find('$');
    if (end == std::string_view::npos) return false;
    rounds = std::string(rest.substr(7, end - 7));
    rest.remove_prefix(end + 1);
  }
  const size_t dollar = rest.find('$');
  if (dollar == std::string_view::npos || dollar == 0 || dollar > max_salt) return false;
  const std::string_view hash = rest.substr(dollar + 1);
  return hash.size() == hash_length && all_of_set(rest.substr(0, dollar), kCryptAlphabet) &&
         all_of_set(hash, kCryptAlphabet);
}

// Cisco type 7: two decimal digits of offset into a published key, then hex pairs XORed with it.
constexpr std::string_view kCiscoType7Key = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87";

std::optional<std::string> decode_cisco_type7(std::string_view text) {
  if (text.size() < 4 || text.size() % 2 != 0 ||
      !std::isdigit(static_cast<unsigned char>(text[0])) ||
      !std::isdigit(static_cast<unsigned char>(text[1])) || !is_hex(text.substr(2)))
    return std::nullopt;
  const size_t seed = static_cast<size_t>((text[0] - '0') * 10 + (text[1] - '0'));
  if (seed >= kCiscoType7Key.size()) return std::nullopt;
  std::string plain;
  for (size_t i = 2; i + 1 < text.size(); i += 2) {
    const int value = std::stoi(std::string(text.substr(i, 2)), nullptr, 16);
    const char c =
        static_cast<char>(value ^ kCiscoType7Key[(seed + (i - 2) / 2) % kCiscoType7Key.size()]);
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E)
      return std::nullopt;  // type 7 protects printable passwords only
    plain.push_back(c);
  }
  return plain;
}

}  // namespace

Validation validate_password_hash(std::string_view hash, std::string_view rule_id) {
  Validation result;
  result.validator = "password-hash";
  std::string type;
  std::string rounds;
  bool structure = true;
  bool reversible = false;
  const auto starts = [&](std::string_view prefix) { return hash.starts_with(prefix); };
  if (rule_id == "hash.cisco.type7") {
    const std::optional<std::string> plain = decode_cisco_type7(hash);
    type = "cisco-type7";
    reversible = true;
    structure = plain.has_value();
    if (plain) result.evidence.emplace_back("plaintext_length", std::to_string(plain->size()));
  } else if (starts("$9$") && hash.find('$', 3) == std::string_view::npos) {
    type = "junos-type9";
    reversible = true;
  } else if (starts("$2a$") || starts("$2b$") || starts("$2y$") || starts("$2x$") ||
             starts("$2$")) {
    type = "bcrypt";
    const size_t cost_at = hash.find('$', 1) + 1;
    const std::string_view cost = hash.substr(cost_at, 2);
    structure = cost.size() == 2 && std::isdigit(static_cast<unsigned char>(cost[0])) &&
                std::isdigit(static_cast<unsigned char>(cost[1]));
    if (structure) {
      const int value = (cost[0] - '0') * 10 + (cost[1] - '0');
      structure = value >= 4 && value <= 31;
      rounds = std::string(cost);
    }
  } else if (starts("$6$")) {
    type = "sha512-crypt";
    structure = crypt_fields_ok(hash.substr(3), 16, 86, rounds);
  } else if (starts("$5$")) {
    type = "sha256-crypt";
    structure = crypt_fields_ok(hash.substr(3), 16, 43, rounds);
  } else if (starts("$1$")) {
    type = rule_id == "hash.cisco.type5" ? "cisco-type5 (md5-crypt)" : "md5-crypt";
    structure = crypt_fields_ok(hash.substr(3), 8, 22, rounds);
  } else if (starts("$apr1$")) {
    type = "apr1-md5";
    structure = crypt_fields_ok(hash.substr(6), 8, 22, rounds);
  } else if (starts("$8$") || starts("$9$")) {
    type = starts("$8$") ? "cisco-type8 (pbkdf2-sha256)" : "cisco-type9 (scrypt)";
    structure = crypt_fields_ok(hash.substr(3), 14, 43, rounds);
  } else if (starts("$y$") || starts("$gy$")) {
    type = starts("$gy$") ? "gost-yescrypt" : "yescrypt";
  } else if (starts("$7$")) {
    type = "scrypt";
  } else if (starts("$argon2")) {
    type = std::string(hash.substr(1, hash.find('$', 1) - 1));
  } else if (starts("pbkdf2") || starts("$pbkdf2")) {
    type = "pbkdf2";
    const size_t first = hash.find_first_of("$:", 1);
    const size_t second = first == std::string_view::npos ? first : hash.find('$', first + 1);
    if (second != std::string_view::npos) {
      std::string_view count = hash.substr(first + 1, second - first - 1);
      if (const size_t colon = count.rfind(':'); colon != std::string_view::npos)
        count.remove_prefix(colon + 1);  // pbkdf2:sha256:600000$
      rounds = std::string(count);
    }
  } else if (starts("{")) {
    type = "ldap-" + std::string(hash.substr(1, hash.find('}') - 1));
    std::transform(type.begin(), type.end(), type.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::optional<std::string> bytes = base64_decode(hash.substr(hash.find('}') + 1));
    structure = bytes.has_value() && bytes->size() >= 16;
  } else if (starts("SH2")) {
    type = "fortigate-sha256";
  } else if (starts("$P$") || starts("$H$")) {
    type = "phpass";
  } else if (starts("$S$")) {
    type = "drupal7-sha512";
  } else if (starts("$krb5tgs$")) {
    type = "kerberos-tgs (kerberoast)";
  } else if (starts("$krb5asrep$")) {
    type = "kerberos-asrep";
  } else if (starts("$DCC2$")) {
    type = "mscash2";
  } else if (starts("0x0200") || starts("0x0100")) {
    type = starts("0x0200") ? "mssql-2012" : "mssql-2005";
  } else if (starts("*") && hash.size() == 41 && is_hex(hash.substr(1))) {
    type = "mysql41";
  } else if (starts("SCRAM-SHA-256$")) {
    type = "postgres-scram-sha-256";
    rounds = std::string(hash.substr(14, hash.find(':') - 14));
  } else if (starts("md5") && hash.size() == 35 && is_hex(hash.substr(3))) {
    type = "postgres-md5";
  } else if (starts("S:") || starts("T:")) {
    type = starts("S:") ? "oracle-11g" : "oracle-12c";
  } else if (starts("grub.pbkdf2.")) {
    type = "grub-pbkdf2-sha512";
  } else if (rule_id == "hash.cisco.asa") {
    type = "cisco-asa-md5";
    structure = hash.size() == 16 && all_of_set(hash, kCryptAlphabet);
  } else if (rule_id == "hash.ntlm.pwdump" && hash.size() == 32 && is_hex(hash)) {
    type = "ntlm";
  } else if (rule_id == "hash.ntlm.netntlmv2") {
    type = "netntlmv2";
  } else if (rule_id == "hash.kerberos.key" && is_hex(hash)) {
    type = hash.size() == 64   ? "kerberos-aes256"
           : hash.size() == 32 ? "kerberos-aes128-or-rc4"
                               : "kerberos-des";
  } else {
    const std::string_view digest = hash_kind(hash);
    type = digest.empty() ? "unknown" : std::string(digest);
  }
  result.evidence.emplace_back("hash_type", type);
  if (!rounds.empty()) result.evidence.emplace_back("cost", rounds);
  result.evidence.emplace_back("reversible", reversible ? "true" : "false");
  if (structure) {
    result.status = ValidationStatus::StructureValid;
  } else {
    result.status = ValidationStatus::StructureInvalid;
    result.reason = "not a well-formed " + type + " value";
  }
  return result;
}

}  // namespace credsift

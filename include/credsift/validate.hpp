#pragma once
// Validate: offline checks on one hit, no network. Each hit gets a status with the evidence for
// it (checksums, decoded structure, identities) and a confidence. Validators are chosen from the
// rule id prefix and the secret's shape (see validator_for); rule files need no extra field.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "credsift/match.hpp"
#include "credsift/rules.hpp"

namespace credsift {

enum class ValidationStatus {
  Unverified,        // no offline check exists for this kind of secret
  Rejected,          // placeholder, documentation example, low entropy, hash: not a credential
  ChecksumValid,     // the token's embedded checksum matches
  ChecksumInvalid,   // it does not (typo, truncation, fake)
  StructureValid,    // decodes and parses as the format says (JWT, PEM key, account key ...)
  StructureInvalid,  // does not
  Partial,           // recognisably the format but cut short (truncated PEM key)
};
std::string_view to_string(ValidationStatus);
// Higher is stronger evidence that the hit is a live credential (for ordering tickets).
int evidence_rank(ValidationStatus);

using Evidence = std::vector<std::pair<std::string, std::string>>;  // ordered name/value pairs

struct Validation {
  ValidationStatus status = ValidationStatus::Unverified;
  std::string reason;      // why rejected or invalid (placeholder, low entropy, bad checksum ...)
  std::string validator;   // which check ran: github-checksum, jwt, pem, aws-key-id ...
  std::string confidence;  // high, medium, low: the rule's confidence moved by the evidence
  Evidence evidence;       // alg, iss, sub, exp, expired, key_type, bits, encrypted, account_id ...
  std::string_view evidence_of(std::string_view name) const;  // "" when absent
};

// True when the text is an obvious placeholder: EXAMPLE, xxxx, ****, changeme, <password>,
// ${VAR}, {{var}}, %s and the like.
bool is_placeholder(std::string_view secret);
double shannon_entropy(std::string_view text);  // bits per character

// Validates one hit. `match` is the whole matched text when known (connection strings are parsed
// from it); `captures` the rule's other named captures (user, host ...).
Validation validate(const Rule& rule, std::string_view secret);
Validation validate(const Rule& rule, std::string_view secret, std::string_view match,
                    const std::vector<std::pair<std::string, std::string>>& captures);

// The individual checks, exposed for tests and for other rule sets.
uint32_t crc32(std::string_view data);
std::string base62_encode(uint32_t value, size_t width);  // 0-9A-Za-z, left-padded with '0'
// prefix_ + 30 base62 characters + 6-character base62 CRC32 of those 30 (GitHub, npm).
std::optional<bool> base62_crc32_checksum_ok(std::string_view token, std::string_view prefix);
std::optional<std::string> aws_account_id(std::string_view access_key_id);  // new-generation ids
Validation validate_jwt(std::string_view token, int64_t now_epoch_seconds);
Validation validate_pem_private_key(std::string_view pem);
Validation validate_azure_storage_key(std::string_view key);
Validation validate_pypi_macaroon(std::string_view token);
Validation validate_connection_string(std::string_view text, std::string_view password);
// Password hashes (category password-hash): evidence hash_type (bcrypt, sha512-crypt, ntlm,
// cisco-type7 ...), cost where the format has one, and reversible (type 7, Junos $9$).
Validation validate_password_hash(std::string_view hash, std::string_view rule_id);
// Why a generic-rule value (generic.*) is not a secret (URL, path, UUID, version, identifier, a
// digest under a sha/hash/checksum name ...); empty when it may be one. `name_context` is the
// credential-like name the rule matched, or the matched text before the value.
std::string generic_secret_rejection(std::string_view value, std::string_view name_context);
// Drops the hits of generic.* rules whose secret overlaps a hit of a more specific rule in the
// same segment: the provider rule names the credential; the generic one would only repeat it.
void drop_generic_hits_shadowed_by_provider_rules(const RuleSet& rules, std::vector<Hit>& hits);
// A PEM block as code and JSON carry it (\n escapes, quoted string lines joined by +) back to
// plain PEM text; unchanged when it is plain already.
std::string unwrap_code_pem(std::string_view text);
// "md5", "sha1", "sha256", "sha512", "bcrypt", "crypt" when the text looks like a hash digest.
std::string_view hash_kind(std::string_view text);
// Standard or URL-safe base64, padding optional; nullopt on a character outside the alphabet.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace credsift

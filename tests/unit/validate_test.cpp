// Offline validators: checksums, JWT, PEM keys (generated here with OpenSSL), AWS key ids,
// Azure keys, PyPI macaroons, connection strings, rejections and confidence.
#include "credsift/validate.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <ctime>
#include <memory>
#include <string>

namespace credsift {
namespace {

std::string b64url(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : data) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 63]);
    }
  }
  if (bits) out.push_back(kAlphabet[(buffer << (6 - bits)) & 63]);
  return out;
}

Rule rule(std::string id, std::string category = "api-token", std::string confidence = "medium") {
  Rule r;
  r.id = std::move(id);
  r.category = std::move(category);
  r.confidence = std::move(confidence);
  return r;
}

std::string github_token(std::string_view prefix, std::string_view body) {
  return std::string(prefix) + std::string(body) + base62_encode(crc32(body), 6);
}

TEST(Checksum, Crc32MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);  // the CRC-32/ISO-HDLC check value
  EXPECT_EQ(base62_encode(0, 6), "000000");
  EXPECT_EQ(base62_encode(61, 1), "z");
}

TEST(Checksum, GitHubTokenPublishedAsAnExampleValidates) {
  // A real (expired) token quoted in public write-ups of GitHub's format.
  EXPECT_EQ(base62_crc32_checksum_ok("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", "ghp_"), true);
  EXPECT_EQ(base62_crc32_checksum_ok("ghp_zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq18", "ghp_"), false);
  EXPECT_EQ(base62_crc32_checksum_ok("ghp_short", "ghp_"), std::nullopt);
}

TEST(Checksum, EveryGitHubPrefixAndNpm) {
  const std::string body = "aB3dE5gH7jK9mN1pQ3sT5vW7yZ0bC2";
  for (std::string_view prefix : {"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_"}) {
    const std::string good = github_token(prefix, body);
    const Validation valid =
        validate(rule(prefix == "npm_" ? "npm.access_token" : "github.x"), good);
    EXPECT_EQ(valid.status, ValidationStatus::ChecksumValid) << good;
    EXPECT_EQ(valid.confidence, "high");
    std::string bad = good;
    bad[10] = bad[10] == 'x' ? 'y' : 'x';
    const Validation invalid = validate(rule("github.x"), bad);
    EXPECT_EQ(invalid.status, ValidationStatus::ChecksumInvalid) << bad;
    EXPECT_EQ(invalid.confidence, "low");
  }
}

TEST(Checksum, GrafanaServiceAccountToken) {
  // The test vector of Grafana's own token generator (pkg/components/satokengen).
  const std::string good = "glsa_iNValIdinValiDinvalidinvalidinva_5b582697";
  const Validation valid = validate(rule("grafana.service_account_token"), good);
  EXPECT_EQ(valid.status, ValidationStatus::ChecksumValid) << valid.reason;
  EXPECT_EQ(valid.validator, "grafana-checksum");
  std::string bad = good;
  bad[8] = 'X';
  EXPECT_EQ(validate(rule("grafana.service_account_token"), bad).status,
            ValidationStatus::ChecksumInvalid);
  bad = good;
  bad.back() = '8';
  EXPECT_EQ(validate(rule("grafana.service_account_token"), bad).status,
            ValidationStatus::ChecksumInvalid);
}

std::string jwt(std::string_view payload,
                std::string_view header = R"({"alg":"RS256","typ":"JWT"})") {
  return b64url(header) + "." + b64url(payload) + "." + b64url("signature-bytes-0123456789");
}

TEST(Jwt, ReportsClaimsAndExpiry) {
  const int64_t now = 1'700'000'000;
  const Validation live =
      validate_jwt(jwt(R"({"iss":"auth.acme.test","sub":"svc-deploy","exp":1800000000})"), now);
  EXPECT_EQ(live.status, ValidationStatus::StructureValid);
  EXPECT_EQ(live.evidence_of("alg"), "RS256");
  EXPECT_EQ(live.evidence_of("iss"), "auth.acme.test");
  EXPECT_EQ(live.evidence_of("sub"), "svc-deploy");
  EXPECT_EQ(live.evidence_of("exp"), "1800000000");
  EXPECT_EQ(live.evidence_of("expired"), "false");

  const Validation expired = validate_jwt(jwt(R"({"sub":"old","exp":1600000000})"), now);
  EXPECT_EQ(expired.status, ValidationStatus::StructureValid);
  EXPECT_EQ(expired.evidence_of("expired"), "true");

  // Through validate(): an expired token loses a step of confidence, a live one gains one.
  const std::time_t wall = std::time(nullptr);
  const Validation via_rule =
      validate(rule("jwt.token"), jwt(R"({"sub":"a","exp":)" + std::to_string(wall + 3600) + "}"));
  EXPECT_EQ(via_rule.confidence, "high");
  const Validation via_rule_expired =
      validate(rule("jwt.token"), jwt(R"({"sub":"a","exp":)" + std::to_string(wall - 3600) + "}"));
  EXPECT_EQ(via_rule_expired.confidence, "low");
}

TEST(Jwt, BrokenPartsAreStructureInvalid) {
  EXPECT_EQ(validate_jwt("eyJhbGciOi.eyJzdWIi", 0).status, ValidationStatus::StructureInvalid);
  EXPECT_EQ(validate_jwt(b64url("{not json") + "." + b64url("{}") + ".c2ln", 0).status,
            ValidationStatus::StructureInvalid);
  EXPECT_EQ(validate_jwt(b64url(R"({"typ":"JWT"})") + "." + b64url("{}") + ".c2ln", 0).status,
            ValidationStatus::StructureInvalid);  // no alg
  EXPECT_EQ(validate_jwt(b64url(R"({"alg":"HS256"})") + "." + b64url("[1]") + ".c2ln", 0).status,
            ValidationStatus::StructureInvalid);
}

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<EVP_PKEY, KeyFree> generate(const char* type) {
  if (std::string_view(type) == "RSA")
    return std::unique_ptr<EVP_PKEY, KeyFree>(
        EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  if (std::string_view(type) == "EC")
    return std::unique_ptr<EVP_PKEY, KeyFree>(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  return std::unique_ptr<EVP_PKEY, KeyFree>(EVP_PKEY_Q_keygen(nullptr, nullptr, type));
}

// PEM text of the key: PKCS#8 (optionally encrypted) or the traditional per-algorithm form.
std::string pem_of(EVP_PKEY* key, bool traditional, bool encrypted) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  const EVP_CIPHER* cipher = encrypted ? EVP_aes_256_cbc() : nullptr;
  unsigned char pass[] = "correct horse";
  const int ok = traditional ? PEM_write_bio_PrivateKey_traditional(bio.get(), key, cipher, pass,
                                                                    13, nullptr, nullptr)
                             : PEM_write_bio_PKCS8PrivateKey(bio.get(), key, cipher,
                                                             encrypted ? "correct horse" : nullptr,
                                                             encrypted ? 13 : 0, nullptr, nullptr);
  EXPECT_EQ(ok, 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

TEST(Pem, GeneratedKeysReportTypeBitsAndEncryption) {
  struct Case {
    const char* type;
    std::string expected_type;
    std::string bits;
  };
  for (const Case& c :
       {Case{"RSA", "RSA", "2048"}, Case{"EC", "EC", "256"}, Case{"ED25519", "Ed25519", "256"}}) {
    const auto key = generate(c.type);
    ASSERT_TRUE(key) << c.type;
    const Validation plain = validate_pem_private_key(pem_of(key.get(), false, false));
    EXPECT_EQ(plain.status, ValidationStatus::StructureValid) << c.type << plain.reason;
    EXPECT_EQ(plain.evidence_of("key_type"), c.expected_type);
    EXPECT_EQ(plain.evidence_of("bits"), c.bits) << c.type;
    EXPECT_EQ(plain.evidence_of("encrypted"), "false");

    const Validation encrypted = validate_pem_private_key(pem_of(key.get(), false, true));
    EXPECT_EQ(encrypted.status, ValidationStatus::StructureValid) << c.type << encrypted.reason;
    EXPECT_EQ(encrypted.evidence_of("encrypted"), "true");
  }
  const auto rsa = generate("RSA");
  const std::string traditional = pem_of(rsa.get(), true, false);
  ASSERT_TRUE(traditional.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
  EXPECT_EQ(validate_pem_private_key(traditional).evidence_of("key_type"), "RSA");
  const std::string traditional_encrypted = pem_of(rsa.get(), true, true);
  ASSERT_NE(traditional_encrypted.find("Proc-Type: 4,ENCRYPTED"), std::string::npos);
  const Validation te = validate_pem_private_key(traditional_encrypted);
  EXPECT_EQ(te.status, ValidationStatus::StructureValid);
  EXPECT_EQ(te.evidence_of("encrypted"), "true");
  EXPECT_EQ(te.evidence_of("key_type"), "RSA");
}

TEST(Pem, TruncatedKeyIsPartial) {
  const auto rsa = generate("RSA");
  const std::string pem = pem_of(rsa.get(), true, false);
  // Drop the middle lines but keep BEGIN and END, as a mail client cutting a body would.
  const size_t cut_from = pem.find('\n', 200), cut_to = pem.rfind('\n', pem.size() - 300);
  const std::string truncated = pem.substr(0, cut_from) + pem.substr(cut_to);
  const Validation result = validate_pem_private_key(truncated);
  EXPECT_EQ(result.status, ValidationStatus::Partial) << result.reason;
  EXPECT_EQ(result.evidence_of("key_type"), "RSA");
  EXPECT_EQ(validate_pem_private_key("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----")
                .status,
            ValidationStatus::StructureInvalid);
}

TEST(Aws, AccountIdDecodedFromNewGenerationKeyIds) {
  EXPECT_EQ(aws_account_id("ASIAY34FZKBOKMUTVV7A"), "609629065308");  // published sample
  EXPECT_EQ(aws_account_id("AKIA2E0A8F3B244C9986"), std::nullopt);    // 0, 8, 9: not base32
  EXPECT_EQ(aws_account_id("AKIAIOSFODNN7EXAMPLX"), std::nullopt);    // old generation
  const Validation key = validate(rule("aws.access_key_id"), "ASIAY34FZKBOKMUTVV7A");
  EXPECT_EQ(key.status, ValidationStatus::StructureValid);
  EXPECT_EQ(key.evidence_of("account_id"), "609629065308");
  EXPECT_EQ(key.evidence_of("key_kind"), "temporary");
}

TEST(Azure, StorageKeyIsBase64Of64Bytes) {
  const std::string key64 =
      "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
  EXPECT_EQ(validate_azure_storage_key(key64).status, ValidationStatus::StructureValid);
  EXPECT_EQ(validate_azure_storage_key(key64.substr(4)).status, ValidationStatus::StructureInvalid);
}

TEST(Pypi, MacaroonLocationIsDecoded) {
  std::string macaroon = "\x02";
  macaroon += '\x01';
  macaroon += static_cast<char>(8);
  macaroon += "pypi.org";
  macaroon += '\x02';
  macaroon += static_cast<char>(5);
  macaroon += "id-01";
  macaroon += '\x00';
  const Validation ok = validate_pypi_macaroon("pypi-" + b64url(macaroon));
  EXPECT_EQ(ok.status, ValidationStatus::StructureValid) << ok.reason;
  EXPECT_EQ(ok.evidence_of("location"), "pypi.org");
  EXPECT_EQ(validate_pypi_macaroon("pypi-" + b64url("hello world")).status,
            ValidationStatus::StructureInvalid);
}

TEST(ConnectionString, UriAndKeyValueForms) {
  const Validation uri = validate_connection_string(
      "postgres://billing_svc:Gx4!mR8qZt2w@db01.acme.test:5432/billing", "Gx4!mR8qZt2w");
  EXPECT_EQ(uri.status, ValidationStatus::StructureValid);
  EXPECT_EQ(uri.evidence_of("scheme"), "postgres");
  EXPECT_EQ(uri.evidence_of("user"), "billing_svc");
  EXPECT_EQ(uri.evidence_of("host"), "db01.acme.test");
  EXPECT_EQ(uri.evidence_of("port"), "5432");
  EXPECT_EQ(uri.evidence_of("database"), "billing");

  const Validation ado = validate_connection_string(
      "Server=tcp:sql01.acme.test,1433;Database=crm;User ID=crm_app;Password=Xy7pQ2zLm9Rt;",
      "Xy7pQ2zLm9Rt");
  EXPECT_EQ(ado.status, ValidationStatus::StructureValid);
  EXPECT_EQ(ado.evidence_of("host"), "sql01.acme.test");
  EXPECT_EQ(ado.evidence_of("port"), "1433");
  EXPECT_EQ(ado.evidence_of("user"), "crm_app");
  EXPECT_EQ(ado.evidence_of("database"), "crm");

  for (std::string_view password : {"${DB_PASSWORD}", "%DB_PASS%", "$DB_PASS", "<password>"}) {
    const Validation rejected = validate_connection_string(
        "mysql://app:" + std::string(password) + "@db.acme.test/app", password);
    EXPECT_EQ(rejected.status, ValidationStatus::Rejected) << password;
  }
}

TEST(Rejection, PlaceholdersDocumentationKeysEntropyAndHashes) {
  EXPECT_EQ(validate(rule("aws.access_key_id"), "AKIAIOSFODNN7EXAMPLE").reason,
            "documentation example key");
  EXPECT_EQ(validate(rule("password.prose.en", "password"), "changeme").status,
            ValidationStatus::Rejected);
  Rule noisy = rule("generic.token");
  noisy.min_entropy = 3.5;
  EXPECT_EQ(validate(noisy, "aaaabbbbaaaabbbb").reason, "low entropy");
  const Validation md5 =
      validate(rule("password.prose.en", "password"), "5f4dcc3b5aa765d61d8327deb882cf99");
  EXPECT_EQ(md5.status, ValidationStatus::Rejected);
  EXPECT_NE(md5.reason.find("md5"), std::string::npos);
  EXPECT_EQ(hash_kind("$2b$12$KIXQJ8vQ1nY1xw1qQ1zv7eS8p6yQeN6wZkzq7Gq4bE4Hn6y5b5b5e"), "bcrypt");
  EXPECT_EQ(hash_kind("Tr0ub4dor&3xQ"), "");
  // A plain password stays unverified with the rule's own confidence.
  const Validation plain =
      validate(rule("password.prose.en", "password", "medium"), "Tr0ub4dor&3xQ");
  EXPECT_EQ(plain.status, ValidationStatus::Unverified);
  EXPECT_EQ(plain.confidence, "medium");
}

TEST(Evidence, CapturesNameTheIdentity) {
  const Validation v = validate(rule("slack.bot_token"), "xoxb-123-456-abcdef", "",
                                {{"user", "deploy"}, {"host", "h.acme.test"}, {"scheme", "x"}});
  EXPECT_EQ(v.evidence_of("user"), "deploy");
  EXPECT_EQ(v.evidence_of("host"), "h.acme.test");
  EXPECT_EQ(v.evidence_of("scheme"), "");
}

}  // namespace
}  // namespace credsift

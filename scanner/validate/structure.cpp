// Structural validators that need a parser: JWT (simdjson) and PEM private keys (OpenSSL).
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <simdjson.h>

#include <memory>
#include <string>

#include "credsift/validate.hpp"

namespace credsift {

namespace {

std::string_view trim_view(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

}  // namespace

Validation validate_jwt(std::string_view token, int64_t now) {
  Validation result;
  result.validator = "jwt";
  result.status = ValidationStatus::StructureInvalid;
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos) {
    result.reason = "not three dot-separated parts";
    return result;
  }
  const std::optional<std::string> header = base64_decode(token.substr(0, first));
  const std::optional<std::string> payload =
      base64_decode(token.substr(first + 1, second - first - 1));
  if (!header || !payload) {
    result.reason = "header or payload is not base64url";
    return result;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element header_json, payload_json;
  if (parser.parse(*header).get(header_json) != simdjson::SUCCESS || !header_json.is_object()) {
    result.reason = "header is not a JSON object";
    return result;
  }
  std::string_view alg;
  if (header_json["alg"].get(alg) != simdjson::SUCCESS) {
    result.reason = "header has no alg";
    return result;
  }
  result.evidence.emplace_back("alg", std::string(alg));
  simdjson::dom::parser payload_parser;
  if (payload_parser.parse(*payload).get(payload_json) != simdjson::SUCCESS ||
      !payload_json.is_object()) {
    result.evidence.clear();
    result.reason = "payload is not a JSON object";
    return result;
  }
  for (const char* claim : {"iss", "sub", "aud"}) {
    std::string_view value;
    if (payload_json[claim].get(value) == simdjson::SUCCESS)
      result.evidence.emplace_back(claim, std::string(value));
  }
  double exp = 0;
  int64_t exp_int = 0;
  bool has_exp = false;
  if (payload_json["exp"].get(exp_int) == simdjson::SUCCESS) {
    has_exp = true;
  } else if (payload_json["exp"].get(exp) == simdjson::SUCCESS) {
    has_exp = true;
    exp_int = static_cast<int64_t>(exp);
  }
  if (has_exp) {
    result.evidence.emplace_back("exp", std::to_string(exp_int));
    result.evidence.emplace_back("expired", exp_int < now ? "true" : "false");
  }
  result.status = ValidationStatus::StructureValid;
  return result;
}

namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct SigFree {
  void operator()(X509_SIG* sig) const { X509_SIG_free(sig); }
};

// Refuses to prompt for a pass phrase: an encrypted key is reported, never decrypted.
int no_password(char*, int, int, void*) { return -1; }

std::string key_type_name(int id) {
  switch (id) {
    case EVP_PKEY_RSA:
      return "RSA";
    case EVP_PKEY_EC:
      return "EC";
    case EVP_PKEY_DSA:
      return "DSA";
    case EVP_PKEY_ED25519:
      return "Ed25519";
    case EVP_PKEY_ED448:
      return "Ed448";
    case EVP_PKEY_X25519:
      return "X25519";
  }
  return OBJ_nid2sn(id) ? OBJ_nid2sn(id) : "unknown";
}

// The PEM label between "-----BEGIN " and "-----".
std::string_view pem_label(std::string_view pem) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  if (!pem.starts_with(kBegin)) return {};
  const size_t end = pem.find("-----", kBegin.size());
  if (end == std::string_view::npos) return {};
  return pem.substr(kBegin.size(), end - kBegin.size());
}

// The base64 body: lines after the BEGIN line (and after RFC 1421 headers), before END.
std::string pem_body(std::string_view pem, bool& has_end) {
  const size_t begin_line_end = pem.find('\n');
  const size_t end_marker = pem.find("-----END");
  has_end = end_marker != std::string_view::npos;
  if (begin_line_end == std::string_view::npos) return {};
  std::string_view body = pem.substr(
      begin_line_end + 1, has_end ? end_marker - begin_line_end - 1 : std::string_view::npos);
  const size_t headers_end = body.find("\n\n");
  if (body.find(':') != std::string_view::npos && headers_end != std::string_view::npos)
    body = body.substr(headers_end + 2);
  return std::string(trim_view(body));
}

void describe_openssh(const std::string& blob, Validation& result) {
  // "openssh-key-v1\0", then string ciphername, string kdfname, string kdfoptions, uint32 count,
  // string public key (whose first string is the key type).
  size_t position = 15;
  const auto read_string = [&](std::string& out) {
    if (position + 4 > blob.size()) return false;
    const uint32_t length =
        (static_cast<uint32_t>(static_cast<unsigned char>(blob[position])) << 24) |
        (static_cast<uint32_t>(static_cast<unsigned char>(blob[position + 1])) << 16) |
        (static_cast<uint32_t>(static_cast<unsigned char>(blob[position + 2])) << 8) |
        static_cast<uint32_t>(static_cast<unsigned char>(blob[position + 3]));
    position += 4;
    if (length > blob.size() - position) return false;
    out = blob.substr(position, length);
    position += length;
    return true;
  };
  std::string cipher, kdf, kdf_options, public_key;
  if (!read_string(cipher) || !read_string(kdf) || !read_string(kdf_options) ||
      position + 4 > blob.size()) {
    result.status = ValidationStatus::Partial;
    result.reason = "OpenSSH key cut short";
    return;
  }
  position += 4;
  result.evidence.emplace_back("encrypted", cipher == "none" ? "false" : "true");
  if (read_string(public_key) && public_key.size() > 4) {
    const uint32_t type_length =
        (static_cast<uint32_t>(static_cast<unsigned char>(public_key[2])) << 8) |
        static_cast<uint32_t>(static_cast<unsigned char>(public_key[3]));
    if (4 + type_length <= public_key.size())
      result.evidence.emplace_back("key_type", public_key.substr(4, type_length));
    result.status = ValidationStatus::StructureValid;
  } else {
    result.status = ValidationStatus::Partial;
    result.reason = "OpenSSH key cut short";
  }
}

}  // namespace

Validation validate_pem_private_key(std::string_view pem_text) {
  Validation result;
  result.validator = "pem";
  const std::string_view pem = trim_view(pem_text);
  const std::string label(pem_label(pem));
  bool has_end = false;
  const std::string body = pem_body(pem, has_end);
  const std::optional<std::string> der = base64_decode(body);
  const bool proc_type_encrypted = pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
  const bool encrypted = proc_type_encrypted || label == "ENCRYPTED PRIVATE KEY";
  // The key type the label names, for keys OpenSSL cannot open (encrypted, truncated).
  std::string labelled_type;
  if (label.starts_with("RSA"))
    labelled_type = "RSA";
  else if (label.starts_with("EC"))
    labelled_type = "EC";
  else if (label.starts_with("DSA"))
    labelled_type = "DSA";

  if (label == "OPENSSH PRIVATE KEY") {
    if (der && der->starts_with(std::string_view("openssh-key-v1\0", 15))) {
      describe_openssh(*der, result);
    } else {
      result.status =
          der && has_end ? ValidationStatus::StructureInvalid : ValidationStatus::Partial;
      result.reason = "no openssh-key-v1 header";
    }
    return result;
  }

  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, KeyFree> key;
  if (!encrypted && bio)
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
  if (key) {
    result.status = ValidationStatus::StructureValid;
    result.evidence.emplace_back("key_type", key_type_name(EVP_PKEY_get_base_id(key.get())));
    result.evidence.emplace_back("bits", std::to_string(EVP_PKEY_get_bits(key.get())));
    result.evidence.emplace_back("encrypted", "false");
    return result;
  }
  if (encrypted) {
    // Cannot be opened without the pass phrase; the envelope must still parse.
    bool parsed = false;
    if (label == "ENCRYPTED PRIVATE KEY" && der) {
      const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
      std::unique_ptr<X509_SIG, SigFree> sig(
          d2i_X509_SIG(nullptr, &p, static_cast<long>(der->size())));
      parsed = sig != nullptr;
    } else {
      // RFC 1421 encryption: the body is ciphertext, whole cipher blocks.
      parsed = der && der->size() > 64 && der->size() % 8 == 0 &&
               pem.find("DEK-Info:") != std::string_view::npos;
    }
    if (!labelled_type.empty()) result.evidence.emplace_back("key_type", labelled_type);
    result.evidence.emplace_back("encrypted", "true");
    result.status = parsed ? ValidationStatus::StructureValid : ValidationStatus::Partial;
    if (!parsed) result.reason = "encrypted key envelope does not parse (truncated?)";
    return result;
  }
  // Not parseable: a DER SEQUENCE that starts right but ends early is a truncated key.
  if (!labelled_type.empty()) result.evidence.emplace_back("key_type", labelled_type);
  result.evidence.emplace_back("encrypted", "false");
  if (der && der->size() >= 2 && static_cast<unsigned char>((*der)[0]) == 0x30) {
    result.status = ValidationStatus::Partial;
    result.reason = "key data ends early or does not parse";
  } else {
    result.status = ValidationStatus::StructureInvalid;
    result.reason = "body is not a DER key";
  }
  return result;
}

}  // namespace credsift

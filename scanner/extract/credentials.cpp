// Attachments that are credentials themselves, detected by content: keystores (PKCS#12, JKS,
// JCEKS), KeePass databases, private key files (OpenSSH binary, SSH2, PuTTY), OpenVPN profiles
// with inline keys and .rdp files with saved passwords.
#include <openssl/sha.h>

#include <memory>
#include <string>
#include <string_view>

#include "credsift/extract.hpp"
#include "credsift/text.hpp"
#include "extract_internal.hpp"

namespace credsift {
namespace mime_detail {

namespace {

constexpr size_t npos = std::string_view::npos;

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return text::hex(digest, sizeof digest);
}

bool is_pkcs12(std::string_view b) {
  // PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo (pkcs7-data | signedData) }
  if (b.size() < 24 || uint8_t(b[0]) != 0x30) return false;
  size_t i = 1;
  uint8_t len = uint8_t(b[i++]);
  if (len & 0x80) i += len & 0x7F;  // long or indefinite form
  if (i + 3 > b.size() || b.substr(i, 3) != std::string_view("\x02\x01\x03", 3)) return false;
  static constexpr std::string_view kData("\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x01", 11);
  static constexpr std::string_view kSigned("\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x02", 11);
  std::string_view window = head(b.substr(i), 40);
  return window.find(kData) != npos || window.find(kSigned) != npos;
}

}  // namespace

}  // namespace mime_detail

using namespace mime_detail;

std::string credential_file_kind(std::string_view b) {
  if (starts_with_bytes(b, std::string_view("\xFE\xED\xFE\xED", 4))) return "jks";
  if (starts_with_bytes(b, std::string_view("\xCE\xCE\xCE\xCE", 4))) return "jceks";
  // KeePass 2.x (.kdbx) and 1.x (.kdb) signatures.
  if (starts_with_bytes(b, std::string_view("\x03\xD9\xA2\x9A\x67\xFB\x4B\xB5", 8)) ||
      starts_with_bytes(b, std::string_view("\x03\xD9\xA2\x9A\x65\xFB\x4B\xB5", 8)))
    return "kdbx";
  // The binary form inside "BEGIN OPENSSH PRIVATE KEY" (base64 decoded), as some tools store it.
  if (starts_with_bytes(b, std::string_view("openssh-key-v1\0", 15))) return "openssh";
  if (is_pkcs12(b)) return "pkcs12";
  std::string text;
  std::string_view t = b;
  if (utf16_with_bom(b)) {
    if (b.size() > (4u << 20)) return {};
    text = utf16_to_utf8(b);
    t = text;
  }
  // The rest are text formats: binary data (most attachments) needs no search.
  if (!is_text_like(t)) return {};
  std::string_view h = head(t, 4096);
  if (text::find_from(h, 0, "PuTTY-User-Key-File-") != npos &&
      text::find_from(t, 0, "Private-Lines:") != npos)
    return "putty";
  if (text::find_from(h, 0, "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----") != npos) return "ssh2";
  if (t.size() > (1u << 20)) return {};
  // .rdp: "password 51:b:<DPAPI blob in hex>".
  if (size_t p = text::find_from(t, 0, "password 51:b:");
      p != npos && t.size() > p + 14 + 32 && hex_value(t[p + 14]) >= 0)
    return "rdp";
  // OpenVPN profile carrying its key inline.
  bool openvpn = text::find_from(t, 0, "\nremote ") != npos || t.starts_with("remote ") ||
                 text::find_from(t, 0, "\nclient") != npos || t.starts_with("client");
  if (openvpn &&
      (t.find("<key>") != npos || t.find("<tls-auth>") != npos || t.find("<tls-crypt>") != npos ||
       t.find("<secret>") != npos || t.find("<pkcs12>") != npos))
    return "openvpn";
  return {};
}

namespace mime_detail {

bool emit_credential_file(std::string_view bytes, const std::string& path, DecodedMessage& dm) {
  std::string kind = credential_file_kind(bytes);
  if (kind.empty()) return false;
  dm.storage.push_back(std::make_unique<std::string>("credsift-binary-credential: " + kind +
                                                     " sha256=" + sha256_hex(bytes) + "\n"));
  dm.segments.push_back({*dm.storage.back(), path, SegmentKind::CredentialFile});
  return true;
}

}  // namespace mime_detail
}  // namespace credsift

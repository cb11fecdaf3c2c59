// AWS Signature Version 4 and Azure Storage SharedKey, with OpenSSL's HMAC and SHA-256.
#include "request_signing.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>

#include "credsift/text.hpp"

namespace credsift {

std::string to_hex(std::string_view bytes) { return text::hex(bytes); }

std::string hex_sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string aws_signing_key(std::string_view secret, std::string_view date, std::string_view region,
                            std::string_view service) {
  const std::string date_key = hmac_sha256("AWS4" + std::string(secret), date);
  const std::string region_key = hmac_sha256(date_key, region);
  const std::string service_key = hmac_sha256(region_key, service);
  return hmac_sha256(service_key, "aws4_request");
}

std::string aws_sigv4_authorization(const AwsRequest& request, std::string_view key_id,
                                    std::string_view secret) {
  const std::string date = request.amz_date.substr(0, 8);
  const std::string signed_headers = "content-type;host;x-amz-date";
  const std::string canonical_request =
      request.method + "\n" + request.path + "\n" + request.query + "\n" +
      "content-type:" + request.content_type + "\n" + "host:" + request.host + "\n" +
      "x-amz-date:" + request.amz_date + "\n\n" + signed_headers + "\n" + hex_sha256(request.body);
  const std::string scope = date + "/" + request.region + "/" + request.service + "/aws4_request";
  const std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + request.amz_date + "\n" + scope + "\n" + hex_sha256(canonical_request);
  const std::string signature = to_hex(
      hmac_sha256(aws_signing_key(secret, date, request.region, request.service), string_to_sign));
  return "AWS4-HMAC-SHA256 Credential=" + std::string(key_id) + "/" + scope +
         ", SignedHeaders=" + signed_headers + ", Signature=" + signature;
}

namespace {

std::string base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4) return "";
  // '=' only as the last one or two characters (OpenSSL would take it elsewhere too).
  if (const size_t first_pad = text.find('=');
      first_pad != std::string_view::npos &&
      (first_pad + 2 < text.size() ||
       text.find_first_not_of('=', first_pad) != std::string_view::npos))
    return "";
  std::string out(text.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  if (length < 0) return "";
  size_t padding = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) ++padding;
  // EVP_DecodeBlock counts padding as zero bytes; more than two '=' is not base64.
  if (padding > 2 || static_cast<size_t>(length) < padding) return "";
  out.resize(static_cast<size_t>(length) - padding);
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(bytes.data()),
                                     static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(length));
  return out;
}

std::string format_now(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[64];
  std::strftime(text, sizeof text, format, &tm);
  return text;
}

}  // namespace

std::string azure_shared_key_authorization(std::string_view account, std::string_view key_base64,
                                           std::string_view method, std::string_view path,
                                           std::string_view query,
                                           std::vector<std::string> ms_headers) {
  const std::string key = base64_decode(key_base64);
  if (key.empty()) return "";
  std::sort(ms_headers.begin(), ms_headers.end());
  std::string canonical_headers;
  for (const std::string& header : ms_headers) canonical_headers += header + "\n";
  // Query parameters: lower-case names, sorted, "name:value" one a line (values here are plain).
  std::vector<std::string> parameters;
  for (std::string_view rest = query; !rest.empty();) {
    const size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = pair.find('=');
    std::string name(pair.substr(0, eq));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    parameters.push_back(name + ":" +
                         std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1)));
  }
  std::sort(parameters.begin(), parameters.end());
  std::string resource = "/" + std::string(account) + std::string(path);
  for (const std::string& parameter : parameters) resource += "\n" + parameter;
  // VERB, then eleven standard headers, all empty for a GET without body (Content-Length
  // is empty rather than 0 since version 2015-02-21).
  const std::string string_to_sign =
      std::string(method) + "\n\n\n\n\n\n\n\n\n\n\n\n" + canonical_headers + resource;
  return "SharedKey " + std::string(account) + ":" +
         base64_encode(hmac_sha256(key, string_to_sign));
}

std::string amz_date_now() { return format_now("%Y%m%dT%H%M%SZ"); }
std::string rfc1123_now() { return format_now("%a, %d %b %Y %H:%M:%S GMT"); }

}  // namespace credsift

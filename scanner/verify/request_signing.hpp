#pragma once
// Inside the verify stage: request signatures written with OpenSSL HMAC, for the verifiers whose
// providers take no bearer token (AWS SigV4 for STS, Azure Storage SharedKey).
#include <string>
#include <string_view>
#include <vector>

namespace credsift {

std::string hex_sha256(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string to_hex(std::string_view bytes);

// SigV4's derived key: HMAC chain over "AWS4" + secret, date (YYYYMMDD), region, service.
std::string aws_signing_key(std::string_view secret, std::string_view date, std::string_view region,
                            std::string_view service);

struct AwsRequest {
  std::string method, host, path, query, body, content_type;
  std::string amz_date;  // YYYYMMDDTHHMMSSZ
  std::string region, service;
};
// The Authorization header value (without "Authorization: ") for content-type, host and
// x-amz-date signed.
std::string aws_sigv4_authorization(const AwsRequest& request, std::string_view key_id,
                                    std::string_view secret);

// SharedKey for the Blob service (versions 2015-02-21 and later): a GET without body.
// `query` is the request's query string without '?'; `ms_headers` the x-ms-* headers as
// "name:value" with lower-case names. Empty when the key is not base64.
std::string azure_shared_key_authorization(std::string_view account, std::string_view key_base64,
                                           std::string_view method, std::string_view path,
                                           std::string_view query,
                                           std::vector<std::string> ms_headers);

// The time now in SigV4's form and in RFC 1123 (x-ms-date).
std::string amz_date_now();
std::string rfc1123_now();

}  // namespace credsift

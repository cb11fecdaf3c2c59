// The HTTP verifiers: one read-only identity call per provider, described as data, performed
// with libcurl (TLS with certificate checks always on; proxies from the environment).
#include <curl/curl.h>
#include <simdjson.h>

#include <algorithm>
#include <mutex>
#include <optional>

#include "http_call.hpp"

namespace credsift {

const std::vector<HttpVerifier>& http_verifiers() {
  static const std::vector<HttpVerifier> verifiers = [] {
    std::vector<HttpVerifier> list;
    const std::string bearer = "Authorization: Bearer {secret}";
    list.push_back({"github",
                    {"github.pat.classic", "github.pat.fine_grained", "github.oauth.token",
                     "github.app.user_token", "github.app.installation_token"},
                    "https://api.github.com",
                    "GET",
                    "/user",
                    {"Authorization: token {secret}", "Accept: application/vnd.github+json",
                     "User-Agent: credsift"},
                    "",
                    {200},
                    {401},
                    "",
                    {},
                    {"login", "id", "name"},
                    {"x-oauth-scopes"}});
    list.push_back({"gitlab",
                    {"gitlab.pat"},
                    "https://gitlab.com",
                    "GET",
                    "/api/v4/user",
                    {"PRIVATE-TOKEN: {secret}"},
                    "",
                    {200},
                    {401},
                    "",
                    {},
                    {"username", "id", "email"},
                    {}});
    list.push_back(
        {"slack",
         {"slack.bot_token", "slack.user_token", "slack.legacy_or_refresh_token"},
         "https://slack.com",
         "POST",
         "/api/auth.test",
         {bearer},
         "",
         {200},
         {},
         "ok",
         {"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired"},
         {"team", "user", "team_id", "user_id", "url"},
         {}});
    list.push_back({"stripe",
                    {"stripe.secret_key.live", "stripe.restricted_key.live"},
                    "https://api.stripe.com",
                    "GET",
                    "/v1/balance",
                    {bearer},
                    "",
                    {200},
                    {401},
                    "",
                    {},
                    {"livemode"},
                    {}});
    list.push_back({"sendgrid",
                    {"sendgrid.api_key"},
                    "https://api.sendgrid.com",
                    "GET",
                    "/v3/scopes",
                    {bearer},
                    "",
                    {200},
                    {401},
                    "",
                    {},
                    {"scopes"},
                    {}});
    list.push_back({"openai",
                    {"openai.project_key", "openai.service_account_key", "openai.admin_key",
                     "openai.api_key.legacy"},
                    "https://api.openai.com",
                    "GET",
                    "/v1/models",
                    {bearer},
                    "",
                    {200},
                    {401},
                    "",
                    {},
                    {},
                    {"openai-organization"}});
    list.push_back({"anthropic",
                    {"anthropic.api_key"},
                    "https://api.anthropic.com",
                    "GET",
                    "/v1/models",
                    {"x-api-key: {secret}", "anthropic-version: 2023-06-01"},
                    "",
                    {200},
                    {401},
                    "",
                    {},
                    {},
                    {}});
    list.push_back({"npm",
                    {"npm.access_token"},
                    "https://registry.npmjs.org",
                    "GET",
                    "/-/whoami",
                    {bearer},
                    "",
                    {200},
                    {401},
                    "",
                    {},
                    {"username"},
                    {}});
    list.push_back({"huggingface",
                    {"huggingface.access_token", "huggingface.org_token"},
                    "https://huggingface.co",
                    "GET",
                    "/api/whoami-v2",
                    {bearer},
                    "",
                    {200},
                    {401},
                    "",
                    {},
                    {"name", "type"},
                    {}});
    list.push_back({"datadog",
                    {"datadog.api_key"},
                    "https://api.datadoghq.com",
                    "GET",
                    "/api/v1/validate",
                    {"DD-API-KEY: {secret}"},
                    "",
                    {200},
                    {403},
                    "",
                    {},
                    {"valid"},
                    {}});
    list.push_back({"mailgun",
                    {"mailgun.api_key", "mailgun.api_key.v2"},
                    "https://api.mailgun.net",
                    "GET",
                    "/v3/domains?limit=1",
                    {},
                    "api",
                    {200},
                    {401},
                    "",
                    {},
                    {"total_count"},
                    {}});
    HttpVerifier hook;
    hook.provider = "slack-webhook";
    hook.rule_ids = {"slack.webhook"};
    hook.base_url = "https://hooks.slack.com";
    hook.method = "POST";
    hook.headers = {"Content-Type: application/json"};
    hook.secret_is_url = true;
    hook.body = "{";  // deliberately malformed: nothing is ever posted to the channel
    hook.live_body = "invalid_payload";
    hook.live_status = {400};
    hook.revoked_status = {403, 404, 410};
    list.push_back(hook);
    return list;
  }();
  return verifiers;
}

const HttpVerifier* verifier_for_rule(std::string_view rule_id) {
  for (const HttpVerifier& verifier : http_verifiers())
    if (std::find(verifier.rule_ids.begin(), verifier.rule_ids.end(), rule_id) !=
        verifier.rule_ids.end())
      return &verifier;
  return nullptr;
}

namespace {

constexpr size_t kMaxBody = 1 << 20;  // an identity answer is small; more is not read
constexpr size_t kMaxValue = 200;     // per identity value

std::string clip(std::string value) {
  if (value.size() > kMaxValue) value = value.substr(0, kMaxValue) + "…";
  return value;
}

std::string element_text(simdjson::dom::element element) {
  switch (element.type()) {
    case simdjson::dom::element_type::STRING:
      return std::string(std::string_view(element.get_string().value()));
    case simdjson::dom::element_type::NULL_VALUE:
      return "";
    default:
      return simdjson::minify(element);
  }
}

}  // namespace

Verification interpret_http_answer(const HttpVerifier& verifier, long status, std::string_view body,
                                   const std::map<std::string, std::string>& headers) {
  Verification result;
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(body);
  simdjson::dom::element root;
  const bool json = parser.parse(padded).get(root) == simdjson::SUCCESS && root.is_object();
  const auto field = [&](const std::string& name) -> std::optional<simdjson::dom::element> {
    simdjson::dom::element value;
    if (!json || root.at_key(name).get(value) != simdjson::SUCCESS) return std::nullopt;
    return value;
  };

  const auto has = [](const std::vector<long>& codes, long code) {
    return std::find(codes.begin(), codes.end(), code) != codes.end();
  };
  if (has(verifier.live_status, status) &&
      (verifier.live_body.empty() || body.find(verifier.live_body) != std::string_view::npos)) {
    result.state = VerificationState::Live;
    result.reason = "HTTP " + std::to_string(status);
    if (!verifier.ok_field.empty()) {
      const auto ok = field(verifier.ok_field);
      bool ok_value = false;
      if (!ok || ok->get_bool().get(ok_value) != simdjson::SUCCESS) {
        result.state = VerificationState::Unknown;
        result.reason = "HTTP " + std::to_string(status) + " without \"" + verifier.ok_field + "\"";
        return result;
      }
      if (!ok_value) {
        std::string error;
        if (const auto e = field("error")) error = element_text(*e);
        const bool revoked =
            std::find(verifier.revoked_errors.begin(), verifier.revoked_errors.end(), error) !=
            verifier.revoked_errors.end();
        result.state = revoked ? VerificationState::Revoked : VerificationState::Unknown;
        result.reason = "provider said: " + clip(error.empty() ? "not ok" : error);
        return result;
      }
    }
    for (const std::string& name : verifier.identity_fields)
      if (const auto value = field(name)) {
        std::string text = element_text(*value);
        if (!text.empty()) result.identity.emplace_back(name, clip(std::move(text)));
      }
    for (const std::string& name : verifier.identity_headers)
      if (const auto it = headers.find(name); it != headers.end() && !it->second.empty())
        result.identity.emplace_back(name, clip(it->second));
    return result;
  }
  if (has(verifier.revoked_status, status)) {
    result.state = VerificationState::Revoked;
    result.reason = "HTTP " + std::to_string(status);
    return result;
  }
  // Rate limits, server errors and anything unexpected say nothing about the credential.
  result.state = VerificationState::Unknown;
  result.reason = "HTTP " + std::to_string(status);
  if (status == 429) {
    result.reason += " (rate limited";
    if (const auto it = headers.find("retry-after"); it != headers.end())
      result.reason += ", retry after " + clip(it->second) + " s";
    result.reason += ")";
  }
  return result;
}

namespace {

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t bytes = size * count;
  if (body->size() + bytes > kMaxBody) return 0;  // aborts the transfer
  body->append(data, bytes);
  return bytes;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  const std::string_view line(data, size * count);
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos && headers->size() < 100) {
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    (*headers)[name] = std::string(value.substr(0, 1000));
  }
  return size * count;
}

std::string replace_secret(std::string text, const std::string& secret) {
  const std::string placeholder = "{secret}";
  for (size_t at = text.find(placeholder); at != std::string::npos;
       at = text.find(placeholder, at + secret.size()))
    text.replace(at, placeholder.size(), secret);
  return text;
}

}  // namespace

std::string http_endpoint(const HttpVerifier& verifier, const VerifyOptions& options) {
  const auto it = options.endpoints.find(verifier.provider);
  // A webhook's path is its secret: shown as "/…".
  return (it != options.endpoints.end() ? it->second : verifier.base_url) +
         (verifier.secret_is_url ? std::string("/…") : verifier.path);
}

namespace {

// The URL to call: the endpoint, or for a webhook the secret URL moved onto the endpoint.
std::optional<std::string> request_url(const HttpVerifier& verifier, const std::string& secret,
                                       const VerifyOptions& options) {
  const auto it = options.endpoints.find(verifier.provider);
  const std::string base = it != options.endpoints.end() ? it->second : verifier.base_url;
  if (!verifier.secret_is_url) return base + verifier.path;
  if (!secret.starts_with(verifier.base_url + "/")) return std::nullopt;
  return base + secret.substr(verifier.base_url.size());
}

}  // namespace

Verification http_verify(const HttpVerifier& verifier, const std::string& secret,
                         const VerifyOptions& options) {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  Verification result;
  result.endpoint = http_endpoint(verifier, options);
  // A secret with a line break or NUL would smuggle headers: such a value is never sent.
  if (secret.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
    result.state = VerificationState::NotChecked;
    result.reason = "secret holds a line break: not sent";
    return result;
  }
  const std::optional<std::string> url = request_url(verifier, secret, options);
  if (!url) {
    result.state = VerificationState::NotChecked;
    result.reason = "not a " + verifier.base_url + " URL: not sent";
    return result;
  }
  CURL* curl = curl_easy_init();
  if (!curl) {
    result.state = VerificationState::Unknown;
    result.reason = "libcurl: cannot start a transfer";
    return result;
  }
  curl_slist* header_list = nullptr;
  for (const std::string& header : verifier.headers)
    header_list = curl_slist_append(header_list, replace_secret(header, secret).c_str());
  std::string body;
  std::map<std::string, std::string> headers;
  curl_easy_setopt(curl, CURLOPT_URL, url->c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // never carry the secret elsewhere
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, options.timeout_seconds);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, std::min(options.timeout_seconds, 10L));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "credsift");
  if (!verifier.basic_user.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, verifier.basic_user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, secret.c_str());
  }
  if (verifier.method == "POST") curl_easy_setopt(curl, CURLOPT_POSTFIELDS, verifier.body.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &headers);
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(header_list);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK) {
    result.state = VerificationState::Unknown;
    result.reason = std::string("network: ") + curl_easy_strerror(code);
    return result;
  }
  Verification answer = interpret_http_answer(verifier, status, body, headers);
  answer.endpoint = result.endpoint;
  return answer;
}

}  // namespace credsift

// The HTTP verifiers: one read-only identity call per provider, described as data, performed
// with libcurl (TLS with certificate checks always on; proxies from the environment).
#include <curl/curl.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <mutex>
#include <optional>
#include <thread>

#include "credsift/validate.hpp"
#include "http_call.hpp"
#include "request_signing.hpp"

namespace credsift {

const std::vector<HttpVerifier>& http_verifiers() {
  static const std::vector<HttpVerifier> verifiers = [] {
    using State = VerificationState;
    std::vector<HttpVerifier> list;
    const std::string bearer = "Authorization: Bearer {secret}";
    {
      HttpVerifier v;
      v.provider = "github";
      v.rule_ids = {"github.pat.classic", "github.pat.fine_grained", "github.oauth.token",
                    "github.app.user_token", "github.app.installation_token"};
      v.base_url = "https://api.github.com";
      v.method = "GET";
      v.path = "/user";
      v.headers = {"Authorization: token {secret}", "Accept: application/vnd.github+json",
                   "User-Agent: credsift"};
      v.live_status = {200};
      v.revoked_status = {401};
      v.identity_fields = {"login", "id", "name"};
      v.identity_headers = {"x-oauth-scopes"};
      list.push_back(std::move(v));
    }
    {
      HttpVerifier v;
      v.provider = "gitlab";
      v.rule_ids = {"gitlab.pat"};
      v.base_url = "https://gitlab.com";
      v.method = "GET";
      v.path = "/api/v4/user";
      v.headers = {"PRIVATE-TOKEN: {secret}"};
      v.live_status = {200};
      v.revoked_status = {401};
      v.identity_fields = {"username", "id", "email"};
      list.push_back(std::move(v));
    }
    {
      HttpVerifier v;
      v.provider = "slack";
      v.rule_ids = {"slack.bot_token", "slack.user_token", "slack.legacy_or_refresh_token"};
      v.base_url = "https://slack.com";
      v.method = "POST";
      v.path = "/api/auth.test";
      v.headers = {bearer};
      v.live_status = {200};
      v.ok_field = "ok";
      v.revoked_errors = {"invalid_auth", "token_revoked", "account_inactive", "not_authed",
                          "token_expired"};
      v.identity_fields = {"team", "user", "team_id", "user_id", "url"};
      list.push_back(std::move(v));
    }
    {
      HttpVerifier v;
      v.provider = "stripe";
      v.rule_ids = {"stripe.secret_key.live", "stripe.restricted_key.live"};
      v.base_url = "https://api.stripe.com";
      v.method = "GET";
      v.path = "/v1/balance";
      v.headers = {bearer};
      v.live_status = {200};
      v.revoked_status = {401};
      v.identity_fields = {"livemode"};
      list.push_back(std::move(v));
    }
    {
      HttpVerifier v;
      v.provider = "sendgrid";
      v.rule_ids = {"sendgrid.api_key"};
      v.base_url = "https://api.sendgrid.com";
      v.method = "GET";
      v.path = "/v3/scopes";
      v.headers = {bearer};
      v.live_status = {200};
      v.revoked_status = {401};
      v.identity_fields = {"scopes"};
      list.push_back(std::move(v));
    }
    {
      HttpVerifier v;
      v.provider = "openai";
      v.rule_ids = {"openai.project_key", "openai.service_account_key", "openai.admin_key",
                    "openai.api_key.legacy"};
      v.base_url = "https://api.openai.com";
      v.method = "GET";
      v.path = "/v1/models";
      v.headers = {bearer};
      v.live_status = {200};
      v.revoked_status = {401};
      v.identity_headers = {"openai-organization"};
      list.push_back(std::move(v));
    }
    {
      HttpVerifier v;
      v.provider = "anthropic";
      v.rule_ids = {"anthropic.api_key"};
      v.base_url = "https://api.anthropic.com";
      v.method = "GET";
      v.path = "/v1/models";
      v.headers = {"x-api-key: {secret}", "anthropic-version: 2023-06-01"};
      v.live_status = {200};
      v.revoked_status = {401};
      list.push_back(std::move(v));
    }
    {
      HttpVerifier v;
      v.provider = "npm";
      v.rule_ids = {"npm.access_token"};
      v.base_url = "https://registry.npmjs.org";
      v.method = "GET";
      v.path = "/-/whoami";
      v.headers = {bearer};
      v.live_status = {200};
      v.revoked_status = {401};
      v.identity_fields = {"username"};
      list.push_back(std::move(v));
    }
    {
      HttpVerifier v;
      v.provider = "huggingface";
      v.rule_ids = {"huggingface.access_token", "huggingface.org_token"};
      v.base_url = "https://huggingface.co";
      v.method = "GET";
      v.path = "/api/whoami-v2";
      v.headers = {bearer};
      v.live_status = {200};
      v.revoked_status = {401};
      v.identity_fields = {"name", "type"};
      list.push_back(std::move(v));
    }
    {
      HttpVerifier v;
      v.provider = "datadog";
      v.rule_ids = {"datadog.api_key"};
      v.base_url = "https://api.datadoghq.com";
      v.method = "GET";
      v.path = "/api/v1/validate";
      v.headers = {"DD-API-KEY: {secret}"};
      v.live_status = {200};
      v.revoked_status = {403};
      v.identity_fields = {"valid"};
      list.push_back(std::move(v));
    }
    {
      HttpVerifier v;
      v.provider = "mailgun";
      v.rule_ids = {"mailgun.api_key", "mailgun.api_key.v2"};
      v.base_url = "https://api.mailgun.net";
      v.method = "GET";
      v.path = "/v3/domains?limit=1";
      v.basic_auth = true;
      v.basic_user = "api";
      v.live_status = {200};
      v.revoked_status = {401};
      v.identity_fields = {"total_count"};
      list.push_back(std::move(v));
    }
    // Twilio: the auth token works only with its account SID, which the rule captures as the
    // user when it stands beside the token; the account's own record is the identity call.
    {
      HttpVerifier v;
      v.provider = "twilio";
      v.rule_ids = {"twilio.auth_token"};
      v.base_url = "https://api.twilio.com";
      v.method = "GET";
      v.path = "/2010-04-01/Accounts/{user}.json";
      v.basic_auth = true;
      v.basic_user = "{user}";
      v.live_status = {200};
      v.revoked_status = {401};
      v.identity_fields = {"sid", "friendly_name", "status", "type"};
      list.push_back(std::move(v));
    }
    // PyPI has no identity call for tokens. The upload endpoint checks the token before the
    // form: a post with no file and an invalid project name cannot create or upload anything,
    // and is answered 403 "Invalid or non-existent authentication information" for a bad token,
    // 400 (a form error) for a good one. Other 403s (read-only mode) are unknown.
    {
      HttpVerifier v;
      v.provider = "pypi";
      v.rule_ids = {"pypi.upload_token"};
      v.base_url = "https://upload.pypi.org";
      v.method = "POST";
      v.path = "/legacy/";
      v.headers = {"Content-Type: multipart/form-data; boundary=credsift-verify-probe"};
      v.basic_auth = true;
      v.basic_user = "__token__";
      v.live_status = {400};
      v.body_answers = {
          {403, "Invalid or non-existent authentication", State::Revoked, "token not accepted"},
          {403, "Invalid API Token", State::Revoked, "token not accepted"}};
      v.body =
          "--credsift-verify-probe\r\n"
          "Content-Disposition: form-data; name=\":action\"\r\n\r\nfile_upload\r\n"
          "--credsift-verify-probe\r\n"
          "Content-Disposition: form-data; name=\"protocol_version\"\r\n\r\n1\r\n"
          "--credsift-verify-probe\r\n"
          "Content-Disposition: form-data; name=\"name\"\r\n\r\n-credsift-probe-\r\n"
          "--credsift-verify-probe\r\n"
          "Content-Disposition: form-data; name=\"version\"\r\n\r\n0\r\n"
          "--credsift-verify-probe--\r\n";
      list.push_back(v);
      // TestPyPI tokens: the same probe on TestPyPI's own upload endpoint.
      v.provider = "testpypi";
      v.rule_ids = {"pypi.test_upload_token"};
      v.base_url = "https://test.pypi.org";
      list.push_back(std::move(v));
    }
    // Azure DevOps: the PAT's own profile (basic auth, empty user). An invalid PAT is 401; a 203
    // with the sign-in page also follows conditional-access or inactivity rules, so is unknown.
    {
      HttpVerifier v;
      v.provider = "azure-devops";
      v.rule_ids = {"microsoft.azure_devops.pat", "microsoft.azure_devops.pat.legacy",
                    "microsoft.azure_devops.pat.any", "microsoft.azure_devops.pat.url"};
      v.base_url = "https://app.vssps.visualstudio.com";
      v.method = "GET";
      v.path = "/_apis/profile/profiles/me?api-version=7.1";
      v.basic_auth = true;
      v.live_status = {200};
      v.revoked_status = {401};
      v.body_answers = {{203, "", State::Unknown,
                         "sign-in page: not accepted here (maybe conditional access or an "
                         "inactive PAT)"}};
      v.identity_fields = {"displayName", "emailAddress", "id"};
      list.push_back(std::move(v));
    }
    // Azure Storage: List Containers (one), SharedKey-signed with the account key; needs the
    // account name of the connection string.
    {
      HttpVerifier v;
      v.provider = "azure-storage";
      v.rule_ids = {"azure.storage.account_key", "microsoft.azure_storage.account_key.keyword"};
      v.base_url = "https://{user}.blob.core.windows.net";
      v.method = "GET";
      v.path = "/?comp=list&maxresults=1";
      v.live_status = {200};
      v.body_answers = {{403, "AuthenticationFailed", State::Revoked, "AuthenticationFailed"}};
      v.signing = HttpVerifier::Signing::AzureSharedKey;
      list.push_back(std::move(v));
    }
    // Google API keys: the Generative Language model list (free, read-only), key in a header.
    // Google checks the key before the API: API_KEY_INVALID is a bad key; a valid key that is
    // restricted or whose project lacks this API is still a working key.
    {
      HttpVerifier v;
      v.provider = "google";
      v.rule_ids = {"google.api_key"};
      v.base_url = "https://generativelanguage.googleapis.com";
      v.method = "GET";
      v.path = "/v1beta/models?pageSize=1";
      v.headers = {"x-goog-api-key: {secret}"};
      v.live_status = {200};
      v.body_answers = {{400, "API_KEY_INVALID", State::Revoked, "API_KEY_INVALID"},
                        {403, "SERVICE_DISABLED", State::Live,
                         "key valid; this API is not enabled in its project"},
                        {403, "_BLOCKED", State::Live,
                         "key valid; restricted to other APIs, referrers or "
                         "addresses"}};
      list.push_back(std::move(v));
    }
    // AWS: STS GetCallerIdentity, SigV4-signed (needs no permission; says account and ARN).
    // A wrong secret for an existing key id is unknown: it may be a mispairing.
    {
      HttpVerifier v;
      v.provider = "aws";
      v.rule_ids = {"aws.secret_access_key", "aws.secret_access_key.paired",
                    "aws.secret_access_key.escaped_json", "aws.secret_access_key.cli"};
      v.base_url = "https://sts.amazonaws.com";
      v.method = "POST";
      v.path = "/";
      v.headers = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8"};
      v.live_status = {200};
      v.body_answers = {{403, "InvalidClientTokenId", State::Revoked, "InvalidClientTokenId"},
                        {403, "ExpiredToken", State::Revoked, "ExpiredToken"},
                        {403, "SignatureDoesNotMatch", State::Unknown,
                         "SignatureDoesNotMatch: the key id exists, this secret is not its "
                         "secret (mispaired?)"}};
      v.signing = HttpVerifier::Signing::AwsSigV4;
      v.identity_fields = {"Arn", "Account", "UserId"};
      v.body = "Action=GetCallerIdentity&Version=2011-06-15";
      list.push_back(std::move(v));
    }
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

// The text of the first <name>...</name> in an XML answer (AWS STS), unescaped for the five
// predefined entities; "" when absent.
std::string xml_element(std::string_view body, const std::string& name) {
  const std::string open = "<" + name + ">", close = "</" + name + ">";
  const size_t start = body.find(open);
  if (start == std::string_view::npos) return "";
  const size_t from = start + open.size();
  const size_t end = body.find(close, from);
  if (end == std::string_view::npos) return "";
  std::string text;
  const std::string_view raw = body.substr(from, end - from);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '&') {
      text += raw[i];
      continue;
    }
    static const std::pair<std::string_view, char> entities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool replaced = false;
    for (const auto& [entity, c] : entities)
      if (raw.substr(i, entity.size()) == entity) {
        text += c;
        i += entity.size() - 1;
        replaced = true;
        break;
      }
    if (!replaced) text += '&';
  }
  return text;
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
  const auto add_identity = [&] {
    for (const std::string& name : verifier.identity_fields) {
      std::string text;
      if (const auto value = field(name))
        text = element_text(*value);
      else if (!json)
        text = xml_element(body, name);
      if (!text.empty()) result.identity.emplace_back(name, clip(std::move(text)));
    }
    for (const std::string& name : verifier.identity_headers)
      if (const auto it = headers.find(name); it != headers.end() && !it->second.empty())
        result.identity.emplace_back(name, clip(it->second));
  };
  for (const HttpVerifier::BodyAnswer& answer : verifier.body_answers)
    if ((answer.status == 0 || answer.status == status) &&
        body.find(answer.contains) != std::string_view::npos) {
      result.state = answer.state;
      result.reason = "HTTP " + std::to_string(status) + ": " + answer.note;
      if (answer.state == VerificationState::Live) add_identity();
      return result;
    }
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
    add_identity();
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

std::string replace_all(std::string text, const std::string& placeholder,
                        const std::string& value) {
  for (size_t at = text.find(placeholder); at != std::string::npos;
       at = text.find(placeholder, at + value.size()))
    text.replace(at, placeholder.size(), value);
  return text;
}

// {secret}, {user} and {key_id} filled in (the secret only where asked: headers, basic auth).
std::string fill(const std::string& text, const HttpCredential& credential, bool with_secret) {
  std::string out =
      replace_all(replace_all(text, "{user}", credential.user), "{key_id}", credential.key_id);
  return with_secret ? replace_all(std::move(out), "{secret}", credential.secret) : out;
}

bool names(const HttpVerifier& verifier, const std::string& placeholder) {
  if (verifier.base_url.find(placeholder) != std::string::npos ||
      verifier.path.find(placeholder) != std::string::npos ||
      verifier.basic_user.find(placeholder) != std::string::npos)
    return true;
  return std::any_of(verifier.headers.begin(), verifier.headers.end(), [&](const std::string& h) {
    return h.find(placeholder) != std::string::npos;
  });
}

bool plain_name(std::string_view text) {
  return !text.empty() && text.size() <= 64 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isalnum(c); });
}

std::string base_of(const HttpVerifier& verifier, const VerifyOptions& options) {
  const auto it = options.endpoints.find(verifier.provider);
  return it != options.endpoints.end() ? it->second : verifier.base_url;
}

std::string utc_in(long seconds) {
  const std::time_t at = std::time(nullptr) + seconds;
  std::tm tm{};
  ::gmtime_r(&at, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

HttpCredential http_credential(const Ticket& ticket) {
  HttpCredential credential;
  credential.secret = ticket.secret;
  for (const auto& [name, value] : ticket.identity) {
    if (name == "username" && credential.user.empty()) credential.user = value;
    if (name == "access_key_id" && credential.key_id.empty()) credential.key_id = value;
  }
  for (const RelatedCapture& related : ticket.related)
    if (related.role == "access_key_id" && credential.key_id.empty())
      credential.key_id = related.secret;
  return credential;
}

const std::set<std::string>& aws_canary_accounts() {
  // The accounts that hold the keys of Thinkst's canarytokens.org and of known look-alike
  // services, as published in TruffleHog's AWS detector (pkg/detectors/aws/access_keys/canary.go).
  static const std::set<std::string> accounts = {
      "052310077262", "171436882533", "534261010715", "595918472158", "717712589309",
      "819147034852", "992382622183", "730335385048", "266735846894", "044858866125",
      "251535659677", "344043088457", "351906852752", "390477818340", "426127672474",
      "427150556519", "439872796651", "445142720921", "465867158099", "637958123769",
      "693412236332", "732624840810", "735421457923", "959235150393", "982842642351"};
  return accounts;
}

std::optional<std::string> http_not_sendable(const HttpVerifier& verifier,
                                             const HttpCredential& credential,
                                             const VerifyOptions& options) {
  const bool needs_user =
      names(verifier, "{user}") || verifier.signing == HttpVerifier::Signing::AzureSharedKey;
  if (needs_user) {
    if (credential.user.empty())
      return "no " + std::string(verifier.provider == "twilio" ? "account SID" : "account name") +
             " captured beside the secret: not sent";
    // It goes into a host name or a path: a plain name only.
    if (!plain_name(credential.user)) return "captured account is not a plain name: not sent";
    if (verifier.provider == "twilio" && !credential.user.starts_with("AC"))
      return "captured user is not an account SID (AC…): not sent";
  }
  // Signed with a trial request: a key that does not decode has nothing to sign with.
  if (verifier.signing == HttpVerifier::Signing::AzureSharedKey &&
      azure_shared_key_authorization("account", credential.secret, "GET", "/", "", {}).empty())
    return "account key is not base64: nothing to sign with, not sent";
  if (verifier.signing == HttpVerifier::Signing::AwsSigV4) {
    if (credential.key_id.empty()) return "no access key id paired with the secret: not sent";
    if (!plain_name(credential.key_id)) return "access key id is not a plain name: not sent";
    if (credential.key_id.starts_with("ASIA"))
      return "temporary key (ASIA…) without its session token: not sent";
    if (const auto account = aws_account_id(credential.key_id);
        account &&
        (aws_canary_accounts().count(*account) || options.aws_skip_accounts.count(*account)))
      return "AWS account " + *account + " is a canary-token account: never contacted";
  }
  return std::nullopt;
}

std::string http_endpoint(const HttpVerifier& verifier, const VerifyOptions& options,
                          const HttpCredential* credential) {
  // A webhook's path is its secret: shown as "/…".
  const std::string url =
      base_of(verifier, options) + (verifier.secret_is_url ? std::string("/…") : verifier.path);
  return credential ? fill(url, *credential, false) : url;
}

namespace {

// The URL to call: the endpoint, or for a webhook the secret URL moved onto the endpoint.
std::optional<std::string> request_url(const HttpVerifier& verifier,
                                       const HttpCredential& credential,
                                       const VerifyOptions& options) {
  const std::string base = fill(base_of(verifier, options), credential, false);
  if (!verifier.secret_is_url) return base + fill(verifier.path, credential, false);
  const std::string& secret = credential.secret;
  if (!secret.starts_with(verifier.base_url + "/")) return std::nullopt;
  return base + secret.substr(verifier.base_url.size());
}

struct HttpAnswer {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
  long retry_after = -1;  // seconds, from Retry-After (a delay or a date)
};

std::string host_of(const std::string& url) {
  std::string_view rest = url;
  if (rest.starts_with("https://")) rest.remove_prefix(8);
  return std::string(rest.substr(0, rest.find('/')));
}

// The headers a signed verifier adds, computed per attempt (they hold the time).
std::vector<std::string> signed_headers(const HttpVerifier& verifier,
                                        const HttpCredential& credential, const std::string& url) {
  const std::string host = host_of(url);
  const size_t path_at = url.find('/', 8);
  const std::string path_and_query = path_at == std::string::npos ? "/" : url.substr(path_at);
  const size_t question = path_and_query.find('?');
  const std::string path = path_and_query.substr(0, question);
  const std::string query =
      question == std::string::npos ? "" : path_and_query.substr(question + 1);
  if (verifier.signing == HttpVerifier::Signing::AwsSigV4) {
    AwsRequest request;
    request.method = verifier.method;
    request.host = host;
    request.path = path;
    request.query = query;
    request.body = verifier.body;
    request.content_type = "application/x-www-form-urlencoded; charset=utf-8";
    request.amz_date = amz_date_now();
    request.region = "us-east-1";
    request.service = "sts";
    return {
        "X-Amz-Date: " + request.amz_date,
        "Authorization: " + aws_sigv4_authorization(request, credential.key_id, credential.secret)};
  }
  if (verifier.signing == HttpVerifier::Signing::AzureSharedKey) {
    const std::string date = rfc1123_now(), version = "2021-08-06";
    std::string account = credential.user;
    std::transform(account.begin(), account.end(), account.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::string authorization =
        azure_shared_key_authorization(account, credential.secret, verifier.method, path, query,
                                       {"x-ms-date:" + date, "x-ms-version:" + version});
    if (authorization.empty()) return {};
    return {"x-ms-date: " + date, "x-ms-version: " + version, "Authorization: " + authorization};
  }
  return {};
}

HttpAnswer perform(const HttpVerifier& verifier, const HttpCredential& credential,
                   const std::string& url, const VerifyOptions& options) {
  HttpAnswer answer;
  CURL* curl = curl_easy_init();
  if (!curl) {
    answer.code = CURLE_FAILED_INIT;
    return answer;
  }
  curl_slist* header_list = nullptr;
  for (const std::string& header : verifier.headers)
    header_list = curl_slist_append(header_list, fill(header, credential, true).c_str());
  for (const std::string& header : signed_headers(verifier, credential, url))
    header_list = curl_slist_append(header_list, header.c_str());
  const std::string basic_user = fill(verifier.basic_user, credential, false);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
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
  if (verifier.basic_auth) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, basic_user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, credential.secret.c_str());
  }
  if (verifier.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, verifier.body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(verifier.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &answer.headers);
  answer.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  curl_off_t retry_after = -1;
  if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
      answer.headers.count("retry-after"))
    answer.retry_after = static_cast<long>(retry_after);
  curl_slist_free_all(header_list);
  curl_easy_cleanup(curl);
  return answer;
}

}  // namespace

Verification http_verify(const HttpVerifier& verifier, const HttpCredential& credential,
                         const VerifyOptions& options,
                         const std::function<void(Verification)>& on_retried) {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  Verification result;
  result.endpoint = http_endpoint(verifier, options, &credential);
  // A value with a line break or NUL would smuggle headers: such a value is never sent.
  const std::string breaks("\r\n\0", 3);
  if (credential.secret.find_first_of(breaks) != std::string::npos ||
      credential.user.find_first_of(breaks) != std::string::npos ||
      credential.key_id.find_first_of(breaks) != std::string::npos) {
    result.state = VerificationState::NotChecked;
    result.reason = "secret holds a line break: not sent";
    return result;
  }
  if (const auto reason = http_not_sendable(verifier, credential, options)) {
    result.state = VerificationState::NotChecked;
    result.reason = *reason;
    return result;
  }
  const std::optional<std::string> url = request_url(verifier, credential, options);
  if (!url) {
    result.state = VerificationState::NotChecked;
    result.reason = "not a " + verifier.base_url + " URL: not sent";
    return result;
  }
  HttpAnswer answer = perform(verifier, credential, *url, options);
  // A 429 that asks for a short wait is retried once after it; a longer wait is reported
  // unknown with the time to retry at.
  std::string retried;
  const long retry_bound = std::min(options.max_retry_after_seconds, options.timeout_seconds);
  if (answer.code == CURLE_OK && answer.status == 429 && answer.retry_after >= 0 &&
      answer.retry_after <= retry_bound) {
    if (on_retried) {
      Verification first =
          interpret_http_answer(verifier, answer.status, answer.body, answer.headers);
      first.endpoint = result.endpoint;
      first.reason += ": retrying once after " + std::to_string(answer.retry_after) + " s";
      on_retried(std::move(first));
    }
    std::this_thread::sleep_for(std::chrono::seconds(answer.retry_after));
    retried = "after a 429, retried once " + std::to_string(answer.retry_after) + " s later: ";
    answer = perform(verifier, credential, *url, options);
  }
  if (answer.code != CURLE_OK) {
    result.state = VerificationState::Unknown;
    result.reason = retried + "network: " + curl_easy_strerror(answer.code);
    return result;
  }
  Verification verification =
      interpret_http_answer(verifier, answer.status, answer.body, answer.headers);
  verification.endpoint = result.endpoint;
  verification.reason = retried + verification.reason;
  if (answer.status == 429 && answer.retry_after > retry_bound)
    verification.reason += ", retry at " + utc_in(answer.retry_after);
  return verification;
}

}  // namespace credsift

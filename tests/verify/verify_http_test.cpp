// `credsift scan --verify` against a mock provider API over HTTPS on 127.0.0.1 (python3
// http.server + ssl, with a CA made here with openssl): live, revoked and unknown (429, 500,
// hang) answers, the rate limit (counted at the mock), the audit log and the dry run.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <random>
#include <thread>

#include "../e2e/support.hpp"
#include "credsift/validate.hpp"

namespace credsift::e2e {
namespace {

std::string random_base62(size_t length, unsigned seed) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::mt19937 random(seed);
  std::string out;
  for (size_t i = 0; i < length; ++i) out += alphabet[random() % 62];
  return out;
}

std::string from_alphabet(std::string_view alphabet, size_t length, unsigned seed) {
  std::mt19937 random(seed);
  std::string out;
  for (size_t i = 0; i < length; ++i) out += alphabet[random() % alphabet.size()];
  return out;
}
std::string hex(size_t length, unsigned seed) {
  return from_alphabet("0123456789abcdef", length, seed);
}

std::string github_token(unsigned seed) { return "ghp_" + random_base62(36, seed); }
std::string npm_token(unsigned seed) { return "npm_" + random_base62(36, seed); }
std::string slack_token(unsigned seed) {
  return "xoxb-1234567890" + std::to_string(seed % 10) + "-98765432101" +
         std::to_string(seed % 10) + "-" + random_base62(24, seed);
}

bool sh(const std::string& command) { return std::system(command.c_str()) == 0; }

// The mock API: its own CA and certificate for 127.0.0.1, the tokens it knows, its request log.
class MockProvider {
 public:
  explicit MockProvider(const std::map<std::string, std::string>& tokens) {
    const fs::path dir = temp_.path();
    ca_ = dir / "ca.pem";
    log_ = dir / "requests.jsonl";
    const std::string d = "'" + dir.string() + "'";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    std::ofstream(dir / "ext.cnf") << "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n";
    ready_ = sh("cd " + d + " && openssl req -x509" + ec +
                " -keyout ca.key -out ca.pem -days 2 -subj /CN=credsift-test-ca 2>/dev/null && "
                "openssl req" +
                ec +
                " -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null && "
                "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                "-out server.pem -days 2 -extfile ext.cnf 2>/dev/null");
    if (!ready_) return;
    std::ofstream json(dir / "tokens.json");
    json << "{";
    bool first = true;
    for (const auto& [token, kind] : tokens) {
      json << (first ? "" : ",") << "\"" << token << "\":\"" << kind << "\"";
      first = false;
    }
    json << "}";
    json.close();
    const std::string script = (kSource / "tests/verify/mock_provider.py").string();
    const std::string cert = (dir / "server.pem").string(), key = (dir / "server.key").string(),
                      tokens_path = (dir / "tokens.json").string(), log = log_.string(),
                      port_file = (dir / "port").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execlp("python3", "python3", script.c_str(), cert.c_str(), key.c_str(), tokens_path.c_str(),
               log.c_str(), port_file.c_str(), nullptr);
      ::_exit(127);
    }
    // Generous: the machine may be loaded.
    for (int i = 0; i < 600 && !fs::exists(dir / "port"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (fs::exists(dir / "port")) port_ = std::stoi(slurp(dir / "port"));
    ready_ = port_ > 0;
  }
  ~MockProvider() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return ready_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  const fs::path& ca() const { return ca_; }
  const fs::path& dir() const { return temp_.path(); }
  // The time of every request the mock received.
  std::vector<double> request_times() const {
    std::vector<double> times;
    std::istringstream in(slurp(log_));
    simdjson::dom::parser parser;
    for (std::string line; std::getline(in, line);) {
      double time = 0;
      if (parser.parse(line).at_key("time").get(time) == simdjson::SUCCESS) times.push_back(time);
    }
    return times;
  }

 private:
  TempDir temp_;
  fs::path ca_, log_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool ready_ = false;
};

fs::path write_mail(const fs::path& dir, const std::vector<std::string>& tokens) {
  const fs::path path = dir / "tokens.eml";
  std::ofstream out(path);
  out << "From: dev@acme.example\nTo: ops@acme.example\nSubject: tokens\n"
         "Message-ID: <verify@acme.example>\nDate: Mon, 7 Dec 2026 01:00:00 +0000\n\n";
  for (const std::string& token : tokens) out << "token: " << token << "\n";
  return path;
}

struct VerifiedTicket {
  std::string state, reason, endpoint, identity;
};

// secret -> verification, from a JSON lines tickets file written with --show-secrets.
std::map<std::string, VerifiedTicket> verifications(const fs::path& tickets) {
  std::map<std::string, VerifiedTicket> out;
  std::istringstream in(slurp(tickets));
  simdjson::dom::parser parser;
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element ticket;
    if (parser.parse(line).get(ticket) != simdjson::SUCCESS) continue;
    std::string_view secret, state;
    if (ticket["secret"].get(secret) != simdjson::SUCCESS) continue;
    const simdjson::dom::element v = ticket["verification"];
    VerifiedTicket result;
    if (v["state"].get(state) == simdjson::SUCCESS) result.state = state;
    std::string_view text;
    if (v["reason"].get(text) == simdjson::SUCCESS) result.reason = text;
    if (v["endpoint"].get(text) == simdjson::SUCCESS) result.endpoint = text;
    simdjson::dom::element identity;
    if (v["identity"].get(identity) == simdjson::SUCCESS)
      result.identity = simdjson::minify(identity);
    out[std::string(secret)] = result;
  }
  return out;
}

TEST(VerifyHttp, LiveRevokedAndUnknownAnswers) {
  const std::string live = github_token(1), revoked = github_token(2), limited = github_token(3),
                    broken = github_token(4), hanging = github_token(5),
                    slack_live = slack_token(6), slack_revoked = slack_token(7);
  MockProvider mock({{live, "live"},
                     {revoked, "revoked"},
                     {limited, "429"},
                     {broken, "500"},
                     {hanging, "hang"},
                     {slack_live, "live"},
                     {slack_revoked, "revoked"}});
  ASSERT_TRUE(mock.ready());
  const fs::path mail =
      write_mail(mock.dir(), {revoked, live, limited, broken, hanging, slack_live, slack_revoked});
  const fs::path tickets = mock.dir() / "tickets.jsonl", audit = mock.dir() / "audit.jsonl";
  const ScanRun run =
      run_credsift("scan '" + mail.string() +
                   "' --show-secrets --verify --verify-endpoint github=" + mock.url() +
                   " --verify-endpoint slack=" + mock.url() + " --verify-ca '" +
                   mock.ca().string() + "' --verify-timeout 4 --verify-rate 20/s --verify-audit '" +
                   audit.string() + "' -o '" + tickets.string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  const auto result = verifications(tickets);
  ASSERT_EQ(result.size(), 7u) << slurp(tickets);
  EXPECT_EQ(result.at(live).state, "live");
  EXPECT_NE(result.at(live).identity.find("octo-live"), std::string::npos);
  EXPECT_NE(result.at(live).identity.find("repo, read:org"), std::string::npos);
  EXPECT_EQ(result.at(live).endpoint, mock.url() + "/user");
  EXPECT_EQ(result.at(revoked).state, "revoked");
  EXPECT_EQ(result.at(limited).state, "unknown");
  EXPECT_NE(result.at(limited).reason.find("retry after 30"), std::string::npos);
  EXPECT_EQ(result.at(broken).state, "unknown");
  EXPECT_EQ(result.at(hanging).state, "unknown");
  EXPECT_EQ(result.at(slack_live).state, "live");
  EXPECT_NE(result.at(slack_live).identity.find("alerts-bot"), std::string::npos);
  EXPECT_EQ(result.at(slack_revoked).state, "revoked");
  EXPECT_NE(result.at(slack_revoked).reason.find("invalid_auth"), std::string::npos);

  // Live tickets first; the summary counts them.
  std::istringstream lines(slurp(tickets));
  std::string first_line;
  std::getline(lines, first_line);
  EXPECT_NE(first_line.find("\"state\":\"live\""), std::string::npos) << first_line;
  EXPECT_NE(run.err.find("verified: 2 live 2 revoked 3 unknown"), std::string::npos) << run.err;

  // One audit line per contact, 0600, no secret in it.
  struct stat info {};
  ASSERT_EQ(::stat(audit.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const std::string log = slurp(audit);
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 7);
  EXPECT_EQ(log.find(live), std::string::npos);
  EXPECT_EQ(log.find(slack_live), std::string::npos);
  EXPECT_EQ(mock.request_times().size(), 7u);
}

// Every HTTP verifier against the mock: a live and a revoked token each.
TEST(VerifyHttp, EveryProviderLiveAndRevoked) {
  struct Case {
    std::string provider;
    std::function<std::string(unsigned)> token;
    std::string prefix;  // what the line needs before the token for the rule to match
  };
  const std::vector<Case> cases = {
      {"github", github_token, ""},
      {"gitlab", [](unsigned s) { return "glpat-" + random_base62(20, s); }, ""},
      {"slack", slack_token, ""},
      {"stripe", [](unsigned s) { return "sk_live_" + random_base62(24, s); }, ""},
      {"sendgrid",
       [](unsigned s) { return "SG." + random_base62(22, s) + "." + random_base62(43, s + 1000); },
       ""},
      {"openai",
       [](unsigned s) {
         return "sk-proj-" + random_base62(58, s) + "T3BlbkFJ" + random_base62(58, s + 1000);
       },
       ""},
      {"anthropic", [](unsigned s) { return "sk-ant-api03-" + random_base62(93, s) + "AA"; }, ""},
      {"npm", npm_token, ""},
      {"huggingface",
       [](unsigned s) {
         return "hf_" +
                from_alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 34, s);
       },
       ""},
      {"datadog", [](unsigned s) { return hex(32, s); }, "DD_API_KEY="},
      {"mailgun", [](unsigned s) { return "key-" + hex(32, s); }, ""},
      {"slack-webhook",
       [](unsigned s) {
         return "https://hooks.slack.com/services/T" +
                from_alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 9, s) + "/B" +
                from_alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 9, s + 1) + "/" +
                random_base62(24, s + 2);
       },
       ""},
  };
  std::map<std::string, std::string> tokens;
  std::vector<std::string> lines;
  std::string endpoints;
  unsigned seed = 500;
  for (const Case& c : cases) {
    const std::string live = c.token(seed++), revoked = c.token(seed++);
    tokens[live] = "live";
    tokens[revoked] = "revoked";
    lines.push_back(c.prefix + live);
    lines.push_back(c.prefix + revoked);
  }
  MockProvider mock(tokens);
  ASSERT_TRUE(mock.ready());
  for (const Case& c : cases) endpoints += " --verify-endpoint " + c.provider + "=" + mock.url();
  const fs::path mail = write_mail(mock.dir(), lines);
  const fs::path tickets = mock.dir() / "tickets.jsonl";
  const ScanRun run =
      run_credsift("scan '" + mail.string() + "' --show-secrets --verify" + endpoints +
                   " --verify-ca '" + mock.ca().string() + "' --verify-rate 50/s --verify-audit '" +
                   (mock.dir() / "audit").string() + "' -o '" + tickets.string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  const auto result = verifications(tickets);
  seed = 500;
  for (const Case& c : cases) {
    const std::string live = c.token(seed++), revoked = c.token(seed++);
    ASSERT_TRUE(result.count(live)) << c.provider << " not ticketed: " << live;
    ASSERT_TRUE(result.count(revoked)) << c.provider << " not ticketed: " << revoked;
    EXPECT_EQ(result.at(live).state, "live") << c.provider << " " << result.at(live).reason;
    EXPECT_EQ(result.at(revoked).state, "revoked")
        << c.provider << " " << result.at(revoked).reason;
  }
  EXPECT_EQ(mock.request_times().size(), 2 * cases.size());
  // No secret in the audit log, not even a webhook's URL.
  const std::string audit = slurp(mock.dir() / "audit");
  for (const auto& [token, kind] : tokens) EXPECT_EQ(audit.find(token), std::string::npos);
}

TEST(VerifyHttp, UntrustedCertificateIsUnknownNotRevoked) {
  const std::string live = github_token(11);
  MockProvider mock({{live, "live"}});
  ASSERT_TRUE(mock.ready());
  const fs::path mail = write_mail(mock.dir(), {live});
  const fs::path tickets = mock.dir() / "tickets.jsonl";
  // No --verify-ca: the mock's certificate is not trusted, and nothing is sent.
  const ScanRun run = run_credsift(
      "scan '" + mail.string() +
      "' --show-secrets --verify=github --verify-endpoint github=" + mock.url() +
      " --verify-audit '" + (mock.dir() / "audit").string() + "' -o '" + tickets.string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(verifications(tickets).at(live).state, "unknown");
  EXPECT_TRUE(mock.request_times().empty());
}

TEST(VerifyHttp, DryRunListsEndpointsAndContactsNone) {
  const std::string live = github_token(21), npm = npm_token(22);
  MockProvider mock({{live, "live"}, {npm, "live"}});
  ASSERT_TRUE(mock.ready());
  const fs::path mail = write_mail(mock.dir(), {live, npm});
  const fs::path tickets = mock.dir() / "tickets.jsonl", audit = mock.dir() / "audit.jsonl";
  const ScanRun run = run_credsift(
      // A bare --verify before the input does not take the input as its value.
      "scan --verify '" + mail.string() +
      "' --show-secrets --verify-dry-run --verify-endpoint github=" + mock.url() +
      " --verify-ca '" + mock.ca().string() + "' --verify-audit '" + audit.string() + "' -o '" +
      tickets.string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("would contact github GET " + mock.url() + "/user"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("would contact npm GET https://registry.npmjs.org/-/whoami"),
            std::string::npos)
      << run.err;
  const auto result = verifications(tickets);
  EXPECT_EQ(result.at(live).state, "not-checked");
  EXPECT_EQ(result.at(npm).state, "not-checked");
  EXPECT_TRUE(mock.request_times().empty());
  EXPECT_FALSE(fs::exists(audit));
}

TEST(VerifyHttp, BaselineSuppressedAndRejectedHitsAreNeverSent) {
  const std::string known = github_token(41);
  const std::string placeholder = "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
  MockProvider mock({{known, "live"}, {placeholder, "live"}});
  ASSERT_TRUE(mock.ready());
  const fs::path mail = write_mail(mock.dir(), {known, placeholder});
  const fs::path baseline = mock.dir() / "baseline.jsonl";
  // A first scan without --verify writes the baseline.
  ASSERT_EQ(run_credsift("scan '" + mail.string() + "' -o '" + baseline.string() + "'").exit_code,
            1);
  const ScanRun run = run_credsift(
      "scan '" + mail.string() + "' --baseline '" + baseline.string() +
      "' --include-rejected --verify --verify-endpoint github=" + mock.url() + " --verify-ca '" +
      mock.ca().string() + "' --verify-audit '" + (mock.dir() / "audit").string() + "'");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(mock.request_times().empty());
  EXPECT_FALSE(fs::exists(mock.dir() / "audit"));
}

TEST(VerifyHttp, OnlySelectedProvidersAreContacted) {
  const std::string github = github_token(31), npm = npm_token(32);
  MockProvider mock({{github, "live"}, {npm, "live"}});
  ASSERT_TRUE(mock.ready());
  const fs::path mail = write_mail(mock.dir(), {github, npm});
  const fs::path tickets = mock.dir() / "tickets.jsonl";
  const ScanRun run = run_credsift(
      "scan '" + mail.string() + "' --show-secrets --verify=npm --verify-endpoint github=" +
      mock.url() + " --verify-endpoint npm=" + mock.url() + " --verify-ca '" + mock.ca().string() +
      "' --verify-audit '" + (mock.dir() / "audit").string() + "' -o '" + tickets.string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  const auto result = verifications(tickets);
  EXPECT_EQ(result.at(npm).state, "live");
  EXPECT_EQ(result.at(github).state, "not-checked");
  EXPECT_EQ(mock.request_times().size(), 1u);
}

TEST(VerifyHttp, ProviderRateLimitHoldsAtTheServer) {
  std::map<std::string, std::string> tokens;
  std::vector<std::string> list;
  for (unsigned i = 0; i < 10; ++i) {
    list.push_back(npm_token(100 + i));
    tokens[list.back()] = "live";
  }
  MockProvider mock(tokens);
  ASSERT_TRUE(mock.ready());
  const fs::path mail = write_mail(mock.dir(), list);
  const fs::path tickets = mock.dir() / "tickets.jsonl";
  const ScanRun run =
      run_credsift("scan '" + mail.string() +
                   "' --show-secrets --verify --verify-rate 50/s --verify-rate npm=2/s "
                   "--verify-concurrency 8 --verify-endpoint npm=" +
                   mock.url() + " --verify-ca '" + mock.ca().string() + "' --verify-audit '" +
                   (mock.dir() / "audit").string() + "' -o '" + tickets.string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  for (const auto& [secret, v] : verifications(tickets)) EXPECT_EQ(v.state, "live") << secret;
  std::vector<double> times = mock.request_times();
  ASSERT_EQ(times.size(), 10u);
  std::sort(times.begin(), times.end());
  // 2/s with a burst of one: any one-second window holds at most 3 arrivals (slack for the
  // network and the mock's clock); 10 requests need at least 4.5 s between first and last.
  for (size_t i = 0; i + 3 < times.size(); ++i)
    EXPECT_GE(times[i + 3] - times[i], 1.0) << "4 requests within a second from #" << i;
  EXPECT_GE(times.back() - times.front(), 4.0);
}

TEST(VerifyHttp, GlobalRateLimitHoldsAcrossProviders) {
  std::map<std::string, std::string> tokens;
  std::vector<std::string> list;
  for (unsigned i = 0; i < 5; ++i) {
    list.push_back(npm_token(200 + i));
    tokens[list.back()] = "live";
    list.push_back(github_token(300 + i));
    tokens[list.back()] = "live";
  }
  MockProvider mock(tokens);
  ASSERT_TRUE(mock.ready());
  const fs::path mail = write_mail(mock.dir(), list);
  const fs::path tickets = mock.dir() / "tickets.jsonl";
  const ScanRun run = run_credsift(
      "scan '" + mail.string() +
      "' --show-secrets --verify --verify-rate 2/s --verify-concurrency 8 --verify-endpoint npm=" +
      mock.url() + " --verify-endpoint github=" + mock.url() + " --verify-ca '" +
      mock.ca().string() + "' --verify-audit '" + (mock.dir() / "audit").string() + "' -o '" +
      tickets.string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  for (const auto& [secret, v] : verifications(tickets)) EXPECT_EQ(v.state, "live") << secret;
  std::vector<double> times = mock.request_times();
  ASSERT_EQ(times.size(), 10u);
  std::sort(times.begin(), times.end());
  for (size_t i = 0; i + 3 < times.size(); ++i)
    EXPECT_GE(times[i + 3] - times[i], 1.0) << "4 requests within a second from #" << i;
}

// The verifiers that need more than a bearer token: what each mail line holds and the token the
// mock knows it by (the secret, or for signed requests KEYID:SECRET and ACCOUNT:KEY).
struct PairedCase {
  std::string provider, line, secret, mock_token;
};

std::string base64url(const std::string& bytes, bool url) {
  static const char std_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += std_alphabet[(v >> shift) & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += std_alphabet[(v >> 18) & 63];
    out += std_alphabet[(v >> 12) & 63];
    if (i + 1 < bytes.size()) out += std_alphabet[(v >> 6) & 63];
    if (!url) out += i + 1 < bytes.size() ? "=" : "==";
  }
  if (url)
    for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

std::string random_bytes(size_t length, unsigned seed) {
  std::mt19937 random(seed);
  std::string out;
  for (size_t i = 0; i < length; ++i) out += static_cast<char>(random() & 0xFF);
  return out;
}

PairedCase twilio_case(unsigned seed) {
  const std::string sid = "AC" + hex(32, seed), token = hex(32, seed + 7000);
  return {"twilio", "curl -u " + sid + ":" + token + " https://api.twilio.com", token, token};
}
PairedCase pypi_case(unsigned seed) {
  // A macaroon v2 as PyPI issues them: location pypi.org, an identifier, a signature.
  const std::string bytes = std::string("\x02\x01\x08pypi.org\x02\x20", 13) +
                            random_bytes(32, seed) + std::string("\x00\x06\x20", 3) +
                            random_bytes(32, seed + 1);
  const std::string token = "pypi-" + base64url(bytes, true);
  return {"pypi", "password = " + token, token, token};
}
PairedCase testpypi_case(unsigned seed) {
  const std::string bytes = std::string("\x02\x01\x0dtest.pypi.org\x02\x20", 18) +
                            random_bytes(32, seed) + std::string("\x00\x06\x20", 3) +
                            random_bytes(32, seed + 1);
  const std::string token = "pypi-" + base64url(bytes, true);
  return {"testpypi", "TWINE_PASSWORD=" + token, token, token};
}
PairedCase azure_devops_case(unsigned seed) {
  const std::string pat = random_base62(52, seed) + "JQQJ99" + random_base62(1, seed + 1) + "A" +
                          random_base62(16, seed + 2) + "AZDO" + random_base62(4, seed + 3);
  return {"azure-devops", "ADO_PAT=" + pat, pat, pat};
}
PairedCase azure_storage_case(unsigned seed) {
  const std::string account = "acme" + from_alphabet("abcdefghijklmnopqrstuvwxyz", 8, seed);
  const std::string key = base64url(random_bytes(64, seed), false);
  return {"azure-storage",
          "DefaultEndpointsProtocol=https;AccountName=" + account + ";AccountKey=" + key +
              ";EndpointSuffix=core.windows.net",
          key, account + ":" + key};
}
PairedCase google_case(unsigned seed) {
  const std::string key =
      "AIza" +
      from_alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", 35, seed);
  return {"google", "maps key " + key, key, key};
}
// A new-generation key id (the first base32 digit has its top bit set: Q..Z, 2..7).
std::string aws_key_id(unsigned seed) {
  return "AKIA" + from_alphabet("QRSTUVWXYZ", 1, seed) +
         from_alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 15, seed + 1);
}
PairedCase aws_case(unsigned seed, std::string key_id = "") {
  if (key_id.empty()) key_id = aws_key_id(seed);
  const std::string secret = random_base62(40, seed + 2);
  return {"aws", key_id + " " + secret, secret, key_id + ":" + secret};
}

struct PairedRun {
  ScanRun run;
  std::map<std::string, VerifiedTicket> result;
};

PairedRun scan_paired(const MockProvider& mock, const std::vector<std::string>& lines,
                      const std::string& extra = "") {
  std::string endpoints;
  for (const char* provider :
       {"twilio", "pypi", "testpypi", "azure-devops", "azure-storage", "google", "aws", "npm"})
    endpoints += std::string(" --verify-endpoint ") + provider + "=" + mock.url();
  const fs::path mail = write_mail(mock.dir(), lines);
  const fs::path tickets = mock.dir() / "tickets.jsonl";
  PairedRun out;
  out.run =
      run_credsift("scan '" + mail.string() + "' --show-secrets --verify" + endpoints +
                   " --verify-ca '" + mock.ca().string() +
                   "' --verify-timeout 4 --verify-rate 50/s --verify-concurrency 8 "
                   "--verify-audit '" +
                   (mock.dir() / "audit").string() + "' -o '" + tickets.string() + "' " + extra);
  out.result = verifications(tickets);
  return out;
}

// Each verifier that needs a pairing or a signature, against the mock: live, revoked, a 429
// with a long Retry-After, a 500 and a hang.
TEST(VerifyHttp, PairedAndSignedProvidersAnswerEveryWay) {
  const std::vector<std::function<PairedCase(unsigned)>> makers = {
      twilio_case,
      pypi_case,
      testpypi_case,
      azure_devops_case,
      azure_storage_case,
      google_case,
      [](unsigned s) { return aws_case(s); }};
  const std::vector<std::string> kinds = {"live", "revoked", "429", "500", "hang"};
  std::map<std::string, std::string> tokens;
  std::vector<std::string> lines;
  std::vector<std::pair<PairedCase, std::string>> cases;
  unsigned seed = 900;
  for (const auto& make : makers)
    for (const std::string& kind : kinds) {
      PairedCase c = make(seed += 10);
      tokens[c.mock_token] = kind;
      lines.push_back(c.line);
      cases.emplace_back(c, kind);
    }
  // A Google key that is valid but restricted to other APIs is still a working key.
  const PairedCase restricted = google_case(5000);
  tokens[restricted.mock_token] = "restricted";
  lines.push_back(restricted.line);
  // Azure DevOps' sign-in page (203) also answers conditional-access refusals: unknown.
  const PairedCase signin = azure_devops_case(5200);
  tokens[signin.mock_token] = "signin";
  lines.push_back(signin.line);
  // An AWS key id whose secret is not this one: unknown (maybe mispaired), never revoked.
  const PairedCase mispaired = aws_case(5100);
  tokens[mispaired.line.substr(0, 20) + ":" + random_base62(40, 1)] = "live";
  lines.push_back(mispaired.line);

  MockProvider mock(tokens);
  ASSERT_TRUE(mock.ready());
  const PairedRun scan = scan_paired(mock, lines);
  ASSERT_EQ(scan.run.exit_code, 1) << scan.run.err;
  for (const auto& [c, kind] : cases) {
    ASSERT_TRUE(scan.result.count(c.secret)) << c.provider << " not ticketed: " << c.line;
    const VerifiedTicket& v = scan.result.at(c.secret);
    const std::string expected = kind == "live"      ? "live"
                                 : kind == "revoked" ? "revoked"
                                                     : "unknown";
    EXPECT_EQ(v.state, expected) << c.provider << " " << kind << ": " << v.reason;
    if (kind == "429") {
      EXPECT_NE(v.reason.find("retry after 30 s"), std::string::npos) << v.reason;
      EXPECT_NE(v.reason.find("retry at 20"), std::string::npos) << v.reason;
    }
    EXPECT_TRUE(v.endpoint.starts_with(mock.url())) << v.endpoint;
    EXPECT_EQ(v.endpoint.find(c.secret), std::string::npos) << v.endpoint;
  }
  const auto identity = [&](const std::string& provider) {
    for (const auto& [c, kind] : cases)
      if (c.provider == provider && kind == "live") return scan.result.at(c.secret).identity;
    return std::string();
  };
  EXPECT_NE(identity("twilio").find("Acme SMS"), std::string::npos) << identity("twilio");
  EXPECT_NE(identity("azure-devops").find("devops@acme.example"), std::string::npos);
  EXPECT_NE(identity("aws").find("arn:aws:iam::123456789012:user/deploy&ci"), std::string::npos)
      << identity("aws");
  EXPECT_EQ(scan.result.at(restricted.secret).state, "live");
  EXPECT_NE(scan.result.at(restricted.secret).reason.find("not enabled"), std::string::npos);
  EXPECT_EQ(scan.result.at(mispaired.secret).state, "unknown");
  EXPECT_NE(scan.result.at(mispaired.secret).reason.find("SignatureDoesNotMatch"),
            std::string::npos);
  EXPECT_EQ(scan.result.at(signin.secret).state, "unknown");
  EXPECT_NE(scan.result.at(signin.secret).reason.find("HTTP 203: sign-in page"), std::string::npos);
  EXPECT_EQ(mock.request_times().size(), cases.size() + 3);
  const std::string audit = slurp(mock.dir() / "audit");
  for (const auto& [c, kind] : cases) EXPECT_EQ(audit.find(c.secret), std::string::npos);
}

TEST(VerifyHttp, ShortRetryAfterIsRetriedOnce) {
  const std::string token = npm_token(61);
  const PairedCase twilio = twilio_case(62);
  MockProvider mock({{token, "429once"}, {twilio.mock_token, "429once"}});
  ASSERT_TRUE(mock.ready());
  const PairedRun scan = scan_paired(mock, {token, twilio.line});
  ASSERT_EQ(scan.run.exit_code, 1) << scan.run.err;
  for (const std::string& secret : {token, twilio.secret}) {
    const VerifiedTicket& v = scan.result.at(secret);
    EXPECT_EQ(v.state, "live") << v.reason;
    EXPECT_NE(v.reason.find("after a 429, retried once 1 s later"), std::string::npos) << v.reason;
  }
  std::vector<double> times = mock.request_times();
  ASSERT_EQ(times.size(), 4u);
  std::sort(times.begin(), times.end());
  EXPECT_GE(times.back() - times.front(), 0.9);
  // Both contacts of each credential are audited: the 429, then the retry's answer.
  const std::string audit = slurp(mock.dir() / "audit");
  EXPECT_EQ(std::count(audit.begin(), audit.end(), '\n'), 4) << audit;
  size_t retrying = 0;
  for (size_t at = audit.find("retrying once after 1 s"); at != std::string::npos;
       at = audit.find("retrying once after 1 s", at + 1))
    ++retrying;
  EXPECT_EQ(retrying, 2u) << audit;
  EXPECT_NE(scan.run.err.find("verification: 4 contacted"), std::string::npos) << scan.run.err;
}

// An environment file names the SID on the line before the token: the rule captures both.
TEST(VerifyHttp, TwilioSidOnTheLineBeforeIsPaired) {
  const std::string sid = "AC" + hex(32, 81), token = hex(32, 82);
  const std::string other_sid = "AC" + hex(32, 83), unrelated = hex(32, 84);
  MockProvider mock({{token, "live"}, {unrelated, "live"}});
  ASSERT_TRUE(mock.ready());
  const PairedRun scan = scan_paired(
      mock, {"TWILIO_ACCOUNT_SID=" + sid + "\nTWILIO_AUTH_TOKEN=" + token,
             // A 32-hex value on the next line that names no token is not taken for one.
             "account " + other_sid + "\nchecksum " + unrelated + "\nauth_token is elsewhere"});
  ASSERT_EQ(scan.run.exit_code, 1) << scan.run.err;
  ASSERT_TRUE(scan.result.count(token)) << scan.run.err;
  EXPECT_EQ(scan.result.at(token).state, "live") << scan.result.at(token).reason;
  EXPECT_EQ(scan.result.at(token).endpoint, mock.url() + "/2010-04-01/Accounts/" + sid + ".json");
  EXPECT_FALSE(scan.result.count(unrelated));
  EXPECT_EQ(mock.request_times().size(), 1u);
}

TEST(VerifyHttp, CanaryAndUnpairedCredentialsAreNeverSent) {
  // Thinkst canarytokens.org's account (052310077262): decoded from the key id, never called.
  const PairedCase canary = aws_case(71, "AKIAQYLPMN5HHHFPZAM2");
  // An account the user lists with --verify-skip-aws-accounts.
  const std::string own_key_id = aws_key_id(72);
  const std::string own_account = aws_account_id(own_key_id).value();
  const PairedCase skipped = aws_case(73, own_key_id);
  // A temporary key without its session token; a Twilio token without its account SID; an
  // Azure account key without its account name.
  const PairedCase temporary = aws_case(74, "ASIA" + aws_key_id(75).substr(4));
  const std::string lone_twilio = hex(32, 76);
  const std::string lone_azure = base64url(random_bytes(64, 77), false);
  std::map<std::string, std::string> tokens = {{canary.mock_token, "live"},
                                               {skipped.mock_token, "live"},
                                               {temporary.mock_token, "live"},
                                               {lone_twilio, "live"}};
  MockProvider mock(tokens);
  ASSERT_TRUE(mock.ready());
  const PairedRun scan =
      scan_paired(mock,
                  {canary.line, skipped.line, temporary.line, "TWILIO_AUTH_TOKEN=" + lone_twilio,
                   "AZURE_STORAGE_KEY=" + lone_azure},
                  "--verify-skip-aws-accounts 000000000001," + own_account);
  ASSERT_EQ(scan.run.exit_code, 1) << scan.run.err;
  const auto reason = [&](const std::string& secret) {
    EXPECT_TRUE(scan.result.count(secret)) << secret;
    if (!scan.result.count(secret)) return std::string();
    EXPECT_EQ(scan.result.at(secret).state, "not-checked");
    return scan.result.at(secret).reason;
  };
  EXPECT_NE(reason(canary.secret).find("052310077262 is a canary-token account"),
            std::string::npos);
  EXPECT_NE(reason(skipped.secret).find(own_account + " is a canary-token account"),
            std::string::npos);
  EXPECT_NE(reason(temporary.secret).find("session token"), std::string::npos);
  EXPECT_NE(reason(lone_twilio).find("no account SID"), std::string::npos);
  EXPECT_NE(reason(lone_azure).find("no account name"), std::string::npos);
  EXPECT_TRUE(mock.request_times().empty());
  EXPECT_FALSE(fs::exists(mock.dir() / "audit"));

  // An account id that is not 12 digits is a usage error.
  const ScanRun bad = run_credsift("scan '" + (mock.dir() / "tokens.eml").string() +
                                   "' --verify --verify-skip-aws-accounts 12345");
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
}

// The dry run names each new provider's own endpoint, with the account filled in where the URL
// holds it, and never the secret.
TEST(VerifyHttp, DryRunNamesThePairedProvidersEndpoints) {
  const PairedCase twilio = twilio_case(91), storage = azure_storage_case(92), aws = aws_case(93),
                   google = google_case(94), pypi = pypi_case(95);
  MockProvider mock({});
  ASSERT_TRUE(mock.ready());
  const fs::path mail =
      write_mail(mock.dir(), {twilio.line, storage.line, aws.line, google.line, pypi.line});
  const ScanRun run = run_credsift("scan '" + mail.string() + "' --verify --verify-dry-run -o '" +
                                   (mock.dir() / "tickets.jsonl").string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  const std::string sid = twilio.line.substr(8, 34);
  const std::string account = storage.mock_token.substr(0, storage.mock_token.find(':'));
  for (const std::string& expected :
       {"would contact twilio GET https://api.twilio.com/2010-04-01/Accounts/" + sid + ".json",
        "would contact azure-storage GET https://" + account +
            ".blob.core.windows.net/?comp=list&maxresults=1",
        std::string("would contact aws POST https://sts.amazonaws.com/"),
        std::string("would contact google GET "
                    "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1"),
        std::string("would contact pypi POST https://upload.pypi.org/legacy/")})
    EXPECT_NE(run.err.find(expected), std::string::npos) << expected << "\n" << run.err;
  for (const PairedCase* c : {&twilio, &storage, &aws, &google, &pypi})
    EXPECT_EQ(run.err.find(c->secret), std::string::npos) << c->provider;
  EXPECT_TRUE(mock.request_times().empty());
}

}  // namespace
}  // namespace credsift::e2e

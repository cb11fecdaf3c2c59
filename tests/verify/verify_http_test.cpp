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

}  // namespace
}  // namespace credsift::e2e

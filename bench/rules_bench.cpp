// Rule library cost: Hyperscan+PCRE2 scan throughput of the full library against the 25-rule
// skeleton set on the same mail-like text, and of the library with one rule file left out (the
// file whose removal speeds the scan up most holds the expensive rules).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "credsift/match.hpp"
#include "credsift/rules.hpp"

namespace {

using namespace credsift;

const RuleSet& library() {
  // CREDSIFT_BENCH_PATTERNS measures a variant of the library (a rule rewritten, one removed).
  const char* variant = std::getenv("CREDSIFT_BENCH_PATTERNS");
  static const RuleSet rules =
      load_rules({variant ? std::filesystem::path(variant)
                          : std::filesystem::path(CREDSIFT_SOURCE_DIR) / "patterns"});
  return rules;
}

// The rules the walking skeleton shipped (its issue named these 25), picked from the library.
const std::set<std::string> kSkeletonIds = {"aws.access_key_id",
                                            "aws.secret_access_key",
                                            "github.pat.classic",
                                            "gitlab.pat",
                                            "slack.bot_token",
                                            "slack.webhook",
                                            "stripe.secret_key.live",
                                            "google.api_key",
                                            "sendgrid.api_key",
                                            "twilio.api_key",
                                            "npm.access_token",
                                            "private_key.rsa",
                                            "private_key.pkcs8",
                                            "private_key.openssh",
                                            "jwt.token",
                                            "connstr.postgres",
                                            "connstr.mongodb",
                                            "connstr.ado_net",
                                            "azure.storage.account_key",
                                            "azure.entra.client_secret",
                                            "password.prose.en",
                                            "password.prose.fr",
                                            "password.prose.id",
                                            "password.prose.de",
                                            "password.prose.es"};

RuleSet subset(const std::function<bool(const Rule&)>& keep) {
  RuleSet out;
  for (const Rule& rule : library().rules)
    if (keep(rule)) out.rules.push_back(rule);
  return out;
}

// About 4 MB of what mail bodies hold: prose in several languages (talking about passwords
// without giving one), links, signatures, config and log snippets, quoted replies, base64
// blobs, and a few real-looking credentials so that the PCRE2 stage runs too.
const std::string& mail_text() {
  static const std::string text = [] {
    const std::vector<std::string> paragraphs = {
        "Hi team,\n\nplease find the quarterly figures attached. If you forgot your password, "
        "use the password reset link on the portal: https://portal.acme.io/account/reset?lang=en"
        "\nBest regards,\nDana Miller\nHead of Finance | ACME Corp | +1 555 0100\n",
        "Bonjour à tous,\nla réunion est déplacée à jeudi 14h. Le mot de passe doit contenir au "
        "moins 12 caractères. Merci de mettre à jour vos accès avant vendredi.\nCordialement,\n",
        "Hallo zusammen,\ndas Passwort muss mindestens 10 Zeichen haben. Bitte gebt euer Passwort "
        "nicht per E-Mail weiter. Siehe https://wiki.acme.de/it/sicherheit#passwoerter\n",
        "Halo semua,\nkata sandi harus diganti setiap 90 hari. Silakan masukkan kata sandi Anda "
        "di halaman https://sso.acme.co.id/login untuk melanjutkan.\nTerima kasih.\n",
        "Hola equipo,\nla contraseña debe tener al menos 8 caracteres. ¿Olvidó su contraseña? "
        "Use el enlace de restablecimiento.\nSaludos,\n",
        "Olá, a senha deve ter pelo menos 8 caracteres. Clique aqui para redefinir a senha.\n",
        "您好，忘记密码？请点击下面的链接重置密码。密码长度至少为8个字符。\n",
        "お疲れ様です。パスワードを入力してください。パスワードは8文字以上必要です。\n",
        "Здравствуйте! Забыли пароль? Перейдите по ссылке для сброса пароля.\n",
        "> On Mon, 3 Jun 2024 at 10:12, Sam Lee <sam@acme.io> wrote:\n> Could you send me the "
        "deploy checklist? The staging URL is https://staging.acme.io/app?user=sam&tab=2\n>\n",
        "2024-06-03T10:12:44Z INFO  request_id=7f3a2c1e-9b4d-4e8f-a6c2-9d1b5e7f3a08 GET "
        "/api/v1/orders?page=3 200 12ms user_agent=\"Mozilla/5.0 (X11; Linux x86_64)\"\n",
        "server:\n  port: 8080\n  host: 0.0.0.0\nlogging:\n  level: info\ndatabase:\n  host: "
        "pg.internal\n  pool: 20\n  password: ${DB_PASSWORD}\n",
        "git clone https://github.com/acme/platform.git && cd platform && make test\n"
        "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n",
        "<html><body><p>Your order <b>#10442</b> has shipped.</p><a href=\"https://track.example"
        ".com/t/ZXhhbXBsZQ\">Track it</a></body></html>\n",
    };
    const std::vector<std::string> secrets = {
        "Hi Tom,\nyour temporary password is Kx7#mQ2p. Please change it after login.\n",
        "DATABASE_URL=postgres://app_user:B5Jaz6tQ3kqTOe@db.internal.acme.io:5432/prod\n",
        "Server=sql01;Database=crm;User ID=app;Password=Pq7zLm2w;Encrypt=true;\n",
        "Identifiant : mdupont\nMot de passe : Qz9mLp2w\n",
    };
    std::mt19937 random(20240603);
    std::string base64;
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve(4 << 20);
    size_t paragraph = 0;
    while (out.size() < (4u << 20)) {
      out += paragraphs[paragraph++ % paragraphs.size()];
      if (paragraph % 13 == 0) {  // a base64 attachment-like blob, 76-column lines
        for (int line = 0; line < 40; ++line) {
          for (int i = 0; i < 76; ++i) out += alphabet[random() % 64];
          out += '\n';
        }
      }
      if (paragraph % 211 == 0) out += secrets[(paragraph / 211) % secrets.size()];
    }
    return out;
  }();
  return text;
}

void scan_with(benchmark::State& state, const RuleSet& rules) {
  const Matcher matcher(rules);
  credsift::bench::measure_scan(state, matcher, mail_text());
  state.counters["rules"] = double(rules.rules.size());
}

// Registered at start-up: one case per rule file needs the library loaded to name them.
const int kRegistered = [] {
  benchmark::RegisterBenchmark("BM_Scan/skeleton25", [](benchmark::State& state) {
    scan_with(state, subset([](const Rule& rule) { return kSkeletonIds.count(rule.id) > 0; }));
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_Scan/library", [](benchmark::State& state) {
    scan_with(state, library());
  })->Unit(benchmark::kMillisecond);
  std::set<std::string> files;
  for (const Rule& rule : library().rules) files.insert(rule.file.filename().string());
  for (const std::string& file : files)
    benchmark::RegisterBenchmark(
        ("BM_Scan/library_without/" + file).c_str(),
        [file](benchmark::State& state) {
          scan_with(state, subset([&](const Rule& rule) { return rule.file.filename() != file; }));
        })
        ->Unit(benchmark::kMillisecond);
  return 0;
}();

}  // namespace

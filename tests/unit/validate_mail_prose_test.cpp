// Real-mail-like prose (mailing-list threads, release notes, patches, bug reports) that talks
// about tokens, secrets, keys, passwords and hashes without containing any: no rule may report
// a finding that survives validation here. Written for this test; every rule runs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "credsift/match.hpp"
#include "credsift/rules.hpp"
#include "credsift/validate.hpp"

namespace credsift {
namespace {

const Matcher& library() {
  static const RuleSet rules = load_rules({std::string(CREDSIFT_SOURCE_DIR) + "/patterns"});
  static const Matcher matcher(rules);
  return matcher;
}

const std::vector<std::string>& prose() {
  static const std::vector<std::string> texts = {
      "On Tue, 3 Mar 2026 at 10:12, Marta Novak wrote:\n> Does the new release still accept the "
      "old API key format?\n\nYes. Keys created before 2.4 keep working; the token endpoint "
      "just returns a longer access token now. See the changelog.\n\n-- \nJonas",

      "Hi all,\n\nrelease 3.12.0-rc.2 is tagged (commit 4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39)."
      "\nChecksums:\n  sha256: 9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab\n"
      "  md5: 0cc175b9c0f1b6a831c399e269772661\nPlease test before Friday.\n",

      "The secret_key_base setting moved to credentials.yml.enc; run `bin/rails credentials:edit`"
      " and never commit the master key. The password policy now requires 12 characters.\n",

      "> token = get_token_from_cache(user_id)\n> if not token:\n>     token = "
      "refresh_access_token()"
      "\n\nThis looks fine to me, but please rename `token` to `access_token` for clarity.\n",

      "diff --git a/app/settings.py b/app/settings.py\n-    password = "
      "os.environ.get('DB_PASSWORD')"
      "\n+    password = read_secret('db-password')\n+    api_key = settings.PAYMENT_API_KEY\n",

      "To add a password to your profile, open Settings and follow "
      "https://example.org/help/account#add-password . Forgot your password? Use the reset "
      "link; it expires after one hour.\n",

      "In the template the field shows &lt;YOURPASSWORD&gt; and &lt;API_KEY&gt; as hints; replace "
      "them with your own values before running the installer.\n",

      "Bug 48213: session token not refreshed after upgrade\nSteps: log in, wait 60 minutes, call "
      "/api/v2/me.\nRequest id: 7d9f2c4e-1b3a-4e5f-9a8b-0c1d2e3f4a5b\nExpected 200, got 401 "
      "(token expired). Workaround: log out and in again.\n",

      "Der API-Schlüssel wird im Kundenportal angezeigt. Bitte das Passwort nicht per Mail "
      "schicken, sondern über den Passwort-Manager teilen.\n",

      "Le mot de passe doit contenir au moins 12 caractères. La clé API se trouve dans "
      "l'espace client, rubrique Sécurité.\n",

      "secret: see vault path kv/payments/prod\ntoken: stored in the CI variables as "
      "DEPLOY_TOKEN\npassword: ask Ana (ext. 4411)\n",

      "ETag: \"33a64df551425fcc55e4d42a148795d9f25f8af3\"\ncommit_hash: "
      "e83c5163316f89bfbde7d9ab23ca2e25604af290\nfile_digest: "
      "d41d8cd98f00b204e9800998ecf8427e\n",

      "Can someone review PR #1882? It replaces the hard-coded secret with a lookup in the "
      "key vault and adds a unit test for the token refresh path.\n",

      "apiKey: process.env.MAPS_API_KEY,\nclientSecret: config.get('oauth.clientSecret'),\n"
      "token: this.authService.currentToken,\n",

      "Version bump: token-service 1.14.2 -> 1.15.0, secret-manager-client 0.9.7 -> 0.10.1.\n",

      "The meeting password and the dial-in number are in the calendar invite. Passcode: "
      "see invite.\n",

      "-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n",

      "Please use the secret ${{ secrets.NPM_TOKEN }} in the workflow, not a literal token. "
      "The docs say: NPM_TOKEN=<your token>.\n",

      "Unsubscribe: https://lists.example.org/mailman/options/dev?token=u7Rk2mQ9xP4vL8sN3bW6 "
      "(one-click, expires in 7 days)\n",

      "The key fingerprint is SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8 and the host "
      "key type is ed25519.\n",
  };
  return texts;
}

TEST(MailProse, NoRuleFiresOnMailingListProse) {
  const Matcher& matcher = library();
  auto scratch = matcher.make_scratch();
  for (const std::string& text : prose()) {
    std::vector<Hit> hits;
    matcher.scan(text, 0, *scratch, hits);
    for (const Hit& hit : hits) {
      const Rule& rule = matcher.rules().rules[hit.rule];
      const std::string_view secret =
          std::string_view(text).substr(hit.secret.begin, hit.secret.end - hit.secret.begin);
      std::vector<std::pair<std::string, std::string>> captures;
      for (const NamedSpan& capture : hit.captures)
        captures.emplace_back(
            std::string(capture.name),
            text.substr(capture.span.begin, capture.span.end - capture.span.begin));
      const Validation validation =
          validate(rule, secret,
                   std::string_view(text).substr(hit.match.begin, hit.match.end - hit.match.begin),
                   captures);
      EXPECT_EQ(validation.status, ValidationStatus::Rejected)
          << rule.id << " fired on '" << secret << "' in:\n"
          << text;
    }
  }
}

TEST(MailProse, GenericValuesThatAreNotSecrets) {
  for (const char* value :
       {"https://vault.example.org/v1", "/etc/app/secret.key",
        "0f8fad5b-d9cb-469f-a165-70867728950e", "v2.14.0-beta.3+build.9", "getAccessTokenFromCache",
        "ops-team-token-2024", "alice@example.org.uk", "abcdefghijklmnopqrst", "1234567890123456",
        "service_account_key.json"})
    EXPECT_FALSE(generic_secret_rejection(value, "api_key").empty()) << value;
  EXPECT_FALSE(
      generic_secret_rejection("9c56cc51b374c3ba189210d5b6d4bf57790d351c", "commit_sha").empty());
  EXPECT_TRUE(
      generic_secret_rejection("9c56cc51b374c3ba189210d5b6d4bf57790d351c", "api_token").empty());
  EXPECT_TRUE(generic_secret_rejection("Xq7Lm2Rt9Vb4Nc8Kd3Fg", "client_secret").empty());
}

TEST(PasswordHash, TypeDetection) {
  EXPECT_EQ(validate_password_hash("$2b$12$uH1Vt4icJWtKbt/pOxlLi7fSee..opjjzCnolnLA0IPjgv6EA.F6B",
                                   "hash.bcrypt")
                .evidence_of("hash_type"),
            "bcrypt");
  EXPECT_EQ(validate_password_hash("$2b$99$uH1Vt4icJWtKbt/pOxlLi7fSee..opjjzCnolnLA0IPjgv6EA.F6B",
                                   "hash.bcrypt")
                .status,
            ValidationStatus::StructureInvalid);
  // "cisco" encoded with seed 02: reversible, five characters.
  const Validation type7 = validate_password_hash("02050D480809", "hash.cisco.type7");
  EXPECT_EQ(type7.evidence_of("hash_type"), "cisco-type7");
  EXPECT_EQ(type7.evidence_of("reversible"), "true");
  EXPECT_EQ(type7.evidence_of("plaintext_length"), "5");
  EXPECT_EQ(validate_password_hash("$1$abcd$0123456789abcdefghijkl", "hash.md5_crypt")
                .evidence_of("hash_type"),
            "md5-crypt");
  EXPECT_EQ(validate_password_hash("{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "hash.ldap")
                .evidence_of("hash_type"),
            "ldap-ssha");
}

TEST(PrivateKeyShapes, CodePemIsUnwrapped) {
  EXPECT_EQ(
      unwrap_code_pem("-----BEGIN PRIVATE KEY-----\\nAAAA\\nBBBB\\n-----END PRIVATE KEY-----"),
      "-----BEGIN PRIVATE KEY-----\nAAAA\nBBBB\n-----END PRIVATE KEY-----");
  EXPECT_EQ(unwrap_code_pem("-----BEGIN PRIVATE KEY-----\\n\" +\n    \"AAAA\\n\" +\n    "
                            "\"-----END PRIVATE KEY-----"),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----");
}

}  // namespace
}  // namespace credsift

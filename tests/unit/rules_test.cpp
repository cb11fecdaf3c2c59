#include "credsift/rules.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace credsift {
namespace {

namespace fs = std::filesystem;

// A fresh temporary directory per test, removed afterwards.
class RulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("credsift_rules_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& content) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  // Expects load_rules to throw a RuleError whose message holds every one of `parts`.
  void expect_error(const fs::path& path, std::initializer_list<std::string> parts) {
    try {
      load_rules({path});
      ADD_FAILURE() << "no RuleError for " << path;
    } catch (const RuleError& e) {
      for (const std::string& part : parts)
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
            << "message '" << e.what() << "' lacks '" << part << "'";
    }
  }

  fs::path dir_;
};

// A complete valid rule; `extra` is spliced in before the closing brace, `drop` removes a field.
std::string rule_json(const std::string& id, const std::string& drop = "",
                      const std::string& replace_key = "", const std::string& replace_value = "") {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"id", "\"" + id + "\""},
      {"name", "\"Acme token\""},
      {"description", "\"An Acme API token\""},
      {"provider", "\"acme\""},
      {"category", "\"api-token\""},
      {"pattern", R"("\\b(?<secret>acme_[a-z0-9]{8})\\b")"},
      {"flags", R"(["caseless"])"},
      {"severity", "\"high\""},
      {"confidence", "\"high\""},
      {"min_entropy", "2.5"},
      {"examples", R"([{"text": "key acme_k3y9q2x7 here", "secret": "acme_k3y9q2x7"}])"},
      {"negative_examples", R"(["acme_short"])"},
      {"references", R"(["https://acme.example/docs"])"},
      {"rotation", "\"Revoke it at https://acme.example/tokens\""},
  };
  std::string out = "{";
  for (auto& [key, value] : fields) {
    if (key == drop) continue;
    if (key == replace_key) value = replace_value;
    if (out.size() > 1) out += ", ";
    out += "\"" + key + "\": " + value;
  }
  return out + "}";
}

std::string file_json(std::initializer_list<std::string> rules) {
  std::string out = "{\"rules\": [";
  for (const std::string& rule : rules) out += (out.back() == '[' ? "" : ", ") + rule;
  return out + "]}";
}

TEST_F(RulesTest, LoadsAValidFile) {
  const fs::path path = write("acme.json", file_json({rule_json("acme.token")}));
  const RuleSet set = load_rules({path});
  ASSERT_EQ(set.rules.size(), 1u);
  const Rule& rule = set.rules[0];
  EXPECT_EQ(rule.id, "acme.token");
  EXPECT_EQ(rule.name, "Acme token");
  EXPECT_EQ(rule.provider, "acme");
  EXPECT_EQ(rule.category, "api-token");
  EXPECT_TRUE(rule.caseless);
  EXPECT_FALSE(rule.dotall);
  EXPECT_EQ(rule.severity, Severity::High);
  EXPECT_EQ(rule.confidence, "high");
  EXPECT_DOUBLE_EQ(rule.min_entropy, 2.5);
  ASSERT_EQ(rule.examples.size(), 1u);
  EXPECT_EQ(rule.examples[0].secret, "acme_k3y9q2x7");
  ASSERT_EQ(rule.negative_examples.size(), 1u);
  ASSERT_EQ(rule.references.size(), 1u);
  EXPECT_EQ(rule.file, path);
  EXPECT_EQ(set.digest.size(), 64u);
}

TEST_F(RulesTest, OptionalFieldsDefault) {
  std::string rule = rule_json("acme.token", "flags");
  rule = rule.substr(0, rule.find(", \"min_entropy\"")) + rule.substr(rule.find(", \"examples\""));
  const RuleSet set = load_rules({write("a.json", file_json({rule}))});
  ASSERT_EQ(set.rules.size(), 1u);
  EXPECT_FALSE(set.rules[0].caseless);
  EXPECT_DOUBLE_EQ(set.rules[0].min_entropy, 0);
}

TEST_F(RulesTest, MissingFieldNamesFileRuleAndField) {
  for (const char* field :
       {"name", "description", "provider", "category", "pattern", "severity", "confidence",
        "examples", "negative_examples", "references", "rotation"}) {
    SCOPED_TRACE(field);
    const fs::path path = write("missing.json", file_json({rule_json("acme.token", field)}));
    expect_error(path, {"missing.json", "acme.token", std::string("'") + field + "'"});
  }
}

TEST_F(RulesTest, MissingIdNamesTheRulePosition) {
  const fs::path path =
      write("noid.json", file_json({rule_json("acme.a"), rule_json("acme.b", "id")}));
  expect_error(path, {"noid.json", "#1", "'id'"});
}

TEST_F(RulesTest, BadSeverityIsNamed) {
  const fs::path path =
      write("sev.json", file_json({rule_json("acme.token", "", "severity", "\"urgent\"")}));
  expect_error(path, {"sev.json", "acme.token", "urgent"});
}

TEST_F(RulesTest, BadConfidenceFlagEntropyAreNamed) {
  expect_error(write("c.json", file_json({rule_json("acme.c", "", "confidence", "\"sure\"")})),
               {"acme.c", "sure"});
  expect_error(write("f.json", file_json({rule_json("acme.f", "", "flags", "[\"multiline\"]")})),
               {"acme.f", "multiline"});
  expect_error(write("e.json", file_json({rule_json("acme.e", "", "min_entropy", "\"high\"")})),
               {"acme.e", "min_entropy"});
}

TEST_F(RulesTest, DuplicateIdNamesBothFiles) {
  write("a.json", file_json({rule_json("acme.token")}));
  write("b.json", file_json({rule_json("acme.other"), rule_json("acme.token")}));
  expect_error(dir_, {"b.json", "acme.token", "duplicate", "a.json"});
}

TEST_F(RulesTest, DuplicateIdWithinOneFile) {
  expect_error(write("d.json", file_json({rule_json("acme.token"), rule_json("acme.token")})),
               {"d.json", "acme.token", "duplicate"});
}

TEST_F(RulesTest, PatternWithoutSecretCaptureIsRefused) {
  const fs::path path = write(
      "nocap.json",
      file_json({rule_json("acme.token", "", "pattern", R"j("\\b(?<token>acme_[a-z0-9]{8})")j")}));
  expect_error(path, {"nocap.json", "acme.token", "secret"});
}

TEST_F(RulesTest, ExamplesAndNegativesAreRequired) {
  expect_error(write("ex.json", file_json({rule_json("acme.token", "", "examples", "[]")})),
               {"ex.json", "acme.token", "example"});
  expect_error(
      write("neg.json", file_json({rule_json("acme.token", "", "negative_examples", "[]")})),
      {"neg.json", "acme.token", "negative"});
  // An example whose secret is not in its text is a copy-paste slip.
  expect_error(write("slip.json",
                     file_json({rule_json("acme.token", "", "examples",
                                          R"([{"text": "acme_k3y9q2x7", "secret": "other"}])")})),
               {"slip.json", "acme.token", "other"});
}

TEST_F(RulesTest, UnknownFieldAndBadIdAreRefused) {
  std::string rule = rule_json("acme.token");
  rule.insert(1, "\"flag\": [], ");
  expect_error(write("typo.json", file_json({rule})), {"typo.json", "acme.token", "'flag'"});
  expect_error(write("id.json", file_json({rule_json("NoNamespace")})), {"id.json", "NoNamespace"});
}

TEST_F(RulesTest, MalformedFilesNameTheFile) {
  expect_error(write("broken.json", "{\"rules\": [ {"), {"broken.json", "JSON"});
  expect_error(write("shape.json", "[1, 2]"), {"shape.json"});
  expect_error(write("norules.json", "{\"rule\": []}"), {"norules.json"});
  expect_error(dir_ / "absent.json", {"absent.json"});
}

TEST_F(RulesTest, DirectoryLoadsJsonFilesInNameOrder) {
  write("b.json", file_json({rule_json("acme.b")}));
  write("a.json", file_json({rule_json("acme.a")}));
  write("notes.txt", "not a rule file");
  const RuleSet set = load_rules({dir_});
  ASSERT_EQ(set.rules.size(), 2u);
  EXPECT_EQ(set.rules[0].id, "acme.a");
  EXPECT_EQ(set.rules[1].id, "acme.b");
}

TEST_F(RulesTest, DigestIsSha256OfTheFilesInLoadOrder) {
  const fs::path a = write("a.json", file_json({rule_json("acme.a")}));
  const std::string first = load_rules({a}).digest;
  EXPECT_EQ(first, load_rules({a}).digest);  // stable
  for (char c : first)
    EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(c));

  write("a.json", file_json({rule_json("acme.a", "", "severity", "\"low\"")}));
  EXPECT_NE(first, load_rules({a}).digest);  // content changes the digest

  // Known answer: the SHA-256 of these exact bytes.
  const fs::path known = write("k.json", "{\"rules\": []}");
  EXPECT_EQ(load_rules({known}).digest,
            "af4fc1e3a66777e55c55972accbc027937a8a5cdb88591254bec551bd74b8ac7");
}

TEST(Severity, RoundTripsAndRejectsUnknown) {
  for (Severity s : {Severity::Low, Severity::Medium, Severity::High, Severity::Critical})
    EXPECT_EQ(parse_severity(to_string(s)), s);
  EXPECT_EQ(to_string(Severity::Critical), "critical");
  EXPECT_THROW(parse_severity("HIGH"), std::invalid_argument);
  EXPECT_THROW(parse_severity(""), std::invalid_argument);
}

TEST(ProjectPatterns, LoadAndCoverTheRequiredFamilies) {
  const RuleSet set = load_rules({fs::path(CREDSIFT_SOURCE_DIR) / "patterns"});
  EXPECT_GE(set.rules.size(), 25u);
  std::set<std::string> ids, files, categories;
  for (const Rule& rule : set.rules) {
    ids.insert(rule.id);
    files.insert(rule.file.filename().string());
    categories.insert(rule.category);
  }
  EXPECT_EQ(ids.size(), set.rules.size());
  for (const char* file :
       {"aws.json", "github.json", "gitlab.json", "slack.json", "stripe.json", "google.json",
        "sendgrid.json", "twilio.json", "npm.json", "private-keys.json", "jwt.json",
        "connection-strings.json", "azure.json", "passwords.json"})
    EXPECT_TRUE(files.count(file)) << file;
  for (const char* id :
       {"aws.access_key_id", "aws.secret_access_key", "github.pat.classic",
        "github.pat.fine_grained", "gitlab.pat", "slack.webhook", "stripe.secret_key.live",
        "private_key.rsa", "jwt.token", "connstr.postgres", "connstr.ado_net",
        "azure.storage.account_key", "azure.entra.client_secret", "password.prose.en",
        "password.prose.fr", "password.prose.id", "password.prose.de", "password.prose.es"})
    EXPECT_TRUE(ids.count(id)) << id;
  for (const char* category :
       {"api-token", "private-key", "connection-string", "password", "webhook"})
    EXPECT_TRUE(categories.count(category)) << category;
}

}  // namespace
}  // namespace credsift

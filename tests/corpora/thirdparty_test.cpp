// Third-party corpora: the MIME test messages that Debian packages ship (enmime's 79 edge
// cases, Python's email test data, MIME::Explode's messages and mailboxes, the S/MIME messages
// of the cryptography test vectors), extracted by tests/corpora/fetch into the build tree. Each
// corpus is scanned by the built binary: no crash, every file and message accounted for, and
// exactly the findings listed (after review) in tests/corpora/expected/<corpus>.tsv.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>

#include "../e2e/support.hpp"

namespace fs = std::filesystem;
using namespace credsift::e2e;

namespace {

const fs::path kCorpora = fs::path(CREDSIFT_BUILD_DIR) / "thirdparty";

using Finding = std::tuple<std::string, std::string, std::string, std::string>;

struct Expected {
  long files = -1, messages = -1;
  std::set<std::string> not_mail;
  std::multiset<Finding> findings;  // rule, fingerprint, file, part path
};

Expected expected(const std::string& corpus) {
  Expected e;
  std::istringstream in(slurp(kSource / "tests/corpora/expected" / (corpus + ".tsv")));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string kind, a, b, c;
    std::getline(fields, kind, '\t');
    std::getline(fields, a, '\t');
    if (kind == "files") {
      e.files = std::stol(a);
    } else if (kind == "messages") {
      e.messages = std::stol(a);
    } else if (kind == "not-mail") {
      e.not_mail.insert(a);
    } else {
      std::getline(fields, b, '\t');
      std::getline(fields, c, '\t');
      e.findings.emplace(kind, a, b, c);
    }
  }
  return e;
}

class ThirdPartyCorpus : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    const std::string command =
        "'" + (kSource / "tests/corpora/fetch").string() + "' '" + kCorpora.string() + "' >&2";
    fetched_ = std::system(command.c_str()) == 0;
  }
  static inline bool fetched_ = false;
};

TEST_P(ThirdPartyCorpus, ScannedWithoutCrashEveryMessageCountedFindingsAsReviewed) {
  ASSERT_TRUE(fetched_) << "tests/corpora/fetch failed (it needs the Debian mirror)";
  const std::string corpus = GetParam();
  const Expected want = expected(corpus);
  const fs::path dir = kCorpora / corpus;
  long files = 0;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().filename() != ".complete") ++files;
  EXPECT_EQ(files, want.files);

  const ScanRun run = run_credsift("scan --threads 2 --format findings '" + dir.string() + "'");
  ASSERT_TRUE(run.exit_code == 0 || run.exit_code == 1) << run.exit_code << "\n" << run.err;
  EXPECT_EQ(run.err.find("runtime error"), std::string::npos) << run.err;  // UBSan
  EXPECT_EQ(run.err.find("Sanitizer"), std::string::npos) << run.err;
  std::smatch match;
  static const std::regex summary(R"((\d+) messages: (\d+) scanned, (\d+) skipped, (\d+) failed)");
  ASSERT_TRUE(std::regex_search(run.err, match, summary)) << run.err;
  const long total = std::stol(match[1]), scanned = std::stol(match[2]),
             skipped = std::stol(match[3]), failed = std::stol(match[4]);
  EXPECT_EQ(total, want.messages) << run.err;
  EXPECT_EQ(scanned + skipped + failed, total);
  EXPECT_EQ(failed, 0) << run.err;

  // Files that are no mail are named in a warning, and only those.
  std::set<std::string> not_mail;
  static const std::regex skipped_file(
      R"(/thirdparty/[^/]+/([^ /]+) at byte 0: skipped: content not recognised as mail)");
  for (auto it = std::sregex_iterator(run.err.begin(), run.err.end(), skipped_file);
       it != std::sregex_iterator(); ++it)
    not_mail.insert((*it)[1]);
  EXPECT_EQ(not_mail, want.not_mail) << run.err;

  std::multiset<Finding> found;
  simdjson::dom::parser parser;
  std::istringstream lines(run.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    simdjson::dom::element f = parser.parse(line);
    found.emplace(std::string(f["rule_id"].get_string().value()),
                  std::string(f["fingerprint"].get_string().value()),
                  fs::path(std::string(f["file"].get_string().value())).filename().string(),
                  std::string(f["part_path"].get_string().value()));
  }
  std::string listing;
  for (const auto& [rule, fingerprint, file, part] : found)
    listing += rule + "\t" + fingerprint + "\t" + file + "\t" + part + "\n";
  EXPECT_EQ(found, want.findings) << "findings now:\n" << listing;
}

INSTANTIATE_TEST_SUITE_P(Debian, ThirdPartyCorpus,
                         ::testing::Values("enmime", "python-email", "mime-explode",
                                           "smime-vectors"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

}  // namespace

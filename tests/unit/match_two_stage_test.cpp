// The two-stage matcher (keyword rules scanned only in windows around their heads, a few rules'
// prefilter suffixes) against the one-database matcher with every rule's own pattern: the same hits
// (rule, offsets, secret, every capture) on every example and negative example of the library, on
// texts cut at every offset around keyword matches, on the sample corpus and on generated text.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "credsift/match.hpp"

// Under AddressSanitizer (CREDSIFT_SANITIZE) Hyperscan's compile of the whole library, twice, took
// most of the CI pass's 392 s in this test (its every allocation goes through ASan's allocator):
// there the test compiles a slice of the library (every kind of rule: keyword rules of one long-
// tail file, and core rules of prefixes, prose, code, connection strings and hashes) and
// generates fewer texts. The normal build keeps the whole library.
#if defined(__SANITIZE_ADDRESS__)
#define CREDSIFT_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CREDSIFT_TEST_SANITIZED 1
#endif
#endif

namespace credsift {
namespace {

#ifdef CREDSIFT_TEST_SANITIZED
constexpr bool kWholeLibrary = false;
#else
constexpr bool kWholeLibrary = true;
#endif
// What each check expects at least, for the whole library and for the slice.
constexpr size_t kMinRules = kWholeLibrary ? 900 : 150;
constexpr size_t kMinExampleHits = kWholeLibrary ? 900 : 150;
constexpr size_t kMinGeneratedHits = kWholeLibrary ? 1000 : 100;
constexpr int kGeneratedRounds = kWholeLibrary ? 40 : 6;

std::vector<std::filesystem::path> library_paths() {
  const std::filesystem::path dir = CREDSIFT_SOURCE_DIR "/patterns";
  if (kWholeLibrary) return {dir};
  std::vector<std::filesystem::path> paths;
  for (const char* file : {"tail-s-z.json", "aws.json", "github.json", "slack.json",
                           "microsoft.json", "hashicorp.json", "passwords.json",
                           "connection-strings.json", "code.json", "password-hashes.json"})
    paths.push_back(dir / file);
  return paths;
}

struct Matchers {
  std::unique_ptr<Matcher> one, two;
};

const Matchers& library() {
  static const Matchers matchers = [] {
    MatcherOptions options;
    options.use_cache = false;
    const std::vector<std::filesystem::path> paths = library_paths();
    Matchers out;
    out.two = Matcher::load(paths, nullptr, options);
    options.two_stage = false;
    options.prefilters = false;  // and every rule's own pattern (scanner/match/prefilter.hpp)
    out.one = Matcher::load(paths, nullptr, options);
    return out;
  }();
  return matchers;
}

std::string describe(const Matcher& matcher, const std::vector<Hit>& hits) {
  std::ostringstream out;
  for (const Hit& hit : hits) {
    out << matcher.rules().rules[hit.rule].id << " seg" << hit.segment << " [" << hit.match.begin
        << "," << hit.match.end << ") secret [" << hit.secret.begin << "," << hit.secret.end << ")";
    for (const NamedSpan& capture : hit.captures)
      out << " " << capture.name << "[" << capture.span.begin << "," << capture.span.end << ")";
    out << "\n";
  }
  return out.str();
}

// Scans `text` with both and expects the same hits; returns how many there were.
size_t expect_same(std::string_view text, const std::string& what) {
  const Matchers& m = library();
  thread_local auto one_scratch = m.one->make_scratch();
  thread_local auto two_scratch = m.two->make_scratch();
  std::vector<Hit> one, two;
  m.one->scan(text, 7, *one_scratch, one);
  m.two->scan(text, 7, *two_scratch, two);
  const std::string a = describe(*m.one, one), b = describe(*m.two, two);
  EXPECT_EQ(a, b) << what;
  return one.size();
}

void IsBuiltForTheLibraryAndKeepsItsRules() {
  const Matchers& m = library();
  EXPECT_TRUE(m.two->two_stage());
  EXPECT_FALSE(m.one->two_stage());
  ASSERT_EQ(m.one->rules().rules.size(), m.two->rules().rules.size());
  EXPECT_GT(m.two->rules().rules.size(), kMinRules);
}

void SameHitsOnEveryExampleAndNegative() {
  size_t hits = 0;
  for (const Rule& rule : library().one->rules().rules) {
    for (const RuleExample& example : rule.examples) {
      const std::string& text = example.text;
      hits += expect_same(text, rule.id + " example");
      expect_same("x" + text, rule.id + " example after x");
      expect_same("key: " + text + "\n", rule.id + " example in a line");
      expect_same(text + "A", rule.id + " example before A");
    }
    for (const std::string& text : rule.negative_examples) {
      expect_same(text, rule.id + " negative");
      expect_same("token = " + text + ";", rule.id + " negative in a line");
    }
  }
  EXPECT_GT(hits, kMinExampleHits);  // the examples do fire
}

std::string every_example(const char* separator) {
  std::string text;
  for (const Rule& rule : library().one->rules().rules)
    for (const RuleExample& example : rule.examples) text.append(example.text).append(separator);
  return text;
}

void SameHitsOnAllExamplesInOneText() {
  // Dense text: windows of neighbouring keyword matches overlap and merge.
  EXPECT_GT(expect_same(every_example("\n"), "examples, one a line"), kMinExampleHits);
  expect_same(every_example(" "), "examples, one after another");
  expect_same(every_example(""), "examples, glued");
}

void SameHitsOnTextCutAtEveryOffset() {
  // A window edge may fall anywhere in a match, its separator or its terminator: cut a text of
  // keyword-rule examples at every offset and compare both halves.
  std::string text;
  size_t taken = 0;
  for (const Rule& rule : library().one->rules().rules) {
    if (!rule.pattern.starts_with("(?i:") || rule.examples.empty()) continue;
    if (taken++ % 23) continue;  // a spread of ~20 rules
    text.append("see ").append(rule.examples[0].text).append(taken % 2 ? "\n" : " ok, ");
  }
  ASSERT_GT(text.size(), 500u);
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    expect_same(std::string_view(text).substr(0, cut), "prefix of " + std::to_string(cut));
    expect_same(std::string_view(text).substr(cut), "suffix from " + std::to_string(cut));
  }
}

void SameHitsOnTheSampleCorpus() {
  size_t files = 0, hits = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(CREDSIFT_SOURCE_DIR "/corpora/samples")) {
    if (!entry.is_regular_file() || entry.file_size() > (64u << 20)) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    ++files;
    hits += expect_same(bytes, entry.path().string());
    for (size_t at = 0; at < bytes.size(); at += 4096)  // and in segments, as mail parts come
      expect_same(std::string_view(bytes).substr(at, 4096), entry.path().string() + " part");
  }
  EXPECT_GT(files, 5u);
  EXPECT_GT(hits, 10u);
}

void SameHitsOnGeneratedText() {
  // Examples cut short, spliced and mixed with random tokens, separators and prose.
  std::vector<std::string> pieces;
  for (const Rule& rule : library().one->rules().rules) {
    for (const RuleExample& example : rule.examples) pieces.push_back(example.text);
    for (const std::string& text : rule.negative_examples) pieces.push_back(text);
  }
  std::mt19937 random(20261207);
  const std::string alphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+/=.:\"' \t\n,(";
  size_t hits = 0;
  for (int round = 0; round < kGeneratedRounds; ++round) {
    std::string text;
    while (text.size() < 64 * 1024) {
      const std::string& piece = pieces[random() % pieces.size()];
      switch (random() % 4) {
        case 0:
          text.append(piece);
          break;
        case 1:
          text.append(piece.substr(0, random() % (piece.size() + 1)));
          break;
        case 2:
          text.append(piece.substr(random() % (piece.size() + 1)));
          break;
        default:
          for (size_t n = random() % 80; n > 0; --n)
            text.push_back(alphabet[random() % alphabet.size()]);
      }
      text.push_back(" \n=:\"'"[random() % 6]);
    }
    hits += expect_same(text, "generated round " + std::to_string(round));
  }
  EXPECT_GT(hits, kMinGeneratedHits);
}

// One test, so that ctest (one process per test) compiles the library twice, not twelve times.
TEST(TwoStage, SameHitsAsOneDatabase) {
  for (const auto& [name, check] : std::vector<std::pair<const char*, void (*)()>>{
           {"built", IsBuiltForTheLibraryAndKeepsItsRules},
           {"examples", SameHitsOnEveryExampleAndNegative},
           {"one text", SameHitsOnAllExamplesInOneText},
           {"cut", SameHitsOnTextCutAtEveryOffset},
           {"samples", SameHitsOnTheSampleCorpus},
           {"generated", SameHitsOnGeneratedText}}) {
    SCOPED_TRACE(name);
    check();
  }
}

}  // namespace
}  // namespace credsift

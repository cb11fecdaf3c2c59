// Differential tests of the extract stage's readers against Debian's references: Word .doc
// against antiword and Excel .xls against xls2csv (catdoc) on the Enron PST's attachments
// (tests/corpora/fetch_office: npm pack pst-extractor, readpst -S), PowerPoint .ppt against
// catppt and RTF against unrtf --text on documents built here. Compared as multisets of words
// (letters and digits, case folded). Known differences:
//  * xls2csv formats numbers and dates by their cell format (36929 -> "02/07/01"), we print the
//    stored value: the Excel comparison counts words without digits only.
//  * antiword writes tables with '|', lists with bullets and "[pic]" for each picture (removed
//    before comparing): only its words are held against ours (recall); ours may hold more.
//  * unrtf prints a "###" banner (dropped before comparing), the \\info fields (AUTHOR: ...) and a
//    file name for each picture (pict001.wmf), and drops \\~ (a non-breaking space, for us a
//    space): the documents here have none of those.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "../ole_writer.hpp"
#include "credsift/extract.hpp"

namespace fs = std::filesystem;
using namespace credsift;

namespace {

const fs::path kSource = CREDSIFT_SOURCE_DIR;
const fs::path kCorpora = fs::path(CREDSIFT_BUILD_DIR) / "corpora";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[65536];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, got);
  ::pclose(pipe);
  return out;
}

using Words = std::map<std::string, size_t>;

Words words(std::string_view text, bool letters_only) {
  Words w;
  std::string word;
  bool digit = false;
  auto flush = [&] {
    if (word.size() >= 2 && !(letters_only && digit)) ++w[word];
    word.clear();
    digit = false;
  };
  for (char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      word.push_back(c);
      digit |= c >= '0' && c <= '9';
    } else if (c >= 'A' && c <= 'Z') {
      word.push_back(char(c - 'A' + 'a'));
    } else {
      flush();
    }
  }
  flush();
  return w;
}

// Share of the reference's words (with multiplicity) that ours holds.
double recall(const Words& reference, const Words& ours, std::string* missing) {
  size_t total = 0, found = 0;
  for (const auto& [word, count] : reference) {
    total += count;
    auto it = ours.find(word);
    const size_t have = it == ours.end() ? 0 : it->second;
    found += std::min(have, count);
    if (have < count && missing && missing->size() < 300) *missing += word + " ";
  }
  return total == 0 ? 1.0 : double(found) / double(total);
}

std::string extracted(const std::string& bytes, const std::string& name) {
  DecodedMessage dm;
  decode_attachment(bytes, name, "2:attachment=" + name, {}, dm);
  std::string text;
  for (const Segment& s : dm.segments)
    if (s.kind == SegmentKind::AttachmentContent) text += std::string(s.text) + "\n";
  return text;
}

class Fetched : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string command = "'" + (kSource / "tests/corpora/fetch_office").string() + "' '" +
                                kCorpora.string() + "' >&2";
    fetched_ = std::system(command.c_str()) == 0;
  }
  static inline bool fetched_ = false;
};

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

}  // namespace

TEST_F(Fetched, WordDocumentsMatchAntiword) {
  ASSERT_TRUE(fetched_) << "tests/corpora/fetch_office failed (it needs the npm registry)";
  size_t documents = 0;
  double sum = 0;
  for (const auto& entry : fs::directory_iterator(kCorpora / "office")) {
    if (entry.path().extension() != ".doc") continue;
    std::string antiword = run("antiword -w 0 " + quoted(entry.path()) + " 2>/dev/null");
    for (size_t at; (at = antiword.find("[pic]")) != std::string::npos;) antiword.erase(at, 5);
    const Words reference = words(antiword, false);
    const Words ours = words(extracted(slurp(entry.path()), entry.path().filename()), false);
    std::string missing;
    const double r = recall(reference, ours, &missing);
    EXPECT_GE(r, 0.97) << entry.path().filename() << " missing: " << missing;
    sum += r;
    ++documents;
  }
  EXPECT_GE(documents, 10u);
  std::printf("[ antiword ] %zu .doc files, mean recall of antiword's words %.4f\n", documents,
              documents ? sum / double(documents) : 0.0);
}

TEST_F(Fetched, ExcelWorkbooksMatchXls2csv) {
  ASSERT_TRUE(fetched_) << "tests/corpora/fetch_office failed (it needs the npm registry)";
  size_t documents = 0;
  double sum = 0;
  for (const auto& entry : fs::directory_iterator(kCorpora / "office")) {
    if (entry.path().extension() != ".xls") continue;
    const Words reference = words(run("xls2csv " + quoted(entry.path()) + " 2>/dev/null"), true);
    const Words ours = words(extracted(slurp(entry.path()), entry.path().filename()), true);
    std::string missing;
    const double r = recall(reference, ours, &missing);
    EXPECT_GE(r, 0.97) << entry.path().filename() << " missing: " << missing;
    sum += r;
    ++documents;
  }
  EXPECT_GE(documents, 5u);
  std::printf("[ xls2csv ] %zu .xls files, mean recall of xls2csv's words %.4f\n", documents,
              documents ? sum / double(documents) : 0.0);
}

TEST(Generated, PowerPointMatchesCatppt) {
  const fs::path file =
      fs::temp_directory_path() / ("credsift-ppt-" + std::to_string(::getpid()) + ".ppt");
  std::ofstream(file, std::ios::binary) << test::powerpoint_document(
      "Quarterly review\rVPN gateway vpn2.example.test", "shared secret Pp1234 rotate monthly");
  const Words reference = words(run("catppt " + quoted(file) + " 2>/dev/null"), false);
  const Words ours = words(extracted(slurp(file), "deck.ppt"), false);
  fs::remove(file);
  ASSERT_FALSE(reference.empty()) << "catppt read nothing";
  EXPECT_EQ(reference, ours);
}

TEST(Generated, RtfMatchesUnrtf) {
  const std::string documents[] = {
      "{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0\\fswiss Arial;}{\\f1 Courier;}}"
      "{\\colortbl;\\red0\\green0\\blue255;}\\pard\\plain\\f0\\fs20 Server list\\par "
      "\\b host\\b0 : db1.example.test\\tab port 5432\\par password: Rt5-planted\\par}",
      "{\\rtf1\\ansi{\\stylesheet{\\s1 Heading;}}"
      "\\pard Line one\\line Line two {\\i italic words} end\\par}",
      "{\\rtf1\\ansi\\ansicpg1252 curly \\{braces\\} and back\\\\slash\\par "
      "\\trowd\\cellx1000\\cellx2000 cell one\\cell cell two\\cell\\row after table\\par}",
  };
  int index = 0;
  for (const std::string& rtf : documents) {
    const fs::path file =
        fs::temp_directory_path() / ("credsift-rtf-" + std::to_string(::getpid()) + ".rtf");
    std::ofstream(file, std::ios::binary) << rtf;
    std::string reference_text;
    std::istringstream lines(run("unrtf --text " + quoted(file) + " 2>/dev/null"));
    for (std::string line; std::getline(lines, line);)
      if (!line.starts_with("###") && !line.starts_with("-----------------"))
        reference_text += line + "\n";
    fs::remove(file);
    const Words reference = words(reference_text, false);
    const Words ours = words(rtf_to_text(rtf).text, false);
    ASSERT_FALSE(reference.empty()) << "unrtf read nothing";
    EXPECT_EQ(reference, ours) << "document " << index << "\nunrtf: " << reference_text
                               << "\nours: " << rtf_to_text(rtf).text;
    ++index;
  }
}

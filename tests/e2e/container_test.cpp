// Archives of mailboxes as inputs (issue 12, part 7): a zip, 7z or tar.gz of the sample corpus
// gives the tickets and message counts of the unpacked directory, with the entry's path in the
// origin of every output format; non-mail entries are counted as not mail; bombs and truncated
// archives are reported with file and entry, and the scan goes on.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;
using e2e::run_credsift;
using e2e::slurp;
using e2e::TempDir;

struct Entry {
  std::string name, data;
  uint64_t repeat = 1;  // the data written this many times (a bomb without holding it)
};

// Writes an archive file with libarchive: format "zip", "7zip", "ustar"; filter "gzip", "none".
void write_archive(const fs::path& path, const std::vector<Entry>& entries,
                   const std::string& format, const std::string& filter = "none") {
  archive* a = archive_write_new();
  if (filter == "gzip") archive_write_add_filter_gzip(a);
  ASSERT_EQ(archive_write_set_format_by_name(a, format.c_str()), ARCHIVE_OK);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK) << archive_error_string(a);
  for (const Entry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_size(entry, la_int64_t(e.data.size() * e.repeat));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    ASSERT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << archive_error_string(a);
    for (uint64_t i = 0; i < e.repeat; ++i) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
}

// Every file of the sample corpus, by its path relative to corpora/samples.
std::vector<Entry> sample_entries() {
  std::vector<Entry> entries;
  for (const auto& f : fs::recursive_directory_iterator(e2e::kSamples))
    if (f.is_regular_file())
      entries.push_back({fs::relative(f.path(), e2e::kSamples).string(), slurp(f.path())});
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return entries;
}

// "credsift: N messages: S scanned, K skipped, F failed" from the summary.
std::string message_counts(const std::string& err) {
  static const std::regex line(
      R"re(credsift: \d+ messages: \d+ scanned, \d+ skipped, \d+ failed)re");
  std::smatch m;
  return std::regex_search(err, m, line) ? m.str() : "(no summary)";
}

// Each ticket by id: its message count and its occurrences' (part, offset, index), which do
// not depend on the file name.
std::map<std::string, std::multiset<std::string>> tickets(const std::string& jsonl) {
  static const std::regex id(R"re("record":"ticket","id":"(cs-[0-9a-f]+)")re");
  static const std::regex count(R"re("message_count":(\d+))re");
  static const std::regex where(R"re("offset":(\d+),"message_index":(\d+))re");
  static const std::regex part(R"re("part_path":"([^"]*)")re");
  std::map<std::string, std::multiset<std::string>> out;
  std::istringstream in(jsonl);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (!std::regex_search(l, m, id)) continue;
    auto& set = out[m[1]];
    if (std::regex_search(l, m, count)) set.insert("messages=" + m[1].str());
    std::vector<std::string> offsets, parts;
    for (std::sregex_iterator it(l.begin(), l.end(), where), end; it != end; ++it)
      offsets.push_back((*it)[1].str() + "/" + (*it)[2].str());
    for (std::sregex_iterator it(l.begin(), l.end(), part), end; it != end; ++it)
      parts.push_back((*it)[1].str());
    for (size_t i = 0; i < offsets.size() && i < parts.size(); ++i)
      set.insert(offsets[i] + " " + parts[i]);
  }
  return out;
}

TEST(Containers, ArchivesOfTheSamplesMatchTheDirectory) {
  const auto direct = run_credsift("scan -f jsonl -o - '" + e2e::kSamples.string() + "'");
  ASSERT_EQ(direct.exit_code, 1) << direct.err;
  const auto expected = tickets(direct.out);
  ASSERT_GT(expected.size(), 5u);
  TempDir temp;
  const std::vector<Entry> entries = sample_entries();
  for (const auto& [name, format, filter] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"samples.zip", "zip", "none"},
           {"samples.7z", "7zip", "none"},
           {"samples.tar.gz", "ustar", "gzip"},
           {"samples.tar", "ustar", "none"}}) {
    SCOPED_TRACE(name);
    const fs::path path = temp.path() / name;
    write_archive(path, entries, format, filter);
    const auto run = run_credsift("scan -f jsonl -o - '" + path.string() + "'");
    EXPECT_EQ(run.exit_code, 1) << run.err;
    EXPECT_EQ(message_counts(run.err), message_counts(direct.err)) << run.err;
    EXPECT_EQ(tickets(run.out), expected);
    EXPECT_EQ(run.err.find("not mail"), std::string::npos) << run.err;
    // The origin names the entry, the archive is the file.
    EXPECT_NE(run.out.find("\"file\":\"" + path.string() + "\""), std::string::npos);
    EXPECT_NE(run.out.find("\"container\":\"inbox.mbox\""), std::string::npos) << run.out;
    // The Maildir inside it: its cur/ and new/ messages, by their entry paths.
    for (const char* maildir_entry :
         {"maildir/cur/1710000001.M1P1.host:2,S", "maildir/new/1710000003.M3P1.host"})
      EXPECT_NE(run.out.find("\"container\":\"" + std::string(maildir_entry) + "\""),
                std::string::npos)
          << maildir_entry;
  }
}

// One planted token in an mbox two archives deep; its origin in every output format.
TEST(Containers, OriginNamesTheEntryInEveryFormat) {
  TempDir temp;
  const std::string mbox =
      "From a@acme.test Mon Jan  1 00:00:00 2024\nFrom: a@acme.test\nTo: b@acme.test\n"
      "Subject: runner\nMessage-ID: <r1@acme.test>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\n"
      "register with glrt-14JdF3VddBOkGgGcpw4k please\n";
  const fs::path inner = temp.path() / "inner.zip";
  write_archive(inner, {{"Custodian1/mail.mbox", mbox}}, "zip");
  const fs::path outer = temp.path() / "export.zip";
  write_archive(outer, {{"exports/inner.zip", slurp(inner)}}, "zip");
  const std::string container = "exports/inner.zip!Custodian1/mail.mbox";
  const std::string shown = "export.zip!" + container;
  for (const std::string format :
       {"jsonl", "json", "sarif", "csv", "markdown", "html", "findings"}) {
    SCOPED_TRACE(format);
    const auto run = run_credsift("scan -f " + format + " -o - '" + outer.string() + "'");
    EXPECT_EQ(run.exit_code, 1) << run.err;
    const bool json = format == "jsonl" || format == "json" || format == "findings";
    EXPECT_NE(run.out.find(json ? "\"container\":\"" + container + "\"" : shown), std::string::npos)
        << run.out;
  }
}

TEST(Containers, NonMailEntriesAreCountedAsNotMail) {
  TempDir temp;
  const fs::path zip = temp.path() / "purview.zip";
  write_archive(zip,
                {{"Export_load_file.csv", "DocID,Custodian,Subject\n1,alice,hello\n"},
                 {"image.jpg", std::string("\xFF\xD8\xFF\xE0", 4) + std::string(100, 'x')},
                 {"mail/s05.eml", slurp(e2e::kSamples / "eml/s05.eml")}},
                "zip");
  const auto run = run_credsift("scan -f jsonl -o - '" + zip.string() + "'");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("credsift: 1 messages: 1 scanned"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("2 files not mail (1 JPEG image, 1 unrecognised content)"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find(zip.string() + "!Export_load_file.csv"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(zip.string() + "!image.jpg"), std::string::npos) << run.err;
}

// A bomb entry (an mbox of 400 MB of one letter) is cut with a warning naming file and entry;
// the entry after it and the next input are scanned.
TEST(Containers, ZipBombIsStoppedAndTheScanGoesOn) {
  TempDir temp;
  const fs::path zip = temp.path() / "bomb.zip";
  const std::string head =
      "From a@acme.test Mon Jan  1 00:00:00 2024\nFrom: a@acme.test\nSubject: big\n\n";
  write_archive(zip,
                {{"bomb.mbox", head},
                 {"bomb2.mbox", head + std::string(1 << 20, 'A'), 400},
                 {"after/s05.eml", slurp(e2e::kSamples / "eml/s05.eml")}},
                "zip");
  ASSERT_LT(fs::file_size(zip), 4u << 20);
  const auto run = run_credsift("scan -f jsonl -o - '" + zip.string() + "' '" +
                                (e2e::kSamples / "eml/s06.eml").string() + "'");
  EXPECT_NE(run.err.find(zip.string() + "!bomb2.mbox"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("zip bomb?"), std::string::npos) << run.err;
  EXPECT_NE(run.out.find("\"container\":\"after/s05.eml\""), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("s06.eml"), std::string::npos) << run.out;
}

// Noise that does not compress: base64 of a linear congruential sequence, 76 per line.
std::string incompressible_lines(size_t bytes) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t x = 12345;
  while (out.size() < bytes) {
    x = x * 1103515245u + 12345u;
    out += alphabet[(x >> 16) & 63];
    if (out.size() % 77 == 76) out += '\n';
  }
  return out;
}

// Truncated archives: the entries before the cut are scanned, the cut one is named, the next
// input is read. The second entry is large and does not compress, so that the cut falls in it
// and more than libarchive's 64 KiB gzip output buffer comes before it (a gzip stream cut
// inside that first buffer hands out nothing: libarchive reports the archive unreadable).
TEST(Containers, TruncatedArchiveIsReportedAndTheScanGoesOn) {
  TempDir temp;
  const std::string filler =
      "From a@acme.test Mon Jan  1 00:00:00 2024\nFrom: a@acme.test\nSubject: filler\n\n" +
      incompressible_lines(400 << 10);
  std::vector<Entry> entries = {
      {"first/s05.eml", slurp(e2e::kSamples / "eml/s05.eml")},
      {"second/inbox.mbox", slurp(e2e::kSamples / "inbox.mbox") + filler}};
  for (const auto& [name, format, filter] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"cut.zip", "zip", "none"}, {"cut.tar.gz", "ustar", "gzip"}}) {
    SCOPED_TRACE(name);
    const fs::path whole = temp.path() / ("whole-" + name), cut = temp.path() / name;
    write_archive(whole, entries, format, filter);
    const std::string bytes = slurp(whole);
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() * 3 / 4);
    const auto run = run_credsift("scan -f jsonl -o - '" + cut.string() + "' '" +
                                  (e2e::kSamples / "eml/s06.eml").string() + "'");
    EXPECT_NE(run.exit_code, -1) << run.err;
    EXPECT_NE(run.err.find(cut.string() + "!second/inbox.mbox"), std::string::npos) << run.err;
    EXPECT_NE(run.out.find("\"container\":\"first/s05.eml\""), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("s06.eml"), std::string::npos) << run.out;
  }
}

// Archives inside archives are opened down to --max-archive-depth (default 4) levels below the
// input; deeper ones are reported by name, and a larger limit reaches them.
TEST(Containers, NestingBeyondTheDepthLimitIsReported) {
  TempDir temp;
  std::string bytes = slurp(e2e::kSamples / "eml/s05.eml");
  std::string name = "s05.eml";
  std::string chain;
  for (int level = 6; level >= 1; --level) {
    const fs::path path = temp.path() / ("level" + std::to_string(level) + ".zip");
    write_archive(path, {{name, bytes}}, "zip");
    chain = level == 6 ? name : name + "!" + chain;
    bytes = slurp(path);
    name = path.filename().string();
  }
  // level1.zip holds level2.zip ... level6.zip holds s05.eml: five archives below the input.
  const fs::path input = temp.path() / "level1.zip";
  const auto shallow = run_credsift("scan -f jsonl -o - '" + input.string() + "'");
  EXPECT_NE(shallow.err.find("level5.zip!level6.zip at byte 0: archive nesting deeper than "
                             "--max-archive-depth 4"),
            std::string::npos)
      << shallow.err;
  EXPECT_EQ(shallow.out.find("cs-"), std::string::npos) << shallow.out;
  const auto deep =
      run_credsift("scan --max-archive-depth 8 -f jsonl -o - '" + input.string() + "'");
  EXPECT_EQ(deep.exit_code, 1) << deep.err;
  EXPECT_NE(deep.out.find("\"container\":\"" + chain + "\""), std::string::npos) << deep.out;
}

// A .docx is a zip, but a document: one file not mail, not a container of its parts.
TEST(Containers, OfficeDocumentIsOneFileNotMail) {
  TempDir temp;
  const fs::path docx = temp.path() / "notes.docx";
  write_archive(docx,
                {{"[Content_Types].xml", "<Types/>"},
                 {"word/document.xml", "<w:document>hello</w:document>"}},
                "zip");
  const auto run = run_credsift("scan -f jsonl -o - '" + docx.string() + "'");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(
      run.err.find(docx.string() + " at byte 0: skipped: not mail (Office Open XML document)"),
      std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("1 files not mail"), std::string::npos) << run.err;
}

// Not an archive after all: a gzip'd mbox is still read as one (the gzip stream reader).
TEST(Containers, GzipMailboxIsStillAMailbox) {
  const auto run =
      run_credsift("scan -f jsonl -o - '" + (e2e::kSamples / "archive.mbox.gz").string() + "'");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(run.out.find("\"container\""), std::string::npos) << run.out;
  EXPECT_EQ(run.err.find("not mail"), std::string::npos) << run.err;
}

// PST and .msg inside containers, with enron.pst of the npm package pst-extractor 1.12.0
// (tests/pst/fetch, into the build tree's test-data/pst as the pst tests do; skipped without the
// registry). enron.pst holds no credential, so a test rule (Enron mail addresses) gives tickets
// from its bodies.
const fs::path kPstData = fs::path(CREDSIFT_BINARY).parent_path() / "test-data/pst";
const fs::path kEnron = kPstData / "enron.pst";

class ContainersPst : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string command =
        "'" + (e2e::kSource / "tests/pst/fetch").string() + "' '" + kPstData.string() + "' >&2";
    const int status = std::system(command.c_str());
    fetch_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void SetUp() override {
    if (fetch_status_ == 77) GTEST_SKIP() << "npm registry unreachable: PST test data not fetched";
    ASSERT_EQ(fetch_status_, 0) << "tests/pst/fetch failed";
    rules_ = temp_.path() / "enron-rule.json";
    std::ofstream(rules_) << R"json({"rules": [{"id": "test.enron_address", "name": "Enron address",
      "description": "A mail address at enron.com (a test rule)", "provider": "acme",
      "category": "api-token", "severity": "high", "confidence": "high",
      "pattern": "\\b(?<secret>[a-z]{2,20}\\.[a-z]{2,20}@enron\\.com)\\b",
      "examples": [{"text": "to jeff.skilling@enron.com now", "secret": "jeff.skilling@enron.com"}],
      "negative_examples": ["no address here"], "references": ["https://example.com/enron"],
      "rotation": "None: a test rule."}]})json";
  }
  // Scans `input` to JSON lines with the built-in rules and the test rule.
  e2e::ScanRun scan(const fs::path& input, const std::string& extra = "") const {
    return run_credsift("scan --rules '" + rules_.string() + "' -f jsonl -o - " + extra + " '" +
                        input.string() + "'");
  }
  static inline int fetch_status_ = -1;
  TempDir temp_;
  fs::path rules_;
};

// Every `"key":value` (string or number) of the output, in order.
std::multiset<std::string> fields(const std::string& out, const std::string& key) {
  const std::regex field("\"" + key + "\":(\"[^\"]*\"|[0-9]+)");
  std::multiset<std::string> found;
  for (std::sregex_iterator it(out.begin(), out.end(), field), end; it != end; ++it)
    found.insert((*it)[1].str());
  return found;
}

TEST_F(ContainersPst, ZipOfAPstGivesThePstsTicketsWithTheContainerPath) {
  const auto direct = scan(kEnron);
  ASSERT_EQ(direct.exit_code, 1) << direct.err;
  ASSERT_GE(tickets(direct.out).size(), 5u);
  const fs::path zip = temp_.path() / "vault-export.zip";
  write_archive(zip, {{"Custodian1/enron.pst", slurp(kEnron)}}, "zip");
  const auto run = scan(zip);
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(message_counts(run.err), message_counts(direct.err)) << run.err;
  EXPECT_NE(run.err.find("71 messages: 71 scanned"), std::string::npos) << run.err;
  EXPECT_EQ(tickets(run.out), tickets(direct.out));
  // The PST's own origin (folder, node id, item type) is kept; the entry is the container.
  for (const char* key : {"folder", "node_id", "item_type", "message_id"})
    EXPECT_EQ(fields(run.out, key), fields(direct.out, key)) << key;
  const auto containers = fields(run.out, "container");
  EXPECT_EQ(containers.size(), fields(run.out, "node_id").size());
  EXPECT_EQ(std::set<std::string>(containers.begin(), containers.end()),
            std::set<std::string>{"\"Custodian1/enron.pst\""});
  EXPECT_TRUE(fields(direct.out, "container").empty());
  // CSV: the file column shows archive!entry.
  const auto csv =
      run_credsift("scan --rules '" + rules_.string() + "' -f csv -o - '" + zip.string() + "'");
  EXPECT_NE(csv.out.find(zip.string() + "!Custodian1/enron.pst"), std::string::npos) << csv.out;
}

// A zip of an mbox, an .eml and the .msg files readpst -m writes from enron.pst gives the
// tickets and counts of the same files unpacked in a directory.
TEST_F(ContainersPst, ZipOfMboxEmlAndMsgMatchesTheDirectory) {
  const fs::path dir = temp_.path() / "export";
  fs::create_directories(dir / "msg");
  const std::string readpst = "readpst -q -m -j 0 -o '" + (dir / "msg").string() + "' '" +
                              kEnron.string() + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(readpst.c_str()), 0);
  std::vector<Entry> entries = {{"inbox.mbox", slurp(e2e::kSamples / "inbox.mbox")},
                                {"eml/s05.eml", slurp(e2e::kSamples / "eml/s05.eml")}};
  fs::copy(e2e::kSamples / "inbox.mbox", dir / "inbox.mbox");
  fs::create_directories(dir / "eml");
  fs::copy(e2e::kSamples / "eml/s05.eml", dir / "eml/s05.eml");
  size_t msgs = 0;
  for (const auto& f : fs::recursive_directory_iterator(dir / "msg"))
    if (f.is_regular_file() && f.path().extension() == ".msg") {
      entries.push_back({fs::relative(f.path(), dir).string(), slurp(f.path())});
      ++msgs;
    } else if (f.is_regular_file()) {
      fs::remove(f.path());  // readpst's other files (none expected with -m)
    }
  ASSERT_GE(msgs, 71u);
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  const auto direct = scan(dir);
  ASSERT_EQ(direct.exit_code, 1) << direct.err;
  const fs::path zip = temp_.path() / "purview.zip";
  write_archive(zip, entries, "zip");
  const auto run = scan(zip);
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(message_counts(run.err), message_counts(direct.err)) << run.err;
  EXPECT_EQ(tickets(run.out), tickets(direct.out));
  EXPECT_EQ(run.err.find("not mail"), std::string::npos) << run.err;
  const auto containers = fields(run.out, "container");
  EXPECT_TRUE(std::any_of(containers.begin(), containers.end(), [](const std::string& c) {
    return c.starts_with("\"msg/") && c.ends_with(".msg\"");
  })) << run.out;
  EXPECT_TRUE(containers.count("\"inbox.mbox\"")) << run.out;
  EXPECT_TRUE(containers.count("\"eml/s05.eml\"")) << run.out;
}

// A .pst attached to a mail is opened: its items are decoded as nested messages under the
// attachment's path, with the folder and node id in it; its tickets are the PST's.
TEST_F(ContainersPst, PstAttachedToAMailIsOpened) {
  const fs::path eml = temp_.path() / "forward.eml";
  {
    std::ofstream out(eml, std::ios::binary);
    out << "From: a@acme.test\r\nTo: b@acme.test\r\nSubject: the mailbox\r\n"
           "Message-ID: <pst@acme.test>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
           "Content-Type: text/plain\r\n\r\nattached\r\n--b\r\n"
           "Content-Type: application/octet-stream; name=\"mail.pst\"\r\n"
           "Content-Disposition: attachment; filename=\"mail.pst\"\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n";
  }
  const std::string encode = "base64 -w 76 '" + kEnron.string() + "' >>'" + eml.string() +
                             "' && printf -- '--b--\\r\\n' >>'" + eml.string() + "'";
  ASSERT_EQ(std::system(encode.c_str()), 0);
  const auto direct = scan(kEnron);
  const auto run = scan(eml);
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("1 messages: 1 scanned"), std::string::npos) << run.err;
  std::set<std::string> ids, direct_ids;
  for (const auto& [id, _] : tickets(run.out)) ids.insert(id);
  for (const auto& [id, _] : tickets(direct.out)) direct_ids.insert(id);
  EXPECT_EQ(ids, direct_ids);
  // Each part path names the PST's folder and the item's node, which the direct scan has.
  const auto parts = fields(run.out, "part_path");
  ASSERT_FALSE(parts.empty());
  const std::regex natural(
      R"re("2:attachment=mail\.pst/Top of Personal Folders/[^":]*:node=([0-9]+)!.*")re");
  const auto direct_nodes = fields(direct.out, "node_id");
  for (const std::string& part : parts) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(part, m, natural)) << part;
    EXPECT_TRUE(direct_nodes.count(m[1].str())) << part;
  }
  // Within the message's decompression budget: a small one stops the items, reported.
  const auto bounded = scan(eml, "--max-decompressed 1");
  EXPECT_NE(bounded.err.find("attachment=mail.pst: decompressed-bytes limit"), std::string::npos)
      << bounded.err;
  EXPECT_LT(tickets(bounded.out).size(), ids.size());
}

// Damaged PSTs inside a zip: each named as archive!entry, the next entry scanned, the input
// counted once as unreadable; the spilled copies are gone from $TMPDIR afterwards.
TEST_F(ContainersPst, DamagedPstEntriesAreReportedAndTheSpillIsRemoved) {
  const std::string pst = slurp(kEnron);
  std::string junk = "!BDN";
  for (uint32_t x = 7; junk.size() < 100000;) junk += char((x = x * 1103515245u + 12345u) >> 24);
  const fs::path zip = temp_.path() / "damaged.zip";
  write_archive(zip,
                {{"cut.pst", pst.substr(0, 1 << 20)},
                 {"junk.pst", junk},
                 {"mail/s05.eml", slurp(e2e::kSamples / "eml/s05.eml")}},
                "zip");
  const fs::path spill = temp_.path() / "spill";
  fs::create_directories(spill);
  const char* saved = std::getenv("TMPDIR");
  const std::string before = saved ? saved : "";
  ::setenv("TMPDIR", spill.c_str(), 1);
  const auto run = scan(zip);
  if (saved)
    ::setenv("TMPDIR", before.c_str(), 1);
  else
    ::unsetenv("TMPDIR");
  EXPECT_EQ(run.exit_code, 2) << run.err;  // an input named on the command line is incomplete
  EXPECT_NE(run.err.find(zip.string() + "!cut.pst at byte 0: PST/OST without a readable root"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find(zip.string() + "!junk.pst at byte 0: not a readable PST/OST file"),
            std::string::npos)
      << run.err;
  EXPECT_EQ(run.err.find("/proc/self/fd"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("1 messages: 1 scanned"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("2 files unreadable"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("1 input named on the command line could not be read"), std::string::npos)
      << run.err;
  EXPECT_NE(run.out.find("\"container\":\"mail/s05.eml\""), std::string::npos) << run.out;
  EXPECT_TRUE(fs::is_empty(spill));
}

}  // namespace
}  // namespace credsift

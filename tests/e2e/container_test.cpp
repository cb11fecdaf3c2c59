// Archives of mailboxes as inputs (issue 12, part 7): a zip, 7z or tar.gz of the sample corpus
// gives the tickets and message counts of the unpacked directory, with the entry's path in the
// origin of every output format; non-mail entries are counted as not mail; bombs and truncated
// archives are reported with file and entry, and the scan goes on.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

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

// Not an archive after all: a gzip'd mbox is still read as one (the gzip stream reader).
TEST(Containers, GzipMailboxIsStillAMailbox) {
  const auto run =
      run_credsift("scan -f jsonl -o - '" + (e2e::kSamples / "archive.mbox.gz").string() + "'");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(run.out.find("\"container\""), std::string::npos) << run.out;
  EXPECT_EQ(run.err.find("not mail"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace credsift

// PST/OST and .msg input against the references Debian ships: readpst (pst-utils) for PST
// folders, message counts, headers and bodies; msgconvert (libemail-outlook-message-perl) for
// .msg files that readpst -m writes. The PST files come from the npm package pst-extractor
// 1.12.0 (tests/pst/fetch); a planted token shows a finding with its folder and node id; damaged
// files get a warning naming them and the scan goes on.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../e2e/support.hpp"
#include "credsift/mime.hpp"
#include "credsift/source.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;
using e2e::run_credsift;
using e2e::slurp;
using e2e::TempDir;

const fs::path kData = fs::path(CREDSIFT_BUILD_DIR) / "test-data/pst";
const fs::path kEnron = kData / "enron.pst";
const fs::path kOst = kData / "pstextractortest@outlook.com.ost";

class Pst : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string command =
        "'" + (e2e::kSource / "tests/pst/fetch").string() + "' '" + kData.string() + "' >&2";
    const int status = std::system(command.c_str());
    fetch_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void SetUp() override {
    if (fetch_status_ == 77) GTEST_SKIP() << "npm registry unreachable: PST test data not fetched";
    ASSERT_EQ(fetch_status_, 0) << "tests/pst/fetch failed";
  }
  static inline int fetch_status_ = -1;
};

struct Item {
  Origin origin;
  std::string raw;
  std::string subject, from, message_id;
  std::string text;  // the first text/plain part, as UTF-8
};

std::string normalise(std::string_view text) {
  // Line ends and trailing blanks differ between writers; the words must not.
  std::string out;
  std::string line;
  auto flush = [&] {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
    out += line;
    out += '\n';
    line.clear();
  };
  for (char c : text) {
    if (c == '\r') continue;
    if (c == '\n')
      flush();
    else
      line += c;
  }
  flush();
  while (!out.empty() && out.back() == '\n') out.pop_back();
  size_t start = out.find_first_not_of('\n');
  return start == std::string::npos ? std::string() : out.substr(start);
}

size_t first_difference(const std::string& a, const std::string& b) {
  return static_cast<size_t>(
      std::mismatch(a.begin(), a.begin() + std::min(a.size(), b.size()), b.begin()).first -
      a.begin());
}

std::string around(const std::string& text, size_t at) {
  const size_t from = at > 100 ? at - 100 : 0;
  return text.substr(from, 300);
}

Item describe(Message message) {
  Item item;
  item.origin = message.origin;
  item.raw = std::string(message.bytes);
  const DecodedMessage decoded = decode_message(item.raw);
  item.subject = decoded.envelope.subject;
  item.from = decoded.envelope.from;
  item.message_id = e2e::strip_angles(decoded.envelope.message_id);
  for (const PartLeaf& leaf : part_leaves(item.raw)) {
    if (leaf.content_type != "text/plain" || !leaf.filename.empty()) continue;
    // part_leaves keeps the body undecoded: the charset is in the part's own header block,
    // the last Content-Type before the body (8bit text bodies appear in the raw message as is).
    std::string charset = "utf-8";
    const size_t body_at = item.raw.find(leaf.body.substr(0, 200));
    const size_t type_at = item.raw.rfind("Content-Type: text/plain", body_at);
    if (body_at != std::string::npos && type_at != std::string::npos) {
      const std::string header = item.raw.substr(type_at, body_at - type_at);
      const size_t at = header.find("charset=");
      if (at != std::string::npos) {
        size_t from = at + 8, to;
        if (header[from] == '"')
          to = header.find('"', ++from);
        else
          to = header.find_first_of("; \r\n", from);
        charset = header.substr(from, to - from);
      }
    }
    item.text = normalise(to_utf8(leaf.body, charset));
    break;
  }
  return item;
}

std::vector<Item> read_all(const std::vector<std::string>& inputs,
                           std::vector<std::string>* warnings = nullptr) {
  MessageSource source(inputs, {}, [&](const Diagnostic& d) {
    if (warnings) warnings->push_back(d.file + ": " + d.message);
  });
  std::vector<Item> items;
  while (auto message = source.next()) items.push_back(describe(std::move(*message)));
  return items;
}

// The folder path without its first step: libpff names the top "Top of Personal Folders",
// readpst names it after the message store ("Personal folders").
std::string below_top(const std::string& path) {
  const size_t slash = path.find('/');
  return slash == std::string::npos ? std::string() : path.substr(slash + 1);
}

// readpst -r: one mbox per folder, in a tree of directories named like the folders.
std::map<std::string, std::vector<Item>> readpst_by_folder(const fs::path& pst,
                                                           const fs::path& out) {
  fs::create_directories(out);
  const std::string command =
      "readpst -q -r -j 0 -o '" + out.string() + "' '" + pst.string() + "' >/dev/null 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::map<std::string, std::vector<Item>> by_folder;
  for (const auto& entry : fs::recursive_directory_iterator(out)) {
    if (!entry.is_regular_file() || entry.path().filename() != "mbox") continue;
    const std::string folder = below_top(fs::relative(entry.path().parent_path(), out).string());
    by_folder[folder] = read_all({entry.path().string()});
  }
  return by_folder;
}

TEST_F(Pst, EnronFolderCountsMatchReadpst) {
  TempDir temp;
  const auto reference = readpst_by_folder(kEnron, temp.path() / "readpst");
  std::vector<std::string> warnings;
  const auto ours = read_all({kEnron.string()}, &warnings);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  std::map<std::string, size_t> our_counts, their_counts;
  for (const Item& item : ours) {
    // The count held to readpst: mail items (readpst -r writes calendar and contact items
    // into the same mbox, but enron.pst has none).
    EXPECT_EQ(item.origin.location.item_type, "mail");
    EXPECT_TRUE(item.origin.location.node_id);
    EXPECT_FALSE(item.origin.location.recovered);
    ++our_counts[below_top(item.origin.location.folder)];
  }
  for (const auto& [folder, items] : reference) their_counts[folder] = items.size();
  EXPECT_EQ(our_counts, their_counts);
  EXPECT_EQ(ours.size(), 71u);
}

TEST_F(Pst, EnronHeadersAndBodiesMatchReadpst) {
  TempDir temp;
  const auto reference = readpst_by_folder(kEnron, temp.path() / "readpst");
  std::map<std::string, const Item*> ours_by_id;
  const auto ours = read_all({kEnron.string()});
  for (const Item& item : ours) ours_by_id[item.message_id] = &item;
  ASSERT_EQ(ours_by_id.size(), ours.size()) << "Message-IDs are not unique";
  size_t compared = 0, bodies_equal = 0;
  for (const auto& [folder, items] : reference) {
    for (const Item& theirs : items) {
      SCOPED_TRACE(folder + " " + theirs.message_id);
      const auto it = ours_by_id.find(theirs.message_id);
      ASSERT_NE(it, ours_by_id.end());
      const Item& mine = *it->second;
      EXPECT_EQ(below_top(mine.origin.location.folder), folder);
      EXPECT_EQ(mine.subject, theirs.subject);
      EXPECT_EQ(mine.from, theirs.from);
      ++compared;
      // Known difference: readpst writes the body in the message's codepage and labels it so;
      // libpff converts it to UTF-8. After charset decoding both must hold the same text.
      if (mine.text == theirs.text)
        ++bodies_equal;
      else
        ADD_FAILURE() << "body differs at byte " << first_difference(mine.text, theirs.text)
                      << " of " << mine.text.size() << "/" << theirs.text.size() << "\n--- ours\n"
                      << around(mine.text, first_difference(mine.text, theirs.text))
                      << "\n--- readpst\n"
                      << around(theirs.text, first_difference(mine.text, theirs.text));
    }
  }
  EXPECT_EQ(compared, 71u);
  EXPECT_EQ(bodies_equal, compared);
}

// readpst -m writes each message as a .msg (and an .eml); msgconvert turns the .msg into the
// reference .eml. Same subject, sender, Message-ID, plain text body and attachment names.
TEST_F(Pst, MsgFilesMatchMsgconvert) {
  TempDir temp;
  const std::string command = "cd '" + temp.path().string() + "' && readpst -q -m -j 0 -o . '" +
                              kEnron.string() + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::vector<fs::path> msgs;
  for (const auto& entry : fs::recursive_directory_iterator(temp.path()))
    if (entry.path().extension() == ".msg") msgs.push_back(entry.path());
  std::sort(msgs.begin(), msgs.end());
  ASSERT_EQ(msgs.size(), 71u);
  // readpst's own .eml files are replaced by msgconvert's, which it writes into the current
  // directory: run it in each folder.
  for (const fs::path& msg : msgs) fs::remove(fs::path(msg).replace_extension(".eml"));
  const std::string convert = "cd '" + temp.path().string() +
                              "' && find . -name '*.msg' -execdir msgconvert {} + >/dev/null 2>&1";
  ASSERT_EQ(std::system(convert.c_str()), 0) << convert;
  size_t attachments = 0;
  for (const fs::path& msg : msgs) {
    SCOPED_TRACE(msg.string());
    std::vector<std::string> warnings;
    const auto ours = read_all({msg.string()}, &warnings);
    const auto theirs = read_all({fs::path(msg).replace_extension(".eml").string()});
    ASSERT_EQ(ours.size(), 1u);
    ASSERT_EQ(theirs.size(), 1u);
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    EXPECT_EQ(ours[0].origin.location.item_type, "mail");
    EXPECT_EQ(ours[0].subject, theirs[0].subject);
    EXPECT_EQ(ours[0].message_id, theirs[0].message_id);
    EXPECT_EQ(ours[0].from, theirs[0].from);
    EXPECT_EQ(ours[0].text, theirs[0].text)
        << "at byte " << first_difference(ours[0].text, theirs[0].text);
    std::multiset<std::string> our_names, their_names;
    for (const PartLeaf& leaf : part_leaves(ours[0].raw))
      if (!leaf.filename.empty()) our_names.insert(leaf.filename);
    for (const PartLeaf& leaf : part_leaves(theirs[0].raw))
      if (!leaf.filename.empty()) their_names.insert(leaf.filename);
    EXPECT_EQ(our_names, their_names);
    attachments += our_names.size();
  }
  EXPECT_GT(attachments, 0u);
}

// MS-PST "compressible encryption" (NDB_CRYPT_PERMUTE, enron.pst's) maps every byte of a data
// block through one fixed permutation. Rather than copying its table, learn it from the file:
// a body we read through libpff, as UTF-16LE, has a pattern of equal bytes that occurs once in
// the file, and lines the plain bytes up with the stored ones.
struct Learned {
  std::map<unsigned char, unsigned char> encode;
  std::vector<std::pair<size_t, const Item*>> bodies;  // file offset of each body's start
};

Learned learn_permutation(const std::string& file, const std::vector<Item>& items) {
  // The stored form of U+0000's high byte: the byte that fills every other position of long
  // runs (UTF-16 text) without filling the positions between (zeroed pages do both).
  std::map<unsigned char, size_t> runs;
  for (size_t i = 0; i + 32 < file.size(); ++i) {
    const char v = file[i];
    if (file[i + 1] == v) continue;
    bool run = true;
    for (size_t k = 2; k < 32 && run; k += 2) run = file[i + k] == v;
    if (run) ++runs[static_cast<unsigned char>(v)];
  }
  const auto zero = std::max_element(runs.begin(), runs.end(), [](auto& a, auto& b) {
                      return a.second < b.second;
                    })->first;
  Learned learned;
  for (const Item& item : items) {
    std::string_view text = item.text;
    if (text.size() < 48) continue;
    text = text.substr(0, 48);
    if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; }))
      continue;
    std::string plain;
    for (char c : text) plain += {c, '\0'};
    size_t found = std::string::npos, hits = 0;
    for (size_t i = 0; i + plain.size() <= file.size() && hits < 2; ++i) {
      if (static_cast<unsigned char>(file[i + 1]) != zero) continue;
      unsigned char forward[256] = {}, backward[256] = {};
      bool seen_f[256] = {}, seen_b[256] = {};
      bool ok = true;
      for (size_t j = 0; j < plain.size() && ok; ++j) {
        const auto p = static_cast<unsigned char>(plain[j]);
        const auto c = static_cast<unsigned char>(file[i + j]);
        if (seen_f[p] ? forward[p] != c : seen_b[c]) ok = false;
        if (seen_b[c] && backward[c] != p) ok = false;
        seen_f[p] = seen_b[c] = true;
        forward[p] = c;
        backward[c] = p;
      }
      if (ok) {
        found = i;
        ++hits;
      }
    }
    if (hits != 1) continue;
    // Past the window, learn along the body while the bytes stay consistent (a body longer
    // than a data block goes on elsewhere).
    std::map<unsigned char, unsigned char> encode = learned.encode, decode;
    for (const auto& [p, c] : encode) decode[c] = p;
    const std::string_view full = item.text;
    for (size_t j = 0; j < full.size() && found + 2 * j + 1 < file.size(); ++j) {
      const auto p = static_cast<unsigned char>(full[j]);
      if (p >= 0x80 || p < 0x20) break;
      const auto c = static_cast<unsigned char>(file[found + 2 * j]);
      const auto z = static_cast<unsigned char>(file[found + 2 * j + 1]);
      if (z != zero) break;
      if ((encode.count(p) && encode[p] != c) || (decode.count(c) && decode[c] != p)) break;
      encode[p] = c;
      decode[c] = p;
    }
    encode[0] = zero;
    learned.encode = std::move(encode);
    learned.bodies.emplace_back(found, &item);
  }
  return learned;
}

TEST_F(Pst, PlantedTokenInAnEncryptedBodyIsFoundWithFolderAndNode) {
  std::string file = slurp(kEnron);
  ASSERT_EQ(file[0x201], '\x01') << "enron.pst uses compressible encryption";
  const auto items = read_all({kEnron.string()});
  const Learned learned = learn_permutation(file, items);
  ASSERT_FALSE(learned.bodies.empty());
  // A GitLab runner token made of characters that occur in the bodies learned from: a letter
  // or digit the bodies lack is swapped for one of the same kind they have.
  auto covered = [&](char c) { return learned.encode.count(static_cast<unsigned char>(c)) > 0; };
  std::string token = "token glrt-14JdF3VddBOkGgGcpw4k ";
  const std::string rule = "gitlab.runner_token";
  for (size_t i = 11; i + 1 < token.size(); ++i) {
    if (covered(token[i])) continue;
    const char* alphabet = std::isdigit(static_cast<unsigned char>(token[i])) ? "0123456789"
                           : std::isupper(static_cast<unsigned char>(token[i]))
                               ? "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               : "abcdefghijklmnopqrstuvwxyz";
    for (const char* c = alphabet; *c; ++c)
      if (covered(*c)) {
        token[i] = *c;
        break;
      }
  }
  ASSERT_TRUE(std::all_of(token.begin(), token.end(), covered))
      << "the learned bytes do not cover " << token;
  const auto [offset, item] = learned.bodies.front();
  for (size_t j = 0; j < token.size(); ++j) {
    file[offset + 2 * j] =
        static_cast<char>(learned.encode.at(static_cast<unsigned char>(token[j])));
    file[offset + 2 * j + 1] = static_cast<char>(learned.encode.at(0));
  }
  TempDir temp;
  const fs::path planted = temp.path() / "planted.pst";
  std::ofstream(planted, std::ios::binary) << file;
  const auto run = run_credsift("scan -f jsonl -o - '" + planted.string() + "'");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.out.find("\"rule_id\":\"" + rule + "\""), std::string::npos) << run.out;
  const std::string where = "\"folder\":\"" + item->origin.location.folder +
                            "\",\"node_id\":" + std::to_string(*item->origin.location.node_id);
  EXPECT_NE(run.out.find(where), std::string::npos) << where << "\n" << run.out;
  EXPECT_NE(run.out.find("\"item_type\":\"mail\""), std::string::npos);

  // The same item as a .msg (readpst -m of the planted file): alone, and forwarded as an
  // attachment of a mail (part 7: a .msg inside a message).
  const std::string readpst = "cd '" + temp.path().string() + "' && readpst -q -m -j 0 -o . '" +
                              planted.string() + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(readpst.c_str()), 0);
  std::string utf16;
  for (char c : token) utf16 += {c, '\0'};
  fs::path msg;
  for (const auto& entry : fs::recursive_directory_iterator(temp.path()))
    if (entry.path().extension() == ".msg") {
      const std::string bytes = slurp(entry.path());  // PT_UNICODE or PT_STRING8 body
      if (bytes.find(utf16) != std::string::npos || bytes.find(token) != std::string::npos)
        msg = entry.path();
    }
  ASSERT_FALSE(msg.empty()) << "readpst -m lost the planted token";
  const auto alone = run_credsift("scan -f jsonl -o - '" + msg.string() + "'");
  EXPECT_EQ(alone.exit_code, 1) << alone.err;
  EXPECT_NE(alone.out.find("\"rule_id\":\"" + rule + "\""), std::string::npos) << alone.out;

  const fs::path eml = temp.path() / "forward.eml";
  {
    std::ofstream out(eml, std::ios::binary);
    out << "From: a@acme.test\r\nTo: b@acme.test\r\nSubject: fwd\r\nMessage-ID: <fwd@acme.test>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
           "Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
           "Content-Type: application/vnd.ms-outlook; name=\"fwd.msg\"\r\n"
           "Content-Disposition: attachment; filename=\"fwd.msg\"\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n";
  }
  const std::string encode = "base64 -w 76 '" + msg.string() + "' >>'" + eml.string() +
                             "' && printf -- '--b--\\r\\n' >>'" + eml.string() + "'";
  ASSERT_EQ(std::system(encode.c_str()), 0);
  const auto forwarded = run_credsift("scan -f jsonl -o - '" + eml.string() + "'");
  EXPECT_EQ(forwarded.exit_code, 1) << forwarded.err;
  EXPECT_NE(forwarded.out.find("\"rule_id\":\"" + rule + "\""), std::string::npos) << forwarded.out;
  EXPECT_NE(forwarded.out.find("attachment=fwd.msg"), std::string::npos) << forwarded.out;
}

// Damaged containers: a warning or error that names the file, the other inputs scanned, no
// crash. s05.eml (a Slack token) comes last to show the scan went on.
TEST_F(Pst, DamagedFilesAreReportedAndTheScanGoesOn) {
  TempDir temp;
  const std::string pst = slurp(kEnron);
  const fs::path truncated = temp.path() / "truncated.pst";
  std::ofstream(truncated, std::ios::binary) << pst.substr(0, 1 << 20);
  std::mt19937 random(12);
  const fs::path fake = temp.path() / "fake.pst";
  {
    std::string bytes = "!BDN";
    for (int i = 0; i < 5000; ++i) bytes += static_cast<char>(random());
    std::ofstream(fake, std::ios::binary) << bytes;
  }
  const fs::path corrupted = temp.path() / "corrupted.pst";
  {
    std::string bytes = pst;
    for (int i = 0; i < 2000; ++i) {
      const size_t at = 4096 + random() % (bytes.size() - 4096 - 16);
      for (size_t k = 0; k < 16; ++k) bytes[at + k] = static_cast<char>(random());
    }
    std::ofstream(corrupted, std::ios::binary) << bytes;
  }
  // A .msg cut in half, and one cut to its first sector.
  const std::string readpst = "cd '" + temp.path().string() + "' && readpst -q -m -j 0 -o . '" +
                              kEnron.string() + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(readpst.c_str()), 0);
  fs::path biggest;
  for (const auto& entry : fs::recursive_directory_iterator(temp.path()))
    if (entry.path().extension() == ".msg" &&
        (biggest.empty() || entry.file_size() > fs::file_size(biggest)))
      biggest = entry.path();
  const std::string msg = slurp(biggest);
  const fs::path cut_msg = temp.path() / "cut.msg";
  std::ofstream(cut_msg, std::ios::binary) << msg.substr(0, msg.size() / 2);
  const fs::path not_msg = temp.path() / "sector.msg";
  std::ofstream(not_msg, std::ios::binary) << msg.substr(0, 512);

  const auto run =
      run_credsift("scan -f jsonl -o - '" + truncated.string() + "' '" + fake.string() + "' '" +
                   corrupted.string() + "' '" + cut_msg.string() + "' '" + not_msg.string() +
                   "' '" + (e2e::kSamples / "eml/s05.eml").string() + "'");
  // 2: inputs named on the command line could not be read (the scan is incomplete), though the
  // token of s05.eml is still reported; a crash gives -1.
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.out.find("slack.bot_token"), std::string::npos);
  EXPECT_NE(run.err.find("truncated.pst at byte 0: PST/OST without a readable root folder"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("fake.pst at byte 0: not a readable PST/OST file"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("cut.msg at byte 0: damaged OLE2 compound file"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("sector.msg at byte 0: damaged OLE2 compound file"), std::string::npos);
  EXPECT_NE(run.err.find("4 files unreadable"), std::string::npos) << run.err;
  // Items whose properties cannot be read are counted as skipped, with the reason.
  EXPECT_NE(run.err.find("skipped: unreadable PST item"), std::string::npos);
}

TEST_F(Pst, OstIsReadWithEveryItemType) {
  std::vector<std::string> warnings;
  const auto ours = read_all({kOst.string()}, &warnings);
  std::map<std::string, size_t> by_type;
  for (const Item& item : ours) ++by_type[item.origin.location.item_type];
  EXPECT_GT(by_type["mail"], 0u);
  EXPECT_GT(by_type["appointment"], 0u);
  for (const Item& item : ours) {
    EXPECT_EQ(item.origin.location.folder.rfind("Root - Mailbox/", 0), 0u)
        << item.origin.location.folder;
    EXPECT_TRUE(item.origin.location.node_id);
  }
}

// Folder items are read and rendered in the parallel stage, in runs of consecutive items that
// one worker reads through one libpff handle (a PST of up to 16 MiB is one run): completed on
// several threads in a scrambled order, the runs put end to end equal a serial read.
TEST_F(Pst, RunsCompletedOnManyThreadsEqualASerialRead) {
  for (const fs::path& file : {kEnron, kOst}) {
    std::vector<Message> serial;
    {
      MessageSource source({file.string()}, {}, {});
      while (auto message = source.next()) serial.push_back(std::move(*message));
    }
    MessageSource source({file.string()}, {}, {});
    std::vector<InputBatch> batches;
    while (auto batch = source.next_batch(1 << 20)) batches.push_back(std::move(*batch));
    ASSERT_FALSE(batches.empty()) << file;
    for (const InputBatch& batch : batches) {
      EXPECT_TRUE(batch.complete_run) << "items are left to the parallel stage";
      EXPECT_FALSE(batch.message);
    }
    // enron.pst (14 MB) is one run; the OST (17 MB) two, read through two handles.
    EXPECT_EQ(batches.size(), file == kEnron ? 1u : 2u) << file;
    std::vector<std::vector<Message>> runs(batches.size());
    std::vector<size_t> order(batches.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(7));
    std::atomic<size_t> next{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t)
      workers.emplace_back([&] {
        for (size_t k; (k = next++) < order.size();) {
          const size_t i = order[k];
          batches[i].complete_run(runs[i]);
        }
      });
    for (std::thread& worker : workers) worker.join();
    std::vector<Message> ours;
    for (std::vector<Message>& run : runs)
      for (Message& message : run) ours.push_back(std::move(message));
    ASSERT_EQ(ours.size(), serial.size()) << file;
    for (size_t i = 0; i < serial.size(); ++i) {
      EXPECT_EQ(ours[i].bytes, serial[i].bytes) << file << " item " << i;
      EXPECT_EQ(ours[i].origin.index, serial[i].origin.index);
      EXPECT_EQ(ours[i].origin.index, i);
      EXPECT_EQ(ours[i].origin.location.folder, serial[i].origin.location.folder);
      EXPECT_EQ(ours[i].origin.location.node_id, serial[i].origin.location.node_id);
      EXPECT_EQ(ours[i].origin.location.item_type, serial[i].origin.location.item_type);
      EXPECT_EQ(ours[i].origin.location.recovered, serial[i].origin.location.recovered);
      EXPECT_EQ(ours[i].skip_reason, serial[i].skip_reason);
    }
  }
}

TEST_F(Pst, ScanSummaryCountsItemsByType) {
  const auto run = run_credsift("scan -q -f json -o - '" + kOst.string() + "'");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("\"items_by_type\":{\"appointment\":"), std::string::npos) << run.out;
}

}  // namespace
}  // namespace credsift

// Tests of the source stage: mbox splitting, sniffing, and MessageSource over real files,
// directories, Maildirs, gzip and pipes.
#include "credsift/source.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace credsift {
namespace {

namespace fs = std::filesystem;

// ----------------------------------------------------------------------------- helpers

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "credsift_source_XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    // Restore permissions a test may have removed, so that cleanup works.
    for (auto it = fs::recursive_directory_iterator(path_, ec); it != fs::end(it); it.increment(ec))
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const std::string& path, std::string_view content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  ASSERT_TRUE(out.good()) << path;
}

void write_gzip(const std::string& path, std::string_view content, const char* mode = "wb") {
  fs::create_directories(fs::path(path).parent_path());
  gzFile gz = gzopen(path.c_str(), mode);
  ASSERT_NE(gz, nullptr);
  // gzwrite takes an unsigned length: write in pieces.
  size_t done = 0;
  while (done < content.size()) {
    const unsigned n = static_cast<unsigned>(std::min<size_t>(content.size() - done, 1 << 20));
    ASSERT_EQ(gzwrite(gz, content.data() + done, n), static_cast<int>(n));
    done += n;
  }
  ASSERT_EQ(gzclose(gz), Z_OK);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Got {
  std::string bytes;
  std::string file;
  uint64_t offset;
  uint64_t index;
  uint64_t sequence;
  std::string skip;
};

struct ScanResult {
  std::vector<Got> messages;
  std::vector<Diagnostic> diagnostics;
  uint64_t files_failed = 0;
  uint64_t bytes_read = 0;
};

ScanResult scan(std::vector<std::string> inputs, SourceOptions options = {}) {
  ScanResult run;
  MessageSource source(std::move(inputs), options,
                       [&](const Diagnostic& d) { run.diagnostics.push_back(d); });
  while (auto m = source.next()) {
    run.messages.push_back({std::string(m->bytes), *m->origin.file, m->origin.offset,
                            m->origin.index, m->sequence, m->skip_reason});
  }
  run.files_failed = source.files_failed();
  run.bytes_read = source.bytes_read();
  return run;
}

std::string msg(const std::string& id, const std::string& body = "hello\n") {
  return "From: a@example.com\nSubject: " + id + "\nMessage-ID: <" + id + "@x>\n\n" + body;
}

// An mbox of the given messages, with the usual From_ lines and blank separator lines.
std::string mbox_of(const std::vector<std::string>& messages) {
  std::string out;
  for (const auto& m : messages)
    out += "From sender@example.com Mon Jan  1 00:00:00 2024\n" + m + "\n";
  return out;
}

// ----------------------------------------------------------------------------- split_mbox

TEST(SplitMbox, TwoMessagesWithExactOffsets) {
  const std::string m1 = "Subject: one\n\nbody one\n";
  const std::string m2 = "Subject: two\n\nbody two\n";
  const std::string from1 = "From a@b Sat Jan  3 01:05:34 1996\n";
  const std::string from2 = "From c@d Sun Jan  4 01:05:34 1996\n";
  const std::string box = from1 + m1 + "\n" + from2 + m2 + "\n";
  const auto pieces = split_mbox(box);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].bytes, m1);
  EXPECT_EQ(pieces[0].offset, from1.size());
  EXPECT_EQ(pieces[1].bytes, m2);
  EXPECT_EQ(pieces[1].offset, from1.size() + m1.size() + 1 + from2.size());
  EXPECT_FALSE(pieces[0].needs_unescape);
  EXPECT_EQ(box.substr(pieces[1].offset, pieces[1].bytes.size()), m2);
}

TEST(SplitMbox, MboxrdUnescape) {
  const std::string box =
      "From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\n>From the start\n>>From quoted\n"
      "> From not escaped\n>Fromage\nmid >From line\n>From end";
  const auto pieces = split_mbox(box);
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_TRUE(pieces[0].needs_unescape);
  EXPECT_EQ(unescape_mboxrd(pieces[0].bytes),
            "Subject: x\n\nFrom the start\n>From quoted\n> From not escaped\n>Fromage\n"
            "mid >From line\nFrom end");
  EXPECT_EQ(unescape_mboxrd(">From x"), "From x");
  EXPECT_EQ(unescape_mboxrd("a\n>>>From x\n"), "a\n>>From x\n");
  EXPECT_EQ(unescape_mboxrd("nothing here"), "nothing here");
  EXPECT_FALSE(split_mbox("From a\nS: x\n\n> From x\nb>From y\n")[0].needs_unescape);
}

TEST(SplitMbox, UnescapedFromInBodyIsNotASeparator) {
  // Not after a blank line: body text, even though a header-like line follows.
  const std::string body_mid = "Subject: x\n\nline\nFrom here on we go\nTo: the store\n";
  // After a blank line but no header block follows.
  const std::string body_blank = "Subject: y\n\npara\n\nFrom the desk of Bob\nhello there\n";
  const std::string box = "From a Mon\n" + body_mid + "\nFrom b Tue\n" + body_blank;
  const auto pieces = split_mbox(box);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].bytes, body_mid);
  EXPECT_EQ(pieces[1].bytes, body_blank);
  EXPECT_EQ(pieces[1].offset, box.size() - body_blank.size());
}

TEST(SplitMbox, CrlfMbox) {
  const std::string m1 = "Subject: one\r\n\r\nbody\r\n";
  const std::string m2 = "Subject: two\r\n\r\nbody2\r\n";
  const std::string box = "From a Mon\r\n" + m1 + "\r\nFrom b Tue\r\n" + m2 + "\r\n";
  const auto pieces = split_mbox(box);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].bytes, m1);
  EXPECT_EQ(pieces[0].offset, 12u);
  EXPECT_EQ(pieces[1].bytes, m2);
  EXPECT_EQ(pieces[1].offset, 12 + m1.size() + 2 + 12);
}

TEST(SplitMbox, LastMessageWithoutTrailingNewline) {
  const std::string box = "From a\nS: 1\n\nx\n\nFrom b\nS: 2\n\nno newline";
  const auto pieces = split_mbox(box);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].bytes, "S: 1\n\nx\n");
  EXPECT_EQ(pieces[1].bytes, "S: 2\n\nno newline");
  EXPECT_EQ(pieces[1].offset, box.find("S: 2"));
}

TEST(SplitMbox, EmptyBlankAndLeadingGarbage) {
  EXPECT_TRUE(split_mbox("").empty());
  EXPECT_TRUE(split_mbox("\n\r\n\n").empty());
  // Blank lines before the first From_ line are dropped, the offset still counts them.
  auto pieces = split_mbox("\n\nFrom a\nS: 1\n\nb\n");
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0].offset, 9u);
  // Non-blank text before the first From_ line becomes a message, so nothing is lost.
  pieces = split_mbox("junk line\n\nFrom a\nS: 1\n\nb\n");
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].bytes, "junk line\n");
  EXPECT_EQ(pieces[0].offset, 0u);
  EXPECT_EQ(pieces[1].bytes, "S: 1\n\nb\n");
  // A From_ line not followed by a header block is not a separator, even at the start.
  pieces = split_mbox("From nowhere\njust text\n");
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0].bytes, "From nowhere\njust text\n");
}

TEST(SplitMbox, ObsoleteHeaderSyntaxAndEmptyBody) {
  const auto pieces = split_mbox("From a\nSubject : x\n\nFrom b\nS: y\n");
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].bytes, "Subject : x\n");
  EXPECT_EQ(pieces[1].bytes, "S: y\n");
}

// ----------------------------------------------------------------------------- sniff_format

TEST(SniffFormat, ByContent) {
  EXPECT_EQ(sniff_format("From a@b Mon Jan 1\nSubject: x\n"), InputFormat::Mbox);
  EXPECT_EQ(sniff_format("\n\nFrom a@b Mon Jan 1\n"), InputFormat::Mbox);
  EXPECT_EQ(sniff_format("\xEF\xBB\xBF"
                         "From a@b Mon Jan 1\n"),
            InputFormat::Mbox);
  EXPECT_EQ(sniff_format("Return-Path: <a@b>\nReceived: from x\n\tby y\n"), InputFormat::Eml);
  EXPECT_EQ(sniff_format("Received: from x by y\r\n"), InputFormat::Eml);
  EXPECT_EQ(sniff_format("Delivered-To: a@b\n"), InputFormat::Eml);
  EXPECT_EQ(sniff_format("X-Mailer: foo\n"), InputFormat::Eml);
  EXPECT_EQ(sniff_format("Message-ID: <a@b>\n"), InputFormat::Eml);
  EXPECT_EQ(sniff_format("MIME-Version: 1.0\n"), InputFormat::Eml);
  EXPECT_EQ(sniff_format("From: a@b\nTo: c@d\n"), InputFormat::Eml);
  EXPECT_EQ(sniff_format("Foo-Bar: 1\nSubject: hi\n\nbody"), InputFormat::Eml);
  // Not mail.
  EXPECT_EQ(sniff_format(""), InputFormat::Unknown);
  EXPECT_EQ(sniff_format("\x89PNG\r\n\x1a\n"), InputFormat::Unknown);
  // A header block followed by binary bytes is a message with a garbage body, still mail.
  EXPECT_EQ(sniff_format(std::string("Subject: x\n\0\0", 13)), InputFormat::Eml);
  EXPECT_EQ(sniff_format(std::string("\x7f"
                                     "ELF\0\0Subject: x\n",
                                     17)),
            InputFormat::Unknown);
  EXPECT_EQ(sniff_format("hello world\n"), InputFormat::Unknown);
  EXPECT_EQ(sniff_format("name: app\nversion: 2\n"), InputFormat::Unknown);  // YAML
  EXPECT_EQ(sniff_format("{\"From\": 1}\n"), InputFormat::Unknown);
  EXPECT_EQ(sniff_format("\nSubject: x\n"), InputFormat::Unknown);
  EXPECT_EQ(sniff_format("Fromage is cheese\n"), InputFormat::Unknown);
  // Text before the first From_ line of an mbox.
  EXPECT_EQ(sniff_format("exported by tool\n\nFrom a Mon\nSubject: x\n"), InputFormat::Mbox);
  EXPECT_EQ(sniff_format("exported by tool\n\nFrom a Mon\nno header\n"), InputFormat::Unknown);
}

// ----------------------------------------------------------------------------- MessageSource

TEST(MessageSource, DirectoryTreeInDeterministicOrder) {
  TempDir dir;
  const std::string root = dir / "in";
  write_file(root + "/a.mbox", mbox_of({msg("a1"), msg("a2", ">From escaped\nx\n")}));
  write_file(root + "/b/cur/2", msg("cur2"));
  write_file(root + "/b/cur/1", msg("cur1"));
  write_file(root + "/b/new/1", msg("new1"));
  write_file(root + "/b/tmp/1", msg("tmp1"));  // in delivery: never read
  write_file(root + "/b/dovecot-uidlist", "3 V1 N4\n");
  write_file(root + "/c.eml", msg("c"));
  write_gzip(root + "/d.mbox.gz", mbox_of({msg("d1"), msg("d2")}));
  write_gzip(root + "/e.eml.gz", msg("e"));
  write_file(root + "/f.bin", std::string("\x89PNG\r\n\x1a\n\0\0\0", 11));
  write_file(root + "/g.empty", "");

  const ScanResult run = scan({root});
  std::vector<std::string> subjects;
  for (const auto& m : run.messages) {
    EXPECT_TRUE(m.skip.empty()) << m.file;
    const auto s = m.bytes.find("Subject: ");
    subjects.push_back(m.bytes.substr(s + 9, m.bytes.find('\n', s) - s - 9));
  }
  EXPECT_EQ(subjects,
            (std::vector<std::string>{"a1", "a2", "cur1", "cur2", "new1", "c", "d1", "d2", "e"}));
  for (size_t i = 0; i < run.messages.size(); ++i) EXPECT_EQ(run.messages[i].sequence, i);
  EXPECT_EQ(run.files_failed, 0u);
  ASSERT_EQ(run.diagnostics.size(), 1u);
  EXPECT_EQ(run.diagnostics[0].level, Diagnostic::Level::Warning);
  EXPECT_EQ(run.diagnostics[0].file, root + "/f.bin");

  // Origins: file, offset of the first header byte, index within the file.
  const std::string from_line = "From sender@example.com Mon Jan  1 00:00:00 2024\n";
  EXPECT_EQ(run.messages[0].file, root + "/a.mbox");
  EXPECT_EQ(run.messages[0].offset, from_line.size());
  EXPECT_EQ(run.messages[1].offset, 2 * from_line.size() + msg("a1").size() + 1);
  EXPECT_EQ(run.messages[1].index, 1u);
  EXPECT_NE(run.messages[1].bytes.find("\n\nFrom escaped\n"), std::string::npos);  // unescaped
  EXPECT_EQ(run.messages[2].file, root + "/b/cur/1");
  EXPECT_EQ(run.messages[2].offset, 0u);
  EXPECT_EQ(run.messages[2].bytes, msg("cur1"));
  EXPECT_EQ(run.messages[7].file, root + "/d.mbox.gz");
  EXPECT_EQ(run.messages[7].offset, 2 * from_line.size() + msg("d1").size() + 1);
  EXPECT_EQ(run.messages[7].index, 1u);
  EXPECT_EQ(run.messages[8].bytes, msg("e"));

  // Same tree, same order, every time.
  const ScanResult again = scan({root});
  ASSERT_EQ(again.messages.size(), run.messages.size());
  for (size_t i = 0; i < run.messages.size(); ++i) {
    EXPECT_EQ(again.messages[i].file, run.messages[i].file);
    EXPECT_EQ(again.messages[i].offset, run.messages[i].offset);
  }

  // bytes_read: the raw sizes of everything read (the skipped binary file was only sniffed).
  uint64_t expected = 0;
  for (const char* f : {"/a.mbox", "/b/cur/1", "/b/cur/2", "/b/new/1", "/c.eml", "/d.mbox.gz",
                        "/e.eml.gz", "/f.bin"})
    expected += fs::file_size(root + f);
  EXPECT_EQ(run.bytes_read, expected);
}

TEST(MessageSource, MaildirPlusPlusFoldersAndExplicitOrder) {
  TempDir dir;
  write_file(dir / "md/cur/1", msg("inbox"));
  write_file(dir / "md/new/.keep", "");
  write_file(dir / "md/.Sent/cur/1", msg("sent"));
  write_file(dir / "md/.Sent/new/9", msg("sent-new"));
  write_file(dir / "z.eml", msg("z"));
  // Inputs keep the order given, not sorted.
  const ScanResult run = scan({dir / "z.eml", dir / "md"});
  ASSERT_EQ(run.messages.size(), 4u);
  EXPECT_EQ(run.messages[0].bytes, msg("z"));
  EXPECT_EQ(run.messages[1].bytes, msg("inbox"));
  EXPECT_EQ(run.messages[2].bytes, msg("sent"));
  EXPECT_EQ(run.messages[3].bytes, msg("sent-new"));
  EXPECT_TRUE(run.diagnostics.empty());
}

TEST(MessageSource, MissingPathIsAnErrorAndTheScanGoesOn) {
  TempDir dir;
  write_file(dir / "ok.eml", msg("ok"));
  const ScanResult run = scan({dir / "missing.mbox", dir / "ok.eml"});
  EXPECT_EQ(run.files_failed, 1u);
  ASSERT_EQ(run.diagnostics.size(), 1u);
  EXPECT_EQ(run.diagnostics[0].level, Diagnostic::Level::Error);
  EXPECT_EQ(run.diagnostics[0].file, dir / "missing.mbox");
  ASSERT_EQ(run.messages.size(), 1u);
  EXPECT_EQ(run.messages[0].bytes, msg("ok"));
}

TEST(MessageSource, UnreadableFileAndDirectory) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads everything";
  TempDir dir;
  write_file(dir / "t/locked.eml", msg("x"));
  write_file(dir / "t/sub/m.eml", msg("y"));
  write_file(dir / "t/z.eml", msg("z"));
  chmod((dir / "t/locked.eml").c_str(), 0);
  chmod((dir / "t/sub").c_str(), 0);
  const ScanResult run = scan({dir / "t"});
  EXPECT_EQ(run.files_failed, 2u);
  ASSERT_EQ(run.messages.size(), 1u);
  EXPECT_EQ(run.messages[0].bytes, msg("z"));
  ASSERT_EQ(run.diagnostics.size(), 2u);
  for (const auto& d : run.diagnostics) EXPECT_EQ(d.level, Diagnostic::Level::Error);
}

TEST(MessageSource, TruncatedGzipKeepsCompleteMessages) {
  TempDir dir;
  // Incompressible bodies so that cutting the compressed file cuts late in the data.
  std::mt19937 rng(7);
  auto noise = [&](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += "abcdefghijklmnopqrstuvwxyz0123456789"[rng() % 36];
    return s + "\n";
  };
  const std::vector<std::string> messages = {msg("t1", noise(3000)), msg("t2", noise(3000)),
                                             msg("t3", noise(30000))};
  const std::string box = mbox_of(messages);
  write_gzip(dir / "full.gz", box);
  const std::string gz = read_file(dir / "full.gz");
  write_file(dir / "cut.gz", gz.substr(0, gz.size() * 2 / 3));
  write_file(dir / "after.eml", msg("after"));

  const ScanResult run = scan({dir / "cut.gz", dir / "after.eml"});
  EXPECT_EQ(run.files_failed, 1u);
  ASSERT_EQ(run.diagnostics.size(), 1u);
  const Diagnostic& d = run.diagnostics[0];
  EXPECT_EQ(d.level, Diagnostic::Level::Error);
  EXPECT_EQ(d.file, dir / "cut.gz");
  EXPECT_GT(d.offset, box.find("From: a@example.com\nSubject: t3"));
  EXPECT_LT(d.offset, box.size());
  EXPECT_NE(d.message.find("truncated"), std::string::npos) << d.message;
  ASSERT_EQ(run.messages.size(), 4u);
  EXPECT_EQ(run.messages[0].bytes, messages[0]);
  EXPECT_EQ(run.messages[1].bytes, messages[1]);
  // The message cut by the error is accounted for, not scanned.
  EXPECT_NE(run.messages[2].skip.find("incomplete"), std::string::npos);
  EXPECT_EQ(run.messages[2].offset, box.find("From: a@example.com\nSubject: t3"));
  EXPECT_EQ(run.messages[3].bytes, msg("after"));
}

TEST(MessageSource, CorruptGzipIsAnError) {
  TempDir dir;
  write_gzip(dir / "x.gz", mbox_of({msg("a"), msg("b")}));
  std::string gz = read_file(dir / "x.gz");
  for (size_t i = 12; i < gz.size() - 8; ++i) gz[i] = static_cast<char>(0xff);
  write_file(dir / "x.gz", gz);
  const ScanResult run = scan({dir / "x.gz"});
  EXPECT_EQ(run.files_failed, 1u);
  ASSERT_FALSE(run.diagnostics.empty());
  EXPECT_EQ(run.diagnostics[0].level, Diagnostic::Level::Error);
  for (const auto& m : run.messages) EXPECT_FALSE(m.skip.empty());
}

TEST(MessageSource, ConcatenatedGzipMembers) {
  TempDir dir;
  write_gzip(dir / "x.gz", mbox_of({msg("a")}));
  write_gzip(dir / "x.gz", mbox_of({msg("b")}), "ab");
  const ScanResult run = scan({dir / "x.gz"});
  ASSERT_EQ(run.messages.size(), 2u);
  EXPECT_EQ(run.messages[0].bytes, msg("a"));
  EXPECT_EQ(run.messages[1].bytes, msg("b"));
  EXPECT_TRUE(run.diagnostics.empty());
}

TEST(MessageSource, KeepaliveOutlivesTheSource) {
  TempDir dir;
  // > 64 KiB so that the file is memory-mapped.
  const std::string big = msg("big", std::string(200000, 'x') + "\n");
  write_file(dir / "big.mbox", mbox_of({msg("m1"), big}));
  write_gzip(dir / "z.gz", mbox_of({msg("g1")}));
  write_file(dir / "s.eml", msg("small"));
  std::vector<Message> kept;
  {
    MessageSource source({dir / "big.mbox", dir / "z.gz", dir / "s.eml"}, {}, nullptr);
    while (auto m = source.next()) kept.push_back(std::move(*m));
  }
  fs::remove_all(dir.path());
  ASSERT_EQ(kept.size(), 4u);
  EXPECT_EQ(kept[0].bytes, msg("m1"));
  EXPECT_EQ(kept[1].bytes, big);
  EXPECT_EQ(kept[2].bytes, msg("g1"));
  EXPECT_EQ(kept[3].bytes, msg("small"));
  EXPECT_EQ(*kept[2].origin.file, dir / "z.gz");
}

TEST(MessageSource, MaxMessageBytesSkipsButCounts) {
  TempDir dir;
  const std::string huge = msg("huge", std::string(3 << 20, 'y') + "\n");
  const std::string box = mbox_of({msg("before"), huge, msg("after")});
  write_file(dir / "a.mbox", box);
  write_gzip(dir / "a.mbox.gz", box);
  write_gzip(dir / "h.eml.gz", huge);
  SourceOptions options;
  options.max_message_bytes = 100000;
  const ScanResult run = scan({dir / "a.mbox", dir / "a.mbox.gz", dir / "h.eml.gz"}, options);
  ASSERT_EQ(run.messages.size(), 7u);
  for (int f = 0; f < 2; ++f) {
    const Got* m = &run.messages[f * 3];
    EXPECT_EQ(m[0].bytes, msg("before"));
    EXPECT_EQ(m[1].skip, "message larger than 100000 bytes");
    EXPECT_TRUE(m[1].bytes.empty());
    EXPECT_EQ(m[1].offset, box.find("From: a@example.com\nSubject: huge"));
    EXPECT_EQ(m[1].index, 1u);
    EXPECT_EQ(m[2].bytes, msg("after"));
    EXPECT_EQ(m[2].offset,
              box.find("Subject: after") - std::string("From: a@example.com\n").size());
  }
  EXPECT_EQ(run.messages[6].skip, "message larger than 100000 bytes");
  EXPECT_TRUE(run.diagnostics.empty());
}

TEST(MessageSource, ExplicitUnknownFileIsOneMessage) {
  TempDir dir;
  write_file(dir / "notes.txt", "just some text\npassword=hunter2\n");
  const ScanResult run = scan({dir / "notes.txt"});
  ASSERT_EQ(run.messages.size(), 1u);
  EXPECT_EQ(run.messages[0].bytes, "just some text\npassword=hunter2\n");
  EXPECT_TRUE(run.diagnostics.empty());
}

TEST(MessageSource, EmptyFileYieldsNothing) {
  TempDir dir;
  write_file(dir / "empty.mbox", "");
  const ScanResult run = scan({dir / "empty.mbox"});
  EXPECT_TRUE(run.messages.empty());
  EXPECT_TRUE(run.diagnostics.empty());
  EXPECT_EQ(run.files_failed, 0u);
}

TEST(MessageSource, SymlinkLoopDoesNotHang) {
  TempDir dir;
  write_file(dir / "t/a/m.eml", msg("m"));
  fs::create_directory_symlink(dir / "t", dir / "t/a/loop");
  fs::create_symlink(dir / "t/a/m.eml", dir / "t/link.eml");
  const ScanResult run = scan({dir / "t"});
  ASSERT_EQ(run.messages.size(), 2u);  // the file and the file symlink
  EXPECT_EQ(run.files_failed, 0u);
}

// Feeds `data` through a pipe as stdin ("-").
ScanResult scan_stdin(const std::string& data, SourceOptions options = {}) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  std::thread writer([&] {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t w = write(fds[1], data.data() + done, data.size() - done);
      if (w <= 0) break;
      done += static_cast<size_t>(w);
    }
    close(fds[1]);
  });
  options.stdin_fd = fds[0];
  ScanResult run = scan({"-"}, options);
  writer.join();
  close(fds[0]);
  return run;
}

TEST(MessageSource, StdinMboxEmlAndGzip) {
  const std::string box = mbox_of({msg("s1"), msg("s2")});
  ScanResult run = scan_stdin(box);
  ASSERT_EQ(run.messages.size(), 2u);
  EXPECT_EQ(run.messages[0].file, "-");
  EXPECT_EQ(run.messages[1].bytes, msg("s2"));
  EXPECT_EQ(run.messages[1].offset, box.find("From: a@example.com\nSubject: s2"));
  EXPECT_EQ(run.bytes_read, box.size());

  run = scan_stdin(msg("single"));
  ASSERT_EQ(run.messages.size(), 1u);
  EXPECT_EQ(run.messages[0].bytes, msg("single"));

  TempDir dir;
  write_gzip(dir / "s.gz", box);
  const std::string gz = read_file(dir / "s.gz");
  run = scan_stdin(gz);
  ASSERT_EQ(run.messages.size(), 2u);
  EXPECT_EQ(run.messages[0].bytes, msg("s1"));
  EXPECT_EQ(run.bytes_read, gz.size());

  run = scan_stdin("");
  EXPECT_TRUE(run.messages.empty());
  EXPECT_TRUE(run.diagnostics.empty());
}

// The streamed (gzip, stdin) and mapped readers must agree with split_mbox on a large mbox
// whose separators and tricky lines fall across read-chunk boundaries.
TEST(MessageSource, StreamingAgreesWithSplitMbox) {
  std::mt19937 rng(42);
  std::string box;
  const char* tricky[] = {"From here on\n", "\nFrom the desk of\nnot: a header? yes it is\n",
                          ">From quoted\n", "\n\nFrom x\nno header\n", "line\r\n"};
  for (int i = 0; i < 1500; ++i) {
    std::string body;
    const size_t lines = rng() % 80;
    for (size_t l = 0; l < lines; ++l) {
      if (rng() % 10 == 0)
        body += tricky[rng() % 5];
      else
        body += std::string(rng() % 90, static_cast<char>('a' + rng() % 26)) + "\n";
    }
    if (i % 97 == 0) body += std::string(300000, 'q') + "\n";  // spans chunks
    const bool crlf = i % 5 == 0;
    std::string from = "From u" + std::to_string(i) + "@x Mon Jan 1 00:00:00 2024";
    box += from + (crlf ? "\r\n" : "\n") + "Subject: m" + std::to_string(i) +
           (crlf ? "\r\n\r\n" : "\n\n") + body + (crlf ? "\r\n" : "\n");
  }
  const auto pieces = split_mbox(box);
  ASSERT_GT(pieces.size(), 1500u);  // the "not: a header" lines split on purpose

  TempDir dir;
  write_file(dir / "big.mbox", box);
  write_gzip(dir / "big.mbox.gz", box);
  for (const ScanResult& run :
       {scan({dir / "big.mbox"}), scan({dir / "big.mbox.gz"}), scan_stdin(box)}) {
    ASSERT_EQ(run.messages.size(), pieces.size());
    for (size_t i = 0; i < pieces.size(); ++i) {
      ASSERT_EQ(run.messages[i].offset, pieces[i].offset) << i;
      const std::string want = pieces[i].needs_unescape ? unescape_mboxrd(pieces[i].bytes)
                                                        : std::string(pieces[i].bytes);
      ASSERT_EQ(run.messages[i].bytes, want) << i;
      ASSERT_EQ(run.messages[i].index, i);
    }
    EXPECT_TRUE(run.diagnostics.empty());
  }
}

// An mbox after `prefix` whose bodies hold lines that look like separators, escaped From_
// lines and CRLF pieces; every ninth message is over 2000 bytes, and with `mapped_size` every
// twentieth is long enough for the file to be memory-mapped.
std::string tricky_mbox(std::mt19937& rng, const std::string& prefix, int messages,
                        bool mapped_size) {
  static const char* const tricky[] = {"From here on\n",
                                       "\nFrom the desk of\nnot: a header\n",
                                       ">From quoted\n",
                                       ">>From twice\n",
                                       "\n\nFrom x\nno header\n",
                                       "\r\n\r\nFrom y\r\nX: crlf\r\n",
                                       "\n\nFrom "};
  std::string box = prefix;
  for (int i = 0; i < messages; ++i) {
    std::string body;
    for (size_t l = rng() % 12; l > 0; --l) {
      if (rng() % 4 == 0)
        body += tricky[rng() % 7];
      else
        body += std::string(rng() % 40, static_cast<char>('a' + rng() % 26)) + "\n";
    }
    if (i % 9 == 4) body += std::string(3000, 'z') + "\n";
    if (mapped_size && i % 20 == 7) body += std::string(70000, 'y') + "\n";
    box += "From u" + std::to_string(i) + " Mon\nSubject: m" + std::to_string(i) + "\n\n" + body +
           "\n";
  }
  return box;
}

// Tiny read steps put every separator, From_ line and header lookahead across a window edge;
// the streamed readers must still agree with split_mbox, and skip exactly the oversized ones.
TEST(MessageSource, StreamingWithTinyChunksAgreesWithSplitMbox) {
  std::mt19937 rng(3);
  for (const std::string prefix : {"", "junk before\n\n", "\n\n", "\xEF\xBB\xBF"}) {
    const std::string box = tricky_mbox(rng, prefix, 40, false);  // limit 2000 below
    const auto pieces = split_mbox(box);
    TempDir dir;
    write_gzip(dir / "t.gz", box);
    for (size_t chunk : {1, 2, 3, 5, 7, 13, 64, 1000, 1 << 20}) {
      SourceOptions options;
      options.stream_chunk_bytes = chunk;
      options.max_message_bytes = 2000;
      int which = 0;
      for (const ScanResult& run : {scan_stdin(box, options), scan({dir / "t.gz"}, options)}) {
        ASSERT_EQ(run.messages.size(), pieces.size())
            << "chunk " << chunk << (which++ ? " gzip" : " stdin") << " prefix " << prefix.size();
        for (size_t i = 0; i < pieces.size(); ++i) {
          SCOPED_TRACE("chunk " + std::to_string(chunk) + " message " + std::to_string(i));
          ASSERT_EQ(run.messages[i].offset, pieces[i].offset);
          if (pieces[i].bytes.size() > 2000) {
            EXPECT_EQ(run.messages[i].skip, "message larger than 2000 bytes");
            continue;
          }
          EXPECT_TRUE(run.messages[i].skip.empty());
          const std::string want = pieces[i].needs_unescape ? unescape_mboxrd(pieces[i].bytes)
                                                            : std::string(pieces[i].bytes);
          ASSERT_EQ(run.messages[i].bytes, want);
        }
      }
    }
  }
}

// The pipeline reads a mapped mbox as spans that workers split (next_batch + split_span),
// numbering a span's messages after those of the file's earlier spans. That must give exactly
// what next() gives, whatever the span size puts at a span's edge.
ScanResult scan_batches(std::vector<std::string> inputs, size_t span_bytes,
                        SourceOptions options = {}) {
  ScanResult run;
  MessageSource source(std::move(inputs), options,
                       [&](const Diagnostic& d) { run.diagnostics.push_back(d); });
  std::shared_ptr<const std::string> span_file;
  uint64_t before = 0;
  while (auto batch = source.next_batch(span_bytes)) {
    std::vector<Message> messages;
    if (batch->span) {
      EXPECT_FALSE(batch->message);
      if (batch->span->file != span_file) {
        span_file = batch->span->file;
        before = 0;
      }
      messages = split_span(*batch->span);
      for (Message& m : messages) m.origin.index += before;
      before += messages.size();
    } else {
      messages.push_back(std::move(*batch->message));
    }
    for (const Message& m : messages)
      run.messages.push_back({std::string(m.bytes), *m.origin.file, m.origin.offset, m.origin.index,
                              0, m.skip_reason});
    if (batch->span) {
      // Dropping a scanned span's pages must not change what its views read.
      release_span(*batch->span);
      for (size_t i = 0; i < messages.size(); ++i)
        EXPECT_EQ(messages[i].bytes, run.messages[run.messages.size() - messages.size() + i].bytes);
    }
  }
  run.files_failed = source.files_failed();
  run.bytes_read = source.bytes_read();
  return run;
}

TEST(MessageSource, SpansAgreeWithNextAtEverySpanSize) {
  std::mt19937 rng(11);
  for (const std::string prefix : {"", "junk before\n\n", "\n\n", "\xEF\xBB\xBF"}) {
    const std::string box = tricky_mbox(rng, prefix, 60, true);  // limit 20000 below
    TempDir dir;
    write_file(dir / "a.mbox", box);
    write_file(dir / "small.mbox", mbox_of({msg("s1"), msg("s2"), msg("s3")}));
    write_file(dir / "one.eml", msg("e1"));
    write_gzip(dir / "z.mbox.gz", mbox_of({msg("g1"), msg("g2")}));
    const std::vector<std::string> inputs = {dir / "a.mbox", dir / "one.eml", dir / "small.mbox",
                                             dir / "z.mbox.gz", dir / "a.mbox"};
    SourceOptions options;
    options.max_message_bytes = 20000;
    const ScanResult want = scan(inputs, options);
    ASSERT_GT(want.messages.size(), 120u);
    for (size_t span : {1, 2, 3, 7, 40, 333, 4096, 65536, 1 << 20}) {
      SCOPED_TRACE("span " + std::to_string(span) + " prefix " + std::to_string(prefix.size()));
      const ScanResult got = scan_batches(inputs, span, options);
      ASSERT_EQ(got.messages.size(), want.messages.size());
      for (size_t i = 0; i < want.messages.size(); ++i) {
        SCOPED_TRACE("message " + std::to_string(i));
        EXPECT_EQ(got.messages[i].file, want.messages[i].file);
        EXPECT_EQ(got.messages[i].offset, want.messages[i].offset);
        EXPECT_EQ(got.messages[i].index, want.messages[i].index);
        EXPECT_EQ(got.messages[i].skip, want.messages[i].skip);
        ASSERT_EQ(got.messages[i].bytes, want.messages[i].bytes);
      }
      EXPECT_EQ(got.bytes_read, want.bytes_read);
      EXPECT_EQ(got.diagnostics.size(), want.diagnostics.size());
    }
  }
}

TEST(MessageSource, WalkedUnknownGzipIsSkipped) {
  TempDir dir;
  write_gzip(dir / "d/data.gz", std::string(1000, '\0'));
  write_gzip(dir / "explicit.gz", "plain text, no headers\n");
  ScanResult run = scan({dir / "d"});
  EXPECT_TRUE(run.messages.empty());
  ASSERT_EQ(run.diagnostics.size(), 1u);
  EXPECT_EQ(run.diagnostics[0].level, Diagnostic::Level::Warning);
  run = scan({dir / "explicit.gz"});
  ASSERT_EQ(run.messages.size(), 1u);
  EXPECT_EQ(run.messages[0].bytes, "plain text, no headers\n");
}

}  // namespace
}  // namespace credsift

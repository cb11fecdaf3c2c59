// Issue 17: hostile files, full disks and shared machines. Each test failed before its fix.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "support.hpp"

namespace credsift::e2e {
namespace {

std::string random_token(std::mt19937& random, size_t length) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (size_t i = 0; i < length; ++i) out.push_back(kAlphabet[random() % 62]);
  return out;
}

std::string message_with(const std::string& subject, const std::string& body,
                         const std::string& id = "<m1@example.com>") {
  return "From: dev@acme.test\nTo: ops@acme.test\nSubject: " + subject + "\nMessage-ID: " + id +
         "\nDate: Mon, 04 Mar 2024 09:00:00 +0000\n\n" + body + "\n";
}

void write(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string q(const fs::path& path) { return "'" + path.string() + "'"; }

// ------------------------------------------------------------------------------ item 1
// Is `path` mapped into process `pid`?
bool maps_file(pid_t pid, const fs::path& path) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find(path.string()) != std::string::npos) return true;
  return false;
}

TEST(Hardening, MailboxTruncatedDuringTheScanFailsCleanly) {
  TempDir temp;
  std::mt19937 random(1);
  const fs::path mbox = temp.path() / "shared.mbox";
  {
    std::ofstream out(mbox, std::ios::binary);
    out << "From a@b Mon Jan  1 00:00:00 2024\n"
        << message_with("first", "key sk_live_" + random_token(random, 24));
    const std::string body(8000, 'x');
    for (int i = 0; i < 25000; ++i)  // 200 MB
      out << "\nFrom a@b Mon Jan  1 00:00:00 2024\n" << message_with("m", body);
  }
  const fs::path report = temp.path() / "r.jsonl", err = temp.path() / "err";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 2);
    ::execl(CREDSIFT_BINARY, "credsift", "scan", "--threads", "1", mbox.c_str(), "-o",
            report.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // As soon as the file is mapped, another process cuts it to 1 MB.
  bool mapped = false;
  for (int i = 0; i < 20000 && !mapped; ++i) {
    mapped = maps_file(pid, mbox);
    if (!mapped) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(mapped);
  ASSERT_EQ(::truncate(mbox.c_str(), 1 << 20), 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);  // SIGBUS before
  const std::string stderr_text = slurp(err);
  EXPECT_EQ(WEXITSTATUS(status), 2) << stderr_text;  // a named input was not read whole
  EXPECT_NE(stderr_text.find("shrank"), std::string::npos) << stderr_text;
  EXPECT_NE(stderr_text.find("messages:"), std::string::npos) << "the summary is printed";
  EXPECT_NE(slurp(report).find("stripe"), std::string::npos) << "findings so far are kept";
}

// ------------------------------------------------------------------------------ item 2
TEST(Hardening, FullDiskOnAReportIsExit2NamingTheFile) {
  TempDir temp;
  std::mt19937 random(7);
  write(temp.path() / "m.eml", message_with("x", "key sk_live_" + random_token(random, 24)));
  for (const char* format : {"jsonl", "json", "sarif", "csv", "md", "findings"}) {
    const ScanRun run =
        run_credsift("scan -q " + q(temp.path() / "m.eml") + " -o " + format + "=/dev/full");
    EXPECT_EQ(run.exit_code, 2) << format << ": " << run.err;
    EXPECT_NE(run.err.find("/dev/full"), std::string::npos) << format << ": " << run.err;
  }
  // Standard output on a full device too.
  const std::string command = std::string("'") + CREDSIFT_BINARY + "' scan -q " +
                              q(temp.path() / "m.eml") + " >/dev/full 2>" + q(temp.path() / "err");
  const int status = std::system(command.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(slurp(temp.path() / "err").find("standard output"), std::string::npos);
}

// ------------------------------------------------------------------------------ item 5
TEST(Hardening, LongSubjectWithManyFindingsStaysBounded) {
  TempDir temp;
  std::mt19937 random(5);
  std::string body;
  for (int i = 0; i < 300; ++i)
    body += "key " + std::to_string(i) + ": sk_live_" + random_token(random, 24) + "\n";
  write(temp.path() / "big.eml", message_with(std::string(4 << 20, 'x'), body));
  const auto [code, rss] =
      run_measured(std::string("'") + CREDSIFT_BINARY + "' scan -q " + q(temp.path() / "big.eml") +
                   " -o json=" + q(temp.path() / "r.json") + " -o csv=" + q(temp.path() / "r.csv") +
                   " -o findings=" + q(temp.path() / "r.jsonl"));
  ASSERT_EQ(code, 1);
  // Before: 300 copies of the Subject per finding and per occurrence, 2.6 GB at 100 findings.
  // Before the fix: 7 GB. AddressSanitizer's shadow memory and quarantine need a looser bound.
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(rss, 900 * 1024) << "KiB";
#else
  EXPECT_LT(rss, 400 * 1024) << "KiB";
#endif
  for (const char* report : {"r.json", "r.csv", "r.jsonl"})
    EXPECT_LT(fs::file_size(temp.path() / report), 4u << 20) << report;
  EXPECT_NE(slurp(temp.path() / "r.json").find("bytes]"), std::string::npos);  // the cap marker
}

// ------------------------------------------------------------------------------ item 7
TEST(Hardening, CheckStopsReadingAtTheSizeLimit) {
  TempDir temp;
  // 400 MB of one message through a pipe: over the 64 MB default, read no further than that
  // (before: all of it in memory, then decoded).
  const std::string command =
      "{ printf 'From: a@b\\nSubject: big\\n\\n'; head -c 419430400 /dev/zero | tr '\\0' x; } | "
      "'" +
      std::string(CREDSIFT_BINARY) + "' check >" + q(temp.path() / "out") + " 2>" +
      q(temp.path() / "err");
  const auto [status, rss] = run_measured(command);
  EXPECT_EQ(status, 0) << slurp(temp.path() / "err");  // on_error fail-open: tag
  const std::string out = slurp(temp.path() / "out");
  EXPECT_NE(out.find("\"action\":\"tag\""), std::string::npos) << out;
  EXPECT_NE(out.find("larger than --max-message-size"), std::string::npos) << out;
  // AddressSanitizer's shadow memory and quarantine: a looser bound there (reading the whole
  // 400 MB would still exceed it).
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(rss, 640 * 1024) << "KiB";
#else
  EXPECT_LT(rss, 300 * 1024) << "KiB";
#endif
  // A smaller limit, and a policy that fails closed: hold, exit 1.
  write(temp.path() / "m.eml", message_with("x", std::string(3 << 20, 'y')));
  const ScanRun run = run_credsift("check --max-message-size 2 --policy " +
                                   q(kSource / "scanner/gateway/policy.example.json") + " " +
                                   q(temp.path() / "m.eml"));
  EXPECT_NE(run.out.find("larger than --max-message-size (2 MB)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\"action\":\"hold\""), std::string::npos) << run.out;
  EXPECT_EQ(run.exit_code, 1) << run.err;
}

// ------------------------------------------------------------------------------ item 9
TEST(Hardening, OutputSymlinkIsReplacedNotFollowed) {
  TempDir temp;
  std::mt19937 random(9);
  write(temp.path() / "m.eml", message_with("x", "key sk_live_" + random_token(random, 24)));
  write(temp.path() / "victim", "precious\n");
  ::chmod((temp.path() / "victim").c_str(), 0644);
  fs::create_symlink(temp.path() / "victim", temp.path() / "out.jsonl");
  const ScanRun run =
      run_credsift("scan -q " + q(temp.path() / "m.eml") + " -o " + q(temp.path() / "out.jsonl"));
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(slurp(temp.path() / "victim"), "precious\n");
  struct stat st {};
  ASSERT_EQ(::stat((temp.path() / "victim").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);  // the target's mode is untouched
  EXPECT_FALSE(fs::is_symlink(temp.path() / "out.jsonl"));
  ASSERT_EQ(::stat((temp.path() / "out.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(slurp(temp.path() / "out.jsonl").find("stripe"), std::string::npos);
  // No temporary file is left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(temp.path())) ++entries;
  EXPECT_EQ(entries, 3u);
}

TEST(Hardening, OutputThatIsAnInputOrAnotherOutputIsRefused) {
  TempDir temp;
  std::mt19937 random(11);
  const std::string mailbox = "From a@b Mon Jan  1 00:00:00 2024\n" +
                              message_with("x", "key sk_live_" + random_token(random, 24));
  write(temp.path() / "box.mbox", mailbox);
  ScanRun run =
      run_credsift("scan -q " + q(temp.path() / "box.mbox") + " -o " + q(temp.path() / "box.mbox"));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("is an input"), std::string::npos) << run.err;
  EXPECT_EQ(slurp(temp.path() / "box.mbox"), mailbox);  // the mailbox is intact
  // The same file under another name (a hard link) is still the input.
  fs::create_hard_link(temp.path() / "box.mbox", temp.path() / "alias");
  run = run_credsift("scan -q " + q(temp.path() / "box.mbox") + " -o " + q(temp.path() / "alias"));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(slurp(temp.path() / "box.mbox"), mailbox);
  run = run_credsift("scan -q " + q(temp.path() / "box.mbox") + " -o " + q(temp.path() / "x") +
                     " -o md=" + q(temp.path() / "x"));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("given twice"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(temp.path() / "x"));
  // Pipes are written directly.
  run = run_credsift("scan -q " + q(temp.path() / "box.mbox") + " -o /dev/stdout");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.out.find("stripe"), std::string::npos);
}

// ------------------------------------------------------------------------------ item 10
TEST(Hardening, ControlCharactersAndBidiOverridesAreEscaped) {
  TempDir temp;
  std::mt19937 random(13);
  const std::string evil =
      "\x1b]0;owned\x07\x1b[2J invoice\xe2\x80\xaetxt.exe \xc2\x9b"
      "31m";
  write(temp.path() / "m.eml",
        message_with(evil, "key sk_live_" + random_token(random, 24), "<" + evil + "@x>"));
  fs::create_directory(temp.path() / "dir");
  write(temp.path() / "dir" / ("junk\x1b[31m\xe2\x80\xae.bin"), std::string(100, '\x01'));
  const ScanRun run = run_credsift(
      "scan " + q(temp.path() / "m.eml") + " " + q(temp.path() / "dir") +
      " -o csv=" + q(temp.path() / "r.csv") + " -o md=" + q(temp.path() / "r.md") +
      " -o json=" + q(temp.path() / "r.json") + " -o sarif=" + q(temp.path() / "r.sarif"));
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("junk\\x1b[31m\\u{202e}.bin"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find('\x1b'), std::string::npos) << "stderr is not a terminal";
  EXPECT_EQ(run.err.find('\r'), std::string::npos);
  for (const char* report : {"r.csv", "r.md", "r.json", "r.sarif"}) {
    const std::string text = slurp(temp.path() / report);
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << report;
    EXPECT_EQ(text.find('\x07'), std::string::npos) << report;
    EXPECT_EQ(text.find("\xe2\x80\xae"), std::string::npos) << report;
    EXPECT_EQ(text.find("\xc2\x9b"), std::string::npos) << report;
  }
  EXPECT_NE(slurp(temp.path() / "r.json").find("\\u202e"), std::string::npos);
  EXPECT_NE(slurp(temp.path() / "r.csv").find("\\u{202e}"), std::string::npos);
}

// ------------------------------------------------------------------------------ item 12
TEST(Hardening, StreamedOverLimitMessageIsNotBuffered) {
  TempDir temp;
  std::mt19937 random(12);
  write(temp.path() / "small.mbox",
        "From a@b Mon Jan  1 00:00:00 2024\n" +
            message_with("after", "key sk_live_" + random_token(random, 24)));
  const std::string binary = std::string("'") + CREDSIFT_BINARY + "'";
  const std::string out = " >" + q(temp.path() / "out") + " 2>" + q(temp.path() / "err");
  // The same scan of one small message: what the process costs without the big one.
  const auto [base_code, base_rss] = run_measured(binary + " scan --max-message-size 32 - <" +
                                                  q(temp.path() / "small.mbox") + out);
  ASSERT_EQ(base_code, 1) << slurp(temp.path() / "err");
  // 200 MB of one message over stdin, then the small one: the big one is skipped while read,
  // never held whole, and the next message is found.
  const auto [code, rss] = run_measured(
      "{ printf 'From a@b Mon Jan  1 00:00:00 2024\\nFrom: a@b\\nSubject: big\\n\\n'; "
      "head -c 209715200 /dev/zero | tr '\\0' x; printf '\\n\\n'; cat " +
      q(temp.path() / "small.mbox") + "; } | " + binary + " scan --max-message-size 32 -" + out);
  EXPECT_EQ(code, 1) << slurp(temp.path() / "err");
  EXPECT_NE(slurp(temp.path() / "err").find("skipped: message larger than"), std::string::npos);
  // At most the limit (32 MB) and a read over what the small scan costs; before: 200 MB+.
  EXPECT_LT(rss - base_rss, 48 * 1024) << "KiB; base " << base_rss;
}

// ------------------------------------------------------------------------------ item 15
TEST(Hardening, NonUtf8FileNamesStayRecoverable) {
  TempDir temp;
  std::mt19937 random(15);
  write(temp.path() / "caf\xe9.eml", message_with("x", "key sk_live_" + random_token(random, 24)));
  const ScanRun run =
      run_credsift("scan -q " + q(temp.path()) + " -o " + q(temp.path() / "r.jsonl") +
                   " -o csv=" + q(temp.path() / "r.csv"));
  EXPECT_EQ(run.exit_code, 1) << run.err;
  // JSON text of the name "caf\xe9.eml": the escape's backslash doubled by JSON.
  EXPECT_NE(slurp(temp.path() / "r.jsonl").find("caf\\\\xe9.eml"), std::string::npos);
  EXPECT_NE(slurp(temp.path() / "r.csv").find("caf\\xe9.eml"), std::string::npos);
  EXPECT_EQ(slurp(temp.path() / "r.jsonl").find("\xef\xbf\xbd"), std::string::npos);  // no U+FFFD
}

// ------------------------------------------------------------------------------ item 11
TEST(Hardening, RulesCompileBuildsTheCacheAGatewayUses) {
  TempDir temp;
  const fs::path cache = temp.path() / "cache";
  // One rule file with a rule outside the default ruleset: two databases, built in seconds
  // (the whole library takes minutes under the sanitizers).
  const std::string rules =
      " --no-default-rules --rules " + q(kSource / "patterns" / "config-files.json");
  ScanRun run = run_credsift("rules compile --cache " + q(cache) + rules);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(cache)) {
    ++files;
    struct stat st {};
    ASSERT_EQ(::stat(entry.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u) << entry.path();
    EXPECT_NE(run.out.find(entry.path().string()), std::string::npos) << run.out;
  }
  EXPECT_EQ(files, 2u);  // check/milter (every rule) and scan (the default ruleset)
  run = run_credsift("rules compile --cache " + q(cache) + rules);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("already built"), std::string::npos) << run.out;
  // A cache directory others can write is refused, loudly.
  ::chmod(cache.c_str(), 0777);
  run = run_credsift("rules compile --cache " + q(cache) + rules);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("writable by group or others"), std::string::npos) << run.err;
}

// ------------------------------------------------------------------------------ items 8, 16, 17
TEST(Hardening, IncompleteScansExit2WithTheirFindingsWritten) {
  TempDir temp;
  std::mt19937 random(17);
  write(temp.path() / "m.eml", message_with("x", "key sk_live_" + random_token(random, 24)));
  ScanRun run = run_credsift("scan -q " + q(temp.path() / "m.eml") + " " +
                             q(temp.path() / "missing.mbox") + " -o " + q(temp.path() / "r.jsonl"));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("could not be read"), std::string::npos) << run.err;  // even with -q
  EXPECT_NE(slurp(temp.path() / "r.jsonl").find("stripe"), std::string::npos);
  // Found while walking, an unreadable entry stays a warning.
  fs::create_directory(temp.path() / "tree");
  fs::copy(temp.path() / "m.eml", temp.path() / "tree" / "m.eml");
  fs::create_symlink(temp.path() / "nowhere", temp.path() / "tree" / "broken");
  run = run_credsift("scan -q " + q(temp.path() / "tree"));
  EXPECT_EQ(run.exit_code, 1) << run.err;

  // --strict-limits: a limit that kept mail unscanned is exit 2.
  std::string parts = "From: a@b\nContent-Type: multipart/mixed; boundary=b\n\n";
  for (int i = 0; i < 5; ++i) parts += "--b\nContent-Type: text/plain\n\npart\n";
  write(temp.path() / "parts.eml", parts + "--b--\n");
  run = run_credsift("scan -q --max-parts 2 " + q(temp.path() / "parts.eml"));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  run = run_credsift("scan -q --max-parts 2 --strict-limits " + q(temp.path() / "parts.eml"));
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("--strict-limits"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace credsift::e2e

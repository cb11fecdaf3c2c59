// A mapped mailbox that shrinks during the scan (shared or network storage, another process
// truncating it) used to kill the scan with SIGBUS. Now the reader stops at the new end,
// reports the file as failed at that offset, and every message before it is kept (issue 17.1).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "credsift/source.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;

struct ShrinkingMbox {
  std::string path;
  size_t messages = 0;
  ShrinkingMbox() {
    std::string tmpl = (fs::temp_directory_path() / "credsift_shrink_XXXXXX").string();
    const int fd = mkstemp(tmpl.data());
    EXPECT_GE(fd, 0);
    ::close(fd);
    path = tmpl;
    std::ofstream out(path, std::ios::binary);
    const std::string body(3000, 'x');
    for (; messages < 1000; ++messages)  // about 3 MB: mapped, not read
      out << "From a@b Mon Jan  1 00:00:00 2024\nFrom: a@example.com\nSubject: m" << messages
          << "\n\n"
          << body << "\n\n";
  }
  ~ShrinkingMbox() { ::unlink(path.c_str()); }
  void truncate(off_t size) const { ASSERT_EQ(::truncate(path.c_str(), size), 0); }
};

uint64_t touch_every_byte(std::string_view bytes) {
  return std::accumulate(bytes.begin(), bytes.end(), uint64_t{0},
                         [](uint64_t sum, char c) { return sum + static_cast<unsigned char>(c); });
}

TEST(SourceShrink, SpansStopAtTheNewEndAndTheFileFails) {
  ShrinkingMbox mbox;
  std::vector<Diagnostic> diagnostics;
  MessageSource source({mbox.path}, {}, [&](const Diagnostic& d) { diagnostics.push_back(d); });
  auto first = source.next_batch(64 << 10);
  ASSERT_TRUE(first && first->span);
  const size_t first_messages = split_span(*first->span).size();
  mbox.truncate(1 << 20);  // 1 MiB left of 3
  size_t messages = first_messages, cut = 0;
  while (auto batch = source.next_batch(64 << 10)) {
    ASSERT_TRUE(batch->span);
    for (const Message& message : split_span(*batch->span)) {
      touch_every_byte(message.bytes);  // SIGBUS here before the fix
      ++messages;
      if (message_bytes_intact(message) < message.bytes.size()) ++cut;
    }
  }
  // Reading the first span again (its pages were dropped or not) is fine: it is all intact.
  for (const Message& message : split_span(*first->span)) {
    touch_every_byte(message.bytes);
    EXPECT_EQ(message_bytes_intact(message), message.bytes.size());
  }
  EXPECT_GT(messages, 300u);
  EXPECT_LT(messages, 400u);  // about a third of the 1000 messages remain
  EXPECT_LE(cut, 1u);         // at most the one message the new end cuts through
  EXPECT_EQ(source.files_failed(), 1u);
  ASSERT_FALSE(diagnostics.empty());
  EXPECT_EQ(diagnostics.back().level, Diagnostic::Level::Error);
  EXPECT_EQ(diagnostics.back().offset, 1u << 20);
  EXPECT_NE(diagnostics.back().message.find("shrank"), std::string::npos);
}

TEST(SourceShrink, MessageByMessageStopsToo) {
  ShrinkingMbox mbox;
  std::vector<Diagnostic> diagnostics;
  MessageSource source({mbox.path}, {}, [&](const Diagnostic& d) { diagnostics.push_back(d); });
  auto first = source.next();
  ASSERT_TRUE(first);
  mbox.truncate(100000);
  size_t messages = 1, incomplete = 0;
  while (auto message = source.next()) {
    touch_every_byte(message->bytes);
    ++messages;
    if (!message->skip_reason.empty()) ++incomplete;
  }
  EXPECT_EQ(incomplete, 1u);  // 100000 is inside a message
  EXPECT_LT(messages, 40u);
  EXPECT_EQ(source.files_failed(), 1u);
}

TEST(SourceShrink, EmptiedBeforeTheFirstRead) {
  ShrinkingMbox mbox;
  MessageSource source({mbox.path}, {}, nullptr);
  // The file is mapped when the first batch is asked for; empty it from another descriptor
  // right after: every later read of the mapping faults.
  auto first = source.next_batch(64 << 10);
  ASSERT_TRUE(first && first->span);
  mbox.truncate(0);
  size_t messages = 0;
  for (const Message& message : split_span(*first->span)) {
    touch_every_byte(message.bytes);
    ++messages;
  }
  EXPECT_EQ(messages, 0u);  // nothing of the span exists any more
  while (source.next_batch(64 << 10)) {
  }
  EXPECT_EQ(source.files_failed(), 1u);
}

}  // namespace
}  // namespace credsift

// A mapped mbox's span ends are looked for in a 64 KiB copy of the file after each span's
// target (MemoryReader::find_span_end), falling back to the mapping when the copy has no
// answer: the messages must stay those of next() wherever the targets fall.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "credsift/source.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;

// Messages of many sizes: bodies longer than the window, "From " lines that are no separators
// (no blank line before them, or no header after them), CRLF messages.
std::string tricky_mbox() {
  std::string out;
  for (size_t i = 0; i < 160; ++i) {
    const bool crlf = i % 5 == 3;
    const std::string nl = crlf ? "\r\n" : "\n";
    out += "From a@b.test Mon Jan  1 10:00:00 2024" + nl + "From: a@b.test" + nl +
           "Subject: " + std::to_string(i) + nl + nl;
    const size_t lines = i % 7 == 0 ? 2500 : (i % 3 == 0 ? 40 : 400);  // 2500 lines: ~100 KB
    for (size_t j = 0; j < lines; ++j) {
      if (j % 97 == 5) out += "From the desk of " + std::to_string(j) + nl;    // no blank before
      if (j % 211 == 7) out += nl + "From nobody" + nl + "not a header" + nl;  // no header after
      out += "line " + std::to_string(j) + " of message " + std::to_string(i) + nl;
    }
    out += nl;
  }
  return out;
}

TEST(SpanEndWindow, SpansKeepTheMessagesOfNextWhereverTheTargetsFall) {
  std::string path = (fs::temp_directory_path() / "credsift_window_XXXXXX").string();
  const int fd = mkstemp(path.data());
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path, std::ios::binary) << tricky_mbox();

  std::vector<std::string> want;
  {
    MessageSource source({path}, {}, nullptr);
    while (auto message = source.next()) want.emplace_back(message->bytes);
  }
  ASSERT_EQ(want.size(), 160u);
  for (const size_t span :
       {size_t{1}, size_t{4093}, size_t{65536}, size_t{70001}, size_t{300007}}) {
    MessageSource source({path}, {}, nullptr);
    std::vector<std::string> got;
    size_t spans = 0;
    while (auto batch = source.next_batch(span)) {
      ASSERT_TRUE(batch->span);
      ++spans;
      for (const Message& message : split_span(*batch->span)) got.emplace_back(message.bytes);
    }
    EXPECT_EQ(got, want) << "spans of " << span;
    EXPECT_GT(spans, 1u);
  }
  fs::remove(path);
}

}  // namespace
}  // namespace credsift

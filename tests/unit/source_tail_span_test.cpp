// The spans of a mapped mbox shrink near the end of the file (a quarter of what is left, not
// below 1 MiB), so that two threads finish together; the messages stay those of next().
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

class TempFile {
 public:
  TempFile() {
    std::string pattern = (fs::temp_directory_path() / "credsift_tail_XXXXXX").string();
    const int fd = mkstemp(pattern.data());
    EXPECT_GE(fd, 0);
    if (fd >= 0) close(fd);
    path_ = pattern;
  }
  ~TempFile() {
    std::error_code ignored;
    fs::remove(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// About `bytes` of mbox in messages of about 4 KB, each with its number in the body.
std::string mbox_of_size(size_t bytes) {
  std::string out;
  const std::string filler(4000, 'x');
  for (size_t i = 0; out.size() < bytes; ++i)
    out += "From a@b.test Mon Jan  1 10:00:00 2024\nFrom: a@b.test\nSubject: " + std::to_string(i) +
           "\n\nbody " + std::to_string(i) + "\n" + filler + "\n\n";
  return out;
}

TEST(TailSpans, ShrinkNearTheEndAndKeepEveryMessage) {
  constexpr size_t kSpan = 8 << 20;
  TempFile file;
  std::ofstream(file.path(), std::ios::binary) << mbox_of_size(36 << 20);

  std::vector<std::string> want;
  {
    MessageSource source({file.path()}, {}, nullptr);
    while (auto message = source.next()) want.emplace_back(message->bytes);
  }

  MessageSource source({file.path()}, {}, nullptr);
  std::vector<size_t> sizes;
  std::vector<std::string> got;
  uint64_t file_size = 0;
  while (auto batch = source.next_batch(kSpan)) {
    ASSERT_TRUE(batch->span);
    sizes.push_back(batch->span->bytes.size());
    file_size = batch->span->offset + batch->span->bytes.size();
    for (const Message& message : split_span(*batch->span)) got.emplace_back(message.bytes);
  }
  EXPECT_EQ(got, want);
  ASSERT_GE(sizes.size(), 4u);
  EXPECT_GE(sizes.front(), kSpan);  // far from the end: full spans
  uint64_t begin = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const uint64_t left = file_size - begin;
    // A span ends at the first separator after its target: at most one message (4 KB) more.
    const uint64_t target = std::min<uint64_t>(kSpan, std::max<uint64_t>(left / 4, 1 << 20));
    if (i + 1 < sizes.size()) {
      EXPECT_GE(sizes[i], target) << "span " << i;
      EXPECT_LT(sizes[i], target + 8192) << "span " << i;
    }
    begin += sizes[i];
  }
  EXPECT_LT(sizes.back(), (1u << 20) + 8192u);  // the last one is small
}

}  // namespace
}  // namespace credsift

// Byte-range slices of an mbox (the shards of credsift plan): cut at message separators, each
// slice read alone gives exactly the messages, offsets and indexes of a whole-file scan.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <tuple>

#include "credsift/source.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;

using Seen = std::tuple<uint64_t, uint64_t, std::string>;  // offset, index, bytes

std::vector<Seen> read_all(const std::string& path, SourceOptions options, bool spans) {
  MessageSource source({path}, options, {});
  std::vector<Seen> seen;
  if (!spans) {
    while (auto message = source.next())
      seen.emplace_back(message->origin.offset, message->origin.index, std::string(message->bytes));
    return seen;
  }
  // As the pipeline numbers span messages: the file's first index, then on.
  uint64_t next_index = 0;
  bool first = true;
  while (auto batch = source.next_batch(4096)) {
    if (batch->message) {
      seen.emplace_back(batch->message->origin.offset, batch->message->origin.index,
                        std::string(batch->message->bytes));
      continue;
    }
    if (first) next_index = batch->span->file_first_index;
    first = false;
    for (const Message& message : split_span(*batch->span))
      seen.emplace_back(message.origin.offset, next_index++, std::string(message.bytes));
  }
  return seen;
}

TEST(SourceSlice, SlicesTileTheFileWithWholeFileOffsetsAndIndexes) {
  char pattern[] = "/tmp/credsift-slice-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const fs::path dir = pattern;
  const std::string path = (dir / "box.mbox").string();
  {
    // Blank lines before the first message, a ">From " escape, an unescaped "From " in a
    // body (not a separator: no blank line before it), CRLF and LF, big enough to be mapped.
    std::ofstream out(path, std::ios::binary);
    out << "\n\n";
    for (int i = 0; i < 400; ++i) {
      const char* eol = i % 3 == 0 ? "\r\n" : "\n";
      out << "From sender" << i << "@x.test Mon Mar  4 09:12:00 2024" << eol << "From: a@x.test"
          << eol << "Subject: message " << i << eol << "Message-ID: <" << i << "@x>" << eol << eol
          << "body of " << i << eol << ">From the escaped line" << eol
          << "From here on not a separator" << eol
          << std::string(static_cast<size_t>(i % 7) * 40, 'x') << eol << eol;
    }
  }
  const uint64_t size = fs::file_size(path);
  const std::vector<Seen> whole = read_all(path, {}, false);
  ASSERT_EQ(whole.size(), 400u);

  std::vector<uint64_t> targets;
  for (uint64_t t = size / 7; t < size; t += size / 7) targets.push_back(t);
  targets.insert(targets.begin(), 1);  // a cut right at the start moves to the first separator
  const std::vector<MboxCut> cuts = cut_mbox(path, targets);
  ASSERT_GE(cuts.size(), 5u);
  std::vector<uint64_t> bounds{0};
  std::vector<uint64_t> indexes{0};
  for (const MboxCut& cut : cuts) {
    EXPECT_GT(cut.offset, bounds.back());
    EXPECT_EQ(std::get<1>(whole[cut.index]), cut.index);
    // The message at the cut starts right after its From_ line.
    EXPECT_GT(std::get<0>(whole[cut.index]), cut.offset);
    EXPECT_LT(std::get<0>(whole[cut.index - 1]), cut.offset);
    bounds.push_back(cut.offset);
    indexes.push_back(cut.index);
  }
  bounds.push_back(size);

  for (const bool spans : {false, true}) {
    SCOPED_TRACE(spans ? "spans" : "messages");
    std::vector<Seen> joined;
    for (size_t s = 0; s + 1 < bounds.size(); ++s) {
      SourceOptions options;
      options.slices[path] = InputSlice{bounds[s], bounds[s + 1], indexes[s], false, false};
      const std::vector<Seen> part = read_all(path, options, spans);
      joined.insert(joined.end(), part.begin(), part.end());
    }
    EXPECT_EQ(joined, whole);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace credsift

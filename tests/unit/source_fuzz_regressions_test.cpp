// The inputs kept for the Outlook and JSON export fuzz targets (tests/fuzz/<target>/ seeds and
// tests/fuzz/regressions/<target>/ findings), replayed through the targets' own code
// (tests/fuzz/targets/), so that the ASan/UBSan unit pass runs what the fuzzer ran.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../fuzz/targets/json_export.hpp"
#include "../fuzz/targets/msg.hpp"
#include "../fuzz/targets/pst.hpp"
#include "credsift/outlook.hpp"
#include "credsift/source.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path kFuzz = fs::path(CREDSIFT_SOURCE_DIR) / "tests/fuzz";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

template <typename Target>
size_t replay(const std::string& target, Target one_input) {
  size_t inputs = 0;
  for (const fs::path& dir : {kFuzz / target, kFuzz / "regressions" / target}) {
    if (!fs::exists(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string data = slurp(entry.path());
      SCOPED_TRACE(entry.path().string());
      one_input(reinterpret_cast<const uint8_t*>(data.data()), data.size());
      ++inputs;
    }
  }
  return inputs;
}

}  // namespace

TEST(SourceFuzzRegressions, PstImagesReplay) {
  EXPECT_GT(replay("pst", credsift_fuzz::pst_one_input), 0u);
}

TEST(SourceFuzzRegressions, MsgFilesReplay) {
  EXPECT_GT(replay("msg", credsift_fuzz::msg_one_input), 0u);
}

TEST(SourceFuzzRegressions, JsonExportsReplay) {
  EXPECT_GE(replay("json_export", credsift_fuzz::json_export_one_input), 3u);
}

// The compound files whose headers made libolecf allocate gigabytes, or whose directory made it
// walk for seconds, are refused before it sees them, with a clear problem; a real .doc passes.
TEST(SourceFuzzRegressions, Ole2FilesThatPointOutsideThemselvesAreRefused) {
  const std::string difat = slurp(kFuzz / "regressions/msg/libolecf-difat-count-allocation");
  EXPECT_FALSE(credsift::ole2_header_plausible(difat, difat.size()));
  const std::string fat = slurp(kFuzz / "regressions/office/libolecf-huge-sector-table");
  EXPECT_FALSE(credsift::ole2_header_plausible(fat, fat.size()));
  const std::string doc = slurp(kFuzz / "office/plan.doc");
  EXPECT_TRUE(credsift::ole2_header_plausible(doc, doc.size()));
  EXPECT_FALSE(credsift::ole2_header_plausible(doc.substr(0, 511), 511));

  // A stream whose first mini sector lies far outside the mini stream (libolecf walked the mini
  // stream's FAT chain for seconds on it).
  const std::string walk = slurp(kFuzz / "regressions/msg/libolecf-mini-sector-walk");
  EXPECT_TRUE(credsift::ole2_header_plausible(walk, walk.size()));
  EXPECT_FALSE(credsift::ole2_layout_plausible(walk));
  EXPECT_TRUE(credsift::ole2_layout_plausible(doc));

  std::vector<std::string> problems;
  EXPECT_FALSE(credsift::outlook_item_to_rfc5322(difat, 1 << 20, &problems));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("points outside the file"), std::string::npos);
}

// A 29 KB .msg (msg_fuzz) on which libolecf spent a CPU second in one stream read: the mini
// stream's own chain loops on sector 0, and a mini FAT entry holds 0xFFFFFFFA (a reserved
// value), which libolecf takes for mini sector 4294967290 and looks up by walking the looping
// chain half a billion times. Refused before libolecf sees it, naming the structure's offset.
TEST(SourceFuzzRegressions, Ole2MiniStreamChainsThatLoopOrHoldReservedIdsAreRefused) {
  const fs::path path = kFuzz / "regressions/msg/libolecf-mini-fat-reserved-id";
  const std::string slow = slurp(path);
  ASSERT_EQ(slow.size(), 29696u);
  std::string why;
  EXPECT_FALSE(credsift::ole2_layout_plausible(slow, &why));
  // The root directory entry (first entry of directory sector 27) starts the looping chain.
  EXPECT_EQ(why, "the mini stream's sector chain leaves the file or loops (at byte 14336)");

  // The same file with a whole mini stream chain (sectors 0 to 24, then the end): still refused,
  // for the reserved id in mini FAT entry 102 (mini FAT sector 25, byte 512 + 25 * 512 + 408).
  std::string chained = slow;
  const size_t fat_at = 512 + 56 * 512;  // the one FAT sector
  for (uint32_t i = 0; i < 25; ++i) {
    const uint32_t next = i < 24 ? i + 1 : 0xFFFFFFFE;
    for (int b = 0; b < 4; ++b) chained[fat_at + 4 * i + b] = char(next >> (8 * b));
  }
  why.clear();
  EXPECT_FALSE(credsift::ole2_layout_plausible(chained, &why));
  EXPECT_EQ(why,
            "mini FAT entry 102 is 0xFFFFFFFA, not a sector of the mini stream (at byte 13720)");
  // With that entry made an end of chain the file is whole again (and cheap for libolecf).
  for (int b = 0; b < 4; ++b) chained[13720 + b] = char(0xFFFFFFFE >> (8 * b));
  EXPECT_TRUE(credsift::ole2_layout_plausible(chained, &why)) << why;

  // As an attached .msg: one problem that says why and where.
  std::vector<std::string> problems;
  EXPECT_FALSE(credsift::outlook_item_to_rfc5322(slow, 1 << 20, &problems));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0],
            "damaged OLE2 compound file: the mini stream's sector chain leaves the file or loops "
            "(at byte 14336)");

  // As an input file: a failed file, named, with the same reason; no message.
  std::vector<credsift::Diagnostic> diagnostics;
  credsift::MessageSource source({path.string()}, {},
                                 [&](const credsift::Diagnostic& d) { diagnostics.push_back(d); });
  size_t messages = 0;
  while (source.next()) ++messages;
  EXPECT_EQ(messages, 0u);
  EXPECT_EQ(source.files_failed(), 1u);
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0].file, path.string());
  EXPECT_NE(diagnostics[0].message.find("loops (at byte 14336)"), std::string::npos)
      << diagnostics[0].message;
}

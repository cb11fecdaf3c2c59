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

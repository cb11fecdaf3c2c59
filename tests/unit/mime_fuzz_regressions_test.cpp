// Inputs that libFuzzer found (tests/fuzz/regressions/<target>/), replayed with the property
// the fuzz target checks, plus the bug scaled up so that a regression shows as a size blow-up.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "../fuzz/targets/office.hpp"
#include "../fuzz/targets/rtf.hpp"
#include "../fuzz/targets/tnef.hpp"
#include "credsift/extract.hpp"
#include "credsift/mime.hpp"

namespace fs = std::filesystem;
using namespace credsift;

namespace {

const fs::path kRegressions = fs::path(CREDSIFT_SOURCE_DIR) / "tests/fuzz/regressions";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

// A tag whose quoted URL attribute was followed by an unterminated quote fell back to the first
// '>', but kept the URL it had read beyond it: every later tag emitted it again (quadratic).
TEST(FuzzRegressions, HtmlUrlAttributesAreEmittedOnce) {
  size_t inputs = 0;
  for (const auto& entry : fs::directory_iterator(kRegressions / "html")) {
    const std::string html = slurp(entry.path());
    EXPECT_LE(html_to_text(html).size(), 4 * html.size() + 16) << entry.path();
    std::string scaled;
    for (int i = 0; i < 200; ++i) scaled += html;
    EXPECT_LE(html_to_text(scaled).size(), 4 * scaled.size() + 16) << entry.path();
    ++inputs;
  }
  EXPECT_GT(inputs, 0u);
  const std::string unit = "<a href=\"https://u:p@example.test/\" title=\"x>";
  std::string many;
  for (int i = 0; i < 2000; ++i) many += unit;
  EXPECT_LE(html_to_text(many).size(), 2 * many.size());
}

// Every regression input of the message and archive targets decodes without a crash or
// sanitizer report.
TEST(FuzzRegressions, MessagesAndAttachmentsDecode) {
  for (const char* target : {"mime", "archive"}) {
    const fs::path dir = kRegressions / target;
    if (!fs::exists(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string bytes = slurp(entry.path());
      DecodeLimits limits;
      limits.max_decompressed_bytes = 16u << 20;
      if (std::string(target) == "mime") {
        DecodedMessage dm = decode_message(bytes, limits);
        EXPECT_LE(dm.problems.size(), 1000u);
      } else {
        DecodedMessage dm;
        decode_attachment(bytes, "fuzz.bin", "2:attachment=fuzz.bin", limits, dm);
      }
    }
  }
}

// The seeds and findings of the Office, RTF and TNEF targets, replayed through the targets' own
// code (tests/fuzz/targets/), so that the ASan/UBSan unit pass runs what the fuzzer ran.
TEST(FuzzRegressions, OfficeRtfTnefTargetsReplay) {
  const std::pair<const char*, void (*)(const uint8_t*, size_t)> targets[] = {
      {"office", credsift_fuzz::office_one_input},
      {"rtf", credsift_fuzz::rtf_one_input},
      {"tnef", credsift_fuzz::tnef_one_input}};
  for (const auto& [target, one_input] : targets) {
    size_t inputs = 0;
    for (const fs::path& dir : {kRegressions / ".." / target, kRegressions / target}) {
      if (!fs::exists(dir)) continue;
      for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string bytes = slurp(entry.path());
        SCOPED_TRACE(entry.path().string());
        one_input(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
        ++inputs;
      }
    }
    EXPECT_GT(inputs, 0u) << target;
  }
}

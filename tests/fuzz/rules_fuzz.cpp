// libFuzzer: the rule-file loader on any bytes; a bad file must end in RuleError, nothing else.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "credsift/rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // load_rules reads files: one scratch directory per fuzzing process.
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("credsift-rules-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  const auto file = dir / "fuzz.json";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  try {
    credsift::load_rules({file});
  } catch (const credsift::RuleError&) {
  }
  return 0;
}

#pragma once
// A problem met while reading or decoding input. Every stage reports through this one type so
// that the summary can name the file and the byte offset of each.
#include <cstdint>
#include <functional>
#include <string>

namespace credsift {

struct Diagnostic {
  enum class Level { Warning, Error };
  Level level = Level::Warning;
  std::string file;     // input path, "-" for stdin
  uint64_t offset = 0;  // byte offset in the (decompressed) file
  std::string message;  // what went wrong, for a human
};

using DiagnosticSink = std::function<void(const Diagnostic&)>;

}  // namespace credsift

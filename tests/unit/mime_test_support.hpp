#pragma once
// What the decode-stage tests share: looking segments and problems up in a DecodedMessage.
#include <string>
#include <string_view>

#include "credsift/mime.hpp"

namespace credsift::testing {

inline const Segment* find_segment(const DecodedMessage& dm, std::string_view path) {
  for (const Segment& s : dm.segments)
    if (s.part_path == path) return &s;
  return nullptr;
}

// Every part path, for failure messages.
inline std::string paths(const DecodedMessage& dm) {
  std::string s;
  for (const Segment& seg : dm.segments) s += seg.part_path + ";";
  return s;
}

// Every problem, one per line, for failure messages.
inline std::string problems(const DecodedMessage& dm) {
  std::string s;
  for (const DecodeProblem& p : dm.problems) s += p.what + "\n";
  return s;
}

inline bool has_problem(const DecodedMessage& dm, std::string_view needle) {
  for (const DecodeProblem& p : dm.problems)
    if (p.what.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace credsift::testing

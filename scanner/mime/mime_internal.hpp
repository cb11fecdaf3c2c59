#pragma once
// Helpers shared by the decode stage's translation units; not part of the public contract.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/mime.hpp"

namespace credsift::mime_detail {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + ('a' - 'A')) : c; }

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline bool iends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

inline bool is_wsp(char c) { return c == ' ' || c == '\t'; }
inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_space(s.front()) || s.front() == '\v' || s.front() == '\f'))
    s.remove_prefix(1);
  while (!s.empty() && (is_space(s.back()) || s.back() == '\v' || s.back() == '\f'))
    s.remove_suffix(1);
  return s;
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void append_utf8(std::string& out, uint32_t cp);

// Converts to UTF-8 like to_utf8, but returns `bytes` itself (no copy) when they are already
// valid UTF-8 in a charset compatible with it; otherwise fills *storage and returns a view of it.
std::string_view to_utf8_view(std::string_view bytes, std::string_view charset,
                              std::string* storage, bool* unknown_charset);

// Budgets shared by everything decoded out of one message, nested messages included.
struct DecodeContext {
  explicit DecodeContext(const DecodeLimits& l) : limits(l) {}
  const DecodeLimits& limits;
  uint64_t decompressed = 0;  // archive and PDF output so far
  size_t parts = 0;           // MIME parts and archive entries so far
  bool budget_reported = false;
  bool parts_reported = false;
};

void add_problem(std::vector<DecodeProblem>& problems, uint64_t offset, std::string what);

// Decodes a whole message into *dm (segments, problems); paths are relative to that message.
void decode_into(std::string_view raw, DecodeContext& ctx, DecodedMessage& dm,
                 size_t archive_depth);

}  // namespace credsift::mime_detail

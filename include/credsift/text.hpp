#pragma once
// Small ASCII text helpers shared by the stages (header names, domains, keys are ASCII).
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace credsift::text {

inline std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

inline std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

// Position of the first i >= from with hay[i] == first and hay[i + 1] == second, or npos.
// Splitters look for "\nFrom " or "\n--" this way: memchr/memmem stop at every line break of
// a base64 body (one per 77 bytes), a two-byte test rarely matches inside it.
inline size_t find_pair(std::string_view hay, size_t from, char first, char second) {
  const size_t n = hay.size();
  const char* d = hay.data();
  size_t i = from;
#if defined(__SSE2__)
  const __m128i want_first = _mm_set1_epi8(first);
  const __m128i want_second = _mm_set1_epi8(second);
  while (i + 33 <= n) {
    const __m128i a0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i));
    const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i + 1));
    const __m128i a1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i + 16));
    const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i + 17));
    const unsigned low = unsigned(_mm_movemask_epi8(
        _mm_and_si128(_mm_cmpeq_epi8(a0, want_first), _mm_cmpeq_epi8(b0, want_second))));
    const unsigned high = unsigned(_mm_movemask_epi8(
        _mm_and_si128(_mm_cmpeq_epi8(a1, want_first), _mm_cmpeq_epi8(b1, want_second))));
    if ((low | high) != 0) return i + size_t(__builtin_ctz(low | (high << 16)));
    i += 32;
  }
#endif
  for (; i + 1 < n; ++i)
    if (d[i] == first && d[i + 1] == second) return i;
  return std::string_view::npos;
}

// Position of the first occurrence of needle (at least two bytes) at or after from, or npos.
inline size_t find_from(std::string_view hay, size_t from, std::string_view needle) {
  while (true) {
    const size_t hit = find_pair(hay, from, needle[0], needle[1]);
    if (hit == std::string_view::npos || hay.compare(hit, needle.size(), needle) == 0) return hit;
    from = hit + 1;
  }
}

}  // namespace credsift::text

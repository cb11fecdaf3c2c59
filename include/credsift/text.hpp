#pragma once
// Small ASCII text helpers shared by the stages (header names, domains, keys are ASCII).
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__SSE2__)
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

// Lower-case hex of raw bytes (digests, checksums, cache keys).
inline std::string hex(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 15]);
  }
  return out;
}

inline std::string hex(std::string_view bytes) {
  return hex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

namespace detail {

#if defined(__x86_64__)
// 64 bytes per step; called only where the CPU has AVX2 (checked once, below). Returns the hit
// or npos, leaving i where a narrower loop goes on.
__attribute__((target("avx2"))) inline size_t find_pair_avx2(const char* d, size_t n, size_t& i,
                                                             char first, char second) {
  const __m256i want_first = _mm256_set1_epi8(first);
  const __m256i want_second = _mm256_set1_epi8(second);
  for (; i + 65 <= n; i += 64) {
    const __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + i));
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + i + 1));
    const __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + i + 32));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + i + 33));
    const uint64_t low = uint32_t(_mm256_movemask_epi8(
        _mm256_and_si256(_mm256_cmpeq_epi8(a0, want_first), _mm256_cmpeq_epi8(b0, want_second))));
    const uint64_t high = uint32_t(_mm256_movemask_epi8(
        _mm256_and_si256(_mm256_cmpeq_epi8(a1, want_first), _mm256_cmpeq_epi8(b1, want_second))));
    if ((low | high) != 0) return i + size_t(__builtin_ctzll(low | (high << 32)));
  }
  return std::string_view::npos;
}

inline bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

}  // namespace detail

// Position of the first i >= from with hay[i] == first and hay[i + 1] == second, or npos.
// Splitters look for "\nFrom " or "\n--" this way: memchr/memmem stop at every line break of
// a base64 body (one per 77 bytes), a two-byte test rarely matches inside it.
inline size_t find_pair(std::string_view hay, size_t from, char first, char second) {
  const size_t n = hay.size();
  const char* d = hay.data();
  size_t i = from;
#if defined(__x86_64__)
  if (i + 65 <= n && detail::cpu_has_avx2()) {
    const size_t hit = detail::find_pair_avx2(d, n, i, first, second);
    if (hit != std::string_view::npos) return hit;
  }
#endif
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

// The weak CRC-32 by carry-less multiplication (folding four 128-bit lanes per 64 bytes, then a
// Barrett reduction: Gopal et al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ
// Instruction", Intel 2009, with the bit-reflected constants given there), where the CPU has
// PCLMULQDQ and SSE4.1; zlib's crc32_z for the rest and elsewhere. Checked against libpff's own
// byte-at-a-time loop by tests/pst/pst_checksum_test.
#include "pst_checksum.hpp"

#include <immintrin.h>
#include <zlib.h>

namespace credsift::source_detail {
namespace {

uint32_t zlib_weak_crc32(uint32_t crc, const uint8_t* data, size_t size) {
  if (size == 0) return crc;  // zlib answers 0 for a null buffer whatever the initial value
  return ~static_cast<uint32_t>(crc32_z(~crc, data, size));
}

#define CREDSIFT_CLMUL __attribute__((target("pclmul,sse4.1")))

CREDSIFT_CLMUL inline __m128i load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// `into` carried 128 bits forward (constants k) and `next` added.
CREDSIFT_CLMUL inline __m128i fold(__m128i into, __m128i next, __m128i k) {
  const __m128i low = _mm_clmulepi64_si128(into, k, 0x00);
  return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(into, k, 0x11), next), low);
}

// `size` >= 64 and a multiple of 16; `crc` and the result without inversion.
CREDSIFT_CLMUL uint32_t clmul_weak_crc32(uint32_t crc, const uint8_t* data, size_t size) {
  alignas(16) static const uint64_t k1k2[] = {0x0154442bd4, 0x01c6e41596};
  alignas(16) static const uint64_t k3k4[] = {0x01751997d0, 0x00ccaa009e};
  alignas(16) static const uint64_t k5k0[] = {0x0163cd6124, 0x0000000000};
  alignas(16) static const uint64_t poly[] = {0x01db710641, 0x01f7011641};

  __m128i x1 = load(data), x2 = load(data + 16), x3 = load(data + 32), x4 = load(data + 48);
  x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128(static_cast<int>(crc)));
  __m128i x0 = _mm_load_si128(reinterpret_cast<const __m128i*>(k1k2));
  data += 64;
  size -= 64;
  while (size >= 64) {  // four lanes folded 512 bits forward
    const __m128i x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    const __m128i x6 = _mm_clmulepi64_si128(x2, x0, 0x00);
    const __m128i x7 = _mm_clmulepi64_si128(x3, x0, 0x00);
    const __m128i x8 = _mm_clmulepi64_si128(x4, x0, 0x00);
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, x0, 0x11), x5), load(data));
    x2 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x2, x0, 0x11), x6), load(data + 16));
    x3 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x3, x0, 0x11), x7), load(data + 32));
    x4 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x4, x0, 0x11), x8), load(data + 48));
    data += 64;
    size -= 64;
  }
  // The four lanes into one, then the remaining 16-byte blocks, 128 bits forward each.
  x0 = _mm_load_si128(reinterpret_cast<const __m128i*>(k3k4));
  x1 = fold(x1, x2, x0);
  x1 = fold(x1, x3, x0);
  x1 = fold(x1, x4, x0);
  while (size >= 16) {
    x1 = fold(x1, load(data), x0);
    data += 16;
    size -= 16;
  }
  // 128 bits to 64, then Barrett reduction to 32.
  __m128i x2b = _mm_clmulepi64_si128(x1, x0, 0x10);
  const __m128i mask32 = _mm_setr_epi32(~0, 0, ~0, 0);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2b);
  x0 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(k5k0));
  x2b = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), x0, 0x00), x2b);
  x0 = _mm_load_si128(reinterpret_cast<const __m128i*>(poly));
  x2b = _mm_and_si128(x1, mask32);
  x2b = _mm_clmulepi64_si128(x2b, x0, 0x10);
  x2b = _mm_and_si128(x2b, mask32);
  x2b = _mm_clmulepi64_si128(x2b, x0, 0x00);
  x1 = _mm_xor_si128(x1, x2b);
  return static_cast<uint32_t>(_mm_extract_epi32(x1, 1));
}

bool has_clmul() {
  // Asked on first use, not in a static initialiser: the CPU detection must have run first.
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  }();
  return has;
}

}  // namespace

uint32_t pst_weak_crc32(uint32_t initial_value, const uint8_t* data, size_t size) {
  if (size < 64 || !has_clmul()) return zlib_weak_crc32(initial_value, data, size);
  const size_t folded = size & ~size_t{15};
  const uint32_t crc = clmul_weak_crc32(initial_value, data, folded);
  return zlib_weak_crc32(crc, data + folded, size - folded);
}

}  // namespace credsift::source_detail

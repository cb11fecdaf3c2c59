// The compressible encryption's substitution by AVX-512 VBMI: two two-register byte permutes
// (vpermi2b, 128 table entries each) and a blend on each byte's top bit give 64 bytes per step.
// The table is libpff's own, taken once by decrypting the bytes 0 to 255 with libpff's function,
// so the two cannot disagree. Checked against libpff by tests/pst/pst_checksum_test.
#include "pst_decrypt.hpp"

#include <dlfcn.h>
#include <immintrin.h>

#include <array>

namespace credsift::source_detail {
namespace {

constexpr uint8_t kCompressible = 1;  // LIBPFF_ENCRYPTION_TYPE_COMPRESSIBLE

struct Table {
  alignas(64) std::array<uint8_t, 256> bytes{};
  bool ok = false;
};

const Table& table() {
  static const Table t = [] {
    Table made;
    const PffDecrypt own = libpff_own_decrypt();
    if (!own) return made;
    for (int i = 0; i < 256; ++i) made.bytes[i] = static_cast<uint8_t>(i);
    made.ok = own(kCompressible, 0, made.bytes.data(), made.bytes.size(), nullptr) == 256;
    return made;
  }();
  return t;
}

bool has_vbmi() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vbmi");
  }();
  return has;
}

#define CREDSIFT_VBMI __attribute__((target("avx512f,avx512bw,avx512vbmi")))

struct VbmiTable {
  __m512i t0, t1, t2, t3;
};

CREDSIFT_VBMI inline __m512i substitute64(const VbmiTable& t, __m512i x) {
  const __m512i low = _mm512_permutex2var_epi8(t.t0, x, t.t1);   // entries 0 to 127
  const __m512i high = _mm512_permutex2var_epi8(t.t2, x, t.t3);  // entries 128 to 255
  return _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), low, high);
}

CREDSIFT_VBMI void substitute_vbmi(const uint8_t* table, uint8_t* data, size_t size) {
  const VbmiTable t{_mm512_load_si512(table), _mm512_load_si512(table + 64),
                    _mm512_load_si512(table + 128), _mm512_load_si512(table + 192)};
  size_t i = 0;
  for (; i + 64 <= size; i += 64)
    _mm512_storeu_si512(data + i, substitute64(t, _mm512_loadu_si512(data + i)));
  if (i < size) {  // the tail through a mask: no byte past the end is read or written
    const __mmask64 tail = _cvtu64_mask64((uint64_t{1} << (size - i)) - 1);
    _mm512_mask_storeu_epi8(data + i, tail,
                            substitute64(t, _mm512_maskz_loadu_epi8(tail, data + i)));
  }
}

}  // namespace

PffDecrypt libpff_own_decrypt() {
  static const PffDecrypt own =
      reinterpret_cast<PffDecrypt>(dlsym(RTLD_NEXT, "libpff_encryption_decrypt"));
  return own;
}

bool pst_decrypt_compressible(uint8_t* data, size_t size) {
  const Table& t = table();
  if (!t.ok) return false;
  if (has_vbmi()) {
    substitute_vbmi(t.bytes.data(), data, size);
  } else {
    for (size_t i = 0; i < size; ++i) data[i] = t.bytes[data[i]];
  }
  return true;
}

}  // namespace credsift::source_detail

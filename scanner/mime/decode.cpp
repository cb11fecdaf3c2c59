// Transfer decoders (base64, quoted-printable), RFC 2047 encoded words and charset conversion.
#include <errno.h>
#include <iconv.h>

#include <array>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "base64.hpp"
#include "credsift/mime.hpp"
#include "mime_internal.hpp"
#include "text_decode.hpp"

namespace credsift {
namespace mime_detail {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

namespace {

constexpr uint8_t kB64Invalid = 0xFF;
constexpr uint8_t kB64Space = 0xFE;
constexpr uint8_t kB64Pad = 0xFD;

constexpr std::array<uint8_t, 256> make_b64_table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kB64Invalid;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) t[uint8_t(alphabet[i])] = uint8_t(i);
  // URL-safe alphabet shows up in the wild; accepting it costs nothing.
  t[uint8_t('-')] = 62;
  t[uint8_t('_')] = 63;
  t[uint8_t(' ')] = t[uint8_t('\t')] = t[uint8_t('\r')] = t[uint8_t('\n')] = kB64Space;
  t[uint8_t('\v')] = t[uint8_t('\f')] = kB64Space;
  t[uint8_t('=')] = kB64Pad;
  return t;
}
constexpr auto kB64 = make_b64_table();

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not valid.
inline size_t utf8_seq_len(const unsigned char* s, size_t i, size_t n) {
  unsigned char c = s[i];
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return (i + 1 < n && (s[i + 1] & 0xC0) == 0x80) ? 2 : 0;
  if (c < 0xF0) {
    if (i + 2 >= n) return 0;
    unsigned char c1 = s[i + 1], c2 = s[i + 2];
    if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && c1 < 0xA0) return 0;   // overlong
    if (c == 0xED && c1 >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c < 0xF5) {
    if (i + 3 >= n) return 0;
    unsigned char c1 = s[i + 1], c2 = s[i + 2], c3 = s[i + 3];
    if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80 || (c3 & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && c1 < 0x90) return 0;   // overlong
    if (c == 0xF4 && c1 >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

void repair_utf8(std::string_view in, std::string& out) {
  auto* s = reinterpret_cast<const unsigned char*>(in.data());
  size_t n = in.size();
  out.reserve(out.size() + n);
  size_t i = 0;
  while (i < n) {
    size_t run = i;
    while (run < n && s[run] < 0x80) ++run;
    out.append(in.data() + i, run - i);
    i = run;
    if (i >= n) break;
    size_t len = utf8_seq_len(s, i, n);
    if (len == 0) {
      append_utf8(out, 0xFFFD);
      ++i;
    } else {
      out.append(in.data() + i, len);
      i += len;
    }
  }
}

constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

void single_byte_to_utf8_scalar(std::string_view in, std::string& out, bool cp1252) {
  out.reserve(out.size() + in.size() + in.size() / 8);
  for (unsigned char c : in) {
    if (c < 0x80)
      out.push_back(char(c));
    else if (c < 0xA0 && cp1252)
      append_utf8(out, kCp1252High[c - 0x80]);
    else
      append_utf8(out, c);
  }
}

void single_byte_to_utf8(std::string_view in, std::string& out, bool cp1252) {
  single_byte_to_utf8_with(in, out, cp1252, TextPath::Best);
}

enum class CharsetClass { Utf8Compatible, Utf8, Latin1, Cp1252, Iconv, Unknown };

struct NormalizedCharset {
  CharsetClass cls;
  std::string iconv_name;
};

NormalizedCharset classify_charset(std::string_view charset) {
  charset = trim(charset);
  while (!charset.empty() && (charset.front() == '"' || charset.front() == '\''))
    charset.remove_prefix(1);
  while (!charset.empty() && (charset.back() == '"' || charset.back() == '\''))
    charset.remove_suffix(1);
  charset = trim(charset);
  if (charset.empty() || iequals(charset, "us-ascii") || iequals(charset, "ascii") ||
      iequals(charset, "ansi_x3.4-1968") || iequals(charset, "iso646-us") || iequals(charset, "us"))
    return {CharsetClass::Utf8Compatible, {}};
  if (iequals(charset, "utf-8") || iequals(charset, "utf8")) return {CharsetClass::Utf8, {}};
  if (iequals(charset, "iso-8859-1") || iequals(charset, "iso8859-1") ||
      iequals(charset, "iso_8859-1") || iequals(charset, "latin1") || iequals(charset, "latin-1") ||
      iequals(charset, "l1"))
    return {CharsetClass::Latin1, {}};
  if (iequals(charset, "windows-1252") || iequals(charset, "cp1252") ||
      iequals(charset, "x-cp1252") || iequals(charset, "ms-ansi"))
    return {CharsetClass::Cp1252, {}};
  if (iequals(charset, "x-unknown") || iequals(charset, "unknown-8bit") ||
      iequals(charset, "unknown") || iequals(charset, "x-user-defined") ||
      iequals(charset, "default"))
    return {CharsetClass::Unknown, {}};
  // Names mail clients use that glibc's iconv spells differently.
  if (iequals(charset, "ks_c_5601-1987")) return {CharsetClass::Iconv, "CP949"};
  if (iequals(charset, "iso-8859-8-i")) return {CharsetClass::Iconv, "ISO-8859-8"};
  if (iequals(charset, "unicode-1-1-utf-7")) return {CharsetClass::Iconv, "UTF-7"};
  if (iequals(charset, "x-sjis")) return {CharsetClass::Iconv, "SHIFT_JIS"};
  if (iequals(charset, "gb2312")) return {CharsetClass::Iconv, "GB18030"};  // superset in use
  if (charset.size() > 64) return {CharsetClass::Unknown, {}};
  return {CharsetClass::Iconv, std::string(charset)};
}

// iconv_open costs a module lookup; keep converters per thread.
struct IconvCache {
  std::unordered_map<std::string, iconv_t> map;
  ~IconvCache() {
    for (auto& [name, cd] : map)
      if (cd != iconv_t(-1)) iconv_close(cd);
  }
  iconv_t get(const std::string& name) {
    std::string key = to_lower(name);
    auto it = map.find(key);
    if (it != map.end()) return it->second;
    if (map.size() > 256) {  // hostile input naming endless charsets must not grow this
      for (auto& [n, cd] : map)
        if (cd != iconv_t(-1)) iconv_close(cd);
      map.clear();
    }
    iconv_t cd = iconv_open("UTF-8", name.c_str());
    map.emplace(key, cd);
    return cd;
  }
};

bool iconv_to_utf8(std::string_view in, const std::string& name, std::string& out) {
  thread_local IconvCache cache;
  iconv_t cd = cache.get(name);
  if (cd == iconv_t(-1)) return false;
  iconv(cd, nullptr, nullptr, nullptr, nullptr);
  size_t start = out.size();
  out.resize(start + in.size() * 2 + 16);
  char* inp = const_cast<char*>(in.data());
  size_t inleft = in.size();
  size_t written = start;
  while (true) {
    char* outp = out.data() + written;
    size_t outleft = out.size() - written;
    size_t rc = inleft ? iconv(cd, &inp, &inleft, &outp, &outleft)
                       : iconv(cd, nullptr, nullptr, &outp, &outleft);
    written = size_t(outp - out.data());
    if (rc != size_t(-1)) {
      if (inleft == 0) {
        // Flush any shift state, then stop.
        outp = out.data() + written;
        outleft = out.size() - written;
        if (iconv(cd, nullptr, nullptr, &outp, &outleft) == size_t(-1) && errno == E2BIG) {
          out.resize(out.size() + 64);
          continue;
        }
        written = size_t(outp - out.data());
        break;
      }
      continue;
    }
    if (errno == E2BIG) {
      out.resize(out.size() + in.size() + 64);
    } else if (errno == EILSEQ || errno == EINVAL) {
      if (out.size() - written < 3) out.resize(out.size() + 64);
      std::memcpy(out.data() + written, "\xEF\xBF\xBD", 3);
      written += 3;
      if (errno == EINVAL) {  // truncated sequence at the end
        inleft = 0;
        break;
      }
      ++inp;
      --inleft;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);
      if (inleft == 0) break;
    } else {
      break;
    }
  }
  out.resize(written);
  return true;
}

}  // namespace

std::string_view to_utf8_view(std::string_view bytes, std::string_view charset,
                              std::string* storage, bool* unknown_charset) {
  if (unknown_charset) *unknown_charset = false;
  NormalizedCharset cs = classify_charset(charset);
  switch (cs.cls) {
    case CharsetClass::Utf8Compatible:
      if (is_valid_utf8(bytes)) return bytes;
      // Mislabelled 8-bit text is most often windows-1252 (WHATWG labels us-ascii so too).
      single_byte_to_utf8(bytes, *storage, true);
      return *storage;
    case CharsetClass::Utf8:
      if (is_valid_utf8(bytes)) return bytes;
      repair_utf8(bytes, *storage);
      return *storage;
    case CharsetClass::Latin1:
      // WHATWG: a declared iso-8859-1 is decoded as windows-1252 (0x92 is a curly quote, not a
      // C1 control), after the rule that valid UTF-8 stays UTF-8.
      if (is_valid_utf8(bytes)) return bytes;
      single_byte_to_utf8(bytes, *storage, true);
      return *storage;
    case CharsetClass::Cp1252:
      single_byte_to_utf8(bytes, *storage, true);
      return *storage;
    case CharsetClass::Iconv:
      if (iconv_to_utf8(bytes, cs.iconv_name, *storage)) return *storage;
      [[fallthrough]];
    case CharsetClass::Unknown:
      if (unknown_charset) *unknown_charset = true;
      if (is_valid_utf8(bytes)) return bytes;
      single_byte_to_utf8(bytes, *storage, true);
      return *storage;
  }
  return bytes;
}

}  // namespace mime_detail

using namespace mime_detail;

bool is_valid_utf8(std::string_view bytes) { return is_valid_utf8_with(bytes, TextPath::Best); }

std::string to_utf8(std::string_view bytes, std::string_view charset, bool* unknown_charset) {
  std::string storage;
  std::string_view v = to_utf8_view(bytes, charset, &storage, unknown_charset);
  if (v.data() == storage.data() && v.size() == storage.size()) return storage;
  return std::string(v);
}

namespace mime_detail {
namespace {

// Decoder state carried across the fast paths and the byte-at-a-time path.
struct Base64State {
  char* out;
  uint32_t acc = 0;
  int have = 0;  // symbols in acc, 0..3
  bool bad = false;
};

[[gnu::always_inline]] inline void base64_flush_partial(Base64State& st) {
  // 2 symbols carry 1 byte, 3 carry 2; a lone symbol carries nothing (truncated).
  if (st.have == 2) {
    *st.out++ = char(st.acc >> 4);
  } else if (st.have == 3) {
    *st.out++ = char(st.acc >> 10);
    *st.out++ = char((st.acc >> 2) & 0xFF);
  } else if (st.have == 1) {
    st.bad = true;
  }
  st.acc = 0;
  st.have = 0;
}

// Four alphabet symbols at a time while they last (only called on a quantum boundary).
[[gnu::always_inline]] inline size_t base64_quads(const unsigned char* s, size_t i, size_t n,
                                                  Base64State& st) {
  char* o = st.out;
  while (i + 4 <= n) {
    uint32_t a = kB64[s[i]], b = kB64[s[i + 1]], c = kB64[s[i + 2]], d = kB64[s[i + 3]];
    if ((a | b | c | d) >= 64) break;
    uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    o[0] = char(v >> 16);
    o[1] = char((v >> 8) & 0xFF);
    o[2] = char(v & 0xFF);
    o += 3;
    i += 4;
  }
  st.out = o;
  return i;
}

// One byte the fast paths stopped at.
[[gnu::always_inline]] inline size_t base64_step(const unsigned char* s, size_t i,
                                                 Base64State& st) {
  uint8_t v = kB64[s[i++]];
  if (v < 64) {
    st.acc = (st.acc << 6) | v;
    if (++st.have == 4) {
      *st.out++ = char(st.acc >> 16);
      *st.out++ = char((st.acc >> 8) & 0xFF);
      *st.out++ = char(st.acc & 0xFF);
      st.acc = 0;
      st.have = 0;
    }
  } else if (v == kB64Pad) {
    // Padding ends one chunk; a body of separately padded chunks goes on after it.
    base64_flush_partial(st);
  } else if (v == kB64Invalid) {
    st.bad = true;
  }
  return i;
}

[[gnu::always_inline]] inline std::string base64_finish(std::string& out, Base64State& st,
                                                        bool* error) {
  // Input that ends inside a quantum without padding was cut short: decode what is there, but
  // say so (a truncated attachment is worth a warning in the scan log).
  if (st.have != 0) st.bad = true;
  base64_flush_partial(st);
  out.resize(size_t(st.out - out.data()));
  if (error) *error = st.bad;
  return std::move(out);
}

std::string decode_base64_scalar(std::string_view in, bool* error) {
  std::string out;
  out.resize(in.size() / 4 * 3 + 3);
  Base64State st{out.data()};
  auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    if (st.have == 0) i = base64_quads(s, i, n, st);
    if (i >= n) break;
    i = base64_step(s, i, st);
  }
  return base64_finish(out, st, error);
}

#if defined(__x86_64__)

// The SIMD lookups, shared by the AVX2 and SSSE3 blocks. The alphabet is the scalar table's:
// standard plus URL-safe '-' and '_'.
//
// Validity: each high nibble gets a class bit; kInvalidByLow[low] holds the bits of the
// classes in which that low nibble is not a symbol.
constexpr std::array<uint8_t, 16> kClassByHigh = {0x20, 0x20, 0x01, 0x02, 0x04, 0x08, 0x04, 0x10,
                                                  0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20};
constexpr std::array<uint8_t, 16> make_invalid_by_low() {
  std::array<uint8_t, 16> t{};
  for (int high = 0; high < 16; ++high)
    for (int low = 0; low < 16; ++low)
      if (kB64[high << 4 | low] >= 64) t[low] |= kClassByHigh[high];
  return t;
}
constexpr auto kInvalidByLow = make_invalid_by_low();

// Offsets: by high nibble, except the lone symbols '+', '-', '/' (high nibble 2) and '_' (5),
// which a second pair of lookups marks (one bit each) and corrects.
constexpr std::array<uint8_t, 16> kLoneByHigh = {0, 0, 0x07, 0, 0, 0x08, 0, 0,
                                                 0, 0, 0,    0, 0, 0,    0, 0};
constexpr std::array<uint8_t, 16> kLoneByLow = {0, 0, 0, 0,    0, 0,    0, 0,
                                                0, 0, 0, 0x01, 0, 0x02, 0, 0x04 | 0x08};
constexpr std::array<int8_t, 16> kOffsetByHigh = {0,       0,       0,        '0' - 52,
                                                  'A' - 0, 'A' - 0, 'a' - 26, 'a' - 26};
constexpr std::array<int8_t, 16> make_offset_by_lone() {
  std::array<int8_t, 16> t{};
  t[0x01] = int8_t('+' - 62);
  t[0x02] = int8_t('-' - 62);
  t[0x04] = int8_t('/' - 63);
  t[0x08] = int8_t(('_' - 63) - ('A' - 0));
  return t;
}
constexpr auto kOffsetByLone = make_offset_by_lone();

// The symbol value the lookups above give for byte c, or -1 when they call it invalid.
constexpr int lookup_value(int c) {
  const int high = c >> 4, low = c & 15;
  if (kInvalidByLow[low] & kClassByHigh[high]) return -1;
  const int lone = kLoneByLow[low] & kLoneByHigh[high];
  return uint8_t(c - kOffsetByHigh[high] - kOffsetByLone[lone]);
}
constexpr bool lookups_match_table() {
  for (int c = 0; c < 256; ++c) {
    const int expected = kB64[c] < 64 ? kB64[c] : -1;
    if (lookup_value(c) != expected) return false;
  }
  return true;
}
static_assert(lookups_match_table(), "the SIMD lookups must agree with the scalar table");

// Block policies: kWidth symbols -> kWidth * 3 / 4 bytes per step, writing kWidth bytes (the
// output needs kWidth / 4 bytes of slack); decode returns the mask of the bytes that are
// symbols, and only quanta of symbols give valid output.
//
// AVX2: classify 32 bytes with two nibble lookups (Mula/Lemire), turn the symbols into 6-bit
// values with per-class offsets, pack four values into three bytes with maddubs/madd, gather
// the 24 bytes across the two lanes.
struct Avx2Block {
  static constexpr size_t kWidth = 32;
  static constexpr uint32_t kAllSymbols = 0xFFFFFFFFu;

  __attribute__((target("avx2"))) static __m256i broadcast16(const void* table) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(static_cast<const __m128i*>(table)));
  }

  __attribute__((target("avx2"))) static uint32_t decode(const unsigned char* in, char* out) {
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in));
    const __m256i low = _mm256_and_si256(x, nibble);
    const __m256i high = _mm256_and_si256(_mm256_srli_epi32(x, 4), nibble);
    const __m256i invalid = _mm256_and_si256(_mm256_shuffle_epi8(broadcast16(&kInvalidByLow), low),
                                             _mm256_shuffle_epi8(broadcast16(&kClassByHigh), high));
    const uint32_t symbols =
        uint32_t(_mm256_movemask_epi8(_mm256_cmpeq_epi8(invalid, _mm256_setzero_si256())));

    const __m256i lone = _mm256_and_si256(_mm256_shuffle_epi8(broadcast16(&kLoneByLow), low),
                                          _mm256_shuffle_epi8(broadcast16(&kLoneByHigh), high));
    const __m256i offset = _mm256_add_epi8(_mm256_shuffle_epi8(broadcast16(&kOffsetByHigh), high),
                                           _mm256_shuffle_epi8(broadcast16(&kOffsetByLone), lone));
    const __m256i values = _mm256_sub_epi8(x, offset);
    // [a b c d] -> a*64+b, c*64+d -> (a*64+b)*4096 + c*64+d, little-endian in each 32-bit lane.
    const __m256i pairs = _mm256_maddubs_epi16(values, _mm256_set1_epi32(0x01400140));
    const __m256i triples = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00011000));
    const __m256i in_lane = _mm256_shuffle_epi8(
        triples, _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1, 2, 1, 0,
                                  6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
    const __m256i packed =
        _mm256_permutevar8x32_epi32(in_lane, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), packed);
    return symbols;
  }
};

// SSSE3 (x86-64 CPUs without AVX2): the same steps on 16 bytes.
struct Ssse3Block {
  static constexpr size_t kWidth = 16;
  static constexpr uint32_t kAllSymbols = 0xFFFFu;

  __attribute__((target("ssse3"))) static __m128i load16(const void* table) {
    return _mm_loadu_si128(static_cast<const __m128i*>(table));
  }

  __attribute__((target("ssse3"))) static uint32_t decode(const unsigned char* in, char* out) {
    const __m128i nibble = _mm_set1_epi8(0x0F);
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
    const __m128i low = _mm_and_si128(x, nibble);
    const __m128i high = _mm_and_si128(_mm_srli_epi32(x, 4), nibble);
    const __m128i invalid = _mm_and_si128(_mm_shuffle_epi8(load16(&kInvalidByLow), low),
                                          _mm_shuffle_epi8(load16(&kClassByHigh), high));
    const uint32_t symbols =
        uint32_t(_mm_movemask_epi8(_mm_cmpeq_epi8(invalid, _mm_setzero_si128())));

    const __m128i lone = _mm_and_si128(_mm_shuffle_epi8(load16(&kLoneByLow), low),
                                       _mm_shuffle_epi8(load16(&kLoneByHigh), high));
    const __m128i offset = _mm_add_epi8(_mm_shuffle_epi8(load16(&kOffsetByHigh), high),
                                        _mm_shuffle_epi8(load16(&kOffsetByLone), lone));
    const __m128i values = _mm_sub_epi8(x, offset);
    const __m128i pairs = _mm_maddubs_epi16(values, _mm_set1_epi32(0x01400140));
    const __m128i triples = _mm_madd_epi16(pairs, _mm_set1_epi32(0x00011000));
    const __m128i packed = _mm_shuffle_epi8(
        triples, _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), packed);
    return symbols;
  }
};

// The shape of a body of fixed-length lines (76 symbols in MIME, 64 in PEM): symbols per line
// and line-break bytes, or {0, 0} when the first line does not have a usable shape.
struct LineShape {
  size_t symbols = 0;
  size_t line_break = 0;
};

LineShape first_line_shape(const unsigned char* s, size_t n, size_t block_width) {
  constexpr size_t kLongestLine = 256;
  size_t symbols = 0;
  while (symbols < n && symbols <= kLongestLine && kB64[s[symbols]] < 64) ++symbols;
  // Whole quanta per line and at least one block: each line then decodes on its own.
  if (symbols % 4 != 0 || symbols < block_width || symbols > kLongestLine) return {};
  if (symbols + 1 < n && s[symbols] == '\r' && s[symbols + 1] == '\n') return {symbols, 2};
  if (symbols < n && s[symbols] == '\n') return {symbols, 1};
  return {};
}

// The SIMD driver. Instantiated only inside the target-specific functions below, which
// flatten it so that the blocks inline (an always_inline chain across targets is refused).
template <class Block>
inline std::string decode_base64_blocks(std::string_view in, bool* error) {
  constexpr size_t kWidth = Block::kWidth;
  std::string out;
  out.resize(in.size() / 4 * 3 + 3 + kWidth / 4);
  Base64State st{out.data()};
  auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  const LineShape line = first_line_shape(s, n, kWidth);
  const size_t line_bytes = line.symbols + line.line_break;
  size_t i = 0;
  while (i < n) {
    if (st.have == 0) {
      // Line mode: a whole line per step, its tail block overlapping the one before, and the
      // step known in advance, so that no step waits on where the previous one found the
      // line break. Any other line leaves for the block loop below.
      while (line_bytes != 0 && i + line_bytes <= n) {
        uint32_t symbols = Block::kAllSymbols;
        size_t at = 0;
        for (; at + kWidth <= line.symbols; at += kWidth)
          symbols &= Block::decode(s + i + at, st.out + at / 4 * 3);
        if (at != line.symbols) {
          at = line.symbols - kWidth;
          symbols &= Block::decode(s + i + at, st.out + at / 4 * 3);
        }
        const unsigned char* end = s + i + line.symbols;
        const bool line_break =
            line.line_break == 2 ? end[0] == '\r' && end[1] == '\n' : end[0] == '\n';
        if (symbols != Block::kAllSymbols || !line_break) break;
        i += line_bytes;
        st.out += line.symbols / 4 * 3;
      }
      bool stopped_in_block = false;
      while (i + kWidth <= n) {
        const uint32_t mask = Block::decode(s + i, st.out);
        const size_t symbols = mask == Block::kAllSymbols ? kWidth : size_t(__builtin_ctz(~mask));
        const size_t quanta = symbols / 4;
        i += quanta * 4;
        st.out += quanta * 3;
        if (symbols < kWidth) {
          stopped_in_block = true;
          break;
        }
      }
      // Lines of other shapes: blocks until the line break, the symbols before it taken from
      // the block that found it, then base64_step for the break.
      if (!stopped_in_block) i = base64_quads(s, i, n, st);
    }
    if (i >= n) break;
    i = base64_step(s, i, st);
    // The whitespace after it too: a line break is the usual reason to stop, and a block
    // attempt at its second byte would be wasted.
    while (i < n && kB64[s[i]] == kB64Space) ++i;
  }
  return base64_finish(out, st, error);
}

__attribute__((target("avx2"), flatten)) std::string decode_base64_avx2(std::string_view in,
                                                                        bool* error) {
  return decode_base64_blocks<Avx2Block>(in, error);
}

__attribute__((target("ssse3"), flatten)) std::string decode_base64_ssse3(std::string_view in,
                                                                          bool* error) {
  return decode_base64_blocks<Ssse3Block>(in, error);
}

#endif  // __x86_64__

}  // namespace

bool base64_avx2_available() {
#if defined(__x86_64__)
  static const bool available = __builtin_cpu_supports("avx2");
  return available;
#else
  return false;
#endif
}

bool base64_ssse3_available() {
#if defined(__x86_64__)
  static const bool available = __builtin_cpu_supports("ssse3");
  return available;
#else
  return false;
#endif
}

std::string decode_base64_with(std::string_view in, bool* error, Base64Path path) {
#if defined(__x86_64__)
  const bool avx2 =
      (path == Base64Path::Avx2 || path == Base64Path::Best) && base64_avx2_available();
  if (avx2) return decode_base64_avx2(in, error);
  const bool ssse3 =
      (path == Base64Path::Ssse3 || path == Base64Path::Best) && base64_ssse3_available();
  if (ssse3) return decode_base64_ssse3(in, error);
#endif
  (void)path;
  return decode_base64_scalar(in, error);
}

namespace {

bool is_valid_utf8_scalar(std::string_view bytes) {
  auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len = utf8_seq_len(s, i, n);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string decode_quoted_printable_scalar(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  const char* s = in.data();
  size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    const void* nl = std::memchr(s + i, '\n', n - i);
    size_t line_end = nl ? size_t(static_cast<const char*>(nl) - s) : n;
    size_t content_end = line_end;
    if (content_end > i && s[content_end - 1] == '\r') --content_end;
    size_t t = content_end;
    while (t > i && is_wsp(s[t - 1])) --t;  // transport padding, not content
    bool soft = t > i && s[t - 1] == '=';
    if (soft) --t;
    size_t p = i;
    while (p < t) {
      const void* eq = std::memchr(s + p, '=', t - p);
      size_t e = eq ? size_t(static_cast<const char*>(eq) - s) : t;
      out.append(s + p, e - p);
      if (e >= t) break;
      int hi = e + 1 < t ? hex_value(s[e + 1]) : -1;
      int lo = e + 2 < t ? hex_value(s[e + 2]) : -1;
      if (hi >= 0 && lo >= 0) {
        out.push_back(char(hi * 16 + lo));
        p = e + 3;
      } else {
        out.push_back('=');  // invalid escape: keep it literally
        p = e + 1;
      }
    }
    if (!soft && nl) out.append(s + content_end, line_end + 1 - content_end);
    i = nl ? line_end + 1 : n;
  }
  return out;
}

#if defined(__x86_64__)

// The UTF-8 of bytes 0x80..0xFF: up to three bytes, little-endian, with the length in the top
// byte, so that one 4-byte store writes any of them.
constexpr uint32_t packed_utf8(uint32_t cp) {
  if (cp < 0x800) return 2u << 24 | (0x80 | (cp & 0x3F)) << 8 | (0xC0 | cp >> 6);
  return 3u << 24 | (0x80 | (cp & 0x3F)) << 16 | (0x80 | ((cp >> 6) & 0x3F)) << 8 |
         (0xE0 | cp >> 12);
}
constexpr std::array<uint32_t, 128> make_high_byte_utf8(bool cp1252) {
  std::array<uint32_t, 128> t{};
  for (uint32_t c = 0; c < 128; ++c)
    t[c] = packed_utf8(cp1252 && c < 32 ? kCp1252High[c] : 0x80 + c);
  return t;
}
constexpr auto kLatin1Utf8 = make_high_byte_utf8(false);

constexpr std::array<int8_t, 256> make_hex_values() {
  std::array<int8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = c >= '0' && c <= '9'   ? int8_t(c - '0')
           : c >= 'A' && c <= 'F' ? int8_t(c - 'A' + 10)
           : c >= 'a' && c <= 'f' ? int8_t(c - 'a' + 10)
                                  : int8_t(-1);
  }
  return t;
}
constexpr auto kHexValue = make_hex_values();
constexpr auto kCp1252Utf8 = make_high_byte_utf8(true);

// Block policies: masks of the bytes that end a fast run (bit k for byte k). The copy_ variants
// also store the whole block to `out` (which needs kWidth bytes of room): the run up to the
// first stop is then already in place.
struct Sse2Text {
  static constexpr size_t kWidth = 16;

  static __m128i load(const unsigned char* in) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
  }
  static uint32_t high_bytes(const unsigned char* in) {
    return uint32_t(_mm_movemask_epi8(load(in)));
  }
  // Without POPCNT (not part of SSE2): the top bits as 0/1 bytes, summed by psadbw.
  static size_t count_high_bytes(const unsigned char* in) {
    const __m128i ones = _mm_and_si128(_mm_srli_epi16(load(in), 7), _mm_set1_epi8(1));
    const __m128i sums = _mm_sad_epu8(ones, _mm_setzero_si128());
    return size_t(_mm_cvtsi128_si32(sums) + _mm_extract_epi16(sums, 4));
  }
  static uint32_t copy_high_bytes(const unsigned char* in, char* out) {
    const __m128i x = load(in);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), x);
    return uint32_t(_mm_movemask_epi8(x));
  }
  // '=' and LF: the only bytes at which quoted-printable decoding does anything but copy.
  static uint32_t copy_qp_stops(const unsigned char* in, char* out) {
    const __m128i x = load(in);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), x);
    const __m128i stops =
        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('=')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\n')));
    return uint32_t(_mm_movemask_epi8(stops));
  }
};

struct Avx2Text {
  static constexpr size_t kWidth = 32;

  __attribute__((target("avx2"))) static __m256i load(const unsigned char* in) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in));
  }
  __attribute__((target("avx2"))) static uint32_t high_bytes(const unsigned char* in) {
    return uint32_t(_mm256_movemask_epi8(load(in)));
  }
  __attribute__((target("avx2,popcnt"))) static size_t count_high_bytes(const unsigned char* in) {
    return size_t(__builtin_popcount(high_bytes(in)));
  }
  __attribute__((target("avx2"))) static uint32_t copy_high_bytes(const unsigned char* in,
                                                                  char* out) {
    const __m256i x = load(in);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), x);
    return uint32_t(_mm256_movemask_epi8(x));
  }
  __attribute__((target("avx2"))) static uint32_t copy_qp_stops(const unsigned char* in,
                                                                char* out) {
    const __m256i x = load(in);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), x);
    const __m256i stops = _mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8('=')),
                                          _mm256_cmpeq_epi8(x, _mm256_set1_epi8('\n')));
    return uint32_t(_mm256_movemask_epi8(stops));
  }
};

// The drivers below are instantiated only inside the target-specific functions further down,
// which flatten them so that the blocks inline.

template <class Block>
inline bool is_valid_utf8_blocks(std::string_view bytes) {
  constexpr size_t kWidth = Block::kWidth;
  auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i + kWidth <= n) {
    const size_t block = i;
    uint32_t high = Block::high_bytes(s + block);
    i = block + kWidth;
    if (high == 0) continue;
    // Each run of sequences in the block from its mask, without loading the block again; the
    // sequences of a run (a word of Cyrillic or CJK) one after another.
    while (high != 0) {
      size_t next = block + size_t(__builtin_ctz(high));
      do {
        const size_t len = utf8_seq_len(s, next, n);
        if (len == 0) return false;
        next += len;
      } while (next < n && s[next] >= 0x80);
      if (next >= block + kWidth) {
        i = next;
        break;
      }
      high &= ~0u << (next - block);
    }
  }
  // i is on a sequence boundary: the reference checks the tail.
  return is_valid_utf8_scalar(bytes.substr(i));
}

template <class Block>
inline void single_byte_to_utf8_blocks(std::string_view in, std::string& out, bool cp1252) {
  constexpr size_t kWidth = Block::kWidth;
  const auto& table = cp1252 ? kCp1252Utf8 : kLatin1Utf8;
  auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  // Each byte >= 0x80 grows by at most two bytes: count them, so the output is sized once.
  size_t high = 0;
  size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) high += Block::count_high_bytes(s + i);
  for (; i < n; ++i) high += s[i] >> 7;
  const size_t start = out.size();
  out.resize(start + n + 2 * high + kWidth);  // room for a whole block or a 4-byte table store
  char* o = out.data() + start;
  auto convert_high = [&](unsigned char c) {
    const uint32_t utf8 = table[c - 0x80];
    std::memcpy(o, &utf8, 4);
    o += utf8 >> 24;
  };
  i = 0;
  while (i + kWidth <= n) {
    const uint32_t high_mask = Block::copy_high_bytes(s + i, o);
    if (high_mask == 0) {
      i += kWidth;
      o += kWidth;
      continue;
    }
    const size_t ascii = size_t(__builtin_ctz(high_mask));
    i += ascii;
    o += ascii;
    while (i < n && s[i] >= 0x80) convert_high(s[i++]);
  }
  for (; i < n; ++i) {
    if (s[i] < 0x80)
      *o++ = char(s[i]);
    else
      convert_high(s[i]);
  }
  out.resize(size_t(o - out.data()));
}

// The same decoding as decode_quoted_printable_scalar, in one pass: clean runs are copied a block
// at a time up to the next '=' or LF, and the transport padding before a hard line break is taken
// back from the output. That needs no look-ahead because '=', whitespace, CR and LF are never hex
// digits: an escape can never reach into a line's padding or line break.
template <class Block>
inline std::string decode_quoted_printable_blocks(std::string_view in) {
  constexpr size_t kWidth = Block::kWidth;
  auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  std::string out;
  out.resize(n + kWidth);  // the output is never longer than the input; + one block store
  char* o = out.data();
  size_t i = 0;
  size_t copied_from = 0;  // input [copied_from, i) is in the output as it is
  // Input [copied_from, line_end) is the end of a line: its padding (spaces and tabs before an
  // optional CR) leaves the output; returns where the line's content ends.
  auto drop_padding = [&](size_t line_end) {
    size_t content_end = line_end;
    if (content_end > copied_from && s[content_end - 1] == '\r') --content_end;
    size_t kept = content_end;
    while (kept > copied_from && is_wsp(char(s[kept - 1]))) --kept;
    o -= line_end - kept;
    return content_end;
  };
  while (true) {
    bool stopped = false;
    while (i + kWidth <= n) {
      const uint32_t stops = Block::copy_qp_stops(s + i, o);
      if (stops != 0) {
        const size_t run = size_t(__builtin_ctz(stops));
        i += run;
        o += run;
        stopped = true;
        break;
      }
      i += kWidth;
      o += kWidth;
    }
    if (!stopped)
      while (i < n && s[i] != '=' && s[i] != '\n') *o++ = char(s[i++]);
    if (i >= n) break;
    if (s[i] == '\n') {  // hard line break: kept, CR included
      for (size_t k = drop_padding(i); k <= i; ++k) *o++ = char(s[k]);
      copied_from = ++i;
      continue;
    }
    // Escapes come in chains (=C3=A9): decode them all before the next block.
    do {
      const int hi = i + 1 < n ? kHexValue[s[i + 1]] : -1;
      const int lo = i + 2 < n ? kHexValue[s[i + 2]] : -1;
      if ((hi | lo) >= 0) {
        *o++ = char(hi * 16 + lo);
        i += 3;
        continue;
      }
      // '=' followed only by padding and an optional CR up to the line end: a soft line break.
      size_t after = i + 1;
      while (after < n && is_wsp(char(s[after]))) ++after;
      if (after < n && s[after] == '\r') ++after;
      if (after >= n || s[after] == '\n') {
        i = after < n ? after + 1 : n;
      } else {
        *o++ = '=';  // invalid escape: keep it literally
        ++i;
      }
    } while (i < n && s[i] == '=');
    copied_from = i;
  }
  drop_padding(n);  // the last line, without a line break (a lone CR there goes too)
  out.resize(size_t(o - out.data()));
  return out;
}

__attribute__((flatten)) bool is_valid_utf8_sse2(std::string_view bytes) {
  return is_valid_utf8_blocks<Sse2Text>(bytes);
}
// Full UTF-8 validation 32 bytes per step (Keiser and Lemire, "Validating UTF-8 in less than
// one instruction per byte", 2021): three nibble lookups on each byte and the one before it
// flag every invalid pair, and lead bytes two and three places back say where a third or
// fourth byte must follow. For Cyrillic or CJK text, where the ASCII skip gains nothing.
namespace utf8_check {
constexpr uint8_t kTooShort = 1 << 0;      // lead byte, then no continuation
constexpr uint8_t kTooLong = 1 << 1;       // ASCII, then a continuation
constexpr uint8_t kOverlong3 = 1 << 2;     // E0 80..9F
constexpr uint8_t kTooLarge = 1 << 3;      // F4 90..BF, F5..FF
constexpr uint8_t kSurrogate = 1 << 4;     // ED A0..BF
constexpr uint8_t kOverlong2 = 1 << 5;     // C0..C1 then a continuation
constexpr uint8_t kTooLarge1000 = 1 << 6;  // F5..FF 80..8F
constexpr uint8_t kOverlong4 = 1 << 6;     // F0 80..8F
constexpr uint8_t kTwoConts = 1 << 7;      // continuation, continuation
constexpr uint8_t kCarry = kTooShort | kTooLong | kTwoConts;

constexpr std::array<uint8_t, 16> kByte1High = {kTooLong,
                                                kTooLong,
                                                kTooLong,
                                                kTooLong,
                                                kTooLong,
                                                kTooLong,
                                                kTooLong,
                                                kTooLong,
                                                kTwoConts,
                                                kTwoConts,
                                                kTwoConts,
                                                kTwoConts,
                                                kTooShort | kOverlong2,
                                                kTooShort,
                                                kTooShort | kOverlong3 | kSurrogate,
                                                kTooShort | kTooLarge | kTooLarge1000 | kOverlong4};
constexpr std::array<uint8_t, 16> kByte1Low = {kCarry | kOverlong3 | kOverlong2 | kOverlong4,
                                               kCarry | kOverlong2,
                                               kCarry,
                                               kCarry,
                                               kCarry | kTooLarge,
                                               kCarry | kTooLarge | kTooLarge1000,
                                               kCarry | kTooLarge | kTooLarge1000,
                                               kCarry | kTooLarge | kTooLarge1000,
                                               kCarry | kTooLarge | kTooLarge1000,
                                               kCarry | kTooLarge | kTooLarge1000,
                                               kCarry | kTooLarge | kTooLarge1000,
                                               kCarry | kTooLarge | kTooLarge1000,
                                               kCarry | kTooLarge | kTooLarge1000,
                                               kCarry | kTooLarge | kTooLarge1000 | kSurrogate,
                                               kCarry | kTooLarge | kTooLarge1000,
                                               kCarry | kTooLarge | kTooLarge1000};
constexpr std::array<uint8_t, 16> kByte2High = {
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooLong | kOverlong2 | kTwoConts | kOverlong3 | kTooLarge1000 | kOverlong4,
    kTooLong | kOverlong2 | kTwoConts | kOverlong3 | kTooLarge,
    kTooLong | kOverlong2 | kTwoConts | kSurrogate | kTooLarge,
    kTooLong | kOverlong2 | kTwoConts | kSurrogate | kTooLarge,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort};
}  // namespace utf8_check

__attribute__((target("avx2"))) inline __m256i broadcast_table(const std::array<uint8_t, 16>& t) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&t)));
}

// Non-zero bytes where `input` (after `previous`) is not valid UTF-8, except for sequences that
// `input` leaves unfinished.
__attribute__((target("avx2"))) inline __m256i utf8_block_errors(__m256i input, __m256i previous) {
  using namespace utf8_check;
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const __m256i carried = _mm256_permute2x128_si256(previous, input, 0x21);
  const __m256i prev1 = _mm256_alignr_epi8(input, carried, 15);
  const __m256i prev2 = _mm256_alignr_epi8(input, carried, 14);
  const __m256i prev3 = _mm256_alignr_epi8(input, carried, 13);
  const __m256i byte_1_high = _mm256_shuffle_epi8(
      broadcast_table(kByte1High), _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble));
  const __m256i byte_1_low =
      _mm256_shuffle_epi8(broadcast_table(kByte1Low), _mm256_and_si256(prev1, nibble));
  const __m256i byte_2_high = _mm256_shuffle_epi8(
      broadcast_table(kByte2High), _mm256_and_si256(_mm256_srli_epi16(input, 4), nibble));
  const __m256i special_cases =
      _mm256_and_si256(_mm256_and_si256(byte_1_high, byte_1_low), byte_2_high);
  // A third byte after E0..FF two places back, a fourth after F0..FF three places back: there
  // a continuation must be, and kTwoConts (0x80) must be set.
  const __m256i third = _mm256_subs_epu8(prev2, _mm256_set1_epi8(char(0xE0 - 1)));
  const __m256i fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8(char(0xF0 - 1)));
  const __m256i must_continue =
      _mm256_and_si256(_mm256_cmpgt_epi8(_mm256_or_si256(third, fourth), _mm256_setzero_si256()),
                       _mm256_set1_epi8(char(0x80)));
  return _mm256_xor_si256(must_continue, special_cases);
}

__attribute__((target("avx2"), flatten)) bool is_valid_utf8_avx2(std::string_view bytes) {
  auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  // Lead bytes in a block's last three places that need bytes from the next block.
  const __m256i unfinished_above = _mm256_setr_epi8(
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
      -1, -1, -1, -1, -1, -1, char(0xF0 - 1), char(0xE0 - 1), char(0xC0 - 1));
  __m256i previous = _mm256_setzero_si256();
  __m256i unfinished = _mm256_setzero_si256();
  __m256i errors = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i input = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    if (_mm256_movemask_epi8(input) == 0) {
      errors = _mm256_or_si256(errors, unfinished);
      unfinished = _mm256_setzero_si256();
    } else {
      errors = _mm256_or_si256(errors, utf8_block_errors(input, previous));
      unfinished = _mm256_subs_epu8(input, unfinished_above);
    }
    previous = input;
  }
  if (!_mm256_testz_si256(errors, errors)) return false;
  // The reference checks the tail, from the start of a sequence the last block left unfinished.
  size_t tail = i;
  if (!_mm256_testz_si256(unfinished, unfinished))
    for (size_t back = 1; back <= 3 && back <= i; ++back)
      if (s[i - back] >= 0xC0) {
        tail = i - back;
        break;
      }
  return is_valid_utf8_scalar(bytes.substr(tail));
}
__attribute__((flatten)) void single_byte_to_utf8_sse2(std::string_view in, std::string& out,
                                                       bool cp1252) {
  single_byte_to_utf8_blocks<Sse2Text>(in, out, cp1252);
}
__attribute__((target("avx2,popcnt"), flatten)) void single_byte_to_utf8_avx2(std::string_view in,
                                                                              std::string& out,
                                                                              bool cp1252) {
  single_byte_to_utf8_blocks<Avx2Text>(in, out, cp1252);
}
__attribute__((flatten)) std::string decode_quoted_printable_sse2(std::string_view in) {
  return decode_quoted_printable_blocks<Sse2Text>(in);
}
__attribute__((target("avx2"), flatten)) std::string decode_quoted_printable_avx2(
    std::string_view in) {
  return decode_quoted_printable_blocks<Avx2Text>(in);
}

// The path that will run for `path` on this CPU.
TextPath available_text_path(TextPath path) {
  if ((path == TextPath::Avx2 || path == TextPath::Best) && text_avx2_available())
    return TextPath::Avx2;
  if ((path == TextPath::Sse2 || path == TextPath::Best) && text_sse2_available())
    return TextPath::Sse2;
  return TextPath::Scalar;
}

#endif  // __x86_64__

}  // namespace

bool text_sse2_available() {
#if defined(__x86_64__)
  return true;  // part of x86-64
#else
  return false;
#endif
}

bool text_avx2_available() {
#if defined(__x86_64__)
  static const bool available = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
  return available;
#else
  return false;
#endif
}

bool is_valid_utf8_with(std::string_view bytes, TextPath path) {
#if defined(__x86_64__)
  switch (available_text_path(path)) {
    case TextPath::Avx2:
      return is_valid_utf8_avx2(bytes);
    case TextPath::Sse2:
      return is_valid_utf8_sse2(bytes);
    default:
      break;
  }
#endif
  (void)path;
  return is_valid_utf8_scalar(bytes);
}

void single_byte_to_utf8_with(std::string_view in, std::string& out, bool cp1252, TextPath path) {
#if defined(__x86_64__)
  switch (available_text_path(path)) {
    case TextPath::Avx2:
      return single_byte_to_utf8_avx2(in, out, cp1252);
    case TextPath::Sse2:
      return single_byte_to_utf8_sse2(in, out, cp1252);
    default:
      break;
  }
#endif
  (void)path;
  single_byte_to_utf8_scalar(in, out, cp1252);
}

std::string decode_quoted_printable_with(std::string_view in, TextPath path) {
#if defined(__x86_64__)
  switch (available_text_path(path)) {
    case TextPath::Avx2:
      return decode_quoted_printable_avx2(in);
    case TextPath::Sse2:
      return decode_quoted_printable_sse2(in);
    default:
      break;
  }
#endif
  (void)path;
  return decode_quoted_printable_scalar(in);
}

}  // namespace mime_detail

namespace {

bool is_alnum_ascii(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// A line of base64 text (line break and trailing blanks excluded): symbols of the alphabet in
// use and padding, nothing else.
bool is_base64_line(std::string_view line, bool url_safe) {
  for (unsigned char c : line)
    if (!is_alnum_ascii(c) && c != '=' && c != '\r' &&
        !(url_safe ? (c == '-' || c == '_') : (c == '+' || c == '/')))
      return false;
  return true;
}

std::string_view trim_blanks(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
    line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  return line;
}

// Every non-blank line of `text` is base64 of the given alphabet.
bool all_base64_lines(std::string_view text, bool url_safe) {
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (!is_base64_line(trim_blanks(text.substr(start, end - start)), url_safe)) return false;
    start = end + 1;
  }
  return true;
}

// The URL-safe alphabet is in use when the body has neither '+' nor '/' and some line mixes
// letters or digits with '-' or '_' and nothing else: a "-----" footer or a "-- " signature
// line does not make a standard body URL-safe.
bool uses_url_safe_alphabet(std::string_view in) {
  if (std::memchr(in.data(), '+', in.size()) || std::memchr(in.data(), '/', in.size()))
    return false;
  if (!std::memchr(in.data(), '-', in.size()) && !std::memchr(in.data(), '_', in.size()))
    return false;
  for (size_t start = 0; start < in.size();) {
    size_t end = in.find('\n', start);
    if (end == std::string_view::npos) end = in.size();
    const std::string_view line = trim_blanks(in.substr(start, end - start));
    bool safe_letter = false, alnum = false;
    for (unsigned char c : line) {
      safe_letter |= c == '-' || c == '_';
      alnum |= is_alnum_ascii(c);
    }
    if (safe_letter && alnum && is_base64_line(line, true)) return true;
    start = end + 1;
  }
  return false;
}

// Where the data of a base64 body ends: at the end of a padding run followed by text that is
// not base64 (a mailing-list footer appended to a base64 message; RFC 2045 6.8). Separately
// padded chunks that are all base64 are kept. Each byte is looked at once.
size_t base64_data_end(std::string_view in, bool url_safe) {
  size_t pad = in.find('=');
  while (pad != std::string_view::npos) {
    size_t after = pad;
    while (after < in.size() && in[after] == '=') ++after;
    const size_t next_pad = in.find('=', after);
    const size_t until = next_pad == std::string_view::npos ? in.size() : next_pad;
    // Up to the next padding (or the end): the rest of this line, whole lines, and the start
    // of the next padding's line must all be base64, else the data ended here.
    if (!all_base64_lines(in.substr(after, until - after), url_safe)) return after;
    pad = next_pad;
  }
  return in.size();
}

}  // namespace

std::string decode_base64(std::string_view in, bool* error) {
  const bool url_safe = uses_url_safe_alphabet(in);
  in = in.substr(0, base64_data_end(in, url_safe));
  // Outside the URL-safe alphabet '-' and '_' are characters outside the alphabet: ignored.
  if (!url_safe &&
      (std::memchr(in.data(), '-', in.size()) || std::memchr(in.data(), '_', in.size()))) {
    std::string kept;
    kept.reserve(in.size());
    for (char c : in)
      if (c != '-' && c != '_') kept.push_back(c);
    return decode_base64_with(kept, error, Base64Path::Best);
  }
  return decode_base64_with(in, error, Base64Path::Best);
}

std::string decode_quoted_printable(std::string_view in) {
  return decode_quoted_printable_with(in, TextPath::Best);
}

std::string decode_rfc2047(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  std::string pending;          // raw bytes of adjacent encoded words in one charset
  std::string pending_charset;  // so that a character split across words survives
  std::string tmp;
  auto flush_pending = [&] {
    if (pending_charset.empty() && pending.empty()) return;
    tmp.clear();
    out.append(to_utf8_view(pending, pending_charset, &tmp, nullptr));
    pending.clear();
    pending_charset.clear();
  };
  auto append_literal = [&](std::string_view lit) {
    if (lit.empty()) return;
    flush_pending();
    tmp.clear();
    out.append(to_utf8_view(lit, "", &tmp, nullptr));
  };
  const size_t n = v.size();
  size_t i = 0;
  size_t lit_start = 0;
  bool last_was_word = false;
  size_t after_last_word = 0;
  while (i + 1 < n) {
    size_t q = v.find("=?", i);
    if (q == std::string_view::npos) break;
    // charset (with optional RFC 2231 *language) up to '?'
    size_t cs_start = q + 2;
    size_t cs_end = cs_start;
    while (cs_end < n && cs_end - cs_start < 80 && v[cs_end] != '?' && !is_space(v[cs_end]))
      ++cs_end;
    if (cs_end >= n || v[cs_end] != '?' || cs_end == cs_start || cs_end + 2 >= n ||
        v[cs_end + 2] != '?') {
      i = q + 2;
      continue;
    }
    char enc = ascii_lower(v[cs_end + 1]);
    if (enc != 'b' && enc != 'q') {
      i = q + 2;
      continue;
    }
    size_t text_start = cs_end + 3;
    size_t text_end = text_start;
    bool found = false;
    while (text_end < n) {
      char c = v[text_end];
      if (is_space(c)) break;
      if (c == '?' && text_end + 1 < n && v[text_end + 1] == '=') {
        found = true;
        break;
      }
      ++text_end;
    }
    if (!found) {
      // No later word can start before text_end and succeed: skip ahead to stay linear.
      i = std::max(text_end, q + 2);
      continue;
    }
    std::string_view charset = v.substr(cs_start, cs_end - cs_start);
    if (size_t star = charset.find('*'); star != std::string_view::npos)
      charset = charset.substr(0, star);
    std::string_view text = v.substr(text_start, text_end - text_start);
    std::string bytes;
    if (enc == 'b') {
      bytes = decode_base64(text);
    } else {
      bytes.reserve(text.size());
      for (size_t k = 0; k < text.size(); ++k) {
        char c = text[k];
        if (c == '_') {
          bytes.push_back(' ');
        } else if (c == '=' && k + 2 < text.size() && hex_value(text[k + 1]) >= 0 &&
                   hex_value(text[k + 2]) >= 0) {
          bytes.push_back(char(hex_value(text[k + 1]) * 16 + hex_value(text[k + 2])));
          k += 2;
        } else {
          bytes.push_back(c);
        }
      }
    }
    // Literal text before this word; only whitespace between two words disappears.
    std::string_view between = v.substr(lit_start, q - lit_start);
    bool only_ws = last_was_word && lit_start == after_last_word && trim(between).empty();
    if (!only_ws) append_literal(between);
    if (!pending_charset.empty() && !iequals(pending_charset, charset)) flush_pending();
    if (pending_charset.empty()) pending_charset = std::string(charset);
    pending += bytes;
    i = text_end + 2;
    lit_start = i;
    after_last_word = i;
    last_was_word = true;
  }
  append_literal(v.substr(lit_start));
  flush_pending();
  return out;
}

// RFC 3676 format=flowed.
std::string join_flowed(std::string_view text, bool delsp) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  bool joining = false;  // the previous line was soft-broken
  size_t joining_depth = 0;
  while (i < text.size()) {
    size_t e = text.find('\n', i);
    std::string_view line = text.substr(i, (e == std::string_view::npos ? text.size() : e) - i);
    i = e == std::string_view::npos ? text.size() : e + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t depth = 0;
    while (depth < line.size() && line[depth] == '>') ++depth;
    std::string_view content = line.substr(depth);
    if (!content.empty() && content[0] == ' ') content.remove_prefix(1);  // stuffing
    if (joining && depth != joining_depth) out.push_back('\n');           // quote depth changed
    if (!joining || depth != joining_depth) {
      out.append(depth, '>');
      if (depth) out.push_back(' ');
    }
    bool soft = !content.empty() && content.back() == ' ' && content != "-- ";
    if (soft && delsp) content.remove_suffix(1);
    out.append(content);
    joining = soft;
    joining_depth = depth;
    if (!soft && e != std::string_view::npos) out.push_back('\n');
  }
  return out;
}

}  // namespace credsift

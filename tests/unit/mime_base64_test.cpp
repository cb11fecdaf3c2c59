// The base64 decoder's paths (scalar table, SSSE3 and AVX2 blocks) held against a byte-at-a-time
// model of the contract on random and hand-picked inputs: same bytes, same error flag.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include "../../scanner/mime/base64.hpp"
#include "credsift/mime.hpp"

using namespace credsift;
using credsift::mime_detail::Base64Path;
using credsift::mime_detail::decode_base64_with;

namespace {

const std::string kStandard = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const std::string kUrlSafe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct Decoded {
  std::string bytes;
  bool error = false;
  bool operator==(const Decoded&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Decoded& d) {
  os << (d.error ? "error, " : "ok, ") << d.bytes.size() << " bytes:";
  for (unsigned char c : d.bytes) os << ' ' << int(c);
  return os;
}

// The contract, one byte at a time: symbols of either alphabet accumulate, whitespace is
// skipped, '=' ends a chunk, anything else is flagged and skipped; a lone trailing symbol or an
// unpadded end is flagged.
Decoded model_decode(std::string_view in) {
  Decoded d;
  uint32_t acc = 0;
  int have = 0;
  auto flush = [&] {
    if (have == 1) d.error = true;
    if (have >= 2) d.bytes += char(acc >> (have == 2 ? 4 : 10));
    if (have == 3) d.bytes += char((acc >> 2) & 0xFF);
    acc = 0;
    have = 0;
  };
  for (char c : in) {
    const size_t standard = kStandard.find(c), url_safe = kUrlSafe.find(c);
    const size_t value = standard != std::string::npos ? standard : url_safe;
    if (value != std::string::npos) {
      acc = (acc << 6) | uint32_t(value);
      if (++have == 4) {
        d.bytes += char(acc >> 16);
        d.bytes += char((acc >> 8) & 0xFF);
        d.bytes += char(acc & 0xFF);
        acc = 0;
        have = 0;
      }
    } else if (c == '=') {
      flush();
    } else if (std::string_view(" \t\r\n\v\f").find(c) == std::string_view::npos) {
      d.error = true;
    }
  }
  if (have != 0) d.error = true;
  flush();
  return d;
}

Decoded run(std::string_view in, Base64Path path) {
  Decoded d;
  d.bytes = decode_base64_with(in, &d.error, path);
  return d;
}

// Every path agrees with the model on `in`; the message names the path and the input.
void expect_all_paths(std::string_view in) {
  const Decoded expected = model_decode(in);
  EXPECT_EQ(run(in, Base64Path::Scalar), expected) << "scalar path, input: " << in;
  if (mime_detail::base64_ssse3_available()) {
    EXPECT_EQ(run(in, Base64Path::Ssse3), expected) << "SSSE3 path, input: " << in;
  }
  if (mime_detail::base64_avx2_available()) {
    EXPECT_EQ(run(in, Base64Path::Avx2), expected) << "AVX2 path, input: " << in;
  }
  // decode_base64 adds what a body needs on top (the URL-safe letters only in URL-safe bodies,
  // the end at padding followed by text: tests/unit/mime_rfc2045_test.cpp); on bodies where
  // neither applies it is the paths' decoder.
  const size_t pad = in.find('=');
  const bool plain =
      in.find_first_of("-_") == std::string_view::npos &&
      (pad == std::string_view::npos ||
       in.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n",
                            pad) == std::string_view::npos);
  if (!plain) return;
  bool error = false;
  EXPECT_EQ(decode_base64(in, &error), expected.bytes) << "decode_base64, input: " << in;
  EXPECT_EQ(error, expected.error) << "decode_base64, input: " << in;
}

std::string random_bytes(std::mt19937_64& random, size_t size) {
  std::string data(size, '\0');
  for (auto& c : data) c = char(random());
  return data;
}

// Encodes data with the given alphabet, padded, with a line break of `eol` after every
// `line_length` symbols (none when eol is empty).
std::string encode(std::string_view data, const std::string& alphabet, std::string_view eol,
                   size_t line_length = 76) {
  std::string symbols;
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(data[i])) << 16 | uint32_t(uint8_t(data[i + 1])) << 8 |
                       uint8_t(data[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) symbols += alphabet[(v >> shift) & 63];
  }
  if (data.size() - i == 1) {
    const uint32_t v = uint32_t(uint8_t(data[i])) << 16;
    symbols += alphabet[v >> 18];
    symbols += alphabet[(v >> 12) & 63];
    symbols += "==";
  } else if (data.size() - i == 2) {
    const uint32_t v = uint32_t(uint8_t(data[i])) << 16 | uint32_t(uint8_t(data[i + 1])) << 8;
    symbols += alphabet[v >> 18];
    symbols += alphabet[(v >> 12) & 63];
    symbols += alphabet[(v >> 6) & 63];
    symbols += '=';
  }
  if (eol.empty()) return symbols;
  std::string out;
  for (size_t at = 0; at < symbols.size(); at += line_length) {
    out += symbols.substr(at, line_length);
    out += eol;
  }
  return out;
}

// Bytes that are neither symbols nor whitespace nor padding, high bytes included.
char random_invalid(std::mt19937_64& random) {
  for (;;) {
    const char c = char(random());
    if (kStandard.find(c) == std::string::npos && kUrlSafe.find(c) == std::string::npos &&
        std::string_view(" \t\r\n\v\f=").find(c) == std::string_view::npos)
      return c;
  }
}

// One random damage of a valid encoding, of the kinds mail bodies show.
std::string damage(std::mt19937_64& random, std::string s) {
  const size_t at = s.empty() ? 0 : size_t(random() % (s.size() + 1));
  switch (random() % 6) {
    case 0:
      s.insert(at, 1, random_invalid(random));
      break;
    case 1:
      s.insert(at, std::string(1 + random() % 40, " \t\r\n\v\f"[random() % 6]));
      break;
    case 2:
      s.resize(at);  // truncated end
      break;
    case 3:
      s.insert(at, 1, '=');  // padding in the middle of a run
      break;
    case 4:
      if (at < s.size()) s[at] = random_invalid(random);
      break;
    case 5:
      s.insert(at, std::string(1 + random() % 3, '='));
      break;
  }
  return s;
}

TEST(Base64Paths, KnownVectorsOnEveryPath) {
  const std::pair<std::string, Decoded> cases[] = {
      {"", {"", false}},
      {"Zg==", {"f", false}},
      {"Zm8=", {"fo", false}},
      {"Zm9v", {"foo", false}},
      {"Zm9vYg==", {"foob", false}},
      {"Zm9vYmE=", {"fooba", false}},
      {"Zm9vYmFy", {"foobar", false}},
      {"Zm9v\r\nYmFy\r\n", {"foobar", false}},
      {"Zg==Zm8=Zm9v", {"ffofoo", false}},  // separately padded chunks
      {"Zm9vYmF", {"fooba", true}},         // unpadded end
      {"Zm9vY", {"foo", true}},             // lone trailing symbol
      {"Zm9v!YmFy", {"foobar", true}},      // invalid byte skipped, flagged
      {"-_-_", {"\xfb\xff\xbf", false}},    // URL-safe alphabet
      {"+/+/", {"\xfb\xff\xbf", false}},    // standard alphabet
      {std::string(40, 'A') + "\x80" + std::string(24, 'A'), {std::string(48, '\0'), true}},
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_EQ(model_decode(input), expected) << "model, input: " << input;
    expect_all_paths(input);
  }
}

TEST(Base64Paths, AvailabilityMatchesTheCpu) {
#if defined(__x86_64__)
  EXPECT_EQ(mime_detail::base64_avx2_available(), bool(__builtin_cpu_supports("avx2")));
  EXPECT_EQ(mime_detail::base64_ssse3_available(), bool(__builtin_cpu_supports("ssse3")));
#else
  EXPECT_FALSE(mime_detail::base64_avx2_available());
  EXPECT_FALSE(mime_detail::base64_ssse3_available());
#endif
}

// Line lengths: MIME's 76, PEM's 64, others with and without whole quanta, shorter than a
// block, exactly one block, longer than two.
constexpr size_t kLineLengths[] = {76, 64, 72, 32, 36, 20, 30, 77, 100};

TEST(Base64Paths, EveryLengthAndLineStyle) {
  std::mt19937_64 random(1);
  for (size_t size = 0; size <= 200; ++size) {
    const std::string data = random_bytes(random, size);
    for (const char* eol : {"", "\n", "\r\n"}) {
      for (const std::string* alphabet : {&kStandard, &kUrlSafe}) {
        const size_t line_length = kLineLengths[random() % std::size(kLineLengths)];
        const std::string encoded = encode(data, *alphabet, eol, line_length);
        ASSERT_EQ(model_decode(encoded), (Decoded{data, false})) << "size " << size;
        expect_all_paths(encoded);
        // The same without its padding: flagged as cut short, the bytes still decoded.
        std::string unpadded = encoded;
        while (!unpadded.empty() &&
               (unpadded.back() == '=' || unpadded.back() == '\n' || unpadded.back() == '\r'))
          unpadded.pop_back();
        expect_all_paths(unpadded);
        if (::testing::Test::HasFailure()) return;  // the first failing input says enough
      }
    }
  }
}

TEST(Base64Paths, ConcatenatedPaddedChunks) {
  std::mt19937_64 random(2);
  for (int round = 0; round < 300; ++round) {
    std::string encoded;
    const int chunks = 1 + int(random() % 6);
    for (int c = 0; c < chunks; ++c)
      encoded +=
          encode(random_bytes(random, random() % 120), kStandard, random() % 2 ? "\r\n" : "");
    expect_all_paths(encoded);
    if (::testing::Test::HasFailure()) return;  // the first failing input says enough
  }
}

TEST(Base64Paths, RandomDamage) {
  std::mt19937_64 random(3);
  for (int round = 0; round < 4000; ++round) {
    const size_t size = random() % 3 ? random() % 200 : random() % 3000;
    const char* eol = std::array{"", "\n", "\r\n"}[random() % 3];
    const size_t line_length = random() % 2 ? 76 : kLineLengths[random() % std::size(kLineLengths)];
    std::string encoded = encode(random_bytes(random, size), kStandard, eol, line_length);
    const int damages = int(random() % 5);
    for (int d = 0; d < damages; ++d) encoded = damage(random, encoded);
    expect_all_paths(encoded);
    if (::testing::Test::HasFailure()) return;  // the first failing input says enough
  }
}

// Every byte value at every position of a block run: the SIMD classification and the offsets
// for all 256 values in every lane, with a valid run before and after.
TEST(Base64Paths, EveryByteValueInEveryLane) {
  const std::string base = std::string(32, 'Q') + std::string(64, 'w') + std::string(32, '7');
  for (size_t at = 0; at < 96; ++at) {
    for (int value = 0; value < 256; ++value) {
      std::string encoded = base;
      encoded[at] = char(value);
      expect_all_paths(encoded);
      if (::testing::Test::HasFailure()) return;  // the first failing input says enough
    }
  }
}

// Mostly symbols with every other kind of byte sprinkled in, at random densities.
TEST(Base64Paths, RandomSymbolSoup) {
  std::mt19937_64 random(4);
  const std::string others = " \t\r\n\v\f=!.:@[`{\x7f\x80\xff";
  for (int round = 0; round < 3000; ++round) {
    const size_t size = random() % 400;
    const unsigned noise_per_mille = unsigned(random() % 200);
    std::string soup;
    for (size_t i = 0; i < size; ++i) {
      if (random() % 1000 < noise_per_mille)
        soup += others[random() % others.size()];
      else
        soup += (random() % 2 ? kStandard : kUrlSafe)[random() % 64];
    }
    expect_all_paths(soup);
    if (::testing::Test::HasFailure()) return;  // the first failing input says enough
  }
}

}  // namespace

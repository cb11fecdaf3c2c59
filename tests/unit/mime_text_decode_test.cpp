// The text decoders' SIMD paths (SSE2 and AVX2 blocks) held against their scalar references:
// is_valid_utf8, decode_quoted_printable and the ISO-8859-1 / windows-1252 conversion, on
// hand-picked cases and on inputs that put every interesting byte sequence at every position
// around the 16- and 32-byte block edges.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "../../scanner/mime/text_decode.hpp"
#include "credsift/mime.hpp"

using namespace credsift;
using credsift::mime_detail::TextPath;

namespace {

struct NamedPath {
  TextPath path;
  const char* name;
};

// The SIMD paths this CPU can run; a test that finds none says so instead of passing quietly.
std::vector<NamedPath> simd_paths() {
  std::vector<NamedPath> paths;
  if (mime_detail::text_sse2_available()) paths.push_back({TextPath::Sse2, "sse2"});
  if (mime_detail::text_avx2_available()) paths.push_back({TextPath::Avx2, "avx2"});
  return paths;
}

std::string printable(std::string_view s) {
  static const char* const hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += char(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string single_byte(std::string_view in, bool cp1252, TextPath path) {
  std::string out = "prefix:";  // the conversion appends
  mime_detail::single_byte_to_utf8_with(in, out, cp1252, path);
  return out;
}

// Compares every SIMD path with the scalar reference on `in`; false (with a failure naming the
// path and the input) at the first difference, so that a broken path stops the sweep early.
bool paths_agree(std::string_view in) {
  const bool valid = mime_detail::is_valid_utf8_with(in, TextPath::Scalar);
  const std::string qp = mime_detail::decode_quoted_printable_with(in, TextPath::Scalar);
  const std::string latin1 = single_byte(in, false, TextPath::Scalar);
  const std::string cp1252 = single_byte(in, true, TextPath::Scalar);
  for (const NamedPath& p : simd_paths()) {
    if (mime_detail::is_valid_utf8_with(in, p.path) != valid) {
      ADD_FAILURE() << p.name << " is_valid_utf8 says " << !valid << " on \"" << printable(in)
                    << "\"";
      return false;
    }
    const std::string fast_qp = mime_detail::decode_quoted_printable_with(in, p.path);
    if (fast_qp != qp) {
      ADD_FAILURE() << p.name << " quoted-printable of \"" << printable(in) << "\" gave \""
                    << printable(fast_qp) << "\", scalar \"" << printable(qp) << "\"";
      return false;
    }
    for (const bool cp : {false, true}) {
      const std::string fast = single_byte(in, cp, p.path);
      const std::string& reference = cp ? cp1252 : latin1;
      if (fast != reference) {
        ADD_FAILURE() << p.name << (cp ? " windows-1252" : " ISO-8859-1") << " of \""
                      << printable(in) << "\" gave \"" << printable(fast) << "\", scalar \""
                      << printable(reference) << "\"";
        return false;
      }
    }
  }
  return true;
}

TEST(TextDecodePaths, SimdPathsAreAvailableOnX86) {
#if defined(__x86_64__)
  EXPECT_TRUE(mime_detail::text_sse2_available());
#endif
  EXPECT_EQ(mime_detail::is_valid_utf8_with("abc", TextPath::Best), true);
}

// The contracts on known answers, on every path (the scalar one included), so that a fault
// shared by the reference and a fast path is caught too.
TEST(TextDecodePaths, KnownAnswersOnEveryPath) {
  std::vector<NamedPath> paths = simd_paths();
  paths.push_back({TextPath::Scalar, "scalar"});
  struct Qp {
    std::string_view in, out;
  };
  const Qp qp_cases[] = {
      {"hun=\nter2", "hunter2"},
      {"hun=\r\nter2", "hunter2"},
      {"hun=  \r\nter2", "hunter2"},
      {"password: \nhunter2", "password:\nhunter2"},
      {"password:\t \r\nhunter2\r\n", "password:\r\nhunter2\r\n"},
      {"a=20\nb", "a \nb"},
      {"password=3Dhunter2", "password=hunter2"},
      {"caf=E9 caf=e9", "caf\xE9 caf\xE9"},
      {"a=ZZb", "a=ZZb"},
      {"a=4", "a=4"},
      {"100% =\n=G0", "100% =G0"},
      {"x=", "x"},
      {"x=\r", "x"},
      {"x \r", "x"},
      {"a =\nb", "a b"},
      {"= =\n", "= "},
      {"==\n", "="},
      {"=\r\r\n", "=\r\r\n"},
      {"a\rb \r \n", "a\rb \r\n"},
      {"a long line of 40 bytes, past one block=\r\nand the next one=3D, \r\n",
       "a long line of 40 bytes, past one blockand the next one=,\r\n"},
  };
  for (const NamedPath& p : paths)
    for (const Qp& c : qp_cases)
      EXPECT_EQ(mime_detail::decode_quoted_printable_with(c.in, p.path), c.out)
          << p.name << " on \"" << printable(c.in) << "\"";

  const std::string long_ascii(100, 'a');
  for (const NamedPath& p : paths) {
    EXPECT_TRUE(mime_detail::is_valid_utf8_with(long_ascii + "\xF0\x9F\x94\x91 key", p.path));
    EXPECT_FALSE(mime_detail::is_valid_utf8_with(long_ascii + "\xC0\xAF", p.path));  // overlong
    EXPECT_FALSE(mime_detail::is_valid_utf8_with(long_ascii + "\xED\xA0\x80", p.path));
    EXPECT_FALSE(mime_detail::is_valid_utf8_with(long_ascii + "\xF4\x90\x80\x80", p.path));
    EXPECT_FALSE(mime_detail::is_valid_utf8_with(long_ascii + "\xC3", p.path));  // truncated
    EXPECT_EQ(single_byte(long_ascii + "caf\xE9", false, p.path),
              "prefix:" + long_ascii + "caf\xC3\xA9");
    EXPECT_EQ(single_byte(long_ascii + "\x80 \x93hi\x94 \x81", true, p.path),
              "prefix:" + long_ascii + "\xE2\x82\xAC \xE2\x80\x9Chi\xE2\x80\x9D \xEF\xBF\xBD");
  }
}

// Every byte value, alone and in a long run of itself, converts as the reference converts it.
TEST(TextDecodePaths, EveryByteValueConverts) {
  for (int c = 0; c < 256; ++c) {
    ASSERT_TRUE(paths_agree(std::string(1, char(c)))) << c;
    ASSERT_TRUE(paths_agree(std::string(70, char(c)))) << c;
  }
}

// Each snippet at every position of ASCII filler of every length 0..200: the block edges of
// both widths and the tails behind them.
TEST(TextDecodePaths, SnippetsAtEveryPosition) {
  const std::string_view snippets[] = {
      // quoted-printable
      "=", "=\n", "=\r\n", "=\r", "= \t\r\n", "=X", "=4", "=3D", "=3d", "=e9", "=C3=A9",
      "==", "= =\n", "=\r\r\n", " \n", "\t\r\n", " \t \r\n", "\r", "\n", "\r\n", " ", "=\r \n",
      // chains of escapes, decoded five at a time on the AVX2 path, with a fault anywhere
      "=D0=B4=D0=BE=D0=B3=d0=be=D0=B2=D0=BE=D1=80", "=41=42=43=44=4G=46=47",
      "=41=42=43=44=45=", "=41=42=43=44=45\n", "=41=42=43=44=45=\n=46", "=41=42=43=4\x80=45=46",
      "=4f=4F=4a=4A=00=ff=FF", "=41=42=43=44\xC3\xA9=45",
      // UTF-8, valid
      "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x94\x91", "\xEF\xBF\xBD\xC3\xA9\xC3\xA9",
      "\xED\x9F\xBF", "\xF4\x8F\xBF\xBF",
      // UTF-8, invalid or cut short
      "\x80", "\xBF", "\xC0\xAF", "\xC1\xBF", "\xC3", "\xC3\x41", "\xE0\x80\xAF", "\xE0\xA0",
      "\xED\xA0\x80", "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFE", "\xFF",
      "\xE2\x82", "\xF0\x9F\x94",
      // windows-1252's C1 range, assigned and not
      "\x80\x81\x8D\x8F\x90\x9D\x9F", "\xA0\xFF"};
  for (std::string_view snippet : snippets) {
    for (size_t length = 0; length <= 200; ++length) {
      for (size_t at = 0; at <= length; ++at) {
        std::string in(length, 'x');
        for (size_t k = 0; k < length; k += 13) in[k] = 'a' + char(k % 26);
        in.insert(at, snippet);
        ASSERT_TRUE(paths_agree(in)) << "snippet \"" << printable(snippet) << "\" at " << at;
      }
    }
  }
}

// Random mail-like text: an alphabet weighted towards the bytes the decoders stop at.
TEST(TextDecodePaths, RandomInputsOfEveryLength) {
  const std::string_view alphabet[] = {"a",
                                       "b",
                                       "Z",
                                       "0",
                                       "9",
                                       "A",
                                       "f",
                                       "F",
                                       "g",
                                       " ",
                                       "\t",
                                       "\r",
                                       "\n",
                                       "\r\n",
                                       "=",
                                       "=",
                                       "=3D",
                                       "=20",
                                       "=\r\n",
                                       "=\n",
                                       "=e9",
                                       "=G",
                                       "=D0=B4=D0=BE=D0=B3=D0",
                                       "=3D=3d=20=20=4",
                                       "\xC3\xA9",
                                       "\xE2\x82\xAC",
                                       "\xF0\x9F\x94\x91",
                                       "\x80",
                                       "\x93",
                                       "\xE9",
                                       "\xFF",
                                       "\xC3",
                                       "\xED\xA0\x80",
                                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
  std::mt19937 random(20261123);
  for (size_t length = 0; length <= 200; ++length) {
    for (int trial = 0; trial < 60; ++trial) {
      std::string in;
      while (in.size() < length) in += alphabet[random() % std::size(alphabet)];
      in.resize(length);
      ASSERT_TRUE(paths_agree(in)) << "length " << length << ", trial " << trial;
    }
  }
}

// Valid UTF-8 built from the edge values of every sequence length, then at most one byte
// replaced by an edge byte: about half of the inputs stay valid, the rest fail in every way a
// byte can (also across the 32-byte blocks of the AVX2 validator, which checks pairs of bytes).
TEST(TextDecodePaths, Utf8WithOneFaultAtAnyPlace) {
  const std::string_view sequences[] = {"a",
                                        " ",
                                        "\x7F",
                                        "\xC2\x80",
                                        "\xDF\xBF",
                                        "\xE0\xA0\x80",
                                        "\xE1\x80\x80",
                                        "\xEC\xBF\xBF",
                                        "\xED\x80\x80",
                                        "\xED\x9F\xBF",
                                        "\xEE\x80\x80",
                                        "\xEF\xBF\xBF",
                                        "\xF0\x90\x80\x80",
                                        "\xF3\xBF\xBF\xBF",
                                        "\xF4\x80\x80\x80",
                                        "\xF4\x8F\xBF\xBF",
                                        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
  const unsigned char edges[] = {0x00, 'a',  0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE,
                                 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF7, 0xF8, 0xFF};
  std::mt19937 random(99);
  size_t valid = 0;
  for (size_t length = 0; length <= 200; ++length) {
    for (int trial = 0; trial < 100; ++trial) {
      std::string in;
      while (in.size() < length) in += sequences[random() % std::size(sequences)];
      if (!in.empty() && random() % 2)
        in[random() % in.size()] = char(edges[random() % std::size(edges)]);
      valid += is_valid_utf8(in);
      ASSERT_TRUE(paths_agree(in)) << "length " << length << ", trial " << trial;
    }
  }
  EXPECT_GT(valid, 201u * 100 / 3);  // the faults do not make every input invalid
}

// Long inputs with few stops, where most of the work is whole blocks.
TEST(TextDecodePaths, LongMostlyAsciiInputs) {
  std::mt19937 random(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string in(1000 + random() % 5000, 'x');
    for (char& c : in) {
      const uint32_t r = random() % 1000;
      if (r < 5)
        c = char(0x80 + random() % 128);
      else if (r < 15)
        c = '\n';
      else if (r < 20)
        c = '=';
      else if (r < 150)
        c = ' ';
      else
        c = char('a' + random() % 26);
    }
    ASSERT_TRUE(paths_agree(in)) << "trial " << trial;
    // The same text with its high bytes turned into valid UTF-8.
    std::string utf8;
    for (char c : in) utf8 += (c & 0x80) ? std::string("\xC3\xA9") : std::string(1, c);
    ASSERT_TRUE(paths_agree(utf8)) << "trial " << trial;
  }
}

}  // namespace

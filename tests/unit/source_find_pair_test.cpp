// text::find_pair / find_from drive the mbox and multipart splitters: compare them with a plain
// search at every position around the 32-byte SIMD blocks and the end of the buffer.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "credsift/text.hpp"

namespace credsift {
namespace {

size_t naive_find(std::string_view hay, size_t from, std::string_view needle) {
  return from > hay.size() ? std::string_view::npos : hay.find(needle, from);
}

TEST(FindPair, EveryPositionAndLength) {
  for (size_t length = 0; length < 200; ++length) {
    for (size_t at = 0; at + 1 < length; ++at) {
      std::string hay(length, 'x');
      hay[at] = '\n';
      hay[at + 1] = 'F';
      for (size_t from : {size_t{0}, at, at + 1, length}) {
        const size_t expected = from <= at ? at : std::string_view::npos;
        EXPECT_EQ(text::find_pair(hay, from, '\n', 'F'), expected)
            << "length " << length << " at " << at << " from " << from;
      }
    }
  }
}

TEST(FindPair, FirstOfSeveralAndHalfPairs) {
  std::string hay(80, 'a');
  hay[31] = '\n';  // a first byte at the end of one block, its second byte starts the next
  hay[32] = 'F';
  hay[50] = '\n';
  hay[51] = 'F';
  hay[79] = '\n';  // a first byte with nothing after it
  EXPECT_EQ(text::find_pair(hay, 0, '\n', 'F'), 31u);
  EXPECT_EQ(text::find_pair(hay, 32, '\n', 'F'), 50u);
  EXPECT_EQ(text::find_pair(hay, 52, '\n', 'F'), std::string_view::npos);
  EXPECT_EQ(text::find_pair(hay, 500, '\n', 'F'), std::string_view::npos);
}

TEST(FindFrom, MatchesStringFindOnRandomText) {
  std::mt19937 random(7);
  const std::string alphabet = "\nFrom -\r>xz";
  for (int round = 0; round < 300; ++round) {
    std::string hay(random() % 600, ' ');
    for (char& c : hay) c = alphabet[random() % alphabet.size()];
    for (std::string_view needle : {"\nFrom ", "\n--", ">From "}) {
      for (size_t from = 0; from <= hay.size() + 1; from += 1 + random() % 7)
        ASSERT_EQ(text::find_from(hay, from, needle), naive_find(hay, from, needle))
            << "round " << round << " from " << from;
    }
  }
}

}  // namespace
}  // namespace credsift

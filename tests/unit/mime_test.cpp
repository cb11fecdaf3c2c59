#include "credsift/mime.hpp"

#include <gtest/gtest.h>

using namespace credsift;

TEST(Base64, Plain) { EXPECT_EQ(decode_base64("aGVsbG8="), "hello"); }

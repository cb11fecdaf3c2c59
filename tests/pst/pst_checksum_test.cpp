// The weak CRC-32 that credsift puts in place of libpff's own (scanner/source/pst.cpp): libpff's
// calls resolve to it, and it gives libpff's values for every length, alignment and initial
// value (on both paths: carry-less multiplication from 64 bytes on, zlib below), so no block
// libpff accepted before is now flagged, nor the reverse.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

extern "C" int libfmapi_checksum_calculate_weak_crc32(uint32_t* crc32, const uint8_t* buffer,
                                                      size_t size, uint32_t initial_value,
                                                      void** error);
extern "C" ssize_t libpff_encryption_decrypt(uint8_t encryption_type, uint32_t key, uint8_t* data,
                                             size_t size, void** error);

namespace {

using WeakCrc32 = int (*)(uint32_t*, const uint8_t*, size_t, uint32_t, void**);

// libpff's own definition: the next one after this executable's in the lookup order.
WeakCrc32 libpff_weak_crc32() {
  return reinterpret_cast<WeakCrc32>(dlsym(RTLD_NEXT, "libfmapi_checksum_calculate_weak_crc32"));
}

TEST(PstChecksum, LibpffCallsResolveToOurs) {
  ASSERT_NE(libpff_weak_crc32(), nullptr) << "libpff.so.1 no longer exports the function";
  EXPECT_EQ(reinterpret_cast<void*>(dlsym(RTLD_DEFAULT, "libfmapi_checksum_calculate_weak_crc32")),
            reinterpret_cast<void*>(&libfmapi_checksum_calculate_weak_crc32));
  EXPECT_NE(reinterpret_cast<void*>(libpff_weak_crc32()),
            reinterpret_cast<void*>(&libfmapi_checksum_calculate_weak_crc32));
}

TEST(PstChecksum, EqualsLibpffOwnOnEveryLengthAlignmentAndInitialValue) {
  const WeakCrc32 reference = libpff_weak_crc32();
  ASSERT_NE(reference, nullptr);
  std::mt19937 random(12);
  std::vector<uint8_t> data(70000);
  for (uint8_t& b : data) b = static_cast<uint8_t>(random());
  const uint32_t initial_values[] = {0, 1, 0xFFFFFFFFu, 0x12345678u,
                                     static_cast<uint32_t>(random())};
  const size_t sizes[] = {0,  1,  2,   3,   7,   8,   15,   16,   31,   63,    64,   65,
                          79, 80, 127, 128, 130, 255, 8180, 8192, 8193, 65536, 69990};
  for (const uint32_t initial : initial_values) {
    for (const size_t size : sizes) {
      for (size_t offset = 0; offset < 9; ++offset) {
        uint32_t ours = 0, theirs = 0;
        ASSERT_EQ(libfmapi_checksum_calculate_weak_crc32(&ours, data.data() + offset, size, initial,
                                                         nullptr),
                  1);
        ASSERT_EQ(reference(&theirs, data.data() + offset, size, initial, nullptr), 1);
        ASSERT_EQ(ours, theirs) << "size " << size << " offset " << offset << " initial "
                                << initial;
      }
    }
  }
  // A known value: the weak CRC of "123456789" from 0 is the standard CRC-32's pre- and
  // post-inversion undone (CRC-32 of it is 0xCBF43926).
  uint32_t crc = 0;
  const uint8_t digits[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  ASSERT_EQ(libfmapi_checksum_calculate_weak_crc32(&crc, digits, 9, 0xFFFFFFFFu, nullptr), 1);
  EXPECT_EQ(~crc, 0xCBF43926u);
}

TEST(PstChecksum, RejectsAMissingBuffer) {
  uint32_t crc = 7;
  EXPECT_EQ(libfmapi_checksum_calculate_weak_crc32(&crc, nullptr, 4, 0, nullptr), -1);
  EXPECT_EQ(libfmapi_checksum_calculate_weak_crc32(nullptr, nullptr, 0, 0, nullptr), -1);
  EXPECT_EQ(libfmapi_checksum_calculate_weak_crc32(&crc, nullptr, 0, 5, nullptr), 1);
  EXPECT_EQ(crc, 5u);
}

// The compressible encryption's substitution (scanner/source/pst_decrypt.cpp) in place of
// libpff's byte-at-a-time loop: libpff's calls resolve to it, and it gives libpff's bytes for
// every length and alignment (the 64-byte steps and the masked tail), for each encryption type.
using Decrypt = ssize_t (*)(uint8_t, uint32_t, uint8_t*, size_t, void**);

Decrypt libpff_decrypt() {
  return reinterpret_cast<Decrypt>(dlsym(RTLD_NEXT, "libpff_encryption_decrypt"));
}

TEST(PstDecrypt, LibpffCallsResolveToOurs) {
  ASSERT_NE(libpff_decrypt(), nullptr) << "libpff.so.1 no longer exports the function";
  EXPECT_EQ(reinterpret_cast<void*>(dlsym(RTLD_DEFAULT, "libpff_encryption_decrypt")),
            reinterpret_cast<void*>(&libpff_encryption_decrypt));
  EXPECT_NE(reinterpret_cast<void*>(libpff_decrypt()),
            reinterpret_cast<void*>(&libpff_encryption_decrypt));
}

TEST(PstDecrypt, EqualsLibpffOwnOnEveryLengthAlignmentAndType) {
  const Decrypt reference = libpff_decrypt();
  ASSERT_NE(reference, nullptr);
  std::mt19937 random(21);
  std::vector<uint8_t> data(9000);
  for (uint8_t& b : data) b = static_cast<uint8_t>(random());
  for (size_t i = 0; i < 256; ++i) data[i] = static_cast<uint8_t>(i);  // every byte value
  const size_t sizes[] = {0, 1, 2, 31, 63, 64, 65, 127, 128, 129, 255, 256, 1000, 8176, 8192, 8900};
  for (const uint8_t type : {0, 1, 2}) {
    for (const size_t size : sizes) {
      for (size_t offset = 0; offset < 5; ++offset) {
        // A guard byte after the data: the masked tail must not touch it.
        std::vector<uint8_t> ours(data.begin() + offset, data.begin() + offset + size + 1);
        std::vector<uint8_t> theirs = ours;
        const uint8_t guard = ours[size];
        ASSERT_EQ(libpff_encryption_decrypt(type, 0x1234ABCDu, ours.data(), size, nullptr),
                  ssize_t(size));
        ASSERT_EQ(reference(type, 0x1234ABCDu, theirs.data(), size, nullptr), ssize_t(size));
        ASSERT_EQ(ours, theirs) << "type " << int(type) << " size " << size << " offset " << offset;
        ASSERT_EQ(ours[size], guard);
      }
    }
  }
  // An unknown encryption type stays an error, as in libpff.
  uint8_t byte = 0;
  EXPECT_EQ(libpff_encryption_decrypt(3, 0, &byte, 1, nullptr), -1);
}

}  // namespace

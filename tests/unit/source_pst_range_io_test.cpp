// The libbfio handle libpff reads a mapped PST through: reads stop at the end of the range
// (libbfio 20170123's own memory range copies the whole request past it), seeks and sizes act
// like a read-only file, and libpff on a short or damaged image placed right before an
// inaccessible page reports an error instead of touching that page.
#include <gtest/gtest.h>
#include <libpff.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "../../scanner/outlook/range_io.hpp"

namespace credsift::source_detail {

using outlook_detail::bounded_range_handle;
namespace {

// `bytes` copied to the end of a readable page that is followed by a PROT_NONE page: any read
// past the end faults.
struct FencedBytes {
  uint8_t* base = nullptr;
  size_t length = 0;
  const uint8_t* data = nullptr;
  explicit FencedBytes(const std::string& bytes) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t pages = (bytes.size() + page - 1) / page + 1;
    length = (pages + 1) * page;
    void* mapped =
        mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) return;
    base = static_cast<uint8_t*>(mapped);
    uint8_t* fence = base + pages * page;
    mprotect(fence, page, PROT_NONE);
    uint8_t* start = fence - bytes.size();
    std::memcpy(start, bytes.data(), bytes.size());
    data = start;
  }
  ~FencedBytes() {
    if (base) munmap(base, length);
  }
};

struct HandleFree {
  void operator()(libbfio_handle_t* handle) const { libbfio_handle_free(&handle, nullptr); }
};
using Handle = std::unique_ptr<libbfio_handle_t, HandleFree>;

TEST(PstRangeIo, ReadsStopAtTheEndOfTheRange) {
  const std::string bytes = "0123456789abcdefghij";
  FencedBytes fenced(bytes);
  ASSERT_NE(fenced.data, nullptr);
  Handle handle(bounded_range_handle(fenced.data, bytes.size()));
  ASSERT_TRUE(handle);
  ASSERT_EQ(libbfio_handle_open(handle.get(), LIBBFIO_OPEN_READ, nullptr), 1);
  size64_t size = 0;
  ASSERT_EQ(libbfio_handle_get_size(handle.get(), &size, nullptr), 1);
  EXPECT_EQ(size, bytes.size());

  uint8_t buffer[8192];
  ASSERT_EQ(libbfio_handle_seek_offset(handle.get(), 15, SEEK_SET, nullptr), 15);
  // A request far past the end (libpff's block reads): 5 bytes come back, the fence untouched.
  EXPECT_EQ(libbfio_handle_read_buffer(handle.get(), buffer, sizeof buffer, nullptr), 5);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buffer), 5), "fghij");
  EXPECT_EQ(libbfio_handle_read_buffer(handle.get(), buffer, sizeof buffer, nullptr), 0);
  // Past the end by a seek: nothing to read, not an error.
  ASSERT_EQ(libbfio_handle_seek_offset(handle.get(), 1000, SEEK_SET, nullptr), 1000);
  EXPECT_EQ(libbfio_handle_read_buffer(handle.get(), buffer, 16, nullptr), 0);
  ASSERT_EQ(libbfio_handle_seek_offset(handle.get(), -4, SEEK_END, nullptr), 16);
  EXPECT_EQ(libbfio_handle_read_buffer(handle.get(), buffer, 2, nullptr), 2);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buffer), 2), "gh");
  ASSERT_EQ(libbfio_handle_seek_offset(handle.get(), 2, SEEK_CUR, nullptr), 20);
  libbfio_error_t* error = nullptr;
  EXPECT_EQ(libbfio_handle_seek_offset(handle.get(), -21, SEEK_END, &error), -1);
  libbfio_error_free(&error);
  EXPECT_EQ(libbfio_handle_close(handle.get(), nullptr), 0);
}

TEST(PstRangeIo, IsReadOnly) {
  const std::string bytes(64, 'x');
  Handle handle(bounded_range_handle(reinterpret_cast<const uint8_t*>(bytes.data()), 64));
  ASSERT_TRUE(handle);
  libbfio_error_t* error = nullptr;
  EXPECT_EQ(libbfio_handle_open(handle.get(), LIBBFIO_OPEN_READ_WRITE, &error), -1);
  libbfio_error_free(&error);
}

// A PST header whose file size and index roots point far past the end of a 4 KiB image: libpff
// fails to open it; the reads it makes on the way end at the fence, not in it.
TEST(PstRangeIo, LibpffOnAnImageShorterThanItsHeaderSays) {
  std::string image(4096, '\0');
  std::memcpy(image.data(), "!BDN", 4);
  image[8] = 'S';
  image[9] = 'M';
  image[10] = 23;                                          // a Unicode PST
  for (size_t i = 0xB8; i < 0xF0; ++i) image[i] = '\x7F';  // sizes and roots: huge
  FencedBytes fenced(image);
  ASSERT_NE(fenced.data, nullptr);
  Handle handle(bounded_range_handle(fenced.data, image.size()));
  ASSERT_TRUE(handle);
  libpff_file_t* file = nullptr;
  ASSERT_EQ(libpff_file_initialize(&file, nullptr), 1);
  libpff_error_t* error = nullptr;
  const int opened = libpff_file_open_file_io_handle(file, handle.get(), LIBPFF_OPEN_READ, &error);
  EXPECT_NE(opened, 1);
  if (opened == 1) libpff_file_close(file, nullptr);
  libpff_error_free(&error);
  libpff_file_free(&file, nullptr);
}

}  // namespace
}  // namespace credsift::source_detail

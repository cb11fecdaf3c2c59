// libbfio I/O callbacks over a byte range: read, seek and size like a read-only file.
#include "range_io.hpp"

#include <fcntl.h>
#include <stdio.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace credsift::outlook_detail {
namespace {

struct Range {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t offset = 0;  // may lie past the end (after a seek): reads there return 0 bytes
  bool open = false;
};

Range* as_range(intptr_t* io) { return reinterpret_cast<Range*>(io); }

int free_range(intptr_t** io, libbfio_error_t**) {
  if (!io) return -1;
  delete as_range(*io);
  *io = nullptr;
  return 1;
}

int clone_range(intptr_t** destination, intptr_t* source, libbfio_error_t**) {
  if (!destination || *destination) return -1;
  if (!source) return 1;  // libbfio's convention: a null source clones to null
  Range* copy = new (std::nothrow) Range(*as_range(source));
  if (!copy) return -1;
  copy->offset = 0;
  copy->open = false;
  *destination = reinterpret_cast<intptr_t*>(copy);
  return 1;
}

int open_range(intptr_t* io, int access_flags, libbfio_error_t**) {
  if (!io || (access_flags & LIBBFIO_ACCESS_FLAG_WRITE) ||
      !(access_flags & LIBBFIO_ACCESS_FLAG_READ))
    return -1;
  as_range(io)->open = true;
  as_range(io)->offset = 0;
  return 1;
}

int close_range(intptr_t* io, libbfio_error_t**) {
  if (!io || !as_range(io)->open) return -1;
  as_range(io)->open = false;
  return 0;
}

ssize_t read_range(intptr_t* io, uint8_t* buffer, size_t size, libbfio_error_t**) {
  Range* range = as_range(io);
  if (!range || !range->open || (!buffer && size > 0)) return -1;
  if (range->offset >= range->size) return 0;
  const size_t count = std::min(size, range->size - range->offset);
  std::memcpy(buffer, range->data + range->offset, count);
  range->offset += count;
  return static_cast<ssize_t>(count);
}

ssize_t write_range(intptr_t*, const uint8_t*, size_t, libbfio_error_t**) { return -1; }

off64_t seek_range(intptr_t* io, off64_t offset, int whence, libbfio_error_t**) {
  Range* range = as_range(io);
  if (!range || !range->open) return -1;
  off64_t base = 0;
  if (whence == SEEK_CUR)
    base = static_cast<off64_t>(range->offset);
  else if (whence == SEEK_END)
    base = static_cast<off64_t>(range->size);
  else if (whence != SEEK_SET)
    return -1;
  if (offset < -base || (offset > 0 && base > INT64_MAX - offset)) return -1;
  range->offset = static_cast<size_t>(base + offset);
  return base + offset;
}

int range_exists(intptr_t* io, libbfio_error_t**) { return io ? 1 : -1; }

int range_is_open(intptr_t* io, libbfio_error_t**) {
  if (!io) return -1;
  return as_range(io)->open ? 1 : 0;
}

int range_size(intptr_t* io, size64_t* size, libbfio_error_t**) {
  if (!io || !size) return -1;
  *size = as_range(io)->size;
  return 1;
}

}  // namespace

libbfio_handle_t* bounded_range_handle(const uint8_t* data, size_t size) {
  Range* range = new (std::nothrow) Range{data, size, 0, false};
  if (!range) return nullptr;
  libbfio_handle_t* handle = nullptr;
  libbfio_error_t* error = nullptr;
  // Managed: libbfio frees the range with the handle (and clones it through clone_range).
  if (libbfio_handle_initialize(
          &handle, reinterpret_cast<intptr_t*>(range), free_range, clone_range, open_range,
          close_range, read_range, write_range, seek_range, range_exists, range_is_open, range_size,
          LIBBFIO_FLAG_IO_HANDLE_MANAGED | LIBBFIO_FLAG_IO_HANDLE_CLONE_BY_FUNCTION, &error) != 1) {
    libbfio_error_free(&error);
    delete range;
    return nullptr;
  }
  return handle;
}

}  // namespace credsift::outlook_detail

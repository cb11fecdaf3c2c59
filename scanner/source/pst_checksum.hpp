#pragma once
// MS-PST's block checksum: the reflected CRC-32 of polynomial 0xEDB88320 with neither the pre-
// nor the post-inversion of zlib's crc32 ("weak CRC-32" in libpff's bundled libfmapi).
#include <cstddef>
#include <cstdint>

namespace credsift::source_detail {

uint32_t pst_weak_crc32(uint32_t initial_value, const uint8_t* data, size_t size);

}  // namespace credsift::source_detail

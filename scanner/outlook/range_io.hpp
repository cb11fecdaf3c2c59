#pragma once
// A libbfio handle over bytes in memory (the mapped PST for libpff; OLE2 attachments and
// attached .msg for libolecf) whose reads stop at the end of the range. libbfio's own memory range
// (Debian libbfio 20170123) copies the whole requested size even when the range ends sooner, so a
// PST whose index points a block past the end of the file made libpff read past the end of the
// mapping (other memory, or a fault).
#include <libbfio.h>

#include <cstddef>
#include <cstdint>

namespace credsift::outlook_detail {

// A new handle over [data, data + size) (not copied: it must outlive the handle), read-only,
// or null when libbfio cannot create one. Free it with libbfio_handle_free.
libbfio_handle_t* bounded_range_handle(const uint8_t* data, size_t size);

}  // namespace credsift::outlook_detail

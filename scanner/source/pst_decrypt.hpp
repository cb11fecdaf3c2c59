#pragma once
// MS-PST's "compressible encryption" (NDB_CRYPT_PERMUTE): a fixed byte substitution of every
// data block. libpff undoes it a byte at a time; this does 64 bytes per step where the CPU has
// AVX-512 VBMI, with libpff's own table.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace credsift::source_detail {

// libpff's libpff_encryption_decrypt, reached past credsift's own definition (dlsym RTLD_NEXT):
// null when libpff is not loaded.
using PffDecrypt = ssize_t (*)(uint8_t encryption_type, uint32_t key, uint8_t* data, size_t size,
                               void** error);
PffDecrypt libpff_own_decrypt();

// Undoes the compressible encryption of `data` in place; false (nothing done) when libpff's
// table is not at hand.
bool pst_decrypt_compressible(uint8_t* data, size_t size);

}  // namespace credsift::source_detail

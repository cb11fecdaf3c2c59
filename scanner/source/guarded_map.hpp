#pragma once
// Read-only file mappings that survive the file shrinking under them. A plain mapping raises
// SIGBUS when a page past the file's new end is touched (a mailbox truncated on shared storage
// during the scan), killing the process with no summary. Jumping out of the fault is not an
// option (it would cross C++ frames owning strings, TBB tasks, Hyperscan scratch), so the
// SIGBUS handler instead maps anonymous zero pages over the vanished part of the mapping and
// records how many bytes are still backed by the file; the faulting read then goes on and sees
// zeros. Whoever consumes bytes of a mapping asks mapped_bytes_intact() once done with them.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace credsift::source_detail {

class GuardedMapping {
 public:
  // Maps `length` bytes of fd (kept open: the handler reads the file's new size from it).
  // Throws nothing: ok() is false when the file cannot be mapped or no guard slot is free.
  GuardedMapping(int fd, size_t length);
  ~GuardedMapping();
  GuardedMapping(const GuardedMapping&) = delete;
  GuardedMapping& operator=(const GuardedMapping&) = delete;

  bool ok() const { return addr_ != nullptr; }
  std::string_view bytes() const { return {static_cast<const char*>(addr_), length_}; }
  // Bytes from the mapping's start still backed by the file (length when it never shrank).
  uint64_t intact_bytes() const;

 private:
  void* addr_ = nullptr;
  size_t length_ = 0;
  int fd_ = -1;
  int slot_ = -1;
};

// How many leading bytes of `bytes` are still backed by their file: bytes.size() unless they
// lie in a guarded mapping whose file shrank below their end (0: none of them exists anymore).
size_t mapped_bytes_intact(std::string_view bytes);

// Reads the file bytes behind `bytes` (a view into a live guarded mapping) into out with
// pread; false unless all of them were read (not a guarded mapping, read error, file shrank).
bool read_mapped(std::string_view bytes, char* out);

}  // namespace credsift::source_detail

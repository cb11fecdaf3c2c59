// A PST/OST file image (libpff needs a file: the input is written to a private temporary file)
// read through MessageSource, every item rendered. A fault inside libpff is the Debian
// library's: contain it in our reader (validate or bound what it is handed) and report it.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "check.hpp"
#include "credsift/source.hpp"

namespace credsift_fuzz {

// The one temporary file of this process, removed at exit.
struct PstFuzzFile {
  std::string path;
  PstFuzzFile() {
    char name[] = "/tmp/credsift-pst-fuzz-XXXXXX";
    const int fd = mkstemp(name);
    FUZZ_CHECK(fd >= 0);
    close(fd);
    path = name;
  }
  ~PstFuzzFile() { unlink(path.c_str()); }
};

inline void pst_one_input(const uint8_t* data, size_t size) {
  static const PstFuzzFile file;
  const std::string& path = file.path;
  const int fd = open(path.c_str(), O_WRONLY | O_TRUNC);
  FUZZ_CHECK(fd >= 0);
  for (size_t done = 0; done < size;) {
    const ssize_t n = write(fd, data + done, size - done);
    FUZZ_CHECK(n > 0);
    done += static_cast<size_t>(n);
  }
  close(fd);
  credsift::SourceOptions options;
  options.max_message_bytes = 1 << 20;
  credsift::MessageSource source({path}, options, nullptr);
  for (int i = 0; i < 1000 && source.next(); ++i) {
  }
}

}  // namespace credsift_fuzz

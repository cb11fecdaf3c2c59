// libFuzzer: a PST/OST file image (libpff needs a file: the input is written to a private temp
// file) read through MessageSource, every item rendered. Crashes inside libpff are the Debian
// library's: report them and contain them, they cannot be fixed here.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "credsift/source.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = [] {
    char name[] = "/tmp/credsift-pst-fuzz-XXXXXX";
    const int fd = mkstemp(name);
    if (fd < 0) std::abort();
    close(fd);
    return std::string(name);
  }();
  const int fd = open(path.c_str(), O_WRONLY | O_TRUNC);
  if (fd < 0) std::abort();
  for (size_t done = 0; done < size;) {
    const ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  close(fd);
  credsift::SourceOptions options;
  options.max_message_bytes = 1 << 20;
  credsift::MessageSource source({path}, options, nullptr);
  for (int i = 0; i < 1000 && source.next(); ++i) {
  }
  return 0;
}

#include "terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <boost/program_options/errors.hpp>
#include <cstdlib>
#include <string_view>

namespace credsift::cli {

bool is_terminal(int fd) { return ::isatty(fd) == 1; }

bool use_color(const std::string& setting, int fd) {
  if (setting == "never") return false;
  if (setting == "always") return true;
  if (setting != "auto")
    throw boost::program_options::error("--color must be never, always or auto, not '" + setting +
                                        "'");
  const char* no_color = std::getenv("NO_COLOR");  // https://no-color.org: set and not empty
  if (no_color && *no_color) return false;
  const char* term = std::getenv("TERM");
  if (term && std::string_view(term) == "dumb") return false;
  return is_terminal(fd);
}

size_t terminal_width(int fd) {
  winsize size{};
  if (is_terminal(fd) && ::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    char* end = nullptr;
    const long value = std::strtol(columns, &end, 10);
    if (end != columns && *end == '\0' && value > 0 && value < 10000)
      return static_cast<size_t>(value);
  }
  return 0;
}

}  // namespace credsift::cli

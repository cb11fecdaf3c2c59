// Report outputs: atomic, symlink-safe regular files; direct pipes and devices; every write
// checked (issue 17, items 2 and 9).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "commands.hpp"

namespace fs = std::filesystem;

namespace credsift::cli {

namespace {

bool names_stdout(const std::string& path) { return path == "-" || path == "/dev/stdout"; }

std::runtime_error write_error(const std::string& path, int error) {
  return std::runtime_error("cannot write " + path + ": " + std::strerror(error));
}

}  // namespace

OutputFile::OutputFile(const std::string& path) : path_(path) {
  if (names_stdout(path)) {
    file_ = stdout;
    is_stdout_ = true;
    return;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    // A pipe, FIFO or device (process substitution, /dev/full ...): written in place.
    if (S_ISDIR(st.st_mode)) throw std::runtime_error("cannot write " + path + ": a directory");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    file_ = ::fdopen(fd, "w");
    if (!file_) {
      ::close(fd);
      throw std::runtime_error("cannot open " + path);
    }
    return;
  }
  // A regular file: written beside the path and renamed over it when complete. mkstemp
  // creates it O_EXCL with mode 0600, so nothing another user planted is followed or reused.
  const fs::path target(path);
  const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string name = (directory / ("." + target.filename().string() + ".tmpXXXXXX")).string();
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  temporary_ = name;
  file_ = ::fdopen(fd, "w");
  if (!file_) {
    ::close(fd);
    ::unlink(temporary_.c_str());
    throw std::runtime_error("cannot open " + path);
  }
}

OutputFile::~OutputFile() {
  if (file_ && !is_stdout_) std::fclose(file_);
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
}

void OutputFile::write(std::string_view text) {
  if (error_ || text.empty()) return;
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size()) error_ = errno ? errno : EIO;
}

void OutputFile::finish() {
  const std::string shown = is_stdout_ ? std::string("standard output") : path_;
  errno = 0;
  if (!error_ && (std::fflush(file_) != 0 || std::ferror(file_))) error_ = errno ? errno : EIO;
  if (is_stdout_) {
    if (error_) throw write_error(shown, error_);
    return;
  }
  // The data reaches the disk before the name points at it.
  if (!error_ && !temporary_.empty() && ::fsync(::fileno(file_)) != 0) error_ = errno;
  FILE* file = std::exchange(file_, nullptr);
  if (std::fclose(file) != 0 && !error_) error_ = errno ? errno : EIO;
  if (error_) throw write_error(shown, error_);
  if (temporary_.empty()) return;
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) throw write_error(shown, errno);
  temporary_.clear();
}

void check_output_paths(const std::vector<std::string>& outputs,
                        const std::vector<std::string>& inputs) {
  namespace po = boost::program_options;
  // Files by device and inode (two names of one file are one file), else by normalised path.
  const auto identity = [](const std::string& path) {
    if (names_stdout(path)) return std::string("stdout");
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0)
      return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    std::error_code error;
    return fs::weakly_canonical(fs::absolute(path), error).string();
  };
  std::set<std::string> input_files;
  for (const std::string& input : inputs) {
    struct stat st {};
    if (input != "-" && ::stat(input.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      input_files.insert(identity(input));
  }
  std::set<std::string> seen;
  for (const std::string& output : outputs) {
    const std::string id = identity(output);
    if (input_files.count(id))
      throw po::error("--output " + output + " is an input: the report would overwrite it");
    if (!seen.insert(id).second)
      throw po::error("--output " + output + " is given twice: the reports would mix");
  }
}

}  // namespace credsift::cli

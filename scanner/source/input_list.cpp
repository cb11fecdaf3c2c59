// The files a scan would read, listed without reading them (credsift plan), and the cuts of a
// big mbox at message separators. The walk follows MessageSource's exactly: sorted entries,
// Maildir cur/ then new/ (tmp/ ignored), symbolic links to directories not followed.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "credsift/source.hpp"
#include "mbox.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;
using namespace source_detail;

enum class Role { Explicit, Walked, Maildir };
struct Pending {
  std::string path;
  Role role;
};

std::vector<fs::directory_entry> sorted_entries(const std::string& path,
                                                const DiagnosticSink& diagnostics) {
  std::vector<fs::directory_entry> out;
  std::error_code ec;
  fs::directory_iterator it(path, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) out.push_back(*it);
  if (ec) {
    if (diagnostics)
      diagnostics({Diagnostic::Level::Error, path, 0, "cannot read directory: " + ec.message()});
    return {};
  }
  std::sort(out.begin(), out.end(), [](const fs::directory_entry& a, const fs::directory_entry& b) {
    return a.path().native() < b.path().native();
  });
  return out;
}

std::vector<Pending> expand(const std::string& path, const DiagnosticSink& diagnostics) {
  const std::vector<fs::directory_entry> entries = sorted_entries(path, diagnostics);
  const auto is_real_dir = [](const fs::directory_entry& e) {
    std::error_code ec;
    return e.is_directory(ec) && !e.is_symlink(ec);
  };
  const auto has_subdir = [&](const char* name) {
    return std::any_of(entries.begin(), entries.end(), [&](const fs::directory_entry& e) {
      return e.path().filename() == name && is_real_dir(e);
    });
  };
  std::vector<Pending> items;
  if (has_subdir("cur") && has_subdir("new")) {
    for (const char* sub : {"cur", "new"})
      for (const auto& e : sorted_entries((fs::path(path) / sub).string(), diagnostics)) {
        std::error_code ec;
        if (!e.is_directory(ec)) items.push_back({e.path().string(), Role::Maildir});
      }
    for (const auto& e : entries) {
      const auto name = e.path().filename();
      if (name == "cur" || name == "new" || name == "tmp") continue;
      std::error_code ec;
      if (e.is_directory(ec)) items.push_back({e.path().string(), Role::Walked});
    }
  } else {
    for (const auto& e : entries) items.push_back({e.path().string(), Role::Walked});
  }
  return items;
}

void describe(ListedFile& file) {
  const int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // the scan reports it; the plan still gives it to a shard
  char head[64 << 10];
  ssize_t got = 0;
  do got = ::pread(fd, head, sizeof head, 0);
  while (got < 0 && errno == EINTR);
  ::close(fd);
  if (got <= 0) return;
  const std::string_view data(head, static_cast<size_t>(got));
  file.gzip = data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
              static_cast<unsigned char>(data[1]) == 0x8b;
  file.mbox = !file.gzip && sniff_format(data) == InputFormat::Mbox;
}

}  // namespace

std::vector<ListedFile> list_input_files(const std::vector<std::string>& inputs,
                                         const DiagnosticSink& diagnostics) {
  std::deque<Pending> pending;
  for (const std::string& input : inputs) {
    if (input == "-") throw std::runtime_error("standard input cannot be planned into shards");
    pending.push_back({input, Role::Explicit});
  }
  std::vector<ListedFile> files;
  while (!pending.empty()) {
    const Pending item = std::move(pending.front());
    pending.pop_front();
    struct stat st {};
    if (item.role != Role::Explicit) {
      if (lstat(item.path.c_str(), &st) != 0) continue;  // the scan reports it
      if (S_ISLNK(st.st_mode) && (stat(item.path.c_str(), &st) != 0 || S_ISDIR(st.st_mode)))
        continue;
    } else if (stat(item.path.c_str(), &st) != 0) {
      throw std::runtime_error("cannot open " + item.path);
    }
    if (S_ISDIR(st.st_mode)) {
      const std::vector<Pending> items = expand(item.path, diagnostics);
      pending.insert(pending.begin(), items.begin(), items.end());
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      if (item.role == Role::Explicit)
        throw std::runtime_error(item.path + ": not a regular file, cannot be planned");
      continue;
    }
    ListedFile file;
    file.path = item.path;
    file.slice.walked = item.role == Role::Walked;
    file.slice.maildir = item.role == Role::Maildir;
    file.size = static_cast<uint64_t>(st.st_size);
    file.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    describe(file);
    files.push_back(std::move(file));
  }
  return files;
}

std::vector<MboxCut> cut_mbox(const std::string& path, const std::vector<uint64_t>& targets) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size == 0) {
    ::close(fd);
    return {};
  }
  const auto size = static_cast<size_t>(st.st_size);
  void* addr = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (addr == MAP_FAILED) throw std::runtime_error("cannot map " + path);
  madvise(addr, size, MADV_SEQUENTIAL);
  const std::string_view data(static_cast<const char*>(addr), size);
  // The same split as the scan: the message after each piece starts at cursor.consumed.
  std::vector<MboxCut> cuts;
  size_t next_target = 0;
  MboxCursor cursor;
  uint64_t index = 0;
  while (next_target < targets.size() && next_mbox_piece(data, cursor)) {
    ++index;
    if (cursor.done) break;
    while (next_target < targets.size() && targets[next_target] <= cursor.consumed) {
      if (cuts.empty() || cuts.back().offset != cursor.consumed)
        cuts.push_back({cursor.consumed, index});
      ++next_target;
    }
  }
  munmap(addr, size);
  return cuts;
}

}  // namespace credsift

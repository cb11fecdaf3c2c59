#include "rule_cache.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <utility>

#include "credsift/text.hpp"

namespace credsift::match_detail {
namespace {

constexpr std::string_view kMagic = "credsift-rule-cache 5\n";
constexpr size_t kHeaderBytes = 256;  // fixed, so the body can be written before it
constexpr uint64_t kMaxCacheBytes = 1ull << 30;
// The digest covers the database's first bytes (Hyperscan's header, before its CRC'd bytecode).
constexpr size_t kDatabaseHeadBytes = 4096;
// The database starts at a file offset that is a multiple of this (zero bytes before it), so that
// the mapped file holds it at the same alignment as the buffer it was deserialized into.
constexpr size_t kDatabaseAlign = 4096;

size_t aligned(size_t body_offset) {
  const size_t file_offset = kHeaderBytes + body_offset;
  return (file_offset + kDatabaseAlign - 1) / kDatabaseAlign * kDatabaseAlign - kHeaderBytes;
}

// `body` is everything after the header; `database` is where the first database starts in it,
// `keyword_database` the second (0: none).
std::string body_digest(std::string_view key, std::string_view body, size_t database,
                        size_t keyword_database) {
  XXH3_state_t* state = XXH3_createState();
  if (!state) return {};
  const uint64_t size = body.size();
  XXH3_128bits_reset(state);
  XXH3_128bits_update(state, key.data(), key.size());
  XXH3_128bits_update(state, &size, sizeof size);
  XXH3_128bits_update(state, body.data(), std::min(body.size(), database + kDatabaseHeadBytes));
  if (keyword_database) {
    const std::string_view head = body.substr(keyword_database, kDatabaseHeadBytes);
    XXH3_128bits_update(state, head.data(), head.size());
  }
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state));
  XXH3_freeState(state);
  return text::hex(canonical.digest, sizeof canonical.digest);
}

std::string header(std::string_view key, size_t body_size, std::string_view digest) {
  std::string out(kMagic);
  out.append("key ").append(key).append("\nsize ").append(std::to_string(body_size));
  out.append("\ndigest ").append(digest).append("\n");
  out.resize(kHeaderBytes - 1, ' ');
  return out + '\n';
}

// The widths line, the rules section, the radii and database sizes, and the databases:
// "<n> <width> ... <width>\nrules <bytes>\n<rules>stages <m> <radius> ... <radius> <size1>
// <size2>\n", zero bytes up to the next kDatabaseAlign boundary of the file, the first database,
// zero bytes up to the next boundary, the second (size2 0: none).
struct BodyParts {
  std::vector<unsigned> widths;
  std::string_view rules;
  std::vector<unsigned> radius;
  size_t database = 0, database_size = 0;  // offset and size of the first database in the body
  size_t keyword_database = 0, keyword_database_size = 0;
};

// "<n> <v1> ... <vn>" up to `end`, then what follows; nullptr when malformed.
const char* parse_counted(const char* p, const char* end, std::vector<unsigned>& out) {
  size_t count = 0;
  auto [after, error] = std::from_chars(p, end, count);
  if (error != std::errc() || count > static_cast<size_t>(end - p) / 2) return nullptr;
  p = after;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    if (p >= end || *p != ' ') return nullptr;
    unsigned value = 0;
    auto [next, parse_error] = std::from_chars(p + 1, end, value);
    if (parse_error != std::errc()) return nullptr;
    out.push_back(value);
    p = next;
  }
  return p;
}

std::optional<BodyParts> split_body(std::string_view body, std::string& why) {
  const auto bad = [&](const char* what) -> std::optional<BodyParts> {
    why = what;
    return std::nullopt;
  };
  BodyParts out;
  const size_t newline = body.find('\n');
  if (newline == std::string_view::npos) return bad("no widths");
  const char* end = body.data() + newline;
  const char* p = parse_counted(body.data(), end, out.widths);
  if (!p) return bad("bad widths");
  if (p != end) return bad("bad widths");
  std::string_view rest = body.substr(newline + 1);
  const size_t rules_line = rest.find('\n');
  size_t rules_bytes = 0;
  if (!rest.starts_with("rules ") || rules_line == std::string_view::npos ||
      std::from_chars(rest.data() + 6, rest.data() + rules_line, rules_bytes).ptr !=
          rest.data() + rules_line ||
      rules_bytes > rest.size() - rules_line - 1)
    return bad("no rules section");
  out.rules = rest.substr(rules_line + 1, rules_bytes);
  const size_t stages = newline + 1 + rules_line + 1 + rules_bytes;
  const size_t stages_end = body.find('\n', stages);
  if (!body.substr(stages).starts_with("stages ") || stages_end == std::string_view::npos)
    return bad("no stages line");
  const char* q = parse_counted(body.data() + stages + 7, body.data() + stages_end, out.radius);
  if (!q) return bad("bad stages line");
  std::vector<unsigned> sizes;  // two sizes, read as a counted list would be: prefix "2"
  const std::string sizes_text = "2" + std::string(q, body.data() + stages_end);
  if (parse_counted(sizes_text.data(), sizes_text.data() + sizes_text.size(), sizes) !=
          sizes_text.data() + sizes_text.size() ||
      sizes.size() != 2)
    return bad("bad stages line");
  const size_t padding = stages_end + 1;
  out.database = aligned(padding);
  out.database_size = sizes[0];
  const auto zeros = [&](size_t from, size_t to) {
    return to <= body.size() &&
           body.substr(from, to - from).find_first_not_of('\0') == std::string_view::npos;
  };
  if (!zeros(padding, out.database) || sizes[0] > body.size() - out.database)
    return bad("no aligned database");
  const size_t first_end = out.database + sizes[0];
  if (sizes[1]) {
    out.keyword_database = aligned(first_end);
    out.keyword_database_size = sizes[1];
    if (!zeros(first_end, out.keyword_database) || body.size() - out.keyword_database != sizes[1])
      return bad("no aligned second database");
  } else if (first_end != body.size()) {
    return bad("no aligned database");
  }
  return out;
}

// Owned by us or root, and no one else can write it (a sticky directory protects its files).
std::string untrusted_reason(const struct stat& st, bool directory) {
  if (st.st_uid != ::geteuid() && st.st_uid != 0)
    return "owned by uid " + std::to_string(st.st_uid);
  const bool sticky = directory && (st.st_mode & S_ISVTX);
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !sticky) return "writable by group or others";
  return {};
}

bool write_all(int fd, std::string_view bytes, off_t offset) {
  while (!bytes.empty()) {
    const ssize_t written = ::pwrite(fd, bytes.data(), bytes.size(), offset);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(written));
    offset += written;
  }
  return true;
}

// Directories whose write failure was reported: once per directory and process (a gateway would
// otherwise warn per message), and another directory still gets its own warning.
std::mutex store_warned_mutex;
std::set<std::string> store_warned_dirs;

bool first_store_warning(const std::string& dir) {
  const std::lock_guard lock(store_warned_mutex);
  return store_warned_dirs.insert(dir).second;
}

// Removes all but the most recently used kKeptCacheFiles - 1 other rule cache files of `dir` (every
// format's "rules-*.cache", not `kept`), and temporaries a crashed writer left more than an hour
// ago: each change of the rules, the selection or the library wrote a new 7-8 MB file and nothing
// removed the old ones (396 MB of them in one cache directory). Only regular files of our own,
// never through a link; a process that still maps a removed file keeps its pages.
void prune(int dir, const std::string& kept) {
  const int listing_fd = ::dup(dir);
  if (listing_fd < 0) return;
  DIR* listing = ::fdopendir(listing_fd);
  if (!listing) {
    ::close(listing_fd);
    return;
  }
  std::vector<std::pair<struct timespec, std::string>> caches;
  std::vector<std::string> stale;
  const time_t hour_ago = ::time(nullptr) - 3600;
  while (const dirent* entry = ::readdir(listing)) {
    const std::string_view name = entry->d_name;
    const bool cache = name.starts_with("rules-") && name.ends_with(".cache") && name != kept;
    const bool temporary = name.starts_with(".rules-") && name.find(".cache.tmp") != name.npos;
    if (!cache && !temporary) continue;
    struct stat st {};
    if (::fstatat(dir, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != ::geteuid())
      continue;
    if (cache)
      caches.emplace_back(st.st_mtim, std::string(name));
    else if (st.st_mtime < hour_ago)
      stale.emplace_back(name);
  }
  ::closedir(listing);
  std::sort(caches.begin(), caches.end(), [](const auto& a, const auto& b) {
    if (a.first.tv_sec != b.first.tv_sec) return a.first.tv_sec > b.first.tv_sec;
    if (a.first.tv_nsec != b.first.tv_nsec) return a.first.tv_nsec > b.first.tv_nsec;
    return a.second > b.second;
  });
  for (size_t i = kKeptCacheFiles - 1; i < caches.size(); ++i)
    stale.push_back(std::move(caches[i].second));
  for (const std::string& name : stale) ::unlinkat(dir, name.c_str(), 0);
}

}  // namespace

RuleCache::RuleCache(std::filesystem::path dir, std::string key_hex, Warn warn)
    : dir_(std::move(dir)),
      key_(std::move(key_hex)),
      name_("rules-" + key_ + ".v5.cache"),  // beside older formats' files, not over them
      warn_(std::move(warn)) {}

int RuleCache::open_trusted_dir(bool create) const {
  if (create) {
    std::error_code error;
    std::filesystem::create_directories(dir_, error);
  }
  const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;  // no cache yet: nothing to say
  struct stat st {};
  std::string why =
      ::fstat(fd, &st) != 0 ? std::string(std::strerror(errno)) : untrusted_reason(st, true);
  if (why.empty()) return fd;
  ::close(fd);
  warn_("rule cache " + dir_.string() + " not used: the directory is " + why);
  return -1;
}

void RuleCache::refuse(const std::string& why) const {
  warn_("rule cache " + file().string() + " not used (" + why + "): compiling the rules");
}

std::optional<CachedRules> RuleCache::load() const {
  const int dir = open_trusted_dir(false);
  if (dir < 0) return std::nullopt;
  const int fd = ::openat(dir, name_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  ::close(dir);
  if (fd < 0) {
    if (errno == ELOOP) warn_("rule cache " + file().string() + " not used: a symbolic link");
    return std::nullopt;
  }
  const auto refused = [&](const std::string& why) -> std::optional<CachedRules> {
    ::close(fd);
    refuse(why);
    return std::nullopt;
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) return refused(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return refused("not a regular file");
  if (std::string why = untrusted_reason(st, false); !why.empty()) return refused(why);
  if (static_cast<uint64_t>(st.st_size) > kMaxCacheBytes) return refused("too large");
  if (static_cast<uint64_t>(st.st_size) < kHeaderBytes) return refused("no valid header");
  // Mapped, not read: the database is used where it lies in the page cache, shared by every
  // process (never copied). MAP_POPULATE maps every page in one call: Hyperscan's CRC of the
  // bytecode (when the first scratch is allocated) reads them all.
  const size_t size = static_cast<size_t>(st.st_size);
  void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (mapped == MAP_FAILED) return refused(std::strerror(errno));
  // Pruning removes the oldest files: a file in use gets its time refreshed (at most hourly, so a
  // gateway's check does not write metadata per message), which makes pruning least-recently-used.
  if (st.st_mtime < ::time(nullptr) - 3600) ::futimens(fd, nullptr);
  ::close(fd);
  std::shared_ptr<const void> mapping(
      mapped, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
  const auto damaged = [&](const std::string& why) -> std::optional<CachedRules> {
    refuse(why);
    return std::nullopt;
  };

  const std::string_view all(static_cast<const char*>(mapped), size);
  if (!all.starts_with(kMagic)) return damaged("no valid header");
  const std::string_view head = all.substr(kMagic.size(), kHeaderBytes - kMagic.size());
  const std::string_view body = all.substr(kHeaderBytes);
  if (!head.starts_with("key " + key_ + "\n"))
    return damaged("built for other rules, Hyperscan or CPU than its name says");
  const std::string size_line = "size " + std::to_string(body.size()) + "\n";
  const std::string_view after_key = head.substr(4 + key_.size() + 1);
  if (!after_key.starts_with(size_line)) return damaged("cut short or grown: not its size");
  std::string why;
  std::optional<BodyParts> parts = split_body(body, why);
  if (!parts) return damaged(why);
  const std::string digest_line =
      "digest " + body_digest(key_, body, parts->database, parts->keyword_database) + "\n";
  if (after_key.substr(size_line.size(), digest_line.size()) != digest_line)
    return damaged("contents do not match its digest");

  CachedRules out;
  out.widths = std::move(parts->widths);
  out.rules = parts->rules;
  out.database = body.substr(parts->database, parts->database_size);
  if (parts->keyword_database)
    out.keyword_database = body.substr(parts->keyword_database, parts->keyword_database_size);
  out.trigger_radius = std::move(parts->radius);
  out.mapping = std::move(mapping);
  return out;
}

bool RuleCache::store(const std::vector<unsigned>& widths, std::string_view rules,
                      const std::vector<unsigned>& trigger_radius, std::string_view database,
                      std::string_view keyword_database) const {
  const auto failed = [&](const std::string& why) {
    if (first_store_warning(dir_.string()))
      warn_("cannot write the rule cache " + dir_.string() + " (" + why +
            "): the rules are compiled on every start; build it once with `credsift rules "
            "compile --cache DIR` and point CREDSIFT_CACHE_DIR at it");
    return false;
  };
  const int dir = open_trusted_dir(true);
  if (dir < 0) return failed("missing or untrusted directory");
  std::string body = std::to_string(widths.size());
  for (unsigned width : widths) body += ' ' + std::to_string(width);
  body.append("\nrules ").append(std::to_string(rules.size())).append("\n").append(rules);
  body.append("stages ").append(std::to_string(trigger_radius.size()));
  for (unsigned radius : trigger_radius) body += ' ' + std::to_string(radius);
  body.append(" ").append(std::to_string(database.size())).append(" ");
  body.append(std::to_string(keyword_database.size())).append("\n");
  const size_t database_offset = aligned(body.size());
  body.resize(database_offset, '\0');
  body.append(database);
  size_t keyword_offset = 0;
  if (!keyword_database.empty()) {
    keyword_offset = aligned(body.size());
    body.resize(keyword_offset, '\0');
    body.append(keyword_database);
  }

  // A fresh name, created exclusively and never through a link: in a directory others could
  // write, a planted symlink would otherwise make us overwrite its target.
  std::random_device random;
  std::string temporary;
  int fd = -1;
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    temporary = "." + name_ + ".tmp" + std::to_string(random());
    fd = ::openat(dir, temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0644);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    const int error = errno;
    ::close(dir);
    return failed(std::strerror(error));
  }
  ::fchmod(fd, 0644);  // readable by a gateway user when root builds it; the umask may differ
  // The header last: a file cut short never carries a valid one.
  const bool ok =
      write_all(fd, body, kHeaderBytes) &&
      write_all(fd,
                header(key_, body.size(), body_digest(key_, body, database_offset, keyword_offset)),
                0) &&
      ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!ok || ::renameat(dir, temporary.c_str(), dir, name_.c_str()) != 0) {
    const int rename_error = ok ? errno : error;
    ::unlinkat(dir, temporary.c_str(), 0);
    ::close(dir);
    return failed(std::strerror(rename_error));
  }
  prune(dir, name_);
  ::close(dir);
  return true;
}

}  // namespace credsift::match_detail

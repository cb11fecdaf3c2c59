#include "rule_cache.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <random>

namespace credsift::match_detail {
namespace {

constexpr std::string_view kMagic = "credsift-rule-cache 4\n";
constexpr size_t kHeaderBytes = 256;  // fixed, so the body can be written before it
constexpr uint64_t kMaxCacheBytes = 1ull << 30;
// The digest covers the database's first bytes (Hyperscan's header, before its CRC'd bytecode).
constexpr size_t kDatabaseHeadBytes = 4096;
// The database starts at a file offset that is a multiple of this (zero bytes before it), so that
// the mapped file holds it at the same alignment as the buffer it was deserialized into.
constexpr size_t kDatabaseAlign = 4096;

size_t database_start(size_t body_offset) {
  const size_t file_offset = kHeaderBytes + body_offset;
  return (file_offset + kDatabaseAlign - 1) / kDatabaseAlign * kDatabaseAlign - kHeaderBytes;
}

std::string hex(const unsigned char* bytes, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 15]);
  }
  return out;
}

// `body` is everything after the header; `database` is where the database starts in it.
std::string body_digest(std::string_view key, std::string_view body, size_t database) {
  XXH3_state_t* state = XXH3_createState();
  if (!state) return {};
  const uint64_t size = body.size();
  XXH3_128bits_reset(state);
  XXH3_128bits_update(state, key.data(), key.size());
  XXH3_128bits_update(state, &size, sizeof size);
  XXH3_128bits_update(state, body.data(), std::min(body.size(), database + kDatabaseHeadBytes));
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state));
  XXH3_freeState(state);
  return hex(canonical.digest, sizeof canonical.digest);
}

std::string header(std::string_view key, size_t body_size, std::string_view digest) {
  std::string out(kMagic);
  out.append("key ").append(key).append("\nsize ").append(std::to_string(body_size));
  out.append("\ndigest ").append(digest).append("\n");
  out.resize(kHeaderBytes - 1, ' ');
  return out + '\n';
}

// The widths line, the rules section and the database: "<n> <width> ... <width>\nrules <bytes>\n
// <rules>", zero bytes up to the next kDatabaseAlign boundary of the file, the database.
struct BodyParts {
  std::vector<unsigned> widths;
  std::string_view rules;
  size_t database = 0;  // offset of the database in the body
};

std::optional<BodyParts> split_body(std::string_view body, std::string& why) {
  const auto bad = [&](const char* what) -> std::optional<BodyParts> {
    why = what;
    return std::nullopt;
  };
  BodyParts out;
  const size_t newline = body.find('\n');
  if (newline == std::string_view::npos) return bad("no widths");
  const char* p = body.data();
  const char* end = body.data() + newline;
  size_t count = 0;
  auto [after, error] = std::from_chars(p, end, count);
  if (error != std::errc() || count > newline / 2) return bad("bad widths");
  p = after;
  out.widths.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    if (p >= end || *p != ' ') return bad("bad widths");
    unsigned width = 0;
    auto [next, parse_error] = std::from_chars(p + 1, end, width);
    if (parse_error != std::errc()) return bad("bad widths");
    out.widths.push_back(width);
    p = next;
  }
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
  const size_t padding = newline + 1 + rules_line + 1 + rules_bytes;
  out.database = database_start(padding);
  if (out.database > body.size() ||
      body.substr(padding, out.database - padding).find_first_not_of('\0') !=
          std::string_view::npos)
    return bad("no aligned database");
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

std::atomic<bool> store_warned{false};

}  // namespace

RuleCache::RuleCache(std::filesystem::path dir, std::string key_hex, Warn warn)
    : dir_(std::move(dir)),
      key_(std::move(key_hex)),
      name_("rules-" + key_ + ".v4.cache"),  // beside older formats' files, not over them
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
  const std::string digest_line = "digest " + body_digest(key_, body, parts->database) + "\n";
  if (after_key.substr(size_line.size(), digest_line.size()) != digest_line)
    return damaged("contents do not match its digest");

  CachedRules out;
  out.widths = std::move(parts->widths);
  out.rules = parts->rules;
  out.database = body.substr(parts->database);
  out.mapping = std::move(mapping);
  return out;
}

bool RuleCache::store(const std::vector<unsigned>& widths, std::string_view rules,
                      std::string_view database) const {
  const auto failed = [&](const std::string& why) {
    if (!store_warned.exchange(true))
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
  const size_t database_offset = database_start(body.size());
  body.resize(database_offset, '\0');
  body.append(database);

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
      write_all(fd, header(key_, body.size(), body_digest(key_, body, database_offset)), 0) &&
      ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!ok || ::renameat(dir, temporary.c_str(), dir, name_.c_str()) != 0) {
    const int rename_error = ok ? errno : error;
    ::unlinkat(dir, temporary.c_str(), 0);
    ::close(dir);
    return failed(std::strerror(rename_error));
  }
  ::close(dir);
  return true;
}

}  // namespace credsift::match_detail

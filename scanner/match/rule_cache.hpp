#pragma once
// The on-disk cache of compiled rules: one file per rule set, <dir>/rules-<key>.v5.cache, holding
// each rule's maximum width, the rules themselves (encode_rules: what the scan path reads of each
// rule, so that a warm start parses no JSON), the second stage's window radii (one per trigger),
// and the two Hyperscan databases (stage 1; the keyword rules of stage 2, absent for a one-stage
// matcher) in their deserialized form, each page-aligned, so that a start maps them and scans them
// in place (no allocation, no clearing and no
// copy of ~7 MB per process; the page cache is shared by every check). A cache is
// data that runs (a rewritten widths list silently disables every rule), so it is trusted only
// when
//   * its directory is owned by the current user or root and is not group- or world-writable
//     (unless sticky), and
//   * the file is a regular file (never a symlink), owned by the current user or root, not
//     group- or world-writable, and
//   * its header names the key it was built for (a digest of the rule files' bytes and the rule
//     selection, or of the rule patterns and flags, with the Hyperscan version and the CPU
//     features), the body's size (a file cut short is refused before anything is read), and a
//     digest (XXH3-128) of key, size, widths, rules, radii and each database's first 4 KiB that
//     matches. The rest of each database is covered by Hyperscan's own CRC32C of its bytecode,
//     which hs_alloc_scratch checks (the Matcher allocates its first scratch at load for that
//     check): hashing the whole 7 MB again was 4% of a start. Digests detect damage, not forgery,
//     which the ownership checks above prevent. The header is written last, the file fsync'ed and
//     renamed into place, the temporary created O_CREAT|O_EXCL|O_NOFOLLOW.
// Anything else is logged once and the rules are compiled.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credsift::match_detail {

// How many rule cache files a directory keeps: writing one removes the least recently used beyond
// this. Enough for every selection, stage layout and extra rule file a user or the test suite keeps
// using (the suite uses about 24: with 6 kept, they evicted each other and every test compiled
// its rules again, minutes each under AddressSanitizer), and at most about 256 MB of files.
constexpr size_t kKeptCacheFiles = 32;

struct CachedRules {
  std::vector<unsigned> widths;
  std::string_view rules;  // encode_rules output, inside `mapping`
  // A deserialized hs_database_t (hs_deserialize_database_at into page-aligned memory), inside
  // `mapping` at a page-aligned address.
  std::string_view database;
  std::string_view keyword_database;  // the same for stage 2; empty: one stage
  std::vector<unsigned> trigger_radius;
  std::shared_ptr<const void> mapping;  // the file, mapped read-only (never read and copied)
};

class RuleCache {
 public:
  using Warn = std::function<void(const std::string&)>;
  RuleCache(std::filesystem::path dir, std::string key_hex, Warn warn);

  // The verified entry, or nullopt (missing, untrusted, damaged or built for other rules).
  // The caller checks that the widths count matches its rules.
  std::optional<CachedRules> load() const;
  // Writes the entry; false (and one warning per process) when the cache cannot be written.
  // Then prunes the directory to the newest kKeptCacheFiles cache files (this one among them).
  bool store(const std::vector<unsigned>& widths, std::string_view rules,
             const std::vector<unsigned>& trigger_radius, std::string_view database,
             std::string_view keyword_database) const;
  // Logs why a verified entry is not used after all (same wording as load's refusals).
  void refuse(const std::string& why) const;
  std::filesystem::path file() const { return dir_ / name_; }

 private:
  int open_trusted_dir(bool create) const;  // -1 (warned) when absent or untrusted

  std::filesystem::path dir_;
  std::string key_, name_;
  Warn warn_;
};

}  // namespace credsift::match_detail

#pragma once
// The on-disk cache of compiled rules: one file per rule set, <dir>/rules-<key>.v2.cache, holding
// each rule's maximum width and the serialized Hyperscan database. A cache is data that runs
// (a rewritten widths list silently disables every rule), so it is trusted only when
//   * its directory is owned by the current user or root and is not group- or world-writable
//     (unless sticky), and
//   * the file is a regular file (never a symlink), owned by the current user or root, not
//     group- or world-writable, and
//   * its header names the key it was built for (the digest of the rule patterns and flags,
//     the Hyperscan version and the CPU features) and a digest of key, widths and database
//     (XXH3-128: it detects damage, not forgery, which the ownership checks above prevent;
//     SHA-256 over a 7 MB database was a third of a gateway check) that matches the contents. The
//     header is written last, the file fsync'ed and renamed into place, the temporary created
//     O_CREAT|O_EXCL|O_NOFOLLOW.
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

struct CachedRules {
  std::vector<unsigned> widths;
  std::string_view database;            // hs_serialize_database output, inside `mapping`
  std::shared_ptr<const void> mapping;  // the file, mapped read-only (never read and copied)
};

class RuleCache {
 public:
  using Warn = std::function<void(const std::string&)>;
  RuleCache(std::filesystem::path dir, std::string key_hex, Warn warn);

  // The verified entry, or nullopt (missing, untrusted, damaged or built for other rules).
  std::optional<CachedRules> load(size_t rules) const;
  // Writes the entry; false (and one warning per process) when the cache cannot be written.
  bool store(const std::vector<unsigned>& widths, std::string_view database) const;
  std::filesystem::path file() const { return dir_ / name_; }

 private:
  int open_trusted_dir(bool create) const;  // -1 (warned) when absent or untrusted

  std::filesystem::path dir_;
  std::string key_, name_;
  Warn warn_;
};

}  // namespace credsift::match_detail

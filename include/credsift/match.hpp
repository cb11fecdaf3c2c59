#pragma once
// Match: Hyperscan block mode in two stages. Stage 1 holds every rule except the long-tail keyword
// rules ("(?i:NAMES)" + separator + value), and one trigger per distinct keyword head; stage 2
// holds the keyword rules and runs only in windows around trigger hits (their caseless names
// cost the shared literal filter a lot on every byte). The stages report exactly the end offsets
// one database would. When a rule fires, PCRE2 (JIT) re-runs that rule alone in a window bounded
// by the rule's maximum width to extract captures.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/rule_select.hpp"
#include "credsift/rules.hpp"

namespace credsift {

struct Span {
  size_t begin = 0, end = 0;
  bool empty() const { return begin == end; }
};

struct NamedSpan {
  std::string_view name;  // points into the Matcher's capture-name table
  Span span;
};

struct Hit {
  uint32_t rule = 0;                // index into RuleSet::rules
  uint32_t segment = 0;             // index into DecodedMessage::segments
  Span match;                       // whole match within the segment text
  Span secret;                      // the `secret` capture
  std::vector<NamedSpan> captures;  // every other named capture that took part (user, host ...)
};

struct MatchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct MatcherOptions {
  // Where compiled Hyperscan databases are kept (hs_serialize_database), keyed by the rules'
  // patterns and flags, the Hyperscan version and the CPU features, so that a second start
  // skips the compile. Empty: $CREDSIFT_CACHE_DIR, else $XDG_CACHE_HOME/credsift, else
  // ~/.cache/credsift. A cache that cannot be read or written is ignored (compile instead);
  // one that is not trusted (scanner/match/rule_cache.hpp says when) is logged and ignored.
  std::filesystem::path cache_dir;
  bool use_cache = true;
  // false: one database for every rule (the reference the two-stage matcher is tested against).
  bool two_stage = true;
  // false: Hyperscan runs every rule's own pattern, none of the cheaper suffixes of
  // scanner/match/prefilter.hpp (the reference they are tested against).
  bool prefilters = true;
  // Where cache problems are logged (default: a warning line on stderr).
  std::function<void(const std::string&)> on_warning;
};

class Matcher {
 public:
  // Compiles every rule. Throws MatchError naming each rule that Hyperscan or PCRE2 refuses
  // (with the library's message), or whose width is unbounded.
  explicit Matcher(const RuleSet& rules, const MatcherOptions& options = {});
  // The rules of the files under `paths` (as load_rules reads them), narrowed by `selection`
  // when given, compiled. The cache entry is keyed by the files' paths and bytes, the selection,
  // the Hyperscan version and the CPU, and holds the rules too: a warm start reads the files
  // (to hash them) but parses no JSON, and its rules carry no examples (tests only). A miss
  // loads, selects (throwing RuleError as load_rules and select_rules do), compiles and caches.
  static std::unique_ptr<Matcher> load(const std::vector<std::filesystem::path>& paths,
                                       const RuleSelection* selection,
                                       const MatcherOptions& options = {});
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  // Per-thread state: Hyperscan scratch and PCRE2 match data.
  class Scratch;
  std::unique_ptr<Scratch> make_scratch() const;

  // Appends the hits of every rule in `text` to `out`, ordered by position then rule.
  void scan(std::string_view text, uint32_t segment, Scratch& scratch, std::vector<Hit>& out) const;

  // Only the Hyperscan stage(s) of scan(), no PCRE2: the number of candidate ranges (benchmarks).
  size_t count_candidates(std::string_view text, Scratch& scratch) const;

  const RuleSet& rules() const;
  bool two_stage() const;  // a second stage was built (two_stage set and keyword rules present)
  size_t max_width(uint32_t rule) const;
  bool loaded_from_cache() const;                   // the Hyperscan database came from the cache
  const std::filesystem::path& cache_file() const;  // empty: no cache in use

 private:
  struct Impl;
  explicit Matcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Deleter so that unique_ptr<Scratch> works with the incomplete type in callers.
class Matcher::Scratch {
 public:
  virtual ~Scratch() = default;
};

}  // namespace credsift

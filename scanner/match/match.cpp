#include "credsift/match.hpp"

#include "credsift/text.hpp"
#include "prefilter.hpp"
#include "rule_cache.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <openssl/evp.h>
#include <pcre2.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace credsift {

namespace {

struct HsScratchDeleter {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};
// A database is either Hyperscan's own allocation or one inside the mapped rule cache, which
// Matcher::Impl::cache_mapping keeps (nothing to free here).
struct HsDatabaseDeleter {
  bool in_mapping = false;
  void operator()(hs_database_t* db) const {
    if (!in_mapping) hs_free_database(db);
  }
};
struct Pcre2CodeDeleter {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
struct Pcre2MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};
struct Pcre2ContextDeleter {
  void operator()(pcre2_match_context* ctx) const { pcre2_match_context_free(ctx); }
};
struct Pcre2JitStackDeleter {
  void operator()(pcre2_jit_stack* stack) const { pcre2_jit_stack_free(stack); }
};

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0)
    return "error " + std::to_string(code);
  return reinterpret_cast<const char*>(buffer);
}

std::string rule_label(const Rule& rule) {
  return "rule '" + rule.id + "' (" + rule.file.filename().string() + ")";
}

unsigned hs_flags(const Rule& rule) {
  // Never HS_FLAG_SOM_LEFTMOST (PCRE2 finds the start, far cheaper) and never
  // HS_FLAG_SINGLEMATCH (it would hide a second secret of the same rule in one segment).
  unsigned flags = 0;
  if (rule.caseless) flags |= HS_FLAG_CASELESS;
  if (rule.dotall) flags |= HS_FLAG_DOTALL;
  return flags;
}

// A long-tail keyword rule starts with "(?i:NAMES)" and goes on (separator, value): the length of
// that head, or 0. The second stage needs the head to consume at least one byte and to hold no
// assertion (\b, ^, $ ...), so that no assertion of the rule ever looks at the byte before the
// match: then scanning a window that starts anywhere at or before the match start finds exactly
// the matches the whole text has there (Matcher::Impl::plan_stages checks the width).
size_t keyword_head_length(const std::string& pattern) {
  if (!pattern.starts_with("(?i:")) return 0;
  int depth = 0;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      if (i + 1 < pattern.size() && std::strchr("bBAzZGQE", pattern[i + 1])) return 0;
      ++i;
    } else if (in_class) {
      if (c == ']' && pattern[i - 1] != '[' && !(pattern[i - 1] == '^' && pattern[i - 2] == '['))
        in_class = false;
    } else if (c == '[') {
      in_class = true;
    } else if (c == '^' || c == '$') {
      return 0;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && --depth == 0) {
      return i + 1 < pattern.size() ? i + 1 : 0;
    }
  }
  return 0;
}

// End offsets of one rule reported by Hyperscan, collapsed to a range.
struct Event {
  uint32_t rule;
  size_t first, last;
};

}  // namespace

struct CompiledRule {
  // Never JIT-compiled itself, so that pcre2_match always interprets it (a JIT-compiled code
  // would be taken by pcre2_match too): the JIT copy is made apart (Matcher::Impl::jit_copy).
  std::unique_ptr<pcre2_code, Pcre2CodeDeleter> code;
  uint32_t capture_count = 0;
  size_t max_width = 0;
  std::vector<uint32_t> secret_groups;  // secret, secret_2, ... in pattern order
  // Other named groups: group number and a view of the name in Impl::names.
  std::vector<std::pair<uint32_t, std::string_view>> groups;
};

class ScratchImpl;

struct Matcher::Impl {
  RuleSet rules;
  // Stage 1: the core rules (id = rule index) and one trigger per distinct keyword head (id =
  // rule count + trigger index). Stage 2 (keyword_db, absent for one stage): the keyword rules
  // (id = rule index), scanned only in windows of trigger_radius[t] bytes around a trigger's end.
  std::unique_ptr<hs_database_t, HsDatabaseDeleter> db;
  std::unique_ptr<hs_database_t, HsDatabaseDeleter> keyword_db;
  std::vector<unsigned> trigger_radius;
  std::vector<std::string> trigger_heads;  // while compiling only
  std::vector<unsigned> trigger_flags;
  std::vector<bool> keyword;
  std::vector<CompiledRule> compiled;
  std::deque<std::string> names;  // deque: views into it stay valid while it grows
  uint32_t max_groups = 0;
  MatcherOptions options;
  bool from_cache = false;
  std::filesystem::path cache_file;
  // With a cached database, each rule's PCRE2 is compiled when Hyperscan first fires it: the
  // JIT compile of ~1,000 rules was a third of a gateway check's start. Those rules compiled
  // without error when the cache was written; should this PCRE2 refuse one anyway, it is
  // reported once and the rule yields no hits.
  bool lazy_pcre2 = false;
  std::unique_ptr<std::once_flag[]> pcre2_once;
  std::mutex names_mutex;  // `names` grows from scanning threads when lazy
  // PCRE2 JIT on demand: a rule's first kInterpretedWindows windows run in PCRE2's interpreter,
  // and only a rule that keeps firing is JIT-compiled (a copy of its code, published once made;
  // until then every thread interprets). On real mail about a hundred rules fire, most of them
  // a few times: JIT-compiling each at its first hit was 6-7% of a one-thread scan.
  static constexpr uint32_t kInterpretedWindows = 32;
  std::unique_ptr<std::atomic<uint32_t>[]> windows_run;
  std::unique_ptr<std::atomic<pcre2_code*>[]> jitted;  // owned: freed in ~Impl
  ~Impl();
  const pcre2_code* code_for(uint32_t index, const CompiledRule& rule);
  pcre2_code* jit_copy(const CompiledRule& rule) const;
  // Set by Matcher::load: the cache entry keyed by the rule files (instead of the patterns) and,
  // on a hit, its verified contents (whose rules are `rules`).
  std::optional<match_detail::RuleCache> source_cache;
  std::optional<match_detail::CachedRules> preloaded;
  // The mapped cache file that `db` lies in, and the scratch allocated at load (whose allocation
  // ran Hyperscan's check of the database), handed to the first make_scratch.
  std::shared_ptr<const void> cache_mapping;
  std::unique_ptr<hs_scratch_t, HsScratchDeleter> first_scratch;
  std::mutex first_scratch_mutex;

  void compile();
  void plan_stages();
  void compile_database();
  std::string_view hyperscan_expression(const Rule& rule) const {
    return options.prefilters ? match_detail::hyperscan_expression(rule) : rule.pattern;
  }
  std::string compile_pcre2(uint32_t index);
  bool adopt(const match_detail::CachedRules& cached);
  static std::string image_for_cache(const hs_database_t* database);
  const CompiledRule& ready(uint32_t index);
  void find_events(std::string_view text, ScratchImpl& scratch) const;
};

class ScratchImpl final : public Matcher::Scratch {
 public:
  const void* owner = nullptr;  // the Matcher::Impl that made it
  std::unique_ptr<hs_scratch_t, HsScratchDeleter> hs;
  std::unique_ptr<pcre2_match_data, Pcre2MatchDataDeleter> data;
  std::unique_ptr<pcre2_match_context, Pcre2ContextDeleter> context;
  std::unique_ptr<pcre2_jit_stack, Pcre2JitStackDeleter> jit_stack;
  std::vector<Event> events;
  std::vector<std::pair<size_t, size_t>> windows;  // stage 2: [begin, end) in the text
};

namespace {
struct ScanState {
  std::vector<Event>* events;
  const std::vector<CompiledRule>* compiled;
  // Stage 1 with triggers: ids from `rules` on are triggers, whose windows go to `windows`.
  uint32_t rules = UINT32_MAX;
  const std::vector<unsigned>* trigger_radius = nullptr;
  std::vector<std::pair<size_t, size_t>>* windows = nullptr;
  size_t text_size = 0;
  // Stage 2: offsets are relative to `base`; ends past `last_end` are dropped.
  size_t base = 0, last_end = SIZE_MAX;
};
}  // namespace

// PCRE2 runs in byte mode (no PCRE2_UTF, no PCRE2_MATCH_INVALID_UTF). Reasons: Hyperscan runs
// without HS_FLAG_UTF8, so its max_width and every end offset count bytes, and both engines must
// agree on what `.`, `\S` and `{m,n}` mean for the window arithmetic to hold; segment text can
// still hold invalid UTF-8 (a mis-declared charset), which byte mode accepts with no check at
// all, whereas PCRE2_UTF would reject the subject and MATCH_INVALID_UTF adds per-character
// decoding cost. Non-ASCII keywords (contraseña) are written as their UTF-8 byte sequences.
std::string Matcher::Impl::compile_pcre2(uint32_t index) {
  const Rule& rule = rules.rules[index];
  CompiledRule& out = compiled[index];
  uint32_t options = 0;
  if (rule.caseless) options |= PCRE2_CASELESS;
  if (rule.dotall) options |= PCRE2_DOTALL;
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  out.code.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rule.pattern.data()),
                               rule.pattern.size(), options, &error, &error_offset, nullptr));
  if (!out.code)
    return "PCRE2: " + pcre2_message(error) + " at offset " + std::to_string(error_offset);

  uint32_t capture_count = 0, name_count = 0, entry_size = 0;
  PCRE2_SPTR table = nullptr;
  pcre2_pattern_info(out.code.get(), PCRE2_INFO_CAPTURECOUNT, &capture_count);
  pcre2_pattern_info(out.code.get(), PCRE2_INFO_NAMECOUNT, &name_count);
  pcre2_pattern_info(out.code.get(), PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
  pcre2_pattern_info(out.code.get(), PCRE2_INFO_NAMETABLE, &table);
  out.capture_count = capture_count;
  std::lock_guard names_lock(names_mutex);
  for (uint32_t i = 0; i < name_count; ++i) {
    const PCRE2_SPTR entry = table + static_cast<size_t>(i) * entry_size;
    const uint32_t group = (static_cast<uint32_t>(entry[0]) << 8) | entry[1];
    std::string_view name(reinterpret_cast<const char*>(entry + 2));
    // Hyperscan refuses repeated group names, so alternatives that capture the same field in
    // different places use a suffix: host_2 reports as host (the first group that took part).
    if (const size_t cut = name.find_last_of('_');
        cut != std::string_view::npos && cut > 0 && cut + 1 < name.size() &&
        name.find_first_not_of("0123456789", cut + 1) == std::string_view::npos)
      name = name.substr(0, cut);
    if (name == "secret") {
      out.secret_groups.push_back(group);
      continue;
    }
    auto known = std::find(names.begin(), names.end(), name);
    if (known == names.end()) {
      names.emplace_back(name);
      known = std::prev(names.end());
    }
    out.groups.emplace_back(group, *known);
  }
  // The name table is sorted by name; report alternatives in pattern order.
  std::sort(out.secret_groups.begin(), out.secret_groups.end());
  std::sort(out.groups.begin(), out.groups.end());
  if (out.secret_groups.empty()) return "PCRE2: pattern has no (?<secret>...) capture";
  return {};
}

namespace {

std::filesystem::path default_cache_dir() {
  if (const char* dir = std::getenv("CREDSIFT_CACHE_DIR"); dir && *dir) return dir;
  if (const char* dir = std::getenv("XDG_CACHE_HOME"); dir && *dir)
    return std::filesystem::path(dir) / "credsift";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::filesystem::path(home) / ".cache/credsift";
  return {};
}

// Where a cache goes and the CPU it is tuned for, the parts both cache keys share; nullopt when
// caching is off or neither is known.
struct CacheSetting {
  std::filesystem::path dir;
  hs_platform_info_t platform{};
};
std::optional<CacheSetting> cache_setting(const MatcherOptions& options) {
  if (!options.use_cache) return std::nullopt;
  CacheSetting setting;
  setting.dir = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
  if (setting.dir.empty()) return std::nullopt;
  if (hs_populate_platform(&setting.platform) != HS_SUCCESS) return std::nullopt;
  return setting;
}

match_detail::RuleCache::Warn cache_warning(const MatcherOptions& options) {
  if (options.on_warning) return options.on_warning;
  return [](const std::string& text) {
    std::fprintf(stderr, "credsift: warning: %s\n", text.c_str());
  };
}

// The key covers everything the compiled database depends on: each rule's pattern, flags and
// position (the Hyperscan id), the library version, and the CPU features it was tuned for.
std::optional<match_detail::RuleCache> rule_cache(const RuleSet& rules,
                                                  const MatcherOptions& options) {
  const std::optional<CacheSetting> setting = cache_setting(options);
  if (!setting) return std::nullopt;
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  if (!context) return std::nullopt;
  EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
  auto feed = [&](std::string_view bytes) {
    const uint64_t size = bytes.size();
    EVP_DigestUpdate(context, &size, sizeof size);
    EVP_DigestUpdate(context, bytes.data(), bytes.size());
  };
  feed(hs_version());
  feed(std::string_view(reinterpret_cast<const char*>(&setting->platform),
                        sizeof setting->platform));
  feed(options.two_stage ? "stages 2" : "stages 1");
  feed(options.prefilters ? match_detail::prefilter_key() : "no prefilters");
  for (const Rule& rule : rules.rules) {
    feed(rule.pattern);
    feed(std::to_string(hs_flags(rule)));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context, digest, &length);
  EVP_MD_CTX_free(context);
  return match_detail::RuleCache(setting->dir, text::hex(digest, length), cache_warning(options));
}

// The key of Matcher::load's entries: what the files hold and which of their rules are kept, with
// the same library and CPU parts as above. XXH3 over ~2 MB of JSON is a tenth of a millisecond.
std::optional<match_detail::RuleCache> source_cache(const std::vector<RuleFile>& files,
                                                    const RuleSelection* selection,
                                                    const MatcherOptions& options) {
  const std::optional<CacheSetting> setting = cache_setting(options);
  if (!setting) return std::nullopt;
  XXH3_state_t* state = XXH3_createState();
  if (!state) return std::nullopt;
  XXH3_128bits_reset(state);
  auto feed = [&](std::string_view bytes) {
    const uint64_t size = bytes.size();
    XXH3_128bits_update(state, &size, sizeof size);
    XXH3_128bits_update(state, bytes.data(), bytes.size());
  };
  feed("credsift rule files 1");
  feed(options.two_stage ? "stages 2" : "stages 1");
  feed(options.prefilters ? match_detail::prefilter_key() : "no prefilters");
  feed(hs_version());
  feed(std::string_view(reinterpret_cast<const char*>(&setting->platform),
                        sizeof setting->platform));
  feed(std::to_string(files.size()));
  for (const RuleFile& file : files) {
    feed(file.path.string());
    feed(file.bytes);
  }
  feed(selection ? "selected " + selection->ruleset : std::string("every rule"));
  if (selection)
    for (const auto* selectors : {&selection->enable, &selection->disable}) {
      feed(std::to_string(selectors->size()));
      for (const std::string& selector : *selectors) feed(selector);
    }
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state));
  XXH3_freeState(state);
  return match_detail::RuleCache(setting->dir,
                                 "files-" + text::hex(canonical.digest, sizeof canonical.digest),
                                 cache_warning(options));
}

}  // namespace

void Matcher::Impl::compile() {
  const size_t n = rules.rules.size();
  compiled.resize(n);
  windows_run = std::make_unique<std::atomic<uint32_t>[]>(n);
  jitted = std::make_unique<std::atomic<pcre2_code*>[]>(n);
  std::string errors;
  auto refuse = [&](uint32_t i, const std::string& why) {
    errors += (errors.empty() ? "" : "; ") + rule_label(rules.rules[i]) + ": " + why;
  };

  std::optional<match_detail::RuleCache> cache;
  if (source_cache)
    cache = std::move(source_cache);
  else if (n)
    cache = rule_cache(rules, options);
  if (cache) cache_file = cache->file();
  std::optional<match_detail::CachedRules> cached;
  if (preloaded) {
    cached = std::move(preloaded);  // Matcher::load checked it against `rules`
  } else if (cache && n) {
    cached = cache->load();
    if (cached && cached->widths.size() != n) {
      cache->refuse("widths for another rule count");
      cached.reset();
    }
  }
  const std::vector<unsigned> cached_widths = cached ? cached->widths : std::vector<unsigned>();
  std::vector<unsigned> widths(n);

  // Each rule alone first: this names the rule for any error and gives its bounded width.
  lazy_pcre2 = !cached_widths.empty();
  if (lazy_pcre2) pcre2_once = std::make_unique<std::once_flag[]>(n);
  for (uint32_t i = 0; i < n; ++i) {
    const Rule& rule = rules.rules[i];
    if (lazy_pcre2) {
      compiled[i].max_width = cached_widths[i];
      continue;
    }
    hs_expr_info_t* info = nullptr;
    hs_compile_error_t* error = nullptr;
    if (hs_expression_info(rule.pattern.c_str(), hs_flags(rule), &info, &error) != HS_SUCCESS) {
      refuse(i, std::string("Hyperscan: ") + (error ? error->message : "unknown error"));
      hs_free_compile_error(error);
      continue;
    }
    const unsigned max_width = info->max_width;
    free(info);  // allocated by Hyperscan's misc allocator, which defaults to malloc
    if (max_width == UINT_MAX) {
      refuse(i, "unbounded width (use {m,n} instead of *, + or {m,})");
      continue;
    }
    compiled[i].max_width = max_width;
    widths[i] = max_width;
    if (std::string why = compile_pcre2(i); !why.empty()) refuse(i, why);
  }
  for (const CompiledRule& rule : compiled) max_groups = std::max(max_groups, rule.capture_count);
  if (!errors.empty()) throw MatchError(errors);
  if (n == 0) return;  // nothing to scan for; scan() then finds nothing

  if (cached) {
    if (adopt(*cached)) {
      from_cache = true;
      return;
    }
    // Refused by Hyperscan (its CRC of the bytecode, which our digest does not cover past the
    // first 4 KiB, or another library build): compile anew and replace it below.
    cache->refuse("database refused by Hyperscan");
    lazy_pcre2 = false;
    for (uint32_t i = 0; i < n; ++i) {
      widths[i] = compiled[i].max_width;
      if (std::string why = compile_pcre2(i); !why.empty()) refuse(i, why);
    }
    for (const CompiledRule& rule : compiled) max_groups = std::max(max_groups, rule.capture_count);
    if (!errors.empty()) throw MatchError(errors);
  }
  compile_database();
  if (cache) {
    const std::string image = image_for_cache(db.get());
    const std::string keyword_image = keyword_db ? image_for_cache(keyword_db.get()) : "";
    if (!image.empty() && (keyword_image.empty() == !keyword_db))
      cache->store(widths, encode_rules(rules), trigger_radius, image, keyword_image);
  }
}

// The database as a later start maps it: deserialized into page-aligned memory, as the cache
// file holds it at a page-aligned offset (Hyperscan aligns the bytecode relative to that
// address, and a deserialized database holds offsets only, no pointers).
std::string Matcher::Impl::image_for_cache(const hs_database_t* database) {
  char* bytes = nullptr;
  size_t serialized = 0;
  if (hs_serialize_database(database, &bytes, &serialized) != HS_SUCCESS) return {};
  std::string image;
  size_t size = 0;
  if (hs_serialized_database_size(bytes, serialized, &size) == HS_SUCCESS) {
    void* memory =
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory != MAP_FAILED) {
      if (hs_deserialize_database_at(bytes, serialized, static_cast<hs_database_t*>(memory)) ==
          HS_SUCCESS)
        image.assign(static_cast<const char*>(memory), size);
      ::munmap(memory, size);
    }
  }
  std::free(bytes);
  return image;
}

// Scans the database where the mapped cache holds it: no allocation, clearing or copy of its
// megabytes (hs_deserialize_database_at cleared and copied ~7 MB, a fifth of a start). The first
// scratch is allocated here because hs_alloc_scratch checks the database as Hyperscan requires
// of a mapped one (magic, version, platform and the CRC of the bytecode).
bool Matcher::Impl::adopt(const match_detail::CachedRules& cached) {
  const auto in_place = [](std::string_view image) -> hs_database_t* {
    auto* database = reinterpret_cast<hs_database_t*>(const_cast<char*>(image.data()));
    size_t size = 0;
    if (image.size() < 64 || reinterpret_cast<uintptr_t>(image.data()) % 4096 != 0 ||
        hs_database_size(database, &size) != HS_SUCCESS || size != image.size())
      return nullptr;
    return database;
  };
  hs_database_t* database = in_place(cached.database);
  if (!database) return false;
  // Triggers and the keyword database come together or not at all.
  hs_database_t* keywords = nullptr;
  if (!cached.keyword_database.empty() || !cached.trigger_radius.empty()) {
    keywords = in_place(cached.keyword_database);
    if (!keywords || cached.trigger_radius.empty()) return false;
  }
  hs_scratch_t* scratch = nullptr;
  if (hs_alloc_scratch(database, &scratch) != HS_SUCCESS) return false;
  if (keywords && hs_alloc_scratch(keywords, &scratch) != HS_SUCCESS) {
    hs_free_scratch(scratch);
    return false;
  }
  first_scratch.reset(scratch);
  cache_mapping = cached.mapping;
  db = std::unique_ptr<hs_database_t, HsDatabaseDeleter>(database, HsDatabaseDeleter{true});
  if (keywords) {
    keyword_db =
        std::unique_ptr<hs_database_t, HsDatabaseDeleter>(keywords, HsDatabaseDeleter{true});
    trigger_radius = cached.trigger_radius;
  }
  return true;
}

Matcher::Impl::~Impl() {
  if (!jitted) return;
  for (size_t i = 0; i < compiled.size(); ++i)
    pcre2_code_free(jitted[i].load(std::memory_order_relaxed));
}

// A JIT-compiled copy of the rule's code, or null (JIT unsupported on this CPU, out of memory):
// the rule is then interpreted, with the same results.
pcre2_code* Matcher::Impl::jit_copy(const CompiledRule& rule) const {
  pcre2_code* copy = pcre2_code_copy(rule.code.get());
  if (copy && pcre2_jit_compile(copy, PCRE2_JIT_COMPLETE) != 0) {
    pcre2_code_free(copy);
    copy = nullptr;
  }
  return copy;
}

// The code to run for one window of the rule: its JIT copy once made, else the interpreted
// code; the thread that runs the rule's kInterpretedWindows-th window makes the copy.
const pcre2_code* Matcher::Impl::code_for(uint32_t index, const CompiledRule& rule) {
  if (pcre2_code* jit = jitted[index].load(std::memory_order_acquire)) return jit;
  if (windows_run[index].fetch_add(1, std::memory_order_relaxed) + 1 == kInterpretedWindows)
    if (pcre2_code* jit = jit_copy(rule)) {
      jitted[index].store(jit, std::memory_order_release);
      return jit;
    }
  return rule.code.get();
}

const CompiledRule& Matcher::Impl::ready(uint32_t index) {
  if (lazy_pcre2)
    std::call_once(pcre2_once[index], [&] {
      if (std::string why = compile_pcre2(index); !why.empty()) {
        compiled[index].code.reset();
        compiled[index].secret_groups.clear();
        const std::string text =
            rule_label(rules.rules[index]) + " is skipped: " + why + " (a stale rule cache?)";
        if (options.on_warning)
          options.on_warning(text);
        else
          std::fprintf(stderr, "credsift: warning: %s\n", text.c_str());
      }
    });
  return compiled[index];
}

// Which rules go to stage 2, and their triggers: each distinct keyword head (with the rule's
// flags) is one stage-1 expression. Every match of a keyword rule begins with a match of its
// head, which Hyperscan reports at that head's end h (it reports every end offset), and the
// whole match lies within max_width of h on either side: a window of radius max_width around h
// holds it, with the byte after its end (for \b and $). Rules whose head Hyperscan does not take
// alone, or which may be empty or unbounded, stay in stage 1.
void Matcher::Impl::plan_stages() {
  const size_t n = rules.rules.size();
  keyword.assign(n, false);
  trigger_heads.clear();
  trigger_flags.clear();
  trigger_radius.clear();
  if (!options.two_stage) return;
  std::map<std::pair<std::string, unsigned>, size_t> index;
  for (uint32_t i = 0; i < n; ++i) {
    const Rule& rule = rules.rules[i];
    const size_t head = keyword_head_length(rule.pattern);
    if (!head || compiled[i].max_width == 0) continue;
    std::string text = rule.pattern.substr(0, head);
    hs_expr_info_t* info = nullptr;
    hs_compile_error_t* error = nullptr;
    if (hs_expression_info(text.c_str(), hs_flags(rule), &info, &error) != HS_SUCCESS) {
      hs_free_compile_error(error);
      continue;
    }
    const bool usable = info->min_width >= 1 && info->max_width != UINT_MAX;
    free(info);  // Hyperscan's misc allocator, malloc by default
    if (!usable) continue;
    keyword[i] = true;
    const auto [at, added] =
        index.emplace(std::pair{std::move(text), hs_flags(rule)}, trigger_heads.size());
    if (added) {
      trigger_heads.push_back(at->first.first);
      trigger_flags.push_back(hs_flags(rule));
      trigger_radius.push_back(0);
    }
    unsigned& radius = trigger_radius[at->second];
    radius = std::max(radius, static_cast<unsigned>(compiled[i].max_width));
  }
}

void Matcher::Impl::compile_database() {
  plan_stages();
  if (!trigger_heads.empty()) {
    const uint32_t n = static_cast<uint32_t>(rules.rules.size());
    std::vector<const char*> stage1, stage2;
    std::vector<unsigned> flags1, flags2, ids1, ids2;
    std::deque<std::string> prefiltered;  // the cheaper expressions of a few rules (prefilter.hpp)
    for (uint32_t i = 0; i < n; ++i) {
      if (keyword[i]) {
        stage2.push_back(rules.rules[i].pattern.c_str());
      } else {
        stage1.push_back(prefiltered.emplace_back(hyperscan_expression(rules.rules[i])).c_str());
      }
      (keyword[i] ? flags2 : flags1).push_back(hs_flags(rules.rules[i]));
      (keyword[i] ? ids2 : ids1).push_back(i);
    }
    for (uint32_t t = 0; t < trigger_heads.size(); ++t) {
      stage1.push_back(trigger_heads[t].c_str());
      flags1.push_back(trigger_flags[t]);
      ids1.push_back(n + t);
    }
    hs_database_t* first = nullptr;
    hs_database_t* second = nullptr;
    hs_compile_error_t* error = nullptr;
    if (hs_compile_multi(stage1.data(), flags1.data(), ids1.data(),
                         static_cast<unsigned>(stage1.size()), HS_MODE_BLOCK, nullptr, &first,
                         &error) == HS_SUCCESS &&
        hs_compile_multi(stage2.data(), flags2.data(), ids2.data(),
                         static_cast<unsigned>(stage2.size()), HS_MODE_BLOCK, nullptr, &second,
                         &error) == HS_SUCCESS) {
      db.reset(first);
      keyword_db.reset(second);
      trigger_heads.clear();
      trigger_flags.clear();
      return;
    }
    // A refusal is reported by the one-stage compile below, which names the rule.
    hs_free_compile_error(error);
    if (first) hs_free_database(first);
    trigger_heads.clear();
    trigger_flags.clear();
    trigger_radius.clear();
  }
  const size_t n = rules.rules.size();
  std::string errors;
  auto refuse = [&](uint32_t i, const std::string& why) {
    errors += (errors.empty() ? "" : "; ") + rule_label(rules.rules[i]) + ": " + why;
  };
  std::vector<const char*> expressions(n);
  std::vector<unsigned> flags(n), ids(n);
  std::deque<std::string> prefiltered;
  for (uint32_t i = 0; i < n; ++i) {
    expressions[i] = prefiltered.emplace_back(hyperscan_expression(rules.rules[i])).c_str();
    flags[i] = hs_flags(rules.rules[i]);
    ids[i] = i;
  }
  hs_database_t* db_raw = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_compile_multi(expressions.data(), flags.data(), ids.data(), static_cast<unsigned>(n),
                       HS_MODE_BLOCK, nullptr, &db_raw, &error) != HS_SUCCESS) {
    std::string message = error ? error->message : "unknown error";
    const int which = error ? error->expression : -1;
    hs_free_compile_error(error);
    if (which >= 0 && static_cast<size_t>(which) < n) {
      refuse(static_cast<uint32_t>(which), "Hyperscan: " + message);
    } else {
      // Not attributed to one expression: compile each alone to find the culprit(s).
      for (uint32_t i = 0; i < n; ++i) {
        hs_database_t* one = nullptr;
        hs_compile_error_t* one_error = nullptr;
        if (hs_compile(expressions[i], flags[i], HS_MODE_BLOCK, nullptr, &one, &one_error) !=
            HS_SUCCESS) {
          refuse(i, std::string("Hyperscan: ") + (one_error ? one_error->message : "error"));
          hs_free_compile_error(one_error);
        } else {
          hs_free_database(one);
        }
      }
      if (errors.empty()) errors = "Hyperscan: " + message + " (whole rule set)";
    }
    throw MatchError(errors);
  }
  db.reset(db_raw);
}

Matcher::Matcher(const RuleSet& rules, const MatcherOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->rules = rules;
  impl_->options = options;
  impl_->compile();
}

Matcher::Matcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<Matcher> Matcher::load(const std::vector<std::filesystem::path>& paths,
                                       const RuleSelection* selection,
                                       const MatcherOptions& options) {
  const std::vector<RuleFile> files = read_rule_files(paths);
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->source_cache = source_cache(files, selection, options);
  if (impl->source_cache) {
    if (std::optional<match_detail::CachedRules> cached = impl->source_cache->load()) {
      std::optional<RuleSet> rules = decode_rules(cached->rules);
      if (rules && rules->rules.size() == cached->widths.size()) {
        impl->rules = std::move(*rules);
        impl->preloaded = std::move(cached);
      } else {
        impl->source_cache->refuse("rules section unreadable");
      }
    }
  }
  if (!impl->preloaded) {
    RuleSet loaded = load_rules(files);
    impl->rules = selection ? select_rules(loaded, *selection) : std::move(loaded);
  }
  impl->compile();
  return std::unique_ptr<Matcher>(new Matcher(std::move(impl)));
}

bool Matcher::loaded_from_cache() const { return impl_->from_cache; }
bool Matcher::two_stage() const { return impl_->keyword_db != nullptr; }
const std::filesystem::path& Matcher::cache_file() const { return impl_->cache_file; }

Matcher::~Matcher() = default;

const RuleSet& Matcher::rules() const { return impl_->rules; }

size_t Matcher::max_width(uint32_t rule) const { return impl_->compiled.at(rule).max_width; }

std::unique_ptr<Matcher::Scratch> Matcher::make_scratch() const {
  auto scratch = std::make_unique<ScratchImpl>();
  scratch->owner = impl_.get();
  if (impl_->db) {
    {
      std::lock_guard lock(impl_->first_scratch_mutex);
      scratch->hs = std::move(impl_->first_scratch);
    }
    if (!scratch->hs) {
      hs_scratch_t* raw = nullptr;
      if (hs_alloc_scratch(impl_->db.get(), &raw) != HS_SUCCESS ||
          (impl_->keyword_db && hs_alloc_scratch(impl_->keyword_db.get(), &raw) != HS_SUCCESS)) {
        if (raw) hs_free_scratch(raw);
        throw MatchError("Hyperscan: cannot allocate scratch");
      }
      scratch->hs.reset(raw);
    }
  }
  scratch->data.reset(pcre2_match_data_create(impl_->max_groups + 1, nullptr));
  scratch->context.reset(pcre2_match_context_create(nullptr));
  // Patterns such as PEM blocks repeat up to thousands of times; the default 32 KiB machine
  // stack of the JIT can be too small for the backtracking they need.
  scratch->jit_stack.reset(pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr));
  if (!scratch->data || !scratch->context || !scratch->jit_stack)
    throw MatchError("PCRE2: cannot allocate match data");
  pcre2_jit_stack_assign(scratch->context.get(), nullptr, scratch->jit_stack.get());
  return scratch;
}

namespace {

// Hyperscan reports every end offset of a growing match (an \S{4,64} run reports up to 61);
// collapse runs of one rule whose ends lie within its max width into one [first, last] range.
int on_match(unsigned int id, unsigned long long /*from*/, unsigned long long to,
             unsigned int /*flags*/, void* context) {
  auto& state = *static_cast<ScanState*>(context);
  if (id >= state.rules) {  // a trigger: its window, for stage 2
    const size_t trigger = id - state.rules, at = static_cast<size_t>(to);
    if (trigger < state.trigger_radius->size()) {
      const size_t radius = (*state.trigger_radius)[trigger];
      state.windows->emplace_back(at > radius ? at - radius : 0,
                                  std::min(state.text_size, at + radius + 2));
    }
    return 0;
  }
  const auto end = state.base + static_cast<size_t>(to);
  // A window's own end looks like the end of the text to $ and \b (and $ also matches before a
  // final newline): nothing that ends in its last two bytes is trusted, unless the text ends there.
  if (end > state.last_end) return 0;
  if (!state.events->empty()) {
    Event& last = state.events->back();
    if (last.rule == id && end >= last.last && end - last.last <= (*state.compiled)[id].max_width) {
      last.last = end;
      return 0;
    }
  }
  state.events->push_back({id, end, end});
  return 0;
}

}  // namespace

// Stage 1 over the whole text; stage 2 over the merged trigger windows, its end offsets mapped
// back. Every match of a keyword rule ends at most 2 bytes before its window's end, and starts
// inside the window with its head (no assertion there): so the windows report exactly the end
// offsets that one database over the whole text reports for those rules, and the PCRE2 pass below
// (which only sees the set of end offsets per rule) gives the same hits.
void Matcher::Impl::find_events(std::string_view text, ScratchImpl& scratch) const {
  auto& events = scratch.events;
  events.clear();
  ScanState state{&events, &compiled};
  if (keyword_db) {
    scratch.windows.clear();
    state.rules = static_cast<uint32_t>(rules.rules.size());
    state.trigger_radius = &trigger_radius;
    state.windows = &scratch.windows;
    state.text_size = text.size();
  }
  if (hs_scan(db.get(), text.data(), static_cast<unsigned>(text.size()), 0, scratch.hs.get(),
              on_match, &state) != HS_SUCCESS)
    throw MatchError("Hyperscan: scan failed");
  if (!keyword_db || scratch.windows.empty()) return;
  auto& windows = scratch.windows;
  std::sort(windows.begin(), windows.end());
  size_t merged = 0;
  for (size_t i = 1; i < windows.size(); ++i) {
    if (windows[i].first <= windows[merged].second)
      windows[merged].second = std::max(windows[merged].second, windows[i].second);
    else
      windows[++merged] = windows[i];
  }
  windows.resize(merged + 1);
  ScanState window_state{&events, &compiled};
  for (const auto& [begin, end] : windows) {
    window_state.base = begin;
    window_state.last_end = end == text.size() ? SIZE_MAX : end - 2;
    if (hs_scan(keyword_db.get(), text.data() + begin, static_cast<unsigned>(end - begin), 0,
                scratch.hs.get(), on_match, &window_state) != HS_SUCCESS)
      throw MatchError("Hyperscan: scan failed");
  }
}

size_t Matcher::count_candidates(std::string_view text, Scratch& scratch_base) const {
  auto& scratch = static_cast<ScratchImpl&>(scratch_base);
  if (scratch.owner != impl_.get()) throw MatchError("scratch belongs to another Matcher");
  if (!impl_->db || text.empty()) return 0;
  if (text.size() > UINT_MAX) throw MatchError("segment larger than 4 GiB");
  impl_->find_events(text, scratch);
  return scratch.events.size();
}

void Matcher::scan(std::string_view text, uint32_t segment, Scratch& scratch_base,
                   std::vector<Hit>& out) const {
  auto& scratch = static_cast<ScratchImpl&>(scratch_base);
  if (scratch.owner != impl_.get()) throw MatchError("scratch belongs to another Matcher");
  if (!impl_->db || text.empty()) return;

  if (text.size() > UINT_MAX) throw MatchError("segment larger than 4 GiB");

  auto& events = scratch.events;
  impl_->find_events(text, scratch);
  if (events.empty()) return;

  // Matches of different rules interleave, so ranges of one rule are merged after sorting.
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return a.rule != b.rule ? a.rule < b.rule : a.first < b.first;
  });

  const size_t first_out = out.size();
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  for (size_t i = 0; i < events.size();) {
    const uint32_t rule = events[i].rule;
    const CompiledRule& compiled = impl_->ready(rule);
    // Ends closer than max_width share one PCRE2 pass over [first_end - max_width, last_end].
    const size_t first_end = events[i].first;
    size_t last_end = events[i].last;
    for (++i; i < events.size() && events[i].rule == rule &&
              events[i].first <= last_end + compiled.max_width;
         ++i)
      last_end = std::max(last_end, events[i].last);

    const size_t begin = first_end > compiled.max_width ? first_end - compiled.max_width : 0;
    // One byte past the last end keeps \b and similar end checks exact without letting PCRE2
    // search the rest of the segment; the whole text before stays visible for \b at `begin`.
    const size_t length = std::min(text.size(), last_end + 1);
    if (!compiled.code) continue;  // refused by PCRE2 (reported once)
    if (pcre2_get_ovector_count(scratch.data.get()) <= compiled.capture_count) {
      // A lazily compiled rule with more groups than this scratch was made for.
      scratch.data.reset(pcre2_match_data_create(compiled.capture_count + 1, nullptr));
      if (!scratch.data) throw MatchError("PCRE2: cannot allocate match data");
    }
    const pcre2_code* code = impl_->code_for(rule, compiled);
    const bool jit = code != compiled.code.get();
    size_t start = begin;
    while (start <= last_end) {
      const int rc = jit ? pcre2_jit_match(code, subject, length, start, 0, scratch.data.get(),
                                           scratch.context.get())
                         : pcre2_match(code, subject, length, start, 0, scratch.data.get(),
                                       scratch.context.get());
      if (rc < 0) break;  // PCRE2_ERROR_NOMATCH, or a limit: nothing more in this window
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.data.get());
      const size_t match_begin = ovector[0], match_end = ovector[1];
      const auto set = [&](uint32_t group) {
        return group < static_cast<uint32_t>(rc) && ovector[2 * group] != PCRE2_UNSET;
      };
      const auto secret =
          std::find_if(compiled.secret_groups.begin(), compiled.secret_groups.end(), set);
      if (match_end <= last_end && secret != compiled.secret_groups.end()) {
        Hit hit;
        hit.rule = rule;
        hit.segment = segment;
        hit.match = {match_begin, match_end};
        hit.secret = {ovector[2 * *secret], ovector[2 * *secret + 1]};
        for (const auto& entry : compiled.groups) {
          // Not a structured binding: clang 14 (the fuzz build) cannot capture one.
          const auto group = entry.first;
          const auto& name = entry.second;
          if (!set(group)) continue;
          const bool seen = std::any_of(hit.captures.begin(), hit.captures.end(),
                                        [&](const NamedSpan& c) { return c.name == name; });
          if (!seen) hit.captures.push_back({name, {ovector[2 * group], ovector[2 * group + 1]}});
        }
        out.push_back(std::move(hit));
      }
      // Advance past the match; an empty match (Hyperscan refuses such rules) still moves on.
      start = match_end > match_begin ? match_end : match_end + 1;
    }
  }

  std::sort(out.begin() + static_cast<std::ptrdiff_t>(first_out), out.end(),
            [](const Hit& a, const Hit& b) {
              if (a.match.begin != b.match.begin) return a.match.begin < b.match.begin;
              if (a.rule != b.rule) return a.rule < b.rule;
              return a.match.end < b.match.end;
            });
  out.erase(std::unique(out.begin() + static_cast<std::ptrdiff_t>(first_out), out.end(),
                        [](const Hit& a, const Hit& b) {
                          return a.rule == b.rule && a.match.begin == b.match.begin &&
                                 a.match.end == b.match.end;
                        }),
            out.end());
}

}  // namespace credsift

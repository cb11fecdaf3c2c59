#include "credsift/match.hpp"

#include "rule_cache.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <openssl/evp.h>
#include <pcre2.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
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

// End offsets of one rule reported by Hyperscan, collapsed to a range.
struct Event {
  uint32_t rule;
  size_t first, last;
};

}  // namespace

struct CompiledRule {
  std::unique_ptr<pcre2_code, Pcre2CodeDeleter> code;
  bool jit = false;
  uint32_t capture_count = 0;
  size_t max_width = 0;
  std::vector<uint32_t> secret_groups;  // secret, secret_2, ... in pattern order
  // Other named groups: group number and a view of the name in Impl::names.
  std::vector<std::pair<uint32_t, std::string_view>> groups;
};

struct Matcher::Impl {
  RuleSet rules;
  std::unique_ptr<hs_database_t, HsDatabaseDeleter> db;
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
  void compile_database();
  std::string compile_pcre2(uint32_t index);
  bool adopt(const match_detail::CachedRules& cached);
  std::string image_for_cache() const;
  const CompiledRule& ready(uint32_t index);
};

class ScratchImpl final : public Matcher::Scratch {
 public:
  const void* owner = nullptr;  // the Matcher::Impl that made it
  std::unique_ptr<hs_scratch_t, HsScratchDeleter> hs;
  std::unique_ptr<pcre2_match_data, Pcre2MatchDataDeleter> data;
  std::unique_ptr<pcre2_match_context, Pcre2ContextDeleter> context;
  std::unique_ptr<pcre2_jit_stack, Pcre2JitStackDeleter> jit_stack;
  std::vector<Event> events;
};

namespace {
struct ScanState {
  std::vector<Event>* events;
  const std::vector<CompiledRule>* compiled;
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
  // JIT is an optimisation: without it (unsupported CPU) pcre2_match interprets.
  out.jit = pcre2_jit_compile(out.code.get(), PCRE2_JIT_COMPLETE) == 0;

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

std::string hex(const unsigned char* bytes, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 15]);
  }
  return out;
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
  for (const Rule& rule : rules.rules) {
    feed(rule.pattern);
    feed(std::to_string(hs_flags(rule)));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context, digest, &length);
  EVP_MD_CTX_free(context);
  return match_detail::RuleCache(setting->dir, hex(digest, length), cache_warning(options));
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
                                 "files-" + hex(canonical.digest, sizeof canonical.digest),
                                 cache_warning(options));
}

}  // namespace

void Matcher::Impl::compile() {
  const size_t n = rules.rules.size();
  compiled.resize(n);
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
  if (cache)
    if (const std::string image = image_for_cache(); !image.empty())
      cache->store(widths, encode_rules(rules), image);
}

// The database as a later start maps it: deserialized into page-aligned memory, as the cache
// file holds it at a page-aligned offset (Hyperscan aligns the bytecode relative to that
// address, and a deserialized database holds offsets only, no pointers).
std::string Matcher::Impl::image_for_cache() const {
  char* bytes = nullptr;
  size_t serialized = 0;
  if (hs_serialize_database(db.get(), &bytes, &serialized) != HS_SUCCESS) return {};
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
  const std::string_view image = cached.database;
  auto* database = reinterpret_cast<hs_database_t*>(const_cast<char*>(image.data()));
  size_t size = 0;
  if (image.size() < 64 || reinterpret_cast<uintptr_t>(image.data()) % 4096 != 0 ||
      hs_database_size(database, &size) != HS_SUCCESS || size != image.size())
    return false;
  hs_scratch_t* scratch = nullptr;
  if (hs_alloc_scratch(database, &scratch) != HS_SUCCESS) return false;
  first_scratch.reset(scratch);
  cache_mapping = cached.mapping;
  db = std::unique_ptr<hs_database_t, HsDatabaseDeleter>(database, HsDatabaseDeleter{true});
  return true;
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

void Matcher::Impl::compile_database() {
  const size_t n = rules.rules.size();
  std::string errors;
  auto refuse = [&](uint32_t i, const std::string& why) {
    errors += (errors.empty() ? "" : "; ") + rule_label(rules.rules[i]) + ": " + why;
  };
  std::vector<const char*> expressions(n);
  std::vector<unsigned> flags(n), ids(n);
  for (uint32_t i = 0; i < n; ++i) {
    expressions[i] = rules.rules[i].pattern.c_str();
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
      if (hs_alloc_scratch(impl_->db.get(), &raw) != HS_SUCCESS)
        throw MatchError("Hyperscan: cannot allocate scratch");
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
  const auto end = static_cast<size_t>(to);
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

void Matcher::scan(std::string_view text, uint32_t segment, Scratch& scratch_base,
                   std::vector<Hit>& out) const {
  auto& scratch = static_cast<ScratchImpl&>(scratch_base);
  if (scratch.owner != impl_.get()) throw MatchError("scratch belongs to another Matcher");
  if (!impl_->db || text.empty()) return;

  if (text.size() > UINT_MAX) throw MatchError("segment larger than 4 GiB");

  auto& events = scratch.events;
  events.clear();
  ScanState state{&events, &impl_->compiled};
  if (hs_scan(impl_->db.get(), text.data(), static_cast<unsigned>(text.size()), 0, scratch.hs.get(),
              on_match, &state) != HS_SUCCESS)
    throw MatchError("Hyperscan: scan failed");
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
    size_t start = begin;
    while (start <= last_end) {
      const int rc = compiled.jit ? pcre2_jit_match(compiled.code.get(), subject, length, start, 0,
                                                    scratch.data.get(), scratch.context.get())
                                  : pcre2_match(compiled.code.get(), subject, length, start, 0,
                                                scratch.data.get(), scratch.context.get());
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

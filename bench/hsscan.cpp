// hsscan: the matching ceiling of the macro benchmark. Loads the rules with credsift's loader,
// compiles them into one Hyperscan block-mode database with the flags the matcher uses, and
// scans the raw bytes of a file in chunks: no decoding, no capture extraction, no report.
// Prints one line of key=value pairs (bytes, matches, compile and scan seconds, MB/s).
// --split-bound FILE [RULES...] measures the best case of a two-stage matcher (README, rule library
// speed): the core rules over every byte, plus the keyword rules only in windows around runs of
// >= 11 characters of [A-Za-z0-9_+/=-]. That trigger is optimistic (a value such as a UUID's
// 8-4-4-4-12 groups is covered, but not every shape the rules allow), so the figure is a lower
// bound on what such a matcher costs.
// --matcher one|two FILE [RULES...] times the Hyperscan work of credsift's own Matcher (one
// database, or the two-stage matcher) over FILE in 1 MiB chunks: Matcher::count_candidates, no
// PCRE2. --hits one|two runs the full Matcher::scan instead and prints the hit count and a digest
// of every hit (rule, offsets, secret, captures): equal digests, equal matches.
// --compare one|two FILE RULES_A RULES_B [ROUNDS] loads both libraries as --matcher does and
// alternates their passes over FILE in one process (A B A B ..., 11 rounds unless given), printing
// each side's fastest and median CPU seconds and B's speed relative to A: on a shared machine the
// load drifts between processes, while within one the two sides see the same drift.
// HSSCAN_NO_PREFILTERS_A=1 / _B=1 run that side with every rule's own pattern (the 313 rules as
// they ran before scanner/match/prefilter.hpp).
// --write-decoded MBOX OUT writes what the matcher sees of MBOX instead (every message through
// credsift's decoder, each segment's text followed by a newline), the "decoded real mail" row.
#include <fcntl.h>
#include <hs/hs.h>
#include <sys/resource.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../scanner/match/prefilter.hpp"
#include "credsift/match.hpp"
#include "credsift/mime.hpp"
#include "credsift/rules.hpp"
#include "credsift/source.hpp"

namespace {

int on_match(unsigned, unsigned long long, unsigned long long, unsigned, void* context) {
  ++*static_cast<unsigned long long*>(context);
  return 0;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// User+system CPU seconds of this process: unlike wall time, barely moved by other load on a
// shared machine, so ratios of it are what the README reports beside MB/s.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::string read_file(const char* path) {
  std::string data;
  if (FILE* file = std::fopen(path, "rb")) {
    char buffer[1 << 16];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) data.append(buffer, n);
    std::fclose(file);
  }
  return data;
}

// Each rule compiled alone and run over the whole file: the slowest rules first, to find the
// few patterns that set the pace of the shared database.
int scan_per_rule(const credsift::RuleSet& rules, const char* path) {
  const std::string data = read_file(path);
  struct Timing {
    double mb_per_s;
    unsigned long long matches;
    std::string id;
  };
  std::vector<Timing> timings;
  for (const auto& rule : rules.rules) {
    hs_database_t* database = nullptr;
    hs_compile_error_t* error = nullptr;
    const unsigned flags =
        (rule.caseless ? HS_FLAG_CASELESS : 0) | (rule.dotall ? HS_FLAG_DOTALL : 0);
    // As the matcher compiles it: a few rules' prefilter suffix (HSSCAN_NO_PREFILTERS: none).
    const std::string expression(std::getenv("HSSCAN_NO_PREFILTERS")
                                     ? std::string_view(rule.pattern)
                                     : credsift::match_detail::hyperscan_expression(rule));
    if (hs_compile(expression.c_str(), flags, HS_MODE_BLOCK, nullptr, &database, &error) !=
        HS_SUCCESS) {
      hs_free_compile_error(error);
      continue;
    }
    hs_scratch_t* scratch = nullptr;
    hs_alloc_scratch(database, &scratch);
    unsigned long long matches = 0;
    double best = 1e9;
    for (int round = 0; round < 3; ++round) {  // fastest of 3 (CPU time): load spikes vanish
      matches = 0;
      const double start = cpu_seconds();
      hs_scan(database, data.data(), unsigned(data.size()), 0, scratch, on_match, &matches);
      best = std::min(best, std::max(cpu_seconds() - start, 1e-4));
    }
    timings.push_back({double(data.size()) / 1e6 / best, matches, rule.id});
    hs_free_scratch(scratch);
    hs_free_database(database);
  }
  std::sort(timings.begin(), timings.end(),
            [](const Timing& a, const Timing& b) { return a.mb_per_s < b.mb_per_s; });
  for (const auto& t : timings)
    std::printf("%10.1f MB/s(cpu) %8llu matches  %s\n", t.mb_per_s, t.matches, t.id.c_str());
  return 0;
}

// The segments the pipeline hands the matcher, as scan_message makes them (same decoder, same
// default limits), appended one after another with a newline between segments.
int write_decoded(const char* mbox_path, const char* out_path) {
  const std::string mbox = read_file(mbox_path);
  FILE* out = std::fopen(out_path, "wb");
  if (!out) {
    std::perror(out_path);
    return 2;
  }
  unsigned long long messages = 0, segments = 0, bytes = 0;
  for (const credsift::MboxPiece& piece : credsift::split_mbox(mbox)) {
    const std::string unescaped =
        piece.needs_unescape ? credsift::unescape_mboxrd(piece.bytes) : std::string();
    const credsift::DecodedMessage decoded =
        credsift::decode_message(piece.needs_unescape ? unescaped : piece.bytes);
    ++messages;
    for (const credsift::Segment& segment : decoded.segments) {
      std::fwrite(segment.text.data(), 1, segment.text.size(), out);
      std::fputc('\n', out);
      ++segments;
      bytes += segment.text.size() + 1;
    }
  }
  if (std::fclose(out) != 0) {
    std::perror(out_path);
    return 2;
  }
  std::printf("messages=%llu segments=%llu in_bytes=%zu out_bytes=%llu\n", messages, segments,
              mbox.size(), bytes);
  return 0;
}

hs_database_t* compile_database(const std::vector<const credsift::Rule*>& rules) {
  std::vector<const char*> expressions;
  std::vector<unsigned> flags, ids;
  for (const credsift::Rule* rule : rules) {
    expressions.push_back(rule->pattern.c_str());
    flags.push_back((rule->caseless ? HS_FLAG_CASELESS : 0) | (rule->dotall ? HS_FLAG_DOTALL : 0));
    ids.push_back(unsigned(ids.size()));
  }
  hs_database_t* database = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_compile_multi(expressions.data(), flags.data(), ids.data(), unsigned(expressions.size()),
                       HS_MODE_BLOCK, nullptr, &database, &error) != HS_SUCCESS) {
    std::fprintf(stderr, "hsscan: compile failed: %s\n", error ? error->message : "?");
    std::exit(2);
  }
  return database;
}

// A long-tail keyword rule: "(?i:NAMES)" followed by the separator and the value.
bool is_keyword_rule(const credsift::Rule& rule) {
  const std::string& p = rule.pattern;
  if (p.rfind("(?i:", 0) != 0) return false;
  int depth = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '(') {
      ++depth;
    } else if (p[i] == ')' && --depth == 0) {
      return i + 1 < p.size();
    }
  }
  return false;
}

int split_bound(const credsift::RuleSet& rules, const char* path) {
  const std::string data = read_file(path);
  std::vector<const credsift::Rule*> core, keyword;
  for (const auto& rule : rules.rules) (is_keyword_rule(rule) ? keyword : core).push_back(&rule);
  hs_database_t* core_db = compile_database(core);
  hs_database_t* keyword_db = compile_database(keyword);
  hs_scratch_t* scratch = nullptr;
  if (hs_alloc_scratch(core_db, &scratch) != HS_SUCCESS ||
      hs_alloc_scratch(keyword_db, &scratch) != HS_SUCCESS)
    return 2;
  bool in_run[256] = {};
  for (const char* c = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+/=-"; *c;
       ++c)
    in_run[static_cast<unsigned char>(*c)] = true;
  const size_t min_run = 11, before = 100, after = 2;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const size_t size = data.size();
  double best_core = 1e9, best_trigger = 1e9, best_windows = 1e9;
  unsigned long long core_matches = 0, keyword_matches = 0;
  size_t window_count = 0, window_bytes = 0;
  std::vector<std::pair<size_t, size_t>> windows;
  for (int round = 0; round < 5; ++round) {  // fastest of 5 by CPU time, each part alone
    core_matches = keyword_matches = 0;
    const double t0 = cpu_seconds();
    for (size_t offset = 0; offset < size; offset += 1 << 20)
      hs_scan(core_db, data.data() + offset, unsigned(std::min<size_t>(1 << 20, size - offset)), 0,
              scratch, on_match, &core_matches);
    const double t1 = cpu_seconds();
    windows.clear();
    for (size_t i = 0; i < size;) {
      while (i < size && !in_run[bytes[i]]) ++i;
      const size_t start = i;
      while (i < size && in_run[bytes[i]]) ++i;
      if (i - start < min_run) continue;
      const size_t begin = start > before ? start - before : 0, end = std::min(size, i + after);
      if (!windows.empty() && begin <= windows.back().second)
        windows.back().second = end;
      else
        windows.emplace_back(begin, end);
    }
    const double t2 = cpu_seconds();
    window_bytes = 0;
    for (const auto& [begin, end] : windows) {
      hs_scan(keyword_db, data.data() + begin, unsigned(end - begin), 0, scratch, on_match,
              &keyword_matches);
      window_bytes += end - begin;
    }
    const double t3 = cpu_seconds();
    window_count = windows.size();
    best_core = std::min(best_core, t1 - t0);
    best_trigger = std::min(best_trigger, t2 - t1);
    best_windows = std::min(best_windows, t3 - t2);
  }
  std::printf(
      "core_rules=%zu keyword_rules=%zu bytes=%zu core_cpu_s=%.3f trigger_cpu_s=%.3f "
      "keyword_windows_cpu_s=%.3f core_plus_windows_cpu_s=%.3f windows=%zu window_share=%.3f "
      "core_matches=%llu keyword_matches=%llu\n",
      core.size(), keyword.size(), size, best_core, best_trigger, best_windows,
      best_core + best_windows, window_count,
      double(window_bytes) / double(std::max<size_t>(size, 1)), core_matches, keyword_matches);
  hs_free_scratch(scratch);
  hs_free_database(core_db);
  hs_free_database(keyword_db);
  return 0;
}

// credsift's own Matcher, one or two stages. no_prefilters names the variable that, set, gives
// every rule's own pattern (the "before" of scanner/match/prefilter.hpp).
std::unique_ptr<credsift::Matcher> load_matcher(const std::string& stages,
                                                const std::vector<std::filesystem::path>& rules,
                                                const char* no_prefilters) {
  credsift::MatcherOptions options;
  options.two_stage = stages == "two";
  options.prefilters = !std::getenv(no_prefilters);
  // A cache of its own, so that alternating runs do not compile the library every time.
  if (const char* dir = std::getenv("HSSCAN_CACHE_DIR"))
    options.cache_dir = dir;
  else
    options.use_cache = false;
  return credsift::Matcher::load(rules, nullptr, options);
}

// Matcher::count_candidates over data, chunk bytes per call.
unsigned long long count_candidates(const credsift::Matcher& matcher,
                                    credsift::Matcher::Scratch& scratch, const std::string& data,
                                    size_t chunk) {
  unsigned long long candidates = 0;
  for (size_t offset = 0; offset < data.size(); offset += chunk)
    candidates += matcher.count_candidates(
        std::string_view(data.data() + offset, std::min(chunk, data.size() - offset)), scratch);
  return candidates;
}

int run_matcher(const std::string& mode, const std::string& stages, const char* path,
                const std::vector<std::filesystem::path>& rule_paths) {
  const auto compile_start = std::chrono::steady_clock::now();
  const auto matcher = load_matcher(stages, rule_paths, "HSSCAN_NO_PREFILTERS");
  const double compile_seconds = seconds_since(compile_start);
  const auto scratch = matcher->make_scratch();
  const std::string data = read_file(path);
  // HSSCAN_CHUNK: bytes per scan call (mail segments are a few KB; default 1 MiB).
  const size_t chunk =
      std::getenv("HSSCAN_CHUNK") ? std::stoul(std::getenv("HSSCAN_CHUNK")) : 1 << 20;
  double best_cpu = 1e9, best_wall = 1e9;
  unsigned long long candidates = 0;
  std::vector<credsift::Hit> hits;
  XXH3_state_t* digest = XXH3_createState();
  XXH3_64bits_reset(digest);
  const int rounds = mode == "--matcher" ? 5 : 1;
  for (int round = 0; round < rounds; ++round) {
    candidates = 0;
    hits.clear();
    const auto wall_start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    if (mode == "--matcher") {
      candidates = count_candidates(*matcher, *scratch, data, chunk);
    } else {
      for (size_t offset = 0; offset < data.size(); offset += chunk) {
        const std::string_view text(data.data() + offset, std::min(chunk, data.size() - offset));
        const size_t first = hits.size();
        matcher->scan(text, uint32_t(offset / chunk), *scratch, hits);
        for (size_t i = first; i < hits.size(); ++i) {
          const credsift::Hit& hit = hits[i];
          const std::string& id = matcher->rules().rules[hit.rule].id;
          const size_t fields[] = {hit.segment, hit.match.begin, hit.match.end, hit.secret.begin,
                                   hit.secret.end};
          XXH3_64bits_update(digest, id.data(), id.size() + 1);
          XXH3_64bits_update(digest, fields, sizeof fields);
          for (const auto& capture : hit.captures) {
            const size_t span[] = {capture.span.begin, capture.span.end};
            XXH3_64bits_update(digest, capture.name.data(), capture.name.size());
            XXH3_64bits_update(digest, span, sizeof span);
          }
        }
      }
    }
    best_cpu = std::min(best_cpu, cpu_seconds() - cpu_start);
    best_wall = std::min(best_wall, seconds_since(wall_start));
  }
  std::printf(
      "matcher=%s two_stage=%d rules=%zu bytes=%zu candidates=%llu hits=%zu digest=%016llx "
      "load_s=%.3f scan_s=%.3f cpu_s=%.3f cpu_mb_per_s=%.1f\n",
      stages.c_str(), int(matcher->two_stage()), matcher->rules().rules.size(), data.size(),
      candidates, hits.size(), (unsigned long long)XXH3_64bits_digest(digest), compile_seconds,
      best_wall, best_cpu, double(data.size()) / 1e6 / std::max(best_cpu, 1e-6));
  XXH3_freeState(digest);
  return 0;
}

// Median of a copy.
double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

int run_compare(const std::string& stages, const char* path, const char* rules_a,
                const char* rules_b, int rounds) {
  struct Side {
    std::unique_ptr<credsift::Matcher> matcher;
    std::unique_ptr<credsift::Matcher::Scratch> scratch;
    std::vector<double> cpu, wall;
    unsigned long long candidates = 0;
  };
  Side sides[2];
  const char* paths[2] = {rules_a, rules_b};
  const char* no_prefilters[2] = {"HSSCAN_NO_PREFILTERS_A", "HSSCAN_NO_PREFILTERS_B"};
  for (int i = 0; i < 2; ++i) {
    sides[i].matcher = load_matcher(stages, {paths[i]}, no_prefilters[i]);
    sides[i].scratch = sides[i].matcher->make_scratch();
  }
  const std::string data = read_file(path);
  const size_t chunk = 1 << 20;
  for (int round = 0; round < rounds; ++round)
    for (Side& side : sides) {
      const auto wall_start = std::chrono::steady_clock::now();
      const double cpu_start = cpu_seconds();
      side.candidates = count_candidates(*side.matcher, *side.scratch, data, chunk);
      side.cpu.push_back(cpu_seconds() - cpu_start);
      side.wall.push_back(seconds_since(wall_start));
    }
  for (int i = 0; i < 2; ++i) {
    const Side& side = sides[i];
    std::printf(
        "side=%c rules=%zu candidates=%llu cpu_min_s=%.4f cpu_median_s=%.4f "
        "wall_median_s=%.4f  %s\n",
        'A' + i, side.matcher->rules().rules.size(), side.candidates,
        *std::min_element(side.cpu.begin(), side.cpu.end()), median(side.cpu), median(side.wall),
        paths[i]);
  }
  std::printf("rounds=%d speed_B_vs_A cpu_median=%.3fx cpu_min=%.3fx wall_median=%.3fx\n", rounds,
              median(sides[0].cpu) / median(sides[1].cpu),
              *std::min_element(sides[0].cpu.begin(), sides[0].cpu.end()) /
                  *std::min_element(sides[1].cpu.begin(), sides[1].cpu.end()),
              median(sides[0].wall) / median(sides[1].wall));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if ((argc == 6 || argc == 7) && std::string(argv[1]) == "--compare") {
    try {
      return run_compare(argv[2], argv[3], argv[4], argv[5],
                         argc == 7 ? std::max(1, std::atoi(argv[6])) : 11);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "hsscan: %s\n", error.what());
      return 2;
    }
  }
  if (argc >= 4 && (std::string(argv[1]) == "--matcher" || std::string(argv[1]) == "--hits")) {
    std::vector<std::filesystem::path> rule_paths(argv + 4, argv + argc);
    if (rule_paths.empty()) rule_paths.emplace_back(CREDSIFT_SOURCE_DIR "/patterns");
    try {
      return run_matcher(argv[1], argv[2], argv[3], rule_paths);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "hsscan: %s\n", error.what());
      return 2;
    }
  }
  if (argc == 4 && std::string(argv[1]) == "--write-decoded")
    return write_decoded(argv[2], argv[3]);
  const bool per_rule = argc > 1 && std::string(argv[1]) == "--per-rule";
  if (per_rule) ++argv, --argc;
  const bool split = !per_rule && argc > 1 && std::string(argv[1]) == "--split-bound";
  if (split) ++argv, --argc;
  // --repeat N: scan the file N times with the one database, report the fastest pass.
  int repeat = 1;
  if (argc > 2 && std::string(argv[1]) == "--repeat") {
    repeat = std::max(1, std::atoi(argv[2]));
    argv += 2, argc -= 2;
  }
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: hsscan [--per-rule | --split-bound] [--repeat N] FILE "
                 "[RULES_DIR_OR_FILE...] (default rules: %s)\n"
                 "       hsscan --matcher|--hits one|two FILE [RULES_DIR_OR_FILE...]\n"
                 "       hsscan --compare one|two FILE RULES_A RULES_B [ROUNDS]\n"
                 "       hsscan --write-decoded MBOX OUT\n",
                 CREDSIFT_SOURCE_DIR "/patterns");
    return 2;
  }
  std::vector<std::filesystem::path> rule_paths(argv + 2, argv + argc);
  if (rule_paths.empty()) rule_paths.emplace_back(CREDSIFT_SOURCE_DIR "/patterns");
  try {
    const auto compile_start = std::chrono::steady_clock::now();
    const credsift::RuleSet rules = credsift::load_rules(rule_paths);
    if (per_rule) return scan_per_rule(rules, argv[1]);
    if (split) return split_bound(rules, argv[1]);
    std::vector<const char*> expressions;
    std::vector<unsigned> flags, ids;
    for (unsigned i = 0; i < rules.rules.size(); ++i) {
      const auto& rule = rules.rules[i];
      expressions.push_back(rule.pattern.c_str());
      flags.push_back((rule.caseless ? HS_FLAG_CASELESS : 0) | (rule.dotall ? HS_FLAG_DOTALL : 0));
      ids.push_back(i);
    }
    hs_database_t* database = nullptr;
    hs_compile_error_t* error = nullptr;
    if (hs_compile_multi(expressions.data(), flags.data(), ids.data(), unsigned(expressions.size()),
                         HS_MODE_BLOCK, nullptr, &database, &error) != HS_SUCCESS) {
      std::fprintf(stderr, "hsscan: compile failed: %s\n", error ? error->message : "?");
      return 2;
    }
    hs_scratch_t* scratch = nullptr;
    if (hs_alloc_scratch(database, &scratch) != HS_SUCCESS) return 2;
    const double compile_seconds = seconds_since(compile_start);

    // 1 MiB chunks, read like a streaming scanner would; a match across a chunk edge is lost,
    // which only makes this ceiling slightly optimistic.
    std::vector<char> buffer(1 << 20);
    unsigned long long bytes = 0, matches = 0;
    double best_wall = 1e9, best_cpu = 1e9;
    for (int pass = 0; pass < repeat; ++pass) {
      const int fd = open(argv[1], O_RDONLY);
      if (fd < 0) {
        std::perror(argv[1]);
        return 2;
      }
      bytes = matches = 0;
      const auto scan_start = std::chrono::steady_clock::now();
      const double cpu_start = cpu_seconds();
      for (;;) {
        const ssize_t n = read(fd, buffer.data(), buffer.size());
        if (n < 0) {
          std::perror(argv[1]);
          return 2;
        }
        if (n == 0) break;
        bytes += size_t(n);
        if (hs_scan(database, buffer.data(), unsigned(n), 0, scratch, on_match, &matches) !=
            HS_SUCCESS) {
          std::fprintf(stderr, "hsscan: %s: scan failed at offset %llu\n", argv[1], bytes);
          return 2;
        }
      }
      best_cpu = std::min(best_cpu, cpu_seconds() - cpu_start);
      best_wall = std::min(best_wall, seconds_since(scan_start));
      close(fd);
    }
    std::printf(
        "rules=%zu bytes=%llu matches=%llu compile_s=%.3f scan_s=%.3f cpu_s=%.3f mb_per_s=%.1f "
        "cpu_mb_per_s=%.1f scan_cpu_s=%.3f\n",
        rules.rules.size(), bytes, matches, compile_seconds, best_wall, best_cpu,
        double(bytes) / 1e6 / best_wall, double(bytes) / 1e6 / std::max(best_cpu, 1e-6), best_cpu);
    hs_free_scratch(scratch);
    hs_free_database(database);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "hsscan: %s\n", error.what());
    return 2;
  }
  return 0;
}

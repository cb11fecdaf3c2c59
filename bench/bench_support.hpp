#pragma once
// What the benchmarks share: timing the matcher over one text, in bytes/s.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "credsift/match.hpp"

namespace credsift::bench {

// Scans `text` once per iteration; reports bytes/s and the hits of the last scan.
inline void measure_scan(benchmark::State& state, const Matcher& matcher, const std::string& text) {
  auto scratch = matcher.make_scratch();
  std::vector<Hit> hits;
  for (auto _ : state) {
    hits.clear();
    matcher.scan(text, 0, *scratch, hits);
    benchmark::DoNotOptimize(hits.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
  state.counters["hits"] = double(hits.size());
}

}  // namespace credsift::bench

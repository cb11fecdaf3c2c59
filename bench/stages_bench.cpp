// Micro benchmarks of the hot stages, in bytes/s. Run: build/bench/stages_bench
#include <benchmark/benchmark.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "credsift/match.hpp"
#include "credsift/mime.hpp"
#include "credsift/pipeline.hpp"
#include "credsift/rules.hpp"
#include "credsift/source.hpp"

using namespace credsift;

namespace {

// Mail-like prose with a sprinkling of secret-looking words, so the matcher does real work.
std::string prose(size_t bytes) {
  static const char* const words[] = {
      "the",      "meeting",  "password", "is",      "scheduled", "for",    "Thursday",
      "please",   "find",     "attached", "report",  "token",     "server", "deploy",
      "regards",  "invoice",  "key",      "access",  "from",      "the",    "customer",
      "mot",      "de",       "passe",    "kata",    "sandi",     "https://intranet.acme.test/x"};
  std::mt19937 random(42);
  std::string out;
  out.reserve(bytes + 64);
  size_t column = 0;
  while (out.size() < bytes) {
    const char* word = words[random() % std::size(words)];
    out += word;
    column += std::strlen(word) + 1;
    if (column > 70) {
      out += '\n';
      column = 0;
    } else {
      out += ' ';
    }
  }
  return out;
}

std::string base64_of(const std::string& data) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t line = 0;
  for (size_t i = 0; i + 2 < data.size(); i += 3) {
    const uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += alphabet[(v >> k) & 63];
    if ((line += 4) >= 76) out += '\n', line = 0;
  }
  return out;
}

const RuleSet& all_rules() {
  static const RuleSet rules = load_rules({std::filesystem::path(CREDSIFT_SOURCE_DIR) / "patterns"});
  return rules;
}

void BM_Base64Decode(benchmark::State& state) {
  const std::string encoded = base64_of(prose(1 << 20));
  for (auto _ : state) benchmark::DoNotOptimize(decode_base64(encoded));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(encoded.size()));
}
BENCHMARK(BM_Base64Decode);

void BM_QuotedPrintableDecode(benchmark::State& state) {
  std::string text = prose(1 << 20);
  std::string encoded;
  for (char c : text) {
    if (c == '=') encoded += "=3D";
    else encoded += c;
  }
  for (auto _ : state) benchmark::DoNotOptimize(decode_quoted_printable(encoded));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(encoded.size()));
}
BENCHMARK(BM_QuotedPrintableDecode);

void BM_HtmlToText(benchmark::State& state) {
  std::string html = "<html><body>";
  const std::string text = prose(1 << 20);
  for (size_t i = 0; i < text.size(); i += 200)
    html += "<p>" + text.substr(i, 200) + "&nbsp;<b>x</b></p>\n";
  for (auto _ : state) benchmark::DoNotOptimize(html_to_text(html));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(html.size()));
}
BENCHMARK(BM_HtmlToText);

void BM_Latin1ToUtf8(benchmark::State& state) {
  std::string text = prose(1 << 20);
  for (size_t i = 0; i < text.size(); i += 50) text[i] = '\xe9';
  for (auto _ : state) benchmark::DoNotOptimize(to_utf8(text, "iso-8859-1"));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK(BM_Latin1ToUtf8);

void BM_MboxSplit(benchmark::State& state) {
  std::string mbox;
  const std::string body = prose(4000);
  for (int i = 0; i < 2000; ++i)
    mbox += "From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: s\n\n" + body + "\n\n";
  for (auto _ : state) benchmark::DoNotOptimize(split_mbox(mbox));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(mbox.size()));
}
BENCHMARK(BM_MboxSplit);

void BM_MatchAllRules(benchmark::State& state) {
  const Matcher matcher(all_rules());
  auto scratch = matcher.make_scratch();
  const std::string text = prose(1 << 20);
  std::vector<Hit> hits;
  for (auto _ : state) {
    hits.clear();
    matcher.scan(text, 0, *scratch, hits);
    benchmark::DoNotOptimize(hits.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK(BM_MatchAllRules);

void BM_WholeMessage(benchmark::State& state) {
  const Matcher matcher(all_rules());
  auto scratch = matcher.make_scratch();
  const std::string body = prose(64 << 10);
  const std::string raw =
      "From: a@acme.test\nTo: b@acme.test\nSubject: =?utf-8?q?report?=\nMessage-ID: <x@y>\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n"
      "Content-Transfer-Encoding: quoted-printable\n\n" + body +
      "\npassword: Tr0ub4dor&3xQ\n--b\nContent-Type: text/plain; name=\"a.txt\"\n"
      "Content-Transfer-Encoding: base64\n\n" + base64_of(body) + "\n--b--\n";
  Message message;
  message.bytes = raw;
  const ScanOptions options;
  for (auto _ : state) benchmark::DoNotOptimize(scan_message(message, matcher, *scratch, options));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(raw.size()));
}
BENCHMARK(BM_WholeMessage);

}  // namespace

// Micro benchmarks of the hot stages, in bytes/s. Run: build/bench/stages_bench
#define PCRE2_CODE_UNIT_WIDTH 8
#include <benchmark/benchmark.h>
#include <pcre2.h>
#include <poppler-document.h>
#include <poppler-page.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../scanner/extract/extract_internal.hpp"
#include "../scanner/mime/base64.hpp"
#include "../scanner/mime/mime_internal.hpp"
#include "../scanner/mime/text_decode.hpp"
#include "bench_support.hpp"
#include "credsift/match.hpp"
#include "credsift/mime.hpp"
#include "credsift/pipeline.hpp"
#include "credsift/rules.hpp"
#include "credsift/source.hpp"
#include "credsift/text.hpp"

using namespace credsift;

namespace {

// Mail-like prose with a sprinkling of secret-looking words, so the matcher does real work.
std::string prose(size_t bytes) {
  static const char* const words[] = {"the",      "meeting",   "password",
                                      "is",       "scheduled", "for",
                                      "Thursday", "please",    "find",
                                      "attached", "report",    "token",
                                      "server",   "deploy",    "regards",
                                      "invoice",  "key",       "access",
                                      "from",     "the",       "customer",
                                      "mot",      "de",        "passe",
                                      "kata",     "sandi",     "https://intranet.acme.test/x"};
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
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t line = 0;
  for (size_t i = 0; i + 2 < data.size(); i += 3) {
    const uint32_t v =
        (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += alphabet[(v >> k) & 63];
    if ((line += 4) >= 76) out += '\n', line = 0;
  }
  return out;
}

const RuleSet& all_rules() {
  static const RuleSet rules =
      load_rules({std::filesystem::path(CREDSIFT_SOURCE_DIR) / "patterns"});
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
    if (c == '=')
      encoded += "=3D";
    else
      encoded += c;
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

void BM_Windows1252ToUtf8(benchmark::State& state) {
  std::string text = prose(1 << 20);
  for (size_t i = 0; i < text.size(); i += 40) text[i] = (i / 40) % 2 ? '\x92' : '\xe9';
  for (auto _ : state) benchmark::DoNotOptimize(to_utf8(text, "windows-1252"));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK(BM_Windows1252ToUtf8);

// A base64 attachment of binary noise: most of an archive's bytes.
void BM_Base64DecodeBinary(benchmark::State& state) {
  std::mt19937_64 random(7);
  std::string data(1 << 20, '\0');
  for (auto& c : data) c = char(random());
  const std::string encoded = base64_of(data);
  for (auto _ : state) benchmark::DoNotOptimize(decode_base64(encoded));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(encoded.size()));
}
BENCHMARK(BM_Base64DecodeBinary);

// The decoder paths on binary noise with 76-symbol lines ending in LF or CRLF, or unbroken:
// the SIMD gain as a ratio within one run (Scalar is the previous decoder).
void BM_Base64DecodePath(benchmark::State& state, mime_detail::Base64Path path,
                         std::string_view eol) {
  std::mt19937_64 random(7);
  std::string data(1 << 20, '\0');
  for (auto& c : data) c = char(random());
  std::string encoded;
  for (char c : base64_of(data)) {
    if (c == '\n')
      encoded += eol;
    else
      encoded += c;
  }
  if ((path == mime_detail::Base64Path::Avx2 && !mime_detail::base64_avx2_available()) ||
      (path == mime_detail::Base64Path::Ssse3 && !mime_detail::base64_ssse3_available())) {
    state.SkipWithError("this CPU lacks the instructions");
    return;
  }
  for (auto _ : state)
    benchmark::DoNotOptimize(mime_detail::decode_base64_with(encoded, nullptr, path));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(encoded.size()));
}
BENCHMARK_CAPTURE(BM_Base64DecodePath, scalar_lf, mime_detail::Base64Path::Scalar, "\n");
BENCHMARK_CAPTURE(BM_Base64DecodePath, ssse3_lf, mime_detail::Base64Path::Ssse3, "\n");
BENCHMARK_CAPTURE(BM_Base64DecodePath, avx2_lf, mime_detail::Base64Path::Avx2, "\n");
BENCHMARK_CAPTURE(BM_Base64DecodePath, scalar_crlf, mime_detail::Base64Path::Scalar, "\r\n");
BENCHMARK_CAPTURE(BM_Base64DecodePath, ssse3_crlf, mime_detail::Base64Path::Ssse3, "\r\n");
BENCHMARK_CAPTURE(BM_Base64DecodePath, avx2_crlf, mime_detail::Base64Path::Avx2, "\r\n");
BENCHMARK_CAPTURE(BM_Base64DecodePath, scalar_unbroken, mime_detail::Base64Path::Scalar, "");
BENCHMARK_CAPTURE(BM_Base64DecodePath, ssse3_unbroken, mime_detail::Base64Path::Ssse3, "");
BENCHMARK_CAPTURE(BM_Base64DecodePath, avx2_unbroken, mime_detail::Base64Path::Avx2, "");

// The text decoder paths on 1 MB of mail-like text: the SIMD gain as a ratio within one run
// (Scalar is the previous decoder).
bool text_path_available(mime_detail::TextPath path) {
  return (path != mime_detail::TextPath::Avx2 || mime_detail::text_avx2_available()) &&
         (path != mime_detail::TextPath::Sse2 || mime_detail::text_sse2_available());
}

// Prose with an accented letter every `every` bytes (é, as ISO-8859-1 or as UTF-8).
std::string accented_prose(size_t every, bool utf8) {
  std::string text = prose(1 << 20);
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i % every == every - 1)
      out += utf8 ? "\xC3\xA9" : "\xE9";
    else
      out += text[i];
  }
  return out;
}

// Cyrillic words: each letter a two-byte sequence, spaces and lines kept.
std::string cyrillic_prose() {
  std::string text;
  for (char c : prose(1 << 20))
    text += (c >= 'a' && c <= 'z') ? std::string{'\xD0', char(0xB0 + c % 16)} : std::string(1, c);
  return text;
}

// What a mail client sends: 76-column lines with soft breaks, '=' and UTF-8 escaped.
std::string quoted_printable_of(const std::string& text) {
  static const char* const hex = "0123456789ABCDEF";
  std::string out;
  size_t column = 0;
  for (unsigned char c : text) {
    if (c == '\n') {
      out += '\n';
      column = 0;
      continue;
    }
    std::string token(1, char(c));
    if (c == '=' || c >= 0x80) token = {'=', hex[c >> 4], hex[c & 15]};
    if (column + token.size() > 75) {
      out += "=\n";
      column = 0;
    }
    out += token;
    column += token.size();
  }
  return out;
}

void BM_QuotedPrintablePath(benchmark::State& state, mime_detail::TextPath path, bool cyrillic) {
  if (!text_path_available(path)) return state.SkipWithError("this CPU lacks the instructions");
  const std::string encoded =
      quoted_printable_of(cyrillic ? cyrillic_prose() : accented_prose(50, true));
  for (auto _ : state)
    benchmark::DoNotOptimize(mime_detail::decode_quoted_printable_with(encoded, path));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(encoded.size()));
}
BENCHMARK_CAPTURE(BM_QuotedPrintablePath, scalar, mime_detail::TextPath::Scalar, false);
BENCHMARK_CAPTURE(BM_QuotedPrintablePath, sse2, mime_detail::TextPath::Sse2, false);
BENCHMARK_CAPTURE(BM_QuotedPrintablePath, avx2, mime_detail::TextPath::Avx2, false);
BENCHMARK_CAPTURE(BM_QuotedPrintablePath, scalar_cyrillic, mime_detail::TextPath::Scalar, true);
BENCHMARK_CAPTURE(BM_QuotedPrintablePath, sse2_cyrillic, mime_detail::TextPath::Sse2, true);
BENCHMARK_CAPTURE(BM_QuotedPrintablePath, avx2_cyrillic, mime_detail::TextPath::Avx2, true);

void BM_Utf8ValidatePath(benchmark::State& state, mime_detail::TextPath path, size_t every) {
  if (!text_path_available(path)) return state.SkipWithError("this CPU lacks the instructions");
  const std::string text = every == 1 ? cyrillic_prose()
                           : every    ? accented_prose(every, true)
                                      : prose(1 << 20);
  for (auto _ : state) benchmark::DoNotOptimize(mime_detail::is_valid_utf8_with(text, path));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK_CAPTURE(BM_Utf8ValidatePath, scalar_ascii, mime_detail::TextPath::Scalar, 0);
BENCHMARK_CAPTURE(BM_Utf8ValidatePath, sse2_ascii, mime_detail::TextPath::Sse2, 0);
BENCHMARK_CAPTURE(BM_Utf8ValidatePath, avx2_ascii, mime_detail::TextPath::Avx2, 0);
BENCHMARK_CAPTURE(BM_Utf8ValidatePath, scalar_accents, mime_detail::TextPath::Scalar, 50);
BENCHMARK_CAPTURE(BM_Utf8ValidatePath, sse2_accents, mime_detail::TextPath::Sse2, 50);
BENCHMARK_CAPTURE(BM_Utf8ValidatePath, avx2_accents, mime_detail::TextPath::Avx2, 50);
BENCHMARK_CAPTURE(BM_Utf8ValidatePath, scalar_cyrillic, mime_detail::TextPath::Scalar, 1);
BENCHMARK_CAPTURE(BM_Utf8ValidatePath, sse2_cyrillic, mime_detail::TextPath::Sse2, 1);
BENCHMARK_CAPTURE(BM_Utf8ValidatePath, avx2_cyrillic, mime_detail::TextPath::Avx2, 1);

void BM_SingleBytePath(benchmark::State& state, mime_detail::TextPath path, bool cp1252) {
  if (!text_path_available(path)) return state.SkipWithError("this CPU lacks the instructions");
  std::string text = accented_prose(50, false);
  if (cp1252)
    for (size_t i = 70; i < text.size(); i += 100) text[i] = '\x92';
  for (auto _ : state) {
    std::string out;
    mime_detail::single_byte_to_utf8_with(text, out, cp1252, path);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK_CAPTURE(BM_SingleBytePath, scalar_latin1, mime_detail::TextPath::Scalar, false);
BENCHMARK_CAPTURE(BM_SingleBytePath, sse2_latin1, mime_detail::TextPath::Sse2, false);
BENCHMARK_CAPTURE(BM_SingleBytePath, avx2_latin1, mime_detail::TextPath::Avx2, false);
BENCHMARK_CAPTURE(BM_SingleBytePath, scalar_cp1252, mime_detail::TextPath::Scalar, true);
BENCHMARK_CAPTURE(BM_SingleBytePath, sse2_cp1252, mime_detail::TextPath::Sse2, true);
BENCHMARK_CAPTURE(BM_SingleBytePath, avx2_cp1252, mime_detail::TextPath::Avx2, true);

void BM_MboxSplit(benchmark::State& state) {
  std::string mbox;
  const std::string body = prose(4000);
  for (int i = 0; i < 2000; ++i)
    mbox += "From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: s\n\n" + body + "\n\n";
  for (auto _ : state) benchmark::DoNotOptimize(split_mbox(mbox));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(mbox.size()));
}
BENCHMARK(BM_MboxSplit);

// The mail-profile stages over a real file: CREDSIFT_BENCH_MBOX names an mbox (such as
// `credsift-gen --profile mail --size 100M`), skipped without it. Split once, then each stage
// alone over every message, so that perf sees one stage with thousands of samples.
const std::string& bench_mbox() {
  static const std::string data = [] {
    std::string out;
    const char* path = std::getenv("CREDSIFT_BENCH_MBOX");
    if (path == nullptr) return out;
    if (FILE* file = std::fopen(path, "rb")) {
      char buffer[1 << 16];
      size_t n;
      while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) out.append(buffer, n);
      std::fclose(file);
    }
    return out;
  }();
  return data;
}

void BM_MailFileSplit(benchmark::State& state) {
  const std::string& mbox = bench_mbox();
  if (mbox.empty()) return state.SkipWithError("set CREDSIFT_BENCH_MBOX to an mbox");
  for (auto _ : state) benchmark::DoNotOptimize(split_mbox(mbox));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(mbox.size()));
}
BENCHMARK(BM_MailFileSplit)->Unit(benchmark::kMillisecond);

void BM_MailFileDecode(benchmark::State& state) {
  const std::string& mbox = bench_mbox();
  if (mbox.empty()) return state.SkipWithError("set CREDSIFT_BENCH_MBOX to an mbox");
  const std::vector<MboxPiece> pieces = split_mbox(mbox);
  size_t segments = 0;
  for (auto _ : state) {
    segments = 0;
    for (const MboxPiece& piece : pieces) segments += decode_message(piece.bytes).segments.size();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(mbox.size()));
  state.counters["segments"] = double(segments);
  // A digest of every segment (path and text), outside the timing: a change that makes
  // decoding faster must leave it as it was.
  uint64_t digest = 1469598103934665603ull;
  auto mix = [&](std::string_view bytes) {
    for (const char c : bytes) digest = (digest ^ uint8_t(c)) * 1099511628211ull;
  };
  for (const MboxPiece& piece : pieces)
    for (const Segment& segment : decode_message(piece.bytes).segments) {
      mix(segment.part_path);
      mix(segment.text);
    }
  char label[32];
  std::snprintf(label, sizeof label, "digest=%016llx", static_cast<unsigned long long>(digest));
  state.SetLabel(label);
}
// A fixed count, so that `perf stat` over the run compares builds by instructions and cycles.
BENCHMARK(BM_MailFileDecode)->Unit(benchmark::kMillisecond)->Iterations(8);

// The separator search over a mailbox of base64 attachments (one line break per 77 bytes):
// glibc memmem, which stops at every '\n', against the two-byte SIMD search the splitters use.
const std::string& attachment_mbox() {
  static const std::string mbox = [] {
    std::mt19937 random(9);
    std::string noise(60000, '\0');
    for (char& c : noise) c = char(random());
    const std::string body = base64_of(noise);
    std::string out;
    for (int i = 0; i < 60; ++i)
      out += "From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: s\n\n" + body + "\n\n";
    return out;
  }();
  return mbox;
}

void BM_SeparatorSearchMemmem(benchmark::State& state) {
  const std::string& mbox = attachment_mbox();
  for (auto _ : state) {
    size_t found = 0;
    for (const char* p = mbox.data();
         (p = static_cast<const char*>(
              memmem(p, size_t(mbox.data() + mbox.size() - p), "\nFrom ", 6)));
         ++p)
      ++found;
    benchmark::DoNotOptimize(found);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(mbox.size()));
}
BENCHMARK(BM_SeparatorSearchMemmem);

void BM_SeparatorSearchFindPair(benchmark::State& state) {
  const std::string& mbox = attachment_mbox();
  for (auto _ : state) {
    size_t found = 0;
    for (size_t p = 0; (p = text::find_from(mbox, p, "\nFrom ")) != std::string::npos; ++p) ++found;
    benchmark::DoNotOptimize(found);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(mbox.size()));
}
BENCHMARK(BM_SeparatorSearchFindPair);

void BM_MatchAllRules(benchmark::State& state) {
  const Matcher matcher(all_rules());
  credsift::bench::measure_scan(state, matcher, prose(1 << 20));
}
BENCHMARK(BM_MatchAllRules);

// Every rule's examples spread through prose, one every ~2 KB: the matcher's hit path (PCRE2
// capture extraction in each window, hit vectors) dominates instead of Hyperscan's scan.
void BM_MatchDenseHits(benchmark::State& state) {
  const Matcher matcher(all_rules());
  const std::string filler = prose(2000);
  std::string text;
  for (const auto& rule : all_rules().rules)
    for (const auto& example : rule.examples) text += filler + "\n" + example.text + "\n";
  credsift::bench::measure_scan(state, matcher, text);
}
BENCHMARK(BM_MatchDenseHits);

// PCRE2 (JIT) alone, each rule on its own example texts, with the ovector read back: the
// capture extraction that follows every Hyperscan event.
void BM_Pcre2CaptureExtraction(benchmark::State& state) {
  struct Compiled {
    pcre2_code* code;
    std::vector<const std::string*> subjects;
  };
  std::vector<Compiled> compiled;
  size_t bytes = 0;
  for (const auto& rule : all_rules().rules) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    uint32_t options = (rule.caseless ? PCRE2_CASELESS : 0) | (rule.dotall ? PCRE2_DOTALL : 0);
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rule.pattern.data()),
                                     rule.pattern.size(), options, &error, &offset, nullptr);
    if (!code) continue;
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    Compiled entry{code, {}};
    for (const auto& example : rule.examples) {
      entry.subjects.push_back(&example.text);
      bytes += example.text.size();
    }
    compiled.push_back(std::move(entry));
  }
  pcre2_match_data* data = pcre2_match_data_create(64, nullptr);
  size_t captured = 0;
  for (auto _ : state) {
    for (const auto& entry : compiled) {
      for (const std::string* subject : entry.subjects) {
        const int rc = pcre2_jit_match(entry.code, reinterpret_cast<PCRE2_SPTR>(subject->data()),
                                       subject->size(), 0, 0, data, nullptr);
        if (rc > 0) captured += pcre2_get_ovector_pointer(data)[1];
      }
    }
  }
  benchmark::DoNotOptimize(captured);
  pcre2_match_data_free(data);
  for (auto& entry : compiled) pcre2_code_free(entry.code);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}
BENCHMARK(BM_Pcre2CaptureExtraction);

void BM_WholeMessage(benchmark::State& state) {
  const Matcher matcher(all_rules());
  auto scratch = matcher.make_scratch();
  const std::string body = prose(64 << 10);
  const std::string raw =
      "From: a@acme.test\nTo: b@acme.test\nSubject: =?utf-8?q?report?=\nMessage-ID: <x@y>\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n"
      "Content-Transfer-Encoding: quoted-printable\n\n" +
      body +
      "\npassword: Tr0ub4dor&3xQ\n--b\nContent-Type: text/plain; name=\"a.txt\"\n"
      "Content-Transfer-Encoding: base64\n\n" +
      base64_of(body) + "\n--b--\n";
  Message message;
  message.bytes = raw;
  const ScanOptions options;
  for (auto _ : state) benchmark::DoNotOptimize(scan_message(message, matcher, *scratch, options));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(raw.size()));
}
BENCHMARK(BM_WholeMessage);

// A small well-formed PDF (one page of text, correct cross-reference table).
std::string pdf_document(const std::string& text) {
  std::string content = "BT /F1 11 Tf 72 720 Td 14 TL\n";
  for (size_t i = 0; i < text.size(); i += 60) {
    content += '(';
    content.append(text, i, 60);
    content += ") Tj T*\n";
  }
  content += "ET\n";
  const std::string objects[] = {
      "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
      "/Resources << /Font << /F1 5 0 R >> >> >>",
      "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "\nendstream",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"};
  std::string out = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < std::size(objects); ++i) {
    offsets.push_back(out.size());
    out += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = out.size();
  out += "xref\n0 6\n0000000000 65535 f \n";
  for (size_t offset : offsets) {
    char entry[32];
    std::snprintf(entry, sizeof entry, "%010zu 00000 n \n", offset);
    out += entry;
  }
  return out + "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) +
         "\n%%EOF\n";
}

// One message with a PDF attachment: text extraction per document, as mail archives hold many.
void BM_PdfAttachmentMessage(benchmark::State& state) {
  const Matcher matcher(all_rules());
  auto scratch = matcher.make_scratch();
  std::string words = prose(1500);
  for (auto& c : words)
    if (c == '\n' || c == '(' || c == ')') c = ' ';
  const std::string raw =
      "From: a@acme.test\nTo: b@acme.test\nSubject: invoice\nMessage-ID: <p@y>\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n"
      "see attached\n--b\nContent-Type: application/pdf; name=\"invoice.pdf\"\n"
      "Content-Transfer-Encoding: base64\n\n" +
      base64_of(pdf_document(words)) + "\n--b--\n";
  Message message;
  message.bytes = raw;
  const ScanOptions options;
  for (auto _ : state) benchmark::DoNotOptimize(scan_message(message, matcher, *scratch, options));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(raw.size()));
}
BENCHMARK(BM_PdfAttachmentMessage);

// PDF text alone, our extractor against poppler (as decode_pdf calls it) on the same document.
std::string pdf_words() {
  std::string words = prose(1500);
  for (auto& c : words)
    if (c == '\n' || c == '(' || c == ')') c = ' ';
  return pdf_document(words);
}

void BM_PdfTextFast(benchmark::State& state) {
  const std::string pdf = pdf_words();
  std::vector<DecodeProblem> problems;
  for (auto _ : state) {
    mime_detail::PdfText text = mime_detail::pdf_text_fast(pdf, {}, "x.pdf", 0, problems);
    if (!text.handled) state.SkipWithError("declined");
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(pdf.size()));
}
BENCHMARK(BM_PdfTextFast);

void BM_PdfTextPoppler(benchmark::State& state) {
  const std::string pdf = pdf_words();
  // One document kept open, as decode_pdf does, so GlobalParams are built once.
  const std::unique_ptr<poppler::document> keeps_global_params(
      poppler::document::load_from_raw_data(pdf.data(), int(pdf.size())));
  for (auto _ : state) {
    std::unique_ptr<poppler::document> doc(
        poppler::document::load_from_raw_data(pdf.data(), int(pdf.size())));
    std::string text;
    for (int i = 0; i < doc->pages(); ++i) {
      std::unique_ptr<poppler::page> page(doc->create_page(i));
      poppler::byte_array utf8 = page->text().to_utf8();
      text.append(utf8.data(), utf8.size());
    }
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(pdf.size()));
}
BENCHMARK(BM_PdfTextPoppler);

}  // namespace

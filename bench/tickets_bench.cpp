// Ticket building at scale: one AWS key pair repeated in every message used to make the
// key-id attachment quadratic (20/40/80 MB of mail: 0.56/1.70/5.80 s). The time per message
// must stay flat as the message count grows. Run: build/bench/tickets_bench
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "credsift/report.hpp"
#include "credsift/ticket.hpp"

using namespace credsift;

namespace {

Rule rule(const char* id, const char* provider) {
  Rule r;
  r.id = id;
  r.provider = provider;
  r.name = id;
  r.category = "cloud";
  r.severity = Severity::Critical;
  return r;
}

const Rule kSecretKey = rule("aws.secret_access_key", "aws");
const Rule kKeyId = rule("aws.access_key_id", "aws");
const Rule kGithub = rule("github.pat", "github");

Finding finding(const Rule& r, const std::string& secret, uint64_t offset,
                const SharedEnvelope& envelope) {
  Finding f;
  f.rule = &r;
  f.secret = secret;
  f.fingerprint = fingerprint(secret);
  f.validation.status = ValidationStatus::Unverified;
  f.file = "archive.mbox";
  f.offset = offset;
  f.envelope = envelope;
  f.part_path = "1";
  f.line = 1;
  return f;
}

// One key pair (secret key + key id) in every one of N messages.
void BM_RepeatedAwsKeyPair(benchmark::State& state) {
  const auto messages = static_cast<uint64_t>(state.range(0));
  std::vector<Finding> findings;
  for (uint64_t i = 0; i < messages; ++i) {
    Envelope e;
    e.message_id = "<" + std::to_string(i) + "@x>";
    e.from = "dev@acme.test";
    e.to = "ops@acme.test";
    const auto envelope = std::make_shared<const Envelope>(std::move(e));
    findings.push_back(
        finding(kSecretKey, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz1f3Kq9Wb", i * 4096, envelope));
    findings.push_back(finding(kKeyId, "AKIAZZZZZZZZZZ7QX3PA", i * 4096, envelope));
  }
  for (auto _ : state) {
    TicketBuilder builder;
    for (const Finding& f : findings) builder.add(f);
    benchmark::DoNotOptimize(builder.build());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * messages));
  state.SetComplexityN(state.range(0));
}
BENCHMARK(BM_RepeatedAwsKeyPair)->RangeMultiplier(4)->Range(1 << 10, 1 << 14)->Complexity();

// The linear reference: one GitHub token repeated in every message.
void BM_RepeatedGithubToken(benchmark::State& state) {
  const auto messages = static_cast<uint64_t>(state.range(0));
  std::vector<Finding> findings;
  for (uint64_t i = 0; i < messages; ++i)
    findings.push_back(
        finding(kGithub, "ghp_abcdefghijklmnopqrstuvwxyz0123456789", i * 4096, empty_envelope()));
  for (auto _ : state) {
    TicketBuilder builder;
    for (const Finding& f : findings) builder.add(f);
    benchmark::DoNotOptimize(builder.build());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * messages));
  state.SetComplexityN(state.range(0));
}
BENCHMARK(BM_RepeatedGithubToken)->RangeMultiplier(4)->Range(1 << 10, 1 << 14)->Complexity();

}  // namespace

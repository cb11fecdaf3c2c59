// report_synth N OUT [FORMAT]: writes a report (default html) of N synthetic tickets through the
// real formatter, for bench/report_load: the generator would need a multi-gigabyte archive to
// plant 100,000 distinct credentials. Tickets use the bundled rules, one to three occurrences
// each, dates over three months, a few hundred correspondent domains; deterministic.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "credsift/ticket.hpp"

using namespace credsift;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: report_synth N OUT [html|markdown|human|json]\n";
    return 2;
  }
  const size_t count = std::strtoull(argv[1], nullptr, 10);
  const auto format = parse_output_format(argc > 3 ? argv[3] : "html");
  if (!format) return 2;
  const RuleSet rules = load_rules({std::string(CREDSIFT_SOURCE_DIR) + "/patterns"});
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  const auto next = [&] {  // splitmix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  const int64_t start = 1704067200;  // 2024-01-01
  std::vector<Ticket> tickets(count);
  for (size_t i = 0; i < count; ++i) {
    Ticket& t = tickets[i];
    t.rule = &rules.rules[next() % rules.rules.size()];
    t.secret = "synthetic-secret-" + std::to_string(next());
    t.fingerprint = fingerprint(t.secret);
    t.id = "cs-" + t.fingerprint.substr(7, 16);
    t.rules = {t.rule->id};
    t.validation.status =
        next() % 3 ? ValidationStatus::Unverified : ValidationStatus::ChecksumValid;
    t.validation.confidence = next() % 2 ? "high" : "medium";
    const size_t occurrences = 1 + next() % 3;
    for (size_t k = 0; k < occurrences; ++k) {
      Occurrence o;
      o.rule_id = t.rule->id;
      o.file = "/archive/export.mbox";
      o.offset = next() % 4000000000ULL;
      o.message_index = i * 3 + k;
      Envelope envelope;
      envelope.message_id = "<m" + std::to_string(o.message_index) + "@corp.example>";
      o.date_epoch = start + static_cast<int64_t>(next() % (90 * 86400));
      envelope.date = format_iso8601(*o.date_epoch);
      const std::string partner = "partner" + std::to_string(next() % 300) + ".example";
      envelope.from = "Alice Example <alice" + std::to_string(next() % 50) + "@corp.example>";
      envelope.to = "contact" + std::to_string(next() % 20) + "@" + partner;
      envelope.subject = "Re: deployment credentials for project " + std::to_string(next() % 1000);
      o.envelope = std::make_shared<const Envelope>(std::move(envelope));
      o.part_path = "1";
      o.line = 1 + next() % 40;
      t.first_seen = std::min(t.first_seen.value_or(*o.date_epoch), *o.date_epoch);
      t.last_seen = std::max(t.last_seen.value_or(*o.date_epoch), *o.date_epoch);
      for (const std::string& address :
           parse_address_list(o.envelope->from + ", " + o.envelope->to)) {
        t.addresses.insert(address);
        const std::string domain(address_domain(address));
        t.domains.insert(domain);
        if (domain != "corp.example") t.external_domains.insert(domain);
      }
      t.occurrences.push_back(std::move(o));
    }
  }
  ScanSummary summary;
  summary.messages_scanned = count * 4;
  ReportContext context;
  context.summary = &summary;
  context.version = "bench";
  context.internal_domains = {"corp.example"};
  const std::string text = format_tickets(*format, tickets, {}, context);
  std::ofstream(argv[2], std::ios::binary) << text;
  std::cerr << "report_synth: " << count << " tickets, " << text.size() << " bytes\n";
  return 0;
}

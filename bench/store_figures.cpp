// Case store figures: merging 100 shard stores of 10,000 tickets each, and the `tickets`
// default view on a store of 1 million findings. The stores are synthesised row by row in
// the store's own schema (a real scan of that size would take hours here).
// Usage: store_figures [DIR] [shards] [tickets per shard] [findings in the big store]
// CREDSIFT_MERGE_PHASES=1 prints the CPU time of each phase of the merges (checks, each
// table, tickets, indexes, commit).
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <string>

#include "credsift/store.hpp"

namespace fs = std::filesystem;
using namespace credsift;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU seconds of this process: the machine is shared, so wall time alone overstates.
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

void run(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::cerr << "sql: " << (error ? error : "?") << "\n";
    std::exit(2);
  }
}

// A store with one complete scan, `tickets` tickets of `per_ticket` findings each (each
// finding in its own message), fingerprints numbered from `first`.
void synthesise(const std::string& path, uint64_t first, uint64_t tickets, uint64_t per_ticket,
                uint64_t shard) {
  CaseStore store(path);
  sqlite3* db = static_cast<sqlite3*>(store.handle());
  run(db, "PRAGMA synchronous=OFF");
  run(db, "BEGIN");
  const std::string rules = "sha256:synthetic";
  char sql[512];
  std::snprintf(sql, sizeof sql,
                "INSERT INTO scans(id, started_at, finished_at, state, rules_version, "
                "credsift_version, host, inputs, shard) VALUES('scan-%llu', 1, 2, 'complete', "
                "'%s', 'bench', 'bench', '', %llu)",
                static_cast<unsigned long long>(shard), rules.c_str(),
                static_cast<unsigned long long>(shard));
  run(db, sql);
  run(db,
      "INSERT INTO rules VALUES('sha256:synthetic', 'generic.password', 'Password', '', "
      "'generic', 'password', 2, 'medium', 'change it', '')");
  sqlite3_stmt *message, *location, *finding, *domain;
  sqlite3_prepare_v2(db,
                     "INSERT INTO messages VALUES(?1, ?1, 1000, ?2, 'scanned', '', "
                     "'sha256:synthetic', 1, 'scan')",
                     -1, &message, nullptr);
  sqlite3_prepare_v2(db, "INSERT INTO message_locations VALUES(?1, ?2, '', ?3, ?4, 'scan')", -1,
                     &location, nullptr);
  sqlite3_prepare_v2(db,
                     "INSERT INTO findings VALUES(?1, ?2, '', '1', 3, 'generic.password', ?3, "
                     "?3, 'sha256:synthetic', ?4, ?5, 'generic', ?6, 0, 1, 'hunt…', '', "
                     "'unverified', '', '', 'medium', '', ?7, 'Mon, 4 Mar 2024', ?8, "
                     "'a@acme.test', 'b@partner.test', '', 'subject', 'scan')",
                     -1, &finding, nullptr);
  sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO ticket_domains VALUES(?1, ?2)", -1, &domain,
                     nullptr);
  for (uint64_t t = 0; t < tickets; ++t) {
    const std::string fingerprint_text =
        fingerprint("synthetic secret " + std::to_string(first + t));
    const char* fp = fingerprint_text.c_str();
    for (uint64_t k = 0; k < per_ticket; ++k) {
      const std::string key = std::string(fp + 7, 32) + ":" + std::to_string(k);
      const std::string file = "/archive/mailbox-" + std::to_string((first + t) % 997) + ".mbox";
      const auto offset = static_cast<int64_t>(((first + t) * per_ticket + k) * 4096);
      sqlite3_bind_text(message, 1, key.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(message, 2, ("<" + key + "@synthetic>").c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_step(message);
      sqlite3_reset(message);
      sqlite3_bind_text(location, 1, file.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(location, 2, offset);
      sqlite3_bind_text(location, 3, key.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(location, 4, offset / 4096);
      sqlite3_step(location);
      sqlite3_reset(location);
      sqlite3_bind_text(finding, 1, file.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(finding, 2, offset);
      sqlite3_bind_text(finding, 3, fp, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(finding, 4, key.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(finding, 5, offset / 4096);
      sqlite3_bind_int(finding, 6, static_cast<int>((first + t) % 4));
      sqlite3_bind_text(finding, 7, ("<" + key + "@synthetic>").c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(finding, 8, 1709543520 + static_cast<int64_t>(t % 1000) * 3600);
      if (sqlite3_step(finding) != SQLITE_DONE) {
        std::cerr << "insert: " << sqlite3_errmsg(db) << "\n";
        std::exit(2);
      }
      sqlite3_reset(finding);
    }
    sqlite3_bind_text(domain, 1, "partner.test", -1, SQLITE_STATIC);
    sqlite3_bind_text(domain, 2, fp, -1, SQLITE_TRANSIENT);
    sqlite3_step(domain);
    sqlite3_reset(domain);
  }
  for (sqlite3_stmt* statement : {message, location, finding, domain}) sqlite3_finalize(statement);
  // The shard's tickets, as a scan leaves them.
  run(db, "CREATE TEMP TABLE IF NOT EXISTS touched(fingerprint TEXT PRIMARY KEY, newest INTEGER)");
  run(db, "INSERT OR IGNORE INTO temp.touched SELECT DISTINCT ticket, NULL FROM findings");
  run(db, "COMMIT");
  // refresh through a merge of nothing would need a shard; run the store's own SQL instead.
  run(db,
      "INSERT INTO tickets(fingerprint, id, rule_id, provider, severity, status, evidence_rank, "
      "secret, occurrences, messages, first_seen, last_seen, undated) SELECT ticket, 'cs-' || "
      "substr(ticket, 8, 16), min(rule_id), min(provider), max(severity), 'unverified', 1, "
      "'hunt…', count(*), count(*), min(date_epoch), max(date_epoch), 0 FROM findings GROUP BY "
      "ticket");
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path dir =
      argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / "credsift-store-figures";
  const uint64_t shards = argc > 2 ? std::stoull(argv[2]) : 100;
  const uint64_t per_shard = argc > 3 ? std::stoull(argv[3]) : 10000;
  const uint64_t big = argc > 4 ? std::stoull(argv[4]) : 1000000;
  // STORE_REUSE=1 keeps the shard stores of an earlier run in DIR (for profiling the merge).
  const bool reuse = std::getenv("STORE_REUSE") != nullptr;
  if (!reuse) fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* suffix : {"", "-wal", "-shm"})
    fs::remove(dir / ("merged.db" + std::string(suffix)));

  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> paths;
  for (uint64_t s = 0; s < shards; ++s) {
    paths.push_back((dir / ("shard-" + std::to_string(s) + ".db")).string());
    if (!reuse || !fs::exists(paths.back()))
      synthesise(paths.back(), s * per_shard, per_shard, 1, s);
  }
  std::cout << "synthesised " << shards << " shard stores x " << per_shard << " tickets in "
            << seconds_since(start) << " s\n";
  {
    // Into a new case, as after a Slurm array (merge_into builds it aside and links it).
    const std::string merged = (dir / "merged.db").string();
    start = std::chrono::steady_clock::now();
    const double cpu = cpu_seconds();
    const MergeResult result = merge_into(merged, paths, nullptr);
    const double merge_seconds = seconds_since(start);
    std::cout << "merge of " << shards << " x " << per_shard << " tickets: " << merge_seconds
              << " s wall, " << cpu_seconds() - cpu << " s CPU (" << result.tickets << " tickets, "
              << result.findings_added << " findings)\n";
    CaseStore target(merged);
    // STORE_TRACE=1: each statement of the second merge that took over 50 ms, with its time.
    if (std::getenv("STORE_TRACE"))
      sqlite3_trace_v2(
          static_cast<sqlite3*>(target.handle()), SQLITE_TRACE_PROFILE,
          [](unsigned, void*, void* statement, void* nanoseconds) {
            const auto ns = *static_cast<sqlite3_int64*>(nanoseconds);
            if (ns > 50'000'000)
              std::cerr
                  << ns / 1'000'000 << " ms: "
                  << std::string(sqlite3_sql(static_cast<sqlite3_stmt*>(statement))).substr(0, 100)
                  << "\n";
            return 0;
          },
          nullptr);
    start = std::chrono::steady_clock::now();
    const double again_cpu = cpu_seconds();
    merge_stores(target, {paths.front()}, nullptr);
    std::cout << "merge of one shard again into that case (idempotent): " << seconds_since(start)
              << " s wall, " << cpu_seconds() - again_cpu << " s CPU\n";
  }
  if (!reuse)
    for (const std::string& path : paths) fs::remove(path);

  // The default view on a store of `big` findings: 5 findings per ticket.
  const std::string big_path = (dir / "big.db").string();
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(big_path + suffix);
  start = std::chrono::steady_clock::now();
  synthesise(big_path, 10'000'000, big / 5, 5, 0);
  std::cout << "synthesised a store of " << big << " findings in " << seconds_since(start)
            << " s\n";
  StoreOptions read_only;
  read_only.read_only = true;
  read_only.create = false;
  CaseStore store(big_path, read_only);
  TicketFilter view;
  view.limit = 50;
  start = std::chrono::steady_clock::now();
  const double view_cpu = cpu_seconds();
  const auto rows = store.ticket_rows(view);
  TicketFilter all;
  const uint64_t total = store.count_tickets(all);
  std::cout << "tickets default view (50 of " << total << " tickets, " << big
            << " findings): " << seconds_since(start) * 1000 << " ms wall, "
            << (cpu_seconds() - view_cpu) * 1000 << " ms CPU\n";
  TicketFilter open;
  open.triage = Triage::Open;
  open.severity = Severity::High;
  open.limit = 50;
  start = std::chrono::steady_clock::now();
  store.ticket_rows(open);
  store.count_tickets(open);
  std::cout << "tickets --triage open --severity high: " << seconds_since(start) * 1000 << " ms\n";
  return rows.size() == std::min<uint64_t>(50, total) ? 0 : 1;
}

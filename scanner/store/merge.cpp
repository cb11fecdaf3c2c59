// Merging shard stores into one case: every shard is checked before anything is written, then
// each shard goes in through one transaction of set-based INSERT ... SELECT from the attached
// shard. Rows have natural keys (message identity, place of a finding, event ids), so a shard
// merged twice, or shards in any order, give the same case; a merge cut short leaves whole
// shards merged, and running it again completes it.
#include <cctype>
#include <cstdio>
#include <set>

#include "credsift/store.hpp"
#include "sqlite.hpp"

namespace credsift {

using namespace store_detail;

namespace {

struct ShardCheck {
  std::string rules_version;
  std::set<uint64_t> shard_numbers;  // of complete scans of the manifest
};

// Returns the problem with a shard ("" when it can be merged).
std::string check_shard(const std::string& path, const Manifest* manifest, ShardCheck& check) {
  try {
    StoreOptions options;
    options.read_only = true;
    options.create = false;
    CaseStore shard(path, options);
    const std::string integrity = shard.integrity_check();
    if (integrity != "ok") return "corrupt (integrity_check: " + integrity.substr(0, 200) + ")";
    sqlite3* db = static_cast<sqlite3*>(shard.handle());
    Statement scans(db, path, "SELECT state, rules_version, manifest, shard FROM scans");
    size_t count = 0;
    std::set<std::string> versions;
    while (scans.step()) {
      ++count;
      if (scans.text(0) != "complete")
        return "half-written: a scan that never finished (crashed or still running)";
      versions.insert(scans.text(1));
      if (manifest) {
        if (scans.text(2) != manifest->digest)
          return "scanned from another plan than " + manifest->digest.substr(0, 19) + "…";
        if (const auto number = scans.optional_integer(3))
          check.shard_numbers.insert(static_cast<uint64_t>(*number));
      }
    }
    if (count == 0) return "half-written: no scan recorded";
    if (versions.size() > 1) return "scans with different rules versions";
    check.rules_version = *versions.begin();
    if (manifest && check.rules_version != manifest->rules_version)
      return "scanned with other rules than the plan's";
    return {};
  } catch (const StoreError& error) {
    std::string what = error.what();
    if (what.starts_with(path + ": ")) what = what.substr(path.size() + 2);
    return what;
  }
}

// Rows go in set by set, straight from the attached shard (`shard.`): same schema version, so
// the same columns in the same order. Rows the case already has are kept (natural keys).
constexpr const char* kCopyTables[] = {"scans", "rules", "inputs", "message_locations",
                                       "ticket_domains"};

// The tickets a shard brings: those of findings new to the case, with the newest mail date
// among them (for reopening rotated tickets), and every ticket the shard knows (a no-op
// refresh unless the case changed), so that every shard ticket exists in the case.
constexpr const char* kTouchNewFindings = R"sql(
INSERT INTO temp.touched(fingerprint, newest)
SELECT s.ticket, max(s.date_epoch) FROM shard.findings AS s
WHERE NOT EXISTS (SELECT 1 FROM main.findings AS m WHERE m.file = s.file
  AND m.offset = s.offset AND m.location = s.location AND m.part_path = s.part_path
  AND m.line = s.line AND m.rule_id = s.rule_id AND m.fingerprint = s.fingerprint)
GROUP BY s.ticket
ON CONFLICT(fingerprint) DO UPDATE SET newest = max(coalesce(newest, excluded.newest),
  coalesce(excluded.newest, newest))
)sql";
constexpr const char* kTouchShardTickets =
    "INSERT OR IGNORE INTO temp.touched(fingerprint, newest) SELECT fingerprint, NULL FROM "
    "shard.tickets";
constexpr const char* kTriagedTable =
    "CREATE TEMP TABLE IF NOT EXISTS triaged(fingerprint TEXT PRIMARY KEY) WITHOUT ROWID";
constexpr const char* kNoteTriaged =
    "INSERT OR IGNORE INTO temp.triaged SELECT fingerprint FROM shard.triage_events AS s WHERE "
    "NOT EXISTS (SELECT 1 FROM main.triage_events AS m WHERE m.id = s.id)";
// A ticket triaged in a merged store takes its latest triage event (by when it was recorded),
// whatever order the stores came in.
constexpr const char* kLatestTriage =
    "UPDATE tickets SET (triage, triage_owner, triage_note, triage_at) = (SELECT status, owner, "
    "note, at FROM triage_events AS e WHERE e.fingerprint = tickets.fingerprint ORDER BY "
    "recorded_at DESC, at DESC, id DESC LIMIT 1) WHERE fingerprint IN (SELECT fingerprint FROM "
    "temp.triaged)";

// "file:PATH?mode=ro" with every byte outside [A-Za-z0-9/._-] percent-encoded: the shard is
// read, never written (no recovery or checkpoint into another machine's store).
std::string read_only_uri(const std::string& path) {
  std::string uri = "file:";
  size_t start = 0;
  while (path.size() - start > 1 && path[start] == '/' && path[start + 1] == '/') ++start;
  for (size_t i = start; i < path.size(); ++i) {
    const auto c = static_cast<unsigned char>(path[i]);
    if (std::isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-') {
      uri += static_cast<char>(c);
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", c);
      uri += escaped;
    }
  }
  return uri + "?mode=ro";
}

uint64_t run_counting(sqlite3* db, const std::string& path, const std::string& sql) {
  exec(db, path, sql.c_str());
  return static_cast<uint64_t>(sqlite3_changes64(db));
}

// One shard, in one transaction: its rows, then the tickets they touched, then the triage its
// events bring.
void merge_one(sqlite3* db, const std::string& path, const std::string& shard_path,
               MergeResult& result) {
  {
    Statement attach(db, path, "ATTACH DATABASE ? AS shard");
    attach.bind(1, read_only_uri(shard_path)).run();
  }
  try {
    Transaction transaction(db, path);
    for (const char* table : kCopyTables)
      exec(db, path,
           (std::string("INSERT OR IGNORE INTO main.") + table + " SELECT * FROM shard." + table)
               .c_str());
    result.messages_added +=
        run_counting(db, path, "INSERT OR IGNORE INTO main.messages SELECT * FROM shard.messages");
    exec(db, path, kTouchNewFindings);
    result.findings_added +=
        run_counting(db, path, "INSERT OR IGNORE INTO main.findings SELECT * FROM shard.findings");
    exec(db, path, kTouchShardTickets);
    exec(db, path, kNoteTriaged);
    exec(db, path, "INSERT OR IGNORE INTO main.triage_events SELECT * FROM shard.triage_events");
    refresh_touched_tickets(db, path);
    exec(db, path, kLatestTriage);
    exec(db, path, "DELETE FROM temp.triaged");
    transaction.commit();
  } catch (...) {
    sqlite3_exec(db, "DETACH DATABASE shard", nullptr, nullptr, nullptr);
    throw;
  }
  exec(db, path, "DETACH DATABASE shard");
  ++result.shards;
}

}  // namespace

MergeResult merge_stores(CaseStore& target, const std::vector<std::string>& shards,
                         const Manifest* manifest) {
  // Every shard first: nothing is merged unless all can be.
  std::string problems;
  std::string common_rules = target.rules_version();
  std::set<uint64_t> covered;
  for (const std::string& path : shards) {
    ShardCheck check;
    std::string problem = check_shard(path, manifest, check);
    if (problem.empty() && !common_rules.empty() && check.rules_version != common_rules)
      problem = "another rules version than the case (" + check.rules_version.substr(0, 19) +
                "… vs " + common_rules.substr(0, 19) + "…)";
    if (problem.empty()) {
      if (common_rules.empty()) common_rules = check.rules_version;
      covered.insert(check.shard_numbers.begin(), check.shard_numbers.end());
    } else {
      problems += "\n  " + path + ": " + problem;
    }
  }
  if (manifest)
    for (const ManifestShard& shard : manifest->shards)
      if (!covered.count(shard.number))
        problems += "\n  shard " + std::to_string(shard.number) +
                    ": never ran (no complete store of it among the shards given)";
  if (!problems.empty()) throw StoreError("merge refused, nothing merged:" + problems);

  sqlite3* db = static_cast<sqlite3*>(target.handle());
  const std::string& path = target.path();
  MergeResult result;
  // A 64 MB page cache: the default 2 MB spills a big merge into the WAL page by page.
  exec(db, path, "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY");
  exec(db, path, kTouchedTable);
  exec(db, path, kTriagedTable);
  for (const std::string& shard_path : shards) merge_one(db, path, shard_path, result);
  result.tickets = target.counts().tickets;
  return result;
}

}  // namespace credsift

// Merging shard stores into one case: every shard is checked before anything is written, then
// all rows go in through one transaction. Rows have natural keys (message identity, place of a
// finding, event ids), so a shard merged twice, or shards in any order, give the same case.
#include <map>
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

// Copies every row of one table, column for column (same schema version, so same columns in
// the same order), keeping rows the target already has.
uint64_t copy_table(sqlite3* target, const std::string& target_path, sqlite3* source,
                    const std::string& source_path, const char* table,
                    const std::function<void(Statement&)>& after_row = {}) {
  Statement select(source, source_path, std::string("SELECT * FROM ") + table);
  const int columns = sqlite3_column_count(select.get());
  std::string sql = std::string("INSERT OR IGNORE INTO main.") + table + " VALUES(";
  for (int i = 0; i < columns; ++i) sql += i ? ",?" : "?";
  sql += ")";
  Statement insert(target, target_path, sql);
  uint64_t added = 0;
  while (select.step()) {
    for (int i = 0; i < columns; ++i)
      if (sqlite3_bind_value(insert.get(), i + 1, sqlite3_column_value(select.get(), i)) !=
          SQLITE_OK)
        fail(target, target_path, "cannot copy a row of " + std::string(table));
    insert.step();
    const bool inserted = sqlite3_changes(target) > 0;
    added += inserted;
    if (inserted && after_row) after_row(select);
    insert.reset();
  }
  return added;
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
  Transaction transaction(db, path);
  Statement touch(db, path, kTouch);
  std::set<std::string> triaged;
  for (const std::string& shard_path : shards) {
    StoreOptions options;
    options.read_only = true;
    options.create = false;
    CaseStore shard(shard_path, options);
    sqlite3* source = static_cast<sqlite3*>(shard.handle());
    copy_table(db, path, source, shard_path, "scans");
    copy_table(db, path, source, shard_path, "rules");
    copy_table(db, path, source, shard_path, "inputs");
    result.messages_added += copy_table(db, path, source, shard_path, "messages");
    copy_table(db, path, source, shard_path, "message_locations");
    // Findings: columns by name for the ticket bookkeeping (the newest date a ticket gained).
    Statement columns(source, shard_path,
                      "SELECT cid FROM pragma_table_info('findings') WHERE name IN ('ticket', "
                      "'date_epoch') ORDER BY name");
    columns.step();
    const int date_column = static_cast<int>(columns.integer(0));
    columns.step();
    const int ticket_column = static_cast<int>(columns.integer(0));
    result.findings_added +=
        copy_table(db, path, source, shard_path, "findings", [&](Statement& row) {
          touch.bind(1, row.text(ticket_column)).bind(2, row.optional_integer(date_column)).run();
        });
    // Tickets the shard knows but whose findings were all here already: refresh them too
    // (a no-op unless the case changed), so that every shard ticket exists in the case.
    Statement shard_tickets(source, shard_path, "SELECT fingerprint FROM tickets");
    while (shard_tickets.step())
      touch.bind(1, shard_tickets.text(0)).bind(2, std::optional<int64_t>()).run();
    copy_table(db, path, source, shard_path, "ticket_domains");
    copy_table(db, path, source, shard_path, "triage_events",
               [&](Statement& row) { triaged.insert(row.text(1)); });
    ++result.shards;
  }
  refresh_touched_tickets(db, path);
  // A ticket triaged in a merged store takes its latest triage event (by when it was recorded),
  // whatever order the stores came in.
  Statement latest(db, path,
                   "UPDATE tickets SET (triage, triage_owner, triage_note, triage_at) = (SELECT "
                   "status, owner, note, at FROM triage_events AS e WHERE e.fingerprint = "
                   "tickets.fingerprint ORDER BY recorded_at DESC, at DESC, id DESC LIMIT 1) "
                   "WHERE fingerprint = ?");
  for (const std::string& fp : triaged) latest.bind(1, fp).run();
  transaction.commit();
  result.tickets = target.counts().tickets;
  return result;
}

}  // namespace credsift

// Merging shard stores into one case: every shard is checked before anything is written; then
// the shards' rows are staged in temporary tables (each shard attached read-only in turn) and
// go into the case in one transaction, set by set and sorted by each table's key. Rows have
// natural keys (message identity, place of a finding, event ids), so a shard merged twice, or
// shards in any order, give the same case; a merge that fails leaves the case as it was.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <thread>

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
    sqlite3* db = static_cast<sqlite3*>(shard.handle());
    // quick_check reads every page and checks every B-tree's structure, but not that each
    // index matches its table (integrity_check, three times the work): the merge reads the
    // shards' tables only, never their indexes.
    {
      Statement quick(db, path, "PRAGMA quick_check");
      std::string verdict;
      while (quick.step()) verdict += (verdict.empty() ? "" : "; ") + quick.text(0);
      if (verdict != "ok") return "corrupt (quick_check: " + verdict.substr(0, 200) + ")";
    }
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

// Each table with the columns of its unique key: rows go into the case in that order, so that
// the case's B-trees are filled page after page instead of at random places (a million random
// inserts into indexes larger than the page cache rewrite every page many times over).
struct MergedTable {
  const char* name;
  const char* key;
};
constexpr MergedTable kTables[] = {
    {"scans", "id"},
    {"rules", "rules_version, id"},
    {"inputs", "path"},
    {"messages", "key"},
    {"message_locations", "file, offset, location"},
    {"findings", "file, offset, location, part_path, line, rule_id, fingerprint"},
    {"ticket_domains", "domain, fingerprint"},
    // Events in the order they were recorded (rowid breaks ties within a second): the latest
    // one decides a ticket's triage.
    {"triage_events", "recorded_at, rowid"},
};

// The tickets the shards bring: those of findings new to the case, with the newest mail date
// among them (for reopening rotated tickets), and every ticket a shard knows (a no-op refresh
// unless the case changed), so that every shard ticket exists in the case.
constexpr const char* kTouchNewFindings = R"sql(
INSERT INTO temp.touched(fingerprint, newest)
SELECT s.ticket, max(s.date_epoch) FROM staging.staged_findings AS s
WHERE NOT EXISTS (SELECT 1 FROM main.findings AS m WHERE m.file = s.file
  AND m.offset = s.offset AND m.location = s.location AND m.part_path = s.part_path
  AND m.line = s.line AND m.rule_id = s.rule_id AND m.fingerprint = s.fingerprint)
GROUP BY s.ticket
ON CONFLICT(fingerprint) DO UPDATE SET newest = max(coalesce(newest, excluded.newest),
  coalesce(excluded.newest, newest))
)sql";
constexpr const char* kTouchShardTickets =
    "INSERT OR IGNORE INTO temp.touched(fingerprint, newest) SELECT fingerprint, NULL FROM "
    "staging.staged_tickets";
constexpr const char* kNoteTriaged =
    "CREATE TEMP TABLE triaged AS SELECT DISTINCT fingerprint FROM staging.staged_triage_events AS "
    "s WHERE NOT EXISTS (SELECT 1 FROM main.triage_events AS m WHERE m.id = s.id)";
// A ticket triaged in a merged store takes its latest triage event (by when it was recorded,
// then in the order it was), whatever order the stores came in.
constexpr const char* kLatestTriage =
    "UPDATE tickets SET (triage, triage_owner, triage_note, triage_at) = (SELECT status, owner, "
    "note, at FROM triage_events AS e WHERE e.fingerprint = tickets.fingerprint ORDER BY "
    "recorded_at DESC, rowid DESC LIMIT 1) WHERE fingerprint IN (SELECT fingerprint FROM "
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

void exec(sqlite3* db, const std::string& path, const std::string& sql) {
  store_detail::exec(db, path, sql.c_str());
}

// Phase one: every shard's rows appended, unsorted, to temporary tables (a temporary file, not
// the case), one shard attached at a time (SQLite attaches at most ten).
void stage_shard(sqlite3* db, const std::string& path, const std::string& shard_path) {
  {
    Statement attach(db, path, "ATTACH DATABASE ? AS shard");
    attach.bind(1, read_only_uri(shard_path)).run();
  }
  try {
    Transaction transaction(db, path, false);
    for (const MergedTable& table : kTables)
      exec(db, path,
           std::string("INSERT INTO staging.staged_") + table.name + " SELECT * FROM shard." +
               table.name);
    exec(db, path, "INSERT INTO staging.staged_tickets SELECT fingerprint FROM shard.tickets");
    transaction.commit();
  } catch (...) {
    sqlite3_exec(db, "DETACH DATABASE shard", nullptr, nullptr, nullptr);
    throw;
  }
  exec(db, path, "DETACH DATABASE shard");
}

}  // namespace

MergeResult merge_stores(CaseStore& target, const std::vector<std::string>& shards,
                         const Manifest* manifest) {
  // Every shard first: nothing is merged unless all can be.
  std::string problems;
  std::string common_rules = target.rules_version();
  std::set<uint64_t> covered;
  // The checks (PRAGMA integrity_check reads every page) run on every core, each shard on a
  // connection of its own; their verdicts are then taken in the order the shards were given.
  std::vector<ShardCheck> checks(shards.size());
  std::vector<std::string> verdicts(shards.size());
  {
    std::atomic<size_t> next{0};
    const auto work = [&] {
      for (size_t i = next++; i < shards.size(); i = next++) try {
          verdicts[i] = check_shard(shards[i], manifest, checks[i]);
        } catch (const std::exception& error) {
          verdicts[i] = error.what();
        }
    };
    const size_t threads =
        std::min<size_t>({shards.size(), std::max(1u, std::thread::hardware_concurrency()), 8});
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (std::thread& thread : pool) thread.join();
  }
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string& path = shards[i];
    const ShardCheck& check = checks[i];
    std::string problem = verdicts[i];
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
  // A 256 MB page cache for the case and for the staged rows; sorts spill to temporary files.
  // The case's file is also mapped: the ticket pass reads findings at random places, through
  // memory instead of a read call per page (WAL frames are still read from the WAL).
  exec(db, path,
       "PRAGMA main.cache_size=-262144; PRAGMA temp_store=FILE; PRAGMA temp.cache_size=-65536; "
       "PRAGMA main.mmap_size=17179869184");
  exec(db, path, kTouchedTable);
  // The shards' rows are staged in a private temporary database of their own, without a
  // journal (on a failure it is thrown away whole): detaching it deletes the file, where
  // dropping staged tables would free their pages one by one.
  const auto drop_staged = [&] {
    sqlite3_exec(db, "DETACH DATABASE staging", nullptr, nullptr, nullptr);
    sqlite3_exec(db, "DROP TABLE IF EXISTS temp.triaged", nullptr, nullptr, nullptr);
  };
  drop_staged();
  try {
    exec(db, path, "ATTACH DATABASE '' AS staging");
    exec(db, path,
         "PRAGMA staging.journal_mode=OFF; PRAGMA staging.synchronous=OFF; "
         "PRAGMA staging.cache_size=-262144");
    for (const MergedTable& table : kTables)
      exec(db, path,
           std::string("CREATE TABLE staging.staged_") + table.name + " AS SELECT * FROM main." +
               table.name + " WHERE false");
    exec(db, path, "CREATE TABLE staging.staged_tickets(fingerprint TEXT)");
    for (const std::string& shard_path : shards) {
      stage_shard(db, path, shard_path);
      ++result.shards;
    }

    // Phase two, one transaction: sorted inserts with the secondary indexes dropped, then
    // those indexes built once, then the tickets and their triage.
    Transaction transaction(db, path);
    exec(db, path, kTouchNewFindings);
    exec(db, path, kTouchShardTickets);
    exec(db, path, kNoteTriaged);
    std::vector<std::pair<std::string, std::string>> indexes;  // (table, CREATE INDEX ...)
    {
      Statement list(db, path,
                     "SELECT name, tbl_name, sql FROM main.sqlite_master WHERE type = 'index' "
                     "AND sql IS NOT NULL");
      while (list.step()) indexes.emplace_back(list.text(1), list.text(2));
      list.reset();
      Statement names(db, path,
                      "SELECT name FROM main.sqlite_master WHERE type = 'index' AND sql IS NOT "
                      "NULL");
      std::vector<std::string> drop;
      while (names.step()) drop.push_back(names.text(0));
      names.reset();
      // Built once afterwards when the merge brings at least as many findings as the case
      // has (a fresh case: every Slurm merge); kept, and updated in place, for a few more.
      Statement staged(db, path, "SELECT count(*) FROM staging.staged_findings");
      staged.step();
      const int64_t incoming = staged.integer(0);
      staged.reset();
      Statement existing(db, path, "SELECT coalesce(max(rowid), 0) FROM main.findings");
      existing.step();
      const int64_t present = existing.integer(0);
      existing.reset();
      if (incoming < present) {
        indexes.clear();
        drop.clear();
      }
      for (const std::string& name : drop) exec(db, path, "DROP INDEX main.\"" + name + "\"");
    }
    const auto create_indexes = [&](bool tickets) {
      for (const auto& [table, sql] : indexes)
        if ((table == "tickets") == tickets) exec(db, path, sql);
    };
    for (const MergedTable& table : kTables) {
      exec(db, path,
           std::string("INSERT OR IGNORE INTO main.") + table.name +
               " SELECT * FROM staging.staged_" + table.name + " ORDER BY " + table.key);
      const auto added = static_cast<uint64_t>(sqlite3_changes64(db));
      if (table.name == std::string_view("messages")) result.messages_added = added;
      if (table.name == std::string_view("findings")) result.findings_added = added;
    }
    create_indexes(false);  // findings by ticket: the refresh reads them
    refresh_touched_tickets(db, path);
    exec(db, path, kLatestTriage);
    create_indexes(true);
    transaction.commit();
  } catch (...) {
    drop_staged();
    throw;
  }
  drop_staged();
  result.tickets = target.counts().tickets;
  return result;
}

namespace {

void sync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const std::string error = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw StoreError(path + ": cannot sync: " + error);
  }
  ::close(fd);
}

}  // namespace

MergeResult merge_into(const std::string& case_path, const std::vector<std::string>& shards,
                       const Manifest* manifest) {
  struct stat st {};
  if (::lstat(case_path.c_str(), &st) == 0 || errno != ENOENT) {
    CaseStore store(case_path);
    return merge_stores(store, shards, manifest);
  }
  // A new case is built in a file of its own beside it, without a journal or syncs (nothing
  // to roll back to: on a failure the file is deleted), then synced and linked into place in
  // one step, so that a crash leaves either no case or the whole one. The WAL would write
  // every page twice and keep the pages the ticket pass reads outside the mapped file.
  const std::string building = case_path + ".merging-" + random_id().substr(0, 12);
  const auto discard = [&] {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      ::unlink((building + suffix).c_str());
  };
  try {
    MergeResult result;
    {
      CaseStore store(building);
      sqlite3* db = static_cast<sqlite3*>(store.handle());
      exec(db, building, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF");
      result = merge_stores(store, shards, manifest);
      exec(db, building, "PRAGMA journal_mode=WAL");  // as every case store is opened
    }
    sync_path(building);
    // link() refuses to replace a case created meanwhile (rename would overwrite it); the
    // merge then goes into that case as into any existing one (it is idempotent).
    if (::link(building.c_str(), case_path.c_str()) != 0) {
      const int error = errno;
      discard();
      if (error != EEXIST)
        throw StoreError(case_path + ": cannot create the case: " + std::strerror(error));
      CaseStore store(case_path);
      return merge_stores(store, shards, manifest);
    }
    discard();
    const size_t slash = case_path.rfind('/');
    sync_path(slash == std::string::npos ? "." : slash == 0 ? "/" : case_path.substr(0, slash));
    return result;
  } catch (...) {
    discard();
    throw;
  }
}

}  // namespace credsift

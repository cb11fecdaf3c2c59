// Merging shard stores into one case: every shard is checked before anything is written; then
// the shards' rows are staged in temporary tables (each shard attached read-only in turn) and
// go into the case in one transaction, set by set and sorted by each table's key. Rows have
// natural keys (message identity, place of a finding, event ids), so a shard merged twice, or
// shards in any order, give the same case; a merge that fails leaves the case as it was.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "credsift/store.hpp"
#include "sqlite.hpp"

namespace credsift {

using namespace store_detail;

namespace {

// CREDSIFT_MERGE_PHASES: CPU seconds of each phase on stderr (for the benchmark).
void phase(const char* name) {
  static const bool on = std::getenv("CREDSIFT_MERGE_PHASES") != nullptr;
  if (!on) return;
  static double last = 0;
  const double now = static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
  std::fprintf(stderr, "merge phase %-24s %.2f s CPU\n", name, now - last);
  last = now;
}

// Shards streamed at once at most: each holds its sorted table (a 2 MB page cache, sorts
// beyond it in temporary files with their buffers), so memory stays near 1 GB.
constexpr size_t kMaxStreamedShards = 256;

struct ShardCheck {
  std::string rules_version;
  std::set<uint64_t> shard_numbers;  // of complete scans of the manifest
};

// Returns the problem with a shard ("" when it can be merged).
// With `keep`, a shard found good stays open in a read transaction (the snapshot it was checked
// in) for merge_streaming to read.
std::string check_shard(const std::string& path, const Manifest* manifest, ShardCheck& check,
                        std::unique_ptr<CaseStore>* keep) {
  try {
    StoreOptions options;
    options.read_only = true;
    options.create = false;
    options.one_thread = true;  // checked on one thread, then read on the merging one
    auto shard = std::make_unique<CaseStore>(path, options);
    sqlite3* db = static_cast<sqlite3*>(shard->handle());
    // A small page cache (a hundred shards may be open at once; their sorts spill to temporary
    // files beyond it) and the file mapped: pages are read without a copy.
    exec(db, path, "PRAGMA cache_size=-2048; PRAGMA mmap_size=2147418112; BEGIN");
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
    scans.reset();
    if (keep) *keep = std::move(shard);
    return {};
  } catch (const StoreError& error) {
    std::string what = error.what();
    if (what.starts_with(path + ": ")) what = what.substr(path.size() + 2);
    return what;
  }
}

// Each table with the columns of its unique key (its first columns, but for triage_events;
// merge_streaming relies on it): rows go into the case in that order, so that
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
    {"findings", "ticket, file, offset, location, part_path, line, rule_id, fingerprint"},
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
WHERE NOT EXISTS (SELECT 1 FROM main.findings AS m WHERE m.ticket = s.ticket AND m.file = s.file
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

// Verification results travel with their shards: one per credential, the latest check wins
// (checked_at is ISO 8601 UTC: its text order is its time order), a tie goes to the smallest
// row, so that any order of shards, or a shard merged twice, gives the same row.
constexpr const char* kMergeVerification =
    " ON CONFLICT(fingerprint) DO UPDATE SET state = excluded.state, reason = excluded.reason, "
    "checked_at = excluded.checked_at, endpoint = excluded.endpoint, identity = "
    "excluded.identity WHERE excluded.checked_at > verifications.checked_at OR "
    "(excluded.checked_at = verifications.checked_at AND (excluded.state, excluded.reason, "
    "excluded.endpoint, excluded.identity) < (verifications.state, verifications.reason, "
    "verifications.endpoint, verifications.identity))";

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
    exec(db, path,
         "INSERT INTO staging.staged_verifications SELECT fingerprint, state, reason, "
         "checked_at, endpoint, identity FROM shard.verifications");
    transaction.commit();
  } catch (...) {
    sqlite3_exec(db, "DETACH DATABASE shard", nullptr, nullptr, nullptr);
    throw;
  }
  exec(db, path, "DETACH DATABASE shard");
}

// ---------------------------------------------------------------------------------------------
// Merging into a case that has no rows yet (every merge after an array): each shard is read on
// a connection of its own (no limit of ten attached databases), table by table in key order,
// and the k sorted streams are merged here into one ordered insert per table. Every row goes
// through SQLite twice (read from its shard, written to the case) instead of four times
// (staged, sorted, inserted, read again for its ticket), and the tickets are computed in one
// streaming pass over the shards' findings in ticket order, their memory bounded by one ticket.

// A column's value as SQLite types it; a text's or blob's bytes are the statement's (valid until
// it steps again) or a batch's.
struct Value {
  int type = SQLITE_NULL;
  int64_t integer = 0;
  double real = 0;
  const char* bytes = nullptr;
  size_t size = 0;
};

Value column_value(sqlite3_stmt* row, int column) {
  Value value;
  value.type = sqlite3_column_type(row, column);
  switch (value.type) {
    case SQLITE_INTEGER:
      value.integer = sqlite3_column_int64(row, column);
      break;
    case SQLITE_FLOAT:
      value.real = sqlite3_column_double(row, column);
      break;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      value.bytes = static_cast<const char*>(
          value.type == SQLITE_TEXT ? static_cast<const void*>(sqlite3_column_text(row, column))
                                    : sqlite3_column_blob(row, column));
      value.size = static_cast<size_t>(sqlite3_column_bytes(row, column));
      break;
    default:
      break;
  }
  return value;
}

// The k shards' result sets of one query (each already in order), merged: rows come out in the
// order of their first `order_columns` columns, ties in the order the shards were given. With
// `unique`, one row per key (the same message or finding in two shards, or a shard given
// twice): the one of the smallest `scan` column, else the smallest row, whatever order the
// shards came in, so that the findings and the tickets computed in their own pass agree.
class ShardStreams {
 public:
  ShardStreams(const std::vector<sqlite3*>& shards, const std::vector<std::string>& paths,
               const std::string& sql, int order_columns, bool unique)
      : paths_(paths), order_(order_columns), unique_(unique) {
    for (size_t i = 0; i < shards.size(); ++i)
      statements_.push_back(prepare(shards[i], paths[i], sql));
    keys_.resize(statements_.size() * static_cast<size_t>(order_));
    if (!statements_.empty())
      for (int column = order_; column < sqlite3_column_count(statements_[0]); ++column)
        if (const char* name = sqlite3_column_name(statements_[0], column);
            name && std::string_view(name) == "scan") {
          scan_column_ = column;
          break;
        }
    // Each shard's first row: where SQLite sorts the shard's rows, the sorts run on every
    // core at once (each connection on one thread at a time).
    std::vector<char> has_row(statements_.size(), 0);
    std::vector<std::string> errors(statements_.size());
    std::atomic<size_t> next{0};
    const auto work = [&] {
      for (size_t i = next++; i < statements_.size(); i = next++) try {
          has_row[i] = advance(i);
        } catch (const std::exception& error) {
          errors[i] = error.what();
        }
    };
    std::vector<std::thread> pool;
    const size_t threads = std::min<size_t>(
        {statements_.size(), std::max(1u, std::thread::hardware_concurrency()), 8});
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (std::thread& thread : pool) thread.join();
    for (size_t i = 0; i < statements_.size(); ++i) {
      if (!errors[i].empty()) throw StoreError(errors[i]);
      if (has_row[i]) heap_.push_back(i);
    }
    std::make_heap(heap_.begin(), heap_.end(), after());
  }
  ~ShardStreams() {
    for (sqlite3_stmt* statement : statements_) sqlite3_finalize(statement);
  }
  ShardStreams(const ShardStreams&) = delete;
  ShardStreams& operator=(const ShardStreams&) = delete;

  // The next row (valid until the following call), or nullptr at the end.
  sqlite3_stmt* next() {
    if (pending_ != kNone && advance(pending_)) push(pending_);
    pending_ = kNone;
    if (heap_.empty()) return nullptr;
    pending_ = pop();
    // The same key in later shards: passed over (their streams move on).
    while (unique_ && !heap_.empty() && compare(key(heap_.front()), key(pending_), order_) == 0) {
      size_t same = pop();
      if (kept_over(same, pending_)) std::swap(same, pending_);
      if (advance(same)) push(same);
    }
    return statements_[pending_];
  }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);
  static sqlite3_stmt* prepare(sqlite3* db, const std::string& path, const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &statement, nullptr) !=
        SQLITE_OK)
      fail(db, path, "cannot read the shard");
    return statement;
  }
  // SQLite's own order of values (NULL, numbers, text, blobs; text and blobs by bytes).
  // Each stream's current key, read once per row: comparing through sqlite3_column_* would
  // take the connection's mutex on every call.
  static int compare(const Value* a, const Value* b, int columns) {
    for (int column = 0; column < columns; ++column)
      if (const int c = compare_values(a[column], b[column])) return c;
    return 0;
  }
  static int compare_values(const Value& a, const Value& b) {
    const auto rank = [](int type) {
      return type == SQLITE_NULL ? 0 : type == SQLITE_TEXT ? 2 : type == SQLITE_BLOB ? 3 : 1;
    };
    if (rank(a.type) != rank(b.type)) return rank(a.type) < rank(b.type) ? -1 : 1;
    switch (rank(a.type)) {
      case 0:
        return 0;
      case 1:
        if (a.type == SQLITE_INTEGER && b.type == SQLITE_INTEGER)
          return a.integer < b.integer ? -1 : a.integer > b.integer ? 1 : 0;
        else {
          const double x = a.type == SQLITE_INTEGER ? static_cast<double>(a.integer) : a.real;
          const double y = b.type == SQLITE_INTEGER ? static_cast<double>(b.integer) : b.real;
          return x < y ? -1 : x > y ? 1 : 0;
        }
      default: {
        const size_t common = std::min(a.size, b.size);
        const int c = common ? std::memcmp(a.bytes, b.bytes, common) : 0;
        if (c != 0) return c;
        return a.size < b.size ? -1 : a.size > b.size ? 1 : 0;
      }
    }
  }
  const Value* key(size_t i) const { return keys_.data() + i * static_cast<size_t>(order_); }
  // Of two rows with one key: whether shard a's is kept rather than shard b's.
  bool kept_over(size_t a, size_t b) const {
    sqlite3_stmt* x = statements_[a];
    sqlite3_stmt* y = statements_[b];
    if (scan_column_ >= 0)
      return compare_values(column_value(x, scan_column_), column_value(y, scan_column_)) < 0;
    for (int column = order_; column < sqlite3_column_count(x); ++column)
      if (const int c = compare_values(column_value(x, column), column_value(y, column)))
        return c < 0;
    return false;
  }
  bool advance(size_t i) {
    sqlite3_stmt* statement = statements_[i];
    const int rc = sqlite3_step(statement);
    if (rc == SQLITE_DONE) return false;
    if (rc != SQLITE_ROW) fail(sqlite3_db_handle(statement), paths_[i], "cannot read the shard");
    Value* values = keys_.data() + i * static_cast<size_t>(order_);
    for (int column = 0; column < order_; ++column)
      values[column] = column_value(statement, column);
    return true;
  }
  void push(size_t i) {
    heap_.push_back(i);
    std::push_heap(heap_.begin(), heap_.end(), after());
  }
  size_t pop() {
    std::pop_heap(heap_.begin(), heap_.end(), after());
    const size_t i = heap_.back();
    heap_.pop_back();
    return i;
  }
  // The heap's order: true when shard a's row comes after shard b's.
  struct After {
    const ShardStreams* streams;
    bool operator()(size_t a, size_t b) const {
      if (const int c = compare(streams->key(a), streams->key(b), streams->order_)) return c > 0;
      return a > b;
    }
  };
  After after() const { return After{this}; }
  const std::vector<std::string>& paths_;
  std::vector<sqlite3_stmt*> statements_;
  std::vector<Value> keys_;  // order_ per stream
  std::vector<size_t> heap_;
  size_t pending_ = kNone;
  int order_;
  int scan_column_ = -1;  // the row's `scan` column, if it has one
  bool unique_;
};

// Bound without a copy: the insert runs before the value's bytes change.
void bind_value(sqlite3_stmt* insert, int parameter, const Value& value) {
  switch (value.type) {
    case SQLITE_INTEGER:
      sqlite3_bind_int64(insert, parameter, value.integer);
      break;
    case SQLITE_FLOAT:
      sqlite3_bind_double(insert, parameter, value.real);
      break;
    case SQLITE_TEXT:
      sqlite3_bind_text64(insert, parameter, value.bytes, value.size, SQLITE_STATIC, SQLITE_UTF8);
      break;
    case SQLITE_BLOB:
      if (value.size)
        sqlite3_bind_blob64(insert, parameter, value.bytes, value.size, SQLITE_STATIC);
      else
        sqlite3_bind_zeroblob(insert, parameter, 0);  // empty, not NULL
      break;
    default:
      sqlite3_bind_null(insert, parameter);
  }
}

// The shard row's value bound without a copy: the insert runs before the shard's statement
// steps again.
void bind_column(sqlite3_stmt* insert, int parameter, sqlite3_stmt* row, int column) {
  bind_value(insert, parameter, column_value(row, column));
}

// Whether the case holds no rows a merge writes: then it is built by merge_streaming.
bool case_is_empty(sqlite3* db, const std::string& path) {
  std::string sql = "SELECT EXISTS(SELECT 1 FROM main.tickets)";
  for (const MergedTable& table : kTables)
    sql += std::string(" OR EXISTS(SELECT 1 FROM main.") + table.name + ")";
  Statement query(db, path, sql);
  query.step();
  return query.integer(0) == 0;
}

// One ticket's row from its findings in place order (each once): as refresh_touched_tickets
// computes it, where the first finding by place wins ties, so that only a strictly better
// naming finding replaces the one before.
struct TicketRowBuilder {
  std::string ticket, file, location;  // the ticket, and the place of its last finding
  int64_t offset = 0, occurrences = 0, messages = 0, specificity = 0, evidence_rank = 0,
          severity = 0;
  std::optional<int64_t> first_seen, last_seen;
  bool undated = false, named = false;
  std::string rule_id, provider, status, secret;
};

std::string column_text(sqlite3_stmt* row, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(row, column));
  return text ? std::string(text, static_cast<size_t>(sqlite3_column_bytes(row, column)))
              : std::string();
}

bool column_equals(sqlite3_stmt* row, int column, const std::string& value) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(row, column));
  return text && static_cast<size_t>(sqlite3_column_bytes(row, column)) == value.size() &&
         std::memcmp(text, value.data(), value.size()) == 0;
}

// A shard row's values, copied out of its statement (which moves on) for the thread that
// writes the case: texts and blobs in the batch's bytes, at `offset`.
struct Cell {
  Value value;  // its bytes unset: they move with the batch
  size_t offset = 0;
};

// Rows of one table read from the shards, in the merged order, and the tickets their
// findings completed (in key order). `last`: the table's final batch.
struct RowBatch {
  size_t table = 0;  // index into kTables
  int columns = 0;
  std::vector<Cell> cells;  // `columns` per row
  std::string bytes;
  std::vector<TicketRowBuilder> tickets;
  bool last = false;
};

// Rows per batch at most (and about 1 MB of values), batches queued at most: the reading
// thread stays that far ahead of the writing one.
constexpr size_t kBatchRows = 512;
constexpr size_t kBatchBytes = 1 << 20;
constexpr size_t kQueuedBatches = 8;

void copy_row(RowBatch& batch, sqlite3_stmt* row, int first) {
  for (int column = first; column < first + batch.columns; ++column) {
    Cell cell{column_value(row, column), batch.bytes.size()};
    if (cell.value.size) batch.bytes.append(cell.value.bytes, cell.value.size);
    cell.value.bytes = nullptr;
    batch.cells.push_back(cell);
  }
}

// Inserts the rows of batches into the same table of the case.
class RowCopy {
 public:
  RowCopy(sqlite3* db, const std::string& path, const char* table, int columns)
      : db_(db), path_(path) {
    std::string sql = std::string("INSERT OR IGNORE INTO main.") + table + " VALUES(?";
    for (int i = 1; i < columns; ++i) sql += ", ?";
    insert_ = std::make_unique<Statement>(db_, path_, sql + ")");
  }
  // How many of the batch's rows were new to the case.
  uint64_t insert(const RowBatch& batch) {
    sqlite3_stmt* statement = insert_->get();
    uint64_t added = 0;
    const char* bytes = batch.bytes.data();
    for (size_t at = 0; at < batch.cells.size(); at += static_cast<size_t>(batch.columns)) {
      for (int i = 0; i < batch.columns; ++i) {
        const Cell& cell = batch.cells[at + static_cast<size_t>(i)];
        Value value = cell.value;
        value.bytes = bytes + cell.offset;
        bind_value(statement, i + 1, value);
      }
      if (sqlite3_step(statement) != SQLITE_DONE) fail(db_, path_, "cannot merge a row");
      sqlite3_reset(statement);
      added += static_cast<uint64_t>(sqlite3_changes64(db_));
    }
    return added;
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  std::unique_ptr<Statement> insert_;
};

// The tickets' rows, computed from the merged findings as they are read: the findings' key
// starts with their ticket, so a ticket's findings come together, by place (each once, as in
// the case). Memory for one ticket; the tickets come out in key order. The row's columns are
// the findings' own, after the ticket read before them (SELECT ticket, *).
class TicketRows {
 public:
  enum Column {
    kTicket = 0,
    kFile = 1,
    kOffset = 2,
    kLocation = 3,
    kRule = 6,
    kFingerprint = 7,
    kProvider = 12,
    kSeverity = 13,
    kSpecificity = 14,
    kEvidenceRank = 15,
    kSecret = 16,
    kStatus = 18,
    kDateEpoch = 25
  };
  // Adds a finding; a ticket completed by it goes into `done`.
  void add(sqlite3_stmt* row, std::vector<TicketRowBuilder>& done) {
    const bool same_ticket =
        current_.occurrences > 0 && column_equals(row, kTicket, current_.ticket);
    if (!same_ticket) {
      flush(done);
      current_ = TicketRowBuilder();
      current_.ticket = column_text(row, kTicket);
    }
    // Findings of one message are adjacent (sorted by file, offset, location).
    const int64_t offset = sqlite3_column_int64(row, kOffset);
    if (!same_ticket || offset != current_.offset || !column_equals(row, kFile, current_.file) ||
        !column_equals(row, kLocation, current_.location)) {
      ++current_.messages;
      current_.file = column_text(row, kFile);
      current_.location = column_text(row, kLocation);
      current_.offset = offset;
    }
    ++current_.occurrences;
    if (sqlite3_column_type(row, kDateEpoch) == SQLITE_NULL) {
      current_.undated = true;
    } else {
      const int64_t date = sqlite3_column_int64(row, kDateEpoch);
      current_.first_seen = current_.first_seen ? std::min(*current_.first_seen, date) : date;
      current_.last_seen = current_.last_seen ? std::max(*current_.last_seen, date) : date;
    }
    if (column_equals(row, kFingerprint, current_.ticket)) {
      const int64_t specificity = sqlite3_column_int64(row, kSpecificity);
      const int64_t evidence_rank = sqlite3_column_int64(row, kEvidenceRank);
      if (!current_.named || specificity > current_.specificity ||
          (specificity == current_.specificity && evidence_rank > current_.evidence_rank)) {
        current_.named = true;
        current_.specificity = specificity;
        current_.evidence_rank = evidence_rank;
        current_.rule_id = column_text(row, kRule);
        current_.provider = column_text(row, kProvider);
        current_.severity = sqlite3_column_int64(row, kSeverity);
        current_.status = column_text(row, kStatus);
        current_.secret = column_text(row, kSecret);
      }
    }
  }
  // A ticket none of whose findings carries its own fingerprint has no row.
  void flush(std::vector<TicketRowBuilder>& done) {
    if (current_.named) done.push_back(std::move(current_));
    current_.named = false;
  }

 private:
  TicketRowBuilder current_;
};

class TicketInsert {
 public:
  TicketInsert(sqlite3* db, const std::string& path)
      : insert_(db, path,
                "INSERT INTO main.tickets(fingerprint, id, rule_id, provider, severity, status, "
                "evidence_rank, secret, occurrences, messages, first_seen, last_seen, undated) "
                "VALUES(?1, 'cs-' || substr(?1, 8, 16), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                "?11, ?12)") {}
  void insert(const TicketRowBuilder& ticket) {
    insert_.bind(1, ticket.ticket)
        .bind(2, ticket.rule_id)
        .bind(3, ticket.provider)
        .bind(4, ticket.severity)
        .bind(5, ticket.status)
        .bind(6, ticket.evidence_rank)
        .bind(7, ticket.secret)
        .bind(8, ticket.occurrences)
        .bind(9, ticket.messages)
        .bind(10, ticket.first_seen)
        .bind(11, ticket.last_seen)
        .bind(12, ticket.undated)
        .run();
  }

 private:
  Statement insert_;
};

// Reads the tables' rows from the shards on a thread of its own, table after table, in the
// merged order, into batches for the thread that writes the case: reading a row and writing
// it each take about half of a merge, and now overlap. The shards' connections are this
// thread's until it is joined.
class ShardReader {
 public:
  ShardReader(const std::vector<sqlite3*>& shards, const std::vector<std::string>& paths)
      : shards_(shards), paths_(paths), thread_([this] { run(); }) {}
  ~ShardReader() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_reader_.notify_all();
    thread_.join();
  }
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;

  // The next batch; throws the reader's error.
  std::unique_ptr<RowBatch> next() {
    std::unique_lock lock(mutex_);
    wake_writer_.wait(lock, [&] { return !queue_.empty() || failure_; });
    if (queue_.empty()) std::rethrow_exception(failure_);
    std::unique_ptr<RowBatch> batch = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    wake_reader_.notify_one();
    return batch;
  }

 private:
  // False when the writer stopped.
  bool hand_over(std::unique_ptr<RowBatch>& batch) {
    std::unique_lock lock(mutex_);
    wake_reader_.wait(lock, [&] { return queue_.size() < kQueuedBatches || stop_; });
    if (stop_) return false;
    queue_.push_back(std::move(batch));
    lock.unlock();
    wake_writer_.notify_one();
    return true;
  }
  void run() {
    try {
      for (size_t t = 0; t < std::size(kTables); ++t) {
        const MergedTable& table = kTables[t];
        // Triage events in the order they were recorded, then as each shard recorded them
        // (its rowids); their ids make an event merged twice one row. Findings by ticket,
        // then place (their key; the ticket is read first, then the row as it is). Every
        // other table's key is its first columns: rows are compared in place.
        const bool events = table.name == std::string_view("triage_events");
        const bool findings = table.name == std::string_view("findings");
        const std::string key = table.key;
        const int key_columns =
            events ? 1 : static_cast<int>(std::count(key.begin(), key.end(), ',')) + 1;
        ShardStreams rows(shards_, paths_,
                          std::string("SELECT ") +
                              (events     ? "recorded_at, "
                               : findings ? "ticket, "
                                          : "") +
                              "* FROM " + table.name + " NOT INDEXED ORDER BY " + table.key,
                          key_columns, !events);
        const int first = events || findings ? 1 : 0;
        TicketRows tickets;
        const auto fresh = [&] {
          auto batch = std::make_unique<RowBatch>();
          batch->table = t;
          batch->cells.reserve(kBatchRows * 8);
          return batch;
        };
        std::unique_ptr<RowBatch> batch = fresh();
        size_t in_batch = 0;
        while (sqlite3_stmt* row = rows.next()) {
          if (batch->columns == 0) batch->columns = sqlite3_column_count(row) - first;
          copy_row(*batch, row, first);
          if (findings) tickets.add(row, batch->tickets);  // each finding once, as kept
          if (++in_batch >= kBatchRows || batch->bytes.size() >= kBatchBytes) {
            const int columns = batch->columns;
            if (!hand_over(batch)) return;
            batch = fresh();
            batch->columns = columns;
            in_batch = 0;
          }
        }
        if (findings) tickets.flush(batch->tickets);
        batch->last = true;
        if (!hand_over(batch)) return;
      }
    } catch (...) {
      std::lock_guard lock(mutex_);
      failure_ = std::current_exception();
    }
    wake_writer_.notify_one();
  }

  const std::vector<sqlite3*>& shards_;
  const std::vector<std::string>& paths_;
  std::mutex mutex_;
  std::condition_variable wake_reader_, wake_writer_;
  std::deque<std::unique_ptr<RowBatch>> queue_;
  std::exception_ptr failure_;
  bool stop_ = false;
  std::thread thread_;  // last: started once the rest is in place
};

// The whole merge into an empty case, in the case's transaction; `shards` are the checked
// shards' connections, each in a read transaction (one snapshot for every pass).
MergeResult merge_streaming(sqlite3* db, const std::string& path,
                            const std::vector<sqlite3*>& shards,
                            const std::vector<std::string>& paths) {
  MergeResult result;
  result.shards = shards.size();
  Transaction transaction(db, path);
  // The secondary indexes go, and are built once from the full tables at the end.
  std::vector<std::string> indexes, names;
  {
    Statement list(db, path,
                   "SELECT name, sql FROM main.sqlite_master WHERE type = 'index' AND sql IS "
                   "NOT NULL");
    while (list.step()) {
      names.push_back(list.text(0));
      indexes.push_back(list.text(1));
    }
  }
  for (const std::string& name : names) exec(db, path, "DROP INDEX main.\"" + name + "\"");
  {
    TicketInsert tickets(db, path);
    ShardReader reader(shards, paths);
    for (const MergedTable& table : kTables) {
      std::unique_ptr<RowCopy> copy;
      uint64_t added = 0;
      for (;;) {
        const std::unique_ptr<RowBatch> batch = reader.next();
        if (batch->columns > 0) {
          if (!copy) copy = std::make_unique<RowCopy>(db, path, table.name, batch->columns);
          added += copy->insert(*batch);
        }
        for (const TicketRowBuilder& ticket : batch->tickets) tickets.insert(ticket);
        if (batch->last) break;
      }
      phase(table.name);
      if (table.name == std::string_view("messages")) result.messages_added = added;
      if (table.name == std::string_view("findings")) result.findings_added = added;
    }
  }
  {
    Statement upsert(db, path,
                     std::string("INSERT INTO main.verifications(fingerprint, state, reason, "
                                 "checked_at, endpoint, identity) VALUES(?, ?, ?, ?, ?, ?)") +
                         kMergeVerification);
    for (size_t i = 0; i < shards.size(); ++i) {
      Statement rows(shards[i], paths[i],
                     "SELECT fingerprint, state, reason, checked_at, endpoint, identity FROM "
                     "verifications");
      while (rows.step()) {
        for (int column = 0; column < 6; ++column)
          bind_column(upsert.get(), column + 1, rows.get(), column);
        if (sqlite3_step(upsert.get()) != SQLITE_DONE)
          fail(db, path, "cannot merge a verification result");
        sqlite3_reset(upsert.get());
      }
    }
  }
  phase("verifications");
  for (const std::string& sql : indexes) exec(db, path, sql);
  phase("indexes");
  exec(db, path,
       "UPDATE tickets SET (triage, triage_owner, triage_note, triage_at) = (SELECT status, "
       "owner, note, at FROM triage_events AS e WHERE e.fingerprint = tickets.fingerprint ORDER "
       "BY recorded_at DESC, rowid DESC LIMIT 1) WHERE fingerprint IN (SELECT fingerprint FROM "
       "triage_events)");
  phase("triage");
  transaction.commit();
  phase("commit");
  return result;
}

}  // namespace

MergeResult merge_stores(CaseStore& target, const std::vector<std::string>& shards,
                         const Manifest* manifest) {
  phase("start");
  // Every shard first: nothing is merged unless all can be.
  std::string problems;
  std::string common_rules = target.rules_version();
  std::set<uint64_t> covered;
  // The checks (PRAGMA integrity_check reads every page) run on every core, each shard on a
  // connection of its own; their verdicts are then taken in the order the shards were given.
  std::vector<ShardCheck> checks(shards.size());
  std::vector<std::string> verdicts(shards.size());
  sqlite3* db = static_cast<sqlite3*>(target.handle());
  const std::string& path = target.path();
  // An empty case is built straight from the shards, each open at once (up to three files
  // each: the store, its WAL and shared memory; and a sort of up to a few MB held per shard);
  // else, beyond kMaxStreamedShards or what this process may open, the shards go through the
  // staging database.
  rlimit files{};
  const bool streaming =
      case_is_empty(db, path) && shards.size() <= kMaxStreamedShards &&
      ::getrlimit(RLIMIT_NOFILE, &files) == 0 &&
      (files.rlim_cur == RLIM_INFINITY || shards.size() * 3 + 64 <= files.rlim_cur);
  std::vector<std::unique_ptr<CaseStore>> opened(streaming ? shards.size() : 0);
  {
    std::atomic<size_t> next{0};
    const auto work = [&] {
      for (size_t i = next++; i < shards.size(); i = next++) try {
          verdicts[i] =
              check_shard(shards[i], manifest, checks[i], streaming ? &opened[i] : nullptr);
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

  phase("checks");
  MergeResult result;
  if (streaming) {
    std::vector<sqlite3*> handles;
    for (const auto& shard : opened) handles.push_back(static_cast<sqlite3*>(shard->handle()));
    // The index builds' sorts may use a second core (PRAGMA threads).
    exec(db, path,
         "PRAGMA main.cache_size=-262144; PRAGMA main.mmap_size=17179869184; PRAGMA threads=" +
             std::to_string(std::clamp(std::thread::hardware_concurrency(), 1u, 4u) - 1));
    result = merge_streaming(db, path, handles, shards);
    result.tickets = target.counts().tickets;
    return result;
  }
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
    exec(db, path,
         "CREATE TABLE staging.staged_verifications AS SELECT * FROM main.verifications WHERE "
         "false");
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
      // Counted no further than the incoming rows: only which is larger matters.
      Statement existing(db, path, "SELECT count(*) FROM (SELECT 1 FROM main.findings LIMIT ?)");
      existing.bind(1, incoming + 1).step();
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
    exec(db, path,
         std::string("INSERT INTO main.verifications SELECT * FROM staging.staged_verifications "
                     "WHERE true ORDER BY fingerprint, checked_at") +
             kMergeVerification);
    create_indexes(false);
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

constexpr int kNewCasePageSize = 65536;

void sync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const std::string error = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw StoreError(path + ": cannot sync: " + error);
  }
  ::close(fd);
}

// A new case gets larger pages than SQLite's 4 KB: a merge writes every row once, in key
// order, and fewer, fuller pages cost less to fill, link and write. Set before the first
// table (the case is created 0600 here, never through a symbolic link).
void set_page_size(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw StoreError(path + ": cannot create the case: " + std::strerror(errno));
  ::close(fd);
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr);
  try {
    if (rc != SQLITE_OK) fail(db, path, "cannot create the case");
    exec(db, path,
         ("PRAGMA page_size=" + std::to_string(kNewCasePageSize) + "; PRAGMA journal_mode=WAL")
             .c_str());
  } catch (...) {
    sqlite3_close(db);
    throw;
  }
  sqlite3_close(db);
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
    set_page_size(building);
    {
      StoreOptions options;
      options.one_thread = true;
      CaseStore store(building, options);
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

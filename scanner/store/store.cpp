// The case store: schema and migrations, opening safely, recording scans, reading tickets back,
// and triage with its history.
#include "credsift/store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_set>

#include "sqlite.hpp"

namespace credsift {

using namespace store_detail;

namespace store_detail {

std::string pack(const std::vector<std::string>& fields) {
  std::string out;
  for (const std::string& field : fields) {
    out += std::to_string(field.size());
    out += ':';
    out += field;
  }
  return out;
}

std::vector<std::string> unpack(std::string_view packed) {
  std::vector<std::string> fields;
  while (!packed.empty()) {
    const size_t colon = packed.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 12) break;
    size_t length = 0;
    for (char c : packed.substr(0, colon)) {
      if (c < '0' || c > '9') return fields;
      length = length * 10 + static_cast<size_t>(c - '0');
    }
    if (length > packed.size() - colon - 1) break;
    fields.emplace_back(packed.substr(colon + 1, length));
    packed.remove_prefix(colon + 1 + length);
  }
  return fields;
}

std::string location_key(const ItemLocation& location) {
  if (location.empty()) return {};
  return pack({location.container, location.folder,
               location.node_id ? std::to_string(*location.node_id) : std::string(),
               location.item_id, location.item_type, location.recovered ? "1" : "0"});
}

ItemLocation location_from_key(std::string_view key) {
  ItemLocation location;
  const std::vector<std::string> fields = unpack(key);
  if (fields.size() != 6) return location;
  location.container = fields[0];
  location.folder = fields[1];
  if (!fields[2].empty()) location.node_id = std::strtoull(fields[2].c_str(), nullptr, 10);
  location.item_id = fields[3];
  location.item_type = fields[4];
  location.recovered = fields[5] == "1";
  return location;
}

}  // namespace store_detail

namespace store_detail {

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string random_id() {
  static std::mutex mutex;
  static std::random_device device;
  static std::mt19937_64 generator(
      (static_cast<uint64_t>(device()) << 32) ^ device() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::lock_guard lock(mutex);
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(generator()),
                static_cast<unsigned long long>(generator()));
  return text;
}

}  // namespace store_detail

namespace {

std::string hex64(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// ---------------------------------------------------------------------------------------------
// Schema. Each migration takes the store from version i to i + 1 in one transaction; PRAGMA
// user_version says where a store is, schema_migrations when each step ran. README "Case
// store" documents the tables.

constexpr const char* kMigrations[] = {
    // 1: the case.
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL,
                               description TEXT NOT NULL);
CREATE TABLE scans(id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, finished_at INTEGER,
  state TEXT NOT NULL, rules_version TEXT NOT NULL, credsift_version TEXT NOT NULL,
  host TEXT NOT NULL, inputs TEXT NOT NULL, manifest TEXT NOT NULL DEFAULT '', shard INTEGER,
  messages_scanned INTEGER DEFAULT 0, messages_skipped INTEGER DEFAULT 0,
  messages_failed INTEGER DEFAULT 0, messages_known INTEGER DEFAULT 0,
  messages_outside_window INTEGER DEFAULT 0, bytes INTEGER DEFAULT 0, findings INTEGER DEFAULT 0,
  rejected INTEGER DEFAULT 0, files_failed INTEGER DEFAULT 0, elapsed_seconds REAL DEFAULT 0);
CREATE TABLE rules(rules_version TEXT NOT NULL, id TEXT NOT NULL, name TEXT, description TEXT,
  provider TEXT, category TEXT, severity INTEGER, confidence TEXT, rotation TEXT, refs TEXT,
  PRIMARY KEY(rules_version, id)) WITHOUT ROWID;
CREATE TABLE inputs(path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,
  first_scan TEXT NOT NULL, last_scan TEXT NOT NULL);
CREATE TABLE messages(key TEXT PRIMARY KEY, content_hash TEXT NOT NULL, size INTEGER NOT NULL,
  message_id TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
  rules_version TEXT NOT NULL, scanned_at INTEGER NOT NULL, scan TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE message_locations(file TEXT NOT NULL, offset INTEGER NOT NULL,
  location TEXT NOT NULL, message TEXT NOT NULL, idx INTEGER NOT NULL, scan TEXT NOT NULL,
  PRIMARY KEY(file, offset, location)) WITHOUT ROWID;
CREATE INDEX message_locations_message ON message_locations(message);
CREATE TABLE findings(file TEXT NOT NULL, offset INTEGER NOT NULL, location TEXT NOT NULL,
  part_path TEXT NOT NULL, line INTEGER NOT NULL, rule_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL, ticket TEXT NOT NULL, rules_version TEXT NOT NULL,
  message TEXT NOT NULL, idx INTEGER NOT NULL, provider TEXT NOT NULL, severity INTEGER NOT NULL,
  specificity INTEGER NOT NULL, evidence_rank INTEGER NOT NULL, secret TEXT NOT NULL,
  captures TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL, validator TEXT NOT NULL,
  confidence TEXT NOT NULL, evidence TEXT NOT NULL, message_id TEXT NOT NULL, date TEXT NOT NULL,
  date_epoch INTEGER, sender TEXT NOT NULL, recipients TEXT NOT NULL, cc TEXT NOT NULL,
  subject TEXT NOT NULL, scan TEXT NOT NULL,
  UNIQUE(file, offset, location, part_path, line, rule_id, fingerprint));
CREATE INDEX findings_ticket ON findings(ticket);
CREATE TABLE tickets(fingerprint TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, rule_id TEXT NOT NULL,
  provider TEXT NOT NULL, severity INTEGER NOT NULL, status TEXT NOT NULL,
  evidence_rank INTEGER NOT NULL, secret TEXT NOT NULL, occurrences INTEGER NOT NULL,
  messages INTEGER NOT NULL, first_seen INTEGER, last_seen INTEGER, undated INTEGER NOT NULL,
  triage TEXT NOT NULL DEFAULT 'open', triage_owner TEXT NOT NULL DEFAULT '',
  triage_note TEXT NOT NULL DEFAULT '', triage_at INTEGER);
CREATE INDEX tickets_view ON tickets(severity DESC, evidence_rank DESC, occurrences DESC, id);
CREATE TABLE ticket_domains(domain TEXT NOT NULL, fingerprint TEXT NOT NULL,
  PRIMARY KEY(domain, fingerprint)) WITHOUT ROWID;
CREATE TABLE triage_events(id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, at INTEGER NOT NULL,
  recorded_at INTEGER NOT NULL, status TEXT NOT NULL, previous TEXT NOT NULL,
  owner TEXT NOT NULL, note TEXT NOT NULL, actor TEXT NOT NULL);
CREATE INDEX triage_events_ticket ON triage_events(fingerprint, at);
)sql",
    // 2: reopening rotated tickets: the flag on the ticket and automatic events; triage filter.
    R"sql(
ALTER TABLE tickets ADD COLUMN reopened INTEGER NOT NULL DEFAULT 0;
ALTER TABLE triage_events ADD COLUMN automatic INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tickets_triage ON tickets(triage, severity DESC);
)sql",
    // 3: live verification results (scan --store --verify, tickets --verify), the latest per
    // credential.
    R"sql(
CREATE TABLE verifications(fingerprint TEXT PRIMARY KEY, state TEXT NOT NULL,
  reason TEXT NOT NULL, checked_at TEXT NOT NULL, endpoint TEXT NOT NULL, identity TEXT NOT NULL)
  WITHOUT ROWID;
)sql",
    // 4: no index of message locations by message: nothing reads one, and every message
    // scanned wrote to it (a merge built it anew).
    R"sql(
DROP INDEX message_locations_message;
)sql",
    // 5: findings and tickets keyed by their natural keys, WITHOUT ROWID: a finding by its
    // ticket and place (a ticket's findings lie together: no index of findings by ticket, and
    // a merge computes the tickets in the same pass that copies the findings), a ticket by its
    // fingerprint; and no index of ticket ids (an id is its fingerprint's first 16 hex digits:
    // looked up as a range of the key), nor of tickets by triage state (most are open: the
    // view's index, filtered, answers --triage open --severity high on 200,000 tickets in
    // 0.2 s, as fast). A finding and its ticket take three B-tree entries instead of eight.
    // Same columns, in the same order.
    R"sql(
CREATE TABLE findings_v5(file TEXT NOT NULL, offset INTEGER NOT NULL, location TEXT NOT NULL,
  part_path TEXT NOT NULL, line INTEGER NOT NULL, rule_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL, ticket TEXT NOT NULL, rules_version TEXT NOT NULL,
  message TEXT NOT NULL, idx INTEGER NOT NULL, provider TEXT NOT NULL, severity INTEGER NOT NULL,
  specificity INTEGER NOT NULL, evidence_rank INTEGER NOT NULL, secret TEXT NOT NULL,
  captures TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL, validator TEXT NOT NULL,
  confidence TEXT NOT NULL, evidence TEXT NOT NULL, message_id TEXT NOT NULL, date TEXT NOT NULL,
  date_epoch INTEGER, sender TEXT NOT NULL, recipients TEXT NOT NULL, cc TEXT NOT NULL,
  subject TEXT NOT NULL, scan TEXT NOT NULL,
  PRIMARY KEY(ticket, file, offset, location, part_path, line, rule_id, fingerprint))
  WITHOUT ROWID;
INSERT INTO findings_v5 SELECT * FROM findings ORDER BY ticket, file, offset, location,
  part_path, line, rule_id, fingerprint;
DROP TABLE findings;
ALTER TABLE findings_v5 RENAME TO findings;
CREATE TABLE tickets_v5(fingerprint TEXT PRIMARY KEY, id TEXT NOT NULL, rule_id TEXT NOT NULL,
  provider TEXT NOT NULL, severity INTEGER NOT NULL, status TEXT NOT NULL,
  evidence_rank INTEGER NOT NULL, secret TEXT NOT NULL, occurrences INTEGER NOT NULL,
  messages INTEGER NOT NULL, first_seen INTEGER, last_seen INTEGER, undated INTEGER NOT NULL,
  triage TEXT NOT NULL DEFAULT 'open', triage_owner TEXT NOT NULL DEFAULT '',
  triage_note TEXT NOT NULL DEFAULT '', triage_at INTEGER,
  reopened INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
INSERT INTO tickets_v5 SELECT * FROM tickets ORDER BY fingerprint;
DROP TABLE tickets;
ALTER TABLE tickets_v5 RENAME TO tickets;
CREATE INDEX tickets_view ON tickets(severity DESC, evidence_rank DESC, occurrences DESC, id);
)sql",
};
constexpr const char* kMigrationNames[] = {
    "the case: scans, rules, inputs, messages, findings, "
    "tickets, triage",
    "reopened tickets, automatic triage events", "verification results",
    "no index of message locations by message",
    "findings keyed by ticket and place, tickets by fingerprint, without rowids; no index of "
    "findings by ticket, of ticket ids or of tickets by triage"};
static_assert(std::size(kMigrations) == kStoreSchemaVersion);

// A new store gets the schema the migrations lead to in one step (one transaction, no table
// copied and renamed): the tables of migration 1 as migrations 2 to 5 left them. The
// schema_migrations rows are the same. StoreSchema.FreshStoreHasTheMigratedSchema compares
// the two, table by table, column by column, index by index.
constexpr const char* kFreshSchema = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL,
                               description TEXT NOT NULL);
CREATE TABLE scans(id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, finished_at INTEGER,
  state TEXT NOT NULL, rules_version TEXT NOT NULL, credsift_version TEXT NOT NULL,
  host TEXT NOT NULL, inputs TEXT NOT NULL, manifest TEXT NOT NULL DEFAULT '', shard INTEGER,
  messages_scanned INTEGER DEFAULT 0, messages_skipped INTEGER DEFAULT 0,
  messages_failed INTEGER DEFAULT 0, messages_known INTEGER DEFAULT 0,
  messages_outside_window INTEGER DEFAULT 0, bytes INTEGER DEFAULT 0, findings INTEGER DEFAULT 0,
  rejected INTEGER DEFAULT 0, files_failed INTEGER DEFAULT 0, elapsed_seconds REAL DEFAULT 0);
CREATE TABLE rules(rules_version TEXT NOT NULL, id TEXT NOT NULL, name TEXT, description TEXT,
  provider TEXT, category TEXT, severity INTEGER, confidence TEXT, rotation TEXT, refs TEXT,
  PRIMARY KEY(rules_version, id)) WITHOUT ROWID;
CREATE TABLE inputs(path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,
  first_scan TEXT NOT NULL, last_scan TEXT NOT NULL);
CREATE TABLE messages(key TEXT PRIMARY KEY, content_hash TEXT NOT NULL, size INTEGER NOT NULL,
  message_id TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
  rules_version TEXT NOT NULL, scanned_at INTEGER NOT NULL, scan TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE message_locations(file TEXT NOT NULL, offset INTEGER NOT NULL,
  location TEXT NOT NULL, message TEXT NOT NULL, idx INTEGER NOT NULL, scan TEXT NOT NULL,
  PRIMARY KEY(file, offset, location)) WITHOUT ROWID;
CREATE TABLE ticket_domains(domain TEXT NOT NULL, fingerprint TEXT NOT NULL,
  PRIMARY KEY(domain, fingerprint)) WITHOUT ROWID;
CREATE TABLE triage_events(id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, at INTEGER NOT NULL,
  recorded_at INTEGER NOT NULL, status TEXT NOT NULL, previous TEXT NOT NULL,
  owner TEXT NOT NULL, note TEXT NOT NULL, actor TEXT NOT NULL,
  automatic INTEGER NOT NULL DEFAULT 0);
CREATE INDEX triage_events_ticket ON triage_events(fingerprint, at);
CREATE TABLE verifications(fingerprint TEXT PRIMARY KEY, state TEXT NOT NULL,
  reason TEXT NOT NULL, checked_at TEXT NOT NULL, endpoint TEXT NOT NULL, identity TEXT NOT NULL)
  WITHOUT ROWID;
CREATE TABLE findings(file TEXT NOT NULL, offset INTEGER NOT NULL, location TEXT NOT NULL,
  part_path TEXT NOT NULL, line INTEGER NOT NULL, rule_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL, ticket TEXT NOT NULL, rules_version TEXT NOT NULL,
  message TEXT NOT NULL, idx INTEGER NOT NULL, provider TEXT NOT NULL, severity INTEGER NOT NULL,
  specificity INTEGER NOT NULL, evidence_rank INTEGER NOT NULL, secret TEXT NOT NULL,
  captures TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL, validator TEXT NOT NULL,
  confidence TEXT NOT NULL, evidence TEXT NOT NULL, message_id TEXT NOT NULL, date TEXT NOT NULL,
  date_epoch INTEGER, sender TEXT NOT NULL, recipients TEXT NOT NULL, cc TEXT NOT NULL,
  subject TEXT NOT NULL, scan TEXT NOT NULL,
  PRIMARY KEY(ticket, file, offset, location, part_path, line, rule_id, fingerprint))
  WITHOUT ROWID;
CREATE TABLE tickets(fingerprint TEXT PRIMARY KEY, id TEXT NOT NULL, rule_id TEXT NOT NULL,
  provider TEXT NOT NULL, severity INTEGER NOT NULL, status TEXT NOT NULL,
  evidence_rank INTEGER NOT NULL, secret TEXT NOT NULL, occurrences INTEGER NOT NULL,
  messages INTEGER NOT NULL, first_seen INTEGER, last_seen INTEGER, undated INTEGER NOT NULL,
  triage TEXT NOT NULL DEFAULT 'open', triage_owner TEXT NOT NULL DEFAULT '',
  triage_note TEXT NOT NULL DEFAULT '', triage_at INTEGER,
  reopened INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE INDEX tickets_view ON tickets(severity DESC, evidence_rank DESC, occurrences DESC, id);
)sql";

void migrate(sqlite3* db, const std::string& path, int target) {
  for (;;) {
    Transaction transaction(db, path);
    Statement version(db, path, "PRAGMA user_version");
    version.step();
    const int current = static_cast<int>(version.integer(0));
    version.reset();
    if (current > kStoreSchemaVersion)
      throw StoreError(path + ": schema version " + std::to_string(current) +
                       " is newer than this credsift's (" + std::to_string(kStoreSchemaVersion) +
                       "): refused");
    if (current >= target) return;
    if (current == 0) {
      // A fresh file, or some other SQLite database: refuse to write our tables into that.
      Statement tables(db, path, "SELECT count(*) FROM sqlite_master");
      tables.step();
      const int64_t count = tables.integer(0);
      tables.reset();
      if (count != 0)
        throw StoreError(path + ": a SQLite database that is not a credsift case store");
    }
    // A new store at the current version: every step at once.
    const int reached = current == 0 && target == kStoreSchemaVersion ? target : current + 1;
    exec(db, path, reached == current + 1 ? kMigrations[current] : kFreshSchema);
    Statement record(db, path,
                     "INSERT INTO schema_migrations(version, applied_at, description) "
                     "VALUES(?, ?, ?)");
    const int64_t now = now_seconds();
    for (int step = current; step < reached; ++step)
      record.bind(1, step + 1).bind(2, now).bind(3, kMigrationNames[step]).run();
    if (current == 0)
      exec(db, path,
           "INSERT INTO meta(key, value) VALUES('application', 'credsift case store'),"
           "('created_at', strftime('%s','now'))");
    const std::string set = "PRAGMA user_version = " + std::to_string(reached);
    exec(db, path, set.c_str());
    transaction.commit();
  }
}

// `empty`: set when the file had no bytes yet (a store being created).
sqlite3* open_database(const std::string& path, const StoreOptions& options,
                       bool* empty = nullptr) {
  if (!options.read_only) {
    // Created 0600 through our own open, never through a symbolic link, before SQLite opens
    // it (SQLITE_OPEN_NOFOLLOW below covers a swap in between).
    const int flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | (options.create ? O_CREAT : 0);
    const int fd = ::open(path.c_str(), flags, 0600);
    if (fd < 0) {
      if (errno == ELOOP) throw StoreError(path + ": a symbolic link: refused as a case store");
      throw StoreError(path + ": cannot open the case store: " + std::strerror(errno));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw StoreError(path + ": not a regular file");
    }
    if (empty) *empty = st.st_size == 0;
    ::fchmod(fd, 0600);
    ::close(fd);
  } else {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0)
      throw StoreError(path + ": missing (" + std::strerror(errno) + ")");
    if (S_ISLNK(st.st_mode)) throw StoreError(path + ": a symbolic link: refused as a case store");
    if (!S_ISREG(st.st_mode)) throw StoreError(path + ": not a regular file");
  }
  // No memory statistics (nothing reads them): SQLite otherwise takes a global mutex on every
  // allocation, about 3% of a merge's or a scan's store thread. Only before SQLite's first use
  // in the process (a later call is refused and changes nothing); the store is its only user.
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
  sqlite3* db = nullptr;
  // URIs on (merge attaches its shards read-only through "file:...?mode=ro"); a store whose
  // own name starts with "file:" is opened as the relative path it is.
  const int flags =
      (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOFOLLOW |
      (options.one_thread ? SQLITE_OPEN_NOMUTEX : SQLITE_OPEN_FULLMUTEX) | SQLITE_OPEN_URI;
  const std::string name = path.starts_with("file:") ? "./" + path : path;
  if (sqlite3_open_v2(name.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw StoreError(path + ": cannot open the case store: " + message);
  }
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  sqlite3_extended_result_codes(db, 1);
  return db;
}

ValidationStatus parse_status(std::string_view text) {
  for (int i = 0; i <= static_cast<int>(ValidationStatus::Partial); ++i)
    if (to_string(static_cast<ValidationStatus>(i)) == text)
      return static_cast<ValidationStatus>(i);
  return ValidationStatus::Unverified;
}

std::string pack_pairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::vector<std::string> fields;
  for (const auto& [name, value] : pairs) {
    fields.push_back(name);
    fields.push_back(value);
  }
  return pack(fields);
}

std::vector<std::pair<std::string, std::string>> unpack_pairs(std::string_view packed) {
  const std::vector<std::string> fields = unpack(packed);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) pairs.emplace_back(fields[i], fields[i + 1]);
  return pairs;
}

}  // namespace

std::string rules_version(const RuleSet& rules) {
  std::vector<std::string> ids;
  for (const Rule& rule : rules.rules) ids.push_back(rule.id);
  std::sort(ids.begin(), ids.end());
  std::string text = rules.digest;
  for (const std::string& id : ids) text += "\n" + id;
  return fingerprint(text);
}

std::string header_message_id(std::string_view message) {
  const size_t limit = std::min<size_t>(message.size(), 1 << 20);
  size_t line = 0;
  while (line < limit) {
    size_t end = message.find('\n', line);
    if (end == std::string_view::npos || end > limit) end = limit;
    std::string_view text = message.substr(line, end - line);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.empty()) break;  // end of the header block
    constexpr std::string_view kName = "message-id:";
    if (text.size() >= kName.size() &&
        std::equal(kName.begin(), kName.end(), text.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      std::string value(text.substr(kName.size()));
      // Folded continuation lines belong to the value.
      size_t next = end + 1;
      while (next < limit && (message[next] == ' ' || message[next] == '\t') &&
             value.size() < 998) {
        size_t stop = message.find('\n', next);
        if (stop == std::string_view::npos || stop > limit) stop = limit;
        value.append(message.substr(next, stop - next));
        next = stop + 1;
      }
      const size_t first = value.find_first_not_of(" \t\r");
      const size_t last = value.find_last_not_of(" \t\r");
      if (first == std::string::npos) return {};
      value = value.substr(first, last - first + 1);
      if (value.size() > 998) value.resize(998);
      return value;
    }
    line = end + 1;
  }
  return {};
}

MessageIdentity message_identity(std::string_view bytes) {
  MessageIdentity identity;
  const XXH128_hash_t hash = XXH3_128bits(bytes.data(), bytes.size());
  identity.content_hash = hex64(hash.high64) + hex64(hash.low64);
  identity.size = bytes.size();
  identity.message_id = header_message_id(bytes);
  identity.key = identity.content_hash + ":" + std::to_string(identity.size) + ":" +
                 hex64(XXH3_64bits(identity.message_id.data(), identity.message_id.size()));
  return identity;
}

// ---------------------------------------------------------------------------------------------

struct CaseStore::Impl {
  std::string path;
  StoreOptions options;
  sqlite3* db = nullptr;
  bool created = false;  // the file was empty: laid out by this open
  ~Impl() { sqlite3_close(db); }
};

CaseStore::CaseStore(const std::string& path, const StoreOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->options = options;
  bool empty = false;
  impl_->db = open_database(path, options, &empty);
  impl_->created = empty;
  if (!options.read_only) {
    // A new store is laid out without syncs (the switch to WAL and the migrations took six,
    // 30 ms here, a sixth of a 100 MB scan): it holds nothing to lose yet, and a power cut
    // then leaves an empty file (laid out again) or one refused on open, never part of a case.
    if (empty) exec(impl_->db, path, "PRAGMA synchronous=OFF");
    // 16 KB pages (SQLite's default is 4 KB): a scan's batches write and checkpoint a quarter
    // as many pages (on a 100 MB scan about 4 ms less CPU of the store's 60); a small case
    // grows from 180 to 370 KB. Merged cases have 64 KB pages (merge.cpp).
    if (empty) exec(impl_->db, path, "PRAGMA page_size=16384");
    // WAL: readers (tickets) never block the writer; NORMAL sync is durable at checkpoints
    // and never corrupts in WAL mode.
    Statement journal(impl_->db, path, "PRAGMA journal_mode=WAL");
    journal.step();
    journal.reset();
    exec(impl_->db, path, "PRAGMA foreign_keys=OFF");
    migrate(impl_->db, path, kStoreSchemaVersion);
    exec(impl_->db, path, "PRAGMA synchronous=NORMAL");
  } else {
    const int version = schema_version();
    if (version != kStoreSchemaVersion)
      throw StoreError(path + ": schema version " + std::to_string(version) + ", expected " +
                       std::to_string(kStoreSchemaVersion) +
                       " (not a case store of this credsift)");
  }
}

CaseStore::~CaseStore() = default;
const std::string& CaseStore::path() const { return impl_->path; }
void* CaseStore::handle() { return impl_->db; }

int CaseStore::schema_version() const {
  Statement version(impl_->db, impl_->path, "PRAGMA user_version");
  version.step();
  return static_cast<int>(version.integer(0));
}

std::string CaseStore::rules_version() const {
  Statement query(impl_->db, impl_->path,
                  "SELECT rules_version FROM scans ORDER BY started_at DESC, id LIMIT 1");
  return query.step() ? query.text(0) : std::string();
}

std::vector<std::pair<uint64_t, uint64_t>> CaseStore::own_files() const {
  std::vector<std::pair<uint64_t, uint64_t>> files;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    struct stat st {};
    if (::stat((impl_->path + suffix).c_str(), &st) == 0) files.emplace_back(st.st_dev, st.st_ino);
  }
  return files;
}

std::string CaseStore::integrity_check() {
  Statement check(impl_->db, impl_->path, "PRAGMA integrity_check");
  std::string result;
  while (check.step()) {
    if (!result.empty()) result += "; ";
    result += check.text(0);
  }
  return result;
}

CaseStore::Counts CaseStore::counts() {
  Counts counts;
  const auto count = [&](const char* sql) {
    Statement query(impl_->db, impl_->path, sql);
    query.step();
    return static_cast<uint64_t>(query.integer(0));
  };
  counts.messages = count("SELECT count(*) FROM messages");
  counts.locations = count("SELECT count(*) FROM message_locations");
  counts.findings = count("SELECT count(*) FROM findings");
  counts.tickets = count("SELECT count(*) FROM tickets");
  counts.scans = count("SELECT count(*) FROM scans");
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Tickets: their aggregates are recomputed from the findings of the tickets a transaction
// touched (listed in temp.touched), so that a rescan, a merge and a merge repeated all give the
// same rows. The naming finding: most specific rule, best evidence, then the first by place.

namespace store_detail {

// The tickets a transaction touched, with the newest mail date among the findings it added.
const char* const kTouchedTable =
    "CREATE TEMP TABLE IF NOT EXISTS touched(fingerprint TEXT PRIMARY KEY, newest INTEGER) "
    "WITHOUT ROWID";
const char* const kTouch =
    "INSERT INTO temp.touched(fingerprint, newest) VALUES(?, ?) ON CONFLICT(fingerprint) DO "
    "UPDATE SET newest = max(coalesce(newest, excluded.newest), coalesce(excluded.newest, "
    "newest))";

namespace {

// 16 times what a report shows (kReportHeaderBytes): reports cut it again to their own length.
constexpr size_t kStoredSubjectBytes = 16 * kReportHeaderBytes;

constexpr const char* kUpsertTicket = R"sql(
INSERT INTO tickets(fingerprint, id, rule_id, provider, severity, status, evidence_rank, secret,
                    occurrences, messages, first_seen, last_seen, undated)
VALUES(?1, 'cs-' || substr(?1, 8, 16), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
ON CONFLICT(fingerprint) DO UPDATE SET
  rule_id = excluded.rule_id, provider = excluded.provider, severity = excluded.severity,
  status = excluded.status, evidence_rank = excluded.evidence_rank, secret = excluded.secret,
  occurrences = excluded.occurrences, messages = excluded.messages,
  first_seen = excluded.first_seen, last_seen = excluded.last_seen, undated = excluded.undated
)sql";

// The findings of the touched tickets, ticket by ticket (their key's first column), with what
// a ticket row is computed from.
constexpr const char* kTouchedFindings = R"sql(
SELECT ticket, fingerprint, specificity, evidence_rank, file, offset, location, part_path, line,
       rule_id, provider, severity, status, secret, date_epoch
FROM findings WHERE ticket IN (SELECT fingerprint FROM temp.touched) ORDER BY ticket
)sql";

// One ticket's row, aggregated over its findings in one pass.
struct TicketAggregate {
  struct Place {
    std::string file, location, part_path, rule_id;
    int64_t offset = 0, line = 0, specificity = 0, evidence_rank = 0;
    // Most specific rule, best evidence, then the first by place.
    bool better_than(const Place& other) const {
      if (specificity != other.specificity) return specificity > other.specificity;
      if (evidence_rank != other.evidence_rank) return evidence_rank > other.evidence_rank;
      return std::tie(file, offset, location, part_path, line, rule_id) <
             std::tie(other.file, other.offset, other.location, other.part_path, other.line,
                      other.rule_id);
    }
  };
  std::string ticket;
  int64_t occurrences = 0;
  std::set<std::tuple<std::string, int64_t, std::string>> messages;  // (file, offset, location)
  std::optional<int64_t> first_seen, last_seen;
  bool undated = false;
  bool named = false;  // a finding of the ticket's own fingerprint names it
  Place naming;
  std::string provider, status, secret;
  int64_t severity = 0;
};

// Recomputes the rows of the tickets in temp.touched from their findings, in one ordered pass
// (a correlated subquery per ticket read every finding's row twice, at random places).
void refresh_ticket_rows(sqlite3* db, const std::string& path) {
  Statement findings(db, path, kTouchedFindings);
  Statement upsert(db, path, kUpsertTicket);
  TicketAggregate current;
  const auto flush = [&] {
    // A ticket none of whose findings carries its own fingerprint has no row (never made).
    if (current.ticket.empty() || !current.named) return;
    upsert.bind(1, current.ticket)
        .bind(2, current.naming.rule_id)
        .bind(3, current.provider)
        .bind(4, current.severity)
        .bind(5, current.status)
        .bind(6, current.naming.evidence_rank)
        .bind(7, current.secret)
        .bind(8, current.occurrences)
        .bind(9, static_cast<int64_t>(current.messages.size()))
        .bind(10, current.first_seen)
        .bind(11, current.last_seen)
        .bind(12, current.undated)
        .run();
  };
  while (findings.step()) {
    std::string ticket = findings.text(0);
    if (ticket != current.ticket) {
      flush();
      current = TicketAggregate();
      current.ticket = std::move(ticket);
    }
    TicketAggregate::Place place;
    place.specificity = findings.integer(2);
    place.evidence_rank = findings.integer(3);
    place.file = findings.text(4);
    place.offset = findings.integer(5);
    place.location = findings.text(6);
    place.part_path = findings.text(7);
    place.line = findings.integer(8);
    place.rule_id = findings.text(9);
    ++current.occurrences;
    current.messages.emplace(place.file, place.offset, place.location);
    if (const auto date = findings.optional_integer(14)) {
      current.first_seen = current.first_seen ? std::min(*current.first_seen, *date) : *date;
      current.last_seen = current.last_seen ? std::max(*current.last_seen, *date) : *date;
    } else {
      current.undated = true;
    }
    if (findings.text(1) == current.ticket &&
        (!current.named || place.better_than(current.naming))) {
      current.named = true;
      current.naming = std::move(place);
      current.provider = findings.text(10);
      current.severity = findings.integer(11);
      current.status = findings.text(12);
      current.secret = findings.text(13);
    }
  }
  flush();
}

}  // namespace

// Reopens rotated tickets seen again (a finding added now) in mail dated after their
// rotation; returns how many.
uint64_t refresh_touched_tickets(sqlite3* db, const std::string& path) {
  refresh_ticket_rows(db, path);
  Statement reopen(db, path,
                   "SELECT t.fingerprint FROM tickets AS t JOIN temp.touched AS n ON "
                   "n.fingerprint = t.fingerprint WHERE t.triage = 'rotated' AND "
                   "n.newest > t.triage_at");
  std::vector<std::string> reopened;
  while (reopen.step()) reopened.push_back(reopen.text(0));
  Statement event(db, path,
                  "INSERT INTO triage_events(id, fingerprint, at, recorded_at, status, previous, "
                  "owner, note, actor, automatic) VALUES(?, ?, ?, ?, 'open', 'rotated', '', "
                  "'seen again in mail dated after its rotation', 'credsift scan', 1)");
  Statement update(db, path,
                   "UPDATE tickets SET triage = 'open', reopened = 1, triage_at = ?, "
                   "triage_note = 'seen again in mail dated after its rotation' "
                   "WHERE fingerprint = ?");
  const int64_t now = now_seconds();
  for (const std::string& fp : reopened) {
    event.bind(1, random_id()).bind(2, fp).bind(3, now).bind(4, now).run();
    update.bind(1, now).bind(2, fp).run();
  }
  exec(db, path, "DELETE FROM temp.touched");
  return reopened.size();
}

}  // namespace store_detail

// ---------------------------------------------------------------------------------------------
// Recording a scan.

struct KeyHash {
  size_t operator()(const std::pair<uint64_t, uint64_t>& key) const {
    return static_cast<size_t>(key.first ^ (key.second * 0x9E3779B97F4A7C15ull));
  }
};

namespace {
// An error that already names the message it was recording.
struct NamedStoreError : StoreError {
  using StoreError::StoreError;
};
}  // namespace

// One message as the writer thread records it, copied out of the pipeline's result (gone once
// the emit stage moves on). Identity, state and reason are settled on the emitting side; the
// rest (redaction, dates, addresses, SQL) is the writer's.
struct StoredMessage {
  std::shared_ptr<const std::string> file;  // null: standard input
  uint64_t offset = 0, index = 0, size = 0;
  ItemLocation location;
  std::string key, message_id, reason;
  std::string_view state;  // a literal
  bool skipped = false;
  std::vector<Finding> findings;  // the reported ones (rejected findings are never stored)
};

// Messages handed to the writer at once, and chunks queued at most: the emit stage waits when
// the writer is this far behind (bounded memory), and takes a lock once per chunk.
constexpr size_t kChunkMessages = 128;
constexpr size_t kQueuedChunks = 16;

struct StoreScan::Impl {
  CaseStore::Impl& store;
  std::string scan_id, rules_version;
  ScanRecord record;
  // Set when the scan began while the rules were loading: the writer takes them (waiting for
  // the load) and starts the scan's rows before its first message.
  std::function<const RuleSet&()> pending_rules;
  // Of the rules version; read by the workers without a lock: filled by start() before the
  // scan begins, or left empty (a new case, whose start() runs on the writer thread).
  std::unordered_set<std::pair<uint64_t, uint64_t>, KeyHash> known;
  std::unique_ptr<Transaction> transaction;
  std::unique_ptr<Statement> insert_message, insert_location, insert_finding, insert_domain,
      insert_touched, insert_input, insert_rule;
  std::unordered_set<const Rule*> rules_stored;  // by this scan
  std::vector<StoredMessage> pending;            // the batch's messages, rows not yet written
  uint64_t batch_messages = 0, reopened = 0;
  int64_t batch_time = 0;  // scanned_at of the batch's messages
  std::chrono::steady_clock::time_point batch_started;
  std::shared_ptr<const std::string> last_file;
  bool store_secrets = false;

  // The writer thread owns the connection from begin_scan until finish (or destruction); the
  // emit stage only fills `chunk` and queues it.
  std::thread writer;
  // Copies the finished scan's WAL into the database on a connection of its own while the
  // scan writes its reports (joined before the store closes).
  std::thread checkpointer;
  std::mutex mutex;
  std::condition_variable wake_writer, wake_emitter;
  std::deque<std::vector<StoredMessage>> queue;
  bool closing = false, abandon = false;
  std::atomic<bool> failed{false};
  std::exception_ptr failure;
  std::vector<StoredMessage> chunk;
  std::chrono::steady_clock::time_point chunk_started;

  Impl(CaseStore::Impl& s, const ScanRecord& scan_record)
      : store(s),
        scan_id(random_id()),
        record(scan_record),
        store_secrets(s.options.store_secrets) {
    chunk.reserve(kChunkMessages);
  }
  void start_writer() {
    writer = std::thread([this] { run_writer(); });
  }
  // Destroyed without finish (the scan failed): the writer stops where it is, and its
  // unfinished batch rolls back; the scan stays 'running'.
  ~Impl() {
    stop_writer(true);
    if (checkpointer.joinable()) checkpointer.join();
  }
  sqlite3* db() { return store.db; }
  const std::string& path() { return store.path; }

  void begin_batch() {
    transaction = std::make_unique<Transaction>(db(), path());
    batch_messages = 0;
    batch_started = std::chrono::steady_clock::now();
    batch_time = now_seconds();
  }
  void commit_batch() {
    if (!transaction) return;
    write_messages();
    reopened += refresh_touched_tickets(db(), path());
    transaction->commit();
    transaction.reset();
  }

  void start(const RuleSet& rules, bool load_known);
  void write(StoredMessage& message);
  void write_messages();
  void run_writer();
  void hand_over();
  void stop_writer(bool abandoning);
  [[noreturn]] void rethrow() { std::rethrow_exception(failure); }
};

void StoreScan::Impl::run_writer() {
  const StoredMessage* current = nullptr;
  // Outside the try: the handler below still reads the message that failed.
  std::vector<StoredMessage> next;
  try {
    if (pending_rules) start(pending_rules(), false);  // throws the rules' load error
    for (;;) {
      {
        std::unique_lock lock(mutex);
        const auto ready = [&] { return !queue.empty() || closing || abandon; };
        // Waiting with a batch open holds the write lock: when the scan goes quiet (a slow
        // input), the batch is committed at its half second, so that triage can write.
        while (transaction && !ready()) {
          if (wake_writer.wait_until(lock, batch_started + std::chrono::milliseconds(500), ready))
            break;
          lock.unlock();
          commit_batch();
          lock.lock();
        }
        wake_writer.wait(lock, ready);
        if (abandon || queue.empty()) return;
        next = std::move(queue.front());
        queue.pop_front();
      }
      wake_emitter.notify_one();
      for (StoredMessage& message : next) {
        current = &message;
        write(message);
      }
      current = nullptr;
    }
  } catch (...) {
    std::exception_ptr error = std::current_exception();
    if (current) try {
        std::rethrow_exception(error);
      } catch (const NamedStoreError&) {
      } catch (const StoreError& store_error) {
        // Which message it was: the place a person can look at.
        error = std::make_exception_ptr(StoreError(
            std::string(store_error.what()) + " (recording the message " +
            std::to_string(current->index) + " of " + (current->file ? *current->file : "-") +
            " at offset " + std::to_string(current->offset) + ")"));
      } catch (...) {
      }
    transaction.reset();  // the unfinished batch rolls back: the case stays consistent
    std::lock_guard lock(mutex);
    failure = error;
    failed = true;
    queue.clear();
    wake_emitter.notify_all();
  }
}

// Queues the emit stage's chunk, waiting while the queue is full; throws the writer's error.
void StoreScan::Impl::hand_over() {
  if (chunk.empty()) return;
  {
    std::unique_lock lock(mutex);
    wake_emitter.wait(lock, [&] { return queue.size() < kQueuedChunks || failed; });
    if (!failed) {
      queue.push_back(std::move(chunk));
      chunk = {};
      chunk.reserve(kChunkMessages);
    }
  }
  if (failed) rethrow();
  wake_writer.notify_one();
}

void StoreScan::Impl::stop_writer(bool abandoning) {
  if (!writer.joinable()) return;
  {
    std::lock_guard lock(mutex);
    closing = true;
    abandon = abandoning;
  }
  wake_writer.notify_one();
  writer.join();
}

StoreScan::StoreScan(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StoreScan::~StoreScan() = default;  // an unfinished batch rolls back; the scan stays 'running'
uint64_t StoreScan::reopened() const { return impl_->reopened; }

static std::pair<uint64_t, uint64_t> key_hash(const std::string& key) {
  const XXH128_hash_t hash = XXH3_128bits(key.data(), key.size());
  return {hash.high64, hash.low64};
}

// The scan's rows that need the rules (its scans row, the rules, the known messages) and the
// statements of every message; on the writer thread when the rules were still loading.
void StoreScan::Impl::start(const RuleSet& rules, bool load_known) {
  Impl* scan = this;
  scan->rules_version = credsift::rules_version(rules);
  sqlite3* db = store.db;
  const std::string& path = store.path;
  // A 64 MB page cache (default 2 MB): the unique indexes of a big case stay in memory.
  exec(db, path, "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY");
  exec(db, path, kTouchedTable);
  {
    // Committed on its own: a scan interrupted from here on stays 'running'.
    Transaction transaction(db, path);
    char host[256] = "";
    ::gethostname(host, sizeof host - 1);
    std::vector<std::string> inputs = record.inputs;
    Statement insert(db, path,
                     "INSERT INTO scans(id, started_at, state, rules_version, credsift_version, "
                     "host, inputs, manifest, shard) VALUES(?, ?, 'running', ?, ?, ?, ?, ?, ?)");
    insert.bind(1, scan->scan_id)
        .bind(2, now_seconds())
        .bind(3, scan->rules_version)
        .bind(4, CREDSIFT_STORE_VERSION)
        .bind(5, host)
        .bind(6, pack(inputs))
        .bind(7, record.manifest_digest)
        .bind(8, record.shard ? std::optional<int64_t>(static_cast<int64_t>(*record.shard))
                              : std::nullopt)
        .run();
    transaction.commit();
  }
  // The rules are stored as their findings come (write): the rows the tickets are rebuilt
  // from, not the ~1,000 rules of the set (about 100 pages written and checkpointed, most of
  // a small scan's store).
  insert_rule = std::make_unique<Statement>(
      db, path,
      "INSERT OR IGNORE INTO rules(rules_version, id, name, description, provider, category, "
      "severity, confidence, rotation, refs) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert_rule->bind_without_copies();
  // Messages already scanned with these rules are skipped: their keys, read once, are
  // looked up from every worker without a lock.
  if (load_known) {
    Statement known(db, path,
                    "SELECT key FROM messages WHERE rules_version = ? AND state IN ('scanned', "
                    "'failed')");
    known.bind(1, scan->rules_version);
    while (known.step()) scan->known.insert(key_hash(known.text(0)));
  }

  scan->insert_message = std::make_unique<Statement>(
      db, path,
      "INSERT INTO messages(key, content_hash, size, message_id, state, reason, rules_version, "
      "scanned_at, scan) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
      "state = excluded.state, reason = excluded.reason, rules_version = excluded.rules_version, "
      "scanned_at = excluded.scanned_at, scan = excluded.scan WHERE excluded.state <> 'known'");
  scan->insert_location = std::make_unique<Statement>(
      db, path,
      "INSERT OR IGNORE INTO message_locations(file, offset, location, message, idx, scan) "
      "VALUES(?, ?, ?, ?, ?, ?)");
  scan->insert_finding = std::make_unique<Statement>(
      db, path,
      "INSERT OR IGNORE INTO findings(file, offset, location, part_path, line, rule_id, "
      "fingerprint, ticket, rules_version, message, idx, provider, severity, specificity, "
      "evidence_rank, secret, captures, status, reason, validator, confidence, evidence, "
      "message_id, date, date_epoch, sender, recipients, cc, subject, scan) VALUES(?, ?, ?, ?, "
      "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  scan->insert_domain = std::make_unique<Statement>(
      db, path, "INSERT OR IGNORE INTO ticket_domains(domain, fingerprint) VALUES(?, ?)");
  scan->insert_touched = std::make_unique<Statement>(db, path, kTouch);
  // The statements of every message: bound and run in one expression each (on_message).
  for (Statement* statement :
       {scan->insert_message.get(), scan->insert_location.get(), scan->insert_finding.get(),
        scan->insert_domain.get(), scan->insert_touched.get()})
    statement->bind_without_copies();
  scan->insert_input = std::make_unique<Statement>(
      db, path,
      "INSERT INTO inputs(path, size, mtime_ns, first_scan, last_scan) VALUES(?, ?, ?, ?, ?) "
      "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
      "last_scan = excluded.last_scan");
}

std::unique_ptr<StoreScan> CaseStore::begin_scan(const RuleSet& rules, const ScanRecord& record) {
  if (impl_->options.read_only) throw StoreError(impl_->path + ": opened read-only");
  auto scan = std::make_unique<StoreScan::Impl>(*impl_, record);
  scan->start(rules, true);
  scan->start_writer();
  return std::unique_ptr<StoreScan>(new StoreScan(std::move(scan)));
}

std::unique_ptr<StoreScan> CaseStore::begin_scan(std::function<const RuleSet&()> pending_rules,
                                                 const ScanRecord& record) {
  if (impl_->options.read_only) throw StoreError(impl_->path + ": opened read-only");
  if (has_messages()) return begin_scan(pending_rules(), record);
  auto scan = std::make_unique<StoreScan::Impl>(*impl_, record);
  scan->pending_rules = std::move(pending_rules);
  scan->start_writer();
  return std::unique_ptr<StoreScan>(new StoreScan(std::move(scan)));
}

bool CaseStore::has_messages() {
  Statement any(impl_->db, impl_->path, "SELECT EXISTS(SELECT 1 FROM messages)");
  any.step();
  return any.integer(0) != 0;
}

bool CaseStore::created() const { return impl_->created; }

void StoreScan::attach(ScanOptions& options) {
  // The hook runs on the workers, and before the rules are loaded: a scan begun while they
  // load has no known messages (its set stays empty), and the workers still hash each message.
  options.known = [this](const Message& message, MessageResult& result) {
    return known(message, result);
  };
  options.on_message = [this](const Message& message, const MessageResult& result) {
    on_message(message, result);
  };
}

// Runs on the scan's workers while the message's bytes are hot: the identity (and the
// Message-ID the store records) travel in case_key as "KEY\nMESSAGE-ID", so that the store's
// serial writer never reads the message again (its pages may have been dropped by then).
bool StoreScan::known(const Message& message, MessageResult& result) {
  MessageIdentity identity = message_identity(message.bytes);
  const bool seen = impl_->known.count(key_hash(identity.key)) > 0;
  result.case_key = std::move(identity.key);
  result.case_key += '\n';
  result.case_key += identity.message_id;
  return seen;
}

// Runs in the pipeline's serial emit stage: settles the message's identity and state, copies
// what the writer needs, and queues it; the writer thread does the rest.
void StoreScan::on_message(const Message& message, const MessageResult& result) {
  Impl& s = *impl_;
  if (s.failed) s.rethrow();
  StoredMessage stored;
  stored.file = message.origin.file;
  stored.offset = message.origin.offset;
  stored.index = message.origin.index;
  stored.size = message.bytes.size();
  stored.location = message.origin.location;
  stored.skipped = !message.skip_reason.empty();
  // Skipped messages (too large) were never hashed: their identity is their place.
  if (const size_t newline = result.case_key.find('\n'); newline != std::string::npos) {
    stored.key = result.case_key.substr(0, newline);
    stored.message_id = result.case_key.substr(newline + 1);
  } else if (!stored.skipped) {
    MessageIdentity identity = message_identity(message.bytes);  // a failed message
    stored.key = std::move(identity.key);
    stored.message_id = std::move(identity.message_id);
  } else {
    stored.key = "skipped:" + (stored.file ? *stored.file : std::string("-")) + ":" +
                 std::to_string(message.origin.offset) + ":" +
                 location_key(message.origin.location);
    stored.message_id = header_message_id(message.bytes);
  }
  stored.state = stored.skipped          ? "skipped"
                 : result.known          ? "known"
                 : result.failed         ? "failed"
                 : result.outside_window ? "outside-window"
                                         : "scanned";
  stored.reason = stored.skipped ? message.skip_reason : result.failure;
  for (const Finding& finding : result.findings)
    if (finding.validation.status != ValidationStatus::Rejected) stored.findings.push_back(finding);
  const auto now = std::chrono::steady_clock::now();
  if (s.chunk.empty()) s.chunk_started = now;
  s.chunk.push_back(std::move(stored));
  if (s.chunk.size() >= kChunkMessages || now - s.chunk_started > std::chrono::milliseconds(100))
    s.hand_over();
}

void StoreScan::Impl::write(StoredMessage& message) {
  Impl& s = *this;
  if (!s.transaction) s.begin_batch();
  const std::string file = message.file ? *message.file : "-";
  if (message.file && message.file != s.last_file) {
    s.last_file = message.file;
    struct stat st {};
    const bool have = ::stat(file.c_str(), &st) == 0;
    s.insert_input->bind(1, file)
        .bind(2, have ? static_cast<int64_t>(st.st_size) : 0)
        .bind(3,
              have ? static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec : 0)
        .bind(4, s.scan_id)
        .bind(5, s.scan_id)
        .run();
  }
  const std::string& key = message.key;
  const std::string location = location_key(message.location);
  s.insert_location->bind(1, file)
      .bind(2, message.offset)
      .bind(3, location)
      .bind(4, key)
      .bind(5, message.index)
      .bind(6, s.scan_id)
      .run();

  // An AWS key id rides on the AWS secret of the same message (as TicketBuilder does).
  std::string aws_ticket;
  for (const Finding& finding : message.findings)
    if (finding.rule->provider == "aws" && finding.rule->id != "aws.access_key_id") {
      aws_ticket = finding.fingerprint;
      break;
    }
  for (const Finding& finding : message.findings) {
    if (s.rules_stored.insert(finding.rule).second) {
      const Rule& rule = *finding.rule;
      s.insert_rule->bind(1, s.rules_version)
          .bind(2, rule.id)
          .bind(3, rule.name)
          .bind(4, rule.description)
          .bind(5, rule.provider)
          .bind(6, rule.category)
          .bind(7, static_cast<int>(rule.severity))
          .bind(8, rule.confidence)
          .bind(9, rule.rotation)
          .bind(10, pack(rule.references))
          .run();
    }
    const std::string& ticket = (!aws_ticket.empty() && finding.rule->id == "aws.access_key_id")
                                    ? aws_ticket
                                    : finding.fingerprint;
    const bool clear = s.store_secrets;
    const auto header = [&](const std::string& value) {
      return clear ? value : redact_within(value, finding.secret);
    };
    // The Subject is where hostile or pathological mail puts megabytes (one 4 MB Subject with
    // hundreds of findings would be stored, and searched, once per finding): keep a prefix far
    // longer than any report shows, searched only that far. Addresses stay whole (exposure).
    const auto subject = [&](const std::string& value) {
      return clear ? cap_header(value, kStoredSubjectBytes)
                   : redact_header(value, {finding.secret}, kStoredSubjectBytes);
    };
    const Envelope& envelope = *finding.envelope;
    Statement& insert = *s.insert_finding;
    insert.bind(1, file)
        .bind(2, finding.offset)
        .bind(3, location)
        .bind(4, finding.part_path)
        .bind(5, finding.line)
        .bind(6, finding.rule->id)
        .bind(7, finding.fingerprint)
        .bind(8, ticket)
        .bind(9, s.rules_version)
        .bind(10, key)
        .bind(11, finding.index)
        .bind(12, finding.rule->provider)
        .bind(13, static_cast<int>(finding.rule->severity))
        .bind(14, rule_specificity(*finding.rule))
        .bind(15, evidence_rank(finding.validation.status))
        .bind(16, clear ? finding.secret : redact(finding.secret))
        .bind(17, pack_pairs(finding.captures))
        .bind(18, to_string(finding.validation.status))
        .bind(19, finding.validation.reason)
        .bind(20, finding.validation.validator)
        .bind(21, finding.validation.confidence)
        .bind(22, pack_pairs(finding.validation.evidence))
        .bind(23, envelope.message_id)
        .bind(24, envelope.date)
        .bind(25, parse_mail_date(envelope.date))
        .bind(26, header(envelope.from))
        .bind(27, header(envelope.to))
        .bind(28, header(envelope.cc))
        .bind(29, subject(envelope.subject))
        .bind(30, s.scan_id)
        .run();
    const bool added = sqlite3_changes(s.db()) > 0;
    s.insert_touched->bind(1, ticket)
        .bind(2, added ? parse_mail_date(envelope.date) : std::nullopt)
        .run();
    for (const std::string* list : {&envelope.from, &envelope.to, &envelope.cc})
      for (const std::string& address : parse_address_list(*list))
        s.insert_domain->bind(1, address_domain(address)).bind(2, ticket).run();
  }
  // The message's row waits for the batch's end (write_messages), in key order.
  message.findings.clear();
  s.pending.push_back(std::move(message));
  if (++s.batch_messages >= 4096 ||
      std::chrono::steady_clock::now() - s.batch_started > std::chrono::milliseconds(500))
    s.commit_batch();
}

// The batch's message rows, sorted by key: the keys are content hashes, so rows in arrival
// order land on random pages of the table; in key order each insert finds its path of pages
// where the previous one left it (in the CPU's caches). Stable: the same message twice in a
// batch is written in its arrival order, as before.
void StoreScan::Impl::write_messages() {
  // Pointers sorted, not the messages (moving them was a third of this function's time).
  std::vector<const StoredMessage*> order;
  order.reserve(pending.size());
  for (const StoredMessage& message : pending) order.push_back(&message);
  std::stable_sort(order.begin(), order.end(),
                   [](const StoredMessage* a, const StoredMessage* b) { return a->key < b->key; });
  for (const StoredMessage* in_order : order) {
    const StoredMessage& message = *in_order;
    const std::string& key = message.key;
    try {
      insert_message->bind(1, key)
          .bind(2, message.skipped ? std::string_view()
                                   : std::string_view(key).substr(0, key.find(':')))
          .bind(3, static_cast<int64_t>(message.size))
          .bind(4, message.message_id)
          .bind(5, message.state)
          .bind(6, message.reason)
          .bind(7, rules_version)
          .bind(8, batch_time)
          .bind(9, scan_id)
          .run();
    } catch (const StoreError& error) {
      throw NamedStoreError(std::string(error.what()) + " (recording the message " +
                            std::to_string(message.index) + " of " +
                            (message.file ? *message.file : "-") + " at offset " +
                            std::to_string(message.offset) + ")");
    }
  }
  pending.clear();
}

void StoreScan::finish(const ScanSummary& summary) {
  Impl& s = *impl_;
  // The rest goes to the writer, which records it and stops; the connection is this
  // thread's again.
  if (!s.failed) s.hand_over();
  s.stop_writer(false);
  if (s.failed) s.rethrow();
  if (!s.transaction) s.begin_batch();
  Statement done(s.db(), s.path(),
                 "UPDATE scans SET state = 'complete', finished_at = ?, messages_scanned = ?, "
                 "messages_skipped = ?, messages_failed = ?, messages_known = ?, "
                 "messages_outside_window = ?, bytes = ?, findings = ?, rejected = ?, "
                 "files_failed = ?, elapsed_seconds = ? WHERE id = ?");
  done.bind(1, now_seconds())
      .bind(2, summary.messages_scanned)
      .bind(3, summary.messages_skipped)
      .bind(4, summary.messages_failed)
      .bind(5, summary.messages_known)
      .bind(6, summary.messages_outside_window)
      .bind(7, summary.bytes)
      .bind(8, summary.findings)
      .bind(9, summary.rejected)
      .bind(10, summary.files_failed)
      .bind(11, summary.elapsed_seconds)
      .bind(12, s.scan_id)
      .run();
  // The last commit does not checkpoint (copy the WAL into the database and sync both, 10 to
  // 30 ms at the end of a scan here): a second connection does it while the scan's reports
  // are written, and closing the store then finds little or nothing left to copy. A failed
  // checkpoint loses nothing: the commits stay in the WAL, and the close checkpoints again.
  exec(s.db(), s.path(), "PRAGMA wal_autocheckpoint=0");
  s.commit_batch();
  exec(s.db(), s.path(), "PRAGMA wal_autocheckpoint=1000");
  s.checkpointer = std::thread([path = s.path()] {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
                        nullptr) == SQLITE_OK &&
        // A read first: a new connection opens the WAL only then.
        sqlite3_exec(db, "PRAGMA user_version", nullptr, nullptr, nullptr) == SQLITE_OK)
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    sqlite3_close(db);
  });
}

// ---------------------------------------------------------------------------------------------
// Reading tickets.

namespace {

// WHERE clause over tickets (alias t) and its bindings, in order.
struct Where {
  std::string sql;
  std::vector<std::string> texts;
  std::vector<int64_t> numbers;
  std::vector<bool> is_text;
};

Where ticket_where(const TicketFilter& filter) {
  Where where;
  std::vector<std::string> clauses;
  const auto text = [&](std::string clause, std::string value) {
    clauses.push_back(std::move(clause));
    where.texts.push_back(std::move(value));
    where.is_text.push_back(true);
  };
  const auto number = [&](std::string clause, int64_t value) {
    clauses.push_back(std::move(clause));
    where.numbers.push_back(value);
    where.is_text.push_back(false);
  };
  if (filter.triage) text("t.triage = ?", std::string(to_string(*filter.triage)));
  if (filter.severity) number("t.severity >= ?", static_cast<int64_t>(*filter.severity));
  if (!filter.provider.empty()) text("t.provider = ?", filter.provider);
  if (!filter.domain.empty())
    text("t.fingerprint IN (SELECT fingerprint FROM ticket_domains WHERE domain = ?)",
         filter.domain);
  if (filter.since) number("t.last_seen >= ?", *filter.since);
  if (filter.until) number("t.first_seen <= ?", *filter.until);
  for (size_t i = 0; i < clauses.size(); ++i) where.sql += (i ? " AND " : " WHERE ") + clauses[i];
  return where;
}

void bind_where(Statement& statement, const Where& where, int first = 1) {
  size_t t = 0, n = 0;
  for (size_t i = 0; i < where.is_text.size(); ++i) {
    const int position = first + static_cast<int>(i);
    if (where.is_text[i])
      statement.bind(position, where.texts[t++]);
    else
      statement.bind(position, where.numbers[n++]);
  }
}

Triage triage_or_open(const std::string& text) { return parse_triage(text).value_or(Triage::Open); }

}  // namespace

std::vector<TicketRow> CaseStore::ticket_rows(const TicketFilter& filter) {
  const Where where = ticket_where(filter);
  std::string sql =
      "SELECT id, fingerprint, rule_id, provider, status, secret, severity, occurrences, "
      "messages, first_seen, last_seen, triage, triage_owner, triage_note, reopened FROM tickets "
      "AS t" +
      where.sql + " ORDER BY severity DESC, evidence_rank DESC, occurrences DESC, id";
  if (filter.limit) sql += " LIMIT " + std::to_string(filter.limit);
  Statement query(impl_->db, impl_->path, sql);
  bind_where(query, where);
  std::vector<TicketRow> rows;
  while (query.step()) {
    TicketRow row;
    row.id = query.text(0);
    row.fingerprint = query.text(1);
    row.rule_id = query.text(2);
    row.provider = query.text(3);
    row.status = query.text(4);
    row.secret = query.text(5);
    row.severity = static_cast<Severity>(std::clamp<int64_t>(query.integer(6), 0, 3));
    row.occurrences = static_cast<uint64_t>(query.integer(7));
    row.messages = static_cast<uint64_t>(query.integer(8));
    row.first_seen = query.optional_integer(9);
    row.last_seen = query.optional_integer(10);
    row.triage = triage_or_open(query.text(11));
    row.triage_owner = query.text(12);
    row.triage_note = query.text(13);
    row.reopened = query.integer(14) != 0;
    rows.push_back(std::move(row));
  }
  return rows;
}

uint64_t CaseStore::count_tickets(const TicketFilter& filter) {
  const Where where = ticket_where(filter);
  Statement query(impl_->db, impl_->path, "SELECT count(*) FROM tickets AS t" + where.sql);
  bind_where(query, where);
  query.step();
  return static_cast<uint64_t>(query.integer(0));
}

std::vector<Ticket> CaseStore::tickets(const TicketFilter& filter, const TicketOptions& options,
                                       std::vector<std::unique_ptr<Rule>>& rule_storage) {
  sqlite3* db = impl_->db;
  const std::string& path = impl_->path;
  const std::vector<TicketRow> rows = ticket_rows(filter);
  std::map<std::string, const TicketRow*> selected;
  for (const TicketRow& row : rows) selected.emplace(row.fingerprint, &row);

  std::map<std::pair<std::string, std::string>, const Rule*> rules;
  Statement rule_query(db, path,
                       "SELECT rules_version, id, name, description, provider, category, "
                       "severity, confidence, rotation, refs FROM rules");
  while (rule_query.step()) {
    auto rule = std::make_unique<Rule>();
    rule->id = rule_query.text(1);
    rule->name = rule_query.text(2);
    rule->description = rule_query.text(3);
    rule->provider = rule_query.text(4);
    rule->category = rule_query.text(5);
    rule->severity = static_cast<Severity>(std::clamp<int64_t>(rule_query.integer(6), 0, 3));
    rule->confidence = rule_query.text(7);
    rule->rotation = rule_query.text(8);
    rule->references = unpack(rule_query.text(9));
    rules[{rule_query.text(0), rule->id}] = rule.get();
    rule_storage.push_back(std::move(rule));
  }

  // Findings in a fixed order (by place), so that the same case gives the same tickets however
  // it was assembled (one scan, or shards merged in any order).
  Statement findings(db, path,
                     "SELECT file, offset, location, part_path, line, rule_id, fingerprint, "
                     "rules_version, idx, secret, captures, status, reason, validator, "
                     "confidence, evidence, message_id, date, sender, recipients, cc, subject, "
                     "ticket FROM findings WHERE ticket = ? ORDER BY file, offset, location, "
                     "part_path, line, rule_id, fingerprint");
  TicketBuilder builder(options);
  for (const TicketRow& row : rows) {
    findings.bind(1, row.fingerprint);
    while (findings.step()) {
      Finding finding;
      const auto rule = rules.find({findings.text(7), findings.text(5)});
      if (rule == rules.end()) continue;  // a store always has the rules of its findings
      finding.rule = rule->second;
      finding.file = findings.text(0);
      finding.offset = static_cast<uint64_t>(findings.integer(1));
      finding.location = location_from_key(findings.text(2));
      finding.part_path = findings.text(3);
      finding.line = static_cast<uint64_t>(findings.integer(4));
      finding.fingerprint = findings.text(6);
      finding.index = static_cast<uint64_t>(findings.integer(8));
      finding.secret = findings.text(9);
      finding.captures = unpack_pairs(findings.text(10));
      finding.validation.status = parse_status(findings.text(11));
      finding.validation.reason = findings.text(12);
      finding.validation.validator = findings.text(13);
      finding.validation.confidence = findings.text(14);
      finding.validation.evidence = unpack_pairs(findings.text(15));
      Envelope envelope;
      envelope.message_id = findings.text(16);
      envelope.date = findings.text(17);
      envelope.from = findings.text(18);
      envelope.to = findings.text(19);
      envelope.cc = findings.text(20);
      envelope.subject = findings.text(21);
      finding.envelope = std::make_shared<const Envelope>(std::move(envelope));
      builder.add(finding);
    }
    findings.reset();
  }
  const std::map<std::string, Verification> verified = verifications();
  std::vector<Ticket> tickets;
  for (Ticket& ticket : builder.build()) {
    const auto row = selected.find(ticket.fingerprint);
    if (row == selected.end()) continue;
    if (const auto found = verified.find(ticket.fingerprint); found != verified.end())
      ticket.verification = found->second;
    ticket.triage = row->second->triage;
    ticket.triage_owner = row->second->triage_owner;
    ticket.triage_note = row->second->triage_note;
    ticket.reopened = row->second->reopened;
    tickets.push_back(std::move(ticket));
  }
  return tickets;
}

void CaseStore::record_verifications(const std::vector<Ticket>& tickets) {
  sqlite3* db = impl_->db;
  const std::string& path = impl_->path;
  Transaction transaction(db, path);
  Statement upsert(db, path,
                   "INSERT INTO verifications(fingerprint, state, reason, checked_at, endpoint, "
                   "identity) VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(fingerprint) DO UPDATE SET "
                   "state = excluded.state, reason = excluded.reason, checked_at = "
                   "excluded.checked_at, endpoint = excluded.endpoint, identity = "
                   "excluded.identity");
  for (const Ticket& ticket : tickets) {
    const Verification& v = ticket.verification;
    if (v.state == VerificationState::NotChecked) continue;
    upsert.bind(1, ticket.fingerprint)
        .bind(2, std::string(to_string(v.state)))
        .bind(3, v.reason)
        .bind(4, v.checked_at)
        .bind(5, v.endpoint)
        .bind(6, pack_pairs(v.identity))
        .run();
  }
  transaction.commit();
}

std::map<std::string, Verification> CaseStore::verifications() {
  Statement query(impl_->db, impl_->path,
                  "SELECT fingerprint, state, reason, checked_at, endpoint, identity FROM "
                  "verifications");
  std::map<std::string, Verification> out;
  while (query.step()) {
    Verification v;
    const std::string state = query.text(1);
    for (const VerificationState known :
         {VerificationState::Live, VerificationState::Revoked, VerificationState::Unknown})
      if (to_string(known) == state) v.state = known;
    if (v.state == VerificationState::NotChecked) continue;  // written by a newer credsift
    v.reason = query.text(2);
    v.checked_at = query.text(3);
    v.endpoint = query.text(4);
    v.identity = unpack_pairs(query.text(5));
    out.emplace(query.text(0), std::move(v));
  }
  return out;
}

std::set<std::string> CaseStore::fingerprints() {
  Statement query(impl_->db, impl_->path, "SELECT DISTINCT fingerprint FROM findings");
  std::set<std::string> out;
  while (query.step()) out.insert(query.text(0));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Triage.

void CaseStore::triage(const std::vector<TriageChange>& changes, const std::string& actor) {
  sqlite3* db = impl_->db;
  const std::string& path = impl_->path;
  Transaction transaction(db, path);
  Statement find(db, path, "SELECT triage FROM tickets WHERE fingerprint = ?");
  Statement event(db, path,
                  "INSERT INTO triage_events(id, fingerprint, at, recorded_at, status, previous, "
                  "owner, note, actor, automatic) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, 0)");
  Statement update(db, path,
                   "UPDATE tickets SET triage = ?, triage_owner = ?, triage_note = ?, "
                   "triage_at = ?, reopened = CASE WHEN ? = 'rotated' THEN 0 ELSE reopened END "
                   "WHERE fingerprint = ?");
  exec(db, path, kTouchedTable);
  const int64_t now = now_seconds();
  for (const TriageChange& change : changes) {
    const std::string fp = resolve_ticket(change.ticket);
    find.bind(1, fp);
    find.step();
    const std::string previous = find.text(0);
    find.reset();
    // The owner and note stay unless given anew (a status change keeps who owns it).
    Statement current(db, path,
                      "SELECT triage_owner, triage_note FROM tickets WHERE fingerprint = ?");
    current.bind(1, fp);
    current.step();
    const std::string owner = change.owner.empty() ? current.text(0) : change.owner;
    const std::string note = change.note.empty() ? current.text(1) : change.note;
    const int64_t at = change.at.value_or(now);
    const std::string status(to_string(change.status));
    event.bind(1, random_id())
        .bind(2, fp)
        .bind(3, at)
        .bind(4, now)
        .bind(5, status)
        .bind(6, previous)
        .bind(7, owner)
        .bind(8, note)
        .bind(9, actor)
        .run();
    update.bind(1, status)
        .bind(2, owner)
        .bind(3, note)
        .bind(4, at)
        .bind(5, status)
        .bind(6, fp)
        .run();
  }
  transaction.commit();
}

std::string CaseStore::resolve_ticket(const std::string& id) {
  // A '%' or '_' in an id would widen the LIKE: ids are cs- and hex only.
  if (id.find_first_of("%_") != std::string::npos)
    throw StoreError("ticket " + id + ": not a ticket id");
  std::vector<std::string> matches;
  {
    Statement exact(impl_->db, impl_->path,
                    "SELECT fingerprint FROM tickets WHERE fingerprint = ?");
    exact.bind(1, id);
    if (exact.step()) return exact.text(0);
  }
  // An id ("cs-" and the first 16 hex digits of its fingerprint, any case as LIKE takes it),
  // or a prefix of at least 7 characters: a range of fingerprints (ids have no index).
  std::string lower = id;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.starts_with("cs-")) {
    const std::string low = "sha256:" + lower.substr(3);
    Statement find(impl_->db, impl_->path,
                   "SELECT fingerprint FROM tickets WHERE fingerprint >= ?1 AND fingerprint < ?2 "
                   "AND (id = ?3 OR (length(?3) >= 7 AND id LIKE ?3 || '%')) LIMIT 2");
    find.bind(1, low).bind(2, low + '\xff').bind(3, id);
    while (find.step()) matches.push_back(find.text(0));
  }
  if (matches.empty()) throw StoreError("ticket " + id + ": not in " + impl_->path);
  if (matches.size() > 1) throw StoreError("ticket " + id + ": ambiguous prefix, give more digits");
  return matches.front();
}

std::vector<TriageEvent> CaseStore::triage_history(const std::string& fingerprint) {
  Statement query(impl_->db, impl_->path,
                  "SELECT fingerprint, at, status, previous, owner, note, actor, automatic, "
                  "recorded_at FROM "
                  "triage_events WHERE fingerprint = ? ORDER BY recorded_at, rowid");
  query.bind(1, fingerprint);
  std::vector<TriageEvent> events;
  while (query.step()) {
    TriageEvent event;
    event.fingerprint = query.text(0);
    event.at = query.integer(1);
    event.status = triage_or_open(query.text(2));
    event.previous = triage_or_open(query.text(3));
    event.owner = query.text(4);
    event.note = query.text(5);
    event.actor = query.text(6);
    event.automatic = query.integer(7) != 0;
    event.recorded_at = query.integer(8);
    events.push_back(std::move(event));
  }
  return events;
}

void create_store_at_version(const std::string& path, int version) {
  StoreOptions options;
  sqlite3* db = open_database(path, options);
  try {
    migrate(db, path, version);
  } catch (...) {
    sqlite3_close(db);
    throw;
  }
  sqlite3_close(db);
}

}  // namespace credsift

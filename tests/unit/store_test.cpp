// The case store: schema and migrations, safe creation, idempotent rescans, triage history and
// reopening, faults (corrupt store, full disk, two writers), and shards merged = one scan.
#include "credsift/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>

#include "credsift/match.hpp"
#include "credsift/pipeline.hpp"

namespace credsift {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = CREDSIFT_SOURCE_DIR;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/credsift-store-XXXXXX";
    if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

const RuleSet& rules() {
  static const RuleSet set = load_rules({kSource / "patterns"});
  return set;
}
const Matcher& matcher() {
  static const Matcher m(rules());
  return m;
}

ScanSummary scan_into(CaseStore& store, const std::vector<std::string>& inputs,
                      SourceOptions source = {}, const RuleSet* rule_set = nullptr,
                      const ScanRecord& record = {}) {
  auto scan = store.begin_scan(rule_set ? *rule_set : rules(), record);
  ScanOptions options;
  options.threads = 2;
  options.source = std::move(source);
  options.source.excluded_files = store.own_files();
  scan->attach(options);
  const ScanSummary summary = run_scan(inputs, matcher(), options, {}, {});
  scan->finish(summary);
  return summary;
}

// One sample message (a password in the body) with its own Date and Message-ID.
std::string sample_message(const std::string& date, const std::string& id) {
  return "From s01@acme.test Mon Mar  4 09:12:00 2024\nFrom: it-help@acme.test\n"
         "To: dana@partner.test\nSubject: Your new account\nDate: " +
         date + "\nMessage-ID: <" + id +
         ">\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n"
         "Hi Dana,\n\nyour account on the VPN portal is ready. Your temporary password is "
         "Tr0ub4dor&3xQ\nPlease change it at first login.\n\n";
}

// The sample inbox many times over with fresh Message-IDs: a mbox big enough to be cut.
std::string big_mbox(int copies) {
  const std::string inbox = slurp(kSource / "corpora/samples/inbox.mbox");
  std::string out;
  for (int copy = 0; copy < copies; ++copy) {
    std::string part = inbox;
    for (size_t at = 0; (at = part.find("Message-ID: <", at)) != std::string::npos; at += 13)
      part.insert(at + 13, "c" + std::to_string(copy) + ".");
    if (!out.empty() && !out.ends_with("\n\n")) out += "\n";
    out += part;
  }
  return out;
}

sqlite3* db_of(CaseStore& store) { return static_cast<sqlite3*>(store.handle()); }

// Every row of a query, one line each (for comparing stores).
std::string dump(CaseStore& store, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db_of(store), sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
  std::string out;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      out += text ? text : "NULL";
      out += '|';
    }
    out += '\n';
  }
  sqlite3_finalize(stmt);
  return out;
}

int64_t scalar(CaseStore& store, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db_of(store), sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
  int64_t value = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return value;
}

// The case as content, without scan ids and times: what must be equal however it was built.
std::string case_content(CaseStore& store) {
  std::string out;
  out += dump(store,
              "SELECT fingerprint, id, rule_id, provider, severity, status, evidence_rank, "
              "secret, occurrences, messages, first_seen, last_seen, undated, triage FROM "
              "tickets ORDER BY fingerprint");
  out += dump(store,
              "SELECT file, offset, location, part_path, line, rule_id, fingerprint, ticket, "
              "message, idx, secret, status, date_epoch, sender, subject FROM findings ORDER BY "
              "file, offset, location, part_path, line, rule_id, fingerprint");
  out += dump(store, "SELECT key, size, message_id, state FROM messages ORDER BY key");
  out += dump(store,
              "SELECT file, offset, location, message, idx FROM message_locations ORDER BY "
              "file, offset, location");
  out += dump(store, "SELECT domain, fingerprint FROM ticket_domains ORDER BY 1, 2");
  std::vector<std::unique_ptr<Rule>> storage;
  for (const Ticket& ticket : store.tickets({}, {}, storage))
    out += ticket_to_json(ticket, false) + "\n";
  return out;
}

TEST(StoreSchema, FreshStoreIsVersionedDocumentedAndPrivate) {
  TempDir dir;
  const std::string path = dir / "case.db";
  ::umask(022);
  CaseStore store(path);
  EXPECT_EQ(store.schema_version(), kStoreSchemaVersion);
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM schema_migrations"), kStoreSchemaVersion);
  EXPECT_EQ(dump(store, "SELECT value FROM meta WHERE key = 'application'"),
            "credsift case store|\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(dump(store, "PRAGMA journal_mode"), "wal|\n");
  EXPECT_GT(scalar(store, "PRAGMA busy_timeout"), 0);
  EXPECT_EQ(store.integrity_check(), "ok");
}

TEST(StoreSchema, RefusesSymlinksOtherDatabasesAndNewerSchemas) {
  TempDir dir;
  fs::create_symlink(dir / "elsewhere.db", dir / "link.db");
  EXPECT_THROW(CaseStore(dir / "link.db"), StoreError);
  EXPECT_FALSE(fs::exists(dir / "elsewhere.db"));  // nothing created through the link

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "other.db").c_str(), &other), SQLITE_OK);
  sqlite3_exec(other, "CREATE TABLE accounts(x)", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  try {
    CaseStore store(dir / "other.db");
    FAIL() << "a foreign database was taken";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("not a credsift case store"), std::string::npos);
  }

  { CaseStore store(dir / "newer.db"); }
  sqlite3* newer = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "newer.db").c_str(), &newer), SQLITE_OK);
  sqlite3_exec(newer, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(newer);
  EXPECT_THROW(CaseStore(dir / "newer.db"), StoreError);
}

TEST(StoreSchema, MigratesAnOlderStoreKeepingItsData) {
  TempDir dir;
  const std::string path = dir / "old.db";
  create_store_at_version(path, 1);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "INSERT INTO tickets(fingerprint, id, rule_id, provider, severity, "
                           "status, evidence_rank, secret, occurrences, messages, undated) "
                           "VALUES('sha256:00', 'cs-00', 'r', 'p', 2, 'unverified', 0, 'x…', 1, "
                           "1, 0)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
    sqlite3_step(stmt);
    EXPECT_EQ(sqlite3_column_int(stmt, 0), 1);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
  CaseStore store(path);
  EXPECT_EQ(store.schema_version(), kStoreSchemaVersion);
  EXPECT_EQ(dump(store, "SELECT id, reopened FROM tickets"), "cs-00|0|\n");
  EXPECT_EQ(scalar(store, "SELECT max(version) FROM schema_migrations"), kStoreSchemaVersion);
}

// The schema as a list: every table's columns (with the rowid of rowid tables), every index
// with its columns, order, collation and uniqueness; and the migration records.
std::string schema_shape(CaseStore& store) {
  std::string out;
  for (const std::string& table : [&] {
         std::vector<std::string> names;
         std::istringstream lines(
             dump(store, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"));
         for (std::string line; std::getline(lines, line);)
           names.push_back(line.substr(0, line.size() - 1));
         return names;
       }()) {
    out += "table " + table + "\n";
    out += dump(store,
                "SELECT cid, name, type, \"notnull\", dflt_value, pk, hidden FROM "
                "pragma_table_xinfo('" +
                    table + "')");
    out += dump(store, "SELECT name, \"unique\", origin, partial FROM pragma_index_list('" + table +
                           "') WHERE origin <> 'pk' ORDER BY name");
    out += dump(store,
                "SELECT il.origin, ix.seqno, ix.cid, ix.name, ix.desc, ix.coll, ix.key "
                "FROM pragma_index_list('" +
                    table +
                    "') AS il, pragma_index_xinfo(il.name) "
                    "AS ix ORDER BY il.name, ix.seqno");
  }
  out += dump(store, "SELECT version, description FROM schema_migrations ORDER BY version");
  out += dump(store, "SELECT key FROM meta ORDER BY key");
  return out;
}

// A new store is laid out in one step; it has the schema the migrations lead to.
TEST(StoreSchema, FreshStoreHasTheMigratedSchema) {
  TempDir dir;
  create_store_at_version(dir / "migrated.db", 1);
  CaseStore migrated(dir / "migrated.db");
  CaseStore fresh(dir / "fresh.db");
  EXPECT_EQ(fresh.schema_version(), kStoreSchemaVersion);
  const std::string shape = schema_shape(fresh);
  EXPECT_NE(shape.find("table findings\n"), std::string::npos);
  EXPECT_EQ(shape, schema_shape(migrated));
  EXPECT_EQ(fresh.integrity_check(), "ok");
}

// Version 4 drops the index of locations by message (nothing reads it); the rows stay.
TEST(StoreSchema, MigrationFourDropsTheUnreadLocationIndex) {
  TempDir dir;
  const std::string path = dir / "v3.db";
  create_store_at_version(path, 3);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db, "INSERT INTO message_locations VALUES('/a.mbox', 0, '', 'k', 0, 's')",
                     nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
  }
  {
    CaseStore store(path);
    EXPECT_EQ(store.schema_version(), kStoreSchemaVersion);
    EXPECT_EQ(scalar(store,
                     "SELECT count(*) FROM sqlite_master WHERE name = 'message_locations_message'"),
              0);
    EXPECT_EQ(dump(store, "SELECT file, message FROM message_locations"), "/a.mbox|k|\n");
    EXPECT_EQ(dump(store, "SELECT description FROM schema_migrations WHERE version = 4"),
              "no index of message locations by message|\n");
    EXPECT_EQ(store.integrity_check(), "ok");
  }
  // A version-3 store is not merged as a shard as it is (another schema): refused by name.
  const std::string shard = dir / "v3-shard.db";
  create_store_at_version(shard, 3);
  CaseStore target(dir / "case.db");
  try {
    merge_stores(target, {shard}, nullptr);
    FAIL() << "merged a store of another schema";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("v3-shard.db: "), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("schema version 3"), std::string::npos)
        << error.what();
  }
}

// Version 5 rebuilds findings (keyed by ticket and place) and tickets (by fingerprint) without
// rowids, and drops the indexes of findings by ticket and of ticket ids: every row and triage
// state stays, ids still resolve.
TEST(StoreSchema, MigrationFiveKeysFindingsAndTicketsWithoutRowids) {
  TempDir dir;
  const std::string path = dir / "v4.db";
  create_store_at_version(path, 4);
  const std::string fp = "sha256:3f2a00112233445566778899aabbccddeeff00112233445566778899aabbcc";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const std::string insert =
        "INSERT INTO findings VALUES('/a.mbox', 0, '', '1', 3, 'r', '" + fp + "', '" + fp +
        "', 'rv', 'k', 0, 'p', 2, 1, 1, 'x…', '', 'unverified', '', '', 'medium', '', '<m@x>', "
        "'Mon, 4 Mar 2024', 1709543520, 'a@acme.test', 'b@partner.test', '', 'subject', 's'); "
        "INSERT INTO tickets(fingerprint, id, rule_id, provider, severity, status, "
        "evidence_rank, secret, occurrences, messages, first_seen, last_seen, undated, triage, "
        "triage_owner, triage_note, triage_at, reopened) VALUES('" +
        fp +
        "', 'cs-3f2a001122334455', 'r', 'p', 2, 'unverified', 1, 'x…', 1, 1, 1709543520, "
        "1709543520, 0, 'rotated', 'dana', 'revoked', 1709600000, 1)";
    ASSERT_EQ(sqlite3_exec(db, insert.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  CaseStore store(path);
  EXPECT_EQ(store.schema_version(), 5);
  EXPECT_EQ(store.integrity_check(), "ok");
  EXPECT_EQ(dump(store, "SELECT description FROM schema_migrations WHERE version = 5"),
            "findings keyed by ticket and place, tickets by fingerprint, without rowids; no "
            "index of findings by ticket, of ticket ids or of tickets by triage|\n");
  for (const char* table : {"findings", "tickets"})
    EXPECT_NE(dump(store, std::string("SELECT sql FROM sqlite_master WHERE name = '") + table + "'")
                  .find("WITHOUT ROWID"),
              std::string::npos)
        << table;
  // No autoindex beside the tables, and the indexes the views read are back.
  EXPECT_EQ(dump(store,
                 "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN "
                 "('findings', 'tickets') ORDER BY name"),
            "tickets_view|\n");
  EXPECT_EQ(dump(store,
                 "SELECT file, line, ticket = fingerprint, date_epoch, subject FROM "
                 "findings"),
            "/a.mbox|3|1|1709543520|subject|\n");
  EXPECT_EQ(dump(store,
                 "SELECT id, triage, triage_owner, triage_note, triage_at, reopened FROM "
                 "tickets"),
            "cs-3f2a001122334455|rotated|dana|revoked|1709600000|1|\n");
  // Ids resolve through the fingerprints' key: whole, by prefix, in capitals.
  EXPECT_EQ(store.resolve_ticket("cs-3f2a001122334455"), fp);
  EXPECT_EQ(store.resolve_ticket("cs-3f2a"), fp);
  EXPECT_EQ(store.resolve_ticket("CS-3F2A0011"), fp);
  EXPECT_EQ(store.resolve_ticket(fp), fp);
  EXPECT_THROW(store.resolve_ticket("cs-3f2b"), StoreError);
  EXPECT_THROW(store.resolve_ticket("cs-3f2a0011223344556"), StoreError);  // longer than an id
  // The migrated case takes a scan as a fresh one does.
  scan_into(store, {(kSource / "corpora/samples/inbox.mbox").string()});
  EXPECT_GT(store.counts().findings, 1u);
  EXPECT_EQ(store.integrity_check(), "ok");
}

TEST(StoreScan, RescanIsIdempotentAndCountsKnownMessages) {
  TempDir dir;
  CaseStore store(dir / "case.db");
  const std::string samples = (kSource / "corpora/samples").string();
  const ScanSummary first = scan_into(store, {samples});
  ASSERT_GT(first.messages_scanned, 10u);
  EXPECT_EQ(first.messages_known, 0u);
  const CaseStore::Counts before = store.counts();
  const std::string content = case_content(store);
  ASSERT_GT(before.tickets, 3u);

  const ScanSummary second = scan_into(store, {samples});
  EXPECT_EQ(second.messages_scanned, 0u);
  EXPECT_EQ(second.messages_known, first.messages_scanned + first.messages_failed);
  EXPECT_EQ(second.messages(), first.messages());  // every message accounted for
  EXPECT_EQ(case_content(store), content);
  EXPECT_EQ(store.counts().scans, 2u);

  // The same messages at a new place: one message, two locations, no new finding.
  fs::copy_file(kSource / "corpora/samples/inbox.mbox", dir.path() / "copy.mbox");
  const ScanSummary third = scan_into(store, {dir / "copy.mbox"});
  EXPECT_EQ(third.messages_scanned, 0u);
  EXPECT_GT(third.messages_known, 0u);
  EXPECT_EQ(store.counts().messages, before.messages);
  EXPECT_EQ(store.counts().locations, before.locations + third.messages_known);
  EXPECT_EQ(store.counts().findings, before.findings);
}

// scan --store: the rules load beside the scan. Into a new case the scan begins before they
// are there (its known hook needs no rules: run_scan does not wait) and records the same case
// as a scan begun with them; into a case with messages it waits for them and skips the known
// messages.
ScanSummary scan_while_rules_load(CaseStore& store, const std::string& input, bool& had_hook) {
  std::promise<const Matcher*> loaded;
  const std::shared_future<const Matcher*> pending = loaded.get_future().share();
  // As scan --store does: the load runs on a thread of its own from before the store opens.
  std::jthread loader([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the scan starts first
    loaded.set_value(&matcher());
  });
  auto scan =
      store.begin_scan([pending]() -> const RuleSet& { return pending.get()->rules(); }, {});
  ScanOptions options;
  options.threads = 2;
  options.source.excluded_files = store.own_files();
  scan->attach(options);
  had_hook = static_cast<bool>(options.known);
  const ScanSummary summary = run_scan({input}, pending, options, {}, {});
  scan->finish(summary);
  return summary;
}

TEST(StoreScan, ANewCaseIsScannedWhileTheRulesLoad) {
  TempDir dir;
  const std::string samples = (kSource / "corpora/samples").string();
  CaseStore reference(dir / "reference.db");
  const ScanSummary expected = scan_into(reference, {samples});
  CaseStore store(dir / "case.db");
  bool had_hook = true;
  const ScanSummary first = scan_while_rules_load(store, samples, had_hook);
  EXPECT_TRUE(had_hook);  // the workers hash the messages
  EXPECT_EQ(first.messages_scanned, expected.messages_scanned);
  EXPECT_EQ(first.findings, expected.findings);
  EXPECT_EQ(case_content(store), case_content(reference));
  EXPECT_EQ(dump(store, "SELECT * FROM rules ORDER BY id"),
            dump(reference, "SELECT * FROM rules ORDER BY id"));
  // Only the rules with findings are stored, each as the rule set has it.
  EXPECT_EQ(scalar(store,
                   "SELECT count(*) FROM (SELECT DISTINCT rules_version, rule_id FROM findings) "
                   "AS f WHERE NOT EXISTS (SELECT 1 FROM rules AS r WHERE r.rules_version = "
                   "f.rules_version AND r.id = f.rule_id)"),
            0);
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM rules"),
            scalar(store, "SELECT count(DISTINCT rule_id) FROM findings"));

  // A rescan waits for the rules and skips every message already in the case.
  const std::string content = case_content(store);
  const ScanSummary second = scan_while_rules_load(store, samples, had_hook);
  EXPECT_TRUE(had_hook);
  EXPECT_EQ(second.messages_scanned, 0u);
  EXPECT_EQ(second.messages_known, first.messages_scanned + first.messages_failed);
  EXPECT_EQ(case_content(store), content);
  EXPECT_EQ(dump(store, "SELECT state FROM scans ORDER BY started_at, state"),
            "complete|\ncomplete|\n");
}

TEST(StoreScan, OtherRulesRescan) {
  TempDir dir;
  CaseStore store(dir / "case.db");
  const std::string inbox = (kSource / "corpora/samples/inbox.mbox").string();
  const ScanSummary first = scan_into(store, {inbox});
  RuleSet fewer = rules();
  fewer.rules.pop_back();  // another rules version
  const ScanSummary second = scan_into(store, {inbox}, {}, &fewer);
  EXPECT_EQ(second.messages_known, 0u);
  EXPECT_EQ(second.messages_scanned, first.messages_scanned);
  EXPECT_EQ(scalar(store, "SELECT count(DISTINCT rules_version) FROM scans"), 2);
}

TEST(StoreScan, SecretsAreRedactedUnlessAsked) {
  TempDir dir;
  const std::string inbox = (kSource / "corpora/samples/inbox.mbox").string();
  {
    CaseStore store(dir / "redacted.db");
    scan_into(store, {inbox});
    ASSERT_GT(store.counts().findings, 0u);
  }
  {
    StoreOptions options;
    options.store_secrets = true;
    CaseStore store(dir / "clear.db", options);
    scan_into(store, {inbox});
  }
  const auto contains_secret = [&](const std::string& name) {
    std::string bytes = slurp(dir.path() / name);
    bytes += slurp(dir.path() / (name + "-wal"));
    return bytes.find("Tr0ub4dor&3xQ") != std::string::npos;
  };
  EXPECT_FALSE(contains_secret("redacted.db"));
  EXPECT_TRUE(contains_secret("clear.db"));
}

// A Subject of most of a megabyte on a message with 300 findings: stored once per finding, it
// made a store of hundreds of megabytes and was searched for each finding's secret in full.
TEST(StoreScan, HugeSubjectIsStoredAsABoundedPrefix) {
  TempDir dir;
  std::string body;
  uint32_t state = 12345;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (int i = 0; i < 300; ++i) {
    std::string token;
    for (int k = 0; k < 24; ++k) {
      state = state * 1103515245u + 12345u;
      token += alphabet[(state >> 16) % 62];
    }
    body += "key " + std::to_string(i) + ": sk_live_" + token + "\n";
  }
  {
    std::ofstream out(dir.path() / "big.mbox", std::ios::binary);
    out << "From a@example.com Mon Jan  1 00:00:00 2024\nFrom: a@example.com\nTo: b@example.org\n"
        << "Subject: " << std::string(900 << 10, 'x') << "\nMessage-ID: <big@example.com>\n\n"
        << body;
  }
  CaseStore store(dir / "case.db");
  scan_into(store, {(dir.path() / "big.mbox").string()});
  EXPECT_GE(scalar(store, "SELECT count(*) FROM findings"), 100);
  EXPECT_LE(scalar(store, "SELECT max(length(subject)) FROM findings"), 17 * 1024);
  EXPECT_NE(dump(store, "SELECT subject FROM findings LIMIT 1").find("bytes]"), std::string::npos);
}

TEST(StoreScan, TheStoreItselfIsNeverAnInput) {
  TempDir dir;
  fs::copy_file(kSource / "corpora/samples/inbox.mbox", dir.path() / "inbox.mbox");
  CaseStore store(dir / "case.db");
  std::vector<std::string> warnings;
  auto scan = store.begin_scan(rules(), {});
  ScanOptions options;
  options.source.excluded_files = store.own_files();
  scan->attach(options);
  const ScanSummary summary = run_scan({dir.path().string()}, matcher(), options, {},
                                       [&](const Diagnostic& d) { warnings.push_back(d.message); });
  scan->finish(summary);
  EXPECT_GE(std::count(warnings.begin(), warnings.end(), "skipped: a file of the case store"), 2);
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM message_locations WHERE file LIKE '%case.db%'"), 0);
}

// The writer thread commits a batch at its half second when the scan goes quiet: its write
// lock is not held while a slow input trickles, so that another writer (triage) gets through.
TEST(StoreScan, AQuietScanCommitsItsBatchForOtherWriters) {
  TempDir dir;
  CaseStore store(dir / "case.db");
  auto scan = store.begin_scan(rules(), {});
  const auto file = std::make_shared<const std::string>(dir / "slow.mbox");
  const std::string first = sample_message("Mon, 4 Mar 2024 09:12:00 +0000", "a@slow");
  const std::string second = sample_message("Mon, 4 Mar 2024 09:13:00 +0000", "b@slow");
  for (const std::string* bytes : {&first, &second}) {
    Message message;
    message.bytes = *bytes;
    message.origin.file = file;
    message.origin.offset = bytes == &first ? 0 : first.size();
    message.origin.index = bytes == &first ? 0 : 1;
    MessageResult result;
    ASSERT_FALSE(scan->known(message, result));
    scan->on_message(message, result);
    // The second message hands both to the writer (a chunk waits at most 100 ms).
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "case.db").c_str(), &other), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE; COMMIT", nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(other);
  sqlite3_stmt* count = nullptr;
  sqlite3_prepare_v2(other, "SELECT count(*) FROM messages", -1, &count, nullptr);
  ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(count, 0), 2);
  sqlite3_finalize(count);
  sqlite3_close(other);
  ScanSummary summary;
  summary.messages_scanned = 2;
  scan->finish(summary);
  EXPECT_EQ(dump(store, "SELECT state, messages_scanned FROM scans"), "complete|2|\n");
}

TEST(StoreTriage, HistoryOwnerNoteAndAllOrNothing) {
  TempDir dir;
  CaseStore store(dir / "case.db");
  scan_into(store, {(kSource / "corpora/samples/inbox.mbox").string()});
  const std::vector<TicketRow> rows = store.ticket_rows({});
  ASSERT_GE(rows.size(), 2u);
  store.triage({{rows[0].id, Triage::Confirmed, "looked at it", "dana", std::nullopt}}, "tester");
  store.triage({{rows[0].id.substr(0, 10), Triage::Rotated, "revoked, INC-4411", "", std::nullopt}},
               "tester");
  const auto history = store.triage_history(rows[0].fingerprint);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].status, Triage::Confirmed);
  EXPECT_EQ(history[1].previous, Triage::Confirmed);
  EXPECT_EQ(history[1].owner, "dana");  // kept when not given anew
  TicketFilter rotated;
  rotated.triage = Triage::Rotated;
  const auto now_rotated = store.ticket_rows(rotated);
  ASSERT_EQ(now_rotated.size(), 1u);
  EXPECT_EQ(now_rotated[0].triage_note, "revoked, INC-4411");

  // One unknown id: nothing of the batch is applied.
  EXPECT_THROW(store.triage({{rows[1].id, Triage::FalsePositive, "", "", std::nullopt},
                             {"cs-ffffffffffffffff", Triage::Rotated, "", "", std::nullopt}},
                            "tester"),
               StoreError);
  EXPECT_TRUE(store.triage_history(rows[1].fingerprint).empty());
  EXPECT_THROW(store.triage({{"cs-", Triage::Rotated, "", "", std::nullopt}}, "tester"),
               StoreError);

  // Rebuilt tickets carry the triage.
  std::vector<std::unique_ptr<Rule>> storage;
  const auto tickets = store.tickets(rotated, {}, storage);
  ASSERT_EQ(tickets.size(), 1u);
  EXPECT_EQ(tickets[0].triage, Triage::Rotated);
  EXPECT_EQ(tickets[0].triage_owner, "dana");
}

TEST(StoreTriage, RotatedTicketSeenInNewerMailIsReopened) {
  TempDir dir;
  write(dir / "2020.mbox", sample_message("Mon, 02 Mar 2020 10:00:00 +0000", "a@x"));
  write(dir / "2020b.mbox", sample_message("Tue, 03 Mar 2020 10:00:00 +0000", "b@x"));
  write(dir / "2022.mbox", sample_message("Wed, 02 Mar 2022 10:00:00 +0000", "c@x"));
  CaseStore store(dir / "case.db");
  scan_into(store, {dir / "2020.mbox"});
  const auto rows = store.ticket_rows({});
  ASSERT_EQ(rows.size(), 1u);
  store.triage(
      {{rows[0].id, Triage::Rotated, "revoked", "ops", parse_date_argument("2021-01-01", false)}},
      "tester");
  scan_into(store, {dir / "2020b.mbox"});  // older mail: stays rotated
  EXPECT_EQ(store.ticket_rows({})[0].triage, Triage::Rotated);
  EXPECT_FALSE(store.ticket_rows({})[0].reopened);
  scan_into(store, {dir / "2022.mbox"});  // newer mail: reopened and flagged
  const TicketRow after = store.ticket_rows({})[0];
  EXPECT_EQ(after.triage, Triage::Open);
  EXPECT_TRUE(after.reopened);
  const auto history = store.triage_history(after.fingerprint);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_TRUE(history[1].automatic);
  EXPECT_EQ(history[1].previous, Triage::Rotated);
}

TEST(StoreFaults, FullDiskLeavesAConsistentStore) {
  TempDir dir;
  write(dir / "big.mbox", big_mbox(150));
  {
    CaseStore store(dir / "case.db");
    const int64_t pages = scalar(store, "PRAGMA page_count");
    // Room for 800 KB more (the scans row, the rules that fire and part of the messages), not
    // for the whole scan: SQLITE_FULL mid-scan.
    const int64_t room = (800 << 10) / scalar(store, "PRAGMA page_size");
    ASSERT_EQ(sqlite3_exec(db_of(store),
                           ("PRAGMA max_page_count = " + std::to_string(pages + room)).c_str(),
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    // The writer thread's error reaches the scan, naming the message it was recording.
    try {
      scan_into(store, {dir / "big.mbox"});
      FAIL() << "a full disk went unnoticed";
    } catch (const StoreError& error) {
      const std::string what = error.what();
      EXPECT_NE(what.find("case.db: "), std::string::npos) << what;
      EXPECT_NE(what.find("big.mbox at offset "), std::string::npos) << what;
    }
  }
  CaseStore store(dir / "case.db");
  EXPECT_EQ(store.integrity_check(), "ok");
  EXPECT_EQ(dump(store, "SELECT state FROM scans"), "running|\n");  // marked unfinished
  // Every ticket agrees with its findings (each batch went in whole or not at all).
  EXPECT_EQ(scalar(store,
                   "SELECT count(*) FROM tickets AS t WHERE occurrences <> (SELECT count(*) FROM "
                   "findings AS f WHERE f.ticket = t.fingerprint)"),
            0);
  EXPECT_EQ(scalar(store,
                   "SELECT count(*) FROM findings WHERE message NOT IN (SELECT key FROM messages)"),
            0);
  // A merge refuses the half-written store by name.
  CaseStore target(dir / "merged.db");
  try {
    merge_stores(target, {dir / "case.db"}, nullptr);
    FAIL() << "merged a half-written store";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("case.db: half-written"), std::string::npos)
        << error.what();
  }
}

TEST(StoreFaults, CorruptMissingAndForeignShardsAreRefusedByName) {
  TempDir dir;
  {
    CaseStore shard(dir / "good.db");
    scan_into(shard, {(kSource / "corpora/samples/inbox.mbox").string()});
  }
  write(dir / "big.mbox", big_mbox(60));
  {
    CaseStore shard(dir / "corrupt.db");
    scan_into(shard, {dir / "big.mbox"});
    sqlite3_exec(db_of(shard), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  }
  {
    // Overwrite a stretch of pages in the middle (not the header): integrity_check fails.
    std::fstream file(dir / "corrupt.db", std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(fs::file_size(dir.path() / "corrupt.db") / 2));
    const std::string junk(8192, '\x5a');
    file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  {
    RuleSet fewer = rules();
    fewer.rules.pop_back();
    CaseStore shard(dir / "other-rules.db");
    scan_into(shard, {(kSource / "corpora/samples/eml").string()}, {}, &fewer);
  }
  write(dir / "truncated.db", slurp(dir.path() / "good.db").substr(0, 1000));
  CaseStore target(dir / "case.db");
  try {
    merge_stores(target,
                 {dir / "good.db", dir / "corrupt.db", dir / "missing.db", dir / "other-rules.db",
                  dir / "truncated.db"},
                 nullptr);
    FAIL() << "merged bad shards";
  } catch (const StoreError& error) {
    const std::string what = error.what();
    EXPECT_EQ(what.find("good.db"), std::string::npos) << what;
    EXPECT_NE(what.find("corrupt.db: "), std::string::npos) << what;
    EXPECT_NE(what.find("missing.db: missing"), std::string::npos) << what;
    EXPECT_NE(what.find("other-rules.db: another rules version"), std::string::npos) << what;
    EXPECT_NE(what.find("truncated.db: "), std::string::npos) << what;
  }
  EXPECT_EQ(target.counts().messages, 0u);  // nothing merged
  EXPECT_EQ(target.counts().scans, 0u);
}

// Streamed into an empty or a new case: a corrupt shard among good ones refuses the whole
// merge by name, and nothing is merged (no case is made).
TEST(StoreFaults, ACorruptShardFoundDuringTheMergeRefusesIt) {
  TempDir dir;
  {
    CaseStore shard(dir / "good.db");
    scan_into(shard, {(kSource / "corpora/samples/inbox.mbox").string()});
  }
  write(dir / "big.mbox", big_mbox(60));
  {
    CaseStore shard(dir / "corrupt.db");
    scan_into(shard, {dir / "big.mbox"});
    sqlite3_exec(db_of(shard), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  }
  {
    std::fstream file(dir / "corrupt.db", std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(fs::file_size(dir.path() / "corrupt.db") / 2));
    const std::string junk(8192, '\x5a');
    file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  {
    CaseStore target(dir / "case.db");
    try {
      merge_stores(target, {dir / "good.db", dir / "corrupt.db"}, nullptr);
      FAIL() << "merged a corrupt shard";
    } catch (const StoreError& error) {
      const std::string what = error.what();
      EXPECT_NE(what.find("merge refused, nothing merged"), std::string::npos) << what;
      EXPECT_NE(what.find("corrupt.db: "), std::string::npos) << what;
      EXPECT_EQ(what.find("good.db"), std::string::npos) << what;
    }
    EXPECT_EQ(target.counts().messages, 0u);
    EXPECT_EQ(target.counts().findings, 0u);
    EXPECT_EQ(target.counts().scans, 0u);
  }
  EXPECT_THROW(merge_into(dir / "new.db", {dir / "corrupt.db", dir / "good.db"}, nullptr),
               StoreError);
  EXPECT_FALSE(fs::exists(dir.path() / "new.db"));
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename().string().find(".merging-"), std::string::npos);
}

TEST(StoreFaults, TwoWritersLoseNoUpdate) {
  TempDir dir;
  write(dir / "a.mbox", big_mbox(40));
  write(dir / "b.mbox", slurp(kSource / "corpora/samples/inbox.mbox"));
  {
    CaseStore store(dir / "case.db");
    scan_into(store, {dir / "b.mbox"});
  }
  std::string fingerprint;
  {
    CaseStore store(dir / "case.db");
    fingerprint = store.ticket_rows({})[0].fingerprint;
  }
  constexpr int kChanges = 60;
  const auto writer = [&](const std::string& who, bool scan) {
    CaseStore store(dir / "case.db");
    if (scan) scan_into(store, {dir / "a.mbox"});
    for (int i = 0; i < kChanges; ++i)
      store.triage({{fingerprint, i % 2 ? Triage::Confirmed : Triage::Open,
                     who + " " + std::to_string(i), who, std::nullopt}},
                   who);
  };
  std::thread first(writer, "first", true), second(writer, "second", false);
  first.join();
  second.join();
  CaseStore store(dir / "case.db");
  EXPECT_EQ(store.triage_history(fingerprint).size(), 2u * kChanges);
  CaseStore reference(dir / "reference.db");
  scan_into(reference, {dir / "b.mbox"});
  scan_into(reference, {dir / "a.mbox"});
  EXPECT_EQ(store.counts().findings, reference.counts().findings);
  EXPECT_EQ(store.counts().messages, reference.counts().messages);
  EXPECT_EQ(dump(store, "SELECT state FROM scans ORDER BY 1"), "complete|\ncomplete|\n");
}

// ---------------------------------------------------------------------------------------------
// Scale-out: shards merged equal one scan.

struct Corpus {
  TempDir dir;
  std::string root;
  Corpus() {
    root = (dir.path() / "archive").string();
    fs::copy(kSource / "corpora/samples", root, fs::copy_options::recursive);
    write(fs::path(root) / "zz/big.mbox", big_mbox(120));
    write(fs::path(root) / "zz/dup.mbox", slurp(kSource / "corpora/samples/inbox.mbox"));
  }
};

void scan_shard(const Manifest& manifest, uint64_t number, const std::string& path) {
  CaseStore store(path);
  SourceOptions source;
  const ManifestShard& shard = manifest_shard(manifest, number);
  const std::vector<std::string> inputs = shard_inputs(manifest, shard, source);
  ScanRecord record;
  record.manifest_digest = manifest.digest;
  record.shard = number;
  scan_into(store, inputs, std::move(source), nullptr, record);
}

TEST(StoreMerge, ShardsMergedEqualOneScan) {
  Corpus corpus;
  CaseStore single(corpus.dir / "single.db");
  scan_into(single, {corpus.root});
  const std::string expected = case_content(single);
  ASSERT_GT(single.counts().messages, 200u);

  for (const uint64_t shards : {1u, 3u, 8u}) {
    SCOPED_TRACE("shards " + std::to_string(shards));
    const Manifest manifest = parse_manifest(
        manifest_json(plan_shards({corpus.root}, shards, 0, rules_version(rules()), {})));
    ASSERT_EQ(manifest.shards.size(), shards);
    bool cut = false;
    for (const ManifestShard& shard : manifest.shards)
      for (const ManifestPiece& piece : shard.pieces) cut |= !piece.whole;
    if (shards > 1) {
      EXPECT_TRUE(cut) << "no mbox was cut into byte ranges";
    }
    std::vector<std::string> paths;
    for (uint64_t i = 0; i < shards; ++i) {
      paths.push_back(corpus.dir /
                      ("shard-" + std::to_string(shards) + "-" + std::to_string(i) + ".db"));
      scan_shard(manifest, i, paths.back());
    }
    // Merged in reverse order, then the middle shard once more: the same case.
    std::vector<std::string> reversed(paths.rbegin(), paths.rend());
    const std::string target = corpus.dir / ("merged-" + std::to_string(shards) + ".db");
    CaseStore merged(target);
    merge_stores(merged, reversed, &manifest);
    merge_stores(merged, {paths[paths.size() / 2]}, nullptr);
    EXPECT_EQ(case_content(merged), expected);
    EXPECT_EQ(merged.counts().messages, single.counts().messages);
    EXPECT_EQ(merged.counts().locations, single.counts().locations);
  }
}

// A merge into an empty case reads the shards directly (merge_streaming); into a case with
// rows it stages them: both give the same case, triage included, with a store given twice.
TEST(StoreMerge, StreamedAndStagedMergesAgree) {
  Corpus corpus;
  const std::string triaged = corpus.dir / "triaged.db";
  const std::string inbox = corpus.dir / "inbox.db";
  {
    CaseStore store(triaged);
    scan_into(store, {corpus.root});
    const std::vector<TicketRow> rows = store.ticket_rows({});
    ASSERT_GE(rows.size(), 2u);
    store.triage({{rows[0].id, Triage::Confirmed, "looked", "dana", std::nullopt}}, "tester");
    store.triage({{rows[0].id, Triage::Rotated, "revoked", "", int64_t{1700000000}}}, "tester");
    store.triage({{rows[1].id, Triage::FalsePositive, "test data", "ops", std::nullopt}}, "t");
  }
  {
    CaseStore store(inbox);
    scan_into(store, {(kSource / "corpora/samples/inbox.mbox").string()});
  }
  const auto content = [](CaseStore& store) {
    return case_content(store) +
           dump(store,
                "SELECT fingerprint, triage, triage_owner, triage_note, triage_at, reopened FROM "
                "tickets ORDER BY fingerprint") +
           dump(store,
                "SELECT id, fingerprint, status, previous, owner, note FROM triage_events ORDER "
                "BY id");
  };
  CaseStore streamed(corpus.dir / "streamed.db");
  merge_stores(streamed, {triaged, inbox, triaged}, nullptr);
  CaseStore staged(corpus.dir / "staged.db");
  merge_stores(staged, {inbox}, nullptr);
  merge_stores(staged, {triaged}, nullptr);
  const std::string expected = content(staged);
  EXPECT_EQ(content(streamed), expected);
  EXPECT_EQ(scalar(streamed, "SELECT count(*) FROM triage_events"), 3);
  // The same message in two stores: one row, the same whichever store came first (the rows
  // differ in their scan).
  CaseStore reversed(corpus.dir / "reversed.db");
  merge_stores(reversed, {inbox, triaged}, nullptr);
  const auto rows = [](CaseStore& store) {
    return dump(store, "SELECT * FROM messages ORDER BY key") +
           dump(store, "SELECT * FROM message_locations ORDER BY file, offset, location") +
           dump(store,
                "SELECT * FROM findings ORDER BY file, offset, location, part_path, line, "
                "rule_id, fingerprint") +
           dump(store, "SELECT * FROM tickets ORDER BY fingerprint");
  };
  EXPECT_EQ(rows(reversed), rows(streamed));
  {
    CaseStore first(triaged), second(inbox);  // the inbox's messages are in both stores
    EXPECT_LT(scalar(streamed, "SELECT count(*) FROM messages"),
              scalar(first, "SELECT count(*) FROM messages") +
                  scalar(second, "SELECT count(*) FROM messages"));
  }
  EXPECT_EQ(scalar(streamed, "SELECT count(*) FROM tickets WHERE triage = 'rotated'"), 1);
  // A new case (built aside with larger pages, then linked into place) is the same case.
  const std::string fresh = corpus.dir / "fresh.db";
  merge_into(fresh, {inbox, triaged}, nullptr);
  CaseStore linked(fresh);
  EXPECT_EQ(content(linked), expected);
  EXPECT_EQ(scalar(linked, "PRAGMA page_size"), 65536);
  EXPECT_EQ(linked.integrity_check(), "ok");
  EXPECT_EQ(fs::status(fresh).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

// Shards are attached by URI: a name with URI metacharacters still names that file, the shard
// is read and never written, and a case named "file:..." is the relative path it looks like.
// Verification results come with their shards: the latest check of a credential wins, the
// same whichever merge (streamed into a new case, staged into one with rows), order, or a shard
// merged twice.
TEST(StoreMerge, VerificationResultsTravelAndTheLatestWins) {
  TempDir dir;
  const std::string inbox = (kSource / "corpora/samples/inbox.mbox").string();
  std::string first_fp, second_fp;
  const auto shard = [&](const std::string& name, const std::string& checked_at,
                         VerificationState state, bool both) {
    CaseStore store(dir / name);
    scan_into(store, {inbox});
    const std::vector<TicketRow> rows = store.ticket_rows({});
    EXPECT_GE(rows.size(), 2u);
    first_fp = rows[0].fingerprint;
    second_fp = rows[1].fingerprint;
    std::vector<Ticket> tickets(both ? 2 : 1);
    for (size_t i = 0; i < tickets.size(); ++i) {
      tickets[i].fingerprint = rows[i].fingerprint;
      tickets[i].verification.state = state;
      tickets[i].verification.checked_at = checked_at;
      tickets[i].verification.endpoint = "https://api.example.test/" + name;
      tickets[i].verification.identity = {{"account", name}};
    }
    store.record_verifications(tickets);
  };
  shard("old.db", "2026-03-01T10:00:00Z", VerificationState::Live, true);
  shard("new.db", "2026-03-02T09:00:00Z", VerificationState::Revoked, false);
  shard("plain.db", "", VerificationState::NotChecked, false);  // nothing recorded
  const auto results = [](CaseStore& store) {
    return dump(store,
                "SELECT fingerprint, state, checked_at, endpoint, identity FROM verifications "
                "ORDER BY fingerprint");
  };
  CaseStore streamed(dir / "streamed.db");
  merge_stores(streamed, {dir / "old.db", dir / "new.db", dir / "plain.db", dir / "old.db"},
               nullptr);
  const std::map<std::string, Verification> merged = streamed.verifications();
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged.at(first_fp).state, VerificationState::Revoked);  // the later check
  EXPECT_EQ(merged.at(first_fp).checked_at, "2026-03-02T09:00:00Z");
  EXPECT_EQ(merged.at(first_fp).endpoint, "https://api.example.test/new.db");
  EXPECT_EQ(merged.at(second_fp).state, VerificationState::Live);  // only checked once
  CaseStore reversed(dir / "reversed.db");
  merge_stores(reversed, {dir / "new.db", dir / "old.db"}, nullptr);
  EXPECT_EQ(results(reversed), results(streamed));
  CaseStore staged(dir / "staged.db");
  merge_stores(staged, {dir / "plain.db"}, nullptr);
  merge_stores(staged, {dir / "new.db"}, nullptr);
  merge_stores(staged, {dir / "old.db"}, nullptr);  // older: does not replace the newer result
  merge_stores(staged, {dir / "new.db"}, nullptr);
  EXPECT_EQ(results(staged), results(streamed));
  // And onto the tickets read from the merged case.
  std::vector<std::unique_ptr<Rule>> storage;
  bool found = false;
  for (const Ticket& ticket : staged.tickets({}, {}, storage)) {
    if (ticket.fingerprint != first_fp) continue;
    found = true;
    EXPECT_EQ(ticket.verification.state, VerificationState::Revoked);
  }
  EXPECT_TRUE(found);
}

TEST(StoreMerge, ShardsAtAnyPathAreReadNotWritten) {
  Corpus corpus;
  CaseStore single(corpus.dir / "single.db");
  scan_into(single, {corpus.root});
  const std::string odd = corpus.dir / "shard 100%?mode=rw#x.db";
  {
    CaseStore shard(odd);
    scan_into(shard, {corpus.root});
  }
  const auto before = fs::last_write_time(odd);
  const uint64_t size = fs::file_size(odd);
  const fs::path cwd = fs::current_path();
  fs::current_path(corpus.dir.path());
  {
    CaseStore merged("file:case.db");
    merge_stores(merged, {odd}, nullptr);
    EXPECT_EQ(case_content(merged), case_content(single));
  }
  fs::current_path(cwd);
  EXPECT_TRUE(fs::exists(corpus.dir / "file:case.db"));
  EXPECT_EQ(fs::last_write_time(odd), before);
  EXPECT_EQ(fs::file_size(odd), size);
}

TEST(StoreMerge, ManifestFaults) {
  Corpus corpus;
  const Manifest manifest =
      parse_manifest(manifest_json(plan_shards({corpus.root}, 3, 1, rules_version(rules()), {})));
  EXPECT_EQ(manifest.shards.front().number, 1u);
  EXPECT_NO_THROW(check_manifest_inputs(manifest));
  EXPECT_THROW(manifest_shard(manifest, 0), StoreError);  // 1-based plan
  // Two of three shards ran: the third is named.
  scan_shard(manifest, 1, corpus.dir / "1.db");
  scan_shard(manifest, 2, corpus.dir / "2.db");
  CaseStore target(corpus.dir / "case.db");
  try {
    merge_stores(target, {corpus.dir / "1.db", corpus.dir / "2.db"}, &manifest);
    FAIL() << "merged without shard 3";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("shard 3: never ran"), std::string::npos)
        << error.what();
  }
  EXPECT_EQ(target.counts().messages, 0u);
  // An input that grew since the plan: refused, named.
  {
    std::ofstream grow(fs::path(corpus.root) / "zz/dup.mbox", std::ios::app);
    grow << "\n";
  }
  try {
    check_manifest_inputs(manifest);
    FAIL() << "a changed input was accepted";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("dup.mbox: size"), std::string::npos) << error.what();
  }
}

TEST(StoreMerge, ManifestReaderRefusesMalformedPlans) {
  EXPECT_THROW(parse_manifest(""), StoreError);
  EXPECT_THROW(parse_manifest("[]"), StoreError);
  EXPECT_THROW(parse_manifest(R"({"credsift_manifest":1,"index_base":2,"rules_version":"",
    "inputs":[],"shards":[]})"),
               StoreError);
  // A piece of an input that does not exist, and a range past the file's end.
  EXPECT_THROW(parse_manifest(R"({"credsift_manifest":1,"index_base":0,"rules_version":"r",
    "inputs":[],"shards":[{"shard":0,"bytes":1,"pieces":[{"input":0,"begin":0,"end":1,
    "first_index":0,"whole":true}]}]})"),
               StoreError);
  EXPECT_THROW(parse_manifest(R"({"credsift_manifest":1,"index_base":0,"rules_version":"r",
    "inputs":[{"path":"a","size":5,"mtime_ns":0,"walked":false,"maildir":false,"gzip":false,
    "mbox":true}],"shards":[{"shard":0,"bytes":1,"pieces":[{"input":0,"begin":0,"end":9,
    "first_index":0,"whole":false}]}]})"),
               StoreError);
}

TEST(StoreIdentity, MessageIdentityUsesContentSizeAndMessageId) {
  const std::string a = "Message-ID: <x@y>\nSubject: s\n\nbody\n";
  const std::string b = "Subject: s\nMessage-Id:\n  <x@y> \n\nbody\n";
  EXPECT_EQ(header_message_id(a), "<x@y>");
  EXPECT_EQ(header_message_id(b), "<x@y>");
  EXPECT_EQ(header_message_id("Subject: s\n\nMessage-ID: <not@header>\n"), "");
  EXPECT_EQ(message_identity(a).key, message_identity(a).key);
  EXPECT_NE(message_identity(a).key, message_identity(b).key);
  EXPECT_EQ(message_identity(a).size, a.size());
}

}  // namespace
}  // namespace credsift

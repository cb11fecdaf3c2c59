#pragma once
// Store: the case that outlives one scan. A SQLite database (WAL, busy timeout, versioned schema
// with migrations; see README "Case store") holding what was scanned (inputs, messages and
// their locations), findings, one ticket per fingerprint with its triage state and history,
// and each scan's summary. Also the scale-out contract: a plan (manifest) that cuts the inputs
// into shards, and the merge of shard stores into one case.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "credsift/pipeline.hpp"
#include "credsift/report.hpp"
#include "credsift/rules.hpp"
#include "credsift/ticket.hpp"

namespace credsift {

inline constexpr int kStoreSchemaVersion = 5;

struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The rules a case was scanned with: the loaded files' digest and the selected rule ids.
std::string rules_version(const RuleSet& rules);

// A message's identity: XXH3-128 of its bytes, its size and its Message-ID. The same message
// in two mailboxes is one message with two locations.
struct MessageIdentity {
  std::string key;  // "<xxh3-128 hex>:<size>:<xxh3-64 hex of the Message-ID>"
  std::string content_hash, message_id;
  uint64_t size = 0;
};
MessageIdentity message_identity(std::string_view bytes);
// The Message-ID header's value (unfolded, trimmed, at most 998 bytes); "" when absent.
std::string header_message_id(std::string_view message);

struct StoreOptions {
  bool create = true;          // create the file (mode 0600) when it does not exist
  bool read_only = false;      // open without writing (merge sources, tickets)
  bool store_secrets = false;  // keep secrets in clear (for re-verification); else redacted
  int busy_timeout_ms = 30000;
  // The connection is used by one thread at a time: no mutex taken on every SQLite call.
  bool one_thread = false;
};

struct TicketFilter {
  std::optional<Triage> triage;
  std::optional<Severity> severity;  // at least this severity
  std::string provider, domain;
  std::optional<int64_t> since, until;  // on the mail dates: last seen >= since, first <= until
  size_t limit = 0;                     // 0: all
};

// One row of the tickets table: what the default view lists (no findings loaded).
struct TicketRow {
  std::string id, fingerprint, rule_id, provider, status, secret;
  Severity severity = Severity::Low;
  uint64_t occurrences = 0, messages = 0;
  std::optional<int64_t> first_seen, last_seen;
  Triage triage = Triage::Open;
  std::string triage_owner, triage_note;
  bool reopened = false;
};

struct TriageChange {
  std::string ticket;  // id ("cs-..." or a unique prefix of one) or fingerprint
  Triage status = Triage::Open;
  std::string note, owner;
  std::optional<int64_t> at;  // when it happened (rotation time); default: now
};

struct TriageEvent {
  std::string fingerprint;
  int64_t at = 0;           // when it happened (as given: a rotation time)
  int64_t recorded_at = 0;  // when it was written down
  Triage status = Triage::Open, previous = Triage::Open;
  std::string owner, note, actor;
  bool automatic = false;  // a reopen by a scan, not a person
};

struct ScanRecord {
  std::vector<std::string> inputs;
  std::string manifest_digest;  // of the plan when scanning a shard
  std::optional<uint64_t> shard;
};

class CaseStore;

// Records one scan: the pipeline's hooks (ScanOptions::known and on_message) queue messages,
// locations and findings for a writer thread that owns the connection until finish() and
// writes them in batches, each batch one transaction that also brings its tickets up to date,
// so that a crash or a full disk leaves a consistent (if incomplete) case. The writer's error
// is thrown by the next on_message() or by finish(), naming the message it was recording.
class StoreScan {
 public:
  ~StoreScan();
  StoreScan(const StoreScan&) = delete;
  StoreScan& operator=(const StoreScan&) = delete;
  void attach(ScanOptions& options);  // sets options.known and options.on_message
  bool known(const Message& message, MessageResult& result);
  void on_message(const Message& message, const MessageResult& result);
  void finish(const ScanSummary& summary);  // commits the rest and marks the scan complete
  uint64_t reopened() const;                // rotated tickets reopened by this scan

 private:
  friend class CaseStore;
  struct Impl;
  explicit StoreScan(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class CaseStore {
 public:
  // Opens (or creates, 0600, never through a symbolic link) and migrates the store. Throws
  // StoreError naming the file: not a case store, a newer schema, corrupt, cannot create.
  CaseStore(const std::string& path, const StoreOptions& options = {});
  ~CaseStore();
  CaseStore(const CaseStore&) = delete;
  CaseStore& operator=(const CaseStore&) = delete;

  const std::string& path() const;
  int schema_version() const;
  // The rules version of the case's scans ("" before the first). All scans of a store share
  // one when merged; a rescan with other rules rescans the messages.
  std::string rules_version() const;
  // (device, inode) of the database and its journals: never read as inputs.
  std::vector<std::pair<uint64_t, uint64_t>> own_files() const;
  std::string integrity_check();  // "ok" or SQLite's complaint

  std::unique_ptr<StoreScan> begin_scan(const RuleSet& rules, const ScanRecord& record);
  // The same while the rules are still loading (pending_rules waits for them and throws their
  // load error): into a case without messages, where no message is known, the scan begins at
  // once (its known hook needs no rules, so the pipeline does not wait for them), and the
  // writer thread takes the rules before its first row; into a case with messages, this
  // waits for the rules here and is begin_scan(rules, record) (so their load must already be
  // under way on another thread).
  std::unique_ptr<StoreScan> begin_scan(std::function<const RuleSet&()> pending_rules,
                                        const ScanRecord& record);
  bool has_messages();
  bool created() const;  // this open laid the store out (the file was new or empty)

  std::vector<TicketRow> ticket_rows(const TicketFilter& filter);
  uint64_t count_tickets(const TicketFilter& filter);
  // Full tickets (occurrences and all) for the formats, rebuilt from the stored findings.
  // Rules are those stored with the findings; rule_storage keeps them alive.
  std::vector<Ticket> tickets(const TicketFilter& filter, const TicketOptions& options,
                              std::vector<std::unique_ptr<Rule>>& rule_storage);
  // Applies every change in one transaction (all or none); throws naming an unknown or
  // ambiguous id.
  void triage(const std::vector<TriageChange>& changes, const std::string& actor);
  // The fingerprint of a ticket given by id ("cs-...", or a unique prefix of at least 7
  // characters) or fingerprint; throws naming an unknown or ambiguous id.
  std::string resolve_ticket(const std::string& id);
  // Every triage event of a ticket (by fingerprint), oldest first: people's and reopens.
  std::vector<TriageEvent> triage_history(const std::string& fingerprint);
  std::set<std::string> fingerprints();  // every credential in the case (for a baseline)

  // Live verification results, one per fingerprint (the latest): written by scan --store
  // --verify and tickets --verify, read back onto the tickets (tickets()) and as the cache
  // that keeps a scan from contacting a provider again. Not-checked results are not kept.
  void record_verifications(const std::vector<Ticket>& tickets);
  std::map<std::string, Verification> verifications();

  struct Counts {
    uint64_t messages = 0, locations = 0, findings = 0, tickets = 0, scans = 0;
  };
  Counts counts();

  // Test hook: the raw handle (sqlite3*) for fault tests and benchmarks.
  void* handle();

 private:
  friend class StoreScan;
  friend struct MergeAccess;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Creates a store at an older schema version (tests of the migrations).
void create_store_at_version(const std::string& path, int version);

// ---------------------------------------------------------------------------------------------
// Scale-out: plan, manifest, merge.

struct ManifestInput {
  std::string path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool walked = false, maildir = false, gzip = false, mbox = false;
};
struct ManifestPiece {
  uint64_t input = 0;  // index into Manifest::inputs
  uint64_t begin = 0, end = 0;
  uint64_t first_index = 0;  // of the message starting at begin (0-based within the file)
  bool whole = true;         // the whole file (begin 0, end size)
};
struct ManifestShard {
  uint64_t number = 0;  // as the array task sees it (index_base + position)
  uint64_t bytes = 0;
  std::vector<ManifestPiece> pieces;
};
struct Manifest {
  int index_base = 0;  // 0: shards 0..N-1 (Slurm --array=0-63); 1: 1..N (SGE, --array=1-64)
  std::string rules_version;
  std::vector<ManifestInput> inputs;
  std::vector<ManifestShard> shards;
  std::string digest;  // sha256 of the document, set when read or written
};

// Splits the inputs into `shards` shards of about equal bytes: whole files, and byte ranges of
// mbox files cut at message separators (with each cut's message index).
Manifest plan_shards(const std::vector<std::string>& inputs, uint64_t shards, int index_base,
                     const std::string& rules_version, const DiagnosticSink& diagnostics);
std::string manifest_json(const Manifest& manifest);
// Throws StoreError on anything malformed (bounded, no recursion beyond the fixed layout).
Manifest parse_manifest(std::string_view text);
Manifest read_manifest(const std::string& path);
// Throws StoreError naming every input whose size or mtime changed since the plan.
void check_manifest_inputs(const Manifest& manifest);
// The shard's inputs and slices, for the MessageSource. `number` in the manifest's numbering.
const ManifestShard& manifest_shard(const Manifest& manifest, uint64_t number);
std::vector<std::string> shard_inputs(const Manifest& manifest, const ManifestShard& shard,
                                      SourceOptions& source);

struct MergeResult {
  uint64_t shards = 0, messages_added = 0, findings_added = 0, tickets = 0;
};
// Merges shard stores into `target` in one transaction, after checking every shard: missing,
// not a store, corrupt (integrity_check), another schema, another rules version, a scan that
// never finished, or (with a manifest) a shard that never ran. Throws StoreError naming every
// refused shard; nothing is merged then. Idempotent and order-independent.
MergeResult merge_stores(CaseStore& target, const std::vector<std::string>& shards,
                         const Manifest* manifest);
// The same into the case at `case_path`; a case that does not exist yet (every merge after a
// Slurm array) is built in a temporary file beside it without a journal, then linked into
// place: a crash leaves no case or the whole one.
MergeResult merge_into(const std::string& case_path, const std::vector<std::string>& shards,
                       const Manifest* manifest);

}  // namespace credsift

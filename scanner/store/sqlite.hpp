#pragma once
// Thin RAII over the SQLite C API for the store stage: prepared statements, transactions, and
// errors that name the database file.
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "credsift/store.hpp"

namespace credsift::store_detail {

[[noreturn]] inline void fail(sqlite3* db, const std::string& path, const std::string& what) {
  std::string message = path + ": " + what;
  if (db) message += ": " + std::string(sqlite3_errmsg(db));
  throw StoreError(message);
}

class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, std::string_view sql) : db_(db), path_(&path) {
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt_, nullptr) != SQLITE_OK)
      fail(db, path, "cannot prepare " + std::string(sql.substr(0, 60)));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::string_view text) {
    check(sqlite3_bind_text64(stmt_, i, text.data() ? text.data() : "", text.size(),
                              copy_ ? SQLITE_TRANSIENT : SQLITE_STATIC, SQLITE_UTF8));
    return *this;
  }
  // Texts bound from now on are not copied: for statements whose every use binds and runs in
  // one expression (`s.bind(..).bind(..).run()`), where the texts, temporaries included, live
  // until run() is done; run() clears the bindings.
  Statement& bind_without_copies() {
    copy_ = false;
    return *this;
  }
  Statement& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
  Statement& bind(int i, const std::string& text) { return bind(i, std::string_view(text)); }
  Statement& bind(int i, int64_t value) {
    check(sqlite3_bind_int64(stmt_, i, value));
    return *this;
  }
  Statement& bind(int i, uint64_t value) { return bind(i, static_cast<int64_t>(value)); }
  Statement& bind(int i, int value) { return bind(i, static_cast<int64_t>(value)); }
  Statement& bind(int i, bool value) { return bind(i, static_cast<int64_t>(value)); }
  Statement& bind(int i, double value) {
    check(sqlite3_bind_double(stmt_, i, value));
    return *this;
  }
  Statement& bind(int i, std::optional<int64_t> value) {
    check(value ? sqlite3_bind_int64(stmt_, i, *value) : sqlite3_bind_null(stmt_, i));
    return *this;
  }
  // One step: true while rows come.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, *path_, "query failed");
  }
  void run() {
    while (step()) {
    }
    reset();
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
             : std::string();
  }
  int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::optional<int64_t> optional_integer(int column) const {
    if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_int64(stmt_, column);
  }
  sqlite3_stmt* get() { return stmt_; }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail(db_, *path_, "cannot bind a value");
  }
  sqlite3* db_;
  const std::string* path_;
  sqlite3_stmt* stmt_ = nullptr;
  bool copy_ = true;
};

inline void exec(sqlite3* db, const std::string& path, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "failed";
    sqlite3_free(error);
    throw StoreError(path + ": " + message);
  }
}

// BEGIN IMMEDIATE (the busy timeout applies to taking the write lock, so two writers queue
// instead of failing mid-transaction); rolled back unless committed.
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path, bool immediate = true) : db_(db), path_(path) {
    exec(db, path, immediate ? "BEGIN IMMEDIATE" : "BEGIN");
  }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    exec(db_, path_, "COMMIT");
    done_ = true;
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  bool done_ = false;
};

// Length-prefixed list of strings ("5:hello3:abc"): for pairs and location fields that may
// hold any byte.
std::string pack(const std::vector<std::string>& fields);
std::vector<std::string> unpack(std::string_view packed);

std::string location_key(const ItemLocation& location);  // "" for plain files
int64_t now_seconds();
std::string random_id();  // 32 hex digits
extern const char* const kTouchedTable;
extern const char* const kTouch;  // (fingerprint, newest date added or NULL)
// Recomputes the tickets listed in temp.touched from their findings, reopens rotated ones seen
// again in newer mail, and empties temp.touched; returns how many were reopened.
uint64_t refresh_touched_tickets(sqlite3* db, const std::string& path);
ItemLocation location_from_key(std::string_view key);

}  // namespace credsift::store_detail

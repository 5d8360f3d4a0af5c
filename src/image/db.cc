// SQLite wrapper: errors become Error values naming the statement or database path.
#include "image/db.h"

#include <sqlite3.h>

#include <utility>

namespace berth::image {
namespace {

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  ErrorCode code = ErrorCode::kInternal;
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) code = ErrorCode::kUnavailable;
  if (primary == SQLITE_CONSTRAINT) code = ErrorCode::kAlreadyExists;
  if (primary == SQLITE_FULL) code = ErrorCode::kResourceExhausted;
  return Error(code, std::move(msg));
}

}  // namespace

Statement::Statement(Statement&& o) noexcept
    : stmt_(std::exchange(o.stmt_, nullptr)), db_(o.db_), bind_error_(std::move(o.bind_error_)) {}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    if (stmt_) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(o.stmt_, nullptr);
    db_ = o.db_;
    bind_error_ = std::move(o.bind_error_);
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int idx, std::string_view text) {
  int rc =
      sqlite3_bind_text(stmt_, idx, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && !bind_error_) bind_error_ = sqlite_error(db_, rc, "binding parameter");
  return *this;
}

Statement& Statement::bind(int idx, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, idx, v);
  if (rc != SQLITE_OK && !bind_error_) bind_error_ = sqlite_error(db_, rc, "binding parameter");
  return *this;
}

Statement& Statement::bind_null(int idx) {
  int rc = sqlite3_bind_null(stmt_, idx);
  if (rc != SQLITE_OK && !bind_error_) bind_error_ = sqlite_error(db_, rc, "binding parameter");
  return *this;
}

Result<bool> Statement::step() {
  if (bind_error_) return std::unexpected(*bind_error_);
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const char* sql = sqlite3_sql(stmt_);
  return std::unexpected(sqlite_error(db_, rc, std::string("sql ") + (sql ? sql : "")));
}

Result<> Statement::run() {
  while (true) {
    ASSIGN_OR_RETURN(bool row, step());
    if (!row) return {};
  }
}

Result<> Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_.reset();
  return {};
}

std::string Statement::text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

int64_t Statement::int64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

bool Statement::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

Result<std::unique_ptr<Db>> Db::open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e = sqlite_error(raw, rc, "opening database " + path);
    sqlite3_close(raw);
    return std::unexpected(std::move(e));
  }
  std::unique_ptr<Db> db(new Db(raw, path));
  sqlite3_busy_timeout(raw, 10000);
  TRY_CTX(db->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"),
          "opening database " + path);
  return db;
}

Db::~Db() {
  sqlite3_close_v2(db_);
}

Result<> Db::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Error e = sqlite_error(nullptr, rc, "");
    return make_error(e.code(), "database " + path_ + ": " + msg);
  }
  return {};
}

Result<Statement> Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK)
    return std::unexpected(sqlite_error(db_, rc, "preparing " + std::string(sql)));
  return Statement(stmt, db_);
}

int64_t Db::changes() const {
  return sqlite3_changes64(db_);
}

Result<Db::Transaction> Db::begin() {
  TRY(exec("BEGIN IMMEDIATE"));
  return Transaction(this);
}

Db::Transaction::~Transaction() {
  if (db_) (void)db_->exec("ROLLBACK");
}

Result<> Db::Transaction::commit() {
  Db* db = std::exchange(db_, nullptr);
  auto r = db->exec("COMMIT");
  if (!r) {
    (void)db->exec("ROLLBACK");
    return r;
  }
  return {};
}

}  // namespace berth::image

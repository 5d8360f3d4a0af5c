// A small RAII wrapper over SQLite for berth's metadata.db: one connection (WAL mode,
// busy_timeout, foreign keys on), prepared statements with bind/step/column, and transactions
// that roll back unless committed. General on purpose: the image store (image_* tables) and the
// engine (container_*, volume_*) each open their own connection to the same file.
//
// A Db is not thread-safe by itself: guard it with mutex() (a connection per store plus
// busy_timeout handles contention between stores).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace berth::image {

class Statement {
 public:
  Statement() = default;
  Statement(Statement&& o) noexcept;
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQLite.
  Statement& bind(int idx, std::string_view text);
  Statement& bind(int idx, const char* text) { return bind(idx, std::string_view(text)); }
  Statement& bind(int idx, const std::string& text) { return bind(idx, std::string_view(text)); }
  Statement& bind(int idx, int64_t v);
  Statement& bind(int idx, int v) { return bind(idx, static_cast<int64_t>(v)); }
  Statement& bind_null(int idx);
  // Binds every argument in order from parameter 1.
  template <class... Args>
  Statement& bind_all(const Args&... args) {
    int i = 1;
    (bind(i++, args), ...);
    return *this;
  }

  // true: a row is available; false: done. Errors carry SQLite's message.
  Result<bool> step();
  // Steps until done (for INSERT/UPDATE/DELETE).
  Result<> run();
  Result<> reset();

  // Columns are 0-based.
  std::string text(int col) const;
  int64_t int64(int col) const;
  bool is_null(int col) const;

 private:
  friend class Db;
  Statement(sqlite3_stmt* s, sqlite3* db) : stmt_(s), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
  std::optional<Error> bind_error_;
};

class Db {
 public:
  // Opens (creating) the database at path: WAL journal, synchronous=NORMAL, busy_timeout 10 s.
  static Result<std::unique_ptr<Db>> open(const std::string& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements without results (schema, pragmas).
  Result<> exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  int64_t changes() const;
  const std::string& path() const { return path_; }
  std::mutex& mutex() { return mu_; }

  // BEGIN IMMEDIATE ... COMMIT; the destructor rolls back an uncommitted transaction.
  class Transaction {
   public:
    Transaction(Transaction&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
    Transaction& operator=(Transaction&&) = delete;
    ~Transaction();
    Result<> commit();

   private:
    friend class Db;
    explicit Transaction(Db* db) : db_(db) {}
    Db* db_;
  };
  Result<Transaction> begin();

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  std::mutex mu_;
};

}  // namespace berth::image

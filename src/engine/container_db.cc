// ContainerDb on the sqlite3 C API. Callers serialise access (the engine's table lock).
#include "engine/container_db.h"

#include <sqlite3.h>

namespace berth::engine {

namespace {
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};
}  // namespace

Result<std::unique_ptr<ContainerDb>> ContainerDb::open(const std::string& path) {
  std::unique_ptr<ContainerDb> db(new ContainerDb());
  if (sqlite3_open_v2(path.c_str(), &db->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK)
    return make_error(
        ErrorCode::kInternal,
        "opening " + path + ": " + (db->db_ ? sqlite3_errmsg(db->db_) : "out of memory"));
  sqlite3_busy_timeout(db->db_, 10000);
  TRY(db->exec("PRAGMA journal_mode=WAL"));
  TRY(db->exec("PRAGMA synchronous=NORMAL"));
  TRY(db->exec(
      "CREATE TABLE IF NOT EXISTS container_records (id TEXT PRIMARY KEY, doc TEXT NOT NULL)"));
  return db;
}

ContainerDb::~ContainerDb() {
  if (db_) sqlite3_close_v2(db_);
}

Result<> ContainerDb::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return make_error(ErrorCode::kInternal, "metadata.db: " + msg);
  }
  return {};
}

Result<> ContainerDb::put(const Container& c) {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO container_records (id, doc) VALUES (?, ?)",
                         -1, &st.s, nullptr) != SQLITE_OK)
    return make_error(ErrorCode::kInternal, std::string("metadata.db: ") + sqlite3_errmsg(db_));
  std::string doc = c.to_json().dump();
  sqlite3_bind_text(st.s, 1, c.id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 2, doc.c_str(), static_cast<int>(doc.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st.s) != SQLITE_DONE)
    return make_error(ErrorCode::kInternal,
                      std::string("saving container ") + c.id + ": " + sqlite3_errmsg(db_));
  return {};
}

Result<> ContainerDb::remove(const std::string& id) {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "DELETE FROM container_records WHERE id = ?", -1, &st.s, nullptr) !=
      SQLITE_OK)
    return make_error(ErrorCode::kInternal, std::string("metadata.db: ") + sqlite3_errmsg(db_));
  sqlite3_bind_text(st.s, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st.s) != SQLITE_DONE)
    return make_error(ErrorCode::kInternal,
                      std::string("removing container ") + id + ": " + sqlite3_errmsg(db_));
  return {};
}

Result<std::vector<Container>> ContainerDb::load_all() {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "SELECT doc FROM container_records", -1, &st.s, nullptr) != SQLITE_OK)
    return make_error(ErrorCode::kInternal, std::string("metadata.db: ") + sqlite3_errmsg(db_));
  std::vector<Container> out;
  while (sqlite3_step(st.s) == SQLITE_ROW) {
    auto text = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0));
    auto j = json::parse(text ? text : "", "container record");
    if (!j) continue;
    auto c = Container::from_json(*j);
    if (c) out.push_back(std::move(*c));
  }
  return out;
}

}  // namespace berth::engine

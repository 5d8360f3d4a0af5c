// ContainerDb on image/db.h, the SQLite wrapper the engine shares with the image store.
#include "engine/container_db.h"

#include "image/db.h"

namespace berth::engine {

Result<std::unique_ptr<ContainerDb>> ContainerDb::open(const std::string& path) {
  std::unique_ptr<ContainerDb> db(new ContainerDb());
  ASSIGN_OR_RETURN(db->db_, image::Db::open(path));
  TRY(db->db_->exec(
      "CREATE TABLE IF NOT EXISTS container_records (id TEXT PRIMARY KEY, doc TEXT NOT NULL)"));
  return db;
}

ContainerDb::~ContainerDb() = default;

Result<> ContainerDb::put(const Container& c) {
  std::lock_guard lock(db_->mutex());
  ASSIGN_OR_RETURN(
      auto st, db_->prepare("INSERT OR REPLACE INTO container_records (id, doc) VALUES (?, ?)"));
  TRY_CTX(st.bind_all(c.id, c.to_json().dump()).run(), "saving container " + c.id);
  return {};
}

Result<> ContainerDb::remove(const std::string& id) {
  std::lock_guard lock(db_->mutex());
  ASSIGN_OR_RETURN(auto st, db_->prepare("DELETE FROM container_records WHERE id = ?"));
  TRY_CTX(st.bind_all(id).run(), "removing container " + id);
  return {};
}

Result<std::vector<Container>> ContainerDb::load_all() {
  std::lock_guard lock(db_->mutex());
  ASSIGN_OR_RETURN(auto st, db_->prepare("SELECT doc FROM container_records"));
  std::vector<Container> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    auto j = json::parse(st.text(0), "container record");
    if (!j) continue;
    if (auto c = Container::from_json(*j)) out.push_back(std::move(*c));
  }
  return out;
}

}  // namespace berth::engine

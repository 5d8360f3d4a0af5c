// Container records in metadata.db (SQLite, WAL, through image/db.h): one JSON document per
// container, written in one statement so a crash leaves the old or the new record, never half of
// one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/container.h"

namespace berth::image {
class Db;
}

namespace berth::engine {

class ContainerDb {
 public:
  static Result<std::unique_ptr<ContainerDb>> open(const std::string& path);
  ~ContainerDb();
  Result<> put(const Container& c);
  Result<> remove(const std::string& id);
  Result<std::vector<Container>> load_all();

 private:
  ContainerDb() = default;
  std::unique_ptr<image::Db> db_;
};

}  // namespace berth::engine

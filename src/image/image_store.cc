// The image store's metadata side: opening the store, the image_* tables, lookups (resolve by
// name, digest, ID or ID prefix), tag, docker's rmi semantics, history, prune, garbage
// collection and disk usage. Adding images lives in load.cc, save.cc and import_commit.cc.
//
// Deletion is reference walking: a blob or committed snapshot stays while any image row or any
// container's active snapshot needs it; everything else is collectable.
#include <algorithm>
#include <map>
#include <set>

#include "base/file.h"
#include "image/image_store_impl.h"

namespace berth::image {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS image_images (
  id TEXT PRIMARY KEY,
  manifest_digest TEXT NOT NULL,
  config TEXT NOT NULL,
  created INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL DEFAULT 0,
  diff_ids TEXT NOT NULL DEFAULT '[]',
  chain_ids TEXT NOT NULL DEFAULT '[]',
  layers TEXT NOT NULL DEFAULT '[]',
  parent TEXT NOT NULL DEFAULT '',
  added INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS image_tags (
  ref TEXT PRIMARY KEY,
  image_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS image_tags_image ON image_tags(image_id);
CREATE TABLE IF NOT EXISTS image_digests (
  ref TEXT PRIMARY KEY,
  image_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS image_digests_image ON image_digests(image_id);
)sql";

constexpr std::string_view kImageColumns =
    "id, manifest_digest, config, created, size, diff_ids, chain_ids";

std::string short_id(const std::string& id) {
  std::string_view s = id;
  if (s.starts_with("sha256:")) s.remove_prefix(7);
  return std::string(s.substr(0, 12));
}

std::vector<std::string> json_strings(const std::string& text) {
  std::vector<std::string> out;
  auto j = json::parse(text, "column");
  if (!j || !j->is_array()) return out;
  for (const auto& e : *j)
    if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

std::string familiar_of(const std::string& normalised) {
  auto r = oci::parse_normalized_named(normalised);
  return r ? r->familiar() : normalised;
}

bool is_hex_prefix(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Error no_such_image(const std::string& what) {
  return Error(ErrorCode::kNotFound, "No such image: " + what);
}

}  // namespace

Result<std::unique_ptr<ImageStore>> ImageStore::open(const std::string& data_root) {
  ASSIGN_OR_RETURN(auto store, LocalImageStore::create(data_root));
  return std::unique_ptr<ImageStore>(std::move(store));
}

Result<std::unique_ptr<LocalImageStore>> LocalImageStore::create(const std::string& data_root) {
  std::unique_ptr<LocalImageStore> s(new LocalImageStore());
  s->root_ = data_root;
  TRY_CTX(mkdir_all(data_root, 0711), "opening image store " + data_root);
  ASSIGN_OR_RETURN(s->content_, ContentStore::open(data_root + "/content"));
  ASSIGN_OR_RETURN(s->snapshotter_, Snapshotter::create(data_root + "/snapshots"));
  ASSIGN_OR_RETURN(s->db_, Db::open(data_root + "/metadata.db"));
  TRY(s->init_schema());
  return s;
}

Result<> LocalImageStore::init_schema() {
  std::lock_guard lk(db_->mutex());
  return db_->exec(kSchema);
}

// ---------------------------------------------------------------------------------------------
// Rows

Result<std::vector<std::string>> LocalImageStore::refs_of(const std::string& id, bool digests) {
  std::lock_guard lk(db_->mutex());
  ASSIGN_OR_RETURN(
      Statement st,
      db_->prepare(digests ? "SELECT ref FROM image_digests WHERE image_id=? ORDER BY ref"
                           : "SELECT ref FROM image_tags WHERE image_id=? ORDER BY ref"));
  st.bind(1, id);
  std::vector<std::string> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back(st.text(0));
  }
  return out;
}

static Result<Image> image_from_row(const Statement& st) {
  Image img;
  img.id = st.text(0);
  img.manifest_digest = st.text(1);
  ASSIGN_OR_RETURN(img.config, json::parse(st.text(2), "config of image " + img.id));
  img.created = st.int64(3);
  img.size = st.int64(4);
  img.diff_ids = json_strings(st.text(5));
  img.chain_ids = json_strings(st.text(6));
  return img;
}

Result<Image> LocalImageStore::get_by_id(const std::string& id) {
  Image img;
  {
    std::lock_guard lk(db_->mutex());
    ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT " + std::string(kImageColumns) +
                                                " FROM image_images WHERE id=?"));
    st.bind(1, id);
    ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return std::unexpected(no_such_image(id));
    ASSIGN_OR_RETURN(img, image_from_row(st));
  }
  ASSIGN_OR_RETURN(auto tags, refs_of(id, false));
  ASSIGN_OR_RETURN(auto digests, refs_of(id, true));
  for (const auto& t : tags) img.repo_tags.push_back(familiar_of(t));
  for (const auto& d : digests) img.repo_digests.push_back(familiar_of(d));
  return img;
}

Result<std::vector<std::string>> LocalImageStore::all_ids() {
  std::lock_guard lk(db_->mutex());
  ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT id FROM image_images"));
  std::vector<std::string> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back(st.text(0));
  }
  return out;
}

Result<std::vector<std::string>> LocalImageStore::children_of(const std::string& id) {
  std::lock_guard lk(db_->mutex());
  ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT id FROM image_images WHERE parent=?"));
  st.bind(1, id);
  std::vector<std::string> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back(st.text(0));
  }
  return out;
}

Result<std::string> LocalImageStore::id_for_ref(const oci::Reference& ref) {
  std::lock_guard lk(db_->mutex());
  std::string key = ref.string();
  ASSIGN_OR_RETURN(
      Statement st,
      db_->prepare(ref.digest.empty() ? "SELECT image_id FROM image_tags WHERE ref=?"
                                      : "SELECT image_id FROM image_digests WHERE ref=?"));
  if (!ref.digest.empty() && !ref.tag.empty()) {
    // name:tag@digest: the digest decides, as in docker.
    oci::Reference d = ref;
    d.tag.clear();
    key = d.string();
  }
  st.bind(1, key);
  ASSIGN_OR_RETURN(bool row, st.step());
  if (row) return st.text(0);
  if (!ref.digest.empty()) {
    // A digest we never recorded for this repository may still be the manifest we stored for
    // an image tagged in it (loaded from an OCI layout, say).
    ASSIGN_OR_RETURN(Statement q,
                     db_->prepare("SELECT i.id FROM image_images i JOIN image_tags t ON "
                                  "t.image_id=i.id WHERE i.manifest_digest=? AND t.ref LIKE ?"));
    q.bind(1, ref.digest).bind(2, ref.name() + ":%");
    ASSIGN_OR_RETURN(bool found, q.step());
    if (found) return q.text(0);
  }
  return std::string();
}

Result<std::string> LocalImageStore::search_id_prefix(const std::string& prefix) {
  std::lock_guard lk(db_->mutex());
  ASSIGN_OR_RETURN(Statement st,
                   db_->prepare("SELECT id FROM image_images WHERE id >= ? AND id < ? "
                                "ORDER BY id LIMIT 2"));
  std::string lo = "sha256:" + prefix, hi = lo + "~";
  st.bind(1, lo).bind(2, hi);
  std::vector<std::string> found;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    found.push_back(st.text(0));
  }
  if (found.size() > 1)
    return make_error(ErrorCode::kInvalidArgument, "ambiguous image id prefix " + prefix);
  return found.empty() ? std::string() : found.front();
}

Result<std::vector<std::string>> LocalImageStore::record_images(
    const std::vector<NewImage>& images) {
  std::vector<std::string> messages;
  std::lock_guard lk(db_->mutex());
  ASSIGN_OR_RETURN(Db::Transaction tx, db_->begin());
  ASSIGN_OR_RETURN(Statement ins,
                   db_->prepare("INSERT OR IGNORE INTO image_images (id, manifest_digest, "
                                "config, created, size, diff_ids, chain_ids, layers, parent, "
                                "added) VALUES (?,?,?,?,?,?,?,?,?,strftime('%s','now'))"));
  ASSIGN_OR_RETURN(Statement old_tag, db_->prepare("SELECT image_id FROM image_tags WHERE ref=?"));
  ASSIGN_OR_RETURN(Statement put_tag,
                   db_->prepare("INSERT OR REPLACE INTO image_tags (ref, image_id) VALUES (?,?)"));
  ASSIGN_OR_RETURN(Statement put_digest, db_->prepare("INSERT OR REPLACE INTO image_digests "
                                                      "(ref, image_id) VALUES (?,?)"));
  for (const auto& img : images) {
    std::string id = sha256_digest(img.config_bytes);
    int64_t created = 0;
    if (auto cfg = json::parse(img.config_bytes, "config"); cfg && cfg->is_object()) {
      auto c = cfg->find("created");
      if (c != cfg->end() && c->is_string()) created = oci::parse_rfc3339(c->get<std::string>());
    }
    TRY(ins.reset());
    ins.bind_all(id, img.manifest_digest, img.config_bytes, created, img.size,
                 json::dump(json::Json(img.diff_ids)), json::dump(json::Json(img.chain_ids)),
                 json::dump(json::Json(img.layer_digests)), img.parent);
    TRY(ins.run());
    for (const auto& tag : img.tags) {
      TRY(old_tag.reset());
      old_tag.bind(1, tag.string());
      ASSIGN_OR_RETURN(bool row, old_tag.step());
      if (row && old_tag.text(0) != id)
        messages.push_back("The image " + tag.familiar() +
                           " already exists, renaming the old one with ID " + old_tag.text(0) +
                           " to empty string");
      TRY(put_tag.reset());
      put_tag.bind_all(tag.string(), id);
      TRY(put_tag.run());
    }
    for (const auto& d : img.digests) {
      TRY(put_digest.reset());
      put_digest.bind_all(d.string(), id);
      TRY(put_digest.run());
    }
  }
  TRY(tx.commit());
  return messages;
}

Result<> LocalImageStore::add_digest(const std::string& image_id, const oci::Reference& ref) {
  std::lock_guard lk(db_->mutex());
  ASSIGN_OR_RETURN(Statement st, db_->prepare("INSERT OR REPLACE INTO image_digests (ref, "
                                              "image_id) VALUES (?,?)"));
  st.bind_all(ref.string(), image_id);
  return st.run();
}

// ---------------------------------------------------------------------------------------------
// Lookups

Result<Image> LocalImageStore::resolve(const std::string& ref_or_id) {
  const std::string& s = ref_or_id;
  if (s.starts_with("sha256:")) {
    std::string hex = s.substr(7);
    if (oci::is_hex64(hex)) {
      auto img = get_by_id(s);
      if (!img) return std::unexpected(no_such_image(s));
      return img;
    }
    if (is_hex_prefix(hex)) {
      ASSIGN_OR_RETURN(std::string id, search_id_prefix(hex));
      if (!id.empty()) return get_by_id(id);
    }
    return std::unexpected(no_such_image(s));
  }
  if (oci::is_hex64(s)) {
    auto img = get_by_id("sha256:" + s);
    if (!img) return std::unexpected(no_such_image("sha256:" + s));
    return img;
  }
  auto parsed = oci::parse_normalized_named(s);
  if (!parsed) return std::unexpected(parsed.error());
  oci::Reference ref = *parsed;
  if (ref.name_only()) ref.tag = std::string(oci::kDefaultTag);
  ASSIGN_OR_RETURN(std::string id, id_for_ref(ref));
  if (!id.empty()) {
    if (auto img = get_by_id(id)) return img;
  }
  if (is_hex_prefix(s)) {
    ASSIGN_OR_RETURN(id, search_id_prefix(s));
    if (!id.empty()) return get_by_id(id);
  }
  return std::unexpected(no_such_image(ref.familiar()));
}

Result<std::vector<Image>> LocalImageStore::list() {
  std::vector<Image> out;
  std::map<std::string, size_t> by_id;
  std::lock_guard lk(db_->mutex());
  {
    ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT " + std::string(kImageColumns) +
                                                " FROM image_images ORDER BY created DESC, id"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      ASSIGN_OR_RETURN(Image img, image_from_row(st));
      by_id[img.id] = out.size();
      out.push_back(std::move(img));
    }
  }
  for (bool digests : {false, true}) {
    ASSIGN_OR_RETURN(Statement st,
                     db_->prepare(digests ? "SELECT ref, image_id FROM image_digests ORDER BY ref"
                                          : "SELECT ref, image_id FROM image_tags ORDER BY ref"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      auto it = by_id.find(st.text(1));
      if (it == by_id.end()) continue;
      auto& v = digests ? out[it->second].repo_digests : out[it->second].repo_tags;
      v.push_back(familiar_of(st.text(0)));
    }
  }
  return out;
}

Result<> LocalImageStore::tag(const std::string& source, const std::string& target) {
  std::shared_lock ops(ops_mu_);  // the image cannot be deleted between resolve and insert
  ASSIGN_OR_RETURN(Image img, resolve(source));
  ASSIGN_OR_RETURN(oci::Reference ref, oci::parse_normalized_named(target));
  if (!ref.digest.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "refusing to create a tag with a digest reference");
  if (ref.tag.empty()) ref.tag = std::string(oci::kDefaultTag);
  std::lock_guard lk(db_->mutex());
  ASSIGN_OR_RETURN(Statement st,
                   db_->prepare("INSERT OR REPLACE INTO image_tags (ref, image_id) VALUES (?,?)"));
  st.bind_all(ref.string(), img.id);
  return st.run();
}

// ---------------------------------------------------------------------------------------------
// Removal (docker's daemon/images/image_delete.go, 20.10 messages)

Result<std::vector<DeleteItem>> LocalImageStore::remove(
    const std::string& ref, bool force,
    const std::function<bool(const std::string& image_id)>& in_use) {
  std::function<std::string(const std::string&)> using_fn;
  if (in_use)
    using_fn = [&in_use](const std::string& id) { return in_use(id) ? std::string("?") : ""; };
  return remove_image(ref, force, using_fn);
}

Result<std::vector<DeleteItem>> LocalImageStore::remove_image(
    const std::string& ref, bool force,
    const std::function<std::string(const std::string& image_id)>& container_using) {
  std::unique_lock lk(ops_mu_);
  return remove_locked(ref, force, container_using);
}

Result<std::vector<DeleteItem>> LocalImageStore::remove_locked(
    const std::string& ref, bool force,
    const std::function<std::string(const std::string& image_id)>& container_using) {
  ASSIGN_OR_RETURN(Image img, resolve(ref));
  const std::string id = img.id;
  auto user = [&]() { return container_using ? container_using(id) : std::string(); };
  auto container_words = [](const std::string& c) {
    return c == "?" ? std::string("a container") : "container " + short_id(c);
  };
  std::vector<DeleteItem> items;

  ASSIGN_OR_RETURN(auto tags, refs_of(id, false));
  ASSIGN_OR_RETURN(auto digests, refs_of(id, true));
  // isSingleReference: one tag (plus digests of its repository only), or digests of one repo.
  auto single_reference = [&]() {
    size_t n = tags.size() + digests.size();
    if (n <= 1) return n == 1;
    if (tags.size() > 1) return false;
    std::set<std::string> digest_repos;
    for (const auto& d : digests)
      if (auto r = oci::parse_normalized_named(d)) digest_repos.insert(r->name());
    std::string single = tags.empty() ? digests.front() : tags.front();
    auto r = oci::parse_normalized_named(single);
    return digest_repos.size() == 1 && r && digest_repos.count(r->name()) == 1;
  };
  auto delete_ref = [&](const std::string& normalised, bool digest) -> Result<> {
    std::lock_guard dl(db_->mutex());
    ASSIGN_OR_RETURN(Statement st, db_->prepare(digest ? "DELETE FROM image_digests WHERE ref=?"
                                                       : "DELETE FROM image_tags WHERE ref=?"));
    st.bind(1, normalised);
    TRY(st.run());
    items.push_back({.untagged = familiar_of(normalised)});
    return {};
  };

  std::string hex = id.substr(7);
  bool by_id = id.starts_with(ref) || hex.starts_with(ref);
  bool quiet = false;
  if (!by_id) {
    ASSIGN_OR_RETURN(oci::Reference parsed, oci::parse_normalized_named(ref));
    if (parsed.name_only()) parsed.tag = std::string(oci::kDefaultTag);
    if (!force && single_reference()) {
      std::string c = user();
      if (!c.empty())
        return make_error(ErrorCode::kConflict,
                          "conflict: unable to remove repository reference \"" + ref +
                              "\" (must force) - " + container_words(c) +
                              " is using its referenced image " + short_id(id));
    }
    bool is_digest = !parsed.digest.empty();
    std::string key = parsed.string();
    if (is_digest && !parsed.tag.empty()) {
      parsed.tag.clear();
      key = parsed.string();
    }
    bool exists = std::find(is_digest ? digests.begin() : tags.begin(),
                            is_digest ? digests.end() : tags.end(),
                            key) != (is_digest ? digests.end() : tags.end());
    if (exists) TRY(delete_ref(key, is_digest));
    std::erase(is_digest ? digests : tags, key);
    if (!is_digest) {
      // The last tag of a repository takes that repository's digest references with it.
      bool repo_tag_left = false;
      for (const auto& t : tags)
        if (auto r = oci::parse_normalized_named(t); r && r->name() == parsed.name())
          repo_tag_left = true;
      if (!repo_tag_left) {
        std::vector<std::string> keep;
        for (const auto& d : digests) {
          auto r = oci::parse_normalized_named(d);
          if (r && r->name() == parsed.name())
            TRY(delete_ref(d, true));
          else
            keep.push_back(d);
        }
        digests = keep;
      }
    }
    if (!tags.empty() || !digests.empty()) return items;
    quiet = true;
  } else if (single_reference()) {
    ASSIGN_OR_RETURN(auto children, children_of(id));
    if (!children.empty())
      return make_error(ErrorCode::kConflict,
                        "conflict: unable to delete " + short_id(id) +
                            " (cannot be forced) - image has dependent child images");
    if (!force) {
      std::string c = user();
      if (!c.empty())
        return make_error(
            ErrorCode::kConflict,
            "conflict: unable to delete " + short_id(id) +
                " (must be forced) - image is being used by " +
                (c == "?" ? std::string("a container") : "stopped container " + short_id(c)));
    }
    for (const auto& t : tags) TRY(delete_ref(t, false));
    for (const auto& d : digests) TRY(delete_ref(d, true));
    tags.clear();
    digests.clear();
  }

  // imageDeleteHelper: hard conflicts always, soft ones unless forced.
  ASSIGN_OR_RETURN(auto children, children_of(id));
  std::string conflict;
  bool hard = false, used = false;
  if (!children.empty()) {
    conflict = "image has dependent child images";
    hard = true;
  } else if (!force && (!tags.empty() || !digests.empty())) {
    conflict = "image is referenced in multiple repositories";
  } else if (!force) {
    std::string c = user();
    if (!c.empty()) {
      conflict = "image is being used by " +
                 (c == "?" ? std::string("a container") : "stopped container " + short_id(c));
      used = true;
    }
  }
  if (!conflict.empty()) {
    if (quiet && (!children.empty() || used)) return items;
    return make_error(ErrorCode::kConflict, "conflict: unable to delete " + short_id(id) + " (" +
                                                (hard ? "cannot be forced" : "must be forced") +
                                                ") - " + conflict);
  }
  for (const auto& t : tags) TRY(delete_ref(t, false));
  for (const auto& d : digests) TRY(delete_ref(d, true));
  TRY(delete_image(id, &items));
  return items;
}

Result<int64_t> LocalImageStore::delete_image(const std::string& id,
                                              std::vector<DeleteItem>* items) {
  std::vector<std::string> layers, chains;
  std::string manifest;
  {
    std::lock_guard lk(db_->mutex());
    ASSIGN_OR_RETURN(
        Statement q,
        db_->prepare("SELECT manifest_digest, layers, chain_ids FROM image_images WHERE id=?"));
    q.bind(1, id);
    ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return std::unexpected(no_such_image(id));
    manifest = q.text(0);
    layers = json_strings(q.text(1));
    chains = json_strings(q.text(2));
    ASSIGN_OR_RETURN(Db::Transaction tx, db_->begin());
    for (const char* sql :
         {"DELETE FROM image_tags WHERE image_id=?", "DELETE FROM image_digests WHERE image_id=?",
          "DELETE FROM image_images WHERE id=?"}) {
      ASSIGN_OR_RETURN(Statement st, db_->prepare(sql));
      st.bind(1, id);
      TRY(st.run());
    }
    TRY(tx.commit());
  }
  items->push_back({.deleted = id});
  std::set<std::string> blobs(layers.begin(), layers.end());
  blobs.insert(manifest);
  blobs.insert(id);
  std::set<std::string> chain_set(chains.begin(), chains.end());
  std::set<std::string> before;
  for (const auto& c : chains)
    if (snapshotter_->has_committed(c)) before.insert(c);
  ASSIGN_OR_RETURN(int64_t reclaimed, collect(&blobs, &chain_set));
  for (auto it = chains.rbegin(); it != chains.rend(); ++it)
    if (before.count(*it) && !snapshotter_->has_committed(*it)) items->push_back({.deleted = *it});
  return reclaimed;
}

Result<int64_t> LocalImageStore::collect(const std::set<std::string>* only_blobs,
                                         const std::set<std::string>* only_chains) {
  std::set<std::string> keep_blobs, keep_chains;
  {
    std::lock_guard lk(db_->mutex());
    ASSIGN_OR_RETURN(
        Statement st,
        db_->prepare("SELECT id, manifest_digest, layers, chain_ids FROM image_images"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      keep_blobs.insert(st.text(0));
      keep_blobs.insert(st.text(1));
      for (auto& l : json_strings(st.text(2))) keep_blobs.insert(l);
      for (auto& c : json_strings(st.text(3))) keep_chains.insert(c);
    }
  }
  // Containers' writable layers hold their parent chain (and its ancestors).
  for (const auto& key : snapshotter_->list_active()) {
    auto parent = read_file(root_ + "/snapshots/active/" + key + "/parent");
    std::string chain = parent ? *parent : "";
    while (!chain.empty() && chain.back() == '\n') chain.pop_back();
    while (!chain.empty() && keep_chains.insert(chain).second) {
      auto info = snapshotter_->committed(chain);
      if (!info) break;
      chain = info->parent;
    }
  }
  int64_t reclaimed = 0;
  ASSIGN_OR_RETURN(auto committed, snapshotter_->list_committed());
  std::map<std::string, std::string> parent_of;
  for (const auto& c : committed) parent_of[c.chain_id] = c.parent;
  auto depth = [&](std::string c) {
    int d = 0;
    while (!c.empty() && d < 10000) {
      auto it = parent_of.find(c);
      if (it == parent_of.end()) break;
      c = it->second;
      ++d;
    }
    return d;
  };
  std::vector<std::pair<int, const CommittedInfo*>> doomed;
  for (const auto& c : committed) {
    if (keep_chains.count(c.chain_id)) continue;
    if (only_chains && !only_chains->count(c.chain_id)) continue;
    doomed.push_back({depth(c.chain_id), &c});
  }
  std::sort(doomed.begin(), doomed.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });  // children first
  for (const auto& [d, c] : doomed) {
    TRY(snapshotter_->remove_committed(c->chain_id));
    reclaimed += c->size;
  }
  std::vector<std::string> blobs;
  if (only_blobs) {
    blobs.assign(only_blobs->begin(), only_blobs->end());
  } else {
    ASSIGN_OR_RETURN(blobs, content_->list());
  }
  for (const auto& b : blobs) {
    if (keep_blobs.count(b) || !content_->exists(b)) continue;
    auto sz = content_->size(b);
    TRY(content_->remove(b));
    if (sz) reclaimed += *sz;
  }
  return reclaimed;
}

void LocalImageStore::cleanup_after_failure(const std::set<std::string>& blobs,
                                            const std::set<std::string>& chains) {
  if (blobs.empty() && chains.empty()) return;
  std::unique_lock lk(ops_mu_);
  (void)collect(&blobs, &chains);
}

Result<int64_t> LocalImageStore::garbage_collect() {
  std::unique_lock lk(ops_mu_);
  return collect(nullptr, nullptr);
}

// ---------------------------------------------------------------------------------------------
// History, prune, disk usage

Result<json::Json> LocalImageStore::history(const std::string& ref) {
  ASSIGN_OR_RETURN(Image img, resolve(ref));
  std::vector<int64_t> layer_sizes;
  for (const auto& c : img.chain_ids) {
    auto info = snapshotter_->committed(c);
    layer_sizes.push_back(info ? info->size : 0);
  }
  json::Json entries = json::Json::array();
  auto hist = img.config.find("history");
  size_t layer = 0;
  if (hist != img.config.end() && hist->is_array() && !hist->empty()) {
    for (const auto& h : *hist) {
      auto e = oci::HistoryEntry::from_json(h);
      int64_t size = 0;
      if (!e.empty_layer && layer < layer_sizes.size()) size = layer_sizes[layer++];
      entries.push_back({{"Id", "<missing>"},
                         {"Created", oci::parse_rfc3339(e.created)},
                         {"CreatedBy", e.created_by},
                         {"Tags", nullptr},
                         {"Size", size},
                         {"Comment", e.comment}});
    }
  } else {
    for (size_t i = 0; i < layer_sizes.size(); ++i)
      entries.push_back({{"Id", "<missing>"},
                         {"Created", img.created},
                         {"CreatedBy", ""},
                         {"Tags", nullptr},
                         {"Size", layer_sizes[i]},
                         {"Comment", ""}});
  }
  if (entries.empty()) return json::Json::array();
  // Name the entries that are the tops of known images: this one and its parents (commit).
  Image cur = img;
  while (true) {
    size_t n = 0;
    if (auto h = cur.config.find("history"); h != cur.config.end() && h->is_array()) n = h->size();
    if (n == 0) n = cur.chain_ids.size();
    if (n == 0 || n > entries.size()) break;
    auto& e = entries[n - 1];
    e["Id"] = cur.id;
    if (!cur.repo_tags.empty()) e["Tags"] = cur.repo_tags;
    std::string parent;
    {
      std::lock_guard lk(db_->mutex());
      ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT parent FROM image_images WHERE id=?"));
      st.bind(1, cur.id);
      ASSIGN_OR_RETURN(bool row, st.step());
      if (row) parent = st.text(0);
    }
    if (parent.empty()) break;
    auto p = get_by_id(parent);
    if (!p) break;
    cur = std::move(*p);
  }
  std::reverse(entries.begin(), entries.end());
  return entries;
}

Result<PruneReport> LocalImageStore::prune(
    bool all, const std::function<bool(const std::string& id)>& in_use) {
  std::unique_lock lk(ops_mu_);
  PruneReport report;
  std::set<std::string> tried;
  bool progress = true;
  while (progress) {
    progress = false;
    ASSIGN_OR_RETURN(auto ids, all_ids());
    for (const auto& id : ids) {
      if (tried.count(id)) continue;
      if (in_use && in_use(id)) continue;
      ASSIGN_OR_RETURN(auto children, children_of(id));
      if (!children.empty()) continue;
      ASSIGN_OR_RETURN(auto tags, refs_of(id, false));
      if (!all && !tags.empty()) continue;
      tried.insert(id);
      std::vector<DeleteItem> items;
      for (const auto& t : tags) items.push_back({.untagged = familiar_of(t)});
      ASSIGN_OR_RETURN(auto digests, refs_of(id, true));
      for (const auto& d : digests) items.push_back({.untagged = familiar_of(d)});
      ASSIGN_OR_RETURN(int64_t reclaimed, delete_image(id, &items));
      report.space_reclaimed += reclaimed;
      for (auto& i : items) report.deleted.push_back(std::move(i));
      progress = true;
    }
  }
  return report;
}

Result<DiskUsage> LocalImageStore::disk_usage(
    const std::function<int(const std::string& image_id)>& containers_using) {
  std::shared_lock lk(ops_mu_);
  ASSIGN_OR_RETURN(auto images, list());
  std::map<std::string, int> chain_users;
  std::map<std::string, int64_t> chain_size;
  for (const auto& img : images)
    for (const auto& c : img.chain_ids) {
      ++chain_users[c];
      if (!chain_size.count(c)) {
        auto info = snapshotter_->committed(c);
        chain_size[c] = info ? info->size : 0;
      }
    }
  DiskUsage du;
  for (const auto& [c, s] : chain_size) du.layers_size += s;
  du.images_size = du.layers_size;
  if (auto blobs = content_->list())
    for (const auto& b : *blobs)
      if (auto s = content_->size(b)) du.images_size += *s;
  for (const auto& img : images) {
    DiskUsage::PerImage p;
    p.id = img.id;
    for (const auto& c : img.chain_ids) {
      p.size += chain_size[c];
      if (chain_users[c] > 1) p.shared_size += chain_size[c];
    }
    p.containers = containers_using ? containers_using(img.id) : 0;
    du.images.push_back(p);
  }
  return du;
}

}  // namespace berth::image

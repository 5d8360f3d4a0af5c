// docker load: reads a docker-save tarball (manifest.json; docker >= 25 blobs/sha256 paths or
// the older <layer>/layer.tar form) or an OCI image layout tarball (oci-layout + index.json).
//
// The tarball is streamed once. Entries arrive in any order, so every regular file is spooled
// into the content store as it passes by (hashed on the way) and only small metadata files
// (manifest.json, index.json, *.json, repositories) are kept in memory; symlinks and hardlinks
// are kept as names inside the archive. Nothing is ever written at an entry's path, so hostile
// names ("..", absolute paths, symlinks out of the archive) cannot reach the host: a name that
// resolves to nothing is just a missing file. After the stream ends the images are assembled
// from the recorded entries (digests checked against the names and descriptors that promise
// them), their layers unpacked into committed snapshots (verified against the config's
// diff_ids), and everything is recorded in one transaction. On error nothing is recorded and
// what this load wrote is collected.
#include <archive.h>
#include <archive_entry.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/path.h"
#include "image/image_store_impl.h"

namespace berth::image {

class Loader {
 public:
  Loader(LocalImageStore* store, const ImageStore::Progress& progress)
      : store_(store), content_(*store->content_), progress_(progress) {}

  Result<std::vector<std::string>> run(int fd);
  std::set<std::string> new_blobs, chains;

 private:
  struct Entry {
    std::string digest;  // set when spooled to the content store
    int64_t size = 0;
    std::string data;  // set for metadata kept in memory
    bool in_memory = false;
  };

  Result<> read_archive(int fd);
  Result<const Entry*> find(const std::string& name) const;
  Result<std::string> bytes_of(const std::string& name);
  Result<std::string> blob_of(const std::string& name);
  Result<NewImage> load_docker(const json::Json& entry);
  Result<std::vector<NewImage>> load_oci();
  Result<NewImage> load_oci_manifest(const oci::Descriptor& desc, std::vector<oci::Reference> tags);
  Result<NewImage> assemble(const std::string& config_bytes,
                            const std::vector<std::string>& layer_blobs,
                            std::string manifest_digest, std::vector<oci::Reference> tags);
  void say(const std::string& m) const {
    if (progress_) progress_(m);
  }

  // Early unpacking while the archive still streams: once a config has told the order of its
  // diff ids, every uncompressed layer blob (digest == diff id) whose parent is already
  // unpacked is applied by a worker thread, overlapping unpack with reading. Purely an
  // optimisation: assemble() applies whatever is missing and reports errors.
  struct Plan {
    std::vector<std::string> diff_ids;
    size_t next = 0;
    std::string parent;  // chain id of diff_ids[next - 1]
  };
  void start_worker();
  void stop_worker();
  void worker_loop();
  void saw_entry(const Entry& e);

  LocalImageStore* store_;
  const ContentStore& content_;
  const ImageStore::Progress& progress_;
  std::map<std::string, Entry> files_;
  std::map<std::string, std::string> links_;
  std::mutex mu_;  // guards the members below and `chains` while the worker runs
  std::condition_variable cv_;
  std::deque<Plan> plans_;
  std::set<std::string> blobs_seen_;
  bool stream_done_ = false;
  std::thread worker_;
};

namespace {

constexpr int64_t kMaxInMemory = 16 << 20;

// An entry name as a clean relative path inside the archive ("a/b"), ".." resolved at the root.
std::string archive_key(std::string_view name) {
  std::string c = clean_path("/" + std::string(name));
  return c == "/" ? "" : c.substr(1);
}

bool keep_in_memory(const std::string& key) {
  if (key == "manifest.json" || key == "index.json" || key == "repositories" || key == "oci-layout")
    return true;
  return key.ends_with(".json") || key.ends_with("/json") || key.ends_with("VERSION");
}

std::string short_hex(const std::string& digest) {
  std::string_view s = digest;
  if (s.starts_with("sha256:")) s.remove_prefix(7);
  return std::string(s.substr(0, 12));
}

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

}  // namespace

void Loader::start_worker() {
  worker_ = std::thread([this] { worker_loop(); });
}

void Loader::stop_worker() {
  {
    std::lock_guard lk(mu_);
    stream_done_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void Loader::worker_loop() {
  std::unique_lock lk(mu_);
  while (!stream_done_) {
    bool progressed = false;
    for (Plan& plan : plans_) {
      while (!stream_done_ && plan.next < plan.diff_ids.size() &&
             blobs_seen_.count(plan.diff_ids[plan.next])) {
        std::string diff = plan.diff_ids[plan.next], parent = plan.parent;
        lk.unlock();
        bool fresh = !store_->snapshotter_->has_committed(chain_id(parent, diff));
        auto info = store_->apply_blob(parent, diff, diff);
        lk.lock();
        if (!info) {
          plan.next = plan.diff_ids.size();  // leave it to assemble(), which reports the error
          break;
        }
        if (fresh) chains.insert(info->chain_id);
        plan.parent = info->chain_id;
        ++plan.next;
        progressed = true;
      }
    }
    if (!progressed) cv_.wait(lk);
  }
}

void Loader::saw_entry(const Entry& e) {
  std::string config;
  if (e.in_memory) {
    if (e.data.find("\"rootfs\"") != std::string::npos) config = e.data;
  } else if (e.size < (1 << 20)) {
    config = content_.read_blob(e.digest).value_or("");
    if (config.find("\"rootfs\"") == std::string::npos) config.clear();
  }
  std::lock_guard lk(mu_);
  if (!e.in_memory) blobs_seen_.insert(e.digest);
  if (!config.empty())
    if (auto c = oci::ImageConfig::parse(config); c && !c->diff_ids.empty())
      plans_.push_back({.diff_ids = c->diff_ids});
  cv_.notify_all();
}

Result<> Loader::read_archive(int fd) {
  std::unique_ptr<struct archive, ArchiveFree> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_filter_all(a.get());
  if (archive_read_open_fd(a.get(), fd, 1 << 20) != ARCHIVE_OK)
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("reading image archive: ") + archive_error_string(a.get()));
  std::string last = "(start)";
  while (true) {
    struct archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      const char* err = archive_error_string(a.get());
      return make_error(ErrorCode::kInvalidArgument, "reading image archive after entry " + last +
                                                         ": " + (err ? err : "corrupt archive"));
    }
    const char* pn = archive_entry_pathname(e);
    std::string key = archive_key(pn ? pn : "");
    last = pn ? pn : "?";
    if (key.empty()) continue;
    if (const char* hl = archive_entry_hardlink(e)) {
      links_[key] = archive_key(hl);
      continue;
    }
    auto type = archive_entry_filetype(e);
    if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(e);
      std::string t = target ? target : "";
      if (!t.starts_with("/")) {
        size_t slash = key.rfind('/');
        t = (slash == std::string::npos ? "" : key.substr(0, slash)) + "/" + t;
      }
      links_[key] = archive_key(t);
      continue;
    }
    if (type != AE_IFREG) continue;  // directories and anything else carry no data we use
    Entry entry;
    int64_t declared = archive_entry_size(e);
    if (keep_in_memory(key) && declared <= kMaxInMemory) {
      entry.in_memory = true;
      entry.data.reserve(static_cast<size_t>(declared));
    }
    std::optional<ContentStore::Writer> w;
    if (!entry.in_memory) {
      auto wr = content_.writer();
      if (!wr) return std::unexpected(std::move(wr).error().wrap("loading " + last));
      w.emplace(std::move(*wr));
    }
    int64_t written = 0;
    static const std::string kZeros(1 << 16, '\0');
    while (true) {
      const void* buf = nullptr;
      size_t len = 0;
      la_int64_t off = 0;
      rc = archive_read_data_block(a.get(), &buf, &len, &off);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) {
        const char* err = archive_error_string(a.get());
        return make_error(ErrorCode::kInvalidArgument,
                          "loading " + last + ": " + (err ? err : "corrupt archive"));
      }
      while (written < off) {  // sparse hole
        size_t n = static_cast<size_t>(std::min<int64_t>(off - written, kZeros.size()));
        if (entry.in_memory)
          entry.data.append(kZeros.data(), n);
        else
          TRY_CTX(w->write(kZeros.data(), n), "loading " + last);
        written += static_cast<int64_t>(n);
      }
      if (entry.in_memory)
        entry.data.append(static_cast<const char*>(buf), len);
      else
        TRY_CTX(w->write(buf, len), "loading " + last);
      written += static_cast<int64_t>(len);
    }
    if (written != declared)
      return make_error(ErrorCode::kInvalidArgument, "loading " + last + ": truncated entry");
    entry.size = written;
    if (!entry.in_memory) {
      auto d = w->commit();
      if (!d) return std::unexpected(std::move(d).error().wrap("loading " + last));
      entry.digest = *d;
      if (w->created()) new_blobs.insert(*d);
    }
    saw_entry(entry);
    files_[key] = std::move(entry);
  }
  return {};
}

Result<const Loader::Entry*> Loader::find(const std::string& name) const {
  std::string key = archive_key(name);
  for (int hops = 0; hops < 32; ++hops) {
    if (auto it = files_.find(key); it != files_.end()) return &it->second;
    auto l = links_.find(key);
    if (l == links_.end()) break;
    key = l->second;
  }
  return make_error(ErrorCode::kInvalidArgument, "image archive: missing file " + name);
}

Result<std::string> Loader::bytes_of(const std::string& name) {
  ASSIGN_OR_RETURN(const Entry* e, find(name));
  if (e->in_memory) return e->data;
  return content_.read_blob(e->digest);
}

Result<std::string> Loader::blob_of(const std::string& name) {
  ASSIGN_OR_RETURN(const Entry* e, find(name));
  std::string digest = e->digest;
  if (e->in_memory) {
    ASSIGN_OR_RETURN(digest, content_.write_blob(e->data));
    new_blobs.insert(digest);
  }
  // Names under blobs/<alg>/<hex> promise their digest.
  std::string key = archive_key(name);
  if (key.starts_with("blobs/sha256/") && "sha256:" + key.substr(13) != digest)
    return make_error(ErrorCode::kInvalidArgument,
                      "image archive: " + name + ": digest mismatch (content is " + digest + ")");
  return digest;
}

Result<NewImage> Loader::assemble(const std::string& config_bytes,
                                  const std::vector<std::string>& layer_blobs,
                                  std::string manifest_digest, std::vector<oci::Reference> tags) {
  ASSIGN_OR_RETURN(oci::ImageConfig cfg, oci::ImageConfig::parse(config_bytes));
  if (cfg.diff_ids.size() != layer_blobs.size())
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid manifest, layers length mismatch: expected " +
                          std::to_string(cfg.diff_ids.size()) + ", got " +
                          std::to_string(layer_blobs.size()));
  NewImage img;
  img.config_bytes = config_bytes;
  ASSIGN_OR_RETURN(std::string config_digest, content_.write_blob(config_bytes));
  new_blobs.insert(config_digest);
  std::string parent;
  for (size_t i = 0; i < layer_blobs.size(); ++i) {
    const std::string& diff = cfg.diff_ids[i];
    std::string chain = chain_id(parent, diff);
    if (chains.count(chain) || !store_->snapshotter_->has_committed(chain))
      say("Loading layer " + short_hex(diff));
    auto info = store_->apply_blob(parent, layer_blobs[i], diff);
    if (!info)
      return std::unexpected(std::move(info).error().wrap("loading layer " + layer_blobs[i]));
    chains.insert(info->chain_id);
    img.diff_ids.push_back(diff);
    img.chain_ids.push_back(info->chain_id);
    img.size += info->size;
    parent = info->chain_id;
  }
  img.layer_digests = layer_blobs;
  if (manifest_digest.empty()) {
    ASSIGN_OR_RETURN(manifest_digest,
                     store_->write_manifest(config_bytes, config_digest, layer_blobs));
    new_blobs.insert(manifest_digest);
  }
  img.manifest_digest = manifest_digest;
  img.tags = std::move(tags);
  return img;
}

Result<NewImage> Loader::load_docker(const json::Json& entry) {
  if (!entry.is_object())
    return make_error(ErrorCode::kInvalidArgument, "manifest.json: entry is not an object");
  std::string config_name = entry.value("Config", "");
  if (config_name.empty())
    return make_error(ErrorCode::kInvalidArgument, "manifest.json: entry without Config");
  std::vector<oci::Reference> tags;
  if (auto rt = entry.find("RepoTags"); rt != entry.end() && rt->is_array()) {
    for (const auto& t : *rt) {
      if (!t.is_string()) continue;
      auto ref = oci::parse_normalized_named(t.get<std::string>());
      if (!ref) return std::unexpected(std::move(ref).error().wrap("manifest.json"));
      if (ref->tag.empty() || !ref->digest.empty())
        return make_error(ErrorCode::kInvalidArgument,
                          "invalid tag \"" + t.get<std::string>() + "\"");
      tags.push_back(*ref);
    }
  }
  ASSIGN_OR_RETURN(std::string config_bytes, bytes_of(config_name));
  if (archive_key(config_name).starts_with("blobs/sha256/")) {
    TRY(blob_of(config_name));  // checks the name's digest
  }
  std::vector<std::string> layers;
  if (auto ls = entry.find("Layers"); ls != entry.end() && ls->is_array()) {
    for (const auto& l : *ls) {
      if (!l.is_string())
        return make_error(ErrorCode::kInvalidArgument, "manifest.json: layer is not a string");
      ASSIGN_OR_RETURN(std::string blob, blob_of(l.get<std::string>()));
      layers.push_back(blob);
    }
  }
  return assemble(config_bytes, layers, "", std::move(tags));
}

Result<NewImage> Loader::load_oci_manifest(const oci::Descriptor& desc,
                                           std::vector<oci::Reference> tags) {
  auto blob_path = [](const std::string& digest) {
    size_t colon = digest.find(':');
    return "blobs/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1);
  };
  auto verified = [&](const oci::Descriptor& d) -> Result<std::string> {
    ASSIGN_OR_RETURN(const Entry* e, find(blob_path(d.digest)));
    if (e->size != d.size)
      return make_error(ErrorCode::kInvalidArgument,
                        "image layout: blob " + d.digest + ": size " + std::to_string(e->size) +
                            " does not match descriptor size " + std::to_string(d.size));
    return blob_of(blob_path(d.digest));
  };
  ASSIGN_OR_RETURN(std::string mdigest, verified(desc));
  ASSIGN_OR_RETURN(std::string mbytes, content_.read_blob(mdigest));
  if (oci::is_index_media_type(desc.media_type)) {
    ASSIGN_OR_RETURN(oci::Index idx, oci::Index::parse(mbytes));
    oci::Platform host = oci::host_platform();
    const oci::Descriptor* pick = nullptr;
    for (const auto& m : idx.manifests) {
      if (!m.platform) {
        if (!pick && oci::is_manifest_media_type(m.media_type)) pick = &m;
        continue;
      }
      if (m.platform->os == "unknown") continue;  // attestations
      if (m.platform->os == host.os && m.platform->architecture == host.architecture &&
          (host.variant.empty() || m.platform->variant.empty() ||
           m.platform->variant == host.variant)) {
        pick = &m;
        break;
      }
    }
    if (!pick)
      return make_error(ErrorCode::kNotFound, "image layout: index " + desc.digest +
                                                  " has no manifest for " + host.string());
    return load_oci_manifest(*pick, std::move(tags));
  }
  ASSIGN_OR_RETURN(oci::Manifest m, oci::Manifest::parse(mbytes));
  ASSIGN_OR_RETURN(std::string cdigest, verified(m.config));
  ASSIGN_OR_RETURN(std::string config_bytes, content_.read_blob(cdigest));
  std::vector<std::string> layers;
  for (const auto& l : m.layers) {
    ASSIGN_OR_RETURN(std::string blob, verified(l));
    layers.push_back(blob);
  }
  return assemble(config_bytes, layers, mdigest, std::move(tags));
}

Result<std::vector<NewImage>> Loader::load_oci() {
  ASSIGN_OR_RETURN(std::string text, bytes_of("index.json"));
  ASSIGN_OR_RETURN(oci::Index idx, oci::Index::parse(text));
  // Descriptors naming the same manifest become one image with several tags.
  std::map<std::string, std::pair<const oci::Descriptor*, std::vector<oci::Reference>>> by_digest;
  std::vector<std::string> order;
  for (const auto& d : idx.manifests) {
    std::string name;
    if (auto it = d.annotations.find(std::string(oci::kAnnotationContainerdName));
        it != d.annotations.end())
      name = it->second;
    else if (auto r = d.annotations.find(std::string(oci::kAnnotationRefName));
             r != d.annotations.end() && r->second.find_first_of(":/@") != std::string::npos)
      name = r->second;
    auto& slot = by_digest[d.digest];
    if (!slot.first) {
      slot.first = &d;
      order.push_back(d.digest);
    }
    if (!name.empty()) {
      auto ref = oci::parse_normalized_named(name);
      if (!ref) return std::unexpected(std::move(ref).error().wrap("index.json"));
      if (ref->digest.empty()) {
        if (ref->tag.empty()) ref->tag = std::string(oci::kDefaultTag);
        slot.second.push_back(*ref);
      }
    }
  }
  std::vector<NewImage> out;
  for (const auto& dg : order) {
    auto& [desc, tags] = by_digest[dg];
    ASSIGN_OR_RETURN(NewImage img, load_oci_manifest(*desc, tags));
    out.push_back(std::move(img));
  }
  return out;
}

Result<std::vector<std::string>> Loader::run(int fd) {
  start_worker();
  auto read = read_archive(fd);
  stop_worker();
  TRY(read);
  std::vector<NewImage> images;
  if (find("manifest.json")) {
    ASSIGN_OR_RETURN(std::string text, bytes_of("manifest.json"));
    ASSIGN_OR_RETURN(json::Json manifest, json::parse(text, "manifest.json"));
    if (!manifest.is_array())
      return make_error(ErrorCode::kInvalidArgument, "manifest.json: not an array");
    for (const auto& e : manifest) {
      ASSIGN_OR_RETURN(NewImage img, load_docker(e));
      images.push_back(std::move(img));
    }
  } else if (find("index.json")) {
    ASSIGN_OR_RETURN(images, load_oci());
  } else {
    return make_error(ErrorCode::kInvalidArgument,
                      "image archive has neither manifest.json nor index.json");
  }
  ASSIGN_OR_RETURN(auto renamed, store_->record_images(images));
  for (const auto& m : renamed) say(m);
  std::vector<std::string> loaded;
  for (const auto& img : images) {
    if (img.tags.empty()) loaded.push_back("Loaded image ID: " + sha256_digest(img.config_bytes));
    for (const auto& t : img.tags) loaded.push_back("Loaded image: " + t.familiar());
  }
  return loaded;
}

Result<std::vector<std::string>> LocalImageStore::load(int fd, const Progress& progress) {
  Loader loader(this, progress);
  Result<std::vector<std::string>> result;
  {
    std::shared_lock lk(ops_mu_);
    result = loader.run(fd);
  }
  // What this load wrote that no image uses (extra files, or all of it after an error).
  cleanup_after_failure(loader.new_blobs, loader.chains);
  return result;
}

}  // namespace berth::image

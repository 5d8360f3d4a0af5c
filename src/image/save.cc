// docker save: writes the docker >= 25 layout, which both old and new readers accept:
//   blobs/sha256/<hex>   configs, layers (uncompressed tar, as docker writes them), manifests
//   index.json           OCI index, one descriptor per tag (io.containerd.image.name and
//                        org.opencontainers.image.ref.name annotations)
//   manifest.json        [{Config, RepoTags, Layers}] with blobs/sha256 paths (docker load,
//                        skopeo docker-archive:)
//   oci-layout, repositories
// All entries have mtime 0 so the same images always give the same bytes. Layers stored
// compressed (loaded from an OCI layout) are decompressed into an ingest file first, because a
// tar header needs the size before the data.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <set>

#include "base/path.h"
#include "image/image_store_impl.h"

namespace berth::image {
namespace {

struct WriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct ReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

class TarOut {
 public:
  explicit TarOut(int fd) : a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_.get());
    archive_write_set_bytes_in_last_block(a_.get(), 1);
    open_ok_ = archive_write_open_fd(a_.get(), fd) == ARCHIVE_OK;
  }
  Result<> check_open() {
    if (!open_ok_) return error("opening output");
    return {};
  }
  Result<> dir(const std::string& name) { return header(name, AE_IFDIR, 0755, 0); }
  Result<> file(const std::string& name, std::string_view data) {
    TRY(header(name, AE_IFREG, 0644, static_cast<int64_t>(data.size())));
    return write(data.data(), data.size(), name);
  }
  // Copies size bytes from fd.
  Result<> file_from_fd(const std::string& name, int fd, int64_t size) {
    TRY(header(name, AE_IFREG, 0644, size));
    std::vector<char> buf(1 << 20);
    int64_t left = size;
    off_t off = 0;
    while (left > 0) {
      ssize_t n =
          ::pread(fd, buf.data(), static_cast<size_t>(std::min<int64_t>(left, buf.size())), off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_error("reading " + name);
      }
      if (n == 0) return make_error(ErrorCode::kInternal, "saving " + name + ": blob shrank");
      TRY(write(buf.data(), static_cast<size_t>(n), name));
      left -= n;
      off += n;
    }
    return {};
  }
  Result<> close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return error("finishing archive");
    return {};
  }

 private:
  Result<> header(const std::string& name, unsigned type, int mode, int64_t size) {
    std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> e(archive_entry_new(),
                                                                             archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), mode);
    archive_entry_set_size(e.get(), size);
    archive_entry_set_mtime(e.get(), 0, 0);
    archive_entry_set_uid(e.get(), 0);
    archive_entry_set_gid(e.get(), 0);
    if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) return error("writing " + name);
    return {};
  }
  Result<> write(const void* p, size_t n, const std::string& name) {
    if (n == 0) return {};
    if (archive_write_data(a_.get(), p, n) < 0) return error("writing " + name);
    return {};
  }
  Result<> error(const std::string& what) {
    const char* e = archive_error_string(a_.get());
    return make_error(ErrorCode::kInternal,
                      "saving images: " + what + ": " + (e ? e : "write failed"),
                      archive_errno(a_.get()));
  }
  std::unique_ptr<struct archive, WriteFree> a_;
  bool open_ok_ = false;
};

// Decompresses a stored layer blob into a fresh ingest file; returns its digest and a read fd.
Result<std::pair<std::string, UniqueFd>> decompress_layer(
    ContentStore& content, const std::string& blob, std::optional<ContentStore::Writer>& holder) {
  ASSIGN_OR_RETURN(UniqueFd in, content.open_blob(blob));
  std::unique_ptr<struct archive, ReadFree> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_raw(a.get());
  if (archive_read_open_fd(a.get(), in.get(), 1 << 20) != ARCHIVE_OK)
    return make_error(ErrorCode::kInternal, "decompressing layer " + blob);
  struct archive_entry* e = nullptr;
  if (archive_read_next_header(a.get(), &e) != ARCHIVE_OK)
    return make_error(ErrorCode::kInternal, "decompressing layer " + blob);
  ASSIGN_OR_RETURN(ContentStore::Writer w, content.writer());
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (true) {
    la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
    if (n < 0) {
      const char* err = archive_error_string(a.get());
      return make_error(ErrorCode::kInternal,
                        "decompressing layer " + blob + ": " + (err ? err : "corrupt"));
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    TRY(w.write(buf.data(), static_cast<size_t>(n)));
  }
  int rfd = ::open(fd_path(w.fd()).c_str(), O_RDONLY | O_CLOEXEC);
  if (rfd < 0) return errno_error("reopening decompressed layer " + blob);
  holder.emplace(std::move(w));
  return std::make_pair(h.digest(), UniqueFd(rfd));
}

std::string blob_name(const std::string& digest) {
  return "blobs/sha256/" + digest.substr(7);
}

}  // namespace

Result<> LocalImageStore::save(const std::vector<std::string>& refs, int out_fd) {
  std::shared_lock lk(ops_mu_);
  // Which images, and under which tags.
  std::vector<std::string> order;
  std::map<std::string, std::vector<oci::Reference>> tags_of;
  auto add = [&](const std::string& id, const oci::Reference* tag) {
    if (!tags_of.count(id)) order.push_back(id);
    auto& v = tags_of[id];
    if (tag && std::find_if(v.begin(), v.end(),
                            [&](const auto& r) { return r.string() == tag->string(); }) == v.end())
      v.push_back(*tag);
  };
  for (const auto& r : refs) {
    auto parsed = oci::parse_normalized_named(r);
    bool is_named = parsed && !oci::is_hex64(r) && !r.starts_with("sha256:");
    if (is_named && parsed->name_only()) {
      // A repository without a tag: every tag of it (as docker save does).
      std::vector<std::pair<std::string, std::string>> found;
      {
        std::lock_guard dl(db_->mutex());
        ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT ref, image_id FROM image_tags WHERE "
                                                    "substr(ref, 1, ?) = ? ORDER BY ref"));
        std::string prefix = parsed->name() + ":";
        st.bind(1, static_cast<int64_t>(prefix.size())).bind(2, prefix);
        while (true) {
          ASSIGN_OR_RETURN(bool row, st.step());
          if (!row) break;
          found.emplace_back(st.text(0), st.text(1));
        }
      }
      if (!found.empty()) {
        for (const auto& [ref, id] : found) {
          auto t = oci::parse_normalized_named(ref);
          if (t) add(id, &*t);
        }
        continue;
      }
    }
    ASSIGN_OR_RETURN(Image img, resolve(r));
    if (is_named && (img.id.substr(7).starts_with(r) && id_for_ref(*parsed).value_or("").empty()))
      is_named = false;  // an ID prefix, not a name
    if (is_named) {
      oci::Reference t = *parsed;
      if (t.name_only()) t.tag = std::string(oci::kDefaultTag);
      if (t.digest.empty())
        add(img.id, &t);
      else
        add(img.id, nullptr);
    } else {
      add(img.id, nullptr);
    }
  }

  TarOut out(out_fd);
  TRY(out.check_open());
  TRY(out.dir("blobs/"));
  TRY(out.dir("blobs/sha256/"));
  std::set<std::string> written;
  json::Json manifest_json = json::Json::array();
  json::Json repositories = json::Json::object();
  oci::Index index;
  index.media_type = std::string(oci::media_type::kOciIndex);
  for (const auto& id : order) {
    ASSIGN_OR_RETURN(Image img, get_by_id(id));
    std::vector<std::string> layers;
    {
      std::lock_guard dl(db_->mutex());
      ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT layers FROM image_images WHERE id=?"));
      st.bind(1, id);
      ASSIGN_OR_RETURN(bool row, st.step());
      if (row) {
        auto j = json::parse(st.text(0), "layers");
        if (j && j->is_array())
          for (const auto& l : *j) layers.push_back(l.get<std::string>());
      }
    }
    ASSIGN_OR_RETURN(std::string config_bytes, content_->read_blob(id));
    if (!written.count(id)) {
      TRY(out.file(blob_name(id), config_bytes));
      written.insert(id);
    }
    oci::Manifest m;
    m.media_type = std::string(oci::media_type::kOciManifest);
    m.config.media_type = std::string(oci::media_type::kOciConfig);
    m.config.digest = id;
    m.config.size = static_cast<int64_t>(config_bytes.size());
    json::Json layer_paths = json::Json::array();
    for (size_t i = 0; i < layers.size(); ++i) {
      const std::string& blob = layers[i];
      std::string digest = blob;
      int64_t size = 0;
      if (layer_media_type(*content_, blob) == oci::media_type::kOciLayer) {
        ASSIGN_OR_RETURN(size, content_->size(blob));
        if (!written.count(digest)) {
          ASSIGN_OR_RETURN(UniqueFd fd, content_->open_blob(blob));
          TRY(out.file_from_fd(blob_name(digest), fd.get(), size));
        }
      } else {
        std::optional<ContentStore::Writer> holder;
        ASSIGN_OR_RETURN(auto dec, decompress_layer(*content_, blob, holder));
        digest = dec.first;
        if (i < img.diff_ids.size() && digest != img.diff_ids[i])
          return make_error(ErrorCode::kInternal, "saving layer " + blob +
                                                      ": uncompressed digest " + digest +
                                                      " does not match diff id " + img.diff_ids[i]);
        size = holder->size();
        if (!written.count(digest))
          TRY(out.file_from_fd(blob_name(digest), dec.second.get(), size));
      }
      written.insert(digest);
      oci::Descriptor d;
      d.media_type = std::string(oci::media_type::kOciLayer);
      d.digest = digest;
      d.size = size;
      m.layers.push_back(d);
      layer_paths.push_back(blob_name(digest));
    }
    std::string mbytes = json::dump(m.to_json());
    std::string mdigest = sha256_digest(mbytes);
    if (!written.count(mdigest)) {
      TRY(out.file(blob_name(mdigest), mbytes));
      written.insert(mdigest);
    }
    const auto& tags = tags_of[id];
    json::Json repo_tags = json::Json::array();
    for (const auto& t : tags) {
      repo_tags.push_back(t.familiar());
      std::string top = layers.empty() ? "" : m.layers.back().digest.substr(7);
      repositories[t.familiar_name()][t.tag] = top;
      oci::Descriptor d;
      d.media_type = std::string(oci::media_type::kOciManifest);
      d.digest = mdigest;
      d.size = static_cast<int64_t>(mbytes.size());
      d.annotations[std::string(oci::kAnnotationContainerdName)] = t.string();
      d.annotations[std::string(oci::kAnnotationRefName)] = t.tag;
      index.manifests.push_back(d);
    }
    if (tags.empty()) {
      oci::Descriptor d;
      d.media_type = std::string(oci::media_type::kOciManifest);
      d.digest = mdigest;
      d.size = static_cast<int64_t>(mbytes.size());
      index.manifests.push_back(d);
    }
    manifest_json.push_back({{"Config", blob_name(id)},
                             {"RepoTags", tags.empty() ? json::Json(nullptr) : repo_tags},
                             {"Layers", layer_paths}});
  }
  TRY(out.file("index.json", json::dump(index.to_json())));
  TRY(out.file("manifest.json", json::dump(manifest_json)));
  TRY(out.file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  if (!repositories.empty()) TRY(out.file("repositories", json::dump(repositories)));
  return out.close();
}

}  // namespace berth::image

// Filesystem-facing operations on a container: docker diff, export, cp (stat, get, put) and
// commit. The rootfs is mounted for the duration when the container is not running.
#include <fcntl.h>
#include <sys/stat.h>

#include "base/log.h"
#include "engine/engine_internal.h"
#include "engine/fs_ops.h"
#include "image/archive.h"

namespace berth::engine {

using json::Json;

namespace {

// Runs f with the container's rootfs mounted, restoring the previous mount state after.
template <class F>
auto with_rootfs(Engine::Impl& im, const std::shared_ptr<Entry>& e, F f)
    -> decltype(f(std::string())) {
  std::lock_guard op(e->op);
  bool was_mounted;
  {
    std::lock_guard lock(im.mu);
    was_mounted = e->c.rootfs_mounted;
    TRY(im.ensure_rootfs(*e));
  }
  auto r = f(im.rootfs_dir(e->c.id));
  std::lock_guard lock(im.mu);
  if (!was_mounted && !e->c.running()) im.release_rootfs(*e);
  return r;
}

}  // namespace

Result<Json> Engine::changes(const std::string& ref) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  ASSIGN_OR_RETURN(auto img, images_->resolve(e->c.image_id));
  std::vector<std::string> lowers;
  if (!img.top_chain_id().empty()) {
    ASSIGN_OR_RETURN(lowers, images_->snapshotter().lower_dirs(img.top_chain_id()));
  }
  ASSIGN_OR_RETURN(auto list,
                   image::overlay_changes(images_->snapshotter().upper_dir(e->c.id), lowers));
  Json out = Json::array();
  for (const auto& ch : list)
    out.push_back({{"Path", ch.path}, {"Kind", static_cast<int>(ch.kind)}});
  return out;
}

Result<> Engine::export_rootfs(const std::string& ref, int out_fd) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  auto r = with_rootfs(*impl_, e, [&](const std::string& root) -> Result<> {
    TRY(image::write_tar(root, out_fd, {}));
    return {};
  });
  if (r) impl_->publish(e->c, "export");
  return r;
}

Result<Json> Engine::path_stat(const std::string& ref, const std::string& path) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  return with_rootfs(*impl_, e, [&](const std::string& root) -> Result<Json> {
    auto st = fs_path_stat(root, path);
    if (!st && st.error().code() == ErrorCode::kNotFound)
      return make_error(ErrorCode::kNotFound,
                        "Could not find the file " + path + " in container " + e->c.bare_name());
    return st;
  });
}

Result<> Engine::archive_get(const std::string& ref, const std::string& path, int out_fd) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  return with_rootfs(*impl_, e, [&](const std::string& root) -> Result<> {
    return fs_archive_get(root, path, out_fd);
  });
}

Result<> Engine::archive_put(const std::string& ref, const std::string& path, int in_fd,
                             bool no_overwrite_dir_non_dir, bool copy_uid_gid) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  {
    std::lock_guard lock(impl_->mu);
    if (e->c.host_config.value("ReadonlyRootfs", false))
      return make_error(ErrorCode::kPermissionDenied, "container rootfs is marked read-only");
  }
  return with_rootfs(*impl_, e, [&](const std::string& root) -> Result<> {
    return fs_archive_put(
        root, path, in_fd,
        {.copy_uid_gid = copy_uid_gid, .no_overwrite_dir_non_dir = no_overwrite_dir_non_dir});
  });
}

Result<image::Image> Engine::commit(const std::string& ref, const Json& q) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  Container c;
  {
    std::lock_guard lock(impl_->mu);
    c = e->c;
  }
  bool pause = q.value("pause", "1") != "0" && q.value("pause", "1") != "false";
  bool paused_here = false;
  if (pause && c.state == State::kRunning) paused_here = static_cast<bool>(this->pause(c.id));
  Json config = c.config;
  const Json& overrides = q.value("config", Json::object());
  // Changes add to what the container has (docker applies them as Dockerfile steps): Env by
  // variable name, Labels, Volumes and ExposedPorts by key; other fields are replaced.
  if (overrides.is_object())
    for (const auto& [k, v] : overrides.items()) {
      if (v.is_null()) continue;
      if (k == "Env" && v.is_array() && config.value("Env", Json()).is_array()) {
        Json env = config["Env"];
        for (const auto& kv : v) {
          if (!kv.is_string()) continue;
          std::string s = kv.get<std::string>(), name = s.substr(0, s.find('='));
          bool replaced = false;
          for (auto& old : env)
            if (old.is_string() &&
                old.get<std::string>().substr(0, old.get<std::string>().find('=')) == name) {
              old = s;
              replaced = true;
            }
          if (!replaced) env.push_back(s);
        }
        config["Env"] = env;
      } else if ((k == "Labels" || k == "Volumes" || k == "ExposedPorts") && v.is_object() &&
                 config.value(k, Json()).is_object()) {
        for (const auto& [kk, vv] : v.items()) config[k][kk] = vv;
      } else {
        config[k] = v;
      }
    }
  std::string repo = q.value("repo", ""), tag = q.value("tag", "");
  image::CommitOptions o{.upper_dir = images_->snapshotter().upper_dir(c.id),
                         .parent_image_id = c.image_id,
                         .container_config = config,
                         .repo_tag = repo.empty() ? "" : repo + (tag.empty() ? "" : ":" + tag),
                         .author = q.value("author", ""),
                         .comment = q.value("comment", ""),
                         .created_by = c.path};
  for (const auto& a : c.args) o.created_by += " " + a;
  auto img = images_->commit(o);
  if (paused_here) (void)unpause(c.id);
  if (img) impl_->publish(c, "commit");
  return img;
}

}  // namespace berth::engine

// Engine operations that read rather than change a container (top, stats), volumes, pruning and
// disk usage: glue between the container table and the feature modules.
#include "base/log.h"
#include "engine/engine_internal.h"
#include "engine/stats.h"
#include "engine/top.h"
#include "runtime/container.h"
#include "runtime/state.h"

namespace berth::engine {

using json::Json;

namespace {

VolumeUsers users_of(Engine::Impl& im) {
  return [&im](const std::string& name) {
    std::vector<std::string> ids;
    std::lock_guard lock(im.mu);
    for (auto& [id, e] : im.by_id)
      for (const auto& m : e->c.mounts)
        if (m.type == "volume" && m.name == name) ids.push_back(id);
    return ids;
  };
}

Result<std::shared_ptr<Entry>> running_entry(Engine::Impl& im, const std::string& ref) {
  ASSIGN_OR_RETURN(auto e, im.find(ref));
  std::lock_guard lock(im.mu);
  if (!e->c.running() || e->c.state == State::kRestarting)
    return make_error(ErrorCode::kConflict, "Container " + e->c.id + " is not running");
  return e;
}

}  // namespace

Result<Json> Engine::top(const std::string& ref, const std::string& ps_args) {
  ASSIGN_OR_RETURN(auto e, running_entry(*impl_, ref));
  runtime::GlobalOptions g{.root = impl_->runtime_root};
  ASSIGN_OR_RETURN(auto pids, runtime::container_pids(g, e->c.id));
  ASSIGN_OR_RETURN(Json j, top_processes(pids, ps_args));
  impl_->publish(e->c, "top");
  return j;
}

Result<Json> Engine::stats(const std::string& ref) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  Container c;
  Json previous;
  {
    std::lock_guard lock(impl_->mu);
    c = e->c;
  }
  Json out;
  if (c.running()) {
    auto st = runtime::load_state(impl_->runtime_root, c.id);
    if (st) {
      static std::mutex prev_mu;
      static std::map<std::string, Json> prev;
      {
        std::lock_guard lock(prev_mu);
        previous = prev.count(c.id) ? prev[c.id] : Json();
      }
      ASSIGN_OR_RETURN(out, read_stats(st->cgroup_paths, c.pid, previous));
      std::lock_guard lock(prev_mu);
      prev[c.id] = out;
    }
  }
  if (out.is_null()) {
    // A stopped container: docker sends zeroed stats.
    out = {
        {"read", "0001-01-01T00:00:00Z"},
        {"preread", "0001-01-01T00:00:00Z"},
        {"pids_stats", Json::object()},
        {"blkio_stats", Json::object()},
        {"num_procs", 0},
        {"storage_stats", Json::object()},
        {"cpu_stats",
         {{"cpu_usage", {{"total_usage", 0}, {"usage_in_kernelmode", 0}, {"usage_in_usermode", 0}}},
          {"throttling_data", {{"periods", 0}, {"throttled_periods", 0}, {"throttled_time", 0}}}}},
        {"precpu_stats",
         {{"cpu_usage", {{"total_usage", 0}, {"usage_in_kernelmode", 0}, {"usage_in_usermode", 0}}},
          {"throttling_data", {{"periods", 0}, {"throttled_periods", 0}, {"throttled_time", 0}}}}},
        {"memory_stats", Json::object()}};
  }
  out["name"] = c.name;
  out["id"] = c.id;
  return out;
}

Result<Json> Engine::prune_containers(const std::map<std::string, std::vector<std::string>>& f) {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, e] : impl_->by_id) {
      if (e->c.running()) continue;
      bool keep = false;
      for (const auto& [k, vs] : f)
        for (const auto& v : vs) {
          if (k == "label") {
            auto labels = e->c.config.value("Labels", Json::object());
            auto eq = v.find('=');
            std::string key = v.substr(0, eq);
            keep |= !(labels.contains(key) &&
                      (eq == std::string::npos || labels[key] == v.substr(eq + 1)));
          } else if (k == "until") {
            keep |= rfc3339_to_ns(e->c.created) >= static_cast<int64_t>(std::stod(v) * 1e9);
          }
        }
      if (!keep) ids.push_back(id);
    }
  }
  Json deleted = Json::array();
  int64_t reclaimed = 0;
  for (const auto& id : ids) {
    auto used = images_->snapshotter().active_usage(id);
    if (remove(id, false, false)) {
      deleted.push_back(id);
      reclaimed += used ? *used : 0;
    }
  }
  return Json{{"ContainersDeleted", deleted.empty() ? Json(nullptr) : deleted},
              {"SpaceReclaimed", reclaimed}};
}

Result<Json> Engine::volume_create(const Json& body) {
  ASSIGN_OR_RETURN(Json v, impl_->volumes->create(body));
  events_.publish("volume", "create", v.value("Name", ""), {{"driver", "local"}});
  return v;
}

Result<Json> Engine::volume_inspect(const std::string& name) {
  return impl_->volumes->inspect(name);
}

Result<Json> Engine::volume_list(const std::map<std::string, std::vector<std::string>>& f) {
  return impl_->volumes->list(f, users_of(*impl_));
}

Result<> Engine::volume_remove(const std::string& name, bool force) {
  TRY(impl_->volumes->remove(name, force, users_of(*impl_)));
  events_.publish("volume", "destroy", name, {{"driver", "local"}});
  return {};
}

Result<Json> Engine::volume_prune(const std::map<std::string, std::vector<std::string>>& f) {
  return impl_->volumes->prune(f, users_of(*impl_));
}

Result<Json> Engine::disk_usage() {
  auto count = [this](const std::string& id) { return containers_using_image(id); };
  ASSIGN_OR_RETURN(auto du, images_->disk_usage(count));
  ASSIGN_OR_RETURN(auto images, images_->list());
  Json imgs = Json::array();
  for (const auto& img : images) {
    int64_t shared = 0, size = img.size;
    for (const auto& p : du.images)
      if (p.id == img.id) shared = p.shared_size, size = p.size ? p.size : size;
    imgs.push_back({{"Id", img.id},
                    {"ParentId", ""},
                    {"RepoTags", img.repo_tags},
                    {"RepoDigests", img.repo_digests},
                    {"Created", img.created},
                    {"Size", size},
                    {"SharedSize", shared},
                    {"VirtualSize", img.size},
                    {"Labels", Json::object()},
                    {"Containers", count(img.id)}});
  }
  Json containers = Json::array();
  std::vector<Container> all;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, e] : impl_->by_id) all.push_back(e->c);
  }
  for (const auto& c : all) {
    auto used = images_->snapshotter().active_usage(c.id);
    std::string cmd = c.path;
    for (const auto& a : c.args) cmd += " " + a;
    containers.push_back({{"Id", c.id},
                          {"Names", {c.name}},
                          {"Image", c.image_ref},
                          {"ImageID", c.image_id},
                          {"Command", cmd},
                          {"Created", rfc3339_to_ns(c.created) / 1000000000},
                          {"SizeRw", used ? *used : 0},
                          {"SizeRootFs", used ? *used : 0},
                          {"Labels", c.config.value("Labels", Json::object())},
                          {"State", state_name(c.state)},
                          {"Status", ""},
                          {"Mounts", Json::array()},
                          {"Ports", Json::array()}});
  }
  ASSIGN_OR_RETURN(Json vols, impl_->volumes->usage(users_of(*impl_)));
  return Json{{"LayersSize", du.layers_size},
              {"Images", imgs},
              {"Containers", containers},
              {"Volumes", vols},
              {"BuildCache", Json::array()}};
}

}  // namespace berth::engine

// Container <-> JSON for persistence (one document per container in metadata.db).
#include "engine/container.h"

namespace berth::engine {

using json::Json;

const char* state_name(State s) {
  switch (s) {
    case State::kCreated:
      return "created";
    case State::kRunning:
      return "running";
    case State::kPaused:
      return "paused";
    case State::kRestarting:
      return "restarting";
    case State::kRemoving:
      return "removing";
    case State::kExited:
      return "exited";
    case State::kDead:
      return "dead";
  }
  return "unknown";
}

static State state_from(const std::string& s) {
  for (State st : {State::kCreated, State::kRunning, State::kPaused, State::kRestarting,
                   State::kRemoving, State::kExited, State::kDead})
    if (s == state_name(st)) return st;
  return State::kDead;
}

Json MountPoint::to_json() const {
  Json j = {{"Type", type}, {"Source", source}, {"Destination", destination},
            {"Mode", mode}, {"RW", rw},         {"Propagation", propagation}};
  if (!name.empty()) {
    j["Name"] = name;
    j["Driver"] = "local";
  }
  return j;
}

MountPoint MountPoint::from_json(const Json& j) {
  MountPoint m;
  m.type = j.value("Type", "");
  m.name = j.value("Name", "");
  m.source = j.value("Source", "");
  m.destination = j.value("Destination", "");
  m.mode = j.value("Mode", "");
  m.rw = j.value("RW", true);
  m.propagation = j.value("Propagation", "");
  return m;
}

Json Container::to_json() const {
  Json mounts_j = Json::array();
  for (const auto& m : mounts) mounts_j.push_back(m.to_json());
  return {{"Id", id},
          {"Name", name},
          {"Created", created},
          {"Image", image_id},
          {"ImageRef", image_ref},
          {"Path", path},
          {"Args", args},
          {"Config", config},
          {"HostConfig", host_config},
          {"Runtime", runtime},
          {"Mounts", mounts_j},
          {"State",
           {{"Status", state_name(state)},
            {"Pid", pid},
            {"ExitCode", exit_code},
            {"OOMKilled", oom_killed},
            {"Error", error},
            {"StartedAt", started_at},
            {"FinishedAt", finished_at},
            {"ManuallyStopped", manually_stopped},
            {"RootfsMounted", rootfs_mounted}}},
          {"RestartCount", restart_count}};
}

Result<Container> Container::from_json(const Json& j) {
  try {
    Container c;
    c.id = j.at("Id").get<std::string>();
    c.name = j.at("Name").get<std::string>();
    c.created = j.value("Created", "");
    c.image_id = j.value("Image", "");
    c.image_ref = j.value("ImageRef", "");
    c.path = j.value("Path", "");
    c.args = j.value("Args", std::vector<std::string>{});
    c.config = j.value("Config", Json::object());
    c.host_config = j.value("HostConfig", Json::object());
    c.runtime = j.value("Runtime", "");
    for (const auto& m : j.value("Mounts", Json::array()))
      c.mounts.push_back(MountPoint::from_json(m));
    const Json& s = j.at("State");
    c.state = state_from(s.value("Status", "dead"));
    c.pid = s.value("Pid", 0);
    c.exit_code = s.value("ExitCode", 0);
    c.oom_killed = s.value("OOMKilled", false);
    c.error = s.value("Error", "");
    c.started_at = s.value("StartedAt", c.started_at);
    c.finished_at = s.value("FinishedAt", c.finished_at);
    c.manually_stopped = s.value("ManuallyStopped", false);
    c.rootfs_mounted = s.value("RootfsMounted", false);
    c.restart_count = j.value("RestartCount", 0);
    return c;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, std::string("container record: ") + e.what());
  }
}

}  // namespace berth::engine

// A container as the engine keeps it: docker's Config and HostConfig as the client sent them
// (normalised), the image it runs, and its state. Persisted as one JSON document per container
// in metadata.db (table container_records); rendered by the API into docker's inspect shape.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace berth::engine {

enum class State { kCreated, kRunning, kPaused, kRestarting, kRemoving, kExited, kDead };
const char* state_name(State s);  // docker's State.Status: "created", "running", ...

struct MountPoint {  // docker's inspect "Mounts" entry
  std::string type;  // "bind", "volume", "tmpfs"
  std::string name;  // volume name
  std::string source, destination, mode;
  bool rw = true;
  std::string propagation;
  json::Json to_json() const;
  static MountPoint from_json(const json::Json& j);
};

struct Container {
  std::string id;         // 64 hex
  std::string name;       // with leading "/"
  std::string created;    // RFC 3339 nano, UTC
  std::string image_id;   // "sha256:..."
  std::string image_ref;  // Config.Image as given
  std::string path;
  std::vector<std::string> args;
  json::Json config;       // docker Config
  json::Json host_config;  // docker HostConfig
  std::string runtime;     // "" = berth in-process, else a runtime name from the daemon config
  std::vector<MountPoint> mounts;

  // State
  State state = State::kCreated;
  pid_t pid = 0;
  int exit_code = 0;
  bool oom_killed = false;
  std::string error;
  std::string started_at = "0001-01-01T00:00:00Z";
  std::string finished_at = "0001-01-01T00:00:00Z";
  int restart_count = 0;
  bool manually_stopped = false;  // stop/kill by the user: restart policies stand down
  bool rootfs_mounted = false;

  bool running() const {
    return state == State::kRunning || state == State::kPaused || state == State::kRestarting;
  }
  bool tty() const { return config.value("Tty", false); }
  std::string short_id() const { return id.substr(0, 12); }
  std::string bare_name() const { return name.empty() ? name : name.substr(1); }

  json::Json to_json() const;
  static Result<Container> from_json(const json::Json& j);
};

}  // namespace berth::engine

// The engine: containers (create, start, stop, kill, remove, restart policies), exec, logs,
// stats, volumes, events, and the image store, behind one object the API layer calls. Each
// container's process is held by its berth-shim; the engine is only the bookkeeper and can be
// killed and restarted at any time (restore() reattaches to every shim).
//
// Thread-safety: every public method may be called from any API thread. Per-container
// operations are serialised by a per-container mutex; the container table by one more.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "base/unique_fd.h"
#include "engine/container.h"
#include "engine/events.h"
#include "image/image_store.h"

namespace berth::engine {

struct Options {
  std::string data_root = "/var/lib/berth";
  std::string exec_root = "/run/berth";
  std::string shim_path;  // default: berth-shim next to the running executable
  std::string cgroup_parent = "/berth";
  std::map<std::string, std::string> runtimes;  // --runtime name -> runc-compatible binary
  std::string default_runtime;                  // "" = berth in-process
};

struct CreateResult {
  std::string id;
  std::vector<std::string> warnings;
};

struct ListOptions {
  bool all = false;
  int limit = -1;
  std::map<std::string, std::vector<std::string>> filters;  // docker's filters JSON
};

struct LogsOptions {
  bool stdout = true, stderr = true, follow = false, timestamps = false;
  int64_t tail = -1;
  int64_t since_ns = 0, until_ns = 0;
};

struct ExecConfig {  // POST /containers/{id}/exec body
  json::Json body;
};

struct Exec {
  std::string id, container_id;
  json::Json config;  // the create body
  bool running = false;
  std::optional<int> exit_code;
  pid_t pid = 0;
  bool started = false;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> create(const Options& opts);
  ~Engine();

  // Reattaches to every shim (containers outlive the daemon), applies restart policies to the
  // ones that exited meanwhile. Called once at start-up.
  Result<> restore();
  void shutdown();  // stops monitors; containers keep running

  const Options& options() const { return opts_; }
  image::ImageStore& images() { return *images_; }
  Events& events() { return events_; }

  // Containers.
  Result<CreateResult> create_container(const std::string& name, const json::Json& body);
  Result<Container> inspect(const std::string& ref);  // id, id prefix, or name
  Result<std::vector<Container>> list(const ListOptions& o);
  // Returns false when it was already running (the API answers 304).
  Result<bool> start(const std::string& ref);
  Result<bool> stop(const std::string& ref, std::optional<int> timeout_s,
                    std::optional<int> signal = {});
  Result<> restart(const std::string& ref, std::optional<int> timeout_s);
  Result<> kill(const std::string& ref, int signal);
  Result<> remove(const std::string& ref, bool force, bool remove_volumes);
  Result<> rename(const std::string& ref, const std::string& new_name);
  Result<> pause(const std::string& ref);
  Result<> unpause(const std::string& ref);
  Result<std::vector<std::string>> update(const std::string& ref, const json::Json& body);
  // condition: "not-running" (default), "next-exit", "removed". Blocks; returns exit code and
  // error text (docker's {"StatusCode", "Error"}). cancelled() lets the API stop on disconnect.
  struct WaitResult {
    int status_code = 0;
    std::string error;
  };
  Result<WaitResult> wait(const std::string& ref, const std::string& condition,
                          const std::function<bool()>& cancelled);
  Result<> resize(const std::string& ref, int height, int width);

  // attach: the shim's stream (framed without TTY); the API splices it to the hijacked client.
  Result<UniqueFd> attach(const std::string& ref, bool stdin, bool stdout, bool stderr, bool logs,
                          bool stream, const std::string& detach_keys);
  // logs: emit(stream, line-with-newline, time) per entry.
  Result<> logs(const std::string& ref, const LogsOptions& o,
                const std::function<bool(const std::string& stream, const std::string& line,
                                         const std::string& time)>& emit,
                const std::function<bool()>& cancelled);

  // Exec.
  Result<std::string> exec_create(const std::string& ref, const json::Json& body);
  Result<Exec> exec_inspect(const std::string& exec_id);
  // Starts the exec; returns its stream (empty fd when detached).
  Result<UniqueFd> exec_start(const std::string& exec_id, bool detach, bool tty);
  Result<> exec_resize(const std::string& exec_id, int height, int width);

  // top: {"Titles": [...], "Processes": [[...]]} from ps on the host, filtered to the container.
  Result<json::Json> top(const std::string& ref, const std::string& ps_args);
  // stats: one docker stats sample (cpu_stats, memory_stats, pids_stats, ...).
  Result<json::Json> stats(const std::string& ref);

  // Filesystem (container rootfs mounted on demand).
  Result<json::Json> changes(const std::string& ref);  // docker diff [{Path, Kind}]
  Result<> export_rootfs(const std::string& ref, int out_fd);
  Result<json::Json> path_stat(const std::string& ref, const std::string& path);
  Result<> archive_get(const std::string& ref, const std::string& path, int out_fd);
  Result<> archive_put(const std::string& ref, const std::string& path, int in_fd,
                       bool no_overwrite_dir_non_dir, bool copy_uid_gid = false);
  Result<image::Image> commit(const std::string& ref, const json::Json& query_and_config);

  Result<json::Json> prune_containers(const std::map<std::string, std::vector<std::string>>& f);

  // Volumes.
  Result<json::Json> volume_create(const json::Json& body);
  Result<json::Json> volume_inspect(const std::string& name);
  Result<json::Json> volume_list(const std::map<std::string, std::vector<std::string>>& f);
  Result<> volume_remove(const std::string& name, bool force);
  Result<json::Json> volume_prune(const std::map<std::string, std::vector<std::string>>& f);

  // system df and info pieces.
  Result<json::Json> disk_usage();
  int containers_using_image(const std::string& image_id);
  struct Counts {
    int total = 0, running = 0, paused = 0, stopped = 0;
  };
  Counts counts();

 public:
  struct Impl;  // engine_internal.h; public so that the engine's own files can share helpers

 private:
  explicit Engine(Options opts);
  Options opts_;
  std::unique_ptr<image::ImageStore> images_;
  Events events_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::engine

// Container lifecycle: start (mount the snapshot, write the bundle, spawn the shim), the monitor
// that waits on each shim, exit handling with restart policies and auto-removal, stop/kill/
// restart/pause, removal, rename, wait, and restore() after a daemon restart.
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "base/file.h"
#include "base/log.h"
#include "engine/engine_internal.h"
#include "engine/spec_builder.h"
#include "runtime/container.h"
#include "shim/client.h"

namespace berth::engine {

using json::Json;
using namespace std::chrono_literals;

namespace {

// Brings the loopback interface up inside the container's network namespace (docker's
// --network none still has a working lo). setns(CLONE_NEWNET) changes only the calling thread, so
// a short-lived thread does it: no fork of the daemon (page tables, copy-on-write faults after).
Result<> loopback_up(pid_t pid) {
  UniqueFd ns(::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return errno_error("opening network namespace of " + std::to_string(pid));
  Result<> result;
  std::thread([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      result = errno_error("entering network namespace of " + std::to_string(pid));
      return;
    }
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    struct ifreq ifr {};
    std::strcpy(ifr.ifr_name, "lo");
    if (!s || ::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) {
      result = errno_error("reading flags of lo in the container");
      return;
    }
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0)
      result = errno_error("bringing up lo in the container");
  }).join();  // the thread ends in the container's namespace: it is never reused
  return result;
}

// docker run maps these runtime errors to exit codes 127 and 126.
int exit_code_for_start_error(const std::string& msg) {
  if (msg.find("executable file not found") != std::string::npos ||
      msg.find("no such file or directory") != std::string::npos)
    return 127;
  if (msg.find("permission denied") != std::string::npos ||
      msg.find("is a directory") != std::string::npos)
    return 126;
  return 128;
}

std::string restart_policy(const Container& c) {
  auto rp = c.host_config.value("RestartPolicy", Json::object());
  return rp.is_object() ? rp.value("Name", "no") : "no";
}

}  // namespace

Result<> Engine::Impl::ensure_rootfs(Entry& e) {
  std::string target = rootfs_dir(e.c.id);
  if (e.c.rootfs_mounted) {
    // After a reboot (exec root is tmpfs) the record may claim a mount that is gone.
    struct stat a {
    }, b{};
    if (::stat(target.c_str(), &a) == 0 && ::stat(bundle_dir(e.c.id).c_str(), &b) == 0 &&
        a.st_dev != b.st_dev)
      return {};
  }
  TRY_CTX(mkdir_all(target, 0755), "creating " + target);
  // A --rm container's upper dir goes away with it: no need to sync it at unmount.
  TRY(engine->images_->snapshotter().mount(e.c.id, target,
                                           e.c.host_config.value("AutoRemove", false)));
  e.c.rootfs_mounted = true;
  return {};
}

void Engine::Impl::release_rootfs(Entry& e) {
  if (!e.c.rootfs_mounted) return;
  (void)engine->images_->snapshotter().unmount(rootfs_dir(e.c.id));
  e.c.rootfs_mounted = false;
}

Result<> Engine::Impl::start_locked(const std::shared_ptr<Entry>& e) {
  Container c;
  {
    std::lock_guard lock(mu);
    c = e->c;
  }
  ASSIGN_OR_RETURN(image::Image img, engine->images_->resolve(c.image_id));
  {
    std::lock_guard lock(mu);
    TRY(ensure_rootfs(*e));
  }
  const std::string bundle = bundle_dir(c.id);
  auto fail = [&](Error err) -> Result<> {
    std::lock_guard lock(mu);
    e->c.error = err.message();
    e->c.exit_code = exit_code_for_start_error(err.message());
    release_rootfs(*e);
    (void)persist(e->c);
    return std::unexpected(std::move(err));
  };
  SpecInputs in{.container = &c,
                .image_config = img.config.value("config", Json::object()),
                .rootfs = rootfs_dir(c.id),
                .container_dir = container_dir(c.id),
                .cgroups_path = engine->opts_.cgroup_parent + "/" + c.id,
                .init_path = init_path};
  auto spec = build_spec(in);
  if (!spec) return fail(spec.error());
  if (auto r = write_file_atomic(bundle + "/config.json", spec->dump(), 0600, false); !r)
    return fail(r.error());
  (void)remove_all(shim_dir(c.id));
  if (auto r = mkdir_all(shim_dir(c.id), 0700); !r) return fail(r.error());

  auto lc = c.host_config.value("LogConfig", Json::object());
  auto lcfg = lc.value("Config", Json::object());
  shim::SpawnOptions so{.shim_path = shim_path,
                        .id = c.id,
                        .bundle = bundle,
                        .state_dir = shim_dir(c.id),
                        .runtime_root = runtime_root,
                        .runtime = c.runtime.empty() ? "" : engine->opts_.runtimes.at(c.runtime),
                        .log_path = lc.value("Type", "json-file") == "none" ? "" : log_path(c.id),
                        .log_max_size = parse_size(lcfg.value("max-size", "")),
                        .log_max_file = std::max(1, atoi(lcfg.value("max-file", "1").c_str())),
                        .open_stdin = c.config.value("OpenStdin", false),
                        .stdin_once = c.config.value("StdinOnce", false),
                        .tty = c.tty()};
  auto cs = c.host_config.value("ConsoleSize", Json::array());
  if (cs.is_array() && cs.size() == 2 && cs[0].is_number() && cs[1].is_number()) {
    so.tty_height = cs[0].get<uint16_t>();
    so.tty_width = cs[1].get<uint16_t>();
  }
  auto started = shim::spawn(so);
  if (!started) return fail(started.error());
  if (c.host_config.value("NetworkMode", "") != "host")
    if (auto r = loopback_up(started->pid); !r) log::warn(r.error().message());
  {
    // Attach calls that came before start connect now, so they miss no output.
    std::unique_lock lock(mu);
    e->shim_created = true;
    cv.notify_all();
    cv.wait_for(lock, 5s, [&] { return e->pending_attach == 0; });
    e->shim_created = false;
  }
  auto client = shim::Client::connect(shim_dir(c.id));
  Result<> st = client ? client->start() : Result<>(std::unexpected(client.error()));
  if (!st) {
    if (client) (void)client->kill(SIGKILL, true), (void)client->shutdown();
    return fail(st.error());
  }
  {
    std::lock_guard lock(mu);
    e->c.state = State::kRunning;
    e->c.pid = started->pid;
    e->c.error.clear();
    e->c.exit_code = 0;
    e->c.oom_killed = false;
    e->c.started_at = log::rfc3339_now(true);
    (void)persist(e->c);
    c = e->c;
  }
  publish(c, "start");
  monitor(e);
  return {};
}

void Engine::Impl::monitor(const std::shared_ptr<Entry>& e) {
  {
    std::lock_guard lock(mu);
    if (e->monitored) return;
    e->monitored = true;
  }
  std::string dir = shim_dir(e->c.id);
  std::thread([this, e, dir] {
    int code = 255;
    bool oom = false;
    std::string finished;
    auto client = shim::Client::connect(dir);
    Result<shim::ExitStatus> st =
        client ? client->wait() : Result<shim::ExitStatus>(std::unexpected(client.error()));
    if (!st) st = shim::read_exit_file(dir);
    if (st) {
      code = st->exit_code;
      oom = st->oom_killed;
      finished = st->finished_at;
    }
    if (client) (void)client->shutdown();
    {
      std::lock_guard lock(mu);
      e->monitored = false;
    }
    if (!stopping) on_exit(e, code, oom, finished.empty() ? log::rfc3339_now(true) : finished);
  }).detach();
}

void Engine::Impl::on_exit(const std::shared_ptr<Entry>& e, int code, bool oom,
                           const std::string& finished) {
  Container c;
  bool restart = false, auto_remove = false;
  int delay_ms = 0;
  {
    std::lock_guard lock(mu);
    if (e->removed) return;
    int64_t ran_ns = rfc3339_to_ns(finished) - rfc3339_to_ns(e->c.started_at);
    e->c.state = State::kExited;
    e->c.pid = 0;
    e->c.exit_code = code;
    e->c.oom_killed = oom;
    e->c.finished_at = finished;
    release_rootfs(*e);
    ++e->exits;
    std::string policy = restart_policy(e->c);
    if (!e->c.manually_stopped && !stopping) {
      int max =
          e->c.host_config.value("RestartPolicy", Json::object()).value("MaximumRetryCount", 0);
      if (policy == "always" || policy == "unless-stopped")
        restart = true;
      else if (policy == "on-failure" && code != 0)
        restart = max <= 0 || e->c.restart_count < max;
    }
    auto_remove = e->c.host_config.value("AutoRemove", false) && !restart;
    if (restart) {
      // docker: 100 ms doubling per restart, reset after 10 s of running, at most 1 min.
      if (ran_ns > 10'000'000'000LL) e->c.restart_count = 0;
      delay_ms = std::min(60000, 100 << std::min(e->c.restart_count, 10));
      e->c.state = State::kRestarting;
    }
    (void)persist(e->c);
    c = e->c;
  }
  cv.notify_all();
  if (oom) publish(c, "oom");
  publish(c, "die", {{"exitCode", std::to_string(code)}});
  (void)remove_all(bundle_dir(c.id) + "/config.json");
  if (restart) schedule_restart(e, delay_ms);
  if (auto_remove) {
    std::thread([this, e] {
      std::lock_guard op(e->op);
      (void)remove_locked(e, true);
    }).detach();
  }
}

void Engine::Impl::schedule_restart(const std::shared_ptr<Entry>& e, int delay_ms) {
  std::thread([this, e, delay_ms] {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    std::lock_guard op(e->op);
    {
      std::lock_guard lock(mu);
      if (e->removed || e->c.state != State::kRestarting || e->c.manually_stopped) {
        if (!e->removed && e->c.state == State::kRestarting) e->c.state = State::kExited;
        return;
      }
      ++e->c.restart_count;
    }
    if (auto r = start_locked(e); !r) {
      std::lock_guard lock(mu);
      e->c.state = State::kExited;
      (void)persist(e->c);
      cv.notify_all();
    } else {
      publish(e->c, "restart");
    }
  }).detach();
}

Result<bool> Engine::start(const std::string& ref) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  std::lock_guard op(e->op);
  {
    std::lock_guard lock(impl_->mu);
    if (e->removed) return make_error(ErrorCode::kNotFound, "No such container: " + ref);
    if (e->c.state == State::kPaused)
      return make_error(ErrorCode::kConflict,
                        "cannot start a paused container, try unpause instead");
    if (e->c.state == State::kRunning) return false;
    e->c.manually_stopped = false;
    if (e->c.state == State::kRestarting) e->c.state = State::kExited;
  }
  if (auto r = impl_->start_locked(e); !r) {
    // docker removes an AutoRemove container whose start failed (docker run --rm waits for it).
    bool auto_remove;
    {
      std::lock_guard lock(impl_->mu);
      auto_remove = e->c.host_config.value("AutoRemove", false);
    }
    if (auto_remove) (void)impl_->remove_locked(e, true);
    return std::unexpected(r.error());
  }
  return true;
}

Result<bool> Engine::stop(const std::string& ref, std::optional<int> timeout_s,
                          std::optional<int> signal) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  std::unique_lock op(e->op);
  int sig = SIGTERM;
  int timeout = 10;
  {
    std::lock_guard lock(impl_->mu);
    if (e->c.state == State::kRestarting) {
      e->c.manually_stopped = true;
      e->c.state = State::kExited;
      (void)impl_->persist(e->c);
      impl_->cv.notify_all();
      return true;
    }
    if (!e->c.running()) return false;
    e->c.manually_stopped = true;
    (void)impl_->persist(e->c);
    if (auto ss = e->c.config.value("StopSignal", ""); !ss.empty())
      if (auto s = parse_signal(ss)) sig = *s;
    if (e->c.config.contains("StopTimeout") && e->c.config["StopTimeout"].is_number_integer())
      timeout = e->c.config["StopTimeout"].get<int>();
  }
  if (signal) sig = *signal;
  if (timeout_s) timeout = *timeout_s;
  auto client = shim::Client::connect(impl_->shim_dir(e->c.id));
  uint64_t exits;
  {
    std::lock_guard lock(impl_->mu);
    exits = e->exits;
  }
  auto exited = [&] { return e->exits != exits || !e->c.running(); };
  if (client) {
    if (e->c.state == State::kPaused) (void)client->resume();
    (void)client->kill(sig, false);
  }
  {
    std::unique_lock lock(impl_->mu);
    if (timeout < 0)
      impl_->cv.wait(lock, exited);
    else if (!impl_->cv.wait_for(lock, std::chrono::seconds(timeout), exited)) {
      lock.unlock();
      if (client) (void)client->kill(SIGKILL, true);
      lock.lock();
      if (!impl_->cv.wait_for(lock, 30s, exited))
        return make_error(ErrorCode::kInternal,
                          "container " + e->c.id + " did not exit after SIGKILL");
    }
  }
  impl_->publish(e->c, "stop");
  return true;
}

Result<> Engine::restart(const std::string& ref, std::optional<int> timeout_s) {
  TRY(stop(ref, timeout_s));
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  std::lock_guard op(e->op);
  {
    std::lock_guard lock(impl_->mu);
    e->c.manually_stopped = false;
    if (e->c.state == State::kRestarting) e->c.state = State::kExited;
    if (e->c.running()) return {};
  }
  TRY(impl_->start_locked(e));
  impl_->publish(e->c, "restart");
  return {};
}

Result<> Engine::kill(const std::string& ref, int signal) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  std::lock_guard op(e->op);
  {
    std::lock_guard lock(impl_->mu);
    if (!e->c.running() || e->c.state == State::kRestarting)
      return make_error(ErrorCode::kConflict, "Container " + e->c.id + " is not running");
    if (signal == SIGKILL || signal == SIGTERM || signal == SIGINT) e->c.manually_stopped = true;
    (void)impl_->persist(e->c);
  }
  ASSIGN_OR_RETURN(auto client, shim::Client::connect(impl_->shim_dir(e->c.id)));
  TRY(client.kill(signal, false));
  impl_->publish(e->c, "kill", {{"signal", std::to_string(signal)}});
  return {};
}

Result<> Engine::pause(const std::string& ref) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  std::lock_guard op(e->op);
  {
    std::lock_guard lock(impl_->mu);
    if (e->c.state == State::kPaused)
      return make_error(ErrorCode::kConflict, "Container " + e->c.id + " is already paused");
    if (e->c.state != State::kRunning)
      return make_error(ErrorCode::kConflict, "Container " + e->c.id + " is not running");
  }
  ASSIGN_OR_RETURN(auto client, shim::Client::connect(impl_->shim_dir(e->c.id)));
  TRY(client.pause());
  std::lock_guard lock(impl_->mu);
  e->c.state = State::kPaused;
  (void)impl_->persist(e->c);
  impl_->publish(e->c, "pause");
  return {};
}

Result<> Engine::unpause(const std::string& ref) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  std::lock_guard op(e->op);
  {
    std::lock_guard lock(impl_->mu);
    if (e->c.state != State::kPaused)
      return make_error(ErrorCode::kConflict, "Container " + e->c.id + " is not paused");
  }
  ASSIGN_OR_RETURN(auto client, shim::Client::connect(impl_->shim_dir(e->c.id)));
  TRY(client.resume());
  std::lock_guard lock(impl_->mu);
  e->c.state = State::kRunning;
  (void)impl_->persist(e->c);
  impl_->publish(e->c, "unpause");
  return {};
}

Result<> Engine::Impl::remove_locked(const std::shared_ptr<Entry>& e, bool remove_volumes) {
  Container c;
  {
    std::lock_guard lock(mu);
    if (e->removed) return {};
    e->c.state = State::kRemoving;
    c = e->c;
  }
  if (auto client = shim::Client::connect(shim_dir(c.id))) (void)client->shutdown();
  {
    std::lock_guard lock(mu);
    release_rootfs(*e);
  }
  (void)engine->images_->snapshotter().unmount(rootfs_dir(c.id));
  TRY(engine->images_->snapshotter().remove(c.id));
  // The container's directories leave by one rename each and are deleted once the waiters
  // (docker run --rm) have their answer; Engine::create empties what a crash left in the trash.
  std::vector<std::string> trash;
  auto discard = [&](const std::string& dir, const std::string& root, const std::string& name) {
    std::string to = root + "/" + kTrashDir + "/" + name;
    if (::rename(dir.c_str(), to.c_str()) == 0)
      trash.push_back(to);
    else if (errno != ENOENT)
      (void)remove_all(dir);
  };
  discard(bundle_dir(c.id), engine->opts_.exec_root, c.id + ".bundle");
  discard(shim_dir(c.id), engine->opts_.exec_root, c.id + ".shim");
  discard(container_dir(c.id), engine->opts_.data_root, c.id);
  if (!trash.empty())
    std::thread([trash] {
      for (const auto& t : trash) (void)remove_all(t);
    }).detach();
  {
    std::lock_guard lock(mu);
    TRY(db->remove(c.id));
    e->removed = true;
    by_id.erase(c.id);
    if (auto it = names.find(c.name); it != names.end() && it->second == c.id) names.erase(it);
    for (auto it = execs.begin(); it != execs.end();)
      it = it->second->e.container_id == c.id ? execs.erase(it) : std::next(it);
  }
  cv.notify_all();
  if (remove_volumes)
    for (const auto& m : c.mounts)
      if (m.type == "volume" && volumes->is_anonymous(m.name))
        (void)volumes->remove(m.name, false, nullptr);
  publish(c, "destroy");
  return {};
}

Result<> Engine::remove(const std::string& ref, bool force, bool remove_volumes) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  {
    std::lock_guard lock(impl_->mu);
    if (e->c.running() && e->c.state != State::kRestarting && !force) {
      if (e->c.state == State::kPaused)
        return make_error(ErrorCode::kConflict,
                          "cannot remove container \"" + e->c.name +
                              "\": container is paused and must be unpaused first");
      return make_error(
          ErrorCode::kConflict,
          "cannot remove container \"" + e->c.name +
              "\": container is running: stop the container before removing or force remove");
    }
  }
  if (force) {
    std::unique_lock op(e->op);
    bool running;
    {
      std::lock_guard lock(impl_->mu);
      running = e->c.running() && e->c.state != State::kRestarting;
      e->c.manually_stopped = true;
      if (e->c.state == State::kRestarting) e->c.state = State::kExited;
    }
    if (running) {
      if (auto client = shim::Client::connect(impl_->shim_dir(e->c.id))) {
        (void)client->resume();
        (void)client->kill(SIGKILL, true);
      }
      std::unique_lock lock(impl_->mu);
      impl_->cv.wait_for(lock, 30s, [&] { return !e->c.running(); });
    }
  }
  std::lock_guard op(e->op);
  return impl_->remove_locked(e, remove_volumes);
}

Result<> Engine::rename(const std::string& ref, const std::string& new_name_in) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  std::string nn = new_name_in.starts_with("/") ? new_name_in : "/" + new_name_in;
  if (nn.size() < 3 || !isalnum(static_cast<unsigned char>(nn[1])))
    return make_error(
        ErrorCode::kInvalidArgument,
        "Invalid container name (" + new_name_in + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  for (char ch : nn.substr(1))
    if (!isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '.' && ch != '-')
      return make_error(ErrorCode::kInvalidArgument,
                        "Invalid container name (" + new_name_in +
                            "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  std::lock_guard lock(impl_->mu);
  if (e->c.name == nn)
    return make_error(ErrorCode::kInvalidArgument,
                      "Renaming a container with the same name as its current name");
  if (auto it = impl_->names.find(nn); it != impl_->names.end())
    return make_error(
        ErrorCode::kConflict,
        "Conflict. The container name \"" + nn + "\" is already in use by container \"" +
            it->second +
            "\". You have to remove (or rename) that container to be able to reuse that name.");
  std::string old = e->c.name;
  impl_->names.erase(old);
  e->c.name = nn;
  impl_->names[nn] = e->c.id;
  TRY(impl_->persist(e->c));
  impl_->publish(e->c, "rename", {{"oldName", old}});
  return {};
}

Result<std::vector<std::string>> Engine::update(const std::string& ref, const Json& body) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  std::lock_guard op(e->op);
  Json hc;
  bool running;
  {
    std::lock_guard lock(impl_->mu);
    hc = e->c.host_config;
    running = e->c.running();
  }
  for (const char* k :
       {"Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuQuota",
        "CpuPeriod", "CpusetCpus", "CpusetMems", "PidsLimit", "BlkioWeight", "KernelMemory"})
    if (body.contains(k) && !body[k].is_null()) {
      if (body[k].is_number() && body[k].get<int64_t>() == 0 && std::string(k) != "PidsLimit")
        continue;
      hc[k] = body[k];
    }
  if (body.contains("RestartPolicy") && body["RestartPolicy"].is_object() &&
      !body["RestartPolicy"].value("Name", "").empty()) {
    if (hc.value("AutoRemove", false) && body["RestartPolicy"].value("Name", "") != "no")
      return make_error(
          ErrorCode::kInvalidArgument,
          "Restart policy cannot be updated because AutoRemove is enabled for the container");
    hc["RestartPolicy"] = body["RestartPolicy"];
  }
  if (running) {
    Container tmp;
    {
      std::lock_guard lock(impl_->mu);
      tmp = e->c;
    }
    tmp.host_config = hc;
    SpecInputs in{.container = &tmp,
                  .rootfs = impl_->rootfs_dir(tmp.id),
                  .container_dir = impl_->container_dir(tmp.id),
                  .cgroups_path = opts_.cgroup_parent + "/" + tmp.id};
    // Only linux.resources is used; build it through the same conversion as create.
    tmp.config["Cmd"] = Json::array({"true"});
    ASSIGN_OR_RETURN(Json spec, build_spec(in));
    Json res = spec["linux"]["resources"];
    res.erase("devices");
    auto parsed = oci::parse_resources(res);
    if (!parsed) return std::unexpected(parsed.error());
    runtime::GlobalOptions g{.root = impl_->runtime_root};
    TRY_CTX(runtime::update_container(g, tmp.id, *parsed), "Cannot update container " + tmp.id);
  }
  std::lock_guard lock(impl_->mu);
  e->c.host_config = hc;
  TRY(impl_->persist(e->c));
  impl_->publish(e->c, "update");
  return std::vector<std::string>{};
}

Result<Engine::WaitResult> Engine::wait(const std::string& ref, const std::string& condition,
                                        const std::function<bool()>& cancelled) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  if (!condition.empty() && condition != "not-running" && condition != "next-exit" &&
      condition != "removed")
    return make_error(ErrorCode::kInvalidArgument, "invalid condition: \"" + condition + "\"");
  std::unique_lock lock(impl_->mu);
  uint64_t exits = e->exits;
  auto done = [&] {
    if (condition == "removed") return e->removed;
    if (condition == "next-exit") return e->exits != exits;
    return !e->c.running() || e->exits != exits;
  };
  while (!done()) {
    impl_->cv.wait_for(lock, 200ms);
    if (cancelled && cancelled()) return make_error(ErrorCode::kUnavailable, "client went away");
  }
  WaitResult r{e->c.exit_code, e->c.error};
  return r;
}

Result<> Engine::restore() {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, e] : impl_->by_id) entries.push_back(e);
  }
  for (auto& e : entries) {
    Container c;
    {
      std::lock_guard lock(impl_->mu);
      c = e->c;
    }
    if (c.state == State::kRemoving) {
      std::lock_guard op(e->op);
      (void)impl_->remove_locked(e, false);
      continue;
    }
    bool was_running = c.running();
    if (!was_running) {
      // docker starts these when the daemon starts: always (even after a manual stop),
      // unless-stopped when not stopped by hand, on-failure after a failure with retries left.
      std::string policy = restart_policy(c);
      int max = c.host_config.value("RestartPolicy", Json::object()).value("MaximumRetryCount", 0);
      bool start = policy == "always" || (policy == "unless-stopped" && !c.manually_stopped) ||
                   (policy == "on-failure" && !c.manually_stopped && c.exit_code != 0 &&
                    (max <= 0 || c.restart_count < max));
      if (start && c.state == State::kExited) {
        std::thread([this, id = c.id] {
          if (auto r = this->start(id); !r)
            log::warn("starting " + id + " after daemon start: " + r.error().message());
        }).detach();
      }
      continue;
    }
    auto client = shim::Client::connect(impl_->shim_dir(c.id));
    if (client) {
      auto st = client->state();
      if (st && st->running) {
        std::lock_guard lock(impl_->mu);
        e->c.state = st->paused ? State::kPaused : State::kRunning;
        e->c.pid = st->pid;
        (void)impl_->persist(e->c);
      }
      impl_->monitor(e);  // reports the exit if it already happened
      continue;
    }
    auto st = shim::read_exit_file(impl_->shim_dir(c.id));
    if (st) {
      impl_->on_exit(e, st->exit_code, st->oom_killed, st->finished_at);
    } else {
      // No shim and no exit record: the host rebooted or the shim was killed.
      impl_->on_exit(e, 255, false, log::rfc3339_now(true));
    }
  }
  return {};
}

Result<> Engine::resize(const std::string& ref, int height, int width) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  {
    std::lock_guard lock(impl_->mu);
    if (!e->c.running())
      return make_error(ErrorCode::kConflict, "Container " + e->c.id + " is not running");
  }
  ASSIGN_OR_RETURN(auto client, shim::Client::connect(impl_->shim_dir(e->c.id)));
  return client.resize(static_cast<uint16_t>(height), static_cast<uint16_t>(width));
}

}  // namespace berth::engine

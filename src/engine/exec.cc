// Exec (create, start through the shim, inspect, resize), attach and logs.
#include <signal.h>

#include <thread>

#include "base/log.h"
#include "engine/engine_internal.h"
#include "engine/spec_builder.h"
#include "shim/client.h"
#include "shim/json_log.h"

namespace berth::engine {

using json::Json;

Result<std::string> Engine::exec_create(const std::string& ref, const Json& body) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  if (!body.is_object() || !body.contains("Cmd") || !body["Cmd"].is_array() || body["Cmd"].empty())
    return make_error(ErrorCode::kInvalidArgument, "No exec command specified");
  std::lock_guard lock(impl_->mu);
  if (e->c.state == State::kPaused)
    return make_error(ErrorCode::kConflict,
                      "Container " + e->c.id + " is paused, unpause the container before exec");
  if (!e->c.running() || e->c.state == State::kRestarting)
    return make_error(ErrorCode::kConflict, "Container " + e->c.id + " is not running");
  auto x = std::make_shared<ExecEntry>();
  x->e.id = random_hex(32);
  x->e.container_id = e->c.id;
  x->e.config = body;
  impl_->execs[x->e.id] = x;
  impl_->publish(
      e->c, "exec_create: " + [&] {
        std::string s;
        for (const auto& a : body["Cmd"]) s += (s.empty() ? "" : " ") + a.get<std::string>();
        return s;
      }());
  return x->e.id;
}

static Result<std::shared_ptr<ExecEntry>> find_exec(Engine::Impl& im, const std::string& id) {
  std::lock_guard lock(im.mu);
  auto it = im.execs.find(id);
  if (it == im.execs.end()) return make_error(ErrorCode::kNotFound, "No such exec instance: " + id);
  return it->second;
}

Result<Exec> Engine::exec_inspect(const std::string& exec_id) {
  ASSIGN_OR_RETURN(auto x, find_exec(*impl_, exec_id));
  bool ask;
  std::string cid;
  {
    std::lock_guard lock(impl_->mu);
    ask = x->e.running;
    cid = x->e.container_id;
  }
  if (ask) {
    if (auto client = shim::Client::connect(impl_->shim_dir(cid))) {
      if (auto st = client->exec_state(exec_id)) {
        std::lock_guard lock(impl_->mu);
        x->e.running = st->running;
        x->e.pid = st->pid;
        if (st->exit_code) x->e.exit_code = st->exit_code;
      }
    } else {
      std::lock_guard lock(impl_->mu);
      x->e.running = false;  // the container is gone: so is its exec
      if (!x->e.exit_code) x->e.exit_code = 126;
    }
  }
  std::lock_guard lock(impl_->mu);
  return x->e;
}

Result<UniqueFd> Engine::exec_start(const std::string& exec_id, bool detach, bool tty) {
  ASSIGN_OR_RETURN(auto x, find_exec(*impl_, exec_id));
  Container c;
  Json cfg;
  {
    std::lock_guard lock(impl_->mu);
    if (x->e.started)
      return make_error(ErrorCode::kConflict,
                        "Error: Exec command " + exec_id + " has already run");
    auto it = impl_->by_id.find(x->e.container_id);
    if (it == impl_->by_id.end() || !it->second->c.running())
      return make_error(ErrorCode::kConflict, "Container " + x->e.container_id + " is not running");
    c = it->second->c;
    x->e.started = true;
    x->e.running = true;
    cfg = x->e.config;
  }
  auto img = images_->resolve(c.image_id);
  Json ic = img ? img->config.value("config", Json::object()) : Json::object();
  Json merged = c.config;
  merged["Env"] = c.config.value("Env", Json::array());
  for (const auto& kv : cfg.value("Env", Json::array())) merged["Env"].push_back(kv);
  auto env = effective_env(Json{{"Env", merged["Env"]}}, Json::object());
  std::string user = cfg.value("User", "");
  if (user.empty()) user = c.config.value("User", "");
  ASSIGN_OR_RETURN(auto ids, resolve_user(impl_->rootfs_dir(c.id), user, {}));
  std::string cwd = cfg.value("WorkingDir", "");
  if (cwd.empty()) cwd = c.config.value("WorkingDir", "");
  if (cwd.empty()) cwd = "/";
  // Same capabilities as the container: read them back from its bundle's config.
  Json caps = Json::object();
  if (auto spec = json::parse_file(impl_->bundle_dir(c.id) + "/config.json"))
    caps = (*spec)["process"].value("capabilities", Json::object());
  Json process = {{"terminal", tty || cfg.value("Tty", false)},
                  {"args", cfg["Cmd"]},
                  {"env", env},
                  {"cwd", cwd},
                  {"user", {{"uid", ids.uid}, {"gid", ids.gid}}},
                  {"capabilities", caps}};
  if (!ids.additional_gids.empty()) process["user"]["additionalGids"] = ids.additional_gids;
  if (cfg.value("Privileged", false)) {
    if (auto spec = json::parse_file(impl_->bundle_dir(c.id) + "/config.json")) {
      Json b = (*spec)["process"]["capabilities"].value("bounding", Json::array());
      process["capabilities"] = {{"bounding", b}, {"effective", b}, {"permitted", b}};
    }
  }
  shim::ExecRequest req{.exec_id = exec_id,
                        .process = process,
                        .attach_stdin = cfg.value("AttachStdin", false),
                        .attach_stdout = cfg.value("AttachStdout", true),
                        .attach_stderr = cfg.value("AttachStderr", true),
                        .detach = detach,
                        .detach_keys = cfg.value("DetachKeys", "")};
  auto cs = cfg.value("ConsoleSize", Json::array());
  if (cs.is_array() && cs.size() == 2 && cs[0].is_number()) {
    req.tty_height = cs[0].get<uint16_t>();
    req.tty_width = cs[1].get<uint16_t>();
  }
  auto fail = [&](Error err) -> Result<UniqueFd> {
    std::lock_guard lock(impl_->mu);
    x->e.running = false;
    const std::string& m = err.message();
    x->e.exit_code =
        m.find("not found") != std::string::npos || m.find("no such file") != std::string::npos
            ? 127
            : 126;
    return std::unexpected(std::move(err));
  };
  auto client = shim::Client::connect(impl_->shim_dir(c.id));
  if (!client) return fail(client.error());
  auto fd = client->exec(req);
  if (!fd) return fail(fd.error());
  impl_->publish(c,
                 "exec_start: " +
                     [&] {
                       std::string s;
                       for (const auto& a : cfg["Cmd"])
                         s += (s.empty() ? "" : " ") + a.get<std::string>();
                       return s;
                     }(),
                 {{"execID", exec_id}});
  return std::move(*fd);
}

Result<> Engine::exec_resize(const std::string& exec_id, int height, int width) {
  ASSIGN_OR_RETURN(auto x, find_exec(*impl_, exec_id));
  std::string cid;
  {
    std::lock_guard lock(impl_->mu);
    cid = x->e.container_id;
  }
  ASSIGN_OR_RETURN(auto client, shim::Client::connect(impl_->shim_dir(cid)));
  return client.exec_resize(exec_id, static_cast<uint16_t>(height), static_cast<uint16_t>(width));
}

Result<UniqueFd> Engine::attach(const std::string& ref, bool stdin, bool stdout, bool stderr,
                                bool logs, bool stream, const std::string& detach_keys) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  (void)stream;
  // Attaching before start (docker run): wait until start has created the shim; start waits
  // for us in turn before it lets the process run.
  std::unique_lock lock(impl_->mu);
  if (e->removed) return make_error(ErrorCode::kNotFound, "No such container: " + ref);
  if (!e->c.running() && !e->shim_created) {
    ++e->pending_attach;
    bool ready = impl_->cv.wait_for(lock, std::chrono::seconds(60), [&] {
      return e->removed || e->shim_created || e->c.running();
    });
    if (!ready || e->removed || (!e->shim_created && !e->c.running())) {
      --e->pending_attach;
      impl_->cv.notify_all();
      return make_error(ErrorCode::kConflict,
                        "You cannot attach to a stopped container, start it first");
    }
  } else {
    ++e->pending_attach;
  }
  std::string dir = impl_->shim_dir(e->c.id);
  lock.unlock();
  shim::AttachRequest req{
      .stdin = stdin, .stdout = stdout, .stderr = stderr, .logs = logs, .detach_keys = detach_keys};
  auto client = shim::Client::connect(dir);
  Result<UniqueFd> fd =
      client ? client->attach(req) : Result<UniqueFd>(std::unexpected(client.error()));
  lock.lock();
  --e->pending_attach;
  impl_->cv.notify_all();
  lock.unlock();
  if (!fd) return std::unexpected(fd.error());
  impl_->publish(e->c, "attach");
  return std::move(*fd);
}

Result<> Engine::logs(
    const std::string& ref, const LogsOptions& o,
    const std::function<bool(const std::string&, const std::string&, const std::string&)>& emit,
    const std::function<bool()>& cancelled) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  Container c;
  {
    std::lock_guard lock(impl_->mu);
    c = e->c;
  }
  auto lc = c.host_config.value("LogConfig", Json::object());
  if (lc.value("Type", "json-file") == "none")
    return make_error(ErrorCode::kInvalidArgument,
                      "configured logging driver does not support reading");
  int max_file =
      std::max(1, atoi(lc.value("Config", Json::object()).value("max-file", "1").c_str()));
  shim::LogReadOptions ro{
      .tail = o.tail, .since_ns = o.since_ns, .until_ns = o.until_ns, .follow = o.follow};
  auto should_stop = [&] {
    if (cancelled && cancelled()) return true;
    std::lock_guard lock(impl_->mu);
    return e->removed || !e->c.running();
  };
  return shim::read_json_log(
      impl_->log_path(c.id), max_file, ro,
      [&](const shim::LogEntry& le) {
        if ((le.stream == "stdout" && !o.stdout) || (le.stream == "stderr" && !o.stderr))
          return true;
        return emit(le.stream, le.log, le.time);
      },
      should_stop);
}

}  // namespace berth::engine

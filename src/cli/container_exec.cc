// exec: inspect first (so "No such container" wins), create the exec, start it hijacked (or
// detached with -d), then read the exit code from GET /exec/{id}/json as docker's exec.go does.
#include <unistd.h>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/container_options.h"
#include "cli/stream.h"

namespace berth::cli {

Status cmd_exec(Cli& cli, const Args& args) {
  bool detach = false, interactive = false, tty = false, privileged = false;
  std::string user, workdir, detach_keys, container;
  std::vector<std::string> env, env_file;
  CLI::App app("Execute a command in a running container", "exec");
  setup_app(app);
  app.add_flag("-d,--detach", detach, "Detached mode: run command in the background");
  app.add_flag("-i,--interactive", interactive, "Keep STDIN open even if not attached");
  app.add_flag("-t,--tty", tty, "Allocate a pseudo-TTY");
  app.add_flag("--privileged", privileged, "Give extended privileges to the command");
  app.add_option("-u,--user", user, "Username or UID");
  app.add_option("-w,--workdir", workdir, "Working directory inside the container");
  app.add_option("--detach-keys", detach_keys, "Override the key sequence for detaching");
  app.add_option("-e,--env", env, "Set environment variables")->allow_extra_args(false);
  app.add_option("--env-file", env_file, "Read in a file of environment variables")
      ->allow_extra_args(false);
  app.add_option("container", container)->required();
  auto [flags, cmd] = split_command_args(app, args, 1);
  if (auto st = parse_args(app, flags)) return *st;
  if (cmd.empty())
    return fail(1, "\"berth exec\" requires at least 2 arguments.\nSee 'berth exec --help'.");

  auto c = cli.get_json("/containers/" + http::url_encode(container) + "/json");
  if (!c) return fail(c.error());
  Value body = Value::object();
  body["User"] = user;
  body["Privileged"] = privileged;
  body["Tty"] = tty;
  body["AttachStdin"] = interactive && !detach;
  body["AttachStderr"] = !detach;
  body["AttachStdout"] = !detach;
  body["Detach"] = detach;
  body["DetachKeys"] = detach_keys;
  Value envs = Value::array();
  for (const auto& f : env_file) {
    auto lines = read_env_file(f);
    if (!lines) return fail(lines.error());
    for (auto& l : *lines) envs.push_back(l);
  }
  for (const auto& e : env) {
    if (e.find('=') == std::string::npos) {
      if (const char* v = std::getenv(e.c_str())) {
        envs.push_back(e + "=" + v);
        continue;
      }
    }
    envs.push_back(e);
  }
  if (!envs.empty()) body["Env"] = envs;
  body["WorkingDir"] = workdir;
  body["Cmd"] = cmd;
  auto created =
      cli.call_json("POST", "/containers/" + http::url_encode(container) + "/exec", body);
  if (!created) return fail(created.error());
  auto cv = parse_json(created->body, "exec create response");
  if (!cv) return fail(cv.error());
  const std::string exec_id = cv->value("Id", "");
  if (exec_id.empty()) return fail(1, "exec ID empty");

  Value start = Value::object();
  start["Detach"] = detach;
  start["Tty"] = tty;
  if (detach) {
    auto r = cli.call_json("POST", "/exec/" + exec_id + "/start", start);
    if (!r) return fail(r.error());
    return ok();
  }
  http::RequestOptions ro;
  ro.body = start.dump();
  ro.content_type = "application/json";
  auto h = cli.hijack("POST", "/exec/" + exec_id + "/start", ro);
  if (!h) return fail(h.error());
  std::unique_ptr<RawTerminal> raw;
  if (tty && interactive && isatty(0)) raw = std::make_unique<RawTerminal>(0);
  install_signal_forwarding(false);
  PumpOptions po;
  po.tty = tty;
  po.send_stdin = interactive;
  if (tty && interactive) {
    auto keys = parse_detach_keys(detach_keys.empty() ? "ctrl-p,ctrl-q" : detach_keys);
    if (!keys) return fail(keys.error());
    po.detach_keys = *keys;
  }
  if (tty && isatty(1)) {
    auto do_resize = [&cli, exec_id] {
      if (auto sz = terminal_size(1))
        (void)cli.call("POST",
                       fmt::format("/exec/{}/resize?h={}&w={}", exec_id, sz->first, sz->second));
    };
    po.on_resize = do_resize;
    do_resize();
  }
  auto end = pump(*h, po);
  raw.reset();
  if (!end) return fail(end.error());
  if (*end == PumpEnd::kDetached) return ok();
  auto info = cli.get_json("/exec/" + exec_id + "/json");
  if (!info) return fail(info.error());
  if (info->value("Running", false)) return ok();
  return {info->value("ExitCode", 0), ""};
}

}  // namespace berth::cli

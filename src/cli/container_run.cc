// run, create, start and attach: the call sequences of docker's run.go/start.go/attach.go.
// Attach (hijack) happens BEFORE start so no output is lost, the wait (next-exit, or removed
// with --rm) is registered before start so a fast exit is not missed, and the exit status is
// the wait result's StatusCode.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/file.h"
#include "cli/commands.h"
#include "cli/container_options.h"
#include "cli/jsonmessage.h"
#include "cli/stream.h"

namespace berth::cli {

namespace {

std::string with_latest(const std::string& image) {
  if (image.find('@') != std::string::npos) return image;
  const auto slash = image.rfind('/');
  const auto colon = image.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash))
    return image + ":latest";
  return image;
}

// Pulls image the way docker run does when create says "No such image".
Result<void> pull_image(Cli& cli, const std::string& image, bool quiet) {
  const std::string ref = with_latest(image);
  std::string repo = ref, tag;
  if (auto at = ref.find('@'); at != std::string::npos) {
    repo = ref.substr(0, at), tag = ref.substr(at + 1);
  } else if (auto c = ref.rfind(':'); c != std::string::npos) {
    repo = ref.substr(0, c), tag = ref.substr(c + 1);
  }
  http::RequestOptions o;
  o.headers.push_back({"X-Registry-Auth", "e30="});  // base64url("{}")
  ASSIGN_OR_RETURN(
      auto s,
      cli.stream("POST", "/images/create" + http::query_string({{"fromImage", repo}, {"tag", tag}}),
                 o));
  return display_json_messages(*s, quiet ? -1 : 2, isatty(2));
}

Result<std::string> create(Cli& cli, const ContainerOptions& o, const Value& body) {
  const std::string path = "/containers/create" + http::query_string({{"name", o.name}});
  auto r = cli.call_json("POST", path, body);
  if (!r && r.error().code() == ErrorCode::kNotFound &&
      r.error().message().find("No such image") != std::string::npos && o.pull != "never") {
    err("Unable to find image '" + with_latest(o.image) + "' locally\n");
    TRY(pull_image(cli, o.image, false));
    r = cli.call_json("POST", path, body);
  }
  if (!r) return std::unexpected(r.error());
  ASSIGN_OR_RETURN(Value v, parse_json(r->body, "create response"));
  if (v.contains("Warnings") && v["Warnings"].is_array())
    for (const auto& w : v["Warnings"])
      if (w.is_string()) err("WARNING: " + w.get<std::string>() + "\n");
  const std::string id = v.value("Id", "");
  if (!o.cidfile.empty()) TRY(write_file_atomic(o.cidfile, id, 0644, false));
  return id;
}

void resize(Cli& cli, const std::string& path_prefix) {
  if (auto sz = terminal_size(1)) {
    (void)cli.call("POST", path_prefix + fmt::format("/resize?h={}&w={}", sz->first, sz->second));
  }
}

int exit_code_from_wait(const std::string& body, std::string* error) {
  auto v = parse_json(body, "wait response");
  if (!v || !v->is_object()) {
    if (error) *error = "error waiting for container: unexpected response";
    return 125;
  }
  if (v->contains("Error") && (*v)["Error"].is_object() &&
      !(*v)["Error"].value("Message", "").empty()) {
    if (error) *error = "error waiting for container: " + (*v)["Error"].value("Message", "");
    return 125;
  }
  return (*v).value("StatusCode", 0);
}

struct AttachSpec {
  bool in = false, out = true, err = true, tty = false;
  std::string detach_keys;
  bool sig_proxy = true;
};

// Attaches (already hijacked), then pumps until output ends. Returns false when detached.
Result<bool> stream_attached(Cli& cli, http::Hijacked& conn, const std::string& id,
                             const AttachSpec& a, bool resize_now) {
  std::unique_ptr<RawTerminal> raw;
  if (a.tty && a.in && isatty(0)) raw = std::make_unique<RawTerminal>(0);
  install_signal_forwarding(a.sig_proxy && !a.tty);
  PumpOptions po;
  po.tty = a.tty;
  po.send_stdin = a.in;
  if (a.tty && a.in) {
    ASSIGN_OR_RETURN(po.detach_keys,
                     parse_detach_keys(a.detach_keys.empty() ? "ctrl-p,ctrl-q" : a.detach_keys));
  }
  const std::string prefix = "/containers/" + id;
  if (a.tty && isatty(1)) {
    po.on_resize = [&cli, prefix] { resize(cli, prefix); };
    if (resize_now) resize(cli, prefix);
  }
  po.on_signal = [&cli, prefix](int sig) {
    (void)cli.call("POST", prefix + "/kill?signal=" + std::to_string(sig));
  };
  ASSIGN_OR_RETURN(PumpEnd end, pump(conn, po));
  raw.reset();
  if (end == PumpEnd::kDetached) {
    if (a.tty) err("\r\n");
    return false;
  }
  return true;
}

std::string attach_query(bool in, bool out_, bool err_, const std::string& detach_keys) {
  return http::query_string({{"stream", "1"},
                             {"stdin", in ? "1" : ""},
                             {"stdout", out_ ? "1" : ""},
                             {"stderr", err_ ? "1" : ""},
                             {"detachKeys", detach_keys}});
}

}  // namespace

Status cmd_create(Cli& cli, const Args& args) {
  ContainerOptions o;
  CLI::App app("Create a new container", "create");
  setup_app(app);
  add_container_flags(app, o, false);
  auto [flags, rest] = split_command_args(app, args, 1);
  if (auto st = parse_args(app, flags)) return *st;
  o.command = rest;
  auto body = build_create_body(o);
  if (!body) return fail(125, body.error().message() + "\nSee 'berth create --help'.");
  auto id = create(cli, o, *body);
  if (!id) return fail(id.error(), 125);
  out(*id + "\n");
  return ok();
}

Status cmd_run(Cli& cli, const Args& args) {
  ContainerOptions o;
  CLI::App app("Create and run a new container from an image", "run");
  setup_app(app);
  add_container_flags(app, o, true);
  auto [flags, rest] = split_command_args(app, args, 1);
  if (auto st = parse_args(app, flags)) return *st;
  o.command = rest;
  auto body = build_create_body(o);
  if (!body) return fail(125, body.error().message() + "\nSee 'berth run --help'.");
  if (o.detach && !o.detach_keys.empty()) (void)0;
  auto id_r = create(cli, o, *body);
  if (!id_r) return fail(id_r.error(), 125);
  const std::string id = *id_r;
  const std::string prefix = "/containers/" + id;

  AttachSpec a;
  a.in = (*body)["AttachStdin"].get<bool>();
  a.out = (*body)["AttachStdout"].get<bool>();
  a.err = (*body)["AttachStderr"].get<bool>();
  a.tty = o.tty;
  a.detach_keys = o.detach_keys;
  a.sig_proxy = o.sig_proxy;
  const bool attached = !o.detach && (a.in || a.out || a.err);

  std::optional<http::Hijacked> conn;
  if (attached) {
    auto h =
        cli.hijack("POST", prefix + "/attach" + attach_query(a.in, a.out, a.err, o.detach_keys));
    if (!h) return fail(h.error(), 125);
    conn = std::move(*h);
  }
  std::unique_ptr<http::BodyStream> waiter;
  if (!o.detach) {
    auto w = cli.stream("POST", prefix + "/wait?condition=" + (o.rm ? "removed" : "next-exit"));
    if (!w) return fail(w.error(), 125);
    waiter = std::move(*w);
  }
  if (auto s = cli.call("POST", prefix + "/start"); !s) {
    const std::string msg = s.error().message();
    return fail(run_error_status(msg), msg);
  }
  if (o.detach) {
    out(id + "\n");
    return ok();
  }
  if (conn) {
    auto r = stream_attached(cli, *conn, id, a, true);
    if (!r) return fail(r.error(), 125);
    if (!*r) return ok();  // detached with the escape sequence
  }
  auto body_r = waiter->read_all();
  if (!body_r) return fail(body_r.error(), 125);
  std::string werr;
  const int code = exit_code_from_wait(*body_r, &werr);
  if (!werr.empty()) return fail(code, werr);
  return {code, ""};
}

Status cmd_start(Cli& cli, const Args& args) {
  bool do_attach = false, interactive = false;
  std::string detach_keys;
  std::vector<std::string> names;
  CLI::App app("Start one or more stopped containers", "start");
  setup_app(app);
  app.add_flag("-a,--attach", do_attach, "Attach STDOUT/STDERR and forward signals");
  app.add_flag("-i,--interactive", interactive, "Attach container's STDIN");
  app.add_option("--detach-keys", detach_keys, "Override the key sequence for detaching");
  app.add_option("containers", names)->required();
  if (auto st = parse_args(app, args)) return *st;

  if (do_attach || interactive) {
    if (names.size() > 1) return fail(1, "you cannot start and attach multiple containers at once");
    auto c = cli.get_json("/containers/" + http::url_encode(names[0]) + "/json");
    if (!c) return fail(c.error());
    const std::string id = (*c)["Id"].get<std::string>();
    const std::string prefix = "/containers/" + id;
    AttachSpec a;
    a.tty = (*c)["Config"].value("Tty", false);
    a.in = interactive && (*c)["Config"].value("OpenStdin", false);
    a.detach_keys = detach_keys;
    auto h = cli.hijack("POST", prefix + "/attach" + attach_query(a.in, true, true, detach_keys));
    if (!h) return fail(h.error());
    const bool auto_remove = (*c)["HostConfig"].value("AutoRemove", false);
    auto w =
        cli.stream("POST", prefix + "/wait?condition=" + (auto_remove ? "removed" : "next-exit"));
    if (!w) return fail(w.error());
    if (auto s = cli.call("POST", prefix + "/start"); !s) return fail(s.error());
    auto r = stream_attached(cli, *h, id, a, true);
    if (!r) return fail(r.error());
    if (!*r) return ok();
    auto body = (*w)->read_all();
    if (!body) return fail(body.error());
    std::string werr;
    const int code = exit_code_from_wait(*body, &werr);
    if (!werr.empty()) return fail(code, werr);
    return {code, ""};
  }
  std::string failed;
  std::string errors;
  for (const auto& n : names) {
    auto r = cli.call("POST", "/containers/" + http::url_encode(n) + "/start");
    if (!r) {
      errors += r.error().message() + "\n";
      failed += (failed.empty() ? "" : ", ") + n;
      continue;
    }
    out(n + "\n");
  }
  if (!failed.empty()) return fail(1, errors + "Error: failed to start containers: " + failed);
  return ok();
}

Status cmd_attach(Cli& cli, const Args& args) {
  bool no_stdin = false, sig_proxy = true;
  std::string detach_keys, name;
  CLI::App app("Attach local standard input, output, and error streams to a running container",
               "attach");
  setup_app(app);
  app.add_flag("--no-stdin", no_stdin, "Do not attach STDIN");
  app.add_flag("--sig-proxy{true}", sig_proxy, "Proxy all received signals to the process");
  app.add_option("--detach-keys", detach_keys, "Override the key sequence for detaching");
  app.add_option("container", name)->required();
  if (auto st = parse_args(app, args)) return *st;
  auto c = cli.get_json("/containers/" + http::url_encode(name) + "/json");
  if (!c) return fail(c.error());
  if (!(*c)["State"].value("Running", false))
    return fail(1, "You cannot attach to a stopped container, start it first");
  if ((*c)["State"].value("Paused", false))
    return fail(1, "You cannot attach to a paused container, unpause it first");
  const std::string id = (*c)["Id"].get<std::string>();
  AttachSpec a;
  a.tty = (*c)["Config"].value("Tty", false);
  a.in = !no_stdin && (*c)["Config"].value("OpenStdin", false);
  a.detach_keys = detach_keys;
  a.sig_proxy = sig_proxy;
  auto h = cli.hijack(
      "POST", "/containers/" + id + "/attach" + attach_query(a.in, true, true, detach_keys));
  if (!h) return fail(h.error());
  auto r = stream_attached(cli, *h, id, a, true);
  if (!r) return fail(r.error());
  if (!*r) return ok();
  // The exit status of a container that stopped while attached.
  auto w = cli.call("POST", "/containers/" + id + "/wait");
  if (!w) return ok();
  std::string werr;
  const int code = exit_code_from_wait(w->body, &werr);
  return {code, werr};
}

}  // namespace berth::cli

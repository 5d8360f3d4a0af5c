// /containers/...: create, list, inspect, lifecycle, wait, attach, logs, stats, top, changes,
// export, archive, prune. Rendering follows docker's JSON shapes (api/docs/v1.41.yaml).
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "api/internal.h"
#include "base/log.h"
#include "base/stdcopy.h"
#include "base/strings.h"
#include "engine/spec_builder.h"

namespace berth::api {
namespace {

using engine::Container;
using engine::State;

Json network_settings(const Container& c) {
  std::string mode = c.host_config.value("NetworkMode", "none");
  Json endpoint = {{"IPAMConfig", nullptr},   {"Links", nullptr},         {"Aliases", nullptr},
                   {"NetworkID", ""},         {"EndpointID", ""},         {"Gateway", ""},
                   {"IPAddress", ""},         {"IPPrefixLen", 0},         {"IPv6Gateway", ""},
                   {"GlobalIPv6Address", ""}, {"GlobalIPv6PrefixLen", 0}, {"MacAddress", ""},
                   {"DriverOpts", nullptr}};
  return {{"Bridge", ""},
          {"SandboxID", ""},
          {"HairpinMode", false},
          {"LinkLocalIPv6Address", ""},
          {"LinkLocalIPv6PrefixLen", 0},
          {"Ports", Json::object()},
          {"SandboxKey", ""},
          {"SecondaryIPAddresses", nullptr},
          {"SecondaryIPv6Addresses", nullptr},
          {"EndpointID", ""},
          {"Gateway", ""},
          {"GlobalIPv6Address", ""},
          {"GlobalIPv6PrefixLen", 0},
          {"IPAddress", ""},
          {"IPPrefixLen", 0},
          {"IPv6Gateway", ""},
          {"MacAddress", ""},
          {"Networks", {{mode, endpoint}}}};
}

Json mounts_json(const Container& c) {
  Json out = Json::array();
  for (const auto& m : c.mounts) out.push_back(m.to_json());
  return out;
}

std::string status_text(const Container& c) {
  switch (c.state) {
    case State::kCreated:
      return "Created";
    case State::kRunning:
      return "Up " + human_duration(now_unix() - rfc3339_unix(c.started_at));
    case State::kPaused:
      return "Up " + human_duration(now_unix() - rfc3339_unix(c.started_at)) + " (Paused)";
    case State::kRestarting:
      return "Restarting (" + std::to_string(c.exit_code) + ") " +
             human_duration(now_unix() - rfc3339_unix(c.finished_at)) + " ago";
    case State::kRemoving:
      return "Removal In Progress";
    case State::kExited:
      return "Exited (" + std::to_string(c.exit_code) + ") " +
             human_duration(now_unix() - rfc3339_unix(c.finished_at)) + " ago";
    case State::kDead:
      return "Dead";
  }
  return "";
}

Json inspect_json(const Container& c, const std::string& data_root,
                  const std::string& graph_upper) {
  std::string dir = data_root + "/containers/" + c.id;
  Json hc = c.host_config;
  Json config = c.config;
  return {{"Id", c.id},
          {"Created", c.created},
          {"Path", c.path},
          {"Args", c.args},
          {"State",
           {{"Status", engine::state_name(c.state)},
            {"Running", c.state == State::kRunning || c.state == State::kPaused},
            {"Paused", c.state == State::kPaused},
            {"Restarting", c.state == State::kRestarting},
            {"OOMKilled", c.oom_killed},
            {"Dead", c.state == State::kDead},
            {"Pid", c.pid},
            {"ExitCode", c.exit_code},
            {"Error", c.error},
            {"StartedAt", c.started_at},
            {"FinishedAt", c.finished_at}}},
          {"Image", c.image_id},
          {"ResolvConfPath", dir + "/resolv.conf"},
          {"HostnamePath", dir + "/hostname"},
          {"HostsPath", dir + "/hosts"},
          {"LogPath", dir + "/" + c.id + "-json.log"},
          {"Name", c.name},
          {"RestartCount", c.restart_count},
          {"Driver", "overlay2"},
          {"Platform", "linux"},
          {"MountLabel", ""},
          {"ProcessLabel", ""},
          {"AppArmorProfile", ""},
          {"ExecIDs", nullptr},
          {"HostConfig", hc},
          {"GraphDriver", {{"Name", "overlay2"}, {"Data", {{"UpperDir", graph_upper}}}}},
          {"Mounts", mounts_json(c)},
          {"Config", config},
          {"NetworkSettings", network_settings(c)}};
}

Json list_json(const Container& c) {
  std::string cmd = c.path;
  for (const auto& a : c.args) cmd += " " + a;
  std::string mode = c.host_config.value("NetworkMode", "none");
  return {{"Id", c.id},
          {"Names", Json::array({c.name})},
          {"Image", c.image_ref},
          {"ImageID", c.image_id},
          {"Command", cmd},
          {"Created", rfc3339_unix(c.created)},
          {"Ports", Json::array()},
          {"Labels", c.config.value("Labels", Json::object())},
          {"State", engine::state_name(c.state)},
          {"Status", status_text(c)},
          {"HostConfig", {{"NetworkMode", mode}}},
          {"NetworkSettings", {{"Networks", network_settings(c)["Networks"]}}},
          {"Mounts", mounts_json(c)}};
}

std::optional<int> opt_int(const http::Request& req, const char* key) {
  auto v = req.q(key);
  if (v.empty()) return std::nullopt;
  return atoi(v.c_str());
}

}  // namespace

void register_container_routes(http::Router& r, engine::Engine& e) {
  r.add("POST", "/containers/create",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          Json body = Json::object();
          if (!req.body.empty()) {
            ASSIGN_OR_RETURN(body, json::parse(req.body, "container config"));
          }
          ASSIGN_OR_RETURN(auto res, e.create_container(req.q("name"), body));
          w.send_json(201, Json{{"Id", res.id}, {"Warnings", res.warnings}});
          return {};
        }));
  r.add("GET", "/containers/json",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          engine::ListOptions o;
          o.all = req.q_bool("all");
          if (auto l = opt_int(req, "limit")) o.limit = *l;
          ASSIGN_OR_RETURN(o.filters, parse_filters(req.q("filters")));
          ASSIGN_OR_RETURN(auto list, e.list(o));
          Json out = Json::array();
          for (const auto& c : list) out.push_back(list_json(c));
          w.send_json(200, out);
          return {};
        }));
  r.add("GET", "/containers/{id}/json",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto c, e.inspect(req.params["id"]));
          Json j = inspect_json(c, e.options().data_root, e.images().snapshotter().upper_dir(c.id));
          if (req.q_bool("size")) {
            auto used = e.images().snapshotter().active_usage(c.id);
            j["SizeRw"] = used ? *used : 0;
            auto img = e.images().resolve(c.image_id);
            j["SizeRootFs"] = (used ? *used : 0) + (img ? img->size : 0);
          }
          w.send_json(200, j);
          return {};
        }));
  r.add("POST", "/containers/{id}/start",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(bool started, e.start(req.params["id"]));
          w.send_empty(started ? 204 : 304);
          return {};
        }));
  r.add("POST", "/containers/{id}/stop",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          std::optional<int> sig;
          if (auto s = req.q("signal"); !s.empty()) {
            ASSIGN_OR_RETURN(sig, engine::parse_signal(s));
          }
          ASSIGN_OR_RETURN(bool stopped, e.stop(req.params["id"], opt_int(req, "t"), sig));
          w.send_empty(stopped ? 204 : 304);
          return {};
        }));
  r.add("POST", "/containers/{id}/restart",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          TRY(e.restart(req.params["id"], opt_int(req, "t")));
          w.send_empty(204);
          return {};
        }));
  r.add("POST", "/containers/{id}/kill",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          int sig = SIGKILL;
          if (auto s = req.q("signal"); !s.empty()) {
            ASSIGN_OR_RETURN(sig, engine::parse_signal(s));
          }
          TRY(e.kill(req.params["id"], sig));
          w.send_empty(204);
          return {};
        }));
  r.add("POST", "/containers/{id}/pause",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          TRY(e.pause(req.params["id"]));
          w.send_empty(204);
          return {};
        }));
  r.add("POST", "/containers/{id}/unpause",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          TRY(e.unpause(req.params["id"]));
          w.send_empty(204);
          return {};
        }));
  r.add("POST", "/containers/{id}/rename",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          TRY(e.rename(req.params["id"], req.q("name")));
          w.send_empty(204);
          return {};
        }));
  r.add("POST", "/containers/{id}/update",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          Json body = Json::object();
          if (!req.body.empty()) {
            ASSIGN_OR_RETURN(body, json::parse(req.body, "update config"));
          }
          ASSIGN_OR_RETURN(auto warnings, e.update(req.params["id"], body));
          w.send_json(200, Json{{"Warnings", warnings}});
          return {};
        }));
  r.add("POST", "/containers/{id}/resize",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          TRY(e.resize(req.params["id"], atoi(req.q("h").c_str()), atoi(req.q("w").c_str())));
          w.send_empty(200);
          return {};
        }));
  r.add("DELETE", "/containers/{id}",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          TRY(e.remove(req.params["id"], req.q_bool("force"), req.q_bool("v")));
          w.send_empty(204);
          return {};
        }));
  r.add("POST", "/containers/{id}/wait",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          // Validate first (404 as a plain reply), then flush the headers at once: docker run posts
          // wait before start and reads the body later.
          TRY(e.inspect(req.params["id"]));
          std::string cond = req.q("condition");
          if (!cond.empty() && cond != "not-running" && cond != "next-exit" && cond != "removed")
            return make_error(ErrorCode::kInvalidArgument, "invalid condition: \"" + cond + "\"");
          TRY(w.begin_stream(200, "application/json"));
          auto res = e.wait(req.params["id"], cond, [&w] { return w.client_gone(); });
          Json out;
          if (res) {
            out = {{"StatusCode", res->status_code}};
            if (!res->error.empty()) out["Error"] = {{"Message", res->error}};
          } else {
            out = {{"StatusCode", -1}, {"Error", {{"Message", res.error().message()}}}};
          }
          (void)w.write(out.dump() + "\n");
          (void)w.end_stream();
          return {};
        }));
  r.add("POST", "/containers/{id}/attach",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto c, e.inspect(req.params["id"]));
          bool stream = req.q_bool("stream"), logs = req.q_bool("logs");
          if (!stream && !logs)
            return make_error(ErrorCode::kInvalidArgument,
                              "Bad parameters: you must choose at least one stream");
          ASSIGN_OR_RETURN(auto hj,
                           w.hijack(c.tty() ? "application/vnd.docker.raw-stream"
                                            : "application/vnd.docker.multiplexed-stream"));
          auto fd = e.attach(c.id, req.q_bool("stdin"), req.q_bool("stdout"), req.q_bool("stderr"),
                             logs, stream, req.q("detachKeys"));
          if (!fd) {
            std::string msg = fd.error().message() + "\n";
            if (!c.tty()) msg = stdcopy::frame(stdcopy::Stream::kStderr, msg);
            (void)::send(hj.fd.get(), msg.data(), msg.size(), MSG_NOSIGNAL);
            return {};
          }
          splice_streams(hj.fd.get(), hj.pending, fd->get());
          return {};
        }));
  r.add("GET", "/containers/{id}/logs",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto c, e.inspect(req.params["id"]));
          engine::LogsOptions o;
          o.stdout = req.q_bool("stdout");
          o.stderr = req.q_bool("stderr");
          if (!o.stdout && !o.stderr)
            return make_error(ErrorCode::kInvalidArgument,
                              "Bad parameters: you must choose at least one stream");
          o.follow = req.q_bool("follow");
          o.timestamps = req.q_bool("timestamps");
          if (auto t = req.q("tail"); !t.empty() && t != "all") o.tail = atoll(t.c_str());
          o.since_ns = parse_time_ns(req.q("since"));
          o.until_ns = parse_time_ns(req.q("until"));
          bool tty = c.tty();
          TRY(w.begin_stream(200, tty ? "application/vnd.docker.raw-stream"
                                      : "application/vnd.docker.multiplexed-stream"));
          auto r = e.logs(
              c.id, o,
              [&](const std::string& stream, const std::string& line, const std::string& time) {
                std::string text = o.timestamps ? time + " " + line : line;
                if (tty) return w.write(text).has_value();
                return w
                    .write(stdcopy::frame(
                        stream == "stderr" ? stdcopy::Stream::kStderr : stdcopy::Stream::kStdout,
                        text))
                    .has_value();
              },
              [&w] { return w.client_gone(); });
          (void)r;
          (void)w.end_stream();
          return {};
        }));
  r.add("GET", "/containers/{id}/top",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto j, e.top(req.params["id"], req.q("ps_args")));
          w.send_json(200, j);
          return {};
        }));
  r.add("GET", "/containers/{id}/stats",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto c, e.inspect(req.params["id"]));
          bool stream = req.q("stream").empty() || req.q_bool("stream");
          bool one_shot = req.q_bool("one-shot");
          if (!stream) {
            ASSIGN_OR_RETURN(Json first, e.stats(c.id));
            if (!one_shot) {  // docker sleeps a cycle so precpu_stats is filled
              std::this_thread::sleep_for(std::chrono::seconds(1));
              ASSIGN_OR_RETURN(Json second, e.stats(c.id));
              first = second;
            }
            w.send_json(200, first);
            return {};
          }
          TRY(w.begin_stream(200, "application/json"));
          while (!w.client_gone()) {
            auto s = e.stats(c.id);
            if (!s) break;
            if (!w.write(s->dump() + "\n")) break;
            std::this_thread::sleep_for(std::chrono::seconds(1));
          }
          (void)w.end_stream();
          return {};
        }));
  r.add("GET", "/containers/{id}/changes",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto j, e.changes(req.params["id"]));
          w.send_json(200, j);
          return {};
        }));
  r.add("GET", "/containers/{id}/export",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto c, e.inspect(req.params["id"]));
          // Streams through a pipe so the tar is never held in memory.
          return stream_from_producer(w, "application/x-tar", {},
                                      [&](int fd) { return e.export_rootfs(c.id, fd); });
        }));
  r.add("POST", "/containers/prune",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto f, parse_filters(req.q("filters")));
          ASSIGN_OR_RETURN(auto j, e.prune_containers(f));
          w.send_json(200, j);
          return {};
        }));
}

}  // namespace berth::api

// /containers/{id}/exec and /exec/{id}/...: create, start (hijacked or detached), resize, inspect.
#include <sys/socket.h>

#include "api/internal.h"
#include "base/stdcopy.h"

namespace berth::api {

void register_exec_routes(http::Router& r, engine::Engine& e) {
  r.add("POST", "/containers/{id}/exec",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          Json body = Json::object();
          if (!req.body.empty()) {
            ASSIGN_OR_RETURN(body, json::parse(req.body, "exec config"));
          }
          ASSIGN_OR_RETURN(std::string id, e.exec_create(req.params["id"], body));
          w.send_json(201, Json{{"Id", id}});
          return {};
        }));
  r.add("POST", "/exec/{id}/start",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          Json body = Json::object();
          if (!req.body.empty()) {
            ASSIGN_OR_RETURN(body, json::parse(req.body, "exec start config"));
          }
          bool detach = body.value("Detach", false);
          ASSIGN_OR_RETURN(auto x, e.exec_inspect(req.params["id"]));
          bool tty = body.value("Tty", x.config.value("Tty", false));
          if (detach) {
            TRY(e.exec_start(req.params["id"], true, tty));
            w.send_empty(200);
            return {};
          }
          // docker hijacks first and reports a failed start inside the stream; the exit code (126
          // or 127) is then read with exec inspect.
          if (x.started)
            return make_error(ErrorCode::kConflict,
                              "Error: Exec command " + x.id + " has already run");
          ASSIGN_OR_RETURN(auto hj, w.hijack(tty ? "application/vnd.docker.raw-stream"
                                                 : "application/vnd.docker.multiplexed-stream"));
          auto fd = e.exec_start(req.params["id"], false, tty);
          if (!fd) {
            std::string msg = fd.error().message() + "\r\n";
            if (!tty) msg = stdcopy::frame(stdcopy::Stream::kStderr, msg);
            (void)::send(hj.fd.get(), msg.data(), msg.size(), MSG_NOSIGNAL);
            return {};
          }
          splice_streams(hj.fd.get(), hj.pending, fd->get());
          return {};
        }));
  r.add("POST", "/exec/{id}/resize",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          TRY(e.exec_resize(req.params["id"], atoi(req.q("h").c_str()), atoi(req.q("w").c_str())));
          w.send_empty(200);
          return {};
        }));
  r.add("GET", "/exec/{id}/json",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto x, e.exec_inspect(req.params["id"]));
          const Json& c = x.config;
          Json args = Json::array();
          for (size_t i = 1; i < c["Cmd"].size(); ++i) args.push_back(c["Cmd"][i]);
          w.send_json(200, Json{{"ID", x.id},
                                {"Running", x.running},
                                {"ExitCode", x.exit_code ? Json(*x.exit_code) : Json(nullptr)},
                                {"ProcessConfig",
                                 {{"tty", c.value("Tty", false)},
                                  {"entrypoint", c["Cmd"][0]},
                                  {"arguments", args},
                                  {"privileged", c.value("Privileged", false)},
                                  {"user", c.value("User", "")}}},
                                {"OpenStdin", c.value("AttachStdin", false)},
                                {"OpenStderr", c.value("AttachStderr", false)},
                                {"OpenStdout", c.value("AttachStdout", false)},
                                {"CanRemove", false},
                                {"ContainerID", x.container_id},
                                {"DetachKeys", c.value("DetachKeys", "")},
                                {"Pid", x.pid}});
          return {};
        }));
}

}  // namespace berth::api

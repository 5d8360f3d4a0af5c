// /containers/{id}/archive: HEAD (stat), GET (tar of a path), PUT (extract a tar into a dir),
// as docker cp uses them. The stat travels base64-encoded in X-Docker-Container-Path-Stat.
#include <fcntl.h>
#include <unistd.h>

#include <thread>

#include "api/internal.h"

namespace berth::api {
namespace {

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += t[v >> 18], out += t[(v >> 12) & 63], out += t[(v >> 6) & 63], out += t[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += t[v >> 18], out += t[(v >> 12) & 63], out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += t[v >> 18], out += t[(v >> 12) & 63], out += t[(v >> 6) & 63], out += '=';
  }
  return out;
}

}  // namespace

void register_archive_routes(http::Router& r, engine::Engine& e) {
  auto stat = [&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
    std::string path = req.q("path");
    if (path.empty()) return make_error(ErrorCode::kInvalidArgument, "path is required");
    ASSIGN_OR_RETURN(Json st, e.path_stat(req.params["id"], path));
    std::string hdr = base64(st.dump());
    if (req.method == "HEAD") {
      w.send(200, "application/json", "", {{"X-Docker-Container-Path-Stat", hdr}});
      return {};
    }
    return stream_from_producer(w, "application/x-tar", {{"X-Docker-Container-Path-Stat", hdr}},
                                [&](int fd) { return e.archive_get(req.params["id"], path, fd); });
  };
  r.add("HEAD", "/containers/{id}/archive", route(stat));
  r.add("GET", "/containers/{id}/archive", route(stat));
  r.add("PUT", "/containers/{id}/archive",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          std::string path = req.q("path");
          if (path.empty()) return make_error(ErrorCode::kInvalidArgument, "path is required");
          int p[2];
          if (::pipe2(p, O_CLOEXEC) != 0) return errno_error("pipe");
          UniqueFd rd(p[0]);
          int wfd = p[1];
          std::thread pump([&req, wfd] {
            char buf[1 << 16];
            bool open = true;
            for (;;) {
              auto n = req.read_body(buf, sizeof buf);
              if (!n || *n == 0) break;
              for (size_t off = 0; open && off < *n;) {
                ssize_t m = ::write(wfd, buf + off, *n - off);
                if (m <= 0) {
                  open = false;
                  break;
                }
                off += m;
              }
            }
            ::close(wfd);
          });
          auto res = e.archive_put(req.params["id"], path, rd.get(),
                                   req.q_bool("noOverwriteDirNonDir"), req.q_bool("copyUIDGID"));
          rd.reset();
          pump.join();
          TRY(res);
          w.send_empty(200);
          return {};
        }),
        http::RouteOptions{.stream_body = true});
}

}  // namespace berth::api

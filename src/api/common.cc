// Error mapping, filters, times and stream splicing shared by the route files.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <mutex>
#include <thread>

#include "api/internal.h"
#include "base/log.h"
#include "base/strings.h"

namespace berth::api {

int http_status(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kFailedPrecondition:
      return 409;
    case ErrorCode::kResourceExhausted:
      return 500;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kUnimplemented:
      return 501;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

void send_error(http::ResponseWriter& w, const Error& e) {
  w.send_json(http_status(e), Json{{"message", e.message()}});
}

Result<Filters> parse_filters(const std::string& text) {
  Filters f;
  if (text.empty()) return f;
  ASSIGN_OR_RETURN(Json j, json::parse(text, "filters"));
  if (!j.is_object())
    return make_error(ErrorCode::kInvalidArgument, "invalid filter: not an object");
  for (const auto& [k, v] : j.items()) {
    if (v.is_array()) {
      for (const auto& x : v)
        if (x.is_string()) f[k].push_back(x.get<std::string>());
    } else if (v.is_object()) {
      for (const auto& [x, on] : v.items())
        if (on.is_boolean() && on.get<bool>()) f[k].push_back(x);
    } else {
      return make_error(ErrorCode::kInvalidArgument, "invalid filter '" + k + "'");
    }
  }
  return f;
}

std::string human_duration(int64_t seconds) {
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return std::to_string(seconds) + " seconds";
  int64_t minutes = seconds / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return std::to_string(minutes) + " minutes";
  int64_t hours = std::llround(seconds / 3600.0);
  if (hours == 1) return "About an hour";
  if (hours < 48) return std::to_string(hours) + " hours";
  if (hours < 24 * 7 * 2) return std::to_string(hours / 24) + " days";
  if (hours < 24 * 30 * 2) return std::to_string(hours / 24 / 7) + " weeks";
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24 / 30) + " months";
  return std::to_string(hours / 24 / 365) + " years";
}

int64_t now_unix() {
  return ::time(nullptr);
}

int64_t rfc3339_unix(const std::string& s) {
  struct tm tm {};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return timegm(&tm);
}

int64_t parse_time_ns(const std::string& s) {
  if (s.empty()) return 0;
  // Fractions are read as digits, never through a double: a log entry stamped exactly at
  // --since must compare equal to it (docker's bound is inclusive).
  auto nanos_of = [](std::string_view frac) {
    int64_t ns = 0;
    for (size_t i = 0; i < 9; ++i)
      ns = ns * 10 +
           (i < frac.size() && isdigit(static_cast<unsigned char>(frac[i])) ? frac[i] - '0' : 0);
    return ns;
  };
  if (s.find('T') != std::string::npos || s.find('-', 1) != std::string::npos) {
    struct tm tm {};
    const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) return 0;
    int64_t ns = 0;
    if (*rest == '.') {
      std::string_view frac(rest + 1);
      ns = nanos_of(frac.substr(0, frac.find_first_not_of("0123456789")));
    }
    return static_cast<int64_t>(timegm(&tm)) * 1000000000 + ns;
  }
  bool neg = s[0] == '-';
  std::string_view v(s);
  if (neg) v.remove_prefix(1);
  auto dot = v.find('.');
  int64_t sec = std::strtoll(std::string(v.substr(0, dot)).c_str(), nullptr, 10);
  int64_t ns = sec * 1000000000 + (dot == std::string_view::npos ? 0 : nanos_of(v.substr(dot + 1)));
  return neg ? -ns : ns;
}

Result<Json> config_from_changes(const std::vector<std::string>& changes) {
  Json overrides = Json::object();
  for (const auto& ch : changes) {
    auto sp = ch.find(' ');
    std::string instr = ch.substr(0, sp), arg = sp == std::string::npos ? "" : ch.substr(sp + 1);
    for (auto& c : instr) c = static_cast<char>(toupper(c));
    auto args_of = [&](const std::string& a) -> Json {
      auto j = json::parse(a, "change");
      if (j && j->is_array()) return *j;
      return Json::array({"/bin/sh", "-c", a});
    };
    if (instr == "CMD") {
      overrides["Cmd"] = args_of(arg);
    } else if (instr == "ENTRYPOINT") {
      overrides["Entrypoint"] = args_of(arg);
    } else if (instr == "ENV") {
      auto eq = arg.find_first_of("= ");
      std::string kv = eq == std::string::npos ? arg : arg.substr(0, eq) + "=" + arg.substr(eq + 1);
      overrides["Env"].push_back(kv);
    } else if (instr == "WORKDIR") {
      overrides["WorkingDir"] = arg;
    } else if (instr == "USER") {
      overrides["User"] = arg;
    } else if (instr == "LABEL") {
      auto eq = arg.find('=');
      overrides["Labels"][arg.substr(0, eq)] = eq == std::string::npos ? "" : arg.substr(eq + 1);
    } else if (instr == "EXPOSE") {
      overrides["ExposedPorts"][arg.find('/') == std::string::npos ? arg + "/tcp" : arg] =
          Json::object();
    } else if (instr == "VOLUME") {
      auto list = json::parse(arg, "change");
      if (list && list->is_array()) {
        for (const auto& v : *list)
          if (v.is_string()) overrides["Volumes"][v.get<std::string>()] = Json::object();
      } else {
        for (const auto& v : split(arg, ' '))
          if (!v.empty()) overrides["Volumes"][v] = Json::object();
      }
    } else if (instr == "STOPSIGNAL") {
      overrides["StopSignal"] = arg;
    } else {
      return make_error(ErrorCode::kInvalidArgument, instr + " is not a valid change command");
    }
  }
  return overrides;
}

void splice_streams(int client_fd, const std::string& pending, int stream_fd) {
  if (!pending.empty()) (void)::send(stream_fd, pending.data(), pending.size(), MSG_NOSIGNAL);
  bool client_open = true;
  char buf[32768];
  for (;;) {
    struct pollfd p[2] = {{stream_fd, POLLIN, 0},
                          {client_fd, client_open ? short(POLLIN) : short(0), 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(stream_fd, buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        ssize_t m = ::send(client_fd, buf + off, n - off, MSG_NOSIGNAL);
        if (m <= 0) return;
        off += m;
      }
    }
    if (client_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(client_fd, buf, sizeof buf);
      if (n <= 0) {
        client_open = false;
        ::shutdown(stream_fd, SHUT_WR);  // stdin EOF reaches the process
        if (n < 0) return;
        continue;
      }
      for (ssize_t off = 0; off < n;) {
        ssize_t m = ::send(stream_fd, buf + off, n - off, MSG_NOSIGNAL);
        if (m <= 0) {
          client_open = false;
          break;
        }
        off += m;
      }
    }
  }
  ::shutdown(client_fd, SHUT_WR);
}

Result<> stream_from_producer(http::ResponseWriter& w, std::string_view content_type,
                              const http::ResponseWriter::Headers& headers,
                              const std::function<Result<>(int fd)>& producer) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return errno_error("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  Result<> produced;
  std::thread thread([&] {
    produced = producer(wr.get());
    wr.reset();
  });
  auto begun = w.begin_stream(200, content_type, headers);
  char buf[1 << 16];
  ssize_t n;
  while (begun && (n = ::read(rd.get(), buf, sizeof buf)) > 0)
    if (!w.write(std::string_view(buf, n))) break;
  rd.reset();  // a producer still writing gets EPIPE and stops
  thread.join();
  if (begun) (void)w.end_stream();
  return begun;
}

Result<> register_routes(http::Router& router, engine::Engine& engine, const Options& opts) {
  // The routes keep references to the registry client for the life of the process (a router is
  // never torn down while berthd runs).
  static std::mutex clients_mu;
  static std::vector<std::unique_ptr<registry::Client>> clients;
  ASSIGN_OR_RETURN(auto client, registry::Client::create(opts.registry));
  registry::Client& registry = *client;
  {
    std::lock_guard lk(clients_mu);
    clients.push_back(std::move(client));
  }
  router.set_middleware([](http::Request& req, http::ResponseWriter& w) {
    if (req.api_version.empty()) return true;
    auto parts = split(req.api_version, '.');
    int minor = parts.size() == 2 ? atoi(parts[1].c_str()) : 0;
    if (parts.size() != 2 || parts[0] != "1") {
      w.send_json(400, Json{{"message", "invalid API version: " + req.api_version}});
      return false;
    }
    if (minor < 24) {
      w.send_json(400, Json{{"message", "client version " + req.api_version +
                                            " is too old. Minimum supported API version is " +
                                            kMinApiVersion +
                                            ", please upgrade your client to a newer version"}});
      return false;
    }
    if (minor > 41) {
      w.send_json(400, Json{{"message", "client version " + req.api_version +
                                            " is too new. Maximum supported API version is " +
                                            kApiVersion}});
      return false;
    }
    return true;
  });
  register_system_routes(router, engine, opts.registry);
  register_archive_routes(router, engine);
  register_container_routes(router, engine);
  register_exec_routes(router, engine);
  register_image_routes(router, engine, registry);
  register_registry_routes(router, engine, registry);
  register_volume_routes(router, engine);
  return {};
}

}  // namespace berth::api

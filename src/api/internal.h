// Shared pieces of the route files: error replies, query parsing, filters, time rendering, and
// the splice loop that joins a hijacked client with a shim stream.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/api.h"
#include "base/json.h"
#include "registry/client.h"

namespace berth::api {

using json::Json;
using Filters = std::map<std::string, std::vector<std::string>>;

// docker's filters query: {"label":["a=b"]} or the old {"label":{"a=b":true}} form.
Result<Filters> parse_filters(const std::string& text);
// "Up 5 minutes", "2 hours" (go-units HumanDuration).
std::string human_duration(int64_t seconds);
int64_t now_unix();
int64_t rfc3339_unix(const std::string& s);
// docker's since/until: unix seconds (with fraction) or RFC 3339.
int64_t parse_time_ns(const std::string& s);

// docker's --change instructions (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME,
// STOPSIGNAL) as container-config fields; 400 naming an unknown instruction.
Result<Json> config_from_changes(const std::vector<std::string>& changes);

// Copies bytes both ways between a hijacked client and a stream until the stream ends; the
// client's half-close is passed on.
void splice_streams(int client_fd, const std::string& pending, int stream_fd);

// Streams what producer writes to an fd as the response body (through a pipe, so nothing is held
// in memory): export, save, archive GET.
Result<> stream_from_producer(http::ResponseWriter& w, std::string_view content_type,
                              const http::ResponseWriter::Headers& headers,
                              const std::function<Result<>(int fd)>& producer);

void register_system_routes(http::Router& r, engine::Engine& e, const registry::Options& reg);
void register_container_routes(http::Router& r, engine::Engine& e);
void register_exec_routes(http::Router& r, engine::Engine& e);
void register_image_routes(http::Router& r, engine::Engine& e, registry::Client& registry);
void register_registry_routes(http::Router& r, engine::Engine& e, registry::Client& registry);
// POST /images/create?fromImage=: a pull with docker's progress stream.
Result<> pull_image(http::Request& req, http::ResponseWriter& w, engine::Engine& e,
                    registry::Client& registry);
// {"errorDetail":{"message":..},"error":..} inside a progress stream already answered 200.
void stream_error(http::ResponseWriter& w, const Error& err);
void register_volume_routes(http::Router& r, engine::Engine& e);
void register_archive_routes(http::Router& r, engine::Engine& e);

// Handler wrapper: runs f and turns an error result into docker's error reply.
template <class F>
http::Handler route(F f) {
  return [f](http::Request& req, http::ResponseWriter& w) {
    Result<> r = f(req, w);
    if (!r) {
      if (!w.started()) send_error(w, r.error());
    }
  };
}

}  // namespace berth::api

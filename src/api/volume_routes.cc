// /volumes/...: create, list, inspect, remove, prune.
#include "api/internal.h"

namespace berth::api {

void register_volume_routes(http::Router& r, engine::Engine& e) {
  r.add("POST", "/volumes/create",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          Json body = Json::object();
          if (!req.body.empty()) {
            ASSIGN_OR_RETURN(body, json::parse(req.body, "volume config"));
          }
          ASSIGN_OR_RETURN(auto v, e.volume_create(body));
          w.send_json(201, v);
          return {};
        }));
  r.add("GET", "/volumes", route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto f, parse_filters(req.q("filters")));
          ASSIGN_OR_RETURN(auto v, e.volume_list(f));
          w.send_json(200, v);
          return {};
        }));
  r.add("POST", "/volumes/prune",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto f, parse_filters(req.q("filters")));
          ASSIGN_OR_RETURN(auto v, e.volume_prune(f));
          w.send_json(200, v);
          return {};
        }));
  r.add("GET", "/volumes/{name}",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto v, e.volume_inspect(req.params["name"]));
          w.send_json(200, v);
          return {};
        }));
  r.add("DELETE", "/volumes/{name}",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          TRY(e.volume_remove(req.params["name"], req.q_bool("force")));
          w.send_empty(204);
          return {};
        }));
}

}  // namespace berth::api

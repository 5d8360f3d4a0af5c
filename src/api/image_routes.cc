// /images/...: list, inspect, tag, history, remove, load, save (get), import (create?fromSrc),
// prune, and /commit. Registry pulls and pushes arrive with the registry layer (issue 4).
#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <thread>

#include "api/internal.h"
#include "base/strings.h"

namespace berth::api {
namespace {

Json image_inspect_json(const image::Image& img) {
  const Json& cfg = img.config;
  Json tags = img.repo_tags, digests = img.repo_digests;
  return {
      {"Id", img.id},
      {"RepoTags", tags},
      {"RepoDigests", digests},
      {"Parent", ""},
      {"Comment", cfg.contains("history") && cfg["history"].is_array() && !cfg["history"].empty()
                      ? cfg["history"].back().value("comment", "")
                      : ""},
      {"Created", cfg.value("created", "1970-01-01T00:00:00Z")},
      {"Container", ""},
      {"ContainerConfig", Json::object()},
      {"DockerVersion", cfg.value("docker_version", "")},
      {"Author", cfg.value("author", "")},
      {"Config", cfg.value("config", Json::object())},
      {"Architecture", cfg.value("architecture", "amd64")},
      {"Os", cfg.value("os", "linux")},
      {"Size", img.size},
      {"VirtualSize", img.size},
      {"GraphDriver", {{"Name", "overlay2"}, {"Data", Json::object()}}},
      {"RootFS", {{"Type", "layers"}, {"Layers", img.diff_ids}}},
      {"Metadata", {{"LastTagTime", "0001-01-01T00:00:00Z"}}}};
}

// Feeds a streamed request body into a pipe for a consumer that reads an fd.
struct BodyPipe {
  UniqueFd read_end;
  std::thread pump;
  static Result<BodyPipe> start(http::Request& req) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return errno_error("pipe");
    BodyPipe bp;
    bp.read_end = UniqueFd(p[0]);
    int wfd = p[1];
    bp.pump = std::thread([&req, wfd] {
      char buf[1 << 16];
      for (;;) {
        auto n = req.read_body ? req.read_body(buf, sizeof buf) : Result<size_t>(0);
        if (!n || *n == 0) break;
        size_t off = 0;
        while (off < *n) {
          ssize_t m = ::write(wfd, buf + off, *n - off);
          if (m <= 0) {
            ::close(wfd);
            // drain the rest so the connection stays usable
            while (true) {
              auto k = req.read_body(buf, sizeof buf);
              if (!k || *k == 0) return;
            }
          }
          off += m;
        }
      }
      ::close(wfd);
    });
    return bp;
  }
  void finish() {
    read_end.reset();
    if (pump.joinable()) pump.join();
  }
  ~BodyPipe() { finish(); }
  BodyPipe() = default;
  BodyPipe(BodyPipe&&) = default;
};

}  // namespace

void stream_error(http::ResponseWriter& w, const Error& err) {
  (void)w.write(
      Json{{"errorDetail", {{"message", err.message()}}}, {"error", err.message()}}.dump() + "\n");
}

void register_image_routes(http::Router& r, engine::Engine& e, registry::Client& registry) {
  r.add(
      "GET", "/images/json", route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
        ASSIGN_OR_RETURN(auto f, parse_filters(req.q("filters")));
        ASSIGN_OR_RETURN(auto list, e.images().list());
        Json out = Json::array();
        for (auto& img : list) {
          bool keep = true;
          for (const auto& [k, vs] : f) {
            for (const auto& v : vs) {
              if (k == "dangling")
                keep &= (v == "true" || v == "1") == img.repo_tags.empty();
              else if (k == "label") {
                Json labels =
                    img.config.value("config", Json::object()).value("Labels", Json::object());
                if (!labels.is_object()) labels = Json::object();
                auto eq = v.find('=');
                std::string key = v.substr(0, eq);
                keep &= labels.contains(key) &&
                        (eq == std::string::npos || labels[key] == v.substr(eq + 1));
              } else if (k == "reference") {
                // docker's FamiliarMatch: the pattern against "name:tag" / "name@digest" and
                // against the name alone; only the matching references are listed.
                auto matches = [&](const std::string& r) {
                  return std::any_of(vs.begin(), vs.end(), [&](const std::string& pat) {
                    size_t slash = r.rfind('/');
                    size_t cut = r.find('@');
                    if (cut == std::string::npos) {
                      cut = r.rfind(':');
                      if (cut != std::string::npos && slash != std::string::npos && cut < slash)
                        cut = std::string::npos;
                    }
                    std::string name = r.substr(0, cut);
                    return ::fnmatch(pat.c_str(), r.c_str(), 0) == 0 ||
                           ::fnmatch(pat.c_str(), name.c_str(), 0) == 0;
                  });
                };
                std::erase_if(img.repo_tags, [&](const std::string& t) { return !matches(t); });
                std::erase_if(img.repo_digests, [&](const std::string& d) { return !matches(d); });
                keep &= !img.repo_tags.empty() || !img.repo_digests.empty();
                break;  // all patterns at once: they are alternatives
              } else if (k == "before" || k == "since") {
                auto other = e.images().resolve(v);
                if (!other) return std::unexpected(other.error());
                keep &= k == "before" ? img.created < other->created : img.created > other->created;
              } else {
                return make_error(ErrorCode::kInvalidArgument, "invalid filter '" + k + "'");
              }
            }
          }
          if (!keep) continue;
          Json labels = img.config.value("config", Json::object()).value("Labels", Json::object());
          out.push_back({{"Id", img.id},
                         {"ParentId", ""},
                         {"RepoTags", img.repo_tags.empty() ? Json::array({"<none>:<none>"})
                                                            : Json(img.repo_tags)},
                         {"RepoDigests", img.repo_digests.empty() && img.repo_tags.empty()
                                             ? Json::array({"<none>@<none>"})
                                             : Json(img.repo_digests)},
                         {"Created", img.created},
                         {"Size", img.size},
                         {"VirtualSize", img.size},
                         {"SharedSize", -1},
                         {"Labels", labels.is_object() ? labels : Json(nullptr)},
                         {"Containers", e.containers_using_image(img.id)}});
        }
        w.send_json(200, out);
        return {};
      }));
  r.add("GET", "/images/get", route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          std::vector<std::string> names = req.query_all("names");
          if (names.empty()) return make_error(ErrorCode::kInvalidArgument, "no image names given");
          for (const auto& n : names) TRY(e.images().resolve(n));
          return stream_from_producer(w, "application/x-tar", {},
                                      [&](int fd) { return e.images().save(names, fd); });
        }));
  r.add("POST", "/images/load",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(BodyPipe bp, BodyPipe::start(req));
          bool quiet = req.q_bool("quiet");
          std::vector<std::string> progress;
          auto loaded = e.images().load(bp.read_end.get(), [&](const std::string& msg) {
            if (!quiet) progress.push_back(msg);
          });
          bp.finish();
          TRY(w.begin_stream(200, "application/json"));
          for (const auto& p : progress) (void)w.write(Json{{"stream", p + "\n"}}.dump() + "\n");
          if (!loaded) {
            stream_error(w, loaded.error());
          } else {
            for (const auto& m : *loaded) (void)w.write(Json{{"stream", m + "\n"}}.dump() + "\n");
          }
          (void)w.end_stream();
          return {};
        }),
        http::RouteOptions{.stream_body = true});
  r.add("POST", "/images/create",
        route([&e, &registry](http::Request& req, http::ResponseWriter& w) -> Result<> {
          std::string src = req.q("fromSrc");
          if (src.empty()) return pull_image(req, w, e, registry);
          if (src != "-")
            return make_error(ErrorCode::kInvalidArgument,
                              "import from a URL is not supported: " + src);
          image::ImportOptions o;
          std::string repo = req.q("repo"), tag = req.q("tag");
          if (!repo.empty()) o.repo_tag = repo + (tag.empty() ? "" : ":" + tag);
          o.message = req.q("message");
          ASSIGN_OR_RETURN(Json overrides, config_from_changes(req.query_all("changes")));
          o.config_overrides = overrides;
          ASSIGN_OR_RETURN(BodyPipe bp, BodyPipe::start(req));
          auto img = e.images().import(bp.read_end.get(), o);
          bp.finish();
          TRY(w.begin_stream(200, "application/json"));
          if (!img)
            stream_error(w, img.error());
          else
            (void)w.write(Json{{"status", img->id}}.dump() + "\n");
          (void)w.end_stream();
          return {};
        }),
        http::RouteOptions{.stream_body = true});
  r.add("POST", "/images/prune",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto f, parse_filters(req.q("filters")));
          bool all = false;
          for (const auto& v : f["dangling"]) all |= v == "false" || v == "0";
          ASSIGN_OR_RETURN(auto rep, e.images().prune(all, [&e](const std::string& id) {
            return e.containers_using_image(id) > 0;
          }));
          Json deleted = Json::array();
          for (const auto& d : rep.deleted)
            deleted.push_back(d.untagged.empty() ? Json{{"Deleted", d.deleted}}
                                                 : Json{{"Untagged", d.untagged}});
          w.send_json(200, Json{{"ImagesDeleted", deleted.empty() ? Json(nullptr) : deleted},
                                {"SpaceReclaimed", rep.space_reclaimed}});
          return {};
        }));
  r.add("GET", "/images/{name*}/json",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto img, e.images().resolve(req.params["name"]));
          w.send_json(200, image_inspect_json(img));
          return {};
        }));
  r.add("GET", "/images/{name*}/history",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto h, e.images().history(req.params["name"]));
          w.send_json(200, h);
          return {};
        }));
  r.add("GET", "/images/{name*}/get",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          std::vector<std::string> names = {req.params["name"]};
          TRY(e.images().resolve(names[0]));
          return stream_from_producer(w, "application/x-tar", {},
                                      [&](int fd) { return e.images().save(names, fd); });
        }));
  r.add("POST", "/images/{name*}/tag",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          std::string repo = req.q("repo"), tag = req.q("tag");
          if (repo.empty())
            return make_error(ErrorCode::kInvalidArgument,
                              "repository name must have at least one component");
          TRY(e.images().tag(req.params["name"], repo + (tag.empty() ? "" : ":" + tag)));
          w.send_empty(201);
          return {};
        }));
  r.add("DELETE", "/images/{name*}",
        route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto items, e.images().remove(req.params["name"], req.q_bool("force"),
                                                         [&e](const std::string& id) {
                                                           return e.containers_using_image(id) > 0;
                                                         }));
          Json out = Json::array();
          for (const auto& d : items)
            out.push_back(d.untagged.empty() ? Json{{"Deleted", d.deleted}}
                                             : Json{{"Untagged", d.untagged}});
          w.send_json(200, out);
          return {};
        }));
  r.add("POST", "/commit", route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          Json q = Json::object();
          for (const auto& [k, v] : req.query) q[k] = v;
          q["changes"] = req.query_all("changes");
          Json cfg = Json::object();
          if (!req.body.empty()) {
            ASSIGN_OR_RETURN(cfg, json::parse(req.body, "commit config"));
          }
          if (!cfg.is_object()) cfg = Json::object();
          ASSIGN_OR_RETURN(Json changed, config_from_changes(req.query_all("changes")));
          for (const auto& [k, v] : changed.items()) cfg[k] = v;
          q["config"] = cfg;
          ASSIGN_OR_RETURN(auto img, e.commit(req.q("container"), q));
          w.send_json(201, Json{{"Id", img.id}});
          return {};
        }));
}

}  // namespace berth::api

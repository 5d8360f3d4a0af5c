// Registry routes: pull (POST /images/create?fromImage), push, login (POST /auth) and
// GET /distribution/{name}/json, with docker's JSON progress stream.
//
// A pull or push answers with an HTTP error status while nothing has been streamed yet (an
// unknown repository is a 404 the CLI prints as "Error response from daemon: ..."); once the
// first progress line is out, errors travel in the stream as errorDetail messages.
#include <optional>

#include "api/internal.h"
#include "base/base64.h"
#include "base/strings.h"
#include "oci/image.h"
#include "oci/reference.h"
#include "registry/distribution.h"

namespace berth::api {

namespace {

// X-Registry-Auth: base64url(JSON AuthConfig); "auth" may carry base64("user:pass").
registry::AuthConfig auth_from_json(const Json& j) {
  registry::AuthConfig a;
  if (!j.is_object()) return a;
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  a.username = str("username");
  a.password = str("password");
  a.identity_token = str("identitytoken");
  a.registry_token = str("registrytoken");
  a.server_address = str("serveraddress");
  if (a.username.empty() && !str("auth").empty()) {
    if (auto up = base64_decode(str("auth"))) {
      auto colon = up->find(':');
      if (colon != std::string::npos) {
        a.username = up->substr(0, colon);
        a.password = up->substr(colon + 1);
      }
    }
  }
  return a;
}

registry::AuthConfig auth_from_header(const http::Request& req) {
  std::string h = req.header("X-Registry-Auth");
  if (h.empty()) return {};
  auto decoded = base64_decode(h);
  if (!decoded) return {};
  auto j = json::parse(*decoded, "X-Registry-Auth");
  return j ? auth_from_json(*j) : registry::AuthConfig{};
}

Result<std::optional<oci::Platform>> platform_of(const std::string& s) {
  if (s.empty()) return std::nullopt;
  auto parts = split(s, '/');
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid platform " + s + ": expected os/arch[/variant]");
  oci::Platform p;
  p.os = parts[0];
  p.architecture = parts[1];
  if (parts.size() == 3) p.variant = parts[2];
  if (p.architecture == "arm64" && p.variant.empty()) p.variant = "v8";
  return p;
}

Json progress_json(const registry::Progress& p) {
  Json j{{"status", p.status}};
  if (!p.id.empty()) j["id"] = p.id;
  if (p.has_detail) {
    j["progressDetail"] = Json::object();
    if (p.total > 0 || p.current > 0) {
      j["progressDetail"] = Json{{"current", p.current}, {"total", p.total}};
    }
  }
  return j;
}

// Starts the 200 stream at the first line, so errors before it keep their HTTP status.
class ProgressStream {
 public:
  explicit ProgressStream(http::ResponseWriter& w) : w_(w) {}
  void send(const Json& j) {
    if (!begin()) return;
    (void)w_.write(j.dump() + "\n");
  }
  bool begin() {
    if (!started_) started_ = static_cast<bool>(w_.begin_stream(200, "application/json"));
    return started_;
  }
  // After the operation: an error goes into the stream if it has begun, else as the reply.
  Result<> finish(const Result<>& r) {
    if (!r && !started_) return r;
    if (!r) stream_error(w_, r.error());
    (void)w_.end_stream();
    return {};
  }

 private:
  http::ResponseWriter& w_;
  bool started_ = false;
};

Result<oci::Reference> image_ref(const std::string& name, const std::string& tag) {
  ASSIGN_OR_RETURN(oci::Reference ref, oci::parse_normalized_named(name));
  if (!tag.empty()) {
    if (tag.starts_with("sha256:")) {
      if (!oci::is_valid_digest(tag))
        return make_error(ErrorCode::kInvalidArgument, "invalid digest " + tag);
      ref.digest = tag;
    } else {
      if (!oci::is_valid_tag(tag))
        return make_error(ErrorCode::kInvalidArgument, "invalid tag format " + tag);
      ref.tag = tag;
    }
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

}  // namespace

Result<> pull_image(http::Request& req, http::ResponseWriter& w, engine::Engine& e,
                    registry::Client& registry) {
  ASSIGN_OR_RETURN(oci::Reference ref, image_ref(req.q("fromImage"), req.q("tag")));
  registry::PullOptions opts;
  opts.auth = auth_from_header(req);
  ASSIGN_OR_RETURN(opts.platform, platform_of(req.q("platform")));
  ProgressStream out(w);
  auto pulled = registry::pull(registry, e.images(), ref, opts,
                               [&](const registry::Progress& p) { out.send(progress_json(p)); });
  if (pulled) {
    oci::Reference shown = ref;
    if (!shown.digest.empty()) shown.tag.clear();
    out.send(Json{{"status", std::string("Status: ") +
                                 (pulled->up_to_date ? "Image is up to date for "
                                                     : "Downloaded newer image for ") +
                                 shown.familiar()}});
    return out.finish({});
  }
  return out.finish(std::unexpected(pulled.error()));
}

void register_registry_routes(http::Router& r, engine::Engine& e, registry::Client& registry) {
  r.add("POST", "/images/{name*}/push",
        route([&e, &registry](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(oci::Reference ref, image_ref(req.params.at("name"), req.q("tag")));
          if (!ref.digest.empty())
            return make_error(ErrorCode::kInvalidArgument, "cannot push a digest reference");
          registry::PushOptions opts;
          opts.auth = auth_from_header(req);
          ProgressStream out(w);
          auto pushed =
              registry::push(registry, e.images(), ref, opts,
                             [&](const registry::Progress& p) { out.send(progress_json(p)); });
          if (!pushed) return out.finish(std::unexpected(pushed.error()));
          out.send(Json{{"status", pushed->tag + ": digest: " + pushed->digest +
                                       " size: " + std::to_string(pushed->size)}});
          out.send(Json{
              {"progressDetail", Json::object()},
              {"aux", {{"Tag", pushed->tag}, {"Digest", pushed->digest}, {"Size", pushed->size}}}});
          return out.finish({});
        }));

  r.add("POST", "/auth",
        route([&registry](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(Json body, json::parse(req.body, "auth config"));
          registry::AuthConfig auth = auth_from_json(body);
          std::string server =
              auth.server_address.empty() ? "https://index.docker.io/v1/" : auth.server_address;
          auto token = registry.login(server, auth);
          if (!token) {
            if (token.error().code() == ErrorCode::kPermissionDenied) {
              w.send_json(401, Json{{"message", token.error().message()}});
              return {};
            }
            return std::unexpected(token.error());
          }
          w.send_json(200, Json{{"Status", "Login Succeeded"}, {"IdentityToken", *token}});
          return {};
        }));

  r.add("GET", "/distribution/{name*}/json",
        route([&registry](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(oci::Reference ref, oci::parse_reference(req.params.at("name")));
          ASSIGN_OR_RETURN(
              auto repo, registry.repository(ref, auth_from_header(req), registry::Access::kPull));
          ASSIGN_OR_RETURN(registry::Manifest m,
                           repo->get_manifest(ref.digest.empty() ? ref.tag : ref.digest));
          Json platforms = Json::array();
          if (oci::is_index_media_type(m.media_type)) {
            ASSIGN_OR_RETURN(oci::Index index, oci::Index::parse(m.bytes));
            for (const auto& d : index.manifests)
              if (d.platform) platforms.push_back(d.platform->to_json());
          } else {
            ASSIGN_OR_RETURN(oci::Manifest manifest, oci::Manifest::parse(m.bytes));
            std::string cfg;
            TRY(repo->fetch_blob(
                manifest.config.digest, manifest.config.size, [&](std::string_view b) -> Result<> {
                  if (cfg.size() + b.size() > (16u << 20))
                    return make_error(ErrorCode::kInvalidArgument, "image config too large");
                  cfg.append(b);
                  return {};
                }));
            ASSIGN_OR_RETURN(oci::ImageConfig config, oci::ImageConfig::parse(cfg));
            oci::Platform p;
            p.os = config.os;
            p.architecture = config.architecture;
            p.variant = config.variant;
            platforms.push_back(p.to_json());
          }
          w.send_json(200, Json{{"Descriptor",
                                 {{"mediaType", m.media_type},
                                  {"digest", m.digest},
                                  {"size", static_cast<int64_t>(m.bytes.size())}}},
                                {"Platforms", platforms}});
          return {};
        }));
}

}  // namespace berth::api

// Client: builds Repositories (endpoints, scopes, credentials) and does docker login. Everything
// a Client learns (tokens, each host's challenge and scheme) is shared by its Repositories
// through one ClientState.
#include <memory>

#include "registry/errors.h"
#include "registry/repository.h"
#include "registry/session.h"

namespace berth::registry {
namespace {

class ClientImpl : public Client {
 public:
  explicit ClientImpl(std::shared_ptr<ClientState> state) : state_(std::move(state)) {}

  Result<std::unique_ptr<Repository>> repository(const oci::Reference& ref, const AuthConfig& auth,
                                                 Access access) override {
    if (ref.domain.empty() || ref.path.empty())
      return make_error(ErrorCode::kInvalidArgument,
                        "repository reference without a registry or name: " + ref.string());
    std::vector<std::string> scopes{"repository:" + ref.path +
                                    (access == Access::kPull ? ":pull" : ":pull,push")};
    std::vector<std::unique_ptr<Session>> sessions;
    if (access == Access::kPull && registry_host(ref.domain) != ref.domain) {
      for (const auto& m : state_->opts.mirrors) {
        auto url = Url::parse(m.find("://") == std::string::npos ? "https://" + m : m);
        if (!url)
          return make_error(ErrorCode::kInvalidArgument,
                            "registry mirror " + m + ": " + url.error().message());
        Endpoint ep{.host = url->authority(),
                    .choice = {.scheme = url->scheme,
                               .http_fallback = false,
                               .tls_verify = !is_insecure_host(url->authority(),
                                                               state_->opts.insecure_registries)},
                    .send_credentials = false};
        sessions.push_back(std::make_unique<Session>(state_, std::move(ep), auth, scopes));
      }
    }
    std::string host = registry_host(ref.domain);
    Endpoint ep{.host = host,
                .choice = choose_scheme(host, state_->opts.insecure_registries),
                .send_credentials = true};
    sessions.push_back(std::make_unique<Session>(state_, std::move(ep), auth, scopes));
    return std::unique_ptr<Repository>(new RepositoryImpl(ref, std::move(sessions)));
  }

  Result<std::string> login(const std::string& server, const AuthConfig& auth) override {
    std::string host, typed_scheme;
    normalize_server(server, &host, &typed_scheme);
    Endpoint ep{.host = host,
                .choice = choose_scheme(host, state_->opts.insecure_registries),
                .send_credentials = true};
    Session s(state_, std::move(ep), auth, {});
    s.set_login(true);
    Session::Call c{.req = {.method = "GET", .url = "/v2/"}};
    ASSIGN_OR_RETURN(HttpResponse r, s.send(c));
    if (!r.net_error.empty())
      return make_error(ErrorCode::kUnavailable,
                        "login to " + host + ": " + r.url + ": " + r.net_error);
    if (r.ok()) return s.refresh_token();
    if (r.status == 401 || r.status == 403) {
      // docker's wording (registry/auth.go loginV2).
      return make_error(
          ErrorCode::kPermissionDenied,
          "login attempt to " + r.url + " failed with status: " + status_line(r.status));
    }
    return std::unexpected(http_error(r, "login attempt to " + r.url));
  }

 private:
  std::shared_ptr<ClientState> state_;
};

}  // namespace

Result<std::unique_ptr<Client>> Client::create(Options opts) {
  auto state = std::make_shared<ClientState>();
  ASSIGN_OR_RETURN(state->transport, Transport::create({.connect_timeout = opts.connect_timeout,
                                                        .low_speed_timeout = opts.low_speed_timeout,
                                                        .user_agent = opts.user_agent}));
  state->opts = std::move(opts);
  return std::unique_ptr<Client>(new ClientImpl(std::move(state)));
}

}  // namespace berth::registry

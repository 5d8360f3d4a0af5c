// A Session sends requests to one registry endpoint on behalf of one set of credentials and
// scopes. It owns the rules that every request shares:
//   - auth: the Authorization header for the scheme the registry asked for last (Basic, or a
//     Bearer token from the cache); a 401 is answered once, with a fresh token or Basic;
//   - redirects: followed by hand, with Authorization only while the URL stays on the
//     registry's host and port (never to a CDN or another port);
//   - scheme: for insecure registries https first, then http if https cannot connect;
//   - retries: send() repeats connection failures, 5xx, 408 and 429 with exponential backoff.
// ClientState is what every Session of one Client shares: transport, token cache, and what
// was learnt about each registry host (its challenge, the scheme that worked).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"
#include "registry/auth.h"
#include "registry/client.h"
#include "registry/endpoint.h"
#include "registry/transport.h"

namespace berth::registry {

struct ClientState {
  Options opts;
  std::unique_ptr<Transport> transport;
  TokenCache tokens;
  std::mutex mu;
  std::map<std::string, Challenge> challenges;  // host:port -> the challenge it sent last
  std::map<std::string, std::string> schemes;   // host:port -> "https"/"http" once known
};

struct Endpoint {
  std::string host;  // "host[:port]" as used in URLs
  SchemeChoice choice;
  bool send_credentials = true;  // false for docker.io mirrors: they get no Hub credentials
};

class Session {
 public:
  Session(std::shared_ptr<ClientState> state, Endpoint ep, AuthConfig auth,
          std::vector<std::string> scopes);

  struct Call {
    HttpRequest req;  // req.url may be a path ("/v2/..."), taken relative to the endpoint
    std::vector<std::string> extra_scopes;  // e.g. "repository:<from>:pull" for a mount
    bool follow_redirects = true;
  };
  // One attempt: auth, one answer to a 401, redirects. The response may carry net_error.
  Result<HttpResponse> exchange(Call call);
  // exchange() repeated while the answer is retryable (bounded by Options::max_attempts).
  // Only for requests whose sink (if any) has not been fed: a retried body starts over.
  Result<HttpResponse> send(const Call& call);

  static bool retryable(const HttpResponse& resp);
  // Sleeps before attempt number `attempt` + 1 (base * 2^(attempt-1), capped at 5 s; a
  // Retry-After up to 5 s is honoured).
  void backoff(int attempt, const HttpResponse* resp) const;

  // "scheme://host[:port]" as currently chosen.
  std::string base_url() const;
  const std::string& host() const { return ep_.host; }
  const Options& options() const { return state_->opts; }

  // login: tokens are fetched fresh with offline_token=true, and a refresh token kept.
  void set_login(bool login) { login_ = login; }
  const std::string& refresh_token() const { return refresh_token_; }

 private:
  struct SentAuth {
    std::string scheme;  // "", "basic", "bearer"
    std::string token_key, token;
  };
  Result<std::string> authorization(const std::vector<std::string>& scopes, SentAuth* sent);
  Result<HttpResponse> follow(HttpRequest req, const std::string& authorization, bool follow);
  bool has_credentials() const;

  std::shared_ptr<ClientState> state_;
  Endpoint ep_;
  AuthConfig auth_;
  std::vector<std::string> scopes_;
  bool login_ = false;
  std::string refresh_token_;
};

// The usual failure of a registry call: Unavailable on a network error, else http_error().
Error call_error(const HttpResponse& resp, std::string_view what);

}  // namespace berth::registry

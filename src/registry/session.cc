// Authorized, redirect-following, retrying requests to one registry endpoint (see session.h).
#include "registry/session.h"

#include <algorithm>
#include <thread>

#include "base/strings.h"
#include "registry/errors.h"

namespace berth::registry {
namespace {

constexpr int kMaxRedirects = 10;
constexpr std::chrono::milliseconds kMaxBackoff{5000};

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

Error call_error(const HttpResponse& resp, std::string_view what) {
  if (!resp.net_error.empty())
    return Error(ErrorCode::kUnavailable, std::string(what) + ": " + resp.net_error);
  return http_error(resp, what);
}

Session::Session(std::shared_ptr<ClientState> state, Endpoint ep, AuthConfig auth,
                 std::vector<std::string> scopes)
    : state_(std::move(state)),
      ep_(std::move(ep)),
      auth_(std::move(auth)),
      scopes_(std::move(scopes)) {}

std::string Session::base_url() const {
  std::lock_guard lock(state_->mu);
  auto it = state_->schemes.find(ep_.host);
  return (it != state_->schemes.end() ? it->second : ep_.choice.scheme) + "://" + ep_.host;
}

bool Session::has_credentials() const {
  return ep_.send_credentials && !auth_.empty();
}

Result<std::string> Session::authorization(const std::vector<std::string>& scopes, SentAuth* sent) {
  *sent = {};
  Challenge c;
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->challenges.find(ep_.host);
    if (it == state_->challenges.end()) return std::string();
    c = it->second;
  }
  if (c.scheme == "basic") {
    if (!has_credentials() || (auth_.username.empty() && auth_.password.empty()))
      return std::string();
    sent->scheme = "basic";
    return basic_authorization(auth_.username, auth_.password);
  }
  if (c.scheme != "bearer") return std::string();
  std::string realm = c.param("realm");
  TokenRequest tr{.realm = realm,
                  .service = c.param("service"),
                  .scopes = scopes,
                  .auth = has_credentials() ? auth_ : AuthConfig{},
                  .offline = login_,
                  .tls_verify = true};
  if (auto u = Url::parse(realm);
      u && is_insecure_host(u->authority(), state_->opts.insecure_registries))
    tr.tls_verify = false;
  std::string token;
  if (login_) {
    ASSIGN_OR_RETURN(Token t, fetch_token(*state_->transport, tr));
    if (!t.refresh_token.empty()) refresh_token_ = t.refresh_token;
    token = t.token;
  } else {
    sent->token_key = token_cache_key(ep_.host, tr);
    ASSIGN_OR_RETURN(token, state_->tokens.get(sent->token_key, [&] {
      return fetch_token(*state_->transport, tr);
    }));
  }
  sent->scheme = "bearer";
  sent->token = token;
  return "Bearer " + token;
}

Result<HttpResponse> Session::follow(HttpRequest req, const std::string& authorization,
                                     bool follow) {
  const std::vector<std::string> base_headers = req.headers;
  const std::string base = base_url();
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    bool home = same_host(req.url, base);
    req.headers = base_headers;
    if (home && !authorization.empty()) req.headers.push_back("Authorization: " + authorization);
    if (home) {
      req.tls_verify = ep_.choice.tls_verify;
    } else if (auto u = Url::parse(req.url); u) {
      req.tls_verify = !is_insecure_host(u->authority(), state_->opts.insecure_registries);
    }
    ASSIGN_OR_RETURN(HttpResponse resp, state_->transport->perform(req));
    if (!follow || !resp.net_error.empty() || !is_redirect(resp.status)) return resp;
    auto location = resp.header("location");
    if (!location) return resp;
    ASSIGN_OR_RETURN(req.url, resolve_url(req.url, *location));
    if (resp.status == 303 ||
        ((resp.status == 301 || resp.status == 302) && req.method == "POST")) {
      req.method = "GET";
      req.body.clear();
      req.body_fd = -1;
    }
  }
  return make_error(ErrorCode::kUnavailable, "too many redirects for " + req.url);
}

Result<HttpResponse> Session::exchange(Call call) {
  if (call.req.url.starts_with('/')) call.req.url = base_url() + call.req.url;
  std::vector<std::string> scopes = scopes_;
  for (auto& s : call.extra_scopes)
    if (std::find(scopes.begin(), scopes.end(), s) == scopes.end()) scopes.push_back(s);

  bool answered_challenge = false;
  while (true) {
    SentAuth sent;
    ASSIGN_OR_RETURN(std::string auth_header, authorization(scopes, &sent));
    ASSIGN_OR_RETURN(HttpResponse resp, follow(call.req, auth_header, call.follow_redirects));

    if (!resp.net_error.empty()) {
      // An insecure registry that does not speak TLS: remember http for this host, go again.
      bool on_https = call.req.url.starts_with("https://" + ep_.host);
      bool to_http = false;
      {
        std::lock_guard lock(state_->mu);
        if (resp.connect_failed && ep_.choice.http_fallback && on_https &&
            !state_->schemes.contains(ep_.host)) {
          state_->schemes[ep_.host] = "http";
          to_http = true;
        }
      }
      if (!to_http) return resp;
      call.req.url = "http://" + call.req.url.substr(std::string_view("https://").size());
      continue;
    }
    if (ep_.choice.http_fallback) {
      std::lock_guard lock(state_->mu);
      state_->schemes.try_emplace(ep_.host, ep_.choice.scheme);
    }

    if (resp.status != 401 || answered_challenge || !same_host(resp.url, call.req.url)) return resp;
    answered_challenge = true;
    std::vector<Challenge> challenges =
        parse_www_authenticate(join(resp.header_values("www-authenticate"), ", "));
    auto pick = std::find_if(challenges.begin(), challenges.end(),
                             [](const Challenge& c) { return c.scheme == "bearer"; });
    if (pick == challenges.end())
      pick = std::find_if(challenges.begin(), challenges.end(),
                          [](const Challenge& c) { return c.scheme == "basic"; });
    if (pick == challenges.end()) return resp;
    {
      std::lock_guard lock(state_->mu);
      state_->challenges[ep_.host] = *pick;
    }
    if (pick->scheme == "bearer") {
      if (!sent.token_key.empty()) state_->tokens.invalidate(sent.token_key, sent.token);
      continue;  // authorization() fetches a new token for the challenge
    }
    // Basic: retry once with the credentials, if there are any and they were not just refused.
    if (!has_credentials() || sent.scheme == "basic") return resp;
  }
}

bool Session::retryable(const HttpResponse& resp) {
  return !resp.net_error.empty() || resp.status >= 500 || resp.status == 408 || resp.status == 429;
}

void Session::backoff(int attempt, const HttpResponse* resp) const {
  auto delay = state_->opts.retry_base * (1LL << std::min(attempt - 1, 20));
  delay = std::min<std::chrono::milliseconds>(delay, kMaxBackoff);
  if (resp) {
    if (auto ra = resp->header("retry-after"); ra) {
      if (auto secs = parse_uint(trim(*ra)); secs)
        delay = std::max<std::chrono::milliseconds>(
            delay, std::min<std::chrono::milliseconds>(std::chrono::seconds(*secs), kMaxBackoff));
    }
  }
  std::this_thread::sleep_for(delay);
}

Result<HttpResponse> Session::send(const Call& call) {
  int attempts = std::max(1, state_->opts.max_attempts);
  for (int attempt = 1;; ++attempt) {
    ASSIGN_OR_RETURN(HttpResponse resp, exchange(call));
    if (!retryable(resp) || attempt >= attempts) return resp;
    backoff(attempt, &resp);
  }
}

}  // namespace berth::registry

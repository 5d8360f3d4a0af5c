// WWW-Authenticate parsing, token fetches and the token cache (see auth.h).
#include "registry/auth.h"

#include <algorithm>
#include <cctype>
#include <thread>

#include "base/base64.h"
#include "base/json.h"
#include "image/digest.h"
#include "registry/endpoint.h"
#include "registry/errors.h"

namespace berth::registry {
namespace {

using Clock = std::chrono::steady_clock;

// Tokens are used until this long before they expire, so a request never carries a token
// that expires on the way.
constexpr std::chrono::seconds kExpiryMargin{5};
// Docker's minimum token lifetime (also the default when expires_in is absent).
constexpr int64_t kMinExpiresIn = 60;

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<Token> parse_token_response(const HttpResponse& resp, std::string_view realm) {
  auto j = json::parse(resp.body, "token response");
  if (!j || !j->is_object())
    return make_error(ErrorCode::kInternal,
                      "token server " + std::string(realm) + " sent a malformed answer");
  Token t;
  for (const char* name : {"token", "access_token"}) {
    auto it = j->find(name);
    if (it != j->end() && it->is_string() && !it->get<std::string>().empty()) {
      t.token = it->get<std::string>();
      break;
    }
  }
  if (t.token.empty())
    return make_error(ErrorCode::kInternal,
                      "token server " + std::string(realm) + " sent no token");
  if (auto it = j->find("refresh_token"); it != j->end() && it->is_string())
    t.refresh_token = it->get<std::string>();
  int64_t expires_in = kMinExpiresIn;
  if (auto it = j->find("expires_in"); it != j->end() && it->is_number_integer())
    expires_in = std::max<int64_t>(it->get<int64_t>(), kMinExpiresIn);
  t.expires = Clock::now() + std::chrono::seconds(expires_in) - kExpiryMargin;
  return t;
}

Error token_error(const HttpResponse& resp, const TokenRequest& req) {
  if (!resp.net_error.empty())
    return Error(ErrorCode::kUnavailable,
                 "fetching token from " + req.realm + ": " + resp.net_error);
  std::string reason = describe_errors(parse_error_body(resp.body));
  if (resp.status == 401 || resp.status == 403) {
    if (reason.empty()) reason = "unauthorized: " + status_line(resp.status);
    return Error(ErrorCode::kPermissionDenied, reason);
  }
  if (reason.empty()) reason = "unexpected status " + status_line(resp.status);
  return Error(code_for_status(resp.status), "fetching token from " + req.realm + ": " + reason);
}

// Sends a token request; retried a few times on connection errors and 5xx.
Result<HttpResponse> send_token_request(Transport& transport, const HttpRequest& http) {
  Result<HttpResponse> resp = make_error(ErrorCode::kInternal, "no attempt");
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
    resp = transport.perform(http);
    if (!resp) return resp;
    if (resp->net_error.empty() && resp->status < 500 && resp->status != 429) return resp;
  }
  return resp;
}

}  // namespace

std::vector<Challenge> parse_www_authenticate(std::string_view s) {
  std::vector<Challenge> out;
  size_t i = 0, n = s.size();
  auto skip_ws = [&] {
    while (i < n && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  auto read_token = [&] {
    size_t b = i;
    while (i < n && is_tchar(s[i])) ++i;
    return s.substr(b, i - b);
  };
  while (i < n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) ++i;
    if (i >= n) break;
    std::string_view scheme = read_token();
    if (scheme.empty()) {
      ++i;  // stray character
      continue;
    }
    Challenge c{.scheme = lower(scheme), .params = {}};
    skip_ws();
    while (i < n) {
      size_t save = i;
      std::string_view name = read_token();
      skip_ws();
      if (name.empty() || i >= n || s[i] != '=') {
        i = save;  // the next challenge's scheme (or a token68 we do not use)
        if (name.empty()) ++i;
        break;
      }
      ++i;
      skip_ws();
      std::string value;
      if (i < n && s[i] == '"') {
        ++i;
        while (i < n && s[i] != '"') {
          if (s[i] == '\\' && i + 1 < n) ++i;
          value += s[i++];
        }
        if (i < n) ++i;
      } else {
        // Unquoted: a token, leniently up to the next comma (some servers leave URLs bare).
        size_t b = i;
        while (i < n && s[i] != ',' && s[i] != ' ' && s[i] != '\t') ++i;
        value = std::string(s.substr(b, i - b));
      }
      c.params[lower(name)] = std::move(value);
      skip_ws();
      if (i < n && s[i] == ',') {
        ++i;
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) ++i;
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string basic_authorization(const std::string& user, const std::string& pass) {
  return "Basic " + base64_encode(user + ":" + pass);
}

Result<Token> fetch_token(Transport& transport, const TokenRequest& req) {
  if (!req.auth.registry_token.empty())
    return Token{.token = req.auth.registry_token,
                 .refresh_token = "",
                 .expires = Clock::now() + std::chrono::hours(24)};
  if (req.realm.empty())
    return make_error(ErrorCode::kInvalidArgument, "bearer challenge without a realm");

  if (!req.auth.identity_token.empty()) {
    // OAuth2 refresh-token grant, as docker does with an IdentityToken.
    HttpRequest post{.method = "POST", .url = req.realm};
    post.tls_verify = req.tls_verify;
    post.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    std::string scope;
    for (const auto& s : req.scopes) scope += (scope.empty() ? "" : " ") + s;
    post.body = "grant_type=refresh_token&refresh_token=" + url_escape(req.auth.identity_token) +
                "&service=" + url_escape(req.service) + "&client_id=docker";
    if (!scope.empty()) post.body += "&scope=" + url_escape(scope);
    if (req.offline) post.body += "&access_type=offline";
    ASSIGN_OR_RETURN(HttpResponse resp, send_token_request(transport, post));
    if (resp.ok()) return parse_token_response(resp, req.realm);
    // A token server without the OAuth endpoint: the refresh token as a Basic password.
    if (resp.status != 404 && resp.status != 405) return std::unexpected(token_error(resp, req));
  }

  std::string url = req.realm;
  if (!req.service.empty()) url = add_query(url, "service", req.service);
  for (const auto& s : req.scopes) url = add_query(url, "scope", s);
  if (req.offline) {
    url = add_query(url, "offline_token", "true");
    url = add_query(url, "client_id", "docker");
  }
  HttpRequest get{.method = "GET", .url = url};
  get.tls_verify = req.tls_verify;
  if (!req.auth.identity_token.empty()) {
    get.headers.push_back("Authorization: " + basic_authorization(req.auth.username.empty()
                                                                      ? "<token>"
                                                                      : req.auth.username,
                                                                  req.auth.identity_token));
  } else if (!req.auth.username.empty() || !req.auth.password.empty()) {
    get.headers.push_back("Authorization: " +
                          basic_authorization(req.auth.username, req.auth.password));
  }
  ASSIGN_OR_RETURN(HttpResponse resp, send_token_request(transport, get));
  if (!resp.ok()) return std::unexpected(token_error(resp, req));
  return parse_token_response(resp, req.realm);
}

std::string token_cache_key(std::string_view registry, const TokenRequest& req) {
  std::vector<std::string> scopes = req.scopes;
  std::sort(scopes.begin(), scopes.end());
  std::string secrets =
      req.auth.password + '\0' + req.auth.identity_token + '\0' + req.auth.registry_token;
  std::string key = std::string(registry) + '\n' + req.realm + '\n' + req.service + '\n' +
                    req.auth.username + '\n' + image::sha256_digest(secrets) + '\n';
  for (const auto& s : scopes) key += s + ' ';
  return key;
}

Result<std::string> TokenCache::get(const std::string& key, const Fetch& fetch) {
  std::shared_ptr<Entry> e;
  {
    std::lock_guard lock(mu_);
    auto& slot = entries_[key];
    if (!slot) slot = std::make_shared<Entry>();
    e = slot;
  }
  std::lock_guard lock(e->mu);
  if (!e->token.token.empty() && Clock::now() < e->token.expires) return e->token.token;
  ASSIGN_OR_RETURN(Token t, fetch());
  e->token = std::move(t);
  return e->token.token;
}

void TokenCache::invalidate(const std::string& key, const std::string& token) {
  std::shared_ptr<Entry> e;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    e = it->second;
  }
  std::lock_guard lock(e->mu);
  if (e->token.token == token) e->token = Token{};
}

}  // namespace berth::registry

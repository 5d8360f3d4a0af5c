// Registry authentication: WWW-Authenticate challenges, Basic credentials, and bearer tokens
// from the challenge's realm (docker's token auth: GET <realm>?service=&scope= with Basic
// credentials or anonymously; POST of an OAuth form when an identity token is held).
//
// Tokens are cached per (registry, realm, service, credentials, scopes) and shared by every
// Repository and thread of one Client: the first thread that needs a token fetches it while
// the others wait for it, then all reuse it until shortly before it expires.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "registry/client.h"
#include "registry/transport.h"

namespace berth::registry {

struct Challenge {
  std::string scheme;                         // lowercase: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lowercase ("realm", "service", "scope")
  std::string param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? "" : it->second;
  }
};

// Parses one or more WWW-Authenticate header values (RFC 7235: several challenges may share a
// header, parameters may be quoted and contain commas and escaped quotes).
std::vector<Challenge> parse_www_authenticate(std::string_view header);

// "Basic <base64(user:pass)>".
std::string basic_authorization(const std::string& user, const std::string& pass);

struct Token {
  std::string token;
  std::string refresh_token;  // when the token server issued one (login with offline_token)
  std::chrono::steady_clock::time_point expires;
};

struct TokenRequest {
  std::string realm, service;
  std::vector<std::string> scopes;
  AuthConfig auth;
  bool offline = false;  // login: ask for a refresh token (offline_token=true, client_id=docker)
  bool tls_verify = true;
};

// One token fetch. PermissionDenied with the server's reason ("unauthorized: ...") when the
// credentials are refused.
Result<Token> fetch_token(Transport& transport, const TokenRequest& req);

class TokenCache {
 public:
  using Fetch = std::function<Result<Token>()>;
  // The cached token for key, or the result of fetch (cached on success). Concurrent callers
  // for one key wait for a single fetch.
  Result<std::string> get(const std::string& key, const Fetch& fetch);
  // Drops token for key if it is still the cached one (the registry refused it).
  void invalidate(const std::string& key, const std::string& token);

 private:
  struct Entry {
    std::mutex mu;
    Token token;
  };
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
};

// Key for the cache: every input that changes what a token grants.
std::string token_cache_key(std::string_view registry, const TokenRequest& req);

}  // namespace berth::registry

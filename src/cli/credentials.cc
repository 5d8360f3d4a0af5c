// docker's config.json credentials (see credentials.h). Written atomically with mode 0600.
#include "cli/credentials.h"

#include <cstdlib>

#include "base/base64.h"
#include "base/file.h"
#include "cli/template.h"

namespace berth::cli {

namespace {

constexpr std::string_view kHubKey = "https://index.docker.io/v1/";

// "http://host:5000/v2/" -> "host:5000": how docker compares config keys with a registry.
std::string hostname_of(std::string_view s) {
  if (auto p = s.find("://"); p != std::string_view::npos) s.remove_prefix(p + 3);
  if (auto p = s.find('/'); p != std::string_view::npos) s = s.substr(0, p);
  return std::string(s);
}

Result<Value> read_config() {
  std::string path = docker_config_path();
  if (!path_exists(path)) return Value::object();
  ASSIGN_OR_RETURN(std::string text, read_file(path));
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return Value::object();
  Value j = Value::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_error(ErrorCode::kInvalidArgument, "loading " + path + ": not a JSON object");
  return j;
}

Result<> write_config(const Value& j) {
  std::string path = docker_config_path();
  auto slash = path.rfind('/');
  if (slash != std::string::npos) TRY(mkdir_all(path.substr(0, slash), 0700));
  return write_file_atomic(path, j.dump(1, '\t') + "\n", 0600);
}

// The entry of auths that names server, if any.
std::string find_key(const Value& auths, const std::string& server) {
  std::string want = credential_key(server);
  if (auths.contains(want)) return want;
  std::string host = hostname_of(want);
  for (auto it = auths.begin(); it != auths.end(); ++it)
    if (hostname_of(it.key()) == host) return it.key();
  return "";
}

}  // namespace

std::string docker_config_path() {
  if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d) return std::string(d) + "/config.json";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.docker/config.json";
}

std::string credential_key(std::string_view server) {
  std::string host = hostname_of(server);
  if (host.empty() || host == "docker.io" || host == "index.docker.io" ||
      host == "registry-1.docker.io")
    return std::string(kHubKey);
  return host;
}

Result<std::optional<Credentials>> load_credentials(const std::string& server) {
  ASSIGN_OR_RETURN(Value cfg, read_config());
  if (!cfg.contains("auths") || !cfg["auths"].is_object()) return std::nullopt;
  std::string key = find_key(cfg["auths"], server);
  if (key.empty()) return std::nullopt;
  const Value& e = cfg["auths"][key];
  Credentials c;
  if (e.contains("auth") && e["auth"].is_string()) {
    auto up = base64_decode(e["auth"].get<std::string>());
    if (!up)
      return make_error(ErrorCode::kInvalidArgument,
                        docker_config_path() + ": auths." + key + ".auth is not base64");
    auto colon = up->find(':');
    if (colon == std::string::npos)
      return make_error(ErrorCode::kInvalidArgument,
                        docker_config_path() + ": auths." + key + ".auth is not user:password");
    c.username = up->substr(0, colon);
    c.password = up->substr(colon + 1);
  }
  if (e.contains("identitytoken") && e["identitytoken"].is_string())
    c.identity_token = e["identitytoken"].get<std::string>();
  if (c.username.empty() && c.identity_token.empty()) return std::nullopt;
  return c;
}

Result<> store_credentials(const std::string& server, const Credentials& c) {
  ASSIGN_OR_RETURN(Value cfg, read_config());
  if (!cfg.contains("auths") || !cfg["auths"].is_object()) cfg["auths"] = Value::object();
  std::string key = find_key(cfg["auths"], server);
  if (key.empty()) key = credential_key(server);
  Value e = Value::object();
  e["auth"] = base64_encode(c.username + ":" + c.password);
  if (!c.identity_token.empty()) e["identitytoken"] = c.identity_token;
  cfg["auths"][key] = e;
  return write_config(cfg);
}

Result<bool> erase_credentials(const std::string& server) {
  ASSIGN_OR_RETURN(Value cfg, read_config());
  if (!cfg.contains("auths") || !cfg["auths"].is_object()) return false;
  std::string key = find_key(cfg["auths"], server);
  if (key.empty()) return false;
  cfg["auths"].erase(key);
  TRY(write_config(cfg));
  return true;
}

std::string registry_auth_header(const std::string& server) {
  auto c = load_credentials(server);
  if (!c || !*c) return "e30=";
  Value j = Value::object();
  j["username"] = (*c)->username;
  j["password"] = (*c)->password;
  if (!(*c)->identity_token.empty()) j["identitytoken"] = (*c)->identity_token;
  j["serveraddress"] = credential_key(server);
  return base64_encode(j.dump(), true);
}

}  // namespace berth::cli

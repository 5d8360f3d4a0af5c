// Registry credentials in docker's config.json ($DOCKER_CONFIG/config.json, else
// ~/.docker/config.json): "auths": {"<server>": {"auth": base64("user:pass")}}, the key for
// Docker Hub being "https://index.docker.io/v1/". berth login writes there so that the docker
// CLI and berth share logins; other keys of the file are kept as they are.
#pragma once

#include <optional>
#include <string>

#include "base/error.h"

namespace berth::cli {

struct Credentials {
  std::string username, password, identity_token;
};

std::string docker_config_path();
// The config.json key for a registry domain or a server as typed ("localhost:5000",
// "http://localhost:5000/", "docker.io" -> "https://index.docker.io/v1/").
std::string credential_key(std::string_view server);

Result<std::optional<Credentials>> load_credentials(const std::string& server);
Result<> store_credentials(const std::string& server, const Credentials& c);
// false when there was nothing stored for server.
Result<bool> erase_credentials(const std::string& server);

// X-Registry-Auth value for server: base64url of docker's AuthConfig JSON ("e30=" = {} when
// nothing is stored).
std::string registry_auth_header(const std::string& server);

}  // namespace berth::cli

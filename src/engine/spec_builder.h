// Turns a docker container (Config + HostConfig) and its image config into an OCI runtime spec:
// the process (entrypoint + cmd, env, user, cwd, capabilities, rlimits), docker's default mounts,
// masked and read-only paths, namespaces for the network mode, and cgroup resources.
#pragma once

#include <functional>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "engine/container.h"

namespace berth::engine {

struct SpecInputs {
  const Container* container = nullptr;
  json::Json image_config;    // the image's "config" object (Env, Cmd, WorkingDir, User, ...)
  std::string rootfs;         // mounted rootfs (user names are resolved in its /etc files)
  std::string container_dir;  // hostname, hosts, resolv.conf live here
  std::string cgroups_path;   // "/berth/<id>"
  std::string init_path;      // docker-init (tini) on the host, for --init
};

Result<json::Json> build_spec(const SpecInputs& in);

// docker's default capability set of a container ("CAP_CHOWN", ...).
const std::vector<std::string>& default_capabilities();

// "ctrl-p,ctrl-q"-independent helpers the engine shares.
// Signal by name ("SIGTERM", "TERM", "15"); InvalidArgument otherwise.
Result<int> parse_signal(const std::string& s);

// Process user "name|uid[:group|gid]" resolved in rootfs's /etc/passwd and /etc/group.
struct ResolvedUser {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
};
Result<ResolvedUser> resolve_user(const std::string& rootfs, const std::string& user,
                                  const std::vector<std::string>& group_add);

// Entrypoint + Cmd after the container's overrides of the image's.
std::vector<std::string> effective_argv(const json::Json& config, const json::Json& image_config);
std::vector<std::string> effective_env(const json::Json& config, const json::Json& image_config);

}  // namespace berth::engine

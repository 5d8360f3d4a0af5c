// Options of `berth run` and `berth create` (docker's containerOptions) and their conversion into
// the POST /containers/create body: -m 64m -> HostConfig.Memory 67108864, --cpus 1.5 ->
// NanoCpus 1500000000, -v/--mount/--tmpfs forms, --restart on-failure:3, -p -> PortBindings.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/error.h"
#include "cli/template.h"

namespace berth::cli {

struct ContainerOptions {
  bool detach = false, interactive = false, tty = false, rm = false;
  bool privileged = false, read_only = false, init = false, sig_proxy = true;
  bool init_set = false;
  std::string name, workdir, user, hostname, restart, memory, memory_swap, cpus, network;
  std::string stop_signal, log_driver, detach_keys, platform, pull = "missing", cidfile;
  std::optional<std::string> entrypoint;
  std::optional<int64_t> cpu_shares, pids_limit, stop_timeout, shm_size_bytes;
  std::string shm_size;
  std::vector<std::string> env, env_file, labels, ulimits, cap_add, cap_drop, tmpfs, volumes,
      mounts, log_opts, publish, expose, attach, dns, add_host, volumes_from, devices, security_opt,
      sysctls;
  std::string image;
  std::vector<std::string> command;
};

// Registers run/create flags on a CLI11 (sub)command.
void add_container_flags(CLI::App& app, ContainerOptions& o, bool run);

// The create request body (Config + HostConfig + NetworkingConfig). `environ` looks up
// variables named without a value in -e/--env-file ("-e HOME" copies the caller's HOME).
Result<Value> build_create_body(const ContainerOptions& o);

// Individual conversions, exposed for tests.
Result<int64_t> parse_cpus(std::string_view s);   // "1.5" -> 1500000000
Result<Value> parse_ulimit(std::string_view s);   // nofile=1024:2048
Result<Value> parse_mount(std::string_view s);    // type=bind,src=..,dst=..
Result<Value> parse_restart(std::string_view s);  // on-failure:3
// "[ip:][host[-range]:]ctr[-range][/proto]" into ExposedPorts and PortBindings.
Result<void> parse_publish(std::string_view s, Value& exposed, Value& bindings);
Result<std::vector<std::string>> read_env_file(const std::string& path);

// Splits argv at the first positional that is not an option value ("run -e A=1 busybox ls -l"
// -> flags+image, and ["ls", "-l"]), using the option table of `app` to know which options take
// a value. `positionals` is how many leading positionals belong to the command (1: image).
std::pair<std::vector<std::string>, std::vector<std::string>> split_command_args(
    CLI::App& app, const std::vector<std::string>& args, size_t positionals);

}  // namespace berth::cli

// berth: the docker CLI's twin. Global flags (-H, --host, -D, -l, --config, -v) are read here,
// then the command table dispatches to one function per command in src/cli (namespace
// berth::cli), with docker's management-command aliases (container ls, image rm, ...).
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"

using namespace berth::cli;

namespace {

struct Entry {
  const char* name;
  CommandFn fn;
};

const Entry kTop[] = {
    {"run", cmd_run},         {"create", cmd_create},   {"start", cmd_start},
    {"stop", cmd_stop},       {"restart", cmd_restart}, {"kill", cmd_kill},
    {"rm", cmd_rm},           {"wait", cmd_wait},       {"rename", cmd_rename},
    {"pause", cmd_pause},     {"unpause", cmd_unpause}, {"update", cmd_update},
    {"top", cmd_top},         {"diff", cmd_diff},       {"export", cmd_export},
    {"commit", cmd_commit},   {"port", cmd_port},       {"logs", cmd_logs},
    {"ps", cmd_ps},           {"exec", cmd_exec},       {"attach", cmd_attach},
    {"cp", cmd_cp},           {"stats", cmd_stats},     {"inspect", cmd_inspect},
    {"images", cmd_images},   {"tag", cmd_tag},         {"rmi", cmd_rmi},
    {"history", cmd_history}, {"import", cmd_import},   {"save", cmd_save},
    {"load", cmd_load},       {"pull", cmd_pull},       {"info", cmd_info},
    {"version", cmd_version}, {"events", cmd_events},   {"push", cmd_push},
    {"login", cmd_login},     {"logout", cmd_logout},
};

const Entry kContainer[] = {
    {"ls", cmd_ps},
    {"list", cmd_ps},
    {"ps", cmd_ps},
    {"run", cmd_run},
    {"create", cmd_create},
    {"start", cmd_start},
    {"stop", cmd_stop},
    {"restart", cmd_restart},
    {"kill", cmd_kill},
    {"rm", cmd_rm},
    {"remove", cmd_rm},
    {"wait", cmd_wait},
    {"rename", cmd_rename},
    {"pause", cmd_pause},
    {"unpause", cmd_unpause},
    {"update", cmd_update},
    {"top", cmd_top},
    {"diff", cmd_diff},
    {"export", cmd_export},
    {"commit", cmd_commit},
    {"port", cmd_port},
    {"logs", cmd_logs},
    {"exec", cmd_exec},
    {"attach", cmd_attach},
    {"cp", cmd_cp},
    {"stats", cmd_stats},
    {"inspect", cmd_container_inspect},
    {"prune", cmd_container_prune},
};

const Entry kImage[] = {
    {"ls", cmd_images},       {"list", cmd_images},   {"inspect", cmd_image_inspect},
    {"rm", cmd_rmi},          {"remove", cmd_rmi},    {"tag", cmd_tag},
    {"history", cmd_history}, {"import", cmd_import}, {"save", cmd_save},
    {"load", cmd_load},       {"pull", cmd_pull},     {"prune", cmd_image_prune},
    {"push", cmd_push},
};

const Entry kVolume[] = {
    {"create", cmd_volume_create},   {"ls", cmd_volume_ls}, {"list", cmd_volume_ls},
    {"inspect", cmd_volume_inspect}, {"rm", cmd_volume_rm}, {"remove", cmd_volume_rm},
    {"prune", cmd_volume_prune},
};

const Entry kSystem[] = {
    {"df", cmd_system_df},
    {"prune", cmd_system_prune},
    {"info", cmd_info},
    {"events", cmd_events},
};

struct Group {
  const char* name;
  const Entry* entries;
  size_t count;
};

const Group kGroups[] = {
    {"container", kContainer, std::size(kContainer)},
    {"image", kImage, std::size(kImage)},
    {"volume", kVolume, std::size(kVolume)},
    {"system", kSystem, std::size(kSystem)},
};

CommandFn find(const Entry* entries, size_t n, std::string_view name) {
  for (size_t i = 0; i < n; ++i)
    if (name == entries[i].name) return entries[i].fn;
  return nullptr;
}

void usage(FILE* f) {
  std::fputs(
      "Usage:  berth [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\n"
      "Commands:\n",
      f);
  for (const auto& e : kTop) std::fprintf(f, "  %s\n", e.name);
  std::fputs(
      "\nManagement Commands:\n  container\n  image\n  system\n  volume\n\n"
      "Global Options:\n  -H, --host string   Daemon socket to connect to\n"
      "  -v, --version       Print version information and quit\n",
      f);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string host;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string_view flag) -> std::optional<std::string> {
      if (a == flag) {
        if (i + 1 < args.size()) return args[++i];
        return std::nullopt;
      }
      if (a.starts_with(std::string(flag) + "=")) return a.substr(flag.size() + 1);
      return std::nullopt;
    };
    if (a.size() < 2 || a[0] != '-') break;
    if (auto v = value("-H"); v) {
      host = *v;
    } else if (auto v2 = value("--host"); v2) {
      host = *v2;
    } else if (a.starts_with("-H") && a.size() > 2 && a[2] != '=') {
      host = a.substr(2);
    } else if (value("-l") || value("--log-level") || value("--config") || value("-c") ||
               value("--context") || value("--tlscacert") || value("--tlscert") ||
               value("--tlskey")) {
      // Accepted for compatibility; berth has no contexts or TLS client config yet.
    } else if (a == "-D" || a == "--debug" || a == "--tls" || a == "--tlsverify") {
    } else if (a == "-v" || a == "--version") {
      std::printf("berth version %s, build berth\n", BERTH_VERSION);
      return 0;
    } else if (a == "--help") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "unknown flag: %s\nSee 'berth --help'.\n", a.c_str());
      return 125;
    }
  }
  if (i >= args.size()) {
    usage(stdout);
    return 0;
  }
  std::string name = args[i++];
  CommandFn fn = find(kTop, std::size(kTop), name);
  if (!fn) {
    for (const auto& g : kGroups) {
      if (name != g.name) continue;
      if (i >= args.size() || args[i] == "--help") {
        std::printf("Usage:  berth %s COMMAND\n\nCommands:\n", g.name);
        for (size_t k = 0; k < g.count; ++k) std::printf("  %s\n", g.entries[k].name);
        return i >= args.size() ? 1 : 0;
      }
      fn = find(g.entries, g.count, args[i]);
      if (!fn) {
        std::fprintf(stderr,
                     "berth: unknown command: berth %s %s\n\nRun 'berth %s --help' for "
                     "more information\n",
                     g.name, args[i].c_str(), g.name);
        return 1;
      }
      ++i;
      break;
    }
  }
  if (!fn) {
    std::fprintf(stderr,
                 "berth: unknown command: berth %s\n\nRun 'berth --help' for more "
                 "information\n",
                 name.c_str());
    return 1;
  }
  Cli cli(resolve_host(host));
  cli.client_version = BERTH_VERSION;
  const Args rest(args.begin() + static_cast<long>(i), args.end());
  Status st = fn(cli, rest);
  if (!st.message.empty()) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", st.message.c_str());
  }
  return st.code;
}

// logs: inspect for Config.Tty, then stream GET /containers/{id}/logs: raw for TTY containers,
// stdcopy-demultiplexed otherwise (stdout to stdout, stderr to stderr).
#include <ctime>

#include "cli/commands.h"
#include "cli/stream.h"
#include "cli/timestamp.h"

namespace berth::cli {

Status cmd_logs(Cli& cli, const Args& args) {
  bool follow = false, timestamps = false, details = false;
  std::string tail = "all", since, until, name;
  CLI::App app("Fetch the logs of a container", "logs");
  setup_app(app);
  app.add_flag("-f,--follow", follow, "Follow log output");
  app.add_flag("-t,--timestamps", timestamps, "Show timestamps");
  app.add_flag("--details", details, "Show extra details provided to logs");
  app.add_option("-n,--tail", tail, "Number of lines to show from the end of the logs");
  app.add_option("--since", since, "Show logs since timestamp or relative (e.g. 42m)");
  app.add_option("--until", until, "Show logs before a timestamp or relative (e.g. 42m)");
  app.add_option("container", name)->required();
  if (auto st = parse_args(app, args)) return *st;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::string since_ts, until_ts;
  if (!since.empty()) {
    auto t = get_timestamp(since, now);
    if (!t) return fail(t.error());
    since_ts = *t;
  }
  if (!until.empty()) {
    auto t = get_timestamp(until, now);
    if (!t) return fail(t.error());
    until_ts = *t;
  }
  auto c = cli.get_json("/containers/" + http::url_encode(name) + "/json");
  if (!c) return fail(c.error());
  const bool tty = (*c)["Config"].value("Tty", false);
  const std::string q = http::query_string({{"stdout", "1"},
                                            {"stderr", "1"},
                                            {"since", since_ts},
                                            {"until", until_ts},
                                            {"timestamps", timestamps ? "1" : ""},
                                            {"follow", follow ? "1" : ""},
                                            {"tail", tail},
                                            {"details", details ? "1" : ""}});
  auto s = cli.stream("GET", "/containers/" + (*c)["Id"].get<std::string>() + "/logs" + q);
  if (!s) return fail(s.error());
  if (auto r = copy_body(**s, tty); !r) return fail(r.error());
  return ok();
}

}  // namespace berth::cli

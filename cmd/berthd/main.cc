// berthd: the engine daemon. Serves the Docker Engine API on a unix socket (group "berth" when
// that group exists, else root only); TCP only when asked, and then only with TLS client
// certificates. Containers belong to their shims: stopping berthd leaves them running.
#include <grp.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <thread>

#include "api/api.h"
#include "base/file.h"
#include "base/log.h"
#include "engine/engine.h"
#include "http/server.h"

using namespace berth;

int main(int argc, char** argv) {
  CLI::App app{"berthd: a Docker-compatible container engine"};
  engine::Options eo;
  api::Options ao;
  std::vector<std::string> hosts;
  std::vector<std::string> runtimes;
  std::string group = "berth", pidfile, tlscert, tlskey, tlscacert;
  bool debug = false;
  app.add_option("-H,--host", hosts, "socket to listen on (unix:///path, tcp://addr:port)");
  app.add_option("--data-root", eo.data_root, "persistent state")->capture_default_str();
  app.add_option("--exec-root", eo.exec_root, "runtime state (sockets, bundles)")
      ->capture_default_str();
  app.add_option("--group", group, "group that may use the unix socket")->capture_default_str();
  app.add_option("--add-runtime", runtimes, "extra OCI runtime name=path (runc-compatible)");
  app.add_option("--cgroup-parent", eo.cgroup_parent, "cgroup parent of containers")
      ->capture_default_str();
  app.add_option("--shim", eo.shim_path, "berth-shim binary (default: next to berthd)");
  app.add_option("-p,--pidfile", pidfile, "write the daemon's pid here");
  app.add_option("--tlscert", tlscert, "server certificate (TCP listeners)");
  app.add_option("--tlskey", tlskey, "server key (TCP listeners)");
  app.add_option("--tlscacert", tlscacert, "CA that client certificates must chain to");
  app.add_option("--insecure-registry", ao.registry.insecure_registries,
                 "registry (host:port or CIDR) that may be reached over plain http");
  app.add_option("--registry-mirror", ao.registry.mirrors, "mirror for docker.io (https://host)");
  app.add_flag("-D,--debug", debug, "debug logging");
  app.set_version_flag("-v,--version", std::string("berthd version ") + BERTH_VERSION);
  CLI11_PARSE(app, argc, argv);
  (void)log::configure("", log::Format::kText, debug);

  for (const auto& r : runtimes) {
    auto eq = r.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == r.size()) {
      fprintf(stderr, "berthd: --add-runtime %s: expected name=path\n", r.c_str());
      return 1;
    }
    eo.runtimes[r.substr(0, eq)] = r.substr(eq + 1);
  }
  if (hosts.empty()) hosts.push_back("unix://" + eo.exec_root + "/berthd.sock");

  // Everything berthd starts must not die with it: shims are their own session leaders, and
  // SIGPIPE from a client that went away is an error return, not a crash.
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto eng = engine::Engine::create(eo);
  if (!eng) {
    fprintf(stderr, "berthd: %s\n", eng.error().message().c_str());
    return 1;
  }
  if (auto r = (*eng)->restore(); !r) log::error("restoring containers: " + r.error().message());

  http::Router router;
  if (auto r = api::register_routes(router, **eng, ao); !r) {
    fprintf(stderr, "berthd: %s\n", r.error().message().c_str());
    return 1;
  }
  auto server = http::Server::create(router);
  if (!server) {
    fprintf(stderr, "berthd: %s\n", server.error().message().c_str());
    return 1;
  }
  int gid = -1;
  if (struct group* g = getgrnam(group.c_str())) gid = static_cast<int>(g->gr_gid);
  for (const auto& h : hosts) {
    Result<> r;
    if (h.starts_with("unix://") || h.starts_with("/")) {
      std::string path = h.starts_with("unix://") ? h.substr(7) : h;
      auto slash = path.rfind('/');
      if (slash != std::string::npos && slash > 0) (void)mkdir_all(path.substr(0, slash), 0755);
      r = (*server)->listen(http::UnixListener{.path = path, .mode = 0660, .gid = gid});
    } else if (h.starts_with("tcp://")) {
      if (tlscert.empty() || tlskey.empty() || tlscacert.empty()) {
        fprintf(stderr,
                "berthd: %s: TCP listeners need --tlscert, --tlskey and --tlscacert (clients "
                "must present a certificate)\n",
                h.c_str());
        return 1;
      }
      std::string hp = h.substr(6);
      auto colon = hp.rfind(':');
      if (colon == std::string::npos) {
        fprintf(stderr, "berthd: %s: expected tcp://address:port\n", h.c_str());
        return 1;
      }
      r = (*server)->listen(http::TcpListener{.address = hp.substr(0, colon),
                                              .port = atoi(hp.substr(colon + 1).c_str()),
                                              .tls_cert = tlscert,
                                              .tls_key = tlskey,
                                              .tls_ca = tlscacert});
    } else {
      fprintf(stderr, "berthd: %s: unsupported host (use unix:// or tcp://)\n", h.c_str());
      return 1;
    }
    if (!r) {
      fprintf(stderr, "berthd: listening on %s: %s\n", h.c_str(), r.error().message().c_str());
      return 1;
    }
  }
  if (!pidfile.empty())
    (void)write_file_atomic(pidfile, std::to_string(getpid()) + "\n", 0644, false);

  http::Server* srv = server->get();
  std::thread([srv, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    srv->stop();
  }).detach();
  auto run = srv->run();
  (*eng)->shutdown();
  if (!pidfile.empty()) ::unlink(pidfile.c_str());
  if (!run) {
    fprintf(stderr, "berthd: %s\n", run.error().message().c_str());
    return 1;
  }
  return 0;
}

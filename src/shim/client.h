// berthd's side of the shim: spawning a berth-shim for a container, and the requests berthd
// sends over the shim's socket. The shim outlives berthd; a restarted berthd reconnects with
// Client::connect(state_dir) or, when the shim is gone, reads the exit record it left.
//
// Wire protocol (unix stream socket <state_dir>/shim.sock): the client sends one JSON object and
// a newline; the shim answers one JSON line ({"error": "...", "code": "NotFound"} on failure).
// attach and exec then turn the connection into a raw stream: without a TTY the shim writes
// docker-framed stdout/stderr (base/stdcopy.h), with a TTY raw bytes; bytes the client writes
// go to the process's stdin, and the client's shutdown(SHUT_WR) closes that stdin.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "base/unique_fd.h"

namespace berth::shim {

struct SpawnOptions {
  std::string shim_path;        // berth-shim binary
  std::string id;               // container id
  std::string bundle;           // OCI bundle dir (config.json; root.path already mounted)
  std::string state_dir;        // shim.sock, exit.json, shim.pid live here (under exec-root)
  std::string runtime_root;     // runtime state root (berth::runtime GlobalOptions.root)
  std::string runtime;          // "" = in-process berth runtime; else a runc-compatible binary
  std::string log_path;         // json-file log ("" = no log)
  int64_t log_max_size = -1;    // bytes; -1 = unlimited
  int log_max_file = 1;
  bool open_stdin = false;      // keep a stdin pipe (docker -i)
  bool stdin_once = false;      // close stdin when the first attached client detaches
  bool tty = false;
  uint16_t tty_height = 0, tty_width = 0;
};

struct Started {
  pid_t shim_pid = 0;
  pid_t pid = 0;  // container init pid in the host pid namespace
};

// Starts the shim, which creates the container (its process waits, as after `runc create`) and
// reports back; Client::start() releases it, so that attach clients can connect first and miss
// no output. On failure the
// error carries the runtime's message (e.g. "exec: \"nosuch\": executable file not found in
// $PATH") and nothing is left running.
Result<Started> spawn(const SpawnOptions& opts);

struct ExitStatus {
  int exit_code = 0;     // 128+signal when killed
  bool oom_killed = false;
  std::string started_at, finished_at;  // RFC 3339 with nanoseconds, UTC
};

// The exit record the shim writes (atomically) when the container has exited; NotFound while
// it runs.
Result<ExitStatus> read_exit_file(const std::string& state_dir);

struct ShimState {
  pid_t pid = 0;
  bool running = false;
  bool paused = false;
  std::optional<ExitStatus> exit;
};

struct AttachRequest {
  bool stdin = false, stdout = true, stderr = true;
  bool logs = false;  // replay the log before live output (docker attach --logs)
  std::string detach_keys;  // e.g. "ctrl-p,ctrl-q"; "" = default ctrl-p,ctrl-q; stdin only
};

struct ExecRequest {
  std::string exec_id;
  json::Json process;  // OCI process object (args, env, cwd, user, terminal, capabilities...)
  bool attach_stdin = false, attach_stdout = true, attach_stderr = true;
  bool detach = false;
  uint16_t tty_height = 0, tty_width = 0;
  std::string detach_keys;
};

struct ExecState {
  bool running = false;
  pid_t pid = 0;
  std::optional<int> exit_code;
};

class Client {
 public:
  static Result<Client> connect(const std::string& state_dir);

  Result<> start();
  Result<ShimState> state();
  Result<> kill(int signal, bool all = false);
  Result<> pause();
  Result<> resume();
  Result<> resize(uint16_t height, uint16_t width);
  // Blocks until the container exits (or returns at once if it has).
  Result<ExitStatus> wait();
  // The returned socket is the stream (see the protocol comment above).
  Result<UniqueFd> attach(const AttachRequest& req);
  // Starts an exec; the socket streams its stdio (detach: closed at once, process keeps running).
  Result<UniqueFd> exec(const ExecRequest& req);
  Result<ExecState> exec_state(const std::string& exec_id);
  Result<> exec_resize(const std::string& exec_id, uint16_t height, uint16_t width);
  Result<> exec_kill(const std::string& exec_id, int signal);
  // The shim forgets the container and exits (after exit, or with force: SIGKILL first).
  Result<> shutdown();

 private:
  explicit Client(std::string socket_path) : socket_path_(std::move(socket_path)) {}
  Result<json::Json> call(const json::Json& req, UniqueFd* keep_stream = nullptr);
  std::string socket_path_;
};

}  // namespace berth::shim

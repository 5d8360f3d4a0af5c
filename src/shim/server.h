// The shim's event loop: one thread, one poll() over the container's stdio, exec processes,
// the request socket and its clients, and a SIGCHLD self-pipe. No threads, so forking an exec
// helper is always safe, and no call blocks on a client: output that a slow client cannot take
// is buffered up to a limit, past which the client is dropped rather than the container stalled.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "base/unique_fd.h"
#include "shim/client.h"
#include "shim/detach_keys.h"
#include "shim/json_log.h"
#include "shim/protocol.h"
#include "shim/runtime_driver.h"

namespace berth::shim {

// Runs the shim in the current process (already detached from its spawner): creates the
// container, reports {"pid":N} or the error on report_fd, then serves until the container has
// exited and the grace period is over. Returns the process exit code.
int run_shim(const SpawnOptions& opts, int report_fd);

// Our side of a process's stdio.
struct ProcIo {
  UniqueFd in;        // the process's stdin (a pipe, or a dup of the pty master)
  UniqueFd out, err;  // read ends; with a terminal, out is the pty master and err unused
  UniqueFd master;    // the pty master (resize), kept until exit
  bool tty = false;
  std::string in_buf;     // bytes waiting for the process to read them
  bool close_in = false;  // close `in` once in_buf is written (client's stdin ended)
};

struct Conn {
  enum class Mode { kRequest, kWait, kAttach, kExec };
  uint64_t id = 0;
  UniqueFd fd;
  Mode mode = Mode::kRequest;
  std::string in, out;
  bool reply_held = false;  // exec: output queues behind the reply the helper has yet to give
  bool read_eof = false;
  bool close_when_flushed = false;
  bool dead = false;
  bool want_out = true, want_err = true, want_in = false, tty = false;
  std::optional<DetachMatcher> detach;
  std::string exec_id;
};

struct Exec {
  std::string id;
  int seq = 0;
  std::string console;  // console socket path (terminal only)
  pid_t pid = 0, helper = 0;
  bool running = false;
  std::optional<int> exit_code;
  ProcIo io;
  UniqueFd report;  // the helper's {"pid":N} (+ pty master) or error
  uint64_t conn = 0;
  bool detach = false;
};

class Server {
 public:
  explicit Server(SpawnOptions o);
  // Listens on shim.sock, opens the log and creates the container; returns the init's pid.
  Result<pid_t> setup();
  void run();

 private:
  using Clock = std::chrono::steady_clock;

  // container
  void on_init_exit(int status);
  void reap();
  // stdio
  void read_output(ProcIo& io, bool err_stream, Exec* x);
  void drain(ProcIo& io, Exec* x);
  void write_input(ProcIo& io);
  void deliver(Exec* x, int stream, std::string_view data);
  // clients
  void accept_conns();
  void read_conn(Conn& c);
  void write_conn(Conn& c);
  void handle_request(Conn& c, const json::Json& req);
  void reply(Conn& c, const json::Json& j, bool close = true);
  void reply_error(Conn& c, const Error& e) { reply(c, error_to_json(e)); }
  void stdin_data(Conn& c, std::string_view data);
  void stdin_eof(Conn& c);
  ProcIo* stdin_target(Conn& c);
  Conn* find_conn(uint64_t id);
  void op_attach(Conn& c, const json::Json& req);
  json::Json state_json() const;
  // exec (server_exec.cc)
  void op_exec(Conn& c, const json::Json& req);
  void read_exec_report(Exec& x);
  void on_exec_exit(Exec& x, int status);
  Exec* find_exec(const std::string& id);
  json::Json exec_state_json(const Exec& x) const;

  SpawnOptions o_;
  std::unique_ptr<RuntimeDriver> driver_;
  std::unique_ptr<JsonLogWriter> log_;
  UniqueFd listener_, sig_r_;
  ProcIo io_;
  pid_t init_pid_ = 0;
  bool started_ = false, exited_ = false, paused_ = false;
  bool shutdown_requested_ = false, quit_ = false;
  bool trim_pending_ = false;  // a request ran: release_unused_text() at trim_at_
  Clock::time_point trim_at_;
  int64_t oom_baseline_ = 0;
  ExitStatus exit_;
  std::string created_at_;
  Clock::time_point grace_until_;
  std::vector<std::unique_ptr<Conn>> conns_;
  uint64_t next_conn_id_ = 1;
  std::map<std::string, std::unique_ptr<Exec>> execs_;
  int exec_seq_ = 0;
  std::map<pid_t, int> orphans_;  // reaped before their exec helper reported the pid
};

}  // namespace berth::shim

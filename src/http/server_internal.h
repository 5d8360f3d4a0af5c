// State shared between the Server (accept loop) and its connection threads (internal).
// Key idea: connection threads hold a shared_ptr to this, so a Server can be destroyed while a
// long-running handler is still finishing; stop() shuts every registered socket down.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "base/unique_fd.h"
#include "http/server.h"
#include "http/tls.h"

namespace berth::http {

struct ServerShared {
  explicit ServerShared(const Router& r) : router(r) {}
  Router router;
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_set<int> conns;  // sockets of live connections (not yet closed)
  int active = 0;                 // accepted connections not yet closed
  std::atomic<bool> stopping{false};

  // Worker pool: idle threads wait here for accepted sockets. Reusing a parked thread avoids
  // thread creation per connection, which costs milliseconds on a loaded machine (a new task
  // queues behind busy ones; a woken sleeper is scheduled at once).
  struct Job {
    int fd;
    TlsContextPtr tls;
  };
  std::deque<Job> jobs;
  std::condition_variable work_cv;
  int idle_workers = 0;
};

// Hands an accepted, registered socket to an idle worker (or a new one). Returns false when no
// thread could be started; the caller then closes and unregisters the socket.
bool dispatch_connection(const std::shared_ptr<ServerShared>& st, int fd, TlsContextPtr tls);
// Wakes idle workers so they exit (after stopping was set).
void release_workers(ServerShared& st);

// Serves one accepted connection until the client or the server closes it. Takes ownership of
// fd (already registered in st->conns); unregisters and closes it, then decrements st->active.
void serve_connection(std::shared_ptr<ServerShared> st, int fd, TlsContextPtr tls);

}  // namespace berth::http

// Connection worker threads: one blocking thread per live connection, parked and reused after
// the connection ends. Key idea: accept hands the socket to a parked worker when one is idle
// (a condition-variable wake is far cheaper than pthread_create under load) and starts a new
// thread otherwise; workers idle for kIdleTimeout, or beyond kMaxIdle, exit.
#include <chrono>
#include <thread>

#include "base/log.h"
#include "http/server_internal.h"

namespace berth::http {

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr int kMaxIdle = 32;

void worker_main(std::shared_ptr<ServerShared> st) {
  std::unique_lock lock(st->mu);
  for (;;) {
    if (st->jobs.empty()) {
      if (st->stopping || st->idle_workers >= kMaxIdle) return;
      ++st->idle_workers;
      bool got = st->work_cv.wait_for(lock, kIdleTimeout,
                                      [&] { return !st->jobs.empty() || st->stopping.load(); });
      --st->idle_workers;
      if (!got || st->jobs.empty()) return;
    }
    ServerShared::Job job = std::move(st->jobs.front());
    st->jobs.pop_front();
    lock.unlock();
    serve_connection(st, job.fd, std::move(job.tls));
    lock.lock();
  }
}

}  // namespace

bool dispatch_connection(const std::shared_ptr<ServerShared>& st, int fd, TlsContextPtr tls) {
  {
    std::lock_guard lock(st->mu);
    st->jobs.push_back({fd, std::move(tls)});
    if (st->idle_workers >= static_cast<int>(st->jobs.size())) {
      st->work_cv.notify_one();
      return true;
    }
  }
  try {
    std::thread(worker_main, st).detach();
    return true;
  } catch (const std::exception& e) {
    log::debug(std::string("http: starting connection thread: ") + e.what());
    std::lock_guard lock(st->mu);
    // Take the job back unless a worker already picked it up.
    for (auto it = st->jobs.begin(); it != st->jobs.end(); ++it) {
      if (it->fd == fd) {
        st->jobs.erase(it);
        return false;
      }
    }
    return true;
  }
}

void release_workers(ServerShared& st) {
  st.work_cv.notify_all();
}

}  // namespace berth::http

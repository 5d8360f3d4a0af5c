// Pieces that pull and push share: docker's short layer ids, a progress reporter that
// serialises events from several transfer threads (and throttles byte counts to ten a second
// per layer), and a bounded pool that runs one function per item.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "registry/distribution.h"

namespace berth::registry {

// "sha256:0123456789abcdef..." -> "0123456789ab".
inline std::string short_hex(const std::string& digest) {
  auto colon = digest.find(':');
  return (colon == std::string::npos ? digest : digest.substr(colon + 1)).substr(0, 12);
}

class Reporter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Reporter(const ProgressSink& sink) : sink_(sink) {}
  // A whole-image line ("Digest: ..."), or a line for id without byte counts.
  void line(const std::string& status, const std::string& id = "", bool detail = false) {
    emit(Progress{.id = id, .status = status, .has_detail = detail});
  }
  void layer(const std::string& id, const std::string& status) { line(status, id, true); }
  // Byte progress; *last is the caller's per-layer time of the previous report.
  void bytes(const std::string& id, const std::string& status, int64_t cur, int64_t total,
             Clock::time_point* last) {
    auto now = Clock::now();
    if (cur < total && now - *last < std::chrono::milliseconds(100)) return;
    *last = now;
    emit(Progress{.id = id, .status = status, .current = cur, .total = total, .has_detail = true});
  }

 private:
  void emit(const Progress& p) {
    std::lock_guard lk(mu_);
    if (sink_) sink_(p);
  }
  const ProgressSink& sink_;
  std::mutex mu_;
};

// Runs fn(i) for i in [0, n) on at most `workers` threads (the caller's among them);
// waiting(i) is called first for every item that has to wait for a free worker.
inline void run_parallel(size_t n, int workers, const std::function<void(size_t)>& fn,
                         const std::function<void(size_t)>& waiting = {}) {
  size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max(1, workers)));
  if (waiting)
    for (size_t i = threads; i < n; ++i) waiting(i);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) fn(i);
  };
  std::vector<std::thread> pool;
  for (size_t i = 1; i < threads; ++i) pool.emplace_back(worker);
  if (threads > 0) worker();
  for (auto& t : pool) t.join();
}

}  // namespace berth::registry

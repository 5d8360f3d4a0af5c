// The event bus behind GET /events: every container, image and volume action is published here
// (docker's shape: Type, Action, Actor{ID, Attributes}, scope, time, timeNano, plus the legacy
// status/id/from fields); subscribers get past events since a time and then live ones.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/json.h"

namespace berth::engine {

class Events {
 public:
  void publish(const std::string& type, const std::string& action, const std::string& id,
               std::map<std::string, std::string> attributes);
  // Blocks until an event newer than *cursor (a sequence number) exists or timeout; appends it.
  // Returns false on timeout.
  bool next(uint64_t* cursor, json::Json* event, int timeout_ms);
  // Events with timeNano in [since_ns, until_ns) already recorded; sets cursor past them.
  std::vector<json::Json> history(int64_t since_ns, int64_t until_ns, uint64_t* cursor);
  uint64_t cursor_now();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, json::Json>> ring_;  // last 1024 events
  uint64_t seq_ = 0;
};

}  // namespace berth::engine

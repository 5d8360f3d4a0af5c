// Matching events against GET /events filters, with docker's semantics (moby daemon/events/
// filter.go): keys are ANDed, values of one key ORed; container/volume/network/... match the
// actor ID or its "name" attribute by prefix; image matches the image ID or name, with or without
// its tag; label=k or label=k=v must all hold (MatchKVList).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/json.h"

namespace berth::engine {

// True if ev (an event as Events publishes it) passes every filter in f. Empty f matches all.
// "action" is accepted as a synonym of docker's "event" key.
bool event_matches(const json::Json& ev, const std::map<std::string, std::vector<std::string>>& f);

}  // namespace berth::engine

// OCI hooks: each runs with the container state JSON on stdin, its own env and an optional
// timeout. Callers decide what a failure means (create-time hooks abort, poststart/poststop warn).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::runtime {

// Runs hooks in order, stopping at the first failure: `<kind> hook #<i> (<path>): exit status 3: <output>`.
Result<> run_hooks(const std::vector<oci::Hook>& hooks, const char* kind,
                   const std::string& state_json);

}  // namespace berth::runtime

// The Docker Engine API (v1.24 .. 1.41) on top of the engine: routes, rendering of docker's
// JSON shapes, and the one place where engine errors become HTTP statuses.
#pragma once

#include <string>

#include "base/error.h"
#include "engine/engine.h"
#include "http/server.h"
#include "registry/client.h"

namespace berth::api {

inline constexpr const char* kApiVersion = "1.41";
inline constexpr const char* kMinApiVersion = "1.24";

struct Options {
  registry::Options registry;  // insecure registries, mirrors
};

// Fails only when the registry client cannot be set up.
Result<> register_routes(http::Router& router, engine::Engine& engine, const Options& opts = {});

// Error category -> HTTP status (docker's errdefs mapping).
int http_status(const Error& e);
void send_error(http::ResponseWriter& w, const Error& e);

}  // namespace berth::api

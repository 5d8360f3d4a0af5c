// docker's container row context (formatter/container.go) as JSON: the fields --format sees on
// `ps` rows, with docker's truncation, quoting and human durations; exposed for tests.
#pragma once

#include <cstdint>
#include <string>

#include "cli/template.h"

namespace berth::cli {

inline constexpr const char* kDefaultPsFormat =
    "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}"
    "\\t{{.Names}}";

// One /containers/json entry -> row fields (ID, Image, Command, CreatedAt, RunningFor, Ports,
// State, Status, Size, Names, Labels, Mounts, LocalVolumes, Networks).
Value container_row(const Value& c, bool trunc, int64_t now);
Value container_header();
// docker's DisplayablePorts: "0.0.0.0:8080->80/tcp, 9000-9001/udp".
std::string displayable_ports(const Value& ports);

}  // namespace berth::cli

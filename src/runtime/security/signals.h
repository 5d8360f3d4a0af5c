// Signal names as `kill` takes them: "9", "KILL", "SIGKILL", "SIGRTMIN+3", "RTMAX-1".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berth::runtime::security {

std::optional<int> parse_signal(std::string_view text);
std::string signal_name(int sig);  // "SIGKILL"

}  // namespace berth::runtime::security

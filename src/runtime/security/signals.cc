// Signal name table. Accepts what runc's kill accepts: a number, "KILL", "SIGKILL", and the
// real-time forms "SIGRTMIN+n" / "RTMAX-n".
#include "runtime/security/signals.h"

#include <signal.h>

#include <algorithm>
#include <cctype>

#include "base/strings.h"

namespace berth::runtime::security {
namespace {
struct SignalName {
  const char* name;
  int number;
};
constexpr SignalName kSignals[] = {
    {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"IOT", SIGIOT},     {"BUS", SIGBUS},
    {"FPE", SIGFPE},     {"KILL", SIGKILL},     {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CLD", SIGCHLD},    {"CONT", SIGCONT},
    {"STOP", SIGSTOP},   {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU},
    {"URG", SIGURG},     {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF},   {"WINCH", SIGWINCH},   {"IO", SIGIO},       {"POLL", SIGPOLL},
    {"PWR", SIGPWR},     {"SYS", SIGSYS},
};
}  // namespace

std::optional<int> parse_signal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (auto n = parse_int(text)) {
    if (*n > 0 && *n <= SIGRTMAX) return static_cast<int>(*n);
    return std::nullopt;
  }
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::string_view name = upper;
  if (name.starts_with("SIG")) name.remove_prefix(3);
  for (auto& s : kSignals)
    if (name == s.name) return s.number;
  auto realtime = [&](std::string_view base, int origin, int dir) -> std::optional<int> {
    if (!name.starts_with(base)) return std::nullopt;
    std::string_view rest = name.substr(base.size());
    if (rest.empty()) return origin;
    if ((dir > 0 && rest[0] != '+') || (dir < 0 && rest[0] != '-')) return std::nullopt;
    auto off = parse_int(rest.substr(1));
    if (!off || *off < 0) return std::nullopt;
    int sig = origin + dir * static_cast<int>(*off);
    if (sig < SIGRTMIN || sig > SIGRTMAX) return std::nullopt;
    return sig;
  };
  if (auto s = realtime("RTMIN", SIGRTMIN, +1)) return s;
  if (auto s = realtime("RTMAX", SIGRTMAX, -1)) return s;
  return std::nullopt;
}

std::string signal_name(int sig) {
  for (auto& s : kSignals)
    if (s.number == sig) return std::string("SIG") + s.name;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) return "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  return "SIG" + std::to_string(sig);
}

}  // namespace berth::runtime::security

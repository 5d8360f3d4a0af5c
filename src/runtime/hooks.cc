// Hook execution on run_subprocess (fork + execve, stdin from a pipe, pidfd-timed wait).
#include "runtime/hooks.h"

#include "base/strings.h"
#include "base/subprocess.h"

namespace berth::runtime {

Result<> run_hooks(const std::vector<oci::Hook>& hooks, const char* kind,
                   const std::string& state_json) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    const oci::Hook& h = hooks[i];
    SubprocessOptions opts;
    opts.path = h.path;
    opts.args = h.args;
    opts.env = h.env;
    opts.stdin_data = state_json;
    if (h.timeout) opts.timeout = std::chrono::seconds(*h.timeout);
    std::string what = std::string(kind) + " hook #" + std::to_string(i) + " (" + h.path + ")";
    auto res = run_subprocess(opts);
    if (!res) return std::unexpected(std::move(res).error().wrap(what));
    if (res->timed_out)
      return make_error(ErrorCode::kUnavailable,
                        what + ": timed out after " + std::to_string(*h.timeout) + "s");
    if (res->exit_code != 0) {
      std::string out(trim(res->output));
      if (res->exit_code == 127 && out.empty()) out = "cannot execute";
      return make_error(ErrorCode::kFailedPrecondition,
                        what + ": exit status " + std::to_string(res->exit_code) +
                            (out.empty() ? "" : ": " + out));
    }
  }
  return {};
}

}  // namespace berth::runtime

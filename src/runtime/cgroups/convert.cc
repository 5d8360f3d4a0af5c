// v1 → v2 conversions, matching opencontainers/cgroups (runc) and crun exactly.
#include "runtime/cgroups/convert.h"

#include <cmath>

namespace berth::runtime::cgroups {

uint64_t cpu_shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  // Same double arithmetic as Go's math.Log2/math.Pow/math.Ceil; log2 of a power of two is
  // exact in both, so the default 1024 gives exponent 2 and weight 100 exactly.
  double l = std::log2(static_cast<double>(shares));
  double exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
  return static_cast<uint64_t>(std::ceil(std::pow(10.0, exponent)));
}

uint64_t cpu_shares_to_weight_linear(uint64_t shares) {
  if (shares == 0) return 0;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t blkio_weight_to_io_weight(uint64_t weight) {
  if (weight == 0) return 0;
  return 1 + (weight - 10) * 9999 / 990;
}

Result<int64_t> memory_swap_to_v2(int64_t swap, int64_t limit) {
  // For cgroup v1 compatibility, unlimited memory with swap left unset means "unlimited both".
  if (limit == -1 && swap == 0) return -1;
  if (swap == -1 || swap == 0) return swap;  // "max" and "unset" pass through
  if (limit == -1) return swap;              // unlimited memory: swap as is
  if (limit == 0)
    return make_error(ErrorCode::kInvalidArgument, "unable to set swap limit without memory limit");
  if (limit < 0)
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid memory value: " + std::to_string(limit));
  if (swap < limit)
    return make_error(ErrorCode::kInvalidArgument, "memory+swap limit should be >= memory limit");
  return swap - limit;
}

std::string v2_limit(int64_t value) {
  if (value == 0) return {};
  if (value == -1) return "max";
  return std::to_string(value);
}

std::string cpu_max(std::optional<int64_t> quota, std::optional<uint64_t> period) {
  int64_t q = quota.value_or(0);
  uint64_t p = period.value_or(0);
  if (q == 0 && p == 0) return {};
  std::string s = q > 0 ? std::to_string(q) : "max";
  s += ' ';
  s += std::to_string(p ? p : 100000);
  return s;
}

}  // namespace berth::runtime::cgroups

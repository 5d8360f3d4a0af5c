// cgroup v1 → v2 value conversions. The OCI spec speaks v1 (cpu shares, blkio weight, memory+swap);
// on v2 these become cpu.weight, io.weight and memory.swap.max. Values must match runc and crun
// bit for bit: orchestrators (kubelet) read the files back and compare.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/error.h"

namespace berth::runtime::cgroups {

// cpu.shares [2, 262144] → cpu.weight [1, 10000]; 0 stays 0 ("unset"). This is the formula of
// ConvertCPUSharesToCgroupV2Value in opencontainers/cgroups (the cgroup library runc uses since it
// was split out of libcontainer; changed by runc PR #4785, pinned by its utils_test.go as of
// v0.0.5) and of crun (containers/crun#1721): a quadratic in log2(shares) that maps 2 → 1, the
// v1 default 1024 → 100 (the v2 default) and 262144 → 10000:
//   weight = ceil(10^((log2(s)^2 + 125·log2(s)) / 612 − 7/34))
// The older linear form 1 + (s − 2)·9999/262142 (runc 1.1.x, older crun) mapped 1024 to 39; it is
// kept as cpu_shares_to_weight_linear only to compare with those releases.
uint64_t cpu_shares_to_weight(uint64_t shares);
uint64_t cpu_shares_to_weight_linear(uint64_t shares);

// blkio.weight [10, 1000] → io.weight [1, 10000]: 1 + (w − 10)·9999 / 990; 0 stays 0.
uint64_t blkio_weight_to_io_weight(uint64_t weight);

// linux.resources.memory.swap is memory+swap (v1 memsw); v2 memory.swap.max is swap alone.
// Exactly opencontainers/cgroups' ConvertMemorySwapToCgroupV2Value: returns the memory.swap.max
// value (-1 = "max", 0 = leave unset) or an error for combinations that cannot be converted.
Result<int64_t> memory_swap_to_v2(int64_t swap, int64_t limit);

// v2 *.max/*.low values: -1 → "max", 0 → "" (do not write), n → "n".
std::string v2_limit(int64_t value);

// cpu.max from quota/period: "quota period", or "max period" when quota is unset or negative;
// period defaults to the kernel's 100000. "" when neither is set (or both are 0).
std::string cpu_max(std::optional<int64_t> quota, std::optional<uint64_t> period);

}  // namespace berth::runtime::cgroups

// cgroup v2 device control: v2 has no devices files; access is decided by an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup (BPF_CGROUP_DEVICE). We assemble it by hand
// (no libbpf, no cilium/ebpf) from the emulated rule set, in the layout runc and crun use, and
// load/attach it with raw bpf(2).
#pragma once

#include <linux/bpf.h>

#include <vector>

#include "base/error.h"
#include "runtime/cgroups/devices.h"

namespace berth::runtime::cgroups {

// The filter for the emulated state: one block per rule (type, then access, major, minor
// compared; a match returns the rule's verdict), falling through to the default policy.
Result<std::vector<bpf_insn>> device_filter_program(const DeviceEmulator& emulator);

// Loads prog and attaches it to the cgroup directory dirfd with BPF_F_ALLOW_MULTI, replacing
// the device programs already attached there (atomically with BPF_F_REPLACE when there is
// exactly one). RLIMIT_MEMLOCK is raised only if the load fails for it (kernels < 5.11) and
// restored afterwards, so the container does not inherit it; failing to raise it is not fatal.
Result<> attach_device_filter(int dirfd, const std::vector<bpf_insn>& prog);

}  // namespace berth::runtime::cgroups

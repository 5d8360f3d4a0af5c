// Device filter assembly and raw bpf(2) loading. The program mirrors runc's devicefilter.go
// (itself from crun's ebpf.c): R2 = device type, R3 = requested access, R4 = major, R5 = minor,
// then one block per rule that jumps to the next block on any mismatch.
#include "runtime/cgroups/ebpf.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"

namespace berth::runtime::cgroups {

namespace {

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

bpf_insn ldx_w(uint8_t dst, uint8_t src, int16_t off) {
  return insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
}
bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) {
  return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn mov32_reg(uint8_t dst, uint8_t src) {
  return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
}
bpf_insn jne_imm(uint8_t dst, int32_t imm) {
  return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, 0, imm);
}
bpf_insn jne_reg(uint8_t dst, uint8_t src) {
  return insn(BPF_JMP | BPF_JNE | BPF_X, dst, src, 0, 0);
}
bpf_insn exit_insn() {
  return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

long bpf(int cmd, bpf_attr* attr) {
  return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

constexpr char kLicense[] = "Apache";

Result<UniqueFd> load_program(const std::vector<bpf_insn>& prog) {
  auto load = [&](char* log, uint32_t log_size) {
    bpf_attr attr{};
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = reinterpret_cast<uint64_t>(prog.data());
    attr.insn_cnt = static_cast<uint32_t>(prog.size());
    attr.license = reinterpret_cast<uint64_t>(kLicense);
    if (log) {
      attr.log_buf = reinterpret_cast<uint64_t>(log);
      attr.log_size = log_size;
      attr.log_level = 1;
    }
    return static_cast<int>(bpf(BPF_PROG_LOAD, &attr));  // bpf fds are always O_CLOEXEC
  };
  int fd = load(nullptr, 0);
  if (fd < 0 && errno == EPERM) {
    // Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK: raise it for this load only.
    struct rlimit old;
    if (::getrlimit(RLIMIT_MEMLOCK, &old) == 0) {
      struct rlimit inf {
        RLIM_INFINITY, RLIM_INFINITY
      };
      if (::setrlimit(RLIMIT_MEMLOCK, &inf) == 0) {
        fd = load(nullptr, 0);
        int e = errno;
        ::setrlimit(RLIMIT_MEMLOCK, &old);
        errno = e;
      } else {
        errno = EPERM;
      }
    }
  }
  if (fd < 0 && (errno == EINVAL || errno == EACCES)) {
    // Reload with the verifier log so the error says why.
    int e = errno;
    std::string log(16384, '\0');
    if (load(log.data(), static_cast<uint32_t>(log.size())) < 0) {
      log.resize(std::strlen(log.c_str()));
      while (!log.empty() && (log.back() == '\n' || log.back() == ' ')) log.pop_back();
      if (auto nl = log.rfind('\n'); nl != std::string::npos) log = log.substr(nl + 1);
      if (!log.empty()) return errno_error(e, "load eBPF device filter (verifier: " + log + ")");
    }
    errno = e;
  }
  if (fd < 0) return errno_error("load eBPF device filter");
  return UniqueFd(fd);
}

Result<std::vector<uint32_t>> query_programs(int dirfd) {
  std::vector<uint32_t> ids(64);
  for (int tries = 0; tries < 10; ++tries) {
    bpf_attr attr{};
    attr.query.target_fd = static_cast<uint32_t>(dirfd);
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = reinterpret_cast<uint64_t>(ids.data());
    attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
    if (bpf(BPF_PROG_QUERY, &attr) == 0) {
      ids.resize(attr.query.prog_cnt);
      return ids;
    }
    if (errno != ENOSPC) return errno_error("query attached device filters");
    ids.resize(attr.query.prog_cnt + 1);  // the kernel told us how many there are
  }
  return make_error(ErrorCode::kInternal, "query attached device filters: list keeps growing");
}

}  // namespace

Result<std::vector<bpf_insn>> device_filter_program(const DeviceEmulator& emulator) {
  const bool default_allow = emulator.default_allow();
  std::vector<bpf_insn> p;
  // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
  // access_type = (access << 16) | type
  p.push_back(ldx_w(BPF_REG_2, BPF_REG_1, 0));
  p.push_back(alu32_imm(BPF_AND, BPF_REG_2, 0xFFFF));
  p.push_back(ldx_w(BPF_REG_3, BPF_REG_1, 0));
  p.push_back(alu32_imm(BPF_RSH, BPF_REG_3, 16));
  p.push_back(ldx_w(BPF_REG_4, BPF_REG_1, 4));
  p.push_back(ldx_w(BPF_REG_5, BPF_REG_1, 8));

  auto rules = emulator.rules();
  for (size_t idx = 0; idx < rules.size(); ++idx) {
    const DeviceRule& r = rules[idx];
    if (r.type == 'a') {
      // Only ever first, switching to the default policy, which the fall-through encodes.
      if (idx != 0 || r.allow != default_allow)
        return make_error(ErrorCode::kInternal,
                          "device filter: misplaced rule " + r.cgroup_string());
      continue;
    }
    if (r.allow == default_allow)
      return make_error(ErrorCode::kInternal, "device filter: no-op rule " + r.cgroup_string());
    if (r.major > INT32_MAX || r.minor > INT32_MAX)
      return make_error(ErrorCode::kInvalidArgument,
                        "device filter: device number too large in " + r.cgroup_string());
    int32_t type = r.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
    int32_t access = 0;
    if (r.access & kDevRead) access |= BPF_DEVCG_ACC_READ;
    if (r.access & kDevWrite) access |= BPF_DEVCG_ACC_WRITE;
    if (r.access & kDevMknod) access |= BPF_DEVCG_ACC_MKNOD;

    std::vector<size_t> jumps;
    jumps.push_back(p.size());
    p.push_back(jne_imm(BPF_REG_2, type));
    if (r.access != kDevAll) {
      // Every requested access bit must be in the rule: (R3 & access) == R3.
      p.push_back(mov32_reg(BPF_REG_1, BPF_REG_3));
      p.push_back(alu32_imm(BPF_AND, BPF_REG_1, access));
      jumps.push_back(p.size());
      p.push_back(jne_reg(BPF_REG_1, BPF_REG_3));
    }
    if (r.major >= 0) {
      jumps.push_back(p.size());
      p.push_back(jne_imm(BPF_REG_4, static_cast<int32_t>(r.major)));
    }
    if (r.minor >= 0) {
      jumps.push_back(p.size());
      p.push_back(jne_imm(BPF_REG_5, static_cast<int32_t>(r.minor)));
    }
    p.push_back(alu32_imm(BPF_MOV, BPF_REG_0, r.allow ? 1 : 0));
    p.push_back(exit_insn());
    for (size_t j : jumps) p[j].off = static_cast<int16_t>(p.size() - (j + 1));
  }
  p.push_back(alu32_imm(BPF_MOV, BPF_REG_0, default_allow ? 1 : 0));
  p.push_back(exit_insn());
  return p;
}

Result<> attach_device_filter(int dirfd, const std::vector<bpf_insn>& prog) {
  ASSIGN_OR_RETURN(auto old_ids, query_programs(dirfd));
  ASSIGN_OR_RETURN(UniqueFd fd, load_program(prog));

  std::vector<UniqueFd> old;
  for (uint32_t id : old_ids) {
    bpf_attr attr{};
    attr.prog_id = id;
    int ofd = static_cast<int>(bpf(BPF_PROG_GET_FD_BY_ID, &attr));
    if (ofd < 0) {
      // A program an LSM hides from us (or one detached meanwhile) can only restrict further.
      if (errno == EPERM || errno == EACCES || errno == ENOENT) continue;
      return errno_error("open attached device filter " + std::to_string(id));
    }
    old.emplace_back(ofd);
  }

  bpf_attr attr{};
  attr.target_fd = static_cast<uint32_t>(dirfd);
  attr.attach_bpf_fd = static_cast<uint32_t>(fd.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (old.size() == 1) {
    bpf_attr replace = attr;
    replace.attach_flags |= BPF_F_REPLACE;
    replace.replace_bpf_fd = static_cast<uint32_t>(old[0].get());
    if (bpf(BPF_PROG_ATTACH, &replace) == 0) return {};
    if (errno != EINVAL) return errno_error("attach eBPF device filter");
    // No BPF_F_REPLACE (kernel < 5.6): attach, then detach the old one below.
  }
  if (bpf(BPF_PROG_ATTACH, &attr) != 0) return errno_error("attach eBPF device filter");
  // Both filters apply (the stricter wins) until the old ones are gone.
  for (const auto& o : old) {
    bpf_attr detach{};
    detach.target_fd = static_cast<uint32_t>(dirfd);
    detach.attach_bpf_fd = static_cast<uint32_t>(o.get());
    detach.attach_type = BPF_CGROUP_DEVICE;
    if (bpf(BPF_PROG_DETACH, &detach) != 0 && errno != ENOENT)
      return errno_error("detach old eBPF device filter");
  }
  return {};
}

}  // namespace berth::runtime::cgroups

// linux.seccomp -> classic BPF. libseccomp builds the rules (runc's semantics: SCMP_ACT_KILL is
// KILL_THREAD, ERRNO/TRACE default to EPERM, args on the same index become separate rules, unknown
// syscalls and rules equal to the default are skipped); the exported program gets runc's -ENOSYS
// stub in front and is loaded with seccomp(2), so flags libseccomp 2.5 lacks
// (WAIT_KILLABLE_RECV) work and the child only makes one syscall.
#include "runtime/security/seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/json.h"

namespace berth::runtime::security {
namespace {

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

constexpr unsigned kMaxArgs = 6;
// libseccomp's binary-tree layout (SCMP_FLTATR_CTL_OPTIMIZE=2) for long syscall lists, as runc.
// Measured here with a Docker-sized profile (338 names, x86_64+x86+x32, libseccomp 2.5.4): the
// tree compiles in ~19 ms vs ~11 ms for the linear layout, but a syscall the profile does not
// allow costs ~50 ns more instead of ~155 ns (allowed ones are even). Compiling is paid once per
// profile with compile_seccomp_cached, the per-syscall cost forever, so the tree wins.
// seccomp_rule_add_exact was no faster (within noise) and cannot express what non-exact does for
// multiplexed (socketcall/ipc) and arch-specific names, so rules use seccomp_rule_add.
constexpr size_t kOptimizeThreshold = 32;

enum class Act { kKill, kKillProcess, kKillThread, kTrap, kErrno, kTrace, kAllow, kLog, kNotify };

struct ActionName {
  const char* name;
  Act act;
};
constexpr ActionName kActions[] = {
    {"SCMP_ACT_KILL", Act::kKill},
    {"SCMP_ACT_KILL_PROCESS", Act::kKillProcess},
    {"SCMP_ACT_KILL_THREAD", Act::kKillThread},
    {"SCMP_ACT_TRAP", Act::kTrap},
    {"SCMP_ACT_ERRNO", Act::kErrno},
    {"SCMP_ACT_TRACE", Act::kTrace},
    {"SCMP_ACT_ALLOW", Act::kAllow},
    {"SCMP_ACT_LOG", Act::kLog},
    {"SCMP_ACT_NOTIFY", Act::kNotify},
};

struct OpName {
  const char* name;
  scmp_compare op;
};
constexpr OpName kOps[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

// Every SCMP_ARCH_* the runtime-spec names, with libseccomp's name for it. Those the linked
// libseccomp does not know (seccomp_arch_resolve_name gives 0) are accepted and skipped: leaving an
// arch out of the filter only makes its syscalls hit the bad-arch action (kill).
struct ArchName {
  const char* name;
  const char* libseccomp_name;
};
constexpr ArchName kArchs[] = {
    {"SCMP_ARCH_X86", "x86"},
    {"SCMP_ARCH_X86_64", "x86_64"},
    {"SCMP_ARCH_X32", "x32"},
    {"SCMP_ARCH_ARM", "arm"},
    {"SCMP_ARCH_AARCH64", "aarch64"},
    {"SCMP_ARCH_LOONGARCH64", "loongarch64"},
    {"SCMP_ARCH_M68K", "m68k"},
    {"SCMP_ARCH_MIPS", "mips"},
    {"SCMP_ARCH_MIPS64", "mips64"},
    {"SCMP_ARCH_MIPS64N32", "mips64n32"},
    {"SCMP_ARCH_MIPSEL", "mipsel"},
    {"SCMP_ARCH_MIPSEL64", "mipsel64"},
    {"SCMP_ARCH_MIPSEL64N32", "mipsel64n32"},
    {"SCMP_ARCH_PPC", "ppc"},
    {"SCMP_ARCH_PPC64", "ppc64"},
    {"SCMP_ARCH_PPC64LE", "ppc64le"},
    {"SCMP_ARCH_S390", "s390"},
    {"SCMP_ARCH_S390X", "s390x"},
    {"SCMP_ARCH_PARISC", "parisc"},
    {"SCMP_ARCH_PARISC64", "parisc64"},
    {"SCMP_ARCH_RISCV64", "riscv64"},
    {"SCMP_ARCH_SH", "sh"},
    {"SCMP_ARCH_SHEB", "sheb"},
};

struct FlagName {
  const char* name;
  unsigned long flag;  // 0: accepted, nothing to pass (TSYNC: the child has one thread)
};
constexpr FlagName kFlags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", 0},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

std::optional<Act> find_action(std::string_view name) {
  for (auto& a : kActions)
    if (name == a.name) return a.act;
  return std::nullopt;
}
std::optional<scmp_compare> find_op(std::string_view name) {
  for (auto& o : kOps)
    if (name == o.name) return o.op;
  return std::nullopt;
}
const ArchName* find_arch(std::string_view name) {
  for (auto& a : kArchs)
    if (name == a.name) return &a;
  return nullptr;
}
const FlagName* find_flag(std::string_view name) {
  for (auto& f : kFlags)
    if (name == f.name) return &f;
  return nullptr;
}

uint32_t action_value(Act act, std::optional<uint32_t> errno_ret) {
  switch (act) {
    case Act::kKill:
    case Act::kKillThread:
      return SCMP_ACT_KILL_THREAD;
    case Act::kKillProcess:
      return SCMP_ACT_KILL_PROCESS;
    case Act::kTrap:
      return SCMP_ACT_TRAP;
    case Act::kErrno:
      return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
    case Act::kTrace:
      return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
    case Act::kAllow:
      return SCMP_ACT_ALLOW;
    case Act::kLog:
      return SCMP_ACT_LOG;
    case Act::kNotify:
      return SCMP_ACT_NOTIFY;
  }
  return SCMP_ACT_KILL_THREAD;
}

std::string dq(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}
std::unexpected<Error> invalid(std::string msg) {
  return make_error(ErrorCode::kInvalidArgument, std::move(msg));
}
std::string syscall_field(size_t i) {
  return "linux.seccomp.syscalls[" + std::to_string(i) + "]";
}

bool seccomp_disabled(const oci::Seccomp& s) {
  return s.default_action.empty() && s.syscalls.empty();
}

// ---- the -ENOSYS stub (runc's libcontainer/seccomp/patchbpf, same layout per arch) ----

constexpr uint32_t kX32Bit = 0x40000000;
constexpr uint32_t kRetEnosys = SECCOMP_RET_ERRNO | ENOSYS;

struct StubArch {
  uint32_t audit_arch = 0;
  std::optional<uint32_t> max_native;  // largest syscall nr the profile names (non-x32 ABI)
  std::optional<uint32_t> max_x32;     // x86_64 only: the x32 ABI (nr has bit 30 set)
  bool s390 = false;                   // nr 0 is the multiplexer for unknown syscalls
};

sock_filter stmt(uint16_t code, uint32_t k) {
  return sock_filter{code, 0, 0, k};
}
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return sock_filter{code, jt, jf, k};
}

// One arch's section; `ja filter` is left with k = 0 and its index recorded for patching.
std::vector<sock_filter> stub_section(const StubArch& a, size_t* ja_index) {
  std::vector<sock_filter> s;
  s.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  if (a.max_native && a.max_x32) {
    s.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, 1, 0));
    s.push_back(jump(BPF_JMP | BPF_JGT | BPF_K, *a.max_native, 2, 1));
    s.push_back(jump(BPF_JMP | BPF_JGT | BPF_K, *a.max_x32, 1, 0));
  } else if (a.max_x32) {
    s.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, 0, 1));
    s.push_back(jump(BPF_JMP | BPF_JGT | BPF_K, *a.max_x32, 1, 0));
  } else {
    if (a.audit_arch == AUDIT_ARCH_X86_64)
      s.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, 1, 0));
    if (a.s390) s.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0));
    s.push_back(jump(BPF_JMP | BPF_JGT | BPF_K, *a.max_native, 1, 0));
  }
  *ja_index = s.size();
  s.push_back(stmt(BPF_JMP | BPF_JA, 0));
  s.push_back(stmt(BPF_RET | BPF_K, kRetEnosys));
  return s;
}

std::vector<sock_filter> enosys_stub(const std::vector<StubArch>& arches) {
  if (arches.empty()) return {};
  std::vector<std::vector<sock_filter>> sections;
  std::vector<size_t> ja_at;
  for (auto& a : arches) {
    size_t idx;
    sections.push_back(stub_section(a, &idx));
    ja_at.push_back(idx);
  }
  // Head: ld arch; per arch "jeq arch,0,1; ja section"; "ja filter" for any other arch.
  const size_t head = 1 + 2 * arches.size() + 1;
  std::vector<size_t> start(arches.size());
  size_t total = head;
  for (size_t i = 0; i < sections.size(); ++i) {
    start[i] = total;
    total += sections[i].size();
  }
  std::vector<sock_filter> out;
  out.reserve(total);
  out.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  for (size_t i = 0; i < arches.size(); ++i) {
    out.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, arches[i].audit_arch, 0, 1));
    size_t here = out.size();
    out.push_back(stmt(BPF_JMP | BPF_JA, static_cast<uint32_t>(start[i] - here - 1)));
  }
  out.push_back(stmt(BPF_JMP | BPF_JA, static_cast<uint32_t>(total - out.size() - 1)));
  for (size_t i = 0; i < sections.size(); ++i) {
    size_t ja = start[i] + ja_at[i];
    sections[i][ja_at[i]].k = static_cast<uint32_t>(total - ja - 1);
    out.insert(out.end(), sections[i].begin(), sections[i].end());
  }
  return out;
}

bool wants_enosys_stub(const oci::Seccomp& s) {
  auto act = find_action(s.default_action);
  if (!act) return false;
  // Permissive defaults already let new syscalls through; a tracer handles ENOSYS itself.
  if (*act == Act::kAllow || *act == Act::kLog || *act == Act::kTrace) return false;
  if (*act == Act::kErrno && s.default_errno_ret.value_or(EPERM) == ENOSYS) return false;
  return true;
}

std::vector<StubArch> stub_arches(const oci::Seccomp& s, const std::vector<uint32_t>& tokens) {
  std::vector<StubArch> out;
  auto slot = [&](uint32_t audit) -> StubArch& {
    for (auto& a : out)
      if (a.audit_arch == audit) return a;
    out.push_back(StubArch{audit, std::nullopt, std::nullopt,
                           audit == AUDIT_ARCH_S390 || audit == AUDIT_ARCH_S390X});
    return out.back();
  };
  for (uint32_t token : tokens) {
    std::optional<uint32_t> max;
    for (auto& rule : s.syscalls)
      for (auto& name : rule.names) {
        int nr = seccomp_syscall_resolve_name_arch(token, name.c_str());
        if (nr < 0) continue;
        if (!max || static_cast<uint32_t>(nr) > *max) max = static_cast<uint32_t>(nr);
      }
    if (!max || *max == 0) continue;
    if (token == SCMP_ARCH_X32) {
      slot(AUDIT_ARCH_X86_64).max_x32 = max;
    } else {
      slot(token).max_native = max;
    }
  }
  return out;
}

Result<std::vector<sock_filter>> export_bpf(scmp_filter_ctx ctx) {
  UniqueFd mem(::memfd_create("berth-seccomp", MFD_CLOEXEC));
  if (!mem) return errno_error("memfd_create");
  int rc = seccomp_export_bpf(ctx, mem.get());
  if (rc < 0) return errno_error(-rc, "export seccomp filter");
  off_t size = ::lseek(mem.get(), 0, SEEK_END);
  if (size < 0) return errno_error("lseek seccomp filter");
  if (size == 0 || size % sizeof(sock_filter) != 0)
    return make_error(ErrorCode::kInternal, "export seccomp filter: bad program size");
  std::vector<sock_filter> prog(static_cast<size_t>(size) / sizeof(sock_filter));
  size_t off = 0;
  auto* bytes = reinterpret_cast<char*>(prog.data());
  while (off < static_cast<size_t>(size)) {
    ssize_t n =
        ::pread(mem.get(), bytes + off, static_cast<size_t>(size) - off, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errno_error("read seccomp filter");
    off += static_cast<size_t>(n);
  }
  return prog;
}

}  // namespace

Result<> validate_seccomp(const oci::Seccomp& s) {
  if (seccomp_disabled(s)) return {};
  auto def = find_action(s.default_action);
  if (!def) return invalid("linux.seccomp.defaultAction: unknown action " + dq(s.default_action));
  if (*def == Act::kNotify)
    return invalid("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action");
  if (s.default_errno_ret && *s.default_errno_ret > 0xffff)
    return invalid("linux.seccomp.defaultErrnoRet: " + std::to_string(*s.default_errno_ret) +
                   " out of range [0, 65535]");
  for (size_t i = 0; i < s.architectures.size(); ++i)
    if (!find_arch(s.architectures[i]))
      return invalid("linux.seccomp.architectures[" + std::to_string(i) +
                     "]: unknown architecture " + dq(s.architectures[i]));
  for (size_t i = 0; i < s.flags.size(); ++i)
    if (!find_flag(s.flags[i]))
      return invalid("linux.seccomp.flags[" + std::to_string(i) + "]: unknown flag " +
                     dq(s.flags[i]));
  bool notify = false;
  for (size_t i = 0; i < s.syscalls.size(); ++i) {
    const oci::SeccompSyscall& sc = s.syscalls[i];
    const std::string field = syscall_field(i);
    if (sc.names.empty()) return invalid(field + ".names: at least one syscall name is required");
    for (size_t n = 0; n < sc.names.size(); ++n)
      if (sc.names[n].empty())
        return invalid(field + ".names[" + std::to_string(n) + "]: empty syscall name");
    auto act = find_action(sc.action);
    if (!act) return invalid(field + ".action: unknown action " + dq(sc.action));
    if (sc.errno_ret && *sc.errno_ret > 0xffff)
      return invalid(field + ".errnoRet: " + std::to_string(*sc.errno_ret) +
                     " out of range [0, 65535]");
    if (*act == Act::kNotify) {
      notify = true;
      if (std::find(sc.names.begin(), sc.names.end(), "write") != sc.names.end())
        return invalid(field + ": SCMP_ACT_NOTIFY cannot be used for the write syscall");
    }
    for (size_t a = 0; a < sc.args.size(); ++a) {
      const std::string af = field + ".args[" + std::to_string(a) + "]";
      if (sc.args[a].index >= kMaxArgs)
        return invalid(af + ".index: " + std::to_string(sc.args[a].index) + " out of range [0, 5]");
      if (!find_op(sc.args[a].op))
        return invalid(af + ".op: unknown operator " + dq(sc.args[a].op));
    }
  }
  if (notify && s.listener_path.empty())
    return invalid("linux.seccomp.listenerPath: required when an action is SCMP_ACT_NOTIFY");
  return {};
}

Result<SeccompProgram> compile_seccomp(const oci::Seccomp& s) {
  SeccompProgram prog;
  if (seccomp_disabled(s)) return prog;
  TRY(validate_seccomp(s));

  const uint32_t def = action_value(*find_action(s.default_action), s.default_errno_ret);
  scmp_filter_ctx ctx = seccomp_init(def);
  if (!ctx) return make_error(ErrorCode::kInternal, "linux.seccomp: seccomp_init failed");
  ScopeGuard release([&] { seccomp_release(ctx); });

  // The caller sets no_new_privs itself when process.noNewPrivileges asks for it.
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); rc < 0)
    return errno_error(-rc, "linux.seccomp: unset no_new_privs attribute");

  std::vector<uint32_t> tokens{seccomp_arch_native()};
  for (size_t i = 0; i < s.architectures.size(); ++i) {
    uint32_t token = seccomp_arch_resolve_name(find_arch(s.architectures[i])->libseccomp_name);
    if (token == 0) continue;  // unknown to this libseccomp: its syscalls get the bad-arch kill
    int rc = seccomp_arch_add(ctx, token);
    // EDOM: the other byte order (s390x next to x86_64) cannot share a filter, nor run here.
    if (rc == -EDOM) continue;
    if (rc < 0 && rc != -EEXIST)
      return errno_error(
          -rc, "linux.seccomp.architectures[" + std::to_string(i) + "]: add " + s.architectures[i]);
    if (std::find(tokens.begin(), tokens.end(), token) == tokens.end()) tokens.push_back(token);
  }

  size_t names = 0;
  for (auto& sc : s.syscalls) names += sc.names.size();
  if (names > kOptimizeThreshold) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

  bool notify = false;
  for (size_t i = 0; i < s.syscalls.size(); ++i) {
    const oci::SeccompSyscall& sc = s.syscalls[i];
    const Act act = *find_action(sc.action);
    const uint32_t action = action_value(act, sc.errno_ret);
    if (action == def) continue;  // redundant; libseccomp would refuse it
    if (act == Act::kNotify) notify = true;

    std::vector<scmp_arg_cmp> conds;
    unsigned per_index[kMaxArgs] = {};
    bool split = false;
    for (auto& a : sc.args) {
      conds.push_back(scmp_arg_cmp{a.index, *find_op(a.op), a.value, a.value_two});
      if (++per_index[a.index] > 1) split = true;
    }
    for (auto& name : sc.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // not a syscall libseccomp knows here
      auto add = [&](unsigned n, const scmp_arg_cmp* c) -> Result<> {
        int rc = seccomp_rule_add_array(ctx, action, nr, n, c);
        if (rc < 0) return errno_error(-rc, syscall_field(i) + ": add rule for " + dq(name));
        return {};
      };
      if (split) {
        // Two conditions on one argument can never both hold: runc makes each its own rule (OR).
        for (auto& c : conds) TRY(add(1, &c));
      } else {
        TRY(add(static_cast<unsigned>(conds.size()), conds.data()));
      }
    }
  }

  ASSIGN_OR_RETURN(std::vector<sock_filter> filter, export_bpf(ctx));
  if (wants_enosys_stub(s)) {
    std::vector<sock_filter> stub = enosys_stub(stub_arches(s, tokens));
    filter.insert(filter.begin(), stub.begin(), stub.end());
  }
  if (filter.size() > BPF_MAXINSNS)
    return make_error(ErrorCode::kInvalidArgument,
                      "linux.seccomp: filter has " + std::to_string(filter.size()) +
                          " instructions, more than the kernel's " + std::to_string(BPF_MAXINSNS));
  prog.instructions = std::move(filter);

  for (auto& f : s.flags) prog.flags |= static_cast<unsigned>(find_flag(f)->flag);
  if (notify) {
    prog.flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  } else {
    prog.flags &= ~static_cast<unsigned>(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
  }
  return prog;
}

Result<UniqueFd> load_seccomp_program(const SeccompProgram& program) {
  if (program.empty()) return UniqueFd();
  sock_fprog fprog;
  fprog.len = static_cast<unsigned short>(program.instructions.size());
  fprog.filter = const_cast<sock_filter*>(program.instructions.data());
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags, &fprog);
  if (rc < 0) {
    if (errno == EACCES)
      return errno_error("load seccomp filter (needs no_new_privs or CAP_SYS_ADMIN)");
    return errno_error("load seccomp filter");
  }
  if (program.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) return UniqueFd(static_cast<int>(rc));
  return UniqueFd();
}

Result<UniqueFd> load_seccomp(const oci::Seccomp& seccomp) {
  ASSIGN_OR_RETURN(SeccompProgram program, compile_seccomp(seccomp));
  return load_seccomp_program(program);
}

std::string seccomp_listener_message(const std::string& state_json, int pid,
                                     const std::string& metadata) {
  json::Json msg = json::Json::object();
  msg["ociVersion"] = oci::kOciVersion;
  msg["fds"] = json::Json::array({"seccompFd"});
  msg["pid"] = pid;
  if (!metadata.empty()) msg["metadata"] = metadata;
  json::Json state = json::Json::parse(state_json, nullptr, /*allow_exceptions=*/false);
  msg["state"] = state.is_discarded() ? json::Json::object() : state;
  return msg.dump();
}

Result<> send_seccomp_listener_fd(const std::string& listener_path, int fd,
                                  const std::string& message) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (listener_path.empty() || listener_path.size() >= sizeof addr.sun_path)
    return invalid("seccomp listener " + listener_path + ": path empty or too long");
  std::memcpy(addr.sun_path, listener_path.c_str(), listener_path.size() + 1);
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return errno_error("seccomp listener: socket");
  int rc;
  do {
    rc = ::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return errno_error("connect " + listener_path);

  // A stream message needs a byte to carry the fd.
  const std::string data = message.empty() ? std::string(" ") : message;
  size_t off = 0;
  bool fd_sent = false;
  while (off < data.size()) {
    iovec iov{const_cast<char*>(data.data() + off), data.size() - off};
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (!fd_sent) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n = ::sendmsg(sock.get(), &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("send seccomp fd to " + listener_path);
    fd_sent = true;
    off += static_cast<size_t>(n);
  }
  return {};
}

std::vector<std::string> seccomp_known_actions() {
  std::vector<std::string> out;
  for (auto& a : kActions) out.push_back(a.name);
  return out;
}

std::vector<std::string> seccomp_known_operators() {
  std::vector<std::string> out;
  for (auto& o : kOps) out.push_back(o.name);
  return out;
}

std::vector<std::string> seccomp_known_archs() {
  std::vector<std::string> out;
  for (auto& a : kArchs)
    if (seccomp_arch_resolve_name(a.libseccomp_name) != 0) out.push_back(a.name);
  return out;
}

std::vector<std::string> seccomp_known_flags() {
  std::vector<std::string> out;
  for (auto& f : kFlags) out.push_back(f.name);
  return out;
}

std::vector<std::string> seccomp_supported_flags() {
  // seccomp(SET_MODE_FILTER, flag, NULL): EFAULT means the kernel accepts the flag (libseccomp's
  // probe). WAIT_KILLABLE_RECV is only valid next to NEW_LISTENER.
  std::vector<std::string> out;
  for (auto& f : kFlags) {
    if (f.flag == 0) {
      out.push_back(f.name);
      continue;
    }
    unsigned long flags = f.flag;
    if (flags == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, nullptr) < 0 && errno == EFAULT)
      out.push_back(f.name);
  }
  return out;
}

}  // namespace berth::runtime::security

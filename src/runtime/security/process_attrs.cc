// process.rlimits, oomScoreAdj, ioPriority, scheduler, linux.personality and the LSM labels:
// name tables, validation with field-named errors (so `create` fails before anything is set up),
// and the raw syscalls the container child makes right before exec.
#include "runtime/security/process_attrs.h"

#include <fcntl.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <set>

#include "runtime/security/procfs.h"

namespace berth::runtime::security {
namespace {

template <class T>
struct Named {
  const char* name;
  T value;
};

constexpr Named<int> kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

// include/uapi/linux/ioprio.h
constexpr int kIoprioClassShift = 13;
constexpr int kIoprioWhoProcess = 1;
constexpr Named<int> kIoprioClasses[] = {
    {"IOPRIO_CLASS_RT", 1}, {"IOPRIO_CLASS_BE", 2}, {"IOPRIO_CLASS_IDLE", 3}};

// include/uapi/linux/sched.h
constexpr int kSchedFifo = 1, kSchedRr = 2, kSchedDeadline = 6;
constexpr Named<int> kSchedPolicies[] = {
    {"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2},       {"SCHED_BATCH", 3},
    {"SCHED_ISO", 4},   {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6},
};
constexpr Named<uint64_t> kSchedFlags[] = {
    {"SCHED_FLAG_RESET_ON_FORK", 0x01},  {"SCHED_FLAG_RECLAIM", 0x02},
    {"SCHED_FLAG_DL_OVERRUN", 0x04},     {"SCHED_FLAG_KEEP_POLICY", 0x08},
    {"SCHED_FLAG_KEEP_PARAMS", 0x10},    {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40},
};

// struct sched_attr, SCHED_ATTR_SIZE_VER0 (glibc 2.36 has no wrapper).
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};
static_assert(sizeof(SchedAttr) == 48);

constexpr Named<unsigned long> kPersonalityDomains[] = {{"LINUX", PER_LINUX},
                                                        {"LINUX32", PER_LINUX32}};
constexpr Named<unsigned long> kPersonalityFlags[] = {
    {"UNAME26", UNAME26},
    {"ADDR_NO_RANDOMIZE", ADDR_NO_RANDOMIZE},
    {"FDPIC_FUNCPTRS", FDPIC_FUNCPTRS},
    {"MMAP_PAGE_ZERO", MMAP_PAGE_ZERO},
    {"ADDR_COMPAT_LAYOUT", ADDR_COMPAT_LAYOUT},
    {"READ_IMPLIES_EXEC", READ_IMPLIES_EXEC},
    {"ADDR_LIMIT_32BIT", ADDR_LIMIT_32BIT},
    {"SHORT_INODE", SHORT_INODE},
    {"WHOLE_SECONDS", WHOLE_SECONDS},
    {"STICKY_TIMEOUTS", STICKY_TIMEOUTS},
    {"ADDR_LIMIT_3GB", ADDR_LIMIT_3GB},
};

template <class T, size_t N>
std::optional<T> lookup(const Named<T> (&table)[N], std::string_view name) {
  for (auto& e : table)
    if (name == e.name) return e.value;
  return std::nullopt;
}

std::string dq(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

std::unexpected<Error> invalid(std::string msg) {
  return make_error(ErrorCode::kInvalidArgument, std::move(msg));
}

std::string rlimit_field(size_t i) {
  return "process.rlimits[" + std::to_string(i) + "]";
}

std::string limit_text(uint64_t v) {
  return v == RLIM_INFINITY ? "unlimited" : std::to_string(v);
}

// Cached so the parent's validation decides for the child too: inside the container /sys may be
// missing or different, but the LSM is the host's.
bool cached_flag(std::atomic<int>& cache, bool (*probe)()) {
  int v = cache.load(std::memory_order_relaxed);
  if (v < 0) {
    v = probe() ? 1 : 0;
    cache.store(v, std::memory_order_relaxed);
  }
  return v == 1;
}

std::atomic<int> g_apparmor{-1};
std::atomic<int> g_selinux{-1};

bool probe_apparmor() {
  int fd = ::open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char c = 0;
  ssize_t n = ::read(fd, &c, 1);
  ::close(fd);
  return n == 1 && c == 'Y';
}

bool probe_selinux() {
  struct stat st;
  return ::stat("/sys/fs/selinux/enforce", &st) == 0;
}

// "unconfined" on a host without AppArmor asks for what the process already is.
bool apparmor_request_is_noop(const std::string& profile) {
  return profile == "unconfined" && !apparmor_enabled();
}

Result<> validate_scheduler(const oci::Scheduler& s) {
  if (s.policy.empty()) return invalid("process.scheduler.policy: required");
  auto policy = lookup(kSchedPolicies, s.policy);
  if (!policy) return invalid("process.scheduler.policy: unknown policy " + dq(s.policy));
  if (s.nice && (*s.nice < -20 || *s.nice > 19))
    return invalid("process.scheduler.nice: " + std::to_string(*s.nice) +
                   " out of range [-20, 19]");
  const bool realtime = *policy == kSchedFifo || *policy == kSchedRr;
  int prio = s.priority.value_or(0);
  if (!realtime && prio != 0)
    return invalid("process.scheduler.priority: can only be set for SCHED_FIFO or SCHED_RR");
  if (realtime && (prio < 1 || prio > 99))
    return invalid("process.scheduler.priority: " + std::to_string(prio) +
                   " out of range [1, 99] for " + s.policy);
  if (*policy != kSchedDeadline &&
      (s.runtime.value_or(0) || s.deadline.value_or(0) || s.period.value_or(0)))
    return invalid(
        "process.scheduler: runtime, deadline and period can only be set for SCHED_DEADLINE");
  for (size_t i = 0; i < s.flags.size(); ++i)
    if (!lookup(kSchedFlags, s.flags[i]))
      return invalid("process.scheduler.flags[" + std::to_string(i) + "]: unknown flag " +
                     dq(s.flags[i]));
  return {};
}

Result<unsigned long> personality_value(const oci::Personality& p) {
  auto domain = lookup(kPersonalityDomains, p.domain);
  if (!domain) return invalid("linux.personality.domain: unknown domain " + dq(p.domain));
  unsigned long value = *domain;
  for (size_t i = 0; i < p.flags.size(); ++i) {
    auto flag = lookup(kPersonalityFlags, p.flags[i]);
    if (!flag)
      return invalid("linux.personality.flags[" + std::to_string(i) + "]: unknown flag " +
                     dq(p.flags[i]));
    value |= *flag;
  }
  return value;
}

}  // namespace

std::optional<int> rlimit_from_name(std::string_view name) {
  return lookup(kRlimits, name);
}

bool apparmor_enabled() {
  return cached_flag(g_apparmor, probe_apparmor);
}
bool selinux_enabled() {
  return cached_flag(g_selinux, probe_selinux);
}

Result<> validate_process_attrs(const oci::Process& process, const oci::Linux* linux) {
  std::set<std::string_view> seen;
  for (size_t i = 0; i < process.rlimits.size(); ++i) {
    const oci::Rlimit& rl = process.rlimits[i];
    if (!rlimit_from_name(rl.type))
      return invalid(rlimit_field(i) + ".type: unknown rlimit " + dq(rl.type));
    if (!seen.insert(rl.type).second)
      return invalid(rlimit_field(i) + ".type: duplicate rlimit " + dq(rl.type));
    if (rl.soft > rl.hard)
      return invalid(rlimit_field(i) + ": soft limit " + limit_text(rl.soft) +
                     " exceeds hard limit " + limit_text(rl.hard));
  }
  if (process.oom_score_adj && (*process.oom_score_adj < -1000 || *process.oom_score_adj > 1000))
    return invalid("process.oomScoreAdj: " + std::to_string(*process.oom_score_adj) +
                   " out of range [-1000, 1000]");
  if (process.io_priority) {
    const oci::IoPriority& io = *process.io_priority;
    if (!lookup(kIoprioClasses, io.klass))
      return invalid("process.ioPriority.class: unknown class " + dq(io.klass));
    if (io.priority < 0 || io.priority > 7)
      return invalid("process.ioPriority.priority: " + std::to_string(io.priority) +
                     " out of range [0, 7]");
  }
  if (process.scheduler) TRY(validate_scheduler(*process.scheduler));
  if (linux && linux->personality) TRY(personality_value(*linux->personality));
  if (!process.apparmor_profile.empty() && !apparmor_enabled() &&
      !apparmor_request_is_noop(process.apparmor_profile))
    return make_error(ErrorCode::kFailedPrecondition,
                      "process.apparmorProfile: apparmor profile " + dq(process.apparmor_profile) +
                          " requested but AppArmor is not enabled on this host");
  if (!process.selinux_label.empty() && !selinux_enabled())
    return make_error(ErrorCode::kFailedPrecondition,
                      "process.selinuxLabel: selinux label " + dq(process.selinux_label) +
                          " requested but SELinux is not enabled on this host");
  return {};
}

Result<> apply_rlimits(const oci::Process& process) {
  for (size_t i = 0; i < process.rlimits.size(); ++i) {
    const oci::Rlimit& rl = process.rlimits[i];
    auto resource = rlimit_from_name(rl.type);
    if (!resource) return invalid(rlimit_field(i) + ".type: unknown rlimit " + dq(rl.type));
    struct rlimit lim = {static_cast<rlim_t>(rl.soft), static_cast<rlim_t>(rl.hard)};
    if (::setrlimit(static_cast<__rlimit_resource_t>(*resource), &lim) != 0) {
      std::string value = rl.soft == rl.hard ? limit_text(rl.hard)
                                             : limit_text(rl.soft) + ":" + limit_text(rl.hard);
      return errno_error(rlimit_field(i) + ": setrlimit " + rl.type + " " + value);
    }
  }
  return {};
}

Result<> apply_oom_score_adj(const oci::Process& process) {
  if (!process.oom_score_adj) return {};
  std::string value = std::to_string(*process.oom_score_adj);
  TRY_CTX(write_procfs_file("self/oom_score_adj", value), "process.oomScoreAdj " + value);
  return {};
}

Result<> apply_io_priority(const oci::Process& process) {
  if (!process.io_priority) return {};
  const oci::IoPriority& io = *process.io_priority;
  auto klass = lookup(kIoprioClasses, io.klass);
  if (!klass) return invalid("process.ioPriority.class: unknown class " + dq(io.klass));
  int value = (*klass << kIoprioClassShift) | (io.priority & 0x7);
  if (::syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, value) != 0)
    return errno_error("process.ioPriority: ioprio_set " + io.klass + " " +
                       std::to_string(io.priority));
  return {};
}

Result<> apply_scheduler(const oci::Process& process) {
  if (!process.scheduler) return {};
  const oci::Scheduler& s = *process.scheduler;
  auto policy = lookup(kSchedPolicies, s.policy);
  if (!policy) return invalid("process.scheduler.policy: unknown policy " + dq(s.policy));
  SchedAttr attr = {};
  attr.size = sizeof attr;
  attr.sched_policy = static_cast<uint32_t>(*policy);
  for (auto& f : s.flags) {
    auto flag = lookup(kSchedFlags, f);
    if (!flag) return invalid("process.scheduler.flags: unknown flag " + dq(f));
    attr.sched_flags |= *flag;
  }
  attr.sched_nice = s.nice.value_or(0);
  attr.sched_priority = static_cast<uint32_t>(s.priority.value_or(0));
  attr.sched_runtime = s.runtime.value_or(0);
  attr.sched_deadline = s.deadline.value_or(0);
  attr.sched_period = s.period.value_or(0);
  if (::syscall(SYS_sched_setattr, 0, &attr, 0) != 0)
    return errno_error("process.scheduler: sched_setattr " + s.policy);
  return {};
}

Result<> apply_personality(const oci::Linux& linux) {
  if (!linux.personality) return {};
  ASSIGN_OR_RETURN(unsigned long value, personality_value(*linux.personality));
  if (::personality(value) == -1)
    return errno_error("linux.personality: personality " + linux.personality->domain);
  return {};
}

Result<> apply_lsm_labels(const oci::Process& process) {
  if (!process.apparmor_profile.empty() && !apparmor_request_is_noop(process.apparmor_profile)) {
    if (!apparmor_enabled())
      return make_error(ErrorCode::kFailedPrecondition,
                        "process.apparmorProfile: apparmor profile " +
                            dq(process.apparmor_profile) +
                            " requested but AppArmor is not enabled on this host");
    // aa_change_onexec(): the LSM-specific file where stacking exposes it, else the shared one.
    std::string cmd = "exec " + process.apparmor_profile;
    auto r = write_procfs_file("thread-self/attr/apparmor/exec", cmd);
    if (!r && r.error().sys_errno() == ENOENT) r = write_procfs_file("thread-self/attr/exec", cmd);
    if (!r) return std::unexpected(std::move(r).error().wrap("process.apparmorProfile"));
  }
  if (!process.selinux_label.empty()) {
    if (!selinux_enabled())
      return make_error(ErrorCode::kFailedPrecondition,
                        "process.selinuxLabel: selinux label " + dq(process.selinux_label) +
                            " requested but SELinux is not enabled on this host");
    TRY_CTX(write_procfs_file("thread-self/attr/exec", process.selinux_label),
            "process.selinuxLabel");
  }
  return {};
}

}  // namespace berth::runtime::security

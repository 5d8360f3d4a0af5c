// Capabilities without libcap: the name table, and the user switch + capability sets installed with
// raw prctl/capget/capset in the order the kernel needs. Every requested set is clamped to the
// bounding set the runtime itself runs with, so "all capabilities" (--privileged) works on hosts
// whose bounding set lacks some (here: CAP_SYS_RESOURCE), as runc and crun behave.
#include "runtime/security/capabilities.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include "runtime/security/procfs.h"

namespace berth::runtime::security {
namespace {

// Index = capability number (include/uapi/linux/capability.h, 0..40 as of Linux 5.9+).
constexpr const char* kCapNames[] = {
    "CAP_CHOWN",               // 0
    "CAP_DAC_OVERRIDE",        // 1
    "CAP_DAC_READ_SEARCH",     // 2
    "CAP_FOWNER",              // 3
    "CAP_FSETID",              // 4
    "CAP_KILL",                // 5
    "CAP_SETGID",              // 6
    "CAP_SETUID",              // 7
    "CAP_SETPCAP",             // 8
    "CAP_LINUX_IMMUTABLE",     // 9
    "CAP_NET_BIND_SERVICE",    // 10
    "CAP_NET_BROADCAST",       // 11
    "CAP_NET_ADMIN",           // 12
    "CAP_NET_RAW",             // 13
    "CAP_IPC_LOCK",            // 14
    "CAP_IPC_OWNER",           // 15
    "CAP_SYS_MODULE",          // 16
    "CAP_SYS_RAWIO",           // 17
    "CAP_SYS_CHROOT",          // 18
    "CAP_SYS_PTRACE",          // 19
    "CAP_SYS_PACCT",           // 20
    "CAP_SYS_ADMIN",           // 21
    "CAP_SYS_BOOT",            // 22
    "CAP_SYS_NICE",            // 23
    "CAP_SYS_RESOURCE",        // 24
    "CAP_SYS_TIME",            // 25
    "CAP_SYS_TTY_CONFIG",      // 26
    "CAP_MKNOD",               // 27
    "CAP_LEASE",               // 28
    "CAP_AUDIT_WRITE",         // 29
    "CAP_AUDIT_CONTROL",       // 30
    "CAP_SETFCAP",             // 31
    "CAP_MAC_OVERRIDE",        // 32
    "CAP_MAC_ADMIN",           // 33
    "CAP_SYSLOG",              // 34
    "CAP_WAKE_ALARM",          // 35
    "CAP_BLOCK_SUSPEND",       // 36
    "CAP_AUDIT_READ",          // 37
    "CAP_PERFMON",             // 38
    "CAP_BPF",                 // 39
    "CAP_CHECKPOINT_RESTORE",  // 40
};
constexpr int kKnownCaps = static_cast<int>(sizeof kCapNames / sizeof kCapNames[0]);
static_assert(kKnownCaps == 41);

std::atomic<int> g_last_cap{-1};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

// The kernel answers PR_CAPBSET_READ with EINVAL past the last capability it knows: a probe that
// needs no /proc (the child may run before /proc is mounted).
int probe_last_cap() {
  int cap = 63;
  while (cap > 0 && ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0 && errno == EINVAL) --cap;
  return cap;
}

int read_last_cap() {
  int fd = ::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[16];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n > 0) {
      int v = 0;
      bool ok = false;
      for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) {
        v = v * 10 + (buf[i] - '0');
        ok = true;
      }
      if (ok && v > 0 && v < 64) return v;
    }
  }
  return probe_last_cap();
}

using CapMask = uint64_t;

constexpr CapMask bit(int cap) {
  return CapMask{1} << cap;
}

// Unknown names were rejected by validate_capabilities; here they are an error too, never ignored.
Result<CapMask> to_mask(const std::vector<std::string>& names, std::string_view field) {
  CapMask m = 0;
  for (auto& n : names) {
    auto cap = cap_from_name(n);
    if (!cap)
      return make_error(ErrorCode::kInvalidArgument,
                        std::string(field) + ": unknown capability \"" + n + "\"");
    m |= bit(*cap);
  }
  return m;
}

// The bounding set this process holds now: what it can hand on at all.
CapMask current_bounding(int last) {
  CapMask m = 0;
  for (int cap = 0; cap <= last; ++cap)
    if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) m |= bit(cap);
  return m;
}

Error cap_error(std::string_view field, std::string_view what, int cap) {
  std::string msg(field);
  msg += ": ";
  msg += what;
  msg += ' ';
  msg += cap_name(cap);
  return Error::last(msg);
}

// "deny" in /proc/self/setgroups: a user namespace whose gid map was written without setgroups.
// Read through the verified procfs open: a wrong "deny" would leave the runtime's supplementary
// groups on the container process.
bool setgroups_denied() {
  auto fd = open_procfs_file("self/setgroups", O_RDONLY);
  if (!fd) return false;
  char buf[16] = {};
  ssize_t n = ::read(fd->get(), buf, sizeof buf - 1);
  return n >= 4 && std::memcmp(buf, "deny", 4) == 0;
}

int sys_capget(__user_cap_header_struct* h, __user_cap_data_struct* d) {
  return static_cast<int>(::syscall(SYS_capget, h, d));
}
int sys_capset(__user_cap_header_struct* h, const __user_cap_data_struct* d) {
  return static_cast<int>(::syscall(SYS_capset, h, d));
}

}  // namespace

std::optional<int> cap_from_name(std::string_view name) {
  if (name.size() < 5 || !iequals(name.substr(0, 4), "CAP_")) return std::nullopt;
  for (int i = 0; i < kKnownCaps; ++i)
    if (iequals(name, kCapNames[i])) return i;
  return std::nullopt;
}

std::string cap_name(int cap) {
  if (cap < 0 || cap >= kKnownCaps) return "";
  return kCapNames[cap];
}

int last_cap() {
  int v = g_last_cap.load(std::memory_order_relaxed);
  if (v < 0) {
    v = read_last_cap();
    g_last_cap.store(v, std::memory_order_relaxed);
  }
  return v;
}

std::vector<std::string> all_cap_names() {
  return {std::begin(kCapNames), std::end(kCapNames)};
}

Result<> validate_capabilities(const oci::Capabilities& caps, const std::string& field) {
  const std::pair<const char*, const std::vector<std::string>*> sets[] = {
      {"bounding", &caps.bounding},       {"effective", &caps.effective},
      {"inheritable", &caps.inheritable}, {"permitted", &caps.permitted},
      {"ambient", &caps.ambient},
  };
  for (auto& [name, list] : sets)
    for (auto& cap : *list)
      if (!cap_from_name(cap))
        return make_error(ErrorCode::kInvalidArgument,
                          field + "." + name + ": unknown capability \"" + cap + "\"");
  return {};
}

Result<CapabilitySets> current_capabilities() {
  CapabilitySets sets;
  CapabilitySets* out = &sets;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (sys_capget(&hdr, data) != 0) return errno_error("capget");
  auto join = [](uint32_t lo, uint32_t hi) { return CapMask{lo} | (CapMask{hi} << 32); };
  out->effective = join(data[0].effective, data[1].effective);
  out->permitted = join(data[0].permitted, data[1].permitted);
  out->inheritable = join(data[0].inheritable, data[1].inheritable);
  int last = last_cap();
  out->bounding = current_bounding(last);
  out->ambient = 0;
  for (int cap = 0; cap <= last; ++cap)
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1) out->ambient |= bit(cap);
  return sets;
}

Result<> apply_user_and_capabilities(const oci::Process& process) {
  const oci::User& user = process.user;
  ::umask(static_cast<mode_t>(user.umask.value_or(022) & 07777));

  const int last = last_cap();
  const CapMask host = current_bounding(last);
  CapabilitySets want;
  if (process.capabilities) {
    const oci::Capabilities& c = *process.capabilities;
    ASSIGN_OR_RETURN(want.bounding, to_mask(c.bounding, "process.capabilities.bounding"));
    ASSIGN_OR_RETURN(want.effective, to_mask(c.effective, "process.capabilities.effective"));
    ASSIGN_OR_RETURN(want.permitted, to_mask(c.permitted, "process.capabilities.permitted"));
    ASSIGN_OR_RETURN(want.inheritable, to_mask(c.inheritable, "process.capabilities.inheritable"));
    ASSIGN_OR_RETURN(want.ambient, to_mask(c.ambient, "process.capabilities.ambient"));
  }
  // Clamp: what the host's bounding set lacks (or the kernel does not know) is left out.
  want.bounding &= host;
  want.effective &= host;
  want.permitted &= host;
  want.inheritable &= host;
  want.ambient &= host;

  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return errno_error("prctl PR_SET_KEEPCAPS");

  for (int cap = 0; cap <= last; ++cap) {
    if (!(host & bit(cap)) || (want.bounding & bit(cap))) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return std::unexpected(cap_error("process.capabilities.bounding", "drop", cap));
  }

  if (setgroups_denied()) {
    if (!user.additional_gids.empty())
      return make_error(ErrorCode::kFailedPrecondition,
                        "process.user.additionalGids: cannot set additional groups in a user "
                        "namespace where setgroups is denied");
  } else {
    static_assert(sizeof(gid_t) == sizeof(uint32_t));
    const gid_t* gids = reinterpret_cast<const gid_t*>(user.additional_gids.data());
    if (::setgroups(user.additional_gids.size(), gids) != 0)
      return errno_error("process.user.additionalGids: setgroups");
  }
  if (::setresgid(user.gid, user.gid, user.gid) != 0)
    return errno_error("process.user.gid: setresgid " + std::to_string(user.gid));
  if (::setresuid(user.uid, user.uid, user.uid) != 0)
    return errno_error("process.user.uid: setresuid " + std::to_string(user.uid));

  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(want.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(want.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(want.inheritable >> (32 * i));
  }
  if (sys_capset(&hdr, data) != 0) return errno_error("process.capabilities: capset");

  // Ambient caps need the cap in both permitted and inheritable (the kernel says EPERM otherwise).
  // runc ignores a failed raise (runc spec's default asks for ambient caps without inheritable
  // ones), so one that cannot be raised is skipped, not fatal.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return errno_error("process.capabilities.ambient: clear");
  for (int cap = 0; cap <= last; ++cap) {
    if (!(want.ambient & bit(cap))) continue;
    if (!(want.inheritable & bit(cap)) || !(want.permitted & bit(cap))) continue;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0 && errno != EPERM)
      return std::unexpected(cap_error("process.capabilities.ambient", "raise", cap));
  }
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return errno_error("prctl PR_SET_KEEPCAPS");
  return {};
}

}  // namespace berth::runtime::security

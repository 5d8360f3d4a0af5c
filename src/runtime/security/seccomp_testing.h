// Test helpers for the seccomp tests (seccomp_test.cc, seccomp_cache_test.cc): rule builders, a
// fixture with a temporary directory, loading a filter in a child, and a profile shaped like
// Docker's default on amd64.
#pragma once

#include <gtest/gtest.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/strings.h"
#include "runtime/security/seccomp.h"

namespace berth::runtime::security::testing {

inline oci::SeccompSyscall rule(std::vector<std::string> names, std::string action,
                                std::optional<uint32_t> errno_ret = std::nullopt,
                                std::vector<oci::SeccompArg> args = {}) {
  oci::SeccompSyscall s;
  s.names = std::move(names);
  s.action = std::move(action);
  s.errno_ret = errno_ret;
  s.args = std::move(args);
  return s;
}

inline oci::SeccompArg arg(unsigned index, std::string op, uint64_t value, uint64_t value_two = 0) {
  oci::SeccompArg a;
  a.index = index;
  a.op = std::move(op);
  a.value = value;
  a.value_two = value_two;
  return a;
}

inline oci::Seccomp allow_by_default() {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  return s;
}

// Loads s in the child with no_new_privs (no CAP_SYS_ADMIN needed), then runs check.
inline std::string load_then(const oci::Seccomp& s, const std::function<std::string()>& check) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return "no_new_privs";
  auto fd = load_seccomp(s);
  if (!fd) return fd.error().message();
  return check();
}

// A temporary directory, removed after the test.
class SeccompDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-seccomp-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)remove_all(dir_); }
  std::string dir_;
};

// A profile shaped like Docker's default on amd64 (written from scratch, not copied): ERRNO by
// default, three arches, ~300 allowed syscalls in one entry including i386-only names, and
// argument rules for personality, clone, socket, clone3.
inline oci::Seccomp docker_like_profile() {
  const std::vector<std::string> denied = split(
      "acct add_key bpf clock_adjtime clock_settime clone clone3 create_module delete_module "
      "finit_module fsconfig fsmount fsopen fspick get_kernel_syms get_mempolicy init_module "
      "ioperm iopl kcmp kexec_file_load kexec_load keyctl lookup_dcookie mbind mount "
      "mount_setattr move_mount move_pages name_to_handle_at nfsservctl open_by_handle_at "
      "open_tree perf_event_open personality pivot_root process_vm_readv process_vm_writev "
      "ptrace query_module quotactl reboot request_key set_mempolicy setns settimeofday socket "
      "swapoff swapon sysfs syslog umount2 unshare uselib userfaultfd ustat vhangup vm86 "
      "vm86old _sysctl afs_syscall tuxcall security getpmsg putpmsg",
      ' ');
  std::vector<std::string> allowed;
  for (int nr = 0; nr < 460 && allowed.size() < 290; ++nr) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
    if (!name) continue;
    if (std::find(denied.begin(), denied.end(), name) == denied.end()) allowed.emplace_back(name);
    free(name);
  }
  for (auto& n :
       split("_llseek _newselect chown32 fchown32 fcntl64 fstat64 fstatat64 fstatfs64 ftruncate64 "
             "getegid32 geteuid32 getgid32 getgroups32 getresgid32 getresuid32 getuid32 ipc "
             "lchown32 lstat64 mmap2 recv send sendfile64 setfsgid32 setfsuid32 setgid32 "
             "setgroups32 setregid32 setresgid32 setresuid32 setreuid32 setuid32 sigreturn "
             "socketcall stat64 statfs64 truncate64 ugetrlimit waitpid sigprocmask",
             ' '))
    allowed.push_back(n);
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ERRNO";
  s.default_errno_ret = EPERM;
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  s.syscalls.push_back(rule(allowed, "SCMP_ACT_ALLOW"));
  for (uint64_t persona : {0x0ull, 0x8ull, 0x20000ull, 0x20008ull, 0xffffffffull})
    s.syscalls.push_back(
        rule({"personality"}, "SCMP_ACT_ALLOW", std::nullopt, {arg(0, "SCMP_CMP_EQ", persona)}));
  s.syscalls.push_back(rule({"clone"}, "SCMP_ACT_ALLOW", std::nullopt,
                            {arg(0, "SCMP_CMP_MASKED_EQ", 2114060288, 0)}));
  s.syscalls.push_back(rule({"clone3"}, "SCMP_ACT_ERRNO", ENOSYS));
  s.syscalls.push_back(
      rule({"socket"}, "SCMP_ACT_ALLOW", std::nullopt, {arg(0, "SCMP_CMP_NE", 40)}));
  return s;
}

}  // namespace berth::runtime::security::testing

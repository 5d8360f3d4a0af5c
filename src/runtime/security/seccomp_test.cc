// seccomp: validation messages, and filters loaded for real in forked children (with
// no_new_privs, so no root needed): errno rules, argument filters, kill/trap actions, the -ENOSYS
// stub, a Docker-sized profile, and SCMP_ACT_NOTIFY through a listener socket.
#include "runtime/security/seccomp.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "base/file.h"
#include "base/json.h"
#include "runtime/security/seccomp_testing.h"
#include "runtime/security/testing_child.h"

namespace berth::runtime::security {
namespace {

using namespace testing;  // NOLINT: rule(), arg(), run_in_child() ...

std::string validation_error(const oci::Seccomp& s) {
  auto r = validate_seccomp(s);
  return r ? std::string("<ok>") : r.error().message();
}

TEST(Seccomp, ValidationNamesFieldAndValue) {
  oci::Seccomp s = allow_by_default();
  s.syscalls = {rule({"read"}, "SCMP_ACT_ALLOW"), rule({"write"}, "SCMP_ACT_ALLOW"),
                rule({"open"}, "SCMP_ACT_ERRNO"), rule({"mkdir"}, "SCMP_ACT_FOO")};
  EXPECT_EQ(validation_error(s),
            "linux.seccomp.syscalls[3].action: unknown action \"SCMP_ACT_FOO\"");

  s = allow_by_default();
  s.default_action = "SCMP_ACT_NOPE";
  EXPECT_EQ(validation_error(s), "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\"");
  s.default_action = "SCMP_ACT_NOTIFY";
  EXPECT_EQ(validation_error(s),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action");

  s = allow_by_default();
  s.architectures.push_back("SCMP_ARCH_VAX");
  EXPECT_EQ(validation_error(s),
            "linux.seccomp.architectures[3]: unknown architecture \"SCMP_ARCH_VAX\"");

  s = allow_by_default();
  s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_FOO"};
  EXPECT_EQ(validation_error(s),
            "linux.seccomp.flags[1]: unknown flag \"SECCOMP_FILTER_FLAG_FOO\"");

  s = allow_by_default();
  s.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO", std::nullopt,
                     {arg(1, "SCMP_CMP_EQ", 1), arg(2, "SCMP_CMP_BETWEEN", 1)})};
  EXPECT_EQ(validation_error(s),
            "linux.seccomp.syscalls[0].args[1].op: unknown operator \"SCMP_CMP_BETWEEN\"");
  s.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO", std::nullopt, {arg(6, "SCMP_CMP_EQ", 1)})};
  EXPECT_EQ(validation_error(s), "linux.seccomp.syscalls[0].args[0].index: 6 out of range [0, 5]");
  s.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO", 70000)};
  EXPECT_EQ(validation_error(s),
            "linux.seccomp.syscalls[0].errnoRet: 70000 out of range [0, 65535]");
  s.syscalls = {rule({}, "SCMP_ACT_ERRNO")};
  EXPECT_EQ(validation_error(s),
            "linux.seccomp.syscalls[0].names: at least one syscall name is required");
  s.syscalls = {rule({"read", ""}, "SCMP_ACT_ERRNO")};
  EXPECT_EQ(validation_error(s), "linux.seccomp.syscalls[0].names[1]: empty syscall name");

  auto r = validate_seccomp(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

TEST(Seccomp, NotifyNeedsListenerAndIsRefusedForWrite) {
  oci::Seccomp s = allow_by_default();
  s.syscalls = {rule({"mkdir"}, "SCMP_ACT_NOTIFY")};
  EXPECT_EQ(validation_error(s),
            "linux.seccomp.listenerPath: required when an action is SCMP_ACT_NOTIFY");
  s.listener_path = "/run/agent.sock";
  EXPECT_EQ(validation_error(s), "<ok>");
  s.syscalls = {rule({"read", "write"}, "SCMP_ACT_NOTIFY")};
  EXPECT_EQ(validation_error(s),
            "linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY cannot be used for the write syscall");
}

TEST(Seccomp, AcceptsEveryKnownName) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ERRNO";
  s.architectures = seccomp_known_archs();
  s.flags = seccomp_known_flags();
  s.listener_path = "/x";
  for (auto& a : seccomp_known_actions()) s.syscalls.push_back(rule({"getpid"}, a));
  for (auto& op : seccomp_known_operators())
    s.syscalls.push_back(rule({"mkdir"}, "SCMP_ACT_ALLOW", std::nullopt, {arg(1, op, 1, 1)}));
  EXPECT_EQ(validation_error(s), "<ok>");
  auto archs = seccomp_known_archs();
  for (const char* want :
       {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390X", "SCMP_ARCH_RISCV64"})
    EXPECT_NE(std::find(archs.begin(), archs.end(), want), archs.end()) << want;
  EXPECT_EQ(seccomp_known_actions().size(), 9u);
  EXPECT_EQ(seccomp_known_operators().size(), 7u);
  auto supported = seccomp_supported_flags();
  EXPECT_NE(std::find(supported.begin(), supported.end(), "SECCOMP_FILTER_FLAG_LOG"),
            supported.end());
}

TEST(Seccomp, DisabledWhenEmptyAndUnknownSyscallsAreSkipped) {
  auto empty = compile_seccomp(oci::Seccomp{});
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  auto fd = load_seccomp_program(*empty);
  ASSERT_TRUE(fd);
  EXPECT_FALSE(fd->valid());

  oci::Seccomp s = allow_by_default();
  s.syscalls = {rule({"no_such_syscall", "mkdir"}, "SCMP_ACT_ERRNO"),
                rule({"getpid"}, "SCMP_ACT_ALLOW")};  // same as default: dropped
  auto prog = compile_seccomp(s);
  ASSERT_TRUE(prog) << prog.error().message();
  EXPECT_FALSE(prog->empty());
  EXPECT_EQ(prog->flags, 0u);
}

TEST(Seccomp, ForeignArchesAndNamesCompile) {
  oci::Seccomp s = allow_by_default();
  // Every arch libseccomp knows, big-endian ones included, and names from other arches.
  s.architectures = seccomp_known_archs();
  s.syscalls = {rule({"socketcall", "_llseek", "arm_fadvise64_64", "s390_pci_mmio_read", "mkdir"},
                     "SCMP_ACT_ERRNO", std::nullopt, {arg(0, "SCMP_CMP_EQ", 1)})};
  auto prog = compile_seccomp(s);
  ASSERT_TRUE(prog) << prog.error().message();
  EXPECT_FALSE(prog->empty());
}

TEST_F(SeccompDir, ErrnoRuleReturnsErrnoRetAndDefaultsToEperm) {
  std::string path = dir_ + "/d";
  auto res = run_in_child([&] {
    oci::Seccomp s = allow_by_default();
    s.syscalls = {rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", 42),
                  rule({"rmdir"}, "SCMP_ACT_ERRNO")};
    return load_then(s, [&] {
      errno = 0;
      if (syscall(SYS_mkdir, path.c_str(), 0755) != -1 || errno != 42)
        return "mkdir errno " + std::to_string(errno);
      errno = 0;
      if (mkdir(path.c_str(), 0755) != -1 || errno != 42)
        return "libc mkdir errno " + std::to_string(errno);
      errno = 0;
      if (syscall(SYS_rmdir, path.c_str()) != -1 || errno != EPERM)
        return "rmdir errno " + std::to_string(errno);
      return std::string();
    });
  });
  EXPECT_TRUE(res.ok()) << res.message;
  EXPECT_FALSE(path_exists(path));
}

TEST_F(SeccompDir, ArgumentFilterDeniesOnlyMatchingMode) {
  auto res = run_in_child([&] {
    oci::Seccomp s = allow_by_default();
    s.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO", std::nullopt, {arg(1, "SCMP_CMP_EQ", 0711)})};
    return load_then(s, [&] {
      errno = 0;
      if (syscall(SYS_mkdir, (dir_ + "/denied").c_str(), 0711) != -1 || errno != EPERM)
        return "mode 0711: errno " + std::to_string(errno);
      if (syscall(SYS_mkdir, (dir_ + "/allowed").c_str(), 0755) != 0)
        return "mode 0755 refused: errno " + std::to_string(errno);
      return std::string();
    });
  });
  EXPECT_TRUE(res.ok()) << res.message;
  EXPECT_TRUE(path_exists(dir_ + "/allowed"));
  EXPECT_FALSE(path_exists(dir_ + "/denied"));
}

TEST_F(SeccompDir, ConditionsOnTheSameArgumentAreAlternatives) {
  auto res = run_in_child([&] {
    oci::Seccomp s = allow_by_default();
    s.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO", 13,
                       {arg(1, "SCMP_CMP_EQ", 0711), arg(1, "SCMP_CMP_EQ", 0700)})};
    return load_then(s, [&] {
      for (int mode : {0711, 0700}) {
        errno = 0;
        if (syscall(SYS_mkdir, (dir_ + "/x").c_str(), mode) != -1 || errno != 13)
          return "mode " + std::to_string(mode) + ": errno " + std::to_string(errno);
      }
      if (syscall(SYS_mkdir, (dir_ + "/y").c_str(), 0750) != 0) return std::string("0750 refused");
      return std::string();
    });
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST_F(SeccompDir, MaskedEqualMatchesMaskedBits) {
  auto res = run_in_child([&] {
    oci::Seccomp s = allow_by_default();
    // Deny when any group bit is set: (mode & 0070) != 0 <=> not (mode & 0070) == 0.
    s.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO", 7, {arg(1, "SCMP_CMP_MASKED_EQ", 0070, 0050)})};
    return load_then(s, [&] {
      errno = 0;
      if (syscall(SYS_mkdir, (dir_ + "/a").c_str(), 0751) != -1 || errno != 7)
        return "0751: errno " + std::to_string(errno);
      if (syscall(SYS_mkdir, (dir_ + "/b").c_str(), 0771) != 0) return std::string("0771 refused");
      return std::string();
    });
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST(Seccomp, KillProcessAndTrapEndTheChildWithSigsys) {
  for (const char* action : {"SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_TRAP"}) {
    auto res = run_in_child([&] {
      oci::Seccomp s = allow_by_default();
      s.syscalls = {rule({"getppid"}, action)};
      return load_then(s, [] {
        syscall(SYS_getppid);
        return std::string("survived getppid");
      });
    });
    EXPECT_TRUE(WIFSIGNALED(res.status)) << action << ": " << res.message;
    if (WIFSIGNALED(res.status)) {
      EXPECT_EQ(WTERMSIG(res.status), SIGSYS) << action;
    }
  }
}

TEST(Seccomp, SyscallsNewerThanTheProfileGetEnosys) {
  auto res = run_in_child([] {
    oci::Seccomp s;
    s.default_action = "SCMP_ACT_ERRNO";
    s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    // What the child needs after loading: write its report and exit.
    s.syscalls = {rule(
        {"write", "exit", "exit_group", "rt_sigreturn", "brk", "mmap", "munmap", "futex", "getpid"},
        "SCMP_ACT_ALLOW")};
    return load_then(s, [] {
      if (syscall(SYS_getpid) <= 0) return std::string("getpid denied");
      errno = 0;
      if (syscall(SYS_mkdir, "/nonexistent-berth", 0700) != -1 || errno != EPERM)
        return "known syscall: errno " + std::to_string(errno);
      errno = 0;
      if (syscall(SYS_pidfd_open, getpid(), 0) != -1 || errno != ENOSYS)
        return "newer syscall: errno " + std::to_string(errno);
      errno = 0;
      if (syscall(1000) != -1 || errno != ENOSYS) return "nr 1000: errno " + std::to_string(errno);
      return std::string();
    });
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST(Seccomp, NoStubWhenDefaultIsAllowOrEnosys) {
  oci::Seccomp s = allow_by_default();
  s.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO")};
  auto with_allow = compile_seccomp(s);
  s.default_action = "SCMP_ACT_ERRNO";
  s.syscalls = {rule({"mkdir"}, "SCMP_ACT_ALLOW")};
  auto with_errno = compile_seccomp(s);
  s.default_errno_ret = ENOSYS;
  auto with_enosys = compile_seccomp(s);
  ASSERT_TRUE(with_allow && with_errno && with_enosys);
  auto is_stub_head = [](const SeccompProgram& p) {
    // The stub's second instruction compares the arch with a jump to its section.
    return p.instructions.size() > 3 && p.instructions[2].code == (BPF_JMP | BPF_JA);
  };
  EXPECT_FALSE(is_stub_head(*with_allow));
  EXPECT_TRUE(is_stub_head(*with_errno));
  EXPECT_FALSE(is_stub_head(*with_enosys));
}

TEST(Seccomp, FlagsReachTheKernel) {
  oci::Seccomp s = allow_by_default();
  s.flags = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
             "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  s.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO")};
  auto prog = compile_seccomp(s);
  ASSERT_TRUE(prog);
  // TSYNC is implied (one thread); WAIT_KILLABLE_RECV only means something with a listener.
  EXPECT_EQ(prog->flags, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW);
  auto res = run_in_child([&] { return load_then(s, [] { return std::string(); }); });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST(Seccomp, DockerSizedProfileCompilesAndEnforces) {
  oci::Seccomp s = docker_like_profile();
  size_t names = 0;
  for (auto& r : s.syscalls) names += r.names.size();
  EXPECT_GE(names, 300u);
  auto t0 = std::chrono::steady_clock::now();
  auto prog = compile_seccomp(s);
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(prog) << prog.error().message();
  EXPECT_LE(prog->instructions.size(), static_cast<size_t>(BPF_MAXINSNS));
  std::printf("docker-sized profile: %zu names, %zu BPF instructions, compiled in %.2f ms\n", names,
              prog->instructions.size(),
              std::chrono::duration<double, std::milli>(t1 - t0).count());
  auto res = run_in_child([&] {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return std::string("no_new_privs");
    if (auto r = load_seccomp_program(*prog); !r) return r.error().message();
    if (syscall(SYS_getppid) <= 0) return std::string("getppid denied");
    errno = 0;
    if (syscall(SYS_unshare, 0) != -1 || errno != EPERM)
      return "unshare: errno " + std::to_string(errno);
    errno = 0;
    if (syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS)
      return "clone3: errno " + std::to_string(errno);
    errno = 0;
    if (syscall(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0) != -1 || errno != EPERM)
      return "socket(AF_VSOCK): errno " + std::to_string(errno);
    int sock = static_cast<int>(syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0));
    if (sock < 0) return std::string("socket(AF_UNIX) denied");
    if (syscall(SYS_personality, 0xffffffff) < 0) return std::string("personality query denied");
    errno = 0;
    if (syscall(SYS_personality, 0x40000) != -1 || errno != EPERM)
      return "personality(ADDR_NO_RANDOMIZE): errno " + std::to_string(errno);
    return std::string();
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST(Seccomp, ListenerMessageIsContainerProcessState) {
  std::string msg = seccomp_listener_message(R"({"id":"c1","status":"creating"})", 42, "meta");
  auto j = json::Json::parse(msg);
  EXPECT_EQ(j["ociVersion"], oci::kOciVersion);
  EXPECT_EQ(j["fds"], json::Json::array({"seccompFd"}));
  EXPECT_EQ(j["pid"], 42);
  EXPECT_EQ(j["metadata"], "meta");
  EXPECT_EQ(j["state"]["id"], "c1");
  EXPECT_FALSE(json::Json::parse(seccomp_listener_message("{}", 1, "")).contains("metadata"));
}

// The agent side of SCMP_ACT_NOTIFY: accept, read the state with the fd, answer mkdir with 77.
TEST(Seccomp, NotifySendsListenerFdAndAgentAnswersSyscalls) {
  char tmpl[] = "/tmp/berth-notify-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ScopeGuard cleanup([&] { (void)remove_all(dir); });
  std::string sock_path = dir + "/agent.sock";
  UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener.valid());
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, sock_path.c_str());
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);

  oci::Seccomp s = allow_by_default();
  s.listener_path = sock_path;
  s.listener_metadata = "hello";
  s.syscalls = {rule({"mkdir"}, "SCMP_ACT_NOTIFY")};
  std::string message = seccomp_listener_message(R"({"id":"c1"})", 1234, s.listener_metadata);

  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    listener.reset();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(10);
    auto fd = load_seccomp(s);
    if (!fd || !fd->valid()) _exit(11);
    if (!send_seccomp_listener_fd(s.listener_path, fd->get(), message)) _exit(12);
    fd->reset();
    errno = 0;
    long rc = syscall(SYS_mkdir, "/nonexistent-berth/x", 0700);
    _exit(rc == -1 && errno == 77 ? 0 : 13);
  }
  ScopeGuard reap([&] {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  });
  pollfd pfd{listener.get(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 10000), 1) << "child never connected";
  UniqueFd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(conn.valid());
  std::string got;
  int notify_fd = -1;
  while (got.size() < message.size()) {
    char buf[4096];
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
        std::memcpy(&notify_fd, CMSG_DATA(c), sizeof(int));
  }
  EXPECT_EQ(got, message);
  ASSERT_GE(notify_fd, 0);
  UniqueFd notify(notify_fd);

  seccomp_notif* req = nullptr;
  seccomp_notif_resp* resp = nullptr;
  ASSERT_EQ(seccomp_notify_alloc(&req, &resp), 0);
  ScopeGuard free_notif([&] { seccomp_notify_free(req, resp); });
  pollfd npfd{notify.get(), POLLIN, 0};
  ASSERT_EQ(poll(&npfd, 1, 10000), 1) << "no notification";
  ASSERT_EQ(seccomp_notify_receive(notify.get(), req), 0);
  EXPECT_EQ(req->data.nr, SYS_mkdir);
  EXPECT_EQ(req->data.args[1], 0700u);
  resp->id = req->id;
  resp->val = 0;
  resp->error = -77;
  resp->flags = 0;
  ASSERT_EQ(seccomp_notify_respond(notify.get(), resp), 0);

  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  reap.dismiss();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
}

}  // namespace
}  // namespace berth::runtime::security

// The whole layer: validate_security's field-named errors, and prepare + apply in a forked child
// as root, checked the way the container process would see itself.
#include "runtime/security/security.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/file.h"
#include "base/strings.h"
#include "runtime/security/capabilities.h"
#include "runtime/security/seccomp_testing.h"
#include "runtime/security/testing_child.h"

namespace berth::runtime::security {
namespace {

using namespace testing;  // NOLINT: run_in_child(), rule() ...

std::string validation_error(const oci::Process& p, const oci::Linux* linux) {
  auto r = validate_security(p, linux);
  return r ? std::string("<ok>") : r.error().message();
}

TEST(Security, ValidateNamesTheFirstBadField) {
  oci::Process p;
  oci::Linux linux;
  EXPECT_EQ(validation_error(p, &linux), "<ok>");
  EXPECT_EQ(validation_error(p, nullptr), "<ok>");

  p.capabilities = oci::Capabilities{};
  p.capabilities->permitted = {"CAP_FOO"};
  EXPECT_EQ(validation_error(p, &linux),
            "process.capabilities.permitted: unknown capability \"CAP_FOO\"");
  p.capabilities.reset();

  p.user.umask = 01000;
  EXPECT_EQ(validation_error(p, &linux), "process.user.umask: 512 out of range [0, 0777]");
  p.user.umask = 077;

  p.oom_score_adj = 5000;
  EXPECT_EQ(validation_error(p, &linux), "process.oomScoreAdj: 5000 out of range [-1000, 1000]");
  p.oom_score_adj.reset();

  linux.seccomp = allow_by_default();
  linux.seccomp->syscalls = {rule({"mkdir"}, "SCMP_ACT_FOO")};
  EXPECT_EQ(validation_error(p, &linux),
            "linux.seccomp.syscalls[0].action: unknown action \"SCMP_ACT_FOO\"");
  auto prepared = prepare_security(p, &linux);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().code(), ErrorCode::kInvalidArgument);
}

class SecurityAsRoot : public SeccompDir {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    SeccompDir::SetUp();
  }
};

oci::Process unprivileged_process(bool no_new_privileges) {
  oci::Process p;
  p.user.uid = 1000;
  p.user.gid = 1000;
  p.no_new_privileges = no_new_privileges;
  p.oom_score_adj = 300;
  p.rlimits = {oci::Rlimit{"RLIMIT_NOFILE", 256, 256}};
  oci::Capabilities c;
  c.bounding = c.permitted = c.effective = {"CAP_CHOWN"};
  p.capabilities = c;
  return p;
}

std::string check_container_view(const std::string& dir, bool want_nnp) {
  if (getuid() != 1000 || getgid() != 1000) return "user not switched";
  if ((prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) != want_nnp) return "no_new_privs wrong";
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur != 256 || rl.rlim_max != 256) return "RLIMIT_NOFILE not applied";
  auto oom = read_file("/proc/self/oom_score_adj");
  if (!oom || trim(*oom) != "300") return "oom_score_adj not applied";
  auto caps = current_capabilities();
  if (!caps || caps->effective != 1 || caps->bounding != 1) return "capabilities wrong";
  errno = 0;
  if (syscall(SYS_mkdir, (dir + "/x").c_str(), 0755) != -1 || errno != 42)
    return "seccomp not applied: mkdir errno " + std::to_string(errno);
  return "";
}

TEST_F(SecurityAsRoot, AppliesEverythingWithNoNewPrivileges) {
  oci::Linux linux;
  linux.seccomp = allow_by_default();
  linux.seccomp->syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO", 42)};
  oci::Process p = unprivileged_process(true);
  auto prepared = prepare_security(p, &linux, dir_ + "/cache");
  ASSERT_TRUE(prepared) << prepared.error().message();
  auto res = run_in_child([&] {
    auto fd = apply_security(p, &linux, *prepared);
    if (!fd) return fd.error().message();
    if (fd->valid()) return std::string("unexpected listener fd");
    return check_container_view(dir_, true);
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

// Without no_new_privs the filter must go in while CAP_SYS_ADMIN is still held.
TEST_F(SecurityAsRoot, LoadsSeccompBeforeDroppingCapabilitiesWithoutNoNewPrivileges) {
  oci::Linux linux;
  linux.seccomp = allow_by_default();
  linux.seccomp->syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO", 42)};
  oci::Process p = unprivileged_process(false);
  auto prepared = prepare_security(p, &linux);
  ASSERT_TRUE(prepared) << prepared.error().message();
  auto res = run_in_child([&] {
    auto fd = apply_security(p, &linux, *prepared);
    if (!fd) return fd.error().message();
    return check_container_view(dir_, false);
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

}  // namespace
}  // namespace berth::runtime::security

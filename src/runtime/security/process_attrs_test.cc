// process attributes: every validation error, and applying rlimits, oom_score_adj, personality,
// ioprio and the scheduler in a forked child, checked the way the container would see them.
#include "runtime/security/process_attrs.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/file.h"
#include "base/strings.h"
#include "runtime/security/testing_child.h"

namespace berth::runtime::security {
namespace {

using testing::run_in_child;

std::string validation_error(const oci::Process& p, const oci::Linux* linux = nullptr) {
  auto r = validate_process_attrs(p, linux);
  return r ? std::string("<ok>") : r.error().message();
}

oci::Rlimit rl(const char* type, uint64_t soft, uint64_t hard) {
  oci::Rlimit r;
  r.type = type;
  r.soft = soft;
  r.hard = hard;
  return r;
}

TEST(ProcessAttrs, RlimitValidationNamesIndexAndType) {
  oci::Process p;
  p.rlimits = {rl("RLIMIT_NOFILE", 1, 2), rl("RLIMIT_CORE", 0, 0), rl("RLIMIT_FOO", 1, 1)};
  EXPECT_EQ(validation_error(p), "process.rlimits[2].type: unknown rlimit \"RLIMIT_FOO\"");
  p.rlimits = {rl("RLIMIT_NOFILE", 1, 2), rl("RLIMIT_NOFILE", 1, 2)};
  EXPECT_EQ(validation_error(p), "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\"");
  p.rlimits = {rl("RLIMIT_NPROC", 10, 5)};
  EXPECT_EQ(validation_error(p), "process.rlimits[0]: soft limit 10 exceeds hard limit 5");
  p.rlimits = {rl("rlimit_nofile", 1, 1)};
  EXPECT_EQ(validation_error(p), "process.rlimits[0].type: unknown rlimit \"rlimit_nofile\"");
  auto r = validate_process_attrs(p, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

TEST(ProcessAttrs, KnowsEveryRlimitName) {
  for (const char* name :
       {"RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
        "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
        "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"})
    EXPECT_TRUE(rlimit_from_name(name)) << name;
  EXPECT_EQ(rlimit_from_name("RLIMIT_NOFILE"), RLIMIT_NOFILE);
}

TEST(ProcessAttrs, OomScoreAdjRange) {
  oci::Process p;
  p.oom_score_adj = 1001;
  EXPECT_EQ(validation_error(p), "process.oomScoreAdj: 1001 out of range [-1000, 1000]");
  p.oom_score_adj = -1001;
  EXPECT_EQ(validation_error(p), "process.oomScoreAdj: -1001 out of range [-1000, 1000]");
  p.oom_score_adj = -1000;
  EXPECT_EQ(validation_error(p), "<ok>");
}

TEST(ProcessAttrs, IoPriorityClassAndRange) {
  oci::Process p;
  p.io_priority = oci::IoPriority{"IOPRIO_CLASS_FOO", 0};
  EXPECT_EQ(validation_error(p), "process.ioPriority.class: unknown class \"IOPRIO_CLASS_FOO\"");
  p.io_priority = oci::IoPriority{"IOPRIO_CLASS_BE", 8};
  EXPECT_EQ(validation_error(p), "process.ioPriority.priority: 8 out of range [0, 7]");
  p.io_priority = oci::IoPriority{"IOPRIO_CLASS_RT", -1};
  EXPECT_EQ(validation_error(p), "process.ioPriority.priority: -1 out of range [0, 7]");
  p.io_priority = oci::IoPriority{"IOPRIO_CLASS_IDLE", 7};
  EXPECT_EQ(validation_error(p), "<ok>");
}

TEST(ProcessAttrs, SchedulerValidation) {
  oci::Process p;
  oci::Scheduler s;
  p.scheduler = s;
  EXPECT_EQ(validation_error(p), "process.scheduler.policy: required");
  p.scheduler->policy = "SCHED_FOO";
  EXPECT_EQ(validation_error(p), "process.scheduler.policy: unknown policy \"SCHED_FOO\"");
  p.scheduler->policy = "SCHED_OTHER";
  p.scheduler->nice = 20;
  EXPECT_EQ(validation_error(p), "process.scheduler.nice: 20 out of range [-20, 19]");
  p.scheduler->nice = -20;
  p.scheduler->priority = 5;
  EXPECT_EQ(validation_error(p),
            "process.scheduler.priority: can only be set for SCHED_FIFO or SCHED_RR");
  p.scheduler->policy = "SCHED_FIFO";
  p.scheduler->priority = 0;
  EXPECT_EQ(validation_error(p),
            "process.scheduler.priority: 0 out of range [1, 99] for SCHED_FIFO");
  p.scheduler->priority = 50;
  p.scheduler->runtime = 1000000;
  EXPECT_EQ(validation_error(p),
            "process.scheduler: runtime, deadline and period can only be set for SCHED_DEADLINE");
  p.scheduler->policy = "SCHED_DEADLINE";
  p.scheduler->priority.reset();
  p.scheduler->flags = {"SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_BOGUS"};
  EXPECT_EQ(validation_error(p), "process.scheduler.flags[1]: unknown flag \"SCHED_FLAG_BOGUS\"");
  p.scheduler->flags = {"SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_UTIL_CLAMP_MAX"};
  EXPECT_EQ(validation_error(p), "<ok>");
}

TEST(ProcessAttrs, PersonalityValidation) {
  oci::Process p;
  oci::Linux linux;
  linux.personality = oci::Personality{"LINUX64", {}};
  EXPECT_EQ(validation_error(p, &linux), "linux.personality.domain: unknown domain \"LINUX64\"");
  linux.personality = oci::Personality{"LINUX32", {"ADDR_NO_RANDOMIZE", "NOPE"}};
  EXPECT_EQ(validation_error(p, &linux), "linux.personality.flags[1]: unknown flag \"NOPE\"");
  linux.personality = oci::Personality{"LINUX", {"ADDR_NO_RANDOMIZE"}};
  EXPECT_EQ(validation_error(p, &linux), "<ok>");
}

TEST(ProcessAttrs, LsmLabelsNeedTheLsmOnTheHost) {
  oci::Process p;
  p.apparmor_profile = "x";
  if (apparmor_enabled()) {
    EXPECT_EQ(validation_error(p), "<ok>");
  } else {
    auto r = validate_process_attrs(p, nullptr);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(r.error().message(),
              "process.apparmorProfile: apparmor profile \"x\" requested but AppArmor is not "
              "enabled on this host");
    EXPECT_EQ(apply_lsm_labels(p).error().message(), r.error().message());
    // Asking for "unconfined" where there is no AppArmor asks for nothing.
    p.apparmor_profile = "unconfined";
    EXPECT_EQ(validation_error(p), "<ok>");
    EXPECT_TRUE(apply_lsm_labels(p));
  }
  oci::Process q;
  q.selinux_label = "system_u:system_r:container_t:s0:c1,c2";
  if (!selinux_enabled()) {
    auto r = validate_process_attrs(q, nullptr);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(r.error().message(),
              "process.selinuxLabel: selinux label \"system_u:system_r:container_t:s0:c1,c2\" "
              "requested but SELinux is not enabled on this host");
    EXPECT_FALSE(apply_lsm_labels(q));
  }
  EXPECT_TRUE(apply_lsm_labels(oci::Process{}));
}

TEST(ProcessAttrs, AppliesRlimitsInChild) {
  auto res = run_in_child([] {
    oci::Process p;
    p.rlimits = {rl("RLIMIT_NOFILE", 100, 200), rl("RLIMIT_CORE", 0, 0),
                 rl("RLIMIT_STACK", 4 << 20, RLIM_INFINITY)};
    struct rlimit cur;
    getrlimit(RLIMIT_STACK, &cur);
    if (cur.rlim_max != RLIM_INFINITY) p.rlimits[2].hard = cur.rlim_max;
    if (auto r = apply_rlimits(p); !r) return r.error().message();
    getrlimit(RLIMIT_NOFILE, &cur);
    if (cur.rlim_cur != 100 || cur.rlim_max != 200) return std::string("RLIMIT_NOFILE not set");
    getrlimit(RLIMIT_CORE, &cur);
    if (cur.rlim_cur != 0 || cur.rlim_max != 0) return std::string("RLIMIT_CORE not set");
    getrlimit(RLIMIT_STACK, &cur);
    if (cur.rlim_cur != (4u << 20)) return std::string("RLIMIT_STACK not set");
    return std::string();
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST(ProcessAttrs, RaisingHardRlimitWithoutCapSysResourceNamesTheLimit) {
  auto res = run_in_child([] {
    // Make sure CAP_SYS_RESOURCE is not effective, whatever the host.
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    syscall(SYS_capget, &hdr, data);
    data[0].effective &= ~(1u << CAP_SYS_RESOURCE);
    if (syscall(SYS_capset, &hdr, data) != 0) return std::string("capset");
    struct rlimit low = {1024, 1024};
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) return std::string("lowering failed");
    oci::Process p;
    p.rlimits = {rl("RLIMIT_NOFILE", 1048576, 1048576)};
    auto r = apply_rlimits(p);
    if (r) return std::string("unexpected success");
    const std::string want =
        "process.rlimits[0]: setrlimit RLIMIT_NOFILE 1048576: operation not permitted";
    return r.error().message() == want ? std::string() : r.error().message();
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST(ProcessAttrs, AppliesOomScoreAdjInChild) {
  auto res = run_in_child([] {
    oci::Process p;
    p.oom_score_adj = 517;
    if (auto r = apply_oom_score_adj(p); !r) return r.error().message();
    auto text = read_file("/proc/self/oom_score_adj");
    if (!text) return text.error().message();
    return std::string(trim(*text)) == "517" ? std::string() : "oom_score_adj is " + *text;
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST(ProcessAttrs, AppliesPersonalityInChild) {
  auto res = run_in_child([] {
    oci::Linux linux;
    linux.personality = oci::Personality{"LINUX32", {"ADDR_NO_RANDOMIZE"}};
    if (auto r = apply_personality(linux); !r) return r.error().message();
    int persona = personality(0xffffffff);
    if ((persona & PER_MASK) != PER_LINUX32) return "domain " + std::to_string(persona);
    if (!(persona & ADDR_NO_RANDOMIZE)) return std::string("ADDR_NO_RANDOMIZE not set");
    return std::string();
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST(ProcessAttrs, AppliesIoPriorityInChild) {
  auto res = run_in_child([] {
    oci::Process p;
    p.io_priority = oci::IoPriority{"IOPRIO_CLASS_BE", 6};
    if (auto r = apply_io_priority(p); !r) return r.error().message();
    long v = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
    if (v != ((2 << 13) | 6)) return "ioprio " + std::to_string(v);
    p.io_priority = oci::IoPriority{"IOPRIO_CLASS_IDLE", 0};
    if (auto r = apply_io_priority(p); !r) return r.error().message();
    v = syscall(SYS_ioprio_get, 1, 0);
    if ((v >> 13) != 3) return "ioprio class " + std::to_string(v >> 13);
    return std::string();
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST(ProcessAttrs, AppliesSchedulerInChild) {
  auto res = run_in_child([] {
    oci::Process p;
    oci::Scheduler s;
    s.policy = "SCHED_BATCH";
    s.nice = 7;
    s.flags = {"SCHED_FLAG_RESET_ON_FORK"};
    p.scheduler = s;
    if (auto r = apply_scheduler(p); !r) return r.error().message();
    int policy = sched_getscheduler(0);
    if (policy != (SCHED_BATCH | SCHED_RESET_ON_FORK)) return "policy " + std::to_string(policy);
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    if (nice != 7) return "nice " + std::to_string(nice);
    return std::string();
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST(ProcessAttrs, SchedulerErrorNamesPolicy) {
  auto res = run_in_child([] {
    oci::Process p;
    oci::Scheduler s;
    s.policy = "SCHED_ISO";  // in the spec, never merged into Linux
    p.scheduler = s;
    auto r = apply_scheduler(p);
    if (r) return std::string("unexpected success");
    return r.error().message() == "process.scheduler: sched_setattr SCHED_ISO: invalid argument"
               ? std::string()
               : r.error().message();
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

}  // namespace
}  // namespace berth::runtime::security

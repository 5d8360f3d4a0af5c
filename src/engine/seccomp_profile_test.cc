// Tests for the docker-format seccomp profiles: the embedded default renders per capability set,
// arch and kernel as moby's does, the result is a filter the runtime compiles, and bad profiles
// are refused naming the field.
#include "engine/seccomp_profile.h"
#include "engine/spec_builder.h"

#include <gtest/gtest.h>

#include <set>

#include "oci/spec.h"
#include "runtime/security/seccomp.h"

namespace berth::engine {
namespace {

using json::Json;

const std::vector<std::string>& kDefaultCaps = default_capabilities();

const SeccompHost kAmd64{.arch = "amd64", .kernel_major = 6, .kernel_minor = 18};

std::vector<std::string> with(std::vector<std::string> caps, const std::string& cap) {
  caps.push_back(cap);
  return caps;
}

// Rules that name `name`, in order.
std::vector<Json> rules_for(const Json& seccomp, const std::string& name) {
  std::vector<Json> out;
  for (const auto& r : seccomp["syscalls"])
    for (const auto& n : r["names"])
      if (n == name) out.push_back(r);
  return out;
}

// True when some rule allows name without conditions on its arguments.
bool allowed(const Json& seccomp, const std::string& name) {
  for (const auto& r : rules_for(seccomp, name))
    if (r["action"] == "SCMP_ACT_ALLOW" && !r.contains("args")) return true;
  return false;
}

TEST(SeccompProfile, DefaultProfileIsDockers) {
  const SeccompProfile& p = default_seccomp_profile();
  EXPECT_EQ(p.default_action, "SCMP_ACT_ERRNO");
  ASSERT_TRUE(p.default_errno_ret);
  EXPECT_EQ(*p.default_errno_ret, 1u);  // EPERM
  ASSERT_FALSE(p.syscalls.empty());
  EXPECT_GT(p.syscalls[0].names.size(), 340u);
  std::set<std::string> names(p.syscalls[0].names.begin(), p.syscalls[0].names.end());
  EXPECT_EQ(names.size(), p.syscalls[0].names.size()) << "duplicate names in the allowlist";
}

TEST(SeccompProfile, DefaultCapsBlockMountUnshareSetnsReboot) {
  Json s = render_seccomp(default_seccomp_profile(), kDefaultCaps, kAmd64);
  EXPECT_EQ(s["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(s["defaultErrnoRet"], 1);
  for (const char* n : {"mount", "umount2", "unshare", "setns", "reboot", "bpf", "perf_event_open",
                        "kexec_load", "init_module", "open_by_handle_at", "io_uring_setup",
                        "keyctl", "add_key", "pidfd_getfd", "kcmp", "syslog"})
    EXPECT_FALSE(allowed(s, n)) << n;
  for (const char* n : {"read", "execve", "chroot", "futex_wait", "cachestat", "arch_prctl"})
    EXPECT_TRUE(allowed(s, n)) << n;
}

TEST(SeccompProfile, CloneIsFilteredByNamespaceFlagsWithoutSysAdmin) {
  Json s = render_seccomp(default_seccomp_profile(), kDefaultCaps, kAmd64);
  auto clone = rules_for(s, "clone");
  ASSERT_EQ(clone.size(), 1u);
  EXPECT_EQ(clone[0]["action"], "SCMP_ACT_ALLOW");
  EXPECT_EQ(clone[0]["args"][0]["index"], 0);
  EXPECT_EQ(clone[0]["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(clone[0]["args"][0]["value"],
            0x7E020000u);  // CLONE_NEW{NS,UTS,IPC,USER,PID,NET,CGROUP}
  EXPECT_EQ(clone[0]["args"][0]["valueTwo"], 0);
  auto clone3 = rules_for(s, "clone3");
  ASSERT_EQ(clone3.size(), 1u);
  EXPECT_EQ(clone3[0]["action"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(clone3[0]["errnoRet"], 38);  // ENOSYS: libc falls back to clone
}

TEST(SeccompProfile, SysAdminUnlocksMountUnshareSetnsAndPlainClone) {
  Json s = render_seccomp(default_seccomp_profile(), with(kDefaultCaps, "CAP_SYS_ADMIN"), kAmd64);
  for (const char* n : {"mount", "umount2", "unshare", "setns", "clone", "clone3", "sethostname"})
    EXPECT_TRUE(allowed(s, n)) << n;
  for (const auto& r : rules_for(s, "clone")) EXPECT_FALSE(r.contains("args"));
  for (const auto& r : rules_for(s, "clone3")) EXPECT_EQ(r["action"], "SCMP_ACT_ALLOW");
  EXPECT_FALSE(allowed(s, "reboot"));
}

TEST(SeccompProfile, OtherCapsUnlockTheirSyscalls) {
  struct Case {
    const char* cap;
    std::vector<const char*> syscalls;
  } cases[] = {{"CAP_SYS_PTRACE", {"ptrace", "process_vm_readv", "kcmp", "pidfd_getfd"}},
               {"CAP_SYS_BOOT", {"reboot"}},
               {"CAP_SYS_MODULE", {"init_module", "finit_module", "delete_module"}},
               {"CAP_SYS_TIME", {"settimeofday", "clock_settime"}},
               {"CAP_SYS_NICE", {"mbind", "set_mempolicy"}},
               {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
               {"CAP_BPF", {"bpf"}},
               {"CAP_PERFMON", {"perf_event_open"}}};
  for (const auto& c : cases) {
    Json without = render_seccomp(default_seccomp_profile(), kDefaultCaps, kAmd64);
    Json s = render_seccomp(default_seccomp_profile(), with(kDefaultCaps, c.cap), kAmd64);
    for (const char* n : c.syscalls) {
      EXPECT_TRUE(allowed(s, n)) << c.cap << " " << n;
      if (std::string(n) != "ptrace" && std::string(n) != "process_vm_readv") {
        EXPECT_FALSE(allowed(without, n)) << n;  // those two come with kernel >= 4.8 anyway
      }
    }
  }
  // Dropping CAP_SYS_CHROOT takes chroot with it.
  std::vector<std::string> caps = kDefaultCaps;
  std::erase(caps, "CAP_SYS_CHROOT");
  EXPECT_FALSE(allowed(render_seccomp(default_seccomp_profile(), caps, kAmd64), "chroot"));
}

TEST(SeccompProfile, PtraceNeedsKernel48WithoutSysPtrace) {
  EXPECT_TRUE(allowed(render_seccomp(default_seccomp_profile(), kDefaultCaps, kAmd64), "ptrace"));
  SeccompHost old{.arch = "amd64", .kernel_major = 4, .kernel_minor = 4};
  EXPECT_FALSE(allowed(render_seccomp(default_seccomp_profile(), kDefaultCaps, old), "ptrace"));
  SeccompHost k48{.arch = "amd64", .kernel_major = 4, .kernel_minor = 8};
  EXPECT_TRUE(allowed(render_seccomp(default_seccomp_profile(), kDefaultCaps, k48), "ptrace"));
}

TEST(SeccompProfile, ArchitecturesFollowTheHost) {
  Json amd = render_seccomp(default_seccomp_profile(), kDefaultCaps, kAmd64);
  EXPECT_EQ(amd["architectures"], Json({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  EXPECT_TRUE(allowed(amd, "modify_ldt"));
  EXPECT_FALSE(allowed(amd, "set_tls"));

  SeccompHost arm{.arch = "arm64", .kernel_major = 6, .kernel_minor = 1};
  Json a = render_seccomp(default_seccomp_profile(), kDefaultCaps, arm);
  EXPECT_EQ(a["architectures"], Json({"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}));
  EXPECT_TRUE(allowed(a, "set_tls"));
  EXPECT_FALSE(allowed(a, "arch_prctl"));

  SeccompHost s390{.arch = "s390x", .kernel_major = 6, .kernel_minor = 1};
  auto clone = rules_for(render_seccomp(default_seccomp_profile(), kDefaultCaps, s390), "clone");
  ASSERT_EQ(clone.size(), 1u);
  EXPECT_EQ(clone[0]["args"][0]["index"], 1);  // s390 swaps clone's first two arguments
}

TEST(SeccompProfile, SocketRefusesOnlyVsock) {
  Json s = render_seccomp(default_seccomp_profile(), kDefaultCaps, kAmd64);
  auto socket = rules_for(s, "socket");
  ASSERT_EQ(socket.size(), 1u);
  EXPECT_EQ(socket[0]["action"], "SCMP_ACT_ALLOW");
  EXPECT_EQ(socket[0]["args"][0]["op"], "SCMP_CMP_NE");
  EXPECT_EQ(socket[0]["args"][0]["value"], 40);  // AF_VSOCK
  EXPECT_EQ(rules_for(s, "personality").size(), 5u);
}

TEST(SeccompProfile, RenderedDefaultCompilesInTheRuntime) {
  for (const auto& caps : {kDefaultCaps, with(kDefaultCaps, "CAP_SYS_ADMIN")}) {
    Json spec = oci::default_spec_json(false);
    spec["linux"]["seccomp"] = render_seccomp(default_seccomp_profile(), caps, seccomp_host());
    auto parsed = oci::parse_spec(spec);
    ASSERT_TRUE(parsed) << parsed.error().message();
    auto prog = runtime::security::compile_seccomp(*parsed->linux->seccomp);
    ASSERT_TRUE(prog) << prog.error().message();
    EXPECT_FALSE(prog->empty());
  }
}

TEST(SeccompProfile, ContainerSeccompFollowsSecurityOpt) {
  Json hc = Json::object();
  Json def = *container_seccomp(hc, kDefaultCaps, kAmd64);
  EXPECT_EQ(def["defaultAction"], "SCMP_ACT_ERRNO");
  hc["SecurityOpt"] = {"seccomp=builtin"};
  EXPECT_EQ(*container_seccomp(hc, kDefaultCaps, kAmd64), def);
  hc["SecurityOpt"] = {"no-new-privileges", "seccomp=unconfined"};
  EXPECT_TRUE(container_seccomp(hc, kDefaultCaps, kAmd64)->is_null());
  hc["SecurityOpt"] = {"seccomp:unconfined"};  // the deprecated separator
  EXPECT_TRUE(container_seccomp(hc, kDefaultCaps, kAmd64)->is_null());

  hc["SecurityOpt"] = {R"(seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
      {"name":"mkdir","action":"SCMP_ACT_ERRNO","errnoRet":13},
      {"names":["mount"],"action":"SCMP_ACT_ERRNO","excludes":{"caps":["CAP_SYS_ADMIN"]}}]})"};
  Json custom = *container_seccomp(hc, kDefaultCaps, kAmd64);
  EXPECT_EQ(custom["defaultAction"], "SCMP_ACT_ALLOW");
  ASSERT_EQ(custom["syscalls"].size(), 2u);
  EXPECT_EQ(custom["syscalls"][0]["names"], Json({"mkdir"}));
  EXPECT_EQ(custom["syscalls"][0]["errnoRet"], 13);
  EXPECT_FALSE(custom.contains("architectures"));
  EXPECT_EQ(
      (*container_seccomp(hc, with(kDefaultCaps, "CAP_SYS_ADMIN"), kAmd64))["syscalls"].size(), 1u);

  hc["Privileged"] = true;  // privileged containers run unconfined, whatever the profile
  EXPECT_TRUE(container_seccomp(hc, kDefaultCaps, kAmd64)->is_null());
  hc.erase("SecurityOpt");
  EXPECT_TRUE(container_seccomp(hc, kDefaultCaps, kAmd64)->is_null());
}

TEST(SeccompProfile, EmptyProfileDisablesSeccomp) {
  auto p = parse_seccomp_profile("{}");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(render_seccomp(*p, kDefaultCaps, kAmd64).is_null());
}

TEST(SeccompProfile, BadProfilesNameTheField) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"{not json", "decoding seccomp profile failed: "},
      {"[]", "expected a JSON object"},
      {R"({"defaultAction":"SCMP_ACT_FOO"})", "defaultAction: unknown action \"SCMP_ACT_FOO\""},
      {R"({"defaultAction":7})", "defaultAction: expected a string"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
          {"names":["write"],"action":"SCMP_ACT_NOPE"}]})",
       "syscalls[1].action: unknown action \"SCMP_ACT_NOPE\""},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"]}]})",
       "syscalls[0].action: required"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"read","names":["write"],
          "action":"SCMP_ACT_ALLOW"}]})",
       "syscalls[0]: use either 'name' or 'names'"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":"read","action":"SCMP_ACT_ALLOW"}]})",
       "syscalls[0].names: expected an array of strings"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW",
          "args":[{"index":7,"value":1,"op":"SCMP_CMP_EQ"}]}]})",
       "syscalls[0].args[0].index: expected an integer in [0, 5]"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW",
          "args":[{"index":0,"value":1,"op":"SCMP_CMP_ABOUT"}]}]})",
       "syscalls[0].args[0].op: unknown operator \"SCMP_CMP_ABOUT\""},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
          "archMap":[{"architecture":"SCMP_ARCH_X86_64"}]})",
       "use either one"},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_PDP11"}]})",
       "architectures[0]: unknown architecture \"SCMP_ARCH_PDP11\""},
      {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW",
          "includes":{"minKernel":"four"}}]})",
       "syscalls[0].includes.minKernel: invalid kernel version \"four\""},
  };
  for (const auto& c : cases) {
    auto p = parse_seccomp_profile(c.text);
    ASSERT_FALSE(p) << c.text;
    EXPECT_EQ(p.error().code(), ErrorCode::kInvalidArgument) << c.text;
    EXPECT_NE(p.error().message().find(c.message), std::string::npos)
        << c.text << "\n  got: " << p.error().message();
    EXPECT_TRUE(p.error().message().starts_with("decoding seccomp profile failed: "))
        << p.error().message();
  }
  Json hc = {{"SecurityOpt", {"seccomp={\"defaultAction\":\"SCMP_ACT_X\"}"}}};
  auto v = validate_seccomp_opt(hc);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message().find("defaultAction"), std::string::npos);
  EXPECT_TRUE(validate_seccomp_opt({{"SecurityOpt", {"seccomp=unconfined"}}}));
}

}  // namespace
}  // namespace berth::engine

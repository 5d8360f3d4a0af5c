// features: the runtime-spec "features" document (features.md), which containerd and dockerd read
// (mountOptions must list "rro").
#include "runtime/container.h"
#include "runtime/rootfs.h"
#include "runtime/security/capabilities.h"
#include "runtime/security/process_attrs.h"

namespace berth::runtime {

json::Json features_json() {
  json::Json j;
  j["ociVersionMin"] = "1.0.0";
  j["ociVersionMax"] = oci::kOciVersion;
  j["hooks"] = {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};
  j["mountOptions"] = recognized_mount_options();
  json::Json linux;
  linux["namespaces"] = {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"};
  linux["capabilities"] = security::all_cap_names();
  linux["cgroup"] = {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false},
                     {"rdma", false}};
  linux["seccomp"] = {
      {"enabled", true},
      {"actions", {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                   "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
                   "SCMP_ACT_TRAP"}},
      {"operators", {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                     "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
      {"archs", {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
                 "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
                 "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE",
                 "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_X32",
                 "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"}},
      {"knownFlags", {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                      "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}},
      {"supportedFlags", {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                          "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}}};
  linux["apparmor"] = {{"enabled", security::apparmor_enabled()}};
  linux["selinux"] = {{"enabled", security::selinux_enabled()}};
  linux["intelRdt"] = {{"enabled", false}};
  linux["mountExtensions"] = {{"idmap", {{"enabled", false}}}};
  j["linux"] = linux;
  j["annotations"] = {{"io.github.berth.runtime.version", BERTH_RUNTIME_VERSION}};
  return j;
}

}  // namespace berth::runtime

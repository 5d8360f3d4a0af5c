// Capabilities: the name table, validation messages, and (as root, in a forked child) the user
// switch with the five sets, including the clamp to the host's bounding set.
#include "runtime/security/capabilities.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "base/file.h"
#include "runtime/security/testing_child.h"

namespace berth::runtime::security {
namespace {

using testing::run_in_child;

uint64_t mask_of(std::initializer_list<const char*> names) {
  uint64_t m = 0;
  for (auto n : names) m |= uint64_t{1} << *cap_from_name(n);
  return m;
}

std::string hex(uint64_t v) {
  std::ostringstream s;
  s << std::hex << v;
  return s.str();
}

TEST(Capabilities, LooksUpNamesCaseInsensitivelyWithCapPrefix) {
  EXPECT_EQ(cap_from_name("CAP_CHOWN"), 0);
  EXPECT_EQ(cap_from_name("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(cap_from_name("cap_sys_admin"), 21);
  EXPECT_EQ(cap_from_name("Cap_Net_Raw"), 13);
  EXPECT_EQ(cap_from_name("CAP_SYS_RESOURCE"), 24);
  EXPECT_EQ(cap_from_name("CAP_AUDIT_READ"), 37);
  EXPECT_EQ(cap_from_name("CAP_PERFMON"), 38);
  EXPECT_EQ(cap_from_name("CAP_BPF"), 39);
  EXPECT_EQ(cap_from_name("CAP_CHECKPOINT_RESTORE"), 40);
}

TEST(Capabilities, RejectsUnknownOrUnprefixedNames) {
  EXPECT_FALSE(cap_from_name("SYS_ADMIN"));
  EXPECT_FALSE(cap_from_name("CAP_FOO"));
  EXPECT_FALSE(cap_from_name("CAP_"));
  EXPECT_FALSE(cap_from_name(""));
  EXPECT_FALSE(cap_from_name("CAP_SYS_ADMINX"));
}

TEST(Capabilities, NameTableRoundTripsEveryCapability) {
  auto names = all_cap_names();
  ASSERT_EQ(names.size(), 41u);
  for (int i = 0; i < 41; ++i) {
    EXPECT_EQ(cap_name(i), names[i]);
    EXPECT_EQ(cap_from_name(names[i]), i) << names[i];
  }
  EXPECT_EQ(cap_name(41), "");
  EXPECT_EQ(cap_name(-1), "");
}

TEST(Capabilities, LastCapMatchesKernel) {
  auto text = read_file("/proc/sys/kernel/cap_last_cap");
  ASSERT_TRUE(text);
  EXPECT_EQ(last_cap(), std::stoi(*text));
  EXPECT_EQ(last_cap(), last_cap());  // cached
}

TEST(Capabilities, ValidateNamesFieldAndCapability) {
  oci::Capabilities caps;
  caps.bounding = {"CAP_CHOWN", "CAP_FOO"};
  auto r = validate_capabilities(caps, "process.capabilities");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "process.capabilities.bounding: unknown capability \"CAP_FOO\"");

  oci::Capabilities amb;
  amb.ambient = {"NET_RAW"};
  r = validate_capabilities(amb, "process.capabilities");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "process.capabilities.ambient: unknown capability \"NET_RAW\"");

  oci::Capabilities ok;
  ok.effective = {"cap_kill", "CAP_CHECKPOINT_RESTORE"};
  EXPECT_TRUE(validate_capabilities(ok, "process.capabilities"));
}

class CapabilitiesAsRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  }
};

TEST_F(CapabilitiesAsRoot, SwitchesUserGroupsAndInstallsExactSets) {
  auto res = run_in_child([] {
    oci::Process p;
    p.user.uid = 1000;
    p.user.gid = 1001;
    p.user.additional_gids = {2000, 3000};
    p.user.umask = 027;
    oci::Capabilities c;
    c.bounding = {"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL"};
    c.effective = {"CAP_CHOWN"};
    c.permitted = {"CAP_CHOWN", "CAP_NET_BIND_SERVICE"};
    c.inheritable = {"CAP_NET_BIND_SERVICE"};
    c.ambient = {"CAP_NET_BIND_SERVICE"};
    p.capabilities = c;
    if (auto r = apply_user_and_capabilities(p); !r) return r.error().message();
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    getresuid(&ru, &eu, &su);
    getresgid(&rg, &eg, &sg);
    if (ru != 1000 || eu != 1000 || su != 1000) return std::string("uid not switched");
    if (rg != 1001 || eg != 1001 || sg != 1001) return std::string("gid not switched");
    gid_t groups[8];
    int n = getgroups(8, groups);
    if (n != 2 || groups[0] != 2000 || groups[1] != 3000) return std::string("groups wrong");
    mode_t old = umask(0);
    if (old != 027) return "umask " + std::to_string(old);
    auto cur = current_capabilities();
    if (!cur) return cur.error().message();
    if (cur->bounding != mask_of({"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL"}))
      return "bounding " + hex(cur->bounding);
    if (cur->effective != mask_of({"CAP_CHOWN"})) return "effective " + hex(cur->effective);
    if (cur->permitted != mask_of({"CAP_CHOWN", "CAP_NET_BIND_SERVICE"}))
      return "permitted " + hex(cur->permitted);
    if (cur->inheritable != mask_of({"CAP_NET_BIND_SERVICE"}))
      return "inheritable " + hex(cur->inheritable);
    if (cur->ambient != mask_of({"CAP_NET_BIND_SERVICE"})) return "ambient " + hex(cur->ambient);
    return std::string();
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST_F(CapabilitiesAsRoot, AllCapabilitiesAreClampedToHostBoundingSet) {
  auto host = current_capabilities();
  ASSERT_TRUE(host);
  auto res = run_in_child([&] {
    oci::Process p;  // uid 0
    oci::Capabilities c;
    auto all = all_cap_names();
    c.bounding = c.effective = c.permitted = c.inheritable = c.ambient = all;
    p.capabilities = c;
    if (auto r = apply_user_and_capabilities(p); !r) return r.error().message();
    auto cur = current_capabilities();
    if (!cur) return cur.error().message();
    if (cur->bounding != host->bounding) return "bounding " + hex(cur->bounding);
    if (cur->effective != host->bounding) return "effective " + hex(cur->effective);
    if (cur->permitted != host->bounding) return "permitted " + hex(cur->permitted);
    if (cur->ambient != host->bounding) return "ambient " + hex(cur->ambient);
    return std::string();
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST_F(CapabilitiesAsRoot, AbsentCapabilitiesGiveNoneAndDefaultUmask) {
  auto res = run_in_child([] {
    oci::Process p;
    p.user.uid = 0;
    ::umask(0);
    if (auto r = apply_user_and_capabilities(p); !r) return r.error().message();
    if (mode_t m = umask(0); m != 022) return "umask " + std::to_string(m);
    auto cur = current_capabilities();
    if (!cur) return cur.error().message();
    if (cur->bounding || cur->effective || cur->permitted || cur->inheritable || cur->ambient)
      return "caps left: bounding " + hex(cur->bounding) + " effective " + hex(cur->effective);
    return std::string();
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

// runc's own `runc spec` asks for ambient caps without inheritable ones; like runc 1.2, such a cap
// is not raised and the container still starts.
TEST_F(CapabilitiesAsRoot, AmbientCapsThatCannotBeRaisedAreSkipped) {
  auto res = run_in_child([] {
    oci::Process p;
    p.user.uid = 1000;
    oci::Capabilities c;
    c.bounding = c.permitted = c.effective = {"CAP_KILL", "CAP_CHOWN"};
    c.inheritable = {"CAP_CHOWN"};
    c.ambient = {"CAP_KILL", "CAP_CHOWN"};
    p.capabilities = c;
    if (auto r = apply_user_and_capabilities(p); !r) return r.error().message();
    auto cur = current_capabilities();
    if (!cur) return cur.error().message();
    if (cur->ambient != mask_of({"CAP_CHOWN"})) return "ambient " + hex(cur->ambient);
    if (cur->effective != mask_of({"CAP_KILL", "CAP_CHOWN"}))
      return "effective " + hex(cur->effective);
    return std::string();
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

TEST_F(CapabilitiesAsRoot, EmptyAdditionalGidsClearsSupplementaryGroups) {
  auto res = run_in_child([] {
    gid_t g[] = {4000, 4001};
    if (setgroups(2, g) != 0) return std::string("setgroups");
    oci::Process p;
    p.user.uid = 1000;
    p.user.gid = 1000;
    if (auto r = apply_user_and_capabilities(p); !r) return r.error().message();
    gid_t groups[8];
    int n = getgroups(8, groups);
    return n == 0 ? std::string() : "still " + std::to_string(n) + " groups";
  });
  EXPECT_TRUE(res.ok()) << res.message;
}

}  // namespace
}  // namespace berth::runtime::security

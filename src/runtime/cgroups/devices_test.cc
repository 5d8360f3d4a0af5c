// The devices emulator (transitions as runc computes them) and the eBPF filter it compiles to.
#include "runtime/cgroups/devices.h"

#include <gtest/gtest.h>

#include "runtime/cgroups/ebpf.h"
#include "runtime/cgroups/manager.h"

namespace berth::runtime::cgroups {
namespace {

oci::DeviceCgroupRule rule(bool allow, const char* type, std::optional<int64_t> major,
                           std::optional<int64_t> minor, const char* access) {
  return oci::DeviceCgroupRule{allow, type, major, minor, access};
}

std::vector<std::string> strings(const std::vector<DeviceRule>& rules) {
  std::vector<std::string> out;
  for (const auto& r : rules) out.push_back((r.allow ? "allow " : "deny ") + r.cgroup_string());
  return out;
}

TEST(CgroupDevices, FreshCgroupGetsDenyAllThenSortedAllows) {
  auto current = DeviceEmulator::from_list("a *:* rwm\n");
  ASSERT_TRUE(current);
  auto target = DeviceEmulator::from_rules({
      rule(false, "a", std::nullopt, std::nullopt, "rwm"),
      rule(true, "c", 5, 1, "rwm"),
      rule(true, "c", 1, 3, "mwr"),
      rule(true, "b", 1, 3, "r"),
      rule(true, "c", std::nullopt, std::nullopt, "m"),
      rule(true, "c", 136, std::nullopt, "rwm"),
  });
  ASSERT_TRUE(target) << target.error().message();
  EXPECT_EQ(strings(current->transition_to(*target)),
            (std::vector<std::string>{"deny a *:* rwm", "allow c *:* m", "allow b 1:3 r",
                                      "allow c 1:3 rwm", "allow c 5:1 rwm", "allow c 136:* rwm"}));
}

TEST(CgroupDevices, AllowListUpdateWritesOnlyTheDifference) {
  auto current = DeviceEmulator::from_list("c 1:3 rwm\nc 1:5 rwm\n");
  ASSERT_TRUE(current);
  EXPECT_FALSE(current->default_allow());
  auto target =
      DeviceEmulator::from_rules({rule(false, "a", std::nullopt, std::nullopt, "rwm"),
                                  rule(true, "c", 1, 3, "rw"), rule(true, "c", 1, 9, "rwm")});
  ASSERT_TRUE(target);
  EXPECT_EQ(strings(current->transition_to(*target)),
            (std::vector<std::string>{"deny c 1:3 m", "deny c 1:5 rwm", "allow c 1:9 rwm"}));
  EXPECT_TRUE(target->transition_to(*target).empty());
}

TEST(CgroupDevices, DenyListRulesAfterAllowAll) {
  auto current = DeviceEmulator::from_list("a *:* rwm\n");
  auto target = DeviceEmulator::from_rules(
      {rule(true, "a", std::nullopt, std::nullopt, "rwm"), rule(false, "c", 1, 3, "w")});
  ASSERT_TRUE(target);
  EXPECT_TRUE(target->default_allow());
  EXPECT_EQ(strings(current->transition_to(*target)),
            (std::vector<std::string>{"allow a *:* rwm", "deny c 1:3 w"}));
}

TEST(CgroupDevices, AccessMergesAcrossRulesAndDenyRemoves) {
  auto e = DeviceEmulator::from_rules(
      {rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "c", 1, 3, "r"),
       rule(true, "c", 1, 3, "w"), rule(true, "c", 1, 5, "rwm"), rule(false, "c", 1, 5, "rwm")});
  ASSERT_TRUE(e);
  EXPECT_EQ(strings(e->rules()), (std::vector<std::string>{"allow c 1:3 rw"}));
}

TEST(CgroupDevices, PunchingAHoleInAWildcardIsRefused) {
  auto e = DeviceEmulator::from_rules({rule(false, "a", std::nullopt, std::nullopt, "rwm"),
                                       rule(true, "c", std::nullopt, std::nullopt, "rwm"),
                                       rule(false, "c", 1, 3, "r")});
  ASSERT_FALSE(e);
  EXPECT_EQ(
      e.error().message(),
      "linux.resources.devices[2]: device rule \"c 1:3 r\" not supported by the devices cgroup: "
      "cannot punch a hole in wildcard rule \"c *:* rwm\"");
}

TEST(CgroupDevices, BadRulesNameTheirIndex) {
  auto e = DeviceEmulator::from_rules({rule(true, "c", 1, 3, "rwx")});
  ASSERT_FALSE(e);
  EXPECT_TRUE(e.error().message().starts_with("linux.resources.devices[0].access: "))
      << e.error().message();
  e = DeviceEmulator::from_rules({rule(true, "p", 1, 3, "r")});
  ASSERT_FALSE(e);
}

TEST(CgroupDevices, ListParsingRejectsMalformedLines) {
  EXPECT_FALSE(DeviceEmulator::from_list("c 1:3\n"));
  EXPECT_FALSE(DeviceEmulator::from_list("x 1:3 rwm\n"));
  EXPECT_FALSE(DeviceEmulator::from_list("c a:3 rwm\n"));
  EXPECT_FALSE(DeviceEmulator::from_list("c 1:3 rwq\n"));
  auto ok = DeviceEmulator::from_list("c *:* m\nb *:* m\nc 1:3 rwm\n");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->rules().size(), 3u);
}

TEST(CgroupDevices, ContainerRulesAppendRuncsDefaultsMinusRedefinedNodes) {
  oci::Linux linux;
  linux.resources = oci::Resources{};
  linux.resources->devices = {rule(false, "a", std::nullopt, std::nullopt, "rwm")};
  linux.devices = {oci::Device{"c", "/dev/null", 1, 3}};
  auto rules = container_device_rules(linux);
  ASSERT_EQ(rules.size(), 1u + 11u - 1u);
  EXPECT_FALSE(rules[0].allow);
  auto e = DeviceEmulator::from_rules(rules);
  ASSERT_TRUE(e);
  EXPECT_EQ(strings(e->rules()),
            (std::vector<std::string>{"allow b *:* m", "allow c *:* m", "allow c 1:5 rwm",
                                      "allow c 1:7 rwm", "allow c 1:8 rwm", "allow c 1:9 rwm",
                                      "allow c 5:0 rwm", "allow c 5:2 rwm", "allow c 10:200 rwm",
                                      "allow c 136:* rwm"}))
      << "/dev/null (1:3) is left to the config's own rules";
}

// ---- eBPF ----

bool same(const bpf_insn& i, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  return i.code == code && i.dst_reg == dst && i.src_reg == src && i.off == off && i.imm == imm;
}

TEST(CgroupDeviceFilter, OneRuleProgramLayout) {
  auto e = DeviceEmulator::from_rules(
      {rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "c", 1, 3, "rwm")});
  ASSERT_TRUE(e);
  auto p = device_filter_program(*e);
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->size(), 13u);
  const auto& x = *p;
  EXPECT_TRUE(same(x[0], BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0));       // r2 = ctx->access_type
  EXPECT_TRUE(same(x[1], BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xFFFF));  // r2 &= 0xffff (type)
  EXPECT_TRUE(same(x[2], BPF_LDX | BPF_MEM | BPF_W, 3, 1, 0, 0));
  EXPECT_TRUE(same(x[3], BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16));  // r3 = access
  EXPECT_TRUE(same(x[4], BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0));   // r4 = major
  EXPECT_TRUE(same(x[5], BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0));   // r5 = minor
  EXPECT_TRUE(same(x[6], BPF_JMP | BPF_JNE | BPF_K, 2, 0, 4, BPF_DEVCG_DEV_CHAR));
  EXPECT_TRUE(same(x[7], BPF_JMP | BPF_JNE | BPF_K, 4, 0, 3, 1));
  EXPECT_TRUE(same(x[8], BPF_JMP | BPF_JNE | BPF_K, 5, 0, 2, 3));
  EXPECT_TRUE(same(x[9], BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, 1));  // allow
  EXPECT_TRUE(same(x[10], BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  EXPECT_TRUE(same(x[11], BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, 0));  // default: deny
  EXPECT_TRUE(same(x[12], BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

TEST(CgroupDeviceFilter, PartialAccessAndWildcardsShapeTheBlock) {
  auto e = DeviceEmulator::from_rules({rule(false, "a", std::nullopt, std::nullopt, "rwm"),
                                       rule(true, "b", 8, std::nullopt, "rw")});
  ASSERT_TRUE(e);
  auto p = device_filter_program(*e);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 6u + 7u + 2u);
  const auto& x = *p;
  EXPECT_TRUE(same(x[6], BPF_JMP | BPF_JNE | BPF_K, 2, 0, 6, BPF_DEVCG_DEV_BLOCK));
  EXPECT_TRUE(same(x[7], BPF_ALU | BPF_MOV | BPF_X, 1, 3, 0, 0));
  EXPECT_TRUE(
      same(x[8], BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE));
  EXPECT_TRUE(same(x[9], BPF_JMP | BPF_JNE | BPF_X, 1, 3, 3, 0));
  EXPECT_TRUE(same(x[10], BPF_JMP | BPF_JNE | BPF_K, 4, 0, 2, 8));  // then no minor check
  EXPECT_TRUE(same(x[11], BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, 1));
}

TEST(CgroupDeviceFilter, AllowAllIsJustTheDefaultVerdict) {
  auto e = DeviceEmulator::from_rules({rule(true, "a", std::nullopt, std::nullopt, "rwm")});
  ASSERT_TRUE(e);
  auto p = device_filter_program(*e);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 8u);
  EXPECT_TRUE(same((*p)[6], BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, 1));
}

}  // namespace
}  // namespace berth::runtime::cgroups

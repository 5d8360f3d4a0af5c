// config.json parsing and validation: errors name the field; runc's defaults round-trip.
#include "oci/spec.h"

#include <gtest/gtest.h>

using namespace berth;
using berth::json::Json;

namespace {
Json minimal() {
  return Json::parse(R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},
    "process":{"args":["/bin/true"],"cwd":"/"},
    "linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}})");
}
}  // namespace

TEST(Spec, ParsesDefaultSpec) {
  auto spec = oci::parse_spec(oci::default_spec_json(false));
  ASSERT_TRUE(spec) << spec.error().message();
  EXPECT_TRUE(oci::validate_spec(*spec));
  EXPECT_EQ(spec->root_path, "rootfs");
  EXPECT_TRUE(spec->root_readonly);
  ASSERT_TRUE(spec->process);
  EXPECT_EQ(spec->process->args, std::vector<std::string>{"sh"});
  EXPECT_EQ(spec->mounts.size(), 7u);
  ASSERT_TRUE(spec->linux);
  EXPECT_EQ(spec->linux->namespaces.size(), 5u);
  EXPECT_EQ(spec->process->rlimits[0].hard, 1024u);
}

TEST(Spec, TypeErrorNamesTheField) {
  Json j = minimal();
  j["process"]["args"][0] = 5;
  auto spec = oci::parse_spec(j);
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().message(), "process.args[0]: expected string, got number");
}

TEST(Spec, MissingOciVersionIsAnError) {
  Json j = minimal();
  j.erase("ociVersion");
  auto spec = oci::parse_spec(j);
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().message(), "ociVersion: required");
}

TEST(Spec, NegativeUidIsRejected) {
  Json j = minimal();
  j["process"]["user"] = {{"uid", -1}};
  auto spec = oci::parse_spec(j);
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().message(), "process.user.uid: must not be negative");
}

TEST(Spec, ValidationRejectsUnknownAndDuplicateNamespaces) {
  Json j = minimal();
  j["linux"]["namespaces"].push_back({{"type", "bogus"}});
  auto spec = oci::parse_spec(j);
  ASSERT_TRUE(spec);
  auto v = oci::validate_spec(*spec);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message(), "linux.namespaces[2].type: unknown namespace type \"bogus\"");
  j = minimal();
  j["linux"]["namespaces"].push_back({{"type", "pid"}});
  v = oci::validate_spec(*oci::parse_spec(j));
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message(), "linux.namespaces[2].type: duplicate namespace \"pid\"");
}

TEST(Spec, ValidationRejectsRelativeCwdAndEmptyArgs) {
  Json j = minimal();
  j["process"]["cwd"] = "tmp";
  auto v = oci::validate_spec(*oci::parse_spec(j));
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message(), "process.cwd: must be an absolute path, got \"tmp\"");
  j = minimal();
  j["process"]["args"] = Json::array();
  v = oci::validate_spec(*oci::parse_spec(j));
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message(), "process.args: must not be empty");
}

TEST(Spec, HostnameNeedsUtsNamespace) {
  Json j = minimal();
  j["hostname"] = "box";
  auto v = oci::validate_spec(*oci::parse_spec(j));
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message(), "hostname: setting the hostname needs a uts namespace");
}

TEST(Spec, ParsesResourcesAndSeccomp) {
  Json j = minimal();
  j["linux"]["resources"] = Json::parse(R"({"memory":{"limit":1048576,"swap":2097152},
     "cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0"},"pids":{"limit":10},
     "devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]})");
  j["linux"]["seccomp"] = Json::parse(R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
     {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1,
      "args":[{"index":1,"value":511,"op":"SCMP_CMP_EQ"}]}]})");
  auto spec = oci::parse_spec(j);
  ASSERT_TRUE(spec) << spec.error().message();
  auto& r = *spec->linux->resources;
  EXPECT_EQ(*r.memory->limit, 1048576);
  EXPECT_EQ(*r.cpu->shares, 512u);
  EXPECT_EQ(r.cpu->cpus, "0");
  EXPECT_EQ(r.pids->limit, 10);
  ASSERT_EQ(r.devices.size(), 2u);
  EXPECT_FALSE(r.devices[0].major.has_value());
  EXPECT_EQ(*r.devices[1].minor, 3);
  auto& s = *spec->linux->seccomp;
  EXPECT_EQ(s.syscalls[0].args[0].op, "SCMP_CMP_EQ");
  EXPECT_EQ(*s.syscalls[0].errno_ret, 1u);
}

TEST(Spec, BadDeviceAccessNamesTheField) {
  Json j = minimal();
  j["linux"]["resources"] = Json::parse(R"({"devices":[{"allow":true,"access":"rwx"}]})");
  auto spec = oci::parse_spec(j);
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().message(),
            "linux.resources.devices[0].access: must only contain r, w, m, got \"rwx\"");
}

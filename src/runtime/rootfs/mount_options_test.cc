// Unit tests (no root): every mount option runc knows parses to the same flags, propagation,
// recursive attributes or extension, and everything else goes to the data string.
#include <sys/mount.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/rootfs.h"
#include "runtime/rootfs/internal.h"

namespace berth::runtime {
namespace {

MountOptions parse(const std::vector<std::string>& options) {
  auto r = parse_mount_options(options);
  EXPECT_TRUE(r.has_value());
  return r ? *r : MountOptions{};
}

TEST(RootfsMountOptions, RecognizedListIsRuncFeaturesMountOptions) {
  // `runc features` mountOptions (runc 1.2+) plus idmap/ridmap.
  std::vector<std::string> expected = {
      "acl",          "async",       "atime",          "bind",
      "defaults",     "dev",         "diratime",       "dirsync",
      "exec",         "iversion",    "lazytime",       "loud",
      "mand",         "noacl",       "noatime",        "nodev",
      "nodiratime",   "noexec",      "noiversion",     "nolazytime",
      "nomand",       "norelatime",  "nostrictatime",  "nosuid",
      "nosymfollow",  "private",     "ratime",         "rbind",
      "rdev",         "rdiratime",   "relatime",       "remount",
      "rexec",        "rnoatime",    "rnodev",         "rnodiratime",
      "rnoexec",      "rnorelatime", "rnostrictatime", "rnosuid",
      "rnosymfollow", "ro",          "rprivate",       "rrelatime",
      "rro",          "rrw",         "rshared",        "rslave",
      "rstrictatime", "rsuid",       "rsymfollow",     "runbindable",
      "rw",           "shared",      "silent",         "slave",
      "strictatime",  "suid",        "symfollow",      "sync",
      "tmpcopyup",    "unbindable",  "idmap",          "ridmap"};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(recognized_mount_options(), expected);
}

TEST(RootfsMountOptions, EveryRecognizedOptionStaysOutOfData) {
  for (const std::string& name : recognized_mount_options())
    EXPECT_EQ(parse({name}).data, "") << name;
}

struct FlagCase {
  const char* name;
  unsigned long flags;
  unsigned long clear;
};

TEST(RootfsMountOptions, FlagOptionsSetOrClearTheirFlag) {
  const FlagCase cases[] = {
      {"acl", MS_POSIXACL, 0},
      {"async", 0, MS_SYNCHRONOUS},
      {"atime", 0, MS_NOATIME},
      {"bind", MS_BIND, 0},
      {"defaults", 0, 0},
      {"dev", 0, MS_NODEV},
      {"diratime", 0, MS_NODIRATIME},
      {"dirsync", MS_DIRSYNC, 0},
      {"exec", 0, MS_NOEXEC},
      {"iversion", MS_I_VERSION, 0},
      {"lazytime", MS_LAZYTIME, 0},
      {"loud", 0, MS_SILENT},
      {"mand", MS_MANDLOCK, 0},
      {"noacl", 0, MS_POSIXACL},
      {"noatime", MS_NOATIME, 0},
      {"nodev", MS_NODEV, 0},
      {"nodiratime", MS_NODIRATIME, 0},
      {"noexec", MS_NOEXEC, 0},
      {"noiversion", 0, MS_I_VERSION},
      {"nolazytime", 0, MS_LAZYTIME},
      {"nomand", 0, MS_MANDLOCK},
      {"norelatime", 0, MS_RELATIME},
      {"nostrictatime", 0, MS_STRICTATIME},
      {"nosuid", MS_NOSUID, 0},
      {"nosymfollow", MS_NOSYMFOLLOW, 0},
      {"rbind", MS_BIND | MS_REC, 0},
      {"relatime", MS_RELATIME, 0},
      {"remount", MS_REMOUNT, 0},
      {"ro", MS_RDONLY, 0},
      {"rw", 0, MS_RDONLY},
      {"silent", MS_SILENT, 0},
      {"strictatime", MS_STRICTATIME, 0},
      {"suid", 0, MS_NOSUID},
      {"sync", MS_SYNCHRONOUS, 0},
      {"symfollow", 0, MS_NOSYMFOLLOW},
  };
  for (const FlagCase& c : cases) {
    MountOptions o = parse({c.name});
    EXPECT_EQ(o.flags, c.flags) << c.name;
    EXPECT_EQ(o.clear_flags, c.clear) << c.name;
    EXPECT_TRUE(o.propagation.empty()) << c.name;
    EXPECT_EQ(o.attr_set, 0u) << c.name;
    EXPECT_EQ(o.attr_clr, 0u) << c.name;
  }
  EXPECT_TRUE(parse({"bind"}).bind);
  EXPECT_FALSE(parse({"bind"}).recursive);
  EXPECT_TRUE(parse({"rbind"}).bind);
  EXPECT_TRUE(parse({"rbind"}).recursive);
}

TEST(RootfsMountOptions, PropagationOptionsKeepTheirOrder) {
  struct {
    const char* name;
    unsigned long flags;
  } cases[] = {{"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
               {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
               {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
               {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC}};
  for (auto& c : cases) {
    MountOptions o = parse({c.name});
    ASSERT_EQ(o.propagation.size(), 1u) << c.name;
    EXPECT_EQ(o.propagation[0], c.flags) << c.name;
    EXPECT_EQ(o.flags, 0u) << c.name;
  }
  MountOptions o = parse({"rshared", "private"});
  EXPECT_EQ(o.propagation, (std::vector<unsigned long>{MS_SHARED | MS_REC, MS_PRIVATE}));
}

TEST(RootfsMountOptions, RecursiveAttributesGoToMountSetattr) {
  struct {
    const char* name;
    uint64_t set, clr;
  } cases[] = {
      {"rro", MOUNT_ATTR_RDONLY, 0},
      {"rrw", 0, MOUNT_ATTR_RDONLY},
      {"rnosuid", MOUNT_ATTR_NOSUID, 0},
      {"rsuid", 0, MOUNT_ATTR_NOSUID},
      {"rnodev", MOUNT_ATTR_NODEV, 0},
      {"rdev", 0, MOUNT_ATTR_NODEV},
      {"rnoexec", MOUNT_ATTR_NOEXEC, 0},
      {"rexec", 0, MOUNT_ATTR_NOEXEC},
      {"rnodiratime", MOUNT_ATTR_NODIRATIME, 0},
      {"rdiratime", 0, MOUNT_ATTR_NODIRATIME},
      {"rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, 0},
      {"rsymfollow", 0, MOUNT_ATTR_NOSYMFOLLOW},
      // atime modes are an enum: the whole field is cleared, then one mode set.
      {"rrelatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
      {"rnoatime", MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME},
      {"rstrictatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME},
      {"ratime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
      {"rnorelatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
      {"rnostrictatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
  };
  for (auto& c : cases) {
    MountOptions o = parse({c.name});
    EXPECT_EQ(o.attr_set, c.set) << c.name;
    EXPECT_EQ(o.attr_clr, c.clr) << c.name;
    EXPECT_EQ(o.flags, 0u) << c.name;
  }
  MountOptions o = parse({"rnoatime", "rstrictatime"});
  EXPECT_EQ(o.attr_set, static_cast<uint64_t>(MOUNT_ATTR_STRICTATIME));
  o = parse({"rro", "rrw"});
  EXPECT_EQ(o.attr_set, 0u);
  EXPECT_EQ(o.attr_clr, static_cast<uint64_t>(MOUNT_ATTR_RDONLY));
}

TEST(RootfsMountOptions, ExtensionsAreFlagsNotData) {
  EXPECT_TRUE(parse({"tmpcopyup"}).tmpcopyup);
  MountOptions i = parse({"idmap"});
  EXPECT_TRUE(i.idmap);
  EXPECT_FALSE(i.recursive_idmap);
  MountOptions r = parse({"ridmap"});
  EXPECT_TRUE(r.idmap);
  EXPECT_TRUE(r.recursive_idmap);
}

TEST(RootfsMountOptions, UnknownOptionsJoinDataInOrder) {
  MountOptions o = parse({"nosuid", "mode=755", "strictatime", "size=65536k", "newinstance"});
  EXPECT_EQ(o.data, "mode=755,size=65536k,newinstance");
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NOSUID | MS_STRICTATIME));
}

TEST(RootfsMountOptions, LaterOptionsOverrideEarlierOnes) {
  MountOptions o = parse({"ro", "rw"});
  EXPECT_EQ(o.flags & MS_RDONLY, 0u);
  EXPECT_EQ(o.clear_flags & MS_RDONLY, static_cast<unsigned long>(MS_RDONLY));
  o = parse({"rw", "ro"});
  EXPECT_EQ(o.flags & MS_RDONLY, static_cast<unsigned long>(MS_RDONLY));
  EXPECT_EQ(o.clear_flags & MS_RDONLY, 0u);
  o = parse({"nosuid", "suid", "nosuid"});
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NOSUID));
}

TEST(RootfsMountOptions, BindFlagsBecomeMountAttributes) {
  uint64_t set = 0, clr = 0;
  rootfs::mount_flags_to_attrs(parse({"rbind", "ro", "nosuid", "nodev", "noexec"}), &set, &clr);
  EXPECT_EQ(set, static_cast<uint64_t>(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                       MOUNT_ATTR_NOEXEC));
  EXPECT_EQ(clr, 0u);
  rootfs::mount_flags_to_attrs(parse({"bind", "rw", "suid", "strictatime"}), &set, &clr);
  EXPECT_EQ(set, static_cast<uint64_t>(MOUNT_ATTR_STRICTATIME));
  EXPECT_EQ(clr, static_cast<uint64_t>(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR__ATIME));
  // Clearing an atime mode changes nothing on a bind (runc's remount keeps the mode).
  rootfs::mount_flags_to_attrs(parse({"bind", "atime"}), &set, &clr);
  EXPECT_EQ(set, 0u);
  EXPECT_EQ(clr, 0u);
}

TEST(RootfsMountOptions, DestinationsAreCleanedAndAbsolute) {
  EXPECT_EQ(rootfs::clean_destination("proc"), "/proc");
  EXPECT_EQ(rootfs::clean_destination("/dev//pts/"), "/dev/pts");
  EXPECT_EQ(rootfs::clean_destination("/../../etc"), "/etc");
  EXPECT_EQ(rootfs::mount_context("/proc", "proc"), "mount /proc (type proc)");
}

}  // namespace
}  // namespace berth::runtime

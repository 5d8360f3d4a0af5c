// Mount options of config.json mounts, parsed the way runc does: mount(2) flags (set or cleared),
// propagation (one mount(2) call each, in order), recursive "r*" attributes for
// mount_setattr(AT_RECURSIVE), the extensions tmpcopyup and idmap/ridmap, and everything else
// ("mode=755", "size=64m") joined into the filesystem data string. Later options win.
#include <sys/mount.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "base/syscalls.h"
#include "runtime/rootfs.h"
#include "runtime/rootfs/internal.h"

namespace berth::runtime {
namespace {

struct FlagOption {
  std::string_view name;
  bool clear;
  unsigned long flag;
};

// runc's libcontainer/specconv mountFlags (including its "clear" column).
constexpr auto kFlagOptions = std::to_array<FlagOption>({
    {"acl", false, MS_POSIXACL},
    {"async", true, MS_SYNCHRONOUS},
    {"atime", true, MS_NOATIME},
    {"bind", false, MS_BIND},
    {"defaults", false, 0},
    {"dev", true, MS_NODEV},
    {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},
    {"exec", true, MS_NOEXEC},
    {"iversion", false, MS_I_VERSION},
    {"lazytime", false, MS_LAZYTIME},
    {"loud", true, MS_SILENT},
    {"mand", false, MS_MANDLOCK},
    {"noacl", true, MS_POSIXACL},
    {"noatime", false, MS_NOATIME},
    {"nodev", false, MS_NODEV},
    {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},
    {"noiversion", true, MS_I_VERSION},
    {"nolazytime", true, MS_LAZYTIME},
    {"nomand", true, MS_MANDLOCK},
    {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"silent", false, MS_SILENT},
    {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
    {"symfollow", true, MS_NOSYMFOLLOW},
});

struct PropagationOption {
  std::string_view name;
  unsigned long flags;
};

constexpr auto kPropagationOptions = std::to_array<PropagationOption>({
    {"private", MS_PRIVATE},
    {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},
    {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE},
    {"runbindable", MS_UNBINDABLE | MS_REC},
});

struct AttrOption {
  std::string_view name;
  bool clear;
  uint64_t attr;
};

// The recursive variants, applied with mount_setattr(AT_RECURSIVE). MOUNT_ATTR_RELATIME is 0:
// the atime modes are an enum inside MOUNT_ATTR__ATIME, so setting one clears the whole field,
// and "clearing" one (ratime, rnorelatime, rnostrictatime) returns to the default, relatime.
constexpr auto kAttrOptions = std::to_array<AttrOption>({
    {"rro", false, MOUNT_ATTR_RDONLY},
    {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},
    {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},
    {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},
    {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME},
    {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rrelatime", false, MOUNT_ATTR_RELATIME},
    {"rnorelatime", true, MOUNT_ATTR_RELATIME},
    {"rnoatime", false, MOUNT_ATTR_NOATIME},
    {"ratime", true, MOUNT_ATTR_NOATIME},
    {"rstrictatime", false, MOUNT_ATTR_STRICTATIME},
    {"rnostrictatime", true, MOUNT_ATTR_STRICTATIME},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW},
    {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
});

constexpr std::array<std::string_view, 3> kExtensionOptions{"tmpcopyup", "idmap", "ridmap"};

constexpr bool is_atime_option(std::string_view name) {
  return name == "rrelatime" || name == "rnorelatime" || name == "rnoatime" || name == "ratime" ||
         name == "rstrictatime" || name == "rnostrictatime";
}

}  // namespace

Result<MountOptions> parse_mount_options(const std::vector<std::string>& options) {
  MountOptions o;
  for (const std::string& opt : options) {
    std::string_view name = opt;
    if (auto f = std::find_if(kFlagOptions.begin(), kFlagOptions.end(),
                              [&](const FlagOption& x) { return x.name == name; });
        f != kFlagOptions.end()) {
      if (f->clear) {
        o.flags &= ~f->flag;
        o.clear_flags |= f->flag;
      } else {
        o.flags |= f->flag;
        o.clear_flags &= ~f->flag;
      }
      if (name == "bind") o.bind = true;
      if (name == "rbind") o.bind = o.recursive = true;
      continue;
    }
    if (auto p = std::find_if(kPropagationOptions.begin(), kPropagationOptions.end(),
                              [&](const PropagationOption& x) { return x.name == name; });
        p != kPropagationOptions.end()) {
      o.propagation.push_back(p->flags);
      continue;
    }
    if (auto a = std::find_if(kAttrOptions.begin(), kAttrOptions.end(),
                              [&](const AttrOption& x) { return x.name == name; });
        a != kAttrOptions.end()) {
      if (is_atime_option(name)) {
        o.attr_clr |= MOUNT_ATTR__ATIME;
        o.attr_set &= ~static_cast<uint64_t>(MOUNT_ATTR__ATIME);
        if (!a->clear) o.attr_set |= a->attr;  // a clear leaves RELATIME (0), the default
      } else if (a->clear) {
        o.attr_clr |= a->attr;
        o.attr_set &= ~a->attr;
      } else {
        o.attr_set |= a->attr;
        o.attr_clr &= ~a->attr;
      }
      continue;
    }
    if (name == "tmpcopyup") {
      o.tmpcopyup = true;
      continue;
    }
    if (name == "idmap" || name == "ridmap") {
      o.idmap = true;
      o.recursive_idmap = name == "ridmap";
      continue;
    }
    if (!o.data.empty()) o.data += ',';
    o.data += opt;
  }
  return o;
}

const std::vector<std::string>& recognized_mount_options() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (auto& f : kFlagOptions) v.emplace_back(f.name);
    for (auto& p : kPropagationOptions) v.emplace_back(p.name);
    for (auto& a : kAttrOptions) v.emplace_back(a.name);
    for (auto& e : kExtensionOptions) v.emplace_back(e);
    std::sort(v.begin(), v.end());
    return v;
  }();
  return names;
}

namespace rootfs {

void mount_flags_to_attrs(const MountOptions& o, uint64_t* set, uint64_t* clr) {
  struct Pair {
    unsigned long ms;
    uint64_t attr;
  };
  constexpr Pair kPairs[] = {
      {MS_RDONLY, MOUNT_ATTR_RDONLY},         {MS_NOSUID, MOUNT_ATTR_NOSUID},
      {MS_NODEV, MOUNT_ATTR_NODEV},           {MS_NOEXEC, MOUNT_ATTR_NOEXEC},
      {MS_NODIRATIME, MOUNT_ATTR_NODIRATIME}, {MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW},
  };
  *set = *clr = 0;
  for (const Pair& p : kPairs) {
    if (o.flags & p.ms) *set |= p.attr;
    if (o.clear_flags & p.ms) *clr |= p.attr;
  }
  // An atime mode replaces the current one; clearing one (atime, norelatime) is what a bind
  // remount without atime flags does in runc: nothing, the mount keeps its atime mode.
  if (o.flags & MS_STRICTATIME) {
    *clr |= MOUNT_ATTR__ATIME;
    *set |= MOUNT_ATTR_STRICTATIME;
  } else if (o.flags & MS_NOATIME) {
    *clr |= MOUNT_ATTR__ATIME;
    *set |= MOUNT_ATTR_NOATIME;
  } else if (o.flags & MS_RELATIME) {
    *clr |= MOUNT_ATTR__ATIME;
  }
}

}  // namespace rootfs
}  // namespace berth::runtime

// /dev inside the container: the default devices (null, zero, full, random, urandom, tty),
// linux.devices, the /dev/fd and /dev/std* symlinks, /dev/core and /dev/ptmx. Devices are
// mknod'ed, or bind-mounted from the host's node in a user namespace (or when mknod says EPERM).
// Every parent directory is resolved inside the rootfs and each node is created relative to its
// fd with calls that never follow a final symlink, so an image whose /dev is a symlink to a host
// directory gets nothing written outside the rootfs (runc CVE-2026-41579).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>

#include "base/path.h"
#include "runtime/rootfs/internal.h"

namespace berth::runtime::rootfs {
namespace {

struct DefaultDevice {
  const char* path;
  unsigned major, minor;
};

constexpr std::array<DefaultDevice, 6> kDefaultDevices{{
    {"/dev/null", 1, 3},
    {"/dev/zero", 1, 5},
    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8},
    {"/dev/urandom", 1, 9},
    {"/dev/tty", 5, 0},
}};

struct Node {
  std::string path;  // clean, absolute, inside the container
  mode_t type;       // S_IFCHR S_IFBLK S_IFIFO
  dev_t rdev;
  mode_t mode;
  uid_t uid;
  gid_t gid;
};

// Bind-mounts the host's node at the same path over an empty file (user namespaces cannot
// mknod; runc does the same).
Result<> bind_node(int dir, const std::string& name, const Node& n) {
  if (::mknodat(dir, name.c_str(), S_IFREG | 0000, 0) != 0 && errno != EEXIST)
    return errno_error("create " + n.path);
  int fd = ::openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno_error("open " + n.path);
  UniqueFd target(fd);
  struct stat st {};
  if (::fstat(target.get(), &st) != 0) return errno_error("stat " + n.path);
  if (S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode))
    return make_error(ErrorCode::kInvalidArgument, n.path + ": not a file to bind a device onto");
  ASSIGN_OR_RETURN(UniqueFd tree, clone_tree(AT_FDCWD, n.path, false));
  return attach_tree(tree.get(), target.get());
}

// Creates nodes, keeping the last parent directory open: the defaults all live in /dev.
class NodeMaker {
 public:
  NodeMaker(const MountContext& ctx, bool bind)
      : ctx_(ctx), bind_(bind), euid_(::geteuid()), egid_(::getegid()) {}

  Result<> make(const Node& n) {
    auto slash = n.path.find_last_of('/');
    std::string parent = slash == 0 ? "/" : n.path.substr(0, slash);
    std::string name = n.path.substr(slash + 1);
    if (parent != parent_path_ || !parent_) {
      ASSIGN_OR_RETURN(parent_, open_dir_in_root(ctx_.root, parent));
      parent_path_ = parent;
    }
    const int dir = parent_.get();
    if (!bind_) {
      int r = ::mknodat(dir, name.c_str(), n.type | (n.mode & 07777), n.rdev);  // umask is 0
      if (r == 0) {
        // mknod made it ours (fsuid/fsgid); only other owners need a chown.
        if ((n.uid != euid_ || n.gid != egid_) &&
            ::fchownat(dir, name.c_str(), n.uid, n.gid, AT_SYMLINK_NOFOLLOW) != 0)
          return errno_error("chown " + n.path);
        return {};
      }
      if (errno == EEXIST) return {};  // already there (runc leaves it)
      if (errno != EPERM && errno != EACCES) return errno_error("mknod " + n.path);
    }
    return bind_node(dir, name, n);
  }

 private:
  const MountContext& ctx_;
  bool bind_;
  uid_t euid_;
  gid_t egid_;
  std::string parent_path_;
  UniqueFd parent_;
};

Result<Node> node_from_spec(const oci::Device& d) {
  Node n;
  n.path = clean_path("/" + d.path);
  if (d.type == "c" || d.type == "u") {
    n.type = S_IFCHR;
  } else if (d.type == "b") {
    n.type = S_IFBLK;
  } else if (d.type == "p") {
    n.type = S_IFIFO;
  } else {
    return make_error(ErrorCode::kInvalidArgument,
                      "linux.devices " + d.path + ": invalid type \"" + d.type + "\"");
  }
  if (n.path == "/" || d.path.empty() || n.path.ends_with("/.."))
    return make_error(ErrorCode::kInvalidArgument,
                      "linux.devices: invalid path \"" + d.path + "\"");
  n.rdev = n.type == S_IFIFO
               ? 0
               : makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
  n.mode = d.file_mode ? (*d.file_mode & 07777) : 0666;
  n.uid = d.uid.value_or(0);
  n.gid = d.gid.value_or(0);
  return n;
}

bool mounts_type_at(const oci::Spec& spec, const std::string& type, const std::string& dest) {
  for (const auto& m : spec.mounts)
    if (m.type == type && clean_destination(m.destination) == dest) return true;
  return false;
}

Result<> dev_symlinks(const oci::Spec& spec, const MountContext& ctx) {
  ASSIGN_OR_RETURN(UniqueFd dev, open_in_root(ctx.root, "/dev", O_PATH | O_DIRECTORY));
  struct Link {
    const char* target;
    const char* name;
  };
  constexpr Link kLinks[] = {{"/proc/self/fd", "fd"},
                             {"/proc/self/fd/0", "stdin"},
                             {"/proc/self/fd/1", "stdout"},
                             {"/proc/self/fd/2", "stderr"}};
  for (const Link& l : kLinks)
    if (::symlinkat(l.target, dev.get(), l.name) != 0 && errno != EEXIST)
      return errno_error(std::string("symlink /dev/") + l.name);
  // kcore exists only with CONFIG_PROC_KCORE, and only matters with a /proc.
  struct stat kcore {};  // stat, not access(2): that one builds a new cred each call
  if (mounts_type_at(spec, "proc", "/proc") && ::stat("/proc/kcore", &kcore) == 0 &&
      ::symlinkat("/proc/kcore", dev.get(), "core") != 0 && errno != EEXIST)
    return errno_error("symlink /dev/core");
  if (mounts_type_at(spec, "devpts", "/dev/pts") &&
      ::symlinkat("pts/ptmx", dev.get(), "ptmx") != 0) {
    // Replaces a ptmx node (from linux.devices, say): the one of our devpts instance is meant.
    if (errno != EEXIST || ::unlinkat(dev.get(), "ptmx", 0) != 0 ||
        ::symlinkat("pts/ptmx", dev.get(), "ptmx") != 0)
      return errno_error("symlink /dev/ptmx");
  }
  return {};
}

}  // namespace

Result<> setup_devices(const oci::Spec& spec, const MountContext& ctx, bool populate_dev,
                       bool create_devices) {
  const bool bind = ctx.opts->in_user_namespace;
  std::vector<Node> nodes;
  if (spec.linux && create_devices) {
    for (const auto& d : spec.linux->devices) {
      ASSIGN_OR_RETURN(Node n, node_from_spec(d));
      nodes.push_back(std::move(n));
    }
  }
  if (populate_dev) {
    for (const auto& d : kDefaultDevices) {
      bool configured = false;
      for (const auto& n : nodes) configured |= n.path == d.path;
      if (!configured) nodes.push_back({d.path, S_IFCHR, makedev(d.major, d.minor), 0666, 0, 0});
    }
  }
  mode_t old_umask = ::umask(0);  // the modes given are the modes wanted
  NodeMaker maker(ctx, bind);
  Result<> r;
  for (const Node& n : nodes) {
    r = maker.make(n);
    if (!r) {
      r = std::unexpected(std::move(r).error().wrap("device " + n.path));
      break;
    }
  }
  ::umask(old_umask);
  if (!r) return r;
  if (populate_dev) TRY_CTX(dev_symlinks(spec, ctx), "/dev");
  return {};
}

Result<> reopen_dev_null() {
  int fd = ::open("/dev/null", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno_error("open /dev/null");
  UniqueFd null(fd);
  struct stat st {};
  if (::fstat(null.get(), &st) != 0) return errno_error("stat /dev/null");
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
    return make_error(ErrorCode::kFailedPrecondition, "/dev/null is not the null device");
  for (int i = 0; i < 3; ++i) {
    struct stat s {};
    if (::fstat(i, &s) == 0 && S_ISCHR(s.st_mode) && s.st_rdev == st.st_rdev &&
        ::dup3(null.get(), i, 0) < 0)
      return errno_error("reopen stdio on /dev/null");
  }
  return {};
}

}  // namespace berth::runtime::rootfs

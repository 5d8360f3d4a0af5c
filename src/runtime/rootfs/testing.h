// Test helpers for the rootfs tests (root only): a temporary bundle with a busybox rootfs, and a
// runner that does what the runtime's child does, in a forked child inside fresh namespaces
// (mount namespace first, "/" made rslave, so nothing reaches the host even when a test fails):
// prepare_rootfs -> enter_rootfs -> finalize_rootfs -> checks from inside. Checks return "" or a
// description of what is wrong; the runner reports it over a pipe.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "base/file.h"
#include "oci/spec.h"
#include "runtime/rootfs.h"

namespace berth::runtime::rootfs::rootfs_testing {

inline bool is_root() {
  return ::geteuid() == 0;
}

// <tmp>/rootfs with /bin/busybox and a few applet links; removed (never following symlinks) on
// destruction.
class TempBundle {
 public:
  TempBundle() {
    char tmpl[] = "/tmp/berth-rootfs-XXXXXX";
    if (::mkdtemp(tmpl)) dir_ = tmpl;
    rootfs_ = dir_ + "/rootfs";
    (void)mkdir_all(rootfs_ + "/bin");
    for (const char* d : {"/proc", "/sys", "/dev", "/etc", "/tmp"}) (void)mkdir_all(rootfs_ + d);
    copy_busybox();
  }
  ~TempBundle() {
    if (!dir_.empty()) (void)remove_all(dir_);
  }
  TempBundle(const TempBundle&) = delete;
  TempBundle& operator=(const TempBundle&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& rootfs() const { return rootfs_; }
  bool ok() const { return !dir_.empty() && ::access((rootfs_ + "/bin/sh").c_str(), X_OK) == 0; }

 private:
  void copy_busybox() {
    auto bin = read_file("/bin/busybox");
    if (!bin) return;
    std::string dst = rootfs_ + "/bin/busybox";
    int fd = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (fd < 0) return;
    size_t off = 0;
    while (off < bin->size()) {
      ssize_t n = ::write(fd, bin->data() + off, bin->size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fd);
    for (const char* applet : {"sh", "ls", "cat", "echo", "mount", "stat", "touch", "mkdir"})
      (void)::symlink("busybox", (rootfs_ + "/bin/" + applet).c_str());
  }

  std::string dir_;
  std::string rootfs_;
};

// runc's `spec` defaults (pid, network, ipc, uts, mount namespaces; 7 mounts; masked and
// read-only paths; read-only root).
inline oci::Spec default_spec(bool rootless = false) {
  auto spec = oci::parse_spec(oci::default_spec_json(rootless));
  return spec ? *spec : oci::Spec{};
}

struct ContainerRun {
  oci::Spec spec;
  RootfsOptions opts;
  int unshare_flags = CLONE_NEWNS | CLONE_NEWPID;
  // In the test's mount namespace, before prepare_rootfs (e.g. mount something in a source).
  std::function<std::string()> setup;
  // After prepare_rootfs, whatever it returned, still seeing the host's paths: checks that
  // nothing landed outside the rootfs.
  std::function<std::string(const Result<>&)> after_prepare;
  // Inside the container after finalize_rootfs; out is the report pipe (may become stdout).
  std::function<std::string(int out)> inside;
};

struct RunResult {
  int status = 0;
  std::string output;  // "" when every check passed
  bool ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0 && output.empty(); }
};

inline void write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

// The user namespace maps root to root (what a process may write for itself), so ownership in
// the image stays as it is while mounts from the host become locked.
inline std::string map_root_in_userns() {
  auto w = [](const char* path, const char* data) {
    return write_file(path, data) ? std::string() : std::string("cannot write ") + path;
  };
  std::string e = w("/proc/self/setgroups", "deny");
  if (e.empty()) e = w("/proc/self/uid_map", "0 0 1");
  if (e.empty()) e = w("/proc/self/gid_map", "0 0 1");
  return e;
}

inline RunResult run_container(const ContainerRun& run) {
  RunResult res;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return {1 << 8, "pipe2 failed"};
  pid_t a = ::fork();
  if (a < 0) return {1 << 8, "fork failed"};
  if (a == 0) {
    ::close(p[0]);
    int out = p[1];
    if (::unshare(run.unshare_flags) != 0) {
      write_all(out, std::string("unshare: ") + std::strerror(errno));
      ::_exit(1);
    }
    if ((run.unshare_flags & CLONE_NEWUSER) && !map_root_in_userns().empty()) {
      write_all(out, "user namespace mapping failed");
      ::_exit(1);
    }
    if (::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) {
      write_all(out, "make / rslave failed");
      ::_exit(1);
    }
    if (run.setup) {
      std::string msg = run.setup();
      if (!msg.empty()) {
        write_all(out, "setup: " + msg);
        ::_exit(1);
      }
    }
    pid_t b = ::fork();  // pid 1 of the new pid namespace
    if (b == 0) {
      auto r = prepare_rootfs(run.spec, run.opts);
      std::string msg = run.after_prepare ? run.after_prepare(r) : "";
      if (!r) {
        write_all(out, "prepare: " + r.error().message() + (msg.empty() ? "" : "; " + msg));
        ::_exit(2);
      }
      if (!msg.empty()) {
        write_all(out, msg);
        ::_exit(1);
      }
      if (auto e = enter_rootfs(run.opts); !e) {
        write_all(out, "enter: " + e.error().message());
        ::_exit(3);
      }
      if (auto f = finalize_rootfs(run.spec); !f) {
        write_all(out, "finalize: " + f.error().message());
        ::_exit(4);
      }
      msg = run.inside ? run.inside(out) : "";
      write_all(out, msg);
      ::_exit(msg.empty() ? 0 : 1);
    }
    int st = 0;
    while (b > 0 && ::waitpid(b, &st, 0) < 0 && errno == EINTR) {
    }
    ::_exit(b < 0 ? 1 : (WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)));
  }
  ::close(p[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) res.output.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  while (::waitpid(a, &res.status, 0) < 0 && errno == EINTR) {
  }
  return res;
}

// --- checks (return "" or what is wrong) ---

inline std::string check_fs(const std::string& path, long magic) {
  struct statfs sf {};
  if (::statfs(path.c_str(), &sf) != 0) return path + ": statfs: " + std::strerror(errno) + "\n";
  if (static_cast<long>(sf.f_type) != magic) return path + ": unexpected filesystem type\n";
  return "";
}

inline std::string check_char_device(const std::string& path, unsigned major, unsigned minor) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return path + ": " + std::strerror(errno) + "\n";
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(major, minor))
    return path + ": not char " + std::to_string(major) + ":" + std::to_string(minor) + "\n";
  return "";
}

inline std::string check_mount_flag(const std::string& path, unsigned long flag, bool want) {
  struct statvfs sv {};
  if (::statvfs(path.c_str(), &sv) != 0) return path + ": statvfs: " + std::strerror(errno) + "\n";
  if (((sv.f_flag & flag) != 0) != want)
    return path + ": mount flag " + std::to_string(flag) + (want ? " missing\n" : " set\n");
  return "";
}

// Creating a file in dir fails with EROFS.
inline std::string check_read_only(const std::string& dir) {
  std::string f = dir + "/.berth-probe";
  int fd = ::open(f.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ::close(fd);
    ::unlink(f.c_str());
    return dir + ": writable, expected read-only\n";
  }
  if (errno != EROFS) return dir + ": " + std::strerror(errno) + ", expected EROFS\n";
  return "";
}

inline std::string check_writable(const std::string& dir) {
  std::string f = dir + "/.berth-probe";
  int fd = ::open(f.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return dir + ": not writable: " + std::strerror(errno) + "\n";
  ::close(fd);
  ::unlink(f.c_str());
  return "";
}

inline bool is_mount_root(const std::string& path) {
  struct statx stx {};
  return ::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, 0, &stx) == 0 &&
         (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

inline bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Entries of a directory other than "." and ".." (-1 if it cannot be read).
inline int count_entries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return -1;
  int n = 0;
  while (struct dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++n;
  ::closedir(d);
  return n;
}

}  // namespace berth::runtime::rootfs::rootfs_testing

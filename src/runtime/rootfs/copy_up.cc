// tmpcopyup: the content of a directory copied into the tmpfs mounted over it, so the container
// starts with what the image had there (crun/runc extension). The source is read through an fd
// taken before the tmpfs hid it; nothing is followed: symlinks are copied as symlinks, and every
// name is opened with O_NOFOLLOW relative to its parent's fd.
#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "runtime/rootfs/internal.h"

namespace berth::runtime::rootfs {
namespace {

constexpr int kMaxDepth = 128;

Result<> copy_file(int src_dir, int dst_dir, const char* name, const struct stat& st) {
  int in = ::openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) return errno_error(std::string("open ") + name);
  UniqueFd src(in);
  int out = ::openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     st.st_mode & 07777);
  if (out < 0) return errno_error(std::string("create ") + name);
  UniqueFd dst(out);
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n = ::sendfile(dst.get(), src.get(), nullptr, static_cast<size_t>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error(std::string("copy ") + name);
    if (n == 0) break;  // the file shrank meanwhile
    left -= n;
  }
  if (::fchown(dst.get(), st.st_uid, st.st_gid) != 0 ||
      ::fchmod(dst.get(), st.st_mode & 07777) != 0)
    return errno_error(std::string("chown/chmod ") + name);
  return {};
}

Result<> copy_dir(int src_dir, int dst_dir, int depth) {
  if (depth > kMaxDepth) return make_error(ErrorCode::kInvalidArgument, "directory tree too deep");
  int dup_fd = ::openat(src_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0) return errno_error("open directory");
  DIR* d = ::fdopendir(dup_fd);
  if (!d) {
    ::close(dup_fd);
    return errno_error("opendir");
  }
  // Read all names first: the fd-relative walk below must not interleave with readdir.
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  for (const std::string& name : names) {
    const char* n = name.c_str();
    struct stat st {};
    if (::fstatat(src_dir, n, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno_error("stat " + name);
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(dst_dir, n, 0700) != 0) return errno_error("mkdir " + name);
      int s = ::openat(src_dir, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (s < 0) return errno_error("open " + name);
      UniqueFd sub_src(s);
      int t = ::openat(dst_dir, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (t < 0) return errno_error("open " + name);
      UniqueFd sub_dst(t);
      TRY_CTX(copy_dir(sub_src.get(), sub_dst.get(), depth + 1), name);
      if (::fchown(sub_dst.get(), st.st_uid, st.st_gid) != 0 ||
          ::fchmod(sub_dst.get(), st.st_mode & 07777) != 0)
        return errno_error("chown/chmod " + name);
    } else if (S_ISREG(st.st_mode)) {
      TRY(copy_file(src_dir, dst_dir, n, st));
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 4096) + 1, '\0');
      ssize_t len = ::readlinkat(src_dir, n, target.data(), target.size());
      if (len < 0) return errno_error("readlink " + name);
      target.resize(static_cast<size_t>(len));
      if (::symlinkat(target.c_str(), dst_dir, n) != 0) return errno_error("symlink " + name);
      if (::fchownat(dst_dir, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
        return errno_error("chown " + name);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      if (::mknodat(dst_dir, n, st.st_mode, st.st_rdev) != 0) return errno_error("mknod " + name);
      if (::fchownat(dst_dir, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0 ||
          ::fchmodat(dst_dir, n, st.st_mode & 07777, 0) != 0)
        return errno_error("chown/chmod " + name);
    }
    // Sockets are not copied: they are only meaningful to the process that bound them.
  }
  return {};
}

}  // namespace

Result<> copy_tree(int src_dir, int dst_dir) {
  return copy_dir(src_dir, dst_dir, 0);
}

}  // namespace berth::runtime::rootfs

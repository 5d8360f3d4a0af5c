// docker diff for an overlay container: walk the upper dir and classify each entry against the
// lower dirs. Overlay whiteouts (char 0/0) are deletions; an entry present in a lower layer is a
// modification, anything else an addition. Like docker, a directory that overlay only copied up
// (same mode and mtime as below) is not reported by itself, but the parent of an added or
// deleted entry is. Below an opaque directory nothing of the lowers shows through, so its
// children are additions. Lookups in the lowers resolve inside each lower (RESOLVE_IN_ROOT).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "base/path.h"
#include "image/archive.h"

namespace berth::image {
namespace {

class ChangeWalker {
 public:
  explicit ChangeWalker(std::vector<UniqueFd> lowers) : lowers_(std::move(lowers)) {}

  Result<> walk(int dirfd, const std::string& dir, bool hidden_below);
  std::vector<Change> result();

 private:
  // stat of path in the highest lower that has it.
  bool find_below(const std::string& path, struct stat* st) const;

  std::vector<UniqueFd> lowers_;
  std::map<std::string, Change::Kind> changes_;
};

bool ChangeWalker::find_below(const std::string& path, struct stat* st) const {
  for (const auto& lower : lowers_) {
    auto fd = open_in_root(lower.get(), path, O_PATH | O_NOFOLLOW);
    if (fd && ::fstat(fd->get(), st) == 0) return true;
  }
  return false;
}

Result<> ChangeWalker::walk(int dirfd, const std::string& dir, bool hidden_below) {
  int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) return errno_error("open " + dir);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return errno_error("open " + dir);
  }
  std::vector<std::string> names;
  while (dirent* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  for (const auto& name : names) {
    std::string path = (dir == "/" ? "" : dir) + "/" + name;
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) {
      changes_[path] = Change::kDeleted;
      continue;
    }
    bool opaque = false;
    UniqueFd child;
    if (S_ISDIR(st.st_mode)) {
      int raw = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (raw < 0) return errno_error("open " + path);
      child.reset(raw);
      char v[2];
      opaque = ::fgetxattr(child.get(), "trusted.overlay.opaque", v, sizeof v) == 1 && v[0] == 'y';
    }
    struct stat below;
    if (!hidden_below && find_below(path, &below)) {
      bool copied_up_dir =
          S_ISDIR(st.st_mode) && S_ISDIR(below.st_mode) && !opaque && st.st_mode == below.st_mode &&
          st.st_mtim.tv_sec == below.st_mtim.tv_sec && st.st_mtim.tv_nsec == below.st_mtim.tv_nsec;
      if (!copied_up_dir) changes_[path] = Change::kModified;
    } else {
      changes_[path] = Change::kAdded;
    }
    if (child) TRY(walk(child.get(), path, hidden_below || opaque));
  }
  return {};
}

std::vector<Change> ChangeWalker::result() {
  std::vector<std::string> parents;
  for (const auto& [path, kind] : changes_) {
    if (kind == Change::kModified) continue;
    std::string parent = path.substr(0, path.find_last_of('/'));
    if (!parent.empty()) parents.push_back(parent);
  }
  for (const auto& p : parents) changes_.try_emplace(p, Change::kModified);
  std::vector<Change> out;
  out.reserve(changes_.size());
  for (const auto& [path, kind] : changes_) out.push_back(Change{path, kind});
  return out;  // std::map keeps them sorted by path
}

}  // namespace

Result<std::vector<Change>> overlay_changes(const std::string& upper,
                                            const std::vector<std::string>& lowers) {
  std::vector<UniqueFd> lower_fds;
  for (const auto& l : lowers) {
    int fd = ::open(l.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_error("open lower dir " + l);
    lower_fds.emplace_back(fd);
  }
  int raw = ::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (raw < 0) return errno_error("open upper dir " + upper);
  UniqueFd up(raw);
  ChangeWalker walker(std::move(lower_fds));
  TRY_CTX(walker.walk(up.get(), "/", false), "listing changes of " + upper);
  return walker.result();
}

}  // namespace berth::image

// Layer unpack: one pass over the (possibly compressed) tar stream that hashes raw and
// uncompressed bytes, parses headers with libarchive and writes every entry itself.
//
// Every entry is created with *at() calls relative to its parent directory, and every parent is
// resolved with openat2(RESOLVE_IN_ROOT) from the destination's fd: `..`, absolute names and
// symlinks planted by earlier entries all resolve inside dest, and the entry's own final
// component is never followed (O_NOFOLLOW / AT_SYMLINK_NOFOLLOW / O_EXCL creation).
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/path.h"
#include "image/archive.h"
#include "image/tar_codec.h"

namespace berth::image {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueWhiteout = ".wh..wh..opq";
constexpr std::string_view kOverlayXattrPrefix = "trusted.overlay.";

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

std::string proc_fd_path(int dirfd, const std::string& name) {
  return fd_path(dirfd) + "/" + name;
}

// Removes dirfd/name and, for a directory, everything below it; never follows symlinks.
Result<> remove_at(int dirfd, const std::string& name) {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return {};
  if (errno != EISDIR && errno != EPERM) return errno_error("removing " + name);
  int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno_error("opening " + name);
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return errno_error("opening " + name);
  }
  std::vector<std::string> children;
  while (dirent* de = ::readdir(dir)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") children.emplace_back(n);
  }
  Result<> result;
  for (const auto& child : children) {
    auto r = remove_at(::dirfd(dir), child);
    if (!r) {
      result = std::unexpected(std::move(r).error().wrap(name));
      break;
    }
  }
  ::closedir(dir);
  if (!result) return result;
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return errno_error("removing " + name);
  return {};
}

constexpr size_t kTarBlock = 512;

struct ReadContext {
  DecompressReader* reader;
  PrefetchReader* prefetch;  // set for compressed streams: inflate runs on its own thread
  std::optional<Error> error;
  // For the end-of-archive check: the chunk handed to libarchive last (cur, valid until the next
  // callback) and the bytes just before it (tail, at most one tar block).
  const uint8_t* cur = nullptr;
  size_t cur_len = 0;
  int64_t cur_start = 0;
  std::array<uint8_t, kTarBlock> tail{};
  size_t tail_len = 0;

  // Before asking for the next chunk (which may reuse cur's memory): tail = last block of
  // (tail + cur), cur empty.
  void fold() {
    if (cur_len >= kTarBlock) {
      std::memcpy(tail.data(), cur + cur_len - kTarBlock, kTarBlock);
      tail_len = kTarBlock;
    } else if (cur_len > 0) {
      size_t keep = std::min(tail_len, kTarBlock - cur_len);
      std::memmove(tail.data(), tail.data() + tail_len - keep, keep);
      std::memcpy(tail.data() + keep, cur, cur_len);
      tail_len = keep + cur_len;
    }
    cur_start += static_cast<int64_t>(cur_len);
    cur = nullptr;
    cur_len = 0;
  }

  // Whether the block ending at stream offset end is all zeros (libarchive stops right after
  // the end-of-archive blocks, so a proper tar has one there). Unknown (not kept) counts as yes.
  bool zero_block_before(int64_t end) const {
    if (end < static_cast<int64_t>(kTarBlock)) return false;
    int64_t begin = end - static_cast<int64_t>(kTarBlock);
    int64_t tail_start = cur_start - static_cast<int64_t>(tail_len);
    if (begin < tail_start || end > cur_start + static_cast<int64_t>(cur_len)) return true;
    for (int64_t off = begin; off < end; ++off) {
      uint8_t b = off < cur_start ? tail[static_cast<size_t>(off - tail_start)]
                                  : cur[static_cast<size_t>(off - cur_start)];
      if (b != 0) return false;
    }
    return true;
  }
};

la_ssize_t read_callback(struct archive* a, void* opaque, const void** buf) {
  auto* ctx = static_cast<ReadContext*>(opaque);
  ctx->fold();
  auto chunk = ctx->prefetch ? ctx->prefetch->next() : ctx->reader->next();
  if (!chunk) {
    archive_set_error(a, EIO, "%s", chunk.error().message().c_str());
    ctx->error = chunk.error();
    return -1;
  }
  ctx->cur = chunk->data();
  ctx->cur_len = chunk->size();
  *buf = chunk->data();
  return static_cast<la_ssize_t>(chunk->size());
}

struct DirTime {
  std::string path;
  struct timespec times[2];
};

class Unpacker {
 public:
  Unpacker(int rootfd, const UnpackOptions& opts) : rootfd_(rootfd), opts_(opts) {
    euid_ = ::geteuid();
    egid_ = ::getegid();
  }

  Result<> entry(struct archive* a, struct archive_entry* e);
  Result<> finish();
  int64_t unpacked_size() const { return unpacked_size_; }

 private:
  struct Parent {
    int fd;
    bool setgid;
  };
  Result<Parent> parent_dir(const std::string& parent);
  void forget_cached(const std::string& path);
  Result<> replace_existing(int parentfd, const std::string& name, const std::string& rel,
                            bool keep_dir);
  Result<> write_file(struct archive* a, struct archive_entry* e, const Parent& p,
                      const std::string& name, const std::string& rel);
  Result<> make_dir(struct archive_entry* e, const Parent& p, const std::string& name,
                    const std::string& rel);
  Result<> make_hardlink(struct archive_entry* e, const Parent& p, const std::string& name,
                         const std::string& rel);
  Result<> make_special(struct archive_entry* e, const Parent& p, const std::string& name,
                        const std::string& rel);
  Result<> whiteout(const std::string& parent, const std::string& name, const std::string& rel);
  Result<> set_metadata_fd(int fd, struct archive_entry* e, bool parent_setgid);
  void set_xattrs_fd(int fd, struct archive_entry* e);
  void set_xattrs_path(const std::string& path, struct archive_entry* e);
  static void entry_times(struct archive_entry* e, struct timespec times[2]);

  int rootfd_;
  const UnpackOptions& opts_;
  uid_t euid_;
  gid_t egid_;
  std::string cached_path_;
  UniqueFd cached_fd_;
  bool cached_setgid_ = false;
  std::vector<DirTime> dir_times_;
  std::set<std::string> unpacked_;  // kApply only: what this stream wrote (opaque keeps it)
  int64_t unpacked_size_ = 0;
};

Result<Unpacker::Parent> Unpacker::parent_dir(const std::string& parent) {
  if (cached_fd_ && cached_path_ == parent) return Parent{cached_fd_.get(), cached_setgid_};
  auto fd = open_in_root(rootfd_, parent, O_PATH | O_DIRECTORY);
  if (!fd && fd.error().sys_errno() == ENOENT) fd = mkdir_all_in_root(rootfd_, parent, 0755);
  if (!fd) return std::unexpected(fd.error());
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return errno_error("stat " + parent);
  cached_fd_ = std::move(*fd);
  cached_path_ = parent;
  cached_setgid_ = (st.st_mode & S_ISGID) != 0;
  return Parent{cached_fd_.get(), cached_setgid_};
}

void Unpacker::forget_cached(const std::string& path) {
  if (cached_path_ == path || starts_with(cached_path_, path + "/")) cached_fd_.reset();
}

// Called after a create failed with EEXIST: a directory re-declared as a directory stays,
// anything else is removed (with its contents) so the new entry takes its place.
Result<> Unpacker::replace_existing(int parentfd, const std::string& name, const std::string& rel,
                                    bool keep_dir) {
  struct stat st;
  if (::fstatat(parentfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return errno_error("stat " + rel);
  }
  if (keep_dir && S_ISDIR(st.st_mode)) return {};
  forget_cached(rel);
  return remove_at(parentfd, name);
}

void Unpacker::entry_times(struct archive_entry* e, struct timespec times[2]) {
  times[1].tv_sec = archive_entry_mtime(e);
  times[1].tv_nsec = archive_entry_mtime_nsec(e);
  if (archive_entry_atime_is_set(e)) {
    times[0].tv_sec = archive_entry_atime(e);
    times[0].tv_nsec = archive_entry_atime_nsec(e);
  } else {
    times[0] = times[1];
  }
}

void Unpacker::set_xattrs_fd(int fd, struct archive_entry* e) {
  if (archive_entry_xattr_reset(e) == 0) return;
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    // Overlay's own attributes come only from whiteout entries, never from layer data.
    if (starts_with(name, kOverlayXattrPrefix)) continue;
    (void)::fsetxattr(fd, name, value, size, 0);  // an fs that refuses one: skipped
  }
}

void Unpacker::set_xattrs_path(const std::string& path, struct archive_entry* e) {
  if (archive_entry_xattr_reset(e) == 0) return;
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (starts_with(name, kOverlayXattrPrefix)) continue;
    (void)::lsetxattr(path.c_str(), name, value, size, 0);
  }
}

// Owner, then mode (chown clears setuid bits), then xattrs (chown clears security.capability).
Result<> Unpacker::set_metadata_fd(int fd, struct archive_entry* e, bool parent_setgid) {
  if (opts_.preserve_owner) {
    auto uid = static_cast<uid_t>(archive_entry_uid(e));
    auto gid = static_cast<gid_t>(archive_entry_gid(e));
    if ((uid != euid_ || gid != egid_ || parent_setgid) && ::fchown(fd, uid, gid) != 0)
      return errno_error("chown");
  }
  if (::fchmod(fd, archive_entry_mode(e) & 07777) != 0) return errno_error("chmod");
  set_xattrs_fd(fd, e);
  return {};
}

Result<> Unpacker::write_file(struct archive* a, struct archive_entry* e, const Parent& p,
                              const std::string& name, const std::string& rel) {
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int raw = ::openat(p.fd, name.c_str(), kFlags, 0600);
  if (raw < 0 && errno == EEXIST) {
    TRY(replace_existing(p.fd, name, rel, false));
    raw = ::openat(p.fd, name.c_str(), kFlags, 0600);
  }
  if (raw < 0) return errno_error("create");
  UniqueFd fd(raw);
  int64_t end = 0;
  for (;;) {
    const void* buf;
    size_t size;
    la_int64_t offset;
    int r = archive_read_data_block(a, &buf, &size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN)
      return make_error(ErrorCode::kInvalidArgument,
                        std::string("reading data: ") + archive_error_string(a));
    const auto* data = static_cast<const char*>(buf);
    while (size > 0) {
      ssize_t n = ::pwrite(fd.get(), data, size, offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_error("write");
      }
      data += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
    end = std::max<int64_t>(end, offset);
  }
  int64_t want = archive_entry_size(e);
  if (end < want && ::ftruncate(fd.get(), want) != 0) return errno_error("truncate");
  unpacked_size_ += want;
  TRY(set_metadata_fd(fd.get(), e, p.setgid));
  struct timespec times[2];
  entry_times(e, times);
  if (::futimens(fd.get(), times) != 0) return errno_error("set times");
  return {};
}

Result<> Unpacker::make_dir(struct archive_entry* e, const Parent& p, const std::string& name,
                            const std::string& rel) {
  if (::mkdirat(p.fd, name.c_str(), 0700) != 0) {
    if (errno != EEXIST) return errno_error("mkdir");
    TRY(replace_existing(p.fd, name, rel, true));
    if (::mkdirat(p.fd, name.c_str(), 0700) != 0 && errno != EEXIST) return errno_error("mkdir");
  }
  int raw = ::openat(p.fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (raw < 0) return errno_error("open");
  UniqueFd fd(raw);
  TRY(set_metadata_fd(fd.get(), e, p.setgid));
  DirTime t{rel, {}};
  entry_times(e, t.times);
  dir_times_.push_back(std::move(t));
  return {};
}

Result<> Unpacker::make_hardlink(struct archive_entry* e, const Parent& p, const std::string& name,
                                 const std::string& rel) {
  std::string target = clean_path("/" + std::string(archive_entry_hardlink(e)));
  if (target == "/" || target.substr(1) == rel)
    return make_error(ErrorCode::kInvalidArgument, "invalid hardlink target " + target);
  auto slash = target.find_last_of('/');
  std::string tparent = target.substr(0, slash), tname = target.substr(slash + 1);
  auto tdir = open_in_root(rootfd_, tparent.empty() ? "/" : tparent, O_PATH | O_DIRECTORY);
  if (!tdir)
    return make_error(ErrorCode::kInvalidArgument, "hardlink target " + target + " not in layer");
  // flags 0: a symlink target is linked itself, never followed.
  if (::linkat(tdir->get(), tname.c_str(), p.fd, name.c_str(), 0) != 0) {
    if (errno == EEXIST) {
      TRY(replace_existing(p.fd, name, rel, false));
      if (::linkat(tdir->get(), tname.c_str(), p.fd, name.c_str(), 0) == 0) return {};
    }
    if (errno == ENOENT)
      return make_error(ErrorCode::kInvalidArgument, "hardlink target " + target + " not in layer");
    return errno_error("hardlink to " + target);
  }
  return {};
}

// Symlinks, devices and fifos: created by name in the parent; metadata set by name without
// following (the entry is a symlink or was just created by us).
Result<> Unpacker::make_special(struct archive_entry* e, const Parent& p, const std::string& name,
                                const std::string& rel) {
  auto type = archive_entry_filetype(e);
  auto create = [&]() -> int {
    if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(e);
      return ::symlinkat(target ? target : "", p.fd, name.c_str());
    }
    mode_t kind = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
    return ::mknodat(p.fd, name.c_str(), kind | (archive_entry_mode(e) & 0777),
                     archive_entry_rdev(e));
  };
  if (create() != 0) {
    if (errno != EEXIST) return errno_error("create");
    TRY(replace_existing(p.fd, name, rel, false));
    if (create() != 0) return errno_error("create");
  }
  if (opts_.preserve_owner) {
    auto uid = static_cast<uid_t>(archive_entry_uid(e));
    auto gid = static_cast<gid_t>(archive_entry_gid(e));
    if ((uid != euid_ || gid != egid_ || p.setgid) &&
        ::fchownat(p.fd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
      return errno_error("chown");
  }
  if (type != AE_IFLNK && ::fchmodat(p.fd, name.c_str(), archive_entry_mode(e) & 07777, 0) != 0)
    return errno_error("chmod");
  set_xattrs_path(proc_fd_path(p.fd, name), e);
  struct timespec times[2];
  entry_times(e, times);
  if (::utimensat(p.fd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return errno_error("set times");
  return {};
}

Result<> Unpacker::whiteout(const std::string& parent, const std::string& name,
                            const std::string& rel) {
  if (name == kOpaqueWhiteout) {
    ASSIGN_OR_RETURN(Parent p, parent_dir(parent));
    int raw = ::openat(p.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (raw < 0) return errno_error("open " + parent);
    UniqueFd dir(raw);
    if (opts_.whiteouts == Whiteouts::kOverlay) {
      if (::fsetxattr(dir.get(), "trusted.overlay.opaque", "y", 1, 0) != 0)
        return errno_error("marking " + parent + " opaque");
      return {};
    }
    // kApply: empty the directory except what this stream put there.
    DIR* d = ::fdopendir(dir.release());
    if (!d) return errno_error("open " + parent);
    std::vector<std::string> children;
    while (dirent* de = ::readdir(d)) {
      std::string_view n = de->d_name;
      if (n == "." || n == "..") continue;
      std::string child_rel = parent.empty() ? std::string(n) : parent + "/" + std::string(n);
      if (!unpacked_.contains(child_rel)) children.emplace_back(n);
    }
    Result<> r;
    for (const auto& c : children) {
      forget_cached(parent.empty() ? c : parent + "/" + c);
      r = remove_at(::dirfd(d), c);
      if (!r) break;
    }
    ::closedir(d);
    return r;
  }
  if (starts_with(name, ".wh..wh.")) return {};  // aufs metadata (.wh..wh.plnk etc.)
  std::string target = name.substr(kWhiteoutPrefix.size());
  if (target.empty() || target == "." || target == "..")
    return make_error(ErrorCode::kInvalidArgument, "invalid whiteout");
  std::string target_rel = parent.empty() ? target : parent + "/" + target;
  ASSIGN_OR_RETURN(Parent p, parent_dir(parent));
  if (opts_.whiteouts == Whiteouts::kApply) {
    forget_cached(target_rel);
    return remove_at(p.fd, target);
  }
  if (::mknodat(p.fd, target.c_str(), S_IFCHR, makedev(0, 0)) != 0) {
    if (errno != EEXIST) return errno_error("creating whiteout");
    TRY(replace_existing(p.fd, target, target_rel, false));
    if (::mknodat(p.fd, target.c_str(), S_IFCHR, makedev(0, 0)) != 0)
      return errno_error("creating whiteout");
  }
  (void)rel;
  return {};
}

Result<> Unpacker::entry(struct archive* a, struct archive_entry* e) {
  const char* raw_name = archive_entry_pathname(e);
  if (!raw_name) return make_error(ErrorCode::kInvalidArgument, "layer entry without a name");
  std::string rel = clean_path("/" + std::string(raw_name)).substr(1);
  auto type = archive_entry_filetype(e);
  const bool is_hardlink = archive_entry_hardlink(e) != nullptr;

  if (rel.empty()) {  // "./": the root directory's own metadata
    if (type != AE_IFDIR) return {};
    int raw = ::openat(rootfd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (raw < 0) return errno_error("open root");
    UniqueFd fd(raw);
    TRY(set_metadata_fd(fd.get(), e, false));
    DirTime t{"", {}};
    entry_times(e, t.times);
    dir_times_.push_back(std::move(t));
    return {};
  }
  auto slash = rel.find_last_of('/');
  std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
  std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);

  if (opts_.whiteouts != Whiteouts::kKeep && starts_with(name, kWhiteoutPrefix))
    return whiteout(parent, name, rel);

  if (!is_hardlink && (type == AE_IFCHR || type == AE_IFBLK) && !opts_.allow_devices)
    return make_error(ErrorCode::kInvalidArgument, "device nodes are not allowed");

  ASSIGN_OR_RETURN(Parent p, parent_dir(parent));
  if (opts_.whiteouts == Whiteouts::kApply) unpacked_.insert(rel);
  if (is_hardlink) return make_hardlink(e, p, name, rel);
  switch (type) {
    case AE_IFREG:
      return write_file(a, e, p, name, rel);
    case AE_IFDIR:
      return make_dir(e, p, name, rel);
    case AE_IFLNK:
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      return make_special(e, p, name, rel);
    default:
      return make_error(ErrorCode::kInvalidArgument, "unsupported entry type");
  }
}

// Directory mtimes last: creating children changed them.
Result<> Unpacker::finish() {
  cached_fd_.reset();
  for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
    auto fd = open_in_root(rootfd_, it->path.empty() ? "/" : it->path,
                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!fd) continue;  // replaced or removed by a later entry
    if (::futimens(fd->get(), it->times) != 0) return errno_error("set times of " + it->path);
  }
  return {};
}

struct ArchiveReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

}  // namespace

Result<UnpackResult> unpack_tar(int fd, const std::string& dest, const UnpackOptions& opts) {
  int raw_root = ::open(dest.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (raw_root < 0) return errno_error("open " + dest);
  UniqueFd rootfd(raw_root);
  if (!opts.subdir.empty()) {
    auto sub = mkdir_all_in_root(rootfd.get(), opts.subdir, 0755);
    if (!sub) return std::unexpected(std::move(sub).error().wrap("unpacking into " + dest));
    rootfd = std::move(*sub);
  }
  ASSIGN_OR_RETURN(auto reader, DecompressReader::open(fd, opts.hash_compressed));

  std::unique_ptr<struct archive, ArchiveReadFree> a(archive_read_new());
  if (!a) return make_error(ErrorCode::kResourceExhausted, "allocating tar reader");
  archive_read_support_format_tar(a.get());
  std::optional<PrefetchReader> prefetch;  // destroyed (thread joined) before reader
  if (reader->codec() != StreamCodec::kNone) prefetch.emplace(*reader);
  ReadContext ctx{reader.get(), prefetch ? &*prefetch : nullptr, std::nullopt};
  if (archive_read_open(a.get(), &ctx, nullptr, read_callback, nullptr) != ARCHIVE_OK) {
    if (ctx.error) return std::unexpected(ctx.error->wrap("reading layer"));
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("reading layer: ") + archive_error_string(a.get()));
  }
  Unpacker unpacker(rootfd.get(), opts);
  for (;;) {
    struct archive_entry* e;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (ctx.error) return std::unexpected(ctx.error->wrap("reading layer"));
      return make_error(ErrorCode::kInvalidArgument,
                        std::string("reading layer: ") + archive_error_string(a.get()));
    }
    auto done = unpacker.entry(a.get(), e);
    if (!done) {
      const char* n = archive_entry_pathname(e);
      if (ctx.error) return std::unexpected(ctx.error->wrap("reading layer"));
      return std::unexpected(
          std::move(done).error().wrap("layer entry " + std::string(n ? n : "")));
    }
  }
  // A stream cut at an entry boundary parses cleanly: only the end-of-archive blocks tell.
  if (!ctx.zero_block_before(archive_filter_bytes(a.get(), 0)))
    return make_error(ErrorCode::kInvalidArgument,
                      "reading layer: truncated tar stream (no end-of-archive marker)");
  TRY_CTX(prefetch ? prefetch->finish() : reader->drain(), "reading layer");
  TRY(unpacker.finish());
  UnpackResult result;
  result.diff_id = reader->diff_id();
  result.compressed_digest = reader->compressed_digest();
  result.compressed_size = reader->compressed_size();
  result.unpacked_size = unpacker.unpacked_size();
  return result;
}

}  // namespace berth::image

// Content store: blobs verified, fsynced and renamed into place; ingest files never leak.
#include "image/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "base/file.h"

namespace berth::image {
namespace {

std::string random_name() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* kHex = "0123456789abcdef";
  std::string s;
  uint64_t v = rng();
  for (int i = 0; i < 16; ++i, v >>= 4) s.push_back(kHex[v & 15]);
  return s;
}

Result<> write_all(int fd, const char* p, size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno_error("writing " + what);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<ContentStore>> ContentStore::open(const std::string& root) {
  TRY(mkdir_all(root + "/blobs/sha256", 0700));
  // Leftover ingest files are writes that never finished: nobody can be using them now.
  TRY(remove_all(root + "/ingest"));
  TRY(mkdir_all(root + "/ingest", 0700));
  return std::unique_ptr<ContentStore>(new ContentStore(root));
}

std::string ContentStore::blob_path(std::string_view digest) const {
  if (!is_sha256_digest(digest)) return "";
  return root_ + "/blobs/sha256/" + std::string(digest.substr(7));
}

Result<ContentStore::Writer> ContentStore::writer() const {
  std::string path = root_ + "/ingest/" + random_name();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("creating " + path);
  return Writer(this, UniqueFd(fd), path);
}

ContentStore::Writer::~Writer() {
  if (!done_ && !path_.empty()) ::unlink(path_.c_str());
}

Result<> ContentStore::Writer::write(const void* data, size_t n) {
  hash_->update(data, n);
  TRY(write_all(fd_.get(), static_cast<const char*>(data), n, path_));
  size_ += static_cast<int64_t>(n);
  return {};
}

Result<std::string> ContentStore::Writer::commit(std::string_view expected_digest,
                                                 int64_t expected_size) {
  std::string digest = hash_->digest();
  if (expected_size >= 0 && expected_size != size_)
    return make_error(ErrorCode::kInvalidArgument,
                      "blob " + std::string(expected_digest.empty() ? digest : expected_digest) +
                          ": size " + std::to_string(size_) + " does not match expected " +
                          std::to_string(expected_size));
  if (!expected_digest.empty() && expected_digest != digest)
    return make_error(
        ErrorCode::kInvalidArgument,
        "blob digest mismatch: expected " + std::string(expected_digest) + ", got " + digest);
  return finish(digest);
}

Result<std::string> ContentStore::Writer::commit_trusted(const std::string& digest, int64_t size) {
  struct stat st {};
  if (fstat(fd_.get(), &st) != 0) return errno_error("stat " + path_);
  if (st.st_size != size)
    return make_error(ErrorCode::kInternal, "blob " + digest + ": wrote " +
                                                std::to_string(st.st_size) + " bytes, expected " +
                                                std::to_string(size));
  size_ = size;
  return finish(digest);
}

Result<std::string> ContentStore::Writer::finish(const std::string& digest) {
  std::string target = store_->blob_path(digest);
  if (target.empty()) return make_error(ErrorCode::kInvalidArgument, "invalid digest " + digest);
  if (::access(target.c_str(), F_OK) == 0) {
    done_ = true;
    ::unlink(path_.c_str());
    fd_.reset();
    return digest;
  }
  if (::fsync(fd_.get()) != 0) return errno_error("fsync " + path_);
  fd_.reset();
  if (::rename(path_.c_str(), target.c_str()) != 0) return errno_error("renaming blob " + digest);
  done_ = true;
  created_ = true;
  return digest;
}

Result<std::string> ContentStore::write_blob(std::string_view data,
                                             std::string_view expected_digest) const {
  if (!expected_digest.empty() && exists(expected_digest)) {
    if (sha256_digest(data) != expected_digest)
      return make_error(ErrorCode::kInvalidArgument,
                        "blob digest mismatch: expected " + std::string(expected_digest));
    return std::string(expected_digest);
  }
  ASSIGN_OR_RETURN(Writer w, writer());
  TRY(w.write(data));
  return w.commit(expected_digest, static_cast<int64_t>(data.size()));
}

bool ContentStore::exists(std::string_view digest) const {
  std::string p = blob_path(digest);
  return !p.empty() && ::access(p.c_str(), F_OK) == 0;
}

Result<int64_t> ContentStore::size(std::string_view digest) const {
  std::string p = blob_path(digest);
  struct stat st {};
  if (p.empty() || ::stat(p.c_str(), &st) != 0)
    return make_error(ErrorCode::kNotFound, "blob " + std::string(digest) + " not found");
  return static_cast<int64_t>(st.st_size);
}

Result<UniqueFd> ContentStore::open_blob(std::string_view digest) const {
  std::string p = blob_path(digest);
  if (p.empty())
    return make_error(ErrorCode::kInvalidArgument, "invalid digest " + std::string(digest));
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return make_error(ErrorCode::kNotFound, "blob " + std::string(digest) + " not found");
    return errno_error("opening blob " + std::string(digest));
  }
  return UniqueFd(fd);
}

Result<std::string> ContentStore::read_blob(std::string_view digest) const {
  std::string p = blob_path(digest);
  if (p.empty() || ::access(p.c_str(), F_OK) != 0)
    return make_error(ErrorCode::kNotFound, "blob " + std::string(digest) + " not found");
  return read_file(p);
}

Result<> ContentStore::remove(std::string_view digest) const {
  std::string p = blob_path(digest);
  if (p.empty()) return {};
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) return errno_error("removing blob " + p);
  return {};
}

Result<std::vector<std::string>> ContentStore::list() const {
  std::string dir = root_ + "/blobs/sha256";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return errno_error("listing " + dir);
  std::vector<std::string> out;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() == 64) out.push_back("sha256:" + name);
  }
  ::closedir(d);
  return out;
}

}  // namespace berth::image

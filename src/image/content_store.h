// Content-addressed blob store under <data-root>/content:
//   blobs/sha256/<hex>   committed blobs, immutable
//   ingest/<random>      blobs being written; removed on failure and at open()
// A Writer streams into ingest/, hashing as it goes; commit() checks the digest (and size) it
// was promised, fsyncs and renames into blobs/. A partially written blob is never visible under
// blobs/, so a reader that finds a blob can trust its bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "image/digest.h"

namespace berth::image {

class ContentStore {
 public:
  static Result<std::unique_ptr<ContentStore>> open(const std::string& root);

  class Writer {
   public:
    Writer(Writer&&) noexcept = default;
    Writer& operator=(Writer&&) noexcept = default;
    ~Writer();
    Result<> write(const void* data, size_t n);
    Result<> write(std::string_view s) { return write(s.data(), s.size()); }
    int64_t size() const { return size_; }
    // fd of the ingest file, for code that writes by itself (see commit_trusted).
    int fd() const { return fd_.get(); }
    // Verifies the digest of everything written against expected_digest (when not empty) and
    // the size (when >= 0), makes the bytes durable and moves them under blobs/. Returns the
    // digest. A blob that already exists is kept and this one dropped.
    Result<std::string> commit(std::string_view expected_digest = "", int64_t expected_size = -1);
    // For bytes written straight to fd() by a producer that hashed them itself (write_tar):
    // checks the file size, then commits under digest.
    Result<std::string> commit_trusted(const std::string& digest, int64_t size);
    // true when commit() created the blob (false: it existed already).
    bool created() const { return created_; }

   private:
    friend class ContentStore;
    Writer(const ContentStore* store, UniqueFd fd, std::string path)
        : store_(store), fd_(std::move(fd)), path_(std::move(path)) {}
    Result<std::string> finish(const std::string& digest);
    const ContentStore* store_;
    UniqueFd fd_;
    std::string path_;
    std::unique_ptr<Sha256> hash_ = std::make_unique<Sha256>();
    int64_t size_ = 0;
    bool done_ = false, created_ = false;
  };

  Result<Writer> writer() const;
  // One-shot: writes data as a blob, verifying expected_digest when given. Returns the digest.
  Result<std::string> write_blob(std::string_view data,
                                 std::string_view expected_digest = "") const;

  bool exists(std::string_view digest) const;
  Result<int64_t> size(std::string_view digest) const;
  Result<UniqueFd> open_blob(std::string_view digest) const;
  Result<std::string> read_blob(std::string_view digest) const;
  // Missing blobs are fine.
  Result<> remove(std::string_view digest) const;
  // Every committed blob digest.
  Result<std::vector<std::string>> list() const;
  // Path of a committed blob ("" for an invalid digest).
  std::string blob_path(std::string_view digest) const;
  const std::string& root() const { return root_; }

 private:
  explicit ContentStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace berth::image

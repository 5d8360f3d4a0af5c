// sha256 digests as the image specs spell them ("sha256:<64 hex>"): a streaming hasher on
// OpenSSL EVP, one-shot helpers, and parsing/validation of digest strings.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::image {

class Sha256 {
 public:
  Sha256();
  Sha256(Sha256&&) noexcept = default;
  Sha256& operator=(Sha256&&) noexcept = default;
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // "sha256:<hex>"; the hasher is finished afterwards (call once).
  std::string digest();

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// "sha256:<hex>" of data.
std::string sha256_digest(std::string_view data);
// "sha256:<hex>" of what remains readable from fd (read to EOF); also returns the size read.
Result<std::string> sha256_fd(int fd, int64_t* size = nullptr);

// Validates "sha256:<64 lowercase hex>" and returns the hex part.
Result<std::string> digest_hex(std::string_view digest);
bool is_sha256_digest(std::string_view digest);

}  // namespace berth::image

// sha256 digests on OpenSSL EVP (hardware SHA extensions when the CPU has them).
#include "image/digest.h"

#include <unistd.h>

#include <cerrno>
#include <vector>

#include "oci/reference.h"

namespace berth::image {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
}

void Sha256::update(const void* data, size_t n) {
  if (n) EVP_DigestUpdate(ctx_.get(), data, n);
}

std::string Sha256::digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), md, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string sha256_digest(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.digest();
}

Result<std::string> sha256_fd(int fd, int64_t* size) {
  Sha256 h;
  std::vector<char> buf(1 << 20);
  int64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("reading for sha256");
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    total += n;
  }
  if (size) *size = total;
  return h.digest();
}

bool is_sha256_digest(std::string_view d) {
  return d.starts_with("sha256:") && oci::is_hex64(d.substr(7));
}

Result<std::string> digest_hex(std::string_view d) {
  if (!is_sha256_digest(d))
    return make_error(ErrorCode::kInvalidArgument, "invalid digest " + std::string(d));
  return std::string(d.substr(7));
}

}  // namespace berth::image

// The compiled-seccomp cache: a profile's canonical bytes (everything that shapes the program,
// plus the libseccomp version and native arch) name a file holding those bytes and the BPF
// program. A hit is accepted only if the stored key equals ours exactly, the checksum matches
// (torn writes) and the file is ours and not writable by others.
#include <fcntl.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <random>

#include "base/file.h"
#include "runtime/security/seccomp.h"

namespace berth::runtime::security {
namespace {

constexpr char kMagic[4] = {'B', 'S', 'C', '1'};

struct Header {
  char magic[4];
  uint32_t key_len;
  uint32_t flags;
  uint32_t insn_count;
  uint64_t checksum;  // FNV-1a over key and program
};
static_assert(sizeof(Header) == 24);

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

// Length-prefixed, so no two different profiles serialize alike.
class KeyWriter {
 public:
  void u64(uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(const std::string& s) {
    u64(s.size());
    out_ += s;
  }
  void opt(const std::optional<uint32_t>& v) {
    u64(v ? 1 : 0);
    u64(v.value_or(0));
  }
  void strs(const std::vector<std::string>& v) {
    u64(v.size());
    for (auto& s : v) str(s);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string cache_key(const oci::Seccomp& s) {
  KeyWriter k;
  k.str("berth-seccomp-v1");
  const scmp_version* v = seccomp_version();
  k.u64(v->major);
  k.u64(v->minor);
  k.u64(v->micro);
  k.u64(seccomp_arch_native());
  k.str(s.default_action);
  k.opt(s.default_errno_ret);
  k.strs(s.architectures);
  k.strs(s.flags);
  k.u64(s.syscalls.size());
  for (auto& sc : s.syscalls) {
    k.strs(sc.names);
    k.str(sc.action);
    k.opt(sc.errno_ret);
    k.u64(sc.args.size());
    for (auto& a : sc.args) {
      k.u64(a.index);
      k.str(a.op);
      k.u64(a.value);
      k.u64(a.value_two);
    }
  }
  return k.take();
}

std::string hex64(uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<size_t>(i)] = digits[v & 0xf];
  return out;
}

bool read_exact(int fd, void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool write_exact(int fd, const void* buf, size_t n) {
  auto* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t r = ::write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

std::optional<SeccompProgram> load_cached(const std::string& path, const std::string& key) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return std::nullopt;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
      (st.st_mode & 022))
    return std::nullopt;
  Header h;
  if (!read_exact(fd.get(), &h, sizeof h) || std::memcmp(h.magic, kMagic, 4) != 0 ||
      h.key_len != key.size() || h.insn_count == 0 || h.insn_count > BPF_MAXINSNS ||
      static_cast<uint64_t>(st.st_size) !=
          sizeof h + h.key_len + uint64_t{h.insn_count} * sizeof(sock_filter))
    return std::nullopt;
  std::string stored(h.key_len, '\0');
  if (!read_exact(fd.get(), stored.data(), stored.size()) || stored != key) return std::nullopt;
  SeccompProgram prog;
  prog.flags = h.flags;
  prog.instructions.resize(h.insn_count);
  if (!read_exact(fd.get(), prog.instructions.data(), h.insn_count * sizeof(sock_filter)))
    return std::nullopt;
  uint64_t sum = fnv1a(key.data(), key.size());
  sum = fnv1a(prog.instructions.data(), h.insn_count * sizeof(sock_filter), sum);
  if (sum != h.checksum) return std::nullopt;
  return prog;
}

// Best effort: a unique temp file renamed over the entry, so readers never see half a file.
void store(const std::string& dir, const std::string& path, const std::string& key,
           const SeccompProgram& prog) {
  if (!mkdir_all(dir, 0700)) return;
  std::random_device rd;
  std::string tmp = dir + "/.tmp-" + std::to_string(::getpid()) + "-" + hex64(rd());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return;
  const size_t bytes = prog.instructions.size() * sizeof(sock_filter);
  Header h;
  std::memcpy(h.magic, kMagic, 4);
  h.key_len = static_cast<uint32_t>(key.size());
  h.flags = prog.flags;
  h.insn_count = static_cast<uint32_t>(prog.instructions.size());
  h.checksum = fnv1a(prog.instructions.data(), bytes, fnv1a(key.data(), key.size()));
  bool ok = write_exact(fd.get(), &h, sizeof h) && write_exact(fd.get(), key.data(), key.size()) &&
            write_exact(fd.get(), prog.instructions.data(), bytes);
  fd.reset();
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) ::unlink(tmp.c_str());
}

}  // namespace

Result<SeccompProgram> compile_seccomp_cached(const oci::Seccomp& seccomp,
                                              const std::string& cache_dir) {
  if (seccomp.default_action.empty() && seccomp.syscalls.empty()) return SeccompProgram{};
  TRY(validate_seccomp(seccomp));
  const std::string key = cache_key(seccomp);
  const std::string path = cache_dir + "/" + hex64(fnv1a(key.data(), key.size())) + ".bpf";
  if (auto hit = load_cached(path, key)) return std::move(*hit);
  ASSIGN_OR_RETURN(SeccompProgram prog, compile_seccomp(seccomp));
  if (!prog.empty()) store(cache_dir, path, key, prog);
  return prog;
}

}  // namespace berth::runtime::security

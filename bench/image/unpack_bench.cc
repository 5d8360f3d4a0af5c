// Layer tar micro-benchmark driver (built by bench/image/run.sh, not by CMake):
//   unpack_bench unpack <layer.tar[.gz|.zst]> <dest>   berth's unpack_tar, one pass
//   unpack_bench pack <dir>                            write_tar + gzip to /dev/null
//   unpack_bench levels <plain.tar>                    zlib levels 1,3,6: speed and size
// Prints one line of figures per run so run.sh can put them next to GNU tar and umoci.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "base/unique_fd.h"
#include "image/archive.h"
#include "image/tar_codec.h"

using namespace berth;
using namespace berth::image;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int unpack(const char* layer, const char* dest) {
  UniqueFd fd(::open(layer, O_RDONLY | O_CLOEXEC));
  if (!fd) return std::perror(layer), 1;
  double t0 = now();
  auto r = unpack_tar(fd.get(), dest);
  double dt = now() - t0;
  if (!r) return std::fprintf(stderr, "unpack: %s\n", r.error().message().c_str()), 1;
  std::printf("unpack %.2fs  %.0f MB/s compressed  %.0f MB/s of files  %s\n", dt,
              r->compressed_size / dt / 1e6, r->unpacked_size / dt / 1e6, r->diff_id.c_str());
  return 0;
}

int pack(const char* dir) {
  UniqueFd out(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  double t0 = now();
  auto r = write_tar(dir, out.get(), {.compression = Compression::kGzip});
  double dt = now() - t0;
  if (!r) return std::fprintf(stderr, "pack: %s\n", r.error().message().c_str()), 1;
  std::printf("write_tar+gzip %.2fs  %.1f MB out  %.0f MB/s out\n", dt, r->size / 1e6,
              r->size / dt / 1e6);
  return 0;
}

int levels(const char* tar) {
  std::string data;
  {
    UniqueFd fd(::open(tar, O_RDONLY | O_CLOEXEC));
    if (!fd) return std::perror(tar), 1;
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
  }
  for (int level : {1, 3, 6}) {
    UniqueFd out(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    auto w = CompressWriter::create(out.get(), true, level);
    if (!w) return 1;
    double t0 = now();
    for (size_t off = 0; off < data.size(); off += 1 << 20)
      if (!(*w)->write(data.data() + off, std::min<size_t>(1 << 20, data.size() - off))) return 1;
    if (!(*w)->finish()) return 1;
    double dt = now() - t0;
    std::printf("gzip level %d: %.2fs  %.0f MB/s in  ratio %.3f\n", level, dt,
                data.size() / dt / 1e6, double((*w)->size()) / double(data.size()));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "unpack" && argc == 4) return unpack(argv[2], argv[3]);
  if (cmd == "pack" && argc == 3) return pack(argv[2]);
  if (cmd == "levels" && argc == 3) return levels(argv[2]);
  std::fprintf(stderr, "usage: unpack_bench unpack LAYER DEST | pack DIR | levels TAR\n");
  return 2;
}

// Tests for DecompressReader's gzip path: isa-l and the zlib fallback (BERTH_INFLATE=zlib) give
// the same bytes, digests and sizes on single and multi-member streams, odd gzip headers and
// trailing data, whatever sizes the input arrives in, and both refuse truncated or corrupt input
// with an error naming the gzip stream.
#include "image/tar_codec.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "image/archive_test_util.h"
#include "image/digest.h"

namespace berth::image {
namespace {

using testing::read_text;
using testing::sh;
using testing::TempDir;
using testing::write_text;

bool isal_loadable() {
  void* lib = ::dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL);
  if (lib) ::dlclose(lib);
  return lib != nullptr;
}

// Selects the inflater for readers opened while it lives.
class ForceInflater {
 public:
  explicit ForceInflater(bool zlib) {
    if (const char* was = std::getenv("BERTH_INFLATE")) saved_ = was;
    if (zlib)
      ::setenv("BERTH_INFLATE", "zlib", 1);
    else
      ::unsetenv("BERTH_INFLATE");
  }
  ~ForceInflater() {
    if (saved_)
      ::setenv("BERTH_INFLATE", saved_->c_str(), 1);
    else
      ::unsetenv("BERTH_INFLATE");
  }

 private:
  std::optional<std::string> saved_;
};

struct Decoded {
  bool ok = false;
  std::string error, out, inflater, diff_id, digest;
  int64_t compressed_size = 0, uncompressed_size = 0;
};

// Feeds input through a pipe in pieces of chunk bytes (0: all at once; SIZE_MAX: random sizes)
// and reads it back with a DecompressReader, through a PrefetchReader if prefetch. With split,
// the reader's first read returns exactly the first split bytes.
Decoded decode(const std::string& input, bool zlib, size_t chunk, bool prefetch, size_t split = 0) {
  ::signal(SIGPIPE, SIG_IGN);  // the writer may outlive a reader that gave up
  Decoded d;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    d.error = "pipe";
    return d;
  }
  UniqueFd rd(p[0]), wr(p[1]);
  std::thread writer([&] {
    std::mt19937 rng(42);
    size_t off = 0;
    if (split > 0 && ::write(wr.get(), input.data(), split) == static_cast<ssize_t>(split)) {
      off = split;
      int queued = 1;
      while (::ioctl(rd.get(), FIONREAD, &queued) == 0 && queued > 0) std::this_thread::yield();
    }
    while (off < input.size()) {
      size_t n = input.size() - off;
      if (chunk == SIZE_MAX)
        n = std::min<size_t>(n, rng() % 9000 + 1);
      else if (chunk > 0)
        n = std::min(n, chunk);
      ssize_t w = ::write(wr.get(), input.data() + off, n);
      if (w <= 0) break;  // reader gave up
      off += static_cast<size_t>(w);
    }
    wr.reset();
  });
  {
    ForceInflater force(zlib);
    auto reader = DecompressReader::open(rd.get());
    if (!reader) {
      d.error = reader.error().message();
    } else {
      d.inflater = (*reader)->gzip_inflater();
      Result<> end;
      if (prefetch) {
        PrefetchReader pre(**reader);
        for (;;) {
          auto c = pre.next();
          if (!c) {
            end = std::unexpected(c.error());
            break;
          }
          if (c->empty()) {
            end = pre.finish();
            break;
          }
          d.out.append(reinterpret_cast<const char*>(c->data()), c->size());
        }
      } else {
        for (;;) {
          auto c = (*reader)->next();
          if (!c) {
            end = std::unexpected(c.error());
            break;
          }
          if (c->empty()) {
            end = (*reader)->drain();
            break;
          }
          d.out.append(reinterpret_cast<const char*>(c->data()), c->size());
        }
      }
      if (end) {
        d.ok = true;
        d.diff_id = (*reader)->diff_id();
        d.digest = (*reader)->compressed_digest();
        d.compressed_size = (*reader)->compressed_size();
        d.uncompressed_size = (*reader)->uncompressed_size();
      } else {
        d.error = end.error().message();
      }
    }
  }
  rd.reset();  // a writer still blocked gets EPIPE
  writer.join();
  return d;
}

// gzip of data by CompressWriter (zlib deflate, standard 10-byte header).
std::string gzip(const std::string& data, int level = 1) {
  int fd = ::memfd_create("gz", MFD_CLOEXEC);
  EXPECT_GE(fd, 0);
  UniqueFd owned(fd);
  auto w = CompressWriter::create(fd, true, level);
  EXPECT_TRUE(w);
  EXPECT_TRUE((*w)->write(data.data(), data.size()));
  EXPECT_TRUE((*w)->finish());
  std::string out(static_cast<size_t>(::lseek(fd, 0, SEEK_CUR)), '\0');
  EXPECT_EQ(::pread(fd, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
  return out;
}

// Text-like (compressible) and random bytes, as a layer tar has.
std::string sample(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(size);
  while (s.size() < size) {
    if (rng() % 3 == 0) {
      for (int i = 0; i < 4096; ++i) s.push_back(static_cast<char>(rng()));
    } else {
      s += "usr/share/doc/package-" + std::to_string(rng() % 500) + "/copyright line of text\n";
    }
  }
  s.resize(size);
  return s;
}

std::string sha(const std::string& s) {
  return sha256_digest(s);
}

TEST(DecompressReader, UsesIsalWhenLoadableAndZlibWhenForced) {
  std::string gz = gzip("hello\n");
  Decoded fast = decode(gz, false, 0, false);
  Decoded slow = decode(gz, true, 0, false);
  ASSERT_TRUE(fast.ok) << fast.error;
  ASSERT_TRUE(slow.ok) << slow.error;
  EXPECT_EQ(fast.inflater, std::string(isal_loadable() ? "isa-l" : "zlib"));
  EXPECT_EQ(slow.inflater, std::string("zlib"));
  EXPECT_EQ(fast.out, "hello\n");
  EXPECT_EQ(slow.out, "hello\n");
}

TEST(DecompressReader, IsalAndZlibGiveTheSameBytesAndDigests) {
  TempDir tmp;
  std::string big = sample(5'000'000, 1), small = sample(70'000, 2), tiny = "x";
  // gzip(1) stores the file name (FNAME); python writes FEXTRA, FNAME, FCOMMENT and FHCRC.
  write_text(tmp / "named", small);
  ASSERT_EQ(sh("gzip -k -9 " + tmp / "named"), 0);
  ASSERT_EQ(sh("python3 -c \"import zlib, struct, sys\n"
               "d = open(sys.argv[1], 'rb').read()\n"
               "h = b'\\x1f\\x8b\\x08\\x1e' + bytes(6) + struct.pack('<H', 5) + b'extra' + "
               "b'name\\x00' + b'a comment\\x00'\n"
               "h += struct.pack('<H', zlib.crc32(h) & 0xffff)\n"
               "c = zlib.compressobj(6, zlib.DEFLATED, -15)\n"
               "body = c.compress(d) + c.flush()\n"
               "open(sys.argv[2], 'wb').write(h + body + struct.pack('<II', zlib.crc32(d), "
               "len(d)))\" " +
               tmp / "named" + " " + tmp / "headers.gz"),
            0);
  struct Case {
    std::string name, input, plain;
  } cases[] = {
      {"big", gzip(big), big},
      {"big level 9", gzip(big, 9), big},
      {"tiny", gzip(tiny), tiny},
      {"empty member", gzip(""), ""},
      {"gzip(1) with name", read_text(tmp / "named.gz"), small},
      {"extra, name, comment, header crc", read_text(tmp / "headers.gz"), small},
      {"three members, one empty", gzip(small) + gzip("") + gzip(big), small + big},
      {"many small members", gzip("a") + gzip("bc") + gzip("") + gzip("def") + gzip(tiny),
       "abcdefx"},
      {"trailing zeros", gzip(small) + std::string(1024, '\0'), small},
      {"trailing text", gzip(big) + "garbage!", big},
      {"members then trailing", gzip(tiny) + gzip(small) + "\x1f", tiny + small},
  };
  for (const auto& c : cases) {
    for (size_t chunk : {size_t{0}, size_t{1}, size_t{7}, size_t{4093}, SIZE_MAX}) {
      if (chunk > 0 && chunk < 100 && c.input.size() > 200'000) continue;  // too slow
      for (bool prefetch : {false, true}) {
        std::string what =
            c.name + ", chunk " + std::to_string(chunk) + (prefetch ? ", prefetch" : ", direct");
        Decoded a = decode(c.input, false, chunk, prefetch);
        Decoded b = decode(c.input, true, chunk, prefetch);
        ASSERT_TRUE(a.ok) << what << ": " << a.error;
        ASSERT_TRUE(b.ok) << what << ": " << b.error;
        EXPECT_TRUE(a.out == c.plain) << what << ": " << a.out.size() << " bytes";
        EXPECT_TRUE(b.out == c.plain) << what << ": " << b.out.size() << " bytes";
        EXPECT_EQ(a.diff_id, sha(c.plain)) << what;
        EXPECT_EQ(b.diff_id, sha(c.plain)) << what;
        EXPECT_EQ(a.digest, sha(c.input)) << what;
        EXPECT_EQ(b.digest, sha(c.input)) << what;
        EXPECT_EQ(a.compressed_size, static_cast<int64_t>(c.input.size())) << what;
        EXPECT_EQ(b.compressed_size, a.compressed_size) << what;
        EXPECT_EQ(a.uncompressed_size, static_cast<int64_t>(c.plain.size())) << what;
        EXPECT_EQ(b.uncompressed_size, a.uncompressed_size) << what;
      }
    }
  }
}

TEST(DecompressReader, HeadersSplitAcrossReadsDecode) {
  TempDir tmp;
  std::string plain = sample(100'000, 8);
  write_text(tmp / "plain", plain);
  // Every optional header field; isa-l 2.30 alone rejects FHCRC headers split across calls.
  ASSERT_EQ(sh("python3 -c \"import zlib, struct, sys\n"
               "d = open(sys.argv[1], 'rb').read()\n"
               "h = b'\\x1f\\x8b\\x08\\x1e' + bytes(6) + struct.pack('<H', 5) + b'extra' + "
               "b'name\\x00' + b'a comment\\x00'\n"
               "h += struct.pack('<H', zlib.crc32(h) & 0xffff)\n"
               "c = zlib.compressobj(6, zlib.DEFLATED, -15)\n"
               "body = c.compress(d) + c.flush()\n"
               "open(sys.argv[2], 'wb').write(h + body + struct.pack('<II', zlib.crc32(d), "
               "len(d)))\" " +
               tmp / "plain" + " " + tmp / "headers.gz"),
            0);
  std::string one = read_text(tmp / "headers.gz");
  std::string two = gzip("first member\n") + one;
  for (const std::string* input : {&one, &two}) {
    size_t start = input == &one ? 0 : two.size() - one.size();
    for (size_t split = start + 1; split < start + 40; ++split) {
      for (bool zlib : {false, true}) {
        std::string what = "split at " + std::to_string(split) + (zlib ? ", zlib" : ", default");
        Decoded d = decode(*input, zlib, 0, false, split);
        ASSERT_TRUE(d.ok) << what << ": " << d.error;
        EXPECT_TRUE(d.out == (input == &one ? plain : "first member\n" + plain)) << what;
      }
    }
  }
}

TEST(DecompressReader, TruncatedStreamsAreErrorsWithEitherInflater) {
  std::string plain = sample(300'000, 3);
  std::string one = gzip(plain);
  std::string two = gzip(plain) + gzip(plain);
  std::vector<std::pair<std::string, size_t>> cuts;
  for (size_t n : {size_t{2}, size_t{3}, size_t{9}, size_t{10}, size_t{11}, one.size() / 3,
                   one.size() / 2, one.size() - 8, one.size() - 5, one.size() - 1})
    cuts.emplace_back(one, n);
  for (size_t n = 2; n < one.size(); n += one.size() / 23) cuts.emplace_back(one, n);
  // Inside the second member, including right after its magic.
  for (size_t n : {one.size() + 2, one.size() + 10, one.size() + one.size() / 2, two.size() - 1})
    cuts.emplace_back(two, n);
  for (const auto& [input, n] : cuts) {
    for (bool zlib : {false, true}) {
      for (size_t chunk : {size_t{0}, SIZE_MAX}) {
        std::string what = "cut at " + std::to_string(n) + " of " + std::to_string(input.size()) +
                           (zlib ? ", zlib" : ", default") + ", chunk " + std::to_string(chunk);
        Decoded d = decode(input.substr(0, n), zlib, chunk, false);
        ASSERT_FALSE(d.ok) << what << " decoded";
        EXPECT_EQ(d.error, "unexpected end of gzip stream") << what;
      }
    }
  }
}

TEST(DecompressReader, CorruptStreamsAreErrorsWithEitherInflater) {
  std::string plain = sample(300'000, 4);
  std::string gz = gzip(plain);
  auto flip = [&](size_t pos, uint8_t mask) {
    std::string s = gz;
    s[pos] = static_cast<char>(s[pos] ^ mask);
    return s;
  };
  struct Case {
    std::string name, input, want;
  } cases[] = {
      {"crc", flip(gz.size() - 6, 0xff), "corrupt gzip stream: incorrect data check"},
      {"length", flip(gz.size() - 2, 0x01), "corrupt gzip stream: "},
      {"method", flip(2, 0x01), "corrupt gzip stream: "},
      {"deflate data", flip(gz.size() / 2, 0x55), "corrupt gzip stream: "},
      {"first block", flip(10, 0x06), "corrupt gzip stream: "},
      // A second gzip header, then a deflate block of the reserved type 3.
      {"bad second member", gz + std::string("\x1f\x8b\x08\0\0\0\0\0\0\x03\xff\xff", 12),
       "corrupt gzip stream: "},
  };
  for (const auto& c : cases) {
    for (bool zlib : {false, true}) {
      for (size_t chunk : {size_t{0}, SIZE_MAX}) {
        std::string what =
            c.name + (zlib ? ", zlib" : ", default") + ", chunk " + std::to_string(chunk);
        Decoded d = decode(c.input, zlib, chunk, chunk != 0);
        ASSERT_FALSE(d.ok) << what << " decoded";
        EXPECT_EQ(d.error.rfind(c.want, 0), 0u) << what << ": " << d.error;
      }
    }
  }
}

TEST(DecompressReader, IsalAndZlibAgreeOnRandomDamage) {
  std::string plain = sample(200'000, 5);
  std::string gz = gzip(plain) + gzip(sample(50'000, 6));
  std::mt19937 rng(7);
  for (int i = 0; i < 150; ++i) {
    std::string s = gz;
    size_t pos = i < 20 ? static_cast<size_t>(i) : rng() % s.size();  // the header, then anywhere
    s[pos] = static_cast<char>(s[pos] ^ (1 + rng() % 255));
    Decoded a = decode(s, false, 0, false);
    Decoded b = decode(s, true, 0, false);
    std::string what = "byte " + std::to_string(pos) + ": " + a.error + " / " + b.error;
    ASSERT_EQ(a.ok, b.ok) << what;
    if (a.ok) {
      EXPECT_TRUE(a.out == b.out) << what;
      EXPECT_EQ(a.diff_id, b.diff_id) << what;
    } else {
      EXPECT_NE(a.error.find("gzip stream"), std::string::npos) << what;
      EXPECT_NE(b.error.find("gzip stream"), std::string::npos) << what;
    }
  }
}

}  // namespace
}  // namespace berth::image

// Streaming gzip/zstd for layer tars, hashing raw and uncompressed bytes in the same pass.
//
// zlib and libzstd are the libraries libarchive itself loads; the image layer's link line names
// only libarchive, so their entry points are resolved once at run time with dlopen/dlsym (the
// libraries are already mapped, so this costs nothing). If the image target ever links ZLIB and
// zstd directly, Codecs can simply point at the functions.
//
// gzip is inflated with isa-l's igzip (libisal.so.2, 2-3x faster than zlib) when that library
// can be loaded, the same way; without it, or with BERTH_INFLATE=zlib in the environment, zlib
// inflates. Both check the gzip trailer (CRC-32 and length) of every member.
#include "image/tar_codec.h"

#include <dlfcn.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#if __has_include(<isa-l/igzip_lib.h>)
#include <isa-l/igzip_lib.h>
#define BERTH_HAVE_ISAL 1
#endif

namespace berth::image {
namespace {

constexpr size_t kInBufSize = 1 << 20;
constexpr size_t kOutBufSize = 1 << 20;

struct Codecs {
  decltype(&::inflateInit2_) inflate_init2 = nullptr;
  decltype(&::inflate) inflate = nullptr;
  decltype(&::inflateReset) inflate_reset = nullptr;
  decltype(&::inflateEnd) inflate_end = nullptr;
  decltype(&::deflateInit2_) deflate_init2 = nullptr;
  decltype(&::deflate) deflate = nullptr;
  decltype(&::deflateEnd) deflate_end = nullptr;
  decltype(&::zlibVersion) zlib_version_fn = nullptr;
  decltype(&::ZSTD_createDStream) zstd_create = nullptr;
  decltype(&::ZSTD_freeDStream) zstd_free = nullptr;
  decltype(&::ZSTD_initDStream) zstd_init = nullptr;
  decltype(&::ZSTD_decompressStream) zstd_decompress = nullptr;
  decltype(&::ZSTD_isError) zstd_is_error = nullptr;
  decltype(&::ZSTD_getErrorName) zstd_error_name = nullptr;
#ifdef BERTH_HAVE_ISAL
  decltype(&::isal_inflate_init) isal_init = nullptr;
  decltype(&::isal_inflate_reset) isal_reset = nullptr;
  decltype(&::isal_inflate) isal_inflate = nullptr;
#endif
  std::string zlib_error, zstd_error;
};

template <class F>
bool resolve(void* lib, const char* name, F& out) {
  out = reinterpret_cast<F>(::dlsym(lib, name));
  return out != nullptr;
}

const Codecs& codecs() {
  static Codecs c;
  static std::once_flag once;
  std::call_once(once, [] {
    void* z = ::dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!z ||
        !(resolve(z, "inflateInit2_", c.inflate_init2) && resolve(z, "inflate", c.inflate) &&
          resolve(z, "inflateReset", c.inflate_reset) && resolve(z, "inflateEnd", c.inflate_end) &&
          resolve(z, "deflateInit2_", c.deflate_init2) && resolve(z, "deflate", c.deflate) &&
          resolve(z, "deflateEnd", c.deflate_end) &&
          resolve(z, "zlibVersion", c.zlib_version_fn))) {
      c.zlib_error = std::string("loading zlib: ") + (::dlerror() ?: "missing symbol");
      c.inflate_init2 = nullptr;
    }
    void* zs = ::dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!zs || !(resolve(zs, "ZSTD_createDStream", c.zstd_create) &&
                 resolve(zs, "ZSTD_freeDStream", c.zstd_free) &&
                 resolve(zs, "ZSTD_initDStream", c.zstd_init) &&
                 resolve(zs, "ZSTD_decompressStream", c.zstd_decompress) &&
                 resolve(zs, "ZSTD_isError", c.zstd_is_error) &&
                 resolve(zs, "ZSTD_getErrorName", c.zstd_error_name))) {
      c.zstd_error = std::string("loading libzstd: ") + (::dlerror() ?: "missing symbol");
      c.zstd_create = nullptr;
    }
#ifdef BERTH_HAVE_ISAL
    void* isal = ::dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!isal || !(resolve(isal, "isal_inflate_init", c.isal_init) &&
                   resolve(isal, "isal_inflate_reset", c.isal_reset) &&
                   resolve(isal, "isal_inflate", c.isal_inflate)))
      c.isal_inflate = nullptr;  // zlib inflates instead
#endif
  });
  return c;
}

// Whether gzip streams opened now are inflated by isa-l.
bool use_isal() {
#ifdef BERTH_HAVE_ISAL
  if (!codecs().isal_inflate) return false;
  const char* forced = std::getenv("BERTH_INFLATE");
  return !(forced && std::strcmp(forced, "zlib") == 0);
#else
  return false;
#endif
}

#ifdef BERTH_HAVE_ISAL
const char* isal_error_text(int ret) {
  switch (ret) {
    case ISAL_INVALID_BLOCK:
      return "invalid block type or lengths";
    case ISAL_INVALID_SYMBOL:
      return "invalid code";
    case ISAL_INVALID_LOOKBACK:
      return "invalid distance too far back";
    case ISAL_INVALID_WRAPPER:
      return "incorrect header check";
    case ISAL_UNSUPPORTED_METHOD:
      return "unknown compression method";
    case ISAL_INCORRECT_CHECKSUM:
      return "incorrect data check";
    default:
      return "inflate";
  }
}
#endif

bool is_gzip(const uint8_t* p, size_t n) {
  return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}
bool is_zstd(const uint8_t* p, size_t n) {
  if (n < 4) return false;
  if (p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) return true;
  // Skippable frames 0x184D2A50..5F (little endian).
  return (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18;
}

// Length of the gzip member header at p, 0 if its n bytes do not hold all of it.
size_t gzip_header_length(const uint8_t* p, size_t n) {
  if (n < 10) return 0;
  uint8_t flags = p[3];
  size_t len = 10;
  if (flags & 0x04) {  // FEXTRA
    if (n < len + 2) return 0;
    len += 2 + (p[len] | size_t{p[len + 1]} << 8);
  }
  for (uint8_t field : {0x08, 0x10}) {  // FNAME, FCOMMENT: zero-terminated
    if (!(flags & field)) continue;
    if (len >= n) return 0;
    const void* end = std::memchr(p + len, 0, n - len);
    if (!end) return 0;
    len = static_cast<size_t>(static_cast<const uint8_t*>(end) - p) + 1;
  }
  if (flags & 0x02) len += 2;  // FHCRC
  return len <= n ? len : 0;
}

Result<> write_all(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("writing tar stream");
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

StreamCodec detect_codec(std::span<const uint8_t> head) {
  if (is_gzip(head.data(), head.size())) return StreamCodec::kGzip;
  if (is_zstd(head.data(), head.size())) return StreamCodec::kZstd;
  return StreamCodec::kNone;
}

// ---- DecompressReader ----

Result<std::unique_ptr<DecompressReader>> DecompressReader::open(int fd, bool hash_compressed) {
  std::unique_ptr<DecompressReader> r(new DecompressReader(fd, StreamCodec::kNone));
  r->in_.resize(kInBufSize);
  while (r->in_len_ < 4) {
    ASSIGN_OR_RETURN(bool more, r->fill());
    if (!more) break;
  }
  r->codec_ = detect_codec({r->in_.data(), r->in_len_});
  if (r->codec_ != StreamCodec::kNone && hash_compressed) {
    r->hash_raw_ = true;
    r->raw_hash_.update(r->in_.data(), r->in_len_);
  }
  const Codecs& c = codecs();
  if (r->codec_ == StreamCodec::kGzip && use_isal()) {
#ifdef BERTH_HAVE_ISAL
    auto* st = new inflate_state;
    r->stream_ = st;
    r->isal_ = true;
    c.isal_init(st);
    st->crc_flag = ISAL_GZIP;
    r->out_.resize(kOutBufSize);
#endif
  } else if (r->codec_ == StreamCodec::kGzip) {
    if (!c.inflate_init2) return make_error(ErrorCode::kInternal, c.zlib_error);
    auto* zs = new z_stream{};
    r->stream_ = zs;
    if (c.inflate_init2(zs, 16 + MAX_WBITS, c.zlib_version_fn(), sizeof(z_stream)) != Z_OK)
      return make_error(ErrorCode::kInternal, "initializing gzip decompression");
    r->out_.resize(kOutBufSize);
  } else if (r->codec_ == StreamCodec::kZstd) {
    if (!c.zstd_create) return make_error(ErrorCode::kInternal, c.zstd_error);
    ZSTD_DStream* ds = c.zstd_create();
    if (!ds) return make_error(ErrorCode::kResourceExhausted, "creating zstd stream");
    r->stream_ = ds;
    c.zstd_init(ds);
    r->out_.resize(kOutBufSize);
  }
  return r;
}

DecompressReader::~DecompressReader() {
  if (!stream_) return;
  const Codecs& c = codecs();
  if (codec_ == StreamCodec::kGzip && isal_) {
#ifdef BERTH_HAVE_ISAL
    delete static_cast<inflate_state*>(stream_);
#endif
  } else if (codec_ == StreamCodec::kGzip) {
    auto* zs = static_cast<z_stream*>(stream_);
    c.inflate_end(zs);
    delete zs;
  } else if (codec_ == StreamCodec::kZstd) {
    c.zstd_free(static_cast<ZSTD_DStream*>(stream_));
  }
}

Result<bool> DecompressReader::fill() {
  if (eof_) return false;
  if (in_pos_ > 0) {
    std::memmove(in_.data(), in_.data() + in_pos_, avail());
    in_len_ -= in_pos_;
    in_pos_ = 0;
  }
  if (in_len_ == in_.size()) return true;  // full already
  ssize_t n;
  do {
    n = ::read(fd_, in_.data() + in_len_, in_.size() - in_len_);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("reading layer stream");
  if (n == 0) {
    eof_ = true;
    return false;
  }
  if (hash_raw_) raw_hash_.update(in_.data() + in_len_, static_cast<size_t>(n));
  raw_size_ += n;
  in_len_ += static_cast<size_t>(n);
  return true;
}

Result<bool> DecompressReader::another_member() {
  while (avail() < 4 && !eof_) {
    ASSIGN_OR_RETURN(bool more, fill());
    if (!more) break;
  }
  const uint8_t* p = in_.data() + in_pos_;
  return codec_ == StreamCodec::kGzip ? is_gzip(p, avail()) : is_zstd(p, avail());
}

Result<std::span<const uint8_t>> DecompressReader::next() {
  Result<std::span<const uint8_t>> r;
  switch (codec_) {
    case StreamCodec::kNone:
      r = next_plain();
      break;
    case StreamCodec::kGzip:
      r = next_gzip();
      break;
    case StreamCodec::kZstd:
      r = next_zstd();
      break;
  }
  if (r && !r->empty()) {
    if (!consumer_hashes_) uncompressed_hash_.update(r->data(), r->size());
    uncompressed_size_ += static_cast<int64_t>(r->size());
  }
  return r;
}

Result<std::span<const uint8_t>> DecompressReader::next_plain() {
  if (avail() == 0) {
    in_pos_ = in_len_ = 0;
    ASSIGN_OR_RETURN(bool more, fill());
    if (!more) return std::span<const uint8_t>{};
  }
  std::span<const uint8_t> out(in_.data() + in_pos_, avail());
  in_pos_ = in_len_;
  return out;
}

Result<DecompressReader::Step> DecompressReader::inflate_step() {
  const Codecs& c = codecs();
  Step step;
  size_t start = in_pos_;
  if (isal_) {
#ifdef BERTH_HAVE_ISAL
    auto* st = static_cast<inflate_state*>(stream_);
    st->next_in = in_.data() + in_pos_;
    st->avail_in = static_cast<uint32_t>(avail());
    st->next_out = out_.data();
    st->avail_out = static_cast<uint32_t>(out_.size());
    int ret = c.isal_inflate(st);
    in_pos_ = static_cast<size_t>(st->next_in - in_.data());
    step.produced = out_.size() - st->avail_out;
    if (ret < 0)
      return make_error(ErrorCode::kInvalidArgument,
                        std::string("corrupt gzip stream: ") + isal_error_text(ret));
    step.end = st->block_state == ISAL_BLOCK_FINISH;
#endif
  } else {
    auto* zs = static_cast<z_stream*>(stream_);
    zs->next_in = in_.data() + in_pos_;
    zs->avail_in = static_cast<uInt>(avail());
    zs->next_out = out_.data();
    zs->avail_out = static_cast<uInt>(out_.size());
    int ret = c.inflate(zs, Z_NO_FLUSH);
    in_pos_ = static_cast<size_t>(zs->next_in - in_.data());
    step.produced = out_.size() - zs->avail_out;
    if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
      return make_error(ErrorCode::kInvalidArgument,
                        std::string("corrupt gzip stream: ") + (zs->msg ? zs->msg : "inflate"));
    step.end = ret == Z_STREAM_END;
  }
  step.consumed = in_pos_ - start;
  return step;
}

void DecompressReader::reset_gzip() {
  const Codecs& c = codecs();
  if (isal_) {
#ifdef BERTH_HAVE_ISAL
    auto* st = static_cast<inflate_state*>(stream_);
    c.isal_reset(st);
    st->crc_flag = ISAL_GZIP;
    member_start_ = true;
#endif
  } else {
    c.inflate_reset(static_cast<z_stream*>(stream_));
  }
}

Result<std::span<const uint8_t>> DecompressReader::next_gzip() {
  for (;;) {
    if (state_ == State::kTrailing || state_ == State::kDone) return std::span<const uint8_t>{};
    if (state_ == State::kBetween) {
      ASSIGN_OR_RETURN(bool again, another_member());
      if (!again) {
        state_ = avail() == 0 && eof_ ? State::kDone : State::kTrailing;
        continue;
      }
      reset_gzip();
      state_ = State::kMember;
    }
    if (avail() == 0 && !eof_) TRY(fill());
    if (isal_ && member_start_) {
      // isa-l 2.30 miscomputes the header CRC (FHCRC) of a header split across calls and
      // rejects the member ("incorrect data check"): hand it whole headers.
      while (gzip_header_length(in_.data() + in_pos_, avail()) == 0 && !eof_ &&
             avail() < in_.size())
        TRY(fill());
      member_start_ = false;
    }
    ASSIGN_OR_RETURN(Step step, inflate_step());
    if (step.end) {
      state_ = State::kBetween;
    } else if (step.produced == 0 && step.consumed == 0) {
      // The codec cannot go on with what it has: it needs more input.
      if (eof_) return make_error(ErrorCode::kInvalidArgument, "unexpected end of gzip stream");
      if (in_pos_ == 0 && in_len_ == in_.size())
        return make_error(ErrorCode::kInvalidArgument, "corrupt gzip stream: no progress");
      TRY(fill());
    }
    if (step.produced > 0) return std::span<const uint8_t>(out_.data(), step.produced);
  }
}

Result<std::span<const uint8_t>> DecompressReader::next_zstd() {
  const Codecs& c = codecs();
  auto* ds = static_cast<ZSTD_DStream*>(stream_);
  for (;;) {
    if (state_ == State::kTrailing || state_ == State::kDone) return std::span<const uint8_t>{};
    if (state_ == State::kBetween) {
      ASSIGN_OR_RETURN(bool again, another_member());
      if (!again) {
        state_ = avail() == 0 && eof_ ? State::kDone : State::kTrailing;
        continue;
      }
      state_ = State::kMember;
    }
    if (avail() == 0 && !eof_) TRY(fill());
    ZSTD_inBuffer in{in_.data() + in_pos_, avail(), 0};
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    size_t ret = c.zstd_decompress(ds, &out, &in);
    if (c.zstd_is_error(ret))
      return make_error(ErrorCode::kInvalidArgument,
                        std::string("corrupt zstd stream: ") + c.zstd_error_name(ret));
    in_pos_ += in.pos;
    if (ret == 0) {
      state_ = State::kBetween;
    } else if (out.pos == 0 && avail() == 0 && eof_) {
      return make_error(ErrorCode::kInvalidArgument, "unexpected end of zstd stream");
    }
    if (out.pos > 0) return std::span<const uint8_t>(out_.data(), out.pos);
  }
}

std::string DecompressReader::diff_id() {
  if (!diff_id_) diff_id_ = uncompressed_hash_.digest();
  return *diff_id_;
}

std::string DecompressReader::compressed_digest() {
  if (codec_ == StreamCodec::kNone) return diff_id();
  if (!compressed_digest_) compressed_digest_ = hash_raw_ ? raw_hash_.digest() : std::string();
  return *compressed_digest_;
}

Result<> DecompressReader::drain() {
  for (;;) {
    ASSIGN_OR_RETURN(auto chunk, next());
    if (chunk.empty()) break;
  }
  // Trailing bytes after the last member (or after the tar end of a plain stream): hash only.
  while (!eof_) {
    in_pos_ = in_len_ = 0;
    TRY(fill());
  }
  in_pos_ = in_len_;
  return {};
}

// ---- PrefetchReader ----

constexpr int kPrefetchBuffers = 4;

PrefetchReader::PrefetchReader(DecompressReader& reader) : reader_(reader) {
  reader_.consumer_hashes_ = true;
  bufs_.resize(kPrefetchBuffers);
  for (int i = 0; i < kPrefetchBuffers; ++i) free_.push_back(i);
  thread_ = std::thread([this] { run(); });
}

PrefetchReader::~PrefetchReader() {
  {
    std::lock_guard lock(mu_);
    cancel_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PrefetchReader::run() {
  for (;;) {
    auto chunk = reader_.next();
    Item item;
    if (!chunk) {
      item.end = true;
      item.error = chunk.error();
    } else if (chunk->empty()) {
      item.end = true;
      auto drained = reader_.drain();
      if (!drained) item.error = drained.error();
    } else {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return cancel_ || !free_.empty(); });
      if (cancel_) return;
      item.buf = free_.front();
      free_.pop_front();
      lock.unlock();
      auto& buf = bufs_[static_cast<size_t>(item.buf)];
      buf.assign(chunk->begin(), chunk->end());
      item.len = chunk->size();
    }
    bool end = item.end;
    {
      std::lock_guard lock(mu_);
      full_.push_back(std::move(item));
    }
    cv_.notify_all();
    if (end) return;
  }
}

Result<std::span<const uint8_t>> PrefetchReader::next() {
  std::unique_lock lock(mu_);
  if (held_ >= 0) {
    free_.push_back(held_);
    held_ = -1;
    cv_.notify_all();
  }
  if (ended_) {
    if (end_error_) return std::unexpected(*end_error_);
    return std::span<const uint8_t>{};
  }
  cv_.wait(lock, [&] { return !full_.empty(); });
  Item item = std::move(full_.front());
  full_.pop_front();
  if (item.end) {
    ended_ = true;
    end_error_ = std::move(item.error);
    if (end_error_) return std::unexpected(*end_error_);
    return std::span<const uint8_t>{};
  }
  held_ = item.buf;
  lock.unlock();
  std::span<const uint8_t> chunk(bufs_[static_cast<size_t>(item.buf)].data(), item.len);
  if (reader_.consumer_hashes_) reader_.uncompressed_hash_.update(chunk.data(), chunk.size());
  return chunk;
}

Result<> PrefetchReader::finish() {
  for (;;) {
    ASSIGN_OR_RETURN(auto chunk, next());
    if (chunk.empty()) break;
  }
  if (thread_.joinable()) thread_.join();
  return {};
}

// ---- CompressWriter ----

Result<std::unique_ptr<CompressWriter>> CompressWriter::create(int fd, bool gzip, int level) {
  std::unique_ptr<CompressWriter> w(new CompressWriter(fd, gzip));
  w->out_.resize(kOutBufSize);
  if (gzip) {
    const Codecs& c = codecs();
    if (!c.deflate_init2) return make_error(ErrorCode::kInternal, c.zlib_error);
    auto* zs = new z_stream{};
    w->stream_ = zs;
    if (c.deflate_init2(zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
                        c.zlib_version_fn(), sizeof(z_stream)) != Z_OK)
      return make_error(ErrorCode::kInternal, "initializing gzip compression");
  }
  return w;
}

CompressWriter::~CompressWriter() {
  if (stream_) {
    auto* zs = static_cast<z_stream*>(stream_);
    codecs().deflate_end(zs);
    delete zs;
  }
}

Result<> CompressWriter::flush_out() {
  TRY(write_all(fd_, out_.data(), out_len_));
  if (gzip_) hash_.update(out_.data(), out_len_);
  size_ += static_cast<int64_t>(out_len_);
  out_len_ = 0;
  return {};
}

Result<> CompressWriter::deflate_some(const void* data, size_t size, int flush) {
  const Codecs& c = codecs();
  auto* zs = static_cast<z_stream*>(stream_);
  zs->next_in = static_cast<Bytef*>(const_cast<void*>(data));
  zs->avail_in = static_cast<uInt>(size);
  for (;;) {
    zs->next_out = out_.data() + out_len_;
    zs->avail_out = static_cast<uInt>(out_.size() - out_len_);
    int ret = c.deflate(zs, flush);
    out_len_ = out_.size() - zs->avail_out;
    if (ret == Z_STREAM_ERROR) return make_error(ErrorCode::kInternal, "gzip compression failed");
    if (out_len_ == out_.size()) {
      TRY(flush_out());
      continue;
    }
    if (flush == Z_FINISH ? ret == Z_STREAM_END : zs->avail_in == 0) return {};
  }
}

Result<> CompressWriter::write(const void* data, size_t size) {
  if (gzip_) return deflate_some(data, size, Z_NO_FLUSH);
  const auto* p = static_cast<const uint8_t*>(data);
  if (out_len_ + size > out_.size()) TRY(flush_out());
  if (size >= out_.size()) {
    TRY(write_all(fd_, p, size));
    if (gzip_) hash_.update(p, size);
    size_ += static_cast<int64_t>(size);
    return {};
  }
  std::memcpy(out_.data() + out_len_, p, size);
  out_len_ += size;
  return {};
}

Result<> CompressWriter::finish() {
  if (gzip_) TRY(deflate_some(nullptr, 0, Z_FINISH));
  return flush_out();
}

}  // namespace berth::image

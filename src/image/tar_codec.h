// Streaming building blocks for layer tars: sha256 over a byte stream, and gzip/zstd
// decompression and gzip compression that hash both sides of the codec in the same pass (the
// compressed bytes give the blob digest, the uncompressed bytes the diff ID). Private to image/.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "image/digest.h"

namespace berth::image {

enum class StreamCodec { kNone, kGzip, kZstd };
// From a stream's first bytes (at least 4 if the stream has them).
StreamCodec detect_codec(std::span<const uint8_t> head);

// Pulls a possibly compressed stream from fd and hands out its uncompressed bytes in chunks.
// A compressed stream must end properly (gzip trailer with CRC, complete zstd frame); bytes after
// the last complete member that do not start another member are trailing data: hashed into the
// compressed digest, otherwise ignored.
class DecompressReader {
 public:
  // hash_compressed false: no digest of the raw bytes (compressed_digest() is ""), for callers
  // that hash them elsewhere (a pull's content-store writer).
  static Result<std::unique_ptr<DecompressReader>> open(int fd, bool hash_compressed = true);
  ~DecompressReader();
  DecompressReader(const DecompressReader&) = delete;
  DecompressReader& operator=(const DecompressReader&) = delete;

  // Next chunk of uncompressed bytes (valid until the next call); empty at the end of the stream.
  Result<std::span<const uint8_t>> next();
  // Reads and hashes whatever is left (uncompressed and raw) up to EOF.
  Result<> drain();

  StreamCodec codec() const { return codec_; }
  // Which library inflates a gzip stream: "isa-l", or "zlib" (libisal.so.2 missing, or
  // BERTH_INFLATE=zlib in the environment when the stream was opened).
  const char* gzip_inflater() const { return isal_ ? "isa-l" : "zlib"; }
  // Final digests, valid after the stream was read to its end. An uncompressed stream is hashed
  // once: its compressed digest is its diff ID.
  std::string diff_id();
  std::string compressed_digest();
  int64_t compressed_size() const { return raw_size_; }
  int64_t uncompressed_size() const { return uncompressed_size_; }

 private:
  enum class State { kMember, kBetween, kTrailing, kDone };
  DecompressReader(int fd, StreamCodec codec) : fd_(fd), codec_(codec) {}
  // Moves unread input to the front and reads more from fd (hashing it); false at EOF.
  Result<bool> fill();
  Result<std::span<const uint8_t>> next_plain();
  Result<std::span<const uint8_t>> next_gzip();
  // One inflate call (isa-l or zlib) on the unread input into out_.
  struct Step {
    size_t consumed = 0, produced = 0;
    bool end = false;  // the member ended (trailer checked)
  };
  Result<Step> inflate_step();
  void reset_gzip();  // for the next member
  Result<std::span<const uint8_t>> next_zstd();
  // Between members: does the unread input start another member? (reads ahead if needed)
  Result<bool> another_member();
  size_t avail() const { return in_len_ - in_pos_; }

  int fd_;
  StreamCodec codec_;
  State state_ = State::kMember;
  std::vector<uint8_t> in_, out_;
  size_t in_pos_ = 0, in_len_ = 0;
  bool eof_ = false;
  void* stream_ = nullptr;  // z_stream*, inflate_state* (isal_) or ZSTD_DStream*
  bool isal_ = false;
  bool member_start_ = true;  // no input given to the inflater yet for this gzip member
  Sha256 raw_hash_, uncompressed_hash_;
  // Set by PrefetchReader: its consumer hashes the uncompressed bytes (on the other thread).
  bool consumer_hashes_ = false;
  friend class PrefetchReader;
  bool hash_raw_ = false;  // set once the stream is known to be compressed
  std::optional<std::string> diff_id_, compressed_digest_;
  int64_t raw_size_ = 0, uncompressed_size_ = 0;
};

// Runs a DecompressReader on its own thread a few chunks ahead of the consumer, so that
// decompression overlaps with writing files (what `tar xzf` gets from its gzip child). The work
// is split for 2 cores: the thread reads, hashes the compressed bytes and inflates; the consumer
// hashes the uncompressed bytes (diff ID) in next(), next to its tar parsing and file writes.
class PrefetchReader {
 public:
  explicit PrefetchReader(DecompressReader& reader);  // starts the thread
  ~PrefetchReader();                                  // stops and joins it
  PrefetchReader(const PrefetchReader&) = delete;
  PrefetchReader& operator=(const PrefetchReader&) = delete;

  // Like DecompressReader::next(): the chunk stays valid until the next call.
  Result<std::span<const uint8_t>> next();
  // Lets the thread read the rest of the stream (DecompressReader::drain) and joins it; the
  // reader's digests are final afterwards.
  Result<> finish();

 private:
  struct Item {
    int buf = -1;
    size_t len = 0;
    bool end = false;
    std::optional<Error> error;
  };
  void run();

  DecompressReader& reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<uint8_t>> bufs_;
  std::deque<int> free_;
  std::deque<Item> full_;
  int held_ = -1;  // buffer handed to the consumer
  bool cancel_ = false, ended_ = false;
  std::optional<Error> end_error_;
  std::thread thread_;
};

// Writes bytes to fd, gzip-compressed (level 1..9) or as they are. Compressed output is hashed
// (digest()); uncompressed output is not (the caller hashes its input anyway). Output is
// buffered: finish() flushes the codec's end and the buffer.
class CompressWriter {
 public:
  static Result<std::unique_ptr<CompressWriter>> create(int fd, bool gzip, int level);
  ~CompressWriter();
  CompressWriter(const CompressWriter&) = delete;
  CompressWriter& operator=(const CompressWriter&) = delete;

  Result<> write(const void* data, size_t size);
  Result<> finish();  // call once
  std::string digest() { return hash_.digest(); }
  int64_t size() const { return size_; }

 private:
  CompressWriter(int fd, bool gzip) : fd_(fd), gzip_(gzip) {}
  Result<> flush_out();
  Result<> deflate_some(const void* data, size_t size, int flush);

  int fd_;
  bool gzip_;
  void* stream_ = nullptr;  // z_stream*
  std::vector<uint8_t> out_;
  size_t out_len_ = 0;
  Sha256 hash_;
  int64_t size_ = 0;
};

}  // namespace berth::image

// Docker's multiplexed stream framing (attach, logs and exec without a TTY): each frame is an
// 8-byte header [stream, 0, 0, 0, size as big-endian uint32] followed by size bytes. Stream 0 is
// stdin, 1 stdout, 2 stderr. Shared by the shim (which writes frames), the API and the CLI.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace berth::stdcopy {

enum class Stream : uint8_t { kStdin = 0, kStdout = 1, kStderr = 2 };

inline constexpr size_t kHeaderSize = 8;

// Appends one frame carrying data to out.
inline void append_frame(std::string& out, Stream stream, std::string_view data) {
  const auto n = static_cast<uint32_t>(data.size());
  const char header[kHeaderSize] = {static_cast<char>(stream),
                                    0,
                                    0,
                                    0,
                                    static_cast<char>(n >> 24),
                                    static_cast<char>(n >> 16),
                                    static_cast<char>(n >> 8),
                                    static_cast<char>(n)};
  out.append(header, kHeaderSize);
  out.append(data);
}

inline std::string frame(Stream stream, std::string_view data) {
  std::string out;
  append_frame(out, stream, data);
  return out;
}

// Incremental decoder: feed() bytes as they arrive; next() yields complete frames in order.
class Decoder {
 public:
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // Returns true and fills stream/data when a whole frame is buffered.
  bool next(Stream& stream, std::string& data) {
    if (buf_.size() - pos_ < kHeaderSize) return compact(), false;
    const auto* h = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
    const uint32_t n =
        (uint32_t{h[4]} << 24) | (uint32_t{h[5]} << 16) | (uint32_t{h[6]} << 8) | h[7];
    if (buf_.size() - pos_ - kHeaderSize < n) return compact(), false;
    stream = static_cast<Stream>(h[0]);
    data.assign(buf_, pos_ + kHeaderSize, n);
    pos_ += kHeaderSize + n;
    return true;
  }
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  void compact() {
    if (pos_ > 0) buf_.erase(0, pos_), pos_ = 0;
  }
  std::string buf_;
  size_t pos_ = 0;
};

}  // namespace berth::stdcopy

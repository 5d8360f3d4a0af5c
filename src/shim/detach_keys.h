// Detach keys: docker's escape sequence ("ctrl-p,ctrl-q" by default) that ends an attach session
// from the client's stdin without touching the container. Bytes that could start the sequence are
// held back until it either completes (the session ends, the held bytes are dropped) or breaks
// (they go on to the process).
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::shim {

// docker's syntax: comma-separated keys, each a single character or ctrl-<x> with x one of a-z,
// @, [, \, ], ^, _. "" = the default ctrl-p,ctrl-q.
Result<std::string> parse_detach_keys(std::string_view spec);

class DetachMatcher {
 public:
  explicit DetachMatcher(std::string sequence) : seq_(std::move(sequence)) {}
  // Appends to out the bytes of in that are for the process; returns true when the sequence
  // completed (the rest of in is discarded).
  bool feed(std::string_view in, std::string& out);
  // Bytes held back at EOF (a partial sequence) are the process's.
  void flush(std::string& out) {
    out.append(seq_, 0, matched_);
    matched_ = 0;
  }

 private:
  std::string seq_;
  size_t matched_ = 0;
};

}  // namespace berth::shim

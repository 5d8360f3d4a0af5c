// Image references as docker spells and normalises them (distribution/reference grammar):
// "busybox" -> docker.io/library/busybox:latest, "localhost:5000/a/b:t", "name@sha256:<hex>",
// "name:tag@sha256:...". Parsing is a hand-written scanner over the grammar, not a regex, so the
// error for each bad input is docker's ("invalid reference format", "... must be lowercase").
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::oci {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kOfficialRepoPrefix = "library/";
inline constexpr std::string_view kDefaultTag = "latest";

struct Reference {
  std::string domain;  // "docker.io", "localhost:5000"
  std::string path;    // "library/busybox", "a/b"
  std::string tag;     // "" when absent
  std::string digest;  // "sha256:<hex>" or "" when absent

  // "docker.io/library/busybox"
  std::string name() const;
  // Fully qualified: "docker.io/library/busybox:latest", "docker.io/library/b@sha256:..".
  std::string string() const;
  // What docker shows: "busybox", "localhost:5000/a/b", "user/app".
  std::string familiar_name() const;
  // "busybox:latest", "busybox@sha256:...", "localhost:5000/a/b:t".
  std::string familiar() const;
  bool name_only() const { return tag.empty() && digest.empty(); }
};

// ParseNormalizedNamed: parses and normalises a reference as given on docker's command line.
// No default tag is added.
Result<Reference> parse_normalized_named(std::string_view s);
// The same, then "latest" when neither tag nor digest is given (TagNameOnly).
Result<Reference> parse_reference(std::string_view s);

// tag: [\w][\w.-]{0,127}
bool is_valid_tag(std::string_view tag);
// "sha256:<64 lowercase hex>" (other algorithms: <alg>:<hex, at least 32>).
bool is_valid_digest(std::string_view digest);
// 64 lowercase hex characters: what an image ID without "sha256:" looks like.
bool is_hex64(std::string_view s);

}  // namespace berth::oci

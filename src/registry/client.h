// Docker Registry HTTP API v2 / OCI distribution client (libcurl): one Repository per
// <registry>/<name>, with the auth flow (anonymous, Basic, Bearer tokens from the
// WWW-Authenticate realm, reused until they expire), manifests, blob downloads that resume with
// Range after a dropped connection, and the push side (existence check, cross-repository mount,
// monolithic and chunked uploads, manifest PUT).
//
// Transport rules as docker's: https, except that plain http is allowed for localhost,
// 127.0.0.0/8, ::1 and the registries named in Options::insecure_registries (there https is
// tried first, without certificate checks, and http used when the TLS handshake fails; the
// choice is remembered per host). Redirects are followed, but credentials never go to another
// host.
// Every Repository method may be called from several threads at once (parallel layers).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "oci/reference.h"

namespace berth::registry {

// Docker's AuthConfig (X-Registry-Auth, config.json "auths" entries, POST /auth body).
struct AuthConfig {
  std::string username, password;
  std::string identity_token;  // OAuth refresh token from a previous login ("IdentityToken")
  std::string registry_token;  // a bearer token to use as is ("RegistryToken")
  std::string server_address;  // as the user typed it
  bool empty() const {
    return username.empty() && password.empty() && identity_token.empty() && registry_token.empty();
  }
};

struct Options {
  // "host[:port]" or CIDR ("10.0.0.0/8"): plain http allowed (after https fails).
  std::vector<std::string> insecure_registries;
  // Mirrors for docker.io, tried in order before registry-1.docker.io ("https://mirror:5000").
  std::vector<std::string> mirrors;
  int max_attempts = 5;                       // per request, for 5xx / connection errors
  std::chrono::milliseconds retry_base{200};  // backoff: base, 2*base, 4*base ... (capped 5 s)
  std::chrono::seconds connect_timeout{15};
  std::chrono::seconds low_speed_timeout{60};  // abort a transfer slower than 1 byte/s this long
  int64_t max_manifest_bytes = 4 << 20;        // larger manifests are refused
  std::string user_agent = "berth";
};

struct Manifest {
  std::string media_type;  // from the Content-Type header, else the body's mediaType
  std::string digest;      // "sha256:<hex>" of bytes (verified against a requested digest and
                           // against Docker-Content-Digest when the registry sends it)
  std::string bytes;
};

// Receives blob bytes in order. An error stops the transfer and is returned by fetch_blob.
using BlobSink = std::function<Result<>(std::string_view bytes)>;
// Bytes done so far (after a resume: counted from the start of the blob).
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

class Repository {
 public:
  virtual ~Repository() = default;
  virtual const oci::Reference& reference() const = 0;

  // GET (or HEAD) /v2/<name>/manifests/<tag or digest>, Accept: every OCI and Docker v2 manifest
  // and index type. Schema 1 answers are refused with a clear message. NotFound when the tag or
  // repository does not exist ("manifest unknown"), PermissionDenied on 401/403 after auth.
  virtual Result<Manifest> get_manifest(const std::string& tag_or_digest) = 0;
  virtual Result<std::string> head_manifest_digest(const std::string& tag_or_digest) = 0;

  // GET /v2/<name>/blobs/<digest>: streams the bytes to sink. A connection dropped mid-body is
  // retried (bounded, with backoff) with "Range: bytes=<delivered>-", so sink sees every byte
  // exactly once; when the registry ignores Range the already-delivered prefix is skipped. The
  // caller verifies the digest of what it received. size < 0 when unknown.
  virtual Result<> fetch_blob(const std::string& digest, int64_t size, const BlobSink& sink,
                              const ProgressFn& progress = {}) = 0;

  // HEAD /v2/<name>/blobs/<digest>: true when the registry has it.
  virtual Result<bool> blob_exists(const std::string& digest) = 0;
  // POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<from_repo> (a path in the same registry,
  // "library/busybox"): true when mounted (201);
  // false when the registry started an upload instead (the upload is cancelled).
  virtual Result<bool> mount_blob(const std::string& digest, const std::string& from_repo) = 0;
  // Uploads size bytes read from fd (from its current offset) as blob digest: one PUT for blobs
  // up to chunk_size, else PATCH chunks of chunk_size with Content-Range, then PUT ?digest=.
  virtual Result<> push_blob(const std::string& digest, int64_t size, int fd,
                             const ProgressFn& progress = {}, int64_t chunk_size = 32 << 20) = 0;
  // PUT /v2/<name>/manifests/<tag or digest> with Content-Type media_type. Returns the digest
  // the registry reports (Docker-Content-Digest), or the digest of bytes.
  virtual Result<std::string> put_manifest(const std::string& tag_or_digest,
                                           const std::string& media_type,
                                           const std::string& bytes) = 0;
};

enum class Access { kPull, kPushPull };

class Client {
 public:
  static Result<std::unique_ptr<Client>> create(Options opts = {});
  virtual ~Client() = default;

  // A session for one repository. The reference's domain picks the registry (docker.io ->
  // registry-1.docker.io, or its mirrors for pulls); auth is used for Basic or to obtain tokens.
  virtual Result<std::unique_ptr<Repository>> repository(const oci::Reference& ref,
                                                         const AuthConfig& auth, Access access) = 0;

  // docker login: GET /v2/ on server ("localhost:5000", "docker.io", "https://host/"), then the
  // token flow with the credentials when the registry asks for Bearer. PermissionDenied with
  // the registry's reason on bad credentials. Returns an identity token when the token server
  // issued a refresh token, else "".
  virtual Result<std::string> login(const std::string& server, const AuthConfig& auth) = 0;
};

// "docker.io" -> "registry-1.docker.io"; anything else unchanged. Used for URLs.
std::string registry_host(std::string_view domain);
// Plain http allowed for this host[:port] (loopback names and addresses, or insecure list).
bool is_insecure_host(std::string_view host_port, const std::vector<std::string>& insecure);

}  // namespace berth::registry

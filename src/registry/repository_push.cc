// The push side of RepositoryImpl. An upload is a session on the registry: POST opens it and
// answers a Location, each PATCH (chunked) answers the next Location, the final PUT names the
// digest. Locations may be relative or absolute and may carry a query already (distribution
// puts its upload state there). A failure in the middle restarts the whole upload (a fresh
// POST), bounded by max_attempts; the body is re-read from the fd with pread.
#include <unistd.h>

#include <algorithm>

#include "base/strings.h"
#include "image/digest.h"
#include "registry/errors.h"
#include "registry/repository.h"

namespace berth::registry {
namespace {

// The Location of an upload response, resolved against the request URL.
Result<std::string> upload_location(const HttpResponse& r, std::string_view what) {
  auto loc = r.header("location");
  if (!loc || loc->empty())
    return make_error(ErrorCode::kInternal,
                      std::string(what) + ": registry sent no upload location");
  return resolve_url(r.url, *loc);
}

Result<> expect_status(const HttpResponse& r, std::initializer_list<long> ok,
                       std::string_view what) {
  if (r.net_error.empty() && std::find(ok.begin(), ok.end(), r.status) != ok.end()) return {};
  return std::unexpected(call_error(r, what));
}

}  // namespace

Result<bool> RepositoryImpl::blob_exists(const std::string& digest) {
  Session::Call c{.req = {.method = "HEAD", .url = path("blobs/" + digest)}};
  ASSIGN_OR_RETURN(HttpResponse r, origin().send(c));
  if (r.ok()) return true;
  if (r.net_error.empty() && r.status == 404) return false;
  return std::unexpected(call_error(r, "checking blob " + digest + " in " + ref_.name()));
}

Result<bool> RepositoryImpl::mount_blob(const std::string& digest, const std::string& from_repo) {
  const std::string what =
      "mounting blob " + digest + " from " + from_repo + " into " + ref_.name();
  std::string url = add_query(path("blobs/uploads/"), "mount", digest);
  url = add_query(url, "from", from_repo);
  Session::Call c{.req = {.method = "POST", .url = url},
                  .extra_scopes = {"repository:" + from_repo + ":pull"}};
  ASSIGN_OR_RETURN(HttpResponse r, origin().send(c));
  if (r.net_error.empty() && r.status == 201) return true;
  TRY(expect_status(r, {202}, what));
  // The registry opened an upload instead of mounting: cancel it (best effort).
  if (auto loc = upload_location(r, what); loc) {
    Session::Call del{.req = {.method = "DELETE", .url = *loc}};
    (void)origin().exchange(std::move(del));
  }
  return false;
}

Result<> RepositoryImpl::upload_once(const std::string& digest, int64_t size, int fd,
                                     int64_t offset, const ProgressFn& progress,
                                     int64_t chunk_size) {
  const std::string what = "pushing blob " + digest + " to " + ref_.name();
  Session& s = origin();
  Session::Call start{.req = {.method = "POST", .url = path("blobs/uploads/")}};
  ASSIGN_OR_RETURN(HttpResponse r, s.send(start));
  TRY(expect_status(r, {202}, what));
  ASSIGN_OR_RETURN(std::string location, upload_location(r, what));
  if (auto min = r.header("oci-chunk-min-length"); min) {
    if (auto n = parse_int(*min); n && *n > chunk_size) chunk_size = *n;
  }

  auto body_call = [&](std::string method, std::string url, int64_t at, int64_t n) {
    Session::Call c{.req = {.method = std::move(method), .url = std::move(url)}};
    c.req.headers.push_back("Content-Type: application/octet-stream");
    c.req.body_fd = fd;
    c.req.body_offset = offset + at;
    c.req.body_size = n;
    if (progress)
      c.req.upload_progress = [&progress, at, size](int64_t sent) { progress(at + sent, size); };
    return c;
  };

  if (size <= chunk_size) {
    ASSIGN_OR_RETURN(HttpResponse put,
                     s.exchange(body_call("PUT", add_query(location, "digest", digest), 0, size)));
    TRY(expect_status(put, {201, 204}, what));
    r = std::move(put);
  } else {
    for (int64_t at = 0; at < size;) {
      int64_t n = std::min(chunk_size, size - at);
      Session::Call c = body_call("PATCH", location, at, n);
      c.req.headers.push_back("Content-Range: " + std::to_string(at) + "-" +
                              std::to_string(at + n - 1));
      ASSIGN_OR_RETURN(HttpResponse patch, s.exchange(std::move(c)));
      TRY(expect_status(patch, {202, 204}, what));
      if (patch.header("location")) {
        ASSIGN_OR_RETURN(location, upload_location(patch, what));
      }
      at += n;
    }
    Session::Call fin{.req = {.method = "PUT", .url = add_query(location, "digest", digest)}};
    fin.req.headers.push_back("Content-Type: application/octet-stream");
    ASSIGN_OR_RETURN(HttpResponse put, s.exchange(std::move(fin)));
    TRY(expect_status(put, {201, 204}, what));
    r = std::move(put);
  }
  if (auto h = r.header("docker-content-digest"); h && *h != digest)
    return make_error(ErrorCode::kInvalidArgument,
                      what + ": the registry stored digest " + *h + " instead");
  if (progress) progress(size, size);
  return {};
}

Result<> RepositoryImpl::push_blob(const std::string& digest, int64_t size, int fd,
                                   const ProgressFn& progress, int64_t chunk_size) {
  off_t offset = ::lseek(fd, 0, SEEK_CUR);
  if (offset < 0) return errno_error("pushing blob " + digest + ": the blob fd is not seekable");
  if (size < 0)
    return make_error(ErrorCode::kInvalidArgument, "pushing blob " + digest + ": size unknown");
  if (chunk_size <= 0) chunk_size = size > 0 ? size : 1;
  const int attempts = std::max(1, origin().options().max_attempts);
  for (int attempt = 1;; ++attempt) {
    Result<> r = upload_once(digest, size, fd, offset, progress, chunk_size);
    if (r || r.error().code() != ErrorCode::kUnavailable || attempt >= attempts) return r;
    origin().backoff(attempt, nullptr);
  }
}

Result<std::string> RepositoryImpl::put_manifest(const std::string& tag_or_digest,
                                                 const std::string& media_type,
                                                 const std::string& bytes) {
  Session::Call c{.req = {.method = "PUT", .url = path("manifests/" + tag_or_digest)}};
  c.req.headers.push_back("Content-Type: " + media_type);
  c.req.body = bytes;
  ASSIGN_OR_RETURN(HttpResponse r, origin().send(c));
  TRY(expect_status(r, {200, 201, 202, 204},
                    "pushing manifest " + ref_.familiar_name() + ":" + tag_or_digest));
  if (auto h = r.header("docker-content-digest"); h && !h->empty()) return *h;
  return image::sha256_digest(bytes);
}

}  // namespace berth::registry

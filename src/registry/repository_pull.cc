// The pull side of RepositoryImpl: manifests (GET/HEAD, schema 1 refused, size bounded, digest
// checked) and blob downloads that stream to the caller and resume after a dropped connection
// with "Range: bytes=<delivered>-" (skipping the prefix again when the server ignores Range).
#include <algorithm>

#include "base/json.h"
#include "base/strings.h"
#include "image/digest.h"
#include "oci/reference.h"
#include "registry/errors.h"
#include "registry/repository.h"

namespace berth::registry {
namespace {

struct ManifestInfo {
  int schema_version = 0;
  std::string media_type;
  bool has_manifests = false, has_config = false;
};

ManifestInfo manifest_info(std::string_view body) {
  ManifestInfo info;
  auto j = json::parse(body, "manifest");
  if (!j || !j->is_object()) return info;
  if (auto it = j->find("schemaVersion"); it != j->end() && it->is_number_integer())
    info.schema_version = it->get<int>();
  if (auto it = j->find("mediaType"); it != j->end() && it->is_string())
    info.media_type = it->get<std::string>();
  info.has_manifests = j->contains("manifests");
  info.has_config = j->contains("config");
  return info;
}

std::string content_type(const HttpResponse& resp) {
  std::string ct = resp.header("content-type").value_or("");
  return std::string(trim(std::string_view(ct).substr(0, ct.find(';'))));
}

bool generic_type(std::string_view ct) {
  return ct.empty() || ct == "application/json" || ct == "text/plain" ||
         ct == "application/octet-stream";
}

// Falls through to the next endpoint (a mirror failing): anything but a local failure.
bool try_next_endpoint(const Error& e) {
  return e.code() == ErrorCode::kNotFound || e.code() == ErrorCode::kPermissionDenied ||
         e.code() == ErrorCode::kUnavailable;
}

}  // namespace

Result<> refuse_schema1(std::string_view media_type, std::string_view body, std::string_view what) {
  bool v1 = media_type == "application/vnd.docker.distribution.manifest.v1+json" ||
            media_type == "application/vnd.docker.distribution.manifest.v1+prettyjws";
  if (!v1 && !body.empty() && generic_type(media_type))
    v1 = manifest_info(body).schema_version == 1;
  if (!v1) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    std::string(what) +
                        " is an image manifest version 2, schema 1: schema 1 is not supported; "
                        "the image must be pushed again in the oci or docker schema 2 format");
}

std::string RepositoryImpl::familiar(const std::string& tag_or_digest) const {
  return ref_.familiar_name() + (oci::is_valid_digest(tag_or_digest) ? "@" : ":") + tag_or_digest;
}

Error RepositoryImpl::manifest_error(const HttpResponse& resp,
                                     const std::string& tag_or_digest) const {
  if (!resp.net_error.empty())
    return Error(ErrorCode::kUnavailable,
                 "fetching manifest for " + familiar(tag_or_digest) + ": " + resp.net_error);
  auto errors = parse_error_body(resp.body);
  std::string desc = describe_errors(errors);
  bool name_unknown = has_error_code(errors, "NAME_UNKNOWN");
  if (resp.status == 404 && !name_unknown)
    return Error(ErrorCode::kNotFound, "manifest for " + familiar(tag_or_digest) + " not found: " +
                                           (desc.empty() ? "manifest unknown" : desc));
  if (resp.status == 401 || resp.status == 403 || resp.status == 404) {
    if (desc.empty()) desc = status_line(resp.status);
    return Error(resp.status == 404 ? ErrorCode::kNotFound : ErrorCode::kPermissionDenied,
                 "pull access denied for " + ref_.familiar_name() +
                     ", repository does not exist or may require 'docker login': " + desc);
  }
  return http_error(resp, "fetching manifest for " + familiar(tag_or_digest));
}

Result<Manifest> RepositoryImpl::get_manifest_from(Session& s, const std::string& t) {
  Session::Call c{.req = {.method = "GET", .url = path("manifests/" + t)}};
  c.req.headers.emplace_back(kManifestAccept);
  c.req.max_body = s.options().max_manifest_bytes;
  auto r = s.send(c);
  if (!r && r.error().code() == ErrorCode::kResourceExhausted)
    return make_error(ErrorCode::kInvalidArgument,
                      "manifest for " + familiar(t) + " is larger than " +
                          std::to_string(s.options().max_manifest_bytes) + " bytes");
  if (!r) return std::unexpected(std::move(r).error());
  if (!r->ok()) return std::unexpected(manifest_error(*r, t));

  Manifest m;
  m.bytes = std::move(r->body);
  m.media_type = content_type(*r);
  TRY(refuse_schema1(m.media_type, m.bytes, familiar(t)));
  if (generic_type(m.media_type)) {
    ManifestInfo info = manifest_info(m.bytes);
    m.media_type = info.media_type;
    if (m.media_type.empty() && info.has_manifests)
      m.media_type = "application/vnd.oci.image.index.v1+json";
    else if (m.media_type.empty() && info.has_config)
      m.media_type = "application/vnd.oci.image.manifest.v1+json";
  }
  m.digest = image::sha256_digest(m.bytes);
  if (oci::is_valid_digest(t)) {
    if (!t.starts_with("sha256:"))
      return make_error(ErrorCode::kUnimplemented,
                        "manifest for " + familiar(t) + ": only sha256 digests are supported");
    if (t != m.digest)
      return make_error(
          ErrorCode::kInvalidArgument,
          "manifest for " + familiar(t) + " does not match its digest: got " + m.digest);
  }
  if (auto h = r->header("docker-content-digest"); h && h->starts_with("sha256:") && *h != m.digest)
    return make_error(ErrorCode::kInvalidArgument, "manifest for " + familiar(t) +
                                                       " does not match the digest the registry "
                                                       "sent (Docker-Content-Digest " +
                                                       *h + ", content " + m.digest + ")");
  return m;
}

Result<std::string> RepositoryImpl::head_manifest_from(Session& s, const std::string& t) {
  Session::Call c{.req = {.method = "HEAD", .url = path("manifests/" + t)}};
  c.req.headers.emplace_back(kManifestAccept);
  ASSIGN_OR_RETURN(HttpResponse r, s.send(c));
  if (!r.ok()) return std::unexpected(manifest_error(r, t));
  TRY(refuse_schema1(content_type(r), "", familiar(t)));
  if (auto h = r.header("docker-content-digest"); h && oci::is_valid_digest(*h)) return *h;
  ASSIGN_OR_RETURN(Manifest m, get_manifest_from(s, t));
  return m.digest;
}

Result<Manifest> RepositoryImpl::get_manifest(const std::string& t) {
  Result<Manifest> r = make_error(ErrorCode::kInternal, "no registry endpoint");
  for (size_t i = preferred_.load(); i < sessions_.size(); ++i) {
    r = get_manifest_from(*sessions_[i], t);
    if (r) preferred_ = i;
    if (r || !try_next_endpoint(r.error())) return r;
  }
  return r;
}

Result<std::string> RepositoryImpl::head_manifest_digest(const std::string& t) {
  Result<std::string> r = make_error(ErrorCode::kInternal, "no registry endpoint");
  for (size_t i = preferred_.load(); i < sessions_.size(); ++i) {
    r = head_manifest_from(*sessions_[i], t);
    if (r) preferred_ = i;
    if (r || !try_next_endpoint(r.error())) return r;
  }
  return r;
}

Result<> RepositoryImpl::fetch_blob_from(Session& s, const std::string& digest, int64_t size,
                                         const BlobSink& sink, const ProgressFn& progress,
                                         int64_t* delivered) {
  const std::string what = "fetching blob " + digest + " from " + ref_.name();
  const int attempts = std::max(1, s.options().max_attempts);
  int failures = 0;
  while (true) {
    const int64_t start = *delivered;
    int64_t pos = 0;  // offset in the blob of the next byte of this response
    Session::Call c{.req = {.method = "GET", .url = path("blobs/" + digest)}};
    if (start > 0) {
      c.req.headers.push_back("Range: bytes=" + std::to_string(start) + "-");
    }
    c.req.sink = [&](long status, std::string_view b) -> Result<> {
      if (status == 206) {
        pos = std::max(pos, start);
      } else if (pos < start) {  // 200 to a Range request: the whole blob again
        size_t skip = static_cast<size_t>(std::min<int64_t>(start - pos, b.size()));
        b.remove_prefix(skip);
        pos += static_cast<int64_t>(skip);
        if (b.empty()) return {};
      }
      if (size >= 0 && *delivered + static_cast<int64_t>(b.size()) > size)
        return make_error(ErrorCode::kInvalidArgument,
                          what + ": more than the expected " + std::to_string(size) + " bytes");
      TRY(sink(b));
      *delivered += static_cast<int64_t>(b.size());
      pos += static_cast<int64_t>(b.size());
      if (progress) progress(*delivered, size);
      return {};
    };
    ASSIGN_OR_RETURN(HttpResponse r, s.exchange(std::move(c)));
    bool short_body = false;
    if (r.ok()) {
      if (size < 0 || *delivered == size) return {};
      short_body = true;  // the body ended early without a transport error
    } else if (r.status == 416 && size >= 0 && *delivered == size) {
      return {};
    } else if (r.net_error.empty() && !Session::retryable(r)) {
      if (r.status == 404)
        return make_error(ErrorCode::kNotFound, "blob " + digest + " not found in " + ref_.name());
      return std::unexpected(http_error(r, what));
    }
    if (*delivered > start) failures = 0;  // progress: the budget is per stall, not per blob
    if (++failures >= attempts) {
      std::string why = short_body ? "body ended after " + std::to_string(*delivered) + " of " +
                                         std::to_string(size) + " bytes"
                                   : call_error(r, "").message().substr(2);
      return make_error(ErrorCode::kUnavailable, what + ": " + why + " (gave up after " +
                                                     std::to_string(attempts) + " attempts)");
    }
    s.backoff(failures, &r);
  }
}

Result<> RepositoryImpl::fetch_blob(const std::string& digest, int64_t size, const BlobSink& sink,
                                    const ProgressFn& progress) {
  int64_t delivered = 0;
  Result<> r = make_error(ErrorCode::kInternal, "no registry endpoint");
  for (size_t i = preferred_.load(); i < sessions_.size(); ++i) {
    r = fetch_blob_from(*sessions_[i], digest, size, sink, progress, &delivered);
    if (r) preferred_ = i;
    // Once bytes went to the sink, another endpoint cannot take over cleanly.
    if (r || delivered > 0 || !try_next_endpoint(r.error())) return r;
  }
  return r;
}

}  // namespace berth::registry

// libcurl easy handles behind Transport::perform (see transport.h). Uploads always use
// CURLOPT_UPLOAD with a custom method so every body (string or fd) goes through one read
// callback with a known Content-Length; "Expect:" is cleared so bodies go out without waiting
// for 100-continue.
#include "registry/transport.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

#include "base/strings.h"

namespace berth::registry {
namespace {

constexpr int64_t kMaxErrorBody = 64 << 10;
constexpr long kReceiveBuffer = 256 << 10;
constexpr long kUploadBuffer = 1 << 20;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct Exchange {
  CURL* curl = nullptr;
  const HttpRequest* req = nullptr;
  HttpResponse* resp = nullptr;
  std::optional<Error> local_error;  // from the sink or the body limit
  int64_t sent = 0;
  int read_errno = 0;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  std::string_view line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    // A new response (after 100 Continue, for instance): forget earlier headers.
    x->resp->headers.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos && colon > 0)
    x->resp->headers.emplace_back(lower(line.substr(0, colon)),
                                  std::string(trim(line.substr(colon + 1))));
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
  bool success = status >= 200 && status < 300;
  if (success && x->req->sink) {
    if (auto r = x->req->sink(status, std::string_view(data, len)); !r) {
      x->local_error = std::move(r).error();
      return 0;  // CURLE_WRITE_ERROR stops the transfer
    }
    x->resp->delivered += static_cast<int64_t>(len);
    return len;
  }
  std::string& body = x->resp->body;
  if (success) {
    if (static_cast<int64_t>(body.size() + len) > x->req->max_body) {
      x->local_error =
          Error(ErrorCode::kResourceExhausted,
                "response body larger than " + std::to_string(x->req->max_body) + " bytes");
      return 0;
    }
    body.append(data, len);
  } else if (static_cast<int64_t>(body.size()) < kMaxErrorBody) {
    body.append(data, std::min<size_t>(len, kMaxErrorBody - body.size()));
  }
  return len;
}

size_t on_read(char* buf, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const HttpRequest& req = *x->req;
  int64_t total = req.body_fd >= 0 ? req.body_size : static_cast<int64_t>(req.body.size());
  int64_t want = std::min<int64_t>(static_cast<int64_t>(size * n), total - x->sent);
  if (want <= 0) return 0;
  if (req.body_fd >= 0) {
    ssize_t got;
    do {
      got = ::pread(req.body_fd, buf, static_cast<size_t>(want), req.body_offset + x->sent);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
      x->read_errno = got < 0 ? errno : EIO;
      return CURL_READFUNC_ABORT;
    }
    want = got;
  } else {
    std::memcpy(buf, req.body.data() + x->sent, static_cast<size_t>(want));
  }
  x->sent += want;
  if (req.upload_progress) req.upload_progress(x->sent);
  return static_cast<size_t>(want);
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  std::string key = lower(name);
  for (const auto& [k, v] : headers)
    if (k == key) return v;
  return std::nullopt;
}

std::vector<std::string> HttpResponse::header_values(std::string_view name) const {
  std::string key = lower(name);
  std::vector<std::string> out;
  for (const auto& [k, v] : headers)
    if (k == key) out.push_back(v);
  return out;
}

Result<std::unique_ptr<Transport>> Transport::create(TransportOptions opts) {
  global_init();
  curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
  if (!v || !(v->features & CURL_VERSION_SSL))
    return make_error(ErrorCode::kFailedPrecondition, "libcurl was built without tls support");
  return std::unique_ptr<Transport>(new Transport(std::move(opts)));
}

Transport::~Transport() {
  for (void* h : pool_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* Transport::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!pool_.empty()) {
      void* h = pool_.back();
      pool_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void Transport::release(void* handle) {
  curl_easy_reset(static_cast<CURL*>(handle));  // keeps the connection and DNS caches
  std::lock_guard lock(mu_);
  pool_.push_back(handle);
}

Result<HttpResponse> Transport::perform(const HttpRequest& req) {
  CURL* curl = static_cast<CURL*>(acquire());
  if (!curl) return make_error(ErrorCode::kResourceExhausted, "creating a curl handle");
  struct Release {
    Transport* t;
    CURL* c;
    curl_slist* headers = nullptr;
    ~Release() {
      curl_slist_free_all(headers);
      t->release(c);
    }
  } guard{this, curl};

  HttpResponse resp;
  resp.url = req.url;
  Exchange x{.curl = curl, .req = &req, .resp = &resp};

  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, opts_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, static_cast<long>(opts_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(opts_.low_speed_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  // Larger buffers than curl's defaults (16 KiB / 64 KiB): fewer sink calls and preads.
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, kReceiveBuffer);
  curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBuffer);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, req.tls_verify ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, req.tls_verify ? 2L : 0L);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);

  for (const auto& h : req.headers) guard.headers = curl_slist_append(guard.headers, h.c_str());
  guard.headers = curl_slist_append(guard.headers, "Expect:");

  bool has_body = req.body_fd >= 0 || !req.body.empty() || req.method == "PUT" ||
                  req.method == "POST" || req.method == "PATCH";
  if (req.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (has_body) {
    int64_t size = req.body_fd >= 0 ? req.body_size : static_cast<int64_t>(req.body.size());
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &x);
    if (req.method != "PUT") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else if (req.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, guard.headers);

  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp.status);
  if (x.local_error) return std::unexpected(std::move(*x.local_error));
  if (x.read_errno)
    return errno_error(x.read_errno, "reading the request body for " + req.method + " " + req.url);
  if (rc != CURLE_OK) {
    resp.net_error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    // A plain-http server answering a TLS hello: say it as docker (Go's net/http) does.
    if (rc == CURLE_SSL_CONNECT_ERROR &&
        resp.net_error.find("wrong version number") != std::string::npos)
      resp.net_error = "http: server gave HTTP response to HTTPS client";
    resp.connect_failed =
        resp.status == 0 && (rc == CURLE_COULDNT_CONNECT || rc == CURLE_SSL_CONNECT_ERROR ||
                             rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_RECV_ERROR ||
                             rc == CURLE_GOT_NOTHING || rc == CURLE_OPERATION_TIMEDOUT ||
                             rc == CURLE_COULDNT_RESOLVE_HOST);
  }
  return resp;
}

}  // namespace berth::registry

// Where registry requests go: URL pieces (parse, resolve a Location, add a query parameter),
// the origin rule for credentials (same host and port, or no Authorization header), and the
// docker rules that pick https or plain http for a registry host.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::registry {

struct Url {
  std::string scheme;  // "http" or "https", lowercase
  std::string host;    // lowercase; IPv6 literals without brackets
  int port = 0;        // 0: the scheme's default
  std::string target;  // path and query, at least "/"

  static Result<Url> parse(std::string_view url);
  int effective_port() const { return port ? port : (scheme == "https" ? 443 : 80); }
  // "host[:port]" with brackets around IPv6 literals.
  std::string authority() const;
  std::string string() const { return scheme + "://" + authority() + target; }
};

// Resolves a Location header (absolute, scheme-relative "//h/p", absolute path "/p", or a
// relative path) against the URL of the request that returned it.
Result<std::string> resolve_url(std::string_view base, std::string_view location);
// True when both URLs name the same host and port: the only case credentials may be sent.
bool same_host(std::string_view a, std::string_view b);
// Appends "key=value" (value URL-escaped) with '?' or '&' as the URL already needs.
std::string add_query(std::string url, std::string_view key, std::string_view value);
// Percent-encodes everything but RFC 3986 unreserved characters.
std::string url_escape(std::string_view s);

// Splits "host:port", "[v6]:port", "v6" or "host" into host (no brackets) and port ("" if none).
void split_host_port(std::string_view host_port, std::string* host, std::string* port);
// localhost (and *.localhost), 127.0.0.0/8, ::1.
bool is_loopback_host(std::string_view host);

// The scheme rule for one registry host ("host[:port]").
struct SchemeChoice {
  std::string scheme;          // the first scheme to try
  bool http_fallback = false;  // https failed to connect or handshake: try http
  bool tls_verify = true;      // insecure registries (loopback included) skip certificate
                               // checks, as docker does
};
SchemeChoice choose_scheme(std::string_view host_port, const std::vector<std::string>& insecure);

// A registry given as the user typed it ("localhost:5000", "https://host/", "docker.io",
// "https://index.docker.io/v1/") -> "host[:port]" as used in URLs, and the scheme if one was
// written ("" otherwise).
void normalize_server(std::string_view server, std::string* host_port, std::string* scheme);

}  // namespace berth::registry

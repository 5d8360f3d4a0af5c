// URL handling and the https/http choice for registries. Hosts are compared by name and port
// only (no DNS): a redirect to another name is another host, even if it resolves the same.
// Insecure CIDR entries match IP literals; docker also resolves names against them, which a
// pure function cannot do, so name a host in insecure_registries to allow it by name.
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

#include "base/strings.h"
#include "registry/client.h"
#include "registry/endpoint.h"

namespace berth::registry {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// An IP literal as bytes (4 or 16); empty when s is not one.
std::vector<unsigned char> ip_bytes(std::string_view s) {
  std::string str(s);
  std::array<unsigned char, 16> buf{};
  if (inet_pton(AF_INET, str.c_str(), buf.data()) == 1) return {buf.begin(), buf.begin() + 4};
  if (inet_pton(AF_INET6, str.c_str(), buf.data()) == 1) {
    // ::ffff:a.b.c.d is the IPv4 address a.b.c.d.
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(buf.data(), kMapped, 12) == 0) return {buf.begin() + 12, buf.end()};
    return {buf.begin(), buf.end()};
  }
  return {};
}

bool in_cidr(const std::vector<unsigned char>& ip, std::string_view cidr) {
  size_t slash = cidr.find('/');
  if (slash == std::string_view::npos) return false;
  std::vector<unsigned char> net = ip_bytes(cidr.substr(0, slash));
  auto bits = parse_uint(cidr.substr(slash + 1));
  if (net.empty() || !bits || net.size() != ip.size() || *bits > net.size() * 8) return false;
  for (size_t i = 0; i < net.size(); ++i) {
    int take = static_cast<int>(std::min<uint64_t>(8, *bits > i * 8 ? *bits - i * 8 : 0));
    if (take == 0) break;
    unsigned char mask = static_cast<unsigned char>(0xff << (8 - take));
    if ((ip[i] & mask) != (net[i] & mask)) return false;
  }
  return true;
}

std::string strip_scheme(std::string_view s) {
  if (size_t p = s.find("://"); p != std::string_view::npos) s.remove_prefix(p + 3);
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return std::string(s);
}

bool unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

}  // namespace

Result<Url> Url::parse(std::string_view url) {
  size_t p = url.find("://");
  if (p == std::string_view::npos)
    return make_error(ErrorCode::kInvalidArgument, "invalid url " + std::string(url));
  Url u;
  u.scheme = lower(url.substr(0, p));
  if (u.scheme != "http" && u.scheme != "https")
    return make_error(ErrorCode::kInvalidArgument, "unsupported url scheme in " + std::string(url));
  std::string_view rest = url.substr(p + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  u.target = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  if (size_t hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
  if (u.target.empty() || u.target[0] != '/') u.target.insert(0, "/");
  if (size_t at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);  // userinfo is never used for registries
  std::string host, port;
  split_host_port(authority, &host, &port);
  if (host.empty())
    return make_error(ErrorCode::kInvalidArgument, "no host in url " + std::string(url));
  u.host = lower(host);
  if (!port.empty()) {
    auto n = parse_uint(port);
    if (!n || *n == 0 || *n > 65535)
      return make_error(ErrorCode::kInvalidArgument, "invalid port in url " + std::string(url));
    u.port = static_cast<int>(*n);
  }
  return u;
}

std::string Url::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port) h += ":" + std::to_string(port);
  return h;
}

Result<std::string> resolve_url(std::string_view base, std::string_view location) {
  location = trim(location);
  if (location.find("://") != std::string_view::npos) {
    ASSIGN_OR_RETURN(Url u, Url::parse(location));
    return u.string();
  }
  ASSIGN_OR_RETURN(Url b, Url::parse(base));
  if (location.starts_with("//")) {
    ASSIGN_OR_RETURN(Url u, Url::parse(b.scheme + ":" + std::string(location)));
    return u.string();
  }
  if (location.empty()) return b.string();
  if (location[0] == '/') {
    b.target = std::string(location);
  } else if (location[0] == '?') {
    b.target = b.target.substr(0, b.target.find('?')) + std::string(location);
  } else {
    std::string path = b.target.substr(0, b.target.find('?'));
    b.target = path.substr(0, path.rfind('/') + 1) + std::string(location);
  }
  return b.string();
}

bool same_host(std::string_view a, std::string_view b) {
  auto ua = Url::parse(a);
  auto ub = Url::parse(b);
  return ua && ub && ua->host == ub->host && ua->effective_port() == ub->effective_port();
}

std::string url_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string add_query(std::string url, std::string_view key, std::string_view value) {
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  if (url.back() == '?' || url.back() == '&') sep = 0;
  if (sep) url += sep;
  url += key;
  url += '=';
  url += url_escape(value);
  return url;
}

void split_host_port(std::string_view hp, std::string* host, std::string* port) {
  host->clear();
  port->clear();
  if (hp.starts_with('[')) {
    size_t close = hp.find(']');
    if (close == std::string_view::npos) {
      *host = std::string(hp);
      return;
    }
    *host = std::string(hp.substr(1, close - 1));
    if (close + 1 < hp.size() && hp[close + 1] == ':') *port = std::string(hp.substr(close + 2));
    return;
  }
  size_t colon = hp.find(':');
  if (colon != std::string_view::npos && hp.find(':', colon + 1) == std::string_view::npos) {
    *host = std::string(hp.substr(0, colon));
    *port = std::string(hp.substr(colon + 1));
    return;
  }
  *host = std::string(hp);  // a name, or a bare IPv6 literal
}

bool is_loopback_host(std::string_view host_in) {
  std::string host = lower(host_in);
  if (host == "localhost" || host.ends_with(".localhost")) return true;
  std::vector<unsigned char> ip = ip_bytes(host);
  if (ip.size() == 4) return ip[0] == 127;
  if (ip.size() == 16)
    return ip == std::vector<unsigned char>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return false;
}

std::string registry_host(std::string_view domain) {
  std::string d = lower(domain);
  if (d == "docker.io" || d == "index.docker.io") return "registry-1.docker.io";
  return std::string(domain);
}

bool is_insecure_host(std::string_view host_port, const std::vector<std::string>& insecure) {
  std::string host, port;
  split_host_port(host_port, &host, &port);
  if (is_loopback_host(host)) return true;
  std::string hp = lower(host_port);
  std::vector<unsigned char> ip = ip_bytes(host);
  for (const auto& entry_raw : insecure) {
    std::string entry = lower(strip_scheme(trim(entry_raw)));
    if (entry.empty()) continue;
    if (entry.find('/') != std::string::npos) {
      if (!ip.empty() && in_cidr(ip, entry)) return true;
      continue;
    }
    if (entry == hp) return true;
    // "[::1]:5000" written in the list without brackets, or the other way round.
    std::string eh, ep;
    split_host_port(entry, &eh, &ep);
    if (eh == lower(host) && ep == port) return true;
  }
  return false;
}

SchemeChoice choose_scheme(std::string_view host_port, const std::vector<std::string>& insecure) {
  // Loopback counts as an insecure registry, as in docker (127.0.0.0/8 is in its default
  // insecure CIDRs): a TLS registry on localhost works, a plain one costs one failed handshake
  // per Client (the choice is remembered per host).
  if (is_insecure_host(host_port, insecure))
    return {.scheme = "https", .http_fallback = true, .tls_verify = false};
  return {.scheme = "https", .http_fallback = false, .tls_verify = true};
}

void normalize_server(std::string_view server, std::string* host_port, std::string* scheme) {
  scheme->clear();
  std::string_view s = trim(server);
  if (size_t p = s.find("://"); p != std::string_view::npos) {
    *scheme = lower(s.substr(0, p));
    s.remove_prefix(p + 3);
  }
  s = s.substr(0, s.find('/'));
  *host_port = registry_host(s.empty() ? "docker.io" : s);
}

}  // namespace berth::registry

// Image reference parsing: docker's distribution/reference grammar, scanned by hand.
//
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [domain "/"] path-component ("/" path-component)*
//   domain    := host [":" port]   (a component with "." or ":", or "localhost", or uppercase)
//   path-component := [a-z0-9]+ ((("." | "_" | "__" | "-"+) [a-z0-9]+)*
#include "oci/reference.h"

#include <cctype>

namespace berth::oci {
namespace {

constexpr size_t kNameTotalLengthMax = 255;

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
bool is_hex_lower(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}
bool is_hex(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}
bool is_word(char c) {
  return is_alnum(c) || c == '_';
}

auto invalid_format() {
  return make_error(ErrorCode::kInvalidArgument, "invalid reference format");
}

// [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
bool valid_path_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < c.size() && !is_lower_alnum(c[i])) ++i;
    std::string_view sep = c.substr(start, i - start);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
  }
  return true;
}

// Like valid_path_component but accepting uppercase letters: tells "must be lowercase" apart.
bool valid_path_component_any_case(std::string_view c) {
  std::string lower(c);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return valid_path_component(lower);
}

// [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool valid_domain_component(std::string_view c) {
  if (c.empty() || !is_alnum(c.front()) || !is_alnum(c.back())) return false;
  for (char ch : c)
    if (!is_alnum(ch) && ch != '-') return false;
  return true;
}

bool valid_domain(std::string_view d) {
  if (d.empty()) return false;
  std::string_view host = d;
  if (d.front() == '[') {  // [IPv6]
    size_t close = d.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char ch : d.substr(1, close - 1))
      if (!is_hex(ch) && ch != ':') return false;
    std::string_view rest = d.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':' || rest.size() < 2) return false;
    for (char ch : rest.substr(1))
      if (!std::isdigit(static_cast<unsigned char>(ch))) return false;
    return true;
  }
  size_t colon = d.find(':');
  if (colon != std::string_view::npos) {
    std::string_view port = d.substr(colon + 1);
    if (port.empty()) return false;
    for (char ch : port)
      if (!std::isdigit(static_cast<unsigned char>(ch))) return false;
    host = d.substr(0, colon);
  }
  size_t start = 0;
  while (true) {
    size_t dot = host.find('.', start);
    std::string_view comp =
        host.substr(start, dot == std::string_view::npos ? host.npos : dot - start);
    if (!valid_domain_component(comp)) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

// [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)* ":" [a-fA-F0-9]{32,}
bool valid_digest_syntax(std::string_view d) {
  size_t colon = d.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view alg = d.substr(0, colon), hex = d.substr(colon + 1);
  bool need_alpha = true;
  for (char ch : alg) {
    if (need_alpha) {
      if (!std::isalpha(static_cast<unsigned char>(ch))) return false;
      need_alpha = false;
    } else if (ch == '-' || ch == '_' || ch == '+' || ch == '.') {
      need_alpha = true;
    } else if (!is_alnum(ch)) {
      return false;
    }
  }
  if (need_alpha || hex.size() < 32) return false;
  for (char ch : hex)
    if (!is_hex(ch)) return false;
  return true;
}

// Parse of an already normalised "domain/path[:tag][@digest]".
Result<Reference> parse_plain(std::string_view s) {
  if (s.empty()) return invalid_format();
  Reference ref;
  std::string_view name = s;
  size_t at = s.find('@');
  if (at != std::string_view::npos) {
    std::string_view dg = s.substr(at + 1);
    name = s.substr(0, at);
    if (!valid_digest_syntax(dg)) return invalid_format();
    if (!is_valid_digest(dg))
      return make_error(ErrorCode::kInvalidArgument, "invalid checksum digest format");
    ref.digest = std::string(dg);
  }
  size_t last_slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    std::string_view tag = name.substr(colon + 1);
    if (!is_valid_tag(tag)) return invalid_format();
    ref.tag = std::string(tag);
    name = name.substr(0, colon);
  }
  if (name.empty()) return invalid_format();
  // The normaliser always puts the domain first.
  size_t slash = name.find('/');
  if (slash == std::string_view::npos || !valid_domain(name.substr(0, slash)))
    return invalid_format();
  ref.domain = std::string(name.substr(0, slash));
  std::string_view path = name.substr(slash + 1);
  bool uppercase = false;
  size_t start = 0;
  while (true) {
    size_t next = path.find('/', start);
    std::string_view comp =
        path.substr(start, next == std::string_view::npos ? path.npos : next - start);
    if (!valid_path_component(comp)) {
      if (!valid_path_component_any_case(comp)) return invalid_format();
      uppercase = true;
    }
    if (next == std::string_view::npos) break;
    start = next + 1;
  }
  if (uppercase)
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid reference format: repository name must be lowercase");
  ref.path = std::string(path);
  if (ref.name().size() > kNameTotalLengthMax)
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid reference format: repository name must not be more than 255 "
                      "characters");
  return ref;
}

}  // namespace

std::string Reference::name() const {
  return domain.empty() ? path : domain + "/" + path;
}

std::string Reference::string() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string Reference::familiar_name() const {
  if (domain != kDefaultDomain) return name();
  std::string_view p = path;
  if (p.starts_with(kOfficialRepoPrefix) &&
      p.substr(kOfficialRepoPrefix.size()).find('/') == std::string_view::npos)
    p.remove_prefix(kOfficialRepoPrefix.size());
  return std::string(p);
}

std::string Reference::familiar() const {
  std::string s = familiar_name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!is_hex_lower(c)) return false;
  return true;
}

bool is_valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128 || !is_word(tag.front())) return false;
  for (char c : tag)
    if (!is_word(c) && c != '.' && c != '-') return false;
  return true;
}

bool is_valid_digest(std::string_view d) {
  if (!valid_digest_syntax(d)) return false;
  if (d.starts_with("sha256:")) return is_hex64(d.substr(7));
  if (d.starts_with("sha512:")) {
    std::string_view h = d.substr(7);
    if (h.size() != 128) return false;
    for (char c : h)
      if (!is_hex_lower(c)) return false;
  }
  return true;
}

Result<Reference> parse_normalized_named(std::string_view s) {
  if (is_hex64(s))
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid repository name (" + std::string(s) +
                          "), cannot specify 64-byte hexadecimal strings");
  // splitDockerDomain
  std::string domain, remainder;
  size_t i = s.find('/');
  std::string_view first = i == std::string_view::npos ? std::string_view() : s.substr(0, i);
  bool first_lower = true;
  for (char c : first)
    if (std::isupper(static_cast<unsigned char>(c))) first_lower = false;
  if (i == std::string_view::npos || (first.find_first_of(".:") == std::string_view::npos &&
                                      first != "localhost" && first_lower)) {
    domain = std::string(kDefaultDomain);
    remainder = std::string(s);
  } else {
    domain = std::string(first);
    remainder = std::string(s.substr(i + 1));
  }
  if (domain == "index.docker.io") domain = std::string(kDefaultDomain);
  if (domain == kDefaultDomain && remainder.find('/') == std::string::npos)
    remainder = std::string(kOfficialRepoPrefix) + remainder;
  std::string remote_name = remainder.substr(0, remainder.find(':'));
  for (char c : remote_name)
    if (std::isupper(static_cast<unsigned char>(c)))
      return make_error(ErrorCode::kInvalidArgument, "invalid reference format: repository name (" +
                                                         remote_name + ") must be lowercase");
  ASSIGN_OR_RETURN(Reference ref, parse_plain(domain + "/" + remainder));
  return ref;
}

Result<Reference> parse_reference(std::string_view s) {
  ASSIGN_OR_RETURN(Reference ref, parse_normalized_named(s));
  if (ref.name_only()) ref.tag = std::string(kDefaultTag);
  return ref;
}

}  // namespace berth::oci

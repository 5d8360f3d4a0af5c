// Docker-format seccomp profile -> OCI linux.seccomp, following moby's setupSeccomp
// (profiles/seccomp/seccomp_linux.go): the archMap entry of the native arch gives the
// architectures, and a rule is kept only if its excludes do not match (no excluded arch, no
// excluded cap held, kernel older than excludes.minKernel) and its includes do (the arch is listed,
// every included cap is held, kernel at least includes.minKernel). Names, actions and operators
// are checked with the runtime's own validator when the profile is parsed, so a bad profile is a
// 400 at create rather than a failed start.
#include "engine/seccomp_profile.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cstdlib>

#include "oci/spec.h"
#include "runtime/security/seccomp.h"

namespace berth::engine {
namespace {

using json::Json;

constexpr std::string_view kDecodeError = "decoding seccomp profile failed: ";

std::unexpected<Error> bad(const std::string& field, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument,
                    std::string(kDecodeError) + (field.empty() ? "" : field + ": ") + why);
}

std::string sub(const std::string& f, const std::string& k) {
  return f.empty() ? k : f + "." + k;
}
std::string idx(const std::string& f, size_t i) {
  return f + "[" + std::to_string(i) + "]";
}

// A member that is absent or null counts as absent, as Go's encoding/json decodes it.
const Json* member(const Json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

Result<std::string> get_string(const Json& j, const char* key, const std::string& f) {
  const Json* v = member(j, key);
  if (!v) return std::string();
  if (!v->is_string()) return bad(sub(f, key), "expected a string");
  return v->get<std::string>();
}

Result<std::vector<std::string>> get_strings(const Json& j, const char* key, const std::string& f) {
  std::vector<std::string> out;
  const Json* v = member(j, key);
  if (!v) return out;
  if (!v->is_array()) return bad(sub(f, key), "expected an array of strings");
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) return bad(idx(sub(f, key), i), "expected a string");
    out.push_back((*v)[i].get<std::string>());
  }
  return out;
}

Result<std::optional<uint64_t>> get_uint(const Json& j, const char* key, const std::string& f,
                                         uint64_t max) {
  const Json* v = member(j, key);
  if (!v) return std::optional<uint64_t>();
  if (!v->is_number_unsigned() || v->get<uint64_t>() > max)
    return bad(sub(f, key), "expected an integer in [0, " + std::to_string(max) + "]");
  return std::optional<uint64_t>(v->get<uint64_t>());
}

Result<std::optional<uint32_t>> get_errno(const Json& j, const char* key, const std::string& f) {
  ASSIGN_OR_RETURN(auto v, get_uint(j, key, f, 0xffff));
  if (!v) return std::optional<uint32_t>();
  return std::optional<uint32_t>(static_cast<uint32_t>(*v));
}

// "4.8" -> {4, 8}; nullopt when it is not MAJOR.MINOR.
std::optional<std::pair<int, int>> parse_kernel(const std::string& s) {
  int major = 0, minor = 0;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%d.%d%c", &major, &minor, &tail) != 2 || major < 0 || minor < 0)
    return std::nullopt;
  return std::pair{major, minor};
}

Result<SeccompFilter> parse_filter(const Json& j, const char* key, const std::string& f) {
  SeccompFilter out;
  const Json* v = member(j, key);
  if (!v) return out;
  const std::string ff = sub(f, key);
  if (!v->is_object()) return bad(ff, "expected an object");
  ASSIGN_OR_RETURN(out.caps, get_strings(*v, "caps", ff));
  ASSIGN_OR_RETURN(out.arches, get_strings(*v, "arches", ff));
  ASSIGN_OR_RETURN(out.min_kernel, get_string(*v, "minKernel", ff));
  if (!out.min_kernel.empty() && !parse_kernel(out.min_kernel))
    return bad(sub(ff, "minKernel"), "invalid kernel version \"" + out.min_kernel + "\"");
  return out;
}

Result<Json> parse_args(const Json& j, const std::string& f, std::vector<oci::SeccompArg>* oci) {
  Json out = Json::array();
  const Json* v = member(j, "args");
  if (!v) return out;
  const std::string af = sub(f, "args");
  if (!v->is_array()) return bad(af, "expected an array");
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& a = (*v)[i];
    const std::string ef = idx(af, i);
    if (!a.is_object()) return bad(ef, "expected an object");
    oci::SeccompArg arg;
    ASSIGN_OR_RETURN(auto index, get_uint(a, "index", ef, 5));
    ASSIGN_OR_RETURN(auto value, get_uint(a, "value", ef, UINT64_MAX));
    ASSIGN_OR_RETURN(auto value_two, get_uint(a, "valueTwo", ef, UINT64_MAX));
    ASSIGN_OR_RETURN(arg.op, get_string(a, "op", ef));
    if (arg.op.empty()) return bad(sub(ef, "op"), "required");
    arg.index = static_cast<unsigned>(index.value_or(0));
    arg.value = value.value_or(0);
    arg.value_two = value_two.value_or(0);
    oci->push_back(arg);
    out.push_back(
        {{"index", arg.index}, {"value", arg.value}, {"valueTwo", arg.value_two}, {"op", arg.op}});
  }
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool kernel_at_least(const SeccompHost& host, const std::string& version) {
  auto v = parse_kernel(version);
  if (!v) return false;
  return std::pair{host.kernel_major, host.kernel_minor} >= *v;
}

// moby's goToNative: the SCMP arch whose archMap entry applies on this Go arch.
std::string native_scmp_arch(const std::string& go_arch) {
  static const std::pair<const char*, const char*> kMap[] = {
      {"386", "SCMP_ARCH_X86"},
      {"amd64", "SCMP_ARCH_X86_64"},
      {"arm", "SCMP_ARCH_ARM"},
      {"arm64", "SCMP_ARCH_AARCH64"},
      {"mips64", "SCMP_ARCH_MIPS64"},
      {"mips64n32", "SCMP_ARCH_MIPS64N32"},
      {"mipsel64", "SCMP_ARCH_MIPSEL64"},
      {"mipsel64n32", "SCMP_ARCH_MIPSEL64N32"},
      {"mips", "SCMP_ARCH_MIPS"},
      {"mipsel", "SCMP_ARCH_MIPSEL"},
      {"ppc", "SCMP_ARCH_PPC"},
      {"ppc64", "SCMP_ARCH_PPC64"},
      {"ppc64le", "SCMP_ARCH_PPC64LE"},
      {"riscv64", "SCMP_ARCH_RISCV64"},
      {"s390", "SCMP_ARCH_S390"},
      {"s390x", "SCMP_ARCH_S390X"},
      {"loong64", "SCMP_ARCH_LOONGARCH64"}};
  for (auto& [go, scmp] : kMap)
    if (go_arch == go) return scmp;
  return "";
}

// uname -m -> Go's GOARCH, which is what moby matches "arches" against.
std::string go_arch_of(const std::string& machine) {
  static const std::pair<const char*, const char*> kMap[] = {
      {"x86_64", "amd64"},    {"aarch64", "arm64"}, {"i386", "386"},
      {"i686", "386"},        {"armv7l", "arm"},    {"armv6l", "arm"},
      {"ppc64le", "ppc64le"}, {"ppc64", "ppc64"},   {"s390x", "s390x"},
      {"riscv64", "riscv64"}, {"mips64", "mips64"}, {"loongarch64", "loong64"}};
  for (auto& [m, go] : kMap)
    if (machine == m) return go;
  return machine;
}

// Splits "seccomp=<value>" (or the deprecated "seccomp:<value>") out of SecurityOpt.
std::optional<std::string> seccomp_opt(const Json& hc) {
  auto opts = hc.value("SecurityOpt", Json::array());
  if (!opts.is_array()) return std::nullopt;
  std::optional<std::string> out;
  for (const auto& o : opts) {
    if (!o.is_string()) continue;
    const std::string& s = o.get_ref<const std::string&>();
    if (s.starts_with("seccomp=") ||
        (s.starts_with("seccomp:") && s.find('=') == std::string::npos))
      out = s.substr(8);
  }
  return out;
}

}  // namespace

const SeccompHost& seccomp_host() {
  static const SeccompHost host = [] {
    SeccompHost h;
    struct utsname u {};
    if (::uname(&u) == 0) {
      h.arch = go_arch_of(u.machine);
      std::sscanf(u.release, "%d.%d", &h.kernel_major, &h.kernel_minor);
    }
    return h;
  }();
  return host;
}

const SeccompProfile& default_seccomp_profile() {
  // The text is ours and covered by a unit test: a parse failure here is a build defect.
  static const SeccompProfile profile = [] {
    auto p = parse_seccomp_profile(default_seccomp_profile_json());
    if (!p) std::abort();
    return *std::move(p);
  }();
  return profile;
}

Result<SeccompProfile> parse_seccomp_profile(std::string_view text) {
  auto parsed = json::parse(text, "seccomp profile");
  if (!parsed) return bad("", parsed.error().message());
  const Json& j = *parsed;
  if (!j.is_object()) return bad("", "expected a JSON object");
  SeccompProfile p;
  oci::Seccomp check;  // every rule, unconditioned, for the runtime's validator
  ASSIGN_OR_RETURN(p.default_action, get_string(j, "defaultAction", ""));
  ASSIGN_OR_RETURN(p.default_errno_ret, get_errno(j, "defaultErrnoRet", ""));
  ASSIGN_OR_RETURN(p.architectures, get_strings(j, "architectures", ""));
  ASSIGN_OR_RETURN(p.flags, get_strings(j, "flags", ""));
  ASSIGN_OR_RETURN(p.listener_path, get_string(j, "listenerPath", ""));
  ASSIGN_OR_RETURN(p.listener_metadata, get_string(j, "listenerMetadata", ""));
  check.architectures = p.architectures;
  if (const Json* am = member(j, "archMap")) {
    if (!am->is_array()) return bad("archMap", "expected an array");
    for (size_t i = 0; i < am->size(); ++i) {
      const Json& e = (*am)[i];
      const std::string f = idx("archMap", i);
      if (!e.is_object()) return bad(f, "expected an object");
      SeccompArchMap m;
      ASSIGN_OR_RETURN(m.arch, get_string(e, "architecture", f));
      if (m.arch.empty()) return bad(sub(f, "architecture"), "required");
      ASSIGN_OR_RETURN(m.sub_arches, get_strings(e, "subArchitectures", f));
      check.architectures.push_back(m.arch);
      check.architectures.insert(check.architectures.end(), m.sub_arches.begin(),
                                 m.sub_arches.end());
      p.arch_map.push_back(std::move(m));
    }
  }
  if (!p.architectures.empty() && !p.arch_map.empty())
    return bad("", "both 'architectures' and 'archMap' are specified, use either one");
  if (const Json* sc = member(j, "syscalls")) {
    if (!sc->is_array()) return bad("syscalls", "expected an array");
    for (size_t i = 0; i < sc->size(); ++i) {
      const Json& e = (*sc)[i];
      const std::string f = idx("syscalls", i);
      if (!e.is_object()) return bad(f, "expected an object");
      SeccompRule r;
      oci::SeccompSyscall c;
      ASSIGN_OR_RETURN(std::string name, get_string(e, "name", f));
      ASSIGN_OR_RETURN(r.names, get_strings(e, "names", f));
      if (!name.empty() && !r.names.empty())
        return bad(f, "use either 'name' or 'names', not both");
      if (!name.empty()) r.names = {name};
      ASSIGN_OR_RETURN(r.action, get_string(e, "action", f));
      if (r.action.empty()) return bad(sub(f, "action"), "required");
      ASSIGN_OR_RETURN(r.errno_ret, get_errno(e, "errnoRet", f));
      ASSIGN_OR_RETURN(r.args, parse_args(e, f, &c.args));
      ASSIGN_OR_RETURN(r.includes, parse_filter(e, "includes", f));
      ASSIGN_OR_RETURN(r.excludes, parse_filter(e, "excludes", f));
      c.names = r.names;
      c.action = r.action;
      c.errno_ret = r.errno_ret;
      check.syscalls.push_back(std::move(c));
      p.syscalls.push_back(std::move(r));
    }
  }
  check.default_action = p.default_action;
  check.default_errno_ret = p.default_errno_ret;
  check.flags = p.flags;
  check.listener_path = p.listener_path;
  if (auto r = runtime::security::validate_seccomp(check); !r) {
    std::string msg = r.error().message();
    if (msg.starts_with("linux.seccomp.")) msg.erase(0, 14);
    return make_error(ErrorCode::kInvalidArgument, std::string(kDecodeError) + msg);
  }
  return p;
}

Json render_seccomp(const SeccompProfile& p, const std::vector<std::string>& caps,
                    const SeccompHost& host) {
  if (p.default_action.empty() && p.syscalls.empty()) return nullptr;
  Json out = {{"defaultAction", p.default_action}};
  if (p.default_errno_ret) out["defaultErrnoRet"] = *p.default_errno_ret;
  Json arches = Json::array();
  for (const auto& a : p.architectures) arches.push_back(a);
  const std::string native = native_scmp_arch(host.arch);
  for (const auto& m : p.arch_map)
    if (m.arch == native) {
      arches.push_back(m.arch);
      for (const auto& s : m.sub_arches) arches.push_back(s);
    }
  if (!arches.empty()) out["architectures"] = arches;
  if (!p.flags.empty()) out["flags"] = p.flags;
  if (!p.listener_path.empty()) out["listenerPath"] = p.listener_path;
  if (!p.listener_metadata.empty()) out["listenerMetadata"] = p.listener_metadata;

  auto held = [&](const std::string& c) { return contains(caps, c); };
  Json rules = Json::array();
  for (const auto& r : p.syscalls) {
    const SeccompFilter& ex = r.excludes;
    if (!ex.arches.empty() && contains(ex.arches, host.arch)) continue;
    if (std::any_of(ex.caps.begin(), ex.caps.end(), held)) continue;
    if (!ex.min_kernel.empty() && kernel_at_least(host, ex.min_kernel)) continue;
    const SeccompFilter& in = r.includes;
    if (!in.arches.empty() && !contains(in.arches, host.arch)) continue;
    if (!std::all_of(in.caps.begin(), in.caps.end(), held)) continue;
    if (!in.min_kernel.empty() && !kernel_at_least(host, in.min_kernel)) continue;
    Json rule = {{"names", r.names}, {"action", r.action}};
    if (r.errno_ret) rule["errnoRet"] = *r.errno_ret;
    if (!r.args.empty()) rule["args"] = r.args;
    rules.push_back(std::move(rule));
  }
  out["syscalls"] = std::move(rules);
  return out;
}

Result<Json> container_seccomp(const Json& hc, const std::vector<std::string>& caps,
                               const SeccompHost& host) {
  if (hc.value("Privileged", false)) return nullptr;
  auto opt = seccomp_opt(hc);
  if (!opt || opt->empty() || *opt == "builtin")
    return render_seccomp(default_seccomp_profile(), caps, host);
  if (*opt == "unconfined") return nullptr;
  ASSIGN_OR_RETURN(SeccompProfile p, parse_seccomp_profile(*opt));
  return render_seccomp(p, caps, host);
}

Result<> validate_seccomp_opt(const Json& hc) {
  auto opt = seccomp_opt(hc);
  if (!opt || opt->empty() || *opt == "builtin" || *opt == "unconfined") return {};
  TRY(parse_seccomp_profile(*opt));
  return {};
}

}  // namespace berth::engine

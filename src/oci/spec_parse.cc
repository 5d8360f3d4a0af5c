// config.json parsing. A private FieldError exception carries the failing field's path up to the
// parse boundary (parse_spec and friends), where it becomes an InvalidArgument Error.
#include <limits>
#include <type_traits>

#include "oci/spec.h"

namespace berth::oci {
namespace {

using json::Json;

struct FieldError {
  std::string message;
};

const char* type_name(const Json& j) { return j.type_name(); }

[[noreturn]] void fail(const std::string& field, const std::string& what) {
  throw FieldError{field + ": " + what};
}

const Json* member(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string sub(const std::string& parent, const char* key) {
  return parent.empty() ? std::string(key) : parent + "." + key;
}

void expect_object(const Json& j, const std::string& field) {
  if (!j.is_object()) fail(field, std::string("expected object, got ") + type_name(j));
}

std::string get_string(const Json& j, const std::string& field) {
  if (!j.is_string()) fail(field, std::string("expected string, got ") + type_name(j));
  return j.get<std::string>();
}

bool get_bool(const Json& j, const std::string& field) {
  if (!j.is_boolean()) fail(field, std::string("expected boolean, got ") + type_name(j));
  return j.get<bool>();
}

template <class T>
T get_int(const Json& j, const std::string& field) {
  if (!j.is_number_integer())
    fail(field, std::string("expected integer, got ") + type_name(j));
  if (std::is_unsigned_v<T>) {
    if (j.is_number_unsigned()) {
      uint64_t v = j.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) fail(field, "out of range");
      return static_cast<T>(v);
    }
    int64_t v = j.get<int64_t>();
    if (v < 0) fail(field, "must not be negative");
    if (static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<T>::max()))
      fail(field, "out of range");
    return static_cast<T>(v);
  }
  if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<T>::max()))
    fail(field, "out of range");
  int64_t v = j.get<int64_t>();
  if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
      v > static_cast<int64_t>(std::numeric_limits<T>::max()))
    fail(field, "out of range");
  return static_cast<T>(v);
}

std::vector<std::string> get_strings(const Json& j, const std::string& field) {
  if (!j.is_array()) fail(field, std::string("expected array, got ") + type_name(j));
  std::vector<std::string> out;
  for (size_t i = 0; i < j.size(); ++i)
    out.push_back(get_string(j[i], field + "[" + std::to_string(i) + "]"));
  return out;
}

std::map<std::string, std::string> get_string_map(const Json& j, const std::string& field) {
  expect_object(j, field);
  std::map<std::string, std::string> out;
  for (auto& [k, v] : j.items()) out[k] = get_string(v, field + "." + k);
  return out;
}

template <class F>
void for_each_item(const Json& j, const std::string& field, F f) {
  if (!j.is_array()) fail(field, std::string("expected array, got ") + type_name(j));
  for (size_t i = 0; i < j.size(); ++i) f(j[i], field + "[" + std::to_string(i) + "]");
}

// Optional field helpers.
#define OPT_STR(obj, key, dst, path) \
  if (auto* v_ = member(obj, key)) dst = get_string(*v_, sub(path, key))
#define OPT_BOOL(obj, key, dst, path) \
  if (auto* v_ = member(obj, key)) dst = get_bool(*v_, sub(path, key))
#define OPT_INT(obj, key, dst, T, path) \
  if (auto* v_ = member(obj, key)) dst = get_int<T>(*v_, sub(path, key))
#define OPT_STRS(obj, key, dst, path) \
  if (auto* v_ = member(obj, key)) dst = get_strings(*v_, sub(path, key))

Mount parse_mount(const Json& j, const std::string& f) {
  expect_object(j, f);
  Mount m;
  auto* d = member(j, "destination");
  if (!d) fail(sub(f, "destination"), "required");
  m.destination = get_string(*d, sub(f, "destination"));
  OPT_STR(j, "type", m.type, f);
  OPT_STR(j, "source", m.source, f);
  OPT_STRS(j, "options", m.options, f);
  return m;
}

Capabilities parse_caps(const Json& j, const std::string& f) {
  expect_object(j, f);
  Capabilities c;
  OPT_STRS(j, "bounding", c.bounding, f);
  OPT_STRS(j, "effective", c.effective, f);
  OPT_STRS(j, "inheritable", c.inheritable, f);
  OPT_STRS(j, "permitted", c.permitted, f);
  OPT_STRS(j, "ambient", c.ambient, f);
  return c;
}

Process parse_process_impl(const Json& j, const std::string& f) {
  expect_object(j, f);
  Process p;
  OPT_BOOL(j, "terminal", p.terminal, f);
  if (auto* cs = member(j, "consoleSize")) {
    std::string cf = sub(f, "consoleSize");
    expect_object(*cs, cf);
    ConsoleSize size;
    OPT_INT(*cs, "height", size.height, unsigned, cf);
    OPT_INT(*cs, "width", size.width, unsigned, cf);
    p.console_size = size;
  }
  if (auto* u = member(j, "user")) {
    std::string uf = sub(f, "user");
    expect_object(*u, uf);
    OPT_INT(*u, "uid", p.user.uid, uint32_t, uf);
    OPT_INT(*u, "gid", p.user.gid, uint32_t, uf);
    if (auto* um = member(*u, "umask")) p.user.umask = get_int<uint32_t>(*um, sub(uf, "umask"));
    if (auto* ag = member(*u, "additionalGids"))
      for_each_item(*ag, sub(uf, "additionalGids"), [&](const Json& g, const std::string& gf) {
        p.user.additional_gids.push_back(get_int<uint32_t>(g, gf));
      });
    OPT_STR(*u, "username", p.user.username, uf);
  }
  OPT_STRS(j, "args", p.args, f);
  OPT_STRS(j, "env", p.env, f);
  OPT_STR(j, "cwd", p.cwd, f);
  if (auto* c = member(j, "capabilities")) p.capabilities = parse_caps(*c, sub(f, "capabilities"));
  if (auto* r = member(j, "rlimits"))
    for_each_item(*r, sub(f, "rlimits"), [&](const Json& rl, const std::string& rf) {
      expect_object(rl, rf);
      Rlimit lim;
      auto* t = member(rl, "type");
      if (!t) fail(sub(rf, "type"), "required");
      lim.type = get_string(*t, sub(rf, "type"));
      OPT_INT(rl, "hard", lim.hard, uint64_t, rf);
      OPT_INT(rl, "soft", lim.soft, uint64_t, rf);
      p.rlimits.push_back(lim);
    });
  OPT_BOOL(j, "noNewPrivileges", p.no_new_privileges, f);
  OPT_STR(j, "apparmorProfile", p.apparmor_profile, f);
  if (auto* o = member(j, "oomScoreAdj")) p.oom_score_adj = get_int<int>(*o, sub(f, "oomScoreAdj"));
  OPT_STR(j, "selinuxLabel", p.selinux_label, f);
  if (auto* io = member(j, "ioPriority")) {
    std::string iof = sub(f, "ioPriority");
    expect_object(*io, iof);
    IoPriority prio;
    OPT_STR(*io, "class", prio.klass, iof);
    OPT_INT(*io, "priority", prio.priority, int, iof);
    p.io_priority = prio;
  }
  if (auto* s = member(j, "scheduler")) {
    std::string sf = sub(f, "scheduler");
    expect_object(*s, sf);
    Scheduler sch;
    OPT_STR(*s, "policy", sch.policy, sf);
    if (auto* v = member(*s, "nice")) sch.nice = get_int<int>(*v, sub(sf, "nice"));
    if (auto* v = member(*s, "priority")) sch.priority = get_int<int>(*v, sub(sf, "priority"));
    OPT_STRS(*s, "flags", sch.flags, sf);
    if (auto* v = member(*s, "runtime")) sch.runtime = get_int<uint64_t>(*v, sub(sf, "runtime"));
    if (auto* v = member(*s, "deadline")) sch.deadline = get_int<uint64_t>(*v, sub(sf, "deadline"));
    if (auto* v = member(*s, "period")) sch.period = get_int<uint64_t>(*v, sub(sf, "period"));
    p.scheduler = sch;
  }
  return p;
}

Hook parse_hook_impl(const Json& j, const std::string& f) {
  expect_object(j, f);
  Hook h;
  auto* p = member(j, "path");
  if (!p) fail(sub(f, "path"), "required");
  h.path = get_string(*p, sub(f, "path"));
  OPT_STRS(j, "args", h.args, f);
  OPT_STRS(j, "env", h.env, f);
  if (auto* t = member(j, "timeout")) {
    h.timeout = get_int<int>(*t, sub(f, "timeout"));
    if (*h.timeout <= 0) fail(sub(f, "timeout"), "must be greater than zero");
  }
  return h;
}

std::vector<Hook> parse_hook_list(const Json& hooks, const char* key, const std::string& f) {
  std::vector<Hook> out;
  if (auto* list = member(hooks, key))
    for_each_item(*list, sub(f, key),
                  [&](const Json& h, const std::string& hf) { out.push_back(parse_hook_impl(h, hf)); });
  return out;
}

template <class T>
std::optional<T> opt_int(const Json& obj, const char* key, const std::string& f) {
  if (auto* v = member(obj, key)) return get_int<T>(*v, sub(f, key));
  return std::nullopt;
}

void parse_throttle(const Json& obj, const char* key, const std::string& f,
                    std::vector<ThrottleDevice>& out) {
  if (auto* list = member(obj, key))
    for_each_item(*list, sub(f, key), [&](const Json& d, const std::string& df) {
      expect_object(d, df);
      ThrottleDevice t;
      OPT_INT(d, "major", t.major, int64_t, df);
      OPT_INT(d, "minor", t.minor, int64_t, df);
      OPT_INT(d, "rate", t.rate, uint64_t, df);
      out.push_back(t);
    });
}

Resources parse_resources_impl(const Json& j, const std::string& f) {
  expect_object(j, f);
  Resources r;
  if (auto* devs = member(j, "devices"))
    for_each_item(*devs, sub(f, "devices"), [&](const Json& d, const std::string& df) {
      expect_object(d, df);
      DeviceCgroupRule rule;
      auto* a = member(d, "allow");
      if (!a) fail(sub(df, "allow"), "required");
      rule.allow = get_bool(*a, sub(df, "allow"));
      OPT_STR(d, "type", rule.type, df);
      if (rule.type.empty()) rule.type = "a";
      rule.major = opt_int<int64_t>(d, "major", df);
      rule.minor = opt_int<int64_t>(d, "minor", df);
      OPT_STR(d, "access", rule.access, df);
      if (rule.type != "a" && rule.type != "c" && rule.type != "b")
        fail(sub(df, "type"), "must be one of a, c, b, got \"" + rule.type + "\"");
      for (char c : rule.access)
        if (c != 'r' && c != 'w' && c != 'm')
          fail(sub(df, "access"), "must only contain r, w, m, got \"" + rule.access + "\"");
      r.devices.push_back(rule);
    });
  if (auto* m = member(j, "memory")) {
    std::string mf = sub(f, "memory");
    expect_object(*m, mf);
    MemoryResources mem;
    mem.limit = opt_int<int64_t>(*m, "limit", mf);
    mem.reservation = opt_int<int64_t>(*m, "reservation", mf);
    mem.swap = opt_int<int64_t>(*m, "swap", mf);
    mem.kernel = opt_int<int64_t>(*m, "kernel", mf);
    mem.kernel_tcp = opt_int<int64_t>(*m, "kernelTCP", mf);
    mem.swappiness = opt_int<uint64_t>(*m, "swappiness", mf);
    if (auto* v = member(*m, "disableOOMKiller")) mem.disable_oom_killer = get_bool(*v, sub(mf, "disableOOMKiller"));
    if (auto* v = member(*m, "useHierarchy")) mem.use_hierarchy = get_bool(*v, sub(mf, "useHierarchy"));
    if (auto* v = member(*m, "checkBeforeUpdate")) mem.check_before_update = get_bool(*v, sub(mf, "checkBeforeUpdate"));
    r.memory = mem;
  }
  if (auto* c = member(j, "cpu")) {
    std::string cf = sub(f, "cpu");
    expect_object(*c, cf);
    CpuResources cpu;
    cpu.shares = opt_int<uint64_t>(*c, "shares", cf);
    cpu.quota = opt_int<int64_t>(*c, "quota", cf);
    cpu.burst = opt_int<uint64_t>(*c, "burst", cf);
    cpu.period = opt_int<uint64_t>(*c, "period", cf);
    cpu.realtime_runtime = opt_int<int64_t>(*c, "realtimeRuntime", cf);
    cpu.realtime_period = opt_int<uint64_t>(*c, "realtimePeriod", cf);
    OPT_STR(*c, "cpus", cpu.cpus, cf);
    OPT_STR(*c, "mems", cpu.mems, cf);
    cpu.idle = opt_int<int64_t>(*c, "idle", cf);
    r.cpu = cpu;
  }
  if (auto* p = member(j, "pids")) {
    std::string pf = sub(f, "pids");
    expect_object(*p, pf);
    PidsResources pids;
    OPT_INT(*p, "limit", pids.limit, int64_t, pf);
    r.pids = pids;
  }
  if (auto* b = member(j, "blockIO")) {
    std::string bf = sub(f, "blockIO");
    expect_object(*b, bf);
    BlockIoResources bio;
    bio.weight = opt_int<uint16_t>(*b, "weight", bf);
    bio.leaf_weight = opt_int<uint16_t>(*b, "leafWeight", bf);
    if (auto* wd = member(*b, "weightDevice"))
      for_each_item(*wd, sub(bf, "weightDevice"), [&](const Json& d, const std::string& df) {
        expect_object(d, df);
        WeightDevice w;
        OPT_INT(d, "major", w.major, int64_t, df);
        OPT_INT(d, "minor", w.minor, int64_t, df);
        w.weight = opt_int<uint16_t>(d, "weight", df);
        w.leaf_weight = opt_int<uint16_t>(d, "leafWeight", df);
        bio.weight_device.push_back(w);
      });
    parse_throttle(*b, "throttleReadBpsDevice", bf, bio.throttle_read_bps);
    parse_throttle(*b, "throttleWriteBpsDevice", bf, bio.throttle_write_bps);
    parse_throttle(*b, "throttleReadIOPSDevice", bf, bio.throttle_read_iops);
    parse_throttle(*b, "throttleWriteIOPSDevice", bf, bio.throttle_write_iops);
    r.block_io = bio;
  }
  if (auto* h = member(j, "hugepageLimits"))
    for_each_item(*h, sub(f, "hugepageLimits"), [&](const Json& d, const std::string& df) {
      expect_object(d, df);
      HugepageLimit l;
      OPT_STR(d, "pageSize", l.page_size, df);
      OPT_INT(d, "limit", l.limit, uint64_t, df);
      r.hugepage_limits.push_back(l);
    });
  if (auto* n = member(j, "network")) {
    std::string nf = sub(f, "network");
    expect_object(*n, nf);
    NetworkResources net;
    net.class_id = opt_int<uint32_t>(*n, "classID", nf);
    if (auto* pr = member(*n, "priorities"))
      for_each_item(*pr, sub(nf, "priorities"), [&](const Json& d, const std::string& df) {
        expect_object(d, df);
        std::string name;
        uint32_t prio = 0;
        OPT_STR(d, "name", name, df);
        OPT_INT(d, "priority", prio, uint32_t, df);
        net.priorities.emplace_back(name, prio);
      });
    r.network = net;
  }
  if (auto* u = member(j, "unified")) r.unified = get_string_map(*u, sub(f, "unified"));
  return r;
}

Seccomp parse_seccomp(const Json& j, const std::string& f) {
  expect_object(j, f);
  Seccomp s;
  auto* da = member(j, "defaultAction");
  if (!da) fail(sub(f, "defaultAction"), "required");
  s.default_action = get_string(*da, sub(f, "defaultAction"));
  s.default_errno_ret = opt_int<uint32_t>(j, "defaultErrnoRet", f);
  OPT_STRS(j, "architectures", s.architectures, f);
  OPT_STRS(j, "flags", s.flags, f);
  OPT_STR(j, "listenerPath", s.listener_path, f);
  OPT_STR(j, "listenerMetadata", s.listener_metadata, f);
  if (auto* sc = member(j, "syscalls"))
    for_each_item(*sc, sub(f, "syscalls"), [&](const Json& d, const std::string& df) {
      expect_object(d, df);
      SeccompSyscall call;
      auto* names = member(d, "names");
      if (!names) fail(sub(df, "names"), "required");
      call.names = get_strings(*names, sub(df, "names"));
      auto* act = member(d, "action");
      if (!act) fail(sub(df, "action"), "required");
      call.action = get_string(*act, sub(df, "action"));
      call.errno_ret = opt_int<uint32_t>(d, "errnoRet", df);
      if (auto* args = member(d, "args"))
        for_each_item(*args, sub(df, "args"), [&](const Json& a, const std::string& af) {
          expect_object(a, af);
          SeccompArg arg;
          OPT_INT(a, "index", arg.index, unsigned, af);
          OPT_INT(a, "value", arg.value, uint64_t, af);
          OPT_INT(a, "valueTwo", arg.value_two, uint64_t, af);
          auto* op = member(a, "op");
          if (!op) fail(sub(af, "op"), "required");
          arg.op = get_string(*op, sub(af, "op"));
          call.args.push_back(arg);
        });
      s.syscalls.push_back(call);
    });
  return s;
}

std::vector<IdMapping> parse_mappings(const Json& j, const std::string& f) {
  std::vector<IdMapping> out;
  for_each_item(j, f, [&](const Json& d, const std::string& df) {
    expect_object(d, df);
    IdMapping m;
    OPT_INT(d, "containerID", m.container_id, uint32_t, df);
    OPT_INT(d, "hostID", m.host_id, uint32_t, df);
    OPT_INT(d, "size", m.size, uint32_t, df);
    out.push_back(m);
  });
  return out;
}

Linux parse_linux(const Json& j, const std::string& f) {
  expect_object(j, f);
  Linux l;
  if (auto* ns = member(j, "namespaces"))
    for_each_item(*ns, sub(f, "namespaces"), [&](const Json& d, const std::string& df) {
      expect_object(d, df);
      Namespace n;
      auto* t = member(d, "type");
      if (!t) fail(sub(df, "type"), "required");
      n.type = get_string(*t, sub(df, "type"));
      OPT_STR(d, "path", n.path, df);
      l.namespaces.push_back(n);
    });
  if (auto* m = member(j, "uidMappings")) l.uid_mappings = parse_mappings(*m, sub(f, "uidMappings"));
  if (auto* m = member(j, "gidMappings")) l.gid_mappings = parse_mappings(*m, sub(f, "gidMappings"));
  if (auto* t = member(j, "timeOffsets")) {
    std::string tf = sub(f, "timeOffsets");
    expect_object(*t, tf);
    for (auto& [k, v] : t->items()) {
      std::string kf = tf + "." + k;
      expect_object(v, kf);
      TimeOffset off;
      OPT_INT(v, "secs", off.secs, int64_t, kf);
      OPT_INT(v, "nanosecs", off.nanosecs, uint32_t, kf);
      l.time_offsets[k] = off;
    }
  }
  if (auto* d = member(j, "devices"))
    for_each_item(*d, sub(f, "devices"), [&](const Json& dv, const std::string& df) {
      expect_object(dv, df);
      Device dev;
      auto* t = member(dv, "type");
      if (!t) fail(sub(df, "type"), "required");
      dev.type = get_string(*t, sub(df, "type"));
      auto* p = member(dv, "path");
      if (!p) fail(sub(df, "path"), "required");
      dev.path = get_string(*p, sub(df, "path"));
      OPT_INT(dv, "major", dev.major, int64_t, df);
      OPT_INT(dv, "minor", dev.minor, int64_t, df);
      dev.file_mode = opt_int<uint32_t>(dv, "fileMode", df);
      dev.uid = opt_int<uint32_t>(dv, "uid", df);
      dev.gid = opt_int<uint32_t>(dv, "gid", df);
      l.devices.push_back(dev);
    });
  OPT_STR(j, "cgroupsPath", l.cgroups_path, f);
  // Refused rather than ignored: a config that asks for them expects them enforced.
  if (member(j, "intelRdt")) fail(sub(f, "intelRdt"), "Intel RDT is not supported by this runtime");
  if (member(j, "netDevices")) fail(sub(f, "netDevices"), "network devices are not supported by this runtime");
  if (member(j, "memoryPolicy")) fail(sub(f, "memoryPolicy"), "memory policy is not supported by this runtime");
  if (auto* r = member(j, "resources")) l.resources = parse_resources_impl(*r, sub(f, "resources"));
  OPT_STR(j, "rootfsPropagation", l.rootfs_propagation, f);
  if (auto* s = member(j, "seccomp")) l.seccomp = parse_seccomp(*s, sub(f, "seccomp"));
  if (auto* s = member(j, "sysctl")) l.sysctl = get_string_map(*s, sub(f, "sysctl"));
  OPT_STRS(j, "maskedPaths", l.masked_paths, f);
  OPT_STRS(j, "readonlyPaths", l.readonly_paths, f);
  OPT_STR(j, "mountLabel", l.mount_label, f);
  if (auto* p = member(j, "personality")) {
    std::string pf = sub(f, "personality");
    expect_object(*p, pf);
    Personality pers;
    OPT_STR(*p, "domain", pers.domain, pf);
    OPT_STRS(*p, "flags", pers.flags, pf);
    l.personality = pers;
  }
  return l;
}

Spec parse_spec_impl(const Json& j) {
  expect_object(j, "config");
  Spec s;
  auto* v = member(j, "ociVersion");
  if (!v) fail("ociVersion", "required");
  s.oci_version = get_string(*v, "ociVersion");
  if (auto* r = member(j, "root")) {
    expect_object(*r, "root");
    OPT_STR(*r, "path", s.root_path, std::string("root"));
    OPT_BOOL(*r, "readonly", s.root_readonly, std::string("root"));
  }
  if (auto* m = member(j, "mounts"))
    for_each_item(*m, "mounts",
                  [&](const Json& d, const std::string& df) { s.mounts.push_back(parse_mount(d, df)); });
  if (auto* p = member(j, "process")) s.process = parse_process_impl(*p, "process");
  OPT_STR(j, "hostname", s.hostname, std::string());
  OPT_STR(j, "domainname", s.domainname, std::string());
  if (auto* h = member(j, "hooks")) {
    expect_object(*h, "hooks");
    s.hooks.prestart = parse_hook_list(*h, "prestart", "hooks");
    s.hooks.create_runtime = parse_hook_list(*h, "createRuntime", "hooks");
    s.hooks.create_container = parse_hook_list(*h, "createContainer", "hooks");
    s.hooks.start_container = parse_hook_list(*h, "startContainer", "hooks");
    s.hooks.poststart = parse_hook_list(*h, "poststart", "hooks");
    s.hooks.poststop = parse_hook_list(*h, "poststop", "hooks");
  }
  if (auto* a = member(j, "annotations")) s.annotations = get_string_map(*a, "annotations");
  if (auto* l = member(j, "linux")) s.linux = parse_linux(*l, "linux");
  return s;
}

template <class F>
auto guarded(F f) -> Result<decltype(f())> {
  try {
    return f();
  } catch (const FieldError& e) {
    return make_error(ErrorCode::kInvalidArgument, e.message);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, e.what());
  }
}

}  // namespace

const Namespace* Linux::find_namespace(const std::string& type) const {
  for (auto& n : namespaces)
    if (n.type == type) return &n;
  return nullptr;
}

Result<Spec> parse_spec(const Json& j) {
  return guarded([&] { return parse_spec_impl(j); });
}

Result<Spec> load_spec_file(const std::string& path) {
  ASSIGN_OR_RETURN(Json j, json::parse_file(path));
  auto spec = parse_spec(j);
  if (!spec) return std::unexpected(spec.error().wrap(path));
  return spec;
}

Result<Process> parse_process(const Json& j) {
  return guarded([&] { return parse_process_impl(j, "process"); });
}

Result<Resources> parse_resources(const Json& j) {
  return guarded([&] { return parse_resources_impl(j, "resources"); });
}

Result<Hook> parse_hook(const Json& j, const std::string& field) {
  return guarded([&] { return parse_hook_impl(j, field); });
}

}  // namespace berth::oci

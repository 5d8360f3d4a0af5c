// docker stats from cgroup files. v1 (and hybrid, whose v2 "unified" hierarchy holds no
// controllers) reads cpuacct/cpu/memory/pids/blkio controller files; v2 reads cpu.stat,
// memory.*, pids.*, io.stat from one directory. Absent files read as zero, as a controller may
// not be mounted, so a sample always has docker's full shape.
#include "engine/stats.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <sstream>
#include <vector>

#include "base/file.h"
#include "base/strings.h"

namespace berth::engine {

namespace {

using Json = json::Json;
using Paths = std::map<std::string, std::string>;

std::optional<std::string> read_opt(const std::string& path) {
  auto r = read_file(path);
  if (!r) return std::nullopt;
  return std::string(trim(*r));
}

uint64_t read_u64(const std::string& path) {
  auto s = read_opt(path);
  if (!s) return 0;
  return parse_uint(*s).value_or(0);
}

// "key value" lines (memory.stat, cpu.stat, cpuacct.stat).
std::map<std::string, uint64_t> read_kv(const std::string& path) {
  std::map<std::string, uint64_t> out;
  auto s = read_opt(path);
  if (!s) return out;
  std::istringstream in(*s);
  std::string k;
  uint64_t v;
  while (in >> k >> v) out[k] = v;
  return out;
}

uint64_t get(const std::map<std::string, uint64_t>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}

std::string rfc3339_nano_now() {
  auto now = std::chrono::system_clock::now();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  std::time_t t = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%09lldZ", static_cast<long long>(ns % 1000000000));
  return buf;
}

uint64_t host_mem_total(const std::string& proc_root) {
  auto s = read_opt(proc_root + "/meminfo");
  if (!s) return 0;
  std::istringstream in(*s);
  std::string line;
  while (std::getline(in, line)) {
    if (!starts_with(line, "MemTotal:")) continue;
    std::istringstream l(line.substr(9));
    uint64_t kb = 0;
    l >> kb;
    return kb * 1024;
  }
  return 0;
}

const std::string* path_of(const Paths& p, const std::string& key) {
  auto it = p.find(key);
  return it == p.end() || it->second.empty() ? nullptr : &it->second;
}

bool dir_exists(const std::string& d) {
  struct stat st {};
  return ::stat(d.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Json zero_cpu() {
  return {{"cpu_usage", {{"total_usage", 0}, {"usage_in_kernelmode", 0}, {"usage_in_usermode", 0}}},
          {"throttling_data", {{"periods", 0}, {"throttled_periods", 0}, {"throttled_time", 0}}}};
}

Json empty_blkio() {
  Json b = Json::object();
  for (const char* k : {"io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
                        "io_service_time_recursive", "io_wait_time_recursive",
                        "io_merged_recursive", "io_time_recursive", "sectors_recursive"})
    b[k] = nullptr;
  return b;
}

// v1 blkio lines: "8:0 Read 4096"; the "Total N" line is skipped, as containerd does.
Json parse_blkio_v1(const std::string& text) {
  Json out = Json::array();
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string dev, op;
    uint64_t value;
    if (!(l >> dev >> op >> value)) continue;
    auto colon = dev.find(':');
    if (colon == std::string::npos) continue;
    auto major = parse_uint(dev.substr(0, colon)), minor = parse_uint(dev.substr(colon + 1));
    if (!major || !minor) continue;
    out.push_back({{"major", *major}, {"minor", *minor}, {"op", op}, {"value", value}});
  }
  return out;
}

Json read_blkio_v1(const std::string& dir, const std::string& file) {
  // The CFQ/BFQ files are empty with other schedulers; the throttle ones always count.
  for (const std::string& f : {"blkio." + file, "blkio.bfq." + file, "blkio.throttle." + file}) {
    auto s = read_opt(dir + "/" + f);
    if (!s || s->empty()) continue;
    Json entries = parse_blkio_v1(*s);
    if (!entries.empty()) return entries;
  }
  return nullptr;
}

// v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0".
void parse_io_stat(const std::string& text, Json* bytes, Json* ios) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string dev, kv;
    if (!(l >> dev)) continue;
    auto colon = dev.find(':');
    if (colon == std::string::npos) continue;
    auto major = parse_uint(dev.substr(0, colon)), minor = parse_uint(dev.substr(colon + 1));
    if (!major || !minor) continue;
    while (l >> kv) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) continue;
      auto v = parse_uint(kv.substr(eq + 1));
      if (!v) continue;
      std::string k = kv.substr(0, eq);
      Json e = {{"major", *major}, {"minor", *minor}, {"value", *v}};
      if (k == "rbytes" || k == "wbytes") {
        e["op"] = k == "rbytes" ? "read" : "write";
        bytes->push_back(e);
      } else if (k == "rios" || k == "wios") {
        e["op"] = k == "rios" ? "read" : "write";
        ios->push_back(e);
      }
    }
  }
}

uint64_t pids_max(const std::string& path) {
  auto s = read_opt(path);
  if (!s || *s == "max") return 0;  // docker reports an unlimited pids.max as 0
  return parse_uint(*s).value_or(0);
}

Result<> stats_v1(const Paths& paths, Json* out) {
  const std::string* mem = path_of(paths, "memory");
  const std::string* acct = path_of(paths, "cpuacct");
  const std::string* probe = mem ? mem : acct;
  if (probe && !dir_exists(*probe))
    return make_error(ErrorCode::kNotFound, "cgroup " + *probe + " not found");

  Json cpu = zero_cpu();
  if (acct) {
    cpu["cpu_usage"]["total_usage"] = read_u64(*acct + "/cpuacct.usage");
    Json percpu = Json::array();
    if (auto s = read_opt(*acct + "/cpuacct.usage_percpu"))
      for (const auto& f : split(*s, ' '))
        if (auto v = parse_uint(f)) percpu.push_back(*v);
    cpu["cpu_usage"]["percpu_usage"] = percpu;
    if (read_opt(*acct + "/cpuacct.usage_user")) {
      cpu["cpu_usage"]["usage_in_usermode"] = read_u64(*acct + "/cpuacct.usage_user");
      cpu["cpu_usage"]["usage_in_kernelmode"] = read_u64(*acct + "/cpuacct.usage_sys");
    } else {  // older kernels: USER_HZ ticks only
      auto st = read_kv(*acct + "/cpuacct.stat");
      uint64_t per_tick = 1000000000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
      cpu["cpu_usage"]["usage_in_usermode"] = get(st, "user") * per_tick;
      cpu["cpu_usage"]["usage_in_kernelmode"] = get(st, "system") * per_tick;
    }
  }
  if (const std::string* c = path_of(paths, "cpu")) {
    auto st = read_kv(*c + "/cpu.stat");
    cpu["throttling_data"] = {{"periods", get(st, "nr_periods")},
                              {"throttled_periods", get(st, "nr_throttled")},
                              {"throttled_time", get(st, "throttled_time")}};
  }
  (*out)["cpu_stats"] = cpu;

  Json memory = Json::object();
  if (mem) {
    memory["usage"] = read_u64(*mem + "/memory.usage_in_bytes");
    memory["max_usage"] = read_u64(*mem + "/memory.max_usage_in_bytes");
    memory["failcnt"] = read_u64(*mem + "/memory.failcnt");
    memory["limit"] = read_u64(*mem + "/memory.limit_in_bytes");
    memory["stats"] = read_kv(*mem + "/memory.stat");
  }
  (*out)["memory_stats"] = memory;

  Json pids = Json::object();
  if (const std::string* p = path_of(paths, "pids")) {
    pids["current"] = read_u64(*p + "/pids.current");
    pids["limit"] = pids_max(*p + "/pids.max");
  }
  (*out)["pids_stats"] = pids;

  Json blkio = empty_blkio();
  if (const std::string* b = path_of(paths, "blkio")) {
    blkio["io_service_bytes_recursive"] = read_blkio_v1(*b, "io_service_bytes_recursive");
    blkio["io_serviced_recursive"] = read_blkio_v1(*b, "io_serviced_recursive");
  }
  (*out)["blkio_stats"] = blkio;
  return {};
}

Result<> stats_v2(const std::string& dir, Json* out) {
  if (!dir_exists(dir)) return make_error(ErrorCode::kNotFound, "cgroup " + dir + " not found");
  Json cpu = zero_cpu();
  auto cs = read_kv(dir + "/cpu.stat");
  cpu["cpu_usage"]["total_usage"] = get(cs, "usage_usec") * 1000;
  cpu["cpu_usage"]["usage_in_usermode"] = get(cs, "user_usec") * 1000;
  cpu["cpu_usage"]["usage_in_kernelmode"] = get(cs, "system_usec") * 1000;
  cpu["throttling_data"] = {{"periods", get(cs, "nr_periods")},
                            {"throttled_periods", get(cs, "nr_throttled")},
                            {"throttled_time", get(cs, "throttled_usec") * 1000}};
  (*out)["cpu_stats"] = cpu;

  Json memory = {{"usage", read_u64(dir + "/memory.current")},
                 {"stats", read_kv(dir + "/memory.stat")}};
  auto max = read_opt(dir + "/memory.max");
  memory["limit"] = max && *max != "max" ? parse_uint(*max).value_or(0) : 0;
  if (read_opt(dir + "/memory.peak")) memory["max_usage"] = read_u64(dir + "/memory.peak");
  (*out)["memory_stats"] = memory;

  (*out)["pids_stats"] = {{"current", read_u64(dir + "/pids.current")},
                          {"limit", pids_max(dir + "/pids.max")}};

  Json blkio = empty_blkio();
  if (auto s = read_opt(dir + "/io.stat")) {
    Json bytes = Json::array(), ios = Json::array();
    parse_io_stat(*s, &bytes, &ios);
    if (!bytes.empty()) blkio["io_service_bytes_recursive"] = bytes;
    if (!ios.empty()) blkio["io_serviced_recursive"] = ios;
  }
  (*out)["blkio_stats"] = blkio;
  return {};
}

}  // namespace

Result<uint64_t> system_cpu_usage_ns(const std::string& proc_root) {
  ASSIGN_OR_RETURN(std::string text, read_file(proc_root + "/stat"));
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string label;
    l >> label;
    if (label != "cpu") continue;
    // user nice system idle iowait irq softirq, as docker sums them (steal and guest excluded).
    uint64_t total = 0, v;
    for (int i = 0; i < 7 && (l >> v); ++i) total += v;
    return total * (1000000000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)));
  }
  return make_error(ErrorCode::kInternal, "no cpu line in " + proc_root + "/stat");
}

json::Json parse_net_dev(const std::string& text) {
  Json out = Json::object();
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;  // the two header lines
    std::string name(trim(std::string_view(line).substr(0, colon)));
    if (name.empty() || name == "lo") continue;
    std::istringstream l(line.substr(colon + 1));
    uint64_t f[16] = {};
    int n = 0;
    while (n < 16 && (l >> f[n])) ++n;
    if (n < 16) continue;
    out[name] = {{"rx_bytes", f[0]},   {"rx_packets", f[1]}, {"rx_errors", f[2]},
                 {"rx_dropped", f[3]}, {"tx_bytes", f[8]},   {"tx_packets", f[9]},
                 {"tx_errors", f[10]}, {"tx_dropped", f[11]}};
  }
  return out;
}

Result<json::Json> read_stats(const Paths& cgroup_paths, pid_t pid, const json::Json& previous,
                              const StatsSources& src) {
  Json out = Json::object();
  out["read"] = rfc3339_nano_now();
  bool have_prev = previous.is_object();
  out["preread"] = have_prev ? previous.value("read", "0001-01-01T00:00:00Z")
                             : std::string("0001-01-01T00:00:00Z");
  out["precpu_stats"] =
      have_prev && previous.contains("cpu_stats") ? previous["cpu_stats"] : zero_cpu();
  out["num_procs"] = 0;
  out["storage_stats"] = Json::object();

  // v1 controllers present (v1 or hybrid) win; otherwise the single v2 directory.
  bool v1 = false;
  for (const auto& [k, v] : cgroup_paths) v1 = v1 || (!k.empty() && k != "unified");
  if (v1) {
    TRY(stats_v1(cgroup_paths, &out));
  } else {
    const std::string* dir = path_of(cgroup_paths, "");
    if (!dir) dir = path_of(cgroup_paths, "unified");
    if (!dir) return make_error(ErrorCode::kInvalidArgument, "stats: no cgroup paths");
    TRY(stats_v2(*dir, &out));
  }

  ASSIGN_OR_RETURN(uint64_t system, system_cpu_usage_ns(src.proc_root));
  out["cpu_stats"]["system_cpu_usage"] = system;
  int cpus = src.online_cpus ? *src.online_cpus : static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  out["cpu_stats"]["online_cpus"] = cpus;

  // Unlimited memory shows as the host's, as docker does.
  uint64_t mem_total = host_mem_total(src.proc_root);
  auto& mem = out["memory_stats"];
  if (mem.contains("usage")) {
    uint64_t limit = mem.value("limit", uint64_t{0});
    if (mem_total && (limit == 0 || limit > mem_total)) mem["limit"] = mem_total;
  }

  if (pid > 0) {
    if (auto text = read_file(src.proc_root + "/" + std::to_string(pid) + "/net/dev")) {
      Json nets = parse_net_dev(*text);
      if (!nets.empty()) out["networks"] = nets;
    }
  }
  return out;
}

}  // namespace berth::engine

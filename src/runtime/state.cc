// State persistence and liveness checks.
#include "runtime/state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "base/file.h"
#include "base/strings.h"

namespace berth::runtime {

const char* status_name(Status s) {
  switch (s) {
    case Status::kCreating: return "creating";
    case Status::kCreated: return "created";
    case Status::kRunning: return "running";
    case Status::kPaused: return "paused";
    case Status::kStopped: return "stopped";
  }
  return "unknown";
}

std::string state_dir(const std::string& root, const std::string& id) { return root + "/" + id; }
std::string exec_fifo_path(const std::string& root, const std::string& id) {
  return root + "/" + id + "/exec.fifo";
}

Result<> validate_container_id(const std::string& id) {
  if (id.empty()) return make_error(ErrorCode::kInvalidArgument, "invalid container ID format: empty");
  if (id == "." || id == "..")
    return make_error(ErrorCode::kInvalidArgument, "invalid container ID format: \"" + id + "\"");
  if (id.size() > 1024)
    return make_error(ErrorCode::kInvalidArgument, "invalid container id: longer than 1024 bytes");
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '.';
    if (!ok)
      return make_error(ErrorCode::kInvalidArgument, "invalid container ID format: \"" + id +
                                                         "\" (only [a-zA-Z0-9_+.-] are allowed)");
  }
  return {};
}

Result<> save_state(const std::string& root, const ContainerState& s) {
  json::Json j = {{"id", s.id},
                  {"init_process_pid", s.init_pid},
                  {"init_process_start", s.init_start_time},
                  {"bundle", s.bundle},
                  {"rootfs", s.rootfs},
                  {"created", s.created},
                  {"owner", s.owner},
                  {"annotations", s.annotations},
                  {"cgroups_path", s.cgroups_path},
                  {"cgroup_paths", s.cgroup_paths},
                  {"systemd_cgroup", s.systemd_cgroup},
                  {"config", s.config}};
  // /run is tmpfs: atomic rename is enough, an fsync would only cost time.
  return write_file_atomic(state_dir(root, s.id) + "/state.json", json::dump(j), 0600, false);
}

Result<ContainerState> load_state(const std::string& root, const std::string& id) {
  TRY(validate_container_id(id));
  auto text = read_file(state_dir(root, id) + "/state.json");
  if (!text) {
    if (text.error().sys_errno() == ENOENT)
      return make_error(ErrorCode::kNotFound, "container does not exist: " + id);
    return std::unexpected(text.error());
  }
  ASSIGN_OR_RETURN(json::Json j, json::parse(*text, "state of container " + id));
  ContainerState s;
  try {
    s.id = j.at("id").get<std::string>();
    s.init_pid = j.at("init_process_pid").get<pid_t>();
    s.init_start_time = j.at("init_process_start").get<uint64_t>();
    s.bundle = j.at("bundle").get<std::string>();
    s.rootfs = j.at("rootfs").get<std::string>();
    s.created = j.at("created").get<std::string>();
    s.owner = j.value("owner", "");
    s.annotations = j.value("annotations", std::map<std::string, std::string>{});
    s.cgroups_path = j.value("cgroups_path", "");
    s.cgroup_paths = j.value("cgroup_paths", std::map<std::string, std::string>{});
    s.systemd_cgroup = j.value("systemd_cgroup", false);
    s.config = j.value("config", json::Json::object());
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, "state of container " + id + " is corrupt: " + e.what());
  }
  return s;
}

uint64_t process_start_time(pid_t pid) {
  if (pid <= 0) return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  // The command name may hold spaces and ')': fields start after the last ')'.
  char* p = strrchr(buf, ')');
  if (!p) return 0;
  p += 2;  // ") "
  if (*p == 'Z' || *p == 'X') return 0;
  // p points at field 3 (state); start time is field 22.
  int field = 3;
  while (*p && field < 22) {
    if (*p == ' ') ++field;
    ++p;
  }
  return strtoull(p, nullptr, 10);
}

bool init_alive(const ContainerState& s) {
  uint64_t st = process_start_time(s.init_pid);
  return st != 0 && st == s.init_start_time;
}

json::Json spec_state_json(const ContainerState& s, Status status) {
  json::Json j = {{"ociVersion", "1.2.0"},
                  {"id", s.id},
                  {"status", status_name(status)},
                  {"pid", (status == Status::kStopped) ? 0 : s.init_pid},
                  {"bundle", s.bundle}};
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j;
}

}  // namespace berth::runtime

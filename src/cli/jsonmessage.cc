// Port of moby's pkg/jsonmessage DisplayJSONMessagesStream: messages with an id and progress
// share a line per id on a terminal (cursor up/down), everything else is a plain line.
#include "cli/jsonmessage.h"

#include <unistd.h>

#include <chrono>
#include <map>

#include <fmt/format.h>

#include "cli/cli.h"
#include "cli/stream.h"
#include "cli/units.h"

namespace berth::cli {

namespace {

std::string progress_string(const Value& p, int width) {
  const int64_t current = p.value("current", int64_t{0});
  const int64_t total = p.value("total", int64_t{0});
  const std::string units = p.value("units", "");
  if (current <= 0 && total <= 0) return "";
  if (total <= 0) {
    if (units.empty() || units == "bytes")
      return fmt::format("{:>8}", human_size(static_cast<double>(current)));
    return fmt::format("{} {}", current, units);
  }
  double pct = static_cast<double>(current) / static_cast<double>(total) * 100;
  if (pct > 100) pct = 100;
  std::string bar;
  if (width > 110) {
    const int numbars = static_cast<int>(pct / 2);
    bar = fmt::format("[{}>{}] ", std::string(static_cast<size_t>(std::max(numbars - 1, 0)), '='),
                      std::string(static_cast<size_t>(50 - numbars), ' '));
    if (numbars == 0) bar = fmt::format("[>{}] ", std::string(49, ' '));
  }
  std::string numbers;
  if (units.empty() || units == "bytes") {
    numbers = fmt::format("{:>8}/{}", human_size(static_cast<double>(current)),
                          human_size(static_cast<double>(total)));
  } else {
    numbers = fmt::format("{}/{} {}", current, total, units);
  }
  return bar + numbers;
}

}  // namespace

std::string render_json_message(const Value& m, bool is_tty, int width) {
  std::string out;
  const bool has_progress = m.contains("progressDetail") && m["progressDetail"].is_object() &&
                            !m["progressDetail"].empty();
  const std::string stream = m.value("stream", "");
  std::string endl;
  if (is_tty && stream.empty() && has_progress) {
    out += "\033[2K\r";
    endl = "\r";
  } else if (has_progress && !progress_string(m["progressDetail"], width).empty()) {
    return "";  // progress bars only on a terminal
  }
  if (m.contains("id") && m["id"].is_string() && !m["id"].get<std::string>().empty())
    out += m["id"].get<std::string>() + ": ";
  if (m.contains("from") && m["from"].is_string() && !m["from"].get<std::string>().empty())
    out += "(from " + m["from"].get<std::string>() + ") ";
  const std::string status = m.value("status", "");
  const std::string progress_msg = m.value("progress", "");
  if (has_progress && is_tty) {
    out += status + " " + progress_string(m["progressDetail"], width) + endl;
  } else if (!progress_msg.empty()) {
    out += status + " " + progress_msg + endl;
  } else if (!stream.empty()) {
    out += stream + endl;
  } else {
    out += status + endl + "\n";
  }
  return out;
}

Result<void> display_json_messages(http::BodyStream& body, int fd, bool is_tty,
                                   const std::function<void(const Value&)>& aux, bool show_speed) {
  using Clock = std::chrono::steady_clock;
  struct Transfer {
    Clock::time_point start;
    int64_t bytes = 0;
  };
  std::map<std::string, Transfer> transfers;
  auto rate = [](int64_t bytes, double secs) {
    // One progress event only (a small blob): no meaningful rate.
    return secs < 0.001 ? std::string("-") : human_size(static_cast<double>(bytes) / secs) + "/s";
  };
  std::string buf;
  std::map<std::string, size_t> ids;
  int width = 80;
  if (is_tty && fd >= 0) {
    if (auto sz = terminal_size(fd)) width = sz->second;
  }
  auto handle = [&](const Value& m) -> Result<void> {
    if (m.contains("errorDetail") || m.contains("error")) {
      std::string msg;
      if (m.contains("errorDetail") && m["errorDetail"].is_object())
        msg = m["errorDetail"].value("message", "");
      if (msg.empty()) msg = m.value("error", "");
      return make_error(ErrorCode::kInternal, msg);
    }
    if (m.contains("aux")) {
      if (aux) aux(m["aux"]);
      return {};
    }
    if (fd < 0) return {};
    const std::string id = m.value("id", "");
    const bool progress = (m.contains("progressDetail") && m["progressDetail"].is_object() &&
                           !m["progressDetail"].empty()) ||
                          !m.value("progress", "").empty();
    size_t diff = 0;
    std::string text;
    if (!id.empty() && progress) {
      auto it = ids.find(id);
      size_t line;
      if (it == ids.end()) {
        line = ids.size();
        ids[id] = line;
        if (is_tty) text += "\n";
      } else {
        line = it->second;
      }
      diff = ids.size() - line;
      if (is_tty && diff > 0) text += fmt::format("\033[{}A", diff);
    } else {
      ids.clear();
    }
    std::string line = render_json_message(m, is_tty, width);
    if (show_speed && !id.empty()) {
      const std::string status = m.value("status", "");
      auto now = Clock::now();
      if (progress && (status == "Downloading" || status == "Pushing")) {
        auto [it, fresh] = transfers.try_emplace(id, Transfer{now, 0});
        it->second.bytes = m["progressDetail"].value("current", int64_t{0});
        double secs = std::chrono::duration<double>(now - it->second.start).count();
        if (is_tty && !line.empty() && line.back() == '\r')
          line.insert(line.size() - 1, "  " + rate(it->second.bytes, secs));
      } else if ((status == "Download complete" || status == "Pushed") && !is_tty &&
                 transfers.count(id) && !line.empty() && line.back() == '\n') {
        const Transfer& t = transfers[id];
        double secs = std::chrono::duration<double>(now - t.start).count();
        line.insert(line.size() - 1,
                    fmt::format(" ({} in {:.2f}s, {})", human_size(static_cast<double>(t.bytes)),
                                secs, rate(t.bytes, secs)));
      }
    }
    text += line;
    if (!id.empty() && is_tty && diff > 0) text += fmt::format("\033[{}B", diff);
    return write_all(fd, text);
  };
  while (true) {
    ASSIGN_OR_RETURN(std::string chunk, body.read_some());
    if (chunk.empty()) break;
    buf += chunk;
    size_t nl;
    while ((nl = buf.find_first_of("\n")) != std::string::npos) {
      const std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
      ASSIGN_OR_RETURN(Value m, parse_json(line, "progress message"));
      TRY(handle(m));
    }
  }
  // Some servers do not end the last message with a newline.
  if (buf.find_first_not_of(" \r\n\t") != std::string::npos) {
    // Several concatenated objects are possible: parse one by one.
    ASSIGN_OR_RETURN(Value m, parse_json(buf, "progress message"));
    TRY(handle(m));
  }
  return {};
}

}  // namespace berth::cli

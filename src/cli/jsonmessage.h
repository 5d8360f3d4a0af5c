// docker's jsonmessage display for long operations (pull, load, import, push): one status line
// per message, or on a terminal one updating line per layer id with a progress bar. An
// error message in the stream (after HTTP 200) becomes the returned Error.
#pragma once

#include <functional>
#include <string>

#include "base/error.h"
#include "cli/template.h"
#include "http/client.h"

namespace berth::cli {

// fd < 0: consume quietly (errors still returned). aux (when set) receives "aux" payloads.
// show_speed (berth pull/push): each layer's transfer rate next to its bar on a terminal, and
// its size, time and rate on its "Download complete"/"Pushed" line otherwise.
Result<void> display_json_messages(http::BodyStream& body, int fd, bool is_tty,
                                   const std::function<void(const Value&)>& aux = {},
                                   bool show_speed = false);

// Renders one message as display() would (exposed for tests); tty selects progress bars.
std::string render_json_message(const Value& m, bool is_tty, int width = 80);

}  // namespace berth::cli

// Terminals: the container's pty is created inside the container (from its own devpts) and the
// master is handed to the caller over --console-socket with SCM_RIGHTS, as runc does.
#pragma once

#include <string>

#include "base/error.h"
#include "base/unique_fd.h"
#include "oci/spec.h"

namespace berth::runtime {

Result<UniqueFd> connect_console_socket(const std::string& path);
Result<> send_fd(int sock, int fd, const std::string& name);
Result<UniqueFd> recv_fd(int sock);

// Child side, after pivot_root: opens /dev/ptmx, sends the master over console_sock (or, with
// console_sock < 0, keeps it and returns it for the runtime to proxy), makes the slave the
// controlling terminal and stdio, and binds it over /dev/console when mount_console is set.
Result<UniqueFd> setup_console(int console_sock, const oci::Process& process, bool mount_console);

// Copies between our stdio and a pty master until the master hangs up (foreground -t).
void proxy_terminal(int master);

}  // namespace berth::runtime

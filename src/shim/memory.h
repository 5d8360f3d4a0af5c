// Keeping the shim's resident set small. One shim runs per container, so its RSS is multiplied
// by the number of containers; most of it is program text touched once while creating the
// container (runtime library, libc, libstdc++) that the steady-state loop never runs again.
#pragma once

namespace berth::shim {

// Drops this process's page-table entries for clean, never-written file-backed mappings
// (program and library text, read-only data without copy-on-write pages). Nothing is lost: the
// pages stay in the page cache and fault back in on use. Returns the number of KiB released.
long release_unused_text();

}  // namespace berth::shim

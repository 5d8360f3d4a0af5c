#!/usr/bin/env bash
# Quick start, step 2: builds (release preset) and runs the whole test suite with ctest:
# unit tests, integration tests (real containers, as root) and interop tests (podman, dockerd).
# Extra arguments go to ctest (e.g. -L unit, -R lifecycle).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release
ctest --test-dir build/release --output-on-failure -j2 "$@"

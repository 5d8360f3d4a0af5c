#!/usr/bin/env bash
# Runs the berth-runtime vs runc vs crun benchmark (see README.md). Root required.
# Usage: bench/runtime/run.sh [--runs N] [--runtimes berth,runc,crun] [--berth PATH] [--json F]
set -euo pipefail
exec python3 "$(dirname "$(readlink -f "$0")")/bench.py" "$@"

#!/usr/bin/env bash
# Builds weir and runs the per-core benchmark of the packet path. Prints a Markdown table.
#   bench/run.sh [--packets N] [--runs R]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh build
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
exec ./build/bench/bench_pipeline "$@"

#!/usr/bin/env bash
# Configures and builds weir in a build directory (default: build).
#   scripts/build.sh [BUILD_DIR] [extra meson setup options...]
# Installs the Debian build dependencies first if any is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
bash scripts/deps.sh
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" -Dwerror=true "$@" >"$dir.setup.log" 2>&1 || {
		cat "$dir.setup.log" >&2
		exit 1
	}
	rm -f "$dir.setup.log"
fi
ninja -C "$dir" >/dev/null || ninja -C "$dir"

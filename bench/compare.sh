#!/usr/bin/env bash
# weir beside the flow probes Debian packages (softflowd, nfpcapd, pmacctd, argus) on the same
# pcap files: builds weir (scripts/build.sh installs the peers with the test packages of
# scripts/deps.sh where missing), then runs bench/compare.py with the arguments given.
#   bench/compare.sh [--packets N] [--runs R] [--quick] [--out DIR] [--only TOOL,...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh build
exec python3 bench/compare.py "$@"

#!/usr/bin/env bash
# Installs the Debian 12 packages weir needs to build, run its quick start and run its tests
# (and, with --bench, to reproduce its benchmarks).
# Idempotent: packages already present are not fetched again. Needs root (or sudo).
set -euo pipefail

# build: compiler, meson/ninja, the capture and publishing libraries
build_pkgs=(build-essential meson ninja-build pkg-config clang-format
	libpcap-dev libtrace3-dev libhiredis-dev libyaml-dev libmicrohttpd-dev dpdk-dev)
# run and test: the real IPFIX collectors and decoders the tests start, and the tools the
# scripts call (tcpdump for the benchmark's reference, iproute2 for ss and network namespaces,
# libtrace-tools for the traceconvert the libtrace driver's tests use; pmacct (nfacctd) and
# tshark, two more independent IPFIX decoders for the conformance tests; redis-server, which
# the Redis publisher's tests start on their own loopback ports, and python3-jsonschema, which
# checks every alert message against docs/alert.schema.json; systemd and systemd-container,
# whose systemd-nspawn boots a throwaway machine to run the installed unit under systemd;
# zzuf, which mutates the capture corpus for the mutation test and bench/mutate.sh;
# valgrind, whose memcheck runs weir on the pcap path in the optimised build; softflowd and
# argus (argus-server, argus-client), peer flow probes that bench/compare.py runs beside weir
# with nfdump's nfpcapd and pmacct's pmacctd, and GNU time, which reports their peak RSS)
test_pkgs=(nfdump libfixbuf-tools tcpdump tcpreplay python3 iproute2 libtrace-tools
	pmacct tshark redis-server python3-jsonschema systemd systemd-container zzuf valgrind
	softflowd argus-server argus-client time)

# bench (--bench, for bench/reproduce.sh): gnuplot for the plots of docs/BENCHMARKS.md and
# linux-perf for the per-packet profile where the machine has hardware counters
bench_pkgs=(gnuplot-nox linux-perf)

want=("${build_pkgs[@]}")
[ "${1:-}" = "--build-only" ] || want+=("${test_pkgs[@]}")
[ "${1:-}" = "--bench" ] && want+=("${bench_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "weir: installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

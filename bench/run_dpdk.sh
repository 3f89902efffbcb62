#!/usr/bin/env bash
# weir's DPDK path against the bare DPDK receive loop, in one run so the ratios hold.
#
# Both read DPDK's net_pcap device with infinite_rx=1: the PMD loads a pcap of 64-byte frames
# (100k flows, Zipf) into memory once and replays it for ever, copying each packet into a
# fresh mbuf, so the NIC side costs the same for both. The bare loop only frees the mbufs;
# weir runs its whole pipeline (parse, flow cache, expiry, IPFIX export to a file) for the same
# time with 1 worker (one core), with 1 worker and a reader thread (--rx-thread, two cores) and
# with 2 workers; its rate is packets read / time. The device is live, so what weir cannot
# take in time the PMD never delivers: packets read is the rate weir sustains.
# Usage: bench/run_dpdk.sh [--seconds S] [--runs R]   (defaults 5 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=5
runs=3
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	*) echo "usage: bench/run_dpdk.sh [--seconds S] [--runs R]" >&2; exit 2 ;;
	esac
done
bash scripts/build.sh build
tmp=$(mktemp -d /tmp/weir-bench-dpdk.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
packets=200000 # held in memory by the PMD: one mbuf each
./build/bench/bench_pipeline --write-pcap "$tmp/a.pcap" --packets "$packets" --flows 100000 >/dev/null
dev="net_pcap0,rx_pcap=$tmp/a.pcap,infinite_rx=1"
mbufs=$((packets + 50000))
eal=(--no-huge --no-shconf --no-pci -l 0 -m 2048 --log-level=lib.eal:error)

bare() {
	./build/bench/bench_dpdk_rx --dev "$dev" --seconds "$seconds" --mbufs "$mbufs" -- "${eal[@]}" 2>/dev/null |
		awk '/^packets/ { print $6 }'
}
weir() { # $1 = workers, then more options
	local w=$1
	shift
	./build/probe/weir --allow-root -q -i "dpdk:$dev" --workers "$w" "$@" --mbufs "$mbufs" --duration "$seconds" \
		-o "ipfix:file:$tmp/a.ipfix" --summary-json "$tmp/s.json" -- "${eal[@]}" 2>/dev/null
	python3 -c 'import json, sys; s = json.load(open(sys.argv[1]))
print("%.3f" % (s["packets_read"] / s["elapsed_s"] / 1e6))' "$tmp/s.json"
}
median() { sort -n | sed -n "$(((runs + 1) / 2))p"; }

declare -A rate
for name in bare w1 r1 w2; do rate[$name]=""; done
# Interleaved, so that a slow spell of the shared machine hits every row alike.
for _ in $(seq "$runs"); do
	rate[bare]+="$(bare) "
	rate[w1]+="$(weir 1) "
	rate[r1]+="$(weir 1 --rx-thread) "
	rate[w2]+="$(weir 2) "
done
b=$(echo "${rate[bare]}" | tr ' ' '\n' | grep . | median)
w1=$(echo "${rate[w1]}" | tr ' ' '\n' | grep . | median)
w2=$(echo "${rate[w2]}" | tr ' ' '\n' | grep . | median)
r1=$(echo "${rate[r1]}" | tr ' ' '\n' | grep . | median)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "DPDK net_pcap infinite_rx, 64-byte frames, 100k flows (Zipf), $seconds s per run, median of $runs:"
echo
echo "| receiver | Mpps | vs bare RX loop |"
echo "|---|---|---|"
awk -v b="$b" -v w1="$w1" -v w2="$w2" -v r1="$r1" 'BEGIN {
	printf "| bare DPDK RX loop (rx_burst + free) | %.2f | 1.00x |\n", b
	printf "| weir, 1 worker (full pipeline, one core) | %.2f | %.2fx |\n", w1, w1 / b
	printf "| weir, 1 worker + --rx-thread (two cores) | %.2f | %.2fx |\n", r1, r1 / b
	printf "| weir, 2 workers (software steering) | %.2f | %.2fx |\n", w2, w2 / b
}'

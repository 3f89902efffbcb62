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
# Two more rows bound any design that receives on one core and keeps the flows on another:
# bench_dpdk_rx --handoff hands each packet to a second lcore as a 16-byte descriptor and frees
# the mbuf when that lcore is done, with the second lcore idle (nothing but the hand-off) and
# then parsing and keeping a flow cache; their rate is packets delivered to it / time.
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
eal=(--no-huge --no-shconf --no-pci -m 2048 --log-level=lib.eal:error)

bare() { # $1 = hand-off mode (none: the bare loop; else delivered packets on two lcores)
	local lcores=0
	[ "$1" = none ] || lcores=0,1
	./build/bench/bench_dpdk_rx --dev "$dev" --seconds "$seconds" --mbufs "$mbufs" --handoff "$1" \
		-- "${eal[@]}" -l "$lcores" 2>/dev/null |
		awk '/^packets/ { print (NF > 6 ? $8 : $6) }'
}
weir() { # $1 = workers, then more options
	local w=$1
	shift
	./build/probe/weir --allow-root -q -i "dpdk:$dev" --workers "$w" "$@" --mbufs "$mbufs" --duration "$seconds" \
		-o "ipfix:file:$tmp/a.ipfix" --summary-json "$tmp/s.json" -- "${eal[@]}" -l 0 2>/dev/null
	python3 -c 'import json, sys; s = json.load(open(sys.argv[1]))
print("%.3f" % (s["packets_read"] / s["elapsed_s"] / 1e6))' "$tmp/s.json"
}

declare -A rate med
# Interleaved, so that a slow spell of the shared machine hits every row alike.
for _ in $(seq "$runs"); do
	rate[bare]+="$(bare none) "
	rate[idle]+="$(bare idle) "
	rate[flows]+="$(bare flows) "
	rate[w1]+="$(weir 1) "
	rate[r1]+="$(weir 1 --rx-thread) "
	rate[w2]+="$(weir 2) "
done
for name in "${!rate[@]}"; do
	med[$name]=$(echo "${rate[$name]}" | tr ' ' '\n' | grep . | sort -n | sed -n "$(((runs + 1) / 2))p")
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "DPDK net_pcap infinite_rx, 64-byte frames, 100k flows (Zipf), $seconds s per run, median of $runs:"
echo
echo "| receiver | Mpps | vs bare RX loop |"
echo "|---|---|---|"
awk -v b="${med[bare]}" -v idle="${med[idle]}" -v flows="${med[flows]}" -v w1="${med[w1]}" \
	-v w2="${med[w2]}" -v r1="${med[r1]}" 'BEGIN {
	printf "| bare DPDK RX loop (rx_burst + free) | %.2f | 1.00x |\n", b
	printf "| bare loop handing 16-byte descriptors to an idle second lcore (two cores) | %.2f | %.2fx |\n", idle, idle / b
	printf "| ... and the second lcore parses and keeps a flow cache (two cores) | %.2f | %.2fx |\n", flows, flows / b
	printf "| weir, 1 worker (full pipeline, one core) | %.2f | %.2fx |\n", w1, w1 / b
	printf "| weir, 1 worker + --rx-thread (two cores) | %.2f | %.2fx |\n", r1, r1 / b
	printf "| weir, 2 workers (software steering) | %.2f | %.2fx |\n", w2, w2 / b
}'

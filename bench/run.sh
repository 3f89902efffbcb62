#!/usr/bin/env bash
# Builds weir and measures its packet path on this machine, in one run so the ratios hold:
#  1. bench_pipeline: parse, parse + flow cache (10k/100k/1M flows, uniform and Zipf), and
#     weir's file reader against a bare libpcap read loop (ns/packet, Mpps, ratios);
#  2. the whole weir program (read, parse, flow cache, IPFIX file export) on a 64-byte Zipf
#     trace with 100k flows, against a bare libpcap loop counting the same file and against
#     tcpdump copying it to /dev/null.
#  3. the 10M-flow table (40M packets, one run: about 12 GB of memory and ten minutes),
#     unless --skip-10m.
# Usage: bench/run.sh [--packets N] [--runs R] [--skip-10m]   (defaults 4000000 and 5)
set -euo pipefail
cd "$(dirname "$0")/.."
packets=4000000
runs=5
big=1
while [ $# -gt 0 ]; do
	case "$1" in
	--packets) packets=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--skip-10m) big=0; shift ;;
	*) echo "usage: bench/run.sh [--packets N] [--runs R] [--skip-10m]" >&2; exit 2 ;;
	esac
done
bash scripts/build.sh build
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
./build/bench/bench_pipeline --packets "$packets" --runs "$runs"

tmp=$(mktemp -d /tmp/weir-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
./build/bench/bench_pipeline --write-pcap "$tmp/a.pcap" --packets "$packets" --flows 100000
cat "$tmp/a.pcap" >/dev/null # warm the page cache

# Median wall time of a command over $runs runs, in seconds (bash's microsecond clock).
median() {
	local t=() s
	for _ in $(seq "$runs"); do
		s=$EPOCHREALTIME
		"$@" >/dev/null 2>&1
		t+=("$(awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f", b - a }')")
	done
	printf '%s\n' "${t[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}
# Interleave nothing else: the three programs run back to back on the same warm file.
bare_s=$(median ./build/bench/bench_pipeline --count-pcap "$tmp/a.pcap")
weir_s=$(median ./build/probe/weir --allow-root -q -i "pcap:$tmp/a.pcap" -o "ipfix:file:$tmp/a.ipfix")
tcpdump_s=$(median tcpdump -nn -q -r "$tmp/a.pcap" -w /dev/null)
echo
echo "whole program on a pcap file ($packets packets of 64 bytes, 100k flows, Zipf), median of $runs:"
echo
echo "| program | seconds | Mpps | vs bare libpcap loop |"
echo "|---|---|---|---|"
awk -v p="$packets" -v b="$bare_s" -v w="$weir_s" -v t="$tcpdump_s" 'BEGIN {
	printf "| bare libpcap loop, count only (read bound) | %.3f | %.2f | 1.00x |\n", b, p / b / 1e6
	printf "| tcpdump -r FILE -w /dev/null | %.3f | %.2f | %.2fx |\n", t, p / t / 1e6, b / t
	printf "| weir -i pcap:FILE -o ipfix:file:... (full pipeline) | %.3f | %.2f | %.2fx |\n", w, p / w / 1e6, b / w
}'

if [ "$big" = 1 ]; then
	echo
	echo "10M concurrent flows (40M packets, one run):"
	echo
	./build/bench/bench_pipeline --only-flows 10000000 --packets 40000000 --runs 1
fi

#!/usr/bin/env bash
# What in-line counting costs the whole program: weir reading a pcap file of 64-byte frames
# (100k flows, uniform; 1000 destination /24s; 1024 destination ports: bench_detect's part 1
# packets, at 10 Mpps of packet time) to an IPFIX file, one worker, with counting off
# (--watch none), the link only (the default), and the families bench_detect measures on the
# packet path alone. The variants run interleaved in a rotating order; a variant's cost is
# the median over rounds of its time against --watch none's in the same round.
# Usage: bench/count_cost.sh [--packets N] [--rounds R] [--tcp PCT]
#        (defaults 8000000, 7 and 80: the share of flows that are TCP, the rest UDP)
set -euo pipefail
cd "$(dirname "$0")/.."
packets=8000000
rounds=7
tcp=80
while [ $# -gt 0 ]; do
	case "$1" in
	--packets) packets=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--tcp) tcp=$2; shift 2 ;;
	*) echo "usage: bench/count_cost.sh [--packets N] [--rounds R] [--tcp PCT]" >&2; exit 2 ;;
	esac
done
packets=$((packets - packets % 32)) # bench_detect writes whole bursts of 32
bash scripts/build.sh build
tmp=$(mktemp -d /tmp/weir-count-cost.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
./build/bench/bench_detect --write-trace "$tmp" --packets "$packets" --tcp "$tcp"
pfx="prefixes:$tmp/prefixes.txt"
names=("counting off (--watch none)" "link (the default)" "link, proto, dport"
	"link, 1000 prefixes" "link, proto, dport, 1000 prefixes")
watch=("--watch none" "" "--watch proto --watch dport" "--watch $pfx"
	"--watch proto --watch dport --watch $pfx")
for r in $(seq "$rounds"); do
	for k in "${!watch[@]}"; do
		v=$(((k + r) % ${#watch[@]}))
		# shellcheck disable=SC2086 # the watch options are words
		./build/probe/weir --allow-root -q --workers 1 --bin-ms 100 -i "pcap:$tmp/trace.pcap" \
			-o "ipfix:file:$tmp/out.ipfix" --summary-json "$tmp/s.json" ${watch[$v]}
		python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
assert s["packets_read"] == int(sys.argv[2]), "read %d packets" % s["packets_read"]
print(sys.argv[3], sys.argv[4], s["elapsed_s"])' "$tmp/s.json" "$packets" "$r" "$v" >>"$tmp/times"
	done
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "weir -i pcap:FILE -o ipfix:file:..., one worker, $packets 64-byte packets ($tcp % of flows TCP,"
echo "the rest UDP), 100 ms bins;"
echo "median of $rounds interleaved rounds:"
echo
python3 - "$tmp/times" "$packets" "${names[@]}" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
packets, names = int(sys.argv[2]), sys.argv[3:]
t = {}
for r, v, s in rows:
    t.setdefault(int(v), {})[int(r)] = float(s)
print("| counting | s (median) | ns/packet | cost vs counting off (range over rounds) | ns/packet added |")
print("|---|---|---|---|---|")
base = statistics.median(t[0].values())
for v, name in enumerate(names):
    ratios = sorted(t[v][r] / t[0][r] for r in t[0])
    med = statistics.median(t[v].values())
    added = "" if v == 0 else "%+.1f" % ((med - base) / packets * 1e9)
    print("| %s | %.3f | %.1f | %.3fx (%.3f..%.3f) | %s |" % (
        name, med, med / packets * 1e9, statistics.median(ratios), ratios[0], ratios[-1], added))
EOF

#!/usr/bin/env bash
# weir's main job on a built-in default, end to end:
#   a generated capture -> weir (parse, flow cache, IPFIX over UDP) -> a real nfcapd collector
#   on loopback -> nfdump's view of what arrived (top flows and totals).
# Installs and builds what it needs. Usage: scripts/demo.sh [PCAP_FILE]
# (without an argument it generates a two-minute trace with 600 flows).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh build

work=$(mktemp -d /tmp/weir-demo.XXXXXX)
collector_pid=""
cleanup() {
	[ -n "$collector_pid" ] && kill "$collector_pid" 2>/dev/null && wait "$collector_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

pcap=${1:-}
if [ -z "$pcap" ]; then
	pcap=$work/demo.pcap
	python3 scripts/gentrace.py "$pcap" --flows 600 --seed 1
	echo "== generated $pcap (600 flows over 120 s of packet time)"
fi

# A free UDP port on loopback for the collector.
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/flows"
nfcapd -b 127.0.0.1 -p "$port" -w "$work/flows" -B 8388608 -t 3600 >"$work/nfcapd.log" 2>&1 &
collector_pid=$!
for _ in $(seq 50); do
	ss -uln 2>/dev/null | grep -q "127.0.0.1:$port " && break
	sleep 0.1
done
echo "== nfcapd listening on 127.0.0.1:$port"

echo "== weir -i pcap:$pcap -o ipfix:udp://127.0.0.1:$port"
./build/probe/weir -i "pcap:$pcap" -o "ipfix:udp://127.0.0.1:$port" --udp-rate 5000

# nfcapd writes its file when it stops.
kill -TERM "$collector_pid"
wait "$collector_pid" 2>/dev/null || true
collector_pid=""

echo
echo "== what the collector received (nfdump)"
echo "   top 10 flow records by bytes:"
nfdump -R "$work/flows" -o "fmt:%ts %td %pr %sap -> %dap %pkt %byt" -O bytes -n 10 \
	| grep -v -E '^(Summary|Time window|Total flows|Processed|Sys:)' | sed '/^$/d; s/^/   /' \
	| head -n 11
echo
echo "   bytes by protocol:"
nfdump -R "$work/flows" -s proto/bytes -n 5 | sed -n '2,8p' | sed '/^$/d; s/^/   /'
echo
nfdump -R "$work/flows" -I | grep -E '^(Flows|Packets|Bytes):' | sed 's/^/   collector total /'

#!/usr/bin/env bash
# weir's main job on a built-in default, end to end:
#   a generated capture -> weir (parse, flow cache, IPFIX over UDP; per-second rate counting
#   and drop/surge checks) -> a real nfcapd collector and a real redis-server on loopback ->
#   nfdump's view of the flows that arrived, and the alerts in the Redis stream.
# Installs and builds what it needs. Usage: scripts/demo.sh [PCAP_FILE]
# (without an argument it generates six minutes of traffic to four prefixes, one of which
# goes dark for a minute while another halves and a third surges).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh build

work=$(mktemp -d /tmp/weir-demo.XXXXXX)
collector_pid=""
redis_pid=""
cleanup() {
	[ -n "$collector_pid" ] && kill "$collector_pid" 2>/dev/null && wait "$collector_pid" 2>/dev/null
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

pcap=${1:-}
detect=()
watch=()
if [ -z "$pcap" ]; then
	pcap=$work/demo.pcap
	python3 scripts/genoutage.py "$pcap" --prefixes "$work/prefixes.txt" >/dev/null
	echo "== generated $pcap (six minutes of UDP to 10.1-4.0.0/24: 10.1 goes dark at +200 s"
	echo "   for 60 s, 10.2 falls to 40 % at +200 s for 100 s, 10.3 surges x8 at +220 s for 40 s)"
	# a short trace: a minute of warm-up and a one-minute baseline half-life
	detect=(--detect warmup_s=60 --detect baseline_half_life_s=60)
	watch=(--watch "prefixes:$work/prefixes.txt")
fi

# redis-server on a free TCP port on loopback, with no persistence.
rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
	>"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do
	redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break
	sleep 0.1
done
echo "== redis-server listening on 127.0.0.1:$rport"

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

# As root, weir switches to an unprivileged user once its input and sockets are open (it
# refuses to run as root otherwise).
user=()
[ "$(id -u)" -eq 0 ] && user=(--user nobody)
echo "== weir ${user[*]} -i pcap:$pcap -o ipfix:udp://127.0.0.1:$port --redis redis://127.0.0.1:$rport ${watch[*]} ${detect[*]}"
./build/probe/weir "${user[@]}" -i "pcap:$pcap" -o "ipfix:udp://127.0.0.1:$port" --udp-rate 5000 \
	--redis "redis://127.0.0.1:$rport" --probe-id demo "${watch[@]}" "${detect[@]}"

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
echo
echo "== the alerts in Redis (XRANGE weir:alerts): raise and clear, trace times"
redis-cli -p "$rport" --raw XRANGE weir:alerts - + | python3 -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    m = json.loads(line)
    if m["event"] == "update":
        continue
    when = m["cleared_at"] if m["event"] == "clear" else m["detected_at"]
    print("   %-5s %-8s %-22s %-7s %-11s %-8s at %s (began %s)" % (
        m["event"], m["family"], (m["key"].split("/")[-1] if m["family"] == "link" else m["key"])[-22:], m["metric"], m["kind"], m["severity"],
        when[11:19], m["started_at"][11:19]))
'
echo "   still active (HKEYS weir:active): $(redis-cli -p "$rport" hlen weir:active)"

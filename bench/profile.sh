#!/usr/bin/env bash
# Builds weir and profiles its packet path per packet on this machine: read, parse, flow
# cache and IPFIX export, as the weir program runs them (one packet thread, --workers 1, and
# the exporter thread), on two inputs:
#  * gen:  the synthetic source (100k flows, Zipf, 64-byte frames built in memory; building
#          the frames is part of the figures);
#  * pcap: the same kind of trace as a pcap file (bench_pipeline --write-pcap), read by
#          weir's file reader.
# Each input runs at N and 2N packets and every figure is (figure at 2N - figure at N) / N,
# so the start-up and teardown (loading, allocating the table, the final flush) cancel out.
#
# Figures: instructions, cycles, L1d and last-level cache misses and branch mispredictions
# per packet. With hardware counters (bare metal) perf stat counts them. Without (a VM, where
# perf stat says <not supported>), callgrind counts the instructions exactly and simulates
# the caches and the branch predictor, and the cycles are an estimate: the CPU time of
# native runs times the clock in /proc/cpuinfo. The tables of threads and of the top
# functions (inclusive and self instructions) always come from callgrind.
#
# Usage: bench/profile.sh [--packets N] [--runs R] [--out DIR]
#   --packets N  the smaller run (default 200000: the whole profile then takes about 40 s
#                after the build, most of it under callgrind, and grows with N)
#   --runs R     native runs at each count for the timings and counters, of which the lowest
#                counts (default 11)
#   --out DIR    also write the report to DIR/profile.md
# The report (Markdown) goes to stdout, progress to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

packets=200000
runs=11
out=
flows=100000
usage() {
	echo "usage: bench/profile.sh [--packets N] [--runs R] [--out DIR]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--packets) [ $# -ge 2 ] || usage; packets=$2; shift 2 ;;
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	*) usage ;;
	esac
done
if ! [[ $packets =~ ^[0-9]+$ ]] || [ "$packets" -lt 10000 ]; then
	echo "profile: --packets N, N >= 10000" >&2
	exit 2
fi
if ! [[ $runs =~ ^[0-9]+$ ]] || [ "$runs" -lt 1 ]; then
	echo "profile: --runs R, R >= 1" >&2
	exit 2
fi

say() { echo "profile: $*" >&2; }

# Tools: valgrind (callgrind, callgrind_annotate) and perf.
missing=()
command -v callgrind_annotate >/dev/null || missing+=(valgrind)
command -v perf >/dev/null || missing+=(linux-perf)
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		{ $SUDO apt-get update -qq >&2 &&
			$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; } ||
		say "could not install ${missing[*]}"
fi
command -v callgrind_annotate >/dev/null || { say "valgrind is needed"; exit 1; }

say "building weir"
bash scripts/build.sh build >&2

tmp=$(mktemp -d /tmp/weir-profile.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n1=$packets
n2=$((2 * packets))

# perf: software events (task-clock) for the CPU time; hardware events if they count here.
perf_counts() { # EVENTS MIN: at least MIN of EVENTS give a number
	perf stat -x, -o "$tmp/probe.csv" -e "$1" -- true >/dev/null 2>&1 &&
		awk -F, -v min="$2" '$1 ~ /^[0-9.]+$/ { n++ } END { exit !(n >= min) }' "$tmp/probe.csv"
}
sw=0 hw=0 mod=
if command -v perf >/dev/null && perf_counts task-clock 1; then
	sw=1
	if perf_counts instructions,cycles 2; then
		hw=1
	elif perf_counts instructions:u,cycles:u 2; then
		hw=1 mod=:u
	fi
fi
hw_events="instructions$mod,cycles$mod,branch-misses$mod,L1-dcache-load-misses$mod,LLC-load-misses$mod"
mhz=$(awk -F: '/^cpu MHz/ { gsub(/ /, "", $2); print $2; exit }' /proc/cpuinfo)

say "writing the pcap traces ($n1 and $n2 packets, $flows flows, Zipf)"
./build/bench/bench_pipeline --write-pcap "$tmp/trace-$n1.pcap" --packets "$n1" --flows "$flows" >&2
./build/bench/bench_pipeline --write-pcap "$tmp/trace-$n2.pcap" --packets "$n2" --flows "$flows" >&2

weir_cmd() { # WORKLOAD PACKETS: sets cmd to the weir command line
	cmd=(./build/probe/weir --allow-root -q --status-interval 0 -o "ipfix:file:$tmp/out.ipfix")
	case $1 in
	gen) cmd+=(-i "gen:flows=$flows,packets=$2,size=64,popularity=zipf") ;;
	pcap) cmd+=(-i "pcap:$tmp/trace-$2.pcap") ;;
	esac
}
workload_text() {
	case $1 in
	gen) echo "\`weir -i gen:flows=$flows,packets=N,size=64,popularity=zipf -o ipfix:file:F\` (frames built in memory: the generator's own cost is inside the figures)" ;;
	pcap) echo "\`weir -i pcap:TRACE -o ipfix:file:F\`, TRACE from \`bench_pipeline --write-pcap TRACE --packets N --flows $flows\` (64-byte frames, Zipf), read from the page cache" ;;
	esac
}

# One native run: appends "cpu_ns instructions cycles branch-misses L1d-misses LLC-misses" (NA
# where not counted) to $tmp/native-WORKLOAD-PACKETS.
native_run() {
	local f="$tmp/native-$1-$2"
	weir_cmd "$1" "$2"
	rm -f "$tmp/out.ipfix"
	if [ $sw = 1 ]; then
		local ev=task-clock
		[ $hw = 1 ] && ev="$ev,$hw_events"
		perf stat -x, -o "$tmp/stat.csv" -e "$ev" -- "${cmd[@]}" >/dev/null 2>"$tmp/weir.err" ||
			{ cat "$tmp/weir.err" >&2; exit 1; }
		awk -F, '
			$1 ~ /^[0-9.]+$/ {
				e = $3; sub(/:.*/, "", e)
				v[e] = (e == "task-clock") ? $1 * ($2 == "msec" ? 1e6 : 1) : $1
			}
			END {
				split("task-clock instructions cycles branch-misses L1-dcache-load-misses LLC-load-misses", k, " ")
				for (i = 1; i <= 6; i++)
					printf "%s%s", (k[i] in v ? v[k[i]] : "NA"), (i < 6 ? " " : "\n")
			}' "$tmp/stat.csv" >>"$f"
	else
		local TIMEFORMAT='%3U %3S'
		{ time "${cmd[@]}" >/dev/null 2>"$tmp/weir.err"; } 2>"$tmp/time.txt" ||
			{ cat "$tmp/weir.err" >&2; exit 1; }
		awk '{ printf "%.0f NA NA NA NA NA\n", ($1 + $2) * 1e9 }' "$tmp/time.txt" >>"$f"
	fi
}
lowest_col() { # FILE COLUMN: the lowest value, or NA (on a shared machine, noise only adds)
	awk -v c="$2" '$c == "NA" { na = 1 } NR == 1 || $c + 0 < m { m = $c + 0 } END { print (na || NR == 0) ? "NA" : m }' "$1"
}

# callgrind_annotate's function list as TSV: run thread mode name object file and the 13
# events (Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim); mode total, self or incl.
parse_cg() { # FILE RUN THREAD MODE
	local inc=no
	[ "$4" = incl ] && inc=yes
	callgrind_annotate --auto=no --threshold=100 --show-percs=no --inclusive=$inc "$1" |
		awk -v R="$2" -v T="$3" -v M="$4" '
		BEGIN { nw = split("Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim", want, " ") }
		function emit(mode, line,    i, tok, val, rest, name, obj, file) {
			gsub(/\([ 0-9.]+%\)/, "", line)
			sub(/^ +/, "", line)
			delete val
			for (i = 1; i <= n; i++) {
				if (!match(line, /^[0-9,.]+ */))
					return
				tok = substr(line, 1, RLENGTH)
				line = substr(line, RLENGTH + 1)
				gsub(/[ ,]/, "", tok)
				val[ev[i]] = (tok == ".") ? 0 : tok
			}
			rest = line
			obj = ""
			if (match(rest, / \[[^]]*\]$/)) {
				obj = substr(rest, RSTART + 2, RLENGTH - 3)
				rest = substr(rest, 1, RSTART - 1)
			}
			file = rest
			name = rest
			if (index(rest, ":") > 0) {
				file = substr(rest, 1, index(rest, ":") - 1)
				name = substr(rest, index(rest, ":") + 1)
			}
			printf "%s\t%s\t%s\t%s\t%s\t%s", R, T, mode, name, obj, file
			for (i = 1; i <= nw; i++)
				printf "\t%s", (want[i] in val ? val[want[i]] : 0)
			printf "\n"
		}
		/^Events shown:/ { n = split(substr($0, index($0, ":") + 1), ev, " "); next }
		/^-+$/ { next }
		n && /PROGRAM TOTALS *$/ { if (M == "self") { l = $0; sub(/PROGRAM TOTALS *$/, "", l); emit("total", l "TOTAL") }; next }
		n && /file:function *$/ { body = 1; next }
		body && NF > n { emit(M, $0) }'
}

# Per-packet figures from the callgrind runs of a workload, from $tmp/cg-W.tsv:
#   what=totals   "EVENT per-packet" lines
#   what=threads  the thread table
#   what=self     the top functions by self instructions
#   what=incl     the top weir functions by inclusive instructions
cg_report() { # WORKLOAD PACKET-DIFFERENCE WHAT
	awk -F'\t' -v dp="$2" -v what="$3" -v top=12 '
	function base(p) { sub(/.*\//, "", p); return p }
	function nz(s) { if (s ~ /^-0(\.0+)?$/) s = substr(s, 2); return s }
	function f1(x) { return nz(sprintf("%.1f", x)) }
	function f2(x) { return nz(sprintf("%.2f", x)) }
	function pct(x) { return sprintf("%.1f %%", tot["Ir"] ? 100 * x / tot["Ir"] : 0) }
	BEGIN {
		nw = split("Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim", ev, " ")
	}
	{
		# a function is known by its name: code inlined from a header comes as a second
		# entry of the same name, without an object
		r = $1; t = $2; m = $3; key = $4
		sgn = (r == 2) ? 1 : -1
		if ($5 != "") obj[key] = base($5)
		if (m == "total") {
			for (i = 1; i <= nw; i++) tot[ev[i]] += sgn * $(6 + i) / dp
			for (i = 1; i <= nw; i++) th[r, t, ev[i]] = $(6 + i)
			threads[r, t] = 1
		} else if (m == "self") {
			name[key] = $4
			if ($5 != "" && $7 >= bestself[key]) { bestself[key] = $7; file[key] = base($6) }
			for (i = 1; i <= nw; i++) self[key, ev[i]] += sgn * $(6 + i) / dp
		} else {
			name[key] = $4
			if (!((r, t, key) in inc) || $7 > inc[r, t, key]) inc[r, t, key] = $7
			if (base($5) == "weir" && $7 > thbest[r, t]) { thbest[r, t] = $7; thname[r, t] = $4 }
		}
	}
	END {
		for (rt in inc) {
			split(rt, p, SUBSEP)
			incl[p[3]] += (p[1] == 2 ? 1 : -1) * inc[rt] / dp
		}
		if (what == "totals") {
			for (i = 1; i <= nw; i++) print ev[i], tot[ev[i]]
			exit
		}
		if (what == "threads") {
			# a thread is named by the weir function at its root (the highest inclusive count)
			for (rt in threads) {
				split(rt, p, SUBSEP)
				if ((p[1], p[2]) in thname) n = thname[p[1], p[2]]
				else n = "thread " p[2]
				seen[p[1], n]++
				if (seen[p[1], n] > 1) n = n " #" seen[p[1], n]
				tn[n] = 1
				for (i = 1; i <= nw; i++) thd[n, ev[i]] += (p[1] == 2 ? 1 : -1) * th[p[1], p[2], ev[i]] / dp
			}
			print "| thread (root function) | instructions | share | L1d misses | LL misses | mispredictions |"
			print "|---|---:|---:|---:|---:|---:|"
			k = 0
			for (n in tn) order[++k] = n
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
				if (thd[order[j], "Ir"] > thd[order[i], "Ir"]) { x = order[i]; order[i] = order[j]; order[j] = x }
			for (i = 1; i <= k; i++) {
				n = order[i]
				if (thd[n, "Ir"] < 0.1) continue # threads with no work per packet (main, alerts)
				printf "| `%s` | %s | %s | %s | %s | %s |\n", n, f1(thd[n, "Ir"]), pct(thd[n, "Ir"]),
					f2(thd[n, "D1mr"] + thd[n, "D1mw"]), f2(thd[n, "DLmr"] + thd[n, "DLmw"]),
					f2(thd[n, "Bcm"] + thd[n, "Bim"])
			}
			exit
		}
		k = 0
		for (key in name) {
			if (what == "incl" && obj[key] != "weir") continue
			order[++k] = key
			v[key] = (what == "self") ? self[key, "Ir"] : incl[key]
		}
		for (i = 1; i <= k && i <= top; i++) for (j = i + 1; j <= k; j++)
			if (v[order[j]] > v[order[i]]) { x = order[i]; order[i] = order[j]; order[j] = x }
		if (what == "self") {
			print "| function | in | self instructions | self % | inclusive | inclusive % | L1d misses (self) | mispredictions (self) |"
			print "|---|---|---:|---:|---:|---:|---:|---:|"
		} else {
			print "| function | in | inclusive instructions | inclusive % | self | self % |"
			print "|---|---|---:|---:|---:|---:|"
		}
		for (i = 1; i <= k && i <= top; i++) {
			key = order[i]
			where = (obj[key] == "weir" && file[key] != "") ? file[key] : obj[key]
			if (what == "self")
				printf "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", name[key], where,
					f1(self[key, "Ir"]), pct(self[key, "Ir"]), f1(incl[key]), pct(incl[key]),
					f2(self[key, "D1mr"] + self[key, "D1mw"]), f2(self[key, "Bcm"] + self[key, "Bim"])
			else
				printf "| `%s` | %s | %s | %s | %s | %s |\n", name[key], where,
					f1(incl[key]), pct(incl[key]), f1(self[key, "Ir"]), pct(self[key, "Ir"])
		}
	}' "$tmp/cg-$1.tsv"
}

json_num() { # FILE KEY: a top-level number of weir's --summary-json
	sed -n "s/^ *\"$2\": *\\([0-9][0-9]*\\).*/\\1/p" "$1" | head -n 1
}

report=$tmp/report.md
: >"$report"
emit() { printf '%s\n' "$@" >>"$report"; }

emit "**weir: per-packet profile of the packet path**" ""
emit "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), \"cpu MHz\" ${mhz:-unknown} in /proc/cpuinfo, kernel $(uname -r)"
buildtype=$(meson introspect build --buildoptions 2>/dev/null | grep -o '"name": "buildtype", "value": "[a-z]*"' |
	sed 's/.*"value": "//; s/"$//' || true)
emit "- weir: $(./build/probe/weir -V 2>&1 | head -n 1), build/ (${buildtype:-unknown} build)"
if [ $hw = 1 ]; then
	emit "- counters: hardware counters available: perf stat counts instructions, cycles, cache misses and branch mispredictions$([ -n "$mod" ] && echo ' (user space only: kernel counting is not allowed here)'); callgrind gives the thread and function tables"
else
	emit "- counters: no hardware counters here (\`perf stat -e instructions,cycles\` says <not supported>): callgrind counts instructions exactly (user space) and simulates the caches and branch predictor; cycles are estimated from native CPU time"
fi
emit "- method: every figure is (figure at $n2 packets - figure at $n1 packets) / packets in between, so start-up and teardown cancel out; the native figures (CPU time$([ $hw = 1 ] && echo ', perf counts')) take the lowest of $runs native runs at each count, as a shared machine's noise only adds (the callgrind runs are exact and need no repeats)"
emit "- threads: one packet thread (\`--workers 1\`, the default: reads, parses, updates the flow cache) and the exporter thread (encodes and writes IPFIX); figures are totals over all threads; callgrind runs the threads one at a time, so its simulated caches are one cache shared by all"

start=$SECONDS
for w in gen pcap; do
	: >"$tmp/cg-$w.tsv"
	r=0
	for n in $n1 $n2; do
		r=$((r + 1))
		say "$w: callgrind, $n packets"
		weir_cmd "$w" "$n"
		rm -f "$tmp/out.ipfix" "$tmp/cgout-$w-$n"*
		valgrind --tool=callgrind --cache-sim=yes --branch-sim=yes --separate-threads=yes \
			--callgrind-out-file="$tmp/cgout-$w-$n" "${cmd[@]}" --summary-json "$tmp/sum-$w-$n.json" \
			>/dev/null 2>"$tmp/valgrind.log" || { tail -n 30 "$tmp/valgrind.log" >&2; exit 1; }
		for f in "$tmp/cgout-$w-$n"-*; do # one file per thread
			[ -s "$f" ] || continue
			t=${f##*-}
			parse_cg "$f" "$r" "$t" self >>"$tmp/cg-$w.tsv"
			parse_cg "$f" "$r" "$t" incl >>"$tmp/cg-$w.tsv"
			[ -n "${geom:-}" ] ||
				geom=$(callgrind_annotate --auto=no --threshold=100 "$f" | awk '/^(D1|LL) cache:/ {
					b = $3; u = "B"
					if (b % 1048576 == 0) { b /= 1048576; u = "MiB" } else if (b % 1024 == 0) { b /= 1024; u = "KiB" }
					printf "%s%s %s %s, %s-way, %s B lines", (n++ ? "; " : ""), $1, b, u, $7 + 0, $5 + 0
				}')
		done
	done
	p1=$(json_num "$tmp/sum-$w-$n1.json" packets_read)
	p2=$(json_num "$tmp/sum-$w-$n2.json" packets_read)
	f1=$(json_num "$tmp/sum-$w-$n1.json" records_exported)
	f2=$(json_num "$tmp/sum-$w-$n2.json" records_exported)
	dp=$((p2 - p1))
	[ "$dp" -gt 0 ] || { say "$w: no packets between the two runs"; exit 1; }

	say "$w: $runs native runs at each count"
	native_run "$w" "$n1" # warm-up, dropped
	native_run "$w" "$n2"
	rm -f "$tmp/native-$w-$n1" "$tmp/native-$w-$n2"
	for _ in $(seq "$runs"); do
		native_run "$w" "$n1"
		native_run "$w" "$n2"
	done
	nat() { # COLUMN: per-packet difference of the lowest values, or NA
		local a b
		a=$(lowest_col "$tmp/native-$w-$n1" "$1")
		b=$(lowest_col "$tmp/native-$w-$n2" "$1")
		if [ "$a" = NA ] || [ "$b" = NA ]; then echo NA; else awk -v a="$a" -v b="$b" -v d="$dp" 'BEGIN { print (b - a) / d }'; fi
	}
	ns=$(nat 1)
	cg_report "$w" "$dp" totals >"$tmp/tot-$w"
	cg() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/tot-$w"; }
	fmt() { # FORMAT VALUE|NA
		if [ "$2" = NA ]; then echo "n/a (not counted here)"; else awk -v f="$1" -v v="$2" 'BEGIN { s = sprintf(f, v); if (s ~ /^-0(\.0+)?( |$)/) s = substr(s, 2); print s }'; fi
	}
	Ir=$(cg Ir) D1r=$(cg D1mr) D1w=$(cg D1mw) LLr=$(cg DLmr) LLw=$(cg DLmw) I1=$(cg I1mr)
	Bc=$(cg Bc) Bi=$(cg Bi) Bcm=$(cg Bcm) Bim=$(cg Bim) Dr=$(cg Dr) Dw=$(cg Dw)
	timing="lowest of $runs native runs at each count"
	if [ $sw = 1 ]; then cpu_how="measured: perf stat task-clock, all weir's threads, user + kernel, $timing"
	else cpu_how="measured: user + system time of all weir's threads (bash time, 1 ms resolution), $timing"; fi

	emit "" "### Input: $w" "" "Workload: $(workload_text "$w")." ""
	emit "Packets between the two runs: $dp; flow records exported: $f1 at $p1 packets, $f2 at $p2, so the difference also creates and exports $(awk -v a="$f1" -v b="$f2" -v d="$dp" 'BEGIN { printf "%.3f", (b - a) / d }') flow records per packet." ""
	emit "| figure | per packet | how measured |" "|---|---:|---|"
	if [ $hw = 1 ]; then
		pi=$(nat 2) pc=$(nat 3) pb=$(nat 4) pl1=$(nat 5) pll=$(nat 6)
		emit "| instructions | $(fmt %.1f "$pi") | counted: perf stat \`instructions$mod\`, all threads$([ -z "$mod" ] && echo ', user + kernel') |"
		emit "| cycles | $(fmt %.1f "$pc") | counted: perf stat \`cycles$mod\`, all threads |"
		if [ "$pi" != NA ] && [ "$pc" != NA ]; then
			emit "| instructions per cycle | $(awk -v i="$pi" -v c="$pc" 'BEGIN { printf "%.2f", (c > 0) ? i / c : 0 }') | counted: the two above |"
		fi
		emit "| CPU time | $(fmt '%.1f ns' "$ns") | $cpu_how |"
		emit "| L1d load misses | $(fmt %.2f "$pl1") | counted: perf stat \`L1-dcache-load-misses$mod\` |"
		emit "| last-level load misses | $(fmt %.2f "$pll") | counted: perf stat \`LLC-load-misses$mod\` |"
		emit "| branch mispredictions | $(fmt %.2f "$pb") | counted: perf stat \`branch-misses$mod\` |"
		emit "| instructions, user space | $(fmt %.1f "$Ir") | counted exactly by callgrind (the unit of the tables below) |"
	else
		emit "| instructions | $(fmt %.1f "$Ir") | counted exactly: callgrind, all threads, user space (the kernel's share of reading and writing is not in it) |"
		if [ -n "$mhz" ] && [ "$ns" != NA ]; then
			emit "| cycles | ~$(awk -v n="$ns" -v m="$mhz" 'BEGIN { printf "%.0f", n * m / 1000 }') | estimated: CPU time per packet x $mhz MHz (\"cpu MHz\" of /proc/cpuinfo; the real clock of a VM's CPU may differ) |"
		else
			emit "| cycles | n/a | no CPU time or no clock rate here |"
		fi
		emit "| CPU time | $(fmt '%.1f ns' "$ns") | $cpu_how |"
		emit "| L1d misses | $(awk -v r="$D1r" -v w="$D1w" 'BEGIN { printf "%.2f (%.2f read, %.2f write)", r + w, r, w }') | simulated: callgrind D1 |"
		emit "| last-level misses (data) | $(awk -v r="$LLr" -v w="$LLw" 'BEGIN { printf "%.3f (%.3f read, %.3f write)", r + w, r, w }') | simulated: callgrind LL (a two-level model: no L2) |"
		emit "| L1i misses | $(fmt %.3f "$I1") | simulated: callgrind I1 |"
		emit "| branch mispredictions | $(awk -v c="$Bcm" -v i="$Bim" 'BEGIN { printf "%.2f (%.2f conditional, %.2f indirect)", c + i, c, i }') | simulated: callgrind's simple predictor model (2-bit counters, a last-target table for indirect branches), not this CPU's |"
		emit "| branches | $(awk -v c="$Bc" -v i="$Bi" 'BEGIN { printf "%.1f (%.1f indirect)", c + i, i }') | counted exactly: callgrind |"
		emit "| data reads + writes | $(awk -v r="$Dr" -v w="$Dw" 'BEGIN { printf "%.1f + %.1f", r, w }') | counted exactly: callgrind |"
		emit "" "Simulated cache geometry (callgrind, from this CPU's CPUID): $geom."
	fi
	emit "" "Per packet by thread (callgrind: instructions exact, cache misses and mispredictions simulated; threads without work per packet, main and alerts, left out):" ""
	cg_report "$w" "$dp" threads >>"$report"
	emit "" "Top functions by self instructions per packet (callgrind; % of all instructions per packet; inclusive = with what the function calls):" ""
	cg_report "$w" "$dp" self >>"$report"
	emit "" "Top weir functions by inclusive instructions per packet (callgrind):" ""
	cg_report "$w" "$dp" incl >>"$report"
done
emit "" "Profiling took $((SECONDS - start)) s (after the build)."

cat "$report"
if [ -n "$out" ]; then
	mkdir -p "$out"
	cp "$report" "$out/profile.md"
	say "wrote $out/profile.md"
fi

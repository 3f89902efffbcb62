#!/usr/bin/env bash
# Reproduces every table and plot of docs/BENCHMARKS.md on this machine, in one run:
#   the machine,                          docs/bench/machine.md
#   weir vs other flow probes (compare),  docs/bench/compare.md  + compare.png
#   the loss matrix,                      docs/bench/loss.md     + flows.png churn.png rate.png
#   the per-packet profile,               docs/bench/profile.md
#   the packet path and whole program,    docs/bench/pipeline.md (bench/run.sh --skip-10m)
#   the DPDK path against its RX loop,    docs/bench/dpdk.md     (bench/run_dpdk.sh)
#   what rate counting costs the program, docs/bench/count.md    (bench/count_cost.sh)
# then splices each table into docs/BENCHMARKS.md between its "generated" markers, so the
# figures there are the ones this command measured. About 40 minutes on 2 cores.
# Usage: bench/reproduce.sh [--quick] [--from STEP]
#   --quick: small inputs and one run each, into a temporary copy of the page, to check the
#            script (its figures are not for the docs)
#   --from STEP: start at compare, loss, profile, pipeline, dpdk, count or plots, keeping the
#            tables the earlier steps wrote in docs/bench (to resume a run that stopped)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=()
doc=docs/BENCHMARKS.md
out=docs/bench
from=compare
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=(--quick); shift ;;
	--from) from=$2; shift 2 ;;
	*) echo "usage: bench/reproduce.sh [--quick] [--from STEP]" >&2; exit 2 ;;
	esac
done
steps=(compare loss profile pipeline dpdk count plots)
case " ${steps[*]} " in *" $from "*) ;; *) echo "--from: one of ${steps[*]}" >&2; exit 2 ;; esac
# true when step $1 is at or after --from
due() {
	local s
	for s in "${steps[@]}"; do
		[ "$s" = "$from" ] && return 0
		[ "$s" = "$1" ] && return 1
	done
}
# each step's size: the docs' figures, or with --quick small inputs and one run
profile=() pipeline=() dpdk=() count=(--rounds 15)
if [ ${#quick[@]} -gt 0 ]; then
	profile=(--packets 100000 --runs 3)
	pipeline=(--packets 200000 --runs 1)
	dpdk=(--seconds 2 --runs 1)
	count=(--packets 500000 --rounds 1)
	out=$(mktemp -d /tmp/weir-reproduce.XXXXXX) # the docs keep their figures
	cp "$doc" "$out/BENCHMARKS.md"
	doc=$out/BENCHMARKS.md
	echo "quick run: results in $out" >&2
fi
bash scripts/deps.sh --bench
bash scripts/build.sh build
mkdir -p "$out"

{
	echo "| | |"
	echo "|---|---|"
	echo "| CPU | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores online |"
	echo "| memory | $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) |"
	echo "| kernel | $(uname -r) |"
	echo "| system | $(. /etc/os-release && echo "$PRETTY_NAME") |"
	echo "| compiler | $(cc --version | head -1) |"
	echo "| DPDK | $(pkg-config --modversion libdpdk 2>/dev/null || echo absent) |"
	echo "| virtualised | $(systemd-detect-virt 2>/dev/null || echo unknown) |"
	echo "| measured | $(date -u +%Y-%m-%d), weir $(git describe --always --dirty 2>/dev/null || echo unknown) |"
} >"$out/machine.md"

step() { echo "== $*" >&2; }
if due compare; then
	step "weir and the other probes on the same files"
	python3 bench/compare.py "${quick[@]}" --out "$out" >&2
fi
if due loss; then
	step "loss matrix"
	python3 bench/loss_matrix.py "${quick[@]}" --out "$out" >"$out/loss.md"
fi
if due profile; then
	step "per-packet profile"
	bash bench/profile.sh "${profile[@]}" --out "$out" >/dev/null
fi
if due pipeline; then
	step "packet path and whole program"
	bash bench/run.sh --skip-10m "${pipeline[@]}" >"$out/pipeline.md"
fi
if due dpdk; then
	step "DPDK path"
	bash bench/run_dpdk.sh "${dpdk[@]}" >"$out/dpdk.md"
fi
if due count; then
	step "in-line counting on the whole program"
	bash bench/count_cost.sh "${count[@]}" >"$out/count.md"
fi
step "plots"
gnuplot -e "dir='$out'" bench/plots.gp
python3 bench/splice.py "$doc" "$out"
step "done: $doc and $out/*.png"

#!/usr/bin/env bash
# The long mutation run: the checks of the 'mutate' test (tests/integration/mutate_test.py:
# no crash, no hang, no sanitizer report, balanced counters, an IPFIX file that decodes) on
# COUNT zzuf mutants of every capture of the shared corpus instead of the test's 12. By
# default it runs the ASan+UBSan build, where a memory error is a report rather than luck; at
# about 0.2 s a mutant, the default 200 per file (some 10000 mutants) takes half an hour.
# Mutants keep the test's numbering (seeds from SEED per file), so a failure prints the zzuf
# seed, ratio, mode and weir options that make it again, ready for the test's REGRESSIONS list.
# Usage: bench/mutate.sh [--count N] [--seed S] [--build DIR] [--weir PATH] [--only FILE]
#                        [--traces DIR]
#   defaults: --count 200, --seed 1, --build build-asan, --traces ../shared/traces;
#   --weir runs that weir instead of DIR's (with --allow-root added).
set -euo pipefail
cd "$(dirname "$0")/.."
count=200
seed=1
build="build-asan"
weir=""
traces=../shared/traces
only=()
while [ $# -gt 0 ]; do
	case "$1" in
	--count) count=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--weir) weir=$2; shift 2 ;;
	--only) only=(--only "$2"); shift 2 ;;
	--traces) traces=$2; shift 2 ;;
	*)
		echo "usage: bench/mutate.sh [--count N] [--seed S] [--build DIR] [--weir PATH]" \
			"[--only FILE] [--traces DIR]" >&2
		exit 2
		;;
	esac
done
if ! command -v zzuf >/dev/null; then
	echo "bench/mutate.sh: zzuf not found (scripts/deps.sh installs it)" >&2
	exit 1
fi
tmp=$(mktemp -d /tmp/weir-mutate.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$weir" ]; then
	ninja -C "$build" >/dev/null
	weir=$build/probe/weir
fi
# The tests run as root, and weir refuses root without --allow-root (harmless otherwise).
printf '#!/bin/sh\nexec "%s" --allow-root "$@"\n' "$(realpath "$weir")" >"$tmp/weir"
chmod +x "$tmp/weir"
# As meson test sets them: stop at the first report, with a stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
echo "weir: $weir; $count mutants per capture of $traces, seeds from $seed"
python3 tests/integration/mutate_test.py --weir "$tmp/weir" --traces "$traces" \
	--count "$count" --seed "$seed" "${only[@]}"

#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz for a while each and reports what they found.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (default: 60 s each, every target)
# Environment:
#   FUZZ_BUILD    the clang build directory (default: build-fuzz); set up with -Dfuzzing=true,
#                 ASan and UBSan if it is not there yet, and built
#   FUZZ_JOBS     targets run at a time (default: 1)
#   FUZZ_SCRATCH  where new inputs and findings go (default: $FUZZ_BUILD/fuzz-scratch)
#
# Each target starts from its committed corpus (tests/fuzz/corpus/TARGET; the capture-file
# readers also from the shared traces, read in place). Inputs that reach new code are written
# to $FUZZ_SCRATCH/TARGET/new, never into the committed corpus, and crashes, leaks, timeouts
# and out-of-memory inputs to $FUZZ_SCRATCH/TARGET/artifacts. A finding stops its target (fix
# it, add the input to the corpus as crash-WHAT, run again). The end is a table: executions,
# executions per second, new inputs and findings per target, and the exit status is 1 when
# anything was found.
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
all=(parse pcap pcapng erf ipfix config asfile control)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
build=${FUZZ_BUILD:-build-fuzz}
jobs=${FUZZ_JOBS:-1}
scratch=${FUZZ_SCRATCH:-$build/fuzz-scratch}
traces=../shared/traces

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzzing=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debugoptimized \
		-Dc_args=-fno-sanitize-recover=undefined >"$build.setup.log" 2>&1 || {
		cat "$build.setup.log" >&2
		exit 1
	}
	rm -f "$build.setup.log"
fi
names=()
for t in "${targets[@]}"; do
	if [[ " ${all[*]} " != *" $t "* ]]; then
		echo "no such target: $t (targets: ${all[*]})" >&2
		exit 2
	fi
	names+=("tests/fuzz/fuzz_$t")
done
ninja -C "$build" "${names[@]}" >/dev/null || ninja -C "$build" "${names[@]}" || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One target: runs libFuzzer for $secs seconds; its output goes to $scratch/TARGET/log.
run_one() {
	local t=$1 dir=$scratch/$1 extra=()
	mkdir -p "$dir/new" "$dir/artifacts"
	touch "$dir/started"
	set --
	case $t in
	pcap | pcapng | erf)
		# the traces are seeds too; inputs past 64 KiB are cut when loaded
		extra=(-max_len=65536)
		if [ -d "$traces" ]; then
			set -- "$traces"
		fi
		;;
	esac
	"$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$dir/artifacts/" "${extra[@]}" \
		"$dir/new" "tests/fuzz/corpus/$t" "$@" </dev/null >"$dir/log" 2>&1
	echo $? >"$dir/status"
}

running=0
for t in "${targets[@]}"; do
	rm -f "$scratch/$t/status"
	echo "fuzzing $t for ${secs}s"
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

# A number from libFuzzer's final statistics (-print_final_stats=1) in DIR/log.
final_stat() {
	sed -n "s/^stat::$2: *//p" "$1/log" | tail -1
}

found=0
printf '%-8s %12s %10s %6s  %s\n' target executions execs/s new findings
for t in "${targets[@]}"; do
	dir=$scratch/$t
	execs=$(final_stat "$dir" number_of_executed_units)
	rate=$(final_stat "$dir" average_exec_per_sec)
	added=$(final_stat "$dir" new_units_added)
	if [ -z "$execs" ]; then # no final statistics: the last progress line
		execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$dir/log" | tail -1)
	fi
	mapfile -t arts < <(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' \
		-o -name 'timeout-*' -o -name 'oom-*' \) -newer "$dir/started" 2>/dev/null | sort)
	what="none"
	if [ ${#arts[@]} -gt 0 ]; then
		what="${arts[*]}"
		found=1
	elif [ "$(cat "$dir/status" 2>/dev/null)" != 0 ]; then
		what="exit status $(cat "$dir/status" 2>/dev/null), see $dir/log"
		found=1
	fi
	printf '%-8s %12s %10s %6s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${added:-?}" "$what"
done
exit $found

#!/usr/bin/env bash
# Runs weir's whole test suite: installs what it needs, builds twice (optimised, and with
# AddressSanitizer + UndefinedBehaviorSanitizer), runs every meson test in both builds and
# ends with one line "N passed, N failed" over all of them.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/build.sh build || exit 1
bash scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false \
	-Dbuildtype=debug || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
passed=0
failed=0
for dir in build build-asan; do
	echo "== meson test ($dir)"
	meson test -C "$dir" --print-errorlogs --num-processes 2 "$@"
	counts=$(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["result"] in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif r["result"] != "SKIP":
        bad += 1
print(ok, bad)
PY
	)
	passed=$((passed + ${counts% *}))
	failed=$((failed + ${counts#* }))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

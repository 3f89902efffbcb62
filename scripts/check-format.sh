#!/usr/bin/env bash
# Fails when a C source or header differs from what clang-format (.clang-format) makes of it,
# naming the files.
set -uo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find common capture drivers flowcache detect exporter probe tests bench \
	-name '*.[ch]' | sort)
bad=()
for f in "${files[@]}"; do
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
	echo "not formatted (clang-format -i FILE): ${bad[*]}"
	exit 1
fi
echo "${#files[@]} files formatted"

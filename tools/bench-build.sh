#!/bin/sh
# bench-build.sh -- make bench-build: how long a clean -j2 build and a no-op make take.
set -eu
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$tmp" 2>/dev/null || cp -r . "$tmp"
t0=$(date +%s.%N); make -s -C "$tmp" -j2 all >/dev/null; t1=$(date +%s.%N)
make -s -C "$tmp" all >/dev/null; t2=$(date +%s.%N)
printf 'make -j2 from clean   %6.1f s\nno-op make            %6.2f s\n' \
    "$(awk "BEGIN { print $t1 - $t0 }")" "$(awk "BEGIN { print $t2 - $t1 }")"
[ -f build/check-time.txt ] && echo "last make check       $(cat build/check-time.txt)"
exit 0

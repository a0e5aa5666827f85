#!/bin/sh
# bench-check.sh BUILD -- how long grading takes, per exercise: the suite run
# the way `evlab check` runs it (--jobs 2), on the reference solution
# (correct code: the goal is <= 6 s) and on a program that hangs (the goal is
# <= 30 s: feedback within 30 s whatever the code does). The build is not
# counted. Function-level exercises (a .so) have no hanging program here.
set -u
build=${1:-build}
hang=$build/tools/bench-hang
printf '%-26s %10s %8s %10s %8s\n' exercise correct score hanging score
for src in tests/grading/*.c; do
    nn=$(basename "$src" .c)
    [ -x "$build/tests/grading/$nn" ] || continue
    t0=$(date +%s.%N)
    EVLAB_TARGET=$build/solutions/$nn EVLAB_REPORT=$build/bench-check.rep "$build/tests/grading/$nn" --jobs 2 >/dev/null 2>&1
    t1=$(date +%s.%N)
    ok=$(awk -F'\t' '{t+=$3; if ($2=="PASS") p+=$3} END {printf "%d/%d", p, t}' "$build/bench-check.rep")
    hdir=$build/bench-hang/$nn
    hs="-" ht="-"
    if ! ls "$build/solutions/$nn"/*.so >/dev/null 2>&1; then
        rm -rf "$hdir"; mkdir -p "$hdir"
        for p in "$build/solutions/$nn"/*; do
            [ -x "$p" ] && ln -sf "$(pwd)/$hang" "$hdir/$(basename "$p")"
        done
        t2=$(date +%s.%N)
        EVLAB_TARGET=$hdir EVLAB_REPORT=$build/bench-check.rep "$build/tests/grading/$nn" --jobs 2 >/dev/null 2>&1
        t3=$(date +%s.%N)
        ht=$(echo "$t3 - $t2" | bc)
        hs=$(awk -F'\t' '{t+=$3; if ($2=="PASS") p+=$3} END {printf "%d/%d", p, t}' "$build/bench-check.rep")
        ht=$(printf '%.1f s' "$ht")
    fi
    printf '%-26s %10s %8s %10s %8s\n' "$nn" "$(printf '%.1f s' "$(echo "$t1 - $t0" | bc)")" "$ok" "$ht" "$hs"
done
rm -f "$build/bench-check.rep"

#!/bin/sh
# bench-grading.sh BUILD -- how long grading all fifteen reference solutions
# takes, in the namespace sandbox (bwrap) and in the uid fallback, and the
# ratio between them. EVLAB_BASELINE=/path/to/older/evlab adds a run of an
# older grader (with its own EVLAB_ROOT: EVLAB_BASELINE_ROOT) for a
# before/after ratio. Every run must give full marks, or the figure means
# nothing. Output: one line per run and the ratios.
set -u
build=${1:-build}
root=$(pwd)
run() { # label evlab-binary root build [env...]
    label=$1 bin=$2 r=$3 b=$4; shift 4
    t0=$(date +%s.%N)
    out=$(env "$@" EVLAB_ROOT="$r" EVLAB_BUILD="$b" "$bin" grade --submission "$r/solutions" 2>&1)
    t1=$(date +%s.%N)
    total=$(printf '%s\n' "$out" | sed -n 's/^total //p' | tail -n 1)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    printf '%-10s %8.1f s   %s\n' "$label" "$secs" "$total" >&2
    case $total in */*) [ "${total%/*}" = "${total#*/}" ] || echo "bench-grading: $label: not full marks ($total)" >&2 ;; esac
    echo "$secs"
}
echo "grading solutions/ (all exercises), one run each:" >&2
base=""
if [ -n "${EVLAB_BASELINE:-}" ]; then
    base=$(run before "$EVLAB_BASELINE" "${EVLAB_BASELINE_ROOT:-$root}" build)
fi
uid=$(run uid "$root/$build/evlab" "$root" "$build" EVLAB_SANDBOX=uid)
bw=$(run bwrap "$root/$build/evlab" "$root" "$build" EVLAB_SANDBOX=bwrap)
awk -v a="$bw" -v b="$uid" 'BEGIN { printf "ratio bwrap/uid: %.2f\n", a / b }'
[ -n "$base" ] && awk -v a="$bw" -v b="$uid" -v c="$base" \
    'BEGIN { printf "ratio bwrap/before: %.2f   uid/before: %.2f\n", a / c, b / c }'
exit 0

#!/bin/sh
# bench-grading.sh BUILD -- what grading all fifteen reference solutions costs
# in the namespace sandbox (bwrap) and in the uid fallback, and the ratio.
# EVLAB_BASELINE=/path/to/older/evlab (with EVLAB_BASELINE_ROOT, its course)
# adds an older grader for a before/after ratio.
# The modes take turns exercise by exercise, so that a machine whose load
# changes during the run (a shared CI box) weighs on each of them alike.
# Every run must give full marks, or the figure means nothing.
set -u
build=${1:-build}
root=$(pwd)
now() { date +%s.%N; }
add() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN { printf "%.3f", a + c - b }'; }
one() { # evlab root build exercise [env...] -> "score max"
    bin=$1 r=$2 b=$3 ex=$4; shift 4
    env "$@" EVLAB_ROOT="$r" EVLAB_BUILD="$b" "$bin" grade --submission "$r/solutions" \
        --exercise "$ex" 2>/dev/null | sed -n 's/^total //p' | tail -n 1
}
t_base=0 t_uid=0 t_bw=0 bad=0
for src in tests/grading/[0-9][0-9]-*.c; do
    ex=$(basename "$src" .c)
    if [ -n "${EVLAB_BASELINE:-}" ]; then
        t0=$(now); s=$(one "$EVLAB_BASELINE" "${EVLAB_BASELINE_ROOT:-$root}" build "$ex"); t1=$(now)
        t_base=$(add "$t_base" "$t0" "$t1"); [ "${s%/*}" = "${s#*/}" ] || { bad=1; echo "before $ex: $s" >&2; }
    fi
    t0=$(now); s=$(one "$root/$build/evlab" "$root" "$build" "$ex" EVLAB_SANDBOX=uid); t1=$(now)
    t_uid=$(add "$t_uid" "$t0" "$t1"); [ -n "$s" ] && [ "${s%/*}" = "${s#*/}" ] || { bad=1; echo "uid $ex: $s" >&2; }
    t0=$(now); s=$(one "$root/$build/evlab" "$root" "$build" "$ex" EVLAB_SANDBOX=bwrap); t1=$(now)
    t_bw=$(add "$t_bw" "$t0" "$t1"); [ -n "$s" ] && [ "${s%/*}" = "${s#*/}" ] || { bad=1; echo "bwrap $ex: $s" >&2; }
    echo "  $ex done" >&2
done
echo "grading every reference solution, modes taking turns per exercise:"
[ -n "${EVLAB_BASELINE:-}" ] && echo "  before  ${t_base} s"
echo "  uid     ${t_uid} s"
echo "  bwrap   ${t_bw} s"
awk -v a="$t_bw" -v b="$t_uid" 'BEGIN { printf "ratio bwrap/uid: %.2f\n", a / b }'
[ -n "${EVLAB_BASELINE:-}" ] && awk -v a="$t_bw" -v b="$t_uid" -v c="$t_base" \
    'BEGIN { printf "ratio bwrap/before: %.2f   uid/before: %.2f\n", a / c, b / c }'
[ "$bad" = 0 ] || echo "bench-grading: some run did not give full marks (see above)"
exit 0

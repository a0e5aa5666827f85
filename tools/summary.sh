#!/bin/sh
# summary.sh RESULTS -- add up the "name passed failed" lines; exit 1 on any failure.
# What the failures said (RESULTS.details) comes first, so that the last
# screen of a long log says why, not only what. Before them: what passed
# only on a second run (RESULTS.flaky), which counts as passed but deserves
# a look.
set -u
if [ -s "$1.flaky" ]; then
    echo "--- flaky: failed once, then passed on a second run (a timing check under load?) ---"
    head -n 80 "$1.flaky"
    echo "---"
fi
if [ -s "$1.details" ]; then
    echo "--- what failed, and why (also above, where it ran) ---"
    head -n 150 "$1.details"
    echo "---"
fi
[ -f "$1" ] || { echo "0 passed, 1 failed"; exit 1; }
awk '{ p += $2; f += $3; if ($3 > 0) bad = bad "\n  failing: " $1 }
     END { if (bad != "") print substr(bad, 2); printf "%d passed, %d failed\n", p, f; exit (f > 0) }' "$1"

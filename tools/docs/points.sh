#!/bin/sh
# points.sh NN -- the points table of exercise NN, one row per graded test, from the
# GRADED(suite, test, weight, timeout, "title") lines of tests/grading/NN-*.c
# (the grader reads its weights from the same lines).
set -eu
nn=$1
set -- tests/grading/"$nn"-*.c
[ -f "$1" ] || { echo "points.sh: no tests/grading/$nn-*.c" >&2; exit 1; }
tr '\n' ' ' < "$1" | grep -o 'GRADED([^"]*"\([^"\\]\|\\.\)*"' |
    sed -E 's/^GRADED\( *([A-Za-z0-9_]+) *, *([A-Za-z0-9_]+) *, *([0-9]+) *,[^"]*"(.*)"$/\2\t\3\t\4/' |
    awk -F '\t' 'BEGIN { print "| test | what it checks | points |"; print "|---|---|--:|" }
        NF == 3 { gsub(/\|/, "\\|", $3); printf "| `%s` | %s | %d |\n", $1, $3, $2; t += $2; n++ }
        END { if (n == 0) { print "points.sh: no GRADED lines" > "/dev/stderr"; exit 1 }
              printf "| **total** | %d tests | **%d** |\n", n, t }'

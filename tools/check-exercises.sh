#!/bin/sh
# check-exercises.sh RESULTS BUILD -- the rustlings-style "dev check":
#   - every reference solution passes its grading suite, on epoll, poll and select,
#   - every second-style solution (tests/grading/alt/NN-slug/STYLE/) passes it
#     on all three too, so the suite is not tuned to the reference,
#   - every untouched starter scores 0: it fails every test (except those
#     listed, with a reason, in tests/grading/starter-may-pass/NN-slug),
#   - every broken variant (tests/grading/broken/NN-slug/VARIANT/) fails
#     exactly the tests named in its EXPECT file on epoll (the backend a
#     grade uses unless asked), and on poll or select where it has an
#     EXPECT.poll or EXPECT.select, which replaces EXPECT there (a variant
#     that is right on epoll and wrong on select has an empty EXPECT and an
#     EXPECT.select). EVLAB_ALL_BACKENDS=1 runs every variant on all three:
#     they are most of this check's time, so make check runs them once.
# The runs are independent and mostly wait on sockets and timeouts, so four
# run at once (EVLAB_PAR). A run that goes wrong runs once more (EVLAB_RETRY=0:
# never); if the second is right, it counts as a pass and is listed as flaky,
# with what the first run said, in RESULTS.flaky, which summary.sh prints.
set -u
if [ "${1:-}" = --one ]; then   # --one RESULTS BUILD NN KIND TARGET [EXPECT]
    results=$2 build=$3 nn=$4 kind=$5 target=$6 expect=${7:-}
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    case $kind in   # the backend comes from libevent's own environment switches
    *-on-poll) set -- EVENT_NOEPOLL=1; be=poll ;;
    *-on-select) set -- EVENT_NOEPOLL=1 EVENT_NOPOLL=1; be=select ;;
    *) set -- ; be=epoll ;;
    esac
    expect0=$expect
    [ -n "$expect" ] && [ -e "$expect.$be" ] && expect=$expect.$be
    want="" first=""
    # judge: run the suite once; sets ok (1 or 0) and why
    judge() {
        rm -f "$tmp/report"
        # EVLAB_BUILD: what the suite needs comes from the same build (the ASan
        # pass runs a sanitized solution in the sanitized loader of build/asan).
        env "$@" EVLAB_TARGET="$target" EVLAB_BUILD="$build" EVLAB_REPORT="$tmp/report" "$build/tests/grading/$nn" --jobs 2 >"$tmp/log" 2>&1
        if [ -s "$tmp/report" ]; then
            failed=$(awk -F'\t' '$2 != "PASS" { print $1 }' "$tmp/report" | sort)
        else
            failed="(the suite wrote no report)"
        fi
        case $kind in
        solution-passes*|alt-*) [ -z "$failed" ] && ok=1 || ok=0; why="it failed: $(echo $failed)" ;;
        starter-fails)
            allowed=tests/grading/starter-may-pass/$nn
            passed=$(awk -F'\t' '$2 == "PASS" { print $1 }' "$tmp/report" 2>/dev/null | sort |
                     { if [ -f "$allowed" ]; then grep -vxF -f "$allowed"; else cat; fi; })
            [ -n "$failed" ] && [ -z "$passed" ] && ok=1 || ok=0
            why="an untouched starter must score 0, and it passes: $(echo $passed)" ;;
        *) want=$(grep -v '^#' "$expect" 2>/dev/null | sed '/^$/d' | sort)
           # an empty list is allowed only where another backend's list is not
           anyfile=$(ls "$expect0".* 2>/dev/null | head -1)
           { [ -n "$want" ] || [ -n "$anyfile" ]; } && [ "$failed" = "$want" ] && ok=1 || ok=0
           why="expected to fail [$(echo $want)], failed [$(echo $failed)]" ;;
        esac
        # each unexpected failure's own reason, as the report gives it
        : >"$tmp/reasons"
        if [ "$ok" = 0 ] && [ "$kind" != starter-fails ] && [ -s "$tmp/report" ]; then
            echo "$want" >"$tmp/want"
            awk -F'\t' 'NR == FNR { want[$1] = 1; next }
                        $2 != "PASS" && !($1 in want) && n++ < 6 { print "    " $1 ": " substr($6, 1, 300) }' \
                "$tmp/want" "$tmp/report" >"$tmp/reasons"
        fi
    }
    judge "$@"
    name=$build:exercise:$nn/$kind
    if [ "$ok" = 0 ] && [ "${EVLAB_RETRY:-1}" = 1 ]; then
        # Once more, to tell a timing check that lost to a loaded machine from
        # a wrong verdict. A pass on the second run still counts as a pass, and
        # is reported as flaky with the first run's reasons: look at those.
        first="$why"; cp "$tmp/reasons" "$tmp/first-reasons"
        judge "$@"
        if [ "$ok" = 1 ]; then
            echo "ok      $nn/$kind (on a second run; the first: $first)"
            { echo "$name: $first"; cat "$tmp/first-reasons"; } >>"$results.flaky"
        fi
    fi
    if [ "$ok" = 1 ]; then
        [ -n "$first" ] || echo "ok      $nn/$kind"   # (a retry printed its own line)
        echo "$name 1 0" >>"$results"
    else
        echo "FAILED  $nn/$kind: $why"; echo "$name 0 1" >>"$results"
        { echo "$name: $why"; cat "$tmp/reasons"; } >>"$results.details"
    fi
    exit 0
fi

results=$1 build=$2
for src in tests/grading/*.c; do
    [ -e "$src" ] || continue
    nn=$(basename "$src" .c)
    if [ -n "${EVLAB_SOLUTIONS_ONLY:-}" ]; then   # the ASan pass
        # Not here: suites that check memory with valgrind or RSS, which
        # ASan's own allocator defeats. Those are checked in the plain build,
        # valgrind included. (Function-level solutions are in: their suite
        # runs the sanitized .so in the sanitized loader, never in itself.)
        case " ${EVLAB_ASAN_SKIP:-} " in *" $nn "*) continue ;; esac
        echo "$nn solution-passes $build/solutions/$nn"
        continue
    fi
    echo "$nn solution-passes $build/solutions/$nn"
    echo "$nn solution-passes-on-poll $build/solutions/$nn"
    echo "$nn solution-passes-on-select $build/solutions/$nn"
    echo "$nn starter-fails $build/exercises/$nn"
    for dir in tests/grading/alt/"$nn"/*/; do
        [ -d "$dir" ] || continue
        v=$(basename "$dir")
        for on in "" -on-poll -on-select; do
            echo "$nn alt-$v$on $build/tests/grading/alt/$nn/$v"
        done
    done
    for dir in tests/grading/broken/"$nn"/*/; do
        [ -d "$dir" ] || continue
        v=$(basename "$dir")
        for on in "" -on-poll -on-select; do
            [ -z "$on" ] || [ -n "${EVLAB_ALL_BACKENDS:-}" ] || [ -e "${dir}EXPECT.${on#-on-}" ] || continue
            echo "$nn broken-$v$on $build/tests/grading/broken/$nn/$v ${dir}EXPECT"
        done
    done
done | xargs -P "${EVLAB_PAR:-4}" -L 1 "$0" --one "$results" "$build"
exit 0

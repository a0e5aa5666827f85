#!/bin/sh
# run-suites.sh RESULTS BUILD SUITE... -- run Criterion suites, record counts.
# Each suite runs with EVLAB_BUILD=BUILD so it tests the programs of that build
# (build/ or build/asan/ ...). A line "suite passed failed" goes to RESULTS;
# a failing suite's assertions also go to RESULTS.details, which summary.sh
# prints again at the end (where a CI log's tail shows them). A suite that
# fails runs once more (EVLAB_RETRY=0: never); a clean second run counts as a
# pass, and the first run's failures go to RESULTS.flaky.
#
# Most lesson suites spend their time waiting on timers, prompts and sockets
# (under 20% of a core), and so does the tour's (it mostly waits for lesson
# programs), so EVLAB_SUITE_PAR of them (3) run at once, the longest first.
# The suites that load the machine -- the echo servers under floods, the
# benchmark lesson, the grader, the sandbox attacks and the tracer -- run one
# at a time after them, so that their load never meets another suite's
# timing checks.
set -u
if [ "${1:-}" = --one ]; then   # --one RESULTS BUILD SUITE
    results=$2 build=$3 suite=$4
    log="$suite.log"
    start=$(date +%s)
    # run_once: run the suite; sets passed, failed, bad (1: it failed or died)
    run_once() {
        EVLAB_BUILD=$build "$suite" --jobs "${EVLAB_JOBS:-2}" >"$log" 2>&1
        rc=$?
        line=$(grep 'Synthesis: Tested' "$log" | tail -n 1)
        passed=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
        failed=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
        if [ -z "$line" ]; then passed=0; failed=1; fi   # the suite itself died
        bad=0
        if [ "$rc" -ne 0 ] || [ "${failed:-1}" -ne 0 ]; then
            bad=1
            [ "${failed:-0}" -eq 0 ] && failed=1
        fi
    }
    what_failed() {
        grep -E '^\[(FAIL|----)\]|Assertion|Synthesis|ERROR|AddressSanitizer|runtime error' "$log" | head -n 60
    }
    run_once
    first=""
    if [ "$bad" = 1 ] && [ "${EVLAB_RETRY:-1}" = 1 ]; then
        # Once more, to tell a timing check that lost to a loaded machine from
        # a failure. A clean second run counts, and the first run's failures
        # are listed as flaky (RESULTS.flaky, printed by summary.sh).
        first=$(what_failed)
        run_once
    fi
    took=$(( $(date +%s) - start ))
    name=${suite#"$build"/tests/}
    counts=$(printf '%-48s %3s passed, %s failed  %4ss' "$name" "$passed" "$failed" "$took")
    report=$counts
    if [ "$bad" = 1 ]; then
        report=$(what_failed; echo "$counts")
    elif [ -n "$first" ]; then
        report="$counts  (on a second run)"
        printf '%s: failed on its first run, passed on the second:\n%s\n' "$build:$name" "$first" >>"$results.flaky"
    fi
    echo "$report"   # one write per suite, so parallel suites do not interleave
    [ "$bad" = 1 ] && printf '%s\n' "$report" >>"$results.details"
    echo "$build:$name $passed $failed" >>"$results"
    exit 0
fi

results=$1 build=$2; shift 2
mkdir -p "$(dirname "$results")"
light='' heavy=''
for suite in "$@"; do
    case $suite in
    */tools/tour) light="$suite $light" ;;
    */lessons/10-* | */lessons/17-* | */tools/*) heavy="$heavy $suite" ;;
    *) light="$light $suite" ;;
    esac
done
# shellcheck disable=SC2086  # the lists are words: suite paths have no spaces
printf '%s\n' $light | sed '/^$/d' | xargs -P "${EVLAB_SUITE_PAR:-3}" -I{} "$0" --one "$results" "$build" {}
for suite in $heavy; do "$0" --one "$results" "$build" "$suite"; done
exit 0   # the summary decides; a non-zero exit here means the suites could not run

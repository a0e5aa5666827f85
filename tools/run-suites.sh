#!/bin/sh
# run-suites.sh RESULTS BUILD SUITE... -- run Criterion suites, record counts.
# Each suite runs with EVLAB_BUILD=BUILD so it tests the programs of that build
# (build/ or build/asan/ ...). A line "suite passed failed" goes to RESULTS.
set -u
results=$1 build=$2; shift 2
mkdir -p "$(dirname "$results")"
status=0
for suite in "$@"; do
    log="$suite.log"
    EVLAB_BUILD=$build "$suite" --jobs "${EVLAB_JOBS:-2}" >"$log" 2>&1
    rc=$?
    line=$(grep 'Synthesis: Tested' "$log" | tail -n 1)
    passed=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    failed=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
    if [ -z "$line" ]; then passed=0; failed=1; fi   # the suite itself died
    if [ "$rc" -ne 0 ] || [ "${failed:-1}" -ne 0 ]; then
        status=1
        grep -E '^\[(FAIL|----)\]|Assertion|Synthesis|ERROR|AddressSanitizer|runtime error' "$log" | head -n 60
        [ "$failed" -eq 0 ] && failed=1
    fi
    printf '%-48s %3s passed, %s failed\n' "${suite#"$build"/tests/}" "$passed" "$failed"
    echo "$build:${suite#"$build"/tests/} $passed $failed" >>"$results"
done
exit 0   # the summary decides; a non-zero exit here means the suites could not run

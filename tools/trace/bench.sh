#!/bin/sh
# bench.sh -- make bench-trace: what evlab trace costs a busy server.
# Lesson 17's echo bench (load_gen: 100 connections x 16 messages of 1 KiB)
# against lesson 10's bufferevent_echo, alternately plain and with the
# recorder preloaded (build/evtrace.so), in paired rounds. The figure is the
# server's CPU time (on-CPU ns of all its threads, /proc/PID/task/*/schedstat)
# per echoed message; the ratio
# traced/plain is taken per round and the median reported, so that drift of a
# shared machine cancels out. FULL=1 runs longer.
# Results: a table on stdout, build/bench/trace-overhead.csv.
set -eu
B=${EVLAB_BUILD:-build}
out=build/bench
mkdir -p "$out"
if [ "${FULL:-0}" = 1 ]; then secs=5; rounds=7; else secs=2; rounds=5; fi
V=$B/lessons/17-echo-bench
server=$B/lessons/10-echo-server/bufferevent_echo
so=$(cd "$(dirname "$B/evtrace.so")" && pwd)/evtrace.so
for f in "$V/load_gen" "$server" "$so"; do
    [ -e "$f" ] || { echo "bench-trace: $f is missing (make all)" >&2; exit 1; }
done
csv=$out/trace-overhead.csv
echo "round,mode,msgs,server_cpu_s,cpu_us_per_msg,records,dropped" >"$csv"
rec=$(mktemp -d /tmp/evlab-bench-trace-XXXXXX)
trap 'rm -rf "$rec"' EXIT

run() {   # ROUND MODE
    if [ "$2" = traced ] || [ "$2" = nosampler ]; then
        env ${EVTRACE_BENCH_ENV:-} EVTRACE_NO_SAMPLER=$([ "$2" = nosampler ] && echo 1) LD_PRELOAD=$so EVTRACE_FILE=$rec/r EVTRACE_CAP=8000000 "$server" --quiet --port 0 >"$out/trace-server.out" 2>&1 &
    else
        "$server" --quiet --port 0 >"$out/trace-server.out" 2>&1 &
    fi
    pid=$!
    port=
    for _ in $(seq 100); do
        port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$out/trace-server.out")
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { echo "bench-trace: the server did not start" >&2; kill "$pid"; exit 1; }
    r=$("$V/load_gen" --port "$port" --conns 100 --depth 16 --size 1024 --seconds "$secs" | grep RESULT)
    # on-CPU nanoseconds of every thread (the recorder's sampler included);
    # utime+stime ticks would be 10 ms coarse
    ns=$(cat /proc/"$pid"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    msgs=$(echo "$r" | sed -n 's/.*msgs_per_s=\([0-9.]*\).*/\1/p')
    msgs=$(awk -v m="$msgs" -v s="$secs" 'BEGIN { printf "%.0f", m * s }')
    nrec=0 dropped=0
    if [ "$2" != plain ]; then
        f=$(ls "$rec"/r.* 2>/dev/null | head -n 1)
        if [ -n "$f" ]; then   # header: magic[8] version rec_size nrec dropped (little-endian)
            nrec=$(od -An -t u8 -j 16 -N 8 "$f" | tr -d ' ')
            dropped=$(od -An -t u8 -j 24 -N 8 "$f" | tr -d ' ')
        fi
        rm -f "$rec"/r.*
    fi
    awk -v r="$1" -v m="$2" -v n="$msgs" -v t="$ns" -v rc="$nrec" -v d="$dropped" \
        'BEGIN { c = t / 1e9; printf "%s,%s,%d,%.2f,%.3f,%s,%s\n", r, m, n, c, n ? c * 1e6 / n : 0, rc, d }' >>"$csv"
}

echo "== evlab trace overhead: lesson 10 bufferevent_echo under lesson 17's load_gen, ${rounds} paired rounds of ${secs} s"
for round in $(seq "$rounds"); do
    if [ $((round % 2)) = 1 ]; then run "$round" plain; run "$round" traced; run "$round" nosampler
    else run "$round" nosampler; run "$round" traced; run "$round" plain; fi
done
awk -F, 'NR > 1 { cpu[$2, $1] = $5; msgs[$2, $1] = $3; if ($1 > R) R = $1; if ($2 != "plain") { rec += $6; drop += $7 } }
  function med(a, c,   i, j, t) { for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2 }
  END { for (i = 1; i <= R; i++) { p = cpu["plain", i]
            r[i] = p > 0 ? cpu["traced", i] / p : 0; s[i] = p > 0 ? cpu["nosampler", i] / p : 0
            q[i] = msgs["plain", i] > 0 ? msgs["traced", i] / msgs["plain", i] : 0
            printf "round %d: plain %.2f us/msg, traced %.2f (%.2fx), --no-sampler %.2f (%.2fx)\n", i, p, cpu["traced", i], r[i], cpu["nosampler", i], s[i] }
        printf "server CPU per message, traced/plain: %.2fx (median of %d paired rounds; +%.0f%%)\n", med(r, R), R, (med(r, R) - 1) * 100
        printf "the same without the sampler thread (--no-sampler): %.2fx (+%.0f%%)\n", med(s, R), (med(s, R) - 1) * 100
        printf "throughput, traced/plain: %.2fx; %d records kept, %d dropped at the cap\n", med(q, R), rec, drop }' "$csv"
echo "(CSV: $csv)"

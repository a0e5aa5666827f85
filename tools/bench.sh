#!/bin/sh
# bench.sh -- make bench: every measurement side by side in one run.
#   1. lesson 16: epoll vs poll vs select as the number of fds grows
#   2. lesson 17: the lesson's bufferevent echo server vs raw epoll, libuv, libev
#   3. build and grading speed
# Results: tables on stdout, CSV and PNG plots in build/bench/.
# FULL=1 runs longer and larger.
set -eu
B=${EVLAB_BUILD:-build}
out=build/bench
mkdir -p "$out"
full=${FULL:-0}
if [ "$full" = 1 ]; then fds=10,100,500,1000,5000,9000; secs=10; rounds=5
else fds=10,100,500,1000,5000; secs=2; rounds=4; fi

echo "== 1. backends (lesson 16): median us per round, 1 active of N, 100 chained writes"
"$B/lessons/16-backend-bench/backend_bench" --fds "$fds" --csv "$out/backend-1active.csv" | grep -v '^$\|^=='
echo
echo "== 1b. the same with 100 active (poll can tie epoll when most fds are busy)"
"$B/lessons/16-backend-bench/backend_bench" --fds "$fds" --active 100 --csv "$out/backend-100active.csv" | grep -v '^$\|^=='

# start_server NAME PROG ARGS...: start it; sets port and server_pid
start_server() {   # NAME PROG ARGS...
    name=$1; shift
    "$@" >"$out/server.out" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$out/server.out")
        [ -n "$port" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench: $name did not start: $(cat "$out/server.out")" >&2
    return 1
}
field() { sed -n "s/.*RESULT.* $1=\([0-9.]*\).*/\1/p"; }

echo
echo "== 2. echo servers (lesson 17): 100 connections x 16 messages of 1 KiB, ${secs} s each; then ping-pong"
echo "server,round,mode,msgs_per_s,mb_per_s,p50_us,p99_us" >"$out/echo.csv"
V=$B/lessons/17-echo-bench
servers="lesson|$B/lessons/10-echo-server/bufferevent_echo --quiet
epoll|$V/epoll_echo
epoll4k|$V/epoll_echo --read-size 4096
libuv|$V/uv_echo
libev|$V/ev_echo
copy|$V/bev_variants --copy
maxread64k|$V/bev_variants --max-read 65536"
for round in $(seq "$rounds"); do
    # interleaved rounds: drift in the machine hits every server alike
    echo "$servers" | while IFS='|' read -r name cmd; do
        [ -x "${cmd%% *}" ] || { echo "bench: ${cmd%% *} is missing (make all)" >&2; continue; }
        # shellcheck disable=SC2086
        start_server "$name" $cmd --port 0 || continue
        r=$("$V/load_gen" --port "$port" --conns 100 --depth 16 --size 1024 --seconds "$secs" | grep RESULT)
        echo "$name,$round,load,$(echo "$r" | field msgs_per_s),$(echo "$r" | field mb_per_s),$(echo "$r" | field p50_us),$(echo "$r" | field p99_us)" >>"$out/echo.csv"
        r=$("$V/load_gen" --port "$port" --pingpong --seconds 1 | grep RESULT)
        echo "$name,$round,pingpong,$(echo "$r" | field msgs_per_s),$(echo "$r" | field mb_per_s),$(echo "$r" | field p50_us),$(echo "$r" | field p99_us)" >>"$out/echo.csv"
        kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true
    done
done
# Medians per server and mode; then, for each peer, the lesson/peer ratio in
# each round (the two ran seconds apart) and the median of those ratios, so
# that the machine's drift from round to round cancels out.
awk -F, 'NR > 1 { k = $1 "," $3; n[k]++; m[k, n[k]] = $4; p[k, n[k]] = $7
                  r[$1, $3, $2] = $4; q[$1, $3, $2] = $7; if ($2 > R) R = $2 }
  function med(a, k, c,   i, j, t, v) { for (i = 1; i <= c; i++) v[i] = a[k, i]
      for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
  function ratio(a, s, mode,   i, c, v) { c = 0
      for (i = 1; i <= R; i++) if (((s, mode, i) in a) && (("lesson", mode, i) in a) && a[s, mode, i] > 0)
          v["x", ++c] = a["lesson", mode, i] / a[s, mode, i]
      return c ? med(v, "x", c) : 0 }
  END { printf "%-10s %12s %10s %14s\n", "server", "msgs/s", "p99 us", "pingpong/s"
        split("lesson epoll epoll4k libuv libev copy maxread64k", order, " ")
        for (i = 1; i <= 7; i++) { s = order[i]; if (!((s ",load") in n)) continue; seen[s] = 1
            printf "%-10s %12.0f %10.0f %14.0f\n", s, med(m, s ",load", n[s ",load"]), med(p, s ",load", n[s ",load"]), med(m, s ",pingpong", n[s ",pingpong"]) }
        printf "\nlesson/peer, median of the per-round ratios (%d rounds):\n", R
        for (i = 2; i <= 7; i++) { s = order[i]; if (!(s in seen) || !("lesson" in seen)) continue
            printf "lesson/%-10s msgs/s %.2fx   p99 %.2fx   ping-pong %.2fx\n", s, ratio(r, s, "load"), ratio(q, s, "load"), ratio(r, s, "pingpong") }
        print "(maxread64k runs the same read path as the lesson server in 2.1: its ratio is the noise floor)" }' "$out/echo.csv" | tee "$out/echo-summary.txt"

echo
echo "== 2b. scale: the lesson server with 10,000 idle connections plus the same load"
ulimit -n 25000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
idle=10000
# The limit is per process: the server and load_gen each hold idle + 100 fds.
[ "$(ulimit -n)" -gt 10300 ] || idle=$(( $(ulimit -n) - 300 ))
if start_server lesson "$B/lessons/10-echo-server/bufferevent_echo" --quiet --port 0; then
    "$V/load_gen" --port "$port" --conns 100 --depth 16 --size 1024 --seconds "$secs" \
        --idle "$idle" --server-pid "$server_pid" | grep -E 'RSS|messages/s' | tee "$out/scale.txt"
    kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true
fi

if command -v strace >/dev/null; then
    echo
    echo "== 2c. epoll_ctl calls for the same ping-pong run, without and with EVENT_EPOLL_USE_CHANGELIST"
    for cl in "" 1; do
        EVENT_EPOLL_USE_CHANGELIST=$cl strace -f -qq -c -e trace=epoll_ctl -o "$out/strace.txt" \
            "$V/bev_variants" --port 0 >"$out/server.out" 2>&1 &
        spid=$!
        for _ in $(seq 100); do port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$out/server.out"); [ -n "$port" ] && break; sleep 0.05; done
        msgs=$("$V/load_gen" --port "$port" --conns 10 --pingpong --seconds 1 | grep RESULT | field msgs_per_s)
        pkill -TERM -P "$spid"; wait "$spid" 2>/dev/null || true
        calls=$(awk '$NF == "epoll_ctl" { print $4 }' "$out/strace.txt")
        printf '  changelist %-4s %6s epoll_ctl calls for %6s messages: %s per message\n' "${cl:-off}" \
            "$calls" "$msgs" "$(awk "BEGIN { printf \"%.2f\", $calls / ($msgs + 0.0001) }")"
    done
fi

echo
echo "== 3. build and grading speed"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$tmp" 2>/dev/null || cp -r . "$tmp"
t0=$(date +%s.%N); make -s -C "$tmp" -j2 all >/dev/null; t1=$(date +%s.%N)
make -s -C "$tmp" all >/dev/null; t2=$(date +%s.%N)
printf 'make -j2 from clean   %6.1f s\nno-op make            %6.2f s\n' "$(awk "BEGIN { print $t1 - $t0 }")" "$(awk "BEGIN { print $t2 - $t1 }")"
for nn in ${BENCH_CHECK:-04 10}; do
    [ -x build/evlab ] || break
    t0=$(date +%s.%N); EVLAB_ROOT=$PWD NO_COLOR=1 ./evlab check "$nn" >/dev/null 2>&1 </dev/null || true; t1=$(date +%s.%N)
    printf './evlab check %s       %6.1f s\n' "$nn" "$(awk "BEGIN { print $t1 - $t0 }")"
done
[ -f build/check-time.txt ] && echo "last make check       $(cat build/check-time.txt)"

if command -v gnuplot >/dev/null; then
    for f in 1active 100active; do
        awk -F, 'NR > 1 { print > "'"$out"'/backend-'"$f"'-" $1 ".dat" }' "$out/backend-$f.csv"
        plot=""
        for m in epoll poll select; do
            [ -s "$out/backend-$f-$m.dat" ] && plot="$plot${plot:+, }'$out/backend-$f-$m.dat' using 2:5 with linespoints title '$m'"
        done
        gnuplot -e "set terminal pngcairo size 800,500; set output '$out/backend-$f.png'; set datafile separator ','; \
          set logscale xy; set xlabel 'socketpairs watched'; set ylabel 'median us per round'; \
          set title 'libevent backends, $f'; plot $plot" 2>/dev/null || true
    done
    echo "plots: $out/backend-1active.png $out/backend-100active.png"
fi
echo "CSV:   $out/backend-1active.csv $out/backend-100active.csv $out/echo.csv"

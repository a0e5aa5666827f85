#!/bin/sh
# bench.sh -- make bench: lessons 16 and 17 measured, with CSVs and plots.
# The measuring is done by C programs (backend_bench, select_wall,
# echo_bench, load_gen); this script is glue: it runs them, counts syscalls
# with strace, and draws the CSVs with gnuplot (SVG and PNG, error bars are
# the bootstrap 95% intervals over the rounds).
#
#   make bench                  default: under 5 minutes on 2 cores
#   make bench FULL=1           more rounds, longer windows, more sizes
#   make bench PIN=0            let the scheduler place server and load generator
#                               (default PIN=1: server on CPU 1, load_gen on CPU 0;
#                               unpinned samples are bimodal, see lesson 17)
#   make bench SEED=N           replay a run's order (the seed is printed and kept)
#   BENCH_QUICK=1               a smoke run (2 rounds, short windows): for tests
#   BENCH_OUT=DIR               where the CSVs and plots go (default build/bench)
#   BENCH_PUBLISH=0             do not copy the plots into lessons/16-*/plots, 17-*/plots
set -eu
B=${EVLAB_BUILD:-build}
out=${BENCH_OUT:-build/bench}
full=${FULL:-0}
quick=${BENCH_QUICK:-0}
pin=${PIN:-1}
seed=${SEED:-$(( $(date +%s) % 2147483646 + 1 ))}
publish=${BENCH_PUBLISH:-1}
mkdir -p "$out"
t0=$(date +%s)
at() { echo "[$(( $(date +%s) - t0 )) s]"; } # elapsed time, printed in each heading
L16=$B/lessons/16-backend-bench
L17=$B/lessons/17-echo-bench

if [ "$quick" = 1 ]; then
    fds=10,100; fds100=$fds; brounds=3; rounds=2; ms=200; warm=100; pp_ms=200; open_ms=200
    rates=2000,8000; open_rounds=2; publish=0
elif [ "$full" = 1 ]; then
    fds=10,100,500,1000,5000,9000; fds100=$fds; brounds=31; rounds=20; ms=2000; warm=500; pp_ms=1000
    open_ms=2000; rates=2000,10000,30000,100000; open_rounds=5
else
    # 20 short rounds rather than 10 long ones: per-round ratios on an idle
    # machine spread by 6-10% (sd of the log ratio), and the interval of a
    # median narrows with the number of rounds, not with their length.
    # With 100 active the sizes stop at 1000: at 5000 pairs the ratio moved
    # with the machine's state (2.7x to 4.7x between runs, most with narrow
    # intervals; lesson 16's README gives the control runs).
    fds=10,100,500,1000,5000; fds100=10,100,500,1000; brounds=15; rounds=20; ms=400; warm=150; pp_ms=300
    open_ms=400; rates=2000,10000,30000; open_rounds=6
fi
if [ "$pin" = 1 ] && [ "$(nproc)" -lt 2 ]; then
    echo "bench: one CPU: pinning needs two, so this run is unpinned" >&2
    pin=0
fi
pinflag=""; [ "$pin" = 1 ] && pinflag=--pin
pinmode=unpinned; [ "$pin" = 1 ] && pinmode="pinned (server CPU 1, load_gen CPU 0)"
model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
machine="$(nproc) CPUs ($model), Linux $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
load=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo "machine: $machine"
    echo "load average at start: $load"
    echo "seed: $seed"
    echo "mode: $pinmode"
    echo "rounds: $rounds of ${ms} ms after ${warm} ms warm-up (ping-pong ${pp_ms} ms; open loop $open_rounds x ${open_ms} ms)"
} >"$out/RUN.txt"
cat "$out/RUN.txt"

echo
echo "$(at) == 1. lesson 16: backends, thread CPU per round (1 active of N, 100 chained writes)"
"$L16/backend_bench" --fds "$fds" --rounds "$brounds" --seed "$seed" --csv "$out/backend-1active.csv" | grep -v '^$\|^=='
echo
echo "$(at) == 1b. the same with 100 active"
"$L16/backend_bench" --fds "$fds100" --active 100 --rounds "$brounds" --seed "$seed" \
    --csv "$out/backend-100active.csv" | grep -v '^$\|^=='

# strace -c output: "% time seconds usecs/call calls [errors] syscall"; print "name calls".
calls() { awk '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" { print $NF, $4 }' "$1"; }

if command -v strace >/dev/null; then
    echo
    echo "$(at) == 1c. control: syscalls of the whole run, 100 pairs, 20 rounds (+1 warm-up, +1 calibration) per backend"
    echo "active,syscall,calls" >"$out/backend-syscalls.csv"
    for a in 1 100; do
        # (LeakSanitizer cannot run under ptrace: off for an ASan build)
        ASAN_OPTIONS=detect_leaks=0 strace -f -qq -c -o "$out/strace16.txt" \
            -e trace=epoll_ctl,epoll_wait,poll,select \
            "$L16/backend_bench" --fds 100 --active "$a" --rounds 20 --min-sample-ms 0 --seed "$seed" >/dev/null ||
            echo "bench: backend_bench under strace failed" >&2
        calls "$out/strace16.txt" | while read -r name n; do
            echo "$a,$name,$n" >>"$out/backend-syscalls.csv"
            printf '  %3s active: %-11s %6s calls\n' "$a" "$name" "$n"
        done
    done
fi

echo
echo "$(at) == 1d. select past FD_SETSIZE (select_wall)"
"$L16/select_wall" >"$out/select-wall.txt" 2>&1 || true
grep -E '^(==|=>|child|select served|__fdelt_chk|\*\*\*)' "$out/select-wall.txt" | sed 's/^/  /'

echo
echo "$(at) == 2. lesson 17: closed loop, 100 connections x 16 x 1 KiB; CPU per message first"
servers=lesson,bev,evbufdefer,evbuf,epoll4k,epoll,epollchurn,libuv,libev
pairs=epoll4k/epoll,epollchurn/epoll,evbuf/epoll4k,evbufdefer/evbuf,bev/evbufdefer,bev/evbuf,lesson/bev,lesson/epoll,libuv/epoll,libev/epoll
[ "$full" = 1 ] && servers=$servers,libuv4k,libev4k,copy,maxread64k &&
    pairs=$pairs,libuv4k/epoll4k,libev4k/epoll4k,copy/bev,maxread64k/bev
[ "$quick" = 1 ] && servers=lesson,evbuf,epoll && pairs=evbuf/epoll,lesson/epoll
# shellcheck disable=SC2086
"$L17/echo_bench" --build "$B" --mode load --servers "$servers" --baseline epoll --pairs "$pairs" \
    --rounds "$rounds" --ms "$ms" --warmup-ms "$warm" --seed "$seed" $pinflag \
    --csv "$out/echo-load-rounds.csv" --summary "$out/echo-load.csv" 2>/dev/null | grep -v '^$\|^=='

echo
echo "$(at) == 2b. ping-pong: one connection, one 64-byte message in flight"
ppservers=lesson,evbuf,epoll,libuv,libev
[ "$quick" = 1 ] && ppservers=lesson,epoll
# shellcheck disable=SC2086
"$L17/echo_bench" --build "$B" --mode pingpong --servers "$ppservers" --baseline epoll \
    --rounds "$rounds" --ms "$pp_ms" --warmup-ms "$warm" --seed "$seed" $pinflag \
    --csv "$out/echo-pingpong-rounds.csv" --summary "$out/echo-pingpong.csv" 2>/dev/null | grep -v '^$\|^=='

echo
echo "$(at) == 2c. open loop: 10 connections, 1 KiB messages at fixed rates; latency from the intended send time"
opservers=lesson,epoll,libuv,libev
[ "$quick" = 1 ] && opservers=lesson,epoll
# shellcheck disable=SC2086
"$L17/echo_bench" --build "$B" --mode open --rates "$rates" --servers "$opservers" --baseline epoll \
    --rounds "$open_rounds" --ms "$open_ms" --warmup-ms "$warm" --seed "$seed" $pinflag \
    --csv "$out/echo-open-rounds.csv" --summary "$out/echo-open.csv" 2>/dev/null | grep -v '^$\|^=='

# start_server PROG ARGS...: start it on port 0; sets port and server_pid
start_server() {
    "$@" --port 0 >"$out/server.out" 2>&1 &
    server_pid=$!
    port=""
    for _ in $(seq 200); do
        port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$out/server.out")
        [ -n "$port" ] && return 0
        sleep 0.05
    done
    echo "bench: $* did not start: $(cat "$out/server.out")" >&2
    return 1
}

if command -v strace >/dev/null; then
    echo
    echo "$(at) == 2d. control: syscalls per message, ping-pong (1 connection, 1 message in flight, strace -c)"
    echo "server,msgs,syscall,calls,per_msg" >"$out/echo-syscalls.csv"
    printf '  %-18s' server; for s in recv send epoll_wait epoll_ctl ioctl other; do printf ' %10s' "$s"; done; echo
    for spec in "lesson|$B/lessons/10-echo-server/bufferevent_echo --quiet" \
                "lesson+changelist|$B/lessons/10-echo-server/bufferevent_echo --quiet" \
                "bev|$L17/bev_variants" "evbufdefer|$L17/evbuf_echo --defer-write" \
                "evbuf|$L17/evbuf_echo" "epoll|$L17/epoll_echo" \
                "epollchurn|$L17/epoll_echo --churn" "libuv|$L17/uv_echo" "libev|$L17/ev_echo"; do
        name=${spec%%|*}; cmd=${spec#*|}
        # libevent takes the variable being set at all, even to "", as "on":
        # set it only for the changelist row.
        envset=""; [ "$name" = lesson+changelist ] && envset=EVENT_EPOLL_USE_CHANGELIST=1
        # shellcheck disable=SC2086
        start_server env $envset ASAN_OPTIONS=detect_leaks=0 strace -qq -c -o "$out/strace17.txt" $cmd || continue
        msgs=$("$L17/load_gen" --port "$port" --conns 1 --pingpong --size 64 --ms "$pp_ms" | sed -n 's/.*RESULT msgs_per_s=\([0-9]*\).*/\1/p')
        # stop the traced server (strace's child, which this script started);
        # strace then writes its count and exits
        for p in $(pgrep -P "$server_pid" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
        wait "$server_pid" 2>/dev/null || true
        total=$(awk -v m="$msgs" -v t="$pp_ms" 'BEGIN { printf "%d", m * t / 1000 }')
        calls "$out/strace17.txt" | awk -v s="$name" -v m="$total" -v f="$out/echo-syscalls.csv" '
            { g = $1; if (g ~ /^(recvfrom|recvmsg|read|readv)$/) g = "recv"
              else if (g ~ /^(sendto|sendmsg|write|writev)$/) g = "send"
              else if (g !~ /^(epoll_wait|epoll_ctl|ioctl)$/) g = "other"
              c[g] += $2; printf "%s,%d,%s,%d,%.3f\n", s, m, $1, $2, (m ? $2 / m : 0) >> f }
            END { printf "  %-18s", s
                  split("recv send epoll_wait epoll_ctl ioctl other", o, " ")
                  for (i = 1; i <= 6; i++) printf " %10.2f", (m ? c[o[i]] / m : 0); print "" }'
    done
    echo "  (calls per message over a ${pp_ms} ms run; the set-up and accept are in 'other' and round to 0)"
fi

echo
echo "$(at) == 2e. scale: the lesson server with 10,000 idle connections plus the load"
# shellcheck disable=SC3045 # dash and bash both have ulimit -n
ulimit -n 25000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
idle=10000
[ "$quick" = 1 ] && idle=200
# shellcheck disable=SC3045
[ "$(ulimit -n)" -gt $((idle + 300)) ] || idle=$(( $(ulimit -n) - 300 ))
if start_server "$B/lessons/10-echo-server/bufferevent_echo" --quiet; then
    "$L17/load_gen" --port "$port" --conns 100 --depth 16 --size 1024 --ms "$ms" \
        --idle "$idle" --server-pid "$server_pid" | grep -E 'RSS|messages/s|server CPU' | tee "$out/scale.txt" | sed 's/^/  /'
    kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true
fi
rm -f "$out/server.out" "$out/strace16.txt" "$out/strace17.txt"

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/RUN.txt"
tools/bench-plots.sh "$out"
if [ "$publish" = 1 ]; then
    mkdir -p lessons/16-backend-bench/plots lessons/17-echo-bench/plots
    cp "$out"/backend-*.svg "$out"/backend-*.png "$out/RUN.txt" "$out/backend-tables.md" lessons/16-backend-bench/plots/
    cp "$out"/echo-*.svg "$out"/echo-*.png "$out/RUN.txt" "$out/echo-tables.md" lessons/17-echo-bench/plots/
    echo "plots copied to lessons/16-backend-bench/plots/ and lessons/17-echo-bench/plots/"
fi
echo "$(at) CSV and plots: $out/ (seed $seed, $pinmode)"

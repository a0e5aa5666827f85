#!/bin/sh
# bench-plots.sh DIR -- draw make bench's CSVs in DIR with gnuplot: an SVG
# (web, slides) and a PNG (PDF handouts) of each. Error bars are the
# bootstrap 95% intervals over the rounds; machine, date, seed and pinning
# mode (DIR/RUN.txt) are printed under every plot.
set -eu
out=$1
command -v gnuplot >/dev/null || { echo "bench-plots: gnuplot is not installed (make deps)" >&2; exit 1; }
run=$(sed -n 's/^machine: //p' "$out/RUN.txt")
seed=$(sed -n 's/^seed: //p' "$out/RUN.txt")
mode=$(sed -n 's/^mode: //p' "$out/RUN.txt")
foot="$run; seed $seed; $mode"

# draw NAME SIZE GNUPLOT-COMMANDS: NAME.svg and NAME.png from the same commands
draw() {
    for term in "svg size $2 dynamic noenhanced font 'sans,11' background '#ffffff'" "pngcairo size $2 noenhanced font 'sans,10'"; do
        ext=svg; case $term in png*) ext=png ;; esac
        gnuplot -e "set terminal $term; set output '$out/$1.$ext'; set datafile separator ',';
            set label 99 \"$foot\" at screen 0.01, screen 0.015 font ',8' textcolor '#555555';
            set bmargin 6; $3" || { echo "bench-plots: gnuplot failed on $1" >&2; return 1; }
    done
}

# ---- lesson 16 -------------------------------------------------------------------
# backend-A.dat: one file per backend; columns of the CSV kept
for a in 1active 100active; do
    for m in epoll poll select; do
        awk -F, -v m="$m" 'NR > 1 && $1 == m' "$out/backend-$a.csv" >"$out/backend-$a-$m.dat"
    done
done
plot16() { # active-file title
    p=""
    for m in epoll poll select; do
        [ -s "$out/backend-$1-$m.dat" ] &&
            p="$p${p:+, }'$out/backend-$1-$m.dat' using 2:7:8:9 with yerrorlines title '$m'"
    done
    echo "set title '$2'; plot $p"
}
draw backend-cpu "1000,420" "set multiplot layout 1,2; set logscale xy; set grid;
    set xlabel 'socketpairs watched (N)'; set ylabel 'thread CPU us per round (median, 95% CI)';
    set key top left; $(plot16 1active '1 of N active, 100 chained writes');
    $(plot16 100active '100 of N active, 100 chained writes'); unset multiplot"
# the control: loop passes per round, and fds poll passed to the kernel per round
awk -F, 'NR > 1 && $1 == "poll"' "$out/backend-1active.csv" >"$out/backend-loops-1.dat"
awk -F, 'NR > 1 && $1 == "poll"' "$out/backend-100active.csv" >"$out/backend-loops-100.dat"
draw backend-loops "1000,420" "set multiplot layout 1,2; set logscale x; set grid; set key top left;
    set xlabel 'socketpairs watched (N)'; set ylabel 'event_base_loop passes per round';
    set logscale y; set title 'loop passes per round (poll)';
    plot '$out/backend-loops-1.dat' using 2:11 with linespoints title '1 active',
         '$out/backend-loops-100.dat' using 2:11 with linespoints title '100 active';
    set ylabel 'fds passed to poll() per round'; set title 'scanning work per round (poll)';
    plot '$out/backend-loops-1.dat' using 2:12 with linespoints title '1 active',
         '$out/backend-loops-100.dat' using 2:12 with linespoints title '100 active';
    unset multiplot"

# ---- lesson 17 -------------------------------------------------------------------
# metric rows of a summary CSV: mode,pin,rate,server,metric,n,median,lo,hi,ratio,ratio_lo,ratio_hi,verdict
pick() { awk -F, -v m="$2" 'NR > 1 && $5 == m' "$1"; }
for mode in load pingpong; do
    [ -s "$out/echo-$mode.csv" ] || continue
    pick "$out/echo-$mode.csv" cpu_ns_per_msg >"$out/echo-$mode-cpu.dat"
    pick "$out/echo-$mode.csv" msgs_per_s >"$out/echo-$mode-rate.dat"
    pick "$out/echo-$mode.csv" p50_us >"$out/echo-$mode-p50.dat"
done
bars='set style fill solid 0.5 border -1; set boxwidth 0.6; set grid ytics; set xtics rotate by -30; set yrange [0:*]; unset key'
draw echo-load "1000,420" "set multiplot layout 1,2; $bars;
    set title 'server CPU per message (median, 95% CI)'; set ylabel 'ns per message';
    plot '$out/echo-load-cpu.dat' using 0:7:xtic(4) with boxes, '' using 0:7:8:9 with yerrorbars lc 'black';
    set title 'throughput (median, 95% CI)'; set ylabel 'messages per second';
    plot '$out/echo-load-rate.dat' using 0:7:xtic(4) with boxes, '' using 0:7:8:9 with yerrorbars lc 'black';
    unset multiplot"
awk -F, 'NR > 1 && $5 == "pair_cpu_ns_per_msg"' "$out/echo-load.csv" >"$out/echo-controls.dat"
draw echo-controls "900,420" "$bars; set yrange [0:*];
    set title 'controls: CPU per message, a / b round by round (median, 95% CI; 1 = tie)';
    set ylabel 'ratio a/b'; set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2;
    plot '$out/echo-controls.dat' using 0:10:xtic(4) with boxes, '' using 0:10:11:12 with yerrorbars lc 'black'"
if [ -s "$out/echo-pingpong-cpu.dat" ]; then
    draw echo-pingpong "1000,420" "set multiplot layout 1,2; $bars;
        set title 'ping-pong: server CPU per message'; set ylabel 'ns per message';
        plot '$out/echo-pingpong-cpu.dat' using 0:7:xtic(4) with boxes, '' using 0:7:8:9 with yerrorbars lc 'black';
        set title 'ping-pong: round-trip latency p50'; set ylabel 'microseconds';
        plot '$out/echo-pingpong-p50.dat' using 0:7:xtic(4) with boxes, '' using 0:7:8:9 with yerrorbars lc 'black';
        unset multiplot"
fi
if [ -s "$out/echo-open.csv" ]; then
    servers=$(awk -F, 'NR > 1 && !seen[$4]++ { printf "%s ", $4 }' "$out/echo-open.csv")
    panels=""
    for q in p50_us p99_us p999_us; do
        p=""
        for s in $servers; do
            awk -F, -v s="$s" -v q="$q" 'NR > 1 && $4 == s && $5 == q' "$out/echo-open.csv" >"$out/echo-open-$s-$q.dat"
            p="$p${p:+, }'$out/echo-open-$s-$q.dat' using 3:7:8:9 with yerrorlines title '$s'"
        done
        panels="$panels set title '$(echo "$q" | sed 's/_us//; s/p999/p99.9/') latency from the intended send time'; plot $p;"
    done
    draw echo-open "1200,420" "set multiplot layout 1,3; set logscale xy; set grid; set key top left;
        set xlabel 'offered messages per second'; set ylabel 'microseconds'; $panels unset multiplot"
fi
if [ -s "$out/echo-syscalls.csv" ]; then
    # syscalls per message, grouped: one row per server, columns recv send epoll_wait epoll_ctl ioctl
    awk -F, 'NR > 1 { g = $3
                      if (g ~ /^(recvfrom|recvmsg|read|readv)$/) g = "recv"
                      else if (g ~ /^(sendto|sendmsg|write|writev)$/) g = "send"
                      else if (g !~ /^(epoll_wait|epoll_ctl|ioctl)$/) next
                      if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
                      c[$1, g] += $5 }
             END { for (i = 1; i <= n; i++) { s = order[i]
                   printf "%s,%.3f,%.3f,%.3f,%.3f,%.3f\n", s, c[s, "recv"], c[s, "send"], c[s, "epoll_wait"], c[s, "epoll_ctl"], c[s, "ioctl"] } }' \
        "$out/echo-syscalls.csv" >"$out/echo-syscalls.dat"
    draw echo-syscalls "1000,420" "set style data histograms; set style histogram rowstacked;
        set style fill solid 0.7 border -1; set boxwidth 0.6; set grid ytics; set xtics rotate by -30;
        set key outside right; set yrange [0:*];
        set title 'ping-pong: system calls per message in the server (strace -c)'; set ylabel 'calls per message';
        plot '$out/echo-syscalls.dat' using 2:xtic(1) title 'recv', '' using 3 title 'send',
             '' using 4 title 'epoll_wait', '' using 5 title 'epoll_ctl', '' using 6 title 'ioctl(FIONREAD)'"
fi

# ---- the same numbers as Markdown tables, for the lesson READMEs ------------------------
{
    echo "Thread CPU us per round, median [95% CI]; ratio to epoll per round, median [95% CI]."
    for a in 1active 100active; do
        echo; echo "$a" | sed 's/active/ active of N:/'; echo
        echo "| N | epoll | poll | select | poll/epoll | select/epoll | loop passes (epoll, poll) |"
        echo "|---:|---:|---:|---:|---:|---:|---:|"
        awk -F, 'NR > 1 { n[$2] = 1; cpu[$1, $2] = sprintf("%.0f [%.0f-%.0f]", $7, $8, $9)
                          r[$1, $2] = sprintf("%.2fx [%.2f-%.2f]%s%s", $13, $14, $15, ($14 <= 1 && $15 >= 1) ? " tie" : "", ($15 - $14 > 0.1 * $13) ? " (wide)" : "")
                          l[$1, $2] = $11 }
             END { for (k in n) keys[++c] = k + 0
                   for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (keys[j] < keys[i]) { t = keys[i]; keys[i] = keys[j]; keys[j] = t }
                   for (i = 1; i <= c; i++) { k = keys[i]
                       printf "| %d | %s | %s | %s | %s | %s | %s, %s |\n", k, cpu["epoll", k], cpu["poll", k],
                           (("select", k) in cpu) ? cpu["select", k] : "skipped", r["poll", k],
                           (("select", k) in r) ? r["select", k] : "-", l["epoll", k], l["poll", k] } }' "$out/backend-$a.csv"
    done
} >"$out/backend-tables.md"
{
    echo "Closed loop. CPU ns per message and msgs/s: median [95% CI] over the rounds; ratio to epoll per round."
    echo
    echo "| server | CPU ns/msg | CPU vs epoll | msgs/s | p99 us |"
    echo "|---|---:|---:|---:|---:|"
    awk -F, 'NR > 1 && $5 !~ /^pair/ { if (!($4 in seen)) { seen[$4] = 1; o[++n] = $4 }
                 v[$4, $5] = sprintf("%.0f [%.0f-%.0f]", $7, $8, $9)
                 if ($5 == "cpu_ns_per_msg") r[$4] = ($13 == "baseline") ? "(baseline)" : sprintf("%.2fx [%.2f-%.2f] %s", $10, $11, $12, $13)
                 if ($5 == "p99_us") p[$4] = sprintf("%.0f", $7) }
         END { for (i = 1; i <= n; i++) s = o[i]; for (i = 1; i <= n; i++) { s = o[i]
                   printf "| %s | %s | %s | %s | %s |\n", s, v[s, "cpu_ns_per_msg"], r[s], v[s, "msgs_per_s"], p[s] } }' "$out/echo-load.csv"
    echo
    echo "Controls: a/b per round, median [95% CI]."
    echo
    echo "| a/b | CPU per message | msgs/s |"
    echo "|---|---:|---:|"
    awk -F, 'NR > 1 && $5 ~ /^pair/ { if (!($4 in seen)) { seen[$4] = 1; o[++n] = $4 }
                 v[$4, $5] = sprintf("%.2fx [%.2f-%.2f] %s", $10, $11, $12, $13) }
         END { for (i = 1; i <= n; i++) { s = o[i]
                   printf "| %s | %s | %s |\n", s, v[s, "pair_cpu_ns_per_msg"], v[s, "pair_msgs_per_s"] } }' "$out/echo-load.csv"
    if [ -s "$out/echo-pingpong.csv" ]; then
        echo
        echo "Ping-pong (one connection, one 64-byte message in flight)."
        echo
        echo "| server | CPU ns/msg | CPU vs epoll | round trips/s | p50 us | p99 us |"
        echo "|---|---:|---:|---:|---:|---:|"
        awk -F, 'NR > 1 && $5 !~ /^pair/ { if (!($4 in seen)) { seen[$4] = 1; o[++n] = $4 }
                     v[$4, $5] = sprintf("%.0f [%.0f-%.0f]", $7, $8, $9)
                     if ($5 == "cpu_ns_per_msg") r[$4] = ($13 == "baseline") ? "(baseline)" : sprintf("%.2fx [%.2f-%.2f] %s", $10, $11, $12, $13) }
             END { for (i = 1; i <= n; i++) { s = o[i]
                       printf "| %s | %s | %s | %s | %s | %s |\n", s, v[s, "cpu_ns_per_msg"], r[s], v[s, "msgs_per_s"], v[s, "p50_us"], v[s, "p99_us"] } }' "$out/echo-pingpong.csv"
    fi
    if [ -s "$out/echo-open.csv" ]; then
        echo
        echo "Open loop (10 connections, 1 KiB messages), latency from the intended send time, median [95% CI] over the rounds."
        echo
        echo "| offered msgs/s | server | p50 us | p99 us | p99.9 us |"
        echo "|---:|---|---:|---:|---:|"
        awk -F, 'NR > 1 && $5 !~ /^pair/ { k = $3 "|" $4; if (!(k in seen)) { seen[k] = 1; o[++n] = k }
                     v[k, $5] = sprintf("%.0f [%.0f-%.0f]", $7, $8, $9) }
             END { for (i = 1; i <= n; i++) { k = o[i]; split(k, a, "|")
                       printf "| %s | %s | %s | %s | %s |\n", a[1], a[2], v[k, "p50_us"], v[k, "p99_us"], v[k, "p999_us"] } }' "$out/echo-open.csv"
    fi
    if [ -s "$out/echo-syscalls.dat" ]; then
        echo
        echo "System calls per message in the server, ping-pong (strace -c)."
        echo
        echo "| server | recv | send | epoll_wait | epoll_ctl | ioctl |"
        echo "|---|---:|---:|---:|---:|---:|"
        awk -F, '{ printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", $1, $2, $3, $4, $5, $6 }' "$out/echo-syscalls.dat"
    fi
} >"$out/echo-tables.md"
rm -f "$out"/*.dat
echo "plots: $(cd "$out" && printf '%s ' ./*.svg)"

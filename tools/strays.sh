#!/bin/sh
# strays.sh RESULTS -- after the tests: nothing that this `make check` started
# may still run. A process is ours when its environment carries this run's
# marker, EVLAB_CHECK_RUN (set by `make check` for everything it starts, and
# inherited by every descendant, sandboxed ones included). Our strays are
# listed, killed, and counted as one failure; nobody else's process is looked
# at twice, let alone killed. /proc is read directly (no procps needed).
set -u
results=$1
if [ -z "${EVLAB_CHECK_RUN:-}" ]; then
    echo "strays.sh: EVLAB_CHECK_RUN is not set (run it from make check)" >&2
    echo "no-stray-processes 0 1" >>"$results"; exit 0
fi
if [ ! -r /proc/self/environ ]; then
    echo "strays.sh: /proc is not readable here: cannot check for strays" >&2
    echo "no-stray-processes 0 1" >>"$results"; exit 0
fi
strays=$(perl -e '
    my ($marker, $me) = @ARGV;
    my %skip;   # ourselves and our ancestors (make, the shells) carry the marker too
    for (my $p = $me; $p > 1;) {
        $skip{$p} = 1;
        open(my $s, "<", "/proc/$p/stat") or last;
        my $l = <$s>; close $s;
        ($p) = $l =~ /\)\s+\S+\s+(\d+)/ or last;
    }
    opendir(my $d, "/proc") or die;
    for my $pid (grep { /^\d+$/ } readdir $d) {
        next if $skip{$pid} || $pid == $$;
        open(my $st, "<", "/proc/$pid/stat") or next;
        my $stat = <$st>; close $st;
        my ($ppid) = $stat =~ /\)\s+\S+\s+(\d+)/;
        next if defined $ppid && ($ppid == $$ || $ppid == $me);   # this check itself
        open(my $e, "<", "/proc/$pid/environ") or next;
        local $/; my $env = <$e>; close $e;
        next unless defined $env && index("\0$env", "\0EVLAB_CHECK_RUN=$marker\0") >= 0;
        open(my $c, "<", "/proc/$pid/cmdline"); my $cmd = <$c> // ""; close $c if $c;
        $cmd =~ s/\0/ /g;
        print "$pid $cmd\n";
    }' "$EVLAB_CHECK_RUN" "$$")
if [ -z "$strays" ]; then
    echo "no stray processes" ; echo "no-stray-processes 1 0" >>"$results"
else
    echo "stray processes left by the tests:"; echo "$strays" | head -n 20
    { echo "stray processes left by the tests:"; echo "$strays" | head -n 20; } >>"$results.details"
    echo "$strays" | while read -r pid _; do kill -9 "$pid" 2>/dev/null; done
    echo "no-stray-processes 0 1" >>"$results"
fi

#!/bin/sh
# deps.sh -- install what one evlab command needs, by group, only if missing.
#
#   tools/deps.sh tour              make tour: compiler, libevent, pkg-config
#   tools/deps.sh tour tests docs   make check
#   tools/deps.sh bench             make bench adds libuv, libev, gnuplot
#   tools/deps.sh --list GROUP      print a group's Debian packages, one a line
#   tools/deps.sh --groups          print the group names
#
# One line per group on stdout; apt's own output goes to build/deps.log.
# Debian/Ubuntu: apt-get --no-install-recommends (with sudo when not root).
# macOS: Homebrew. Elsewhere: print the packages to install.
# `make` and `git` are assumed (you needed them to get here), but the groups
# still name what their targets run, so a bare container works too.
set -eu

# Each group lists exactly what its target runs (tests/tools/deps.c checks
# these lists against the commands the targets call).
#   tour:  cc (gcc, libc6-dev), pkg-config, libevent; the tour drives the
#          lesson servers itself, so it needs no socat or netcat.
#   tests: Criterion; valgrind, socat, strace; ps (procps) for the stray
#          check; clang-format; git and prove (perl) in the grader's
#          tests; zip/unzip for Gradescope; xmllint for JUnit; bubblewrap for
#          the sandbox; libuv/libev because make check builds every lesson,
#          lesson 17's uv_echo and ev_echo included, and tests them;
#          gnuplot because lesson 17's suite runs make bench's script (quick),
#          plots included.
#   docs:  pandoc, weasyprint (PDF), pdftotext/pdftoppm, headless chromium,
#          Graphviz (dot: the diagrams), DejaVu fonts (embedded in the decks).
#   bench: libuv and libev for lesson 17's comparison, gnuplot for the plots,
#          strace for the epoll_ctl count.
group_tour="make gcc libc6-dev pkg-config libevent-dev"
group_tests="libcriterion-dev valgrind socat strace procps clang-format git perl zip unzip
             libxml2-utils bubblewrap libuv1-dev libev-dev gnuplot-nox"
group_docs="pandoc weasyprint poppler-utils chromium graphviz fonts-dejavu-core"
group_bench="libuv1-dev libev-dev gnuplot-nox strace procps"
groups="tour tests docs bench"

brew_tour="pkg-config libevent"
brew_tests="criterion socat clang-format libuv libev zip gnuplot"
brew_docs="pandoc weasyprint poppler"
brew_bench="libuv libev gnuplot"

die() { echo "evlab deps: $*" >&2; exit 2; }

list() {
    case "$1" in
    tour) echo $group_tour ;;
    tests) echo $group_tests ;;
    docs) echo $group_docs ;;
    bench) echo $group_bench ;;
    *) die "unknown group '$1' (groups: $groups)" ;;
    esac
}

if [ "${1:-}" = "--groups" ]; then echo "$groups"; exit 0; fi
if [ "${1:-}" = "--list" ]; then
    [ $# -eq 2 ] || die "usage: deps.sh --list GROUP"
    list "$2" | tr ' ' '\n'
    exit 0
fi
[ $# -ge 1 ] || set -- tour
for g in "$@"; do list "$g" >/dev/null; done

mkdir -p build
log=build/deps.log
: >>"$log"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install as root: apt-get install $(for g in "$@"; do list "$g"; done)"
        sudo="sudo"
    fi
    updated=""
    for g in "$@"; do
        missing=""
        for p in $(list "$g"); do installed "$p" || missing="$missing $p"; done
        n=$(list "$g" | wc -w)
        if [ -z "$missing" ]; then
            echo "evlab deps: $g: all $n packages are installed."
            continue
        fi
        printf 'evlab deps: %s: installing%s ... ' "$g" "$missing"
        start=$(date +%s)
        {
            echo "== $(date -u '+%F %T') group $g: apt-get install$missing"
        } >>"$log"
        if [ -z "$updated" ]; then
            # shellcheck disable=SC2086
            $sudo apt-get update >>"$log" 2>&1 || { echo "failed (apt-get update; see $log)"; exit 1; }
            updated=1
        fi
        # shellcheck disable=SC2086
        if DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends $missing \
            >>"$log" 2>&1; then
            echo "done in $(($(date +%s) - start)) s (details: $log)"
        else
            echo "failed (see $log)"
            tail -5 "$log" >&2
            exit 1
        fi
    done
elif command -v brew >/dev/null 2>&1; then
    for g in "$@"; do
        eval "pk=\$brew_$g"
        missing=""
        for p in $pk; do brew list "$p" >/dev/null 2>&1 || missing="$missing $p"; done
        if [ -z "$missing" ]; then echo "evlab deps: $g: everything is installed."; continue; fi
        echo "evlab deps: $g: brew install$missing (details: $log)"
        # shellcheck disable=SC2086
        brew install $missing >>"$log" 2>&1 || { echo "evlab deps: $g: failed (see $log)"; exit 1; }
    done
else
    echo "evlab deps: unknown system. Install these packages (Debian names):" >&2
    for g in "$@"; do echo "  $g: $(list "$g")" >&2; done
    exit 1
fi

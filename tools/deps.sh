#!/bin/sh
# deps.sh -- install what evlab needs, only if something is missing (make deps).
# Debian/Ubuntu: apt-get (with sudo when not root). macOS: Homebrew.
# Elsewhere: print the command to run.
set -eu

# Debian package names. EVLAB_DEPS_EXTRA adds more (for example chromium in CI).
pkgs="pkg-config libevent-dev libcriterion-dev valgrind socat netcat-openbsd
      strace zip clang-format libxml2-utils pandoc weasyprint poppler-utils gnuplot-nox libuv1-dev libev-dev ${EVLAB_DEPS_EXTRA:-}"
brew_pkgs="pkg-config libevent criterion clang-format pandoc weasyprint poppler gnuplot libuv libev socat"

if command -v dpkg-query >/dev/null 2>&1; then
    missing=""
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $p"
    done
    if [ -z "$missing" ]; then
        echo "evlab deps: everything is installed."
        exit 0
    fi
    echo "evlab deps: installing$missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
elif command -v brew >/dev/null 2>&1; then
    missing=""
    for p in $brew_pkgs; do brew list "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    if [ -z "$missing" ]; then echo "evlab deps: everything is installed."; exit 0; fi
    # shellcheck disable=SC2086
    brew install $missing
else
    echo "evlab deps: unknown system. Install these packages (Debian names):" >&2
    echo "  $pkgs" | tr -s ' \n' ' ' >&2; echo >&2
    exit 1
fi

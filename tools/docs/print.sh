#!/bin/sh
# print.sh DECK.html OUT.pdf -- one slide per page, printed by headless Chromium.
set -eu
deck=$1 out=$2
profile=$(mktemp -d /tmp/evlab-print-XXXXXX)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --virtual-time-budget=5000 --no-pdf-header-footer --print-to-pdf="$out" \
    "file://$(pwd)/$deck" 2>/dev/null
[ -s "$out" ] || { echo "print.sh: no PDF of $deck" >&2; exit 1; }

#!/bin/sh
# shot.sh FILE.html#FRAGMENT OUT.png -- one 1280x720 screenshot in headless Chromium,
# with a profile of its own (removed afterwards).
set -eu
page=$1 out=$2
profile=$(mktemp -d /tmp/evlab-shot-XXXXXX)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --hide-scrollbars --window-size=1280,720 --virtual-time-budget=5000 \
    --screenshot="$out" "file://$(pwd)/$page" 2>/dev/null
[ -s "$out" ] || { echo "shot.sh: no screenshot of $page" >&2; exit 1; }

#!/bin/sh
# check-shared.sh -- neighbouring lessons that share code must share it exactly.
#
# usage: tools/check-shared.sh FILE...   (exit 0: all shared regions agree)
#
# A region is the lines between "/* shared: NAME */" and "/* end shared: NAME */"
# (each comment alone on its line, indented or not). Every region NAME must
# appear in at least two of the FILEs, its text must be the same bytes in all of
# them, and any two files must hold their common regions in the same order.
# Slide markers ("// [name]", "// [/name]") are left out of the comparison:
# each file keeps the ones its own deck uses.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 FILE FILE..." >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
bad=0

n=0
for f in "$@"; do
    n=$((n + 1))
    mkdir -p "$tmp/$n"
    printf '%s\n' "$f" > "$tmp/$n.name"
    : > "$tmp/$n.order"
    awk -v dir="$tmp/$n" -v order="$tmp/$n.order" -v file="$f" '
        function fail(msg) { printf "%s:%d: %s\n", file, FNR, msg > "/dev/stderr"; err = 1 }
        /^[ \t]*\/\* shared: [A-Za-z0-9_-]+ \*\/[ \t]*$/ {
            name = $3
            if (cur != "") fail("region " name " opens inside region " cur)
            else if (name in seen) fail("region " name " appears twice")
            else { cur = name; seen[name] = 1; out = dir "/" name; printf "" > out; print name >> order }
            next
        }
        /^[ \t]*\/\* end shared: [A-Za-z0-9_-]+ \*\/[ \t]*$/ {
            if ($4 != cur) fail("end of region " $4 " but the open region is \"" cur "\"")
            else { close(out); cur = "" }
            next
        }
        /^[ \t]*\/\/ *\[\/?[A-Za-z0-9_-]+\][ \t]*$/ { next }   # slide marker
        cur != "" { print >> out }
        END {
            if (cur != "") fail("region " cur " is never closed")
            exit err
        }' "$f" || bad=1
done

# Each region: in two files at least, the same bytes everywhere.
for name in $(cat "$tmp"/*.order | sort -u); do
    first=""
    count=0
    i=0
    for f in "$@"; do
        i=$((i + 1))
        [ -f "$tmp/$i/$name" ] || continue
        count=$((count + 1))
        if [ -z "$first" ]; then
            first=$i
        elif ! cmp -s "$tmp/$first/$name" "$tmp/$i/$name"; then
            echo "shared region '$name' differs between $(cat "$tmp/$first.name") and $f:" >&2
            diff -u --label "$(cat "$tmp/$first.name")" --label "$f" "$tmp/$first/$name" "$tmp/$i/$name" >&2 || true
            bad=1
        fi
    done
    if [ "$count" -lt 2 ]; then
        echo "shared region '$name' is only in $(cat "$tmp/$first.name")" >&2
        bad=1
    fi
done

# Common regions in the same order, for every pair of files.
i=0
for a in "$@"; do
    i=$((i + 1))
    j=0
    for b in "$@"; do
        j=$((j + 1))
        [ "$j" -gt "$i" ] || continue
        grep -Fxf "$tmp/$j.order" "$tmp/$i.order" > "$tmp/ab" || true
        grep -Fxf "$tmp/$i.order" "$tmp/$j.order" > "$tmp/ba" || true
        if ! cmp -s "$tmp/ab" "$tmp/ba"; then
            echo "shared regions are in a different order in $a ($(tr '\n' ' ' < "$tmp/ab")) and $b ($(tr '\n' ' ' < "$tmp/ba"))" >&2
            bad=1
        fi
    done
done

[ "$bad" -eq 0 ] || exit 1
echo "shared regions agree in: $*"

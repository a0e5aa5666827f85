#!/bin/sh
# buildflags.sh FILE.c -- the compiler and linker flags a program needs, read
# from the build command in its own header comment, so the command a student
# copies is the command the Makefile runs:
#    *   cc -Wall -o prog prog.c $(pkg-config --cflags --libs libevent libevent_pthreads) -lm
# gives `pkg-config --cflags --libs libevent libevent_pthreads` plus -lm.
# A file whose header names no pkg-config modules gets libevent.
set -eu
line=$(grep -m 1 -F 'pkg-config --cflags --libs ' "$1" ||
       grep -m 1 -E '^[[:space:]]*\*[[:space:]]+(g?cc|clang) ' "$1" || true)
mods=$(printf '%s' "$line" | sed -n 's/.*pkg-config --cflags --libs \([a-z_0-9 ]*\)).*/\1/p')
extra=$(printf '%s' "$line" | sed 's/\$(pkg-config[^)]*)//' | grep -o -E '(^| )-(l[a-z_0-9]+|pthread)' | tr -d ' ' | tr '\n' ' ' || true)
if [ -z "$line" ]; then mods=libevent; fi
[ -n "$mods" ] && pkg-config --cflags --libs $mods
echo "$extra"

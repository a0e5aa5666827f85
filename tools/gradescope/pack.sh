#!/bin/sh
# pack.sh COURSE_ROOT OUT_DIR -- stage and zip a Gradescope autograder:
# OUT_DIR/autograder.zip holding setup.sh, run_autograder and what grading
# needs from COURSE_ROOT (Makefile, tools, lesson.h, tests/support,
# tests/grading/*.c|*.h, preload/ and loader/, the exercise starters with
# their contract headers, READMEs and exercise.mk manifests). Never the solutions. The runner's sources come from the evlab tree this script is in.
set -eu
root=$(cd "$1" && pwd); out=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
stage=$out/stage
rm -rf "$stage"; mkdir -p "$stage/tools/evlab" "$stage/lessons" "$stage/tests/support" "$stage/tests/grading"
cp "$here/tools/gradescope/setup.sh" "$here/tools/gradescope/run_autograder" "$stage/"
chmod 755 "$stage/setup.sh" "$stage/run_autograder"
cp "$root/Makefile" "$stage/"
[ -f "$root/evlab" ] && cp "$root/evlab" "$stage/" || true
cp "$root"/tools/*.sh "$stage/tools/" 2>/dev/null || true
cp "$here"/tools/evlab/*.c "$here"/tools/evlab/*.h "$stage/tools/evlab/"
cp "$root"/lessons/*.h "$stage/lessons/"
cp "$root"/tests/support/* "$stage/tests/support/"
for f in "$root"/tests/grading/*.c "$root"/tests/grading/*.h; do [ -f "$f" ] && cp "$f" "$stage/tests/grading/"; done
# Helper libraries a suite needs (exercise.mk's "needs"), never the broken variants.
if [ -d "$root/tests/grading/preload" ]; then
    mkdir -p "$stage/tests/grading/preload"
    cp "$root"/tests/grading/preload/*.c "$stage/tests/grading/preload/" 2>/dev/null || true
fi
# The loaders that run a function-level exercise's library for its suite
# (exercise.mk's "needs"), with their shared header.
if [ -d "$root/tests/grading/loader" ]; then
    mkdir -p "$stage/tests/grading/loader"
    cp "$root"/tests/grading/loader/*.c "$root"/tests/grading/loader/*.h "$stage/tests/grading/loader/" 2>/dev/null || true
fi
for d in "$root"/exercises/*/; do
    [ -d "$d" ] || continue
    n=$(basename "$d"); mkdir -p "$stage/exercises/$n"
    find "$d" -maxdepth 1 -type f -exec cp {} "$stage/exercises/$n/" \;
done
for h in "$root"/exercises/*.h; do [ -f "$h" ] && cp "$h" "$stage/exercises/"; done
rm -f "$out/autograder.zip"
if command -v zip >/dev/null 2>&1; then
    (cd "$stage" && zip -qr "../autograder.zip" .)
elif command -v python3 >/dev/null 2>&1; then
    (cd "$stage" && python3 -c 'import os,zipfile
z=zipfile.ZipFile("../autograder.zip","w",zipfile.ZIP_DEFLATED)
for d,_,fs in os.walk("."):
    for f in fs:
        p=os.path.join(d,f); z.write(p,os.path.relpath(p,"."))')
else
    echo "pack.sh: neither zip nor python3 is installed (apt-get install zip); staged in $stage" >&2
    exit 1
fi
echo "$out/autograder.zip"

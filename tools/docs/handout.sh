#!/bin/sh
# handout.sh NN-slug -- print the Markdown of one lab sheet on stdout, in this order:
# objectives, prerequisites, time (lessons/NN-slug/lab.md), set-up, the steps (the
# lesson README's sections, each step followed by its checkpoint and by the marked
# snippets it names), questions, the graded task with its points per test (from the
# GRADED(...) lines of tests/grading/NN-*.c), how to check and how to submit.
set -eu
slug=$1
lesson=lessons/$slug
nn=${slug%%-*}
[ -f "$lesson/README.md" ] || { echo "handout.sh: no $lesson/README.md" >&2; exit 1; }
meta=$lesson/lab.md
[ -f "$meta" ] || meta=/dev/null
title=$(head -n 1 "$lesson/README.md" | sed 's/^# *//')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf -- '---\ntitle: "Lab: %s"\nevlab-lesson: %s\n---\n\n' "$title" "$slug"

# Relative links lead nowhere in a printed sheet (weasyprint makes them file:///
# paths of the build machine): keep their text, and name the path when it is a file.
unlink() { sed -E 's/\[([^]]*)\]\((\.\.?\/[^)]*|[A-Za-z0-9_./-]+\/)\)/\1/g'; }

for src in "$lesson"/*.c; do
    [ -f "$src" ] || continue
    sed -n 's|^[[:space:]]*//[[:space:]]*\[\([A-Za-z0-9_-]*\)\][[:space:]]*$|\1|p' "$src" |
        while read -r name; do printf '%s\t%s\n' "$(basename "$src")" "$name"; done
done | awk '!seen[$0]++' > "$tmp/snips"
tail -n +2 slides/handout-setup.md > "$tmp/setup"

# Images relative to the lesson (plots/x.svg) are made relative to the top of
# evlab, where pandoc runs; a plot's PNG twin replaces its SVG (weasyprint
# cannot draw gnuplot's SVG).
tail -n +2 "$lesson/README.md" |
    sed -e "s#](plots/\([^)]*\)\.svg)#](plots/\1.png)#g" -e "s#](plots/#]($lesson/plots/#g" | unlink |
    awk -v meta="$meta" -v snips="$tmp/snips" -v sdir="$lesson" \
        -v setup_text="$(cat "$tmp/setup")" -f tools/docs/labsheet.awk

echo
echo "## Graded task"
echo
if [ -f "exercises/$slug/README.md" ]; then
    tail -n +2 "exercises/$slug/README.md" | unlink | sed 's/^##/###/'
    echo
    echo "### Points"
    echo
    tools/docs/points.sh "$nn"
    echo
elif [ -f "$meta" ] && grep -q '^## Task' "$meta"; then
    sed -n '/^## Task/,/^## /{/^## /d;p}' "$meta"
else
    echo "This lesson has no graded exercise."
fi
echo
echo "## How to check and submit"
echo
if [ -f "exercises/$slug/README.md" ]; then
    cat <<TXT
Check your work as often as you like; it runs the same tests the grader runs:

    ./evlab check $nn        # points so far, and the first failing test
    ./evlab watch $nn        # re-check on every save

Submit the way your course says:

- **Gradescope:** upload your \`exercises/$slug/\` files; the autograder runs
  the tests above and gives the points in the table.
- **By hand:** your instructor runs \`./evlab grade --submission DIR\` on your
  folder, or \`./evlab grade-class\` on the whole class.
TXT
else
    echo "Hand in your predictions and your measured table the way your course says."
fi

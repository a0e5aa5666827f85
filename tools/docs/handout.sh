#!/bin/sh
# handout.sh NN-slug -- print the Markdown of one lab handout on stdout:
# the lesson README, set-up, every marked snippet of the lesson's programs
# (pulled in by include.lua), then the exercise README if there is one.
set -eu
slug=$1
lesson=lessons/$slug
[ -f "$lesson/README.md" ] || { echo "handout.sh: no $lesson/README.md" >&2; exit 1; }
title=$(head -n 1 "$lesson/README.md" | sed 's/^# *//')
printf -- '---\ntitle: "Lab: %s"\nevlab-lesson: %s\n---\n\n' "$title" "$slug"
cat slides/handout-setup.md
echo
# The lesson text without its title line (the handout's title replaces it).
# Images and links relative to the lesson (plots/x.svg) are made relative to
# the top of evlab, where pandoc runs; a plot's PNG twin replaces its SVG
# (weasyprint cannot draw gnuplot's SVG).
tail -n +2 "$lesson/README.md" |
    sed -e "s#](plots/\([^)]*\)\.svg)#](plots/\1.png)#g" -e "s#](plots/#]($lesson/plots/#g"
echo
echo "## The code, from the sources"
for src in "$lesson"/*.c; do
    for name in $(sed -n 's|^[[:space:]]*//[[:space:]]*\[\([A-Za-z0-9_-]*\)\][[:space:]]*$|\1|p' "$src"); do
        printf '\n`%s` · `%s`\n\n```{.c include="%s" snippet="%s"}\n```\n' "$(basename "$src")" "$name" "$src" "$name"
    done
done
if [ -f "exercises/$slug/README.md" ]; then
    echo
    echo "## Exercise"
    tail -n +2 "exercises/$slug/README.md" | sed 's/^##/###/'
fi

#!/bin/sh
# answers.sh NN-slug -- the answer key of one lesson (Markdown on stdout): its
# questions as the students see them, then lessons/NN-slug/answers.md.
set -eu
slug=$1
lesson=lessons/$slug
title=$(head -n 1 "$lesson/README.md" | sed 's/^# *//')
printf -- '---\ntitle: "Answer key: %s"\n---\n\n' "$title"
echo "Instructor build only. Outputs quoted below were checked against a run of the"
echo "lesson's programs on Debian 12, libevent 2.1.12 (epoll) unless the answer says otherwise."
echo
echo "## The questions"
echo
sed -n '/^## Questions/,/^## /{/^## /d;p}' "$lesson/README.md" | sed -E 's/\[([^]]*)\]\([^)]*\)/\1/g'
echo
echo "## Answers"
echo
if [ -f "$lesson/answers.md" ]; then
    tail -n +2 "$lesson/answers.md"
else
    echo "*No key written yet for this lesson.*"
fi

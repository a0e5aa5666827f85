#!/bin/sh
# instructor-index.sh -- build/instructor/index.html: the guide, decks with notes,
# deck PDFs and answer keys, one row per lesson. Relative links only.
set -eu
cat <<'HTML'
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>evlab: instructor build</title>
<style>body{font-family:"DejaVu Sans",sans-serif;color:#1b2430;max-width:60em;margin:2em auto}
h1{color:#1d4e89;border-bottom:3px solid #1d4e89}td,th{padding:5px 10px;text-align:left;border-bottom:1px solid #c5ccd3}
th{color:#1d4e89}a{color:#1d4e89}table{border-collapse:collapse}</style>
</head><body><h1>evlab: instructor build</h1>
<p>Not for students. Start with the <a href="guide.html">course guide</a> (schedule, lab machine
set-up, grading, adding a lesson). The student pages are in <a href="../docs-index.html">the course home page</a>.</p>
<table><tr><th>lesson</th><th>deck with notes</th><th>deck PDF</th><th>answer key</th></tr>
HTML
for dir in lessons/[0-9][0-9]-*/; do
    slug=$(basename "$dir")
    title=$(head -n 1 "$dir/README.md" | sed 's/^# *//; s/&/\&amp;/g; s/</\&lt;/g')
    if [ -f "slides/$slug.md" ]; then
        deck="<a href=\"slides/$slug.html\">deck</a>"; pdf="<a href=\"pdf/$slug.pdf\">PDF</a>"
    else deck="—"; pdf="—"; fi
    printf '<tr><td>%s</td><td>%s</td><td>%s</td><td><a href="answers/%s.html">key</a></td></tr>\n' \
        "$title" "$deck" "$pdf" "$slug"
done
echo '</table></body></html>'

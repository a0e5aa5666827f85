#!/bin/sh
# index.sh SLUG... -- the course index page: every deck and handout, one row per lesson.
set -eu
cat <<'HTML'
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>evlab: slides and lab handouts</title>
<style>body{font-family:sans-serif;max-width:52em;margin:2em auto}td,th{padding:4px 10px;text-align:left}</style>
</head><body><h1>evlab: slides and lab handouts</h1><table>
<tr><th>lesson</th><th>slides</th><th>handout</th></tr>
HTML
for slug in $(ls -d lessons/[0-9][0-9]-*/ | xargs -n1 basename); do
    title=$(head -n 1 "lessons/$slug/README.md" | sed 's/^# *//; s/&/\&amp;/g; s/</\&lt;/g')
    deck="—"
    [ -f "slides/$slug.md" ] && deck="<a href=\"slides/$slug.html\">deck</a>"
    printf '<tr><td>%s</td><td>%s</td><td><a href="handouts/%s.html">HTML</a> · <a href="handouts/%s.pdf">PDF</a></td></tr>\n' \
        "$title" "$deck" "$slug" "$slug"
done
echo '</table></body></html>'

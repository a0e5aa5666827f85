#!/bin/sh
# index.sh [SLUG...] -- the course home page (build/docs-index.html) on stdout:
# overview, every lesson with its exercise and points, links to its deck and lab
# sheet, the instructor build, and how to present. Links are relative to build/.
set -eu
esc() { sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g'; }
cat <<'HTML'
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>evlab: learn libevent by watching it work</title>
<style>
body { font-family: "DejaVu Sans", sans-serif; color: #1b2430; background: #0b1a2b; margin: 0; }
main { max-width: 1100px; margin: 24px auto; background: #fff; padding: 32px 56px; }
h1 { color: #1d4e89; font-size: 36px; border-bottom: 3px solid #1d4e89; margin-top: 0; }
h2 { color: #1d4e89; font-size: 26px; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; font-size: 15px; }
td, th { border-bottom: 1px solid #c5ccd3; padding: 6px 8px; text-align: left; vertical-align: top; }
th { color: #1d4e89; }
td.n, th.n { text-align: right; }
code, kbd { font-family: "DejaVu Sans Mono", monospace; background: #f4f6f8; padding: 0 3px; }
kbd { border: 1px solid #c5ccd3; border-radius: 3px; }
a { color: #1d4e89; }
</style></head><body><main>
<h1>evlab: learn libevent by watching it work</h1>
<p>A course in event-driven I/O in C with libevent 2.1. Each lesson is a program that
narrates what libevent does as it happens; its deck and its lab sheet quote the same
compiled sources, and print the output of the real programs. Lessons 01–15 each have a
graded exercise, checked by suites that use real sockets and hostile clients.
Lessons 16 and 17 are benchmarks: predict, then measure.</p>
<p>Start a lab machine with <code>make tour</code> (installs what is missing, then walks
through the lessons) or <code>make check</code> (builds everything and runs every test).
Students work with <code>./evlab list</code>, <code>./evlab run NN</code> and
<code>./evlab check NN</code>.</p>
<h2>Lessons</h2>
<table>
<tr><th>NN</th><th>lesson</th><th>slides</th><th>lab sheet</th><th>exercise</th><th class="n">points</th></tr>
HTML
total=0
for dir in lessons/[0-9][0-9]-*/; do
    slug=$(basename "$dir")
    nn=${slug%%-*}
    title=$(head -n 1 "$dir/README.md" | sed 's/^# *[0-9]* *· *//' | esc)
    deck="—"
    [ -f "slides/$slug.md" ] && deck="<a href=\"slides/$slug.html\">deck</a>"
    ex="predict, then measure"
    pts=""
    if [ -f "exercises/$slug/README.md" ]; then
        ex=$(head -n 1 "exercises/$slug/README.md" | sed 's/^# *[0-9]* *· *//' | esc)
        pts=$(tools/docs/points.sh "$nn" | sed -n 's/^| \*\*total\*\* | \([0-9]*\) tests | \*\*\([0-9]*\)\*\* |$/\2 (\1 tests)/p')
        total=$((total + ${pts%% *}))
    fi
    printf '<tr><td>%s</td><td>%s</td><td>%s</td><td><a href="handouts/%s.html">HTML</a> · <a href="handouts/%s.pdf">PDF</a></td><td>%s</td><td class="n">%s</td></tr>\n' \
        "$nn" "$title" "$deck" "$slug" "$slug" "$ex" "$pts"
done
printf '<tr><th></th><th>all exercises</th><th></th><th></th><th></th><th class="n">%d</th></tr>\n</table>\n' "$total"
cat <<'HTML'
<p>Points per test are in each lab sheet's "Graded task" section; they come from the
grading suites, the same numbers <code>./evlab check</code> and <code>./evlab grade</code> report.</p>
<h2>How to present</h2>
<ul>
<li>Open a deck in Chromium or Firefox and press <kbd>f</kbd> for full screen. The slide is
designed at 1280×720 and scales to the screen.</li>
<li><kbd>→</kbd>, <kbd>Space</kbd> or <kbd>Page Down</kbd>: next; <kbd>←</kbd> or <kbd>Page Up</kbd>: back;
type a number then <kbd>Enter</kbd> to jump; <kbd>?</kbd> lists the keys.</li>
<li>The address ends in <code>#N</code> for slide N: a reload or a link keeps your place
(<code>slides/10-echo-server.html#5</code>).</li>
<li><kbd>n</kbd> toggles the speaker notes (they are in the instructor build's decks only). <kbd>Ctrl</kbd>+<kbd>P</kbd> prints one slide a page.</li>
<li>Code-heavy lessons go one step a slide, code beside what it shows; elsewhere long code continues on a "(continued)" slide, never clipped.</li>
</ul>
<h2>For instructors</h2>
<p><code>make instructor</code> builds <a href="instructor/index.html">instructor/</a>: the decks with
speaker notes (n shows them), a PDF of each deck, answer keys, and the course guide (schedule,
lab machine set-up, grading with <code>./evlab grade-class</code> and Gradescope, how to add
a lesson). It is kept out of the student build: hand students <code>slides/</code> and
<code>handouts/</code> only.</p>
</main></body></html>
HTML

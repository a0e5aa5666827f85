# labsheet.awk -- turn a lesson README (title line removed) into the body of a lab sheet.
# Variables: meta (lab.md or /dev/null), snips (lines "file.c<TAB>name"), setup (set-up Markdown).
# Sections of the README become: intro, then Objectives/Prerequisites/Time from lab.md,
# Set-up (+ the README's Run), Steps (every other section, each step followed by its
# checkpoint from lab.md and by the marked snippets it names), Try this, Questions.
function emit_meta(sec,   line, on, f) {
    on = 0
    while ((getline line < meta) > 0) {
        if (line ~ /^## /) { on = (substr(line, 4) == sec) ; if (on) print "## " sec; continue }
        if (on) print line
    }
    close(meta)
    print ""
}
function emit_body(sec,   line, on) {
    # the body of one lab.md section, without its heading
    on = 0
    while ((getline line < meta) > 0) {
        if (line ~ /^## /) { on = (substr(line, 4) == sec); continue }
        if (on) print line
    }
    close(meta)
    print ""
}
function load_checkpoints(   line, on, n, k, nm) {
    on = 0; ncp = 0; ncode = 0
    while ((getline line < meta) > 0) {
        if (line ~ /^## /) { on = (line == "## Checkpoints"); continue }
        if (on && line ~ /^[0-9]+\. /) { n = line; sub(/^[0-9]+\. +/, "", n); cp[++ncp] = n }
        else if (line ~ /^- step [0-9]+: `[A-Za-z0-9_-]+` /) {
            # "- step N: `snippet` sentence": the snippet and its sentence go with step N
            n = line; sub(/^- step /, "", n); k = n + 0
            sub(/^[0-9]+: `/, "", n); nm = n; sub(/`.*/, "", nm); sub(/^[^`]*` */, "", n)
            ncode++; code_step[ncode] = k; code_name[ncode] = nm; code_text[ncode] = n
        }
        else if (on && line ~ /^   +[^ ]/ && ncp > 0) { n = line; sub(/^ +/, " ", n); cp[ncp] = cp[ncp] n }
    }
    close(meta)
}
function pad(n,   s) { s = ""; while (n-- > 0) s = s " "; return s }
function step_code(k, ind,   c, i) {
    for (c = 1; c <= ncode; c++) {
        if (code_step[c] != k || code_done[c]) continue
        code_done[c] = 1
        for (i = 1; i <= nsn; i++) if (sname[i] == code_name[c] && !used[i]) break
        if (i > nsn) { print "labsheet.awk: no snippet " code_name[c] > "/dev/stderr"; exit 1 }
        used[i] = 1
        print ""
        printf "%s%s (`%s`, `%s`)\n\n", pad(ind), code_text[c], sfile[i], sname[i]
        printf "%s```{.c include=\"%s\" snippet=\"%s\"}\n%s```\n\n", pad(ind), sdir "/" sfile[i], sname[i], pad(ind)
    }
}
function checkpoint(k, ind) {
    step_code(k, ind)
    if (k > ncp || done_cp[k]) return
    done_cp[k] = 1
    print ""
    printf "%s> **Checkpoint %d.** You should now see %s\n\n", pad(ind), k, cp[k]
}
function names_program(f,   b) {
    # the step names the program: `prog`, **prog**, prog.c or `prog --flag ...`
    b = f; sub(/\.c$/, "", b)
    return index(para, "`" b "`") || index(para, "**" b "**") || index(para, b ".c") || index(para, "`" b " ")
}
function flush_snips(ind,   i, f, n, why) {
    for (i = 1; i <= nsn; i++) {
        if (used[i]) continue
        if (index(para, "`" sname[i] "`")) why = "the code behind this"
        else if (names_program(sfile[i])) why = "the program this step runs"
        else continue
        used[i] = 1
        print ""
        printf "%s`%s` · `%s`, %s:\n\n", pad(ind), sfile[i], sname[i], why
        printf "%s```{.c include=\"%s\" snippet=\"%s\"}\n%s```\n\n", pad(ind), sdir "/" sfile[i], sname[i], pad(ind)
    }
    para = ""
}
function leftovers(   i, any) {
    any = 0
    for (i = 1; i <= nsn; i++) if (!used[i]) any = 1
    if (!any) return
    print "### The rest of the code\n"
    print "These marked parts of the programs are not named in a step above. Read each next to the step that runs its program.\n"
    for (i = 1; i <= nsn; i++) {
        if (used[i]) continue
        used[i] = 1
        printf "`%s` · `%s`\n\n```{.c include=\"%s\" snippet=\"%s\"}\n```\n\n", sfile[i], sname[i], sdir "/" sfile[i], sname[i]
    }
}
function end_step() {
    # close the current step: its checkpoint, inside the list item when it is one.
    if (step > 0) checkpoint(step, step_ind)
}
function end_steps(   k) {
    if (!in_steps) return
    flush_snips(cur_ind()); end_step()
    for (k = step + 1; k <= ncp || k <= 99; k++) checkpoint(k, 0)
    leftovers()
    in_steps = 0; steps_done = 1
}
function cur_ind() { return (step > 0 && step_ind > 0 && in_item) ? step_ind : 0 }
BEGIN {
    nsn = 0
    while ((getline line < snips) > 0) { split(line, a, "\t"); nsn++; sfile[nsn] = a[1]; sname[nsn] = a[2] }
    close(snips)
    load_checkpoints()
    sec = "intro"; step = 0; in_steps = 0; steps_done = 0; fence = 0; para = ""
}
/^```/ { fence = !fence; print; next }
fence { print; next }
/^## / {
    title = substr($0, 4)
    if (sec == "intro") {
        emit_meta("Objectives"); emit_meta("Prerequisites"); emit_meta("Time")
        print "## Set-up\n"; print setup_text; print ""
    }
    if (title == "Run") { sec = "run"; print "### Run the programs\n"; next }
    if (title == "Try this" || title == "Questions") {
        end_steps()
        sec = title; print "## " title; next
    }
    if (!in_steps) {
        if (!steps_done) { print "## Steps\n"; emit_body("Picture") }
        in_steps = 1
    } else { flush_snips(cur_ind()); end_step(); step_ind = 0 }
    sec = "steps"; in_item = 0
    print "### " title; next
}
in_steps && /^### / {
    flush_snips(cur_ind()); end_step()
    step++; step_ind = 0; in_item = 0
    print "#" $0; print ""; para = $0 "\n"; next
}
in_steps && /^[0-9]+\. / {
    flush_snips(cur_ind()); end_step()
    step++; m = $0; match(m, /^[0-9]+\. +/); step_ind = RLENGTH; in_item = 1
    para = para $0 "\n"; print; next
}
/^$/ {
    print
    if (in_steps) flush_snips(cur_ind()); else para = ""
    next
}
{
    if (in_steps && in_item && $0 !~ /^ / && $0 !~ /^[0-9]+\. /) {
        # a paragraph at the left margin ends the numbered step
        end_step(); in_item = 0; step_ind = 0
    }
    para = para $0 "\n"
    if (/^### /) print "#" $0; else print
}
END {
    if (sec == "intro") {
        emit_meta("Objectives"); emit_meta("Prerequisites"); emit_meta("Time")
        print "## Set-up\n"; print setup_text; print ""
    }
    end_steps()
}

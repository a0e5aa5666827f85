/* markdown.c -- the lesson READMEs, rendered for a terminal.
 *
 * Paragraphs and list items are wrapped at the terminal's width without
 * breaking a word or a `code span` (a command stays on one line). Tables
 * become aligned columns with box lines; a cell too wide wraps inside its
 * column. **bold**, *emphasis*, `code` and [links](...) become attributes
 * (bold, italic, cyan, underline) and their markers go; with NO_COLOR or no
 * terminal the text is plain. Code blocks keep their lines as they are.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "evlab.h"

int term_width(void)
{
    const char *c = getenv("COLUMNS");
    if (c && atoi(c) >= 20 && atoi(c) <= 1000)
        return atoi(c);
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

int display_width(const char *s)
{
    int w = 0;
    for (; *s; s++) {
        if (*s == '\033') { /* skip an SGR sequence */
            while (*s && *s != 'm')
                s++;
            if (!*s)
                break;
            continue;
        }
        w += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return w;
}

/* ---- inline text: atoms that are never broken -------------------------------- */

enum { ST_BOLD = 1, ST_EM = 2, ST_CODE = 4, ST_LINK = 8 };

struct atom {
    char *s; /* text with its own SGR codes, reset at the end */
    int w;   /* display width */
};
struct atoms {
    struct atom *a;
    int n, cap;
};

static void sgr(struct buf *b, int style)
{
    if (!g_color || (!style && !b->len))
        return;
    buf_printf(b, "\033[0%s%s%s%sm", style & ST_BOLD ? ";1" : "", style & ST_EM ? ";3" : "",
               style & ST_CODE ? ";36" : "", style & ST_LINK ? ";4" : "");
}

static void atom_end(struct atoms *as, struct buf *cur, int *w, int style)
{
    if (*w == 0) {
        buf_free(cur);
        return;
    }
    (void)style;
    if (g_color && strchr(cur->p, '\033'))
        buf_add(cur, "\033[0m", 4);
    if (as->n == as->cap) {
        as->cap = as->cap ? as->cap * 2 : 32;
        as->a = realloc(as->a, sizeof *as->a * (size_t)as->cap);
    }
    as->a[as->n++] = (struct atom){cur->p, *w};
    memset(cur, 0, sizeof *cur);
    *w = 0;
}

static bool word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Split inline Markdown into atoms at spaces outside code spans. */
static void inline_atoms(const char *s, struct atoms *as)
{
    struct buf cur = {0};
    int style = 0, w = 0;
    const char *start = s;
    for (; *s; s++) {
        char c = *s;
        if (!(style & ST_CODE) && c == '\\' && s[1] && ispunct((unsigned char)s[1])) {
            if (!w)
                sgr(&cur, style);
            buf_add(&cur, s + 1, 1);
            w++;
            s++;
            continue;
        }
        if (c == '`') {
            style ^= ST_CODE;
            if (w)
                sgr(&cur, style);
            continue;
        }
        if (!(style & ST_CODE)) {
            if (c == '*' && s[1] == '*') {
                style ^= ST_BOLD;
                if (w)
                    sgr(&cur, style);
                s++;
                continue;
            }
            bool open = (c == '*' || c == '_') && !(style & ST_EM) && s[1] && s[1] != ' ' &&
                        (s == start || !word_char(s[-1])) && strchr(s + 1, c);
            bool close = (c == '*' || c == '_') && (style & ST_EM) && s > start && s[-1] != ' ' &&
                         !word_char(s[1]);
            if (open || close) {
                style ^= ST_EM;
                if (w)
                    sgr(&cur, style);
                continue;
            }
            if (c == '[' && strstr(s, "](")) {
                const char *mid = strstr(s, "](");
                const char *end = strchr(mid, ')');
                if (end && !memchr(s + 1, '[', (size_t)(mid - s - 1))) {
                    style |= ST_LINK;
                    if (w)
                        sgr(&cur, style);
                    continue;
                }
            }
            if (c == ']' && (style & ST_LINK) && s[1] == '(') {
                style &= ~ST_LINK;
                if (w)
                    sgr(&cur, style);
                s = strchr(s, ')');
                if (!s)
                    break;
                continue;
            }
            if (c == ' ' || c == '\t' || c == '\n') {
                atom_end(as, &cur, &w, 1);
                continue;
            }
            if (c == '<' && strncmp(s, "<br>", 4) == 0) {
                s += 3;
                continue;
            }
        }
        if (!w)
            sgr(&cur, style);
        buf_add(&cur, s, 1);
        w += ((unsigned char)c & 0xC0) != 0x80;
    }
    atom_end(as, &cur, &w, 1);
}

static void atoms_free(struct atoms *as)
{
    for (int i = 0; i < as->n; i++)
        free(as->a[i].s);
    free(as->a);
    memset(as, 0, sizeof *as);
}

/* An atom wider than `width` (only in a table too narrow for it) is cut
 * into pieces of `width` columns, each with the atom's leading style. */
static void cut_atom(const struct atom *a, int width, struct atoms *out)
{
    const char *s = a->s;
    size_t pre = 0;
    while (s[pre] == '\033') /* the leading SGR */
        pre += strcspn(s + pre, "m") + 1;
    struct buf cur = {0};
    int w = 0;
    for (const char *p = s + pre; *p;) {
        if (*p == '\033') {
            size_t k = strcspn(p, "m") + 1;
            buf_add(&cur, p, k);
            p += k;
            continue;
        }
        if (w == 0 && pre)
            buf_add(&cur, s, pre);
        size_t k = 1;
        while (((unsigned char)p[k] & 0xC0) == 0x80)
            k++;
        buf_add(&cur, p, k);
        p += k;
        if (++w == width || !*p) {
            atom_end(out, &cur, &w, pre > 0);
        }
    }
    atom_end(out, &cur, &w, pre > 0);
}

/* Lines of at most `width` columns. Returns the count; lines[i] malloc'd,
 * widths in w[i]. */
static int wrap_atoms(const struct atoms *in, int width, char ***lines, int **ws)
{
    struct atoms cut = {0};
    const struct atoms *as = in;
    for (int i = 0; i < in->n && as == in; i++)
        if (in->a[i].w > width)
            as = &cut;
    if (as == &cut) {
        for (int i = 0; i < in->n; i++) {
            if (in->a[i].w > width) {
                cut_atom(&in->a[i], width, &cut);
            } else {
                struct buf b = {0};
                int w = in->a[i].w;
                buf_add(&b, in->a[i].s, strlen(in->a[i].s));
                atom_end(&cut, &b, &w, 0);
            }
        }
    }
    int n = 0, cap = 0;
    *lines = NULL;
    *ws = NULL;
    struct buf line = {0};
    int lw = 0;
    for (int i = 0; i <= as->n; i++) {
        bool flush = i == as->n ? lw > 0 : lw > 0 && lw + 1 + as->a[i].w > width;
        if (flush) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                *lines = realloc(*lines, sizeof **lines * (size_t)cap);
                *ws = realloc(*ws, sizeof **ws * (size_t)cap);
            }
            (*lines)[n] = line.p ? line.p : strdup("");
            (*ws)[n++] = lw;
            memset(&line, 0, sizeof line);
            lw = 0;
        }
        if (i == as->n)
            break;
        if (lw) {
            buf_add(&line, " ", 1);
            lw++;
        }
        buf_add(&line, as->a[i].s, strlen(as->a[i].s));
        lw += as->a[i].w;
    }
    buf_free(&line);
    atoms_free(&cut);
    return n;
}

static void free_lines(char **lines, int *ws, int n)
{
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    free(ws);
}

/* A wrapped block: first line after `first`, the rest after `rest` (both
 * plain prefixes of the same display width). */
static void put_wrapped(struct buf *out, const char *text, const char *first, const char *rest,
                        int width)
{
    struct atoms as = {0};
    inline_atoms(text, &as);
    char **lines;
    int *ws;
    int avail = width - display_width(first);
    int n = wrap_atoms(&as, avail < 20 ? 20 : avail, &lines, &ws);
    for (int i = 0; i < n; i++)
        buf_printf(out, "%s%s\n", i ? rest : first, lines[i]);
    if (!n)
        buf_printf(out, "%s\n", first);
    free_lines(lines, ws, n);
    atoms_free(&as);
}

/* ---- tables ------------------------------------------------------------------------- */

/* Cells of "| a | b |", split at '|' outside code spans and not escaped. */
static int split_cells(const char *line, char ***cells)
{
    int n = 0;
    *cells = NULL;
    const char *p = line + strspn(line, " ");
    if (*p == '|')
        p++;
    struct buf cell = {0};
    bool code = false;
    for (;; p++) {
        if (*p == '\\' && p[1] == '|') {
            buf_add(&cell, "\\|", 2);
            p++;
            continue;
        }
        if (*p == '`')
            code = !code;
        if (!*p || (*p == '|' && !code)) {
            char *c = cell.p ? cell.p : strdup("");
            memset(&cell, 0, sizeof cell);
            char *t = c + strspn(c, " ");
            size_t len = strlen(t);
            while (len && t[len - 1] == ' ')
                t[--len] = '\0';
            for (char *e = strstr(t, "\\|"); e; e = strstr(e, "\\|"))
                memmove(e, e + 1, strlen(e));
            bool last_empty = !*p && !*t;
            if (!last_empty) {
                *cells = realloc(*cells, sizeof **cells * (size_t)(n + 1));
                (*cells)[n++] = strdup(t);
            }
            free(c);
            if (!*p)
                break;
            if (p[1] == '\0' || strspn(p + 1, " ") == strlen(p + 1))
                break;
            continue;
        }
        buf_add(&cell, p, 1);
    }
    buf_free(&cell);
    return n;
}

static bool is_rule_row(const char *line)
{
    return strspn(line, " |:-") == strlen(line) && strchr(line, '-');
}

static void hline(struct buf *out, const int *w, int nc, const char *l, const char *m,
                  const char *r)
{
    buf_printf(out, "%s", l);
    for (int c = 0; c < nc; c++) {
        for (int i = 0; i < w[c] + 2; i++)
            buf_add(out, "─", strlen("─"));
        buf_printf(out, "%s", c + 1 < nc ? m : r);
    }
    buf_add(out, "\n", 1);
}

static void put_table(struct buf *out, char **rows, int nrows, int width)
{
    int nc = 0;
    char ***cells = calloc((size_t)nrows, sizeof *cells);
    int *ncells = calloc((size_t)nrows, sizeof *ncells);
    int kept = 0;
    for (int r = 0; r < nrows; r++) {
        if (is_rule_row(rows[r]))
            continue;
        ncells[kept] = split_cells(rows[r], &cells[kept]);
        if (ncells[kept] > nc)
            nc = ncells[kept];
        kept++;
    }
    if (!nc) {
        free(cells);
        free(ncells);
        return;
    }
    int *nat = calloc((size_t)nc, sizeof *nat), *min = calloc((size_t)nc, sizeof *min);
    for (int r = 0; r < kept; r++) {
        for (int c = 0; c < ncells[r]; c++) {
            struct atoms as = {0};
            inline_atoms(cells[r][c], &as);
            int total = 0;
            for (int i = 0; i < as.n; i++) {
                total += as.a[i].w + (i > 0);
                if (as.a[i].w > min[c])
                    min[c] = as.a[i].w;
            }
            if (total > nat[c])
                nat[c] = total;
            atoms_free(&as);
        }
    }
    /* Shrink the widest column first until the table fits (3 per column + 1). */
    int avail = width - 1 - 3 * nc, summin = 0;
    for (int c = 0; c < nc; c++)
        summin += min[c];
    /* A word or a command is never broken, unless the table cannot fit. */
    while (summin > avail) {
        int big = 0;
        for (int c = 1; c < nc; c++)
            if (min[c] > min[big])
                big = c;
        if (min[big] <= 8)
            break;
        min[big]--;
        summin--;
    }
    for (;;) {
        int total = 0, widest = -1;
        for (int c = 0; c < nc; c++) {
            total += nat[c];
            if (nat[c] > min[c] && (widest < 0 || nat[c] > nat[widest]))
                widest = c;
        }
        if (total <= avail || widest < 0)
            break;
        nat[widest]--;
    }
    hline(out, nat, nc, "┌", "┬", "┐");
    for (int r = 0; r < kept; r++) {
        char **lines[64];
        int *lw[64], nl[64], height = 1;
        for (int c = 0; c < nc && c < 64; c++) {
            struct atoms as = {0};
            if (c < ncells[r]) {
                if (r == 0 && g_color) { /* the header row in bold */
                    char *h = xasprintf("**%s**", cells[r][c]);
                    inline_atoms(h, &as);
                    free(h);
                } else {
                    inline_atoms(cells[r][c], &as);
                }
            }
            nl[c] = wrap_atoms(&as, nat[c], &lines[c], &lw[c]);
            if (nl[c] > height)
                height = nl[c];
            atoms_free(&as);
        }
        for (int l = 0; l < height; l++) {
            buf_add(out, "│", strlen("│"));
            for (int c = 0; c < nc && c < 64; c++) {
                const char *s = l < nl[c] ? lines[c][l] : "";
                int w = l < nl[c] ? lw[c][l] : 0;
                buf_printf(out, " %s%*s │", s, nat[c] > w ? nat[c] - w : 0, "");
            }
            buf_add(out, "\n", 1);
        }
        for (int c = 0; c < nc && c < 64; c++)
            free_lines(lines[c], lw[c], nl[c]);
        if (r == 0 && kept > 1)
            hline(out, nat, nc, "├", "┼", "┤");
    }
    hline(out, nat, nc, "└", "┴", "┘");
    for (int r = 0; r < kept; r++) {
        for (int c = 0; c < ncells[r]; c++)
            free(cells[r][c]);
        free(cells[r]);
    }
    free(cells);
    free(ncells);
    free(nat);
    free(min);
}

/* ---- blocks ------------------------------------------------------------------------- */

static int list_marker(const char *line) /* length of "- " / "12. " after indent, or 0 */
{
    const char *p = line + strspn(line, " ");
    if ((*p == '-' || *p == '*' || *p == '+') && p[1] == ' ')
        return (int)(p - line) + 2;
    const char *d = p;
    while (isdigit((unsigned char)*d))
        d++;
    if (d > p && d - p < 4 && (*d == '.' || *d == ')') && d[1] == ' ')
        return (int)(d - line) + 2;
    return 0;
}

static bool blank(const char *l) { return l[strspn(l, " \t")] == '\0'; }

void render_markdown_buf(const char *text, struct buf *out, int width)
{
    char *copy = strdup(text);
    /* Lines as an array, so that blocks can look ahead. */
    int n = 0, cap = 0;
    char **L = NULL;
    for (char *line = copy; line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            L = realloc(L, sizeof *L * (size_t)cap);
        }
        L[n++] = line;
        line = nl ? nl + 1 : NULL;
    }
    bool pending_blank = false;
    for (int i = 0; i < n;) {
        char *line = L[i];
        if (strncmp(line + strspn(line, " "), "<!--", 4) == 0) {
            while (i < n && !strstr(L[i], "-->"))
                i++;
            i++;
            continue;
        }
        if (blank(line)) {
            pending_blank = out->len > 0;
            i++;
            continue;
        }
        if (pending_blank) {
            buf_add(out, "\n", 1);
            pending_blank = false;
        }
        if (strncmp(line + strspn(line, " "), "```", 3) == 0) {
            for (i++; i < n && strncmp(L[i] + strspn(L[i], " "), "```", 3) != 0; i++)
                buf_printf(out, "    %s%s%s\n", col("36"), L[i], col("0"));
            i++;
            continue;
        }
        if (strncmp(line, "    ", 4) == 0 || line[0] == '\t') {
            for (; i < n && (strncmp(L[i], "    ", 4) == 0 || L[i][0] == '\t' ||
                             (blank(L[i]) && i + 1 < n && strncmp(L[i + 1], "    ", 4) == 0));
                 i++)
                buf_printf(out, "    %s%s%s\n", col("36"), L[i] + (L[i][0] == '\t' ? 1 : 4),
                           col("0"));
            continue;
        }
        if (line[0] == '#') {
            int level = (int)strspn(line, "#");
            const char *h = line + level + strspn(line + level, " ");
            struct buf hb = {0};
            put_wrapped(&hb, h, "", "", width);
            if (hb.p && hb.len && hb.p[hb.len - 1] == '\n')
                hb.p[--hb.len] = '\0';
            buf_printf(out, "%s%s%s\n", col(level == 1 ? "1;4" : "1"), hb.p ? hb.p : "", col("0"));
            if (!g_color) {
                int w = display_width(hb.p ? hb.p : "");
                for (int k = 0; k < w && k < width; k++)
                    buf_add(out, level == 1 ? "=" : "-", 1);
                buf_add(out, "\n", 1);
            }
            buf_free(&hb);
            i++;
            continue;
        }
        if (line[strspn(line, " ")] == '|') {
            int start = i;
            while (i < n && L[i][strspn(L[i], " ")] == '|')
                i++;
            put_table(out, L + start, i - start, width);
            continue;
        }
        if (line[0] == '>') {
            struct buf para = {0};
            for (; i < n && L[i][0] == '>'; i++)
                buf_printf(&para, "%s ", L[i] + 1 + (L[i][1] == ' '));
            put_wrapped(out, para.p, "│ ", "│ ", width);
            buf_free(&para);
            continue;
        }
        int m = list_marker(line);
        if (m) {
            /* One item: its marker line plus indented continuation lines. */
            int indent = (int)strspn(line, " ");
            struct buf item = {0};
            buf_printf(&item, "%s ", line + m);
            for (i++; i < n && !blank(L[i]) && !list_marker(L[i]) && L[i][0] != '|' &&
                      L[i][0] != '#' && strncmp(L[i] + strspn(L[i], " "), "```", 3) != 0;
                 i++)
                buf_printf(&item, "%s ", L[i] + strspn(L[i], " "));
            bool bullet = strchr("-*+", line[indent]) != NULL;
            char *first = bullet ? xasprintf("%*s• ", indent, "")
                                 : xasprintf("%*s%.*s", indent, "", m - indent, line + indent);
            char *rest = xasprintf("%*s", m, "");
            put_wrapped(out, item.p, first, rest, width);
            free(first);
            free(rest);
            buf_free(&item);
            continue;
        }
        struct buf para = {0};
        for (; i < n && !blank(L[i]) && !list_marker(L[i]) && L[i][0] != '#' &&
               L[i][strspn(L[i], " ")] != '|' && strncmp(L[i], "```", 3) != 0;
             i++)
            buf_printf(&para, "%s ", L[i]);
        put_wrapped(out, para.p, "", "", width);
        buf_free(&para);
    }
    free(L);
    free(copy);
}

void render_wrapped(const char *text, const char *first, const char *rest, FILE *out)
{
    struct buf b = {0};
    put_wrapped(&b, text, first, rest, term_width());
    if (b.p)
        fputs(b.p, out);
    buf_free(&b);
}

void render_markdown(const char *text, FILE *out)
{
    struct buf b = {0};
    render_markdown_buf(text, &b, term_width());
    if (b.p)
        fputs(b.p, out);
    buf_free(&b);
}

char *md_section(const char *text, const char *heading)
{
    size_t hl = strlen(heading);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, "## ", 3) == 0 && strncasecmp(p + 3, heading, hl) == 0) {
            const char *start = strchr(p, '\n');
            if (!start)
                return strdup("");
            start++;
            const char *end = strstr(start, "\n## ");
            return end ? strndup(start, (size_t)(end - start + 1)) : strdup(start);
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

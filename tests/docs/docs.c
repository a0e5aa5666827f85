/* docs.c -- the decks and handouts as a reader gets them.
 *
 * Each deck is opened in headless Chromium (no network) at #check: deck.js
 * shows every slide at 1280x720 and reports anything that runs past the
 * slide, scrolls, clips, uses code under 22 px or shows more than 16 code
 * lines. The console must stay silent and no code block may be empty. Each
 * PDF handout must have pages, the lesson title and every marked snippet,
 * keep every word inside its margins and keep its list numbers; no Markdown
 * escape may show in a handout.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <ctype.h>
#include <stdbool.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtest.h"

#define CHROMIUM "/usr/bin/chromium"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* Calls fn(slug) for each slides/NN-slug.md; returns how many. */
static int each_deck(void (*fn)(const char *slug))
{
    DIR *d = opendir("slides");
    cr_assert_not_null(d, "run from the repository root");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".md") || e->d_name[0] < '0' ||
            e->d_name[0] > '9')
            continue;
        char slug[256];
        snprintf(slug, sizeof slug, "%.*s", (int)(len - 3), e->d_name);
        fn(slug);
        n++;
    }
    closedir(d);
    return n;
}

static struct evt_run chromium(const char *what, const char *arg, const char *file,
                               const char *fragment)
{
    /* A profile of its own: two Chromiums must never share one. */
    char profile[] = "/tmp/evlab-chromium-XXXXXX", profile_arg[64];
    cr_assert_not_null(mkdtemp(profile));
    snprintf(profile_arg, sizeof profile_arg, "--user-data-dir=%s", profile);
    char url[4096], cwd[2048];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    snprintf(url, sizeof url, "file://%s/%s%s", cwd, file, fragment ? fragment : "");
    struct evt_run r;
    const char *const argv[] = {CHROMIUM,
                                "--headless",
                                "--no-sandbox",
                                "--disable-gpu",
                                "--disable-background-networking",
                                "--disable-component-update",
                                "--disable-sync",
                                "--no-first-run",
                                profile_arg,
                                "--enable-logging=stderr",
                                "--v=0",
                                "--window-size=1280,720",
                                "--virtual-time-budget=5000",
                                what,
                                arg ? arg : url,
                                arg ? url : NULL,
                                NULL};
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, 90), 0);
    struct evt_run rm;
    evt_run(&rm, EVT_ARGV("/bin/rm", "-rf", profile), NULL, NULL, 30);
    evt_run_free(&rm);
    cr_assert(!r.timed_out, "chromium timed out on %s", file);
    return r;
}

/* The layout report deck.js writes into the page at #check:
 * "evlab-check slides=N problems=M" and one line per problem. */
static void check_deck(const char *slug)
{
    char path[512], html[512];
    snprintf(path, sizeof path, "slides/%s.md", slug);
    snprintf(html, sizeof html, "build/slides/%s.html", slug);
    char *md = slurp(path);
    cr_assert_not_null(md);
    int headings = 1; /* the title slide */
    for (const char *s = md; (s = strstr(s, "\n## ")); s++)
        headings++;

    struct evt_run r = chromium("--dump-dom", NULL, html, "#check");
    cr_assert_eq(r.exit_code, 0, "%s: chromium failed: %s", slug, r.err);
    cr_assert_eq(evt_count(r.err, ":CONSOLE"), 0, "%s: console output:\n%s", slug, r.err);
    const char *report = strstr(r.out, "<pre id=\"evlab-check\">evlab-check slides=");
    cr_assert_not_null(report, "%s: deck.js wrote no layout report (a script error?)", slug);
    int slides = 0, problems = -1;
    report = strchr(report, '>') + 1;
    cr_assert_eq(sscanf(report, "evlab-check slides=%d problems=%d", &slides, &problems), 2);
    /* Pagination may add "(continued)" slides, never lose one. */
    cr_assert_geq(slides, headings, "%s: %d slides rendered, the source has %d", slug, slides,
                  headings);
    /* The code-heavy decks are written one step a slide: none needs a
     * "(continued)" page. */
    static const char *const stepped[] = {"10-", "12-", "13-", "14-", "16-"};
    for (size_t i = 0; i < sizeof stepped / sizeof *stepped; i++)
        if (strncmp(slug, stepped[i], 3) == 0) {
            const char *cont = strstr(r.out, " (continued)</h2>");
            cr_expect_null(cont, "deck %s is written in steps, yet a slide continues: %.80s", slug,
                           cont ? cont - 60 : "");
        }
    const char *end = strstr(report, "</pre>");
    cr_assert_eq(problems, 0, "deck %s: %.*s", slug, (int)(end ? end - report : 2000), report);
    /* every <pre><code ...>...</code> holds text */
    for (const char *c = strstr(r.out, "<pre"); c; c = strstr(c + 1, "<pre")) {
        const char *code = strstr(c, "<code");
        const char *gt = strchr(code ? code : c, '>');
        cr_assert(gt && strncmp(gt + 1, "</code>", 7) != 0, "%s: an empty code block", slug);
    }
    evt_run_free(&r);
    free(md);
}

/* One test per deck, so that a failure names its deck (not faster: two
 * Chromiums at once took as long as one after the other). */
struct deck {
    char slug[128];
};
static struct deck *deck_list;
static size_t deck_count;
static void add_deck(const char *slug)
{
    snprintf(deck_list[deck_count++].slug, sizeof deck_list->slug, "%s", slug);
}
static void count_deck(const char *slug) { (void)slug; }

ParameterizedTestParameters(docs, deck_fits_its_slides)
{
    size_t n = (size_t)each_deck(count_deck);
    deck_list = cr_malloc(sizeof *deck_list * (n ? n : 1));
    deck_count = 0;
    each_deck(add_deck);
    return cr_make_param_array(struct deck, deck_list, deck_count);
}

ParameterizedTest(struct deck *d, docs, deck_fits_its_slides, .timeout = 120)
{
    if (access(CHROMIUM, X_OK) != 0)
        cr_skip_test("chromium is not installed (make deps)");
    check_deck(d->slug);
}

Test(docs, there_are_decks) { cr_assert_gt(each_deck(count_deck), 0, "no decks under slides/"); }

/* No Markdown escape may survive into what a reader sees: GitHub shows `a\|b`
 * in a table as a|b, and so must the handouts. */
static void check_markdown_rendering(const char *slug)
{
    char path[512];
    snprintf(path, sizeof path, "build/handouts/%s.html", slug);
    char *html = slurp(path);
    cr_assert_not_null(html, "%s is not built", path);
    cr_assert_null(strstr(html, "\\|"), "%s shows a literal \\| (a Markdown escape)", path);
    free(html);
}

Test(docs, handouts_show_no_markdown_escapes)
{
    cr_assert_gt(each_deck(check_markdown_rendering), 0);
}

/* Collapse runs of white space: PDF text extraction does not keep them. */
static void squeeze(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++)
        if (!(isspace((unsigned char)*p) && o > s && isspace((unsigned char)o[-1])))
            *o++ = isspace((unsigned char)*p) ? ' ' : *p;
    *o = '\0';
}

static void check_handout(const char *slug)
{
    char pdf[512], readme[512];
    snprintf(pdf, sizeof pdf, "build/handouts/%s.pdf", slug);
    snprintf(readme, sizeof readme, "lessons/%s/README.md", slug);
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV("/usr/bin/pdftotext", "-layout", pdf, "-"), NULL, NULL, 30),
                 0);
    cr_assert_eq(r.exit_code, 0, "%s: pdftotext failed: %s", pdf, r.err);
    cr_assert(evt_count(r.out, "\f") >= 1, "%s has no pages", pdf);
    squeeze(r.out);

    char *text = slurp(readme);
    cr_assert_not_null(text, "%s", readme);
    char title[256];
    sscanf(text, "# %255[^\n]", title);
    cr_assert(strstr(r.out, title), "%s lacks the title '%s'", pdf, title);
    free(text);

    /* Each "// [name]" snippet: its first code line must be in the PDF. */
    struct evt_run grep;
    char pattern[512];
    snprintf(pattern, sizeof pattern, "lessons/%s", slug);
    cr_assert_eq(evt_run(&grep,
                         EVT_ARGV("/bin/grep", "-rh", "-A1", "--include=*.c",
                                  "^ *// \\[[a-z0-9_-]*\\]$", pattern),
                         NULL, NULL, 10),
                 0);
    int snippets = 0;
    for (char *line = strtok(grep.out, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, "// [") || strcmp(line, "--") == 0)
            continue;
        while (*line == ' ')
            line++;
        char probe[24];
        squeeze(line);
        snprintf(probe, sizeof probe, "%s", line); /* a short prefix survives line wrapping */
        cr_assert(strstr(r.out, probe), "%s lacks the snippet line '%s'", pdf, line);
        snippets++;
    }
    evt_run_free(&grep);
    evt_run_free(&r);
}

/* Every word of the PDF lies inside the page's margins (A4, 16 mm left and
 * right): a table or a code line that runs off the page fails here. */
static void check_pdf_margins(const char *slug)
{
    char pdf[512];
    snprintf(pdf, sizeof pdf, "build/handouts/%s.pdf", slug);
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV("/usr/bin/pdftotext", "-bbox", pdf, "-"), NULL, NULL, 60), 0);
    cr_assert_eq(r.exit_code, 0, "%s: pdftotext -bbox failed: %s", pdf, r.err);
    double width = 0, margin = 16 / 25.4 * 72 - 2; /* points, with 2 pt of slack */
    int page = 0, outside = 0;
    char first[256] = "";
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
        double x0, y0, x1, y1;
        char word[128];
        if (sscanf(line, " <page width=\"%lf\"", &width) == 1) {
            page++;
            continue;
        }
        if (sscanf(line, " <word xMin=\"%lf\" yMin=\"%lf\" xMax=\"%lf\" yMax=\"%lf\">%127[^<]", &x0,
                   &y0, &x1, &y1, word) != 5)
            continue;
        if (x0 < margin || x1 > width - margin) {
            if (!outside++)
                snprintf(first, sizeof first, "page %d: '%s' at x %.0f..%.0f of %.0f pt", page,
                         word, x0, x1, width);
        }
    }
    evt_run_free(&r);
    cr_assert_eq(outside, 0, "%s: %d words outside the margins, first on %s", pdf, outside, first);
}

Test(docs, handout_pdfs_stay_inside_their_margins, .timeout = 120)
{
    cr_assert_gt(each_deck(check_pdf_margins), 0);
}

/* A numbered list that starts at 5 in the README starts at 5 in the PDF too
 * (weasyprint ignores <ol start>; the handout CSS must not). */
static void check_list_numbers(const char *slug)
{
    char readme[512], pdf[512];
    snprintf(readme, sizeof readme, "lessons/%s/README.md", slug);
    snprintf(pdf, sizeof pdf, "build/handouts/%s.pdf", slug);
    char *md = slurp(readme);
    cr_assert_not_null(md);
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV("/usr/bin/pdftotext", pdf, "-"), NULL, NULL, 30), 0);
    squeeze(r.out);
    bool in_code = false;
    for (char *line = strtok(md, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "```", 3) == 0)
            in_code = !in_code;
        int n = 0, len = 0;
        if (in_code || sscanf(line, "%d. %n", &n, &len) != 1 || len == 0 || n < 2)
            continue;
        char probe[32];
        snprintf(probe, sizeof probe, "%d.", n);
        cr_assert(strstr(r.out, probe), "%s: README item '%d.' is not numbered %d in the PDF", pdf,
                  n, n);
    }
    evt_run_free(&r);
    free(md);
}

Test(docs, handout_lists_keep_their_numbers, .timeout = 120)
{
    cr_assert_gt(each_deck(check_list_numbers), 0);
}

Test(docs, handouts_have_pages_title_and_code, .timeout = 120)
{
    cr_assert_gt(each_deck(check_handout), 0);
}

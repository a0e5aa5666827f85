/* docs.c -- the decks and handouts as a reader gets them.
 *
 * Each deck is opened in headless Chromium (no network): its slide count must
 * match its source (one per "## " heading plus the title slide), the console
 * must stay silent (no script errors), and no code block may be empty. A
 * screenshot of the first slide lands next to the deck. Each PDF handout must
 * have pages and contain the lesson title and every marked snippet.
 */
#include <criterion/criterion.h>
#include <ctype.h>
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

static struct evt_run chromium(const char *what, const char *arg, const char *slug)
{
    /* A profile of its own: two Chromiums must never share one. */
    char profile[] = "/tmp/evlab-chromium-XXXXXX", profile_arg[64];
    cr_assert_not_null(mkdtemp(profile));
    snprintf(profile_arg, sizeof profile_arg, "--user-data-dir=%s", profile);
    char url[4096], cwd[2048];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    snprintf(url, sizeof url, "file://%s/build/slides/%s.html", cwd, slug);
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
                                "--virtual-time-budget=2000",
                                what,
                                arg ? arg : url,
                                arg ? url : NULL,
                                NULL};
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, 60), 0);
    struct evt_run rm;
    evt_run(&rm, EVT_ARGV("/bin/rm", "-rf", profile), NULL, NULL, 30);
    evt_run_free(&rm);
    cr_assert(!r.timed_out, "chromium timed out on %s", slug);
    return r;
}

static void check_deck(const char *slug)
{
    char path[512];
    snprintf(path, sizeof path, "slides/%s.md", slug);
    char *md = slurp(path);
    cr_assert_not_null(md);
    int expected = 1; /* the title slide */
    for (const char *s = md; (s = strstr(s, "\n## ")); s++)
        expected++;

    struct evt_run r = chromium("--dump-dom", NULL, slug);
    cr_assert_eq(r.exit_code, 0, "%s: chromium failed: %s", slug, r.err);
    int slides = evt_count(r.out, "<section");
    cr_assert_eq(slides, expected, "%s: %d slides rendered, the source has %d", slug, slides,
                 expected);
    cr_assert_eq(evt_count(r.err, ":CONSOLE"), 0, "%s: console output:\n%s", slug, r.err);
    /* every <pre><code ...>...</code> holds text */
    for (const char *c = strstr(r.out, "<pre"); c; c = strstr(c + 1, "<pre")) {
        const char *gt = strchr(strstr(c, "<code") ? strstr(c, "<code") : c, '>');
        cr_assert(gt && strncmp(gt + 1, "</code>", 7) != 0, "%s: an empty code block", slug);
    }
    evt_run_free(&r);

    char shot[512];
    snprintf(shot, sizeof shot, "--screenshot=build/slides/%s.png", slug);
    r = chromium(shot, NULL, slug);
    snprintf(shot, sizeof shot, "build/slides/%s.png", slug);
    cr_assert_eq(access(shot, R_OK), 0, "%s: no screenshot: %s", slug, r.err);
    evt_run_free(&r);
    free(md);
}

Test(docs, decks_render_in_chromium, .timeout = 600)
{
    if (access(CHROMIUM, X_OK) != 0)
        cr_skip_test("chromium is not installed (make deps EVLAB_DEPS_EXTRA=chromium)");
    cr_assert_gt(each_deck(check_deck), 0, "no decks under slides/");
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

Test(docs, handouts_have_pages_title_and_code, .timeout = 120)
{
    cr_assert_gt(each_deck(check_handout), 0);
}

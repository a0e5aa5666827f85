/* labs.c -- the lab sheets, the home page and the instructor build as built.
 *
 * Each lab sheet has its sections in the order a TA hands them out; a lesson
 * whose lab.md lists checkpoints shows each of them; the points table of an
 * exercise adds up to the weights of the GRADED(...) lines of its grading
 * suite (parsed here, independently of tools/docs/points.sh); no output links
 * to the build machine (file:// or the absolute build path).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Calls fn(slug) for each lessons/NN-slug/ directory; returns how many. */
static int each_lesson(void (*fn)(const char *slug))
{
    DIR *d = opendir("lessons");
    cr_assert_not_null(d, "run from the repository root");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        fn(e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static const char *const sections[] = {
    "Objectives", "Prerequisites", "Time",        "Set-up",
    "Steps",      "Questions",     "Graded task", "How to check and submit",
};

static void check_sections(const char *slug)
{
    char path[512];
    snprintf(path, sizeof path, "build/handouts/%s.html", slug);
    char *html = slurp(path);
    cr_assert_not_null(html, "%s is missing: run make handouts", path);
    const char *at = html;
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++) {
        char want[128];
        snprintf(want, sizeof want, ">%s</h2>", sections[i]);
        const char *p = strstr(at, want);
        cr_expect_not_null(p, "%s: no section \"%s\" after \"%s\"", path, sections[i],
                           i ? sections[i - 1] : "the title");
        if (p)
            at = p;
    }
    /* Every checkpoint of lab.md is in the sheet. */
    snprintf(path, sizeof path, "lessons/%s/lab.md", slug);
    char *meta = slurp(path);
    cr_assert_not_null(meta, "%s is missing", path);
    const char *cp = strstr(meta, "\n## Checkpoints\n");
    int n = 0;
    if (cp) {
        const char *end = strstr(cp + 1, "\n## ");
        for (const char *l = cp; l && (!end || l < end); l = strchr(l + 1, '\n'))
            if (l[1] >= '1' && l[1] <= '9' && strchr(l + 1, '.') && strchr(l + 1, '.') < l + 4)
                n++;
    }
    for (int k = 1; k <= n; k++) {
        char want[64];
        snprintf(want, sizeof want, "Checkpoint %d.", k);
        cr_expect_not_null(strstr(html, want), "%s: \"%s\" is missing", slug, want);
    }
    free(meta);
    free(html);
}

Test(labs, sheets_have_their_sections_in_order_and_their_checkpoints)
{
    cr_assert_gt(each_lesson(check_sections), 0);
}

/* Sum of the weights of tests/grading/NN-*.c's GRADED(suite, name, weight, ...) lines. */
static int graded_points(const char *slug, int *tests)
{
    char path[512];
    snprintf(path, sizeof path, "tests/grading/%s.c", slug);
    char *src = slurp(path);
    if (!src)
        return -1;
    int sum = 0;
    *tests = 0;
    for (const char *p = src; (p = strstr(p, "\nGRADED(")); p++) {
        /* skip suite and name: the weight follows the second comma */
        const char *c = strchr(p, ',');
        c = c ? strchr(c + 1, ',') : NULL;
        cr_assert_not_null(c, "%s: a GRADED line without a weight", path);
        sum += atoi(c + 1);
        (*tests)++;
    }
    free(src);
    return sum;
}

static void check_points(const char *slug)
{
    int tests = 0, points = graded_points(slug, &tests);
    if (points < 0)
        return; /* no exercise: nothing to check */
    cr_assert_gt(tests, 0, "%s: no GRADED lines", slug);
    char path[512];
    snprintf(path, sizeof path, "build/handouts/%s.html", slug);
    char *html = slurp(path);
    cr_assert_not_null(html, "%s is missing", path);
    char want[128];
    snprintf(want, sizeof want, "%d tests</td>", tests);
    cr_expect_not_null(strstr(html, want), "%s: the points table does not say %d tests", slug,
                       tests);
    snprintf(want, sizeof want, "<strong>%d</strong>", points);
    const char *total = strstr(html, ">Points</h3>");
    cr_expect(total && strstr(total, want), "%s: the points table does not total %d", slug, points);
    free(html);
}

Test(labs, points_tables_match_the_grading_suites) { cr_assert_gt(each_lesson(check_points), 0); }

static void no_machine_paths(const char *path)
{
    char *s = slurp(path);
    if (!s)
        return;
    char cwd[2048];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_expect_null(strstr(s, "file://"), "%s links to file://", path);
    cr_expect_null(strstr(s, cwd), "%s names the build directory %s", path, cwd);
    free(s);
}

static void check_paths(const char *slug)
{
    char path[512];
    snprintf(path, sizeof path, "build/handouts/%s.html", slug);
    no_machine_paths(path);
    snprintf(path, sizeof path, "build/handouts/%s.pdf", slug);
    no_machine_paths(path);
    snprintf(path, sizeof path, "build/slides/%s.html", slug);
    no_machine_paths(path);
}

Test(labs, no_output_names_the_build_machine)
{
    cr_assert_gt(each_lesson(check_paths), 0);
    no_machine_paths("build/docs-index.html");
}

Test(labs, home_page_links_are_relative_and_lead_somewhere)
{
    char *html = slurp("build/docs-index.html");
    cr_assert_not_null(html, "build/docs-index.html is missing: run make docs");
    int links = 0;
    for (const char *p = html; (p = strstr(p, "href=\"")); p++) {
        p += 6;
        const char *q = strchr(p, '"');
        cr_assert_not_null(q);
        char target[512];
        snprintf(target, sizeof target, "%.*s", (int)(q - p), p);
        cr_expect(target[0] != '/' && !strstr(target, "://"), "absolute link %s", target);
        /* Student pages must exist; the instructor build is made separately. */
        if (strncmp(target, "instructor/", 11) != 0) {
            char file[600];
            snprintf(file, sizeof file, "build/%s", target);
            cr_expect_eq(access(file, R_OK), 0, "the home page links to %s, which is missing",
                         target);
        }
        links++;
    }
    cr_expect_gt(links, 40, "only %d links on the home page", links);
    cr_expect_not_null(strstr(html, "How to present"));
    free(html);
}

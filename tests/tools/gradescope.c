/* gradescope.c -- the Gradescope autograder end to end, in a temporary root:
 * tools/gradescope/pack.sh packs the fixture course, the zip is unpacked to
 * ROOT/source (as Gradescope does), run_autograder grades ROOT/submission
 * and must write ROOT/results/results.json with the right score: full marks
 * for a copy of the solutions, less for a copy of the starters, and for a
 * flat upload (the files themselves, no NN-slug folders). setup.sh (apt) is
 * not run here: this machine already has what it installs. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "evlab_test.h"
#include "evtest.h"

static char *autograde(const char *root, const char *fill_submission)
{
    char *ag = xfmt("%s/ag", root);
    /* pack.sh stages the files, then zips them (zip or python3); without
     * either, the staged folder is what the zip would hold. */
    cr_assert_eq(sh("mkdir -p %s/source %s/submission %s/results", ag, ag, ag), 0);
    int packed = sh("tools/gradescope/pack.sh %s %s/pack >/dev/null 2>&1", root, root);
    cr_assert_eq(sh("test -d %s/pack/stage", root), 0, "pack.sh staged nothing");
    if (packed == 0 && sh("command -v unzip >/dev/null") == 0)
        cr_assert_eq(sh("cd %s/source && unzip -q %s/pack/autograder.zip", ag, root), 0);
    else
        cr_assert_eq(sh("cp -a %s/pack/stage/. %s/source/", root, ag), 0);
    cr_assert_eq(sh("test -x %s/source/run_autograder && test -x %s/source/setup.sh && "
                    "! test -e %s/source/solutions",
                    ag, ag, ag),
                 0, "the zip holds setup.sh and run_autograder, and no solutions");
    /* the prebuilt fixture suites make the run quick, as setup.sh would */
    cr_assert_eq(sh("cp -a %s/build %s/source/ && cp %s %s/source/build/evlab && "
                    "find %s/source/build -type f -exec touch {} +",
                    root, ag, evt_prog("evlab"), ag, ag),
                 0);
    cr_assert_eq(sh("cd %s && %s", root, fill_submission), 0);
    cr_assert_eq(
        sh("env -u BXFI_MAP EVLAB_BUILD=build AUTOGRADER_ROOT=%s %s/source/run_autograder", ag, ag),
        0);
    char *p = xfmt("%s/results/results.json", ag);
    char *json = get_file(p);
    free(p);
    free(ag);
    return json;
}

Test(gradescope, solutions_get_full_marks, .timeout = 120)
{
    char *root = fixture_copy();
    char *json = autograde(root, "cp -r solutions/* ag/submission/");
    cr_assert(strstr(json, "\"score\": 6,\n  \"max_score\": 6,"), "%s", json);
    cr_assert(strstr(json, "\"status\": \"passed\""), "%s", json);
    cr_assert(strstr(json, "\"output\": \"sandbox: "), "the output names the sandbox:\n%s", json);
    free(json);
    fixture_free(root);
}

Test(gradescope, starters_and_flat_uploads, .timeout = 120)
{
    char *root = fixture_copy();
    /* a flat upload: add.c (a fixed one) and greet.c (the starter) side by side */
    char *json =
        autograde(root, "cp solutions/01-add/add.c exercises/02-greet/greet.c ag/submission/");
    cr_assert(strstr(json, "\"score\": 3,\n  \"max_score\": 6,"), "%s", json);
    cr_assert(strstr(json, "\"status\": \"failed\""), "%s", json);
    free(json);
    fixture_free(root);
}

/* A submission that does not build: every test of it is "failed" with 0
 * points, named "[not run]", its output "not run: needs a build", and the
 * compiler's message once; the maximum stays 6. */
Test(gradescope, a_build_failure_shows_tests_not_run, .timeout = 120)
{
    char *root = fixture_copy();
    char *json = autograde(root, "cp -r solutions/* ag/submission/ && "
                                 "printf 'int main(void) { return nope; }\\n' > "
                                 "ag/submission/02-greet/greet.c");
    cr_assert(strstr(json, "\"score\": 3,\n  \"max_score\": 6,"), "%s", json);
    cr_assert(strstr(json, "(greet::says_hello) [not run]"), "%s", json);
    cr_assert(strstr(json, "\"status\": \"failed\", \"output\": \"not run: needs a build"), "%s",
              json);
    cr_assert_eq(evt_count(json, "error:"), 1, "the compiler's output once:\n%s", json);
    free(json);
    fixture_free(root);
}

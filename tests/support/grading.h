/* grading.h -- how a grading suite declares a scored test.
 *
 *   GRADED(echo, binary_1mib, 3, 10.0, "echoes 1 MiB of random bytes exactly")
 *   { ... cr_assert(..., "expected %zu bytes back, got %zu", ...); }
 *
 * The weight and the human title travel in Criterion's description as
 * "w=3|title". When EVLAB_REPORT names a file, the suite writes one line per
 * test there (see report.c), which is what `evlab check` and `evlab grade`
 * read. A crash or a timeout costs only that test.
 */
#ifndef EVLAB_GRADING_H
#define EVLAB_GRADING_H

#include <criterion/criterion.h>

#define GRADED(suite, name, weight, timeout_s, title)                                              \
    Test(suite, name, .description = "w=" #weight "|" title, .timeout = (timeout_s))

#endif

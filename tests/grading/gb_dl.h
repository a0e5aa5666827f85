/* gb_dl.h -- loading a function-level exercise in a grading suite
 * (header-only; included by the suites of exercises 02, 03 and 04).
 *
 *   void *lib = gb_load("flags.so");          // $EVLAB_TARGET/flags.so
 *   int (*f)(short, char *, size_t) = gb_sym(lib, "flags_to_string");
 *
 * A library that is missing, does not load, or lacks a function fails the
 * test with a sentence the student can act on; it never crashes the suite.
 * Criterion runs each test in its own process, so a library that crashes
 * costs only the test that called it.
 *
 * Also here: gb_heap_in_use(), bytes malloc() has handed out and not had back,
 * to catch a function that leaks on every call.
 */
#ifndef EVLAB_GB_DL_H
#define EVLAB_GB_DL_H

#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "evtest.h"
#include "grading.h"

static inline void *gb_load(const char *name)
{
    const char *path = evt_target(name);
    if (access(path, F_OK) != 0)
        cr_assert_fail("%s does not exist: build it first (make %s), and check that the file "
                       "builds: a function-level exercise builds to a shared object",
                       path, path);
    dlerror();
    void *h = graded_dlopen(path);
    if (!h) {
        const char *e = dlerror();
        cr_assert_fail("cannot load %s: %s", path, e ? e : "unknown dlopen error");
    }
    return h;
}

/* The address of function `sym`; fails the test if the library lacks it. */
#define gb_sym(h, sym) gb_sym_((h), (sym))
static inline void *gb_sym_(void *h, const char *sym)
{
    dlerror();
    void *p = dlsym(h, sym);
    if (!p)
        cr_assert_fail("the library does not define %s(): keep the function's name and "
                       "signature exactly as the starter declares them, and do not make it static",
                       sym);
    return p;
}

static inline size_t gb_heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

#endif

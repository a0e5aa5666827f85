# evlab -- every .c under lessons/, exercises/ and solutions/ is one program.
#
#   make            build everything into build/
#   make help       list the targets
#
# A program's libraries come from the pkg-config line in its own header
# comment ("pkg-config --cflags --libs libevent ..."), so the command a
# student copies from the header is the command the Makefile runs.

BUILD   ?= build
CC      ?= cc
CFLAGS  ?= -O2 -g
LDFLAGS ?=
WARN    := -std=gnu11 -Wall -Wextra -Werror
SAN     ?=
NPROC   := $(shell nproc 2>/dev/null || echo 2)
V       ?= 0
# Quiet by default: one line per program. make V=1 shows the full commands.
Q    := $(if $(filter 0,$(V)),@,)
say   = $(if $(filter 0,$(V)),@echo "  $(1)  $@",@true)
export EVLAB_BUILD := $(BUILD)

# --- sources ---------------------------------------------------------------
PROG_DIRS  := lessons exercises solutions
ALL_SRCS   := $(wildcard $(PROG_DIRS:%=%/*/*.c))
# An exercise says what it builds in exercises/NN-slug/exercise.mk (never
# guessed from the source): "kind = library" builds its starter, its solution
# and its broken variants to NAME.so, which its grading suite loads;
# "needs = PATH ..." names build products its suite uses. Helper libraries in
# tests/grading/preload/ are shared objects too.
MANIFESTS  := $(wildcard exercises/*/exercise.mk)
# One pass over every manifest: "NN-slug@kind@library", "NN-slug@needs@PATH" ...
EX_FIELDS  := $(if $(MANIFESTS),$(shell awk -F' *= *' '/^(kind|needs) *=/ { n = FILENAME; \
                sub(/\/exercise\.mk$$/, "", n); sub(/.*\//, "", n); k = split($$2, v, " "); \
                for (i = 1; i <= k; i++) print n "@" $$1 "@" v[i] }' $(MANIFESTS)))
ex_with     = $(foreach f,$(filter %@$(1)@$(2),$(EX_FIELDS)),$(word 1,$(subst @, ,$(f))))
LIB_EX     := $(call ex_with,kind,library)
BROKEN_SRCS:= $(wildcard tests/grading/broken/*/*/*.c)
LIB_SRCS   := $(filter $(foreach e,$(LIB_EX),exercises/$(e)/% solutions/$(e)/% tests/grading/broken/$(e)/%),$(ALL_SRCS) $(BROKEN_SRCS)) \
              $(wildcard tests/grading/preload/*.c)
# The loaders that run a function-level exercise's library for its suite, in a
# process of their own (tests/grading/loader/gb_loader.h), are programs.
LOADER_SRCS:= $(wildcard tests/grading/loader/*.c)
PROG_SRCS  := $(filter-out $(LIB_SRCS),$(ALL_SRCS) $(BROKEN_SRCS)) $(LOADER_SRCS)
PROGS      := $(PROG_SRCS:%.c=$(BUILD)/%)
LIBS       := $(LIB_SRCS:%.c=$(BUILD)/%.so)
TEST_SUPPORT := $(wildcard tests/support/*.c)
TEST_OBJS    := $(TEST_SUPPORT:%.c=$(BUILD)/%.o)
TEST_SRCS  := $(wildcard tests/lessons/*.c tests/grading/*.c tests/tools/*.c)
TESTS      := $(TEST_SRCS:%.c=$(BUILD)/%)

EVLAB_SRCS := $(wildcard tools/evlab/*.c)
EVLAB      := $(BUILD)/evlab

LESSONS    := $(filter $(BUILD)/lessons/%,$(PROGS))
EXERCISES  := $(filter $(BUILD)/exercises/%,$(PROGS) $(LIBS))
SOLUTIONS  := $(filter $(BUILD)/solutions/%,$(PROGS) $(LIBS))

# Libraries: read from the build command in the source's header comment.
pkglibs = $$(tools/buildflags.sh $(1))

HAVE_LIBEVENT := $(shell pkg-config --exists libevent 2>/dev/null && echo yes)

.DEFAULT_GOAL := all
.PHONY: all lessons exercises solutions tests help deps deps-tour deps-check deps-bench tour clean need-libevent \
        check check-all check-build check-run check-asan check-tsan check-exercises bench

all: lessons exercises solutions $(EVLAB)
lessons:   $(LESSONS)
exercises: $(EXERCISES)
solutions: $(SOLUTIONS)
tests:     $(TESTS) $(filter $(BUILD)/tests/%,$(PROGS) $(LIBS))

need-libevent:
ifneq ($(HAVE_LIBEVENT),yes)
	@echo "evlab: libevent was not found by pkg-config; run 'make deps' (Debian/Ubuntu package: libevent-dev)." >&2; exit 1
endif

$(PROGS): $(BUILD)/%: %.c | need-libevent
	@mkdir -p $(@D)
	$(call say,CC)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN) $(WARN) -MMD -MP $< -o $@ $(LDFLAGS) $(SAN) $(call pkglibs,$<)

# A function-level exercise's contract header (exercises/NN-slug/NAME.h) is
# found next to the starter; the solution and the broken variants of NN-slug
# get that folder on their quoted include path, so they build against it too.
ex_of   = $(firstword $(filter $(LIB_EX),$(subst /, ,$(1))))
contract = $(if $(call ex_of,$(1)),-iquote exercises/$(call ex_of,$(1)))

$(LIBS): $(BUILD)/%.so: %.c | need-libevent
	@mkdir -p $(@D)
	$(call say,SO)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN) $(WARN) $(call contract,$<) -fPIC -shared -MMD -MP $< -o $@ $(LDFLAGS) $(SAN) $(call pkglibs,$<)

# Test suites are not sanitized themselves: they run the sanitized programs.
# So a sanitized build (SAN set) takes the plain build's suites, as hard
# links, instead of compiling them again; EVLAB_BUILD tells a suite which
# build's programs to test. The support files are compiled once per build.
SUITES_FROM ?= $(if $(SAN),build)
$(TEST_OBJS): $(BUILD)/%.o: %.c | need-libevent
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Itests/support -MMD -MP -c $< -o $@ \
	  $$(pkg-config --cflags criterion libevent)

ifeq ($(SUITES_FROM),)
$(TESTS): $(BUILD)/%: %.c $(TEST_OBJS) | need-libevent
	@mkdir -p $(@D)
	$(call say,TEST)
	@$(CC) $(CPPFLAGS) -Itests/support -MM -MP -MT $@ $< > $@.d
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Itests/support $< $(TEST_OBJS) -o $@ $(LDFLAGS) \
	  $$(pkg-config --cflags --libs criterion libevent) -lutil -ldl -lm
else
# One sub-make brings the plain suites up to date; each link is then made
# again every time (ld replaces a rebuilt file, so an old link is stale).
.PHONY: plain-suites FORCE
plain-suites:
	@$(MAKE) --no-print-directory BUILD=$(SUITES_FROM) SAN= SUITES_FROM= $(TESTS:$(BUILD)/%=$(SUITES_FROM)/%)
$(TESTS): $(BUILD)/%: FORCE | plain-suites
	@mkdir -p $(@D)
	@ln -f $(SUITES_FROM)/$* $@
endif

$(EVLAB): $(EVLAB_SRCS) | need-libevent
	@mkdir -p $(@D)
	$(call say,EVLAB)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN) $(WARN) -MMD -MP $(EVLAB_SRCS) -o $@ $(LDFLAGS) $(SAN) \
	  $$(pkg-config --cflags --libs libevent)

-include $(PROGS:%=%.d) $(LIBS:%.so=%.d) $(TESTS:%=%.d) $(TEST_OBJS:%.o=%.d) $(EVLAB).d

# A grading suite depends on what its exercise's manifest says it needs.
$(foreach f,$(EX_FIELDS),$(if $(findstring @needs@,$(f)),$(eval \
  $(BUILD)/tests/grading/$(word 1,$(subst @, ,$(f))): $(BUILD)/$(word 3,$(subst @, ,$(f)))))): \
  $(addprefix $(BUILD)/,$(call ex_field,$(m),needs))))

# --- set-up and the main job ---------------------------------------------------
# Packages come in groups (tools/deps.sh): each target installs what it runs.
deps: deps-check
deps-tour:
	@tools/deps.sh tour
deps-check:
	@tools/deps.sh tour tests docs
deps-bench:
	@tools/deps.sh tour tests bench

# Lesson programs built on another library (lesson 17's comparison) are left
# out of the tour when that library is missing: the tour group does not have it.
HAVE_LIBUV := $(shell pkg-config --exists libuv 2>/dev/null && echo yes)
HAVE_LIBEV := $(shell test -f /usr/include/ev.h && echo yes)
TOUR_SKIP  := $(if $(HAVE_LIBUV),,$(BUILD)/lessons/17-echo-bench/uv_echo) \
              $(if $(HAVE_LIBEV),,$(BUILD)/lessons/17-echo-bench/ev_echo)

# A sub-make, so that what deps-tour just installed (libevent) is seen.
tour: deps-tour
	@$(MAKE) --no-print-directory tour-build
	@./evlab tour

.PHONY: tour-build
tour-build: $(EVLAB) $(filter-out $(TOUR_SKIP),$(LESSONS))
	@:

compile_commands.json:
	bear --output $@ -- $(MAKE) -B all tests

# --- tests -------------------------------------------------------------------
# make check = deps, a -Werror build, every suite, the exercise checks, and the
# same suites again under ASan+UBSan (and TSan for the thread lessons).
RESULTS := build/check-results.txt
CHECK_EXTRA ?=

check: deps-check
	@$(MAKE) --no-print-directory check-all

# A sub-make, so that what deps just installed (pandoc, chromium) is seen.
# EVLAB_CHECK_RUN marks every process this run starts: tools/strays.sh kills
# only what carries it.
check-all: export EVLAB_CHECK_RUN := $(shell date +%s%N)
check-all:
	@rm -f $(RESULTS) $(RESULTS).details $(RESULTS).flaky build/check-phases.txt; mkdir -p build; date +%s > build/.check-start
	@$(MAKE) --no-print-directory -j$(NPROC) check-build
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=build/asan SAN='$(ASAN)' sanitized
	@echo "build took $$(( $$(date +%s) - $$(cat build/.check-start) )) s"
	@for t in check-run check-exercises check-asan check-tsan $(CHECK_EXTRA); do t0=$$(date +%s); \
	  $(MAKE) --no-print-directory $$t || { echo "$$t(exit-status) 0 1" >> $(RESULTS); echo "make $$t stopped with an error (see above)" >> $(RESULTS).details; }; \
	  echo "$$t took $$(( $$(date +%s) - t0 )) s" | tee -a build/check-phases.txt; done
	@tools/strays.sh $(RESULTS)
	@echo "$$(( $$(date +%s) - $$(cat build/.check-start) )) s" > build/check-time.txt
	@echo "make check took $$(cat build/check-time.txt)"
	@tools/summary.sh $(RESULTS)

check-build: all tests

# What the sanitizer pass runs: the lesson and grading suites (the plain
# build's, linked) on sanitized lessons, solutions and grading loaders. The
# broken variants and second-style solutions run in the plain build only.
SAN_SUITES := $(filter $(BUILD)/tests/lessons/% $(BUILD)/tests/grading/%,$(TESTS)) \
              $(filter $(BUILD)/tests/grading/loader/% $(BUILD)/tests/grading/preload/%,$(PROGS) $(LIBS))
.PHONY: sanitized
sanitized: lessons solutions $(SAN_SUITES)

RUN_SUITES ?= $(filter-out $(BUILD)/tests/grading/%,$(TESTS))
check-run: lessons $(EVLAB) $(RUN_SUITES)
	@tools/run-suites.sh $(RESULTS) $(BUILD) $(RUN_SUITES)

check-exercises: exercises solutions tests
	@tools/check-exercises.sh $(RESULTS) $(BUILD)

# The lesson suites again on sanitized lessons. (The runner's suites stay in
# the plain build: its sandbox caps address space, which ASan cannot run under.)
ASAN_SKIP := 07-signals 09-watermarks 15-debugging
ASAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
check-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SAN='$(ASAN)' \
	  RUN_SUITES='$(patsubst $(BUILD)/%,build/asan/%,$(filter $(BUILD)/tests/lessons/%,$(TESTS)))' check-run
	@$(MAKE) --no-print-directory BUILD=build/asan SAN='$(ASAN)' sanitized
	@EVLAB_SOLUTIONS_ONLY=1 EVLAB_ASAN_SKIP='$(ASAN_SKIP)' tools/check-exercises.sh $(RESULTS) build/asan

# Only programs that use threads are rebuilt under TSan.
TSAN_TESTS ?= $(wildcard tests/lessons/13-*.c)
check-tsan:
	@$(MAKE) --no-print-directory BUILD=build/tsan SAN='-fsanitize=thread' \
	  $(patsubst $(BUILD)/%,build/tsan/%,$(filter $(BUILD)/lessons/13-% $(BUILD)/solutions/13-%,$(PROGS))) \
	  $(TSAN_TESTS:%.c=build/tsan/%)
	@tools/run-suites.sh $(RESULTS) build/tsan $(TSAN_TESTS:%.c=build/tsan/%)

clean:
	rm -rf build compile_commands.json

help:
	@echo "evlab targets:"
	@echo "  make tour        install what is missing, then walk through the lessons step by step"
	@echo "  make check       install what is missing, then build with -Werror and run every test"
	@echo "  make all         build lessons, exercises, solutions and the evlab runner"
	@echo "  make lessons     build the lesson programs (build/lessons/...)"
	@echo "  make exercises   build the exercise starters"
	@echo "  make solutions   build the reference solutions"
	@echo "  make tests       build the Criterion suites"
	@echo "  make check-asan  the suites again, programs built with ASan+UBSan"
	@echo "  make check-tsan  the thread lessons under ThreadSanitizer"
	@echo "  make check-exercises  every starter fails its suite, every solution passes"
	@echo "  make deps        install the packages make check needs (tools/deps.sh tour tests docs)"
	@echo "  make compile_commands.json   for clangd (needs bear)"
	@echo "  make clean       remove build/"
	@for f in $(wildcard mk/*.mk); do sed -n 's/^## \(.*\)/  \1/p' $$f; done

# make bench installs its group first (this prerequisite comes before bench.mk's).
bench: deps-bench

# Later parts of the toolkit (slides, bench, grader) add their own fragments.
-include $(wildcard mk/*.mk)

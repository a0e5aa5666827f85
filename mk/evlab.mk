# evlab.mk -- the runner's test fixtures: a tiny course and the hostile corpus.
#
# build/tests/tools/fixture/ is tests/tools/fixtures/course/ plus the real
# Makefile, lesson.h and tests/support/, built once; the runner's suites copy
# it to a temporary directory and point EVLAB_ROOT at the copy.
# build/tests/hostile/suites/00-hostile is the grading suite the hostile
# submissions in tests/hostile/ are graded with (never part of the course).
## make evlab       build the evlab runner (build/evlab); ./evlab help lists its commands

.PHONY: evlab
evlab: $(EVLAB)
	@:

EVLAB_FIXTURE      := $(BUILD)/tests/tools/fixture
EVLAB_FIXTURE_SRCS := $(shell find tests/tools/fixtures/course -type f 2>/dev/null)
EVLAB_HOSTILE      := $(BUILD)/tests/hostile/suites/00-hostile

$(EVLAB_FIXTURE)/.stamp: $(EVLAB_FIXTURE_SRCS) Makefile $(wildcard tools/*.sh) lessons/lesson.h $(TEST_SUPPORT) $(wildcard tests/support/*.h) | need-libevent
	$(call say,FIXTURE)
	@rm -rf $(EVLAB_FIXTURE) && mkdir -p $(EVLAB_FIXTURE)/tests/support $(EVLAB_FIXTURE)/lessons
	@cp -R tests/tools/fixtures/course/. $(EVLAB_FIXTURE)/
	@cp Makefile $(EVLAB_FIXTURE)/ && cp lessons/lesson.h $(EVLAB_FIXTURE)/lessons/
	@mkdir -p $(EVLAB_FIXTURE)/tools && cp tools/*.sh $(EVLAB_FIXTURE)/tools/
	@cp tests/support/* $(EVLAB_FIXTURE)/tests/support/
	@$(MAKE) -s --no-print-directory -C $(EVLAB_FIXTURE) BUILD=build SAN= lessons exercises solutions tests
	@touch $@

$(EVLAB_HOSTILE): tests/hostile/suite.c $(TEST_OBJS) | need-libevent
	@mkdir -p $(@D)
	$(call say,TEST)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Itests/support $< $(TEST_OBJS) -o $@ $(LDFLAGS) \
	  $$(pkg-config --cflags --libs criterion libevent) -lutil -ldl -lm

# Every runner suite needs the runner, the fixture and the hostile suite.
$(filter $(BUILD)/tests/tools/%,$(TESTS)): $(EVLAB) $(EVLAB_FIXTURE)/.stamp \
  $(if $(wildcard tests/hostile/suite.c),$(EVLAB_HOSTILE))

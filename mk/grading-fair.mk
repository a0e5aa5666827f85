# grading-fair.mk -- second-style correct solutions (issue 14).
#
# tests/grading/alt/NN-slug/STYLE/*.c are correct solutions written in a
# different style from the reference (raw events where the reference uses
# bufferevents, or the reverse). tools/check-exercises.sh runs them on every
# backend: they must pass, so the suites are not tuned to the reference.
## make grading-alt   build the second-style solutions (tests/grading/alt/)

ALT_SRCS  := $(wildcard tests/grading/alt/*/*/*.c)
ALT_PROGS := $(ALT_SRCS:%.c=$(BUILD)/%)

$(ALT_PROGS): $(BUILD)/%: %.c | need-libevent
	@mkdir -p $(@D)
	$(call say,CC)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN) $(WARN) -MMD -MP $< -o $@ $(LDFLAGS) $(SAN) $(call pkglibs,$<)

tests: $(ALT_PROGS)
-include $(ALT_PROGS:%=%.d)

# Every grading suite includes gx_server.h or evtest.h; the .d files name them.
.PHONY: grading-alt
grading-alt: $(ALT_PROGS)

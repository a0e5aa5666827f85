# bench-check.mk -- how long `evlab check` takes per exercise (issue 14).
## make bench-check   per exercise: grading time on correct code (goal <= 6 s) and on hanging code (<= 30 s)
.PHONY: bench-check
bench: bench-check

$(BUILD)/tools/bench-hang: tools/bench-hang.c
	@mkdir -p $(@D)
	$(call say,CC)
	$(Q)$(CC) $(CFLAGS) $(WARN) $< -o $@

# Only what it runs: the solutions and the grading suites (not every test).
BENCH_CHECK_NEEDS := $(filter $(BUILD)/tests/grading/%,$(TESTS)) \
                     $(filter $(BUILD)/tests/grading/preload/%,$(LIBS))

bench-check: solutions $(BENCH_CHECK_NEEDS) $(BUILD)/tools/bench-hang
	@echo "== grading time per exercise (suite --jobs 2, as evlab check runs it)"
	@tools/bench-check.sh $(BUILD)

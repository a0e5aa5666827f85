# bench-check.mk -- how long `evlab check` takes per exercise (issue 14).
## make bench-check   per exercise: grading time on correct code (goal <= 6 s) and on hanging code (<= 30 s)
.PHONY: bench-check
bench: bench-check

$(BUILD)/tools/bench-hang: tools/bench-hang.c
	@mkdir -p $(@D)
	$(call say,CC)
	$(Q)$(CC) $(CFLAGS) $(WARN) $< -o $@

bench-check: solutions tests $(BUILD)/tools/bench-hang
	@echo "== grading time per exercise (suite --jobs 2, as evlab check runs it)"
	@tools/bench-check.sh $(BUILD)

# bench-grading.mk -- what the grader's sandbox costs (issue 13).
## make bench-grading  grade every reference solution in the bwrap sandbox and in the uid fallback; the ratio
.PHONY: bench-grading
bench: bench-grading
bench-grading: $(EVLAB) solutions tests
	@tools/bench-grading.sh $(BUILD)

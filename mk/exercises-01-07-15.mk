# exercises-01-07-15.mk -- grading for exercises 01-07 and 15.
#
# Broken variants of a function-level exercise (one whose starter has no
# main()) must be shared objects too: their suite dlopen()s NAME.so. The
# Makefile builds every broken variant as a program, so such a variant also
# carries a one-line main() stub (it links either way) and is built here as
# build/tests/grading/broken/NN-slug/VARIANT/NAME.so as well.
# tests/grading/preload/*.c are helper libraries a suite LD_PRELOADs
# (15-debugging switches libevent's debug mode on before main()).
## make grading-01-07-15   build exercises 01-07 and 15: starters, solutions, suites, broken variants

GB_SLUGS := 01-supported-methods 02-backend-features 03-event-lifecycle 04-event-flags \
            05-loop-modes 06-timeouts 07-signals 15-debugging
gb_nn = $(word 4,$(subst /, ,$(1)))
GB_BROKEN_SO := $(foreach s,$(BROKEN_SRCS),$(if $(filter exercises/$(call gb_nn,$(s))/$(notdir $(s)),$(LIB_SRCS)),$(BUILD)/$(s:.c=.so)))
GB_PRELOAD   := $(patsubst %.c,$(BUILD)/%.so,$(wildcard tests/grading/preload/*.c))

$(GB_BROKEN_SO) $(GB_PRELOAD): $(BUILD)/%.so: %.c | need-libevent
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN) $(WARN) -fPIC -shared -MMD -MP $< -o $@ $(LDFLAGS) $(SAN) $(call pkglibs,$<)

tests: $(GB_BROKEN_SO) $(GB_PRELOAD)
-include $(GB_BROKEN_SO:%=%.d) $(GB_PRELOAD:%=%.d)

# The function-level suites include gb_dl.h (a suite's .d names only its own
# source's headers reliably, so the dependency is spelled out here).
$(BUILD)/tests/grading/02-backend-features $(BUILD)/tests/grading/03-event-lifecycle \
  $(BUILD)/tests/grading/04-event-flags: tests/grading/gb_dl.h

.PHONY: grading-01-07-15
grading-01-07-15: $(GB_BROKEN_SO) $(GB_PRELOAD) $(foreach s,$(GB_SLUGS),$(filter \
  $(BUILD)/exercises/$(s)/% $(BUILD)/solutions/$(s)/% $(BUILD)/tests/grading/broken/$(s)/% \
  $(BUILD)/tests/grading/$(s),$(PROGS) $(LIBS) $(TESTS)))

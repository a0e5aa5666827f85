# trace.mk -- evlab trace: the LD_PRELOAD recorder (tools/trace/evtrace.c).
#
# build/evtrace.so links no libevent of its own: every libevent and libc
# function it wraps is found with dlsym(RTLD_NEXT), so it loads into any
# program, and says nothing where there is no libevent.
## make trace       build/evtrace.so, the recorder behind ./evlab trace

.PHONY: trace
trace: $(BUILD)/evtrace.so
all: $(BUILD)/evtrace.so

$(BUILD)/evtrace.so: tools/trace/evtrace.c tools/evlab/evtrace.h | need-libevent
	@mkdir -p $(@D)
	$(call say,SO)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN) $(WARN) -fPIC -shared -fvisibility=hidden -MMD -MP $< \
	  -o $@ $(LDFLAGS) $(SAN) $$(pkg-config --cflags libevent) -ldl -lpthread

-include $(BUILD)/evtrace.d

# The trace suite runs the recorder on lesson programs and the evlab runner.
$(BUILD)/tests/tools/trace: $(BUILD)/evtrace.so $(EVLAB) $(LESSONS)

# The recorder itself under ASan+UBSan: the trace suite again, with every
# traced program preloading libasan and build/asan/evtrace.so (the programs
# themselves stay unsanitized; leaks are theirs, so leak checks are off).
## make check-trace-asan   the trace suite with the recorder built with ASan+UBSan
.PHONY: check-trace-asan
check-trace-asan: $(BUILD)/tests/tools/trace
	@$(MAKE) --no-print-directory BUILD=build/asan SAN='$(ASAN)' build/asan/evtrace.so
	@ln -sf trace $(BUILD)/tests/tools/trace-asan   # its own line in the results
	@EVLAB_TRACE_PRELOAD="$$($(CC) -print-file-name=libasan.so) $(abspath build/asan/evtrace.so)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  tools/run-suites.sh $(RESULTS) $(BUILD) $(BUILD)/tests/tools/trace-asan
CHECK_EXTRA += check-trace-asan
$(BUILD)/tests/tools/trace: tools/trace/evtrace_grading.h

# Lesson 12's deck shows a real trace of seed 003's blocking accept (two
# clients at once), made when the deck is built.
TRACE_SVG := build/trace/12-blocking-accept.svg
$(TRACE_SVG): $(EVLAB) $(BUILD)/evtrace.so $(BUILD)/lessons/12-blocking-callbacks/blocking_accept
	@mkdir -p $(@D)
	$(call say,TRACE)
	$(Q)EVLAB_BUILD=$(BUILD) $(EVLAB) trace --quiet --clients 2 --svg $@ -- \
	  $(BUILD)/lessons/12-blocking-callbacks/blocking_accept --port 0 --sleep-ms 1000 \
	  --heartbeat-ms 250 >/dev/null
build/slides/12-blocking-callbacks.html: $(TRACE_SVG)

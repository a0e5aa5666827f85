# trace.mk -- evlab trace: the LD_PRELOAD recorder (tools/trace/evtrace.c).
#
# build/evtrace.so links no libevent of its own: every libevent and libc
# function it wraps is found with dlsym(RTLD_NEXT), so it loads into any
# program, and says nothing where there is no libevent.
## make trace       build/evtrace.so, the recorder behind ./evlab trace

.PHONY: trace
trace: $(BUILD)/evtrace.so
all: $(BUILD)/evtrace.so

$(BUILD)/evtrace.so: tools/trace/evtrace.c tools/trace/evtrace.h | need-libevent
	@mkdir -p $(@D)
	$(call say,SO)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN) $(WARN) -fPIC -shared -fvisibility=hidden -MMD -MP $< \
	  -o $@ $(LDFLAGS) $(SAN) $$(pkg-config --cflags libevent) -ldl -lpthread

-include $(BUILD)/evtrace.d

# The trace suite runs the recorder on lesson programs and the evlab runner.
$(BUILD)/tests/tools/trace: $(BUILD)/evtrace.so $(EVLAB) $(LESSONS)

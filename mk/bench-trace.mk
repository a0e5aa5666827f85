# bench-trace.mk -- what evlab trace costs: server CPU per echoed message with
# and without the recorder (tools/trace/bench.sh); part of make bench.
## make bench-trace  evlab trace's overhead on lesson 17's echo bench (CPU per message)
.PHONY: bench-trace
bench: bench-trace
bench-trace: $(BUILD)/evtrace.so $(BUILD)/lessons/17-echo-bench/load_gen \
             $(BUILD)/lessons/10-echo-server/bufferevent_echo
	@FULL=$(FULL) EVLAB_BUILD=$(BUILD) tools/trace/bench.sh

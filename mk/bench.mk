# bench.mk -- performance is measured here, never asserted in tests.
## make bench       backends (lesson 16), echo servers vs raw epoll/libuv/libev (17), build speed
## make bench FULL=1  the long version
bench: all
	@FULL=$(FULL) tools/bench.sh

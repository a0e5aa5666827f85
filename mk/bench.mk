# bench.mk -- performance is measured here, never asserted in tests.
## make bench       lessons 16-17 measured (CPU per message, shuffled rounds, 95% CIs, plots); < 5 min
## make bench FULL=1  more rounds and sizes; PIN=0 unpins server and generator; SEED=N replays an order
## make bench-build  build speed: make -j2 from clean, and a no-op make
# Other fragments add their own measurements with "bench: bench-xyz".
.PHONY: bench bench-lessons bench-build
bench: bench-lessons

bench-lessons: lessons
	@FULL=$(FULL) PIN=$(PIN) SEED=$(SEED) tools/bench.sh

bench-build:
	@tools/bench-build.sh

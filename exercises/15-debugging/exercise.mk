# exercise.mk -- what exercise 15-debugging builds, read by the Makefile and by evlab grade.
# kind: program (a main(), built to build/exercises/15-debugging/NAME) or library
# (built to NAME.so and called by its suite). needs: build products its suite uses.
kind = program
needs = tests/grading/preload/debug_mode.so

# exercise.mk -- what exercise 11-fifo-reader builds, read by the Makefile and by evlab grade.
# kind: program (a main(), built to build/exercises/11-fifo-reader/NAME) or library
# (built to NAME.so and called by its suite). needs: build products its suite uses.
kind = program

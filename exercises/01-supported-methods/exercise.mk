# exercise.mk -- what exercise 01-supported-methods builds, read by the Makefile and by evlab grade.
# kind: program (a main(), built to build/exercises/01-supported-methods/NAME) or library
# (built to NAME.so and called by its suite). needs: build products its suite uses.
kind = program

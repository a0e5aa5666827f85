# exercise.mk -- what exercise 08-bufferevent-connect builds, read by the Makefile and by evlab grade.
# kind: program (a main(), built to build/exercises/08-bufferevent-connect/NAME) or library
# (built to NAME.so and called by its suite). needs: build products its suite uses.
kind = program

# exercise.mk -- what exercise 14-async-downloader builds, read by the Makefile and by evlab grade.
# kind: program (a main(), built to build/exercises/14-async-downloader/NAME) or library
# (built to NAME.so and called by its suite). needs: build products its suite uses.
kind = program

# exercise.mk -- what exercise 02-backend-features builds, read by the Makefile and by evlab grade.
# kind: program (a main(), built to build/exercises/02-backend-features/NAME) or library
# (built to NAME.so and called by its suite). needs: build products its suite uses.
kind = library
# The suite runs the library in this loader, never in its own process.
needs = tests/grading/loader/02-backend-features

# exercise.mk -- what exercise 03-event-lifecycle builds, read by the Makefile and by evlab grade.
# kind: program (a main(), built to build/exercises/03-event-lifecycle/NAME) or library
# (built to NAME.so and called by its suite). needs: build products its suite uses.
kind = library
# The suite runs the library in this loader, never in its own process.
needs = tests/grading/loader/03-event-lifecycle

# gradescope.mk -- the Gradescope autograder (tools/gradescope/).
## make gradescope  build/gradescope/autograder.zip for Gradescope (setup.sh + run_autograder)
.PHONY: gradescope
gradescope:
	@tools/gradescope/pack.sh . build/gradescope

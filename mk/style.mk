# style.mk -- neighbouring lessons that share code keep it the same bytes.
## make check-shared  the lesson-10 servers' "shared:" regions are identical and in the same order

SHARED_SRCS := $(addprefix lessons/10-echo-server/,bufferevent_echo.c line_echo.c fixed_echo.c)

.PHONY: check-shared
check-shared:
	@mkdir -p build; if tools/check-shared.sh $(SHARED_SRCS); then echo "shared 1 0" >> $(RESULTS); \
	else echo "shared: the regions differ; run 'diff -u' on the files named above" | tee -a $(RESULTS).details; \
	  echo "shared 0 1" >> $(RESULTS); fi

CHECK_EXTRA += check-shared

# format.mk -- the C sources follow .clang-format (clang-format from Debian).
## make format        reformat every tracked .c and .h with clang-format
## make check-format  fail (and name the files) if any source differs from .clang-format

FORMAT_SRCS = $$(git ls-files '*.c' '*.h' 2>/dev/null || find lessons exercises solutions tests tools -name '*.[ch]')

.PHONY: format check-format
format:
	@clang-format -i $(FORMAT_SRCS)

check-format:
	@if ! command -v clang-format >/dev/null; then \
	  echo "format: clang-format is not installed (make deps installs it)"; echo "format 0 1" >> $(RESULTS); exit 0; fi; \
	mkdir -p build; \
	bad=$$(clang-format --dry-run -Werror $(FORMAT_SRCS) 2>&1 | \
	  sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*/ \1/p' | sort -u | tr -d '\n'); \
	if [ -z "$$bad" ]; then echo "format: every source follows .clang-format"; echo "format 1 0" >> $(RESULTS); \
	else echo "format: these differ from .clang-format (run 'make format'):$$bad" | tee -a $(RESULTS).details; \
	  echo "format 0 1" >> $(RESULTS); fi

CHECK_EXTRA += check-format

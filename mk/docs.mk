# docs.mk -- slides and lab handouts from the same compiled sources (pandoc).
## make slides      build/slides/NN-slug.html: self-contained decks (pandoc dzslides)
## make handouts    build/handouts/NN-slug.{html,pdf}: lab handouts (pandoc + weasyprint)
## make docs        both, plus build/docs-index.html linking them all
## make check-docs  render the decks in headless Chromium, check the PDFs

DECK_SRCS   := $(wildcard slides/[0-9][0-9]-*.md)
DECKS       := $(DECK_SRCS:slides/%.md=build/slides/%.html)
HANDOUT_SLUGS := $(notdir $(patsubst %/README.md,%,$(wildcard lessons/[0-9][0-9]-*/README.md)))
HANDOUTS    := $(HANDOUT_SLUGS:%=build/handouts/%.html) $(HANDOUT_SLUGS:%=build/handouts/%.pdf)
# One Markdown dialect everywhere: CommonMark with pandoc's extensions reads
# tables, `a\|b` in code spans and numbered lists the way GitHub does.
PANDOC      := pandoc -f commonmark_x --lua-filter tools/docs/include.lua --self-contained -s
DECK_STYLE  := slides/style/deck.html slides/style/deck.css slides/style/deck.js

.PHONY: slides handouts docs check-docs
slides: $(DECKS)
handouts: $(HANDOUTS)
docs: slides handouts build/docs-index.html

# A deck depends on its lesson's programs: they are built, and run for "what you will see".
.SECONDEXPANSION:
build/slides/%.html: slides/%.md tools/docs/include.lua $(DECK_STYLE) \
		$$(filter $(BUILD)/lessons/$$*/$$(percent),$(LESSONS)) $$(wildcard lessons/$$*/*.c)
	@mkdir -p $(@D)
	$(call say,DECK)
	$(Q)EVLAB_BUILD=$(BUILD) $(PANDOC) -t html5 --section-divs --template slides/style/deck.html \
	  --css slides/style/deck.css -V include-after='<script src="slides/style/deck.js"></script>' $< -o $@

build/handouts/%.md: lessons/%/README.md tools/docs/handout.sh tools/docs/labsheet.awk tools/docs/points.sh \
		slides/handout-setup.md $$(wildcard lessons/$$*/lab.md) $$(wildcard tests/grading/$$*.c) \
		$$(wildcard exercises/$$*/README.md) $$(wildcard lessons/$$*/*.c) \
		$$(filter $(BUILD)/lessons/$$*/$$(percent),$(LESSONS))
	@mkdir -p $(@D)
	$(call say,GEN)
	$(Q)tools/docs/handout.sh $* > $@

build/handouts/%.html: build/handouts/%.md tools/docs/include.lua slides/style/handout.css
	$(call say,HTML)
	$(Q)EVLAB_BUILD=$(BUILD) $(PANDOC) -t html5 --toc --toc-depth=2 --css slides/style/handout.css $< -o $@

build/handouts/%.pdf: build/handouts/%.html
	$(call say,PDF)
	$(Q)weasyprint -q $< $@

build/docs-index.html: $(DECKS) $(HANDOUTS) tools/docs/index.sh
	$(call say,GEN)
	$(Q)tools/docs/index.sh $(DECK_SRCS:slides/%.md=%) > $@

percent := %
# Keep the generated Markdown: parallel HTML and PDF builds both need it.
.PRECIOUS: build/handouts/%.md

DOCS_TEST := $(BUILD)/tests/docs/docs
$(DOCS_TEST): tests/docs/docs.c $(TEST_OBJS)
	@mkdir -p $(@D)
	$(call say,TEST)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Itests/support $< $(TEST_OBJS) -o $@ $(LDFLAGS) \
	  $$(pkg-config --cflags --libs criterion libevent) -lutil -ldl -lm

# run-suites.sh only records; check-docs exits non-zero when either docs suite
# (docs.c, labs.c) failed or died.
check-docs: docs $(DOCS_TEST)
	@rm -f $(BUILD)/docs-results.txt $(BUILD)/docs-results.txt.details $(BUILD)/docs-results.txt.flaky
	@tools/run-suites.sh $(BUILD)/docs-results.txt $(BUILD) $(DOCS_TEST) $(LABS_TEST)
	@cat $(BUILD)/docs-results.txt >> $(RESULTS)
	@if [ -f $(BUILD)/docs-results.txt.details ]; then cat $(BUILD)/docs-results.txt.details >> $(RESULTS).details; fi
	@if [ -f $(BUILD)/docs-results.txt.flaky ]; then cat $(BUILD)/docs-results.txt.flaky >> $(RESULTS).flaky; fi
	@awk '$$3 != 0 { bad = 1 } END { exit bad }' $(BUILD)/docs-results.txt

# make check runs the browser tests where pandoc is installed (make deps installs it).
ifneq ($(shell command -v pandoc),)
CHECK_EXTRA += check-docs
endif

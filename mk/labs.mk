# labs.mk -- diagrams, the instructor build and review screenshots.
## make diagrams    build/diagrams/*.svg from slides/diagrams/*.dot (Graphviz)
## make instructor  build/instructor/: decks with notes, deck PDFs, answer keys, course guide
## make docs-shots  build/docs-shots/*.png: one slide of decks 03, 10, 12 and two handout pages

DIAGRAMS := $(patsubst slides/diagrams/%.dot,build/diagrams/%.svg,$(wildcard slides/diagrams/*.dot))
.PHONY: diagrams
diagrams: $(DIAGRAMS)
build/diagrams/%.svg: slides/diagrams/%.dot
	@mkdir -p $(@D)
	dot -Tsvg $< -o $@
# Decks and lab sheets embed the pictures (pandoc --self-contained).
$(DECKS) $(HANDOUT_SLUGS:%=build/handouts/%.html): $(DIAGRAMS)

# ---- make instructor: kept out of the student build ---------------------------------
INSTR       := build/instructor
INSTR_DECKS := $(DECK_SRCS:slides/%.md=$(INSTR)/slides/%.html)
INSTR_PDFS  := $(DECK_SRCS:slides/%.md=$(INSTR)/pdf/%.pdf)
INSTR_KEYS  := $(HANDOUT_SLUGS:%=$(INSTR)/answers/%.html)
.PHONY: instructor
instructor: $(INSTR_DECKS) $(INSTR_PDFS) $(INSTR_KEYS) $(INSTR)/guide.html $(INSTR)/index.html

# The same deck with its speaker notes shown.
$(INSTR)/slides/%.html: build/slides/%.html
	@mkdir -p $(@D)
	$(call say,DECK)
	$(Q)EVLAB_BUILD=$(BUILD) $(PANDOC) -t html5 --section-divs --template slides/style/deck.html -M instructor=true \
	  --css slides/style/deck.css -V include-after='<script src="slides/style/deck.js"></script>' slides/$*.md -o $@

# One slide per page, printed by Chromium from the student deck.
$(INSTR)/pdf/%.pdf: build/slides/%.html tools/docs/print.sh
	@mkdir -p $(@D)
	tools/docs/print.sh $< $@

# Answer key: the lesson's questions, then lessons/NN-slug/answers.md.
$(INSTR)/answers/%.md: lessons/%/README.md tools/docs/answers.sh $$(wildcard lessons/$$*/answers.md)
	@mkdir -p $(@D)
	tools/docs/answers.sh $* > $@
$(INSTR)/answers/%.html: $(INSTR)/answers/%.md tools/docs/include.lua slides/style/handout.css
	EVLAB_BUILD=$(BUILD) $(PANDOC) -t html5 --css slides/style/handout.css $< -o $@

$(INSTR)/guide.html: slides/instructor/guide.md slides/style/handout.css
	@mkdir -p $(@D)
	$(PANDOC) -t html5 --toc --toc-depth=2 --css slides/style/handout.css $< -o $@
$(INSTR)/index.html: tools/docs/instructor-index.sh $(wildcard lessons/*/README.md)
	@mkdir -p $(@D)
	tools/docs/instructor-index.sh > $@
.PRECIOUS: $(INSTR)/answers/%.md

# ---- make docs-shots: screenshots for reviewers --------------------------------------
SHOTS := build/docs-shots
.PHONY: docs-shots
docs-shots: build/slides/03-event-lifecycle.html build/slides/10-echo-server.html \
		build/slides/12-blocking-callbacks.html build/handouts/03-event-lifecycle.pdf \
		build/handouts/10-echo-server.pdf tools/docs/shot.sh
	@mkdir -p $(SHOTS)
	tools/docs/shot.sh 'build/slides/03-event-lifecycle.html#3' $(SHOTS)/deck-03-slide-3.png
	tools/docs/shot.sh 'build/slides/10-echo-server.html#4' $(SHOTS)/deck-10-slide-4.png
	tools/docs/shot.sh 'build/slides/12-blocking-callbacks.html#7' $(SHOTS)/deck-12-slide-7.png
	pdftoppm -png -r 80 -f 1 -l 1 -singlefile build/handouts/03-event-lifecycle.pdf $(SHOTS)/handout-03-page-1
	pdftoppm -png -r 80 -f 3 -l 3 -singlefile build/handouts/10-echo-server.pdf $(SHOTS)/handout-10-page-3

# ---- tests of the lab sheets and the home page (run by make check-docs) --------------
LABS_TEST := $(BUILD)/tests/docs/labs
$(LABS_TEST): tests/docs/labs.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< -o $@ $(LDFLAGS) $$(pkg-config --cflags --libs criterion)
check-docs: $(LABS_TEST)

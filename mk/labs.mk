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

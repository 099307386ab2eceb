# mk/demo.mk: the examples, run for show and for the record.
#
#   make demo          build everything (installing missing packages first),
#                      run every example under the virtual clock, and write
#                      traces, diagrams and one Markdown page to build/demo/
#   make demo-golden   the same, checking that each example gives the same
#                      trace twice, then refreshing the golden files under
#                      tests/data/examples/ that tests/test_examples.c compares
#                      against (review the diff before committing it)
#   make gallery       regenerates the README's gallery (every seed diagram's twin)
#                      with `loopmaid build`; `make gallery-check` only checks

.PHONY: demo demo-golden gallery gallery-check

demo: $(DEPS_STAMP) all
	@bash scripts/demo.sh $(BUILD)

demo-golden: $(DEPS_STAMP) all
	@bash scripts/demo.sh --golden $(BUILD)

# The gallery needs the CLI and the examples, not the suite's packages.
gallery: all
	$(BUILD)/loopmaid build

gallery-check: all
	$(BUILD)/loopmaid build --check

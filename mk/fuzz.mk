# mk/fuzz.mk: libFuzzer targets for the inputs loopmaid reads from strangers
# (see docs/reliability.md and fuzz/).
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="reader config escape fastpath convert"]
#       builds the library and fuzz/fuzz_NAME.c with clang
#       (-fsanitize=fuzzer,address,undefined) in build/fuzz/, then runs each
#       target for FUZZ_SECONDS with -timeout=10 -rss_limit_mb=2048. Any
#       crash, sanitizer report, leak, timeout or OOM fails the target; the
#       input that did it is copied to tests/data/fuzz-regressions/NAME/,
#       where tests/test_fuzz.c replays it in every `make test` from then on.
#   make fuzz-bins      only builds the fuzzers
#
# clang and libclang-rt-14-dev come from scripts/deps.sh fuzz. The seeds are
# fuzz/corpus/NAME/, the suite's own inputs under tests/data/ and every saved
# regression; what the fuzzer learns goes to build/fuzz/corpus/NAME/ (kept
# between runs, never committed).

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= reader config escape fastpath convert
FUZZ_BUILD   ?= build/fuzz
# The library and the targets are instrumented for coverage and checked by
# ASan and UBSan; only the final link adds libFuzzer's main.
FUZZ_SAN     := fuzzer-no-link,address,undefined
FUZZ_BINS     = $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

.PHONY: fuzz fuzz-bins fuzz-build fuzz-run

fuzz:
	@sh scripts/deps.sh build fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang SAN=$(FUZZ_SAN) \
	    OPT="-O1 -g" fuzz-run

fuzz-bins:
	@sh scripts/deps.sh build fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang SAN=$(FUZZ_SAN) \
	    OPT="-O1 -g" fuzz-build

# The two below are meant for the sub-make above (BUILD=build/fuzz, CC=clang).
fuzz-build: $(FUZZ_BINS)

fuzz-run: fuzz-build
	@sh scripts/fuzz.sh $(BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/fuzz/fuzz_%.o $(ALL_A)
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $< $(ALL_A) \
	    $(LDFLAGS) $(LIBS)

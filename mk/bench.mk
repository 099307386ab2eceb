# mk/bench.mk: loopmaid measured beside its peers (see bench/README.md).
#
#   make bench          every workload at full size, median of 5 runs, one table
#                       (also written to build/bench/results.md)
#   make bench-quick    the same at smaller sizes, for everyday use (< 1 minute)
#   make bench-profile BENCH_W=echo [BENCH_N=100000] [BENCH_TRACE=1]
#                       perf profile of loopmaid on one workload (callgrind when
#                       perf is missing), to see where the time goes
#
# The peers are bench/uv_bench.c (libuv, from pkg-config) and
# bench/asyncio_bench.py (the machine's python3). scripts/deps.sh bench installs
# libuv1-dev, python3 and time when they are missing. Nothing here runs in
# `make test`: no timing is ever asserted.

BENCH_OUT := $(BUILD)/bench
BENCH_DEPS_STAMP := $(BUILD)/.deps-bench-ok
BENCH_PY ?= python3
BENCH_RUNS ?= 5
UV_CFLAGS = $(shell pkg-config --cflags libuv 2>/dev/null)
UV_LIBS   = $(shell pkg-config --libs libuv 2>/dev/null || echo -luv)
BENCH_BINS := $(BENCH_OUT)/lm_bench $(BENCH_OUT)/uv_bench $(BENCH_OUT)/yaml_parse

.PHONY: bench bench-quick bench-bins bench-profile

$(BENCH_DEPS_STAMP):
	@mkdir -p $(BUILD)
	@sh scripts/deps.sh $(DEPS_CHECK) build bench
	@touch $@

# The objects come from the Makefile's own %.o rule (so -MMD dependencies are
# tracked); the libuv peer needs libuv's include flags on top.
$(BUILD)/obj/bench/uv_bench.o: EXTRA_CFLAGS += $(UV_CFLAGS)
$(BUILD)/obj/bench/lm_bench.o $(BUILD)/obj/bench/uv_bench.o \
$(BUILD)/obj/bench/yaml_parse.o: | $(BENCH_DEPS_STAMP)

$(BENCH_OUT)/lm_bench: $(BUILD)/obj/bench/lm_bench.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(LIB_A) $(LDFLAGS_ALL) $(TRACER_LIBS)

$(BENCH_OUT)/uv_bench: $(BUILD)/obj/bench/uv_bench.o
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(LDFLAGS_ALL) $(UV_LIBS)

$(BENCH_OUT)/yaml_parse: $(BUILD)/obj/bench/yaml_parse.o
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(LDFLAGS_ALL) $(RENDER_LIBS)

# The render workload also needs the CLI and build/tools/gentrace.
bench-bins: $(BENCH_DEPS_STAMP) $(BENCH_BINS) cli tools

bench: bench-bins
	$(BENCH_PY) bench/run.py --build $(BUILD) --runs $(BENCH_RUNS)

bench-quick: bench-bins
	$(BENCH_PY) bench/run.py --build $(BUILD) --runs $(BENCH_RUNS) --quick

BENCH_W ?= echo
BENCH_N ?=
BENCH_TRACE ?=
bench-profile: $(BENCH_DEPS_STAMP) $(BENCH_OUT)/lm_bench
	@sh bench/profile.sh $(BENCH_OUT)/lm_bench "$(BENCH_W)" "$(BENCH_N)" "$(BENCH_TRACE)"

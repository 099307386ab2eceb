# mk/valgrind.mk: the suite under valgrind's memcheck (see docs/reliability.md).
#
#   make valgrind [VALGRIND_TESTS="test_task test_sync ..."]
#       builds the suite in build/valgrind/ (plain gcc, -O1 -g) once valgrind
#       is installed, so tracer/coro.c finds <valgrind/valgrind.h> and
#       registers every task stack with VALGRIND_STACK_REGISTER (without it,
#       each context switch would look like a wild stack pointer change), then
#       runs every test binary with --jobs=1 under
#         valgrind --trace-children=yes --leak-check=full
#       writing one log per process. Criterion forks a worker per test and
#       does not look at how the worker exited, so a test binary fails here
#       when Criterion reports a failure OR any process left a non-empty
#       valgrind log (a memory error or a definite leak).
#
# The stress test runs LOOPMAID_STRESS_TASKS=3000 tasks instead of 100,000
# (the same code paths; valgrind runs it about 50 times slower), and the
# limit tests that only measure memory budgets skip themselves (RLIMIT_AS
# means nothing inside valgrind).

VALGRIND_BUILD ?= build/valgrind
VALGRIND_TESTS ?= $(notdir $(TESTS))

.PHONY: valgrind valgrind-run

valgrind:
	@sh scripts/deps.sh build valgrind
	@$(MAKE) --no-print-directory BUILD=$(VALGRIND_BUILD) OPT="-O1 -g" \
	    VALGRIND_TESTS="$(VALGRIND_TESTS)" valgrind-run

# For the sub-make above (BUILD=build/valgrind). The CLI and the examples are
# built too: some tests run them (and valgrind follows them there).
valgrind-run: all $(TESTS)
	@sh scripts/valgrind.sh $(BUILD) $(addprefix $(BUILD)/tests/,$(VALGRIND_TESTS))

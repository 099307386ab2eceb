# mk/cross.mk: the platforms beyond native x86-64 (README "Platforms").
#
#   make cross-check    installs the aarch64 cross compiler and qemu-user
#                       (scripts/deps.sh cross), builds libloopmaid, the tracer
#                       (libloopmaid-render needs libyaml and PCRE2, which
#                       Debian has no cross packages of), the examples
#                       and the runtime tests for aarch64 in $(CROSS_BUILD),
#                       then scripts/cross-check.sh runs each example under
#                       qemu-aarch64 and the native build, both under the
#                       virtual clock, requires byte-identical traces and
#                       output, and runs the tests under qemu-aarch64.
#   make test-ucontext  the runtime tests and the examples' goldens
#                       ($(UCONTEXT_TESTS)) with the portable ucontext switch
#                       (CORO=ucontext) in $(UCONTEXT_BUILD), natively.
#
# The aarch64 tests are the runtime's own Criterion files, compiled against a
# small stand-in for Criterion (tests/cross/criterion/criterion.h and
# tests/cross/runner.c): Debian has no libcriterion for the cross sysroot.
# Add a test file here when it needs only the tracer (no libyaml, no render/).
#
# `make cross-check CORO=ucontext` runs the same checks with the ucontext
# switch on aarch64.

CROSS_BUILD  ?= $(BUILD)/cross-aarch64$(if $(CORO),-$(CORO))
CROSS_CC     ?= aarch64-linux-gnu-gcc
CROSS_AR     ?= aarch64-linux-gnu-ar
CROSS_SYSROOT ?= /usr/aarch64-linux-gnu
CROSS_RUN    ?= qemu-aarch64 -L $(CROSS_SYSROOT)
CROSS_TESTS  ?= test_coro test_group test_io test_loop test_sync test_task

CROSS_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -MMD -MP $(CORO_CFLAGS) \
               -Itests/cross -Itracer $(EXTRA_CFLAGS)
CROSS_LIBS   = -lpthread -lm

# The same archive as the native $(LIB_A): the tracer alone.
CROSS_LIB      := $(CROSS_BUILD)/libloopmaid.a
CROSS_LIB_OBJS := $(TRACER_OBJS:$(BUILD)/%=$(CROSS_BUILD)/%)
CROSS_EXAMPLES := $(patsubst examples/%.c,$(CROSS_BUILD)/examples/%,$(sort $(wildcard examples/*.c)))
CROSS_TEST_BINS := $(CROSS_TESTS:%=$(CROSS_BUILD)/tests/%)
CROSS_TEST_SUPPORT := $(CROSS_BUILD)/obj/tests/cross/runner.o \
                      $(TEST_SUPPORT_C:%.c=$(CROSS_BUILD)/obj/%.o)
CROSS_STAMP    := $(CROSS_BUILD)/.deps-ok

UCONTEXT_BUILD ?= build/ucontext
UCONTEXT_TESTS ?= $(CROSS_TESTS) test_examples test_stress

.PHONY: cross-check cross-build test-ucontext ucontext-run

cross-check: examples cross-build
	@CROSS_RUN="$(CROSS_RUN)" bash scripts/cross-check.sh $(BUILD) $(CROSS_BUILD) \
	    $(notdir $(CROSS_TEST_BINS))

cross-build: $(CROSS_LIB) $(CROSS_EXAMPLES) $(CROSS_TEST_BINS)

$(CROSS_STAMP):
	@mkdir -p $(dir $@)
	@sh scripts/deps.sh $(DEPS_CHECK) cross
	@touch $@

$(CROSS_BUILD)/obj/%.o: %.c | $(CROSS_STAMP)
	@mkdir -p $(dir $@)
	$(CROSS_CC) $(CROSS_CFLAGS) -c $< -o $@

$(CROSS_BUILD)/obj/%.o: %.S | $(CROSS_STAMP)
	@mkdir -p $(dir $@)
	$(CROSS_CC) $(CROSS_CFLAGS) -c $< -o $@

$(CROSS_LIB): $(CROSS_LIB_OBJS)
	rm -f $@
	$(CROSS_AR) rcs $@ $^

$(CROSS_BUILD)/examples/%: $(CROSS_BUILD)/obj/examples/%.o $(CROSS_LIB)
	@mkdir -p $(dir $@)
	$(CROSS_CC) -o $@ $< $(CROSS_LIB) $(CROSS_LIBS)

$(CROSS_BUILD)/tests/%: $(CROSS_BUILD)/obj/tests/%.o $(CROSS_TEST_SUPPORT) $(CROSS_LIB)
	@mkdir -p $(dir $@)
	$(CROSS_CC) -o $@ $< $(CROSS_TEST_SUPPORT) $(CROSS_LIB) $(CROSS_LIBS)

# The ucontext switch, natively with the real Criterion (test_examples runs
# the examples; nothing here needs the CLI or the .so). The archive must
# really contain it: a build flag that silently did nothing would test the
# assembly twice.
test-ucontext:
	@$(MAKE) --no-print-directory BUILD=$(UCONTEXT_BUILD) CORO=ucontext ucontext-run

ucontext-run: $(EXAMPLES) $(UCONTEXT_TESTS:%=$(BUILD)/tests/%)
	@nm $(BUILD)/obj/tracer/coro.o 2>/dev/null | grep -q ' U swapcontext$$' && \
	  ! nm $(BUILD)/libloopmaid.a 2>/dev/null | grep -q ' T lm__ctx_boot$$' || \
	  { echo "test-ucontext: $(BUILD) was not built with the ucontext switch" >&2; exit 1; }
	@# The Python recorder has no context switch of ours: not run here.
	@LOOPMAID_SKIP_PYTHON=1 sh scripts/run-tests.sh $(BUILD) $(UCONTEXT_TESTS:%=$(BUILD)/tests/%)

-include $(shell find $(CROSS_BUILD)/obj -name '*.d' 2>/dev/null)

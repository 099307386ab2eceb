# loopmaid: the top-level Makefile.
#
#   make            build/libloopmaid.a, build/libloopmaid.so, build/loopmaid,
#                   build/examples/NAME
#   make test       build and run the Criterion suite (tests/test_*.c)
#   make asan       the suite under AddressSanitizer (+ LeakSanitizer)
#   make ubsan      the suite under UndefinedBehaviorSanitizer
#   make demo       run every example and write traces + diagrams to build/demo/
#   make install    PREFIX=/usr/local DESTDIR= : library, headers, CLI, loopmaid.pc
#
# Missing Debian packages are installed by scripts/deps.sh (apt-get when root,
# otherwise it prints the exact command), so `make test` works on a fresh machine.
# More targets (conformance, bench, fuzz, ...) live in mk/*.mk.

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
SAN     ?=
# CORO=ucontext builds the portable ucontext context switch instead of the
# assembly one (tracer/lm_coro.h); `make test-ucontext` tests it (mk/cross.mk).
CORO    ?=

# One warnings line for the whole project.
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
OPT     ?= -O2 -g
SANFLAGS := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all,)
CORO_CFLAGS := $(if $(filter ucontext,$(CORO)),-DLM_CORO_UCONTEXT,)
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -fPIC -MMD -MP $(SANFLAGS) $(CORO_CFLAGS) \
             -Itracer -Irender $(PKG_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

# pkg-config answers only once scripts/deps.sh has run; `=` keeps it lazy.
PKG_CFLAGS = $(shell pkg-config --cflags yaml-0.1 libpcre2-8 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs yaml-0.1 libpcre2-8 2>/dev/null || echo -lyaml -lpcre2-8)
CRIT_LIBS  = $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)
LIBS       = $(PKG_LIBS) -lpthread -lm

TRACER_C := $(sort $(wildcard tracer/*.c))
TRACER_S := $(sort $(wildcard tracer/*.S))
RENDER_C := $(sort $(filter-out render/main.c,$(wildcard render/*.c)))
LIB_OBJS := $(TRACER_C:%.c=$(BUILD)/obj/%.o) $(TRACER_S:%.S=$(BUILD)/obj/%.o) \
            $(RENDER_C:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(BUILD)/obj/render/main.o

TOOLS    := $(patsubst tools/%.c,$(BUILD)/tools/%,$(sort $(wildcard tools/*.c)))
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(sort $(wildcard examples/*.c)))
TESTS    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(sort $(wildcard tests/test_*.c)))
TEST_SUPPORT_C := $(sort $(wildcard tests/support/*.c))
TEST_SUPPORT := $(TEST_SUPPORT_C:%.c=$(BUILD)/obj/%.o)

DEPS_STAMP := $(BUILD)/.deps-ok

.PHONY: tools all lib cli examples test tests asan ubsan install uninstall clean deps check-deps
.DEFAULT_GOAL := all
# Objects of examples, tools and tests are intermediate files to make; keep
# them, or every build relinks from scratch.
.SECONDARY:

all: lib cli examples tools
lib: $(BUILD)/libloopmaid.a $(BUILD)/libloopmaid.so
cli: $(BUILD)/loopmaid
examples: $(EXAMPLES)
tests: $(TESTS)
tools: $(TOOLS)

# Installs the build and test dependencies when missing (see scripts/deps.sh).
$(DEPS_STAMP):
	@mkdir -p $(BUILD)
	@sh scripts/deps.sh build
	@touch $@
deps: $(DEPS_STAMP)

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj/%.o: %.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libloopmaid.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libloopmaid.so: $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,libloopmaid.so.0 -o $@ $^ $(LDFLAGS_ALL) $(LIBS)

$(BUILD)/loopmaid: $(CLI_OBJS) $(BUILD)/libloopmaid.a
	$(CC) -o $@ $(CLI_OBJS) $(BUILD)/libloopmaid.a $(LDFLAGS_ALL) $(LIBS)

$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(BUILD)/libloopmaid.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(BUILD)/libloopmaid.a $(LDFLAGS_ALL) $(LIBS)

# Small helper programs (trace generators and the like), one file each.
$(BUILD)/tools/%: $(BUILD)/obj/tools/%.o $(BUILD)/libloopmaid.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(BUILD)/libloopmaid.a $(LDFLAGS_ALL) $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_SUPPORT) $(BUILD)/libloopmaid.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(TEST_SUPPORT) $(BUILD)/libloopmaid.a $(LDFLAGS_ALL) $(LIBS) $(CRIT_LIBS)

# The suite: every tests/test_*.c is one Criterion binary (one per module).
# The examples and the CLI are built first because some tests run them.
test: all $(TESTS)
	@sh scripts/run-tests.sh $(BUILD) $(TESTS)

# Sanitizer runs build everything again in their own directory.
asan:
	@LSAN_OPTIONS="suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0" \
	  $(MAKE) --no-print-directory BUILD=build/asan SAN=address,undefined OPT="-O1 -g" test
ubsan:
	@$(MAKE) --no-print-directory BUILD=build/ubsan SAN=undefined OPT="-O1 -g" test

# --- install -------------------------------------------------------------
INCDIR = $(DESTDIR)$(PREFIX)/include
LIBDIR = $(DESTDIR)$(PREFIX)/lib
BINDIR = $(DESTDIR)$(PREFIX)/bin
PCDIR  = $(LIBDIR)/pkgconfig

install: lib cli
	install -d $(INCDIR) $(LIBDIR) $(BINDIR) $(PCDIR)
	install -m 644 tracer/loopmaid.h render/loopmaid_render.h $(INCDIR)/
	install -m 644 $(BUILD)/libloopmaid.a $(LIBDIR)/
	install -m 755 $(BUILD)/libloopmaid.so $(LIBDIR)/libloopmaid.so.0
	ln -sf libloopmaid.so.0 $(LIBDIR)/libloopmaid.so
	install -m 755 $(BUILD)/loopmaid $(BINDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/^#define LM_VERSION_STRING "\(.*\)"/\1/p' tracer/loopmaid.h)|g' \
	    scripts/loopmaid.pc.in > $(PCDIR)/loopmaid.pc

uninstall:
	rm -f $(INCDIR)/loopmaid.h $(INCDIR)/loopmaid_render.h $(LIBDIR)/libloopmaid.a \
	      $(LIBDIR)/libloopmaid.so $(LIBDIR)/libloopmaid.so.0 $(BINDIR)/loopmaid $(PCDIR)/loopmaid.pc

clean:
	rm -rf build

-include $(wildcard mk/*.mk)
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

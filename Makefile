# loopmaid: the top-level Makefile.
#
#   make            build/libloopmaid.a, build/libloopmaid.so, build/loopmaid,
#                   build/examples/NAME
#   make test       build and run the Criterion suite (tests/test_*.c)
#   make asan       the suite under AddressSanitizer (+ LeakSanitizer)
#   make ubsan      the suite under UndefinedBehaviorSanitizer
#   make demo       run every example and write traces + diagrams to build/demo/
#   make install    PREFIX=/usr/local DESTDIR= : library, headers, CLI, loopmaid.pc,
#                   man pages, bash completion (make uninstall removes them)
#   make dist       loopmaid-VERSION.tar.gz of the tracked files (mk/dist.mk)
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

.PHONY: tools all lib cli examples test tests asan ubsan install uninstall clean deps check-deps man
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
	@LOOPMAID_SANFLAGS='$(SANFLAGS)' sh scripts/run-tests.sh $(BUILD) $(TESTS)

# Sanitizer runs build everything again in their own directory.
asan:
	@LSAN_OPTIONS="suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0" \
	  $(MAKE) --no-print-directory BUILD=build/asan SAN=address,undefined OPT="-O1 -g" test
ubsan:
	@$(MAKE) --no-print-directory BUILD=build/ubsan SAN=undefined OPT="-O1 -g" test

# --- install -------------------------------------------------------------
# The version lives in one place, tracer/loopmaid.h; the .pc file, the man
# pages, `loopmaid --version` and the release tarball all take it from there.
VERSION := $(shell sed -n 's/^#define LM_VERSION_STRING "\(.*\)"/\1/p' tracer/loopmaid.h)
INCDIR  = $(DESTDIR)$(PREFIX)/include
LIBDIR  = $(DESTDIR)$(PREFIX)/lib
BINDIR  = $(DESTDIR)$(PREFIX)/bin
PCDIR   = $(LIBDIR)/pkgconfig
MANDIR  = $(DESTDIR)$(PREFIX)/share/man
DOCDIR  = $(DESTDIR)$(PREFIX)/share/doc/loopmaid
COMPDIR = $(DESTDIR)$(PREFIX)/share/bash-completion/completions

# Man pages: man/NAME.SECTION.in with the version and date filled in.
# The date is the newest NEWS.md heading's, so a build is reproducible.
MAN_IN   := $(sort $(wildcard man/*.in))
MAN_PAGES := $(MAN_IN:man/%.in=%)
MAN_OUT  := $(MAN_PAGES:%=$(BUILD)/man/%)
MAN_DATE  = $(shell sed -n 's/^## [0-9][^ ]* (\([0-9-]*\)).*/\1/p' NEWS.md | head -n 1)
man: $(MAN_OUT)
$(BUILD)/man/%: man/%.in tracer/loopmaid.h NEWS.md
	@mkdir -p $(dir $@)
	sed -e 's/@VERSION@/$(VERSION)/g' -e 's/@DATE@/$(MAN_DATE)/g' $< > $@

# What `make install` puts under $(DESTDIR)$(PREFIX), one path per line:
# `make uninstall` removes exactly these (scripts/package-check.sh checks both ways).
INSTALLED = include/loopmaid.h include/loopmaid_render.h lib/libloopmaid.a \
            lib/libloopmaid.so.0 lib/libloopmaid.so bin/loopmaid lib/pkgconfig/loopmaid.pc \
            $(foreach p,$(MAN_PAGES),share/man/man$(patsubst .%,%,$(suffix $(p)))/$(p)) \
            share/doc/loopmaid/trace-format.md share/doc/loopmaid/NEWS.md \
            share/bash-completion/completions/loopmaid

install: lib cli man
	install -d $(INCDIR) $(LIBDIR) $(BINDIR) $(PCDIR) $(DOCDIR) $(COMPDIR) \
	           $(MANDIR)/man1 $(MANDIR)/man3 $(MANDIR)/man5
	install -m 644 tracer/loopmaid.h render/loopmaid_render.h $(INCDIR)/
	install -m 644 $(BUILD)/libloopmaid.a $(LIBDIR)/
	install -m 755 $(BUILD)/libloopmaid.so $(LIBDIR)/libloopmaid.so.0
	ln -sf libloopmaid.so.0 $(LIBDIR)/libloopmaid.so
	install -m 755 $(BUILD)/loopmaid $(BINDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    scripts/loopmaid.pc.in > $(PCDIR)/loopmaid.pc
	for m in $(MAN_OUT); do s=$${m##*.}; install -m 644 $$m $(MANDIR)/man$$s/; done
	install -m 644 docs/trace-format.md NEWS.md $(DOCDIR)/
	install -m 644 completion/loopmaid.bash $(COMPDIR)/loopmaid

# Removes what install wrote, then the directories install made that are now
# empty. Under a DESTDIR (a staging tree) every empty directory goes, so the
# tree is left as it was; on a live PREFIX only loopmaid's own doc directory.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED))
	-rmdir $(DOCDIR) 2>/dev/null
	$(if $(DESTDIR),-find $(DESTDIR) -mindepth 1 -depth -type d -empty -delete)

clean:
	rm -rf build

-include $(wildcard mk/*.mk)
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

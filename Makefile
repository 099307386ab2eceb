# loopmaid: the top-level Makefile.
#
#   make            build/libloopmaid.{a,so} (the tracer), build/libloopmaid-render.{a,so}
#                   (reader, model, views), build/loopmaid, build/examples/NAME
#   make deps       install the Debian packages the build and the suite need
#   make test       build and run the Criterion suite (tests/test_*.c)
#   make asan       the suite under AddressSanitizer (+ LeakSanitizer)
#   make ubsan      the suite under UndefinedBehaviorSanitizer
#   make demo       run every example and write traces + diagrams to build/demo/
#   make install    PREFIX=/usr/local DESTDIR= : libraries, headers, CLI, loopmaid.pc,
#                   loopmaid-render.pc, man pages, bash completion (make uninstall
#                   removes them)
#   make dist       loopmaid-VERSION.tar.gz of the tracked files (mk/dist.mk)
#
# Compiling never installs anything: plain `make` checks for the Debian
# packages it needs (scripts/deps.sh --check lib) and, when some are missing,
# names them and fails. `make deps` installs them, and so do the README's
# quick-start targets (`make test`, `make demo`) and the CI targets that need
# more (INSTALL_GOALS below), so they work on a fresh machine.
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
             -Itracer -Irender $(RENDER_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

# The tracer needs libc alone. RENDER_CFLAGS, RENDER_LIBS (libyaml, PCRE2)
# and CRIT_LIBS come from pkg-config, asked once per build directory and kept
# in $(CONFIG_MK) (see "Packages" below). LIBS is both halves' libraries.
TRACER_LIBS := -lpthread -lm
LIBS         = $(RENDER_LIBS) $(TRACER_LIBS)

# The three artefacts: libloopmaid, the tracer (runtime and recorder), which
# needs only libc; libloopmaid-render, the reader, model and views
# (loopmaid_render.h), which needs libyaml and PCRE2; and the loopmaid
# program, linking both: main.c, the command line (cli.c) and `loopmaid
# build` (build*.c), which are in neither library (as cmark's main.c).
TRACER_C := $(sort $(wildcard tracer/*.c))
TRACER_S := $(sort $(wildcard tracer/*.S))
CLI_C    := render/cli.c $(sort $(wildcard render/build*.c))
RENDER_C := $(sort $(filter-out render/main.c $(CLI_C),$(wildcard render/*.c)))
TRACER_OBJS := $(TRACER_C:%.c=$(BUILD)/obj/%.o) $(TRACER_S:%.S=$(BUILD)/obj/%.o)
RENDER_OBJS := $(RENDER_C:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(CLI_C:%.c=$(BUILD)/obj/%.o)
LIB_A    := $(BUILD)/libloopmaid.a
RLIB_A   := $(BUILD)/libloopmaid-render.a
# The program's own objects as an archive, for the tests and fuzzers that
# drive its parts (fuzz/fuzz_config.c); never installed.
CLI_A    := $(BUILD)/libloopmaid-cli.a
# Everything, for programs that use every part (the tests, the fuzzers).
ALL_A    := $(CLI_A) $(RLIB_A) $(LIB_A)

TOOLS    := $(patsubst tools/%.c,$(BUILD)/tools/%,$(sort $(wildcard tools/*.c)))
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(sort $(wildcard examples/*.c)))
TESTS    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(sort $(wildcard tests/test_*.c)))
TEST_SUPPORT_C := $(sort $(wildcard tests/support/*.c))
TEST_SUPPORT := $(TEST_SUPPORT_C:%.c=$(BUILD)/obj/%.o)

.PHONY: tools all lib cli examples test tests asan ubsan install uninstall clean deps man
.DEFAULT_GOAL := all
# Objects of examples, tools and tests are intermediate files to make; keep
# them, or every build relinks from scratch.
.SECONDARY:

all: lib cli examples tools
lib: $(LIB_A) $(BUILD)/libloopmaid.so $(RLIB_A) $(BUILD)/libloopmaid-render.so
cli: $(BUILD)/loopmaid
examples: $(EXAMPLES)
tests: $(TESTS)
tools: $(TOOLS)

# --- Packages ---------------------------------------------------------------
# Goals that may install missing Debian packages (apt-get, as root; otherwise
# scripts/deps.sh prints the command): `make deps`, the quick start (test,
# demo) and the CI targets whose recipes install their own extra groups
# anyway. Every other goal only checks; the stamps in mk/*.mk follow the same
# switch (DEPS_CHECK). asan and ubsan run `make test` in a sub-make, which installs;
# valgrind and fuzz install their groups in their recipes, then run a sub-make.
INSTALL_GOALS := deps test demo demo-golden conformance conformance-deps conformance-selftest \
                 package-check cross-check bench bench-quick bench-bins bench-profile
DEPS_CHECK := $(if $(filter $(INSTALL_GOALS),$(MAKECMDGOALS)),,--check)
# Goals that compile nothing in $(BUILD) themselves: they need no package
# check and no pkg-config answers (`make clean` must work on a bare machine).
NOCONFIG_GOALS := clean deps asan ubsan fuzz fuzz-bins valgrind test-ucontext \
                  install-check uninstall uninstall-python dist distcheck man \
                  man-lint print-installed

# $(CONFIG_MK): pkg-config's answers, asked once when the packages are known
# to be there (not once per compile). It is remade when this Makefile or
# deps.sh change, and is written only when every step worked, so a failed
# check is repeated next time. Installing (DEPS_CHECK empty) takes the whole
# `build` group in one apt-get run; checking asks only what compiling needs.
CONFIG_MK := $(BUILD)/config.mk
$(CONFIG_MK): Makefile scripts/deps.sh
	@mkdir -p $(dir $@)
	@sh scripts/deps.sh $(DEPS_CHECK) $(if $(DEPS_CHECK),lib,build)
	@cf=$$(pkg-config --cflags yaml-0.1 libpcre2-8) && \
	 lf=$$(pkg-config --libs yaml-0.1 libpcre2-8) && \
	 cr=$$(pkg-config --libs criterion 2>/dev/null || echo -lcriterion) && \
	 printf '# pkg-config, once (Makefile, "Packages"); make clean forgets it.\nRENDER_CFLAGS := %s\nRENDER_LIBS := %s\nCRIT_LIBS := %s\n' \
	     "$$cf" "$$lf" "$$cr" >$@.tmp && mv $@.tmp $@
ifneq ($(filter-out $(NOCONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
include $(CONFIG_MK)
endif

# The suite also needs Criterion and python3 (the `build` group): checked, or
# installed for the goals above, before the first test object is compiled.
DEPS_STAMP := $(BUILD)/.deps-ok
$(DEPS_STAMP): $(CONFIG_MK)
	@sh scripts/deps.sh $(DEPS_CHECK) build
	@touch $@
deps:
	@sh scripts/deps.sh build
	@mkdir -p $(BUILD) && touch $(DEPS_STAMP)
$(TESTS:$(BUILD)/tests/%=$(BUILD)/obj/tests/%.o) $(TEST_SUPPORT): | $(DEPS_STAMP)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# The libraries also depend on this Makefile: which objects go where is
# decided here, and an archive built by an older rule must not survive it.
$(LIB_A): $(TRACER_OBJS) Makefile
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $(TRACER_OBJS)

$(RLIB_A): $(RENDER_OBJS) Makefile
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $(RENDER_OBJS)

$(CLI_A): $(CLI_OBJS) Makefile
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $(CLI_OBJS)

$(BUILD)/libloopmaid.so: $(TRACER_OBJS) Makefile
	$(CC) -shared -Wl,-soname,libloopmaid.so.0 -o $@ $(TRACER_OBJS) $(LDFLAGS_ALL) $(TRACER_LIBS)

$(BUILD)/libloopmaid-render.so: $(RENDER_OBJS) Makefile
	$(CC) -shared -Wl,-soname,libloopmaid-render.so.0 -o $@ $(RENDER_OBJS) $(LDFLAGS_ALL) $(RENDER_LIBS)

$(BUILD)/loopmaid: $(BUILD)/obj/render/main.o $(ALL_A)
	$(CC) -o $@ $< $(ALL_A) $(LDFLAGS_ALL) $(LIBS)

# The examples trace and nothing else: they link the tracer alone, which
# keeps it honest (a tracer dependency on libyaml would fail here).
$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(LIB_A) $(LDFLAGS_ALL) $(TRACER_LIBS)

# Small helper programs (trace generators and the like), one file each; they
# use the tracer's internals (tools/gentrace.c quotes strings with its quoter).
$(BUILD)/tools/%: $(BUILD)/obj/tools/%.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(LIB_A) $(LDFLAGS_ALL) $(TRACER_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_SUPPORT) $(ALL_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(TEST_SUPPORT) $(ALL_A) $(LDFLAGS_ALL) $(LIBS) $(CRIT_LIBS)

# The suite: every tests/test_*.c is one Criterion binary (one per module).
# The examples and the CLI are built first because some tests run them.
test: $(DEPS_STAMP) all $(TESTS)
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
INSTALLED = include/loopmaid.h include/loopmaid_render.h \
            lib/libloopmaid.a lib/libloopmaid.so.0 lib/libloopmaid.so \
            lib/libloopmaid-render.a lib/libloopmaid-render.so.0 lib/libloopmaid-render.so \
            bin/loopmaid lib/pkgconfig/loopmaid.pc lib/pkgconfig/loopmaid-render.pc \
            $(foreach p,$(MAN_PAGES),share/man/man$(patsubst .%,%,$(suffix $(p)))/$(p)) \
            share/doc/loopmaid/trace-format.md share/doc/loopmaid/NEWS.md \
            share/bash-completion/completions/loopmaid

# NAME.pc from scripts/NAME.pc.in, for the real PREFIX (never the DESTDIR).
PC_SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g'

install: lib cli man
	install -d $(INCDIR) $(LIBDIR) $(BINDIR) $(PCDIR) $(DOCDIR) $(COMPDIR) \
	           $(MANDIR)/man1 $(MANDIR)/man3 $(MANDIR)/man5
	install -m 644 tracer/loopmaid.h render/loopmaid_render.h $(INCDIR)/
	install -m 644 $(LIB_A) $(RLIB_A) $(LIBDIR)/
	install -m 755 $(BUILD)/libloopmaid.so $(LIBDIR)/libloopmaid.so.0
	install -m 755 $(BUILD)/libloopmaid-render.so $(LIBDIR)/libloopmaid-render.so.0
	ln -sf libloopmaid.so.0 $(LIBDIR)/libloopmaid.so
	ln -sf libloopmaid-render.so.0 $(LIBDIR)/libloopmaid-render.so
	install -m 755 $(BUILD)/loopmaid $(BINDIR)/
	$(PC_SUBST) scripts/loopmaid.pc.in > $(PCDIR)/loopmaid.pc
	$(PC_SUBST) scripts/loopmaid-render.pc.in > $(PCDIR)/loopmaid-render.pc
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

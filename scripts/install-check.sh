#!/bin/sh
# install-check.sh: proves what the README's "Tracing your own program" says
# works for a new user: `make install` into a scratch DESTDIR and into a
# scratch PREFIX, pkg-config on the installed loopmaid.pc, the README's own C
# snippet compiled (--static, which links libloopmaid.a, and shared with an
# rpath) and run traced under the virtual clock, the installed CLI rendering
# the trace in every view, and the installed headers compiling as C99/C11
# -pedantic and as C++. The three artefacts stay apart: a program that only
# traces links no libyaml or PCRE2 (libloopmaid.a has no such undefined
# symbol), and a program of its own renders through loopmaid-render.pc,
# shared and --static, with the CLI's result.
#
#   sh scripts/install-check.sh [BUILD]     (default: a scratch BUILD, removed at the end)
#
# It builds in its own BUILD directory without sanitizers (a program compiled
# by a plain `cc` cannot link an instrumented library), and ignores the
# caller's MAKEFLAGS so a `make asan` run does not leak SAN= into it.
# Exit status 0 when every step worked; otherwise the failing step is named.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-}
tmp=$(mktemp -d /tmp/lm-install-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
# Its own build directory by default, inside the scratch one: parallel runs
# (make test and make asan at once) must not share objects.
[ -n "$build" ] || build=$tmp/build
step() { printf 'install-check: %s\n' "$*"; }
fail() { printf 'install-check: FAILED: %s\n' "$*" >&2; exit 1; }

unset MAKEFLAGS MFLAGS MAKELEVEL || true
cd "$top"
step "make install DESTDIR=$tmp/dest PREFIX=/usr/local (BUILD=$build)"
make -j4 --no-print-directory BUILD="$build" SAN= install DESTDIR="$tmp/dest" PREFIX=/usr/local \
    >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log" >&2; fail "make install (DESTDIR)"; }
root=$tmp/dest/usr/local
for f in include/loopmaid.h include/loopmaid_render.h lib/libloopmaid.a lib/libloopmaid.so \
         lib/libloopmaid.so.0 lib/libloopmaid-render.a lib/libloopmaid-render.so \
         lib/libloopmaid-render.so.0 bin/loopmaid lib/pkgconfig/loopmaid.pc \
         lib/pkgconfig/loopmaid-render.pc; do
    [ -e "$root/$f" ] || fail "missing $f in the DESTDIR install"
done
for p in loopmaid loopmaid-render; do
    grep -q '^prefix=/usr/local$' "$root/lib/pkgconfig/$p.pc" ||
        fail "$p.pc must name the real PREFIX, not the DESTDIR"
    grep -q '^Version: [0-9]' "$root/lib/pkgconfig/$p.pc" || fail "$p.pc has no version"
    ! grep -v '^#' "$root/lib/pkgconfig/$p.pc" | grep -q 'rpath' ||
        fail "$p.pc must not set an rpath (the user's link decides where libraries are)"
done
! grep -Eq '^Requires.*(yaml|pcre)' "$root/lib/pkgconfig/loopmaid.pc" ||
    fail "loopmaid.pc (the tracer) must not require libyaml or PCRE2"
step "nm: libloopmaid.a needs nothing of libyaml or PCRE2"
! nm -u "$root/lib/libloopmaid.a" 2>/dev/null | grep -E ' (yaml|pcre2)_' ||
    fail "libloopmaid.a (the tracer) has undefined libyaml/PCRE2 symbols"
! nm -u "$root/lib/libloopmaid-render.a" 2>/dev/null | grep -E ' lm_' ||
    fail "libloopmaid-render.a calls the tracer (loopmaid-render.pc does not require it)"
! nm --defined-only "$root/lib/libloopmaid-render.a" 2>/dev/null | grep -E ' T (lmr_?_main|main)$' ||
    fail "the command line (cli.c, main.c) belongs to the loopmaid program, not libloopmaid-render"
step "nm -D: the shared libraries export their public API only (no lm__/lmr__ internals)"
for so in libloopmaid.so libloopmaid-render.so; do
    f=$(ls "$root/lib/$so".* 2>/dev/null | head -n 1)
    [ -n "$f" ] || f="$root/lib/$so"
    ! nm -D --defined-only "$f" 2>/dev/null | grep -E ' (lm__|lmr__)' ||
        fail "$so exports internal symbols (a header lost its visibility push)"
done

step "make install PREFIX=$tmp/prefix (the README's form, another prefix)"
make -j4 --no-print-directory BUILD="$build" SAN= install PREFIX="$tmp/prefix" \
    >"$tmp/make2.log" 2>&1 || { cat "$tmp/make2.log" >&2; fail "make install (PREFIX)"; }

# The README's snippet, exactly as printed there.
sed -n '/^## Tracing your own program/,/^## /p' README.md |
    sed -n '/^```c$/,/^```$/p' | sed '1d;$d' >"$tmp/demo.c"
[ -s "$tmp/demo.c" ] || fail "no C snippet under 'Tracing your own program' in README.md"

cd "$tmp"
pc() { PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config "$@" loopmaid; }
pcr() { PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config "$@" loopmaid-render; }
step "pkg-config: $(pc --cflags --libs --static)"
# The README's compile line, word for word, with PKG_CONFIG_PATH for the prefix.
cc demo.c $(pc --cflags --libs --static) -o demo 2>"$tmp/cc.log" ||
    { cat "$tmp/cc.log" >&2; fail "cc with pkg-config --static"; }
[ ! -s "$tmp/cc.log" ] || { cat "$tmp/cc.log" >&2; fail "the snippet compiles with warnings"; }
cc -Wall -Wextra -Werror demo.c $(pc --cflags --libs) -Wl,-rpath,"$tmp/prefix/lib" -o demo-shared ||
    fail "cc -Wall -Wextra -Werror, shared with -Wl,-rpath"
step "ldd: --static links libloopmaid.a; neither build loads libyaml or PCRE2"
! ldd ./demo | grep -q 'libloopmaid' || { ldd ./demo >&2; fail "demo (--static) loads libloopmaid.so"; }
for exe in demo demo-shared; do
    ! ldd ./$exe | grep -Eq 'libyaml|libpcre2' || { ldd ./$exe >&2; fail "$exe (tracer only) loads libyaml or PCRE2"; }
done
cc -std=c99 -Wall -Wextra -pedantic -Werror -Wstrict-prototypes $(pc --cflags) -c demo.c -o demo.o ||
    fail "the snippet as C99 -pedantic"
# The DESTDIR install's .pc, relocated with --define-variable, links too.
PKG_CONFIG_PATH="$root/lib/pkgconfig" pkg-config --define-variable=prefix="$root" \
    --cflags --libs --static loopmaid >"$tmp/flags" || fail "pkg-config on the DESTDIR install"
cc demo.c $(cat "$tmp/flags") -o demo-dest || fail "cc against the DESTDIR install"

for exe in demo demo-shared demo-dest; do
    step "run ./$exe traced"
    LOOPMAID_TRACE="$exe.yaml" LOOPMAID_CLOCK=virtual "./$exe" || fail "./$exe exited $?"
    grep -q '^loopmaid: 1$' "$exe.yaml" || fail "$exe wrote no trace"
done
ldd ./demo-shared | grep -q "$tmp/prefix/lib/libloopmaid.so" ||
    fail "demo-shared does not load the installed libloopmaid.so.0"
# The traces differ only in the program name (argv[0]).
grep -v '^program:' demo.yaml >a.txt; grep -v '^program:' demo-shared.yaml >b.txt
cmp -s a.txt b.txt || fail "virtual-clock traces of the static and shared builds differ"

for v in state sequence flowchart tasks gantt advise; do
    "$tmp/prefix/bin/loopmaid" render --view "$v" demo.yaml >"$v.mmd" || fail "render --view $v"
    [ -s "$v.mmd" ] || fail "render --view $v printed nothing"
done
grep -q 'Send HTTP request' sequence.mmd || fail "the snippet's note is not in the sequence view"
"$tmp/prefix/bin/loopmaid" inspect demo.yaml >inspect.txt || fail "inspect"
grep -q 'tasks: 3: 3 done' inspect.txt || { cat inspect.txt >&2; fail "inspect: expected 3 tasks done"; }

# A program of its own that renders through the library, as the CLI does.
cat >render.c <<'EOF2'
#include <loopmaid_render.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    lmr_options o;
    lmr_buf out = {0};
    lmr_error err;
    if (argc != 2)
        return 2;
    lmr_options_init(&o);
    o.view = LMR_VIEW_SEQUENCE;
    if (lmr_render_file(argv[1], &o, &out, stderr, &err) != 0) {
        lmr_error_print(&err, stderr);
        return 1;
    }
    fwrite(out.data, 1, out.len, stdout);
    lmr_buf_free(&out);
    return 0;
}
EOF2
step "pkg-config: $(pcr --cflags --libs --static)"
cc -Wall -Wextra -Werror render.c $(pcr --cflags --libs) -Wl,-rpath,"$tmp/prefix/lib" -o render-shared ||
    fail "a render program with pkg-config loopmaid-render"
cc -Wall -Wextra -Werror render.c $(pcr --cflags --libs --static) -o render-static ||
    fail "a render program with pkg-config --static loopmaid-render"
ldd ./render-shared | grep -q "$tmp/prefix/lib/libloopmaid-render.so" ||
    fail "render-shared does not load the installed libloopmaid-render.so.0"
! ldd ./render-static | grep -q 'libloopmaid' ||
    { ldd ./render-static >&2; fail "render-static (--static) loads a libloopmaid*.so"; }
for exe in render-shared render-static; do
    step "./$exe renders the trace as the CLI does"
    "./$exe" demo.yaml >"$exe.mmd" || fail "./$exe exited $?"
    cmp -s "$exe.mmd" sequence.mmd || fail "./$exe and loopmaid render --view sequence differ"
done

step "installed headers as C99, C11 (-pedantic) and C++"
printf '#include <loopmaid.h>\n#include <loopmaid_render.h>\nint main(void) { return 0; }\n' >h.c
for std in c99 c11; do
    cc -std=$std -Wall -Wextra -pedantic -Werror -I"$tmp/prefix/include" -c h.c -o h.o ||
        fail "headers as -std=$std -pedantic"
done
if command -v g++ >/dev/null 2>&1; then
    printf '#include <loopmaid.h>\n#include <loopmaid_render.h>\nint main() { return 0; }\n' >h.cpp
    g++ -Wall -Wextra -pedantic -Werror -fsyntax-only -I"$tmp/prefix/include" h.cpp ||
        fail "headers as C++"
fi
step "ok"

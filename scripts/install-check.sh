#!/bin/sh
# install-check.sh: proves what the README's "Tracing your own program" says
# works for a new user: `make install` into a scratch DESTDIR and into a
# scratch PREFIX, pkg-config on the installed loopmaid.pc, the README's own C
# snippet compiled (static-deps and shared/rpath variants) and run traced
# under the virtual clock, the installed CLI rendering the trace in every
# view, and the installed headers compiling as C99/C11 -pedantic and as C++.
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
         lib/libloopmaid.so.0 bin/loopmaid lib/pkgconfig/loopmaid.pc; do
    [ -e "$root/$f" ] || fail "missing $f in the DESTDIR install"
done
grep -q '^prefix=/usr/local$' "$root/lib/pkgconfig/loopmaid.pc" ||
    fail "loopmaid.pc must name the real PREFIX, not the DESTDIR"
grep -q '^Version: [0-9]' "$root/lib/pkgconfig/loopmaid.pc" || fail "loopmaid.pc has no version"

step "make install PREFIX=$tmp/prefix (the README's form, another prefix)"
make -j4 --no-print-directory BUILD="$build" SAN= install PREFIX="$tmp/prefix" \
    >"$tmp/make2.log" 2>&1 || { cat "$tmp/make2.log" >&2; fail "make install (PREFIX)"; }

# The README's snippet, exactly as printed there.
sed -n '/^## Tracing your own program/,/^## /p' README.md |
    sed -n '/^```c$/,/^```$/p' | sed '1d;$d' >"$tmp/demo.c"
[ -s "$tmp/demo.c" ] || fail "no C snippet under 'Tracing your own program' in README.md"

cd "$tmp"
pc() { PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config "$@" loopmaid; }
step "pkg-config: $(pc --cflags --libs --static)"
# The README's compile line, word for word, with PKG_CONFIG_PATH for the prefix.
cc demo.c $(pc --cflags --libs --static) -o demo 2>"$tmp/cc.log" ||
    { cat "$tmp/cc.log" >&2; fail "cc with pkg-config --static"; }
[ ! -s "$tmp/cc.log" ] || { cat "$tmp/cc.log" >&2; fail "the snippet compiles with warnings"; }
cc -Wall -Wextra -Werror demo.c $(pc --cflags --libs) -Wl,-rpath,"$tmp/prefix/lib" -o demo-shared ||
    fail "cc -Wall -Wextra -Werror, shared with -Wl,-rpath"
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

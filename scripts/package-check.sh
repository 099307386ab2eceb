#!/bin/sh
# package-check.sh: proves the installed layout and the release tarball.
#
#   sh scripts/package-check.sh man BUILD         lint every man page
#   sh scripts/package-check.sh completion BUILD  the completion loads and completes
#   sh scripts/package-check.sh install BUILD     install into a DESTDIR: every page
#                                                 renders with man -l, uninstall
#                                                 leaves the DESTDIR empty
#   sh scripts/package-check.sh distcheck TARBALL build and test the unpacked tarball
#   sh scripts/package-check.sh all BUILD         all of the above (make dist first)
#
# Each step prints `package-check: STEP` and the script stops at the first
# failure, naming it. Exit 0 when everything held.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:?usage: package-check.sh man|completion|install|distcheck|all ARG}
arg=${2:?usage: package-check.sh MODE BUILD-or-TARBALL}
tmp=$(mktemp -d /tmp/lm-package-check.XXXXXX)
# The suite runs some CLI tests as an unprivileged user (test_outfile): they
# must be able to reach the unpacked tree, so the scratch folder is not 0700.
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT INT TERM
step() { printf 'package-check: %s\n' "$*"; }
fail() { printf 'package-check: FAILED: %s\n' "$*" >&2; exit 1; }
unset MAKEFLAGS MFLAGS MAKELEVEL || true
cd "$top"

# groff -ww warns about everything it can; mandoc -Tlint checks the macros.
# Either printing anything is a failure.
check_man() {
    build=$1
    make --no-print-directory BUILD="$build" man >/dev/null || fail "make man"
    for page in "$build"/man/*.[0-9]; do
        step "lint $(basename "$page")"
        out=$(LC_ALL=C.UTF-8 groff -ww -z -man "$page" 2>&1) || fail "groff on $page"
        [ -z "$out" ] || { printf '%s\n' "$out" >&2; fail "groff warns on $page"; }
        out=$(mandoc -Tlint -W warning "$page" 2>&1) || { printf '%s\n' "$out" >&2; fail "mandoc -Tlint on $page"; }
        [ -z "$out" ] || { printf '%s\n' "$out" >&2; fail "mandoc warns on $page"; }
        ! grep -n '@[A-Z]*@' "$page" || fail "$page has an unfilled @VAR@"
    done
    # loopmaid(1) and loopmaid-build(1) name every option the CLI's help names.
    for cmd in render inspect build; do
        page=$build/man/loopmaid.1
        [ "$cmd" = build ] && page=$build/man/loopmaid-build.1
        for opt in $("$build/loopmaid" help "$cmd" | grep -oE '(^|[ ,])--[a-z][a-z-]*' | tr -d ' ,' | sort -u); do
            esc=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
            grep -q -- "$esc" "$page" || fail "$(basename "$page") does not document '$cmd $opt'"
        done
    done
    # loopmaid(3) names every function of the public header.
    for fn in $(grep -oE '\blm_[a-z0-9_]+\(' tracer/loopmaid.h | tr -d '(' | sort -u); do
        grep -q "$fn" "$build/man/loopmaid.3" || fail "loopmaid.3 does not name $fn"
    done
}

# Sources the completion in a bash with no bash-completion package and asks
# it what it would complete, as readline would.
check_completion() {
    build=$1
    step "completion"
    out=$(PATH="$top/$build:$PATH" bash --norc --noprofile -c '
        . "$1"
        complete -p loopmaid >/dev/null || exit 3
        ask() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _loopmaid; printf "%s\n" "${COMPREPLY[*]}"; }
        ask loopmaid ""
        ask loopmaid render --vi
        ask loopmaid render --view ""
        ask loopmaid render --format ""
        ask loopmaid build --ch
        ask loopmaid help ""
        ask loopmaid inspect --adv
    ' sh "$top/completion/loopmaid.bash") || fail "the completion does not load ($?)"
    printf '%s\n' "$out" | sed -n 1p | grep -q 'render inspect build help' || fail "commands: $out"
    printf '%s\n' "$out" | sed -n 2p | grep -qx -- '--view' || fail "render --vi: $out"
    printf '%s\n' "$out" | sed -n 3p | grep -qx 'state sequence flowchart tasks gantt advise' || fail "views: $out"
    printf '%s\n' "$out" | sed -n 4p | grep -qx 'mmd md' || fail "formats: $out"
    printf '%s\n' "$out" | sed -n 5p | grep -qx -- '--check' || fail "build --ch: $out"
    printf '%s\n' "$out" | sed -n 6p | grep -qx 'render inspect build help diff export convert' || fail "help: $out"
    printf '%s\n' "$out" | sed -n 7p | grep -qx -- '--advise' || fail "inspect --adv: $out"
    # The words the completion lists after an option are the CLI's own.
    help=$("$build/loopmaid" help render)
    for v in state sequence flowchart tasks gantt advise mmd md loopmaid asyncio seed002; do
        printf '%s' "$help" | grep -qw "$v" || fail "the completion offers '$v', which loopmaid help render does not name"
    done
}

check_install() {
    build=$1
    dest=$tmp/dest
    step "make install DESTDIR=$dest"
    make --no-print-directory BUILD="$build" install DESTDIR="$dest" PREFIX=/usr/local >"$tmp/install.log" 2>&1 ||
        { cat "$tmp/install.log" >&2; fail "make install"; }
    want=$(make --no-print-directory -s BUILD="$build" print-installed | tr ' ' '\n' | sed '/^$/d' | sort)
    have=$(cd "$dest/usr/local" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort)
    [ "$want" = "$have" ] || { printf 'installed:\n%s\nlisted:\n%s\n' "$have" "$want" >&2; fail "make install wrote other files than INSTALLED lists"; }
    for page in "$dest"/usr/local/share/man/man*/*; do
        step "man -l $(basename "$page")"
        out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man -l "$page" 2>&1 >/dev/null) || fail "man -l $page"
        [ -z "$out" ] || { printf '%s\n' "$out" >&2; fail "man -l $page warns"; }
        MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q "loopmaid $(sed -n 's/^#define LM_VERSION_STRING "\(.*\)"/\1/p' tracer/loopmaid.h)" ||
            fail "$page does not carry the header's version"
    done
    "$dest/usr/local/bin/loopmaid" --version | grep -q "$(sed -n 's/^#define LM_VERSION_STRING "\(.*\)"/\1/p' tracer/loopmaid.h)" ||
        fail "loopmaid --version disagrees with tracer/loopmaid.h"
    step "make uninstall DESTDIR=$dest"
    make --no-print-directory BUILD="$build" uninstall DESTDIR="$dest" PREFIX=/usr/local >"$tmp/uninstall.log" 2>&1 ||
        { cat "$tmp/uninstall.log" >&2; fail "make uninstall"; }
    left=$(find "$dest" -mindepth 1)
    [ -z "$left" ] || { printf '%s\n' "$left" >&2; fail "make uninstall left these behind"; }
}

check_dist() {
    tarball=$1
    case "$tarball" in /*) ;; *) tarball=$top/$tarball ;; esac
    step "unpack $(basename "$tarball")"
    tar -xzf "$tarball" -C "$tmp" || fail "tar -xzf"
    src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'loopmaid-*')
    [ -d "$src" ] || fail "the tarball has no loopmaid-VERSION/ folder"
    [ "$(basename "$src")" = "loopmaid-$(sed -n 's/^#define LM_VERSION_STRING "\(.*\)"/\1/p' "$src/tracer/loopmaid.h")" ] ||
        fail "the tarball's folder does not carry the version"
    ! find "$src" -name build -o -name node_modules -o -name '*.o' | grep -q . || fail "build outputs in the tarball"
    step "make test in the unpacked tarball (no git there)"
    (cd "$src" && GIT_DIR=/nonexistent make -j2 --no-print-directory test) >"$tmp/distcheck.log" 2>&1 ||
        { tail -n 40 "$tmp/distcheck.log" >&2; fail "make test from the tarball"; }
    tail -n 1 "$tmp/distcheck.log"
    step "install and uninstall from the unpacked tarball"
    (cd "$src" && make --no-print-directory install DESTDIR="$tmp/dist-dest" &&
        make --no-print-directory uninstall DESTDIR="$tmp/dist-dest") >"$tmp/distinst.log" 2>&1 ||
        { tail -n 40 "$tmp/distinst.log" >&2; fail "install/uninstall from the tarball"; }
    [ -z "$(find "$tmp/dist-dest" -mindepth 1 2>/dev/null)" ] || fail "uninstall from the tarball left files"
}

case "$mode" in
    man) check_man "$arg" ;;
    completion) check_completion "$arg" ;;
    install) check_install "$arg" ;;
    distcheck) check_dist "$arg" ;;
    all)
        check_man "$arg"; check_completion "$arg"; check_install "$arg"
        step "make dist"
        make --no-print-directory BUILD="$arg" dist >"$tmp/dist.log" 2>&1 || { cat "$tmp/dist.log" >&2; fail "make dist"; }
        check_dist "$(sed -n 's/^dist: //p' "$tmp/dist.log")" ;;
    *) fail "unknown mode '$mode'" ;;
esac
step "ok"

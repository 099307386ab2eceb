#!/bin/sh
# ci-recipes-check.sh: docs/ci.md's commands are the ones its recipes run,
# and they work: every line of the block between <!-- ci-steps --> markers
# appears in the GitHub Actions and the GitLab CI recipe, then the block runs
# in a clean clone of this repository (which is a project with a loopmaid.yaml
# of its own) with LOOPMAID_SRC pointing at a second clean clone and HOME in a
# scratch folder. Run as root (the block calls apt-get, as a CI image would).
#
#   sh scripts/ci-recipes-check.sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/lm-ci-recipes.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
step() { printf 'ci-recipes: %s\n' "$*"; }
fail() { printf 'ci-recipes: FAILED: %s\n' "$*" >&2; exit 1; }
unset MAKEFLAGS MFLAGS MAKELEVEL || true
doc=$top/docs/ci.md

sed -n '/^<!-- ci-steps -->$/,/^<!-- \/ci-steps -->$/p' "$doc" | sed '/^<!--/d;/^```/d' >"$tmp/steps.sh"
[ -s "$tmp/steps.sh" ] || fail "no ci-steps block in docs/ci.md"
gh=$(sed -n '/^## GitHub Actions/,/^## GitLab/p' "$doc")
gl=$(sed -n '/^## GitLab CI/,/^## pre-commit/p' "$doc")
while IFS= read -r line; do
    printf '%s\n' "$gh" | grep -qF -- "$line" || fail "the GitHub recipe lacks: $line"
    printf '%s\n' "$gl" | grep -qF -- "$line" || fail "the GitLab recipe lacks: $line"
done <"$tmp/steps.sh"

[ "$(id -u)" = 0 ] || { step "skipped: not root (the steps call apt-get)"; exit 0; }
command -v git >/dev/null || fail "git is needed to clone the checkout"
step "clean clones of $top"
git clone -q "$top" "$tmp/project" || fail "git clone (project)"
git clone -q "$top" "$tmp/loopmaid" || fail "git clone (loopmaid)"
mkdir -p "$tmp/home"
step "run docs/ci.md's steps"
(cd "$tmp/project" && HOME="$tmp/home" LOOPMAID_SRC="$tmp/loopmaid" sh -eux "$tmp/steps.sh") \
    >"$tmp/run.log" 2>&1 || { tail -n 40 "$tmp/run.log" >&2; fail "the steps failed"; }
[ -x "$tmp/home/.local/bin/loopmaid" ] || fail "the steps installed no loopmaid"
step "a stale diagram fails the same check"
# A changed title makes the first diagram's region stale.
sed -i '0,/^\(    \)view: \(.*\)$/s//\1view: \2\n\1title: "changed"/' "$tmp/project/loopmaid.yaml"
grep -q 'title: "changed"' "$tmp/project/loopmaid.yaml" || fail "could not edit the copy's loopmaid.yaml"
(cd "$tmp/project" && PATH="$tmp/home/.local/bin:$PATH" loopmaid build --check >"$tmp/stale.log" 2>&1) &&
    fail "loopmaid build --check passed on a stale diagram"
grep -q stale "$tmp/stale.log" || { cat "$tmp/stale.log" >&2; fail "build --check did not say what is stale"; }
step "ok"

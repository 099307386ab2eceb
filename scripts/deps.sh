#!/bin/sh
# Installs the Debian packages a loopmaid target needs, when they are missing.
#   scripts/deps.sh [--check] GROUP...
#   scripts/deps.sh lib          what compiling needs: gcc, make, pkg-config,
#                                libyaml and PCRE2 (the render library's)
#   scripts/deps.sh build        lib, and what the suite needs: Criterion;
#                                python3 and python3-venv for the asyncio
#                                recorder's tests
#   scripts/deps.sh bench        libuv (the benchmark peer) and python3
#   scripts/deps.sh browser      chromium and node/npm (Mermaid conformance)
#   scripts/deps.sh fuzz         clang and its sanitizer runtimes
#   scripts/deps.sh man          groff, man-db, mandoc (man page lint, make package-check)
#   scripts/deps.sh cross        the aarch64 cross compiler, its libc, and
#                                qemu-user to run what it builds (make cross-check)
# As root it runs apt-get; otherwise it prints the exact command and fails.
# With --check it never installs: it names what is missing, says how to
# install it, and fails (plain `make` uses that: compiling never runs apt-get;
# `make deps`, `make test` and `make demo` install).
set -eu

check=0
if [ "${1:-}" = "--check" ]; then
    check=1
    shift
fi

need=""
groups="$*"
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
want() { for p in "$@"; do have_pkg "$p" || need="$need $p"; done; }

for group in "$@"; do
    case "$group" in
        # python3: the Python recorder and its tests; the tests also check
        # exported JSON with its strict parser.
        lib)     want make gcc pkg-config libyaml-dev libpcre2-dev ;;
        build)   want make gcc pkg-config libyaml-dev libpcre2-dev libcriterion-dev python3 python3-venv ;;
        bench)   want libuv1-dev python3 time ;;
        # node/npm only when the commands are missing: a NodeSource nodejs
        # (it bundles npm) conflicts with Debian's npm package.
        browser) want chromium fonts-dejavu-core
                 command -v node >/dev/null 2>&1 || want nodejs
                 command -v npm >/dev/null 2>&1 || want npm ;;
        fuzz)    want clang libclang-rt-14-dev ;;
        valgrind) want valgrind ;;
        man)     want groff-base man-db mandoc bash ;;
        # qemu-user, not qemu-user-static: a quarter of the size, and
        # mk/cross.mk runs qemu-aarch64 by name (no binfmt registration).
        cross)   want gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user ;;
        *) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
    esac
done

[ -z "$need" ] && exit 0

cmd="apt-get install -y --no-install-recommends$need"
if [ $check = 1 ]; then
    echo "loopmaid needs these Debian packages:$need" >&2
    # `make deps` installs the lib and build groups; others have their own targets.
    how="make deps"
    for g in $groups; do
        case "$g" in lib|build) ;; *) how="sudo sh scripts/deps.sh $groups" ;; esac
    done
    echo "install them with:  $how" >&2
    echo "               or:  sudo apt-get update && sudo $cmd" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "loopmaid needs these Debian packages:$need" >&2
    echo "install them with:  sudo apt-get update && sudo $cmd" >&2
    exit 1
fi
echo "deps.sh: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
# The package lists of a fresh machine are empty or old: refresh them once.
apt-get update -qq >&2 || true
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need >&2

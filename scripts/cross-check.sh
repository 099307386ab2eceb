#!/bin/bash
# The aarch64 half of `make cross-check` (mk/cross.mk), once both builds exist:
#
#   CROSS_RUN="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
#     scripts/cross-check.sh NATIVE_BUILD CROSS_BUILD [TEST...]
#
# 1. Every example (CROSS_BUILD/examples/*) runs under $CROSS_RUN and its
#    native twin (NATIVE_BUILD/examples/NAME) runs as it is, both under the
#    virtual clock with a trace, and each with only fds 0-2 open (traces name
#    file descriptors; qemu-user keeps none of its own visible to the guest).
#    The two traces and the two outputs must be identical byte for byte: the
#    trace format has nothing architecture-specific, so any difference is a
#    bug (the diff is shown).
# 2. Every TEST (CROSS_BUILD/tests/TEST, built with tests/cross/runner.c)
#    runs under $CROSS_RUN with the timeouts scaled for emulation.
#
# Tests that cannot mean anything under qemu-user are skipped by name below,
# each with the reason; everything else must pass.
set -u

native=$1
cross=$2
shift 2
run=${CROSS_RUN:-qemu-aarch64}
out=$cross/check
mkdir -p "$out"

# qemu-user, not the code under test, decides this one: qemu-user (7.2)
# accepts madvise() and does nothing (MADV_GUARD_INSTALL "succeeds" without a
# guard, and process_madvise is ENOSYS), so there are no guard pages under
# it, and the test would pass or fail by what happens to lie below the stack.
# The guard is tested natively (make test, make test-ucontext). (The seccomp
# test in test_io skips itself: qemu refuses the guest's filter.)
SKIP_TESTS='coro/overflow_hits_the_guard_page'

failed=""
fail() { echo "cross-check: FAIL: $*" >&2; failed="$failed
  $*"; }

# Runs "$@" with every fd above 2 closed (bash: fds above 9 need eval).
clean_fds() {
    (
        for fd in $(ls /proc/$BASHPID/fd 2>/dev/null); do
            [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
        done
        exec "$@"
    )
}

# run_one TAG TRACE OUT CMD...: one example run under the virtual clock.
run_one() {
    tag=$1 trace=$2 stdout=$3
    shift 3
    rm -f "$trace"
    if ! LOOPMAID_CLOCK=virtual LOOPMAID_TRACE=$trace clean_fds "$@" >"$stdout" 2>"$stdout.err"; then
        cat "$stdout.err" >&2
        fail "example $tag exited with an error"
        return 1
    fi
    [ -s "$trace" ] || { fail "example $tag wrote no trace"; return 1; }
}

start=$(date +%s)
n=0
for bin in "$cross"/examples/*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    [ -x "$native/examples/$name" ] || { fail "$native/examples/$name is missing"; continue; }
    n=$((n + 1))
    run_one "$name (native)" "$out/$name.x86_64.yaml" "$out/$name.x86_64.out" \
        "$native/examples/$name" || continue
    # shellcheck disable=SC2086 # $run is a command and its options
    run_one "$name (aarch64)" "$out/$name.aarch64.yaml" "$out/$name.aarch64.out" \
        $run "$bin" || continue
    for kind in yaml out; do
        if ! cmp -s "$out/$name.x86_64.$kind" "$out/$name.aarch64.$kind"; then
            diff -u "$out/$name.x86_64.$kind" "$out/$name.aarch64.$kind" | head -n 30 >&2
            fail "example $name: the aarch64 $([ $kind = yaml ] && echo trace || echo output) differs from x86-64's"
        fi
    done
    echo "cross-check: example $name: aarch64 trace and output identical to x86-64's"
done
[ $n -gt 0 ] || fail "no aarch64 examples in $cross/examples"

skips=()
while IFS= read -r s; do [ -n "$s" ] && skips+=(--skip "$s"); done <<EOF
$SKIP_TESTS
EOF
for t in "$@"; do
    bin=$cross/tests/$t
    [ -x "$bin" ] || { fail "$bin is missing"; continue; }
    log=$out/$t.log
    # Emulation is several times slower than native: scale the tests' own
    # timeouts, and keep a hung binary from stalling CI.
    # shellcheck disable=SC2086
    CRX_TIMEOUT_SCALE=${CRX_TIMEOUT_SCALE:-10} CRX_DEFAULT_TIMEOUT=300 \
        timeout --kill-after=10 900 $run "$bin" "${skips[@]}" >"$log" 2>&1
    rc=$?
    syn=$(grep 'Synthesis:' "$log" | tail -n 1)
    tested=$(printf '%s' "$syn" | sed -n 's/.*Tested: \([0-9]*\).*/\1/p')
    if [ $rc -ne 0 ] || [ -z "$syn" ]; then
        grep -v '^\[PASS\]' "$log" >&2
        fail "$t under qemu-aarch64 (exit $rc; log $log)"
    elif [ "${tested:-0}" = 0 ]; then
        # A binary whose tests never registered must not pass by saying nothing.
        fail "$t ran no test under qemu-aarch64 (log $log)"
    else
        printf 'cross-check: %-12s %s\n' "$t" "${syn#\[====\] }"
    fi
done

echo "cross-check: $n examples, $# test binaries, $(($(date +%s) - start)) s under qemu-aarch64"
if [ -n "$failed" ]; then
    echo "cross-check: FAILED:$failed" >&2
    exit 1
fi
echo "cross-check: aarch64 OK"

#!/bin/sh
# Runs every Criterion test binary given, from the top of the checkout (tests
# find their data under tests/data), and ends with one summary line:
#   tests: N passed, N failed
# Exit status: 0 only when every binary passed and no sanitizer reported
# anything.
set -u
build=$1; shift
passed=0; failed=0; bad=""
for t in "$@"; do
    log=$(mktemp)
    # A hung test must fail the run, not stall CI: no binary needs anywhere
    # near this long, even under the sanitizers.
    timeout --kill-after=10 ${LOOPMAID_TEST_TIMEOUT:-900} "$t" --jobs=2 >"$log" 2>&1
    rc=$?
    # Criterion's closing line: "[====] Synthesis: Tested: 9 | Passing: 9 | Failing: 0 | Crashing: 0"
    syn=$(grep 'Synthesis:' "$log" | tail -n 1)
    p=$(printf '%s' "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    f=$(printf '%s' "$syn" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
    c=$(printf '%s' "$syn" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
    p=${p:-0}; f=${f:-0}; c=${c:-0}
    # Criterion counts a test as passed even when LeakSanitizer reports a
    # leak as its worker exits (the worker's exit status is not looked at),
    # so a sanitizer report in the log fails the binary. A leak counts when
    # its stack passes through our sources: with --jobs=2, libcriterion's
    # runner itself now and then leaks 48 bytes of its own bookkeeping.
    san=$(grep -c -E 'ERROR: AddressSanitizer|runtime error:' "$log")
    if grep -q 'ERROR: LeakSanitizer' "$log"; then
        if grep -q -E '^ +#[0-9]+ 0x[0-9a-f]+ in .* (tests|tracer|render|tools|examples|fuzz)/[A-Za-z0-9_./-]+:[0-9]+' "$log"; then
            san=$((san + 1))
        elif [ $rc -ne 0 ] && [ "$san" = 0 ] && [ -n "$syn" ] && [ "$f" = 0 ] && [ "$c" = 0 ]; then
            # Every test passed and the only report is a leak inside
            # libcriterion (its exit status is what made rc non-zero).
            echo "$(basename "$t"): ignoring a leak inside libcriterion only"
            rc=0
        fi
    fi
    if [ $rc -ne 0 ] || [ "$f" != 0 ] || [ "$c" != 0 ] || [ -z "$syn" ] || [ "$san" != 0 ]; then
        cat "$log"
        bad="$bad $(basename "$t")"
        [ "$f" = 0 ] && [ "$c" = 0 ] && f=1
    else
        printf '%-28s %s\n' "$(basename "$t")" "$syn" | sed 's/\[====\] //'
    fi
    passed=$((passed + p)); failed=$((failed + f + c))
    rm -f "$log"
done
# The asyncio recorder's tests (python/tests, issue 17): their own line,
# `python: N passed, N failed`, and counted in the totals below.
py=${PYTHON:-python3}
if [ -z "${LOOPMAID_SKIP_PYTHON:-}" ] && command -v "$py" >/dev/null 2>&1; then
    log=$(mktemp)
    LOOPMAID_BIN=$build/loopmaid timeout --kill-after=10 ${LOOPMAID_TEST_TIMEOUT:-900} \
        "$py" python/tests/run.py >"$log" 2>&1
    rc=$?
    line=$(grep '^python: ' "$log" | tail -n 1)
    p=$(printf '%s' "$line" | sed -n 's/^python: \([0-9]*\) passed.*/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.*, \([0-9]*\) failed$/\1/p')
    p=${p:-0}; f=${f:-0}
    if [ $rc -ne 0 ] || [ -z "$line" ]; then
        cat "$log"
        bad="$bad python"
        [ "$f" = 0 ] && f=1
    else
        echo "$line"
    fi
    passed=$((passed + p)); failed=$((failed + f))
    rm -f "$log"
fi
[ -n "$bad" ] && echo "failing binaries:$bad"
echo "tests: $passed passed, $failed failed"
[ -z "$bad" ]

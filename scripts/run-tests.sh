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
    "$t" --jobs=2 >"$log" 2>&1
    rc=$?
    # Criterion's closing line: "[====] Synthesis: Tested: 9 | Passing: 9 | Failing: 0 | Crashing: 0"
    syn=$(grep 'Synthesis:' "$log" | tail -n 1)
    p=$(printf '%s' "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    f=$(printf '%s' "$syn" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
    c=$(printf '%s' "$syn" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
    p=${p:-0}; f=${f:-0}; c=${c:-0}
    # Criterion counts a test as passed even when LeakSanitizer reports a
    # leak as its worker exits (the worker's exit status is not looked at),
    # so any sanitizer report in the log fails the binary.
    san=$(grep -c -E 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$log")
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
[ -n "$bad" ] && echo "failing binaries:$bad"
echo "tests: $passed passed, $failed failed"
[ -z "$bad" ]

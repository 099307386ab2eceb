#!/bin/sh
# Runs Criterion test binaries under valgrind memcheck (mk/valgrind.mk).
#   scripts/valgrind.sh BUILD TEST_BINARY...
# One valgrind log per process under BUILD/valgrind-logs/NAME/; a binary
# passes when Criterion reports no failure and no log counts an error
# ("ERROR SUMMARY: 0 errors" in every one that has a summary; a process
# killed by SIGKILL has none). A test that crashes on purpose (the stack
# guard page test) leaves "Process terminating with default action of signal
# 11" in its log, which is not an error. Ends with one summary line.
set -u
build=$1; shift
# Absolute: some tests run commands in other directories (loopmaid build).
logs=$(cd "$build" && pwd)/valgrind-logs
rm -rf "$logs"
passed=0; failed=0; bad=""
# The same code paths as the full run, at a size valgrind gets through.
export LOOPMAID_STRESS_TASKS=${LOOPMAID_STRESS_TASKS:-3000}
# Tests too big for valgrind's pace skip themselves when they see this.
export LOOPMAID_UNDER_VALGRIND=1
for t in "$@"; do
    name=$(basename "$t")
    dir=$logs/$name
    mkdir -p "$dir"
    out=$dir/criterion.out
    start=$(date +%s)
    # Definite leaks only: the test binaries' forked children (the lossless
    # and limits tests fork) end without Criterion's nanomsg threads, whose
    # buffers then look "possibly lost"; loopmaid's own leaks are definite
    # (LeakSanitizer in `make asan` checks the same from another angle).
    # Add --track-origins=yes by hand to find where an uninitialised value
    # came from (it doubles the time).
    # Children valgrind does not follow (--trace-children-skip): system
    # programs (the shell, make and the compiler that test_newuser runs: 50x
    # slower and not ours), and the examples, whose golden traces record fd
    # numbers (under valgrind an example gets one more low fd than anywhere
    # else); the examples' code is the library's, checked here anyway.
    timeout 1800 valgrind --trace-children=yes --leak-check=full \
        --trace-children-skip='/usr/*,/bin/*,/sbin/*,*/examples/*' \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite \
        --num-callers=30 \
        --log-file="$dir/vg.%p.log" \
        "$t" --jobs=1 >"$out" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    syn=$(grep 'Synthesis:' "$out" | tail -n 1)
    p=$(printf '%s' "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    f=$(printf '%s' "$syn" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
    c=$(printf '%s' "$syn" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
    p=${p:-0}; f=${f:-0}; c=${c:-0}
    # Logs whose summary counts errors (memory errors and definite leaks).
    noisy=$(grep -l -E 'ERROR SUMMARY: [1-9]' "$dir"/vg.*.log 2>/dev/null | sort)
    if [ $rc -ne 0 ] || [ "$f" != 0 ] || [ "$c" != 0 ] || [ -z "$syn" ] || [ -n "$noisy" ]; then
        echo "== $name: FAILED under valgrind (exit $rc, ${secs}s)"
        grep -E '^\[(FAIL|----)\]|Synthesis' "$out" | head -n 40
        for l in $noisy; do
            echo "-- $l"
            grep -v -E '^==[0-9]+== *$|Memcheck, a memory error|Copyright \(C\)|Using Valgrind|Command:|Parent PID' "$l" | head -n 60
        done
        bad="$bad $name"
        [ "$f" = 0 ] && [ "$c" = 0 ] && f=1
    else
        printf '%-28s %s (%ss)\n' "$name" "$(printf '%s' "$syn" | sed 's/\[====\] //')" "$secs"
    fi
    passed=$((passed + p)); failed=$((failed + f + c))
done
[ -n "$bad" ] && echo "failing under valgrind:$bad"
echo "valgrind: $passed passed, $failed failed"
[ -z "$bad" ]

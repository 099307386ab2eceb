#!/bin/sh
# Runs Criterion test binaries under valgrind memcheck (mk/valgrind.mk).
#   scripts/valgrind.sh BUILD TEST_BINARY...
# One valgrind log per process under BUILD/valgrind-logs/NAME/; a binary
# passes when Criterion reports no failure and every log is empty (-q makes
# valgrind print only errors and leaks). Ends with one summary line.
set -u
build=$1; shift
logs=$build/valgrind-logs
rm -rf "$logs"
passed=0; failed=0; bad=""
# The same code paths as the full run, at a size valgrind gets through.
export LOOPMAID_STRESS_TASKS=${LOOPMAID_STRESS_TASKS:-3000}
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
    timeout 1800 valgrind -q --trace-children=yes --leak-check=full \
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
    # Logs with anything in them: valgrind found an error or a leak there.
    noisy=$(find "$dir" -name 'vg.*.log' -size +0c | sort)
    if [ $rc -ne 0 ] || [ "$f" != 0 ] || [ "$c" != 0 ] || [ -z "$syn" ] || [ -n "$noisy" ]; then
        echo "== $name: FAILED under valgrind (exit $rc, ${secs}s)"
        grep -E '^\[(FAIL|----)\]|Synthesis' "$out" | head -n 40
        for l in $noisy; do
            echo "-- $l"
            head -n 60 "$l"
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

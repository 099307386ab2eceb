#!/bin/sh
# Runs the libFuzzer targets built by mk/fuzz.mk, each for a fixed time.
#   scripts/fuzz.sh BUILD SECONDS NAME...
# A target fails on any crash, sanitizer report, leak, timeout (10 s for one
# input) or OOM (2048 MB RSS, or one malloc over that). The inputs that did
# it are copied to tests/data/fuzz-regressions/NAME/ (commit them: the suite
# replays them) and the exact command that reproduces each is printed.
# Exit status: 0 only when every target ran its time clean.
set -u
build=$1; secs=$2; shift 2
status=0
for name in "$@"; do
    bin=$build/fuzz/fuzz_$name
    seeds=$build/fuzz/seeds/$name
    work=$build/fuzz/corpus/$name
    arts=$build/fuzz/artifacts/$name
    log=$build/fuzz/$name.log
    regress=tests/data/fuzz-regressions/$name
    rm -rf "$seeds" "$arts"
    mkdir -p "$seeds" "$work" "$arts"

    # Seeds, read-only: the hand-made corpus, the saved regressions, and for
    # the readers every small input of the suite (copied flat, so names from
    # different directories cannot collide).
    for f in fuzz/corpus/"$name"/* "$regress"/*; do
        [ -f "$f" ] && cp "$f" "$seeds/$(echo "$f" | tr / _)"
    done
    case $name in
        reader|fastpath) find tests/data -name '*.yaml' -size -64k ;;
        config) find docs tests/data -name '*.yaml' -size -64k |
                    xargs grep -l '^diagrams:' 2>/dev/null ;;
        *) ;;
    esac | while read -r f; do cp "$f" "$seeds/$(echo "$f" | tr / _)"; done

    dict=""
    [ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
    echo "== fuzz $name: ${secs}s, $(ls "$seeds" | wc -l) seeds, $(ls "$work" | wc -l) learned inputs"
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=2048 -print_final_stats=1 $dict \
        -artifact_prefix="$arts/" "$work" "$seeds" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        echo "   ok: ${execs:-?} inputs, no crash, leak, timeout or OOM"
        continue
    fi
    status=1
    echo "   FAILED (exit $rc); the fuzzer's report:"
    grep -E 'ERROR:|SUMMARY:|==[0-9]+==|runtime error|Test unit written|deadly signal|timeout|out-of-memory|leak' "$log" | head -n 30 | sed 's/^/   | /'
    mkdir -p "$regress"
    found=0
    for a in "$arts"/*; do
        [ -f "$a" ] || continue
        found=1
        dst=$regress/$(basename "$a")
        cp "$a" "$dst"
        echo "   saved $dst"
        echo "     reproduce: make fuzz-bins && $bin $dst"
    done
    [ $found = 0 ] && echo "   (no input was saved; the full log is $log)"
done
[ $status -ne 0 ] && echo "fuzz: FAILED; the inputs above are now regression tests (tests/test_fuzz.c)"
exit $status

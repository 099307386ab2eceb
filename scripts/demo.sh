#!/bin/bash
# Runs every example under the virtual clock and turns each trace into the
# diagram that answers one seed diagram (../shared/seeds): `make demo`.
#
#   scripts/demo.sh [BUILD]            traces, diagrams and index.md in BUILD/demo
#   scripts/demo.sh --golden [BUILD]   also refresh tests/data/examples/ (each
#                                      example is run twice and must give the
#                                      same trace byte for byte)
#
# Expects `make all` to have built BUILD/loopmaid and BUILD/examples/*.
# Writes, for each example NAME:
#   BUILD/demo/NAME.yaml        its trace
#   BUILD/demo/NAME.out         what it printed
#   BUILD/demo/NAME.VIEW.mmd    each diagram made from the trace
#   BUILD/demo/NAME.advise.txt  `loopmaid inspect --advise` (advise rows only)
#   BUILD/demo/crunch.real.*    the CPU-bound example, run with the real clock
# and BUILD/demo/index.md, one page with every diagram as a ```mermaid block.
set -eu
set -f # options hold regular expressions: no globbing

golden=0
if [ "${1:-}" = "--golden" ]; then
    golden=1
    shift
fi
build=${1:-build}
out=$build/demo
cli=$build/loopmaid
goldens=tests/data/examples

# The gallery: one row per seed diagram.
#   example | view | render options | which seed diagram it reproduces
# loopmaid.yaml (the README gallery) lists the same rows for `loopmaid build` (keep in step).
DIAGRAMS='loop_internals|flowchart||seed 000 "Event Loop Internals"
lifecycle|state|--states asyncio|seed 000 "Task Lifecycle States"
groups|tasks||seed 000 "gather() vs wait() vs TaskGroup"
timeout|sequence|--exclude ^server|seed 000 "Sequence: Timeout and Cancellation"
state_machine|state|--states seed002|seed 002 "Event Loop State Machine"
fetch|sequence|--exclude ^server|seed 002 "Async/Await Execution Flow"
concurrent_parallel|gantt||seed 002 "Concurrent vs Parallel Execution"
fetch|advise||seed 002 "When to Use Which Approach", for an I/O-bound run (fetch)
crunch.real|advise||seed 002 "When to Use Which Approach", for a CPU-bound run (crunch, real clock)'

EXAMPLES='loop_internals lifecycle groups timeout state_machine fetch concurrent_parallel crunch'

die() { echo "demo: $*" >&2; exit 1; }

[ -x "$cli" ] || die "$cli is missing: run 'make' first"
mkdir -p "$out"

# Traces name file descriptors, so an example must start with only 0, 1 and
# 2 open, whatever the caller (a terminal, make, CI) left open, for its trace
# to be the same from everywhere: runs "$@" with every other fd closed.
# (bash: `exec N>&-` with N above 9 is not POSIX sh.)
clean_fds() {
    (
        for fd in $(ls /proc/$BASHPID/fd 2>/dev/null); do
            [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
        done
        exec "$@"
    )
}

# Runs example $1 under the virtual clock: trace in $2, stdout in $3.
run_example() {
    bin=$build/examples/$1
    [ -x "$bin" ] || die "$bin is missing: run 'make' first"
    rm -f "$2"
    if ! LOOPMAID_CLOCK=virtual LOOPMAID_TRACE=$2 clean_fds "$bin" >"$3" 2>"$3.err"; then
        cat "$3.err" >&2
        die "example '$1' failed (its output is in $3)"
    fi
    rm -f "$3.err"
    [ -s "$2" ] || die "example '$1' wrote no trace to $2"
}

for name in $EXAMPLES; do
    run_example "$name" "$out/$name.yaml" "$out/$name.out"
    if [ $golden = 1 ]; then
        # A golden file is only worth keeping if the run is repeatable.
        run_example "$name" "$out/$name.again.yaml" "$out/$name.again.out"
        if ! cmp -s "$out/$name.yaml" "$out/$name.again.yaml" ||
           ! cmp -s "$out/$name.out" "$out/$name.again.out"; then
            diff -u "$out/$name.yaml" "$out/$name.again.yaml" | head -n 40 >&2 || true
            die "example '$name' is not deterministic under the virtual clock"
        fi
        rm -f "$out/$name.again.yaml" "$out/$name.again.out"
        mkdir -p "$goldens"
        cp "$out/$name.yaml" "$goldens/$name.yaml"
        cp "$out/$name.out" "$goldens/$name.out"
    fi
done

# The CPU-bound side of the decision tree needs the real clock: under the
# virtual clock computation takes no time, so there would be nothing to see.
# Its trace therefore varies from run to run; `--golden` keeps one real run
# (tests/data/examples/crunch.real.yaml) for the gallery and the tests.
run_real() {
    if ! LOOPMAID_TRACE=$2 clean_fds "$build/examples/$1" >"$3"; then
        die "example '$1' failed under the real clock"
    fi
}
run_real crunch "$out/crunch.real.yaml" "$out/crunch.real.out"
[ $golden = 1 ] && cp "$out/crunch.real.yaml" "$goldens/crunch.real.yaml"

index=$out/index.md
{
    echo "# loopmaid demo: the seed diagrams, generated from real runs"
    echo
    echo "Each diagram below was drawn by \`loopmaid render\` from the trace of one"
    echo "example program (examples/NAME.c) run under the virtual clock"
    echo "(\`LOOPMAID_CLOCK=virtual\`), so it shows what the program really did."
    echo "Regenerate with \`make demo\`."
} >"$index"

# Every diagram is attempted even when one fails, so that one broken view
# does not hide the state of the others; failures are counted in $failed.
failed=$out/.failed
: >"$failed"
echo "$DIAGRAMS" | while IFS='|' read -r name view opts seed; do
    mmd=$out/$name.$view.mmd
    # shellcheck disable=SC2086 # $opts is a list of words on purpose
    if ! "$cli" render --view "$view" $opts "$out/$name.yaml" >"$mmd" 2>"$mmd.err"; then
        cat "$mmd.err" >&2
        echo "demo: could not render $name.yaml as $view" >&2
        echo "$name.$view" >>"$failed"
        {
            echo
            echo "## $name: $view"
            echo
            echo "Rendering failed:"
            echo
            echo '```text'
            cat "$mmd.err"
            echo '```'
        } >>"$index"
        rm -f "$mmd" "$mmd.err"
        continue
    fi
    rm -f "$mmd.err"
    {
        echo
        echo "## $name: $view"
        echo
        echo "Reproduces $seed."
        echo "Example \`examples/${name%.real}.c\`, trace \`$name.yaml\`, drawn with"
        echo "\`loopmaid render --view $view${opts:+ $opts} $name.yaml\`."
        echo
        echo '```mermaid'
        cat "$mmd"
        # A diagram must end with a newline before the closing fence.
        [ -n "$(tail -c 1 "$mmd")" ] && echo
        echo '```'
    } >>"$index"
    if [ "$view" = advise ]; then
        if ! "$cli" inspect --advise "$out/$name.yaml" >"$out/$name.advise.txt"; then
            echo "demo: inspect --advise failed on $name.yaml" >&2
            echo "$name.inspect" >>"$failed"
        fi
        {
            echo
            echo "\`loopmaid inspect --advise $name.yaml\`:"
            echo
            echo '```text'
            cat "$out/$name.advise.txt"
            echo '```'
        } >>"$index"
    fi
done

{
    echo
    echo "## What the examples printed"
    for name in $EXAMPLES; do
        echo
        echo "\`build/examples/$name\`:"
        echo
        echo '```text'
        cat "$out/$name.out"
        echo '```'
    done
} >>"$index"

echo "demo: $(echo "$EXAMPLES" | wc -w) examples run under the virtual clock"
echo "demo: traces    $out/NAME.yaml"
echo "demo: diagrams  $out/NAME.VIEW.mmd ($(ls "$out" | grep -c '\.mmd$') files)"
echo "demo: one page  $index"
[ $golden = 1 ] && echo "demo: goldens   $goldens/NAME.yaml and NAME.out refreshed"
if [ -s "$failed" ]; then
    echo "demo: FAILED to draw: $(tr '\n' ' ' <"$failed")" >&2
    rm -f "$failed"
    exit 1
fi
rm -f "$failed"
exit 0

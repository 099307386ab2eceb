#!/bin/bash
# Runs every example under the virtual clock and draws the README's gallery
# (one diagram per seed diagram, ../shared/seeds) from fresh runs: `make demo`.
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
#   BUILD/demo/crunch.real.*    the CPU-bound example, run with the real clock
# and for each gallery entry ENTRY of loopmaid.yaml:
#   BUILD/demo/ENTRY.VIEW.mmd   its diagram
#   BUILD/demo/ENTRY.advise.txt `loopmaid inspect --advise` (advise entries only)
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
config=loopmaid.yaml

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
    echo "The README's gallery (loopmaid.yaml), drawn by \`loopmaid render\` from fresh"
    echo "runs of the example programs under the virtual clock"
    echo "(\`LOOPMAID_CLOCK=virtual\`), so each shows what the program really did;"
    echo "the CPU-bound questions are answered from recorded real-clock runs."
    echo "Regenerate with \`make demo\`."
} >"$index"

# The gallery is listed once, in loopmaid.yaml (what `loopmaid build` draws
# into the README). gallery_rows prints one line per entry:
#   name US view US trace US run US seed US render options (US-separated)
# with US = \037, a separator no field contains (a tab would collapse empty
# fields under `read`). It reads the plain block YAML that file is written
# in (`- name:` starting an entry, `key: value` lines, comments); anything
# else stops the demo, so a new construct there cannot be misread here. The
# seed is the comment on an entry's `- name:` line.
gallery_rows() {
    awk -v us="$(printf '\037')" '
        function unquote(v) {
            if (v ~ /^".*"$/) {
                v = substr(v, 2, length(v) - 2)
                gsub(/\\"/, "\"", v); gsub(/\\\\/, "\\", v)
            } else if (v ~ /^\047.*\047$/) {
                v = substr(v, 2, length(v) - 2)
                gsub(/\047\047/, "\047", v)
            } else {
                sub(/[ \t]+#.*$/, "", v)
            }
            return v
        }
        function flush() {
            if (name != "")
                print name us view us trace us run us seed us opts
            name = view = trace = run = seed = opts = ""
        }
        /^[ \t]*(#.*)?$/ { next }
        /^(version|diagrams):/ { next }
        /^  - name:/ {
            flush()
            line = $0
            sub(/^  - name:[ \t]*/, "", line)
            if (match(line, /[ \t]+#[ \t]*/)) {
                seed = substr(line, RSTART + RLENGTH)
                line = substr(line, 1, RSTART - 1)
            }
            name = unquote(line)
            next
        }
        /^    [a-z_]+:/ && name != "" {
            key = $0; sub(/^    /, "", key); sub(/:.*$/, "", key)
            val = $0; sub(/^    [a-z_]+:[ \t]*/, "", val); val = unquote(val)
            if (key == "view") view = val
            else if (key == "trace") trace = val
            else if (key == "run") run = val
            else if (key ~ /^(target|region|timeout|format)$/) { }
            else if (key == "counts") { if (val ~ /^(true|yes|on)$/) opts = opts us "--counts" }
            else { gsub(/_/, "-", key); opts = opts us "--" key us val }
            next
        }
        { printf "%s:%d: demo.sh cannot read this line: %s\n", FILENAME, NR, $0 > "/dev/stderr"; bad = 1; exit 1 }
        END { if (!bad) flush() }
    ' "$config"
}
rows=$(gallery_rows) || die "could not read the gallery from $config"
[ -n "$rows" ] || die "$config lists no diagrams"

# A gallery entry's trace: an example of ours is the run made above; another
# `run:` command (the Python recorder) runs here as `loopmaid build` runs it,
# under the virtual clock; without `run:` the recorded trace is drawn as is.
entry_trace() { # name run trace -> prints the trace path to draw
    case "$2" in
        build/examples/*)
            ex=${2#build/examples/}
            [ -s "$out/$ex.yaml" ] || run_example "$ex" "$out/$ex.yaml" "$out/$ex.out"
            echo "$out/$ex.yaml" ;;
        "") echo "$3" ;;
        *)
            rm -f "$out/$1.yaml"
            LOOPMAID_CLOCK=virtual LOOPMAID_TRACE=$out/$1.yaml clean_fds sh -c "$2" \
                >"$out/$1.out" 2>&1 || { cat "$out/$1.out" >&2; die "'$2' failed"; }
            echo "$out/$1.yaml" ;;
    esac
}

# Every diagram is attempted even when one fails, so that one broken view
# does not hide the state of the others; failures are counted in $failed.
failed=$out/.failed
: >"$failed"
us=$(printf '\037')
while IFS=$us read -r -a row; do
    name=${row[0]} view=${row[1]} seed=${row[4]}
    opts=("${row[@]:6}")
    if ! trace=$(entry_trace "$name" "${row[3]}" "${row[2]}"); then
        echo "$name.trace" >>"$failed"
        continue
    fi
    mmd=$out/$name.$view.mmd
    if ! "$cli" render --view "$view" "${opts[@]}" "$trace" >"$mmd" 2>"$mmd.err"; then
        cat "$mmd.err" >&2
        echo "demo: could not render $trace as $view" >&2
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
        [ -n "$seed" ] && echo "Reproduces $seed."
        echo "Trace \`$trace\`${row[3]:+ (from \`${row[3]}\`)}, drawn with"
        echo "\`loopmaid render --view $view${opts[*]:+ ${opts[*]}} $(basename "$trace")\`."
        echo
        echo '```mermaid'
        cat "$mmd"
        # A diagram must end with a newline before the closing fence.
        [ -n "$(tail -c 1 "$mmd")" ] && echo
        echo '```'
    } >>"$index"
    if [ "$view" = advise ]; then
        if ! "$cli" inspect --advise "$trace" >"$out/$name.advise.txt"; then
            echo "demo: inspect --advise failed on $trace" >&2
            echo "$name.inspect" >>"$failed"
        fi
        {
            echo
            echo "\`loopmaid inspect --advise $(basename "$trace")\`:"
            echo
            echo '```text'
            cat "$out/$name.advise.txt"
            echo '```'
        } >>"$index"
    fi
done <<<"$rows"

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

#!/bin/sh
# bench/profile.sh LM_BENCH WORKLOAD [N] [TRACE]
#
# Shows where loopmaid spends its time on one benchmark workload: a perf
# profile (call graph, then a flat list of the hottest functions), or a
# callgrind one when perf is missing or not permitted (perf_event_paranoid).
# TRACE non-empty runs with LOOPMAID_TRACE set, for the trace-overhead case.
# Outputs stay next to the binary (build/bench/profile-WORKLOAD.*).
set -eu
exe=$1
w=$2
n=${3:-}
trace=${4:-}
if [ -z "$n" ]; then
    case "$w" in
        spawn|echo) n=100000 ;;
        *) n=1000000 ;;
    esac
fi
out=$(dirname "$exe")/profile-$w
if [ -n "$trace" ]; then
    LOOPMAID_TRACE=$out.yaml
    export LOOPMAID_TRACE
fi
echo "profile: $exe $w $n${trace:+ (traced to $out.yaml)}" >&2
if command -v perf >/dev/null 2>&1 && perf record -q -o /dev/null true >/dev/null 2>&1; then
    perf record -q -g -o "$out.perf.data" "$exe" "$w" "$n"
    echo "--- hottest functions (self time) ---"
    perf report -i "$out.perf.data" --stdio --no-children -g none \
        --percent-limit 1 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
    echo "--- call graph (perf report -i $out.perf.data for more) ---"
    perf report -i "$out.perf.data" --stdio --no-children -G \
        --percent-limit 5 2>/dev/null | grep -v '^#' | grep -v '^$' | head -80
elif command -v valgrind >/dev/null 2>&1; then
    # callgrind is ~50x slower: a tenth of the size keeps it bearable.
    n=$((n / 10))
    valgrind --tool=callgrind --callgrind-out-file="$out.callgrind" \
        "$exe" "$w" "$n" >/dev/null
    callgrind_annotate "$out.callgrind" 2>/dev/null | head -60
else
    echo "profile: neither perf nor valgrind is installed;" \
         "sh scripts/deps.sh valgrind installs valgrind" >&2
    exit 1
fi
rm -f "${LOOPMAID_TRACE:-/nonexistent}"

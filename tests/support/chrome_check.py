#!/usr/bin/env python3
"""chrome_check.py: checks a `loopmaid export --format chrome` file the way a
trace viewer would read it, with Python's own JSON parser (strict: no NaN, no
trailing commas, no duplicate keys).

    python3 tests/support/chrome_check.py FILE

Prints `ok EVENTS events, TRACKS tracks, FLOWS flows, SLICES slices` and exits
0, or prints what is wrong and exits 1. Checks: the top level is an object with
a traceEvents list; every event has a known phase, integer pid/tid and a
non-negative ts; complete slices have a non-negative dur and do not overlap on
one task's track; every track that carries events is named by a thread_name
metadata event; every flow id has exactly one start and one finish.
"""
import json
import sys


def no_dupes(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key in %r" % keys)
    return dict(pairs)


def bad_constant(name):
    raise ValueError("not JSON: %s" % name)


def main(path):
    with open(path, "rb") as f:
        raw = f.read()
    doc = json.loads(raw.decode("utf-8"), object_pairs_hook=no_dupes,
                     parse_constant=bad_constant)
    problems = []
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        print("not a trace: no traceEvents list")
        return 1
    named, used, flows, slices = set(), set(), {}, {}
    for i, e in enumerate(doc["traceEvents"]):
        where = "event %d" % i
        ph = e.get("ph")
        if ph not in ("M", "X", "i", "s", "f"):
            problems.append("%s: phase %r" % (where, ph))
            continue
        if not all(isinstance(e.get(k), int) for k in ("pid", "tid")):
            problems.append("%s: pid/tid not integers" % where)
            continue
        ts = e.get("ts")
        if not isinstance(ts, (int, float)) or ts < 0:
            problems.append("%s: ts %r" % (where, ts))
        if not isinstance(e.get("name"), str):
            problems.append("%s: name is not a string" % where)
        track = (e["pid"], e["tid"])
        if ph == "M":
            if e["name"] == "thread_name":
                named.add(track)
            continue
        used.add(track)
        if ph == "X":
            dur = e.get("dur")
            if not isinstance(dur, (int, float)) or dur < 0:
                problems.append("%s: dur %r" % (where, dur))
            elif e["tid"] != 0:
                slices.setdefault(track, []).append((ts, ts + dur, i))
        elif ph in ("s", "f"):
            flows.setdefault(e.get("id"), []).append(ph)
    for track in sorted(used - named):
        problems.append("track %r has events but no thread_name" % (track,))
    for fid, phs in flows.items():
        if sorted(phs) != ["f", "s"]:
            problems.append("flow %r has phases %r" % (fid, phs))
    nslices = 0
    for track, ss in slices.items():
        ss.sort()
        nslices += len(ss)
        for (a0, a1, ia), (b0, b1, ib) in zip(ss, ss[1:]):
            if b0 < a1 - 1e-9:
                problems.append("track %r: slices %d and %d overlap" % (track, ia, ib))
    if problems:
        for p in problems[:20]:
            print(p)
        return 1
    print("ok %d events, %d tracks, %d flows, %d slices" %
          (len(doc["traceEvents"]), len(named), len(flows), nslices))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        print("not valid JSON: %s" % exc)
        sys.exit(1)

#!/usr/bin/env python3
"""run.py: runs every benchmark workload on loopmaid and its peers (libuv,
CPython asyncio), takes medians, and prints one table of figures and ratios.

    python3 bench/run.py [--build DIR] [--quick] [--runs R] [--only W,W...]

`make bench` and `make bench-quick` call this after building build/bench/*.
The table also goes to DIR/bench/results.md. How to read it: bench/README.md.

Method (why the numbers are comparable):
  - Every system runs the same workload with the same N in its own process, one
    workload per process, so peak RSS belongs to that workload alone.
  - Runs are interleaved (run 1 of every system, then run 2, ...) so that a
    slow drift of the machine (thermal, another job) hits every system alike.
  - The figure is the median of R >= 5 runs of the program's own measured
    region (`seconds=` on its result line: the loop's run, not process
    start-up). Peak RSS is the process image's own VmHWM (programs with a
    result line) or GNU time's %M (the render CLI), median over the runs.
  - A ratio is peer time / loopmaid time: above 1 means loopmaid is faster.
No timing is asserted anywhere in `make test`: targets are only reported here.
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

# name, full N, quick N
LOOP_WORKLOADS = [
    ("yields", 1_000_000, 100_000),
    ("pingpong", 1_000_000, 100_000),
    ("spawn", 100_000, 10_000),
    ("timers", 1_000_000, 100_000),
    ("echo", 100_000, 10_000),
]
RENDER_EVENTS = (1_000_000, 50_000)
RENDER_TASKS = (1_000, 100)
VIEWS = ["state", "sequence", "flowchart", "tasks", "gantt", "advise"]

# The targets of issue 18: (workload, peer, minimum ratio peer/loopmaid).
RATIO_TARGETS = {
    ("yields", "libuv"): 2.0,       # twice libuv's rate
    ("yields", "asyncio"): 25.0,
    ("pingpong", "asyncio"): 50.0,
    ("spawn", "asyncio"): 10.0,
    ("timers", "libuv"): 2.0,
    ("echo", "libuv"): 1.0,         # at least libuv's rate
    ("echo", "asyncio"): 5.0,
}
SPAWN_KIB_PER_TASK = 5.0
TRACE_ECHO_MAX = 1.10
TRACE_PINGPONG_MAX = 2.0   # reported beside the echo figure
RENDER_MAX = 1.0           # faster than libyaml can parse the same file

RESULT_RE = re.compile(r"(\w+)=(\S+)")


class BenchError(Exception):
    pass


TIME = "/usr/bin/time"
# A run that takes longer than this is killed and its figure marked failed,
# so a hang in one system cannot hang the whole benchmark (set by --quick).
RUN_TIMEOUT = [300.0]


def run_once(argv, env=None, wall=False):
    """Runs argv, returns (result dict, process wall seconds, peak RSS KiB).

    Programs with a result line report their own peak RSS (VmHWM, see
    bench/bench_util.h for why not wait4's rusage). wall=True is for programs
    without one (the render CLI): stdout goes to /dev/null, the figure is the
    process's wall time, and GNU time (-f %M) reports the peak RSS; time forks
    its child, so the child does not inherit this runner's high-water mark."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as tf:
        if wall:
            argv = [TIME, "-f", "%M %U %S", "-o", tf.name] + list(argv)
        t0 = time.perf_counter()
        try:
            p = subprocess.run(argv, stdout=subprocess.DEVNULL if wall else subprocess.PIPE,
                               stderr=err, env=env, cwd=TOP, timeout=RUN_TIMEOUT[0])
        except subprocess.TimeoutExpired:
            raise BenchError("%s: killed after %.0f s (hung?)" % (" ".join(argv),
                                                                  RUN_TIMEOUT[0]))
        wall_s = time.perf_counter() - t0
        if p.returncode != 0:
            err.seek(0)
            msg = err.read().decode("utf-8", "replace").strip()
            raise BenchError("%s exited %d: %s" % (" ".join(argv), p.returncode,
                                                   msg[-600:]))
        if wall:
            try:
                m, u, sy = tf.read().split()[-3:]
                rss, cpu = int(m), float(u) + float(sy)
            except ValueError:
                raise BenchError("%s reported no peak RSS" % TIME)
            return ({"seconds": str(wall_s), "cpu": str(cpu), "rss_kib": str(rss)},
                    wall_s, rss)
    out = p.stdout.decode("utf-8", "replace")
    line = next((l for l in out.splitlines() if l.startswith("workload=")), None)
    if line is None:
        raise BenchError("%s printed no result line" % " ".join(argv))
    res = dict(RESULT_RE.findall(line))
    return res, wall_s, int(res["rss_kib"])


class Figure:
    """The median of several runs of one command."""

    def __init__(self):
        self.secs, self.cpus, self.rss, self.base, self.extra = [], [], [], [], []
        self.loop_cpus = []
        self.error = None

    def add(self, res, rss):
        self.secs.append(float(res["seconds"]))
        self.cpus.append(float(res.get("cpu", res["seconds"])))
        # lm_bench: the loop thread's own CPU (the trace's writer thread not
        # included); the process's CPU for every other program.
        self.loop_cpus.append(float(res.get("loop_cpu", self.cpus[-1])))
        self.rss.append(rss)
        self.base.append(int(res.get("base_rss_kib", 0)))

    @property
    def ok(self):
        return self.error is None and self.secs

    def t(self):
        return statistics.median(self.secs)

    def cpu(self):
        return statistics.median(self.cpus)

    def loop_cpu(self):
        return statistics.median(self.loop_cpus)

    def rss_kib(self):
        return statistics.median(self.rss)

    def base_kib(self):
        return statistics.median(self.base)

    def spread(self):
        """(max - min) / median: how noisy the runs were."""
        return (max(self.secs) - min(self.secs)) / self.t() if self.t() else 0


def measure(commands, runs, label, env_of=None, wall=False):
    """commands: {name: argv}. Interleaves the runs; returns {name: Figure}."""
    figs = {name: Figure() for name in commands}
    for r in range(runs):
        for name, argv in commands.items():
            f = figs[name]
            if f.error:
                continue
            try:
                env = env_of(name) if env_of else None
                res, _, rss = run_once(argv, env, wall)
                f.add(res, rss)
                if env_of:
                    f.extra.append(res)
            except BenchError as e:
                f.error = str(e)
                print("  %s: %s: FAILED: %s" % (label, name, e), file=sys.stderr)
        sys.stderr.write("  %s: run %d/%d done\n" % (label, r + 1, runs))
        sys.stderr.flush()
    return figs


# ------------------------------------------------------------------ format


def fmt_time(s):
    if s >= 1:
        return "%.2f s" % s
    if s >= 1e-3:
        return "%.1f ms" % (s * 1e3)
    return "%.0f us" % (s * 1e6)


def fmt_rate(n, s):
    r = n / s if s > 0 else 0
    if r >= 1e6:
        return "%.2f M/s" % (r / 1e6)
    if r >= 1e3:
        return "%.1f k/s" % (r / 1e3)
    return "%.0f /s" % r


def fmt_mib(kib):
    return "%.1f MiB" % (kib / 1024)


def table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(
        str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def verdict(ok):
    return "met" if ok else "**MISSED**"


# -------------------------------------------------------------------- main


def python_cmd():
    return os.environ.get("PYTHON", "python3")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true",
                    help="smaller sizes (bench-quick: under a minute)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--profile", dest="profile", action="store_true", default=None,
                    help="profile loopmaid where a target is missed (default: on, "
                         "off with --quick)")
    ap.add_argument("--no-profile", dest="profile", action="store_false")
    ap.add_argument("--only", default="",
                    help="comma-separated workloads (yields,...,trace,pytrace,render)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if args.profile is None:
        args.profile = not args.quick
    size = 1 if args.quick else 0
    if args.quick:
        RUN_TIMEOUT[0] = 20.0
    only = set(w for w in args.only.split(",") if w)
    want = lambda w: not only or w in only
    build = os.path.join(TOP, args.build) if not os.path.isabs(args.build) else args.build
    bindir = os.path.join(build, "bench")
    lm = os.path.join(bindir, "lm_bench")
    uv = os.path.join(bindir, "uv_bench")
    py = [python_cmd(), os.path.join(HERE, "asyncio_bench.py")]
    for exe in (lm, uv):
        if not os.access(exe, os.X_OK):
            sys.exit("run.py: %s is missing: run `make bench` (it builds it)" % exe)

    cores = os.cpu_count()
    pyver = subprocess.run(py[:1] + ["-c", "import sys; print(sys.version.split()[0])"],
                           capture_output=True, text=True).stdout.strip()
    uvver = subprocess.run(["pkg-config", "--modversion", "libuv"],
                           capture_output=True, text=True).stdout.strip() or "?"
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f
                        if l.startswith("model name")), "?")
    except OSError:
        pass
    head = ("machine: %d cores, %s; %s %s; libuv %s; CPython %s (asyncio, default "
            "loop; uvloop not used); %s sizes; median of %d runs"
            % (cores, cpu, platform.system(), platform.release(), uvver, pyver,
               "quick" if args.quick else "full", args.runs))
    print(head, file=sys.stderr)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0

    sections = ["# loopmaid benchmarks", "", head, ""]
    notes = []
    missed = []
    # (label, argv, env) of loopmaid runs whose target was missed: profiled
    # at the end so the table says where the time goes.
    to_profile = []
    t_start = time.perf_counter()

    # --- loop workloads vs libuv and asyncio ---------------------------
    rows, mem_rows, cpu_rows = [], [], []
    for w, nfull, nquick in LOOP_WORKLOADS:
        if not want(w):
            continue
        n = (nfull, nquick)[size]
        cmds = {
            "loopmaid": [lm, w, str(n)],
            "libuv": [uv, w, str(n)],
            "asyncio": py + [w, str(n)],
        }
        figs = measure(cmds, args.runs, w)
        crow = [w]
        for name in ("loopmaid", "libuv", "asyncio"):
            f = figs[name]
            crow.append(fmt_time(f.cpu()) if f.ok else "failed")
        for peer in ("libuv", "asyncio"):
            f, l = figs[peer], figs["loopmaid"]
            crow.append("%.2fx" % (f.cpu() / l.cpu()) if f.ok and l.ok and l.cpu() > 0
                        else "n/a")
        cpu_rows.append(crow)
        cells = [w, "{:,}".format(n)]
        for name in ("loopmaid", "libuv", "asyncio"):
            f = figs[name]
            cells.append("%s (%s)" % (fmt_time(f.t()), fmt_rate(n, f.t()))
                         if f.ok else "failed")
        targets = []
        for peer in ("libuv", "asyncio"):
            f, l = figs[peer], figs["loopmaid"]
            if f.ok and l.ok:
                ratio = f.t() / l.t()
                cells.append("%.2fx" % ratio)
                tgt = RATIO_TARGETS.get((w, peer))
                if tgt is not None:
                    ok = ratio >= tgt if tgt != 1.0 else ratio > 1.0
                    targets.append("%s %s%.4gx: %s" % (peer, ">=" if tgt != 1.0 else ">",
                                                       tgt, verdict(ok)))
                    if not ok:
                        missed.append("%s vs %s: %.2fx (target %s%.4gx)"
                                      % (w, peer, ratio, ">=" if tgt != 1.0 else ">", tgt))
                        if not any(p[0] == w for p in to_profile):
                            to_profile.append((w, [lm, w, str(n)], None))
            else:
                cells.append("n/a")
        mem = [w]
        for name in ("loopmaid", "libuv", "asyncio"):
            f = figs[name]
            mem.append(fmt_mib(f.rss_kib()) if f.ok else "failed")
        if w == "spawn":
            per = []
            for name in ("loopmaid", "libuv", "asyncio"):
                f = figs[name]
                per.append("%s %.2f KiB" % (name, (f.rss_kib() - f.base_kib()) / n)
                           if f.ok else "%s failed" % name)
            mem.append("; ".join(per) + " per task")
            l = figs["loopmaid"]
            if l.ok:
                kib = (l.rss_kib() - l.base_kib()) / n
                ok = kib <= SPAWN_KIB_PER_TASK
                targets.append("<= %.0f KiB/task: %s" % (SPAWN_KIB_PER_TASK, verdict(ok)))
                if not ok:
                    missed.append("spawn: %.2f KiB per task (target <= %.0f)"
                                  % (kib, SPAWN_KIB_PER_TASK))
                    if not any(p[0] == w for p in to_profile):
                        to_profile.append((w, [lm, w, str(n)], None))
        else:
            mem.append("")
        for name, f in figs.items():
            if not f.ok:
                missed.append("%s: %s failed: %s" % (w, name, f.error))
            elif f.spread() > 0.25:
                notes.append("%s/%s: runs spread %.0f%% around the median (noisy)"
                             % (w, name, f.spread() * 100))
        cells.append("; ".join(targets) if targets else "")
        rows.append(cells)
        mem_rows.append(mem)

    if rows:
        sections += ["## Loop workloads (wall time of the measured region, median)", "",
                     "Ratio = peer time / loopmaid time: above 1 means loopmaid is faster.", "",
                     table(["workload", "N", "loopmaid", "libuv", "asyncio",
                            "vs libuv", "vs asyncio", "targets"], rows), "",
                     "### CPU time (user + system, median)", "",
                     "The same runs' CPU time: unlike wall time it does not grow while a "
                     "process waits for a core, so on a busy machine these ratios are the "
                     "steadier ones (the targets above are judged on wall time).", "",
                     table(["workload", "loopmaid", "libuv", "asyncio", "vs libuv",
                            "vs asyncio"], cpu_rows), "",
                     "### Peak RSS (median)", "",
                     table(["workload", "loopmaid", "libuv", "asyncio", "note"], mem_rows), ""]

    # --- trace overhead ------------------------------------------------
    if want("trace"):
        trows = []
        tdir = os.path.join(bindir, "traces")
        os.makedirs(tdir, exist_ok=True)
        for w in ("echo", "pingpong"):
            n = dict((x[0], (x[1], x[2])) for x in LOOP_WORKLOADS)[w][size]
            # Binary traces (issue 18): what LOOPMAID_TRACE=FILE.lmt writes
            # is what this row measures; the YAML is made afterwards.
            path = os.path.join(tdir, "%s.lmt" % w)

            def env_of(name, path=path):
                e = dict(os.environ)
                e.pop("LOOPMAID_TRACE", None)
                e.pop("LOOPMAID_TRACE_FORMAT", None)  # the .lmt name decides
                if name == "traced":
                    e["LOOPMAID_TRACE"] = path
                return e

            figs = measure({"off": [lm, w, str(n)], "traced": [lm, w, str(n)]},
                           args.runs, "trace-" + w, env_of)
            off, on = figs["off"], figs["traced"]
            if not (off.ok and on.ok):
                missed.append("trace-overhead %s: %s" % (w, off.error or on.error))
                trows.append([w, "{:,}".format(n), "failed", "", "", "", "", "", "", "", ""])
                continue
            events, size_b, yaml_b, conv_s = convert_and_count(
                os.path.join(build, "loopmaid"), path, missed)
            ratio = on.t() / off.t()
            tgt = ""
            limit = {"echo": TRACE_ECHO_MAX, "pingpong": TRACE_PINGPONG_MAX}.get(w)
            if limit is not None:
                ok = ratio <= limit
                tgt = "<= %.2fx: %s" % (limit, verdict(ok))
                if not ok:
                    missed.append("trace-overhead %s: %.3fx (target <= %.2fx)"
                                  % (w, ratio, limit))
                    to_profile.append(("%s traced" % w, [lm, w, str(n)], env_of("traced")))
            trows.append([w, "{:,}".format(n), fmt_time(off.t()), fmt_time(on.t()),
                          "%.3fx" % ratio,
                          "%.3fx" % (on.cpu() / off.cpu()) if off.cpu() > 0 else "n/a",
                          "%.3fx" % (on.loop_cpu() / off.loop_cpu())
                          if off.loop_cpu() > 0 else "n/a",
                          "{:,}".format(events),
                          "%s (%.1f MB)" % (fmt_rate(events, on.t()), size_b / 1e6),
                          "%.1f MB in %s" % (yaml_b / 1e6, fmt_time(conv_s))
                          if conv_s is not None else "n/a", tgt])
            for p in (path, path + ".yaml"):
                try:
                    os.unlink(p)
                except OSError:
                    pass
        sections += ["## Trace overhead (loopmaid, LOOPMAID_TRACE=file.lmt, a binary "
                     "trace, vs off)", "",
                     "CPU is the process's (the trace's writer thread included); "
                     "loop-thread CPU is the loop thread's alone, what tracing costs the "
                     "program's own work. The trace is binary (.lmt, issue 18): the YAML "
                     "is made afterwards by `loopmaid convert`, whose output size and wall "
                     "time are in the last column but one, and events are counted in that "
                     "YAML, so the row does not hide the cost it moved.", "",
                     table(["workload", "N", "off", "traced", "traced/off", "CPU traced/off",
                            "loop-thread CPU traced/off", "events",
                            "events/s recorded (.lmt size)",
                            "YAML equivalent (convert time)", "target"], trows), ""]

    # --- the asyncio recorder (python/loopmaid_asyncio) ----------------
    if want("pytrace"):
        sections += pytrace_section(py, bindir, size, args.runs, missed)

    # --- render vs a plain libyaml parse -------------------------------
    if want("render"):
        sections += render_section(build, bindir, size, args.runs, missed, notes,
                                   to_profile)

    if to_profile and args.profile:
        sections += ["## Where the time goes (targets missed)", "",
                     "`perf record -g` of one loopmaid run per missed target, hottest "
                     "functions by self time (rerun one with `make bench-profile "
                     "BENCH_W=...` for the call graph).", ""]
        for label, argv, env in to_profile:
            sections += profile(label, argv, env, bindir)

    total = time.perf_counter() - t_start
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if max(load, load_end) > 0.75 * (cores or 1):
        notes.insert(0, "the machine was busy (1-minute load average %.1f at the start, "
                     "%.1f at the end, %d cores): other work competed for the CPU, "
                     "so figures are noisy; prefer ratios, and rerun on a quiet machine"
                     % (load, load_end, cores or 1))
    if notes:
        sections += ["## Notes", ""] + ["- " + x for x in notes] + [""]
    sections += ["## Targets missed", ""]
    sections += (["- " + x for x in missed] if missed else ["none"]) + [""]
    sections += ["(%d runs per figure; whole run %.0f s. See bench/README.md for "
                 "what each workload measures and why it is fair.)" % (args.runs, total), ""]
    text = "\n".join(sections)
    os.makedirs(bindir, exist_ok=True)
    with open(os.path.join(bindir, "results.md"), "w") as f:
        f.write(text)
    print(text)
    print("(written to %s)" % os.path.relpath(os.path.join(bindir, "results.md"), TOP))
    return 0


def pytrace_section(py, bindir, size, runs, missed):
    """asyncio workloads traced by loopmaid_asyncio (real clock) vs untraced."""
    rows = []
    path = os.path.join(bindir, "pytrace.yaml")
    for w, nfull, nquick in LOOP_WORKLOADS:
        n = max(1, (nfull, nquick)[size] // 10)  # the recorder is Python: smaller N

        def env_of(name, path=path):
            e = dict(os.environ)
            e.pop("LOOPMAID_ASYNCIO_TRACE", None)
            if name == "traced":
                e["LOOPMAID_ASYNCIO_TRACE"] = path
            return e

        figs = measure({"untraced": py + [w, str(n)], "traced": py + [w, str(n)]},
                       runs, "pytrace-" + w, env_of)
        off, on = figs["untraced"], figs["traced"]
        if not (off.ok and on.ok):
            missed.append("asyncio recorder %s: %s" % (w, off.error or on.error))
            rows.append([w, "{:,}".format(n), "failed", "", "", ""])
            continue
        events, size_b = count_events(path)
        rows.append([w, "{:,}".format(n), fmt_time(off.t()), fmt_time(on.t()),
                     "%.2fx" % (on.t() / off.t()),
                     "{:,} (%s)" .format(events) % fmt_rate(events, on.t())])
        try:
            os.unlink(path)
        except OSError:
            pass
    return ["## asyncio recorder overhead (python/loopmaid_asyncio, real clock)", "",
            "CPython asyncio untraced vs recorded by `loopmaid_asyncio` (no target; "
            "N is a tenth of the loop workloads').", "",
            table(["workload", "N", "untraced", "traced", "traced/untraced",
                   "events (recorded/s)"], rows), ""]


def convert_and_count(cli, path, missed):
    """A binary trace converted by `loopmaid convert` to PATH.yaml: (events,
    .lmt bytes, YAML bytes, conversion wall seconds); the seconds are None
    when the conversion failed (said in missed)."""
    try:
        lmt_b = os.path.getsize(path)
    except OSError:
        return 0, 0, 0, None
    yaml = path + ".yaml"
    t0 = time.perf_counter()
    try:
        rc = subprocess.run([cli, "convert", "-o", yaml, path], cwd=TOP,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            timeout=RUN_TIMEOUT[0])
    except (OSError, subprocess.TimeoutExpired) as e:
        missed.append("trace-overhead: convert %s: %s" % (os.path.basename(path), e))
        return 0, lmt_b, 0, None
    conv_s = time.perf_counter() - t0
    if rc.returncode != 0:
        missed.append("trace-overhead: convert %s: %s" % (
            os.path.basename(path), rc.stderr.decode("utf-8", "replace").strip()[-200:]))
        return 0, lmt_b, 0, None
    events, yaml_b = count_events(yaml)
    return events, lmt_b, yaml_b, conv_s


def count_events(path):
    """Events in a trace: one event per line, each starting with '  - '
    (docs/trace-format.md, section 1)."""
    events = 0
    try:
        size_b = os.path.getsize(path)
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(b"  - "):
                    events += 1
    except OSError:
        return 0, 0
    return events, size_b


def profile(label, argv, env, bindir):
    """perf record of one run; returns Markdown lines with the hottest
    functions. Nothing (a note) when perf is missing or not permitted."""
    data = os.path.join(bindir, "profile.data")
    try:
        rec = subprocess.run(["perf", "record", "-q", "-g", "-o", data, "--"] + argv,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=env, cwd=TOP, timeout=RUN_TIMEOUT[0])
        if rec.returncode != 0:
            return ["### %s" % label, "",
                    "perf record failed (%s); try `make bench-profile`." %
                    rec.stderr.decode("utf-8", "replace").strip()[-200:], ""]
        rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                              "-g", "none", "--percent-limit", "1.5"],
                             capture_output=True, text=True, cwd=TOP, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return ["### %s" % label, "", "no profile: perf unavailable (%s); "
                "`make bench-profile` falls back to callgrind." % e, ""]
    finally:
        if env and env.get("LOOPMAID_TRACE"):
            try:
                os.unlink(env["LOOPMAID_TRACE"])
            except OSError:
                pass
    lines = [l.rstrip() for l in rep.stdout.splitlines()
             if l.strip() and not l.startswith("#")][:12]
    try:
        os.unlink(data)
    except OSError:
        pass
    return ["### %s (`%s`)" % (label, " ".join(os.path.relpath(a, TOP) if os.sep in a
                                                 else a for a in argv)), "",
            "```"] + lines + ["```", ""]


def render_section(build, bindir, size, runs, missed, notes, to_profile):
    cli = os.path.join(build, "loopmaid")
    gen = os.path.join(build, "tools", "gentrace")
    parse = os.path.join(bindir, "yaml_parse")
    out = ["## Render (1 trace through every view vs a plain libyaml parse)", ""]
    lacking = [p for p in (cli, gen, parse) if not os.access(p, os.X_OK)]
    if lacking:
        msg = "render: skipped, not built: %s" % ", ".join(
            os.path.relpath(p, TOP) for p in lacking)
        missed.append(msg)
        return out + [msg, ""]
    nev, ntasks = RENDER_EVENTS[size], RENDER_TASKS[size]
    trace = os.path.join(bindir, "render-%d.yaml" % nev)
    if not os.path.exists(trace) or os.path.getsize(trace) == 0:
        print("  render: generating %s" % trace, file=sys.stderr)
        with open(trace + ".tmp", "wb") as f:
            rc = subprocess.run([gen, "--events", str(nev), "--tasks", str(ntasks)],
                                stdout=f, cwd=TOP).returncode
        if rc != 0:
            missed.append("render: gentrace exited %d" % rc)
            return out + ["gentrace failed", ""]
        os.replace(trace + ".tmp", trace)
    mb = os.path.getsize(trace) / 1e6
    # The CLI prints Mermaid, not a result line: every program here, the
    # parse baseline included, is timed by its process wall time.
    cmds = {"parse": [parse, trace]}
    for v in VIEWS:
        cmds[v] = [cli, "render", "--view", v, trace]
    figs = measure(cmds, runs, "render", wall=True)
    base = figs["parse"]
    rows = []
    if not base.ok:
        missed.append("render: the libyaml parse failed: %s" % base.error)
        return out + ["parse failed", ""]
    evs = nev
    rows.append(["libyaml parse only", fmt_time(base.t()), fmt_rate(evs, base.t()),
                 "1.00x", fmt_time(base.cpu()), "1.00x", fmt_mib(base.rss_kib()), ""])
    for v in VIEWS:
        f = figs[v]
        if not f.ok:
            rows.append(["render --view " + v, "failed", "", "", "", "", "", ""])
            missed.append("render %s: %s" % (v, f.error))
            continue
        ratio = f.t() / base.t()
        ok = ratio <= RENDER_MAX
        if not ok:
            missed.append("render %s: %.2fx the parse (target <= %.1fx)" % (v, ratio, RENDER_MAX))
            if not any(p[0].startswith("render") for p in to_profile):
                to_profile.append(("render --view " + v, cmds[v], None))
        rows.append(["render --view " + v, fmt_time(f.t()), fmt_rate(evs, f.t()),
                     "%.2fx" % ratio, fmt_time(f.cpu()),
                     "%.2fx" % (f.cpu() / base.cpu()) if base.cpu() > 0 else "n/a",
                     fmt_mib(f.rss_kib()),
                     "<= %.1fx: %s" % (RENDER_MAX, verdict(ok))])
    out += ["Trace: %s events, %d tasks, %.1f MB (build/tools/gentrace)." % (
        "{:,}".format(nev), ntasks, mb), "",
        table(["program", "wall", "events/s", "vs parse", "CPU", "CPU vs parse",
               "peak RSS", "target"], rows), ""]
    return out


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

"""Tests of the asyncio recorder (unittest, standard library only).

Run by `make test` through python/tests/run.py, which prints
`python: N passed, N failed`. Needs build/loopmaid (LOOPMAID_BIN overrides).

  - every scenario (python/tests/scenarios/*.py, python/examples/*.py) runs
    under the virtual clock twice: the traces are identical, equal to the
    golden trace tests/data/python/NAME.yaml (LOOPMAID_UPDATE_GOLDEN=1
    rewrites them), read back by `loopmaid inspect` and drawn in every view;
  - traced and untraced runs print the same and exit the same;
  - the same scenario in C (examples/) and in Python draws the same diagram
    where asyncio and loopmaid's runtime agree (gather, wait, TaskGroup,
    wait_for and its cancellation);
  - the string writer matches the C writer's rules;
  - the package installs with pip into a venv, offline.
"""

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
TOP = os.path.dirname(PYDIR)
sys.path.insert(0, PYDIR)

import loopmaid_asyncio  # noqa: E402
from loopmaid_asyncio import _writer  # noqa: E402

LOOPMAID = os.environ.get('LOOPMAID_BIN') or os.path.join(TOP, 'build', 'loopmaid')
GOLDEN = os.path.join(TOP, 'tests', 'data', 'python')
UPDATE = os.environ.get('LOOPMAID_UPDATE_GOLDEN') == '1'
VIEWS = ['state', 'sequence', 'flowchart', 'tasks', 'gantt', 'advise']
PY311 = sys.version_info[:2] == (3, 11)

# name -> (script, expected exit status)
SCENARIOS = {
    'basics': ('python/tests/scenarios/basics.py', 0),
    'timeouts': ('python/tests/scenarios/timeouts.py', 0),
    'cancel': ('python/tests/scenarios/cancel.py', 0),
    'sync': ('python/tests/scenarios/sync.py', 0),
    'executor': ('python/tests/scenarios/executor.py', 0),
    'multiloop': ('python/tests/scenarios/multiloop.py', 0),
    'raises': ('python/tests/scenarios/raises.py', 1),
    'exits': ('python/tests/scenarios/exits.py', 3),
    'interrupted': ('python/tests/scenarios/interrupted.py', None),
    'groups': ('python/examples/groups.py', 0),
    'timeout': ('python/examples/timeout.py', 0),
    'fetch': ('python/examples/fetch.py', 0),
}


def env():
    e = dict(os.environ)
    e['PYTHONPATH'] = PYDIR + os.pathsep + e.get('PYTHONPATH', '')
    e.pop('LOOPMAID_TRACE', None)
    e.pop('LOOPMAID_CLOCK', None)
    return e


def run(args, **kw):
    return subprocess.run(args, cwd=TOP, env=env(), capture_output=True, timeout=120, **kw)


def traced(script, path, clock='virtual'):
    return run([sys.executable, '-m', 'loopmaid_asyncio', '--clock', clock, '-o', path, script])


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def lm(*args):
    return run([LOOPMAID] + list(args))


class Scenarios(unittest.TestCase):
    tmp = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def check_scenario(self, name):
        script, status = SCENARIOS[name]
        a = os.path.join(self.tmp.name, name + '.a.yaml')
        b = os.path.join(self.tmp.name, name + '.b.yaml')
        pa, pb = traced(script, a), traced(script, b)
        if status is not None:
            self.assertEqual(pa.returncode, status, pa.stderr.decode()[-2000:])
        self.assertEqual(pa.returncode, pb.returncode)
        self.assertEqual(read(a), read(b), 'virtual clock: two runs differ')
        trace = read(a)
        self.assertTrue(trace.startswith(b'loopmaid: 1\n'))
        self.assertTrue(trace.endswith(b'ev: loop_end, loop: %d}\n' % trace.count(b'ev: loop_start')),
                        'the trace must end with its loops complete')
        ins = lm('inspect', a)
        self.assertEqual(ins.returncode, 0, ins.stderr.decode())
        self.assertNotIn(b'truncated', ins.stdout + ins.stderr)
        for v in VIEWS:
            r = lm('render', '--view', v, a)
            self.assertEqual(r.returncode, 0, '%s: %s' % (v, r.stderr.decode()))
            self.assertTrue(r.stdout.strip(), v)
        golden = os.path.join(GOLDEN, name + '.yaml')
        if not PY311:
            return  # the goldens are CPython 3.11's (asyncio differs in 3.12+)
        if UPDATE:
            os.makedirs(GOLDEN, exist_ok=True)
            with open(golden, 'wb') as f:
                f.write(trace)
        # fd numbers depend on what the interpreter and the test runner
        # have open; the two runs above agree byte for byte anyway.
        fds = lambda b: re.sub(rb'fd: \d+', b'fd: N', b)
        self.assertTrue(fds(trace) == fds(read(golden)),
                         'golden %s differs (LOOPMAID_UPDATE_GOLDEN=1 to refresh)' % golden)
        return trace.decode()

    def test_basics(self):
        t = self.check_scenario('basics')
        if t is None:
            return
        for token in ('by: yield', 'on: task, awaits:', 'on: future', 'by: future',
                      'to: failed, error: "ValueError", message: "bad \\"reply\\":\\n\\tno body"',
                      'ev: name, task: 2, name: "child (renamed)"', 'ev: call, label:',
                      'ev: timer, task: 0'):
            self.assertIn(token, t)
        # the writer's escapes, as tracer/trace_fmt.c writes them
        self.assertIn(r'text: "controls \x00\x01\x1B\x7F and C1 \x85\x9F"', t)
        self.assertIn(r'line breaks \u2028 \u2029, BOM \uFEFF, nonchars \uFFFE\uFFFF', t)
        self.assertIn('bytes from the OS: \ufffd\ufffd\ufffd and a lone \ufffd\ufffd\ufffd"', t)
        self.assertNotIn('outside any loop', t)

    def test_timeouts(self):
        t = self.check_scenario('timeouts')
        if t is None:
            return
        self.assertIn('kind: wait_for', t)
        self.assertIn('outcome: timeout, error: "TimeoutError"', t)
        self.assertIn('reason: timeout', t)
        self.assertIn('mode: all_completed, timeout: 100000000', t)

    def test_cancel(self):
        t = self.check_scenario('cancel')
        if t is None:
            return
        self.assertIn('from: pending, to: cancelled, by: cancel, by_task: 1', t)
        self.assertIn('reason: shutdown', t)
        self.assertRegex(t, r'cancel, task: 4, reason: explicit, by_task: 5')

    def test_sync(self):
        t = self.check_scenario('sync')
        if t is None:
            return
        for on in ('queue', 'lock', 'event', 'semaphore', 'condition'):
            self.assertIn('on: %s' % on, t)
            self.assertRegex(t, r'by: %s, by_task: \d+' % on)

    def test_executor(self):
        t = self.check_scenario('executor')
        if t is None:
            return
        woken = re.findall(r'task: (\d+), from: awaiting, to: pending, by: thread', t)
        self.assertEqual(woken[:3], ['2', '3', '4'], 'submission order')

    def test_multiloop(self):
        t = self.check_scenario('multiloop')
        if t is None:
            return
        self.assertIn('ev: loop_start, loop: 2', t)
        self.assertIn('ev: spawn, loop: 2, task: 1', t)

    def test_raises(self):
        t = self.check_scenario('raises')
        if t is not None:
            self.assertIn('error: "RuntimeError"', t)

    def test_exits(self):
        t = self.check_scenario('exits')
        if t is not None:
            self.assertIn('error: "SystemExit"', t)
            self.assertIn('reason: shutdown', t)

    def test_interrupted(self):
        t = self.check_scenario('interrupted')
        if t is not None:
            self.assertIn('reason: signal', t)

    def test_groups(self):
        t = self.check_scenario('groups')
        if t is not None:
            for k in ('mode: fail_fast', 'mode: return_exceptions', 'mode: first_completed',
                      'mode: first_exception', 'mode: all_completed', 'kind: taskgroup',
                      'reason: group'):
                self.assertIn(k, t)

    def test_timeout(self):
        t = self.check_scenario('timeout')
        if t is not None:
            self.assertRegex(t, r'on: io, fd: \d+, dir: read')
            self.assertRegex(t, r'ev: io, task: \d+, fd: \d+, dir: ')

    def test_fetch(self):
        t = self.check_scenario('fetch')
        if t is not None:
            self.assertIn('kind: gather', t)


class SameBehaviour(unittest.TestCase):
    """Traced (real clock) and untraced runs print the same and exit alike."""

    def test_output_unchanged(self):
        with tempfile.TemporaryDirectory() as d:
            # (not groups.py: under the real clock its 10 ms gaps race a busy machine)
            for name in ('basics', 'cancel', 'sync', 'raises', 'exits', 'interrupted'):
                script = SCENARIOS[name][0]
                plain = run([sys.executable, script])
                tr = traced(script, os.path.join(d, name + '.yaml'), clock='monotonic')
                self.assertEqual(plain.stdout, tr.stdout, name)
                self.assertEqual(plain.stderr, tr.stderr, name)
                self.assertEqual(plain.returncode in (130, -2) or plain.returncode,
                                 tr.returncode in (130, -2) or tr.returncode, name)
                self.assertEqual(lm('inspect', os.path.join(d, name + '.yaml')).returncode, 0)


class Threads(unittest.TestCase):
    def test_two_loops_at_once(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 't.yaml')
            p = traced('python/tests/scenarios/threads.py', path)
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            self.assertEqual(p.stdout, b'[1, 2]\n')
            t = read(path).decode()
            self.assertEqual(t.count('ev: loop_start'), 2)
            self.assertEqual(t.count('ev: loop_end'), 2)
            for line in t.splitlines()[4:]:
                self.assertRegex(line, r'^  - \{t: \d+, ev: [a-z_]+.*\}$')
            ins = lm('inspect', path)
            self.assertEqual(ins.returncode, 0, ins.stderr.decode())
            self.assertIn(b'2 loops', ins.stdout)


def norm(text):
    """What may differ between a C and a Python run of one scenario: error
    names (LM_EUSER / RuntimeError), the task group's label, the poll notes
    (CPython's loop polls at other moments) and fd numbers."""
    text = re.sub(r'failed [A-Za-z#0-9;_]+', 'failed ERR', text)
    # the C group is named "taskgroup" (the kind, so no label line); CPython's
    # TaskGroup gets its class name as its label
    text = text.replace('taskgroup<br/>TaskGroup<br/>', 'taskgroup<br/>')
    text = re.sub(r'fd \d+', 'fd N', text)
    return '\n'.join(l for l in text.splitlines() if 'Note over lp1: poll' not in l)


def renumber(text):
    """Mermaid node ids (t12, g3) renumbered in order of first appearance:
    for two renders whose traces number their tasks differently."""
    seen = {}

    def sub(m):
        k = m.group(0)
        if k not in seen:
            seen[k] = '%s%d' % (k[0], sum(1 for x in seen if x[0] == k[0]) + 1)
        return seen[k]
    return re.sub(r'\b[tg]\d+\b', sub, text)


@unittest.skipUnless(PY311, 'asyncio 3.12+ cancels wait_for differently from 3.11')
class SameAsC(unittest.TestCase):
    def render(self, name, view, *opts):
        """(C, Python) renders of one example, normalised (norm)."""
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, name + '.yaml')
            p = traced('python/examples/%s.py' % name, path)
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            py = lm('render', '--view', view, *opts, path)
            # The C examples name their sockets (lm_fd_label: "slow server");
            # asyncio has no such call, so those names are taken out of the
            # C trace before the two are compared. "new connection" is the
            # runtime's own word in both.
            with open('tests/data/examples/%s.yaml' % name, encoding='utf-8') as f:
                ctext = re.sub(r'(on: io, fd: \d+, dir: \w+), label: "(?!new connection")[^"]*"',
                               r'\1', f.read())
            cpath = os.path.join(d, name + '.c.yaml')
            with open(cpath, 'w', encoding='utf-8') as f:
                f.write(ctext)
            c = lm('render', '--view', view, *opts, cpath)
            self.assertEqual(py.returncode, 0, py.stderr.decode())
            self.assertEqual(c.returncode, 0, c.stderr.decode())
            return norm(c.stdout.decode()), norm(py.stdout.decode())

    def compare(self, name, view, *opts):
        c, py = self.render(name, view, *opts)
        self.assertEqual(c, py)

    def test_groups_tasks_view(self):
        # gather (in order, fail-fast, return_exceptions), wait (3 modes),
        # TaskGroup: the same tree, the same end states, the same causes,
        # the same groups. groups.c has one scenario more, the opt-in
        # non-asyncio gather that cancels the others ("not asyncio:
        # cancel_on_error" and its jobs): left out of both renders, and
        # the node ids (task and group numbers, shifted by its 4 tasks and
        # 1 group in C) renumbered in order of appearance.
        ex = ('--exclude', '^(not asyncio: cancel_on_error|cancel_on_error [ABC])$')
        c, py = self.render('groups', 'tasks', *ex)
        self.assertNotIn('cancel_on_error', c)
        self.assertIn('a sibling that failed', py)  # the task group's cause
        self.assertEqual(renumber(c), renumber(py))

    def test_timeout_tasks_view(self):
        # wait_for: the same tree, the slow task timed out by the deadline
        # (not a plain cancel), main done, the group's outcome.
        c, py = self.render('timeout', 'tasks', '--exclude', '^server')
        self.assertIn('timed out<br/>by the wait_for deadline', py)
        self.assertEqual(c, py)

    def test_timeout_sequence_view(self):
        # wait_for: the deadline cancels the slow task at its read; the
        # cleanup runs; then main gets the timeout. The mechanism differs,
        # so the Python render has two lines more: CPython 3.11's wait_for
        # is woken by its own timer and then cancels the member itself
        # (main resumes, cancels, awaits again), while the C runtime's
        # deadline is a loop callback that cancels the member, and main
        # wakes once, when the member has ended. Exactly that owner wake is
        # taken out of the Python render; everything else must agree.
        c, py = self.render('timeout', 'sequence', '--exclude', '^server')
        wake = ['    lp1->>p1: resume: deadline passed', '    p1-->>lp1: await wait_for']
        lines = py.splitlines()
        i = lines.index(wake[0])  # ValueError: the wake is not there any more
        self.assertEqual(lines[i + 2], wake[1], 'the owner re-awaits after its cancel')
        self.assertTrue(lines[i + 1].startswith('    p1-xp3: cancel: wait_for'), lines[i + 1])
        del lines[i + 2]
        del lines[i]
        self.assertEqual(c, '\n'.join(lines))


class Writer(unittest.TestCase):
    def test_plain(self):
        self.assertEqual(_writer.quote('abc'), '"abc"')
        self.assertEqual(_writer.quote('\u00e9\u6f22\U0001F600'), '"\u00e9\u6f22\U0001F600"')

    def test_escapes(self):
        q = _writer.quote
        self.assertEqual(q('a"b\\c\n\t\r'), r'"a\"b\\c\n\t\r"')
        self.assertEqual(q('\x00\x1f\x7f\x80\x85\x9f\xa0'), '"\\x00\\x1F\\x7F\\x80\\x85\\x9F\xa0"')
        self.assertEqual(q('\u2028\u2029\ufeff\ufffe\uffff\ufffd'),
                         '"\\u2028\\u2029\\uFEFF\\uFFFE\\uFFFF\ufffd"')

    def test_invalid_utf8(self):
        q = _writer.quote
        # maximal subparts: E2 82 (truncated) is one U+FFFD, FF is one
        self.assertEqual(q(os.fsdecode(b'a\xe2\x82b\xffc')), '"a\ufffdb\ufffdc"')
        # surrogate escapes that form valid UTF-8 are that character
        self.assertEqual(q(os.fsdecode(b'\xe2\x82\xac')), '"\u20ac"')
        self.assertEqual(q('\ud800'), '"\ufffd\ufffd\ufffd"')

    def test_cut(self):
        s = _writer.quote('\u00e9' * 40000)  # 80,000 bytes
        self.assertEqual(len(s[1:-1].encode()), 65534)  # cut on a boundary
        self.assertEqual(len(_writer.quote('x' * 70000)), 65535 + 2)


# Byte strings both writers are given: controls, quotes, C1, line breaks,
# invalid UTF-8 of every kind (truncated, overlong, surrogates, > U+10FFFF),
# and a string past the 65,535-byte cut with a 2-byte character across it.
WRITER_CASES = [
    b'plain', b'q"uo\\te\n\t\r', bytes(range(1, 32)) + b'\x7f',
    '\x80\x85\x9f\xa0\u2028\u2029\ufeff\ufffe\uffff\U0001F600'.encode(),
    b'\xff\xfe\xe2\x82 \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xf0\x9f\x98 \xe2\x82\xac',
    b'\x80\xbf\xc2 \xe0\x80\xaf \xf8\x88\x80\x80\x80',
    b'x' * 65534 + '\u00e9'.encode() + b'tail',
]


class SameBytesAsC(unittest.TestCase):
    """quote() against the C writer itself: a C program notes the same bytes
    with lm_note, and the two traces' note lines must be identical."""

    def test_notes(self):
        lib = os.path.join(os.path.dirname(LOOPMAID), 'libloopmaid.a')
        if not os.path.exists(lib):
            self.skipTest('no %s' % lib)
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, 'notes.c')
            lits = ',\n'.join('"%s"' % ''.join('\\x%02x' % c for c in b)
                               if len(b) < 200 else
                               None for b in WRITER_CASES[:-1])
            with open(src, 'w') as f:
                f.write('#include "loopmaid.h"\n#include <string.h>\n#include <stdlib.h>\n'
                        'static const char *cases[] = {\n%s\n};\n'
                        'static int task(void *a) { (void)a;\n'
                        '  for (unsigned i = 0; i < sizeof cases / sizeof *cases; i++) lm_note(cases[i]);\n'
                        '  char *big = malloc(65541); memset(big, \'x\', 65534);\n'
                        '  memcpy(big + 65534, "\\xc3\\xa9tail", 7); lm_note(big); free(big);\n'
                        '  return 0; }\n'
                        'int main(void) { return lm_run("main", task, NULL); }\n' % lits)
            exe = os.path.join(d, 'notes')
            libs = subprocess.run(['pkg-config', '--libs', 'yaml-0.1', 'libpcre2-8'],
                                  capture_output=True, text=True).stdout.split() or \
                ['-lyaml', '-lpcre2-8']
            # The library may be a sanitizer build (make asan): link as it was built.
            san = os.environ.get('LOOPMAID_SANFLAGS', '').split()
            r = subprocess.run(['cc', '-std=c11'] + san + ['-I', os.path.join(TOP, 'tracer'), src, lib,
                                '-o', exe] + libs + ['-lpthread', '-lm'], capture_output=True)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            ctrace = os.path.join(d, 'c.yaml')
            e = dict(os.environ, LOOPMAID_TRACE=ctrace, LOOPMAID_CLOCK='virtual')
            self.assertEqual(subprocess.run([exe], env=e).returncode, 0)
            c_notes = [l.split(b'text: ', 1)[1] for l in read(ctrace).splitlines()
                       if b'ev: note' in l]
            py_notes = [('%s}' % _writer.quote(b.decode('utf-8', 'surrogateescape'))).encode()
                        for b in WRITER_CASES]
            self.assertEqual(len(c_notes), len(WRITER_CASES))
            for i, (c, p) in enumerate(zip(c_notes, py_notes)):
                self.assertEqual(c, p, 'case %d' % i)


class Api(unittest.TestCase):
    def test_record_and_runner(self):
        async def main():
            loopmaid_asyncio.note('from main')
            await asyncio.sleep(0.001)
        with tempfile.TemporaryDirectory() as d:
            p1 = os.path.join(d, 'a.yaml')
            with loopmaid_asyncio.record(p1, clock='virtual', program='api'):
                asyncio.run(main())
            t = read(p1).decode()
            self.assertTrue(t.startswith('loopmaid: 1\nprogram: "api"\nclock: virtual\n'))
            self.assertIn('text: "from main"', t)
            self.assertTrue(t.endswith('ev: loop_end, loop: 1}\n'))
            p2 = os.path.join(d, 'b.yaml')
            with loopmaid_asyncio.Session(p2, 'virtual', 'runner') as s:
                with asyncio.Runner(loop_factory=s.loop_factory) as r:
                    r.run(main())
            names = lambda b: re.sub(rb'Task-\d+', b'Task-N', b.replace(b'"runner"', b'"api"'))
            self.assertEqual(names(read(p2)), names(read(p1)))
            self.assertEqual(lm('inspect', p2).returncode, 0)
        self.assertIsNone(loopmaid_asyncio.note('no loop: nothing happens'))

    def test_bad_clock(self):
        with self.assertRaises(ValueError):
            loopmaid_asyncio.Session(os.devnull, 'wall')

    def test_cli_usage(self):
        p = run([sys.executable, '-m', 'loopmaid_asyncio'])
        self.assertEqual(p.returncode, 2)
        self.assertIn(b'no script given', p.stderr)
        p = run([sys.executable, '-m', 'loopmaid_asyncio', '--clock', 'wall', 'x.py'])
        self.assertEqual(p.returncode, 2)


class Install(unittest.TestCase):
    def test_pip_install_offline(self):
        with tempfile.TemporaryDirectory() as d:
            venv = os.path.join(d, 'venv')
            r = subprocess.run([sys.executable, '-m', 'venv', venv], capture_output=True)
            if r.returncode != 0:
                self.skipTest('no venv module: %s' % r.stderr.decode()[-200:])
            py = os.path.join(venv, 'bin', 'python')
            r = subprocess.run([py, '-m', 'pip', 'install', '--no-index', '--no-build-isolation',
                                '--no-deps', '--disable-pip-version-check', PYDIR],
                               capture_output=True, cwd=d, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr.decode()[-2000:])
            out = os.path.join(d, 't.yaml')
            r = subprocess.run([py, '-m', 'loopmaid_asyncio', '--clock', 'virtual', '-o', out,
                                os.path.join(TOP, 'python/tests/scenarios/multiloop.py')],
                               capture_output=True, cwd=d)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            self.assertEqual(read(out), read(os.path.join(GOLDEN, 'multiloop.yaml'))
                             if PY311 else read(out))


if __name__ == '__main__':
    unittest.main()

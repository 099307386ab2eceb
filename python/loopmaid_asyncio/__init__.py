"""loopmaid_asyncio: record what a CPython asyncio program really did, as a
loopmaid trace (format v1, docs/trace-format.md), for `loopmaid render`.

Run an unmodified program:

    python3 -m loopmaid_asyncio [-o TRACE] [--clock virtual] script.py ARGS...

or choose in code what is recorded:

    import asyncio, loopmaid_asyncio

    with loopmaid_asyncio.record("trace.yaml", clock="virtual"):
        asyncio.run(main())          # every loop made inside is recorded

    # or one loop, with asyncio.Runner / asyncio.run(loop_factory=...) (3.12+):
    with loopmaid_asyncio.Session("trace.yaml") as s:
        with asyncio.Runner(loop_factory=s.loop_factory) as runner:
            runner.run(main())

    loopmaid_asyncio.note("text")    # a note from the running task (or the loop)

Standard library only; CPython 3.11, 3.12 and 3.13.
"""

import asyncio
import atexit
import os
import sys
import threading
import weakref

from ._writer import TraceFile
from ._loop import TracedLoop, Task as TracedTask

__all__ = ['record', 'Session', 'TracedLoop', 'TracedTask', 'note', 'new_event_loop']
__version__ = '0.1.0'

_sessions = weakref.WeakSet()
_lock = threading.Lock()


class Session:
    """One trace file and the loops recording into it (numbered 1, 2, ... in
    the order they are made, as loopmaid's LOOPMAID_TRACE does)."""

    def __init__(self, path, clock='monotonic', program=None):
        if clock not in ('virtual', 'monotonic'):
            raise ValueError("clock must be 'virtual' or 'monotonic', not %r" % (clock,))
        if program is None:
            program = _default_program()
        self.path = path
        self.virtual = clock == 'virtual'
        self.file = TraceFile(path, program, clock)
        self.recorders = []
        self.closed = False
        self._policy_saved = None
        with _lock:
            _sessions.add(self)

    def attach(self, recorder):
        self.recorders.append(weakref.ref(recorder))

    def loop_factory(self):
        """A new event loop recording into this session."""
        return TracedLoop(self)

    new_event_loop = loop_factory

    def install(self):
        """Make asyncio.run(), asyncio.new_event_loop() ... use traced loops."""
        self._policy_saved = asyncio.get_event_loop_policy()
        asyncio.set_event_loop_policy(_Policy(self))
        return self

    def close(self):
        """Writes what is pending (a loop still open ends here, with
        loop_end) and closes the file. Called at exit too."""
        if self.closed:
            return
        self.closed = True
        if self._policy_saved is not None:
            asyncio.set_event_loop_policy(self._policy_saved)
            self._policy_saved = None
        for ref in self.recorders:
            r = ref()
            if r is not None and not r.ended:
                r.loop_end()
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Policy(asyncio.DefaultEventLoopPolicy):
    def __init__(self, session):
        super().__init__()
        self._session = session

    def new_event_loop(self):
        return TracedLoop(self._session)


class record:
    """Context manager: every event loop made inside is recorded to path."""

    def __init__(self, path, clock='monotonic', program=None):
        self.session = Session(path, clock, program)

    def __enter__(self):
        self.session.install()
        return self.session

    def __exit__(self, *exc):
        self.session.close()


def new_event_loop(path, clock='monotonic', program=None):
    """A traced loop with a session of its own (closed with the process)."""
    return Session(path, clock, program).loop_factory()


def note(text):
    """A note in the trace of the running loop, from the running task (task
    0, "about the loop", outside any task). Does nothing untraced."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    r = getattr(loop, '_lm', None)
    if r is None:
        return
    if threading.get_ident() != r.thread:
        return
    r.note(text)


def _default_program():
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else 'python'
    base = os.path.basename(argv0)
    if base.endswith('.py'):
        base = base[:-3]
    return base or 'python'


@atexit.register
def _close_all():
    with _lock:
        sessions = list(_sessions)
    for s in sessions:
        try:
            s.close()
        except Exception:
            pass

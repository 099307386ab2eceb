"""_loop.py: the traced event loop, its tasks and its selector.

TracedLoop is asyncio's own selector event loop (a subclass) with the public
methods through which everything flows watched, and nothing else changed:

  create_task     makes a Task (an asyncio.Task subclass) whose
                  coroutine is wrapped in _TracedCoro, which sees every step:
                  pending -> running, and after the step what it yielded
                  (the future it now awaits) or how it ended.
  call_soon       a task's wake-up callback being scheduled is the moment it
                  leaves `awaiting` (asyncio schedules it from set_result,
                  cancel(), ...). The program's own callbacks get a `call`.
  call_at         timers: which task's sleep or deadline, or a plain callback.
  the selector    wrapped: one select() per iteration is the `poll`, and the
                  start of the next iteration ends the `tick`.
  time()          the virtual clock, when asked for.
  cancel()        Task.cancel: the `cancel` event with its cause.

The recorder must never change what the program does: the wrappers pass
every argument and result through, remove their own frame from tracebacks,
and keep no reference that would keep a task or future alive longer.
"""

import asyncio
import collections
import collections.abc
import functools
import selectors
import sys
import threading
import time
import weakref

from . import _classify as C
from . import _record as R

_getframe = sys._getframe


# ---- the wrapped coroutine ----------------------------------------------------


class _TracedCoro:
    """A task's coroutine, stepped through the recorder. Attributes that
    introspection uses (cr_frame, cr_code, __qualname__, ...) are the inner
    coroutine's, so repr(task), task.get_stack() and tracebacks look the
    same."""

    __slots__ = ('_lm_inner', '_lm_r', '_lm_t', '__weakref__')

    def __init__(self, inner, recorder, rec):
        self._lm_inner = inner
        self._lm_r = recorder
        self._lm_t = rec

    def send(self, value):
        r = self._lm_r
        rec = self._lm_t
        r.step_begin(rec, rec.task_ref)
        try:
            y = self._lm_inner.send(value)
        except BaseException as e:
            _strip(e)
            r.step_exc(rec, e)
            raise
        r.step_yield(rec, self._lm_inner, y)
        return y

    def throw(self, *args):
        r = self._lm_r
        rec = self._lm_t
        if not rec.started and args and _is_cancel(args[0]):
            # Cancelled before its body ever ran: it never starts.
            try:
                self._lm_inner.throw(*args)
            except BaseException as e:
                _strip(e)
                if isinstance(e, asyncio.CancelledError):
                    r.never_ran(rec)
                    raise
                r.step_begin(rec, rec.task_ref)
                r.step_exc(rec, e)
                raise
            # A coroutine that catches a throw before it started cannot
            # exist; fall through as a normal step if it ever does.
        r.step_begin(rec, rec.task_ref)
        try:
            y = self._lm_inner.throw(*args)
        except BaseException as e:
            _strip(e)
            r.step_exc(rec, e)
            raise
        r.step_yield(rec, self._lm_inner, y)
        return y

    def close(self):
        return self._lm_inner.close()

    def __await__(self):
        return self._lm_inner.__await__()

    def __getattr__(self, name):
        return getattr(self._lm_inner, name)

    def __repr__(self):
        return repr(self._lm_inner)


collections.abc.Coroutine.register(_TracedCoro)
_SEND_CODES = (_TracedCoro.send.__code__, _TracedCoro.throw.__code__)


def _is_cancel(x):
    return isinstance(x, asyncio.CancelledError) or (
        isinstance(x, type) and issubclass(x, asyncio.CancelledError))


def _strip(e):
    """Drops the wrapper's own frame from e's traceback, so what the
    program prints is what it would print untraced."""
    tb = e.__traceback__
    if tb is not None and tb.tb_frame.f_code in _ALL_WRAPPER_CODES:
        e.__traceback__ = tb.tb_next


# ---- tasks ----------------------------------------------------------------------


class Task(asyncio.Task):
    """asyncio.Task plus its record: cancel() and set_name() are watched.
    Called Task, like its base, because repr(task) shows the class name."""

    def __init__(self, coro, *, lm_rec=None, lm_recorder=None, **kwargs):
        # Set before the base class runs: it registers the task (hashing
        # it) and, with eager_start (3.12+), may already step it.
        self._lm_rec = lm_rec
        self._lm_r = lm_recorder
        super().__init__(coro, **kwargs)

    def cancel(self, *args, **kwargs):
        rec = self._lm_rec
        r = self._lm_r
        if rec is None or r is None or self.done() or r.ended or \
                threading.get_ident() != r.thread:
            return super().cancel(*args, **kwargs)
        reason, by = r.cancel_cause(rec)
        if rec.spawned:
            r.emit('cancel', ', task: %d, reason: %s%s'
                   % (rec.id, reason, ', by_task: %d' % by if by else ''))
        if not rec.cancel_reason:
            rec.cancel_by = by
            rec.cancel_reason = reason
        r.cancels.append((rec, reason, by))
        rec.in_cancel += 1
        try:
            return super().cancel(*args, **kwargs)
        finally:
            rec.in_cancel -= 1
            r.cancels.pop()

    def set_name(self, value):
        super().set_name(value)
        rec = self._lm_rec
        if rec is not None and self._lm_r is not None and \
                threading.get_ident() == self._lm_r.thread:
            self._lm_r.rename(rec, self.get_name())


class _VirtualTask(Task):
    """Under the virtual clock a task hashes by its creation number, so a
    set of tasks (a TaskGroup's, asyncio.wait's) iterates in the same order
    on every run, as the same trace byte for byte needs. Any order is one
    asyncio may have; this one does not depend on memory addresses."""

    def __hash__(self):
        return self._lm_rec.id


Task._lm_rec = None
Task._lm_r = None
R._TASK_CANCEL_CODE = Task.cancel.__code__
R._foreign = weakref.WeakKeyDictionary()


# ---- callbacks ------------------------------------------------------------------


class _Wrapped:
    """A callback run through the recorder (a timer, or one of the program's
    own callbacks). Looks like the callback to asyncio's repr and
    traceback formatting (__qualname__, __wrapped__)."""

    __slots__ = ('_lm_cb', '_lm_r', '_lm_kind', '_lm_rec', '_lm_label', '__weakref__')

    def __init__(self, cb, r, kind, rec, label):
        self._lm_cb = cb
        self._lm_r = r
        self._lm_kind = kind
        self._lm_rec = rec
        self._lm_label = label

    def __call__(self, *args):
        r = self._lm_r
        kind = self._lm_kind
        if r.ended:
            return self._lm_cb(*args)
        prev = r.firing
        if kind != 'call' and kind != 'soon' and self._lm_rec is None:
            # A sleep or deadline of asyncio's own housekeeping tasks.
            return self._lm_cb(*args)
        if kind != 'soon':
            r.ntimers += 1
            rec = self._lm_rec
            if kind == 'call' or rec is None:
                r.emit('timer', ', task: 0')
                r.emit('call', ', label: %s' % R.quote(self._lm_label))
            else:
                r.emit('timer', ', task: %d' % rec.id)
                if kind == 'deadline' and rec.group is not None:
                    rec.group.timed_out = True
                r.firing = (kind, rec)
        else:
            r.emit('call', ', label: %s' % R.quote(self._lm_label))
        try:
            return self._lm_cb(*args)
        except BaseException as e:
            _strip(e)
            raise
        finally:
            r.firing = prev

    @property
    def __wrapped__(self):
        return self._lm_cb

    def __getattr__(self, name):
        return getattr(self._lm_cb, name)

    def __repr__(self):
        return repr(self._lm_cb)


_ALL_WRAPPER_CODES = frozenset(_SEND_CODES + (_Wrapped.__call__.__code__,))


def _is_program_callback(cb):
    # A partial is left alone: asyncio formats one specially in its error
    # messages, which a wrapper would change.
    if isinstance(cb, functools.partial):
        return False
    mod = getattr(cb, '__module__', None)
    if not isinstance(mod, str):
        return False
    return not (mod == 'asyncio' or mod.startswith('asyncio.') or
                mod.startswith('loopmaid_asyncio') or mod.startswith('concurrent.'))


class _Ready(collections.deque):
    """The loop's ready queue, counting the handles it hands out to run
    (the tick's `ran`)."""

    def __init__(self, *a):
        super().__init__(*a)
        self.ran = 0

    def popleft(self):
        h = super().popleft()
        if not h.cancelled():
            self.ran += 1
        return h


# ---- the selector -----------------------------------------------------------------


class _Selector(selectors.BaseSelector):
    """The loop's selector, passed through; select() is the poll."""

    def __init__(self, inner, loop):
        self._inner = inner
        self._loop_ref = weakref.ref(loop)

    def register(self, fileobj, events, data=None):
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj):
        return self._inner.unregister(fileobj)

    def modify(self, fileobj, events, data=None):
        return self._inner.modify(fileobj, events, data)

    def get_key(self, fileobj):
        return self._inner.get_key(fileobj)

    def get_map(self):
        return self._inner.get_map()

    def close(self):
        return self._inner.close()

    def select(self, timeout=None):
        loop = self._loop_ref()
        r = loop._lm if loop is not None else None
        if r is None or r.ended:
            return self._inner.select(timeout)
        r.begin_tick()
        if not r.virtual:
            t0 = time.monotonic_ns()
            ev = self._inner.select(timeout)
            waited = time.monotonic_ns() - t0
            r.poll(-1 if timeout is None else max(0, round(timeout * 1e9)), waited, len(ev))
            return ev
        return loop._lm_virtual_select(self._inner, timeout)


# ---- the loop ------------------------------------------------------------------------


class TracedLoop(asyncio.SelectorEventLoop):
    """An asyncio selector event loop that records itself."""

    def __init__(self, session=None, name='loop', selector=None):
        inner = selector if selector is not None else selectors.DefaultSelector()
        self._lm = None
        self._lm_deferred = {}
        self._lm_outstanding = []
        self._lm_submitting = False  # run_in_executor is submitting a job
        self._lm_handover = None     # the executor shutdown thread's, deferred
        self._lm_cond = threading.Condition()
        super().__init__(selector=_Selector(inner, self))
        if session is None:
            return
        r = R.LoopRecorder(session.file, session.virtual, name)
        if isinstance(self._ready, collections.deque) and not self._ready:
            self._ready = _Ready()
            r.ready = self._ready
        self._lm = r
        session.attach(r)

    # -- time

    def time(self):
        r = self._lm
        if r is not None and r.virtual:
            return r.vt / 1e9
        return super().time()

    def _lm_virtual_select(self, inner, timeout):
        """The poll under the virtual clock. What other threads hand over
        (executor results, the default executor's shutdown) is deferred by
        call_soon_threadsafe and delivered here, at a point of the loop's
        own choosing, never when the thread happens to finish: so the
        trace is the same whatever the threads' timing."""
        r = self._lm
        if timeout is None and not self._lm_outstanding and not r.thread_waits:
            ev = inner.select(None)  # only I/O or another thread can help now
            r.poll(-1, 0, len(ev))
            return ev
        if r.thread_waits and timeout != 0 and not self._lm_outstanding:
            # Idle, and housekeeping waits for a thread (the executor's
            # shutdown): wait for its handover in real time (bounded by
            # the timeout); time does not move.
            ev = self._lm_await_handover(inner, timeout)
            r.poll(0 if timeout is not None else -1, 0, len(ev))
            if not ev and timeout is not None and timeout > 0:
                r.vt += max(1, round(timeout * 1e9))  # it never came
            return ev
        ev = inner.select(0)
        r.poll(0, 0, len(ev))
        if ev or timeout == 0:
            return ev
        if self._lm_outstanding:
            self._lm_collect_all()
        elif timeout is not None and timeout > 0:
            # The jump: nothing else can happen before the next timer.
            r.vt += max(1, round(timeout * 1e9))
        return ev

    def _lm_await_handover(self, inner, timeout):
        """Wait (real time, up to timeout; None: for ever) for the deferred
        handover of the executor's shutdown thread, then schedule it the
        way that thread would have (ready queue and self-pipe) and return
        what the selector now sees. The program's own I/O or threads may
        still wake the loop first: then the handover waits for the next
        idle poll."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lm_cond:
            while self._lm_handover is None:
                ev = inner.select(0)
                if ev:
                    return ev
                left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
                if left <= 0:
                    return ev
                self._lm_cond.wait(left)
            cb, args, ctx = self._lm_handover
            self._lm_handover = None
        super().call_soon_threadsafe(cb, *args, context=ctx)
        return inner.select(0)

    def _lm_collect_all(self):
        """Virtual clock, idle, executor work outstanding: wait (real time)
        until every job has finished, then deliver them in submission
        order, whatever order the threads finished in."""
        with self._lm_cond:
            while True:
                # A future done some other way (cancelled) has nothing to deliver.
                self._lm_outstanding = [f for f in self._lm_outstanding
                                        if id(f) in self._lm_deferred or not f.done()]
                if all(id(f) in self._lm_deferred for f in self._lm_outstanding):
                    break
                self._lm_cond.wait(0.05)
            order = [self._lm_deferred.pop(id(f)) for f in self._lm_outstanding]
            self._lm_outstanding = []
        for cb, args, ctx in order:
            super().call_soon(cb, *args, context=ctx)

    # -- tasks

    def create_task(self, coro, *, name=None, context=None, **kwargs):
        r = self._lm
        code = getattr(coro, 'cr_code', None)
        if r is not None and code is C.SHUTDOWN_EXECUTOR and not r.ended:
            # It waits for a thread joining the executor: the virtual clock
            # must wait for that in real time, not jump past its timeout.
            task = super().create_task(coro, name=name, context=context, **kwargs)
            r.thread_waits += 1
            task.add_done_callback(r.thread_wait_over)
            return task
        if r is None or r.ended or code in C.HIDDEN or \
                threading.get_ident() != r.thread or \
                not asyncio.iscoroutine(coro):
            return super().create_task(coro, name=name, context=context, **kwargs)
        parent = r.running.id if r.running is not None else 0
        if name is None:
            # asyncio.create_task and TaskGroup.create_task (3.11, 3.12) name
            # the task only after making it: take the name they were given.
            f = _getframe(1)
            if f.f_code is C.CREATE_TASK or f.f_code is C.TG_CREATE_TASK:
                n = f.f_locals.get('name')
                if n is not None:
                    name = str(n)
        rec = r.new_task(parent)
        wrapped = _TracedCoro(coro, r, rec)
        tg = self._lm_taskgroup()
        factory = self.get_task_factory()
        if factory is None:
            cls = _VirtualTask if r.virtual else Task
            task = cls(wrapped, loop=self, name=name, context=context, lm_rec=rec,
                       lm_recorder=r, **kwargs)
        else:
            kw = dict(kwargs)
            if context is not None:
                kw['context'] = context
            eager = 'create_eager_task_factory' in getattr(factory, '__qualname__', '')
            if eager and name is not None:
                kw['name'] = name  # it may step the task at once: name it first
            task = factory(self, wrapped, **kw)
            if name is not None and not eager:
                task.set_name(name)
            if isinstance(task, Task):
                task._lm_rec = rec
                task._lm_r = r
            else:
                R._foreign[task] = rec
        rec.task_ref = _TaskRef(task)
        if not rec.spawned:
            r.spawn(rec, task.get_name())
        if tg is not None:
            kids = r.tg_children.get(id(tg))
            if kids is None:
                kids = r.tg_children[id(tg)] = []
                weakref.finalize(tg, r.tg_children.pop, id(tg), None)
            kids.append(rec)
        return task

    @staticmethod
    def _lm_taskgroup():
        """The TaskGroup whose create_task is calling us, if any."""
        if C.TG_CREATE_TASK is None:
            return None
        f = _getframe(2)
        for _ in range(2):
            if f is None:
                return None
            if f.f_code is C.TG_CREATE_TASK:
                return f.f_locals.get('self')
            f = f.f_back
        return None

    # -- callbacks

    def call_soon(self, callback, *args, context=None):
        r = self._lm
        if r is not None and not r.ended and threading.get_ident() == r.thread:
            owner = getattr(callback, '__self__', None)
            if owner is not None and isinstance(owner, asyncio.Future):
                name = getattr(callback, '__name__', '')
                if name == 'task_wakeup' or name == '__wakeup':
                    rec = R.task_rec(owner)
                    if rec is not None:
                        r.wake(rec, args[0] if args else None, _getframe(1))
                    return super().call_soon(callback, *args, context=context)
                if type(callback).__name__ == 'TaskStepMethWrapper' or name == '__step':
                    return super().call_soon(callback, *args, context=context)
            if _is_program_callback(callback):
                callback = _Wrapped(callback, r, 'soon', None, R.callback_label(callback))
        return super().call_soon(callback, *args, context=context)

    def call_at(self, when, callback, *args, context=None):
        r = self._lm
        if r is not None and not r.ended and threading.get_ident() == r.thread:
            kind, rec, label = r.timer_kind(callback)
            if not (kind == 'call' and isinstance(callback, functools.partial)):
                callback = _Wrapped(callback, r, kind, rec, label)
        return super().call_at(when, callback, *args, context=context)

    def call_soon_threadsafe(self, callback, *args, context=None):
        r = self._lm
        if r is not None and r.virtual and args and \
                getattr(callback, '__qualname__', '') == '_chain_future.<locals>._set_state':
            dest = args[0]
            with self._lm_cond:
                # A job already done when run_in_executor chains its future
                # hands over at once, from the loop's own thread, before
                # its future is listed: deferred all the same.
                if (self._lm_submitting and threading.get_ident() == r.thread) or \
                        any(f is dest for f in self._lm_outstanding):
                    self._check_closed()
                    self._lm_deferred[id(dest)] = (callback, args, context)
                    self._lm_cond.notify_all()
                    return asyncio.Handle(callback, args, self, context)
        elif r is not None and r.virtual and not r.ended and r.thread_waits and \
                _getframe(1).f_code is C.DO_SHUTDOWN:
            # The executor's shutdown thread is done: held until the loop
            # is idle (_lm_await_handover), not whenever the thread ends.
            with self._lm_cond:
                self._check_closed()
                self._lm_handover = (callback, args, context)
                self._lm_cond.notify_all()
            return asyncio.Handle(callback, args, self, context)
        return super().call_soon_threadsafe(callback, *args, context=context)

    def run_in_executor(self, executor, func, *args):
        r = self._lm
        if r is None or r.ended or not r.virtual:
            fut = super().run_in_executor(executor, func, *args)
            if r is not None and not r.ended:
                r.thread_futs.add(fut)
            return fut
        # Held while submitting, so that a job finishing at once finds its
        # future listed when it hands its result over.
        with self._lm_cond:
            self._lm_submitting = True
            try:
                fut = super().run_in_executor(executor, func, *args)
            finally:
                self._lm_submitting = False
            r.thread_futs.add(fut)
            self._lm_outstanding.append(fut)
        return fut

    # -- running and closing

    def run_forever(self):
        r = self._lm
        if r is not None and not r.ended:
            r.thread = threading.get_ident()
            r.loop_start()
        try:
            return super().run_forever()
        finally:
            if r is not None and not r.ended:
                r.end_tick()
                r.flush(force=True)

    def close(self):
        r = self._lm
        try:
            super().close()
        finally:
            if r is not None and not self.is_running():
                r.loop_end()


class _TaskRef:
    """A weak reference to a task that answers get_name() while it lives."""

    __slots__ = ('_ref',)

    def __init__(self, task):
        self._ref = weakref.ref(task)

    def get_name(self):
        t = self._ref()
        return t.get_name() if t is not None else 'Task'

"""_record.py: one loop's recorder: task records, groups, the event lines.

The loop (_loop.py) calls in at the few points where asyncio tells it what
happens: a task is created, its coroutine is stepped (send/throw through
_TracedCoro), a callback is scheduled (call_soon: a task's wake-up), a timer
fires, cancel() is called, the selector is polled. Everything here runs on
the loop's thread; events are formatted at once into lines (the same bytes
as tracer/trace_fmt.c) and handed to the TraceFile in batches.
"""

import asyncio
import sys
import threading
import time
import weakref

from . import _classify as C
from ._writer import quote

_CancelledError = asyncio.CancelledError
_getframe = sys._getframe
_monotonic_ns = time.monotonic_ns


class TaskRec:
    """What the recorder knows about one task."""

    __slots__ = ('id', 'state', 'parent', 'started', 'spawned', 'name',
                 'on', 'fd', 'dir', 'fut', 'group', 'awaits_task',
                 'cancel_by', 'in_cancel', 'cancel_reason', 'mark', 'mark_batch',
                 'eager_of', 'end', 'task_ref', '__weakref__')

    def __init__(self, tid, parent):
        self.id = tid
        self.state = 'created'
        self.parent = parent
        self.started = False     # its coroutine has been stepped once
        self.spawned = False     # its spawn event is written
        self.name = None
        self.on = None           # what it awaits (an `on` token)
        self.fd = -1
        self.dir = None
        self.fut = None          # the leaf future it awaits
        self.group = None        # the GroupRec of its current group await
        self.awaits_task = 0
        self.cancel_by = 0       # who asked for its cancellation (task id)
        self.cancel_reason = None
        self.in_cancel = 0       # inside its own cancel() call
        self.mark = -1           # index of its pending->running line
        self.mark_batch = -1
        self.eager_of = None     # the task it interrupted by starting eagerly
        self.end = None          # how it ended: 'done', 'failed', 'cancelled'
        self.task_ref = None


class GroupRec:
    __slots__ = ('id', 'kind', 'owner', 'anchor', 'members', 'label',
                 'timed_out', 'cancelled', 'last_member', 'mode', 'timeout')

    def __init__(self, gid, kind, owner, anchor):
        self.id = gid
        self.kind = kind
        self.owner = owner
        self.anchor = anchor
        self.members = []       # TaskRec
        self.label = None
        self.timed_out = False  # its own deadline fired
        self.cancelled = False  # its owner was woken by a cancellation
        self.last_member = 0
        self.mode = None
        self.timeout = None


class LoopRecorder:
    """The trace of one event loop."""

    def __init__(self, tfile, virtual, name='loop'):
        self.tf = tfile
        self.loopno = tfile.attach()
        self.virtual = virtual
        self.name = name
        self.lines = []
        self.lock = threading.Lock()  # only for notes from other threads
        self.thread = threading.get_ident()
        self.next_task = 1
        self.next_group = 1
        self.started = False
        self.ended = False
        self.t0 = None
        self.vt = 0                 # virtual time, ns
        self.tick_n = 0
        self.in_iter = False
        self.ran = 0
        self.nio = 0
        self.ntimers = 0
        self.ready = None           # the loop's counting ready deque
        self.running = None         # TaskRec of the task being stepped
        self.firing = None          # (kind, TaskRec) of the timer running now
        self.cancels = []           # (TaskRec, reason, by) of cancel() calls in progress
        self.groups = {}            # id(anchor) -> GroupRec
        self.last_write = time.monotonic()
        self.thread_futs = weakref.WeakSet()  # run_in_executor results
        self.tg_children = {}       # id(TaskGroup) -> [TaskRec]
        self.thread_waits = 0       # housekeeping tasks waiting for a thread
        self.batch = 0              # flushes so far (a line index is per batch)
        self._loopkey = '' if self.loopno == 1 else ', loop: %d' % self.loopno

    # ---- time and lines ------------------------------------------------

    def now(self):
        if self.virtual:
            return self.vt
        if self.t0 is None:
            return 0
        return time.monotonic_ns() - self.t0

    def emit(self, kind, body=''):
        # The hot path: one line per event, formatted at once.
        if self.ended:
            return
        if self.virtual:
            t = self.vt
        else:
            t = 0 if self.t0 is None else _monotonic_ns() - self.t0
        lines = self.lines
        lines.append('  - {t: %d, ev: %s%s%s}\n' % (t, kind, self._loopkey, body))
        if len(lines) >= 8192:
            self.flush(force=True)  # a huge tick must not pile up in memory

    def insert(self, index, kind, body):
        """A line placed earlier in the batch (group_end, where the owner
        resumed: known only once its step is over)."""
        if 0 <= index <= len(self.lines):
            line = self.lines[index - 1] if index > 0 else None
            t = self.now()
            if line is not None:
                try:
                    t = int(line[line.index('t: ') + 3:line.index(',')])
                except ValueError:
                    pass
            self.lines.insert(index, '  - {t: %d, ev: %s%s%s}\n' % (
                t, kind, self._loopkey, body))
        else:
            self.emit(kind, body)

    def flush(self, force=False):
        if self.lines and (force or len(self.lines) >= 1024 or
                           time.monotonic() - self.last_write >= 0.1):
            lines, self.lines = self.lines, []
            self.batch += 1
            self.tf.write_lines(lines)
            self.last_write = time.monotonic()

    # ---- the loop --------------------------------------------------------

    def loop_start(self):
        if self.started:
            return
        self.started = True
        self.t0 = time.monotonic_ns()
        self.lines.append('  - {t: 0, ev: loop_start, loop: %d, name: %s}\n'
                          % (self.loopno, quote(self.name)))

    def loop_end(self):
        if self.ended:
            return
        self.end_tick()
        if not self.started:
            self.loop_start()
        self.lines.append('  - {t: %d, ev: loop_end, loop: %d}\n'
                          % (self.now(), self.loopno))
        self.ended = True
        self.flush(force=True)

    def end_tick(self):
        if not self.in_iter:
            return
        self.in_iter = False
        self.tick_n += 1
        ran = self.ready.ran if self.ready is not None else self.ran
        self.emit('tick', ', n: %d, ran: %d, io: %d, timers: %d'
                  % (self.tick_n, ran, self.nio, self.ntimers))
        self.flush()

    def begin_tick(self):
        self.end_tick()
        self.in_iter = True
        self.nio = self.ntimers = self.ran = 0
        if self.ready is not None:
            self.ready.ran = 0

    def thread_wait_over(self, _task):
        self.thread_waits -= 1

    def poll(self, timeout_ns, waited, ready):
        self.emit('poll', ', timeout: %d, waited: %d, ready: %d'
                  % (timeout_ns, waited, ready))

    # ---- tasks -----------------------------------------------------------

    def new_task(self, parent):
        rec = TaskRec(self.next_task, parent)
        self.next_task += 1
        return rec

    def spawn(self, rec, name):
        if rec.spawned:
            return
        rec.spawned = True
        rec.name = name
        self.emit('spawn', ', task: %d, name: %s, parent: %d'
                  % (rec.id, quote(name), rec.parent))
        self.set_state(rec, 'pending', ', by: spawn%s'
                       % (', by_task: %d' % rec.parent if rec.parent else ''))

    def set_state(self, rec, to, extra=''):
        if not self.ended:
            if self.virtual:
                t = self.vt
            else:
                t = 0 if self.t0 is None else _monotonic_ns() - self.t0
            lines = self.lines
            lines.append('  - {t: %d, ev: state%s, task: %d, from: %s, to: %s%s}\n'
                         % (t, self._loopkey, rec.id, rec.state, to, extra))
            if len(lines) >= 8192:
                self.flush(force=True)
        rec.state = to

    def rename(self, rec, name):
        if rec.spawned and name != rec.name:
            rec.name = name
            self.emit('name', ', task: %d, name: %s' % (rec.id, quote(name)))

    def note(self, text):
        rec = self.running
        self.emit('note', ', task: %d, text: %s' % (rec.id if rec else 0, quote(text)))

    # ---- steps -----------------------------------------------------------

    def step_begin(self, rec, task):
        if not rec.spawned:
            if task is None:  # an eager first step inside another factory's Task()
                try:
                    task = asyncio.current_task()
                except RuntimeError:
                    task = None
            self.spawn(rec, task.get_name() if task is not None else 'Task')
        other = self.running
        if other is not None and other is not rec and other.state == 'running':
            # 3.12+ eager start: rec's first step runs inside create_task
            # while `other` waits for it; one task runs at a time.
            self.set_state(other, 'awaiting', ', on: task, awaits: %d, label: "eager start"'
                           % rec.id)
            other.on = 'task'
            rec.eager_of = other
        if rec.state == 'awaiting':
            self.set_state(rec, 'pending')  # woken by something not seen
        elif rec.state == 'created':
            self.set_state(rec, 'pending', ', by: spawn')
        self.set_state(rec, 'running')
        rec.mark = len(self.lines)
        rec.mark_batch = self.batch
        rec.started = True
        self.running = rec

    def _after_step(self, rec):
        self.running = None
        other = rec.eager_of
        if other is not None:
            rec.eager_of = None
            self.set_state(other, 'pending', ', by: task, by_task: %d' % rec.id)
            self.set_state(other, 'running')
            self.running = other

    def _close_group(self, rec, exc=None):
        g = rec.group
        if g is None:
            return
        rec.group = None
        self.groups.pop(id(g.anchor), None)
        outcome, error = self._outcome(g, exc)
        body = ', group: %d, outcome: %s' % (g.id, outcome)
        if error:
            body += ', error: %s' % quote(error)
        if rec.mark_batch == self.batch:
            self.insert(rec.mark, 'group_end', body)
        else:
            self.emit('group_end', body)
        g.anchor = None

    def _outcome(self, g, exc):
        failed = [m for m in g.members if m.end == 'failed']
        if g.kind == 'gather':
            f = g.anchor
            if f is not None and f.done():
                if f.cancelled():
                    return 'cancelled', 'CancelledError'
                e = getattr(f, '_exception', None)
                if e is not None:
                    return 'failed', type(e).__name__
                return 'ok', None
            return ('cancelled', 'CancelledError') if g.cancelled else ('ok', None)
        if g.kind == 'taskgroup':
            if failed:
                return 'failed', type(exc).__name__ if exc is not None and \
                    isinstance(exc, BaseExceptionGroup) else 'ExceptionGroup'
            if g.cancelled or isinstance(exc, _CancelledError):
                return 'cancelled', 'CancelledError'
            return 'ok', None
        if g.kind == 'wait_for':
            if g.timed_out:
                return 'timeout', 'TimeoutError'
            if isinstance(exc, _CancelledError) or g.cancelled:
                return 'cancelled', 'CancelledError'
            if exc is not None and not isinstance(exc, StopIteration):
                return 'failed', type(exc).__name__
            return 'ok', None
        # wait
        if g.cancelled or isinstance(exc, _CancelledError):
            return 'cancelled', 'CancelledError'
        if g.timed_out:
            return 'timeout', None
        return 'ok', None

    def step_yield(self, rec, coro, leaf):
        if leaf is None:
            self._close_group(rec)
            self.set_state(rec, 'pending', ', by: yield')
            self._after_step(rec)
            return
        self.awaiting(rec, coro, leaf)
        self._after_step(rec)

    def step_exc(self, rec, exc):
        if isinstance(exc, StopIteration):
            self._close_group(rec)
            self.finish(rec, 'done', '')
        elif isinstance(exc, _CancelledError):
            self._close_group(rec, exc)
            self.finish(rec, 'cancelled', self._cancel_by(rec))
        else:
            self._close_group(rec, exc)
            msg = ''
            try:
                text = str(exc)
            except Exception:
                text = ''
            if text:
                msg = ', message: %s' % quote(text)
            self.finish(rec, 'failed', ', error: %s%s' % (quote(type(exc).__name__), msg))
        self._after_step(rec)

    def never_ran(self, rec):
        """Cancelled before its body started: pending -> cancelled."""
        if not rec.spawned:
            self.spawn(rec, rec.task_ref.get_name() if rec.task_ref else 'Task')
        self.finish(rec, 'cancelled', self._cancel_by(rec))

    def _cancel_by(self, rec):
        return ', by: cancel' + (', by_task: %d' % rec.cancel_by if rec.cancel_by else '')

    def finish(self, rec, end, extra):
        self.set_state(rec, end, extra)
        rec.end = end
        rec.fut = None
        for g in self._groups_with(rec):
            g.last_member = rec.id

    def _groups_with(self, rec):
        return [g for g in self.groups.values() if rec in g.members]

    # ---- awaiting ----------------------------------------------------------

    def awaiting(self, rec, coro, leaf):
        kind = dirn = frame = None
        frames = ()
        if leaf in self.thread_futs:
            kind = 'thread'
        else:
            kind, dirn, frame, frames = C.classify(coro, leaf)
            if kind is None:
                if C.GATHERING_FUTURE is not None and isinstance(leaf, C.GATHERING_FUTURE):
                    kind = 'gather'
                elif isinstance(leaf, asyncio.Task):
                    kind = 'task'
                else:
                    kind = 'future'
        rec.fut = leaf
        rec.on = kind
        rec.awaits_task = 0
        extra = ''
        if kind in C.GROUP_KINDS:
            anchor = leaf if kind == 'gather' else (
                C.locals_of(frame).get('self') if kind == 'taskgroup' else frame)
            g = self.groups.get(id(anchor))
            if g is not None and g.anchor is not anchor:
                g = None
            if rec.group is not None and rec.group is not g:
                self._close_group(rec)
            if g is None:
                g = self._new_group(kind, rec, anchor, frame, leaf)
            rec.group = g
            extra = ', group: %d' % g.id
            if kind == 'wait_for' and len(g.members) == 1:
                extra += ', awaits: %d' % g.members[0].id
            if g.label is not None:
                extra += ', label: %s' % quote(g.label)
        else:
            self._close_group(rec)
            if kind == 'io':
                rec.fd = C.fd_of(frames)
                rec.dir = 'write' if dirn == 'connect' else dirn or 'read'
                extra = ', fd: %d, dir: %s' % (rec.fd, rec.dir)
                if dirn == 'connect':
                    extra += ', label: "new connection"'
            elif kind == 'task':
                other = task_rec(leaf)
                if other is not None:
                    rec.awaits_task = other.id
                    extra = ', awaits: %d' % other.id
        self.set_state(rec, 'awaiting', ', on: ' + kind + extra)

    def _new_group(self, kind, owner, anchor, frame, leaf):
        g = GroupRec(self.next_group, kind, owner, anchor)
        self.next_group += 1
        members = []
        if kind == 'gather':
            for child in getattr(leaf, '_children', ()) or ():
                r = task_rec(child)
                if r is not None:
                    members.append(r)
            g.mode = _gather_mode(getattr(leaf, '_children', ()) or ())
        elif kind == 'wait':
            loc = C.locals_of(frame)
            for f in loc.get('fs') or ():
                r = task_rec(f)
                if r is not None:
                    members.append(r)
            members.sort(key=lambda r: r.id)
            g.mode = C.wait_mode(loc.get('return_when'))
            g.timeout = loc.get('timeout')
        elif kind == 'wait_for':
            loc = C.locals_of(frame)
            r = task_rec(loc.get('fut'))
            if r is not None:
                members.append(r)
            g.timeout = loc.get('timeout')
        else:  # taskgroup
            members = list(self.tg_children.get(id(anchor), ()))
        g.members = members
        names = ', '.join(m.name or '' for m in members)
        if kind == 'taskgroup':
            g.label = 'TaskGroup'
        else:
            g.label = '%s(%s)' % (kind, names)
        body = ', group: %d, kind: %s, owner: %d, members: [%s]' % (
            g.id, kind, owner.id, ', '.join(str(m.id) for m in members))
        if g.mode:
            body += ', mode: ' + g.mode
        if isinstance(g.timeout, (int, float)) and not isinstance(g.timeout, bool):
            body += ', timeout: %d' % max(0, round(g.timeout * 1e9))
        body += ', label: %s' % quote(g.label)
        self.emit('group', body)
        self.groups[id(anchor)] = g
        return g

    # ---- wake-ups ------------------------------------------------------------

    def wake(self, rec, fut, caller):
        """rec's wake-up callback was scheduled: awaiting -> pending."""
        if rec.state != 'awaiting':
            return
        g = rec.group
        if rec.in_cancel:
            if g is not None:
                g.cancelled = True
            self.set_state(rec, 'pending', self._cancel_by(rec))
            return
        on = rec.on
        firing = self.firing
        if firing is not None and firing[1] is rec and on != 'sleep':
            if g is not None:
                g.timed_out = True
            self.set_state(rec, 'pending', ', by: timer')
            return
        if on == 'sleep':
            self.set_state(rec, 'pending', ', by: timer')
        elif on == 'io':
            self.emit('io', ', task: %d, fd: %d, dir: %s' % (rec.id, rec.fd, rec.dir))
            self.nio += 1
            self.set_state(rec, 'pending', ', by: io')
        elif on == 'thread':
            self.set_state(rec, 'pending', ', by: thread')
        elif on == 'task':
            by = rec.awaits_task or (task_rec(fut).id if task_rec(fut) else 0)
            self.set_state(rec, 'pending', ', by: task' + (', by_task: %d' % by if by else ''))
        elif g is not None:
            by = self._group_waker(g, caller)
            self.set_state(rec, 'pending', ', by: task' + (', by_task: %d' % by if by else ''))
        else:
            tok = on if on in ('future', 'event', 'queue', 'lock', 'semaphore',
                               'condition', 'barrier') else 'future'
            r = self.running
            by = r.id if r is not None and r is not rec else 0
            self.set_state(rec, 'pending', ', by: ' + tok + (', by_task: %d' % by if by else ''))

    def _group_waker(self, g, f):
        """The member whose completion woke the group's owner: the task
        handed to asyncio's completion callback running now, else the
        member that finished last."""
        for _ in range(4):
            if f is None:
                break
            code = f.f_code
            if code is C.GATHER_DONE_CB or code is C.WAIT_ON_COMPLETION or \
                    code is C.TG_ON_TASK_DONE:
                loc = f.f_locals
                for key in ('fut', 'f', 'task'):
                    r = task_rec(loc.get(key))
                    if r is not None and r in g.members:
                        return r.id
            f = f.f_back
        return g.last_member

    # ---- cancellation ------------------------------------------------------

    def cancel_cause(self, rec):
        """(reason, by task id) of a cancel() call on rec's task."""
        f = _getframe(2)
        for _ in range(4):
            if f is None:
                break
            code = f.f_code
            if code is C.TIMEOUT_ON_TIMEOUT:
                return 'timeout', 0
            if code is C.CANCEL_AND_WAIT:
                # 3.11 wait_for: the deadline passed, or its owner is being cancelled
                owner = self.running
                g = owner.group if owner is not None else None
                if g is not None and g.kind == 'wait_for' and not g.timed_out:
                    return 'group', owner.id
                return 'timeout', owner.id if owner is not None else 0
            if code is C.TG_ABORT:
                # A member failed (_on_task_done(task) aborts the group):
                # that member is the cause, as the C runtime records it.
                up = f.f_back
                if up is not None and up.f_code is C.TG_ON_TASK_DONE:
                    failed = task_rec(up.f_locals.get('task'))
                    if failed is not None and failed is not rec:
                        return 'group', failed.id
                tg = f.f_locals.get('self')
                parent = task_rec(getattr(tg, '_parent_task', None))
                if parent is not None and parent is not rec:
                    return 'group', parent.id
                return 'group', 0
            if code is C.TG_ON_TASK_DONE or code is C.TG_AEXIT:
                return 'group', 0
            if code is C.GATHERING_CANCEL:
                if self.cancels:
                    outer = self.cancels[-1][0]
                    return 'group', outer.id
                r = self.running
                return 'group', r.id if r is not None else 0
            if code is _TASK_CANCEL_CODE and self.cancels:
                outer, reason, by = self.cancels[-1]
                return reason, outer.id if outer is not rec else by
            if code is C.CANCEL_ALL:
                return 'shutdown', 0
            if code is C.RUNNER_SIGINT:
                return 'signal', 0
            f = f.f_back
        r = self.running
        return 'explicit', r.id if r is not None and r is not rec else 0

    # ---- timers ------------------------------------------------------------

    def timer_kind(self, callback):
        """(kind, TaskRec or None, label) of a timer being armed."""
        if callback is C.SET_RESULT_UNLESS_CANCELLED:
            return ('sleep', self.running, None)
        if getattr(callback, '__code__', None) is C.RELEASE_WAITER:
            return ('deadline', self.running, None)
        func = getattr(callback, '__func__', None)
        if func is not None and getattr(func, '__code__', None) is C.TIMEOUT_ON_TIMEOUT:
            return ('deadline', task_rec(getattr(callback.__self__, '_task', None)), None)
        return ('call', None, callback_label(callback))


def callback_label(cb):
    q = getattr(cb, '__qualname__', None)
    if isinstance(q, str) and q:
        return q
    return type(cb).__name__


def _gather_mode(children):
    """gather's return_exceptions, read from the completion callback it
    put on its children (a closure over the flag)."""
    for child in children:
        for entry in getattr(child, '_callbacks', None) or ():
            cb = entry[0] if isinstance(entry, tuple) else entry
            code = getattr(cb, '__code__', None)
            if code is not None and code is C.GATHER_DONE_CB:
                try:
                    idx = code.co_freevars.index('return_exceptions')
                    flag = cb.__closure__[idx].cell_contents
                except (ValueError, IndexError, AttributeError, TypeError):
                    return None
                return 'return_exceptions' if flag else 'fail_fast'
    return None


# Filled in by _loop.py: the code of TracedTask.cancel, and the lookup of a
# task's record (tasks made by other factories are looked up in a table).
_TASK_CANCEL_CODE = None
_foreign = None


def task_rec(obj):
    rec = getattr(obj, '_lm_rec', None)
    if rec is not None:
        return rec
    if _foreign is not None and isinstance(obj, asyncio.Future):
        try:
            return _foreign.get(obj)
        except TypeError:
            return None
    return None

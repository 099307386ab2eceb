"""_classify.py: what an awaiting task awaits, and why things happen.

A task's coroutine yields the one future it now waits for (the leaf). What
it awaits in the user's terms is found by walking the coroutine chain
(cr_await / gi_yieldfrom) from the task's own coroutine down to that leaf:
the OUTERMOST asyncio function on the way names the primitive (`queue.get()`
is Queue.get even though the leaf is a plain future), and generic helpers
(the `async with` mixin, StreamReader._wait_for_data, ...) are skipped.

Functions are recognised by their code objects, never by file names, so a
user function that happens to be called `sleep` is not mistaken for
asyncio's. Every lookup is guarded: a name missing in some CPython version
just means that primitive falls back to `future`.
"""

import asyncio
import asyncio.base_events
import asyncio.futures
import asyncio.locks
import asyncio.queues
import asyncio.runners
import asyncio.selector_events
import asyncio.streams
import asyncio.tasks
import types

try:
    import asyncio.taskgroups as _taskgroups
except ImportError:  # pragma: no cover - 3.11+ always has it
    _taskgroups = None
try:
    import asyncio.timeouts as _timeouts
except ImportError:  # pragma: no cover
    _timeouts = None
try:
    import asyncio.threads as _threads
except ImportError:  # pragma: no cover
    _threads = None


def _code(obj, *path):
    """The code object of obj.path..., or None."""
    for p in path:
        obj = getattr(obj, p, None)
        if obj is None:
            return None
    obj = getattr(obj, '__func__', obj)
    return getattr(obj, '__code__', None)


def _nested(code, name):
    """A function's nested function code (e.g. gather's _done_callback)."""
    if code is None:
        return None
    for c in code.co_consts:
        if isinstance(c, types.CodeType) and c.co_name == name:
            return c
    return None


_tasks = asyncio.tasks
_locks = asyncio.locks
_queues = asyncio.queues
_streams = asyncio.streams
_sel = asyncio.selector_events.BaseSelectorEventLoop
_base = asyncio.base_events.BaseEventLoop

# kind of a recognised frame: (on token, dir) or a group kind.
FRAME_KINDS = {}


def _add(code, kind):
    if code is not None:
        FRAME_KINDS[code] = kind


_add(_code(_tasks, 'sleep'), ('sleep', None))
_add(_code(_tasks, 'wait'), ('wait', None))
_add(_code(_tasks, 'wait_for'), ('wait_for', None))
if _taskgroups is not None:
    _add(_code(_taskgroups, 'TaskGroup', '__aexit__'), ('taskgroup', None))
_add(_code(_locks, 'Lock', 'acquire'), ('lock', None))
_add(_code(_locks, 'Event', 'wait'), ('event', None))
_add(_code(_locks, 'Semaphore', 'acquire'), ('semaphore', None))
_add(_code(_locks, 'BoundedSemaphore', 'acquire'), ('semaphore', None))
_add(_code(_locks, 'Condition', 'wait'), ('condition', None))
_add(_code(_locks, 'Condition', 'wait_for'), ('condition', None))
_add(_code(_locks, 'Barrier', 'wait'), ('barrier', None))
for _n in ('get', 'put', 'join'):
    _add(_code(_queues, 'Queue', _n), ('queue', None))
for _n in ('read', 'readline', 'readexactly', 'readuntil'):
    _add(_code(_streams, 'StreamReader', _n), ('io', 'read'))
_add(_code(_streams, 'StreamWriter', 'drain'), ('io', 'write'))
_add(_code(_streams, 'StreamWriter', 'wait_closed'), ('io', 'write'))
# 'connect': a write wait the diagrams call "new connection", as the C
# runtime's lm_tcp_connect labels its own.
_add(_code(_streams, 'open_connection'), ('io', 'connect'))
_add(_code(_streams, 'open_unix_connection'), ('io', 'connect'))
for _n in ('sock_recv', 'sock_recv_into', 'sock_recvfrom', 'sock_recvfrom_into',
           'sock_accept'):
    _add(_code(_sel, _n), ('io', 'read'))
for _n in ('sock_sendall', 'sock_sendto'):
    _add(_code(_sel, _n), ('io', 'write'))
_add(_code(_sel, 'sock_connect'), ('io', 'connect'))
_add(_code(_base, 'create_connection'), ('io', 'connect'))
_add(_code(_base, 'sock_sendfile'), ('io', 'write'))
if _threads is not None:
    _add(_code(_threads, 'to_thread'), ('thread', None))

GROUP_KINDS = ('gather', 'wait', 'wait_for', 'taskgroup')

# Codes that matter elsewhere.
WAIT_FOR = _code(_tasks, 'wait_for')
CREATE_TASK = _code(_tasks, 'create_task')
GATHER_DONE_CB = _nested(_code(_tasks, 'gather'), '_done_callback')
WAIT_ON_COMPLETION = _nested(_code(_tasks, '_wait'), '_on_completion')
RELEASE_WAITER = _code(_tasks, '_release_waiter')
CANCEL_AND_WAIT = _code(_tasks, '_cancel_and_wait')
GATHERING_CANCEL = _code(_tasks, '_GatheringFuture', 'cancel')
SET_RESULT_UNLESS_CANCELLED = getattr(asyncio.futures, '_set_result_unless_cancelled', None)
TG_CREATE_TASK = TG_ABORT = TG_ON_TASK_DONE = TG_AEXIT = None
if _taskgroups is not None:
    TG_CREATE_TASK = _code(_taskgroups, 'TaskGroup', 'create_task')
    TG_ABORT = _code(_taskgroups, 'TaskGroup', '_abort')
    TG_ON_TASK_DONE = _code(_taskgroups, 'TaskGroup', '_on_task_done')
    TG_AEXIT = _code(_taskgroups, 'TaskGroup', '__aexit__')
TIMEOUT_ON_TIMEOUT = _code(_timeouts, 'Timeout', '_on_timeout') if _timeouts else None
RUNNER_SIGINT = _code(asyncio.runners, 'Runner', '_on_sigint')
CANCEL_ALL = _code(asyncio.runners, '_cancel_all_tasks')
GATHERING_FUTURE = getattr(_tasks, '_GatheringFuture', None)

# Coroutines of asyncio's own housekeeping: run as tasks by asyncio.run and
# the servers, not part of any program's story, so not recorded.
SHUTDOWN_EXECUTOR = _code(_base, 'shutdown_default_executor')
# The thread that shutdown_default_executor starts: it hands the result over
# with call_soon_threadsafe, which the virtual clock must defer (see _loop.py).
DO_SHUTDOWN = _code(_base, '_do_shutdown')
HIDDEN = set(c for c in (
    _code(_base, 'shutdown_asyncgens'),
    _code(_base, 'shutdown_default_executor'),
    _code(_sel, '_accept_connection2'),
) if c is not None)

_MODES = {'FIRST_COMPLETED': 'first_completed', 'FIRST_EXCEPTION': 'first_exception',
          'ALL_COMPLETED': 'all_completed'}


def wait_mode(return_when):
    return _MODES.get(return_when)


def chain(coro):
    """The frames of the await chain below coro, outermost first."""
    frames = []
    obj = coro
    for _ in range(64):  # a bound: a chain is a handful of frames deep
        f = getattr(obj, 'cr_frame', None)
        if f is not None:
            frames.append(f)
            obj = obj.cr_await
            continue
        f = getattr(obj, 'gi_frame', None)
        if f is not None:
            frames.append(f)
            obj = obj.gi_yieldfrom
            continue
        break
    return frames


def locals_of(frame):
    try:
        return frame.f_locals
    except Exception:  # pragma: no cover - defensive
        return {}


def fd_of(frames):
    """The file descriptor an I/O await is about: the innermost `sock`
    local, or the transport of a stream's `self`."""
    for f in reversed(frames):
        loc = locals_of(f)
        sock = loc.get('sock')
        if sock is not None and hasattr(sock, 'fileno'):
            try:
                fd = sock.fileno()
                if isinstance(fd, int) and fd >= 0:
                    return fd
            except Exception:
                pass
        obj = loc.get('self')
        tr = getattr(obj, '_transport', None)
        if tr is not None and hasattr(tr, 'get_extra_info'):
            try:
                s = tr.get_extra_info('socket')
                if s is not None:
                    return s.fileno()
            except Exception:
                pass
    return -1


def classify(coro, leaf):
    """(kind, dir, frame, frames) for a coroutine that just yielded leaf:
    kind is an `on` token or a group kind; frame is the recognised frame."""
    frames = chain(coro)
    for f in frames:
        k = FRAME_KINDS.get(f.f_code)
        if k is None:
            continue
        if k[0] == 'wait_for':
            # 3.12+ awaits a coroutine given to wait_for in the same task:
            # then it is only a deadline around it, so look further in.
            fut = locals_of(f).get('fut')
            if not isinstance(fut, asyncio.Future):
                continue
        return k[0], k[1], f, frames
    return None, None, None, frames

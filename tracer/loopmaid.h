/*
 * loopmaid.h: the public API of loopmaid's tracer half.
 *
 * loopmaid is an asyncio-style event loop for C: stackful coroutine tasks, a
 * ready queue, timers, epoll I/O, gather / wait / task groups / wait_for with
 * cancellation. Every task state transition and every loop tick can be
 * recorded to a trace file (YAML, see docs/trace-format.md) that the
 * `loopmaid` CLI turns into Mermaid diagrams.
 *
 * Conventions used throughout this header:
 *
 *  - Every function that can fail returns a negative LM_E* code (never -1 with
 *    errno); lm_strerror() turns it into text. 0 (LM_OK) is success.
 *  - Times and durations are int64_t nanoseconds (lm_time). Use LM_MSEC() and
 *    friends to write them. A negative timeout means "no timeout".
 *  - Functions marked [task] may only be called from inside a task (they may
 *    suspend it); called from anywhere else they return LM_ENOTASK.
 *  - Functions marked [loop] must be called from the loop's own thread.
 *  - "Awaits" means: the calling task is suspended, the loop runs other work,
 *    and the call returns when the condition is met. Every awaiting call can
 *    return LM_ECANCELED when the task is cancelled while it waits: that is how
 *    cancellation is delivered, so the task can run its cleanup (the C form of
 *    try/finally) and then return LM_ECANCELED itself.
 *  - Ownership is stated on each constructor: who frees what.
 *
 * A minimal program:
 *
 *     static int hello(void *arg) {
 *         (void)arg;
 *         lm_note("about to sleep");
 *         return lm_sleep(LM_MSEC(10));       // 0, or LM_ECANCELED
 *     }
 *     int main(void) { return lm_run("main", hello, NULL) == 0 ? 0 : 1; }
 *
 * Run it with LOOPMAID_TRACE=out.yaml to get a trace, and with
 * LOOPMAID_CLOCK=virtual to make the trace identical on every run.
 */
#ifndef LOOPMAID_H
#define LOOPMAID_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LM_VERSION_MAJOR 0
#define LM_VERSION_MINOR 1
#define LM_VERSION_PATCH 0
#define LM_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * One table makes the enum, lm_strerror() and lm_err_name(), so they cannot
 * drift apart. Codes are negative; 0 is success.
 */
#define LM_ERRNO_MAP(X)                                                        \
    X(ECANCELED, -1, "operation cancelled")                                    \
    X(ETIMEDOUT, -2, "timed out")                                              \
    X(ENOMEM, -3, "out of memory")                                             \
    X(EINVAL, -4, "invalid argument")                                          \
    X(ENOTASK, -5, "not called from inside a task")                            \
    X(EBUSY, -6, "resource busy")                                              \
    X(ECLOSED, -7, "closed")                                                   \
    X(EAGAIN, -8, "would block")                                               \
    X(EIO, -9, "input/output error")                                           \
    X(ECONNREFUSED, -10, "connection refused")                                 \
    X(ECONNRESET, -11, "connection reset by peer")                             \
    X(EPIPE, -12, "broken pipe")                                               \
    X(EOF_, -13, "end of file")                                                \
    X(ESTATE, -14, "operation not valid in the current state")                 \
    X(EFAILED, -15, "task failed")                                             \
    X(ESYS, -16, "system call failed (see errno)")                             \
    X(ERANGE, -17, "value out of range")                                       \
    X(EEXIST, -18, "already exists")                                           \
    X(ENOENT, -19, "not found")                                                \
    X(EUSER, -100, "application error")

typedef enum lm_errno {
    LM_OK = 0,
#define LM__ERRNO_ENUM(name, val, text) LM_##name = (val),
    LM_ERRNO_MAP(LM__ERRNO_ENUM)
#undef LM__ERRNO_ENUM
} lm_errno;

/* Application errors: any code <= LM_EUSER is the program's own (a task can
 * fail with LM_EUSER - 7, say); lm_strerror() calls them "application error". */

/* Static text for a code; never NULL. Unknown codes give "unknown error". */
const char *lm_strerror(int err);
/* The code's name, e.g. "LM_ETIMEDOUT"; never NULL. */
const char *lm_err_name(int err);

/* ------------------------------------------------------------------------ */
/* Time                                                                      */
/* ------------------------------------------------------------------------ */

typedef int64_t lm_time; /* nanoseconds */

#define LM_NSEC(n) ((lm_time)(n))
#define LM_USEC(n) ((lm_time)(n) * 1000LL)
#define LM_MSEC(n) ((lm_time)(n) * 1000000LL)
#define LM_SEC(n) ((lm_time)(n) * 1000000000LL)
#define LM_FOREVER ((lm_time)-1)

typedef enum lm_clock_kind {
    LM_CLOCK_DEFAULT = 0, /* LOOPMAID_CLOCK from the environment, else monotonic */
    LM_CLOCK_MONOTONIC,   /* the real clock (CLOCK_MONOTONIC) */
    LM_CLOCK_VIRTUAL      /* time jumps to the next timer when nothing is ready */
} lm_clock_kind;
/* Virtual time stands still while anything is ready: a task that waits for a
 * timer by spinning on lm_yield() never lets it come due. Await instead
 * (lm_sleep, lm_join, an event ...).
 * Nothing waits in real time for virtual time: with nothing ready the loop
 * takes any I/O that is already there (a poll that does not block), else
 * jumps to the next timer; it blocks for I/O only when no timer exists. So
 * loopback I/O within one process is repeatable; I/O from outside (another
 * process, the network) is not, since time does not wait for it. Offloads:
 * see lm_offload. */

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct lm_loop lm_loop;
typedef struct lm_task lm_task;
typedef struct lm_future lm_future;
typedef struct lm_event lm_event;
typedef struct lm_queue lm_queue;
typedef struct lm_lock lm_lock;
typedef struct lm_sem lm_sem;
typedef struct lm_taskgroup lm_taskgroup;
typedef struct lm_handle lm_handle;

/*
 * A coroutine function: the body of a task. It returns 0 on success, or a
 * negative code: LM_ECANCELED means "I was cancelled and have cleaned up"
 * (the task ends `cancelled`), any other negative code means the task failed
 * (it ends `failed` with that error). A positive return is not success: the
 * task fails with LM_EFAILED. Its result value, if any, is set with
 * lm_return() before returning.
 */
typedef int (*lm_coro_fn)(void *arg);

/* A plain callback (call_soon / call_later style). */
typedef void (*lm_callback_fn)(void *arg);

/* Work for the thread pool: runs on another thread, must not touch the loop. */
typedef void *(*lm_work_fn)(void *arg);

/* Task states, in trace-format spelling. */
typedef enum lm_state {
    LM_STATE_CREATED = 0, /* a coroutine object: made, not scheduled */
    LM_STATE_PENDING,     /* scheduled: in the ready queue */
    LM_STATE_RUNNING,     /* its code is executing right now */
    LM_STATE_AWAITING,    /* suspended at an await point */
    LM_STATE_DONE,        /* returned 0 */
    LM_STATE_FAILED,      /* returned an error */
    LM_STATE_CANCELLED    /* cancelled (before it ran, or at an await point) */
} lm_state;

/* "created", "pending", ...; never NULL. */
const char *lm_state_name(lm_state s);

/* ------------------------------------------------------------------------ */
/* The loop                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct lm_loop_options {
    lm_clock_kind clock;    /* LM_CLOCK_DEFAULT reads LOOPMAID_CLOCK */
    size_t stack_size;      /* per task, virtual; 0 = LOOPMAID_STACK (bytes, or
                               with a K/M suffix), else 64 KiB (256 KiB under
                               AddressSanitizer); at least 16 KiB. Stacks are
                               mmap'd with a guard page: keep big buffers off
                               them (a 64 KiB array overflows the default). */
    int threads;            /* thread pool size for lm_offload; 0 = 4 */
    const char *name;       /* display name of the loop in traces; NULL = "loop" */
    int handle_signals;     /* 1 (default when the struct is NULL): SIGINT and
                               SIGTERM cancel the main task during lm_loop_run */
} lm_loop_options;

/* Fills *opts with the defaults. */
void lm_loop_options_init(lm_loop_options *opts);

/*
 * Makes a loop for the calling thread. opts may be NULL (defaults). The trace
 * is opened here when LOOPMAID_TRACE is set. Returns NULL when out of
 * memory, when the system refuses epoll/eventfd, or when an environment
 * variable it reads holds a bad value (errno tells why; for the last, EINVAL
 * or the trace's open error, with a message on stderr naming the variable
 * and value). The variables, all optional (unset or empty = the default):
 *   LOOPMAID_CLOCK       virtual or monotonic (default) when opts->clock is
 *                        LM_CLOCK_DEFAULT
 *   LOOPMAID_STACK       task stack size, 16K..4096M, when opts->stack_size
 *                        is 0
 *   LOOPMAID_TRACE       where the trace goes: a path, "-" (stdout, mixed
 *                        with what the program prints), or "fd:N" (a
 *                        descriptor open for writing, e.g. 3>trace.yaml)
 *   LOOPMAID_TRACE_RING  flight-recorder mode: keep the last N events
 * The caller owns the loop and frees it with lm_loop_free(). One loop per
 * thread may run at a time; several loops in one process are independent.
 * If the thread has no current loop yet, the new loop becomes it, so
 * lm_spawn() works before lm_loop_run().
 */
lm_loop *lm_loop_new(const lm_loop_options *opts);

/*
 * Runs fn(arg) as the main task named `name` and drives the loop until that
 * task ends. Then every task still alive is cancelled and the loop runs until
 * their cleanup has finished (shutdown). Returns the main task's code (0,
 * LM_ECANCELED, or its error); *result (if not NULL) gets its lm_return value.
 * [loop] Blocks the calling thread. Not reentrant: LM_EBUSY when this loop
 * or another loop of the same thread is already running. Can be called again
 * after it returned (task ids continue). With handle_signals, the first
 * SIGINT/SIGTERM cancels the main task (reason: signal); the previous
 * handlers are restored on return. Only one loop of the process handles
 * signals at a time (the first to run).
 */
int lm_loop_run(lm_loop *loop, const char *name, lm_coro_fn fn, void *arg,
                void **result);

/*
 * Frees the loop: flushes and closes its trace, frees every task, stack,
 * handle and primitive still owned by it. Handles the program still holds
 * become invalid. Must not be called from inside the loop's own tasks.
 */
void lm_loop_free(lm_loop *loop);

/*
 * The convenience entry point: lm_loop_new(NULL) + lm_loop_run + lm_loop_free.
 * Returns what lm_loop_run returned, or, when the loop cannot be made,
 * LM_EINVAL (a bad LOOPMAID_* variable, reported on stderr), LM_ENOMEM or
 * LM_ESYS (errno tells why).
 */
int lm_run(const char *name, lm_coro_fn fn, void *arg);

/* The loop running on this thread, or NULL. */
lm_loop *lm_loop_current(void);

/* The loop's current time: nanoseconds since it started (virtual or real).
 * On the real clock this is the time cached at the last clock reading. */
lm_time lm_loop_now(const lm_loop *loop);
/* The current loop's time, read fresh; 0 outside a loop. */
lm_time lm_now(void);

lm_clock_kind lm_loop_clock(const lm_loop *loop);

/* Gives the loop a display name (traces: task 0). Copies the text. */
int lm_loop_set_name(lm_loop *loop, const char *name);

/* Counters the loop keeps, for tests and summaries. */
typedef struct lm_loop_stats {
    uint64_t ticks;         /* loop iterations */
    uint64_t steps;         /* task steps run (a resume until the next suspend) */
    uint64_t callbacks;     /* plain callbacks run */
    uint64_t polls;         /* calls into the poller */
    uint64_t io_wakeups;    /* tasks woken by I/O readiness */
    uint64_t timers_fired;  /* timers that expired */
    uint64_t tasks_created;
    uint64_t tasks_alive;   /* not yet done/failed/cancelled */
} lm_loop_stats;

void lm_loop_stats_get(const lm_loop *loop, lm_loop_stats *out);

/* ------------------------------------------------------------------------ */
/* Tasks                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * Makes a task in state `created` without scheduling it: like calling an
 * `async def` function in Python, nothing runs yet. name is any UTF-8 text
 * (copied; NULL = "task-N"). Tasks get ids 1, 2, 3, ... in creation order.
 * The parent is the task calling this (0 from outside any task).
 * Returns NULL when out of memory. The caller owns one reference: release it
 * with lm_task_release() when it no longer needs the handle. [loop]
 */
lm_task *lm_task_new(lm_loop *loop, const char *name, lm_coro_fn fn, void *arg);

/* Schedules a `created` task: created -> pending (by: spawn). [loop] */
int lm_task_start(lm_task *t);

/*
 * lm_task_new on the current loop + lm_task_start: like asyncio.create_task().
 * Returns the task (the caller owns one reference) or NULL (out of memory, or
 * no loop on this thread). [loop]
 */
lm_task *lm_spawn(const char *name, lm_coro_fn fn, void *arg);

/*
 * Drops the caller's reference (releasing one you do not own, e.g. twice, is
 * undefined behaviour, as with any reference count). The task keeps running; its memory is freed
 * once it has ended and nobody holds a reference (the loop holds one while
 * it is alive). Releasing NULL does nothing.
 */
void lm_task_release(lm_task *t);
/* Takes another reference (for handing a task to someone else). */
lm_task *lm_task_retain(lm_task *t);

/* The task running right now, or NULL outside tasks. */
lm_task *lm_current(void);

uint64_t lm_task_id(const lm_task *t);
const char *lm_task_name(const lm_task *t);         /* owned by the task */
int lm_task_set_name(lm_task *t, const char *name); /* copies; traced */
lm_state lm_task_state(const lm_task *t);
/* 1 when done, failed or cancelled. */
int lm_task_finished(const lm_task *t);
/* The task's code once finished: 0, LM_ECANCELED or its error; LM_ESTATE before. */
int lm_task_error(const lm_task *t);
/* The value it passed to lm_return(), or NULL. */
void *lm_task_result(const lm_task *t);
/* Id of the task that spawned it (0: the loop / main program). */
uint64_t lm_task_parent_id(const lm_task *t);

/* Sets the current task's result value. [task] */
int lm_return(void *value);
/*
 * Fails the current task with `code` (negative) and a message for the trace
 * and for lm_task_error_message(); returns code, so a task can end with
 * `return lm_fail(LM_EUSER, "bad reply");`. The message is copied. A code
 * >= 0 is turned into LM_EFAILED (a failure must not read as success). [task]
 */
int lm_fail(int code, const char *message);
/* The message given to lm_fail, or NULL. Owned by the task. */
const char *lm_task_error_message(const lm_task *t);

/*
 * Requests cancellation of t. A task still `created` or `pending` that has
 * never run ends `cancelled` without running its body. A task that is
 * awaiting gets LM_ECANCELED from its await call and runs its own cleanup.
 * Cancelling a running task (itself) takes effect at its next await.
 * Cancelling twice, or a finished task, is harmless and returns 0. [loop]
 * The request is delivered once: the await that returned LM_ECANCELED
 * consumes it, so cleanup code can await again normally (like a finally
 * block). A new lm_cancel after delivery is delivered again. If a task was
 * already woken with a result (a queue item, a future value) when the cancel
 * arrives, that await returns its result and the next await gets
 * LM_ECANCELED, so nothing handed over is lost.
 */
int lm_cancel(lm_task *t);
/* 1 when cancellation of the current task has been requested (also after
 * it was delivered, until lm_uncancel); 0 outside tasks. [task] */
int lm_cancelled(void);
/*
 * Withdraws a pending cancellation request of the current task (asyncio's
 * uncancel): for a task that caught a cancellation and decides to go on. [task]
 */
int lm_uncancel(void);

/* ------------------------------------------------------------------------ */
/* Awaiting [task]                                                           */
/* ------------------------------------------------------------------------ */

/* Suspends for d nanoseconds (on: sleep; by: timer). 0 or LM_ECANCELED. */
int lm_sleep(lm_time d);

/* Lets every other ready task run once, then continues (by: yield).
 * 0, or LM_ECANCELED when the task was cancelled (before or during it). */
int lm_yield(void);

/*
 * Awaits t's completion. Returns t's code (0, its error, or LM_ECANCELED when
 * t was cancelled), and *result (if not NULL) gets its result. If the caller
 * itself is cancelled while waiting, returns LM_ECANCELED and t goes on
 * running (use lm_cancelled() to tell the two apart).
 * A task still `created` is started first (awaiting it would otherwise wait
 * forever); the same holds for the members of gather, wait and wait_for.
 * LM_EINVAL for NULL, for t == the caller (a deadlock), or another loop's t.
 */
int lm_join(lm_task *t, void **result);

/* Records a note from the current task (or about the loop outside tasks). */
void lm_note(const char *text);
void lm_notef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------------------ */
/* gather / wait / task groups / wait_for [task]                              */
/* ------------------------------------------------------------------------ */

enum {
    /* gather: collect every error in errors[] instead of failing fast. */
    LM_GATHER_RETURN_EXCEPTIONS = 1
};

/*
 * Awaits every task in tasks[0..n) (like asyncio.gather on tasks).
 * results[i] (if results is not NULL) gets task i's result and errors[i] (if
 * not NULL) its code, in the original order whatever the completion order.
 * Default mode: on the first failure the other tasks are cancelled and that
 * failure's code is returned once they have finished. With
 * LM_GATHER_RETURN_EXCEPTIONS nothing is cancelled, every task runs to its
 * end, and the call returns 0 (errors[] tells who failed).
 * If the caller is cancelled, every task is cancelled and LM_ECANCELED is
 * returned after they finished. The caller keeps its references.
 * In the default mode a member cancelled by someone else counts as a failure
 * with code LM_ECANCELED (as asyncio.gather raises CancelledError). Members
 * ending in the same loop step are ranked by index to pick "the first".
 * Allocates O(n) only above 8 members (and the trace label when tracing).
 */
int lm_gather(lm_task *const *tasks, size_t n, int flags, void **results,
              int *errors);

/*
 * Tasks in one lm_gather / lm_wait call or one task group: at most this
 * many (more is LM_EINVAL; lm_taskgroup_spawn returns NULL). It is the
 * trace reader's limit for a `group` event's members (render/lmr_internal.h
 * LMR__MAX_MEMBERS), so every trace the tracer writes can be read, while a
 * hostile trace still cannot make the reader hold more than 8 MiB of ids.
 */
#define LM_GROUP_MAX_MEMBERS (1u << 20)

typedef enum lm_wait_mode {
    LM_FIRST_COMPLETED = 1,
    LM_FIRST_EXCEPTION,
    LM_ALL_COMPLETED
} lm_wait_mode;

/*
 * Awaits tasks[0..n) until `mode` is satisfied or `timeout` passes (negative:
 * none) (like asyncio.wait). Nothing is cancelled. On return done[i] is 1
 * for every task that has finished and 0 for the pending ones (done may be
 * NULL); *ndone (may be NULL) gets the count. Returns 0 (also on timeout:
 * check the counts, as in asyncio) or LM_ECANCELED.
 */
int lm_wait(lm_task *const *tasks, size_t n, lm_wait_mode mode,
            lm_time timeout, unsigned char *done, size_t *ndone);

/*
 * Awaits t for at most `timeout`. If the deadline passes, t is cancelled, its
 * cleanup runs to the end, and only then does the call return LM_ETIMEDOUT
 * (never LM_ECANCELED for a timeout). Otherwise returns t's code and result.
 * A t that ignores the cancellation and still ends done or failed gives that
 * outcome instead (as asyncio returns a result that arrived anyway). If the
 * caller is cancelled, t is cancelled too and LM_ECANCELED is returned once
 * t has finished.
 */
int lm_wait_for(lm_task *t, lm_time timeout, void **result);

/*
 * Task groups: structured concurrency (asyncio.TaskGroup).
 *   lm_taskgroup *g = lm_taskgroup_new("fetchers");
 *   lm_taskgroup_spawn(g, "a", fa, NULL);
 *   lm_taskgroup_spawn(g, "b", fb, NULL);
 *   int rc = lm_taskgroup_wait(g);      // the end of the `async with`
 *   lm_taskgroup_free(g);
 * The first child failure cancels every other child (and the owner's wait
 * keeps waiting until all of them finished). lm_taskgroup_wait returns 0 when
 * every child succeeded, else the first failure's code; every child's error
 * is available through lm_taskgroup_errors (the ExceptionGroup).
 * The group owns its children (the caller never releases them).
 * A child failure cancels its siblings at once, even while the owner is
 * still busy in its own body; unlike asyncio the owner itself is not
 * cancelled (it learns of the failure from lm_taskgroup_wait). If the waiting
 * owner is cancelled, the children are cancelled and awaited, and the wait
 * returns LM_ECANCELED (or the first failure's code, which takes precedence).
 * Children may spawn more children into the group while the owner waits.
 */
lm_taskgroup *lm_taskgroup_new(const char *name); /* [task]; NULL: no memory
                                                     or not in a task */
lm_task *lm_taskgroup_spawn(lm_taskgroup *g, const char *name, lm_coro_fn fn,
                            void *arg); /* borrowed; NULL after wait/fail, or
                                           past LM_GROUP_MAX_MEMBERS children */
int lm_taskgroup_wait(lm_taskgroup *g);
size_t lm_taskgroup_size(const lm_taskgroup *g);
lm_task *lm_taskgroup_task(const lm_taskgroup *g, size_t i); /* borrowed */
/* Fills errs[0..cap) with the failed children's codes in spawn order (not
 * counting cancellations caused by the group); returns how many failed. */
size_t lm_taskgroup_errors(const lm_taskgroup *g, int *errs, size_t cap);
/* Frees the group; children still running are cancelled first (they finish
 * on their own; the loop frees them). */
void lm_taskgroup_free(lm_taskgroup *g);

/* ------------------------------------------------------------------------ */
/* Futures, events, queues, locks, semaphores                                 */
/* ------------------------------------------------------------------------ */

/*
 * Common rules for these primitives:
 *  - Waiters are served first come, first served. Locks and semaphores hand
 *    the lock / unit straight to the first waiter, so a newcomer can never
 *    barge ahead; queues reserve items and room for waiters the same way.
 *  - A waiter cancelled while parked leaves the line and gets LM_ECANCELED.
 *    One that was already handed the lock / unit / item when the
 *    cancellation came keeps it (the call returns 0) and receives
 *    LM_ECANCELED at its next await; nothing is ever lost.
 *  - Freeing a primitive that still has waiters is allowed: every waiter
 *    returns LM_ECLOSED. Any other use of a freed primitive is undefined.
 *  - None of the waiting paths allocates (an unbounded queue grows its
 *    buffer by doubling).
 */

/* A one-shot value. The creator owns it; free with lm_future_free. [loop] */
lm_future *lm_future_new(void);
void lm_future_free(lm_future *f);
/* Sets the value (or an error) and wakes every waiter. LM_ESTATE if already set. */
int lm_future_set(lm_future *f, void *value);
int lm_future_set_error(lm_future *f, int err);
int lm_future_done(const lm_future *f);
/* Awaits the future (on: future; by: future). Returns its error (0 when set
 * with a value) and the value in *value. [task] */
int lm_future_wait(lm_future *f, void **value);

/* A resettable flag (asyncio.Event). */
lm_event *lm_event_new(void);
void lm_event_free(lm_event *e);
void lm_event_set(lm_event *e);   /* wakes every waiter */
void lm_event_clear(lm_event *e);
int lm_event_is_set(const lm_event *e);
int lm_event_wait(lm_event *e);   /* [task] 0 or LM_ECANCELED */

/* A FIFO of pointers with a capacity (0 = unbounded). */
lm_queue *lm_queue_new(size_t capacity);
void lm_queue_free(lm_queue *q);
int lm_queue_put(lm_queue *q, void *item);  /* [task] awaits room (on: queue) */
int lm_queue_get(lm_queue *q, void **item); /* [task] awaits an item */
int lm_queue_try_put(lm_queue *q, void *item); /* LM_EAGAIN when full */
int lm_queue_try_get(lm_queue *q, void **item); /* LM_EAGAIN when empty */
/* After close, put returns LM_ECLOSED and get drains then returns LM_ECLOSED. */
void lm_queue_close(lm_queue *q);
size_t lm_queue_len(const lm_queue *q);

/* A mutual-exclusion lock between tasks (FIFO fair). */
lm_lock *lm_lock_new(void);
void lm_lock_free(lm_lock *l);
int lm_lock_acquire(lm_lock *l); /* [task] on: lock; LM_EBUSY if the caller
                                    already holds it (not reentrant) */
int lm_lock_release(lm_lock *l); /* LM_ESTATE if not held by the caller */

/* A counting semaphore (FIFO fair). */
lm_sem *lm_sem_new(unsigned initial);
void lm_sem_free(lm_sem *s);
int lm_sem_acquire(lm_sem *s); /* [task] on: semaphore */
void lm_sem_release(lm_sem *s);
unsigned lm_sem_value(const lm_sem *s);

/* ------------------------------------------------------------------------ */
/* I/O [task]                                                                */
/* ------------------------------------------------------------------------ */

enum { LM_READABLE = 1, LM_WRITABLE = 2 };

/*
 * Awaits readiness of fd (LM_READABLE and/or LM_WRITABLE) for at most
 * `timeout` (negative: none). Returns the ready bits (> 0), LM_ETIMEDOUT or
 * LM_ECANCELED. fd should be non-blocking. One task may wait to read and
 * one to write on an fd at a time; a second waiter in the same direction
 * gets LM_EBUSY. An error or hang-up on the fd reports both bits.
 */
int lm_wait_fd(int fd, int events, lm_time timeout);

/* Non-blocking socket helpers. They set O_NONBLOCK and close-on-exec on the
 * sockets they make, suspend the task instead of blocking, and return a
 * negative LM_E* code on failure (errno is kept for LM_ESYS). */

/* Listens on host:port (host NULL = 127.0.0.1, port 0 = any free port);
 * returns the fd. Not a task call: can be used before the loop runs. */
int lm_tcp_listen(const char *host, int port, int backlog);
/* The local port a socket is bound to, or a negative code. */
int lm_socket_port(int fd);
int lm_accept(int listen_fd);                      /* [task] new fd */
/* [task] connected fd (TCP_NODELAY set). host NULL = 127.0.0.1. A host name
 * is resolved with getaddrinfo, which blocks the loop: prefer numeric
 * addresses, or resolve through lm_offload. */
int lm_tcp_connect(const char *host, int port);
/* Reads up to len bytes: > 0 bytes read, 0 at end of file, or an error. */
ssize_t lm_read(int fd, void *buf, size_t len);
/* Writes all len bytes (partial writes are continued): len, or an error.
 * On sockets a closed peer gives LM_EPIPE, never SIGPIPE. If the task is
 * cancelled part-way, LM_ECANCELED is returned and some bytes may have been
 * written. */
ssize_t lm_write_all(int fd, const void *buf, size_t len);
/* Reads exactly len bytes unless EOF comes first: bytes read, or an error. */
ssize_t lm_read_full(int fd, void *buf, size_t len);
/* lm_read with a timeout: bytes, 0 at EOF, LM_ETIMEDOUT, or an error. */
ssize_t lm_read_timeout(int fd, void *buf, size_t len, lm_time timeout);

/* ------------------------------------------------------------------------ */
/* Thread pool [task]                                                        */
/* ------------------------------------------------------------------------ */

/*
 * Runs fn(arg) on the loop's thread pool and awaits its end (on: thread;
 * by: thread). *result gets fn's return value. If the task is cancelled while
 * waiting, LM_ECANCELED is returned at once; the work still finishes on its
 * thread and its result is dropped (fn must own what it allocates).
 * The pool's threads start on the first call; lm_loop_free waits for every
 * work function still running.
 * Under the virtual clock offloaded work takes zero virtual time and
 * completes in submission order: completions are held until the loop has
 * nothing ready, then the loop waits (in real time) for EVERY outstanding
 * offload and wakes their tasks in the order they called lm_offload, so the
 * trace is the same on every run. Virtual time does not move while an
 * offload is outstanding. A work function must therefore never wait for the
 * loop (e.g. for a callback it posted with lm_call_soon_threadsafe).
 */
int lm_offload(const char *label, lm_work_fn fn, void *arg, void **result);

/* ------------------------------------------------------------------------ */
/* Plain callbacks                                                           */
/* ------------------------------------------------------------------------ */

/*
 * Schedules cb(arg) to run on the loop soon / after delay (asyncio's
 * call_soon / call_later). Returns a handle owned by the loop, valid until the
 * callback has returned or the handle has been cancelled (the loop frees it
 * then); NULL when out of memory. Callbacks and tasks share one FIFO ready
 * queue; call_later callbacks due at the same time run in the order they were
 * scheduled. Callbacks not yet run when lm_loop_run returns are dropped. [loop]
 */
lm_handle *lm_call_soon(lm_loop *loop, lm_callback_fn cb, void *arg);
lm_handle *lm_call_later(lm_loop *loop, lm_time delay, lm_callback_fn cb,
                         void *arg);
/* Cancels a callback that has not run yet. Calling it from inside the
 * callback itself is harmless; after the callback returned or after a first
 * cancel the handle is gone and must not be used. [loop] */
void lm_handle_cancel(lm_handle *h);
/*
 * From any thread: hands the loop a callback to run on its own thread (like
 * call_soon_threadsafe); wakes the loop through its eventfd. 0 or LM_ENOMEM.
 */
int lm_call_soon_threadsafe(lm_loop *loop, lm_callback_fn cb, void *arg);

/* ------------------------------------------------------------------------ */
/* Tracing                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Traces are off by default. LOOPMAID_TRACE=path ("-" for stdout, "fd:N"
 * for an open descriptor), read by lm_loop_new, turns them on without
 * touching code; these calls do it by API (path may be "-" or "fd:N" too).
 * The trace format is specified in docs/trace-format.md.
 */

/* Writes the trace to `path` ("-" = stdout, "fd:N" = descriptor N, which
 * the tracer never closes). Call before lm_loop_run. */
int lm_trace_open(lm_loop *loop, const char *path);
/* Writes to an open stream; the loop does not close it. */
int lm_trace_file(lm_loop *loop, FILE *fp);
/* The program name in the trace header (default: the process's argv[0]). */
int lm_trace_set_program(lm_loop *loop, const char *name);
/*
 * Flight-recorder mode: keep only the last n events in memory and write them
 * at loop end, at exit, or on lm_trace_flush. Call before lm_loop_run.
 */
int lm_trace_ring(lm_loop *loop, size_t n);
/* Formats and writes everything recorded so far. */
int lm_trace_flush(lm_loop *loop);
/* Stops tracing: flushes and closes. */
void lm_trace_close(lm_loop *loop);

#ifdef __cplusplus
}
#endif
#endif /* LOOPMAID_H */

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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LM_VERSION_MAJOR 0
#define LM_VERSION_MINOR 2
#define LM_VERSION_PATCH 0
#define LM_VERSION_STRING "0.2.0"

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
    X(EBROKEN, -20, "barrier broken")                                          \
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
typedef struct lm_cond lm_cond;
typedef struct lm_barrier lm_barrier;
typedef struct lm_taskgroup lm_taskgroup;
typedef struct lm_handle lm_handle;
typedef struct lm_timeout lm_timeout;

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
 *   LOOPMAID_TRACE_TSC   0: stamp events with clock_gettime, not the CPU's
 *                        time stamp counter (1, the default, uses it where
 *                        it is sound; docs/trace-format.md)
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
 * Requests cancellation of t (asyncio's Task.cancel). Returns 1 when a
 * request was made, 0 when t had already finished (nothing happens: its
 * outcome and result stay), LM_EINVAL for NULL. [loop]
 *  - A task still `created` ends `cancelled` at once; one `pending` that has
 *    never run ends `cancelled` at its turn: its body never runs.
 *  - A task that is awaiting gets LM_ECANCELED from its await call and runs
 *    its own cleanup (the C form of try/finally). Awaits that wait for other
 *    tasks pass the request on instead, as `await task` does: lm_join,
 *    lm_gather and lm_wait_for cancel what they await and return once it has
 *    ended (see each call); lm_shield and lm_wait do not.
 *  - A running task (cancelling itself) gets it at its next await; if it
 *    returns 0 before awaiting again it ends `cancelled` all the same (a
 *    failure code still ends it `failed`).
 *  - Every request counts (lm_task_cancelling) and is traced; requests that
 *    come before the first is delivered are delivered once. The await that
 *    returned LM_ECANCELED consumes it, so cleanup code can await again
 *    normally; a new request after that is delivered again.
 *  - A task that was already woken by a future, event, queue, lock,
 *    semaphore, condition or barrier when the cancel arrives gets
 *    LM_ECANCELED from that await, as asyncio raises CancelledError there;
 *    the primitive passes on what it had handed over, so nothing is lost
 *    (see "Futures, events, queues ..."). lm_join, gather, wait and wait_for
 *    woken by their members' ends return their result instead and the next
 *    await gets LM_ECANCELED (the members' outcomes stay readable on the
 *    tasks; asyncio raises at that await).
 */
int lm_cancel(lm_task *t);
/* 1 when cancellation of the current task has been requested (also after
 * it was delivered, until lm_uncancel withdrew every request); 0 outside
 * tasks. [task] */
int lm_cancelled(void);
/* The number of cancellation requests of t not withdrawn by lm_uncancel
 * (asyncio's Task.cancelling()); 0 for NULL. */
int lm_task_cancelling(const lm_task *t);
/*
 * Withdraws one cancellation request of the current task (asyncio's
 * uncancel): for a task that caught a cancellation and decides to go on.
 * Returns the number of requests left; when none is left, a delivery still
 * on its way is withdrawn too (as in asyncio 3.13). [task]
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
 * Awaits t's completion (`await task`). Returns t's code (0, its error, or
 * LM_ECANCELED when t was cancelled), and *result (if not NULL) gets its
 * result. If the caller is cancelled while waiting, the cancellation is
 * passed on to t (same reason, by_task the caller) and lm_join keeps waiting
 * for t's end: it returns LM_ECANCELED when t ended cancelled, or t's own
 * outcome if t ignored the request; so a chain of joins is cancelled down to
 * its end and unwinds in order. A cancellation that arrives after t ended
 * but before the caller ran again makes lm_join return LM_ECANCELED (t's
 * outcome stays in lm_task_error(t)).
 * A task still `created` is started first (awaiting it would otherwise wait
 * forever); the same holds for the members of gather, wait and wait_for.
 * LM_EINVAL for NULL, for t == the caller (a deadlock), or another loop's t.
 */
int lm_join(lm_task *t, void **result);

/*
 * Awaits t like lm_join, but shielded from the caller's cancellation
 * (`await asyncio.shield(task)`): a cancelled caller gets LM_ECANCELED at
 * once and t goes on running untouched. Cancelling t itself still cancels
 * it (then this returns LM_ECANCELED, t's code). [task]
 */
int lm_shield(lm_task *t, void **result);

/* Records a note from the current task (or about the loop outside tasks). */
void lm_note(const char *text);
void lm_notef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------------------ */
/* gather / wait / task groups / wait_for [task]                              */
/* ------------------------------------------------------------------------ */

enum {
    /* gather: collect every error in errors[] instead of failing fast. */
    LM_GATHER_RETURN_EXCEPTIONS = 1,
    /* gather: NOT asyncio's behaviour, an opt-in (Trio's nursery and task
     * groups do this): the first failure cancels the other members, and the
     * call returns that failure once they have all ended. */
    LM_GATHER_CANCEL_ON_ERROR = 2
};

/*
 * Awaits every task in tasks[0..n) (asyncio.gather on tasks). results[i] (if
 * results is not NULL) gets task i's result and errors[i] (if not NULL) its
 * code, in the original order whatever the completion order; a member still
 * running when the call returns gets NULL and LM_ESTATE there. The caller
 * keeps its references. The caller is woken once, when the call's condition
 * is met, by the member that met it.
 *  - Default (asyncio): the first member to end with an error (a failure,
 *    or LM_ECANCELED for a member cancelled by someone else) hands that code
 *    to the caller at once; the other members keep running (await or cancel
 *    them yourself). Returns 0 when all succeeded.
 *  - LM_GATHER_RETURN_EXCEPTIONS: every member runs to its end, the call
 *    returns 0 and errors[] tells who failed.
 *  - LM_GATHER_CANCEL_ON_ERROR (opt-in, not asyncio): the first failure
 *    cancels the others (reason group, by the failed member) and is returned
 *    once every member has ended. Not combinable with RETURN_EXCEPTIONS.
 *  - If the caller is cancelled, the members still running are cancelled
 *    (reason group, by the caller) and the call goes on as the mode says: by
 *    default it returns the first member's end that is an error (normally
 *    LM_ECANCELED) while the rest may still be cleaning up; with
 *    RETURN_EXCEPTIONS or CANCEL_ON_ERROR it returns LM_ECANCELED once all
 *    have ended. It returns LM_ECANCELED as well if every member ignored the
 *    request and succeeded (asyncio's rule).
 * Members that had already ended count first, in index order. n == 0
 * returns 0 at once. Allocates O(n) only above 8 members (and the trace
 * label when tracing).
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
 * none) (like asyncio.wait). Nothing is cancelled, not even when the caller
 * is: it gets LM_ECANCELED at once and the members go on. On return done[i]
 * is 1 for every task that has finished and 0 for the pending ones (done may
 * be NULL); *ndone (may be NULL) gets the count. Returns 0 (also on timeout:
 * check the counts, as in asyncio), LM_ECANCELED, or LM_EINVAL for n == 0
 * (asyncio raises ValueError on an empty set). FIRST_EXCEPTION counts only
 * failures (a cancelled member is no exception) and otherwise waits for all.
 * The caller is woken once, by the member that satisfied the mode.
 */
int lm_wait(lm_task *const *tasks, size_t n, lm_wait_mode mode,
            lm_time timeout, unsigned char *done, size_t *ndone);

/*
 * Awaits t for at most `timeout` (negative: none) (asyncio.wait_for, 3.12).
 * If the deadline passes, t is cancelled (reason timeout, by the caller),
 * its cleanup runs to the end, and only then does the call return
 * LM_ETIMEDOUT (never LM_ECANCELED for a timeout). Otherwise returns t's
 * code and result. A t that ignores the cancellation and still ends done or
 * failed gives that outcome instead (as asyncio returns a result that arrived
 * anyway). A zero timeout cancels a t that has not ended at once (one that
 * has not run yet never runs its body) and returns LM_ETIMEDOUT after its
 * end; a t already finished gives its outcome. If the caller is cancelled,
 * the request is passed on to t (the caller's reason, by the caller) and
 * LM_ECANCELED is returned once t has ended cancelled (t's outcome if it
 * ignored the request).
 */
int lm_wait_for(lm_task *t, lm_time timeout, void **result);

/*
 * Task groups: structured concurrency (asyncio.TaskGroup).
 *   lm_taskgroup *g = lm_taskgroup_new("fetchers");   // async with ... as g:
 *   lm_taskgroup_spawn(g, "a", fa, NULL);
 *   lm_taskgroup_spawn(g, "b", fb, NULL);
 *   int rc = lm_sleep(LM_SEC(1));                     // the body's awaits
 *   rc = lm_taskgroup_exit(g, rc);                    // the end of the block
 *   lm_taskgroup_free(g);
 * The group owns its children (the caller never releases them); the owner
 * is the task that made the group, and only it may end the block.
 *  - The first child that fails cancels every other child (reason group, by
 *    that child) and, while the owner is still in its body, the owner too:
 *    the body's current (or next) await returns LM_ECANCELED. Pass that on
 *    to lm_taskgroup_exit; the group withdraws its own request there
 *    (lm_uncancel), so the owner is not left cancelled. An owner already
 *    waiting in lm_taskgroup_exit is not interrupted (asyncio interrupts and
 *    resumes that wait; nothing observable differs).
 *  - A child cancelled from elsewhere is not a failure.
 *  - No spawn after a failure began cancelling the children, or after exit
 *    (NULL, as asyncio raises RuntimeError).
 *  - Children may spawn more children into the group while the owner waits.
 */
lm_taskgroup *lm_taskgroup_new(const char *name); /* [task]; NULL: no memory
                                                     or not in a task */
lm_task *lm_taskgroup_spawn(lm_taskgroup *g, const char *name, lm_coro_fn fn,
                            void *arg); /* borrowed; NULL: see above, or
                                           past LM_GROUP_MAX_MEMBERS children */
/*
 * The end of the `async with` block [task]: body_rc is how the body ended
 * (0, LM_ECANCELED, or its error). A body that failed or was cancelled (and
 * the owner being cancelled while it waits here) cancels the children still
 * running (reason group, by the owner). Then it waits for every child and
 * returns: the first error that happened (children's failures in the order
 * they happened, then the body's error: asyncio's ExceptionGroup, see
 * lm_taskgroup_errors) if any; else LM_ECANCELED if the owner was cancelled
 * by someone other than the group; else 0. When errors win over such an
 * outside cancellation, that request still stands and is delivered at the
 * owner's next await (as asyncio 3.13 re-cancels the parent). A second call
 * returns the same code; LM_EINVAL from a task other than the owner.
 */
int lm_taskgroup_exit(lm_taskgroup *g, int body_rc);
/* lm_taskgroup_exit(g, 0): the block's end after a body that succeeded. */
int lm_taskgroup_wait(lm_taskgroup *g);
size_t lm_taskgroup_size(const lm_taskgroup *g);
lm_task *lm_taskgroup_task(const lm_taskgroup *g, size_t i); /* borrowed */
/* Fills errs[0..cap) with the group's errors in the order they happened: the
 * children that failed (not counting cancellations), then the body's error
 * given to lm_taskgroup_exit; returns how many there are. */
size_t lm_taskgroup_errors(const lm_taskgroup *g, int *errs, size_t cap);
/* Frees the group; children still running are cancelled first (they finish
 * on their own; the loop frees them). */
void lm_taskgroup_free(lm_taskgroup *g);

/*
 * Timeout scopes (asyncio.timeout / asyncio.timeout_at): one deadline over
 * several awaits of the current task.
 *   lm_timeout *to = lm_timeout_begin(LM_MSEC(100));  // async with timeout(0.1):
 *   int rc = step_one();                               //     await ...
 *   if (rc == 0) rc = step_two();                      //     await ...
 *   rc = lm_timeout_end(to, rc);                       // LM_ETIMEDOUT if it expired
 *   lm_timeout_free(to);
 * When the deadline passes, the task is cancelled (reason timeout, by the
 * loop) so its current await returns LM_ECANCELED; pass the block's outcome
 * to lm_timeout_end, which withdraws that request (lm_uncancel) and turns
 * LM_ECANCELED into LM_ETIMEDOUT when no other cancellation is left. A
 * deadline already passed (or a zero delay) cancels at the loop's next turn,
 * not on the spot. Scopes nest; the inner one that expires reports it.
 * NULL: no memory, or not in a task. A negative delay / when means "no
 * deadline" (asyncio's None; for a deadline in the past use 0 or a past
 * loop time). The handle stays valid after lm_timeout_end, for
 * lm_timeout_expired, until lm_timeout_free. [task]
 */
lm_timeout *lm_timeout_begin(lm_time delay);
lm_timeout *lm_timeout_begin_at(lm_time when); /* absolute loop time (lm_now) */
/* Moves the deadline (absolute; negative: none). LM_ESTATE once it has
 * expired or the scope ended (asyncio raises RuntimeError). */
int lm_timeout_reschedule(lm_timeout *to, lm_time when);
lm_time lm_timeout_when(const lm_timeout *to); /* negative: none */
/* 1 once the deadline has passed (the task was cancelled by this scope). */
int lm_timeout_expired(const lm_timeout *to);
/* The end of the block: returns rc, or LM_ETIMEDOUT as described above;
 * LM_ESTATE when called twice, LM_EINVAL from another task. [task] */
int lm_timeout_end(lm_timeout *to, int rc);
void lm_timeout_free(lm_timeout *to);

/* ------------------------------------------------------------------------ */
/* Futures, events, queues, locks, semaphores, conditions, barriers           */
/* ------------------------------------------------------------------------ */

/*
 * These follow asyncio 3.12+ (futures.py, locks.py, queues.py); the CPython
 * tests they are checked against, and every deviation that remains, are in
 * docs/asyncio-conformance.md. Common rules:
 *  - Waiters are served first come, first served. A release, put, notify or
 *    set goes to the first waiter that still waits: a waiter cancelled while
 *    parked is skipped, so it never swallows a wakeup.
 *  - No barging: locks and semaphores hand the lock / unit straight to the
 *    first waiter, and a newcomer queues behind any waiter that has been
 *    woken and not run yet (asyncio 3.12+). Queues reserve items and room
 *    for woken waiters the same way.
 *  - Cancellation wins, as in asyncio: a waiter cancelled while parked, or
 *    after it was woken but before it ran, gets LM_ECANCELED from the call.
 *    What it had been handed (the lock, a unit, a queue item or slot, a
 *    notification) goes to the next waiter; a future keeps its value. So
 *    nothing is ever lost or given twice. (A call that can complete without
 *    waiting does not suspend and delivers no cancellation, as an `await`
 *    that does not suspend in asyncio.)
 *  - Freeing a primitive that still has waiters is allowed: every waiter
 *    returns LM_ECLOSED. Any other use of a freed primitive is undefined.
 *  - None of the waiting paths allocates (an unbounded queue grows its
 *    buffer by doubling; a done callback allocates when it is added).
 *  - Trace tokens (docs/trace-format.md section 4): each awaiting call names
 *    its `on:`; the task that wakes it is recorded with the matching `by:`.
 */

/* ---- futures (asyncio.Future) ---- */

/* A one-shot outcome: a value, an error, or cancelled. The creator owns it
 * and frees it with lm_future_free, before lm_loop_free of the loop that was
 * current when it was made (its done callbacks run there). Waiters still
 * parked get LM_ECLOSED; callbacks not run yet are dropped. [loop] */
lm_future *lm_future_new(void);
void lm_future_free(lm_future *f);
/* asyncio's get_loop(): the loop current when f was made (NULL if none was:
 * then the first lm_future_add_done_callback binds it). */
lm_loop *lm_future_loop(const lm_future *f);
/*
 * Completes the future with a value / an error (negative, not LM_ECANCELED:
 * LM_EINVAL) and wakes every waiter. LM_ESTATE if it is already done or
 * cancelled (asyncio's InvalidStateError).
 */
int lm_future_set(lm_future *f, void *value);
int lm_future_set_error(lm_future *f, int err);
/* Cancels a future that is not done: 1 (waiters get LM_ECANCELED), or 0
 * when it was already done or cancelled (asyncio's cancel() -> bool). */
int lm_future_cancel(lm_future *f);
/* 1 once set, failed or cancelled. */
int lm_future_done(const lm_future *f);
/* 1 once cancelled. */
int lm_future_cancelled(const lm_future *f);
/*
 * asyncio's result(): LM_ESTATE while not done, LM_ECANCELED when
 * cancelled, its error, or 0 with the value in *value (may be NULL).
 */
int lm_future_result(const lm_future *f, void **value);
/*
 * asyncio's exception(): LM_ESTATE while not done, LM_ECANCELED when
 * cancelled, else 0 with *err = its error (0 when it holds a value).
 */
int lm_future_exception(const lm_future *f, int *err);
/*
 * Awaits the future (on: future; by: future). Returns what lm_future_result
 * would then (its error, LM_ECANCELED if the future was cancelled, or 0 with
 * the value in *value). If the calling task is cancelled, LM_ECANCELED (tell
 * the two apart with lm_cancelled()); the future keeps its outcome. [task]
 */
int lm_future_wait(lm_future *f, void **value);

/* A done callback: called with the future and the arg it was added with. */
typedef void (*lm_future_cb)(lm_future *f, void *arg);
/*
 * Calls cb(f, arg) once f is done, through lm_call_soon on its loop (never
 * synchronously from set/cancel), in the order callbacks and waiters were
 * added; a callback added to a done future is scheduled at once. The same
 * (cb, arg) may be added several times. 0, LM_ENOMEM, LM_EINVAL (NULL), or
 * LM_ESTATE when there is no loop to run it on. [loop]
 * Deviation: if the loop cannot take the callback (out of memory) when f
 * completes, it is called right away instead of being lost.
 */
int lm_future_add_done_callback(lm_future *f, lm_future_cb cb, void *arg);
/* Removes every not yet scheduled (cb, arg) entry; returns how many (asyncio
 * compares the callable alone; here the pair is the callable). */
size_t lm_future_remove_done_callback(lm_future *f, lm_future_cb cb, void *arg);

/* ---- events (asyncio.Event) ---- */

/* A resettable flag. Owned by the creator. */
lm_event *lm_event_new(void);
void lm_event_free(lm_event *e);
void lm_event_set(lm_event *e);   /* wakes every waiter (by: event) */
void lm_event_clear(lm_event *e);
int lm_event_is_set(const lm_event *e);
/* [task] on: event. 0 at once when set; else awaits a set (a waiter woken by
 * a set returns 0 even if the event was cleared before it ran), or
 * LM_ECANCELED. */
int lm_event_wait(lm_event *e);

/* ---- queues (asyncio.Queue, LifoQueue, PriorityQueue) ---- */

/* Orders a priority queue: < 0 when a comes out before b. Equal items come
 * out in put order (asyncio: in heapq's order). */
typedef int (*lm_queue_cmp)(const void *a, const void *b);
/* Queues of pointers with a capacity (0 = unbounded); the creator owns the
 * queue, the items stay the program's. NULL when out of memory (or cmp is
 * NULL). */
lm_queue *lm_queue_new(size_t capacity);                    /* FIFO */
lm_queue *lm_queue_new_lifo(size_t capacity);               /* last in, first out */
lm_queue *lm_queue_new_priority(size_t capacity, lm_queue_cmp cmp); /* smallest first */
void lm_queue_free(lm_queue *q);
/* [task] on: queue. Awaits room, then puts; 0, LM_ECLOSED after shutdown,
 * LM_ECANCELED (the item did not go in). */
int lm_queue_put(lm_queue *q, void *item);
/* [task] on: queue. Awaits an item; 0, LM_ECLOSED once shut down and
 * empty, LM_ECANCELED (no item taken: it stays for the next getter). */
int lm_queue_get(lm_queue *q, void **item);
/* put_nowait / get_nowait: LM_EAGAIN when full / empty (QueueFull /
 * QueueEmpty), LM_ECLOSED after shutdown. Deviation: they never take a
 * slot or item already promised to a woken waiter (asyncio's may, and the
 * waiter then queues again at the end of the line). */
int lm_queue_try_put(lm_queue *q, void *item);
int lm_queue_try_get(lm_queue *q, void **item);
/*
 * join / task_done: every successful put counts one unfinished item;
 * task_done marks one finished (LM_ESTATE when none is: asyncio's
 * ValueError); join awaits (on: queue_join; by: queue_join) until none is
 * left: 0 at once if none, else 0 when the count reaches 0 (even if puts
 * raise it again before the joiner runs), or LM_ECANCELED. [task for join]
 */
int lm_queue_task_done(lm_queue *q);
int lm_queue_join(lm_queue *q);
size_t lm_queue_unfinished(const lm_queue *q);
/*
 * asyncio 3.13's shutdown(immediate): put fails with LM_ECLOSED from now
 * on; parked putters and getters return LM_ECLOSED; get still drains what
 * is in the queue, then returns LM_ECLOSED. With immediate, the items are
 * dropped first (each counts as a task_done, which may release join).
 * lm_queue_close(q) is lm_queue_shutdown(q, 0).
 */
void lm_queue_shutdown(lm_queue *q, int immediate);
void lm_queue_close(lm_queue *q);
size_t lm_queue_len(const lm_queue *q);      /* qsize() */
size_t lm_queue_maxsize(const lm_queue *q);  /* 0 = unbounded */
int lm_queue_full(const lm_queue *q);        /* full(): len >= maxsize > 0 */

/* ---- locks (asyncio.Lock) ---- */

/* A mutual-exclusion lock between tasks, FIFO fair. Owned by the creator. */
lm_lock *lm_lock_new(void);
void lm_lock_free(lm_lock *l);
/*
 * [task] on: lock; by: lock. Takes the lock at once when it is free, else
 * awaits it: 0, or LM_ECANCELED (a waiter handed the lock and cancelled
 * before it ran passes it on). Deviation: LM_EBUSY if the caller already
 * holds it (asyncio's Lock is not reentrant either, but would deadlock).
 */
int lm_lock_acquire(lm_lock *l);
/*
 * Releases a locked lock and hands it to the first waiter still waiting.
 * Like asyncio, any code of the loop's thread may release it (another task,
 * a callback), not only the task that acquired it. LM_ESTATE when not
 * locked (asyncio's RuntimeError).
 */
int lm_lock_release(lm_lock *l);
/* asyncio's locked(): 1 while held. 0 when free, and also between a release
 * and the moment the waiter it was handed to runs (the lock is reserved for
 * that waiter then: any other acquire still waits). */
int lm_lock_locked(const lm_lock *l);

/* ---- semaphores (asyncio.Semaphore, BoundedSemaphore) ---- */

/* A counting semaphore, FIFO fair. Owned by the creator. The bounded kind
 * refuses a release that would raise the value above `initial`. */
lm_sem *lm_sem_new(unsigned initial);
lm_sem *lm_sem_new_bounded(unsigned initial);
void lm_sem_free(lm_sem *s);
/* [task] on: semaphore; by: semaphore. Takes a unit at once when not
 * lm_sem_locked, else awaits one: 0 or LM_ECANCELED. */
int lm_sem_acquire(lm_sem *s);
/* Adds a unit, given at once to the first waiter still waiting. 0, or
 * LM_ERANGE for a bounded semaphore at its bound (asyncio's ValueError) or
 * at UINT_MAX. Callable from any code of the loop's thread. */
int lm_sem_release(lm_sem *s);
/* Units nobody has been given (asyncio's _value). */
unsigned lm_sem_value(const lm_sem *s);
/* asyncio's locked(): 1 when an acquire would wait: no unit left, or
 * anybody in line (parked, or woken and not yet run). */
int lm_sem_locked(const lm_sem *s);

/* ---- conditions (asyncio.Condition) ---- */

/*
 * A condition variable bound to a lock: `lock`, or (NULL) a lock of its own
 * that it frees with it. The creator owns the condition; a lock passed in
 * stays the caller's and must outlive the condition.
 */
lm_cond *lm_cond_new(lm_lock *lock);
void lm_cond_free(lm_cond *c);
lm_lock *lm_cond_lock(lm_cond *c); /* borrowed */
/* The lock's acquire / release / locked (asyncio's `async with cond`). */
int lm_cond_acquire(lm_cond *c);
int lm_cond_release(lm_cond *c);
int lm_cond_locked(const lm_cond *c);
/*
 * [task] Releases the lock, awaits a notify (on: condition; by: condition),
 * then takes the lock back (on: lock) before returning, whatever happened.
 * 0 when notified; LM_ECANCELED when cancelled (the lock is held again
 * then too, and a notification this waiter had received goes to the next
 * waiter); LM_ESTATE when the lock is not locked; LM_ECLOSED when the
 * condition was freed meanwhile (the lock is not taken back then).
 */
int lm_cond_wait(lm_cond *c);
/* A predicate: > 0 when it holds, 0 when not, < 0 an error to pass on. */
typedef int (*lm_cond_pred)(void *arg);
/* [task] asyncio's wait_for: returns pred's value once it is not 0 (at once,
 * without needing the lock, if it already holds), else waits and re-checks
 * after each notify; lm_cond_wait's errors. */
int lm_cond_wait_for(lm_cond *c, lm_cond_pred pred, void *arg);
/* Wakes up to n / every waiter still waiting, in arrival order; they run
 * once they have the lock again. LM_ESTATE when the lock is not locked. */
int lm_cond_notify(lm_cond *c, size_t n);
int lm_cond_notify_all(lm_cond *c);

/* ---- barriers (asyncio.Barrier) ---- */

typedef enum lm_barrier_phase {
    LM_BARRIER_FILLING = 0, /* waiting for parties to arrive */
    LM_BARRIER_DRAINING,    /* released: the parties are leaving */
    LM_BARRIER_RESETTING,   /* reset while tasks were inside */
    LM_BARRIER_BROKEN       /* aborted */
} lm_barrier_phase;

/* A barrier for `parties` tasks; NULL when parties is 0 (asyncio's
 * ValueError) or above INT_MAX, or out of memory. Owned by the creator. */
lm_barrier *lm_barrier_new(unsigned parties);
void lm_barrier_free(lm_barrier *b);
/*
 * [task] on: barrier; by: barrier. Waits until `parties` tasks are waiting,
 * then all of them return their arrival index (0 .. parties-1; the last to
 * arrive releases the others). Tasks arriving while the barrier drains or
 * resets wait for that to end first. LM_EBROKEN when the barrier is or gets
 * broken (abort) or is reset while waiting; LM_ECANCELED.
 */
int lm_barrier_wait(lm_barrier *b);
/* Back to filling; tasks inside get LM_EBROKEN. asyncio's reset() and
 * abort() are coroutines that never suspend: here they are plain calls. */
void lm_barrier_reset(lm_barrier *b);
/* Breaks the barrier: every wait, now and later, returns LM_EBROKEN. */
void lm_barrier_abort(lm_barrier *b);
unsigned lm_barrier_parties(const lm_barrier *b);
unsigned lm_barrier_n_waiting(const lm_barrier *b); /* while filling */
int lm_barrier_broken(const lm_barrier *b);
int lm_barrier_state(const lm_barrier *b);          /* an lm_barrier_phase */

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

/*
 * Names what fd is to a reader ("slow server", "client 3"): every later
 * await on fd carries it in the trace, and the diagrams say "read from slow
 * server" instead of "fd 8". The string is copied; NULL or "" clears it.
 * The label stays with the fd number until changed or the loop is freed.
 * Returns 0, LM_EINVAL (fd < 0), LM_ENOMEM or LM_ENOTASK.
 */
int lm_fd_label(int fd, const char *label);

/* Non-blocking socket helpers. They set O_NONBLOCK and close-on-exec on the
 * sockets they make, suspend the task instead of blocking, and return a
 * negative LM_E* code on failure (errno is kept for LM_ESYS). Connected
 * sockets (lm_accept, lm_tcp_connect) also get TCP_INQ, so that lm_read
 * learns for free when nothing is left to read; a recvmsg of your own on
 * them receives a TCP_CM_INQ control message too. */

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

/*
 * Binary traces. A path ending in ".lmt" (or LOOPMAID_TRACE_FORMAT=binary
 * for LOOPMAID_TRACE) makes the tracer write a compact binary spill instead
 * of YAML: far less work per event for its writer thread. The converter
 * turns it into the very YAML the run would have written (docs/trace-format.md,
 * section 14).
 */

/* True when data starts a binary trace (its first 8 bytes). */
bool lm_trace_is_binary(const void *data, size_t len);
typedef struct lm_convert_error { int code; uint64_t offset; char msg[120]; } lm_convert_error;
/* Converts the binary trace read from in_fd to the YAML the same run would have written as YAML,
 * written to out. 0, or a negative LM_E* code with err (may be NULL) filled in: offset is the byte
 * offset of the bad or truncated chunk; everything before it has been written. Bounded memory
 * whatever the input (a chunk length or string count from a hostile file must not allocate
 * gigabytes: cap it and fail cleanly). */
int lm_trace_convert(int in_fd, FILE *out, lm_convert_error *err);

#ifdef __cplusplus
}
#endif
#endif /* LOOPMAID_H */

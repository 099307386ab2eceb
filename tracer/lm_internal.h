/*
 * lm_internal.h: what the tracer's modules share and users never see.
 * Never installed. Internal, non-static names carry the `lm__` prefix.
 *
 * The contract between modules:
 *  - loop.c / task.c own the loop and task structs, the ready queue, timers,
 *    the poller, the context switch, and the ONE state-transition function
 *    lm__transition(), which also calls the trace hook.
 *  - sync.c (futures, events, queues, locks, semaphores) and group.c (join,
 *    shield, gather, wait, task groups, wait_for, timeout scopes) are written
 *    only against lm__park()/lm__park_passing()/lm__wake()/lm__cancel(), the
 *    waiters' `ended` callbacks and the intrusive lists below.
 *  - trace.c implements the lm__tr_* hooks; the runtime calls them only
 *    through LM__TRACE(), which costs one predictable branch when off.
 */
#ifndef LM_INTERNAL_H
#define LM_INTERNAL_H

#include "loopmaid.h"
#include "lm_vocab.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Everything declared below is internal to libloopmaid: hidden, so the
 * shared library neither exports it nor calls it through the PLT, and (with
 * -fPIC) the compiler may inline it within a file, which it must not do for
 * a symbol that could be interposed. Tests link the static archive, where
 * visibility does not restrict linking. */
#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility push(hidden)
#endif

#define LM__LIKELY(x) __builtin_expect(!!(x), 1)
#define LM__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LM__CONTAINER_OF(ptr, type, member)                                    \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ------------------------------------------------------------------------ */
/* Intrusive doubly linked list (circular, with a sentinel head).            */
/* Nothing here allocates; a node is in at most one list at a time.         */
/* ------------------------------------------------------------------------ */

typedef struct lm__list {
    struct lm__list *next, *prev;
} lm__list;

static inline void lm__list_init(lm__list *h) { h->next = h->prev = h; }
static inline bool lm__list_empty(const lm__list *h) { return h->next == h; }
/* A node that was initialised (or removed) and is in no list. */
static inline bool lm__list_unlinked(const lm__list *n) { return n->next == n; }
static inline void lm__list_push_back(lm__list *h, lm__list *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
static inline void lm__list_remove(lm__list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}
static inline lm__list *lm__list_pop_front(lm__list *h)
{
    lm__list *n = h->next;
    if (n == h)
        return NULL;
    lm__list_remove(n);
    return n;
}

/* ------------------------------------------------------------------------ */
/* Trace vocabulary: the enums the record stores. The spellings, and so the  */
/* order, come from tracer/lm_vocab.h, which the reader shares.              */
/* ------------------------------------------------------------------------ */

/* What a task awaits (`on:` of a running -> awaiting transition). */
typedef enum lm__on {
    LM__ON_NONE = 0,
#define LM__X(id, tok) LM__ON_##id,
    LM_VOCAB_ON(LM__X)
#undef LM__X
    LM__ON__COUNT
} lm__on;

/* What made a task pending again (`by:`). */
typedef enum lm__by {
    LM__BY_NONE = 0,
#define LM__X(id, tok) LM__BY_##id,
    LM_VOCAB_BY(LM__X)
#undef LM__X
    LM__BY__COUNT
} lm__by;

/* Why a task was cancelled (`reason:` of a cancel event). */
typedef enum lm__cancel_reason {
#define LM__X(id, tok) LM__CANCEL_##id,
    LM_VOCAB_REASON(LM__X)
#undef LM__X
    LM__CANCEL__COUNT
} lm__cancel_reason;

/* Group kinds (`kind:` of a group event). */
typedef enum lm__group_kind {
#define LM__X(id, tok) LM__GROUP_##id,
    LM_VOCAB_GROUP_KIND(LM__X)
#undef LM__X
    LM__GROUP__COUNT
} lm__group_kind;

/* The reason attached to a state transition; zero-initialise and fill in
 * what applies. label is borrowed for the duration of the call only. */
typedef struct lm__reason {
    uint8_t on;          /* lm__on, for -> awaiting */
    uint8_t by;          /* lm__by, for -> pending / -> cancelled */
    uint8_t dir;         /* LM_READABLE / LM_WRITABLE, with on = io */
    int fd;              /* with on = io; -1 otherwise */
    uint64_t task;       /* the awaited task (on = task) or the waker (by) */
    uint32_t group;      /* the group awaited (on = gather, wait, ...) */
    const char *label;   /* free text, e.g. "gather(A, B, C)"; may be NULL */
    int error;           /* the code, for -> failed */
    const char *message; /* lm_fail message, for -> failed; may be NULL */
} lm__reason;

/* ------------------------------------------------------------------------ */
/* The task and the loop. loop.c / task.c own these and may add fields.      */
/* ------------------------------------------------------------------------ */

typedef struct lm__trace lm__trace; /* trace.c */
typedef struct lm__ctx lm__ctx;     /* coro.c: saved registers */

typedef struct lm__heap_node {
    struct lm__heap_node *left, *right, *parent;
} lm__heap_node;

/* A timer in the loop's min-heap (timer.c). Ordered by (due, seq): seq is the
 * loop's insertion counter, so timers due at the same time fire in the order
 * they were armed. Arming and disarming allocate nothing: O(log n). */
typedef struct lm__timer {
    lm__heap_node node;
    lm_time due;          /* absolute loop time */
    uint64_t seq;         /* insertion order, breaks ties */
    uint8_t kind;         /* LM__TIMER_TASK or LM__TIMER_HANDLE */
    bool armed;
    bool in_fifo;         /* armed in the loop's sorted FIFO, not the heap */
} lm__timer;

enum { LM__TIMER_TASK = 1, LM__TIMER_HANDLE = 2 };

struct lm_task {
    /* Small fields share words: 248 bytes, and the first name follows in the
     * same calloc (lm_task_new), so "task-12" still fits a 272-byte chunk. */
    lm_loop *loop;
    uint64_t id;
    uint64_t parent_id;
    char *name;
    lm_state state;
    int error;            /* final code once finished */
    lm_coro_fn fn;
    void *arg;
    void *result;
    char *error_message;  /* from lm_fail; owned */
    int refs;             /* the loop holds one while alive */
    uint32_t ncancel;     /* cancellation requests not withdrawn (asyncio's
                             cancelling()); lm_uncancel counts it down */
    bool started;         /* has run at least once */
    uint8_t cancel_reason;
    bool cancel_pending;  /* requested and not yet delivered at an await */
    bool in_ready;        /* linked in loop->ready */
    uint64_t cancel_by;   /* task id that asked, 0 = loop */
    int wake_status;      /* what lm__park returns */
    lm__list ready_node;  /* in loop->ready */
    lm__list wait_node;   /* in at most one primitive's waiter list */
    lm__list all_node;    /* in loop->tasks */
    lm__list joiners;     /* lm__waiter nodes of tasks joining this one. When
                             the task ends, task.c unlinks every waiter (so
                             lm__list_unlinked(&w->node) becomes true) and
                             calls w->ended (or, without one, lm__wake(
                             w->task, LM__BY_TASK, t->id, 0)); the waker
                             owns nothing, the waiter's memory stays the
                             caller's. */
    void *coro;           /* coro.c: context + stack (NULL until first run) */
    /* timer used by lm__park deadlines and sleeps */
    lm__timer timer;
    /* While parked in an await that passes cancellation on (lm_join,
     * gather, wait_for): called by lm__cancel instead of waking the task. */
    struct lm__pass_on {
        bool (*fn)(lm_task *self, void *ctx, uint8_t reason);
        void *ctx;
    } pass_on;
    uint64_t ready_seq;   /* loop order stamp when it became ready */
};

/* A task waiting on something, when the primitive needs more than wait_node
 * (e.g. a task joining several others). */
typedef struct lm__waiter lm__waiter;
struct lm__waiter {
    lm__list node;
    lm_task *task;
    /* NULL (the joined task's end wakes `task`, by: task), or what to do
     * instead: gather, wait, wait_for and task groups decide there whether
     * their condition is met, so the waiting task is woken once, when it
     * is, not once per member that ends. Called on the loop's thread with
     * `ended` already in its final state and w unlinked; it may wake and
     * cancel tasks but must not park. */
    void (*ended)(lm__waiter *w, lm_task *ended);
    void *ctx; /* for `ended` */
};

/* ------------------------------------------------------------------------ */
/* Runtime services (loop.c / task.c)                                        */
/* ------------------------------------------------------------------------ */

/*
 * THE state-transition function: every change of t->state goes through it,
 * and it calls the trace hook with the reason. r may be NULL.
 */
void lm__transition(lm_task *t, lm_state to, const lm__reason *r);

/*
 * Suspends the current task at an await point: running -> awaiting (with the
 * reason in w, on/label/fd/dir/task/group), switches to the loop, and returns
 * when the task runs again. Returns:
 *  - the status given to lm__wake() (usually 0),
 *  - LM_ETIMEDOUT if `deadline` (absolute loop time; negative = none) passed
 *    first (by: timer),
 *  - LM_ECANCELED if the task was cancelled (by: cancel); a cancellation that
 *    was requested before the call makes it return at once without parking.
 * The caller links the task into its own waiter list before parking and must
 * unlink it when the return is LM_ETIMEDOUT or LM_ECANCELED (lm__wake has not
 * done so). Must be called from inside a task.
 */
int lm__park(const lm__reason *w, lm_time deadline);

/*
 * lm__park for an await that passes cancellation on to what it awaits, as
 * `await task` and `await gather(...)` do in asyncio. While the task is
 * parked, a cancellation calls pass(self, ctx, reason) instead of waking
 * it; when pass returns true the cancellation went on to the awaited tasks
 * and the task stays parked until they end (its request counts, as
 * cancelling() does, but is not pending any more). When it returns false the
 * task is woken with LM_ECANCELED as usual. A cancellation already pending
 * when the call is made is offered to pass the same way before parking.
 */
typedef bool (*lm__pass_fn)(lm_task *self, void *ctx, uint8_t reason);
int lm__park_passing(const lm__reason *w, lm_time deadline, lm__pass_fn pass,
                     void *ctx);

/*
 * Makes an awaiting task pending again (by = lm__by, by_task = the waker's
 * id or 0) with lm__park returning `status`. Waking a task that is not
 * awaiting does nothing. Callable from any code on the loop's thread.
 */
void lm__wake(lm_task *t, uint8_t by, uint64_t by_task, int status);

/* Cancel with a reason, for group.c (timeouts, group failures): what
 * lm_cancel returns (1: requested, 0: t had finished). by = 0: the loop. */
int lm__cancel(lm_task *t, uint8_t reason, uint64_t by);

/* The thread's current loop, or NULL; defined in loop.c, the only file that
 * sets it: lm_loop_new makes a thread's first loop current, lm_loop_run its
 * loop while it runs (restoring the previous one after), lm_loop_free
 * clears it. Everything else reads it through lm__loop(). */
extern _Thread_local lm_loop *lm__tl_loop;
static inline lm_loop *lm__loop(void) { return lm__tl_loop; }

/* The current task or NULL (thread-local, through lm__loop()). */
lm_task *lm__current(void);

/* A new group id for traces (1, 2, 3, ... per loop). */
uint32_t lm__group_id(lm_loop *loop);

/* Time stamp for a trace event: virtual now, or the monotonic clock. */
lm_time lm__loop_stamp(const lm_loop *loop);
/* Marks h as the runtime's own deadline of task `id` (wait_for, timeout
 * scopes): traced as that task's `timer`, not as a plain callback. */
void lm__handle_deadline_of(lm_handle *h, uint64_t id);
/* The loop's trace, or NULL when tracing is off. */
lm__trace *lm__loop_trace(const lm_loop *loop);
/* Replaces the loop's trace pointer (NULL: tracing off). Only stores it: the
 * caller (trace.c, lm_trace_open/file/close) destroys the previous one. */
void lm__loop_set_trace(lm_loop *loop, lm__trace *tr);
uint32_t lm__loop_id(const lm_loop *loop);
const char *lm__loop_name(const lm_loop *loop);

/* ------------------------------------------------------------------------ */
/* Trace hooks (trace.c). Call them only through LM__TRACE.                  */
/* ------------------------------------------------------------------------ */

/* hook is a whole name, LM__TRACE(loop, lm__tr_spawn, t), so that grep finds
 * every caller of a hook; the trace and the loop are passed first. */
#define LM__TRACE(loop, hook, ...)                                             \
    do {                                                                       \
        lm__trace *lm__tr_ = lm__loop_trace(loop);                             \
        if (LM__UNLIKELY(lm__tr_ != NULL))                                     \
            hook(lm__tr_, (loop), __VA_ARGS__);                                \
    } while (0)

/* Opens the trace named by LOOPMAID_TRACE, if set; 0 or an error. */
int lm__trace_from_env(lm_loop *loop, lm__trace **out);
void lm__trace_destroy(lm__trace *tr); /* flushes, closes, frees */

void lm__tr_loop_start(lm__trace *, lm_loop *, int unused);
void lm__tr_loop_end(lm__trace *, lm_loop *, int unused);
void lm__tr_spawn(lm__trace *, lm_loop *, const lm_task *t);
void lm__tr_state(lm__trace *, lm_loop *, const lm_task *t, lm_state from,
                  lm_state to, const lm__reason *r);
void lm__tr_note(lm__trace *, lm_loop *, uint64_t task, const char *text);
void lm__tr_name(lm__trace *, lm_loop *, uint64_t task, const char *name);
/* mode: for gather its flags (LM_GATHER_RETURN_EXCEPTIONS), for wait its
 * lm_wait_mode, 0 otherwise; timeout: ns, negative = none. */
void lm__tr_group(lm__trace *, lm_loop *, uint32_t group, uint8_t kind,
                  uint64_t owner, const uint64_t *members, size_t n, int mode,
                  lm_time timeout, const char *label);
/* outcome: "ok", "failed", "cancelled", "timeout"; done/pending: task ids. */
void lm__tr_group_end(lm__trace *, lm_loop *, uint32_t group,
                      const char *outcome, int error);
void lm__tr_cancel(lm__trace *, lm_loop *, uint64_t task, uint64_t by,
                   uint8_t reason);
void lm__tr_poll(lm__trace *, lm_loop *, lm_time timeout, lm_time waited,
                 int nready);
void lm__tr_io(lm__trace *, lm_loop *, uint64_t task, int fd, int dir);
void lm__tr_timer(lm__trace *, lm_loop *, uint64_t task);
void lm__tr_call(lm__trace *, lm_loop *, const char *label);
/* lm__tr_call(tr, loop, "callback"), for the runtime's plain callbacks. */
void lm__tr_callback(lm__trace *, lm_loop *, int unused);
void lm__tr_tick(lm__trace *, lm_loop *, uint64_t n, uint32_t ran,
                 uint32_t io, uint32_t timers);

#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility pop
#endif

#endif /* LM_INTERNAL_H */

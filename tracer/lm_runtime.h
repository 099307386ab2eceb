/*
 * lm_runtime.h: the loop's private structure and the services loop.c,
 * timer.c, task.c, io.c and pool.c share. Private to the runtime: the other tracer
 * modules (sync.c, group.c, trace.c) use only lm_internal.h.
 */
#ifndef LM_RUNTIME_H
#define LM_RUNTIME_H

#include "lm_coro.h"
#include "lm_internal.h"
#include "lm_trace.h" /* the inline trace hooks of the step and the tick */

#include <pthread.h>
#include <signal.h>

/* Internal, so hidden: why, in lm_internal.h. */
#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility push(hidden)
#endif

/* Inside the runtime the trace check is a field load, not a call: this is
 * the "one predictable branch" LM__TRACE promises. loop.c still defines the
 * function for the other modules. */
#define lm__loop_trace(l) ((l)->trace)

/* ---- the poller contract (poll_epoll.c) --------------------------------- */

/* A backend implements these four calls; the loop uses nothing else. Events
 * are LM_READABLE / LM_WRITABLE; an error or hang-up reports both, so the
 * waiting task wakes and learns what happened from its next system call. */
typedef struct lm__poller lm__poller;
typedef struct lm__poll_event {
    int fd;
    unsigned events;
} lm__poll_event;

lm__poller *lm__poller_new(void);          /* NULL with errno on failure */
void lm__poller_free(lm__poller *p);
/* Changes the interest in fd from `old` to `now` (0 = not registered). */
int lm__poller_set(lm__poller *p, int fd, unsigned old, unsigned now);
/* Waits for at most timeout ns (negative: forever; 0: do not block).
 * Returns the number of events written to out, or -errno. */
int lm__poller_wait(lm__poller *p, lm__poll_event *out, int max, lm_time timeout);

/* ---- handles (plain callbacks) ------------------------------------------ */

enum {
    LM__H_TIMER = 1,  /* waiting in the timer heap */
    LM__H_READY,      /* in the ready queue */
    LM__H_RUNNING     /* its callback is running */
};

struct lm_handle {
    lm_loop *loop;
    lm_callback_fn cb;
    void *arg;
    lm__list ready_node;  /* in loop->ready_handles, or in loop->inbox */
    uint64_t ready_seq;
    lm__timer timer;
    uint8_t state;
    bool cancelled;
    lm__list all_node;    /* in loop->handles while the loop owns it */
    /* Nonzero: the runtime's own deadline of this task (wait_for, timeout
     * scopes), traced as that task's `timer` and not as a plain callback,
     * so a diagram says whose deadline passed instead of "callback". */
    uint64_t deadline_of;
};

/* ---- the fd table -------------------------------------------------------- */

/* Who waits on an fd. One reader and one writer at a time; a second waiter in
 * the same direction gets LM_EBUSY. Indexed by fd, grown on demand (the only
 * allocation on the I/O path, and only for a new highest fd). */
typedef struct lm__fdw {
    lm_task *reader;
    lm_task *writer;
    unsigned registered;  /* interest the poller has now */
    unsigned ready;       /* readiness found by the current poll */
    char *label;          /* lm_fd_label's words, owned; NULL: none */
    bool inq;             /* a socket of ours with TCP_INQ on: each read also
                             says what is left to read (io.c) */
} lm__fdw;

/* ---- thread pool (pool.c) ----------------------------------------------- */

typedef struct lm__work {
    lm__list node;        /* in pool queue, then in loop->done_work */
    lm__list order_node;  /* in loop->offload_order until collected (loop
                             thread only): submission order */
    uint64_t seq;         /* submission number, per loop */
    lm_work_fn fn;
    void *arg;
    void *result;
    lm_task *task;        /* the waiting task; NULL once it stopped waiting */
    const char *label;
    bool done;            /* collected by the loop (loop thread only) */
} lm__work;

/* ---- the loop ----------------------------------------------------------- */

struct lm_loop {
    uint32_t id;
    char *name;
    lm_clock_kind clock;
    lm_time now;              /* cached loop time, ns since start */
    int64_t mono_start;       /* CLOCK_MONOTONIC at creation, ns */
    lm__trace *trace;

    lm__coro_sched sched;
    lm_task *current;

    /* Ready queues: tasks and callbacks run in one FIFO order given by
     * ready_seq (a task and a handle never share a stamp). */
    lm__list ready_tasks;
    lm__list ready_handles;
    uint64_t ready_seq;
    size_t nready;
    /* The tick's RUN phase (loop.c): it takes what was ready before
     * ready_seq reached tick_limit; tick_ran counts what it ran so far. */
    uint64_t tick_limit;
    uint32_t tick_ran;

    /* Timer min-heap (intrusive, pointer based: arming never allocates). */
    lm__heap_node *timer_min;
    size_t ntimers;           /* timers in the heap (not the FIFO) */
    uint64_t timer_seq;
    /* Timers armed in (due, seq) order, e.g. many sleeps of one duration,
     * skip the heap: they go on this list, sorted because each is appended
     * only when due no earlier than the tail (linked through node.right /
     * node.left). Arm, disarm and fire are then O(1) with no pointer
     * chasing down a deep heap; the next timer is the earlier of the two
     * heads, so the firing order is exactly the heap-only order. */
    lm__heap_node *fifo_head, *fifo_tail;

    lm__list tasks;           /* every task not yet freed, creation order */
    lm__list handles;         /* every handle the loop owns */
    uint64_t next_task_id;
    uint32_t next_group_id;

    /* I/O */
    lm__poller *poller;
    lm__fdw *fds;
    int fds_cap;
    int io_waiters;           /* tasks waiting on an fd */
    /* The read-after-write hint (io.c): in task step quiet_step, a read of
     * quiet_fd left its receive queue empty, and (quiet_written) a write to
     * quiet_fd followed. Step 0 never runs, so zeroed means none. */
    uint64_t quiet_step;
    int quiet_fd;
    bool quiet_written;
    int efd;                  /* eventfd: threads wake the loop through it */

    /* Cross-thread traffic, under `mu`: callbacks from other threads and
     * finished offloaded work. */
    pthread_mutex_t mu;
    lm__list inbox;
    lm__list done_work;
    bool efd_signalled;       /* an eventfd write is outstanding (under mu) */

    /* Thread pool (pool.c); the queue is under `mu` as well. */
    pthread_cond_t work_cv;
    lm__list work_queue;
    pthread_t *threads;
    int nthreads;
    int threads_wanted;
    bool pool_stop;
    int offloads;             /* offloaded works not yet collected */
    /* Virtual clock only: completions are collected all at once, in
     * submission order (lm__pool_collect_all), never as threads finish. */
    lm__list offload_order;   /* uncollected works, submission order (loop thread) */
    uint64_t offload_seq;
    int works_finished;       /* works in done_work (under mu) */
    bool collector_waiting;   /* the loop waits on done_cv (under mu) */
    pthread_cond_t done_cv;   /* a work finished while collector_waiting */

    /* Signals: SIGINT/SIGTERM cancel the main task during lm_loop_run. */
    bool handle_signals;
    bool signals_installed;
    struct sigaction old_sigint, old_sigterm;
    int sig_fd;               /* eventfd written by the signal handler */

    lm_task *main;
    bool running;
    bool main_done;
    bool shutting_down;
    lm_loop *prev_current;    /* the thread's current loop before run */
    lm_loop_stats stats;
};

/* ---- services ----------------------------------------------------------- */

/* Timers (timer.c). O(log n) (O(1) for timers armed in order), never
 * allocate. Arming an armed timer moves it; disarming a disarmed one does
 * nothing. */
void lm__timer_arm(lm_loop *loop, lm__timer *tm, lm_time due, uint8_t kind);
void lm__timer_disarm(lm_loop *loop, lm__timer *tm);

/* The timer a heap or FIFO node belongs to. */
static inline lm__timer *lm__timer_of(lm__heap_node *n)
{
    return LM__CONTAINER_OF(n, lm__timer, node);
}

/* Whether a fires before b: (due, seq) order, seq breaking ties. */
static inline bool lm__timer_less(lm__heap_node *a, lm__heap_node *b)
{
    lm__timer *x = lm__timer_of(a), *y = lm__timer_of(b);
    return x->due < y->due || (x->due == y->due && x->seq < y->seq);
}

/* The next timer to fire: the earlier of the heap's root and the FIFO's
 * head, or NULL when none is armed. O(1); inline because the loop asks
 * several times per tick. */
static inline lm__timer *lm__timer_first(const lm_loop *loop)
{
    lm__heap_node *h = loop->timer_min, *f = loop->fifo_head;
    if (f == NULL)
        return h != NULL ? lm__timer_of(h) : NULL;
    if (h == NULL || lm__timer_less(f, h))
        return lm__timer_of(f);
    return lm__timer_of(h);
}

/* Reads the clock into loop->now (monotonic loops) and returns it. */
lm_time lm__loop_refresh(lm_loop *loop);

/* Makes t runnable at the end of the ready queue (it must be pending).
 * Inline: every wake and yield ends here. */
static inline void lm__ready_task(lm_loop *loop, lm_task *t)
{
    t->ready_seq = loop->ready_seq++;
    t->in_ready = true;
    lm__list_push_back(&loop->ready_tasks, &t->ready_node);
    loop->nready++;
}
/* Hands the loop a callback that arrived from another thread (pool.c
 * drains the inbox into it): the loop owns h from now on and runs it, in
 * ready order, like one of lm_call_soon's. */
void lm__loop_adopt_handle(lm_loop *loop, lm_handle *h);

/* The once-per-task parts of lm__task_step (task.c): the first step (false:
 * t ended without running, cancelled while pending or given no stack) and
 * the end of a task after its last step. */
bool lm__task_first_step(lm_loop *loop, lm_task *t);
void lm__task_finish(lm_loop *loop, lm_task *t);

/* lm__transition(t, LM_STATE_RUNNING, NULL): for lm__task_step, where it
 * only reports the illegal transition. */
void lm__transition_running(lm_task *t);

/* t, pending and past its first step, becomes running and current: the
 * loop's side of a step up to the switch. One store, plus the inline state
 * hook when traced. */
static inline __attribute__((always_inline)) void lm__task_enter(lm_loop *loop,
                                                                 lm_task *t)
{
    t->state = LM_STATE_RUNNING;
    LM__TRACE(loop, lm__tr_state_hot, t, LM_STATE_PENDING, LM_STATE_RUNNING, NULL);
    loop->current = t;
    loop->stats.steps++;
}

/* Runs one step of t (loop.c calls it for each ready task). Inline, and
 * inlined into the tick: the loop's side of a context switch then returns
 * straight into the loop, one frame fewer under every switch (each frame
 * costs a mispredicted return, see lm_coro.h). Only pending may become
 * running (the transition table's rule), so anything else goes to
 * lm__transition_running, which reports it. The task that comes back is
 * not always t: t may have handed the loop on to another task
 * (lm__loop_handoff), so the loop learns it from loop->current. */
static inline __attribute__((always_inline)) void lm__task_step(lm_loop *loop,
                                                                lm_task *t)
{
    if (LM__UNLIKELY(t->coro == NULL)) {
        if (!lm__task_first_step(loop, t))
            return;
        loop->current = t;
        loop->stats.steps++;
    } else if (LM__UNLIKELY(t->state != LM_STATE_PENDING)) {
        lm__transition_running(t);
        loop->current = t;
        loop->stats.steps++;
    } else {
        lm__task_enter(loop, t);
    }
    lm__coro_resume(&loop->sched, (lm__coro *)t->coro);
    lm_task *back = loop->current;
    loop->current = NULL;
    /* lm_task_finished, spelled as one compare: done, failed and cancelled
     * are the last three states of lm_state. */
    if (back->state >= LM_STATE_DONE)
        lm__task_finish(loop, back);
}

/* Called by a task that has just parked or yielded, on its own stack: the
 * task to switch to directly, made running and current, or NULL to switch
 * back to the loop (loop.c, which says when). */
lm_task *lm__loop_handoff(lm_loop *loop);

/* Leaves the running task self, which has just parked or yielded: straight
 * to the next task when lm__loop_handoff finds one, else to the loop. */
static inline __attribute__((always_inline)) void lm__task_leave(lm_loop *loop,
                                                                 lm_task *self)
{
    lm_task *next = lm__loop_handoff(loop);
    if (next == NULL)
        lm__coro_suspend(&loop->sched);
    else if (next != self)
        lm__coro_transfer(&loop->sched, (lm__coro *)next->coro);
}
/* A timer of t fired (task.c). */
void lm__task_timer_fired(lm_loop *loop, lm_task *t);
/* Frees a task regardless of references (lm_loop_free). */
void lm__task_destroy(lm_task *t);
/* Cancels every task still alive with reason shutdown, in creation order. */
void lm__cancel_all(lm_loop *loop, uint8_t reason);

/* The fd table (io.c). */
void lm__io_ready(lm_loop *loop, int fd, unsigned events);
void lm__io_free(lm_loop *loop);

/* Eventfd traffic (pool.c): wakes the loop / drains the inbox and the
 * finished work. */
void lm__loop_wakeup(lm_loop *loop);
void lm__loop_drain(lm_loop *loop);
/* Virtual clock, idle loop: blocks (real time) until every outstanding
 * offload has finished, then wakes their tasks in submission order. */
void lm__pool_collect_all(lm_loop *loop);
void lm__pool_stop(lm_loop *loop);


#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility pop
#endif

#endif /* LM_RUNTIME_H */

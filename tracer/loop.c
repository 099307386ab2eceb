/*
 * loop.c: the event loop: clocks, the ready queues, the tick, plain
 * callbacks, shutdown, and the signal handling of lm_loop_run. The timers
 * it fires are timer.c's.
 *
 * ONE TICK, always in this order (seed 000, "Event Loop Internals"):
 *
 *   1. RUN    Every task and callback that was ready when the tick began
 *             runs, one at a time, in the order it became ready (one FIFO
 *             for both). Work made ready meanwhile waits for the next tick,
 *             so a task that keeps yielding cannot starve I/O or timers.
 *   2. POLL   Ask the poller for I/O readiness. It blocks only as long as
 *             the nearest timer allows, and not at all when anything is
 *             ready.
 *   3. WAKE   Tasks whose fd became ready move to the ready queue (by: io);
 *             the eventfd hands over callbacks from other threads and
 *             finished thread-pool work; a signal cancels the main task.
 *   4. TIMERS Every timer due by now fires, earliest first, ties in the
 *             order they were armed: sleeping tasks become ready
 *             (by: timer), call_later callbacks join the ready queue.
 *
 * Under the virtual clock (LM_CLOCK_VIRTUAL) nothing waits in real time
 * for virtual time to pass. An idle tick (nothing ready) polls with timeout
 * 0; I/O found there is processed as usual. If it made nothing ready:
 *   - with thread-pool offloads outstanding, the loop blocks (real time)
 *     until EVERY one has finished and then wakes their tasks in submission
 *     order. Offloaded work thus takes zero virtual time and completes in
 *     submission order whatever the threads did; time never jumps while an
 *     offload is outstanding, and while tasks are ready finished offloads
 *     stay queued (no eventfd traffic for them either).
 *   - else, with a timer, time jumps straight to the nearest one;
 *   - only with no timer and no offload does the poll block (-1): then only
 *     I/O or another thread can make progress.
 * So loopback I/O within one process and offloads give the same trace on
 * every run.
 *
 * Each phase is visible in the trace (state/call, poll, io, timer events)
 * and the tick ends with one `tick` event carrying the counts.
 *
 * WHO RUNS IT. The loop runs the tick on its own stack, but a task that
 * parks or yields does not always switch back to it: lm__loop_handoff does
 * the loop's next bookkeeping on the task's stack (the next step of the RUN
 * phase, and a tick's end and the next tick's start when no poll is due)
 * and switches straight to the next task, one switch per step instead of
 * two. It runs the same functions in the same order, so nothing a program
 * or a trace can see changes; it stops, and goes back to the loop, at
 * anything that is not bookkeeping (a callback, a first step, a poll).
 */
#include "lm_runtime.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* The thread's current loop: declared, with its reader lm__loop(), in
 * lm_internal.h; only this file sets it. */
_Thread_local lm_loop *lm__tl_loop;

static atomic_uint loop_ids;

/* ---- clocks ------------------------------------------------------------- */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void update_time(lm_loop *loop)
{
    if (loop->clock == LM_CLOCK_MONOTONIC)
        loop->now = mono_ns() - loop->mono_start;
}

lm_time lm__loop_refresh(lm_loop *loop)
{
    update_time(loop);
    return loop->now;
}

lm_time lm_loop_now(const lm_loop *loop) { return loop != NULL ? loop->now : 0; }

lm_time lm_now(void)
{
    lm_loop *l = lm__tl_loop;
    return l != NULL ? lm__loop_refresh(l) : 0;
}

lm_clock_kind lm_loop_clock(const lm_loop *loop) { return loop->clock; }

lm_time lm__loop_stamp(const lm_loop *loop)
{
    if (loop->clock == LM_CLOCK_VIRTUAL)
        return loop->now;
    return mono_ns() - loop->mono_start;
}

/* The real functions behind the macro in lm_runtime.h, for other modules. */
lm__trace *(lm__loop_trace)(const lm_loop *loop) { return loop->trace; }
void lm__loop_set_trace(lm_loop *loop, lm__trace *tr) { loop->trace = tr; }
uint32_t lm__loop_id(const lm_loop *loop) { return loop->id; }
const char *lm__loop_name(const lm_loop *loop) { return loop->name; }
uint32_t lm__group_id(lm_loop *loop) { return ++loop->next_group_id; }
lm_loop *lm_loop_current(void) { return lm__tl_loop; }

int lm_loop_set_name(lm_loop *loop, const char *name)
{
    if (loop == NULL || name == NULL)
        return LM_EINVAL;
    size_t n = strlen(name) + 1;
    char *p = malloc(n);
    if (p == NULL)
        return LM_ENOMEM;
    memcpy(p, name, n);
    free(loop->name);
    loop->name = p;
    /* Task 0 is the loop: a rename shows up in diagrams like a task's. */
    LM__TRACE(loop, lm__tr_name, 0, p);
    return 0;
}

void lm_loop_stats_get(const lm_loop *loop, lm_loop_stats *out)
{
    *out = loop->stats;
}

/* ---- ready queues ------------------------------------------------------- */

static void ready_handle(lm_loop *loop, lm_handle *h)
{
    h->state = LM__H_READY;
    h->ready_seq = loop->ready_seq++;
    lm__list_push_back(&loop->ready_handles, &h->ready_node);
    loop->nready++;
}

/* ---- plain callbacks ---------------------------------------------------- */

/* A handle the loop owns (on its handles list until run or cancelled); NULL
 * for a bad argument or out of memory. */
static lm_handle *handle_new(lm_loop *loop, lm_callback_fn cb, void *arg)
{
    if (loop == NULL || cb == NULL)
        return NULL;
    lm_handle *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->loop = loop;
    h->cb = cb;
    h->arg = arg;
    h->timer.kind = LM__TIMER_HANDLE;
    lm__list_init(&h->ready_node);
    lm__list_push_back(&loop->handles, &h->all_node);
    return h;
}

static void handle_free(lm_handle *h)
{
    lm__list_remove(&h->all_node);
    free(h);
}

lm_handle *lm_call_soon(lm_loop *loop, lm_callback_fn cb, void *arg)
{
    lm_handle *h = handle_new(loop, cb, arg);
    if (h == NULL)
        return NULL;
    ready_handle(loop, h);
    return h;
}

lm_handle *lm_call_later(lm_loop *loop, lm_time delay, lm_callback_fn cb,
                         void *arg)
{
    lm_handle *h = handle_new(loop, cb, arg);
    if (h == NULL)
        return NULL;
    h->state = LM__H_TIMER;
    lm__timer_arm(loop, &h->timer, lm__loop_refresh(loop) + (delay > 0 ? delay : 0),
                  LM__TIMER_HANDLE);
    return h;
}

void lm_handle_cancel(lm_handle *h)
{
    if (h == NULL || h->cancelled)
        return;
    lm_loop *loop = h->loop;
    switch (h->state) {
    case LM__H_TIMER:
        lm__timer_disarm(loop, &h->timer);
        handle_free(h);
        break;
    case LM__H_READY:
        lm__list_remove(&h->ready_node);
        loop->nready--;
        handle_free(h);
        break;
    default:
        /* Running: it is freed when its callback returns. */
        h->cancelled = true;
        break;
    }
}

void lm__handle_deadline_of(lm_handle *h, uint64_t id)
{
    h->deadline_of = id;
}

static void run_handle(lm_loop *loop, lm_handle *h)
{
    h->state = LM__H_RUNNING;
    loop->stats.callbacks++;
    if (h->deadline_of == 0)
        LM__TRACE(loop, lm__tr_callback, 0);
    h->cb(h->arg);
    handle_free(h);
}

void lm__loop_adopt_handle(lm_loop *loop, lm_handle *h)
{
    lm__list_push_back(&loop->handles, &h->all_node);
    ready_handle(loop, h);
}

/* ---- signals ------------------------------------------------------------ */

/* The eventfd of the one loop that handles SIGINT/SIGTERM now (-1: none).
 * A signal handler can only reach process-wide state, hence the global. */
static atomic_int sig_target = -1;

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    int fd = atomic_load(&sig_target);
    if (fd >= 0) {
        uint64_t one = 1;
        ssize_t r = write(fd, &one, sizeof one);
        (void)r;
    }
    errno = saved;
}

static void signals_install(lm_loop *loop)
{
    if (!loop->handle_signals)
        return;
    if (loop->sig_fd < 0) {
        loop->sig_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (loop->sig_fd < 0)
            return;
        if (lm__poller_set(loop->poller, loop->sig_fd, 0, LM_READABLE) != 0) {
            close(loop->sig_fd);
            loop->sig_fd = -1;
            return;
        }
    }
    int expected = -1;
    if (!atomic_compare_exchange_strong(&sig_target, &expected, loop->sig_fd))
        return; /* another loop of this process handles them */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &loop->old_sigint);
    sigaction(SIGTERM, &sa, &loop->old_sigterm);
    loop->signals_installed = true;
}

static void signals_restore(lm_loop *loop)
{
    if (!loop->signals_installed)
        return;
    sigaction(SIGINT, &loop->old_sigint, NULL);
    sigaction(SIGTERM, &loop->old_sigterm, NULL);
    atomic_store(&sig_target, -1);
    loop->signals_installed = false;
}

static void on_sig_fd(lm_loop *loop)
{
    uint64_t v;
    while (read(loop->sig_fd, &v, sizeof v) > 0)
        ;
    if (loop->main != NULL && !loop->main_done)
        lm__cancel(loop->main, LM__CANCEL_SIGNAL, 0);
}

/* ---- the loop ----------------------------------------------------------- */

void lm_loop_options_init(lm_loop_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->clock = LM_CLOCK_DEFAULT;
    opts->handle_signals = 1;
}

lm_loop *lm_loop_new(const lm_loop_options *opts)
{
    lm_loop_options o;
    if (opts != NULL)
        o = *opts;
    else
        lm_loop_options_init(&o);
    lm_loop *loop = calloc(1, sizeof *loop);
    if (loop == NULL)
        return NULL;
    loop->id = atomic_fetch_add(&loop_ids, 1) + 1;
    loop->clock = o.clock;
    if (loop->clock == LM_CLOCK_DEFAULT) {
        /* Unset or empty: monotonic. Anything but the two names is an
         * error, not the default: a typo must not silently lose the
         * reproducible trace the user asked for. */
        const char *e = getenv("LOOPMAID_CLOCK");
        if (e == NULL || *e == '\0' || strcmp(e, "monotonic") == 0) {
            loop->clock = LM_CLOCK_MONOTONIC;
        } else if (strcmp(e, "virtual") == 0) {
            loop->clock = LM_CLOCK_VIRTUAL;
        } else {
            fprintf(stderr, "loopmaid: LOOPMAID_CLOCK=%s: expected virtual or "
                            "monotonic\n", e);
            free(loop);
            errno = EINVAL;
            return NULL;
        }
    }
    if (o.stack_size == 0 && lm__env_stack_size(true) == (size_t)-1) {
        free(loop);
        errno = EINVAL;
        return NULL;
    }
    /* The trace before any descriptor of ours exists: LOOPMAID_TRACE=fd:3
     * must find the program's fd 3, or nothing, never our epoll fd. */
    if (lm__trace_from_env(loop, &loop->trace) != 0) {
        int e = errno; /* reported on stderr, naming the variable */
        free(loop);
        errno = e;
        return NULL;
    }
    loop->efd = -1;
    loop->sig_fd = -1;
    loop->handle_signals = o.handle_signals != 0;
    loop->threads_wanted = o.threads > 0 ? o.threads : 4;
    lm__coro_sched_init(&loop->sched, o.stack_size);
    lm__list_init(&loop->ready_tasks);
    lm__list_init(&loop->ready_handles);
    lm__list_init(&loop->tasks);
    lm__list_init(&loop->handles);
    lm__list_init(&loop->inbox);
    lm__list_init(&loop->done_work);
    lm__list_init(&loop->work_queue);
    lm__list_init(&loop->offload_order);
    pthread_mutex_init(&loop->mu, NULL);
    pthread_cond_init(&loop->work_cv, NULL);
    pthread_cond_init(&loop->done_cv, NULL);
    loop->name = malloc(strlen(o.name != NULL ? o.name : "loop") + 1);
    loop->poller = lm__poller_new();
    loop->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->name == NULL || loop->poller == NULL || loop->efd < 0 ||
        lm__poller_set(loop->poller, loop->efd, 0, LM_READABLE) != 0) {
        int e = errno;
        lm_loop_free(loop);
        errno = e;
        return NULL;
    }
    strcpy(loop->name, o.name != NULL ? o.name : "loop");
    loop->mono_start = mono_ns();
    if (lm__tl_loop == NULL)
        lm__tl_loop = loop;
    return loop;
}

void lm_loop_free(lm_loop *loop)
{
    if (loop == NULL)
        return;
    lm__pool_stop(loop);
    if (loop->trace != NULL) {
        lm__trace_destroy(loop->trace);
        loop->trace = NULL;
    }
    while (!lm__list_empty(&loop->tasks))
        lm__task_destroy(LM__CONTAINER_OF(loop->tasks.next, lm_task, all_node));
    while (!lm__list_empty(&loop->handles))
        handle_free(LM__CONTAINER_OF(loop->handles.next, lm_handle, all_node));
    lm__list *n;
    while ((n = lm__list_pop_front(&loop->inbox)) != NULL)
        free(LM__CONTAINER_OF(n, lm_handle, ready_node));
    while ((n = lm__list_pop_front(&loop->done_work)) != NULL)
        free(LM__CONTAINER_OF(n, lm__work, node));
    lm__io_free(loop);
    if (loop->poller != NULL)
        lm__poller_free(loop->poller);
    if (loop->efd >= 0)
        close(loop->efd);
    if (loop->sig_fd >= 0)
        close(loop->sig_fd);
    lm__coro_sched_destroy(&loop->sched);
    pthread_cond_destroy(&loop->work_cv);
    pthread_cond_destroy(&loop->done_cv);
    pthread_mutex_destroy(&loop->mu);
    if (lm__tl_loop == loop)
        lm__tl_loop = NULL;
    free(loop->name);
    free(loop);
}

/* ---- the tick, in three parts ------------------------------------------- */

/* A tick is split into its start, its RUN phase and its end (POLL, WAKE,
 * TIMERS and the `tick` event), and what the RUN phase has done so far lives
 * in the loop (tick_limit, tick_ran), not in locals of one function, because
 * a tick's boundary may be crossed on a task's stack: lm__loop_handoff
 * below. The loop and the handoff run the very same three functions. */

static inline __attribute__((always_inline)) void tick_begin(lm_loop *loop)
{
    uint64_t tick = ++loop->stats.ticks;
    /* The clock is read once per tick, and only when a timer could be due
     * (or every 64th tick): on some machines a clock read costs more than
     * a whole yield. Deadlines are computed from a fresh reading anyway
     * (lm__loop_refresh in lm_sleep, lm_call_later, lm_wait_fd, lm_now). */
    if (lm__timer_first(loop) != NULL || (tick & 63) == 0)
        update_time(loop);
    /* RUN takes what was ready when the tick began. */
    loop->tick_limit = loop->ready_seq;
    loop->tick_ran = 0;
}

/* The next task (*tp) or callback (*hp) of this tick's RUN phase, still on
 * the ready queue; false when the phase is over. One FIFO order for both
 * kinds: the smaller ready_seq goes first. */
static inline __attribute__((always_inline)) bool tick_next(lm_loop *loop,
                                                           lm_task **tp,
                                                           lm_handle **hp)
{
    lm_task *t = NULL;
    lm_handle *h = NULL;
    if (!lm__list_empty(&loop->ready_tasks)) {
        t = LM__CONTAINER_OF(loop->ready_tasks.next, lm_task, ready_node);
        if (t->ready_seq >= loop->tick_limit)
            t = NULL;
    }
    if (!lm__list_empty(&loop->ready_handles)) {
        h = LM__CONTAINER_OF(loop->ready_handles.next, lm_handle, ready_node);
        if (h->ready_seq >= loop->tick_limit)
            h = NULL;
    }
    if (t != NULL && (h == NULL || t->ready_seq < h->ready_seq)) {
        h = NULL;
    } else if (h != NULL) {
        t = NULL;
    } else {
        return false;
    }
    *tp = t;
    *hp = h;
    return true;
}

/* Takes t, the tick's next, off the ready queue, counting its step. */
static inline void tick_remove_task(lm_loop *loop, lm_task *t)
{
    lm__list_remove(&t->ready_node);
    t->in_ready = false;
    loop->nready--;
    loop->tick_ran++;
}

/* Whether the loop must not block in this tick's poll: something is ready,
 * or it is about to stop (the main task ended and either shutdown has not
 * begun yet or nothing is left alive). */
static inline bool tick_busy(const lm_loop *loop)
{
    return loop->nready > 0 ||
           (loop->main_done &&
            (!loop->shutting_down || loop->stats.tasks_alive == 0));
}

/* Whether this tick's poll is skipped. A busy loop with no fd or
 * thread-pool work outstanding has nothing the poller could report but a
 * thread-safe callback or a signal, so it asks only every 64th tick: a
 * yield round trip then costs no system call. Tracing must not change that
 * under the real clock (it was 57 % of a traced busy loop's CPU,
 * bench/README.md): the skipped polls simply have no `poll` event. Under
 * the virtual clock a traced loop polls every tick, as it always has: every
 * golden trace is virtual and shows a poll in every tick. A skipped poll
 * also means the end of the tick runs no user code and never blocks, which
 * is what lets lm__loop_handoff run it on a task's stack. */
static inline bool tick_quiet(const lm_loop *loop, bool busy)
{
    return busy && (loop->trace == NULL || loop->clock != LM_CLOCK_VIRTUAL) &&
           loop->io_waiters == 0 && loop->offloads == 0 &&
           (loop->stats.ticks & 63) != 0 && !loop->main_done;
}

/* Phase 4 (TIMERS) and the tick's `tick` event: the end of every tick,
 * and all there is to the end of a quiet one (lm__loop_handoff runs it on a
 * task's stack, so it keeps its frame small). */
static inline __attribute__((always_inline)) void tick_close(lm_loop *loop,
                                                            uint32_t nio)
{
    uint32_t nfired = 0;
    lm__timer *tm;
    while ((tm = lm__timer_first(loop)) != NULL && tm->due <= loop->now) {
        lm__timer_disarm(loop, tm);
        nfired++;
        loop->stats.timers_fired++;
        if (tm->kind == LM__TIMER_TASK) {
            lm__task_timer_fired(loop, LM__CONTAINER_OF(tm, lm_task, timer));
        } else {
            lm_handle *h = LM__CONTAINER_OF(tm, lm_handle, timer);
            LM__TRACE(loop, lm__tr_timer, h->deadline_of);
            ready_handle(loop, h);
        }
    }
    LM__TRACE(loop, lm__tr_tick_hot, loop->stats.ticks, loop->tick_ran, nio,
              nfired);
}

/* Phases 2 and 3 of the tick (POLL, WAKE), then tick_close. */
static inline __attribute__((always_inline)) void tick_end(lm_loop *loop)
{
    uint32_t nio = 0;

    /* 2. POLL */
    bool busy = tick_busy(loop);
    lm_time timeout;
    if (busy) {
        timeout = 0;
    } else if (loop->clock == LM_CLOCK_VIRTUAL) {
        /* Virtual time never waits in real time for a timer: look for I/O
         * that is already there, and jump (below) if there is none. Only a
         * loop with no timer and no offload outstanding blocks, since then
         * nothing but I/O or another thread can make progress. */
        timeout = (lm__timer_first(loop) != NULL || loop->offloads > 0) ? 0 : -1;
    } else if (lm__timer_first(loop) != NULL) {
        lm_time due = lm__timer_first(loop)->due;
        timeout = due > loop->now ? due - loop->now : 0;
    } else {
        timeout = -1;
    }
    lm__poll_event ev[64];
    int nev = 0;
    bool skip = tick_quiet(loop, busy);
    if (!skip) {
        lm_time waited = 0;
        if (timeout == 0 || loop->clock != LM_CLOCK_MONOTONIC) {
            nev = lm__poller_wait(loop->poller, ev, 64, timeout);
        } else {
            /* Only a blocking poll is worth two clock reads. */
            int64_t before = mono_ns();
            nev = lm__poller_wait(loop->poller, ev, 64, timeout);
            waited = mono_ns() - before;
            update_time(loop);
        }
        loop->stats.polls++;
        if (nev < 0)
            nev = 0; /* EINTR: a signal; its eventfd reports it next time */
        LM__TRACE(loop, lm__tr_poll, timeout, waited, nev);
    }

    /* 3. WAKE */
    for (int i = 0; i < nev; i++) {
        int fd = ev[i].fd;
        if (fd == loop->efd) {
            lm__loop_drain(loop);
        } else if (fd == loop->sig_fd) {
            on_sig_fd(loop);
        } else {
            uint64_t before_io = loop->stats.io_wakeups;
            lm__io_ready(loop, fd, ev[i].events);
            nio += (uint32_t)(loop->stats.io_wakeups - before_io);
        }
    }
    if (loop->clock == LM_CLOCK_VIRTUAL && !busy && !skip && loop->nready == 0) {
        if (loop->offloads > 0) {
            /* Idle with offloads outstanding: their completions are the
             * next thing to happen, all at once, in submission order; time
             * does not move while any is outstanding. */
            lm__pool_collect_all(loop);
        } else if (lm__timer_first(loop) != NULL) {
            lm_time due = lm__timer_first(loop)->due;
            if (due > loop->now)
                loop->now = due; /* the jump: nothing else can happen first */
        }
    }

    tick_close(loop, nio);
}

/* Runs one tick: the four phases described at the top of this file. Its
 * parts are inlined into lm_loop_run: one frame fewer under every context
 * switch from the loop (each costs a mispredicted return, see lm_coro.h).
 * The RUN phase reads the tick from the loop after every step, since a step
 * may have carried the loop into a later tick (lm__loop_handoff). */
static inline __attribute__((always_inline)) void run_tick(lm_loop *loop)
{
    tick_begin(loop);

    /* 1. RUN: what was ready when the tick began, in FIFO order. */
    lm_task *t;
    lm_handle *h;
    while (tick_next(loop, &t, &h)) {
        if (t != NULL) {
            tick_remove_task(loop, t);
            lm__task_step(loop, t);
        } else {
            lm__list_remove(&h->ready_node);
            loop->nready--;
            loop->tick_ran++;
            run_handle(loop, h);
        }
    }

    tick_end(loop);
}

/*
 * The running task has just parked or yielded, and calls this on its own
 * stack instead of switching back to the loop. It does what the loop would
 * do next, for as long as that is bookkeeping only, and stops where the
 * loop would resume a task: that task is taken off the ready queue, made
 * running and current, and returned, and the caller switches straight to
 * it (or simply goes on, if it is the caller itself: a lone task's yield
 * then costs no switch at all). That is one context switch per step instead
 * of two, so a ping-pong round trip costs two switches instead of four.
 *
 * "Bookkeeping only" means: the next thing of this tick's RUN phase is a
 * task that has run before and is pending; or the RUN phase is over and the
 * end of the tick skips its poll (tick_quiet), so ending it and starting the
 * next one runs no user code and never blocks. Anything else (a callback,
 * a first step, a poll, the end of the main task) returns NULL and the
 * caller switches back to the loop, which carries on from exactly here: the
 * order of everything, and so the trace, is the loop's own.
 */
lm_task *lm__loop_handoff(lm_loop *loop)
{
    lm_task *self = loop->current;
    /* What the loop does when a step ends: the step's task is no longer
     * current (the ticks' own trace events and wakes run with none). */
    loop->current = NULL;
    /* Everything recorded from here to the switch is one burst: it shares
     * the stamp of the park or yield just recorded (lm__trace_tsc). */
    lm__trace *tr = loop->trace;
    if (tr != NULL)
        tr->burst = true;
    for (;;) {
        lm_task *t;
        lm_handle *h;
        if (tick_next(loop, &t, &h)) {
            if (t == NULL || t->coro == NULL || t->state != LM_STATE_PENDING)
                break;
            tick_remove_task(loop, t);
            lm__task_enter(loop, t);
            if (tr != NULL)
                tr->burst = false;
            return t;
        }
        /* A quiet tick's end: no poll, so no I/O to wake (tick_end). */
        if (!tick_quiet(loop, tick_busy(loop)))
            break;
        tick_close(loop, 0);
        tick_begin(loop); /* quiet: the main task runs, no shutdown is due */
    }
    if (tr != NULL)
        tr->burst = false;
    loop->current = self; /* the loop learns from it whose step ended */
    return NULL;
}

int lm_loop_run(lm_loop *loop, const char *name, lm_coro_fn fn, void *arg,
                void **result)
{
    if (loop == NULL || fn == NULL)
        return LM_EINVAL;
    if (loop->running || (lm__tl_loop != NULL && lm__tl_loop->running))
        return LM_EBUSY;
    lm_task *main = lm_task_new(loop, name != NULL ? name : "main", fn, arg);
    if (main == NULL)
        return LM_ENOMEM;
    loop->prev_current = lm__tl_loop;
    lm__tl_loop = loop;
    loop->running = true;
    loop->main_done = false;
    loop->shutting_down = false;
    loop->main = main;
    update_time(loop);
    LM__TRACE(loop, lm__tr_loop_start, 0);
    lm_task_start(main);
    signals_install(loop);

    while (!(loop->shutting_down && loop->stats.tasks_alive == 0)) {
        run_tick(loop);
        if (loop->main_done && !loop->shutting_down) {
            /* Shutdown: the rest is cancelled and runs its cleanup. */
            loop->shutting_down = true;
            lm__cancel_all(loop, LM__CANCEL_SHUTDOWN);
        }
    }

    signals_restore(loop);
    LM__TRACE(loop, lm__tr_loop_end, 0);
    int rc = main->error;
    if (result != NULL)
        *result = main->result;
    loop->main = NULL;
    lm_task_release(main);
    loop->running = false;
    lm__tl_loop = loop->prev_current;
    return rc;
}

int lm_run(const char *name, lm_coro_fn fn, void *arg)
{
    lm_loop *loop = lm_loop_new(NULL);
    if (loop == NULL) /* a bad LOOPMAID_* value: EINVAL, already reported */
        return errno == EINVAL ? LM_EINVAL : errno == ENOMEM ? LM_ENOMEM : LM_ESYS;
    int rc = lm_loop_run(loop, name, fn, arg, NULL);
    lm_loop_free(loop);
    return rc;
}

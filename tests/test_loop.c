/*
 * test_loop.c: the tick, timers, callbacks, clocks, threads, signals.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loopmaid.h"
#include "support/lm_test.h"

static char log_buf[4096];
static size_t log_len;
static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(log_buf + log_len, sizeof log_buf - log_len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof log_buf - log_len)
        log_len += (size_t)n;
}
static void log_reset(void)
{
    log_len = 0;
    log_buf[0] = '\0';
}

/* ---- timers and callbacks ----------------------------------------------- */

static void cb_log(void *arg) { logf_("%s@%lld ", (const char *)arg, (long long)(lm_now() / 1000000)); }

static int timers_main(void *arg)
{
    lm_loop *l = arg;
    lm_call_later(l, LM_MSEC(20), cb_log, "c");
    lm_call_later(l, LM_MSEC(10), cb_log, "a");
    lm_handle *x = lm_call_later(l, LM_MSEC(10), cb_log, "x");
    lm_call_later(l, LM_MSEC(10), cb_log, "b"); /* same due time: after a */
    lm_call_soon(l, cb_log, "soon");
    lm_handle *y = lm_call_soon(l, cb_log, "y");
    lm_handle_cancel(x);
    lm_handle_cancel(y);
    lm_sleep(LM_MSEC(30));
    return 0;
}

Test(loop, call_later_ordering_ties_by_insertion_and_cancel)
{
    log_reset();
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", timers_main, l, NULL), 0);
    cr_assert_str_eq(log_buf, "soon@0 a@10 b@10 c@20 ");
    lm_loop_stats st;
    lm_loop_stats_get(l, &st);
    cr_assert_eq(st.callbacks, 4);
    lm_loop_free(l);
}

static int sleeper(void *arg)
{
    lm_sleep(LM_MSEC(10));
    logf_("%s ", (const char *)arg);
    return 0;
}

static int sleep_ties_main(void *arg)
{
    (void)arg;
    static const char *names[] = {"s1", "s2", "s3", "s4"};
    for (int i = 0; i < 4; i++)
        lm_task_release(lm_spawn(names[i], sleeper, (void *)names[i]));
    lm_sleep(LM_MSEC(20));
    return 0;
}

Test(loop, sleeping_tasks_due_together_wake_in_sleep_order)
{
    log_reset();
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", sleep_ties_main, NULL, NULL), 0);
    cr_assert_str_eq(log_buf, "s1 s2 s3 s4 ");
    lm_loop_free(l);
}

/* Many timers with pseudo-random delays, some cancelled: they must fire
 * sorted by (due time, arming order). Exercises every heap path. */
#define NT 2000
static int fired[NT], nfired;
static lm_time delays[NT];
static void cb_index(void *arg) { fired[nfired++] = (int)(intptr_t)arg; }

static int heap_main(void *arg)
{
    lm_loop *l = arg;
    lm_handle *h[NT];
    uint32_t seed = 12345;
    for (int i = 0; i < NT; i++) {
        seed = seed * 1103515245u + 12345u;
        delays[i] = LM_MSEC((seed >> 16) % 50);
        h[i] = lm_call_later(l, delays[i], cb_index, (void *)(intptr_t)i);
    }
    for (int i = 0; i < NT; i += 3)
        lm_handle_cancel(h[i]);
    lm_sleep(LM_MSEC(100));
    return 0;
}

Test(loop, timer_heap_orders_by_due_then_insertion)
{
    nfired = 0;
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", heap_main, l, NULL), 0);
    int expect = NT - (NT + 2) / 3;
    cr_assert_eq(nfired, expect);
    for (int k = 0; k < nfired; k++) {
        cr_assert_neq(fired[k] % 3, 0, "cancelled timer %d fired", fired[k]);
        if (k > 0) {
            int a = fired[k - 1], b = fired[k];
            cr_assert(delays[a] < delays[b] || (delays[a] == delays[b] && a < b),
                      "timer %d fired before %d", a, b);
        }
    }
    lm_loop_free(l);
}

static int soon_and_tasks_main(void *arg)
{
    lm_loop *l = arg;
    lm_call_soon(l, cb_log, "cb1");
    lm_task_release(lm_spawn("t", sleeper, "never"));
    lm_call_soon(l, cb_log, "cb2");
    lm_yield();
    logf_("main ");
    return 0;
}

Test(loop, callbacks_and_tasks_share_one_fifo)
{
    log_reset();
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", soon_and_tasks_main, l, NULL), 0);
    /* cb1, the task's first step (it goes to sleep), cb2, then main again;
     * at shutdown the sleeper is cancelled at time 0 and logs on its way out. */
    cr_assert_str_eq(log_buf, "cb1@0 cb2@0 main never ");
    cr_assert_eq(lm_loop_now(l), 0);
    lm_loop_free(l);
}

/* ---- clocks ------------------------------------------------------------- */

static int long_sleep_main(void *arg)
{
    (void)arg;
    lm_time t0 = lm_now();
    cr_assert_eq(lm_sleep(LM_SEC(3600)), 0);
    cr_assert_eq(lm_now() - t0, LM_SEC(3600));
    return 0;
}

Test(loop, virtual_clock_jumps_to_the_next_timer)
{
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_clock(l), LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", long_sleep_main, NULL, NULL), 0);
    lm_loop_free(l);
}

Test(loop, clock_from_environment)
{
    setenv("LOOPMAID_CLOCK", "virtual", 1);
    lm_loop *l = lm_loop_new(NULL);
    cr_assert_eq(lm_loop_clock(l), LM_CLOCK_VIRTUAL);
    lm_loop_free(l);
    unsetenv("LOOPMAID_CLOCK");
    l = lm_loop_new(NULL);
    cr_assert_eq(lm_loop_clock(l), LM_CLOCK_MONOTONIC);
    lm_loop_free(l);
}

static int worker(void *arg)
{
    intptr_t k = (intptr_t)arg;
    for (int i = 0; i < 3; i++) {
        lm_sleep(LM_MSEC(k * 3 + i));
        logf_("%ld@%lld ", (long)k, (long long)lm_now());
        if (i == 1)
            lm_yield();
    }
    return 0;
}

static int mixed_main(void *arg)
{
    (void)arg;
    lm_task *t[5];
    for (intptr_t k = 0; k < 5; k++)
        t[k] = lm_spawn(NULL, worker, (void *)k);
    lm_sleep(LM_MSEC(100));
    for (int k = 0; k < 5; k++)
        lm_task_release(t[k]);
    return 0;
}

Test(loop, virtual_clock_gives_identical_runs)
{
    char first[4096];
    log_reset();
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    lm_loop_run(l, "main", mixed_main, NULL, NULL);
    lm_loop_free(l);
    strcpy(first, log_buf);
    cr_assert_gt(strlen(first), 20);
    for (int run = 0; run < 3; run++) {
        log_reset();
        l = lmt_loop(LM_CLOCK_VIRTUAL);
        lm_loop_run(l, "main", mixed_main, NULL, NULL);
        lm_loop_free(l);
        cr_assert_str_eq(log_buf, first);
    }
}

static int real_sleep_main(void *arg)
{
    (void)arg;
    lm_time t0 = lm_now();
    lm_sleep(LM_MSEC(5));
    /* A lower bound only: the real clock must really have advanced. */
    cr_assert_geq(lm_now() - t0, LM_MSEC(5));
    return 0;
}

Test(loop, monotonic_sleep_waits_at_least_its_duration)
{
    lm_loop_options o;
    lm_loop_options_init(&o);
    o.clock = LM_CLOCK_MONOTONIC;
    o.handle_signals = 0;
    lm_loop *l = lm_loop_new(&o);
    cr_assert_eq(lm_loop_run(l, "main", real_sleep_main, NULL, NULL), 0);
    lm_loop_free(l);
}

/* ---- threads ------------------------------------------------------------ */

static pthread_t poster;
static int posted_value;
static void on_posted(void *arg)
{
    posted_value = *(int *)arg;
    cr_assert_eq(pthread_equal(pthread_self(), poster), 0, "must run on the loop thread");
}

static void *post_from_thread(void *arg)
{
    static int v = 77;
    lm_call_soon_threadsafe(arg, on_posted, &v);
    return NULL;
}

static int threadsafe_main(void *arg)
{
    pthread_create(&poster, NULL, post_from_thread, arg);
    /* Awaits with no timer and no I/O: only the eventfd can wake the loop. */
    while (posted_value == 0)
        lm_sleep(LM_MSEC(1));
    pthread_join(poster, NULL);
    return 0;
}

Test(loop, call_soon_threadsafe_from_another_thread)
{
    posted_value = 0;
    lm_loop_options o;
    lm_loop_options_init(&o);
    o.handle_signals = 0;
    lm_loop *l = lm_loop_new(&o);
    cr_assert_eq(lm_loop_run(l, "main", threadsafe_main, l, NULL), 0);
    cr_assert_eq(posted_value, 77);
    lm_loop_free(l);
}

static void *square(void *arg)
{
    long v = (long)(intptr_t)arg;
    return (void *)(intptr_t)(v * v);
}

static int offload_main(void *arg)
{
    (void)arg;
    void *r = NULL;
    cr_assert_eq(lm_offload("square", square, (void *)(intptr_t)12, &r), 0);
    cr_assert_eq((intptr_t)r, 144);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(lm_offload(NULL, square, (void *)(intptr_t)i, &r), 0);
        cr_assert_eq((intptr_t)r, i * i);
    }
    return 0;
}

Test(loop, offload_result)
{
    cr_assert_eq(lmt_run(offload_main, NULL), 0);
}

static void *slow(void *arg)
{
    usleep(20000);
    return arg;
}

static int offload_cancelled(void *arg)
{
    (void)arg;
    return lm_offload("slow", slow, NULL, NULL);
}

static int offload_cancel_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("off", offload_cancelled, NULL);
    lm_yield();
    lm_cancel(t);
    lm_yield();
    cr_assert_eq(lm_task_state(t), LM_STATE_CANCELLED);
    lm_task_release(t);
    return 0;
}

Test(loop, offload_cancel_returns_at_once_and_work_is_not_leaked)
{
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", offload_cancel_main, NULL, NULL), 0);
    lm_loop_free(l); /* joins the pool; the late completion is freed */
}

struct thread_run {
    int rc;
    char log[256];
};

static int thread_loop_main(void *arg)
{
    struct thread_run *tr = arg;
    size_t n = 0;
    for (int i = 0; i < 5; i++) {
        lm_sleep(LM_MSEC(10));
        n += (size_t)snprintf(tr->log + n, sizeof tr->log - n, "%lld ",
                              (long long)(lm_now() / 1000000));
        cr_assert_not_null(lm_loop_current());
    }
    return 0;
}

static void *run_loop_thread(void *arg)
{
    struct thread_run *tr = arg;
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    tr->rc = lm_loop_run(l, "main", thread_loop_main, tr, NULL);
    lm_loop_free(l);
    return NULL;
}

Test(loop, two_loops_on_two_threads)
{
    struct thread_run a = {0}, b = {0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, run_loop_thread, &a);
    pthread_create(&tb, NULL, run_loop_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_eq(a.rc, 0);
    cr_assert_eq(b.rc, 0);
    cr_assert_str_eq(a.log, "10 20 30 40 50 ");
    cr_assert_str_eq(b.log, "10 20 30 40 50 ");
}

static int inner_id;
static int inner_main(void *arg)
{
    (void)arg;
    inner_id = (int)lm_task_id(lm_current());
    return 0;
}

static int nested_main(void *arg)
{
    lm_loop *other = arg;
    /* One loop per thread at a time: running another from inside a task is refused. */
    cr_assert_eq(lm_loop_run(other, "inner", inner_main, NULL, NULL), LM_EBUSY);
    return 0;
}

Test(loop, one_running_loop_per_thread)
{
    lm_loop *a = lmt_loop(LM_CLOCK_VIRTUAL);
    lm_loop *b = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(a, "main", nested_main, b, NULL), 0);
    cr_assert_eq(lm_loop_run(b, "inner", inner_main, NULL, NULL), 0);
    cr_assert_eq(inner_id, 1, "task ids count per loop");
    lm_loop_free(a);
    lm_loop_free(b);
}

/* ---- signals ------------------------------------------------------------ */

static int sig_cleanup;
static int sigterm_main(void *arg)
{
    (void)arg;
    kill(getpid(), SIGTERM);
    int rc = lm_sleep(LM_SEC(60));
    if (rc == LM_ECANCELED)
        sig_cleanup = 1;
    return rc;
}

Test(loop, sigterm_cancels_the_main_task_and_handlers_are_restored)
{
    lm_loop_options o;
    lm_loop_options_init(&o);
    o.clock = LM_CLOCK_VIRTUAL;
    lm_loop *l = lm_loop_new(&o);
    cr_assert_eq(lm_loop_run(l, "main", sigterm_main, NULL, NULL), LM_ECANCELED);
    cr_assert_eq(sig_cleanup, 1);
    cr_assert_lt(lm_loop_now(l), LM_SEC(60));
    struct sigaction sa;
    sigaction(SIGTERM, NULL, &sa);
    cr_assert_eq(sa.sa_handler, SIG_DFL);
    lm_loop_free(l);
}

/* ---- stats and misc ----------------------------------------------------- */

static int stats_main(void *arg)
{
    (void)arg;
    lm_sleep(LM_MSEC(1));
    lm_yield();
    return 0;
}

Test(loop, stats_count_what_happened)
{
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_set_name(l, "my loop"), 0);
    cr_assert_eq(lm_run == NULL, 0);
    cr_assert_eq(lm_loop_run(l, "main", stats_main, NULL, NULL), 0);
    lm_loop_stats st;
    lm_loop_stats_get(l, &st);
    cr_assert_eq(st.tasks_created, 1);
    cr_assert_eq(st.tasks_alive, 0);
    cr_assert_eq(st.timers_fired, 1);
    cr_assert_eq(st.steps, 3);
    cr_assert_geq(st.ticks, 3);
    cr_assert_leq(st.polls, st.ticks);
    cr_assert_geq(st.polls, 2, "blocking points always poll");
    lm_loop_free(l);
}

static int run_main(void *arg)
{
    (void)arg;
    cr_assert_not_null(lm_loop_current());
    return LM_EUSER - 1;
}

Test(loop, lm_run_returns_the_main_code)
{
    setenv("LOOPMAID_CLOCK", "virtual", 1);
    cr_assert_eq(lm_run("main", run_main, NULL), LM_EUSER - 1);
    cr_assert_null(lm_loop_current());
    unsetenv("LOOPMAID_CLOCK");
}

/* ---- the virtual clock and the thread pool ------------------------------ */

/* Job i sleeps (real time) longer the earlier it was submitted, so the
 * threads finish in the reverse of submission order. */
static _Atomic int jobs_finished;
static void *reverse_job(void *arg)
{
    int i = (int)(intptr_t)arg;
    usleep((useconds_t)(4 - i) * 15000);
    atomic_fetch_add(&jobs_finished, 1);
    return arg;
}

static int offload_task(void *arg)
{
    void *r = NULL;
    int rc = lm_offload("job", reverse_job, arg, &r);
    cr_assert_eq(rc, 0);
    cr_assert_eq(r, arg);
    logf_("o%d@%lld ", (int)(intptr_t)arg, (long long)(lm_now() / 1000000));
    return 0;
}

static int tick_task(void *arg)
{
    (void)arg;
    lm_sleep(LM_MSEC(1));
    logf_("s@%lld ", (long long)(lm_now() / 1000000));
    return 0;
}

static int submission_order_main(void *arg)
{
    (void)arg;
    lm_task *t[5];
    for (int i = 0; i < 4; i++)
        t[i] = lm_spawn("off", offload_task, (void *)(intptr_t)i);
    /* A timer due while the jobs run: virtual time must not jump to it
     * before every offload has completed. */
    t[4] = lm_spawn("tick", tick_task, NULL);
    cr_assert_eq(lm_gather(t, 5, 0, NULL, NULL), 0);
    for (int i = 0; i < 5; i++)
        lm_task_release(t[i]);
    return 0;
}

Test(loop, virtual_clock_offloads_complete_in_submission_order_in_zero_time)
{
    for (int run = 0; run < 3; run++) {
        log_reset();
        lm_loop_options o;
        lm_loop_options_init(&o);
        o.clock = LM_CLOCK_VIRTUAL;
        o.handle_signals = 0;
        o.threads = 4; /* every job on its own thread */
        lm_loop *l = lm_loop_new(&o);
        cr_assert_not_null(l);
        cr_assert_eq(lm_loop_run(l, "main", submission_order_main, NULL, NULL), 0);
        cr_assert_str_eq(log_buf, "o0@0 o1@0 o2@0 o3@0 s@1 ", "run %d", run);
        lm_loop_free(l);
    }
}

static _Atomic int quick_done;
static void *quick_job(void *arg)
{
    atomic_store(&quick_done, 1);
    return arg;
}

static int quick_offloader(void *arg)
{
    (void)arg;
    cr_assert_eq(lm_offload("quick", quick_job, NULL, NULL), 0);
    logf_("offload ");
    return 0;
}

/* Keeps the loop busy until the job has certainly finished on its thread,
 * then for a few ticks more: the completion must still wait for the loop to
 * be idle. */
static int busy_yielder(void *arg)
{
    (void)arg;
    while (!atomic_load(&quick_done))
        lm_yield();
    for (int i = 0; i < 100; i++)
        lm_yield();
    logf_("yielder ");
    return 0;
}

static int held_main(void *arg)
{
    (void)arg;
    lm_task *t[2];
    t[0] = lm_spawn("offloader", quick_offloader, NULL);
    t[1] = lm_spawn("yielder", busy_yielder, NULL);
    cr_assert_eq(lm_gather(t, 2, 0, NULL, NULL), 0);
    lm_task_release(t[0]);
    lm_task_release(t[1]);
    return 0;
}

Test(loop, virtual_clock_holds_offload_completions_while_tasks_are_ready)
{
    log_reset();
    atomic_store(&quick_done, 0);
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", held_main, NULL, NULL), 0);
    cr_assert_str_eq(log_buf, "yielder offload ");
    lm_loop_free(l);
}

/* A cancelled offload still finishes on its thread; under the virtual clock
 * the loop collects it with the others and frees it. */
static int cancelled_among_others_main(void *arg)
{
    (void)arg;
    lm_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = lm_spawn("off", offload_task, (void *)(intptr_t)i);
    lm_task *victim = lm_spawn("victim", offload_cancelled, NULL);
    lm_yield();
    lm_cancel(victim);
    cr_assert_eq(lm_gather(t, 4, 0, NULL, NULL), 0);
    cr_assert_eq(lm_task_state(victim), LM_STATE_CANCELLED);
    for (int i = 0; i < 4; i++)
        lm_task_release(t[i]);
    lm_task_release(victim);
    return 0;
}

Test(loop, virtual_clock_collects_a_cancelled_offload_with_the_others)
{
    log_reset();
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", cancelled_among_others_main, NULL, NULL), 0);
    cr_assert_str_eq(log_buf, "o0@0 o1@0 o2@0 o3@0 ");
    lm_loop_free(l);
}

/* ---- handoff: a task that parks switches straight to the next one --------- */

/* A workload whose every step is a yield, an event handoff or a zero sleep,
 * with a call_soon callback now and then: run under each configuration, it
 * must run the same steps in the same order, in the same ticks, whether the
 * loop's bookkeeping ran on the loop's stack or on a task's
 * (lm__loop_handoff; the monotonic untraced loop crosses tick boundaries on
 * task stacks, the traced virtual one never does). */
#define HO_ROUNDS 300

typedef struct ho_run {
    char order[8 * HO_ROUNDS + 64];
    size_t n;
    lm_event *ping, *pong;
    lm_loop *loop;
} ho_run;

static void ho_mark(ho_run *r, char c)
{
    if (r->n + 1 < sizeof r->order)
        r->order[r->n++] = c;
    r->order[r->n] = '\0';
}

static void ho_cb(void *arg) { ho_mark(arg, '*'); }

static int ho_yielder(void *arg)
{
    ho_run *r = arg;
    for (int i = 0; i < HO_ROUNDS; i++) {
        ho_mark(r, 'y');
        if (i % 50 == 0)
            cr_assert_not_null(lm_call_soon(r->loop, ho_cb, r));
        cr_assert_eq(lm_yield(), 0);
    }
    return 0;
}

static int ho_sleeper(void *arg)
{
    ho_run *r = arg;
    for (int i = 0; i < HO_ROUNDS; i++) {
        ho_mark(r, 's');
        cr_assert_eq(lm_sleep(0), 0);
    }
    return 0;
}

static int ho_ponger(void *arg)
{
    ho_run *r = arg;
    for (int i = 0; i < HO_ROUNDS; i++) {
        cr_assert_eq(lm_event_wait(r->pong), 0);
        lm_event_clear(r->pong);
        ho_mark(r, 'o');
        lm_event_set(r->ping);
    }
    return 0;
}

static int ho_main(void *arg)
{
    ho_run *r = arg;
    r->ping = lm_event_new();
    r->pong = lm_event_new();
    lm_task *t[3] = {lm_spawn("yielder", ho_yielder, r),
                     lm_spawn("sleeper", ho_sleeper, r),
                     lm_spawn("ponger", ho_ponger, r)};
    for (int i = 0; i < HO_ROUNDS; i++) {
        lm_event_set(r->pong);
        cr_assert_eq(lm_event_wait(r->ping), 0);
        lm_event_clear(r->ping);
        ho_mark(r, 'i');
    }
    cr_assert_eq(lm_gather(t, 3, 0, NULL, NULL), 0);
    for (int i = 0; i < 3; i++)
        lm_task_release(t[i]);
    lm_event_free(r->ping);
    lm_event_free(r->pong);
    return 0;
}

static void ho_run_once(ho_run *r, lm_clock_kind clock, const char *trace,
                        lm_loop_stats *st)
{
    memset(r, 0, sizeof *r);
    if (trace != NULL)
        setenv("LOOPMAID_TRACE", trace, 1);
    lm_loop *l = lmt_loop(clock);
    unsetenv("LOOPMAID_TRACE");
    r->loop = l;
    cr_assert_eq(lm_loop_run(l, "main", ho_main, r, NULL), 0);
    lm_loop_stats_get(l, st);
    lm_loop_free(l);
}

Test(loop, handing_the_loop_on_changes_no_order_and_no_tick)
{
    static ho_run mono, virt, traced;
    lm_loop_stats sm, sv, st;
    char path[] = "/tmp/lm-handoff-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    ho_run_once(&mono, LM_CLOCK_MONOTONIC, NULL, &sm);
    ho_run_once(&virt, LM_CLOCK_VIRTUAL, NULL, &sv);
    ho_run_once(&traced, LM_CLOCK_VIRTUAL, path, &st);
    unlink(path);

    /* Every round of the three loops, then the gather: 4 marks a round. */
    cr_assert_eq(mono.n, 4 * HO_ROUNDS + HO_ROUNDS / 50);
    cr_assert_str_eq(mono.order, virt.order);
    cr_assert_str_eq(mono.order, traced.order);
    /* Main spawns and waits; the next tick runs the three first steps in
     * spawn order, the yielder's callback comes first in the one after. */
    cr_assert(strncmp(mono.order, "yso*y", 5) == 0, "%.16s", mono.order);
    cr_assert_eq(sm.ticks, sv.ticks);
    cr_assert_eq(sm.ticks, st.ticks);
    cr_assert_eq(sm.steps, sv.steps);
    cr_assert_eq(sm.steps, st.steps);
    cr_assert_eq(sm.callbacks, (uint64_t)HO_ROUNDS / 50);
    cr_assert_eq(sm.timers_fired, (uint64_t)HO_ROUNDS);
    /* A ping-pong round trip takes two ticks (each side runs in the tick
     * after the other's set), the yielder's and the sleeper's rounds one
     * each, and every task steps about once per round: this program's
     * exact figures, the same under every configuration. */
    cr_assert_eq(sm.ticks, 2 * (uint64_t)HO_ROUNDS + 1);
    cr_assert_eq(sm.steps, 4 * (uint64_t)HO_ROUNDS + 3);
    /* The busy loops poll every 64th tick, the traced virtual one every
     * tick (as its goldens show). */
    cr_assert_leq(sm.polls, sm.ticks / 64 + 4);
    cr_assert_eq(st.polls, st.ticks);
}

/* A lone task whose yield is the only thing ready hands the loop on to
 * itself: the tick ends and the next begins on its own stack, and it runs on
 * without a switch; every 64th tick still polls. (A zero sleep does not: at
 * the end of its tick nothing is ready, so the loop polls before its timer
 * fires.) */
static int ho_alone(void *arg)
{
    int *n = arg;
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(lm_yield(), 0);
        ++*n;
    }
    return 0;
}

Test(loop, a_lone_task_hands_the_loop_on_to_itself)
{
    int n = 0;
    lm_loop *l = lmt_loop(LM_CLOCK_MONOTONIC);
    cr_assert_eq(lm_loop_run(l, "main", ho_alone, &n, NULL), 0);
    lm_loop_stats st;
    lm_loop_stats_get(l, &st);
    cr_assert_eq(n, 1000);
    cr_assert_eq(st.steps, 1001);
    cr_assert_eq(st.ticks, 1001);
    cr_assert_eq(st.timers_fired, 0);
    cr_assert_geq(st.polls, 1000 / 64);
    cr_assert_leq(st.polls, 1000 / 64 + 3);
    lm_loop_free(l);
}

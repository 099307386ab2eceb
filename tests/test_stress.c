/*
 * test_stress.c: the runtime under load, checked for bookkeeping rather than
 * speed. 100,000 tasks (LOOPMAID_STRESS_TASKS overrides it, e.g. for the
 * valgrind run) with random sleeps, yields, failures, explicit cancels
 * (before and while they run), task-group failures and wait_for timeouts,
 * all under the virtual clock with a fixed seed, so every run is the same
 * run. Checked:
 *  - every task ends in exactly one terminal state, and the one its body's
 *    return value (or a cancellation before it ran) says;
 *  - every cleanup ran exactly once, and before the awaiter that caused it
 *    (wait_for timeout, task group failure) got control back;
 *  - the trace, read back with the render half's own reader, agrees with
 *    lm_loop_stats_get and with the test's tallies (spawns, outcomes, steps,
 *    ticks, polls, timers), and pass 1 (lmr__model_build) accepts it;
 *  - nothing leaks: the heap in use is the same before lm_loop_new and after
 *    lm_loop_free (and LeakSanitizer checks the same under `make asan`).
 * Tasks run in waves of about WAVE so that live stacks stay well under
 * vm.max_map_count; stacks are recycled by the loop's pool between waves.
 */
#include <criterion/criterion.h>

#include "loopmaid.h"
#include "lmr_internal.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAVE 600
#define FAIL_CODE (LM_EUSER - 7)

/* xorshift64*: our own generator, so libc's rand() state is never shared. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static unsigned pick(unsigned n) { return (unsigned)(rnd() % n); }

/* One per task the test makes. `task` is the test's own reference. */
typedef struct rec {
    lm_task *task;
    int started;       /* body entered */
    int cleanups;      /* cleanup blocks run */
    int ret;           /* what the body returned (valid when finished_body) */
    int finished_body; /* the body returned */
    /* leaf behaviour, chosen up front */
    unsigned sleeps;   /* how many sleeps */
    lm_time nap;       /* each sleep */
    int fail;          /* fail at the end instead of returning 0 */
    /* owners / cancellers */
    int kind;
    struct rec *target;    /* canceller, wait_for: the task acted on */
    struct rec *kids;      /* group: children */
    unsigned nkids;
    lm_time delay;         /* canceller: when; wait_for: the timeout */
} rec;

enum { K_LEAF = 0, K_CANCELLER, K_GROUP, K_WAITFOR };

typedef struct stress {
    rec *recs;
    size_t nrecs, cap, target_tasks;
    /* tallies of final states over every task the test made */
    uint64_t done, failed, cancelled, never_ran;
    uint64_t bad; /* invariant violations seen inside tasks (reported later) */
    char first_bad[256];
} stress;

static stress S;

static void bad(const char *fmt, const char *what)
{
    if (S.bad++ == 0)
        snprintf(S.first_bad, sizeof S.first_bad, fmt, what);
}

static rec *new_rec(int kind)
{
    cr_assert_lt(S.nrecs, S.cap, "more records than planned");
    rec *r = &S.recs[S.nrecs++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->sleeps = pick(4);
    r->nap = LM_USEC(1 + pick(5000));
    r->fail = pick(10) == 0;
    return r;
}

/* A leaf: sleeps / yields a few times, then succeeds or fails. Its cleanup
 * (the C form of `finally`) runs on every way out of the body. */
static int leaf(void *arg)
{
    rec *r = arg;
    r->started++;
    int rc = 0;
    for (unsigned i = 0; i < r->sleeps && rc == 0; i++)
        rc = (i & 1) && pick(3) == 0 ? lm_yield() : lm_sleep(r->nap);
    if (rc == 0 && r->fail)
        rc = lm_fail(FAIL_CODE, "stress failure");
    r->cleanups++;
    r->ret = rc;
    r->finished_body = 1;
    return rc;
}

static int canceller(void *arg)
{
    rec *r = arg;
    r->started++;
    int rc = lm_sleep(r->delay);
    if (rc == 0)
        lm_cancel(r->target->task); /* harmless when it already ended */
    r->cleanups++;
    r->ret = rc;
    r->finished_body = 1;
    return rc;
}

/* A task group whose children sometimes fail: the first failure cancels the
 * rest, and lm_taskgroup_wait returns only after all of them cleaned up. */
static int group_owner(void *arg)
{
    rec *r = arg;
    r->started++;
    lm_taskgroup *g = lm_taskgroup_new("stress-group");
    int rc = LM_ENOMEM;
    if (g) {
        for (unsigned i = 0; i < r->nkids; i++) {
            lm_task *t = lm_taskgroup_spawn(g, "member", leaf, &r->kids[i]);
            r->kids[i].task = t ? lm_task_retain(t) : NULL;
            if (!t)
                bad("%s", "lm_taskgroup_spawn returned NULL");
        }
        rc = lm_taskgroup_wait(g);
        for (unsigned i = 0; i < r->nkids; i++) {
            rec *k = &r->kids[i];
            if (k->task && !lm_task_finished(k->task))
                bad("%s", "group wait returned before a member finished");
            if (k->started != k->cleanups)
                bad("%s", "group wait returned before a member's cleanup");
        }
        lm_taskgroup_free(g);
    }
    r->cleanups++;
    r->ret = rc;
    r->finished_body = 1;
    return rc;
}

/* wait_for: a timeout cancels the awaited task and returns LM_ETIMEDOUT only
 * once that task's cleanup has run. */
static int waitfor_owner(void *arg)
{
    rec *r = arg;
    r->started++;
    rec *k = r->target;
    k->task = lm_spawn("waited", leaf, k);
    int rc = k->task ? lm_wait_for(k->task, r->delay, NULL) : LM_ENOMEM;
    if (rc == LM_ETIMEDOUT) {
        if (!lm_task_finished(k->task) || k->started != k->cleanups)
            bad("%s", "wait_for timed out before the task's cleanup ran");
        rc = 0;
    } else if (rc == LM_ECANCELED) {
        bad("%s", "wait_for returned LM_ECANCELED without being cancelled");
    }
    r->cleanups++;
    r->ret = rc == FAIL_CODE ? 0 : rc;
    r->finished_body = 1;
    return r->ret;
}

/* Starts one random unit of work; returns its top-level task's record. */
static rec *start_unit(void)
{
    unsigned what = pick(10);
    rec *r;
    if (what < 4) { /* a plain leaf */
        r = new_rec(K_LEAF);
        r->task = lm_spawn("leaf", leaf, r);
    } else if (what < 6) { /* a leaf cancelled at once or later */
        rec *victim = new_rec(K_LEAF);
        victim->sleeps = 1 + pick(3);
        victim->task = lm_spawn("victim", leaf, victim);
        if (pick(3) == 0) {
            lm_cancel(victim->task); /* still pending: never runs */
            return victim;
        }
        r = new_rec(K_CANCELLER);
        r->target = victim;
        r->delay = LM_USEC(pick(8000));
        r->task = lm_spawn("canceller", canceller, r);
        /* both are awaited: the victim through the canceller's wave slot */
        return r;
    } else if (what < 8) { /* a task group with a failing member or not */
        r = new_rec(K_GROUP);
        r->nkids = 2 + pick(5);
        r->kids = &S.recs[S.nrecs];
        for (unsigned i = 0; i < r->nkids; i++)
            new_rec(K_LEAF)->fail = pick(4) == 0;
        r->task = lm_spawn("group-owner", group_owner, r);
    } else { /* wait_for with a timeout that may or may not hit */
        r = new_rec(K_WAITFOR);
        r->target = new_rec(K_LEAF);
        r->delay = LM_USEC(pick(10000));
        r->task = lm_spawn("waiter", waitfor_owner, r);
    }
    return r;
}

/* How many task records a unit may need at most (group: owner + 6 kids). */
#define UNIT_MAX 7

static void check_rec(const rec *r)
{
    cr_assert_not_null(r->task);
    cr_assert(lm_task_finished(r->task), "task %llu is still %s",
              (unsigned long long)lm_task_id(r->task),
              lm_state_name(lm_task_state(r->task)));
    lm_state st = lm_task_state(r->task);
    int err = lm_task_error(r->task);
    /* A body that ran has exactly one cleanup; one that never ran, none. */
    cr_assert_eq(r->started, r->cleanups, "task %llu: started %d, cleanups %d",
                 (unsigned long long)lm_task_id(r->task), r->started,
                 r->cleanups);
    cr_assert_leq(r->started, 1);
    if (!r->started) {
        cr_assert_eq(st, LM_STATE_CANCELLED, "never ran but ended %s",
                     lm_state_name(st));
        cr_assert_eq(err, LM_ECANCELED);
        S.never_ran++;
        S.cancelled++;
        return;
    }
    cr_assert(r->finished_body);
    if (r->ret == 0 && st == LM_STATE_CANCELLED) {
        /* Cancelled after its last await and returned 0 before another:
         * asyncio ends it cancelled (the request wins over the return). */
        cr_assert_gt(lm_task_cancelling(r->task), 0, "returned 0, ended cancelled "
                     "without a cancellation request");
        cr_assert_eq(err, LM_ECANCELED);
        S.cancelled++;
        return;
    } else if (r->ret == 0) {
        cr_assert_eq(st, LM_STATE_DONE, "returned 0 but ended %s",
                     lm_state_name(st));
        S.done++;
    } else if (r->ret == LM_ECANCELED) {
        cr_assert_eq(st, LM_STATE_CANCELLED, "returned LM_ECANCELED but ended %s",
                     lm_state_name(st));
        S.cancelled++;
    } else {
        cr_assert_eq(st, LM_STATE_FAILED, "returned %d but ended %s", r->ret,
                     lm_state_name(st));
        S.failed++;
    }
    cr_assert_eq(err, r->ret, "lm_task_error %d, body returned %d", err, r->ret);
}

static int driver(void *arg)
{
    (void)arg;
    lm_task **wave = calloc(WAVE + UNIT_MAX, sizeof *wave);
    cr_assert_not_null(wave);
    size_t made = 0;
    while (made < S.target_tasks) {
        size_t first = S.nrecs, n = 0;
        while (S.nrecs - first < WAVE && made + (S.nrecs - first) < S.target_tasks &&
               S.nrecs + UNIT_MAX <= S.cap)
            wave[n++] = start_unit()->task;
        /* Every record of the wave has a task except victims held by a
         * canceller: gather waits for the tops, then each victim. */
        int errs[WAVE + UNIT_MAX];
        int rc = lm_gather(wave, n, LM_GATHER_RETURN_EXCEPTIONS, NULL, errs);
        cr_assert_eq(rc, 0, "gather: %s", lm_strerror(rc));
        for (size_t i = first; i < S.nrecs; i++)
            if (S.recs[i].task && !lm_task_finished(S.recs[i].task))
                cr_assert_eq(lm_join(S.recs[i].task, NULL) <= 0, 1);
        for (size_t i = first; i < S.nrecs; i++) {
            check_rec(&S.recs[i]);
            lm_task_release(S.recs[i].task);
            S.recs[i].task = NULL;
        }
        made += S.nrecs - first;
    }
    free(wave);
    return 0;
}

/* What the trace says, counted by the render half's streaming reader. */
typedef struct counts {
    uint64_t events, spawns, ticks, polls, timers, steps, ran, unrun_cancels;
    uint64_t done, failed, cancelled;
} counts;

static int count_event(void *ctx, const lmr__header *h, const lmr__event *ev,
                       lmr_error *err)
{
    (void)h;
    (void)err;
    counts *c = ctx;
    c->events++;
    switch (ev->kind) {
    case LMR__EV_SPAWN: c->spawns++; break;
    case LMR__EV_POLL: c->polls++; break;
    case LMR__EV_TICK:
        c->ticks++;
        c->timers += ev->timers;
        c->ran += ev->ran;
        break;
    case LMR__EV_STATE:
        if (ev->from == LMR__ST_PENDING && ev->to == LMR__ST_RUNNING)
            c->steps++;
        if (ev->from == LMR__ST_PENDING && ev->to == LMR__ST_CANCELLED)
            c->unrun_cancels++;
        if (ev->to == LMR__ST_DONE)
            c->done++;
        else if (ev->to == LMR__ST_FAILED)
            c->failed++;
        else if (ev->to == LMR__ST_CANCELLED)
            c->cancelled++;
        break;
    default: break;
    }
    return 0;
}

static size_t stress_tasks(void)
{
    const char *e = getenv("LOOPMAID_STRESS_TASKS");
    long n = e ? strtol(e, NULL, 10) : 100000;
    return n > 0 ? (size_t)n : 100000;
}

Test(stress, hundred_thousand_tasks, .timeout = 600)
{
    unsetenv("LOOPMAID_TRACE");
    unsetenv("LOOPMAID_TRACE_RING");
    memset(&S, 0, sizeof S);
    rng_state = 0x5EED10095EEDULL;
    S.target_tasks = stress_tasks();
    S.cap = S.target_tasks + WAVE + UNIT_MAX;
    S.recs = calloc(S.cap, sizeof *S.recs);
    cr_assert_not_null(S.recs);

    char path[] = "/tmp/loopmaid-stress-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);

    struct mallinfo2 before = mallinfo2();
    lm_loop_options o;
    lm_loop_options_init(&o);
    o.clock = LM_CLOCK_VIRTUAL;
    o.handle_signals = 0;
    lm_loop *loop = lm_loop_new(&o);
    cr_assert_not_null(loop);
    cr_assert_eq(lm_trace_open(loop, path), 0);
    int rc = lm_loop_run(loop, "main", driver, NULL, NULL);
    cr_assert_eq(rc, 0, "main: %s", lm_strerror(rc));
    cr_assert_eq(S.bad, 0, "%llu invariant violations, first: %s",
                 (unsigned long long)S.bad, S.first_bad);
    lm_loop_stats st;
    lm_loop_stats_get(loop, &st);
    lm_loop_free(loop);
    struct mallinfo2 after = mallinfo2();
    /* Everything the loop allocated is gone (tasks, stacks, trace buffers,
     * interned strings). mallinfo2 counts the chunks glibc caches per thread
     * (tcache) as in use, so a few hundred KiB may stay "in use" with no
     * leak at all; a leak of even 3 bytes per task would be far above that.
     * The exact checks are LeakSanitizer's (`make asan`) and valgrind's
     * (`make valgrind`). Under both, mallinfo2 reports nothing. */
    long long grew = (long long)(after.uordblks + after.hblkhd) -
                     (long long)(before.uordblks + before.hblkhd);
    cr_expect_lt(grew, 256 * 1024, "heap in use grew by %lld bytes over the run",
                 grew);

    uint64_t ours = S.nrecs;
    cr_assert_geq(ours, S.target_tasks);
    cr_expect_eq(st.tasks_created, ours + 1, "created %llu, made %llu + main",
                 (unsigned long long)st.tasks_created, (unsigned long long)ours);
    cr_expect_eq(st.tasks_alive, 0);
    cr_expect_eq(S.done + S.failed + S.cancelled, ours);
    /* Each kind of outcome actually happened, in volume. */
    cr_expect_gt(S.failed, ours / 100);
    cr_expect_gt(S.cancelled, ours / 100);
    cr_expect_gt(S.never_ran, ours / 1000);

    /* The trace agrees with the runtime's counters and our tallies. */
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    counts c = {0};
    lmr__header h;
    memset(&h, 0, sizeof h);
    lmr_error err;
    memset(&err, 0, sizeof err);
    int truncated = 0;
    rc = lmr__read(fp, path, &h, count_event, &c, &truncated, &err);
    cr_assert_eq(rc, 0, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    cr_expect_eq(truncated, 0);
    lmr__header_free(&h);
    cr_expect_eq(c.spawns, st.tasks_created);
    cr_expect_eq(c.ticks, st.ticks);
    cr_expect_eq(c.polls, st.polls);
    cr_expect_eq(c.timers, st.timers_fired);
    cr_expect_eq(c.steps, st.steps);
    cr_expect_eq(c.ran, st.steps + st.callbacks + c.unrun_cancels, "ran %llu steps %llu callbacks %llu unrun %llu never_ran %llu", (unsigned long long)c.ran, (unsigned long long)st.steps, (unsigned long long)st.callbacks, (unsigned long long)c.unrun_cancels, (unsigned long long)S.never_ran);
    cr_expect_eq(c.done, S.done + 1, "done: trace %llu, tasks %llu + main",
                 (unsigned long long)c.done, (unsigned long long)S.done);
    cr_expect_eq(c.failed, S.failed);
    cr_expect_eq(c.cancelled, S.cancelled);

    /* Pass 1 validates every transition of the whole trace. */
    rewind(fp);
    lmr__model m;
    memset(&m, 0, sizeof m);
    rc = lmr__model_build(fp, path, &m, NULL, &err);
    cr_expect_eq(rc, 0, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    if (rc == 0) {
        cr_expect_eq(m.ntasks, st.tasks_created);
        cr_expect_eq(m.done, c.done);
        cr_expect_eq(m.failed, c.failed);
        cr_expect_eq(m.cancelled, c.cancelled);
    }
    lmr__model_free(&m);
    fclose(fp);
    unlink(path);
    free(S.recs);
}

/*
 * test_aio_locks.c: CPython's Lib/test/test_asyncio/test_locks.py (3.12 /
 * 3.13), ported to loopmaid's public header.
 *
 * Each Test(Class, test_name) is the CPython test of that name, written
 * step for step: `await asyncio.sleep(0)` is lm_yield() (both put the task
 * at the end of the ready queue), `create_task` is lm_spawn, `await task` is
 * lm_join, `loop.call_soon(t.cancel)` is lmt_cancel_soon. The bodies run as
 * the main task under the virtual clock; checks inside tasks use cr_expect
 * (which never jumps off the coroutine's stack). Assertions CPython makes on
 * private fields (`lock._waiters`) are replaced by what they imply through
 * the public API, or left out where nothing public corresponds; the row in
 * docs/asyncio-conformance.md says so.
 */
#include <criterion/criterion.h>

#include "loopmaid.h"
#include "support/lm_test.h"

#include <stdint.h>

#define P(n) ((void *)(intptr_t)(n))
#define I(p) ((int)(intptr_t)(p))
#define MS(n) LM_MSEC(n)
#define STATE(t) lm_task_state(t)
#define RUN(body) cr_assert_eq(lmt_run(body, NULL), 0)

/* A hang (a lost wakeup) fails the test instead of stalling the run. */
TestSuite(BarrierTests, .timeout = 20);
TestSuite(ConditionTests, .timeout = 20);
TestSuite(EventTests, .timeout = 20);
TestSuite(LockTests, .timeout = 20);
TestSuite(SemaphoreTests, .timeout = 20);

static lm_lock *L;
static lm_event *E;
static lm_cond *C;
static lm_sem *S;
static lm_barrier *B;

/* ======================================================================== */
/* LockTests                                                                */
/* ======================================================================== */

static int lock_c(void *arg)
{
    if (lm_lock_acquire(L) == 0)
        lmt_push(I(arg));
    return 0;
}

static int acquire_task(void *arg)
{
    (void)arg;
    return lm_lock_acquire(L);
}

static int t_lock(void *arg)
{
    (void)arg;
    L = lm_lock_new();
    cr_expect_not(lm_lock_locked(L));
    lm_lock_free(L);
    return 0;
}
Test(LockTests, test_lock) { RUN(t_lock); }

static int t_lock_by_with_statement(void *arg)
{
    (void)arg;
    lm_lock *l = lm_lock_new();
    lm_cond *c = lm_cond_new(NULL);
    lm_sem *s = lm_sem_new(1), *bs = lm_sem_new_bounded(1);
    lm_sleep(MS(10));
    cr_expect_not(lm_lock_locked(l));
    cr_expect_not(lm_cond_locked(c));
    cr_expect_not(lm_sem_locked(s));
    cr_expect_not(lm_sem_locked(bs));
    lm_lock_free(l);
    lm_cond_free(c);
    lm_sem_free(s);
    lm_sem_free(bs);
    return 0;
}
Test(LockTests, test_lock_by_with_statement) { RUN(t_lock_by_with_statement); }

static int t_lock_acquire(void *arg)
{
    (void)arg;
    L = lm_lock_new();
    cr_expect_eq(lm_lock_acquire(L), 0);
    lm_task *t1 = lm_spawn("c1", lock_c, P(1));
    lm_task *t2 = lm_spawn("c2", lock_c, P(2));
    lm_yield();
    cr_expect_eq(lmt_nres, 0);
    lm_lock_release(L);
    lm_yield();
    LMT_EXPECT_RES(1);
    lm_yield();
    LMT_EXPECT_RES(1);
    lm_task *t3 = lm_spawn("c3", lock_c, P(3));
    /* asyncio's Lock has no owner: the test releases what c1 holds. */
    cr_expect_eq(lm_lock_release(L), 0);
    lm_yield();
    LMT_EXPECT_RES(1, 2);
    lm_lock_release(L);
    lm_yield();
    LMT_EXPECT_RES(1, 2, 3);
    cr_expect_eq(STATE(t1), LM_STATE_DONE);
    cr_expect_eq(STATE(t2), LM_STATE_DONE);
    cr_expect_eq(STATE(t3), LM_STATE_DONE);
    lm_lock_release(L);
    lm_lock_free(L);
    return 0;
}
Test(LockTests, test_acquire) { RUN(t_lock_acquire); }

static int t_lock_acquire_cancel(void *arg)
{
    (void)arg;
    L = lm_lock_new();
    cr_expect_eq(lm_lock_acquire(L), 0);
    lm_task *task = lm_spawn("acquire", acquire_task, NULL);
    lmt_cancel_soon(task);
    cr_expect_eq(lm_join(task, NULL), LM_ECANCELED);
    cr_expect_eq(STATE(task), LM_STATE_CANCELLED);
    /* not lock._waiters: the cancelled waiter is out of the line, so a
     * release leaves the lock free instead of handing it on. */
    lm_lock_release(L);
    cr_expect_not(lm_lock_locked(L));
    cr_expect_eq(lm_lock_acquire(L), 0);
    lm_lock_release(L);
    lm_lock_free(L);
    return 0;
}
Test(LockTests, test_acquire_cancel) { RUN(t_lock_acquire_cancel); }

static int lockit(void *arg)
{
    lm_future *blocker = arg;
    int rc = lm_lock_acquire(L);
    if (rc != 0)
        return rc;
    if (blocker != NULL)
        rc = lm_future_wait(blocker, NULL);
    lm_lock_release(L); /* finally */
    return rc;
}

static int t_lock_cancel_race(void *arg)
{
    (void)arg;
    L = lm_lock_new();
    lm_future *fa = lm_future_new();
    lm_task *ta = lm_spawn("A", lockit, fa);
    lm_yield();
    cr_expect(lm_lock_locked(L));
    lm_task *tb = lm_spawn("B", lockit, NULL);
    lm_yield();
    lm_task *tc = lm_spawn("C", lockit, NULL);
    lm_yield();
    /* The race: B is cancelled and A releases in the same tick. */
    lm_future_set(fa, NULL);
    lm_cancel(tb);
    lm_yield();
    cr_expect_not(lm_lock_locked(L));
    cr_expect_eq(STATE(ta), LM_STATE_DONE);
    cr_expect_eq(STATE(tb), LM_STATE_CANCELLED);
    cr_expect_eq(lm_join(tc, NULL), 0);
    lm_future_free(fa);
    lm_lock_free(L);
    return 0;
}
Test(LockTests, test_cancel_race) { RUN(t_lock_cancel_race); }

static int lock_count, call_count;
static lm_task *T1;

static int lockit_count(void *arg)
{
    (void)arg;
    call_count++;
    int rc = lm_lock_acquire(L);
    if (rc != 0)
        return rc;
    lock_count++;
    return 0;
}

static void trigger(void *arg)
{
    (void)arg;
    lm_cancel(T1);
    lm_lock_release(L);
}

static int t_lock_cancel_release_race(void *arg)
{
    (void)arg;
    L = lm_lock_new();
    lm_lock_acquire(L);
    T1 = lm_spawn("t1", lockit_count, NULL);
    lm_task *t2 = lm_spawn("t2", lockit_count, NULL);
    lm_task *t3 = lm_spawn("t3", lockit_count, NULL);
    lm_yield();
    lm_call_soon(lm_loop_current(), trigger, NULL);
    cr_expect_eq(lm_join(T1, NULL), LM_ECANCELED);
    cr_expect_eq(lock_count, 1, "only one lock was taken");
    cr_expect_eq(call_count, 3);
    cr_expect_eq(STATE(T1), LM_STATE_CANCELLED);
    cr_expect_eq(STATE(t2), LM_STATE_DONE);
    lm_cancel(t3);
    lm_yield();
    cr_expect_eq(STATE(t3), LM_STATE_CANCELLED);
    lm_lock_free(L);
    return 0;
}
Test(LockTests, test_cancel_release_race) { RUN(t_lock_cancel_release_race); }

static int t_lock_finished_waiter_cancelled(void *arg)
{
    (void)arg;
    L = lm_lock_new();
    lm_lock_acquire(L);
    cr_expect(lm_lock_locked(L));
    lm_task *tb = lm_spawn("tb", acquire_task, NULL);
    lm_yield();
    /* A second waiter; wake the first and cancel it: the second still
     * gets the lock. */
    lm_task *tc = lm_spawn("tc", acquire_task, NULL);
    lm_cancel(tb);
    lm_lock_release(L);
    lm_yield();
    cr_expect(lm_lock_locked(L));
    cr_expect_eq(STATE(tb), LM_STATE_CANCELLED);
    cr_expect_eq(lm_join(tc, NULL), 0);
    lm_lock_free(L);
    return 0;
}
Test(LockTests, test_finished_waiter_cancelled) { RUN(t_lock_finished_waiter_cancelled); }

Test(LockTests, test_release_not_acquired)
{
    lm_lock *l = lm_lock_new();
    cr_expect_eq(lm_lock_release(l), LM_ESTATE);
    lm_lock_free(l);
}

static int t_lock_release_no_waiters(void *arg)
{
    (void)arg;
    L = lm_lock_new();
    lm_lock_acquire(L);
    cr_expect(lm_lock_locked(L));
    cr_expect_eq(lm_lock_release(L), 0);
    cr_expect_not(lm_lock_locked(L));
    lm_lock_free(L);
    return 0;
}
Test(LockTests, test_release_no_waiters) { RUN(t_lock_release_no_waiters); }

static int t_lock_context_manager(void *arg)
{
    (void)arg;
    L = lm_lock_new();
    cr_expect_not(lm_lock_locked(L));
    cr_expect_eq(lm_lock_acquire(L), 0); /* async with lock: */
    cr_expect(lm_lock_locked(L));
    cr_expect_eq(lm_lock_release(L), 0);
    cr_expect_not(lm_lock_locked(L));
    lm_lock_free(L);
    return 0;
}
Test(LockTests, test_context_manager) { RUN(t_lock_context_manager); }

/* ======================================================================== */
/* EventTests                                                               */
/* ======================================================================== */

static int event_c(void *arg)
{
    if (lm_event_wait(E) == 0)
        lmt_push(I(arg));
    return 0;
}

static int event_wait_task(void *arg)
{
    (void)arg;
    return lm_event_wait(E);
}

static int t_event_wait(void *arg)
{
    (void)arg;
    E = lm_event_new();
    cr_expect_not(lm_event_is_set(E));
    lm_task *t1 = lm_spawn("c1", event_c, P(1));
    lm_task *t2 = lm_spawn("c2", event_c, P(2));
    lm_yield();
    cr_expect_eq(lmt_nres, 0);
    lm_task *t3 = lm_spawn("c3", event_c, P(3));
    lm_event_set(E);
    lm_yield();
    /* c3 was scheduled before the set woke c1 and c2. */
    LMT_EXPECT_RES(3, 1, 2);
    cr_expect_eq(STATE(t1), LM_STATE_DONE);
    cr_expect_eq(STATE(t2), LM_STATE_DONE);
    cr_expect_eq(STATE(t3), LM_STATE_DONE);
    cr_expect_null(lm_task_result(t1));
    lm_event_free(E);
    return 0;
}
Test(EventTests, test_wait) { RUN(t_event_wait); }

static int t_event_wait_on_set(void *arg)
{
    (void)arg;
    E = lm_event_new();
    lm_event_set(E);
    lm_time t0 = lm_now();
    cr_expect_eq(lm_event_wait(E), 0);
    cr_expect_eq(lm_now(), t0);
    lm_event_free(E);
    return 0;
}
Test(EventTests, test_wait_on_set) { RUN(t_event_wait_on_set); }

static int t_event_wait_cancel(void *arg)
{
    (void)arg;
    E = lm_event_new();
    lm_task *wait = lm_spawn("wait", event_wait_task, NULL);
    lmt_cancel_soon(wait);
    cr_expect_eq(lm_join(wait, NULL), LM_ECANCELED);
    cr_expect_eq(STATE(wait), LM_STATE_CANCELLED);
    lm_event_free(E);
    return 0;
}
Test(EventTests, test_wait_cancel) { RUN(t_event_wait_cancel); }

Test(EventTests, test_clear)
{
    lm_event *e = lm_event_new();
    cr_expect_not(lm_event_is_set(e));
    lm_event_set(e);
    cr_expect(lm_event_is_set(e));
    lm_event_clear(e);
    cr_expect_not(lm_event_is_set(e));
    lm_event_free(e);
}

static int t_event_clear_with_waiters(void *arg)
{
    (void)arg;
    E = lm_event_new();
    lm_task *t = lm_spawn("c1", event_c, P(1));
    lm_yield();
    cr_expect_eq(lmt_nres, 0);
    lm_event_set(E);
    lm_event_clear(E);
    cr_expect_not(lm_event_is_set(E));
    lm_event_set(E);
    lm_event_set(E);
    lm_yield();
    LMT_EXPECT_RES(1); /* woken once, not once per set */
    cr_expect_eq(STATE(t), LM_STATE_DONE);
    lm_event_free(E);
    return 0;
}
Test(EventTests, test_clear_with_waiters) { RUN(t_event_clear_with_waiters); }

/* ======================================================================== */
/* ConditionTests                                                           */
/* ======================================================================== */

/* c1/c2/c3 of test_wait: acquire, wait, keep the lock. */
static int cond_keep(void *arg)
{
    lm_cond_acquire(C);
    if (lm_cond_wait(C) == 0)
        lmt_push(I(arg));
    return 0;
}

/* c1/c2/c3 of test_notify: acquire, wait, release. */
static int cond_release(void *arg)
{
    lm_cond_acquire(C);
    if (lm_cond_wait(C) == 0) {
        lmt_push(I(arg));
        lm_cond_release(C);
    }
    return 0;
}

static int cond_wait_task(void *arg)
{
    (void)arg;
    return lm_cond_wait(C);
}

static int t_cond_wait(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    lm_task *t[3] = {lm_spawn("c1", cond_keep, P(1)), lm_spawn("c2", cond_keep, P(2)),
                     lm_spawn("c3", cond_keep, P(3))};
    lm_yield();
    cr_expect_eq(lmt_nres, 0);
    cr_expect_not(lm_cond_locked(C));

    cr_expect_eq(lm_cond_acquire(C), 0);
    lm_cond_notify(C, 1);
    lm_yield();
    cr_expect_eq(lmt_nres, 0);
    cr_expect(lm_cond_locked(C));

    lm_cond_release(C);
    lm_yield();
    LMT_EXPECT_RES(1);
    cr_expect(lm_cond_locked(C));

    cr_expect_eq(lm_cond_notify(C, 2), 0);
    lm_yield();
    LMT_EXPECT_RES(1);
    cr_expect(lm_cond_locked(C));

    lm_cond_release(C);
    lm_yield();
    LMT_EXPECT_RES(1, 2);
    cr_expect(lm_cond_locked(C));

    lm_cond_release(C);
    lm_yield();
    LMT_EXPECT_RES(1, 2, 3);
    cr_expect(lm_cond_locked(C));
    for (int i = 0; i < 3; i++)
        cr_expect_eq(STATE(t[i]), LM_STATE_DONE);
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_wait) { RUN(t_cond_wait); }

static int t_cond_wait_cancel(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    lm_cond_acquire(C);
    lm_task *wait = lm_spawn("wait", cond_wait_task, NULL);
    lmt_cancel_soon(wait);
    cr_expect_eq(lm_join(wait, NULL), LM_ECANCELED);
    /* not cond._waiters: a notify now finds nobody to wake */
    cr_expect(lm_cond_locked(C), "the cancelled wait took the lock back");
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_wait_cancel) { RUN(t_cond_wait_cancel); }

static void release_cb(void *arg)
{
    (void)arg;
    lm_cond_release(C);
}

static int t_cond_wait_cancel_contested(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    lm_cond_acquire(C);
    cr_expect(lm_cond_locked(C));
    lm_task *wait_task = lm_spawn("wait", cond_wait_task, NULL);
    lm_yield();
    cr_expect_not(lm_cond_locked(C));
    /* Notify, but contest the lock before cancelling. */
    lm_cond_acquire(C);
    cr_expect(lm_cond_locked(C));
    lm_cond_notify(C, 1);
    lmt_cancel_soon(wait_task);
    lm_call_soon(lm_loop_current(), release_cb, NULL);
    int rc = lm_join(wait_task, NULL);
    cr_expect(rc == 0 || rc == LM_ECANCELED); /* CPython accepts both too */
    cr_expect(lm_cond_locked(C));
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_wait_cancel_contested) { RUN(t_cond_wait_cancel_contested); }

static int waited;

static int wait_on_cond(void *arg)
{
    (void)arg;
    lm_cond_acquire(C); /* async with cond: */
    waited = 1;
    int rc = lm_cond_wait(C);
    lm_cond_release(C);
    return rc;
}

static int t_cond_wait_cancel_after_notify(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    lm_task *waiter = lm_spawn("waiter", wait_on_cond, NULL);
    lm_yield();          /* start waiting */
    lm_cond_acquire(C);
    lm_cond_notify(C, 1);
    lm_yield();          /* get to acquire() */
    lm_cancel(waiter);
    lm_yield();          /* activate cancellation */
    lm_cond_release(C);
    lm_yield();          /* cancellation should occur */
    cr_expect_eq(STATE(waiter), LM_STATE_CANCELLED);
    cr_expect(waited);
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_wait_cancel_after_notify) { RUN(t_cond_wait_cancel_after_notify); }

static int t_cond_wait_unacquired(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    cr_expect_eq(lm_cond_wait(C), LM_ESTATE);
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_wait_unacquired) { RUN(t_cond_wait_unacquired); }

static int presult;
static int pred_presult(void *arg)
{
    (void)arg;
    return presult;
}

static int cond_wait_for_c1(void *arg)
{
    (void)arg;
    lm_cond_acquire(C);
    if (lm_cond_wait_for(C, pred_presult, NULL) > 0) {
        lmt_push(1);
        lm_cond_release(C);
    }
    return 0;
}

static int t_cond_wait_for(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    lm_task *t = lm_spawn("c1", cond_wait_for_c1, NULL);
    lm_yield();
    cr_expect_eq(lmt_nres, 0);
    lm_cond_acquire(C);
    lm_cond_notify(C, 1);
    lm_cond_release(C);
    lm_yield();
    cr_expect_eq(lmt_nres, 0, "notified, but the predicate is false");
    presult = 1;
    lm_cond_acquire(C);
    lm_cond_notify(C, 1);
    lm_cond_release(C);
    lm_yield();
    LMT_EXPECT_RES(1);
    cr_expect_eq(STATE(t), LM_STATE_DONE);
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_wait_for) { RUN(t_cond_wait_for); }

static int pred_123(void *arg)
{
    (void)arg;
    return 123;
}
static int pred_false(void *arg)
{
    (void)arg;
    return 0;
}

static int t_cond_wait_for_unacquired(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    /* the predicate can be true at once: no lock needed */
    cr_expect_eq(lm_cond_wait_for(C, pred_123, NULL), 123);
    cr_expect_eq(lm_cond_wait_for(C, pred_false, NULL), LM_ESTATE);
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_wait_for_unacquired) { RUN(t_cond_wait_for_unacquired); }

static int t_cond_notify(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    lm_task *t[3] = {lm_spawn("c1", cond_release, P(1)), lm_spawn("c2", cond_release, P(2)),
                     lm_spawn("c3", cond_release, P(3))};
    lm_yield();
    cr_expect_eq(lmt_nres, 0);
    lm_cond_acquire(C);
    lm_cond_notify(C, 1);
    lm_cond_release(C);
    lm_yield();
    LMT_EXPECT_RES(1);
    lm_cond_acquire(C);
    lm_cond_notify(C, 1);
    lm_cond_notify(C, 2048);
    lm_cond_release(C);
    lm_yield();
    LMT_EXPECT_RES(1, 2, 3);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(STATE(t[i]), LM_STATE_DONE);
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_notify) { RUN(t_cond_notify); }

static int t_cond_notify_all(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    lm_task *t[2] = {lm_spawn("c1", cond_release, P(1)), lm_spawn("c2", cond_release, P(2))};
    lm_yield();
    cr_expect_eq(lmt_nres, 0);
    lm_cond_acquire(C);
    lm_cond_notify_all(C);
    lm_cond_release(C);
    lm_yield();
    LMT_EXPECT_RES(1, 2);
    cr_expect_eq(STATE(t[0]), LM_STATE_DONE);
    cr_expect_eq(STATE(t[1]), LM_STATE_DONE);
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_notify_all) { RUN(t_cond_notify_all); }

Test(ConditionTests, test_notify_unacquired)
{
    lm_cond *c = lm_cond_new(NULL);
    cr_expect_eq(lm_cond_notify(c, 1), LM_ESTATE);
    lm_cond_free(c);
}

Test(ConditionTests, test_notify_all_unacquired)
{
    lm_cond *c = lm_cond_new(NULL);
    cr_expect_eq(lm_cond_notify_all(c), LM_ESTATE);
    lm_cond_free(c);
}

static int t_cond_context_manager(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    cr_expect_not(lm_cond_locked(C));
    lm_cond_acquire(C);
    cr_expect(lm_cond_locked(C));
    lm_cond_release(C);
    cr_expect_not(lm_cond_locked(C));
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_context_manager) { RUN(t_cond_context_manager); }

static void explicit_lock_f(lm_lock *lock, lm_cond *cond)
{
    bool own_lock = lock == NULL, own_cond = cond == NULL;
    if (own_lock)
        lock = lm_lock_new();
    if (own_cond)
        cond = lm_cond_new(lock);
    cr_expect_eq(lm_cond_lock(cond), lock);
    cr_expect_not(lm_lock_locked(lock));
    cr_expect_not(lm_cond_locked(cond));
    lm_cond_acquire(cond);
    cr_expect(lm_lock_locked(lock));
    cr_expect(lm_cond_locked(cond));
    lm_cond_release(cond);
    cr_expect_not(lm_lock_locked(lock));
    cr_expect_not(lm_cond_locked(cond));
    lm_lock_acquire(lock);
    cr_expect(lm_lock_locked(lock));
    cr_expect(lm_cond_locked(cond));
    lm_lock_release(lock);
    cr_expect_not(lm_lock_locked(lock));
    cr_expect_not(lm_cond_locked(cond));
    if (own_cond)
        lm_cond_free(cond);
    if (own_lock)
        lm_lock_free(lock);
}

static int t_cond_explicit_lock(void *arg)
{
    (void)arg;
    explicit_lock_f(NULL, NULL);
    lm_lock *l = lm_lock_new();
    explicit_lock_f(l, NULL);
    lm_cond *c = lm_cond_new(l);
    explicit_lock_f(l, c);
    lm_cond_free(c);
    lm_lock_free(l);
    /* A condition without a lock of the caller's makes (and frees) its own. */
    c = lm_cond_new(NULL);
    cr_expect_not_null(lm_cond_lock(c));
    lm_cond_free(c);
    return 0;
}
Test(ConditionTests, test_explicit_lock) { RUN(t_cond_explicit_lock); }

static int t_cond_timeout_in_block(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    lm_cond_acquire(C); /* async with condition: */
    lm_task *w = lm_spawn("condition.wait()", cond_wait_task, NULL);
    cr_expect_eq(lm_wait_for(w, MS(500), NULL), LM_ETIMEDOUT);
    cr_expect_eq(lm_now(), MS(500));
    cr_expect(lm_cond_locked(C), "the timed-out wait took the lock back");
    lm_cond_release(C);
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_timeout_in_block) { RUN(t_cond_timeout_in_block); }

static int wake;
static int pred_wake(void *arg)
{
    (void)arg;
    return wake;
}

static int cond_func(void *arg)
{
    (void)arg;
    lm_cond_acquire(C);
    int rc = lm_cond_wait_for(C, pred_wake, NULL);
    cr_expect_eq(rc, LM_ECANCELED);
    cr_expect(lm_cond_locked(C));
    lm_cond_release(C);
    return rc;
}

static int t_cond_cancelled_error_wakeup(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    lm_task *task = lm_spawn("func", cond_func, NULL);
    lm_yield();
    lm_cancel(task); /* waiting on the condition: cancel it there */
    cr_expect_eq(lm_join(task, NULL), LM_ECANCELED);
    cr_expect_eq(STATE(task), LM_STATE_CANCELLED);
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_cancelled_error_wakeup) { RUN(t_cond_cancelled_error_wakeup); }

static int t_cond_cancelled_error_re_aquire(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    lm_task *task = lm_spawn("func", cond_func, NULL);
    lm_yield();
    lm_cond_acquire(C);
    wake = 1;
    lm_cond_notify(C, 1);
    lm_yield();
    lm_cancel(task); /* now re-acquiring the lock: cancel it there */
    lm_cond_release(C);
    cr_expect_eq(lm_join(task, NULL), LM_ECANCELED);
    cr_expect_eq(STATE(task), LM_STATE_CANCELLED);
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_cancelled_error_re_aquire) { RUN(t_cond_cancelled_error_re_aquire); }

static int state;
static int pred_state_nonzero(void *arg)
{
    (void)arg;
    return state != 0;
}
static int pred_state_zero(void *arg)
{
    (void)arg;
    return state == 0;
}

static int consumer(void *arg)
{
    (void)arg;
    lm_cond_acquire(C);
    for (;;) {
        int rc = lm_cond_wait_for(C, pred_state_nonzero, NULL);
        if (rc < 0) {
            lm_cond_release(C);
            return rc;
        }
        if (state < 0)
            break;
        state -= 1;
    }
    lm_cond_release(C);
    return 0;
}

static int wait_state_zero(void *arg)
{
    (void)arg;
    return lm_cond_wait_for(C, pred_state_zero, NULL);
}

/* `async with asyncio.timeout(0.01): await condition.wait_for(...)` inside
 * `async with condition`: the wait_for runs as a task awaited with
 * lm_wait_for (asyncio's lock has no owner, nor has ours). */
static void cancelled_wakeup(bool relock)
{
    lm_task *c[2] = {lm_spawn("consumer 0", consumer, NULL),
                     lm_spawn("consumer 1", consumer, NULL)};
    lm_yield(); /* let them settle */
    lm_cond_acquire(C);
    state += 1; /* produce one item and wake one consumer */
    lm_cond_notify(C, 1);
    if (relock)
        lm_yield(); /* the consumer settles on re-acquiring the lock */
    lm_cancel(c[0]); /* cancel it while it is on its way */
    lm_task *w = lm_spawn("wait_for(state == 0)", wait_state_zero, NULL);
    int rc = lm_wait_for(w, MS(10), NULL);
    cr_expect(rc == LM_ETIMEDOUT || rc > 0);
    cr_expect_eq(state, 0, "the notify was not lost to the cancel");
    state = -1; /* clean up */
    lm_cond_notify_all(C);
    lm_cond_release(C);
    cr_expect_eq(lm_join(c[1], NULL), 0);
    cr_expect_eq(STATE(c[0]), LM_STATE_CANCELLED);
}

static int t_cond_cancelled_wakeup(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    cancelled_wakeup(false);
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_cancelled_wakeup) { RUN(t_cond_cancelled_wakeup); }

static int t_cond_cancelled_wakeup_relock(void *arg)
{
    (void)arg;
    C = lm_cond_new(NULL);
    cancelled_wakeup(true);
    lm_cond_free(C);
    return 0;
}
Test(ConditionTests, test_cancelled_wakeup_relock) { RUN(t_cond_cancelled_wakeup_relock); }

/* ======================================================================== */
/* SemaphoreTests                                                           */
/* ======================================================================== */

static int sem_c(void *arg)
{
    lm_sem_acquire(S);
    lmt_push(I(arg));
    return 0;
}

static int sem_acquire_task(void *arg)
{
    (void)arg;
    return lm_sem_acquire(S);
}

Test(SemaphoreTests, test_initial_value_zero)
{
    lm_sem *s = lm_sem_new(0);
    cr_expect(lm_sem_locked(s));
    lm_sem_free(s);
}

Test(SemaphoreTests, test_semaphore)
{
    lm_sem *s = lm_sem_new(1);
    cr_expect_eq(lm_sem_value(s), 1);
    cr_expect_not(lm_sem_locked(s));
    lm_sem_free(s);
}

static int t_sem_acquire(void *arg)
{
    (void)arg;
    S = lm_sem_new(3);
    cr_expect_eq(lm_sem_acquire(S), 0);
    cr_expect_eq(lm_sem_acquire(S), 0);
    cr_expect_not(lm_sem_locked(S));
    lm_task *t1 = lm_spawn("c1", sem_c, P(1));
    lm_task *t2 = lm_spawn("c2", sem_c, P(2));
    lm_task *t3 = lm_spawn("c3", sem_c, P(3));
    lm_yield();
    LMT_EXPECT_RES(1);
    cr_expect(lm_sem_locked(S));
    cr_expect_eq(lm_sem_value(S), 0);
    lm_task *t4 = lm_spawn("c4", sem_c, P(4));
    lm_sem_release(S);
    lm_sem_release(S);
    cr_expect_eq(lm_sem_value(S), 0, "both units went to waiters at once");
    lm_yield();
    cr_expect_eq(lm_sem_value(S), 0);
    cr_expect_eq(lmt_nres, 3);
    cr_expect(lm_sem_locked(S));
    cr_expect_eq(STATE(t1), LM_STATE_DONE);
    lm_task *race[3] = {t2, t3, t4};
    int done = 0;
    for (int i = 0; i < 3; i++)
        done += STATE(race[i]) == LM_STATE_DONE;
    cr_expect_eq(done, 2);
    lm_sem_release(S);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(lm_join(race[i], NULL), 0);
    lm_sem_free(S);
    return 0;
}
Test(SemaphoreTests, test_acquire) { RUN(t_sem_acquire); }

static int t_sem_acquire_cancel(void *arg)
{
    (void)arg;
    S = lm_sem_new(1);
    lm_sem_acquire(S);
    lm_task *acquire = lm_spawn("acquire", sem_acquire_task, NULL);
    lmt_cancel_soon(acquire);
    cr_expect_eq(lm_join(acquire, NULL), LM_ECANCELED);
    /* not sem._waiters: nobody is left in line, the release stays a unit */
    lm_sem_release(S);
    cr_expect_eq(lm_sem_value(S), 1);
    cr_expect_not(lm_sem_locked(S));
    lm_sem_free(S);
    return 0;
}
Test(SemaphoreTests, test_acquire_cancel) { RUN(t_sem_acquire_cancel); }

static int t_sem_acquire_cancel_before_awoken(void *arg)
{
    (void)arg;
    S = lm_sem_new(0);
    lm_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = lm_spawn(NULL, sem_acquire_task, NULL);
    lm_yield();
    lm_cancel(t[0]);
    lm_cancel(t[1]);
    lm_sem_release(S);
    lm_yield();
    lm_yield();
    int num_done = lm_task_finished(t[2]) + lm_task_finished(t[3]);
    cr_expect_eq(num_done, 1);
    cr_expect_eq(STATE(t[2]), LM_STATE_DONE);
    cr_expect_not(lm_task_finished(t[3]));
    lm_cancel(t[2]);
    lm_cancel(t[3]);
    lm_yield();
    cr_expect_eq(STATE(t[3]), LM_STATE_CANCELLED);
    lm_sem_free(S);
    return 0;
}
Test(SemaphoreTests, test_acquire_cancel_before_awoken) { RUN(t_sem_acquire_cancel_before_awoken); }

static int t_sem_acquire_hang(void *arg)
{
    (void)arg;
    S = lm_sem_new(0);
    lm_task *t1 = lm_spawn("t1", sem_acquire_task, NULL);
    lm_task *t2 = lm_spawn("t2", sem_acquire_task, NULL);
    lm_yield();
    lm_cancel(t1);
    lm_sem_release(S);
    lm_yield();
    lm_yield();
    cr_expect(lm_sem_locked(S));
    cr_expect_eq(STATE(t2), LM_STATE_DONE);
    lm_sem_free(S);
    return 0;
}
Test(SemaphoreTests, test_acquire_hang) { RUN(t_sem_acquire_hang); }

static lm_task *T2;
static int no_hang_c1(void *arg)
{
    (void)arg;
    lm_sem_acquire(S); /* async with sem: */
    lm_yield();
    lm_sem_release(S);
    lm_cancel(T2);
    return 0;
}
static int no_hang_c2(void *arg)
{
    (void)arg;
    int rc = lm_sem_acquire(S);
    if (rc != 0)
        return rc;
    cr_expect_fail("c2 must never get the semaphore");
    lm_sem_release(S);
    return 0;
}

static int t_sem_acquire_no_hang(void *arg)
{
    (void)arg;
    S = lm_sem_new(1);
    lm_task *t[2];
    t[0] = lm_spawn("c1", no_hang_c1, NULL);
    t[1] = T2 = lm_spawn("c2", no_hang_c2, NULL);
    int errs[2] = {1, 1};
    cr_expect_eq(lm_gather(t, 2, LM_GATHER_RETURN_EXCEPTIONS, NULL, errs), 0);
    cr_expect_eq(errs[0], 0);
    cr_expect_eq(errs[1], LM_ECANCELED);
    lm_task *a = lm_spawn("acquire", sem_acquire_task, NULL);
    cr_expect_eq(lm_wait_for(a, LM_SEC(1), NULL), 0, "the unit was not lost");
    lm_sem_free(S);
    return 0;
}
Test(SemaphoreTests, test_acquire_no_hang) { RUN(t_sem_acquire_no_hang); }

Test(SemaphoreTests, test_release_not_acquired)
{
    lm_sem *s = lm_sem_new_bounded(1);
    cr_expect_eq(lm_sem_release(s), LM_ERANGE);
    cr_expect_eq(lm_sem_value(s), 1);
    lm_sem_free(s);
}

static int t_sem_release_no_waiters(void *arg)
{
    (void)arg;
    S = lm_sem_new(1);
    lm_sem_acquire(S);
    cr_expect(lm_sem_locked(S));
    lm_sem_release(S);
    cr_expect_not(lm_sem_locked(S));
    lm_sem_free(S);
    return 0;
}
Test(SemaphoreTests, test_release_no_waiters) { RUN(t_sem_release_no_waiters); }

static int fifo_coro(void *arg)
{
    int tag = I(arg);
    for (int k = 1; k <= 2; k++) {
        lm_sem_acquire(S);
        lmt_push(tag * 10 + k);
        cr_expect_eq(lm_now(), MS(10) * ((k - 1) * 3 + tag - 1), "tag %d round %d", tag, k);
        lm_sleep(MS(10));
        lm_sem_release(S);
    }
    return 0;
}

static int t_sem_acquire_fifo_order(void *arg)
{
    (void)arg;
    S = lm_sem_new(1);
    lm_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = lm_spawn(NULL, fifo_coro, P(i + 1));
    for (int i = 0; i < 3; i++)
        lm_join(t[i], NULL);
    LMT_EXPECT_RES(11, 21, 31, 12, 22, 32);
    lm_sem_free(S);
    return 0;
}
Test(SemaphoreTests, test_acquire_fifo_order) { RUN(t_sem_acquire_fifo_order); }

static int fifo2_c2(void *arg)
{
    (void)arg;
    lm_sem_acquire(S);
    lmt_push(2);
    lm_sem_release(S);
    lm_sem_acquire(S);
    lmt_push(4);
    return 0;
}

static int t_sem_acquire_fifo_order_2(void *arg)
{
    (void)arg;
    S = lm_sem_new(1);
    lm_task *t[3] = {lm_spawn("c1", sem_c, P(1)), lm_spawn("c2", fifo2_c2, NULL),
                     lm_spawn("c3", sem_c, P(3))};
    lm_yield();
    lm_sem_release(S);
    lm_sem_release(S);
    cr_expect_eq(lm_gather(t, 3, 0, NULL, NULL), 0);
    LMT_EXPECT_RES(1, 2, 3, 4);
    lm_sem_free(S);
    return 0;
}
Test(SemaphoreTests, test_acquire_fifo_order_2) { RUN(t_sem_acquire_fifo_order_2); }

static int sem_c_checked(void *arg)
{
    if (lm_sem_acquire(S) == 0)
        lmt_push(I(arg));
    return lm_cancelled() ? LM_ECANCELED : 0;
}

static int t_sem_acquire_fifo_order_3(void *arg)
{
    (void)arg;
    S = lm_sem_new(0);
    lm_task *t[3] = {lm_spawn("c1", sem_c_checked, P(1)), lm_spawn("c2", sem_c_checked, P(2)),
                     lm_spawn("c3", sem_c_checked, P(3))};
    lm_yield();
    lm_cancel(t[0]);
    lm_yield();
    lm_sem_release(S);
    lm_sem_release(S);
    lm_gather(t, 3, LM_GATHER_RETURN_EXCEPTIONS, NULL, NULL);
    LMT_EXPECT_RES(2, 3);
    lm_sem_free(S);
    return 0;
}
Test(SemaphoreTests, test_acquire_fifo_order_3) { RUN(t_sem_acquire_fifo_order_3); }

static lm_task *T4;
static int fifo4_c4(void *arg)
{
    (void)arg;
    lmt_push(4);
    return 0;
}
static int fifo4_c1(void *arg)
{
    (void)arg;
    cr_expect_eq(lm_sem_value(S), 0);
    lm_sem_acquire(S); /* woken by c2 */
    cr_expect_eq(lm_sem_value(S), 0, "c1 woke every waiter it could");
    T4 = lm_spawn("c4", fifo4_c4, NULL); /* runs after c3, not c2 */
    lmt_push(1);
    return 0;
}
static int fifo4_c2(void *arg)
{
    (void)arg;
    lm_sem_release(S);
    lm_sem_release(S);
    lm_sem_release(S);
    cr_expect_eq(lm_sem_value(S), 2);
    cr_expect(lm_sem_locked(S), "locked: c1 has not woken up yet");
    lm_sem_acquire(S);
    lmt_push(2);
    return 0;
}
static int fifo4_c3(void *arg)
{
    (void)arg;
    lm_sem_acquire(S);
    cr_expect(lm_sem_locked(S));
    lmt_push(3);
    return 0;
}

static int t_sem_acquire_fifo_order_4(void *arg)
{
    (void)arg;
    S = lm_sem_new(0);
    lm_task *t[4] = {lm_spawn("c1", fifo4_c1, NULL), lm_spawn("c2", fifo4_c2, NULL),
                     lm_spawn("c3", fifo4_c3, NULL), NULL};
    lm_yield();
    /* Three tasks in line, the first has not woken up yet. */
    cr_expect_eq(lm_sem_value(S), 2);
    lm_yield();
    t[3] = T4;
    cr_expect_not_null(t[3]);
    cr_expect_eq(lm_gather(t, 4, 0, NULL, NULL), 0);
    LMT_EXPECT_RES(1, 2, 3, 4);
    lm_sem_free(S);
    return 0;
}
Test(SemaphoreTests, test_acquire_fifo_order_4) { RUN(t_sem_acquire_fifo_order_4); }

/* ======================================================================== */
/* BarrierTests                                                             */
/* ======================================================================== */

#define N 5

/* gather_tasks(n, coro): spawns n tasks, awaits them all in order; results
 * are what each passed to lm_return. */
static void gather_tasks(int n, lm_coro_fn coro, int *res)
{
    lm_task *t[16];
    for (int i = 0; i < n; i++)
        t[i] = lm_spawn(NULL, coro, NULL);
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        cr_expect_eq(lm_join(t[i], &r), 0, "task %d", i);
        if (res != NULL)
            res[i] = I(r);
    }
}

static int barrier_wait_task(void *arg)
{
    (void)arg;
    int rc = lm_barrier_wait(B);
    if (rc >= 0)
        lm_return(P(rc));
    return rc < 0 ? rc : 0;
}

static void expect_sorted_indexes(const int *res, int n)
{
    int seen[16] = {0};
    for (int i = 0; i < n; i++) {
        cr_expect(res[i] >= 0 && res[i] < n, "index %d", res[i]);
        if (res[i] >= 0 && res[i] < n)
            seen[res[i]]++;
    }
    for (int i = 0; i < n; i++)
        cr_expect_eq(seen[i], 1, "index %d returned %d times", i, seen[i]);
}

static int t_barrier(void *arg)
{
    (void)arg;
    B = lm_barrier_new(N);
    cr_expect_eq(lm_barrier_state(B), LM_BARRIER_FILLING);
    cr_expect_eq(lm_barrier_parties(B), N);
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_barrier) { RUN(t_barrier); }

static int t_barrier_repr(void *arg)
{
    (void)arg;
    B = lm_barrier_new(N);
    cr_expect_eq(lm_barrier_state(B), LM_BARRIER_FILLING);
    lm_task *w[16];
    int nw = 0;
    for (int i = 0; i < 2; i++)
        w[nw++] = lm_spawn(NULL, barrier_wait_task, NULL);
    lm_yield();
    cr_expect_eq(lm_barrier_n_waiting(B), 2); /* waiters:2/5 */
    cr_expect_eq(lm_barrier_state(B), LM_BARRIER_FILLING);
    for (unsigned i = 0, k = N - lm_barrier_n_waiting(B); i < k; i++)
        w[nw++] = lm_spawn(NULL, barrier_wait_task, NULL);
    lm_yield();
    cr_expect_eq(lm_barrier_state(B), LM_BARRIER_DRAINING);
    for (int i = 0; i < 2; i++)
        w[nw++] = lm_spawn(NULL, barrier_wait_task, NULL);
    lm_yield();
    lm_barrier_reset(B);
    cr_expect_eq(lm_barrier_state(B), LM_BARRIER_RESETTING);
    for (int i = 0; i < 2; i++)
        w[nw++] = lm_spawn(NULL, barrier_wait_task, NULL);
    lm_yield();
    lm_barrier_abort(B);
    cr_expect_eq(lm_barrier_state(B), LM_BARRIER_BROKEN);
    cr_expect(lm_barrier_broken(B));
    int errs[16];
    lm_gather(w, (size_t)nw, LM_GATHER_RETURN_EXCEPTIONS, NULL, errs);
    for (int i = 0; i < N; i++)
        cr_expect_eq(errs[i], 0, "waiter %d passed", i);
    for (int i = N; i < nw; i++)
        cr_expect_eq(errs[i], LM_EBROKEN, "waiter %d broken", i);
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_repr) { RUN(t_barrier_repr); }

Test(BarrierTests, test_barrier_parties)
{
    cr_expect_null(lm_barrier_new(0));
    lm_barrier *b = lm_barrier_new(N);
    cr_expect_not_null(b);
    lm_barrier_free(b);
}

static int t_barrier_context_manager(void *arg)
{
    (void)arg;
    B = lm_barrier_new(3);
    int res[3];
    gather_tasks(3, barrier_wait_task, res);
    expect_sorted_indexes(res, 3);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_not(lm_barrier_broken(B));
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_context_manager) { RUN(t_barrier_context_manager); }

static int t_barrier_filling_one_task(void *arg)
{
    (void)arg;
    B = lm_barrier_new(1);
    cr_expect_eq(lm_barrier_wait(B), 0);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_not(lm_barrier_broken(B));
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_filling_one_task) { RUN(t_barrier_filling_one_task); }

static int t_barrier_filling_one_task_twice(void *arg)
{
    (void)arg;
    B = lm_barrier_new(1);
    lm_task *t1 = lm_spawn("t1", barrier_wait_task, NULL);
    lm_yield();
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    lm_task *t2 = lm_spawn("t2", barrier_wait_task, NULL);
    lm_yield();
    cr_expect_eq(lm_task_result(t1), lm_task_result(t2));
    cr_expect_eq(lm_task_finished(t1), lm_task_finished(t2));
    cr_expect_eq(STATE(t1), LM_STATE_DONE);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_not(lm_barrier_broken(B));
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_filling_one_task_twice) { RUN(t_barrier_filling_one_task_twice); }

static int t_barrier_filling_task_by_task(void *arg)
{
    (void)arg;
    B = lm_barrier_new(3);
    lm_task *t[3];
    t[0] = lm_spawn("t1", barrier_wait_task, NULL);
    lm_yield();
    cr_expect_eq(lm_barrier_n_waiting(B), 1);
    cr_expect_eq(lm_barrier_state(B), LM_BARRIER_FILLING);
    t[1] = lm_spawn("t2", barrier_wait_task, NULL);
    lm_yield();
    cr_expect_eq(lm_barrier_n_waiting(B), 2);
    cr_expect_eq(lm_barrier_state(B), LM_BARRIER_FILLING);
    t[2] = lm_spawn("t3", barrier_wait_task, NULL);
    lm_yield();
    lm_wait(t, 3, LM_ALL_COMPLETED, -1, NULL, NULL);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_not(lm_barrier_broken(B));
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_filling_task_by_task) { RUN(t_barrier_filling_task_by_task); }

static int n_true, n_false;
static int wait_twice(void *arg)
{
    (void)arg;
    if (lm_barrier_wait(B) < 0)
        return LM_EFAILED;
    n_true++;
    int i = lm_barrier_wait(B);
    if (i < 0)
        return LM_EFAILED;
    n_false++;
    lm_return(P(i));
    return 0;
}

static int t_barrier_filling_tasks_wait_twice(void *arg)
{
    (void)arg;
    B = lm_barrier_new(N);
    gather_tasks(N, wait_twice, NULL);
    cr_expect_eq(n_true, N);
    cr_expect_eq(n_false, N);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_not(lm_barrier_broken(B));
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_filling_tasks_wait_twice) { RUN(t_barrier_filling_tasks_wait_twice); }

static int t_barrier_filling_tasks_check_return_value(void *arg)
{
    (void)arg;
    B = lm_barrier_new(N);
    int res[N];
    gather_tasks(N, wait_twice, res);
    cr_expect_eq(n_true, N);
    cr_expect_eq(n_false, N);
    expect_sorted_indexes(res, N);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_not(lm_barrier_broken(B));
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_filling_tasks_check_return_value) { RUN(t_barrier_filling_tasks_check_return_value); }

static int draining_coro(void *arg)
{
    (void)arg;
    if (lm_barrier_wait(B) < 0)
        return LM_EFAILED;
    /* the state is draining for all but the last task out */
    lmt_push(lm_barrier_state(B) == LM_BARRIER_DRAINING);
    return 0;
}

static int t_barrier_draining_state(void *arg)
{
    (void)arg;
    B = lm_barrier_new(N);
    gather_tasks(N, draining_coro, NULL);
    LMT_EXPECT_RES(1, 1, 1, 1, 0);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_not(lm_barrier_broken(B));
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_draining_state) { RUN(t_barrier_draining_state); }

static lm_barrier *B2;
static int rewait_n;
static int blocking_coro(void *arg)
{
    (void)arg;
    if (lm_barrier_wait(B) < 0) /* first time waiting */
        return LM_EFAILED;
    if (rewait_n > 0) {
        rewait_n--;
        return lm_barrier_wait(B) < 0 ? LM_EFAILED : 0; /* only the rewaiters */
    }
    if (lm_barrier_wait(B2) < 0) /* wait for the end of draining */
        return LM_EFAILED;
    return lm_barrier_wait(B) < 0 ? LM_EFAILED : 0;
}

static int t_barrier_blocking_tasks_while_draining(void *arg)
{
    (void)arg;
    int rewait = 2;
    B = lm_barrier_new(N);
    B2 = lm_barrier_new(N - rewait);
    rewait_n = rewait;
    /* success means B2 was waited for exactly N - rewait times */
    gather_tasks(N, blocking_coro, NULL);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_eq(lm_barrier_n_waiting(B2), 0);
    lm_barrier_free(B);
    lm_barrier_free(B2);
    return 0;
}
Test(BarrierTests, test_blocking_tasks_while_draining) { RUN(t_barrier_blocking_tasks_while_draining); }

static int cancel_one_coro(void *arg)
{
    (void)arg;
    int rc = lm_barrier_wait(B);
    if (rc < 0)
        return rc;
    lmt_push(1);
    return 0;
}

static int t_barrier_filling_tasks_cancel_one(void *arg)
{
    (void)arg;
    B = lm_barrier_new(3);
    lm_task *t1 = lm_spawn("t1", cancel_one_coro, NULL);
    lm_yield();
    cr_expect_eq(lm_barrier_n_waiting(B), 1);
    lm_task *t2 = lm_spawn("t2", cancel_one_coro, NULL);
    lm_yield();
    cr_expect_eq(lm_barrier_n_waiting(B), 2);
    lm_cancel(t1);
    lm_yield();
    cr_expect_eq(lm_barrier_n_waiting(B), 1);
    cr_expect_eq(lm_join(t1, NULL), LM_ECANCELED);
    cr_expect_eq(STATE(t1), LM_STATE_CANCELLED);
    lm_task *t3 = lm_spawn("t3", cancel_one_coro, NULL);
    lm_yield();
    cr_expect_eq(lm_barrier_n_waiting(B), 2);
    lm_task *t4 = lm_spawn("t4", cancel_one_coro, NULL);
    lm_task *g[3] = {t2, t3, t4};
    cr_expect_eq(lm_gather(g, 3, 0, NULL, NULL), 0);
    cr_expect_eq(lmt_nres, 3);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_not(lm_barrier_broken(B));
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_filling_tasks_cancel_one) { RUN(t_barrier_filling_tasks_cancel_one); }

static int reset_task(void *arg)
{
    (void)arg;
    lm_barrier_reset(B);
    return 0;
}

static int abort_task(void *arg)
{
    (void)arg;
    lm_barrier_abort(B);
    return 0;
}

static int t_barrier_reset_barrier(void *arg)
{
    (void)arg;
    B = lm_barrier_new(1);
    lm_spawn("reset", reset_task, NULL);
    lm_yield();
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_not(lm_barrier_broken(B));
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_reset_barrier) { RUN(t_barrier_reset_barrier); }

static int broken_coro(void *arg)
{
    (void)arg;
    if (lm_barrier_wait(B) == LM_EBROKEN)
        lmt_push(1);
    return 0;
}

static int t_barrier_reset_barrier_while_tasks_waiting(void *arg)
{
    (void)arg;
    B = lm_barrier_new(N);
    lm_task *t[N - 1];
    for (int i = 0; i < N - 1; i++)
        t[i] = lm_spawn(NULL, broken_coro, NULL);
    lm_yield();
    lm_spawn("reset", reset_task, NULL);
    lm_gather(t, N - 1, 0, NULL, NULL);
    cr_expect_eq(lmt_nres, N - 1);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_neq(lm_barrier_state(B), LM_BARRIER_RESETTING);
    cr_expect_not(lm_barrier_broken(B));
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_reset_barrier_while_tasks_waiting) { RUN(t_barrier_reset_barrier_while_tasks_waiting); }

/* CPython reads the private _count; n_waiting is 0 while draining, so the
 * port counts the tasks that left with a static of its own. */
static int left;
static int half_draining_coro2(void *arg)
{
    (void)arg;
    int rest_of_tasks = N / 2;
    int rc = lm_barrier_wait(B);
    if (rc == LM_EBROKEN) {
        lmt_push(1);
    } else if (rc >= 0) {
        left++;
        if (N - left == rest_of_tasks) /* _count: tasks still inside */
            lm_barrier_reset(B);
    }
    return 0;
}

static int t_barrier_reset_barrier_when_tasks_half_draining(void *arg)
{
    (void)arg;
    B = lm_barrier_new(N);
    gather_tasks(N, half_draining_coro2, NULL);
    cr_expect_eq(lmt_nres, N / 2, "the tasks not yet out were broken by the reset");
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_neq(lm_barrier_state(B), LM_BARRIER_RESETTING);
    cr_expect_not(lm_barrier_broken(B));
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_reset_barrier_when_tasks_half_draining) { RUN(t_barrier_reset_barrier_when_tasks_half_draining); }

static int count;
static int results2;
static int hdhb_coro(void *arg)
{
    (void)arg;
    int blocking_tasks = N / 2;
    int rc = lm_barrier_wait(B);
    if (rc == LM_EBROKEN) {
        lmt_push(1); /* the tasks still waiting */
        return lm_barrier_wait(B) < 0 ? LM_EFAILED : 0;
    }
    count++;
    if (count > blocking_tasks) {
        lm_barrier_reset(B); /* waiting tasks get LM_EBROKEN */
        return lm_barrier_wait(B) < 0 ? LM_EFAILED : 0;
    }
    if (lm_barrier_wait(B) == LM_EBROKEN)
        results2++; /* blocked tasks do not get here */
    return 0;
}

static int t_barrier_reset_half_draining_half_blocking(void *arg)
{
    (void)arg;
    B = lm_barrier_new(N);
    gather_tasks(N, hdhb_coro, NULL);
    cr_expect_eq(lmt_nres, N / 2);
    cr_expect_eq(results2, 0);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_neq(lm_barrier_state(B), LM_BARRIER_RESETTING);
    cr_expect_not(lm_barrier_broken(B));
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_reset_barrier_when_tasks_half_draining_half_blocking) { RUN(t_barrier_reset_half_draining_half_blocking); }

static int r1, r2;
static int again_coro1(void *arg)
{
    (void)arg;
    if (lm_barrier_wait(B) == LM_EBROKEN)
        r1++;
    /* finally: */
    if (lm_barrier_wait(B) < 0)
        return LM_EFAILED;
    r2++;
    return 0;
}
static int again_coro2(void *arg)
{
    (void)arg;
    if (lm_barrier_wait(B) < 0)
        return LM_EFAILED;
    r2++;
    return 0;
}

static int t_barrier_reset_while_waiting_and_waiting_again(void *arg)
{
    (void)arg;
    B = lm_barrier_new(N);
    lm_task *t[N - 1];
    for (int i = 0; i < N - 1; i++)
        t[i] = lm_spawn(NULL, again_coro1, NULL);
    lm_spawn("reset", reset_task, NULL); /* N-1 waiting tasks get LM_EBROKEN */
    lm_yield();
    lm_spawn("coro2", again_coro2, NULL); /* completes the waits in `finally` */
    cr_expect_eq(lm_gather(t, N - 1, 0, NULL, NULL), 0);
    cr_expect_not(lm_barrier_broken(B));
    cr_expect_eq(r1, N - 1);
    cr_expect_eq(r2, N);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_reset_barrier_while_tasks_waiting_and_waiting_again) { RUN(t_barrier_reset_while_waiting_and_waiting_again); }

static int res1, res2, res3;
static int draining_reset_coro(void *arg)
{
    (void)arg;
    if (lm_barrier_wait(B) < 0)
        return LM_EFAILED;
    count++;
    if (count == N) {
        lm_barrier_reset(B); /* the last task out */
        if (lm_barrier_wait(B) < 0)
            return LM_EFAILED;
    } else {
        if (lm_barrier_wait(B) >= 0)
            res1++; /* N-1 tasks here */
        else
            res2++; /* never */
    }
    if (lm_barrier_wait(B) < 0) /* pass the barrier again */
        return LM_EFAILED;
    res3++;
    return 0;
}

static int t_barrier_reset_while_tasks_draining(void *arg)
{
    (void)arg;
    B = lm_barrier_new(N);
    gather_tasks(N, draining_reset_coro, NULL);
    cr_expect_not(lm_barrier_broken(B));
    cr_expect_eq(res1, N - 1);
    cr_expect_eq(res2, 0);
    cr_expect_eq(res3, N);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_reset_barrier_while_tasks_draining) { RUN(t_barrier_reset_while_tasks_draining); }

static int t_barrier_abort_barrier(void *arg)
{
    (void)arg;
    B = lm_barrier_new(1);
    lm_spawn("abort", abort_task, NULL);
    lm_yield();
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect(lm_barrier_broken(B));
    cr_expect_eq(lm_barrier_wait(B), LM_EBROKEN);
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_abort_barrier) { RUN(t_barrier_abort_barrier); }

static int abort_hdhb_coro(void *arg)
{
    (void)arg;
    int blocking_tasks = N / 2;
    if (lm_barrier_wait(B) == LM_EBROKEN) {
        lmt_push(1); /* tasks waiting to drain */
        return 0;
    }
    count++;
    if (count > blocking_tasks) {
        lm_barrier_abort(B); /* everybody gets LM_EBROKEN */
    } else if (lm_barrier_wait(B) == LM_EBROKEN) {
        results2++; /* blocked tasks, already drained */
    }
    return 0;
}

static int t_barrier_abort_half_draining_half_blocking(void *arg)
{
    (void)arg;
    B = lm_barrier_new(N);
    gather_tasks(N, abort_hdhb_coro, NULL);
    cr_expect(lm_barrier_broken(B));
    cr_expect_eq(lmt_nres, N / 2);
    cr_expect_eq(results2, N - N / 2 - 1);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    cr_expect_neq(lm_barrier_state(B), LM_BARRIER_RESETTING);
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_abort_barrier_when_tasks_half_draining_half_blocking) { RUN(t_barrier_abort_half_draining_half_blocking); }

static int exc_coro(void *arg)
{
    (void)arg;
    int i = lm_barrier_wait(B);
    if (i == LM_EBROKEN) {
        res2++;
        return 0;
    }
    if (i == N / 2) { /* raise RuntimeError -> except: abort */
        lm_barrier_abort(B);
        return 0;
    }
    if (lm_barrier_wait(B) == LM_EBROKEN) {
        res2++;
        return 0;
    }
    res1++;
    return 0;
}

static int t_barrier_abort_when_exception(void *arg)
{
    (void)arg;
    B = lm_barrier_new(N);
    gather_tasks(N, exc_coro, NULL);
    cr_expect(lm_barrier_broken(B));
    cr_expect_eq(res1, 0);
    cr_expect_eq(res2, N - 1);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    lm_barrier_free(B);
    return 0;
}
Test(BarrierTests, test_abort_barrier_when_exception) { RUN(t_barrier_abort_when_exception); }

static int exc_reset_coro(void *arg)
{
    (void)arg;
    int i = lm_barrier_wait(B);
    if (i == LM_EBROKEN) {
        res2++;
    } else if (i == N / 2) {
        lm_barrier_abort(B);
    } else if (lm_barrier_wait(B) == LM_EBROKEN) {
        res2++;
    } else {
        res1++;
    }
    /* Synchronise and reset the barrier: everyone has left it when we
     * reset, and nobody enters it before the reset. */
    i = lm_barrier_wait(B2);
    if (i == N / 2)
        lm_barrier_reset(B);
    lm_barrier_wait(B2);
    if (lm_barrier_wait(B) < 0)
        return LM_EFAILED;
    res3++;
    return 0;
}

static int t_barrier_abort_when_exception_then_resetting(void *arg)
{
    (void)arg;
    B = lm_barrier_new(N);
    B2 = lm_barrier_new(N);
    gather_tasks(N, exc_reset_coro, NULL);
    cr_expect_not(lm_barrier_broken(B));
    cr_expect_eq(res1, 0);
    cr_expect_eq(res2, N - 1);
    cr_expect_eq(res3, N);
    cr_expect_eq(lm_barrier_n_waiting(B), 0);
    lm_barrier_free(B);
    lm_barrier_free(B2);
    return 0;
}
Test(BarrierTests, test_abort_barrier_when_exception_then_resetting) { RUN(t_barrier_abort_when_exception_then_resetting); }

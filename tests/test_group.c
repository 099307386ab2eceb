/*
 * test_group.c: lm_join, lm_gather, lm_wait, lm_wait_for and task groups.
 *
 * Every test runs a main task on a loop with the virtual clock, so sleeps
 * cost nothing and the times asserted (lm_now()) are exact. Tasks record
 * what happened into the file-level `rec`; the assertions run after the loop
 * (Criterion runs each test in its own process, so `rec` starts zeroed).
 */
#include <criterion/criterion.h>

#include "loopmaid.h"
#include "support/lm_test.h"

#include <string.h>

#define MS(n) LM_MSEC(n)

static struct {
    int order[16];       /* ids of events in the order they happened */
    int norder;
    int cleanup[16];     /* cleanup[i] = 1 when worker i ran its cleanup */
    lm_time cleanup_at[16];
    lm_time t_return;    /* when the awaited call returned */
    int rc;              /* what the awaited call returned */
    int rc2;
    size_t ndone;
    unsigned char done[16];
    void *results[16];
    int errors[16];
    int body_ran[16];
} rec;

/* A worker: sleeps `ms`, then returns `err` (0: ok, with result idx+100).
 * On cancellation it runs a cleanup that itself awaits (a sleep of
 * `cleanup_ms`), records it, and ends cancelled. */
typedef struct job {
    int idx;
    int ms;
    int err;
    int cleanup_ms;
    int cleanup_err; /* the cleanup fails with this code (0: it succeeds) */
} job;

/* A job whose cleanup succeeds. */
#define J(i, ms, err, cms) {(i), (ms), (err), (cms), 0}

static int worker(void *arg)
{
    job *j = arg;
    rec.body_ran[j->idx] = 1;
    int rc = lm_sleep(MS(j->ms));
    if (rc == LM_ECANCELED) {
        if (j->cleanup_ms > 0)
            lm_sleep(MS(j->cleanup_ms));
        rec.cleanup[j->idx] = 1;
        rec.cleanup_at[j->idx] = lm_now();
        if (j->cleanup_err != 0)
            return lm_fail(j->cleanup_err, "cleanup failed");
        return LM_ECANCELED;
    }
    rec.order[rec.norder++] = j->idx;
    if (j->err != 0)
        return lm_fail(j->err, "worker failed");
    lm_return((void *)(intptr_t)(j->idx + 100));
    return 0;
}

/* ---------------------------------------------------------------------- */
/* join                                                                    */
/* ---------------------------------------------------------------------- */

static int join_main(void *arg)
{
    (void)arg;
    job a = J(0, 10, 0, 0), b = J(1, 5, LM_EUSER - 3, 0);
    lm_task *ta = lm_spawn("a", worker, &a);
    lm_task *tb = lm_spawn("b", worker, &b);
    void *res = NULL;
    rec.rc = lm_join(ta, &rec.results[0]);
    rec.t_return = lm_now();
    rec.rc2 = lm_join(tb, &res); /* already finished: at once */
    rec.errors[0] = lm_join(lm_current(), NULL);
    rec.errors[1] = lm_join(NULL, NULL);
    lm_task_release(ta);
    lm_task_release(tb);
    return 0;
}

Test(join, result_error_and_misuse)
{
    cr_assert_eq(lmt_run(join_main, NULL), 0);
    cr_expect_eq(rec.rc, 0);
    cr_expect_eq((intptr_t)rec.results[0], 100);
    cr_expect_eq(rec.t_return, MS(10));
    cr_expect_eq(rec.rc2, LM_EUSER - 3);
    cr_expect_eq(rec.errors[0], LM_EINVAL, "joining yourself would deadlock");
    cr_expect_eq(rec.errors[1], LM_EINVAL);
}

static int join_cancel_inner(void *arg)
{
    lm_task *t = arg;
    rec.rc = lm_join(t, NULL);
    rec.rc2 = lm_task_finished(t);
    rec.t_return = lm_now();
    return rec.rc;
}

static int shield_cancel_inner(void *arg)
{
    lm_task *t = arg;
    rec.rc = lm_shield(t, NULL);
    rec.rc2 = lm_task_finished(t);
    return rec.rc;
}

static int join_cancel_main(void *arg)
{
    lm_coro_fn inner = arg;
    job a = J(0, 50, 0, 3);
    lm_task *ta = lm_spawn("a", worker, &a);
    lm_task *tj = lm_spawn("joiner", inner, ta);
    lm_sleep(MS(10));
    lm_cancel(tj);
    lm_join(tj, NULL);
    rec.errors[0] = lm_join(ta, NULL);
    rec.errors[1] = lm_task_error(tj);
    rec.results[1] = (void *)(intptr_t)lm_now();
    lm_task_release(ta);
    lm_task_release(tj);
    return 0;
}

/* `await task` passes the cancellation on: the joined task is cancelled,
 * cleans up, and the joiner ends after it. */
Test(join, cancelled_joiner_cancels_target_and_ends_after_it)
{
    cr_assert_eq(lmt_run(join_cancel_main, join_cancel_inner), 0);
    cr_expect_eq(rec.rc, LM_ECANCELED);
    cr_expect_eq(rec.rc2, 1, "the target had ended when the joiner returned");
    cr_expect_eq(rec.t_return, MS(13), "after the target's 3 ms cleanup");
    cr_expect_eq(rec.errors[0], LM_ECANCELED);
    cr_expect_eq(rec.errors[1], LM_ECANCELED);
    cr_expect_eq(rec.cleanup[0], 1);
}

/* lm_shield (asyncio.shield): the joiner returns at once, the target runs on. */
Test(join, shielded_joiner_leaves_target_running)
{
    cr_assert_eq(lmt_run(join_cancel_main, shield_cancel_inner), 0);
    cr_expect_eq(rec.rc, LM_ECANCELED);
    cr_expect_eq(rec.rc2, 0, "target still running when the joiner returned");
    cr_expect_eq(rec.errors[0], 0);
    cr_expect_eq((intptr_t)rec.results[1], MS(50));
    cr_expect_eq(rec.cleanup[0], 0);
}

/* ---------------------------------------------------------------------- */
/* gather                                                                  */
/* ---------------------------------------------------------------------- */

static int gather_order_main(void *arg)
{
    (void)arg;
    job j[4];
    lm_task *t[4];
    for (int i = 0; i < 4; i++) {
        j[i] = (job)J(i, (4 - i) * 10, 0, 0); /* finish in reverse order */
        t[i] = lm_spawn(NULL, worker, &j[i]);
    }
    rec.rc = lm_gather(t, 4, 0, rec.results, rec.errors);
    rec.t_return = lm_now();
    for (int i = 0; i < 4; i++)
        lm_task_release(t[i]);
    return 0;
}

Test(gather, results_in_original_order)
{
    cr_assert_eq(lmt_run(gather_order_main, NULL), 0);
    cr_expect_eq(rec.rc, 0);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq((intptr_t)rec.results[i], 100 + i, "results[%d]", i);
        cr_expect_eq(rec.errors[i], 0);
        cr_expect_eq(rec.order[i], 3 - i, "completion order is reversed");
    }
    cr_expect_eq(rec.t_return, MS(40));
}

static int gather_fail_main(void *arg)
{
    int flags = (int)(intptr_t)arg;
    job a = J(0, 10, 0, 0);
    job b = J(1, 20, LM_EUSER - 1, 0);
    job c = J(2, 100, 0, 5); /* cleanup takes 5 ms */
    job d = J(3, 100, 0, 0);
    lm_task *t[4] = {lm_spawn("A", worker, &a), lm_spawn("B", worker, &b),
                     lm_spawn("C", worker, &c), lm_spawn("D", worker, &d)};
    rec.rc = lm_gather(t, 4, flags, rec.results, rec.errors);
    rec.t_return = lm_now();
    for (int i = 0; i < 4; i++)
        rec.done[i] = (unsigned char)lm_task_state(t[i]);
    for (int i = 0; i < 4; i++) {
        lm_join(t[i], NULL); /* the others may still run: wait for them */
        rec.done[8 + i] = (unsigned char)lm_task_state(t[i]);
        lm_task_release(t[i]);
    }
    return 0;
}

/* asyncio's default: the first error reaches the caller at once, the
 * others keep running to their own end. */
Test(gather, first_error_returned_at_once_others_keep_running)
{
    cr_assert_eq(lmt_run(gather_fail_main, (void *)0), 0);
    cr_expect_eq(rec.rc, LM_EUSER - 1);
    cr_expect_eq(rec.t_return, MS(20));
    cr_expect_eq(rec.done[0], LM_STATE_DONE);
    cr_expect_eq(rec.done[1], LM_STATE_FAILED);
    cr_expect(rec.done[2] == LM_STATE_AWAITING, "C still running");
    cr_expect_eq(rec.errors[2], LM_ESTATE, "no code yet for a running member");
    cr_expect_null(rec.results[2]);
    cr_expect_eq(rec.done[10], LM_STATE_DONE, "C ran to its end");
    cr_expect_eq(rec.done[11], LM_STATE_DONE);
    cr_expect_eq(rec.cleanup[2] + rec.cleanup[3], 0, "nobody was cancelled");
}

/* The seed's "gather cancels the others", as the opt-in flag. */
Test(gather, cancel_on_error_cancels_others_and_waits_for_them)
{
    cr_assert_eq(lmt_run(gather_fail_main, (void *)LM_GATHER_CANCEL_ON_ERROR), 0);
    cr_expect_eq(rec.rc, LM_EUSER - 1);
    cr_expect_eq(rec.done[0], LM_STATE_DONE);
    cr_expect_eq(rec.done[1], LM_STATE_FAILED);
    cr_expect_eq(rec.done[2], LM_STATE_CANCELLED);
    cr_expect_eq(rec.done[3], LM_STATE_CANCELLED);
    cr_expect_eq(rec.cleanup[0], 0);
    cr_expect_eq(rec.cleanup[2], 1);
    cr_expect_eq(rec.cleanup[3], 1);
    cr_expect_eq(rec.cleanup_at[2], MS(25));
    /* The error reached the caller only after C's cleanup had finished. */
    cr_expect_eq(rec.t_return, MS(25));
    cr_expect_eq(rec.errors[1], LM_EUSER - 1);
    cr_expect_eq(rec.errors[2], LM_ECANCELED);
    cr_expect_eq((intptr_t)rec.results[0], 100);
}

static int gather_collect_main(void *arg)
{
    (void)arg;
    job a = J(0, 30, LM_EUSER - 1, 0);
    job b = J(1, 10, 0, 0);
    job c = J(2, 20, LM_EUSER - 2, 0);
    lm_task *t[3] = {lm_spawn("A", worker, &a), lm_spawn("B", worker, &b),
                     lm_spawn("C", worker, &c)};
    rec.rc = lm_gather(t, 3, LM_GATHER_RETURN_EXCEPTIONS, rec.results, rec.errors);
    rec.t_return = lm_now();
    for (int i = 0; i < 3; i++)
        lm_task_release(t[i]);
    return 0;
}

Test(gather, return_exceptions_collects_every_error)
{
    cr_assert_eq(lmt_run(gather_collect_main, NULL), 0);
    cr_expect_eq(rec.rc, 0);
    cr_expect_eq(rec.errors[0], LM_EUSER - 1);
    cr_expect_eq(rec.errors[1], 0);
    cr_expect_eq(rec.errors[2], LM_EUSER - 2);
    cr_expect_eq((intptr_t)rec.results[1], 101);
    cr_expect_eq(rec.t_return, MS(30), "nobody was cancelled: all ran to the end");
    cr_expect_eq(rec.cleanup[0] + rec.cleanup[1] + rec.cleanup[2], 0);
}

static int gather_owner(void *arg)
{
    job *j = arg;
    lm_task *t[2] = {lm_spawn("x", worker, &j[0]), lm_spawn("y", worker, &j[1])};
    rec.rc = lm_gather(t, 2, 0, NULL, NULL);
    /* Both members have ended (and cleaned up) before gather returned. */
    rec.rc2 = lm_task_finished(t[0]) && lm_task_finished(t[1]) && rec.cleanup[0] &&
              rec.cleanup[1];
    rec.t_return = lm_now();
    lm_task_release(t[0]);
    lm_task_release(t[1]);
    return rec.rc;
}

static job gather_cancel_jobs[2] = {J(0, 100, 0, 3), J(1, 100, 0, 7)};

static int gather_cancel_main(void *arg)
{
    (void)arg;
    lm_task *o = lm_spawn("owner", gather_owner, gather_cancel_jobs);
    lm_sleep(MS(10));
    lm_cancel(o);
    rec.errors[0] = lm_join(o, NULL);
    lm_sleep(MS(20)); /* y's cleanup goes on after the owner returned */
    lm_task_release(o);
    return 0;
}

/* The members are cancelled; as in asyncio the first one to end cancelled
 * settles the gather (LM_ECANCELED), the other may still be cleaning up. */
Test(gather, cancelled_caller_cancels_members)
{
    cr_assert_eq(lmt_run(gather_cancel_main, NULL), 0);
    cr_expect_eq(rec.rc, LM_ECANCELED);
    cr_expect_eq(rec.rc2, 0, "y was still cleaning up");
    cr_expect_eq(rec.t_return, MS(13));
    cr_expect_eq(rec.errors[0], LM_ECANCELED);
    cr_expect_eq(rec.cleanup[1], 1);
    cr_expect_eq(rec.cleanup_at[1], MS(17));
}

static int gather_empty_main(void *arg)
{
    (void)arg;
    rec.rc = lm_gather(NULL, 0, 0, NULL, NULL);
    lm_task *self = lm_current();
    rec.rc2 = lm_gather(&self, 1, 0, NULL, NULL);
    rec.errors[0] = lm_gather(NULL, 0, 99, NULL, NULL);
    return 0;
}

Test(gather, empty_and_bad_arguments)
{
    cr_assert_eq(lmt_run(gather_empty_main, NULL), 0);
    cr_expect_eq(rec.rc, 0);
    cr_expect_eq(rec.rc2, LM_EINVAL);
    cr_expect_eq(rec.errors[0], LM_EINVAL);
    cr_expect_eq(lm_gather(NULL, 0, 0, NULL, NULL), LM_ENOTASK);
}

/* ---------------------------------------------------------------------- */
/* wait                                                                    */
/* ---------------------------------------------------------------------- */

typedef struct wait_case {
    lm_wait_mode mode;
    lm_time timeout;
    job j[3];
} wait_case;

static int wait_main(void *arg)
{
    wait_case *wc = arg;
    lm_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = lm_spawn(NULL, worker, &wc->j[i]);
    rec.rc = lm_wait(t, 3, wc->mode, wc->timeout, rec.done, &rec.ndone);
    rec.t_return = lm_now();
    /* Nothing was cancelled: the pending ones run to their end. */
    for (int i = 0; i < 3; i++) {
        rec.errors[i] = lm_join(t[i], NULL);
        lm_task_release(t[i]);
    }
    return 0;
}

Test(wait, first_completed)
{
    wait_case wc = {LM_FIRST_COMPLETED, -1, {J(0, 30, 0, 0), J(1, 10, 0, 0), J(2, 20, 0, 0)}};
    cr_assert_eq(lmt_run(wait_main, &wc), 0);
    cr_expect_eq(rec.rc, 0);
    cr_expect_eq(rec.t_return, MS(10));
    cr_expect_eq(rec.ndone, 1);
    cr_expect_eq(rec.done[0], 0);
    cr_expect_eq(rec.done[1], 1);
    cr_expect_eq(rec.done[2], 0);
    cr_expect_eq(rec.errors[0], 0, "pending tasks were not cancelled");
    cr_expect_eq(rec.errors[2], 0);
}

Test(wait, first_exception)
{
    wait_case wc = {LM_FIRST_EXCEPTION, -1,
                    {J(0, 10, 0, 0), J(1, 20, LM_EUSER - 4, 0), J(2, 30, 0, 0)}};
    cr_assert_eq(lmt_run(wait_main, &wc), 0);
    cr_expect_eq(rec.rc, 0);
    cr_expect_eq(rec.t_return, MS(20));
    cr_expect_eq(rec.ndone, 2);
    cr_expect_eq(rec.done[0], 1);
    cr_expect_eq(rec.done[1], 1);
    cr_expect_eq(rec.done[2], 0);
    cr_expect_eq(rec.errors[1], LM_EUSER - 4);
    cr_expect_eq(rec.errors[2], 0);
}

Test(wait, first_exception_without_exception_waits_for_all)
{
    wait_case wc = {LM_FIRST_EXCEPTION, -1, {J(0, 10, 0, 0), J(1, 20, 0, 0), J(2, 30, 0, 0)}};
    cr_assert_eq(lmt_run(wait_main, &wc), 0);
    cr_expect_eq(rec.t_return, MS(30));
    cr_expect_eq(rec.ndone, 3);
}

Test(wait, all_completed)
{
    wait_case wc = {LM_ALL_COMPLETED, -1,
                    {J(0, 10, LM_EUSER - 1, 0), J(1, 40, 0, 0), J(2, 20, 0, 0)}};
    cr_assert_eq(lmt_run(wait_main, &wc), 0);
    cr_expect_eq(rec.rc, 0);
    cr_expect_eq(rec.t_return, MS(40));
    cr_expect_eq(rec.ndone, 3);
    cr_expect_eq(rec.done[0] + rec.done[1] + rec.done[2], 3);
}

Test(wait, timeout_returns_counts_and_cancels_nothing)
{
    wait_case wc = {LM_ALL_COMPLETED, MS(25), {J(0, 10, 0, 0), J(1, 40, 0, 0), J(2, 50, 0, 0)}};
    cr_assert_eq(lmt_run(wait_main, &wc), 0);
    cr_expect_eq(rec.rc, 0, "a timeout is not an error for wait, as in asyncio");
    cr_expect_eq(rec.t_return, MS(25));
    cr_expect_eq(rec.ndone, 1);
    cr_expect_eq(rec.done[0], 1);
    cr_expect_eq(rec.done[1], 0);
    cr_expect_eq(rec.done[2], 0);
    cr_expect_eq(rec.errors[1], 0);
    cr_expect_eq(rec.errors[2], 0);
    cr_expect_eq(rec.cleanup[1] + rec.cleanup[2], 0);
}

Test(wait, zero_timeout_polls)
{
    wait_case wc = {LM_FIRST_COMPLETED, 0, {J(0, 10, 0, 0), J(1, 20, 0, 0), J(2, 30, 0, 0)}};
    cr_assert_eq(lmt_run(wait_main, &wc), 0);
    cr_expect_eq(rec.rc, 0);
    cr_expect_eq(rec.t_return, 0);
    cr_expect_eq(rec.ndone, 0);
}

static int wait_cancel_owner(void *arg)
{
    job *j = arg;
    lm_task *t[2] = {lm_spawn("x", worker, &j[0]), lm_spawn("y", worker, &j[1])};
    rec.rc = lm_wait(t, 2, LM_ALL_COMPLETED, -1, rec.done, &rec.ndone);
    rec.t_return = lm_now();
    /* wait cancels nothing, even when its caller is cancelled. */
    rec.rc2 = !lm_task_finished(t[0]) && !lm_task_finished(t[1]);
    lm_task_release(t[0]);
    lm_task_release(t[1]);
    return rec.rc;
}

static int wait_cancel_main(void *arg)
{
    (void)arg;
    job j[2] = {J(0, 100, 0, 0), J(1, 100, 0, 0)};
    lm_task *o = lm_spawn("owner", wait_cancel_owner, j);
    lm_sleep(MS(10));
    lm_cancel(o);
    lm_join(o, NULL);
    lm_task_release(o);
    lm_sleep(MS(100));
    return 0;
}

Test(wait, cancelled_caller_cancels_nothing)
{
    cr_assert_eq(lmt_run(wait_cancel_main, NULL), 0);
    cr_expect_eq(rec.rc, LM_ECANCELED);
    cr_expect_eq(rec.t_return, MS(10));
    cr_expect_eq(rec.rc2, 1);
    cr_expect_eq(rec.cleanup[0] + rec.cleanup[1], 0);
    cr_expect_eq(rec.order[0], 0);
    cr_expect_eq(rec.order[1], 1);
    cr_expect_eq(rec.norder, 2, "both ran to their end");
}

/* ---------------------------------------------------------------------- */
/* wait_for                                                                */
/* ---------------------------------------------------------------------- */

typedef struct wf_case {
    job j;
    lm_time timeout;
} wf_case;

static int wait_for_main(void *arg)
{
    wf_case *c = arg;
    lm_task *t = lm_spawn("slow", worker, &c->j);
    rec.rc = lm_wait_for(t, c->timeout, &rec.results[0]);
    rec.t_return = lm_now();
    rec.rc2 = rec.cleanup[0]; /* what the caller could see when it returned */
    rec.done[0] = (unsigned char)lm_task_state(t);
    lm_task_release(t);
    return 0;
}

Test(wait_for, timeout_cancels_and_waits_for_cleanup)
{
    wf_case c = {J(0, 100, 0, 5), MS(20)};
    cr_assert_eq(lmt_run(wait_for_main, &c), 0);
    cr_expect_eq(rec.rc, LM_ETIMEDOUT, "a timeout, never LM_ECANCELED");
    cr_expect_eq(rec.rc2, 1, "the cleanup ran before the caller got the timeout");
    cr_expect_eq(rec.cleanup_at[0], MS(25));
    cr_expect_eq(rec.t_return, MS(25));
    cr_expect_eq(rec.done[0], LM_STATE_CANCELLED);
}

Test(wait_for, in_time_returns_result)
{
    wf_case c = {J(0, 10, 0, 0), MS(20)};
    cr_assert_eq(lmt_run(wait_for_main, &c), 0);
    cr_expect_eq(rec.rc, 0);
    cr_expect_eq((intptr_t)rec.results[0], 100);
    cr_expect_eq(rec.t_return, MS(10));
    cr_expect_eq(rec.done[0], LM_STATE_DONE);
}

Test(wait_for, in_time_returns_error)
{
    wf_case c = {J(0, 10, LM_EUSER - 9, 0), MS(20)};
    cr_assert_eq(lmt_run(wait_for_main, &c), 0);
    cr_expect_eq(rec.rc, LM_EUSER - 9);
    cr_expect_eq(rec.t_return, MS(10));
}

Test(wait_for, no_timeout)
{
    wf_case c = {J(0, 500, 0, 0), -1};
    cr_assert_eq(lmt_run(wait_for_main, &c), 0);
    cr_expect_eq(rec.rc, 0);
    cr_expect_eq(rec.t_return, MS(500));
}

static int wf_owner(void *arg)
{
    job *j = arg;
    lm_task *t = lm_spawn("inner", worker, j);
    rec.rc = lm_wait_for(t, MS(50), NULL);
    rec.rc2 = rec.cleanup[0];
    rec.t_return = lm_now();
    lm_task_release(t);
    return rec.rc;
}

static int wf_cancel_main(void *arg)
{
    (void)arg;
    job j = J(0, 100, 0, 4);
    lm_task *o = lm_spawn("owner", wf_owner, &j);
    lm_sleep(MS(10));
    lm_cancel(o);
    rec.errors[0] = lm_join(o, NULL);
    lm_task_release(o);
    return 0;
}

Test(wait_for, cancelled_caller_propagates)
{
    cr_assert_eq(lmt_run(wf_cancel_main, NULL), 0);
    cr_expect_eq(rec.rc, LM_ECANCELED);
    cr_expect_eq(rec.rc2, 1, "the inner task was cancelled and cleaned up first");
    cr_expect_eq(rec.t_return, MS(14));
    cr_expect_eq(rec.errors[0], LM_ECANCELED);
}

/* A task that ignores its cancellation and finishes anyway: wait_for
 * returns what it returned, as asyncio does. */
static int stubborn(void *arg)
{
    (void)arg;
    lm_sleep(MS(100)); /* cancelled at 20 */
    lm_sleep(MS(3));   /* goes on regardless */
    lm_return((void *)(intptr_t)7);
    return 0;
}

static int wf_stubborn_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("stubborn", stubborn, NULL);
    rec.rc = lm_wait_for(t, MS(20), &rec.results[0]);
    rec.t_return = lm_now();
    lm_task_release(t);
    return 0;
}

Test(wait_for, task_ignoring_cancel_returns_its_result)
{
    cr_assert_eq(lmt_run(wf_stubborn_main, NULL), 0);
    cr_expect_eq(rec.rc, 0);
    cr_expect_eq((intptr_t)rec.results[0], 7);
    cr_expect_eq(rec.t_return, MS(23));
}

/* ---------------------------------------------------------------------- */
/* task groups                                                             */
/* ---------------------------------------------------------------------- */

static int tg_ok_main(void *arg)
{
    (void)arg;
    job j[3] = {J(0, 30, 0, 0), J(1, 10, 0, 0), J(2, 20, 0, 0)};
    lm_taskgroup *g = lm_taskgroup_new("fetchers");
    cr_assert_not_null(g);
    for (int i = 0; i < 3; i++)
        cr_assert_not_null(lm_taskgroup_spawn(g, NULL, worker, &j[i]));
    rec.rc = lm_taskgroup_wait(g);
    rec.t_return = lm_now();
    rec.ndone = lm_taskgroup_errors(g, rec.errors, 16);
    rec.errors[10] = (int)lm_taskgroup_size(g);
    rec.results[0] = lm_task_result(lm_taskgroup_task(g, 2));
    rec.results[1] = lm_taskgroup_spawn(g, NULL, worker, &j[0]);
    rec.rc2 = lm_taskgroup_wait(g); /* a second wait returns the same */
    lm_taskgroup_free(g);
    return 0;
}

Test(taskgroup, waits_for_all_children)
{
    cr_assert_eq(lmt_run(tg_ok_main, NULL), 0);
    cr_expect_eq(rec.rc, 0);
    cr_expect_eq(rec.t_return, MS(30));
    cr_expect_eq(rec.ndone, 0);
    cr_expect_eq(rec.errors[10], 3);
    cr_expect_eq((intptr_t)rec.results[0], 102);
    cr_expect_null(rec.results[1], "no spawn after the group's end");
    cr_expect_eq(rec.rc2, 0);
}

static int tg_fail_main(void *arg)
{
    (void)arg;
    job j[4] = {{0, 5, 0, 0, 0},
                {1, 10, LM_EUSER - 1, 0, 0},
                {2, 100, 0, 6, LM_EUSER - 2}, /* its cleanup fails too */
                {3, 100, 0, 4, 0}};           /* cancelled cleanly */
    lm_taskgroup *g = lm_taskgroup_new(NULL);
    lm_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = lm_taskgroup_spawn(g, NULL, worker, &j[i]);
    rec.rc = lm_taskgroup_wait(g);
    rec.t_return = lm_now();
    rec.ndone = lm_taskgroup_errors(g, rec.errors, 16);
    for (int i = 0; i < 4; i++)
        rec.done[i] = (unsigned char)lm_task_state(t[i]);
    lm_taskgroup_free(g);
    return 0;
}

Test(taskgroup, reports_every_error_and_cancels_the_rest)
{
    cr_assert_eq(lmt_run(tg_fail_main, NULL), 0);
    cr_expect_eq(rec.rc, LM_EUSER - 1, "the first failure's code");
    cr_expect_eq(rec.ndone, 2, "both failures, not the cancellation");
    cr_expect_eq(rec.errors[0], LM_EUSER - 1);
    cr_expect_eq(rec.errors[1], LM_EUSER - 2);
    cr_expect_eq(rec.done[0], LM_STATE_DONE);
    cr_expect_eq(rec.done[1], LM_STATE_FAILED);
    cr_expect_eq(rec.done[2], LM_STATE_FAILED);
    cr_expect_eq(rec.done[3], LM_STATE_CANCELLED);
    cr_expect_eq(rec.cleanup[2], 1);
    cr_expect_eq(rec.cleanup[3], 1);
    cr_expect_eq(rec.t_return, MS(16), "waited for the cancelled child's cleanup");
}

/* The owner is busy in its body when a child fails: the siblings are
 * cancelled at once, and so is the owner's body at its current await
 * (asyncio's TaskGroup); the exit withdraws the group's request. */
static int tg_busy_main(void *arg)
{
    (void)arg;
    job j[2] = {J(0, 10, LM_EUSER - 1, 0), J(1, 100, 0, 0)};
    lm_taskgroup *g = lm_taskgroup_new("busy");
    lm_taskgroup_spawn(g, "fails", worker, &j[0]);
    lm_taskgroup_spawn(g, "slow", worker, &j[1]);
    rec.errors[0] = lm_sleep(MS(50)); /* the body: interrupted at 10 ms */
    rec.errors[1] = lm_now();
    rec.rc2 = lm_taskgroup_spawn(g, "late", worker, &j[1]) == NULL;
    rec.rc = lm_taskgroup_exit(g, rec.errors[0]);
    rec.errors[2] = lm_cancelled();
    rec.t_return = lm_now();
    lm_taskgroup_free(g);
    return 0;
}

Test(taskgroup, failure_cancels_siblings_while_owner_busy)
{
    cr_assert_eq(lmt_run(tg_busy_main, NULL), 0);
    cr_expect_eq(rec.rc, LM_EUSER - 1);
    cr_expect_eq(rec.cleanup[1], 1);
    cr_expect_eq(rec.cleanup_at[1], MS(10));
    cr_expect_eq(rec.rc2, 1, "no spawn into a failed group");
    cr_expect_eq(rec.errors[0], LM_ECANCELED, "the body's await was cancelled");
    cr_expect_eq(rec.errors[1], MS(10));
    cr_expect_eq(rec.errors[2], 0, "the group withdrew its request");
    cr_expect_eq(rec.t_return, MS(10));
}

static int tg_owner(void *arg)
{
    job *j = arg;
    lm_taskgroup *g = lm_taskgroup_new("owned");
    lm_taskgroup_spawn(g, "x", worker, &j[0]);
    lm_taskgroup_spawn(g, "y", worker, &j[1]);
    rec.rc = lm_taskgroup_wait(g);
    rec.rc2 = rec.cleanup[0] && rec.cleanup[1];
    rec.t_return = lm_now();
    lm_taskgroup_free(g);
    return rec.rc;
}

static int tg_cancel_main(void *arg)
{
    (void)arg;
    job j[2] = {J(0, 100, 0, 2), J(1, 100, 0, 8)};
    lm_task *o = lm_spawn("owner", tg_owner, j);
    lm_sleep(MS(10));
    lm_cancel(o);
    rec.errors[0] = lm_join(o, NULL);
    lm_task_release(o);
    return 0;
}

Test(taskgroup, cancelled_owner_cancels_children)
{
    cr_assert_eq(lmt_run(tg_cancel_main, NULL), 0);
    cr_expect_eq(rec.rc, LM_ECANCELED);
    cr_expect_eq(rec.rc2, 1);
    cr_expect_eq(rec.t_return, MS(18));
    cr_expect_eq(rec.errors[0], LM_ECANCELED);
}

static int tg_free_main(void *arg)
{
    (void)arg;
    job j[2] = {J(0, 100, 0, 3), J(1, 100, 0, 0)};
    lm_taskgroup *g = lm_taskgroup_new("leftovers");
    lm_task *a = lm_task_retain(lm_taskgroup_spawn(g, "a", worker, &j[0]));
    lm_sleep(MS(10));
    /* b is spawned and freed before it ever runs: its body never starts. */
    lm_task *b = lm_task_retain(lm_taskgroup_spawn(g, "b", worker, &j[1]));
    lm_taskgroup_free(g);
    rec.rc = lm_join(a, NULL);
    rec.rc2 = lm_join(b, NULL);
    rec.t_return = lm_now();
    lm_task_release(a);
    lm_task_release(b);
    return 0;
}

Test(taskgroup, free_cancels_leftovers)
{
    cr_assert_eq(lmt_run(tg_free_main, NULL), 0);
    cr_expect_eq(rec.rc, LM_ECANCELED);
    cr_expect_eq(rec.rc2, LM_ECANCELED);
    cr_expect_eq(rec.cleanup[0], 1);
    cr_expect_eq(rec.body_ran[1], 0, "a never-run child never runs its body");
    cr_expect_eq(rec.t_return, MS(13));
}

/* A child spawns a sibling into the group while the owner waits. */
typedef struct spawner_arg {
    lm_taskgroup *g;
    job *j;
} spawner_arg;

static int spawner(void *arg)
{
    spawner_arg *s = arg;
    lm_sleep(MS(5));
    lm_taskgroup_spawn(s->g, "late", worker, s->j);
    return 0;
}

static int tg_nested_main(void *arg)
{
    (void)arg;
    job j = J(0, 20, 0, 0);
    lm_taskgroup *g = lm_taskgroup_new("nested");
    spawner_arg s = {g, &j};
    lm_taskgroup_spawn(g, "spawner", spawner, &s);
    rec.rc = lm_taskgroup_wait(g);
    rec.t_return = lm_now();
    rec.ndone = lm_taskgroup_size(g);
    lm_taskgroup_free(g);
    return 0;
}

Test(taskgroup, child_spawned_during_wait_is_awaited)
{
    cr_assert_eq(lmt_run(tg_nested_main, NULL), 0);
    cr_expect_eq(rec.rc, 0);
    cr_expect_eq(rec.ndone, 2);
    cr_expect_eq(rec.t_return, MS(25));
}

/* A child cancelled from outside the group is not a failure: the group
 * goes on and reports no error (asyncio's TaskGroup ignores it too). */
static int tg_outside_cancel_main(void *arg)
{
    (void)arg;
    job j[2] = {J(0, 100, 0, 0), J(1, 20, 0, 0)};
    lm_taskgroup *g = lm_taskgroup_new("outside");
    lm_task *a = lm_taskgroup_spawn(g, "a", worker, &j[0]);
    lm_taskgroup_spawn(g, "b", worker, &j[1]);
    lm_sleep(MS(5));
    lm_cancel(a);
    rec.rc = lm_taskgroup_wait(g);
    rec.t_return = lm_now();
    rec.ndone = lm_taskgroup_errors(g, NULL, 0);
    rec.done[1] = (unsigned char)lm_task_state(lm_taskgroup_task(g, 1));
    lm_taskgroup_free(g);
    return 0;
}

Test(taskgroup, child_cancelled_from_outside_is_not_an_error)
{
    cr_assert_eq(lmt_run(tg_outside_cancel_main, NULL), 0);
    cr_expect_eq(rec.rc, 0);
    cr_expect_eq(rec.ndone, 0);
    cr_expect_eq(rec.cleanup[0], 1);
    cr_expect_eq(rec.done[1], LM_STATE_DONE, "the sibling was not cancelled");
    cr_expect_eq(rec.t_return, MS(20));
}

/* The task's sleep ends in the very tick its deadline passes. The deadline
 * timer was armed first, so wait_for cancels t before t runs again; t's
 * sleep returns 0 (it had been woken) but t returns without another await,
 * and a task that returns with a cancellation pending ends cancelled, as in
 * asyncio (which throws CancelledError into t at that await): a timeout. */
Test(wait_for, completion_in_the_deadline_tick_is_a_timeout)
{
    wf_case c = {J(0, 20, 0, 0), MS(20)};
    cr_assert_eq(lmt_run(wait_for_main, &c), 0);
    cr_expect_eq(rec.rc, LM_ETIMEDOUT);
    cr_expect_eq(rec.t_return, MS(20));
    cr_expect_eq(rec.done[0], LM_STATE_CANCELLED);
}

/* The gather owner is woken by its last member's end and cancelled in the
 * same step, before it runs: it still reports the cancellation, and all its
 * members had ended by then. */
static int gather_race_owner(void *arg)
{
    job *j = arg;
    lm_task *t = lm_spawn("m", worker, j);
    rec.rc = lm_gather(&t, 1, 0, NULL, NULL);
    rec.rc2 = lm_task_finished(t);
    lm_task_release(t);
    return rec.rc;
}

static int gather_race_member(void *arg)
{
    lm_task **owner = arg;
    lm_sleep(MS(10));
    lm_cancel(*owner); /* the owner is awaiting: woken by cancel... */
    return 0;          /* ...and then this member ends */
}

static int gather_race_main(void *arg)
{
    (void)arg;
    lm_task *owner = NULL;
    lm_task *m = lm_spawn("canceller", gather_race_member, &owner);
    job j = J(0, 10, 0, 0);
    owner = lm_spawn("owner", gather_race_owner, &j);
    rec.errors[0] = lm_join(owner, NULL);
    lm_join(m, NULL);
    lm_task_release(owner);
    lm_task_release(m);
    return 0;
}

Test(gather, owner_cancelled_in_the_tick_its_member_ends)
{
    cr_assert_eq(lmt_run(gather_race_main, NULL), 0);
    cr_expect_eq(rec.rc, LM_ECANCELED);
    cr_expect_eq(rec.rc2, 1);
    cr_expect_eq(rec.errors[0], LM_ECANCELED);
}

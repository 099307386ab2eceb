/*
 * test_aio_timeouts.c: CPython's Lib/test/test_asyncio/test_timeouts.py,
 * ported to lm_timeout_begin / lm_timeout_end (asyncio.timeout scopes).
 *
 * Each Test(timeouts, NAME) is the CPython test NAME, under the virtual
 * clock, so the times asserted are exact. `async with timeout(d) as cm:
 * BODY` is written
 *     lm_timeout *cm = lm_timeout_begin(d);
 *     int rc = BODY;
 *     rc = lm_timeout_end(cm, rc);
 * and "raises TimeoutError" is rc == LM_ETIMEDOUT. docs/asyncio-conformance.md
 * lists every row.
 */
#include <criterion/criterion.h>

#include "loopmaid.h"
#include "support/lm_aio.h"
#include "support/lm_test.h"

#define MS(n) LM_MSEC(n)

static struct {
    int rc, rc2, rc3;
    int flag, flag2;
    lm_time t0, t1, when;
    int expired, expired2;
    lm_timeout *cm;
} R;

/* ---- basics -------------------------------------------------------------- */

static int basic_main(void *arg)
{
    (void)arg;
    lm_timeout *cm = lm_timeout_begin(MS(10));
    cr_assert_not_null(cm);
    R.rc = lm_timeout_end(cm, lm_sleep(LM_SEC(10)));
    R.t1 = lm_now();
    R.expired = lm_timeout_expired(cm);
    R.rc2 = lm_task_cancelling(lm_current());
    lm_timeout_free(cm);
    return 0;
}

Test(timeouts, test_timeout_basic)
{
    cr_assert_eq(lmt_run(basic_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
    cr_expect_eq(R.t1, MS(10));
    cr_expect(R.expired);
    cr_expect_eq(R.rc2, 0, "the scope withdrew its own cancellation");
}

static int at_basic_main(void *arg)
{
    (void)arg;
    lm_time deadline = lm_now() + MS(10);
    lm_timeout *cm = lm_timeout_begin_at(deadline);
    R.rc = lm_timeout_end(cm, lm_sleep(LM_SEC(10)));
    R.expired = lm_timeout_expired(cm);
    R.when = lm_timeout_when(cm);
    R.t0 = deadline;
    lm_timeout_free(cm);
    return 0;
}

Test(timeouts, test_timeout_at_basic)
{
    cr_assert_eq(lmt_run(at_basic_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
    cr_expect(R.expired);
    cr_expect_eq(R.when, R.t0);
}

static int nested_main(void *arg)
{
    (void)arg;
    lm_time deadline = lm_now() + MS(10);
    lm_timeout *cm1 = lm_timeout_begin_at(deadline);
    lm_timeout *cm2 = lm_timeout_begin_at(deadline);
    int rc = lm_sleep(LM_SEC(10));
    R.flag = rc == LM_ECANCELED;
    rc = lm_timeout_end(cm2, rc);
    R.rc2 = rc; /* only the topmost raises TimeoutError */
    R.rc = lm_timeout_end(cm1, rc);
    R.expired = lm_timeout_expired(cm1);
    R.expired2 = lm_timeout_expired(cm2);
    lm_timeout_free(cm1);
    lm_timeout_free(cm2);
    return 0;
}

Test(timeouts, test_nested_timeouts)
{
    cr_assert_eq(lmt_run(nested_main, NULL), 0);
    cr_expect(R.flag, "the body saw CancelledError");
    cr_expect_eq(R.rc2, LM_ECANCELED, "the inner scope lets it through");
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
    cr_expect(R.expired);
    cr_expect(R.expired2);
}

static int waiter_cancelled_main(void *arg)
{
    (void)arg;
    lm_timeout *cm = lm_timeout_begin(MS(10));
    int rc = lm_sleep(LM_SEC(10));
    R.flag = rc == LM_ECANCELED;
    R.rc = lm_timeout_end(cm, rc);
    lm_timeout_free(cm);
    return 0;
}

Test(timeouts, test_waiter_cancelled)
{
    cr_assert_eq(lmt_run(waiter_cancelled_main, NULL), 0);
    cr_expect(R.flag);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
}

static int not_called_main(void *arg)
{
    (void)arg;
    lm_timeout *cm = lm_timeout_begin(LM_SEC(10));
    R.rc = lm_timeout_end(cm, lm_sleep(MS(10)));
    R.t1 = lm_now();
    R.expired = lm_timeout_expired(cm);
    R.when = lm_timeout_when(cm);
    lm_timeout_free(cm);
    /* The cancelled timer does not fire later either. */
    R.rc2 = lm_sleep(LM_SEC(20));
    return 0;
}

Test(timeouts, test_timeout_not_called)
{
    cr_assert_eq(lmt_run(not_called_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_not(R.expired);
    cr_expect_gt(R.when, R.t1);
    cr_expect_eq(R.when, LM_SEC(10));
    cr_expect_eq(R.rc2, 0);
}

static int disabled_main(void *arg)
{
    lm_timeout *cm = arg ? lm_timeout_begin_at(LM_FOREVER) : lm_timeout_begin(LM_FOREVER);
    R.rc = lm_timeout_end(cm, lm_sleep(MS(10)));
    R.expired = lm_timeout_expired(cm);
    R.when = lm_timeout_when(cm);
    lm_timeout_free(cm);
    return 0;
}

Test(timeouts, test_timeout_disabled)
{
    cr_assert_eq(lmt_run(disabled_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_not(R.expired);
    cr_expect_lt(R.when, 0, "no deadline (None)");
}

Test(timeouts, test_timeout_at_disabled)
{
    cr_assert_eq(lmt_run(disabled_main, (void *)1), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_not(R.expired);
    cr_expect_lt(R.when, 0);
}

static int zero_main(void *arg)
{
    lm_time sleep = (lm_time)(intptr_t)arg;
    R.t0 = lm_now();
    lm_timeout *cm = lm_timeout_begin(0);
    int rc = sleep > 0 ? lm_sleep(sleep) : lm_yield(); /* sleep(0) is a yield */
    R.rc = lm_timeout_end(cm, rc);
    R.t1 = lm_now();
    R.expired = lm_timeout_expired(cm);
    R.when = lm_timeout_when(cm);
    lm_timeout_free(cm);
    return 0;
}

Test(timeouts, test_timeout_zero)
{
    cr_assert_eq(lmt_run(zero_main, (void *)(intptr_t)LM_SEC(10)), 0);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
    cr_expect(R.expired);
    cr_expect(R.t0 <= R.when && R.when <= R.t1);
    cr_expect_eq(R.t1, 0, "no time passed");
}

Test(timeouts, test_timeout_zero_sleep_zero)
{
    cr_assert_eq(lmt_run(zero_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
    cr_expect(R.expired);
    cr_expect(R.t0 <= R.when && R.when <= R.t1);
}

static int past_main(void *arg)
{
    (void)arg;
    lm_sleep(MS(20)); /* so that "11 s ago" is a loop time, as timeout(-11) */
    R.t0 = lm_now();
    lm_timeout *cm = lm_timeout_begin_at(R.t0 - MS(11));
    R.rc = lm_timeout_end(cm, lm_yield());
    R.t1 = lm_now();
    R.expired = lm_timeout_expired(cm);
    R.when = lm_timeout_when(cm);
    lm_timeout_free(cm);
    return 0;
}

Test(timeouts, test_timeout_in_the_past_sleep_zero)
{
    cr_assert_eq(lmt_run(past_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
    cr_expect(R.expired);
    cr_expect(R.t0 >= R.when && R.when <= R.t1);
}

/* ---- other errors and other cancellations -------------------------------- */

static int foreign_exc_main(void *arg)
{
    (void)arg;
    lm_timeout *cm = lm_timeout_begin(MS(10));
    R.rc = lm_timeout_end(cm, LM_EUSER - 1); /* raise KeyError */
    R.expired = lm_timeout_expired(cm);
    lm_timeout_free(cm);
    R.rc2 = lm_sleep(MS(50)); /* the disarmed deadline cancels nothing */
    return 0;
}

Test(timeouts, test_foreign_exception_passed)
{
    cr_assert_eq(lmt_run(foreign_exc_main, NULL), 0);
    cr_expect_eq(R.rc, LM_EUSER - 1);
    cr_expect_not(R.expired);
    cr_expect_eq(R.rc2, 0);
}

static int crash(void *arg)
{
    (void)arg;
    lm_sleep(LM_SEC(1));
    return lm_fail(LM_EUSER - 2, "1/0 in finally");
}

static int foreign_on_timeout_main(void *arg)
{
    (void)arg;
    lm_timeout *cm = lm_timeout_begin(MS(10));
    R.rc = lm_timeout_end(cm, crash(NULL)); /* await crash() */
    lm_timeout_free(cm);
    return 0;
}

Test(timeouts, test_foreign_exception_on_timeout)
{
    cr_assert_eq(lmt_run(foreign_on_timeout_main, NULL), 0);
    cr_expect_eq(R.rc, LM_EUSER - 2, "ZeroDivisionError, not TimeoutError");
}

static int foreign_cancel_main(void *arg)
{
    (void)arg;
    lm_timeout *cm = lm_timeout_begin(LM_SEC(10));
    lm_cancel(lm_current());
    R.rc = lm_timeout_end(cm, lm_sleep(LM_SEC(10)));
    R.expired = lm_timeout_expired(cm);
    R.t1 = lm_now();
    lm_timeout_free(cm);
    return R.rc;
}

Test(timeouts, test_foreign_cancel_doesnt_timeout_if_not_expired)
{
    cr_assert_eq(lmt_run(foreign_cancel_main, NULL), LM_ECANCELED);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_not(R.expired);
    cr_expect_eq(R.t1, 0);
}

static int outer_fn(void *arg)
{
    (void)arg;
    lm_timeout *cm = lm_timeout_begin(LM_USEC(1000));
    R.rc = lm_timeout_end(cm, lm_sleep(LM_SEC(10)));
    lm_timeout_free(cm);
    return 0;
}

static int outer_not_cancelled_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("outer", outer_fn, NULL);
    R.rc2 = lm_join(t, NULL);
    R.flag = lm_task_state(t) == LM_STATE_DONE;
    lm_task_release(t);
    return 0;
}

Test(timeouts, test_outer_task_is_not_cancelled)
{
    cr_assert_eq(lmt_run(outer_not_cancelled_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
    cr_expect_eq(R.rc2, 0);
    cr_expect(R.flag, "done, not cancelled");
}

/* ---- reschedule ---------------------------------------------------------- */

static int resched_f(void *arg)
{
    lm_time deadline1 = *(lm_time *)arg;
    R.cm = lm_timeout_begin_at(deadline1);
    int rc = lm_timeout_end(R.cm, lm_sleep(LM_SEC(50)));
    return rc;
}

static int reschedule_main(void *arg)
{
    (void)arg;
    lm_time deadline1 = lm_now() + LM_SEC(10);
    lm_time deadline2 = deadline1 + LM_SEC(20);
    lm_task *t = lm_spawn("f", resched_f, &deadline1);
    lm_yield(); /* cm = await fut */
    cr_assert_not_null(R.cm);
    cr_expect_eq(lm_timeout_when(R.cm), deadline1);
    cr_expect_eq(lm_timeout_reschedule(R.cm, deadline2), 0);
    cr_expect_eq(lm_timeout_when(R.cm), deadline2);
    cr_expect_eq(lm_timeout_reschedule(R.cm, LM_FOREVER), 0);
    cr_expect_lt(lm_timeout_when(R.cm), 0);
    lm_cancel(t);
    R.rc = lm_join(t, NULL);
    R.expired = lm_timeout_expired(R.cm);
    R.t1 = lm_now();
    lm_timeout_free(R.cm);
    lm_task_release(t);
    return 0;
}

Test(timeouts, test_reschedule)
{
    cr_assert_eq(lmt_run(reschedule_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_not(R.expired);
    cr_expect_eq(R.t1, 0);
}

static int finished_main(void *arg)
{
    (void)arg;
    lm_timeout *cm = lm_timeout_begin(MS(10));
    cr_expect_eq(lm_timeout_end(cm, 0), 0);
    R.rc = lm_timeout_reschedule(cm, MS(20));
    R.rc2 = lm_timeout_end(cm, 0); /* a second exit */
    lm_timeout_free(cm);
    return 0;
}

Test(timeouts, test_timeout_finished)
{
    cr_assert_eq(lmt_run(finished_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ESTATE, "RuntimeError: finished");
    cr_expect_eq(R.rc2, LM_ESTATE);
}

/* Expired (state "expiring"): too late to move the deadline. */
static int resched_expired_main(void *arg)
{
    (void)arg;
    lm_timeout *cm = lm_timeout_begin(MS(10));
    int rc = lm_sleep(LM_SEC(1));
    R.rc2 = lm_timeout_reschedule(cm, LM_SEC(5));
    R.rc = lm_timeout_end(cm, rc);
    lm_timeout_free(cm);
    return 0;
}

/* Not a CPython test: once expired, a scope refuses to move its deadline
 * (asyncio's reschedule raises RuntimeError in the expiring state). */
Test(timeouts, reschedule_after_expiry_is_refused)
{
    cr_assert_eq(lmt_run(resched_expired_main, NULL), 0);
    cr_expect_eq(R.rc2, LM_ESTATE);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
}

Test(timeouts, test_timeout_without_task)
{
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_expect_null(lm_timeout_begin(MS(10)), "RuntimeError: no task");
    cr_expect_null(lm_timeout_begin_at(MS(10)));
    cr_expect_eq(lm_timeout_reschedule(NULL, MS(20)), LM_EINVAL);
    lm_loop_free(l);
}

/* ---- nesting with cleanups ----------------------------------------------- */

static int in_finally_main(void *arg)
{
    (void)arg;
    lm_timeout *outer = lm_timeout_begin(MS(10));
    int rc = lm_sleep(LM_SEC(1));
    /* finally: */
    lm_timeout *inner = lm_timeout_begin(MS(10));
    R.rc2 = lm_timeout_end(inner, lm_sleep(LM_SEC(10)));
    R.t1 = lm_now();
    lm_timeout_free(inner);
    R.rc = lm_timeout_end(outer, rc);
    lm_timeout_free(outer);
    return 0;
}

Test(timeouts, test_nested_timeout_in_finally)
{
    cr_assert_eq(lmt_run(in_finally_main, NULL), 0);
    cr_expect_eq(R.rc2, LM_ETIMEDOUT, "the inner scope times out in the cleanup");
    cr_expect_eq(R.t1, MS(20));
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
}

static int after_cancellation_main(void *arg)
{
    (void)arg;
    lm_cancel(lm_current());
    R.rc3 = lm_sleep(LM_SEC(1)); /* work which will be cancelled (caught) */
    lm_timeout *cm = lm_timeout_begin(0);
    R.rc = lm_timeout_end(cm, lm_sleep(LM_SEC(1))); /* some cleanup */
    lm_timeout_free(cm);
    return 0;
}

Test(timeouts, test_timeout_after_cancellation)
{
    cr_assert_eq(lmt_run(after_cancellation_main, NULL), 0);
    cr_expect_eq(R.rc3, LM_ECANCELED);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
}

static int cancel_in_timeout_main(void *arg)
{
    (void)arg;
    lm_cancel(lm_current());
    R.rc3 = lm_sleep(LM_SEC(1));
    lm_timeout *cm = lm_timeout_begin(LM_SEC(1));
    lm_cancel(lm_current());
    R.rc = lm_timeout_end(cm, lm_sleep(LM_SEC(2)));
    R.t1 = lm_now();
    lm_timeout_free(cm);
    return 0;
}

Test(timeouts, test_cancel_in_timeout_after_cancellation)
{
    cr_assert_eq(lmt_run(cancel_in_timeout_main, NULL), 0);
    cr_expect_eq(R.rc3, LM_ECANCELED);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.t1, 0);
}

/* ---- timeouts around task groups ----------------------------------------- */

static int tg_child(void *arg)
{
    (void)arg;
    return lm_sleep(LM_SEC(10));
}

static int timeout_taskgroup_main(void *arg)
{
    (void)arg;
    lm_timeout *cm = lm_timeout_begin(MS(10));
    lm_taskgroup *g = lm_taskgroup_new("tg");
    lm_taskgroup_spawn(g, "child", tg_child, NULL);
    int rc = lm_taskgroup_exit(g, lm_sleep(LM_SEC(1)));
    R.rc2 = rc;
    R.rc = lm_timeout_end(cm, rc);
    R.t1 = lm_now();
    R.rc3 = lm_task_error(lm_taskgroup_task(g, 0));
    lm_taskgroup_free(g);
    lm_timeout_free(cm);
    return 0;
}

/* The behaviour part of test_taskgroups.py's
 * test_exception_refcycles_propagate_cancellation_error: timeout() around a
 * task group whose body is cancelled by the deadline raises TimeoutError. */
Test(timeouts, timeout_around_taskgroup)
{
    cr_assert_eq(lmt_run(timeout_taskgroup_main, NULL), 0);
    cr_expect_eq(R.rc2, LM_ECANCELED, "the group passes the cancellation on");
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
    cr_expect_eq(R.rc3, LM_ECANCELED, "the child was cancelled by the group");
    cr_expect_eq(R.t1, MS(10));
}

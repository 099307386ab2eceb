/*
 * test_aio_waitfor.c: CPython's Lib/test/test_asyncio/test_waitfor.py
 * (3.12, where wait_for is `await task` inside a timeout scope), ported to
 * lm_wait_for. Each Test(waitfor, NAME) is the CPython test NAME, under the
 * virtual clock. wait_for takes tasks: a coroutine or a future argument is a
 * task here (wait_for starts a task still `created`, as asyncio wraps a
 * coroutine). docs/asyncio-conformance.md lists every row.
 */
#include <criterion/criterion.h>

#include "loopmaid.h"
#include "support/lm_aio.h"
#include "support/lm_test.h"

#define MS(n) LM_MSEC(n)

static struct {
    int rc, rc2;
    int flag, flag2;
    lm_time t0, t1;
    void *res;
    lm_state st;
} R;

/* SlowTask: runs for 200 ms whatever cancellations it gets. */
static int slow_task(void *arg)
{
    (void)arg;
    lm_time exitat = lm_now() + MS(200);
    for (;;) {
        lm_time tosleep = exitat - lm_now();
        if (tosleep <= 0)
            break;
        lm_sleep(tosleep); /* a CancelledError is swallowed */
    }
    R.flag = 1; /* exited */
    return 0;
}

static int wf_slow_owner(void *arg)
{
    (void)arg;
    lm_task *t = lm_task_new(lm_loop_current(), "slow", slow_task, NULL);
    R.rc = lm_wait_for(t, MS(400), NULL);
    lm_task_release(t);
    return R.rc;
}

static int cancelled_main(void *arg)
{
    (void)arg;
    lm_task *w = lm_spawn("waitfortask", wf_slow_owner, NULL);
    /* asyncio awaits t.run() inline, so after one sleep(0) the coroutine has
     * begun; here it is a task of its own, which needs a second turn. */
    lm_yield();
    lm_yield();
    lm_cancel(w);
    lm_wait(&w, 1, LM_ALL_COMPLETED, -1, NULL, NULL);
    R.t1 = lm_now();
    lm_task_release(w);
    return 0;
}

Test(waitfor, test_asyncio_wait_for_cancelled)
{
    cr_assert_eq(lmt_run(cancelled_main, NULL), 0);
    cr_expect(R.flag, "the slow task ran to its end before wait_for returned");
    cr_expect_eq(R.t1, MS(200));
    cr_expect_eq(R.rc, 0, "it ignored the cancellation: its result comes back");
}

static int timeout_slow_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_task_new(lm_loop_current(), "slow", slow_task, NULL);
    R.rc = lm_wait_for(t, MS(100), NULL);
    R.t1 = lm_now();
    lm_task_release(t);
    return 0;
}

Test(waitfor, test_asyncio_wait_for_timeout)
{
    cr_assert_eq(lmt_run(timeout_slow_main, NULL), 0);
    cr_expect(R.flag);
    cr_expect_eq(R.t1, MS(200), "wait_for waited for the task's end");
    cr_expect_eq(R.rc, 0, "a task that swallows the cancellation returns its result");
}

static int done_task(void *arg)
{
    (void)arg;
    lm_return((void *)"done");
    return 0;
}

static int zero_done_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("fut", done_task, NULL);
    lm_yield(); /* fut.set_result('done') */
    R.t0 = lm_now();
    R.rc = lm_wait_for(t, 0, &R.res);
    R.t1 = lm_now();
    R.flag = lm_task_finished(t);
    lm_task_release(t);
    return 0;
}

Test(waitfor, test_wait_for_timeout_less_then_0_or_0_future_done)
{
    cr_assert_eq(lmt_run(zero_done_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_str_eq((const char *)R.res, "done");
    cr_expect(R.flag);
    cr_expect_eq(R.t1 - R.t0, 0);
}

static int foo_started(void *arg)
{
    (void)arg;
    R.flag = 1;
    return 0;
}

static int zero_not_started_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_task_new(lm_loop_current(), "foo", foo_started, NULL);
    R.rc = lm_wait_for(t, 0, NULL);
    R.st = lm_task_state(t);
    lm_task_release(t);
    return 0;
}

Test(waitfor, test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started)
{
    cr_assert_eq(lmt_run(zero_not_started_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
    cr_expect_eq(R.flag, 0, "foo never started");
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
}

/* foo(): running = 1; started; try: sleep(10) finally: running = 0 */
static int foo_running(void *arg)
{
    lm_event *started = arg;
    R.flag = 1;
    lm_event_set(started);
    int rc = lm_sleep(LM_SEC(10));
    R.flag = 0;
    if (rc != 0)
        return rc;
    lm_return((void *)"done");
    return 0;
}

static int zero_running_main(void *arg)
{
    (void)arg;
    lm_event *started = lm_event_new();
    lm_task *t = lm_spawn("foo", foo_running, started);
    lm_event_wait(started);
    R.t0 = lm_now();
    R.rc = lm_wait_for(t, 0, NULL);
    R.t1 = lm_now();
    R.st = lm_task_state(t);
    lm_task_release(t);
    lm_event_free(started);
    return 0;
}

/* asyncio's subtests are timeout 0 and -1; here "negative" means "no
 * timeout", so the case is 0 only. */
Test(waitfor, test_wait_for_timeout_less_then_0_or_0)
{
    cr_assert_eq(lmt_run(zero_running_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
    cr_expect_eq(R.flag, 0, "its finally ran");
    cr_expect_eq(R.t1 - R.t0, 0);
}

static int wait_for_main(void *arg)
{
    (void)arg;
    lm_event *started = lm_event_new();
    lm_task *t = lm_spawn("foo", foo_running, started);
    R.rc = lm_wait_for(t, MS(100), NULL);
    R.t1 = lm_now();
    R.st = lm_task_state(t);
    lm_task_release(t);
    lm_event_free(started);
    return 0;
}

Test(waitfor, test_wait_for)
{
    cr_assert_eq(lmt_run(wait_for_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
    cr_expect_eq(R.t1, MS(100));
    cr_expect_eq(R.flag, 0);
}

static int blocking_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_task_new(lm_loop_current(), "coro", done_task, NULL);
    R.rc = lm_wait_for(t, LM_FOREVER, &R.res);
    lm_task_release(t);
    return 0;
}

Test(waitfor, test_wait_for_blocking)
{
    cr_assert_eq(lmt_run(blocking_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_str_eq((const char *)R.res, "done");
}

static void set_ok(void *arg) { lm_future_set(arg, (void *)"ok"); }

static int await_future(void *arg)
{
    void *v = NULL;
    int rc = lm_future_wait(arg, &v);
    lm_return(v);
    return rc;
}

static int race_main(void *arg)
{
    (void)arg;
    lm_future *f = lm_future_new();
    lm_task *t = lm_task_new(lm_loop_current(), "fut", await_future, f);
    lm_call_later(lm_loop_current(), MS(100), set_ok, f);
    R.rc = lm_wait_for(t, MS(200), &R.res);
    R.t1 = lm_now();
    lm_task_release(t);
    lm_future_free(f);
    return 0;
}

Test(waitfor, test_wait_for_race_condition)
{
    cr_assert_eq(lmt_run(race_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_str_eq((const char *)R.res, "ok");
    cr_expect_eq(R.t1, MS(100));
}

static int inner_swallow_1(void *arg)
{
    (void)arg;
    cr_expect_eq(lm_sleep(LM_SEC(1)), LM_ECANCELED);
    lm_return((void *)1);
    return 0;
}

static int cancel_race_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_task_new(lm_loop_current(), "inner", inner_swallow_1, NULL);
    R.rc = lm_wait_for(t, MS(10), &R.res);
    lm_task_release(t);
    return 0;
}

Test(waitfor, test_wait_for_cancellation_race_condition)
{
    cr_assert_eq(lmt_run(cancel_race_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq((intptr_t)R.res, 1);
}

/* inner(): try: sleep(10) except Cancelled: sleep(eps); raise finally: done */
static int inner_slow_cleanup(void *arg)
{
    (void)arg;
    int rc = lm_sleep(LM_SEC(10));
    if (rc == LM_ECANCELED)
        lm_sleep(LM_USEC(100));
    R.flag = 1;
    return rc;
}

static int waits_for_cancel_main(void *arg)
{
    lm_time timeout = (lm_time)(intptr_t)arg;
    lm_task *t = lm_spawn("inner", inner_slow_cleanup, NULL);
    if (timeout == 0)
        lm_sleep(LM_USEC(100)); /* the _w_timeout_0 variant lets it start */
    R.rc = lm_wait_for(t, timeout, NULL);
    R.t1 = lm_now();
    lm_task_release(t);
    return 0;
}

Test(waitfor, test_wait_for_waits_for_task_cancellation)
{
    cr_assert_eq(lmt_run(waits_for_cancel_main, (void *)(intptr_t)LM_USEC(100)), 0);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
    cr_expect(R.flag, "the task's cleanup finished first");
    cr_expect_eq(R.t1, LM_USEC(200));
}

Test(waitfor, test_wait_for_waits_for_task_cancellation_w_timeout_0)
{
    cr_assert_eq(lmt_run(waits_for_cancel_main, (void *)0), 0);
    cr_expect_eq(R.rc, LM_ETIMEDOUT);
    cr_expect(R.flag);
    cr_expect_eq(R.t1, LM_USEC(200));
}

static int inner_raises_foo(void *arg)
{
    (void)arg;
    lm_sleep(MS(200));
    return lm_fail(LM_EUSER - 5, "FooException in finally");
}

static int reraises_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("inner", inner_raises_foo, NULL);
    R.rc = lm_wait_for(t, LM_USEC(100), NULL);
    lm_task_release(t);
    return 0;
}

Test(waitfor, test_wait_for_reraises_exception_during_cancellation)
{
    cr_assert_eq(lmt_run(reraises_main, NULL), 0);
    cr_expect_eq(R.rc, LM_EUSER - 5, "FooException, not TimeoutError");
}

static int inner_42(void *arg)
{
    (void)arg;
    if (lm_sleep(MS(300)) == LM_ECANCELED && lm_sleep(MS(300)) == LM_ECANCELED)
        lm_sleep(MS(300));
    lm_return((void *)42);
    return 0;
}

static int wf_owner_100(void *arg)
{
    R.flag2 = 1; /* the wait_for coroutine started */
    return lm_wait_for(arg, MS(100), NULL);
}

static int self_cancel_main(void *arg)
{
    (void)arg;
    lm_task *inner = lm_spawn("inner", inner_42, NULL);
    lm_task *t = lm_spawn("wait", wf_owner_100, inner);
    lm_cancel(t);
    R.rc = lm_join(t, NULL);
    R.rc2 = lm_join(inner, &R.res);
    R.t1 = lm_now();
    lm_task_release(inner);
    lm_task_release(t);
    return 0;
}

Test(waitfor, test_wait_for_self_cancellation)
{
    cr_assert_eq(lmt_run(self_cancel_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.flag2, 0, "cancelled before it ever ran");
    cr_expect_eq(R.rc2, 0);
    cr_expect_eq((intptr_t)R.res, 42);
    cr_expect_eq(R.t1, MS(300));
}

static int blocking_coroutine(void *arg)
{
    lm_future *f = arg; /* never set */
    return lm_future_wait(f, NULL);
}

static int wf_owner_t(void *arg)
{
    lm_task **p = arg;
    return lm_wait_for(p[0], (lm_time)(intptr_t)p[1], NULL);
}

static void cancel_cb(void *arg) { lm_cancel(arg); }

static int cancel_wait_for_main(void *arg)
{
    lm_future *f = lm_future_new();
    lm_task *t = lm_spawn("blocking", blocking_coroutine, f);
    lm_task *p[2] = {t, arg};
    lm_task *w = lm_spawn("wait", wf_owner_t, p);
    lm_call_soon(lm_loop_current(), cancel_cb, w);
    R.rc = lm_join(w, NULL);
    R.st = lm_task_state(t);
    lm_task_release(t);
    lm_task_release(w);
    lm_future_free(f);
    return 0;
}

Test(waitfor, test_cancel_blocking_wait_for)
{
    cr_assert_eq(lmt_run(cancel_wait_for_main, (void *)(intptr_t)LM_FOREVER), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.st, LM_STATE_CANCELLED, "cancelling the wait cancels the task");
}

Test(waitfor, test_cancel_wait_for)
{
    cr_assert_eq(lmt_run(cancel_wait_for_main, (void *)(intptr_t)LM_SEC(60)), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
}

static int return_42(void *arg)
{
    (void)arg;
    if (lm_sleep(LM_SEC(10)) == LM_ECANCELED)
        lm_return((void *)42);
    return 0;
}

static int suppressed_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_task_new(lm_loop_current(), "return_42", return_42, NULL);
    R.rc = lm_wait_for(t, MS(100), &R.res);
    lm_task_release(t);
    return 0;
}

Test(waitfor, test_wait_for_cancel_suppressed)
{
    cr_assert_eq(lmt_run(suppressed_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq((intptr_t)R.res, 42);
}

static int inner_return(void *arg)
{
    (void)arg;
    return 0;
}

static int wait_for_coro(void *arg)
{
    (void)arg;
    lm_task *t = lm_task_new(lm_loop_current(), "inner", inner_return, NULL);
    int rc = lm_wait_for(t, MS(100 * 1000), NULL);
    lm_task_release(t);
    if (rc != 0)
        return rc;
    rc = lm_sleep(LM_SEC(1));
    if (rc != 0)
        return rc;
    R.flag = 1; /* reached_end */
    return 0;
}

static int issue86296_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("wait_for_coro", wait_for_coro, NULL);
    lm_yield();
    cr_expect_not(lm_task_finished(t));
    lm_cancel(t);
    R.rc = lm_join(t, NULL);
    lm_task_release(t);
    return 0;
}

Test(waitfor, test_wait_for_issue86296)
{
    cr_assert_eq(lmt_run(issue86296_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.flag, 0);
}

/*
 * test_aio_futures.c: CPython's Lib/test/test_asyncio/test_futures.py
 * (3.12+), ported to loopmaid's public header.
 *
 * Test(BaseFutureTests, test_x) and Test(BaseFutureDoneCallbackTests,
 * test_x) are the CPython tests of those names (CPython runs each class
 * twice, against the C accelerator and the pure-Python future; there is one
 * implementation here). `run_briefly` (one loop iteration) is lm_yield()
 * from the main task: what was scheduled before it runs before the main
 * task continues. Bodies run as the main task under the virtual clock.
 */
#include <criterion/criterion.h>

#include "loopmaid.h"
#include "support/lm_test.h"

#include <stdint.h>

#define P(n) ((void *)(intptr_t)(n))
#define I(p) ((int)(intptr_t)(p))
#define RUN(body) cr_assert_eq(lmt_run(body, NULL), 0)

/* A hang (a lost wakeup) fails the test instead of stalling the run. */
TestSuite(BaseFutureDoneCallbackTests, .timeout = 20);
TestSuite(BaseFutureTests, .timeout = 20);
TestSuite(futures, .timeout = 20);

static void bag_appender(lm_future *f, void *thing);

/* ======================================================================== */
/* BaseFutureTests                                                          */
/* ======================================================================== */

static void expect_done_is_final(lm_future *f)
{
    cr_expect_eq(lm_future_set(f, NULL), LM_ESTATE);        /* InvalidStateError */
    cr_expect_eq(lm_future_set_error(f, LM_EUSER), LM_ESTATE);
    cr_expect_eq(lm_future_cancel(f), 0);                   /* cancel() -> False */
}

static int t_initial_state(void *arg)
{
    (void)arg;
    lm_future *f = lm_future_new();
    cr_expect_not(lm_future_cancelled(f));
    cr_expect_not(lm_future_done(f));
    lm_future_cancel(f);
    cr_expect(lm_future_cancelled(f));
    lm_future_free(f);
    return 0;
}
Test(BaseFutureTests, test_initial_state) { RUN(t_initial_state); }

/* Deviation: a future needs no loop to exist; it binds one (the current
 * loop) when it is made inside one or gets its first done callback. */
Test(BaseFutureTests, test_constructor_without_loop)
{
    cr_assert_null(lm_loop_current());
    lm_future *f = lm_future_new();
    cr_assert_not_null(f);
    cr_expect_null(lm_future_loop(f));
    cr_expect_eq(lm_future_add_done_callback(f, bag_appender, NULL), LM_ESTATE,
                 "no loop to run callbacks on");
    cr_expect_eq(lm_future_set(f, P(1)), 0);
    lm_future_free(f);
}

static lm_loop *running;
static int t_use_running_loop(void *arg)
{
    (void)arg;
    lm_future *f = lm_future_new();
    cr_expect_eq(lm_future_loop(f), running);
    lm_future_free(f);
    return 0;
}

Test(BaseFutureTests, test_constructor_use_running_loop)
{
    running = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_expect_eq(lm_loop_run(running, "main", t_use_running_loop, NULL, NULL), 0);
    lm_loop_free(running);
}

Test(BaseFutureTests, test_constructor_use_global_loop)
{
    lm_loop *loop = lmt_loop(LM_CLOCK_VIRTUAL); /* current, not running */
    lm_future *f = lm_future_new();
    cr_expect_eq(lm_future_loop(f), loop);
    lm_future_free(f);
    lm_loop_free(loop);
}

static int t_cancel(void *arg)
{
    (void)arg;
    lm_future *f = lm_future_new();
    cr_expect_eq(lm_future_cancel(f), 1);
    cr_expect(lm_future_cancelled(f));
    cr_expect(lm_future_done(f));
    cr_expect_eq(lm_future_result(f, NULL), LM_ECANCELED);
    int err = 7;
    cr_expect_eq(lm_future_exception(f, &err), LM_ECANCELED);
    cr_expect_eq(err, 7, "not written");
    expect_done_is_final(f);
    lm_future_free(f);
    return 0;
}
Test(BaseFutureTests, test_cancel) { RUN(t_cancel); }

static int t_result(void *arg)
{
    (void)arg;
    lm_future *f = lm_future_new();
    void *v = NULL;
    cr_expect_eq(lm_future_result(f, &v), LM_ESTATE);
    cr_expect_eq(lm_future_set(f, P(42)), 0);
    cr_expect_not(lm_future_cancelled(f));
    cr_expect(lm_future_done(f));
    cr_expect_eq(lm_future_result(f, &v), 0);
    cr_expect_eq(I(v), 42);
    int err = 7;
    cr_expect_eq(lm_future_exception(f, &err), 0);
    cr_expect_eq(err, 0, "exception() is None");
    expect_done_is_final(f);
    lm_future_free(f);
    return 0;
}
Test(BaseFutureTests, test_result) { RUN(t_result); }

static int t_exception(void *arg)
{
    (void)arg;
    const int exc = LM_EUSER - 3;
    lm_future *f = lm_future_new();
    int err = 0;
    cr_expect_eq(lm_future_exception(f, &err), LM_ESTATE);
    cr_expect_eq(lm_future_set_error(f, exc), 0);
    cr_expect_not(lm_future_cancelled(f));
    cr_expect(lm_future_done(f));
    cr_expect_eq(lm_future_result(f, NULL), exc, "result() raises it");
    cr_expect_eq(lm_future_exception(f, &err), 0);
    cr_expect_eq(err, exc);
    expect_done_is_final(f);
    lm_future_free(f);
    return 0;
}
Test(BaseFutureTests, test_exception) { RUN(t_exception); }

/* test_exception's StopIteration case has a C counterpart: values that are
 * not errors, and LM_ECANCELED (which only cancel() may produce), are
 * refused, and the future stays pending. */
Test(BaseFutureTests, test_stop_iteration_exception)
{
    lm_future *f = lm_future_new();
    cr_expect_eq(lm_future_set_error(f, 0), LM_EINVAL);
    cr_expect_eq(lm_future_set_error(f, 5), LM_EINVAL);
    cr_expect_eq(lm_future_set_error(f, LM_ECANCELED), LM_EINVAL);
    cr_expect_not(lm_future_done(f));
    lm_future_free(f);
}

static int t_yield_from_twice(void *arg)
{
    (void)arg;
    lm_future *f = lm_future_new();
    lm_future_set(f, P(42));
    void *x = NULL, *y = NULL;
    cr_expect_eq(lm_future_wait(f, &x), 0);
    lm_time t0 = lm_now();
    cr_expect_eq(lm_future_wait(f, &y), 0); /* does not suspend */
    cr_expect_eq(lm_now(), t0);
    cr_expect_eq(I(x), 42);
    cr_expect_eq(I(y), 42);
    lm_future_free(f);
    return 0;
}
Test(BaseFutureTests, test_yield_from_twice) { RUN(t_yield_from_twice); }

static int t_set_result_unless_cancelled(void *arg)
{
    (void)arg;
    lm_future *f = lm_future_new();
    lm_future_cancel(f);
    cr_expect_eq(lm_future_set(f, P(2)), LM_ESTATE);
    cr_expect(lm_future_cancelled(f));
    lm_future_free(f);
    return 0;
}
Test(BaseFutureTests, test_set_result_unless_cancelled) { RUN(t_set_result_unless_cancelled); }

/* Deviation: no cancel message. What is left: awaiting a cancelled future
 * raises CancelledError, here LM_ECANCELED. */
static int await_future(void *arg)
{
    void *v;
    return lm_future_wait(arg, &v);
}

static int t_cancel_message_getter(void *arg)
{
    (void)arg;
    lm_future *f = lm_future_new();
    lm_future_cancel(f);
    cr_expect_eq(lm_future_wait(f, NULL), LM_ECANCELED);
    /* ... and a task awaiting it when it is cancelled ends cancelled */
    lm_future *g = lm_future_new();
    lm_task *t = lm_spawn("awaits g", await_future, g);
    lm_yield();
    lm_future_cancel(g);
    cr_expect_eq(lm_join(t, NULL), LM_ECANCELED);
    cr_expect_eq(lm_task_state(t), LM_STATE_CANCELLED);
    lm_future_free(f);
    lm_future_free(g);
    return 0;
}
Test(BaseFutureTests, test_future_cancel_message_getter) { RUN(t_cancel_message_getter); }

static int t_cancelled_result_refcycles(void *arg)
{
    (void)arg;
    lm_future *f = lm_future_new();
    lm_future_cancel(f);
    cr_expect_eq(lm_future_result(f, NULL), LM_ECANCELED);
    cr_expect_eq(lm_future_exception(f, NULL), LM_ECANCELED);
    lm_future_free(f);
    return 0;
}
Test(BaseFutureTests, test_future_cancelled_result_refcycles) { RUN(t_cancelled_result_refcycles); }

/* ======================================================================== */
/* BaseFutureDoneCallbackTests                                              */
/* ======================================================================== */

/* _make_callback(bag, thing): the callback is bag_appender, `thing` its arg;
 * distinct things make distinct callbacks. */
static lm_future *seen_f;
static void bag_appender(lm_future *f, void *thing)
{
    cr_expect_eq(f, seen_f, "called with its future");
    lmt_push(I(thing));
}

static lm_future *cb_future(void)
{
    return seen_f = lm_future_new();
}

static void add3(lm_future *f)
{
    lm_future_add_done_callback(f, bag_appender, P(42));
    lm_future_add_done_callback(f, bag_appender, P(17));
    lm_future_add_done_callback(f, bag_appender, P(100));
}

static void set_foo_and_run(lm_future *f)
{
    cr_expect_eq(lmt_nres, 0);
    lm_future_set(f, P(0xf00));
    cr_expect_eq(lmt_nres, 0, "never called synchronously");
    lm_yield(); /* run_briefly */
}

static void expect_foo(lm_future *f)
{
    void *v = NULL;
    cr_expect_eq(lm_future_result(f, &v), 0);
    cr_expect_eq(I(v), 0xf00);
}

static int t_remove_first(void *arg)
{
    (void)arg;
    lm_future *f = cb_future();
    add3(f);
    cr_expect_eq(lm_future_remove_done_callback(f, bag_appender, P(42)), 1);
    cr_expect_eq(lm_future_remove_done_callback(f, bag_appender, P(42)), 0);
    set_foo_and_run(f);
    LMT_EXPECT_RES(17, 100);
    expect_foo(f);
    lm_future_free(f);
    return 0;
}
Test(BaseFutureDoneCallbackTests, test_callbacks_remove_first_callback) { RUN(t_remove_first); }

static int t_remove_first_and_second(void *arg)
{
    (void)arg;
    lm_future *f = cb_future();
    add3(f);
    lm_future_remove_done_callback(f, bag_appender, P(42));
    lm_future_remove_done_callback(f, bag_appender, P(17));
    lm_future_remove_done_callback(f, bag_appender, P(42));
    set_foo_and_run(f);
    LMT_EXPECT_RES(100);
    expect_foo(f);
    lm_future_free(f);
    return 0;
}
Test(BaseFutureDoneCallbackTests, test_callbacks_remove_first_and_second_callback) { RUN(t_remove_first_and_second); }

static int t_remove_third(void *arg)
{
    (void)arg;
    lm_future *f = cb_future();
    add3(f);
    lm_future_remove_done_callback(f, bag_appender, P(100));
    lm_future_remove_done_callback(f, bag_appender, P(100));
    set_foo_and_run(f);
    LMT_EXPECT_RES(42, 17);
    expect_foo(f);
    lm_future_free(f);
    return 0;
}
Test(BaseFutureDoneCallbackTests, test_callbacks_remove_third_callback) { RUN(t_remove_third); }

static int t_invoked_on_set_result(void *arg)
{
    (void)arg;
    lm_future *f = cb_future();
    lm_future_add_done_callback(f, bag_appender, P(42));
    lm_future_add_done_callback(f, bag_appender, P(17));
    set_foo_and_run(f);
    LMT_EXPECT_RES(42, 17);
    expect_foo(f);
    lm_future_free(f);
    return 0;
}
Test(BaseFutureDoneCallbackTests, test_callbacks_invoked_on_set_result) { RUN(t_invoked_on_set_result); }

static int t_invoked_on_set_exception(void *arg)
{
    (void)arg;
    lm_future *f = cb_future();
    lm_future_add_done_callback(f, bag_appender, P(100));
    cr_expect_eq(lmt_nres, 0);
    lm_future_set_error(f, LM_EUSER);
    lm_yield();
    LMT_EXPECT_RES(100);
    int err = 0;
    cr_expect_eq(lm_future_exception(f, &err), 0);
    cr_expect_eq(err, LM_EUSER);
    lm_future_free(f);
    return 0;
}
Test(BaseFutureDoneCallbackTests, test_callbacks_invoked_on_set_exception) { RUN(t_invoked_on_set_exception); }

static int t_remove_done_callback(void *arg)
{
    (void)arg;
    lm_future *f = cb_future();
    /* one cb1 and one cb2 */
    lm_future_add_done_callback(f, bag_appender, P(1));
    lm_future_add_done_callback(f, bag_appender, P(2));
    cr_expect_eq(lm_future_remove_done_callback(f, bag_appender, P(2)), 1);
    cr_expect_eq(lm_future_remove_done_callback(f, bag_appender, P(3)), 0, "never had cb3");
    /* six cb1 and one cb2 */
    lm_future_add_done_callback(f, bag_appender, P(2));
    for (int i = 0; i < 5; i++)
        lm_future_add_done_callback(f, bag_appender, P(1));
    cr_expect_eq(lm_future_remove_done_callback(f, bag_appender, P(1)), 6);
    set_foo_and_run(f);
    LMT_EXPECT_RES(2);
    expect_foo(f);
    lm_future_free(f);
    return 0;
}
Test(BaseFutureDoneCallbackTests, test_remove_done_callback) { RUN(t_remove_done_callback); }

/* mut(f) removes the other callbacks while they are being run: they were
 * all scheduled at completion, so removing finds nothing and all run. */
static void mut(lm_future *f, void *arg)
{
    (void)arg;
    cr_expect_eq(lm_future_remove_done_callback(f, bag_appender, P(5)), 0);
    lmt_push(1);
}

static int t_schedule_list_mutation_1(void *arg)
{
    (void)arg;
    lm_future *f = cb_future();
    lm_future_add_done_callback(f, mut, NULL);
    lm_future_add_done_callback(f, bag_appender, P(5));
    lm_future_add_done_callback(f, bag_appender, P(5));
    lm_future_set(f, P(1));
    lm_yield();
    LMT_EXPECT_RES(1, 5, 5);
    lm_future_free(f);
    return 0;
}
Test(BaseFutureDoneCallbackTests, test_schedule_callbacks_list_mutation_1) { RUN(t_schedule_list_mutation_1); }

/* ======================================================================== */
/* Beyond the CPython file: behaviour its tests rely on implicitly           */
/* ======================================================================== */

/* Task wakeups are done callbacks in asyncio, so waiters and callbacks run
 * in the order they were added. */
static int waiter_logs(void *arg)
{
    int rc = lm_future_wait(seen_f, NULL);
    if (rc == 0)
        lmt_push(I(arg));
    return rc;
}

static int t_waiters_and_callbacks_in_add_order(void *arg)
{
    (void)arg;
    lm_future *f = cb_future();
    lm_future_add_done_callback(f, bag_appender, P(1));
    lm_task *w = lm_spawn("waiter", waiter_logs, P(2));
    lm_yield();
    lm_future_add_done_callback(f, bag_appender, P(3));
    lm_future_set(f, NULL);
    lm_join(w, NULL);
    LMT_EXPECT_RES(1, 2, 3);
    /* added to a done future: scheduled at once, not called at once */
    lm_future_add_done_callback(f, bag_appender, P(4));
    cr_expect_eq(lmt_nres, 3);
    lm_yield();
    LMT_EXPECT_RES(1, 2, 3, 4);
    lm_future_free(f);
    return 0;
}
Test(futures, waiters_and_callbacks_run_in_add_order) { RUN(t_waiters_and_callbacks_in_add_order); }

/* A waiter woken by a set and cancelled before it ran: the cancellation
 * wins (CancelledError) and the value stays in the future. */
static int t_cancel_after_set(void *arg)
{
    (void)arg;
    lm_future *f = cb_future();
    lm_task *w = lm_spawn("waiter", waiter_logs, P(1));
    lm_yield();
    lm_future_set(f, P(9));
    lm_cancel(w);
    lm_join(w, NULL);
    cr_expect_eq(lmt_nres, 0);
    cr_expect_eq(lm_task_state(w), LM_STATE_CANCELLED);
    void *v = NULL;
    cr_expect_eq(lm_future_result(f, &v), 0);
    cr_expect_eq(I(v), 9);
    lm_future_free(f);
    return 0;
}
Test(futures, cancel_after_set_wins_and_keeps_the_value) { RUN(t_cancel_after_set); }

/* Freeing a future unschedules its callbacks: nothing runs later. */
static int t_free_drops_callbacks(void *arg)
{
    (void)arg;
    lm_future *f = cb_future();
    lm_future_add_done_callback(f, bag_appender, P(1));
    lm_future_add_done_callback(f, bag_appender, P(2));
    lm_future_set(f, NULL);
    lm_future_free(f);
    lm_yield();
    cr_expect_eq(lmt_nres, 0);
    lm_future *g = lm_future_new();
    lm_future_add_done_callback(g, bag_appender, P(3)); /* never completed */
    lm_future_free(g);
    return 0;
}
Test(futures, free_drops_scheduled_callbacks) { RUN(t_free_drops_callbacks); }

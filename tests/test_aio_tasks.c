/*
 * test_aio_tasks.c: CPython's Lib/test/test_asyncio/test_tasks.py (3.12+),
 * ported to loopmaid's tasks, cancellation, gather, wait and shield. Each
 * Test(tasks, NAME) is the CPython test NAME (GatherTests' cases are
 * Test(gather, NAME)), under the virtual clock, so times are exact.
 *
 * asyncio's futures that the tests set by hand are tasks awaiting an
 * lm_future here, or tasks that sleep; "test_utils.run_briefly" is one
 * lm_yield of the test's own task. docs/asyncio-conformance.md lists every
 * row and each deviation.
 */
#include <criterion/criterion.h>

#include "loopmaid.h"
#include "support/lm_aio.h"
#include "support/lm_test.h"

#include <string.h>

#define MS(n) LM_MSEC(n)
#define ZDE (LM_EUSER - 1)
#define RTERR (LM_EUSER - 4)

static struct {
    int rc, rc2, rc3;
    int proof;
    int flag, flag2;
    lm_time t1, t2;
    void *res;
    void *results[8];
    int errors[8];
    unsigned char done[8];
    size_t ndone;
    lm_state st, st2;
    int cancelling;
} R;

static void cancel_cb(void *arg) { lm_cancel(arg); }

/* A task that awaits an lm_future and returns its value (asyncio's
 * `await fut` inside a coroutine). */
static int await_fut(void *arg)
{
    void *v = NULL;
    int rc = lm_future_wait(arg, &v);
    lm_return(v);
    return rc;
}

/* ---- tasks --------------------------------------------------------------- */

static int notmuch(void *arg)
{
    (void)arg;
    lm_return((void *)"ok");
    return 0;
}

static int task_class_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_task_new(lm_loop_current(), "t", notmuch, NULL);
    R.rc = lm_join(t, &R.res);
    R.flag = lm_task_finished(t);
    lm_task_release(t);
    return 0;
}

Test(tasks, test_task_class)
{
    cr_assert_eq(lmt_run(task_class_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect(R.flag);
    cr_expect_str_eq((const char *)R.res, "ok");
}

static int self_await_main(void *arg)
{
    (void)arg;
    R.rc = lm_join(lm_current(), NULL);
    R.rc2 = lm_shield(lm_current(), NULL);
    return 0;
}

Test(tasks, test_task_awaits_on_itself)
{
    cr_assert_eq(lmt_run(self_await_main, NULL), 0);
    cr_expect_eq(R.rc, LM_EINVAL, "RuntimeError: Task cannot await on itself");
    cr_expect_eq(R.rc2, LM_EINVAL);
}

static int inner_val(void *arg)
{
    lm_return(arg);
    return 0;
}

static int basics_outer(void *arg)
{
    (void)arg;
    void *a = NULL, *b = NULL;
    lm_task *t1 = lm_spawn("inner1", inner_val, (void *)42);
    lm_task *t2 = lm_spawn("inner2", inner_val, (void *)1000);
    lm_join(t1, &a);
    lm_join(t2, &b);
    lm_task_release(t1);
    lm_task_release(t2);
    lm_return((void *)((intptr_t)a + (intptr_t)b));
    return 0;
}

static int basics_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("outer", basics_outer, NULL);
    R.rc = lm_join(t, &R.res);
    lm_task_release(t);
    return 0;
}

Test(tasks, test_task_basics)
{
    cr_assert_eq(lmt_run(basics_main, NULL), 0);
    cr_expect_eq((intptr_t)R.res, 1042);
}

static int sleep10(void *arg)
{
    (void)arg;
    return lm_sleep(LM_SEC(10));
}

static int cancelling_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("task", sleep10, NULL);
    cr_expect_eq(lm_task_cancelling(t), 0);
    cr_expect_eq(lm_cancel(t), 1);
    cr_expect_eq(lm_task_cancelling(t), 1);
    cr_expect_eq(lm_cancel(t), 1, "a second cancel also returns True (3.11+)");
    R.rc = lm_join(t, NULL);
    R.st = lm_task_state(t);
    lm_task_release(t);
    return 0;
}

Test(tasks, test_cancelling)
{
    cr_assert_eq(lmt_run(cancelling_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
}

static int uncancel_task(void *arg)
{
    (void)arg;
    if (lm_sleep(LM_SEC(10)) == LM_ECANCELED) {
        lm_uncancel();
        return lm_sleep(LM_SEC(10));
    }
    return 0;
}

static int uncancel_basic_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("task", uncancel_task, NULL);
    lm_sleep(MS(10));
    cr_expect_eq(lm_cancel(t), 1);
    cr_expect_eq(lm_task_cancelling(t), 1);
    cr_expect_not(lm_task_finished(t));
    lm_sleep(MS(10));
    cr_expect_eq(lm_task_cancelling(t), 0, "after .uncancel()");
    cr_expect_not(lm_task_finished(t));
    cr_expect_eq(lm_cancel(t), 1);
    cr_expect_eq(lm_task_cancelling(t), 1);
    R.rc = lm_join(t, NULL);
    R.st = lm_task_state(t);
    lm_task_release(t);
    return 0;
}

Test(tasks, test_uncancel_basic)
{
    cr_assert_eq(lmt_run(uncancel_basic_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
}

typedef struct req {
    lm_time sleep, timeout;
    int timed_out, block_finished, outer_reached;
} req;

static lm_task *req_task;

static void on_timeout_cancel(void *arg)
{
    req *r = arg;
    r->timed_out = 1;
    lm_cancel(req_task);
}

static int make_request_with_timeout(void *arg)
{
    req *r = arg;
    req_task = lm_current();
    lm_handle *h = lm_call_later(lm_loop_current(), r->timeout, on_timeout_cancel, r);
    int rc = lm_sleep(r->sleep); /* the structured block */
    if (rc == 0)
        r->block_finished = 1;
    /* finally: */
    if (!r->timed_out)
        lm_handle_cancel(h);
    if (r->timed_out && lm_uncancel() == 0 && rc == LM_ECANCELED)
        rc = LM_ETIMEDOUT; /* raise TimeoutError, caught just below */
    cr_expect(rc == 0 || rc == LM_ETIMEDOUT);
    r->outer_reached = 1;
    rc = lm_yield();
    R.cancelling = lm_task_cancelling(lm_current());
    return rc;
}

static int structured_main(void *arg)
{
    req *r = arg;
    lm_task *t = lm_spawn("t", make_request_with_timeout, r);
    R.rc = lm_join(t, NULL);
    lm_task_release(t);
    return 0;
}

Test(tasks, test_uncancel_structured_blocks)
{
    req r1 = {LM_SEC(10), MS(100), 0, 0, 0};
    cr_assert_eq(lmt_run(structured_main, &r1), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect(r1.timed_out);
    cr_expect_not(r1.block_finished);
    cr_expect(r1.outer_reached);
    cr_expect_eq(R.cancelling, 0);
    req r2 = {0, LM_SEC(10), 0, 0, 0};
    cr_assert_eq(lmt_run(structured_main, &r2), 0);
    cr_expect_not(r2.timed_out);
    cr_expect(r2.block_finished);
    cr_expect(r2.outer_reached);
    cr_expect_eq(R.cancelling, 0);
}

static int cancel_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("task", sleep10, NULL);
    lm_call_soon(lm_loop_current(), cancel_cb, t);
    R.rc = lm_join(t, NULL);
    R.st = lm_task_state(t);
    R.rc2 = lm_cancel(t);
    R.t1 = lm_now();
    lm_task_release(t);
    return 0;
}

Test(tasks, test_cancel)
{
    cr_assert_eq(lmt_run(cancel_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
    cr_expect_eq(R.rc2, 0, "cancel() of a finished task is False");
    cr_expect_eq(R.t1, 0);
}

static int two_yields(void *arg)
{
    (void)arg;
    int rc = lm_yield();
    if (rc == 0)
        rc = lm_yield();
    if (rc == 0)
        lm_return((void *)12);
    return rc;
}

static int cancel_yield_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("task", two_yields, NULL);
    lm_yield(); /* start coro */
    lm_cancel(t);
    R.rc = lm_join(t, NULL);
    R.st = lm_task_state(t);
    R.rc2 = lm_cancel(t);
    lm_task_release(t);
    return 0;
}

Test(tasks, test_cancel_yield)
{
    cr_assert_eq(lmt_run(cancel_yield_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
    cr_expect_eq(R.rc2, 0);
}

typedef struct futs {
    lm_future *f1, *f2, *f3;
} futs;

static int catching_task(void *arg)
{
    futs *f = arg;
    lm_future_wait(f->f1, NULL);
    if (lm_future_wait(f->f2, NULL) == LM_ECANCELED) {
        lm_return((void *)42);
        return 0;
    }
    return 0;
}

static int ignoring_task(void *arg)
{
    futs *f = arg;
    lm_future_wait(f->f1, NULL);
    lm_future_wait(f->f2, NULL); /* CancelledError: pass */
    void *res = NULL;
    int rc = lm_future_wait(f->f3, &res);
    lm_return(res);
    return rc;
}

static int catching_main(void *arg)
{
    futs f = {lm_future_new(), lm_future_new(), lm_future_new()};
    lm_task *t = lm_spawn("task", (lm_coro_fn)arg, &f);
    lm_yield();
    lm_future_set(f.f1, NULL);
    lm_yield();
    lm_cancel(t);
    lm_yield();
    lm_future_set(f.f3, (void *)42);
    R.rc = lm_join(t, &R.res);
    R.st = lm_task_state(t);
    lm_task_release(t);
    lm_future_free(f.f1);
    lm_future_free(f.f2);
    lm_future_free(f.f3);
    return 0;
}

Test(tasks, test_cancel_task_catching)
{
    cr_assert_eq(lmt_run(catching_main, (void *)catching_task), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq((intptr_t)R.res, 42);
    cr_expect_eq(R.st, LM_STATE_DONE, "not cancelled");
}

Test(tasks, test_cancel_task_ignoring)
{
    cr_assert_eq(lmt_run(catching_main, (void *)ignoring_task), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq((intptr_t)R.res, 42);
    cr_expect_eq(R.st, LM_STATE_DONE);
}

static int cancel_current(void *arg)
{
    (void)arg;
    cr_expect_eq(lm_cancel(lm_current()), 1);
    cr_expect(lm_cancelled());
    int rc = lm_sleep(LM_SEC(100)); /* cancelled immediately */
    if (rc == 0)
        lm_return((void *)12);
    return rc;
}

static int cancel_at_end(void *arg)
{
    (void)arg;
    lm_cancel(lm_current());
    lm_return((void *)12);
    return 0; /* returns right after being cancelled */
}

static int run_one_main(void *arg)
{
    lm_task *t = lm_spawn("task", (lm_coro_fn)arg, NULL);
    R.rc = lm_join(t, NULL);
    R.st = lm_task_state(t);
    R.rc2 = lm_cancel(t);
    R.t1 = lm_now();
    lm_task_release(t);
    return 0;
}

Test(tasks, test_cancel_current_task)
{
    cr_assert_eq(lmt_run(run_one_main, (void *)cancel_current), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
    cr_expect_eq(R.rc2, 0);
    cr_expect_eq(R.t1, 0, "the sleep was cancelled at once");
}

Test(tasks, test_cancel_at_end)
{
    cr_assert_eq(lmt_run(run_one_main, (void *)cancel_at_end), 0);
    cr_expect_eq(R.rc, LM_ECANCELED, "a task cancelled right before it returns ends cancelled");
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
    cr_expect_eq(R.rc2, 0);
}

static lm_task *nested_task;

static int awaited_coro(void *arg)
{
    lm_future *fut = arg;
    nested_task = lm_spawn("nested", await_fut, fut);
    lm_yield();
    lm_cancel(lm_current());
    return lm_join(nested_task, NULL); /* nested is cancelled at once */
}

static int cancel_awaited_main(void *arg)
{
    (void)arg;
    lm_future *fut = lm_future_new();
    lm_task *t = lm_spawn("task", awaited_coro, fut);
    R.rc = lm_join(t, NULL);
    R.st = lm_task_state(t);
    R.st2 = lm_task_state(nested_task);
    lm_task_release(t);
    lm_task_release(nested_task);
    lm_future_free(fut);
    return 0;
}

Test(tasks, test_cancel_awaited_task)
{
    cr_assert_eq(lmt_run(cancel_awaited_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
    cr_expect_eq(R.st2, LM_STATE_CANCELLED, "the pending request went on to the awaited task");
}

static int cancel_then_wait(void *arg)
{
    int before_start = arg != NULL;
    lm_task *task = lm_spawn("sleep", sleep10, NULL);
    if (!before_start)
        lm_yield();
    lm_cancel(task);
    lm_wait(&task, 1, LM_ALL_COMPLETED, -1, NULL, NULL);
    int rc = lm_task_error(task); /* task.result() / task.exception() */
    R.flag = before_start ? 1 : 0;
    lm_task_release(task);
    return rc;
}

static int run_coro_main(void *arg)
{
    lm_task *t = lm_spawn("coro", (lm_coro_fn)arg, NULL);
    R.rc = lm_join(t, NULL);
    R.st = lm_task_state(t);
    lm_task_release(t);
    return 0;
}

static int cancel_then_wait_started(void *arg) { (void)arg; return cancel_then_wait(NULL); }
static int cancel_then_wait_unstarted(void *arg) { (void)arg; return cancel_then_wait((void *)1); }

Test(tasks, test_cancel_with_message_then_future_result)
{
    cr_assert_eq(lmt_run(run_coro_main, (void *)cancel_then_wait_started), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
}

Test(tasks, test_cancel_with_message_then_future_exception)
{
    cr_assert_eq(lmt_run(run_coro_main, (void *)cancel_then_wait_started), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
}

Test(tasks, test_cancel_with_message_before_starting_task)
{
    cr_assert_eq(lmt_run(run_coro_main, (void *)cancel_then_wait_unstarted), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
}

static int exc_context_sleep(void *arg)
{
    lm_future_set(arg, NULL);
    return lm_sleep(LM_SEC(10));
}

static int exc_context_coro(void *arg)
{
    (void)arg;
    lm_future *fut = lm_future_new();
    lm_task *inner = lm_spawn("sleep", exc_context_sleep, fut);
    lm_future_wait(fut, NULL);
    lm_call_soon(lm_loop_current(), cancel_cb, inner);
    int rc = lm_join(inner, NULL);
    lm_task_release(inner);
    lm_future_free(fut);
    if (rc == LM_ECANCELED)
        return lm_fail(LM_EUSER - 9, "cancelled"); /* raise ValueError from ex */
    return rc;
}

Test(tasks, test_cancellation_exception_context)
{
    cr_assert_eq(lmt_run(run_coro_main, (void *)exc_context_coro), 0);
    cr_expect_eq(R.rc, LM_EUSER - 9);
    cr_expect_eq(R.st, LM_STATE_FAILED);
}

/* ---- wait ---------------------------------------------------------------- */

static lmt_job ja, jb;

static int wait_main(void *arg)
{
    (void)arg;
    ja = LMT_SLEEP(100, 0);
    jb = LMT_SLEEP(150, 0);
    lm_task *t[2] = {lmt_spawn_job("b", &jb), lmt_spawn_job("a", &ja)};
    R.rc = lm_wait(t, 2, LM_ALL_COMPLETED, -1, R.done, &R.ndone);
    R.t1 = lm_now();
    /* Doing it again takes no time. */
    R.rc2 = lm_wait(t, 2, LM_ALL_COMPLETED, -1, NULL, NULL);
    R.t2 = lm_now();
    lmt_release(t, 2);
    return 0;
}

Test(tasks, test_wait)
{
    cr_assert_eq(lmt_run(wait_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq(R.ndone, 2);
    cr_expect_eq(R.t1, MS(150));
    cr_expect_eq(R.rc2, 0);
    cr_expect_eq(R.t2, MS(150));
}

static int wait_generator_main(void *arg)
{
    (void)arg;
    lm_task *t[8];
    for (int i = 0; i < 8; i++)
        t[i] = lm_spawn("func", inner_val, (void *)(intptr_t)i);
    R.rc = lm_wait(t, 8, LM_ALL_COMPLETED, -1, R.done, &R.ndone);
    lmt_release(t, 8);
    return 0;
}

Test(tasks, test_wait_generator)
{
    cr_assert_eq(lmt_run(wait_generator_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq(R.ndone, 8, "len(done) == all, len(pending) == 0");
}

static int wait_dup_main(void *arg)
{
    (void)arg;
    lm_task *c = lm_spawn("c", inner_val, (void *)"test");
    lm_task *s = lm_spawn("spam", inner_val, (void *)"spam");
    lm_task *t[3] = {c, c, s};
    R.rc = lm_wait(t, 3, LM_ALL_COMPLETED, -1, R.done, &R.ndone);
    R.res = lm_task_result(c);
    lm_task_release(c);
    lm_task_release(s);
    return 0;
}

Test(tasks, test_wait_duplicate_coroutines)
{
    cr_assert_eq(lmt_run(wait_dup_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq(R.ndone, 3, "both entries of c, and spam: nothing pending");
    cr_expect_str_eq((const char *)R.res, "test");
}

static int wait_errors_main(void *arg)
{
    (void)arg;
    R.rc = lm_wait(NULL, 0, LM_ALL_COMPLETED, -1, NULL, NULL);
    lm_task *t = lm_spawn("sleep", sleep10, NULL);
    R.rc2 = lm_wait(&t, 1, (lm_wait_mode)-1, -1, NULL, NULL);
    lm_cancel(t);
    lm_task_release(t);
    return 0;
}

Test(tasks, test_wait_errors)
{
    cr_assert_eq(lmt_run(wait_errors_main, NULL), 0);
    cr_expect_eq(R.rc, LM_EINVAL, "ValueError: empty set");
    cr_expect_eq(R.rc2, LM_EINVAL, "ValueError: bad return_when");
}

Test(tasks, test_wait_invalid_args)
{
    cr_assert_eq(lmt_run(wait_errors_main, NULL), 0);
    cr_expect_eq(R.rc, LM_EINVAL, "wait() expects at least a future");
}

static int wait_mode_main(void *arg)
{
    lm_wait_mode mode = (lm_wait_mode)(intptr_t)arg;
    lm_task *t[2] = {lmt_spawn_job("b", &jb), lmt_spawn_job("a", &ja)};
    R.rc = lm_wait(t, 2, mode, -1, R.done, &R.ndone);
    R.t1 = lm_now();
    R.st = lm_task_state(t[0]);
    R.st2 = lm_task_state(t[1]);
    lm_cancel(t[1]);
    lmt_release(t, 2);
    return 0;
}

Test(tasks, test_wait_first_completed)
{
    ja = LMT_SLEEP(10000, 0);
    jb = LMT_SLEEP(100, 0);
    cr_assert_eq(lmt_run(wait_mode_main, (void *)LM_FIRST_COMPLETED), 0);
    cr_expect_eq(R.ndone, 1);
    cr_expect(R.done[0] && !R.done[1], "{b} done, {a} pending");
    cr_expect_eq(R.st, LM_STATE_DONE);
    cr_expect_eq(R.t1, MS(100));
}

static int yields1(void *arg) { (void)arg; return lm_yield(); }
static int yields2(void *arg)
{
    (void)arg;
    int rc = lm_yield();
    return rc ? rc : lm_yield();
}

static int really_done_main(void *arg)
{
    (void)arg;
    lm_task *a = lm_spawn("a", yields1, NULL), *b = lm_spawn("b", yields2, NULL);
    lm_task *t[2] = {b, a};
    R.rc = lm_wait(t, 2, LM_FIRST_COMPLETED, -1, R.done, &R.ndone);
    lm_join(b, NULL);
    lm_task_release(a);
    lm_task_release(b);
    return 0;
}

/* Deviation: asyncio runs done callbacks one loop turn after a task ends and
 * wakes the waiter one turn later still, so b (one yield behind a) is also
 * done when wait returns. Here a member's end settles wait at once and the
 * caller runs next: only a is done. */
Test(tasks, test_wait_really_done)
{
    cr_assert_eq(lmt_run(really_done_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq(R.ndone, 1);
    cr_expect(R.done[1], "a is done");
    cr_expect_not(R.done[0], "b is not yet (asyncio: done as well)");
}

static int raise_zde(void *arg)
{
    (void)arg;
    return lm_fail(ZDE, "err");
}

static int first_exc_main(void *arg)
{
    (void)arg;
    lm_task *a = lm_spawn("a", sleep10, NULL);
    lm_task *b = lm_spawn("b", raise_zde, NULL);
    lm_yield(); /* b has already failed */
    lm_task *t[2] = {b, a};
    R.rc = lm_wait(t, 2, LM_FIRST_EXCEPTION, -1, R.done, &R.ndone);
    R.t1 = lm_now();
    lm_cancel(a);
    lm_task_release(a);
    lm_task_release(b);
    return 0;
}

Test(tasks, test_wait_first_exception)
{
    cr_assert_eq(lmt_run(first_exc_main, NULL), 0);
    cr_expect_eq(R.ndone, 1);
    cr_expect(R.done[0] && !R.done[1]);
    cr_expect_eq(R.t1, 0);
}

Test(tasks, test_wait_first_exception_in_wait)
{
    ja = LMT_SLEEP(10000, 0);
    jb = LMT_FAIL(10, ZDE);
    cr_assert_eq(lmt_run(wait_mode_main, (void *)LM_FIRST_EXCEPTION), 0);
    cr_expect_eq(R.ndone, 1);
    cr_expect(R.done[0] && !R.done[1]);
    cr_expect_eq(R.t1, MS(10));
}

Test(tasks, test_wait_with_exception)
{
    ja = LMT_SLEEP(100, 0);
    jb = LMT_FAIL(150, ZDE);
    cr_assert_eq(lmt_run(wait_mode_main, (void *)LM_ALL_COMPLETED), 0);
    cr_expect_eq(R.ndone, 2);
    cr_expect_eq(R.st, LM_STATE_FAILED, "one of the done has an exception");
    cr_expect_eq(R.st2, LM_STATE_DONE);
    cr_expect_eq(R.t1, MS(150));
}

static int wait_timeout_main(void *arg)
{
    lm_time timeout = (lm_time)(intptr_t)arg;
    ja = LMT_SLEEP(100, 0);
    jb = LMT_SLEEP(150, 0);
    lm_task *t[2] = {lmt_spawn_job("b", &jb), lmt_spawn_job("a", &ja)};
    lm_yield(); /* a and b start before wait, as in asyncio's test */
    R.rc = lm_wait(t, 2, LM_ALL_COMPLETED, timeout, R.done, &R.ndone);
    R.t1 = lm_now();
    lm_wait(t, 2, LM_ALL_COMPLETED, -1, NULL, NULL);
    lmt_release(t, 2);
    return 0;
}

Test(tasks, test_wait_with_timeout)
{
    cr_assert_eq(lmt_run(wait_timeout_main, (void *)(intptr_t)MS(110)), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect(!R.done[0] && R.done[1], "done {a}, pending {b}");
    cr_expect_eq(R.t1, MS(110));
}

Test(tasks, test_wait_concurrent_complete)
{
    cr_assert_eq(lmt_run(wait_timeout_main, (void *)(intptr_t)MS(100)), 0);
    cr_expect(!R.done[0] && R.done[1], "a ended in the deadline's tick: done");
    cr_expect_eq(R.t1, MS(100));
}

/* ---- sleep --------------------------------------------------------------- */

static int sleeper_yeah(void *arg)
{
    (void)arg;
    lm_sleep(MS(50));
    int rc = lm_sleep(MS(50));
    lm_return((void *)"yeah"); /* sleep(dt, result) */
    return rc;
}

static int sleep_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("sleeper", sleeper_yeah, NULL);
    R.rc = lm_join(t, &R.res);
    R.t1 = lm_now();
    lm_task_release(t);
    return 0;
}

Test(tasks, test_sleep)
{
    cr_assert_eq(lmt_run(sleep_main, NULL), 0);
    cr_expect_str_eq((const char *)R.res, "yeah");
    cr_expect_eq(R.t1, MS(100));
}

static int sleep_cancel_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("sleep", sleep10, NULL);
    lm_yield();
    lm_cancel(t);
    lm_yield();
    R.st = lm_task_state(t);
    lm_join(t, NULL);
    R.t1 = lm_now();
    lm_task_release(t);
    return 0;
}

Test(tasks, test_sleep_cancel)
{
    cr_assert_eq(lmt_run(sleep_cancel_main, NULL), 0);
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
    cr_expect_eq(R.t1, 0, "its timer was cancelled: time never jumped to 10 s");
}

static int cancel_sleeping_doit(void *arg)
{
    (void)arg;
    lm_task *sleeper = lm_spawn("sleeper", sleep10, NULL);
    lm_call_later(lm_loop_current(), MS(100), cancel_cb, sleeper);
    int rc = lm_join(sleeper, NULL);
    lm_task_release(sleeper);
    lm_return(rc == LM_ECANCELED ? (void *)"cancelled" : (void *)"slept in");
    return 0;
}

Test(tasks, test_task_cancel_sleeping_task)
{
    cr_assert_eq(lmt_run(run_coro_main, (void *)cancel_sleeping_doit), 0);
    cr_expect_eq(R.rc, 0);
}

static int waiter_future_main(void *arg)
{
    (void)arg;
    lm_future *fut = lm_future_new();
    lm_task *t = lm_spawn("coro", await_fut, fut);
    lm_yield();
    lm_cancel(t);
    lm_yield();
    R.rc = lm_join(t, NULL);
    R.flag = lm_future_done(fut);
    lm_task_release(t);
    lm_future_free(fut);
    return 0;
}

Test(tasks, test_task_cancel_waiter_future)
{
    cr_assert_eq(lmt_run(waiter_future_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
}

static int step_result_main(void *arg)
{
    (void)arg;
    lm_future *fut = lm_future_new();
    lm_task *t = lm_spawn("wait_for_future", await_fut, fut);
    lm_yield();
    lm_future_set(fut, (void *)"res");
    lm_yield();
    R.flag = lm_task_finished(t);
    R.res = lm_task_result(t);
    lm_task_release(t);
    lm_future_free(fut);
    return 0;
}

Test(tasks, test_step_result_future)
{
    cr_assert_eq(lmt_run(step_result_main, NULL), 0);
    cr_expect(R.flag);
    cr_expect_str_eq((const char *)R.res, "res");
}

static int notmutch(void *arg)
{
    (void)arg;
    if (lm_sleep(LM_SEC(10)) == LM_ECANCELED)
        return lm_fail(LM_EUSER - 50, "SystemExit"); /* raise base_exc */
    return 0;
}

static int base_exc_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("notmutch", notmutch, NULL);
    lm_yield();
    lm_cancel(t);
    cr_expect_not(lm_task_finished(t));
    R.rc = lm_join(t, NULL);
    R.st = lm_task_state(t);
    lm_task_release(t);
    return 0;
}

Test(tasks, test_baseexception_during_cancel)
{
    cr_assert_eq(lmt_run(base_exc_main, NULL), 0);
    cr_expect_eq(R.rc, LM_EUSER - 50);
    cr_expect_eq(R.st, LM_STATE_FAILED, "done, not cancelled, with the exception");
}

static lm_task *cur_task;

static int current_coro(void *arg)
{
    (void)arg;
    R.flag = lm_current() == cur_task;
    return 0;
}

static int current_main(void *arg)
{
    (void)arg;
    cur_task = lm_spawn("coro", current_coro, NULL);
    lm_join(cur_task, NULL);
    lm_task_release(cur_task);
    return 0;
}

Test(tasks, test_current_task)
{
    cr_expect_null(lm_current(), "no task outside the loop");
    cr_assert_eq(lmt_run(current_main, NULL), 0);
    cr_expect(R.flag);
    cr_expect_null(lm_current());
}

static lm_task *task1, *task2;
static lm_future *fut1, *fut2;

static int coro1(void *arg)
{
    (void)arg;
    cr_expect(lm_current() == task1);
    lm_future_wait(fut1, NULL);
    cr_expect(lm_current() == task1);
    lm_future_set(fut2, NULL);
    R.flag++;
    return 0;
}

static int coro2(void *arg)
{
    (void)arg;
    cr_expect(lm_current() == task2);
    lm_future_set(fut1, NULL);
    lm_future_wait(fut2, NULL);
    cr_expect(lm_current() == task2);
    R.flag++;
    return 0;
}

static int interleave_main(void *arg)
{
    (void)arg;
    fut1 = lm_future_new();
    fut2 = lm_future_new();
    task1 = lm_spawn("task1", coro1, NULL);
    task2 = lm_spawn("task2", coro2, NULL);
    lm_task *t[2] = {task1, task2};
    lm_wait(t, 2, LM_ALL_COMPLETED, -1, NULL, NULL);
    lmt_release(t, 2);
    lm_future_free(fut1);
    lm_future_free(fut2);
    return 0;
}

Test(tasks, test_current_task_with_interleaving_tasks)
{
    cr_assert_eq(lmt_run(interleave_main, NULL), 0);
    cr_expect_eq(R.flag, 2);
}

/* ---- cancellation through awaits ------------------------------------------ */

static int proof_inner(void *arg)
{
    int rc = lm_future_wait(arg, NULL);
    if (rc == LM_ECANCELED) {
        R.proof += 1;
        return rc;
    }
    R.proof += 1000; /* got past the wait */
    return 0;
}

static int passes_outer(void *arg)
{
    lm_task *inner = lm_spawn("inner", proof_inner, arg);
    int rc = lm_join(inner, NULL); /* await inner() */
    lm_task_release(inner);
    if (rc == LM_ECANCELED)
        R.proof += 100; /* expect this path */
    else
        R.proof += 10;
    return 0;
}

static int passes_main(void *arg)
{
    (void)arg;
    lm_future *waiter = lm_future_new();
    lm_task *f = lm_spawn("outer", passes_outer, waiter);
    lm_yield();
    lm_yield(); /* inner is a task here: it needs its own first step */
    lm_cancel(f);
    lm_join(f, NULL);
    R.st = lm_task_state(f);
    lm_task_release(f);
    lm_future_free(waiter);
    return 0;
}

Test(tasks, test_yield_future_passes_cancel)
{
    cr_assert_eq(lmt_run(passes_main, NULL), 0);
    cr_expect_eq(R.proof, 101);
    cr_expect_eq(R.st, LM_STATE_DONE, "outer caught it");
}

static int waiter_inner(void *arg)
{
    lm_future_wait(arg, NULL);
    R.proof += 1;
    return 0;
}

static lm_task *inner_task;

static int wait_outer(void *arg)
{
    inner_task = lm_spawn("inner", waiter_inner, arg);
    int rc = lm_wait(&inner_task, 1, LM_ALL_COMPLETED, -1, NULL, NULL);
    if (rc != 0)
        return rc;
    R.proof += 100;
    return 0;
}

static int shield_outer(void *arg)
{
    inner_task = lm_spawn("inner", waiter_inner, arg);
    int rc = lm_shield(inner_task, NULL);
    if (rc != 0)
        return rc;
    R.proof += 100;
    return 0;
}

static int not_shielding_main(void *arg)
{
    lm_future *waiter = lm_future_new();
    lm_task *f = lm_spawn("outer", (lm_coro_fn)arg, waiter);
    lm_yield();
    lm_cancel(f);
    R.rc = lm_join(f, NULL);
    lm_future_set(waiter, NULL);
    lm_yield();
    lm_yield();
    R.st = lm_task_state(inner_task);
    lm_task_release(inner_task);
    lm_task_release(f);
    lm_future_free(waiter);
    return 0;
}

Test(tasks, test_yield_wait_does_not_shield_cancel)
{
    cr_assert_eq(lmt_run(not_shielding_main, (void *)wait_outer), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.proof, 1, "inner ran on");
}

Test(tasks, test_shield_effect)
{
    cr_assert_eq(lmt_run(not_shielding_main, (void *)shield_outer), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.proof, 1);
    cr_expect_eq(R.st, LM_STATE_DONE);
}

/* ---- shield --------------------------------------------------------------- */

static int fail_rt(void *arg)
{
    lm_future_wait(arg, NULL);
    return lm_fail(RTERR, "expected");
}

static int shield_of(void *arg)
{
    void **a = arg;
    return lm_shield(a[0], &R.res);
}

static int shield_main(void *arg)
{
    int which = (int)(intptr_t)arg;
    lm_future *f = lm_future_new();
    lm_task *inner = lm_spawn("inner", which == 1 ? fail_rt : await_fut, f);
    void *a[1] = {inner};
    lm_task *outer = lm_spawn("outer", shield_of, a);
    lm_yield();
    if (which == 2)
        lm_cancel(inner); /* cancel the inner */
    else if (which == 3)
        lm_cancel(outer); /* cancel the outer */
    else
        lm_future_set(f, (void *)42);
    R.rc = lm_join(outer, NULL);
    R.st = lm_task_state(inner);
    lm_future_set(f, (void *)1);
    lm_join(inner, NULL);
    R.st2 = lm_task_state(inner);
    lm_task_release(outer);
    lm_task_release(inner);
    lm_future_free(f);
    return 0;
}

Test(tasks, test_shield_result)
{
    cr_assert_eq(lmt_run(shield_main, (void *)0), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq((intptr_t)R.res, 42);
}

Test(tasks, test_shield_exception)
{
    cr_assert_eq(lmt_run(shield_main, (void *)1), 0);
    cr_expect_eq(R.rc, RTERR);
}

Test(tasks, test_shield_cancel_inner)
{
    cr_assert_eq(lmt_run(shield_main, (void *)2), 0);
    cr_expect_eq(R.rc, LM_ECANCELED, "outer.cancelled()");
    cr_expect_eq(R.st, LM_STATE_CANCELLED);
}

Test(tasks, test_shield_cancel_outer)
{
    cr_assert_eq(lmt_run(shield_main, (void *)3), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect(R.st != LM_STATE_CANCELLED, "the inner goes on");
    cr_expect_eq(R.st2, LM_STATE_DONE);
}

static int shortcut_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("fut", inner_val, (void *)42);
    lm_yield();
    R.rc = lm_shield(t, &R.res);
    lm_task_release(t);
    return 0;
}

Test(tasks, test_shield_shortcut)
{
    cr_assert_eq(lmt_run(shortcut_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq((intptr_t)R.res, 42);
}

static lm_future *child_f[2];
static lm_task *children[2];

static int gather_children(void *arg)
{
    (void)arg;
    return lm_gather(children, 2, 0, R.results, R.errors);
}

static int shield_gather_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2; i++) {
        child_f[i] = lm_future_new();
        children[i] = lm_spawn("child", await_fut, child_f[i]);
    }
    lm_task *parent = lm_spawn("parent", gather_children, NULL);
    void *a[1] = {parent};
    lm_task *outer = lm_spawn("outer", shield_of, a);
    lm_yield();
    lm_cancel(outer);
    R.rc = lm_join(outer, NULL);
    lm_future_set(child_f[0], (void *)1);
    lm_future_set(child_f[1], (void *)2);
    R.rc2 = lm_join(parent, NULL);
    lmt_release(children, 2);
    lm_task_release(parent);
    lm_task_release(outer);
    lm_future_free(child_f[0]);
    lm_future_free(child_f[1]);
    return 0;
}

Test(tasks, test_shield_gather)
{
    cr_assert_eq(lmt_run(shield_gather_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ECANCELED, "outer.cancelled()");
    cr_expect_eq(R.rc2, 0);
    cr_expect_eq((intptr_t)R.results[0], 1, "parent.result() == [1, 2]");
    cr_expect_eq((intptr_t)R.results[1], 2);
}

static int shielded(void *arg)
{
    return lm_shield(arg, NULL);
}

static lm_task *shields[2];

static int gather_of_shields(void *arg)
{
    (void)arg;
    return lm_gather(shields, 2, 0, NULL, R.errors);
}

static int gather_shield_main2(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2; i++) {
        child_f[i] = lm_future_new();
        children[i] = lm_spawn("child", await_fut, child_f[i]);
        shields[i] = lm_spawn("shield", shielded, children[i]);
    }
    lm_task *parent = lm_spawn("parent", gather_of_shields, NULL);
    lm_yield();
    lm_cancel(parent);
    R.rc = lm_join(parent, NULL);
    lm_join(shields[0], NULL);
    lm_join(shields[1], NULL);
    R.errors[4] = lm_task_error(shields[0]);
    R.errors[5] = lm_task_error(shields[1]);
    R.st = lm_task_state(children[0]);
    for (int i = 0; i < 2; i++)
        lm_future_set(child_f[i], (void *)(intptr_t)(i + 1));
    lm_wait(children, 2, LM_ALL_COMPLETED, -1, R.done, &R.ndone);
    R.st2 = lm_task_state(children[1]);
    lmt_release(children, 2);
    lmt_release(shields, 2);
    lm_task_release(parent);
    lm_future_free(child_f[0]);
    lm_future_free(child_f[1]);
    return 0;
}

Test(tasks, test_gather_shield)
{
    cr_assert_eq(lmt_run(gather_shield_main2, NULL), 0);
    cr_expect_eq(R.rc, LM_ECANCELED, "parent.exception() is CancelledError");
    cr_expect_eq(R.errors[4], LM_ECANCELED, "inner1.cancelled()");
    cr_expect_eq(R.errors[5], LM_ECANCELED, "inner2.cancelled()");
    cr_expect(R.st != LM_STATE_CANCELLED, "but not child1 and child2");
    cr_expect_eq(R.st2, LM_STATE_DONE);
}

/* ---- gather inside tasks --------------------------------------------------- */

static int gather_one_child(void *arg)
{
    lm_task *child = arg;
    return lm_gather(&child, 1, 0, R.results, NULL);
}

static void cancel_gather_cb(void *arg)
{
    R.rc3 = lm_cancel(arg);
}

static int cancel_gather_1_main(void *arg)
{
    (void)arg;
    lm_future *fut = lm_future_new();
    lm_task *child = lm_spawn("child_coro", await_fut, fut);
    lm_task *gt = lm_spawn("gather_task", gather_one_child, child);
    lm_yield();
    lm_future_set(fut, (void *)42);
    /* The child ends and settles the gather; the gathering task is cancelled
     * before it runs again. */
    lm_yield();
    cancel_gather_cb(gt);
    R.rc = lm_join(gt, NULL);
    R.st = lm_task_state(gt);
    lm_task_release(child);
    lm_task_release(gt);
    lm_future_free(fut);
    return 0;
}

/* Deviation: asyncio's gather returns a future, which refuses the
 * cancellation once its children are done (cancel() is False, result [42]).
 * lm_gather is a call inside a task; a task cancelled after its await
 * completed but before it resumed raises CancelledError there, in asyncio
 * too. The child's result is still there. */
Test(tasks, test_cancel_gather_1)
{
    cr_assert_eq(lmt_run(cancel_gather_1_main, NULL), 0);
    cr_expect_eq(R.rc3, 1, "the task was still running: a request was made");
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq((intptr_t)R.results[0], 42);
}

static int sleep50(void *arg)
{
    (void)arg;
    return lm_sleep(MS(50));
}

static int cancel_gather_2_test(void *arg)
{
    (void)arg;
    lm_time time = 0;
    for (;;) {
        time += MS(50);
        lm_task *s = lm_spawn("sleep", sleep50, NULL);
        int rc = lm_gather(&s, 1, LM_GATHER_RETURN_EXCEPTIONS, NULL, NULL);
        lm_task_release(s);
        if (rc != 0)
            return rc;
        if (time > LM_SEC(1))
            return 0;
    }
}

static int cancel_gather_2_main(void *arg)
{
    (void)arg;
    lm_task *qwe = lm_spawn("qwe", cancel_gather_2_test, NULL);
    lm_sleep(MS(200));
    lm_cancel(qwe);
    R.rc = lm_join(qwe, NULL);
    R.t1 = lm_now();
    lm_task_release(qwe);
    return 0;
}

Test(tasks, test_cancel_gather_2)
{
    cr_assert_eq(lmt_run(cancel_gather_2_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ECANCELED,
                 "gather() propagates CancelledError even with return_exceptions");
    cr_expect_eq(R.t1, MS(200));
}

static int bare_inner(void *arg)
{
    (void)arg;
    lm_return((void *)1);
    return 0;
}

static int bare_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("No-op", bare_inner, NULL);
    R.flag = strcmp(lm_task_name(t), "No-op") == 0;
    R.rc = lm_join(t, &R.res);
    lm_task_release(t);
    return 0;
}

Test(tasks, test_bare_create_task)
{
    cr_assert_eq(lmt_run(bare_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq((intptr_t)R.res, 1);
}

Test(tasks, test_bare_create_named_task)
{
    cr_assert_eq(lmt_run(bare_main, NULL), 0);
    cr_expect(R.flag);
}

static int autoname_main(void *arg)
{
    (void)arg;
    lm_task *t1 = lm_task_new(lm_loop_current(), NULL, bare_inner, NULL);
    lm_task *t2 = lm_task_new(lm_loop_current(), NULL, bare_inner, NULL);
    unsigned n1 = 0, n2 = 0;
    R.flag = sscanf(lm_task_name(t1), "task-%u", &n1) == 1 &&
             sscanf(lm_task_name(t2), "task-%u", &n2) == 1 && n1 < n2;
    lm_join(t1, NULL);
    lm_join(t2, NULL);
    lm_task_release(t1);
    lm_task_release(t2);
    return 0;
}

Test(tasks, test_task_repr_autogenerated)
{
    cr_assert_eq(lmt_run(autoname_main, NULL), 0);
    cr_expect(R.flag, "task-N names, increasing");
}

Test(tasks, test_create_task_with_noncoroutine)
{
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_expect_null(lm_task_new(l, "x", NULL, NULL), "TypeError: a coroutine was expected");
    cr_expect_null(lm_task_new(l, "x", NULL, NULL));
    lm_loop_free(l);
}

/* SleepTests.test_sleep_zero */
static int inc_result;
static void inc_cb(void *arg) { inc_result += (int)(intptr_t)arg; }

static int sleep_zero_main(void *arg)
{
    (void)arg;
    lm_call_soon(lm_loop_current(), inc_cb, (void *)1);
    cr_expect_eq(inc_result, 0);
    lm_yield(); /* await sleep(0, result=10) */
    cr_expect_eq(inc_result, 1, "inc'ed by call_soon");
    inc_result += 10;
    return 0;
}

Test(tasks, test_sleep_zero)
{
    cr_assert_eq(lmt_run(sleep_zero_main, NULL), 0);
    cr_expect_eq(inc_result, 11);
}

/* ---- GatherTests ----------------------------------------------------------- */

static lm_future *gf[6];
static lm_task *gt[6];

static void make_futs(int n)
{
    for (int i = 0; i < n; i++) {
        gf[i] = lm_future_new();
        gt[i] = lm_spawn("fut", await_fut, gf[i]);
    }
}

static void free_futs(int n)
{
    for (int i = 0; i < n; i++) {
        if (!lm_future_done(gf[i]))
            lm_future_set(gf[i], NULL);
    }
    lm_wait(gt, (size_t)n, LM_ALL_COMPLETED, -1, NULL, NULL);
    for (int i = 0; i < n; i++) {
        lm_task_release(gt[i]);
        lm_future_free(gf[i]);
    }
}

static int gatherer(void *arg)
{
    int *nf = arg;
    R.rc = lm_gather(gt, (size_t)nf[0], nf[1], R.results, R.errors);
    R.t1 = lm_now();
    R.flag = 1; /* done */
    return 0;
}

static int success_main(void *arg)
{
    int nf[2] = {3, (int)(intptr_t)arg};
    make_futs(3);
    lm_task *g = lm_spawn("gather", gatherer, nf);
    lm_yield();
    lm_future_set(gf[1], (void *)1);
    lm_future_set(gf[0], (void *)2);
    lm_yield();
    lm_yield();
    R.flag2 = R.flag; /* not done yet */
    lm_future_set(gf[2], (void *)3);
    lm_join(g, NULL);
    lm_task_release(g);
    free_futs(3);
    return 0;
}

Test(gather, test_success)
{
    cr_assert_eq(lmt_run(success_main, (void *)0), 0);
    cr_expect_eq(R.flag2, 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq((intptr_t)R.results[0], 2);
    cr_expect_eq((intptr_t)R.results[1], 1);
    cr_expect_eq((intptr_t)R.results[2], 3);
}

Test(gather, test_result_exception_success)
{
    cr_assert_eq(lmt_run(success_main, (void *)LM_GATHER_RETURN_EXCEPTIONS), 0);
    cr_expect_eq(R.flag2, 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq((intptr_t)R.results[0], 2);
    cr_expect_eq((intptr_t)R.results[2], 3);
}

static int fail_with(void *arg)
{
    void *v = NULL;
    int rc = lm_future_wait(arg, &v);
    if (rc != 0)
        return rc; /* cancelled */
    int e = (int)(intptr_t)v;
    return e != 0 ? lm_fail(e, "exception") : 0;
}

static void make_fail_futs(int n)
{
    for (int i = 0; i < n; i++) {
        gf[i] = lm_future_new();
        gt[i] = lm_spawn("fut", fail_with, gf[i]);
    }
}

static int one_exception_main(void *arg)
{
    (void)arg;
    int nf[2] = {5, 0};
    make_fail_futs(5);
    lm_task *g = lm_spawn("gather", gatherer, nf);
    lm_yield();
    lm_future_set(gf[0], (void *)0);
    lm_future_set(gf[1], (void *)(intptr_t)ZDE);
    lm_yield();
    lm_yield();
    R.flag2 = R.flag; /* done already */
    R.st = lm_task_state(gt[2]);
    lm_future_set(gf[2], (void *)0); /* does nothing to the gather */
    lm_cancel(gt[3]);
    lm_future_set(gf[4], (void *)(intptr_t)RTERR);
    lm_join(g, NULL);
    lm_task_release(g);
    free_futs(5);
    return 0;
}

Test(gather, test_one_exception)
{
    cr_assert_eq(lmt_run(one_exception_main, NULL), 0);
    cr_expect_eq(R.flag2, 1, "done at the first exception");
    cr_expect_eq(R.rc, ZDE);
    cr_expect(R.st != LM_STATE_CANCELLED, "the others keep running");
}

static int return_exceptions_main(void *arg)
{
    (void)arg;
    int nf[2] = {4, LM_GATHER_RETURN_EXCEPTIONS};
    make_fail_futs(4);
    lm_task *g = lm_spawn("gather", gatherer, nf);
    lm_yield();
    lm_future_set(gf[1], (void *)0);
    lm_future_set(gf[2], (void *)(intptr_t)ZDE);
    lm_future_set(gf[0], (void *)0);
    lm_yield();
    lm_yield();
    R.flag2 = R.flag;
    lm_future_set(gf[3], (void *)(intptr_t)RTERR);
    lm_join(g, NULL);
    lm_task_release(g);
    free_futs(4);
    return 0;
}

Test(gather, test_return_exceptions)
{
    cr_assert_eq(lmt_run(return_exceptions_main, NULL), 0);
    cr_expect_eq(R.flag2, 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq(R.errors[0], 0);
    cr_expect_eq(R.errors[1], 0);
    cr_expect_eq(R.errors[2], ZDE);
    cr_expect_eq(R.errors[3], RTERR);
}

static int one_cancellation_main(void *arg)
{
    int nf[2] = {(int)(intptr_t)arg == 0 ? 5 : 6, (int)(intptr_t)arg};
    make_fail_futs(nf[0]);
    lm_task *g = lm_spawn("gather", gatherer, nf);
    lm_yield();
    if (nf[1] == 0) {
        lm_future_set(gf[0], (void *)0);
        lm_cancel(gt[1]);
        lm_yield();
        lm_yield();
        R.flag2 = R.flag;
        lm_future_set(gf[2], (void *)0);
        lm_cancel(gt[3]);
        lm_future_set(gf[4], (void *)(intptr_t)RTERR);
    } else {
        lm_future_set(gf[0], (void *)0);
        lm_future_set(gf[1], (void *)(intptr_t)ZDE);
        lm_cancel(gt[2]);
        lm_yield();
        lm_yield();
        R.flag2 = R.flag;
        lm_future_set(gf[3], (void *)0);
        lm_cancel(gt[4]);
        lm_future_set(gf[5], (void *)(intptr_t)RTERR);
    }
    R.rc2 = lm_join(g, NULL);
    R.st = lm_task_state(g);
    lm_task_release(g);
    free_futs(nf[0]);
    return 0;
}

Test(gather, test_one_cancellation)
{
    cr_assert_eq(lmt_run(one_cancellation_main, (void *)0), 0);
    cr_expect_eq(R.flag2, 1);
    cr_expect_eq(R.rc, LM_ECANCELED, "fut.exception() is a CancelledError");
    cr_expect_eq(R.st, LM_STATE_DONE, "the gathering itself was not cancelled");
}

Test(gather, test_result_exception_one_cancellation)
{
    cr_assert_eq(lmt_run(one_cancellation_main, (void *)LM_GATHER_RETURN_EXCEPTIONS), 0);
    cr_expect_eq(R.flag2, 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq(R.errors[0], 0);
    cr_expect_eq(R.errors[1], ZDE);
    cr_expect_eq(R.errors[2], LM_ECANCELED);
    cr_expect_eq(R.errors[3], 0);
    cr_expect_eq(R.errors[4], LM_ECANCELED);
    cr_expect_eq(R.errors[5], RTERR);
}

static int empty_main(void *arg)
{
    (void)arg;
    R.rc = lm_gather(NULL, 0, 0, NULL, NULL);
    R.t1 = lm_now();
    return 0;
}

Test(gather, test_constructor_empty_sequence_use_running_loop)
{
    cr_assert_eq(lmt_run(empty_main, NULL), 0);
    cr_expect_eq(R.rc, 0, "result []");
}

static int other_loop_task(void *arg)
{
    (void)arg;
    return 0;
}

static int hetero_main(void *arg)
{
    lm_loop *other = arg;
    lm_task *mine = lm_spawn("mine", other_loop_task, NULL);
    lm_task *theirs = lm_task_new(other, "theirs", other_loop_task, NULL);
    lm_task *t[2] = {mine, theirs};
    R.rc = lm_gather(t, 2, 0, NULL, NULL);
    R.rc2 = lm_wait(t, 2, LM_ALL_COMPLETED, -1, NULL, NULL);
    lm_task_release(mine);
    lm_task_release(theirs);
    return 0;
}

Test(gather, test_constructor_heterogenous_futures)
{
    lm_loop *other = lmt_loop(LM_CLOCK_VIRTUAL);
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", hetero_main, other, NULL), 0);
    cr_expect_eq(R.rc, LM_EINVAL, "ValueError: futures from different loops");
    cr_expect_eq(R.rc2, LM_EINVAL);
    lm_loop_free(l);
    lm_loop_free(other);
}

static int dup_main(void *arg)
{
    (void)arg;
    lm_task *c = lm_spawn("c", inner_val, (void *)"abc");
    lm_task *d = lm_spawn("d", inner_val, (void *)"def");
    lm_task *t[4] = {c, c, d, c};
    R.rc = lm_gather(t, 4, 0, R.results, NULL);
    lm_task_release(c);
    lm_task_release(d);
    return 0;
}

Test(gather, test_duplicate_coroutines)
{
    cr_assert_eq(lmt_run(dup_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_str_eq((const char *)R.results[0], "abc");
    cr_expect_str_eq((const char *)R.results[1], "abc");
    cr_expect_str_eq((const char *)R.results[2], "def");
    cr_expect_str_eq((const char *)R.results[3], "abc");
}

static lm_task *bc_children[2];

static int bc_inner(void *arg)
{
    int rc = lm_future_wait(arg, NULL);
    if (rc == 0)
        R.proof += 1;
    return rc;
}

static int bc_outer(void *arg)
{
    (void)arg;
    int rc = lm_gather(bc_children, 2, 0, NULL, NULL);
    if (rc != 0)
        return rc;
    R.proof += 100;
    return 0;
}

static int broadcast_main(void *arg)
{
    (void)arg;
    lm_future *waiter = lm_future_new();
    bc_children[0] = lm_spawn("child1", bc_inner, waiter);
    bc_children[1] = lm_spawn("child2", bc_inner, waiter);
    lm_task *f = lm_spawn("outer", bc_outer, NULL);
    lm_yield();
    cr_expect_eq(lm_cancel(f), 1);
    R.rc = lm_join(f, NULL);
    lm_join(bc_children[1], NULL);
    R.st = lm_task_state(bc_children[0]);
    R.st2 = lm_task_state(bc_children[1]);
    lm_yield();
    lmt_release(bc_children, 2);
    lm_task_release(f);
    lm_future_free(waiter);
    return 0;
}

Test(gather, test_cancellation_broadcast)
{
    cr_assert_eq(lmt_run(broadcast_main, NULL), 0);
    cr_expect_eq(R.rc, LM_ECANCELED);
    cr_expect_eq(R.st, LM_STATE_CANCELLED, "child1.cancelled()");
    cr_expect_eq(R.st2, LM_STATE_CANCELLED, "child2.cancelled()");
    cr_expect_eq(R.proof, 0);
}

static int marking_inner(void *arg)
{
    lm_future_wait(arg, NULL);
    return lm_fail(RTERR, "should not be ignored");
}

static int marking_outer(void *arg)
{
    lm_future **ab = arg;
    lm_task *t[2] = {lm_spawn("inner_a", marking_inner, ab[0]),
                     lm_spawn("inner_b", marking_inner, ab[1])};
    int rc = lm_gather(t, 2, 0, NULL, NULL);
    lm_wait(t, 2, LM_ALL_COMPLETED, -1, NULL, NULL);
    lmt_release(t, 2);
    return rc;
}

static int marking_main(void *arg)
{
    (void)arg;
    lm_future *ab[2] = {lm_future_new(), lm_future_new()};
    lm_task *f = lm_spawn("outer", marking_outer, ab);
    lm_yield();
    lm_future_set(ab[0], NULL);
    lm_yield();
    lm_future_set(ab[1], NULL);
    R.rc = lm_join(f, NULL);
    lm_task_release(f);
    lm_future_free(ab[0]);
    lm_future_free(ab[1]);
    return 0;
}

Test(gather, test_exception_marking)
{
    cr_assert_eq(lmt_run(marking_main, NULL), 0);
    cr_expect_eq(R.rc, RTERR);
}

/* ---- one wake per await (issue 12): counted with the loop's step count ----- */

static int gather_wakes_main(void *arg)
{
    (void)arg;
    lm_task *t[16];
    lmt_job j[16];
    for (int i = 0; i < 16; i++) {
        j[i] = LMT_SLEEP(10 + i, 0);
        t[i] = lmt_spawn_job("m", &j[i]);
    }
    lm_loop_stats s0, s1;
    lm_loop_stats_get(lm_loop_current(), &s0);
    R.rc = lm_gather(t, 16, 0, NULL, NULL);
    lm_loop_stats_get(lm_loop_current(), &s1);
    /* 16 members x 2 steps (start, after the sleep) + the owner's return. */
    R.rc2 = (int)(s1.steps - s0.steps);
    lmt_release(t, 16);
    return 0;
}

Test(gather, owner_is_woken_once)
{
    cr_assert_eq(lmt_run(gather_wakes_main, NULL), 0);
    cr_expect_eq(R.rc, 0);
    cr_expect_eq(R.rc2, 16 * 2 + 1, "one step of the owner, not one per member");
}

/* ---- trace truth (issue 13): a cancellation passed down a chain of awaits -- */

static int chain_leaf(void *arg)
{
    (void)arg;
    return lm_sleep(LM_SEC(10));
}

static int chain_mid(void *arg)
{
    (void)arg;
    lm_task *leaf = lm_spawn("leaf", chain_leaf, NULL);
    int rc = lm_join(leaf, NULL);
    lm_task_release(leaf);
    return rc;
}

static int chain_main(void *arg)
{
    (void)arg;
    lm_task *mid = lm_spawn("mid", chain_mid, NULL);
    lm_sleep(MS(1));
    lm_cancel(mid);
    R.rc = lm_join(mid, NULL);
    lm_task_release(mid);
    return 0;
}

Test(tasks, cancel_passed_down_a_join_names_each_link)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    cr_assert_not_null(fp);
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_trace_file(l, fp), 0);
    cr_assert_eq(lm_loop_run(l, "main", chain_main, NULL, NULL), 0);
    lm_loop_free(l);
    fclose(fp);
    cr_expect_eq(R.rc, LM_ECANCELED);
    /* 1 main, 2 mid, 3 leaf: main cancels mid, mid passes it on to leaf;
     * mid is not woken by the cancel but by leaf's end, and ends after it. */
    cr_expect_not_null(strstr(buf, "ev: cancel, task: 2, reason: explicit, by_task: 1}"), "%s", buf);
    cr_expect_not_null(strstr(buf, "ev: cancel, task: 3, reason: explicit, by_task: 2}"), "%s", buf);
    cr_expect_null(strstr(buf, "task: 2, from: awaiting, to: pending, by: cancel"), "%s", buf);
    cr_expect_not_null(strstr(buf, "task: 2, from: awaiting, to: pending, by: task, by_task: 3}"), "%s", buf);
    char *leaf_end = strstr(buf, "task: 3, from: running, to: cancelled");
    char *mid_end = strstr(buf, "task: 2, from: running, to: cancelled");
    cr_expect(leaf_end != NULL && mid_end != NULL && leaf_end < mid_end, "%s", buf);
    free(buf);
}

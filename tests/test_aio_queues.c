/*
 * test_aio_queues.c: CPython's Lib/test/test_asyncio/test_queues.py (3.13),
 * ported to loopmaid's public header.
 *
 * Each Test(Class, test_name) is the CPython test of that name: put_nowait /
 * get_nowait are lm_queue_try_put / lm_queue_try_get (QueueFull / QueueEmpty
 * are LM_EAGAIN, QueueShutDown is LM_ECLOSED), `await asyncio.sleep(0)` is
 * lm_yield(), create_task is lm_spawn, `await task` is lm_join. The mixin
 * classes (join, shutdown) run once per queue kind, as in CPython. Bodies
 * run as the main task under the virtual clock.
 */
#include <criterion/criterion.h>

#include "loopmaid.h"
#include "support/lm_test.h"

#include <stdint.h>

#define P(n) ((void *)(intptr_t)(n))
#define I(p) ((int)(intptr_t)(p))
#define MS(n) LM_MSEC(n)
#define STATE(t) lm_task_state(t)

static lm_queue *Q;

static int int_cmp(const void *a, const void *b)
{
    intptr_t x = (intptr_t)a, y = (intptr_t)b;
    return x < y ? -1 : x > y;
}

enum { FIFO, LIFO, PRIO };
static lm_queue *new_queue(int kind, size_t maxsize)
{
    lm_queue *q = kind == FIFO   ? lm_queue_new(maxsize)
                  : kind == LIFO ? lm_queue_new_lifo(maxsize)
                                 : lm_queue_new_priority(maxsize, int_cmp);
    cr_assert_not_null(q);
    return q;
}

/* q.get() as a task: its result is the item. */
static int get_task(void *arg)
{
    (void)arg;
    void *it = NULL;
    int rc = lm_queue_get(Q, &it);
    if (rc == 0)
        lm_return(it);
    return rc;
}

/* q.put(item) as a task. */
static int put_task(void *arg)
{
    return lm_queue_put(Q, arg);
}

static void *get_now(void)
{
    void *it = NULL;
    cr_expect_eq(lm_queue_try_get(Q, &it), 0);
    return it;
}

static void *await_result(lm_task *t)
{
    void *r = NULL;
    cr_expect_eq(lm_join(t, &r), 0);
    return r;
}

static void *get_wait(void)
{
    void *it = NULL;
    cr_expect_eq(lm_queue_get(Q, &it), 0);
    return it;
}

#define RUN(body) cr_assert_eq(lmt_run(body, NULL), 0)

/* A hang (a lost wakeup) fails the test instead of stalling the run. */
TestSuite(LifoQueueTests, .timeout = 20);
TestSuite(PriorityQueueTests, .timeout = 20);
TestSuite(QueueBasicTests, .timeout = 20);
TestSuite(QueueGetTests, .timeout = 20);
TestSuite(QueuePutTests, .timeout = 20);
TestSuite(queues, .timeout = 20);
TestSuite(LifoQueueJoinTests, .timeout = 20);
TestSuite(LifoQueueShutdownTests, .timeout = 20);
TestSuite(PriorityQueueJoinTests, .timeout = 20);
TestSuite(PriorityQueueShutdownTests, .timeout = 20);
TestSuite(QueueJoinTests, .timeout = 20);
TestSuite(QueueShutdownTests, .timeout = 20);

/* ======================================================================== */
/* QueueBasicTests                                                          */
/* ======================================================================== */

static int t_empty(void *arg)
{
    (void)arg;
    Q = lm_queue_new(0);
    cr_expect_eq(lm_queue_len(Q), 0);
    lm_queue_put(Q, P(1));
    cr_expect_eq(lm_queue_len(Q), 1);
    cr_expect_eq(I(get_wait()), 1);
    cr_expect_eq(lm_queue_len(Q), 0);
    lm_queue_free(Q);
    return 0;
}
Test(QueueBasicTests, test_empty) { RUN(t_empty); }

static int t_full(void *arg)
{
    (void)arg;
    Q = lm_queue_new(0);
    cr_expect_not(lm_queue_full(Q));
    lm_queue_free(Q);
    Q = lm_queue_new(1);
    lm_queue_put(Q, P(1));
    cr_expect(lm_queue_full(Q));
    lm_queue_free(Q);
    return 0;
}
Test(QueueBasicTests, test_full) { RUN(t_full); }

static int t_order(void *arg)
{
    int kind = I(arg);
    Q = new_queue(kind, 0);
    int in[3] = {1, 3, 2};
    for (int i = 0; i < 3; i++)
        lm_queue_put(Q, P(in[i]));
    for (int i = 0; i < 3; i++)
        lmt_push(I(get_wait()));
    if (kind == FIFO)
        LMT_EXPECT_RES(1, 3, 2);
    else if (kind == LIFO)
        LMT_EXPECT_RES(2, 3, 1);
    else
        LMT_EXPECT_RES(1, 2, 3);
    lm_queue_free(Q);
    return 0;
}
Test(QueueBasicTests, test_order) { cr_assert_eq(lmt_run(t_order, P(FIFO)), 0); }
Test(LifoQueueTests, test_order) { cr_assert_eq(lmt_run(t_order, P(LIFO)), 0); }
Test(PriorityQueueTests, test_order) { cr_assert_eq(lmt_run(t_order, P(PRIO)), 0); }

static int have_been_put[8], nput;
static int maxsize_putter(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        lm_queue_put(Q, P(i));
        have_been_put[nput++] = i;
    }
    lm_return(P(1));
    return 0;
}

static int t_maxsize(void *arg)
{
    (void)arg;
    Q = lm_queue_new(2);
    cr_expect_eq(lm_queue_maxsize(Q), 2);
    lm_task *t = lm_spawn("putter", maxsize_putter, NULL);
    for (int i = 0; i < 2; i++)
        lm_yield();
    /* The putter is blocked after putting two items. */
    cr_expect_eq(nput, 2);
    cr_expect_eq(I(get_wait()), 0);
    /* Let the putter resume and put the last item. */
    lm_yield();
    cr_expect_eq(nput, 3);
    cr_expect_eq(have_been_put[2], 2);
    cr_expect_eq(I(get_wait()), 1);
    cr_expect_eq(I(get_wait()), 2);
    cr_expect_eq(STATE(t), LM_STATE_DONE);
    cr_expect_eq(I(lm_task_result(t)), 1);
    lm_queue_free(Q);
    return 0;
}
Test(QueueBasicTests, test_maxsize) { RUN(t_maxsize); }

/* ======================================================================== */
/* QueueGetTests                                                            */
/* ======================================================================== */

static int t_blocking_get(void *arg)
{
    (void)arg;
    Q = lm_queue_new(0);
    lm_queue_try_put(Q, P(1));
    cr_expect_eq(I(get_wait()), 1);
    lm_queue_free(Q);
    return 0;
}
Test(QueueGetTests, test_blocking_get) { RUN(t_blocking_get); }

/* CPython appends a bare future to q._putters; here a real putter parks. */
static int t_get_with_putters(void *arg)
{
    (void)arg;
    Q = lm_queue_new(1);
    lm_queue_put(Q, P(1));
    lm_task *putter = lm_spawn("putter", put_task, P(2));
    lm_yield();
    cr_expect_not(lm_task_finished(putter));
    cr_expect_eq(I(get_wait()), 1);
    lm_yield();
    cr_expect_eq(STATE(putter), LM_STATE_DONE, "the get woke the putter");
    cr_expect_eq(lm_queue_len(Q), 1);
    lm_queue_free(Q);
    return 0;
}
Test(QueueGetTests, test_get_with_putters) { RUN(t_get_with_putters); }

static lm_event *started;
static int finished;

static int queue_get_fin(void *arg)
{
    (void)arg;
    lm_event_set(started);
    void *res = NULL;
    int rc = lm_queue_get(Q, &res);
    finished = 1;
    lm_return(res);
    return rc;
}

static void put_nowait_1(void *arg)
{
    (void)arg;
    cr_expect_eq(lm_queue_try_put(Q, P(1)), 0);
}

static int t_blocking_get_wait(void *arg)
{
    (void)arg;
    Q = lm_queue_new(0);
    started = lm_event_new();
    lm_task *t = lm_spawn("queue_get", queue_get_fin, NULL);
    lm_event_wait(started);
    cr_expect_not(finished);
    lm_call_later(lm_loop_current(), MS(10), put_nowait_1, NULL);
    cr_expect_eq(I(await_result(t)), 1);
    cr_expect(finished);
    cr_expect_eq(lm_now(), MS(10));
    lm_event_free(started);
    lm_queue_free(Q);
    return 0;
}
Test(QueueGetTests, test_blocking_get_wait) { RUN(t_blocking_get_wait); }

static int t_nonblocking_get(void *arg)
{
    (void)arg;
    Q = lm_queue_new(0);
    lm_queue_try_put(Q, P(1));
    cr_expect_eq(I(get_now()), 1);
    lm_queue_free(Q);
    return 0;
}
Test(QueueGetTests, test_nonblocking_get) { RUN(t_nonblocking_get); }

Test(QueueGetTests, test_nonblocking_get_exception)
{
    lm_queue *q = lm_queue_new(0);
    void *it;
    cr_expect_eq(lm_queue_try_get(q, &it), LM_EAGAIN); /* QueueEmpty */
    lm_queue_free(q);
}

static int t_get_cancelled_race(void *arg)
{
    (void)arg;
    Q = lm_queue_new(0);
    lm_task *t1 = lm_spawn("t1", get_task, NULL);
    lm_task *t2 = lm_spawn("t2", get_task, NULL);
    lm_yield();
    lm_cancel(t1);
    lm_yield();
    cr_expect(lm_task_finished(t1));
    lm_queue_put(Q, P('a'));
    lm_yield();
    cr_expect_eq(I(await_result(t2)), 'a');
    lm_queue_free(Q);
    return 0;
}
Test(QueueGetTests, test_get_cancelled_race) { RUN(t_get_cancelled_race); }

static int t_get_with_waiting_putters(void *arg)
{
    (void)arg;
    Q = lm_queue_new(1);
    lm_spawn("put a", put_task, P('a'));
    lm_spawn("put b", put_task, P('b'));
    cr_expect_eq(I(get_wait()), 'a');
    cr_expect_eq(I(get_wait()), 'b');
    lm_queue_free(Q);
    return 0;
}
Test(QueueGetTests, test_get_with_waiting_putters) { RUN(t_get_with_waiting_putters); }

static int producer(void *arg)
{
    for (int i = 0; i < I(arg); i++)
        if (lm_queue_put(Q, P(i)) != 0)
            return LM_EFAILED;
    return 0;
}

static int consumer(void *arg)
{
    for (int i = 0; i < I(arg); i++) {
        void *it;
        if (lm_queue_get(Q, &it) != 0)
            return LM_EFAILED;
        lmt_push(I(it));
    }
    return 0;
}

static int t_why_are_getters_waiting(void *arg)
{
    (void)arg;
    Q = lm_queue_new(1);
    lm_task *t[2] = {lm_spawn("producer", producer, P(5)), lm_spawn("consumer", consumer, P(5))};
    cr_expect_eq(lm_join(t[0], NULL), 0);
    cr_expect_eq(lm_join(t[1], NULL), 0);
    LMT_EXPECT_RES(0, 1, 2, 3, 4);
    lm_queue_free(Q);
    return 0;
}
Test(QueueGetTests, test_why_are_getters_waiting) { RUN(t_why_are_getters_waiting); }

static int t_cancelled_getters_not_held(void *arg)
{
    (void)arg;
    Q = lm_queue_new(5);
    lm_task *g = lm_spawn("get", get_task, NULL);
    cr_expect_eq(lm_wait_for(g, MS(100), NULL), LM_ETIMEDOUT);
    cr_expect_eq(lm_now(), MS(100));
    /* not len(queue._getters) == 0: a put now stays in the queue */
    lm_queue_try_put(Q, P(1));
    cr_expect_eq(lm_queue_len(Q), 1);
    lm_queue_free(Q);
    return 0;
}
Test(QueueGetTests, test_cancelled_getters_not_being_held_in_self_getters) { RUN(t_cancelled_getters_not_held); }

/* ======================================================================== */
/* QueuePutTests                                                            */
/* ======================================================================== */

static int t_blocking_put(void *arg)
{
    (void)arg;
    Q = lm_queue_new(0);
    cr_expect_eq(lm_queue_put(Q, P(1)), 0); /* no maxsize: does not block */
    cr_expect_eq(I(get_wait()), 1);
    lm_queue_free(Q);
    return 0;
}
Test(QueuePutTests, test_blocking_put) { RUN(t_blocking_put); }

static int queue_put_fin(void *arg)
{
    (void)arg;
    lm_event_set(started);
    lm_queue_put(Q, P(1));
    lm_queue_put(Q, P(2));
    finished = 1;
    return 0;
}

static void get_nowait_cb(void *arg)
{
    (void)arg;
    void *it;
    cr_expect_eq(lm_queue_try_get(Q, &it), 0);
}

static int t_blocking_put_wait(void *arg)
{
    (void)arg;
    Q = lm_queue_new(1);
    started = lm_event_new();
    lm_call_later(lm_loop_current(), MS(10), get_nowait_cb, NULL);
    lm_task *t = lm_spawn("queue_put", queue_put_fin, NULL);
    lm_event_wait(started);
    cr_expect_not(finished);
    cr_expect_eq(lm_join(t, NULL), 0);
    cr_expect(finished);
    cr_expect_eq(lm_now(), MS(10));
    lm_event_free(started);
    lm_queue_free(Q);
    return 0;
}
Test(QueuePutTests, test_blocking_put_wait) { RUN(t_blocking_put_wait); }

static int t_nonblocking_put(void *arg)
{
    (void)arg;
    Q = lm_queue_new(0);
    cr_expect_eq(lm_queue_try_put(Q, P(1)), 0);
    cr_expect_eq(I(get_now()), 1);
    lm_queue_free(Q);
    return 0;
}
Test(QueuePutTests, test_nonblocking_put) { RUN(t_nonblocking_put); }

static int t_get_cancel_drop_one_pending_reader(void *arg)
{
    (void)arg;
    Q = lm_queue_new(0);
    lm_task *reader = lm_spawn("reader", get_task, NULL);
    lm_yield();
    lm_queue_try_put(Q, P(1));
    lm_queue_try_put(Q, P(2));
    lm_cancel(reader);
    void *result = NULL;
    int rc = lm_join(reader, &result);
    cr_expect_eq(rc, LM_ECANCELED, "cancellation wins, as in asyncio");
    if (rc == LM_ECANCELED) { /* try again */
        reader = lm_spawn("reader 2", get_task, NULL);
        result = await_result(reader);
    }
    cr_expect_eq(I(result), 1, "if we get 2, 1 got dropped");
    lm_queue_free(Q);
    return 0;
}
Test(QueuePutTests, test_get_cancel_drop_one_pending_reader) { RUN(t_get_cancel_drop_one_pending_reader); }

static int t_get_cancel_drop_many_pending_readers(void *arg)
{
    (void)arg;
    Q = lm_queue_new(0);
    lm_task *r1 = lm_spawn("reader1", get_task, NULL);
    lm_task *r2 = lm_spawn("reader2", get_task, NULL);
    lm_task *r3 = lm_spawn("reader3", get_task, NULL);
    lm_yield();
    lm_queue_try_put(Q, P(1));
    lm_queue_try_put(Q, P(2));
    lm_cancel(r1);
    cr_expect_eq(lm_join(r1, NULL), LM_ECANCELED);
    int v3 = I(await_result(r3));
    int v2 = I(await_result(r2)); /* the task group's exit */
    /* Which concurrent reader gets which is undefined; together: {1, 2}. */
    cr_expect((v2 == 1 && v3 == 2) || (v2 == 2 && v3 == 1), "got %d and %d", v2, v3);
    lm_queue_free(Q);
    return 0;
}
Test(QueuePutTests, test_get_cancel_drop_many_pending_readers) { RUN(t_get_cancel_drop_many_pending_readers); }

static int t_put_cancel_drop(void *arg)
{
    (void)arg;
    Q = lm_queue_new(1);
    lm_queue_try_put(Q, P(1));
    /* putting a second item has to block (qsize 1) */
    lm_task *writer = lm_spawn("writer", put_task, P(2));
    lm_yield();
    cr_expect_eq(I(get_now()), 1);
    lm_cancel(writer);
    int rc = lm_join(writer, NULL);
    cr_expect_eq(rc, LM_ECANCELED);
    if (rc == LM_ECANCELED) { /* try again */
        writer = lm_spawn("writer 2", put_task, P(2));
        cr_expect_eq(lm_join(writer, NULL), 0);
    }
    cr_expect_eq(I(get_now()), 2);
    cr_expect_eq(lm_queue_len(Q), 0);
    lm_queue_free(Q);
    return 0;
}
Test(QueuePutTests, test_put_cancel_drop) { RUN(t_put_cancel_drop); }

Test(QueuePutTests, test_nonblocking_put_exception)
{
    lm_queue *q = lm_queue_new(1);
    cr_expect_eq(lm_queue_try_put(q, P(1)), 0);
    cr_expect_eq(lm_queue_try_put(q, P(2)), LM_EAGAIN); /* QueueFull */
    lm_queue_free(q);
}

static int queue_put_true(void *arg)
{
    (void)arg;
    int rc = lm_queue_put(Q, P(1));
    lm_return(P(1));
    return rc;
}

static int t_put_cancelled(void *arg)
{
    (void)arg;
    Q = lm_queue_new(0);
    lm_task *t = lm_spawn("queue_put", queue_put_true, NULL);
    cr_expect_eq(I(get_wait()), 1);
    cr_expect_eq(STATE(t), LM_STATE_DONE);
    cr_expect_eq(I(lm_task_result(t)), 1);
    lm_queue_free(Q);
    return 0;
}
Test(QueuePutTests, test_put_cancelled) { RUN(t_put_cancelled); }

static int t_put_cancelled_race(void *arg)
{
    (void)arg;
    Q = lm_queue_new(1);
    lm_task *put_a = lm_spawn("put a", put_task, P('a'));
    lm_task *put_b = lm_spawn("put b", put_task, P('b'));
    lm_task *put_c = lm_spawn("put X", put_task, P('X'));
    lm_yield();
    cr_expect(lm_task_finished(put_a));
    cr_expect_not(lm_task_finished(put_b));
    lm_cancel(put_c);
    lm_yield();
    cr_expect(lm_task_finished(put_c));
    cr_expect_eq(I(get_now()), 'a');
    lm_yield();
    cr_expect_eq(I(get_now()), 'b');
    cr_expect_eq(lm_join(put_b, NULL), 0);
    lm_queue_free(Q);
    return 0;
}
Test(QueuePutTests, test_put_cancelled_race) { RUN(t_put_cancelled_race); }

static int t_put_with_waiting_getters(void *arg)
{
    (void)arg;
    Q = lm_queue_new(0);
    lm_task *t = lm_spawn("get", get_task, NULL);
    lm_yield();
    lm_queue_put(Q, P('a'));
    cr_expect_eq(I(await_result(t)), 'a');
    lm_queue_free(Q);
    return 0;
}
Test(QueuePutTests, test_put_with_waiting_getters) { RUN(t_put_with_waiting_getters); }

static int getter_all(void *arg)
{
    (void)arg;
    lm_yield();
    size_t num = lm_queue_len(Q);
    for (size_t i = 0; i < num; i++)
        get_now();
    return 0;
}

static int t_why_are_putters_waiting(void *arg)
{
    (void)arg;
    Q = lm_queue_new(2);
    lm_task *t[5] = {lm_spawn("getter", getter_all, NULL), lm_spawn(NULL, put_task, P(0)),
                     lm_spawn(NULL, put_task, P(1)), lm_spawn(NULL, put_task, P(2)),
                     lm_spawn(NULL, put_task, P(3))};
    for (int i = 0; i < 5; i++)
        cr_expect_eq(lm_join(t[i], NULL), 0, "task %d", i);
    cr_expect_eq(lm_queue_len(Q), 2);
    lm_queue_free(Q);
    return 0;
}
Test(QueuePutTests, test_why_are_putters_waiting) { RUN(t_why_are_putters_waiting); }

static int t_cancelled_puts_not_held(void *arg)
{
    (void)arg;
    Q = lm_queue_new(1); /* full */
    lm_queue_try_put(Q, P(1));
    lm_task *put = lm_spawn("put", put_task, P(1));
    lm_yield();
    lm_cancel(put);
    cr_expect_eq(lm_join(put, NULL), LM_ECANCELED);
    /* not len(queue._putters) == 0: the slot a get frees stays free */
    cr_expect_eq(I(get_now()), 1);
    lm_yield();
    cr_expect_eq(lm_queue_len(Q), 0);
    cr_expect_eq(lm_queue_try_put(Q, P(5)), 0);
    lm_queue_free(Q);
    return 0;
}
Test(QueuePutTests, test_cancelled_puts_not_being_held_in_self_putters) { RUN(t_cancelled_puts_not_held); }

static int t_cancelled_put_silence(void *arg)
{
    (void)arg;
    Q = lm_queue_new(1);
    lm_queue_try_put(Q, P(1));
    lm_task *put = lm_spawn("put", put_task, P(1));
    lm_yield();
    get_now(); /* wakes the putter, with the slot reserved for it */
    lm_cancel(put);
    cr_expect_eq(lm_join(put, NULL), LM_ECANCELED);
    cr_expect_eq(lm_queue_len(Q), 0, "the cancelled put did not go in");
    cr_expect_eq(lm_queue_try_put(Q, P(2)), 0, "its slot was given back");
    lm_queue_free(Q);
    return 0;
}
Test(QueuePutTests, test_cancelled_put_silence_value_error_exception) { RUN(t_cancelled_put_silence); }

/* ======================================================================== */
/* _QueueJoinTestMixin: QueueJoinTests, LifoQueueJoinTests,                 */
/* PriorityQueueJoinTests                                                   */
/* ======================================================================== */

static int t_task_done_underflow(void *arg)
{
    Q = new_queue(I(arg), 0);
    cr_expect_eq(lm_queue_task_done(Q), LM_ESTATE); /* ValueError */
    lm_queue_free(Q);
    return 0;
}

static int accumulator, running;
static int worker(void *arg)
{
    (void)arg;
    while (running) {
        void *item;
        int rc = lm_queue_get(Q, &item);
        if (rc != 0)
            return rc;
        accumulator += I(item);
        lm_queue_task_done(Q);
    }
    return 0;
}

static int t_task_done(void *arg)
{
    Q = new_queue(I(arg), 0);
    for (int i = 0; i < 100; i++)
        lm_queue_try_put(Q, P(i));
    running = 1;
    lm_task *t[2] = {lm_spawn("worker 1", worker, NULL), lm_spawn("worker 2", worker, NULL)};
    cr_expect_eq(lm_queue_join(Q), 0);
    cr_expect_eq(accumulator, 4950);
    cr_expect_eq(lm_queue_unfinished(Q), 0);
    /* close the running workers */
    running = 0;
    for (int i = 0; i < 2; i++)
        lm_queue_try_put(Q, P(0));
    for (int i = 0; i < 2; i++)
        cr_expect_eq(lm_join(t[i], NULL), 0);
    lm_queue_free(Q);
    return 0;
}

static int t_join_empty_queue(void *arg)
{
    Q = new_queue(I(arg), 0);
    /* join()s at once, and before anything else (twice for insurance) */
    lm_time t0 = lm_now();
    cr_expect_eq(lm_queue_join(Q), 0);
    cr_expect_eq(lm_queue_join(Q), 0);
    cr_expect_eq(lm_now(), t0);
    lm_queue_free(Q);
    return 0;
}

#define JOIN_TESTS(Class, kind)                                                            \
    Test(Class, test_task_done_underflow) { cr_assert_eq(lmt_run(t_task_done_underflow, P(kind)), 0); } \
    Test(Class, test_task_done) { cr_assert_eq(lmt_run(t_task_done, P(kind)), 0); }       \
    Test(Class, test_join_empty_queue) { cr_assert_eq(lmt_run(t_join_empty_queue, P(kind)), 0); }

JOIN_TESTS(QueueJoinTests, FIFO)
JOIN_TESTS(LifoQueueJoinTests, LIFO)
JOIN_TESTS(PriorityQueueJoinTests, PRIO)

/* ======================================================================== */
/* _QueueShutdownTestMixin: QueueShutdownTests, LifoQueueShutdownTests,     */
/* PriorityQueueShutdownTests                                               */
/* ======================================================================== */

static int join_task(void *arg)
{
    (void)arg;
    return lm_queue_join(Q);
}

static void expect_shut_down(void)
{
    void *it;
    cr_expect_eq(lm_queue_put(Q, P(9)), LM_ECLOSED);
    cr_expect_eq(lm_queue_try_put(Q, P(9)), LM_ECLOSED);
    cr_expect_eq(lm_queue_get(Q, &it), LM_ECLOSED);
    cr_expect_eq(lm_queue_try_get(Q, &it), LM_ECLOSED);
}

static int t_shutdown_empty(void *arg)
{
    Q = new_queue(I(arg), 0);
    lm_task *get = lm_spawn("get", get_task, NULL);
    lm_yield(); /* the get is pending before the shutdown */
    lm_queue_shutdown(Q, 0); /* unfinished tasks: 0 -> 0 */
    cr_expect_eq(lm_queue_len(Q), 0);
    cr_expect_eq(lm_queue_join(Q), 0);
    lm_yield();
    cr_expect(lm_task_finished(get));
    cr_expect_eq(lm_join(get, NULL), LM_ECLOSED);
    expect_shut_down();
    lm_queue_free(Q);
    return 0;
}

static int t_shutdown_nonempty(void *arg)
{
    Q = new_queue(I(arg), 1);
    lm_queue_try_put(Q, P(1));
    lm_task *join = lm_spawn("join", join_task, NULL);
    lm_task *put = lm_spawn("put", put_task, P(2));
    lm_yield();
    cr_expect_not(lm_task_finished(put));
    lm_queue_shutdown(Q, 0); /* unfinished tasks: 1 -> 1 */
    cr_expect_eq(lm_queue_len(Q), 1);
    lm_yield();
    cr_expect(lm_task_finished(put));
    cr_expect_eq(lm_join(put, NULL), LM_ECLOSED);
    cr_expect_eq(I(get_wait()), 1, "get still drains the queue");
    lm_yield();
    cr_expect_not(lm_task_finished(join));
    expect_shut_down();
    cr_expect_eq(lm_queue_task_done(Q), 0); /* the one unfinished task */
    lm_yield();
    cr_expect(lm_task_finished(join));
    cr_expect_eq(lm_join(join, NULL), 0);
    cr_expect_eq(lm_queue_task_done(Q), LM_ESTATE);
    lm_queue_free(Q);
    return 0;
}

static int t_shutdown_immediate(void *arg)
{
    Q = new_queue(I(arg), 0);
    lm_queue_try_put(Q, P(1));
    lm_task *join = lm_spawn("join", join_task, NULL);
    lm_queue_shutdown(Q, 1); /* unfinished tasks: 1 -> 0 */
    cr_expect_eq(lm_queue_len(Q), 0);
    lm_yield();
    cr_expect(lm_task_finished(join));
    cr_expect_eq(lm_join(join, NULL), 0);
    expect_shut_down();
    cr_expect_eq(lm_queue_task_done(Q), LM_ESTATE, "no unfinished tasks");
    lm_queue_free(Q);
    return 0;
}

static int t_shutdown_immediate_with_unfinished(void *arg)
{
    Q = new_queue(I(arg), 0);
    lm_queue_try_put(Q, P(1));
    lm_queue_try_put(Q, P(1));
    lm_task *join = lm_spawn("join", join_task, NULL);
    cr_expect_eq(I(get_wait()), 1);
    lm_queue_shutdown(Q, 1); /* unfinished tasks: 2 -> 1 */
    cr_expect_eq(lm_queue_len(Q), 0);
    lm_yield();
    cr_expect_not(lm_task_finished(join));
    expect_shut_down();
    cr_expect_eq(lm_queue_task_done(Q), 0);
    cr_expect_eq(lm_queue_task_done(Q), LM_ESTATE);
    lm_yield();
    cr_expect(lm_task_finished(join));
    cr_expect_eq(lm_join(join, NULL), 0);
    lm_queue_free(Q);
    return 0;
}

#define SHUTDOWN_TESTS(Class, kind)                                                        \
    Test(Class, test_shutdown_empty) { cr_assert_eq(lmt_run(t_shutdown_empty, P(kind)), 0); } \
    Test(Class, test_shutdown_nonempty) { cr_assert_eq(lmt_run(t_shutdown_nonempty, P(kind)), 0); } \
    Test(Class, test_shutdown_immediate) { cr_assert_eq(lmt_run(t_shutdown_immediate, P(kind)), 0); } \
    Test(Class, test_shutdown_immediate_with_unfinished)                                 \
    {                                                                                      \
        cr_assert_eq(lmt_run(t_shutdown_immediate_with_unfinished, P(kind)), 0);          \
    }

SHUTDOWN_TESTS(QueueShutdownTests, FIFO)
SHUTDOWN_TESTS(LifoQueueShutdownTests, LIFO)
SHUTDOWN_TESTS(PriorityQueueShutdownTests, PRIO)

/* ======================================================================== */
/* Beyond the CPython file                                                  */
/* ======================================================================== */

/* Equal priorities come out in put order; the heap stays ordered through
 * growth (past the first 16 slots) and interleaved gets. */
typedef struct kv {
    int key, seq;
} kv;
static int kv_cmp(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int t_priority_ties_and_growth(void *arg)
{
    (void)arg;
    static kv items[40];
    Q = lm_queue_new_priority(0, kv_cmp);
    void *it;
    for (int i = 0; i < 40; i++) {
        items[i] = (kv){(i * 7) % 5, i};
        lm_queue_put(Q, &items[i]);
        if (i == 20) { /* a get in the middle takes the smallest so far */
            cr_expect_eq(lm_queue_try_get(Q, &it), 0);
            cr_expect_eq(((kv *)it)->key, 0);
            cr_expect_eq(((kv *)it)->seq, 0, "the first of the equal keys");
        }
    }
    kv last = {-1, -1};
    int n = 0;
    while (lm_queue_try_get(Q, &it) == 0) {
        kv *e = it;
        cr_expect(e->key > last.key || (e->key == last.key && e->seq > last.seq),
                  "(%d, %d) after (%d, %d)", e->key, e->seq, last.key, last.seq);
        last = *e;
        n++;
    }
    cr_expect_eq(n, 39);
    lm_queue_free(Q);
    cr_expect_null(lm_queue_new_priority(0, NULL));
    return 0;
}
Test(queues, priority_ties_keep_put_order_and_heap_survives_growth) { RUN(t_priority_ties_and_growth); }

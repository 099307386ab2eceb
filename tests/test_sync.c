/*
 * test_sync.c: futures, events, queues, locks, semaphores, conditions and
 * barriers: the module's own cases (freeing with waiters, misuse, races).
 * CPython's asyncio tests for them are ported in tests/test_aio_*.c.
 *
 * Every test runs a main task on a loop with the virtual clock (sleeps cost
 * nothing, lm_now() is exact). Tasks record into the file-level `rec`; the
 * assertions run after the loop (each Criterion test is its own process).
 */
#include <criterion/criterion.h>

#include "loopmaid.h"
#include "support/lm_test.h"

#include <stdint.h>

#define MS(n) LM_MSEC(n)
#define P(n) ((void *)(intptr_t)(n))
#define I(p) ((int)(intptr_t)(p))

static struct {
    int log[64];      /* task indexes / items in the order things happened */
    int nlog;
    int rc[16];       /* per task: what its call returned */
    void *val[16];
    lm_time at[16];   /* per task: when its call returned */
    int cur, max;     /* concurrency counters */
    int flag[16];
} rec;

static void logi(int v)
{
    if (rec.nlog < 64)
        rec.log[rec.nlog++] = v;
}

/* The argument of a helper task: which primitive, and its index in rec. */
typedef struct targ {
    void *prim;
    int idx;
    int ms;   /* how long to hold / sleep */
} targ;

static void join_all(lm_task **t, int n)
{
    for (int i = 0; i < n; i++) {
        lm_join(t[i], NULL);
        lm_task_release(t[i]);
    }
}

/* ---------------------------------------------------------------------- */
/* Futures                                                                 */
/* ---------------------------------------------------------------------- */

static int fut_waiter(void *arg)
{
    targ *a = arg;
    rec.rc[a->idx] = lm_future_wait(a->prim, &rec.val[a->idx]);
    rec.at[a->idx] = lm_now();
    logi(a->idx);
    return 0;
}

static int fut_main(void *arg)
{
    (void)arg;
    lm_future *f = lm_future_new();
    targ a[3] = {{f, 0, 0}, {f, 1, 0}, {f, 2, 0}};
    lm_task *t[2] = {lm_spawn("w0", fut_waiter, &a[0]), lm_spawn("w1", fut_waiter, &a[1])};
    lm_sleep(MS(10));
    rec.flag[0] = lm_future_done(f);
    rec.rc[10] = lm_future_set(f, P(42));
    rec.rc[11] = lm_future_set(f, P(43)); /* one-shot */
    rec.rc[12] = lm_future_set_error(f, LM_EUSER);
    rec.flag[1] = lm_future_done(f);
    join_all(t, 2);
    fut_waiter(&a[2]); /* already set: returns at once */
    lm_future_free(f);

    lm_future *g = lm_future_new();
    rec.rc[13] = lm_future_set_error(g, 5); /* not an error code */
    rec.rc[14] = lm_future_set_error(g, LM_EUSER - 2);
    rec.rc[15] = lm_future_wait(g, NULL);
    lm_future_free(g);
    return 0;
}

Test(future, set_wakes_every_waiter_with_the_value)
{
    cr_assert_eq(lmt_run(fut_main, NULL), 0);
    cr_expect_eq(rec.flag[0], 0);
    cr_expect_eq(rec.flag[1], 1);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(rec.rc[i], 0);
        cr_expect_eq(I(rec.val[i]), 42, "waiter %d", i);
        cr_expect_eq(rec.at[i], MS(10));
    }
    cr_expect_eq(rec.log[0], 0, "waiters wake in arrival order");
    cr_expect_eq(rec.log[1], 1);
    cr_expect_eq(rec.rc[10], 0);
    cr_expect_eq(rec.rc[11], LM_ESTATE);
    cr_expect_eq(rec.rc[12], LM_ESTATE);
    cr_expect_eq(rec.rc[13], LM_EINVAL);
    cr_expect_eq(rec.rc[14], 0);
    cr_expect_eq(rec.rc[15], LM_EUSER - 2);
}

static int fut_cancel_main(void *arg)
{
    (void)arg;
    lm_future *f = lm_future_new();
    targ a[2] = {{f, 0, 0}, {f, 1, 0}};
    lm_task *t[2] = {lm_spawn("w0", fut_waiter, &a[0]), lm_spawn("w1", fut_waiter, &a[1])};
    lm_sleep(MS(5));
    lm_cancel(t[0]);
    lm_sleep(MS(5));
    lm_future_set(f, P(7));
    join_all(t, 2);
    lm_future_free(f);
    return 0;
}

Test(future, cancelled_waiter_gets_ecanceled_others_the_value)
{
    cr_assert_eq(lmt_run(fut_cancel_main, NULL), 0);
    cr_expect_eq(rec.rc[0], LM_ECANCELED);
    cr_expect_eq(rec.at[0], MS(5));
    cr_expect_eq(rec.rc[1], 0);
    cr_expect_eq(I(rec.val[1]), 7);
    cr_expect_eq(rec.at[1], MS(10));
}

static int fut_free_main(void *arg)
{
    (void)arg;
    lm_future *f = lm_future_new();
    targ a = {f, 0, 0};
    lm_task *t = lm_spawn("w0", fut_waiter, &a);
    lm_sleep(MS(5));
    lm_future_free(f); /* documented: waiters get LM_ECLOSED */
    join_all(&t, 1);
    return 0;
}

Test(future, free_with_waiters_closes_them)
{
    cr_assert_eq(lmt_run(fut_free_main, NULL), 0);
    cr_expect_eq(rec.rc[0], LM_ECLOSED);
}

Test(future, outside_a_task)
{
    lm_future *f = lm_future_new();
    cr_expect_eq(lm_future_wait(f, NULL), LM_ENOTASK);
    lm_future_free(f);
}

/* ---------------------------------------------------------------------- */
/* Events                                                                  */
/* ---------------------------------------------------------------------- */

static int ev_waiter(void *arg)
{
    targ *a = arg;
    rec.rc[a->idx] = lm_event_wait(a->prim);
    rec.at[a->idx] = lm_now();
    return 0;
}

static int ev_main(void *arg)
{
    (void)arg;
    lm_event *e = lm_event_new();
    targ a[4] = {{e, 0, 0}, {e, 1, 0}, {e, 2, 0}, {e, 3, 0}};
    lm_task *t[3] = {lm_spawn(NULL, ev_waiter, &a[0]), lm_spawn(NULL, ev_waiter, &a[1]),
                     lm_spawn(NULL, ev_waiter, &a[2])};
    lm_sleep(MS(5));
    lm_cancel(t[2]);
    lm_sleep(MS(5));
    lm_event_set(e);
    rec.flag[0] = lm_event_is_set(e);
    /* Cleared before the woken waiters ran: they still saw the set. */
    lm_event_clear(e);
    rec.flag[1] = lm_event_is_set(e);
    join_all(t, 3);
    lm_event_set(e);
    ev_waiter(&a[3]); /* set: at once */
    lm_event_clear(e);
    lm_task *late = lm_spawn(NULL, ev_waiter, &a[3]);
    lm_sleep(MS(20));
    rec.flag[2] = lm_task_finished(late); /* still waiting: cleared */
    lm_event_set(e);
    join_all(&late, 1);
    lm_event_free(e);
    return 0;
}

Test(event, set_wakes_all_clear_blocks_cancel_works)
{
    cr_assert_eq(lmt_run(ev_main, NULL), 0);
    cr_expect_eq(rec.flag[0], 1);
    cr_expect_eq(rec.flag[1], 0);
    cr_expect_eq(rec.rc[0], 0);
    cr_expect_eq(rec.rc[1], 0);
    cr_expect_eq(rec.at[0], MS(10));
    cr_expect_eq(rec.at[1], MS(10));
    cr_expect_eq(rec.rc[2], LM_ECANCELED);
    cr_expect_eq(rec.at[2], MS(5));
    cr_expect_eq(rec.flag[2], 0);
    cr_expect_eq(rec.rc[3], 0);
    cr_expect_eq(rec.at[3], MS(30));
}

static int ev_free_main(void *arg)
{
    (void)arg;
    lm_event *e = lm_event_new();
    targ a = {e, 0, 0};
    lm_task *t = lm_spawn(NULL, ev_waiter, &a);
    lm_sleep(MS(1));
    lm_event_free(e);
    join_all(&t, 1);
    return 0;
}

Test(event, free_with_waiters_closes_them)
{
    cr_assert_eq(lmt_run(ev_free_main, NULL), 0);
    cr_expect_eq(rec.rc[0], LM_ECLOSED);
}

/* ---------------------------------------------------------------------- */
/* Queues                                                                  */
/* ---------------------------------------------------------------------- */

static int producer(void *arg)
{
    targ *a = arg;
    for (int i = 1; i <= 5; i++) {
        int rc = lm_queue_put(a->prim, P(i));
        rec.at[i] = lm_now(); /* when put i returned */
        if (rc != 0)
            return rc;
        if (lm_queue_len(a->prim) > (size_t)rec.max)
            rec.max = (int)lm_queue_len(a->prim);
    }
    lm_queue_close(a->prim);
    return 0;
}

static int consumer(void *arg)
{
    targ *a = arg;
    for (;;) {
        lm_sleep(MS(a->ms));
        void *it;
        int rc = lm_queue_get(a->prim, &it);
        if (rc == LM_ECLOSED)
            return 0;
        if (rc != 0)
            return rc;
        logi(I(it));
    }
}

static int queue_pc_main(void *arg)
{
    (void)arg;
    lm_queue *q = lm_queue_new(1);
    targ p = {q, 0, 0}, c = {q, 1, 10};
    lm_task *t[2] = {lm_spawn("producer", producer, &p), lm_spawn("consumer", consumer, &c)};
    rec.rc[0] = lm_join(t[0], NULL);
    rec.rc[1] = lm_join(t[1], NULL);
    rec.at[0] = lm_now();
    lm_task_release(t[0]);
    lm_task_release(t[1]);
    lm_queue_free(q);
    return 0;
}

Test(queue, capacity_one_keeps_order_and_blocks_the_producer)
{
    cr_assert_eq(lmt_run(queue_pc_main, NULL), 0);
    cr_expect_eq(rec.rc[0], 0);
    cr_expect_eq(rec.rc[1], 0);
    cr_assert_eq(rec.nlog, 5);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(rec.log[i], i + 1, "FIFO: item %d", i);
    cr_expect_eq(rec.max, 1, "never more than the capacity");
    /* Put 1 fits; put 2 waits for the get at 10 ms, put 3 for the one at
     * 20 ms, and so on: the producer is paced by the consumer. */
    cr_expect_eq(rec.at[1], 0);
    cr_expect_eq(rec.at[2], MS(10));
    cr_expect_eq(rec.at[3], MS(20));
    cr_expect_eq(rec.at[5], MS(40));
    cr_expect_eq(rec.at[0], MS(60), "the consumer saw the close after draining");
}

static int queue_try_main(void *arg)
{
    (void)arg;
    lm_queue *q = lm_queue_new(2);
    void *it = NULL;
    rec.rc[0] = lm_queue_try_get(q, &it);
    rec.rc[1] = lm_queue_try_put(q, P(1));
    rec.rc[2] = lm_queue_try_put(q, P(2));
    rec.rc[3] = lm_queue_try_put(q, P(3));
    rec.rc[4] = (int)lm_queue_len(q);
    lm_queue_close(q);
    rec.rc[5] = lm_queue_put(q, P(4));
    rec.rc[6] = lm_queue_try_put(q, P(4));
    rec.rc[7] = lm_queue_get(q, &it);
    rec.val[0] = it;
    rec.rc[8] = lm_queue_try_get(q, &it);
    rec.val[1] = it;
    rec.rc[9] = lm_queue_get(q, &it);
    lm_queue_free(q);

    /* Unbounded: wraps its ring, then grows past its first buffer (16
     * slots) while wrapped, and keeps the order throughout. */
    lm_queue *u = lm_queue_new(0);
    int next_in = 0, next_out = 0;
    for (; next_in < 10; next_in++)
        lm_queue_put(u, P(next_in));
    for (; next_out < 5; next_out++) {
        lm_queue_try_get(u, &it);
        if (I(it) != next_out)
            rec.flag[1] = 1;
    }
    for (; next_in < 110; next_in++)
        if (lm_queue_put(u, P(next_in)) != 0)
            rec.flag[0] = 1;
    for (; next_out < 110; next_out++) {
        if (lm_queue_try_get(u, &it) != 0 || I(it) != next_out)
            rec.flag[1] = 1;
    }
    rec.rc[10] = (int)lm_queue_len(u);
    lm_queue_free(u);
    return 0;
}

Test(queue, try_ops_and_close)
{
    cr_assert_eq(lmt_run(queue_try_main, NULL), 0);
    cr_expect_eq(rec.rc[0], LM_EAGAIN);
    cr_expect_eq(rec.rc[1], 0);
    cr_expect_eq(rec.rc[2], 0);
    cr_expect_eq(rec.rc[3], LM_EAGAIN);
    cr_expect_eq(rec.rc[4], 2);
    cr_expect_eq(rec.rc[5], LM_ECLOSED);
    cr_expect_eq(rec.rc[6], LM_ECLOSED);
    cr_expect_eq(rec.rc[7], 0, "get drains a closed queue");
    cr_expect_eq(I(rec.val[0]), 1);
    cr_expect_eq(rec.rc[8], 0);
    cr_expect_eq(I(rec.val[1]), 2);
    cr_expect_eq(rec.rc[9], LM_ECLOSED);
    cr_expect_eq(rec.flag[0], 0);
    cr_expect_eq(rec.flag[1], 0);
    cr_expect_eq(rec.rc[10], 0);
}

static int q_getter(void *arg)
{
    targ *a = arg;
    void *it = NULL;
    rec.rc[a->idx] = lm_queue_get(a->prim, &it);
    rec.val[a->idx] = it;
    rec.at[a->idx] = lm_now();
    if (rec.rc[a->idx] == 0)
        logi(a->idx);
    return 0;
}

static int q_putter(void *arg)
{
    targ *a = arg;
    rec.rc[a->idx] = lm_queue_put(a->prim, P(a->idx));
    rec.at[a->idx] = lm_now();
    return 0;
}

static int queue_cancel_main(void *arg)
{
    (void)arg;
    lm_queue *q = lm_queue_new(1);
    targ g[3] = {{q, 0, 0}, {q, 1, 0}, {q, 2, 0}};
    lm_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = lm_spawn(NULL, q_getter, &g[i]);
    lm_sleep(MS(5));
    lm_cancel(t[0]); /* parked: cancelled before any item */
    lm_sleep(MS(5));
    lm_queue_try_put(q, P(100));
    /* getter 1 was chosen for item 100; cancelling it now (before it runs)
     * must not lose the item: it either takes it or passes it to getter 2. */
    lm_cancel(t[1]);
    lm_sleep(MS(5));
    if (!lm_task_finished(t[2]))
        lm_queue_try_put(q, P(200));
    join_all(t, 3);

    /* Putters: the queue is full, two putters park, one is cancelled. */
    lm_queue_try_put(q, P(1)); /* drained above: fill it again */
    targ p[2] = {{q, 5, 0}, {q, 6, 0}};
    lm_task *pt[2] = {lm_spawn(NULL, q_putter, &p[0]), lm_spawn(NULL, q_putter, &p[1])};
    lm_sleep(MS(5));
    lm_cancel(pt[0]);
    lm_sleep(MS(5));
    void *it;
    lm_queue_try_get(q, &it);
    rec.val[8] = it;
    join_all(pt, 2);
    lm_queue_try_get(q, &it);
    rec.val[9] = it;
    rec.rc[9] = (int)lm_queue_len(q);
    lm_queue_free(q);
    return 0;
}

Test(queue, cancelled_waiters_lose_nothing)
{
    cr_assert_eq(lmt_run(queue_cancel_main, NULL), 0);
    cr_expect_eq(rec.rc[0], LM_ECANCELED);
    cr_expect_eq(rec.at[0], MS(5));
    /* Getter 1 was chosen for item 100 and then cancelled: cancellation
     * wins, and the item goes to getter 2. */
    cr_expect_eq(rec.rc[1], LM_ECANCELED);
    cr_expect_eq(rec.rc[2], 0, "getter 2 got an item");
    cr_expect_eq(I(rec.val[2]), 100, "item 100 was not lost");
    cr_expect_eq(rec.rc[5], LM_ECANCELED);
    cr_expect_eq(rec.rc[6], 0);
    cr_expect_eq(I(rec.val[8]), 1);
    cr_expect_eq(I(rec.val[9]), 6, "the cancelled putter's item never went in");
    cr_expect_eq(rec.rc[9], 0);
}

static int queue_close_main(void *arg)
{
    (void)arg;
    lm_queue *q = lm_queue_new(1);
    targ g = {q, 0, 0};
    lm_task *t = lm_spawn(NULL, q_getter, &g);
    lm_sleep(MS(5));
    lm_queue_close(q); /* wakes the parked getter */
    join_all(&t, 1);
    lm_queue_free(q);

    lm_queue *r = lm_queue_new(1);
    lm_queue_try_put(r, P(1));
    targ p[2] = {{r, 1, 0}, {r, 2, 0}};
    lm_task *pt[2] = {lm_spawn(NULL, q_putter, &p[0]), lm_spawn(NULL, q_putter, &p[1])};
    lm_sleep(MS(5));
    lm_queue_close(r); /* wakes both putters */
    lm_sleep(MS(1));
    rec.flag[0] = lm_task_finished(pt[0]);
    lm_queue_free(r); /* putter 2 is gone by then; nothing left waiting */
    join_all(pt, 2);

    lm_queue *s = lm_queue_new(1);
    targ g2 = {s, 3, 0};
    lm_task *t2 = lm_spawn(NULL, q_getter, &g2);
    lm_sleep(MS(5));
    lm_queue_free(s); /* documented: waiters get LM_ECLOSED */
    join_all(&t2, 1);
    return 0;
}

Test(queue, close_and_free_wake_waiters)
{
    cr_assert_eq(lmt_run(queue_close_main, NULL), 0);
    cr_expect_eq(rec.rc[0], LM_ECLOSED);
    cr_expect_eq(rec.at[0], MS(5));
    cr_expect_eq(rec.flag[0], 1);
    cr_expect_eq(rec.rc[1], LM_ECLOSED);
    cr_expect_eq(rec.rc[2], LM_ECLOSED);
    cr_expect_eq(rec.rc[3], LM_ECLOSED);
}

/* ---------------------------------------------------------------------- */
/* Locks                                                                   */
/* ---------------------------------------------------------------------- */

static int locker(void *arg)
{
    targ *a = arg;
    int rc = lm_lock_acquire(a->prim);
    rec.rc[a->idx] = rc;
    rec.at[a->idx] = lm_now();
    if (rc != 0)
        return rc == LM_ECANCELED ? rc : 0;
    logi(a->idx);
    rec.cur++;
    if (rec.cur > rec.max)
        rec.max = rec.cur;
    lm_sleep(MS(a->ms));
    rec.cur--;
    lm_lock_release(a->prim);
    return 0;
}

static int lock_fifo_main(void *arg)
{
    (void)arg;
    lm_lock *l = lm_lock_new();
    targ a[5];
    lm_task *t[5];
    rec.flag[0] = lm_lock_release(l); /* not locked */
    for (int i = 0; i < 4; i++) {
        a[i] = (targ){l, i, 10};
        t[i] = lm_spawn(NULL, locker, &a[i]);
        lm_sleep(MS(1)); /* arrive in index order */
    }
    /* At 10 ms task 0 releases (its timer was armed before ours) and main
     * asks right after, before task 1 has run: the lock was handed to task
     * 1 already, so main queues behind 1..3 instead of barging in. */
    lm_sleep(MS(6));
    a[4] = (targ){l, 4, 10};
    locker(&a[4]);
    join_all(t, 4);
    lm_lock_free(l);
    return 0;
}

Test(lock, fifo_order_no_barging_mutual_exclusion)
{
    cr_assert_eq(lmt_run(lock_fifo_main, NULL), 0);
    cr_assert_eq(rec.nlog, 5);
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(rec.log[i], i, "acquisition %d", i);
        cr_expect_eq(rec.at[i], MS(10 * i));
    }
    cr_expect_eq(rec.max, 1);
    cr_expect_eq(rec.flag[0], LM_ESTATE);
}

static int lock_twice(void *arg)
{
    lm_lock *l = arg;
    rec.rc[0] = lm_lock_acquire(l);
    rec.rc[1] = lm_lock_acquire(l);
    rec.rc[2] = lm_lock_release(l);
    rec.rc[3] = lm_lock_release(l);
    return 0;
}

static int lock_misuse_main(void *arg)
{
    (void)arg;
    lm_lock *l = lm_lock_new();
    lock_twice(l);
    lm_lock_free(l);
    return 0;
}

Test(lock, not_reentrant_and_release_needs_it_locked)
{
    cr_assert_eq(lmt_run(lock_misuse_main, NULL), 0);
    cr_expect_eq(rec.rc[0], 0);
    cr_expect_eq(rec.rc[1], LM_EBUSY);
    cr_expect_eq(rec.rc[2], 0);
    cr_expect_eq(rec.rc[3], LM_ESTATE);
}

/* The holder releases and, in the same step, cancels the waiter the lock
 * was just handed to. Cancellation wins (asyncio raises CancelledError
 * there): that waiter gets LM_ECANCELED and passes the lock on, so the next
 * waiter gets it and nobody is left waiting forever. A waiter cancelled
 * while still parked simply leaves the line (and is skipped). */
static int lock_cancel_main(void *arg)
{
    (void)arg;
    lm_lock *l = lm_lock_new();
    lm_lock_acquire(l);
    targ a[4] = {{l, 0, 1}, {l, 1, 1}, {l, 2, 1}, {l, 3, 1}};
    lm_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = lm_spawn(NULL, locker, &a[i]);
    lm_sleep(MS(5));
    lm_cancel(t[1]); /* parked: leaves the line */
    lm_sleep(MS(5));
    lm_lock_release(l); /* handed to 0 */
    lm_cancel(t[0]);
    join_all(t, 4);
    rec.flag[0] = lm_lock_acquire(l); /* free again */
    lm_lock_release(l);
    lm_lock_free(l);
    return 0;
}

Test(lock, cancelled_waiters_pass_the_lock_on)
{
    cr_assert_eq(lmt_run(lock_cancel_main, NULL), 0);
    cr_expect_eq(rec.rc[1], LM_ECANCELED);
    cr_expect_eq(rec.at[1], MS(5));
    cr_expect_eq(rec.rc[0], LM_ECANCELED, "cancellation wins over the hand-off");
    cr_expect_eq(rec.rc[2], 0);
    cr_expect_eq(rec.rc[3], 0);
    cr_assert_eq(rec.nlog, 2, "only 2 and 3 held it, in order");
    cr_expect_eq(rec.log[0], 2);
    cr_expect_eq(rec.log[1], 3);
    cr_expect_eq(rec.max, 1);
    cr_expect_eq(rec.flag[0], 0);
}

static int lock_free_main(void *arg)
{
    (void)arg;
    lm_lock *l = lm_lock_new();
    lm_lock_acquire(l);
    targ a = {l, 0, 1};
    lm_task *t = lm_spawn(NULL, locker, &a);
    lm_sleep(MS(5));
    lm_lock_free(l); /* documented: waiters get LM_ECLOSED */
    join_all(&t, 1);
    return 0;
}

Test(lock, free_with_waiters_closes_them)
{
    cr_assert_eq(lmt_run(lock_free_main, NULL), 0);
    cr_expect_eq(rec.rc[0], LM_ECLOSED);
}

/* ---------------------------------------------------------------------- */
/* Semaphores                                                              */
/* ---------------------------------------------------------------------- */

static int sem_worker(void *arg)
{
    targ *a = arg;
    int rc = lm_sem_acquire(a->prim);
    rec.rc[a->idx] = rc;
    rec.at[a->idx] = lm_now();
    if (rc != 0)
        return rc == LM_ECANCELED ? rc : 0;
    logi(a->idx);
    rec.cur++;
    if (rec.cur > rec.max)
        rec.max = rec.cur;
    lm_sleep(MS(a->ms));
    rec.cur--;
    lm_sem_release(a->prim);
    return 0;
}

static int sem_main(void *arg)
{
    (void)arg;
    lm_sem *s = lm_sem_new(2);
    targ a[6];
    lm_task *t[6];
    for (int i = 0; i < 6; i++) {
        a[i] = (targ){s, i, 10};
        t[i] = lm_spawn(NULL, sem_worker, &a[i]);
    }
    join_all(t, 6);
    rec.flag[0] = (int)lm_sem_value(s);
    rec.flag[1] = (int)lm_now();
    lm_sem_free(s);
    return 0;
}

Test(semaphore, limits_concurrency_fifo)
{
    cr_assert_eq(lmt_run(sem_main, NULL), 0);
    cr_expect_eq(rec.max, 2, "never more than 2 inside");
    cr_assert_eq(rec.nlog, 6);
    for (int i = 0; i < 6; i++) {
        cr_expect_eq(rec.log[i], i);
        cr_expect_eq(rec.at[i], MS(10 * (i / 2)));
    }
    cr_expect_eq(rec.flag[0], 2);
    cr_expect_eq(rec.flag[1], (int)MS(30));
}

static int sem_cancel_main(void *arg)
{
    (void)arg;
    lm_sem *s = lm_sem_new(0);
    targ a[3] = {{s, 0, 1}, {s, 1, 1}, {s, 2, 1}};
    lm_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = lm_spawn(NULL, sem_worker, &a[i]);
    lm_sleep(MS(5));
    lm_cancel(t[0]); /* parked: leaves the line */
    lm_sleep(MS(5));
    lm_sem_release(s); /* handed to 1 ... */
    lm_cancel(t[1]);   /* ... cancelled before it ran */
    join_all(t, 3);
    rec.flag[0] = (int)lm_sem_value(s);
    lm_sem_free(s);
    return 0;
}

Test(semaphore, cancelled_waiters_pass_units_on)
{
    cr_assert_eq(lmt_run(sem_cancel_main, NULL), 0);
    cr_expect_eq(rec.rc[0], LM_ECANCELED);
    cr_expect_eq(rec.at[0], MS(5));
    cr_expect_eq(rec.rc[1], LM_ECANCELED, "cancellation wins over the unit");
    cr_expect_eq(rec.rc[2], 0, "the unit reached the last waiter");
    cr_expect_eq(rec.flag[0], 1, "the one unit is back, none created or lost");
}

static int sem_free_main(void *arg)
{
    (void)arg;
    lm_sem *s = lm_sem_new(0);
    targ a = {s, 0, 1};
    lm_task *t = lm_spawn(NULL, sem_worker, &a);
    lm_sleep(MS(5));
    lm_sem_free(s);
    join_all(&t, 1);
    return 0;
}

Test(semaphore, free_with_waiters_closes_them)
{
    cr_assert_eq(lmt_run(sem_free_main, NULL), 0);
    cr_expect_eq(rec.rc[0], LM_ECLOSED);
}

Test(semaphore, outside_a_task)
{
    lm_sem *s = lm_sem_new(1);
    cr_expect_eq(lm_sem_acquire(s), LM_ENOTASK);
    lm_sem_release(s);
    cr_expect_eq(lm_sem_value(s), 2);
    lm_sem_free(s);
    lm_lock *l = lm_lock_new();
    cr_expect_eq(lm_lock_acquire(l), LM_ENOTASK);
    cr_expect_eq(lm_lock_release(l), LM_ESTATE);
    lm_lock_free(l);
    lm_queue *q = lm_queue_new(1);
    cr_expect_eq(lm_queue_put(q, NULL), LM_ENOTASK);
    cr_expect_eq(lm_queue_try_put(q, NULL), 0);
    lm_queue_free(q);
}

/* ---------------------------------------------------------------------- */
/* Conditions, barriers, queue joins: freeing with waiters, misuse         */
/* ---------------------------------------------------------------------- */

static int cond_waiter(void *arg)
{
    targ *a = arg;
    lm_cond_acquire(a->prim);
    rec.rc[a->idx] = lm_cond_wait(a->prim);
    rec.at[a->idx] = lm_now();
    return 0;
}

static int barrier_waiter(void *arg)
{
    targ *a = arg;
    rec.rc[a->idx] = lm_barrier_wait(a->prim);
    return 0;
}

static int joiner(void *arg)
{
    targ *a = arg;
    rec.rc[a->idx] = lm_queue_join(a->prim);
    return 0;
}

static int free_with_waiters_main(void *arg)
{
    (void)arg;
    lm_cond *c = lm_cond_new(NULL);
    lm_barrier *b = lm_barrier_new(3);
    lm_queue *q = lm_queue_new(0);
    lm_queue_try_put(q, P(1)); /* one unfinished item: join waits */
    targ a[3] = {{c, 0, 0}, {b, 1, 0}, {q, 2, 0}};
    lm_task *t[3] = {lm_spawn("cond", cond_waiter, &a[0]), lm_spawn("barrier", barrier_waiter, &a[1]),
                     lm_spawn("join", joiner, &a[2])};
    lm_sleep(MS(5));
    lm_cond_free(c);    /* its own lock goes with it */
    lm_barrier_free(b);
    lm_queue_free(q);
    join_all(t, 3);
    return 0;
}

Test(cond, free_with_waiters_closes_them)
{
    cr_assert_eq(lmt_run(free_with_waiters_main, NULL), 0);
    cr_expect_eq(rec.rc[0], LM_ECLOSED, "condition waiter");
    cr_expect_eq(rec.rc[1], LM_ECLOSED, "barrier waiter");
    cr_expect_eq(rec.rc[2], LM_ECLOSED, "queue joiner");
}

/* A callback may release a lock (asyncio's Lock has no owner); the waiter
 * it is handed to is woken by: lock at that moment. */
static lm_lock *cb_lock;
static void release_from_callback(void *arg)
{
    (void)arg;
    rec.rc[5] = lm_lock_release(cb_lock);
}

static int lock_cb_main(void *arg)
{
    (void)arg;
    cb_lock = lm_lock_new();
    lm_lock_acquire(cb_lock);
    targ a = {cb_lock, 0, 1};
    lm_task *t = lm_spawn("locker", locker, &a);
    lm_call_later(lm_loop_current(), MS(7), release_from_callback, NULL);
    join_all(&t, 1);
    rec.flag[0] = lm_lock_locked(cb_lock);
    lm_lock_free(cb_lock);
    return 0;
}

Test(lock, release_from_a_callback_hands_it_on)
{
    cr_assert_eq(lmt_run(lock_cb_main, NULL), 0);
    cr_expect_eq(rec.rc[5], 0);
    cr_expect_eq(rec.rc[0], 0);
    cr_expect_eq(rec.at[0], MS(7));
    cr_expect_eq(rec.flag[0], 0, "released by the locker at 8 ms");
}

Test(sync, new_calls_outside_a_task_and_misuse)
{
    lm_cond *c = lm_cond_new(NULL);
    cr_expect_eq(lm_cond_wait(c), LM_ENOTASK);
    cr_expect_eq(lm_cond_notify(c, 1), LM_ESTATE);
    cr_expect_eq(lm_cond_wait_for(c, NULL, NULL), LM_EINVAL);
    lm_cond_free(c);
    lm_barrier *b = lm_barrier_new(1);
    cr_expect_eq(lm_barrier_wait(b), LM_ENOTASK);
    lm_barrier_free(b);
    lm_queue *q = lm_queue_new(0);
    cr_expect_eq(lm_queue_join(q), LM_ENOTASK);
    cr_expect_eq(lm_queue_task_done(q), LM_ESTATE);
    lm_queue_free(q);
    cr_expect_eq(lm_sem_release(NULL), LM_EINVAL);
    lm_sem *s = lm_sem_new(UINT32_MAX);
    cr_expect_eq(lm_sem_release(s), LM_ERANGE, "the value cannot wrap");
    lm_sem_free(s);
    cr_expect_str_eq(lm_err_name(LM_EBROKEN), "LM_EBROKEN");
    cr_expect_str_eq(lm_strerror(LM_EBROKEN), "barrier broken");
    /* NULL is harmless wherever a free or a query takes it */
    lm_cond_free(NULL);
    lm_barrier_free(NULL);
    lm_future_free(NULL);
    cr_expect_eq(lm_barrier_broken(NULL), 0);
    cr_expect_eq(lm_lock_locked(NULL), 0);
    cr_expect_eq(lm_future_cancel(NULL), 0);
}

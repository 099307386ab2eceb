/*
 * test_task.c: tasks, the state machine, park/wake, sleep, yield, cancel,
 * shutdown, on the virtual clock so every run is the same.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lm_internal.h"
#include "support/lm_test.h"

/* A log of events, one char each, to check orderings. */
static char order[256];
static size_t norder;
static void mark(char c)
{
    if (norder + 1 < sizeof order)
        order[norder++] = c;
    order[norder] = '\0';
}
static void reset(void)
{
    norder = 0;
    order[0] = '\0';
}

static int yielder(void *arg)
{
    char c = *(const char *)arg;
    for (int i = 0; i < 3; i++) {
        mark(c);
        cr_assert_eq(lm_yield(), 0);
    }
    return 0;
}

static int main_three_yielders(void *arg)
{
    (void)arg;
    static const char a = 'a', b = 'b', c = 'c';
    lm_task *t[3] = {lm_spawn("a", yielder, (void *)&a), lm_spawn("b", yielder, (void *)&b),
                     lm_spawn("c", yielder, (void *)&c)};
    for (int i = 0; i < 3; i++) {
        while (!lm_task_finished(t[i]))
            lm_yield();
        lm_task_release(t[i]);
    }
    return 0;
}

Test(task, ready_tasks_run_in_fifo_order_and_yield_round_robins)
{
    reset();
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", main_three_yielders, NULL, NULL), 0);
    cr_assert_str_eq(order, "abcabcabc");
    lm_loop_free(l);
}

static int ids_main(void *arg)
{
    (void)arg;
    lm_task *me = lm_current();
    cr_assert_eq(lm_task_id(me), 1);
    cr_assert_str_eq(lm_task_name(me), "main");
    lm_task *a = lm_spawn("ünïcødé ✓ name", yielder, (void *)"x");
    lm_task *b = lm_spawn(NULL, yielder, (void *)"y");
    cr_assert_eq(lm_task_id(a), 2);
    cr_assert_eq(lm_task_id(b), 3);
    cr_assert_str_eq(lm_task_name(a), "ünïcødé ✓ name");
    cr_assert_str_eq(lm_task_name(b), "task-3");
    cr_assert_eq(lm_task_parent_id(a), 1);
    lm_task_release(a);
    lm_task_release(b);
    return 0;
}

Test(task, ids_names_and_parents)
{
    cr_assert_eq(lmt_run(ids_main, NULL), 0);
}

static int ran_body;
static int body(void *arg)
{
    (void)arg;
    ran_body = 1;
    return 0;
}

static int created_main(void *arg)
{
    lm_loop *l = arg;
    lm_task *t = lm_task_new(l, "lazy", body, NULL);
    cr_assert_eq(lm_task_state(t), LM_STATE_CREATED);
    lm_sleep(LM_MSEC(5));
    cr_assert_eq(ran_body, 0, "lm_task_new must not run anything");
    cr_assert_eq(lm_task_state(t), LM_STATE_CREATED);
    cr_assert_eq(lm_task_start(t), 0);
    cr_assert_eq(lm_task_state(t), LM_STATE_PENDING);
    cr_assert_eq(lm_task_start(t), LM_ESTATE);
    lm_yield();
    cr_assert_eq(ran_body, 1);
    cr_assert_eq(lm_task_state(t), LM_STATE_DONE);
    cr_assert_eq(lm_task_error(t), 0);
    lm_task_release(t);
    return 0;
}

Test(task, task_new_does_not_run_start_schedules)
{
    ran_body = 0;
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", created_main, l, NULL), 0);
    lm_loop_free(l);
}

static int cancel_pending_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("victim", body, NULL);
    cr_assert_eq(lm_cancel(t), 1, "a request was made");
    cr_assert_eq(lm_cancel(t), 1); /* twice: counted, delivered once */
    cr_assert_eq(lm_task_cancelling(t), 2);
    lm_yield();
    cr_assert_eq(lm_task_state(t), LM_STATE_CANCELLED);
    cr_assert_eq(lm_task_error(t), LM_ECANCELED);
    cr_assert_eq(lm_cancel(t), 0, "finished: no request, outcome kept");
    cr_assert_eq(lm_task_error(t), LM_ECANCELED);
    lm_task_release(t);
    /* A created task too. */
    t = lm_task_new(lm_loop_current(), "never", body, NULL);
    lm_cancel(t);
    cr_assert_eq(lm_task_state(t), LM_STATE_CANCELLED);
    cr_assert_eq(lm_task_start(t), LM_ESTATE);
    lm_task_release(t);
    return 0;
}

Test(task, cancel_of_pending_task_never_runs_its_body)
{
    ran_body = 0;
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", cancel_pending_main, NULL, NULL), 0);
    cr_assert_eq(ran_body, 0);
    lm_loop_free(l);
}

static int cleanup_ran;
static int sleeper_with_cleanup(void *arg)
{
    (void)arg;
    int rc = lm_sleep(LM_SEC(100));
    if (rc == LM_ECANCELED) {
        cr_assert_eq(lm_cancelled(), 1);
        /* Cleanup may itself await (like a finally block). */
        cr_assert_eq(lm_sleep(LM_MSEC(1)), 0);
        cleanup_ran++;
    }
    return rc;
}

static int cancel_await_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("sleeper", sleeper_with_cleanup, NULL);
    lm_sleep(LM_MSEC(10));
    cr_assert_eq(lm_task_state(t), LM_STATE_AWAITING);
    lm_cancel(t);
    cr_assert_eq(lm_task_state(t), LM_STATE_PENDING);
    /* Not a yield loop: virtual time only moves when nothing is ready. */
    lm_sleep(LM_MSEC(5));
    cr_assert(lm_task_finished(t));
    cr_assert_eq(cleanup_ran, 1);
    cr_assert_eq(lm_task_state(t), LM_STATE_CANCELLED);
    cr_assert_eq(lm_task_error(t), LM_ECANCELED);
    cr_assert(lm_now() < LM_SEC(1), "the cancelled sleep must not have waited");
    lm_task_release(t);
    return 0;
}

Test(task, cancel_at_await_returns_ecanceled_and_cleanup_runs)
{
    cleanup_ran = 0;
    cr_assert_eq(lmt_run(cancel_await_main, NULL), 0);
}

static int self_cancel_main(void *arg)
{
    (void)arg;
    lm_cancel(lm_current());
    cr_assert_eq(lm_cancelled(), 1);
    cr_assert_eq(lm_sleep(LM_SEC(1)), LM_ECANCELED); /* at the next await */
    cr_assert_eq(lm_sleep(LM_MSEC(1)), 0);            /* delivered once */
    lm_cancel(lm_current());
    /* Two requests so far (asyncio's cancelling() counts them): one
     * uncancel leaves one, the second withdraws the pending delivery too. */
    cr_assert_eq(lm_task_cancelling(lm_current()), 2);
    cr_assert_eq(lm_uncancel(), 1);
    cr_assert_eq(lm_cancelled(), 1);
    cr_assert_eq(lm_uncancel(), 0);
    cr_assert_eq(lm_cancelled(), 0);
    cr_assert_eq(lm_sleep(LM_MSEC(1)), 0);
    return LM_ECANCELED;
}

Test(task, self_cancel_is_delivered_at_next_await_and_uncancel_withdraws)
{
    cr_assert_eq(lmt_run(self_cancel_main, NULL), LM_ECANCELED);
}

static int failer(void *arg)
{
    (void)arg;
    lm_return((void *)0x1234);
    return lm_fail(LM_EUSER - 3, "bad reply");
}

static int fail_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("failer", failer, NULL);
    cr_assert_eq(lm_task_error(t), LM_ESTATE);
    lm_yield();
    cr_assert_eq(lm_task_state(t), LM_STATE_FAILED);
    cr_assert_eq(lm_task_error(t), LM_EUSER - 3);
    cr_assert_str_eq(lm_task_error_message(t), "bad reply");
    cr_assert_eq(lm_task_result(t), (void *)0x1234);
    lm_task_release(t);
    lm_return((void *)0x42);
    return 0;
}

Test(task, failure_code_message_and_result)
{
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    void *res = NULL;
    cr_assert_eq(lm_loop_run(l, "main", fail_main, NULL, &res), 0);
    cr_assert_eq(res, (void *)0x42);
    lm_loop_free(l);
}

static int leftovers_cleaned;
static int leftover(void *arg)
{
    (void)arg;
    int rc = lm_sleep(LM_SEC(1000));
    if (rc == LM_ECANCELED)
        leftovers_cleaned++;
    return rc;
}

static int shutdown_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++)
        lm_task_release(lm_spawn("leftover", leftover, NULL));
    lm_task_release(lm_task_new(lm_loop_current(), "never-started", body, NULL));
    lm_sleep(LM_MSEC(1));
    return 0;
}

Test(task, shutdown_cancels_leftovers_and_their_cleanup_runs)
{
    leftovers_cleaned = 0;
    ran_body = 0;
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", shutdown_main, NULL, NULL), 0);
    cr_assert_eq(leftovers_cleaned, 5);
    cr_assert_eq(ran_body, 0);
    lm_loop_stats st;
    lm_loop_stats_get(l, &st);
    cr_assert_eq(st.tasks_alive, 0);
    cr_assert_eq(st.tasks_created, 7);
    cr_assert(lm_loop_now(l) < LM_SEC(1));
    lm_loop_free(l);
}

/* park / wake as sync.c and group.c use them. */
static lm__list waiters;
static int parker(void *arg)
{
    int *out = arg;
    lm_task *me = lm_current();
    lm__list_push_back(&waiters, &me->wait_node);
    lm__reason w = {.on = LM__ON_EVENT, .fd = -1};
    *out = lm__park(&w, -1);
    return 0;
}

static int parker_deadline(void *arg)
{
    int *out = arg;
    lm__reason w = {.on = LM__ON_EVENT, .fd = -1};
    *out = lm__park(&w, lm_now() + LM_MSEC(50));
    return 0;
}

static int park_main(void *arg)
{
    (void)arg;
    lm__list_init(&waiters);
    int st1 = 99, st2 = 99;
    lm_task *a = lm_spawn("a", parker, &st1);
    lm_task *b = lm_spawn("b", parker_deadline, &st2);
    lm_yield();
    cr_assert_eq(lm_task_state(a), LM_STATE_AWAITING);
    lm__list *n = lm__list_pop_front(&waiters);
    lm__wake(LM__CONTAINER_OF(n, lm_task, wait_node), LM__BY_EVENT, 1, 7);
    lm__wake(a, LM__BY_EVENT, 1, 8); /* not awaiting any more: ignored */
    lm_sleep(LM_MSEC(100));
    cr_assert_eq(st1, 7);
    cr_assert_eq(st2, LM_ETIMEDOUT);
    cr_assert(lm_task_finished(a) && lm_task_finished(b));
    lm_task_release(a);
    lm_task_release(b);
    return 0;
}

Test(task, park_wake_and_deadline)
{
    cr_assert_eq(lmt_run(park_main, NULL), 0);
}

static int joiner_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("sleeper", leftover, NULL);
    lm_task *me = lm_current();
    lm__waiter w = {.task = me};
    lm__list_push_back(&t->joiners, &w.node);
    lm_cancel(t);
    lm__reason r = {.on = LM__ON_TASK, .fd = -1, .task = lm_task_id(t)};
    cr_assert_eq(lm__park(&r, -1), 0);
    cr_assert(lm__list_unlinked(&w.node));
    cr_assert_eq(lm_task_state(t), LM_STATE_CANCELLED);
    lm_task_release(t);
    return 0;
}

Test(task, finishing_task_wakes_its_joiners)
{
    cr_assert_eq(lmt_run(joiner_main, NULL), 0);
}

static int not_in_task(void)
{
    return lm_sleep(1) == LM_ENOTASK && lm_yield() == LM_ENOTASK &&
           lm_current() == NULL && lm_uncancel() == LM_ENOTASK;
}

Test(task, task_calls_outside_a_task)
{
    cr_assert(not_in_task());
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert(not_in_task());
    lm_loop_free(l);
}

static int counter;
static int tiny(void *arg)
{
    (void)arg;
    counter++;
    lm_sleep(LM_MSEC(counter % 7));
    counter++;
    return 0;
}

static int many_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++)
        lm_task_release(lm_spawn("t", tiny, NULL));
    lm_sleep(LM_MSEC(10));
    return 0;
}

Test(task, ten_thousand_tasks)
{
    counter = 0;
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    cr_assert_eq(lm_loop_run(l, "main", many_main, NULL, NULL), 0);
    cr_assert_eq(counter, 20000);
    lm_loop_stats st;
    lm_loop_stats_get(l, &st);
    cr_assert_eq(st.tasks_created, 10001);
    cr_assert_eq(st.tasks_alive, 0);
    lm_loop_free(l);
}

Test(errors, strings_and_names_come_from_one_table)
{
    cr_assert_str_eq(lm_strerror(LM_ETIMEDOUT), "timed out");
    cr_assert_str_eq(lm_err_name(LM_ECANCELED), "LM_ECANCELED");
    cr_assert_str_eq(lm_strerror(0), "success");
    cr_assert_str_eq(lm_strerror(LM_EUSER - 7), "application error");
    cr_assert_str_eq(lm_strerror(-55), "unknown error");
    cr_assert_str_eq(lm_state_name(LM_STATE_AWAITING), "awaiting");
    cr_assert_str_eq(lm_state_name((lm_state)99), "unknown");
}

/* ---- wait_for giving up early ------------------------------------------- */

/* Reported on an older build: after wait_for gave up on a task sleeping
 * longer than its timeout, the loop was said to hang in the poll with no
 * task alive. Checked under both clocks, traced and not: the run returns,
 * the sleeper ended cancelled, and nothing is left alive or armed. */
static int long_sleeper(void *arg)
{
    (void)arg;
    return lm_sleep(LM_MSEC(40));
}

static int gives_up_main(void *arg)
{
    int *rc = arg;
    lm_task *t = lm_spawn("slow", long_sleeper, NULL);
    *rc = lm_wait_for(t, LM_MSEC(5), NULL);
    cr_assert_eq(lm_task_state(t), LM_STATE_CANCELLED);
    lm_task_release(t);
    /* Leaves one more sleeper behind for the shutdown to cancel. */
    lm_task_release(lm_spawn("left behind", long_sleeper, NULL));
    return 0;
}

static void gives_up(lm_clock_kind clock, bool traced)
{
    char path[] = "/tmp/lm-test-waitfor-XXXXXX";
    if (traced) {
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        close(fd);
        setenv("LOOPMAID_TRACE", path, 1);
    } else {
        unsetenv("LOOPMAID_TRACE");
    }
    lm_loop *l = lmt_loop(clock);
    int rc = 0;
    cr_assert_eq(lm_loop_run(l, "main", gives_up_main, &rc, NULL), 0);
    cr_assert_eq(rc, LM_ETIMEDOUT);
    lm_loop_stats st;
    lm_loop_stats_get(l, &st);
    cr_assert_eq(st.tasks_alive, 0);
    cr_assert_eq(st.tasks_created, 3);
    lm_loop_free(l);
    if (traced) {
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f);
        char line[512];
        bool ended = false;
        while (fgets(line, sizeof line, f) != NULL)
            if (strstr(line, "ev: loop_end") != NULL)
                ended = true;
        fclose(f);
        unlink(path);
        unsetenv("LOOPMAID_TRACE");
        cr_assert(ended, "the trace must record the loop's end");
    }
}

Test(wait_for_early, virtual_untraced, .timeout = 30) { gives_up(LM_CLOCK_VIRTUAL, false); }
Test(wait_for_early, virtual_traced, .timeout = 30) { gives_up(LM_CLOCK_VIRTUAL, true); }
Test(wait_for_early, real_untraced, .timeout = 30) { gives_up(LM_CLOCK_MONOTONIC, false); }
Test(wait_for_early, real_traced, .timeout = 30) { gives_up(LM_CLOCK_MONOTONIC, true); }

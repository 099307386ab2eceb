/*
 * lifecycle.c: tasks that reach every end of a task's life.
 *
 * Reproduces seed 000's "Task Lifecycle States" (asyncio's Coroutine ->
 * Task -> Pending <-> Running <-> Awaiting -> Done / Cancelled):
 *
 *   "finisher"    is made with lm_task_new (a coroutine object: state
 *                 created, nothing runs), then started (pending), sleeps
 *                 (awaiting), and returns a value (done).
 *   "never runs"  is spawned and cancelled before the loop ever picks it:
 *                 pending -> cancelled, its body never starts.
 *   "sleeper"     is cancelled while it awaits a long sleep: the cancellation
 *                 arrives at the await as LM_ECANCELED, it cleans up, and
 *                 ends cancelled.
 *
 *   LOOPMAID_CLOCK=virtual LOOPMAID_TRACE=lifecycle.yaml build/examples/lifecycle
 *   build/loopmaid render --view state --states asyncio lifecycle.yaml
 */
#include "loopmaid.h"

#include <stdio.h>

static int finisher(void *arg)
{
    (void)arg;
    int rc = lm_sleep(LM_MSEC(50)); /* awaiting, then pending again */
    if (rc < 0)
        return rc;
    lm_return("42"); /* task.result() */
    return 0;
}

static int never_runs(void *arg)
{
    (void)arg;
    puts("never printed: this task is cancelled before it starts");
    return 0;
}

static int sleeper(void *arg)
{
    (void)arg;
    int rc = lm_sleep(LM_SEC(10));
    if (rc == LM_ECANCELED) {
        /* Cancellation is delivered here, at the await, like asyncio's
         * CancelledError. Clean up, then end the task as cancelled. */
        lm_note("CancelledError at the await: cleaning up");
        return LM_ECANCELED;
    }
    return rc;
}

static void show(lm_task *t)
{
    printf("  %-10s %-9s", lm_task_name(t), lm_state_name(lm_task_state(t)));
    if (lm_task_state(t) == LM_STATE_DONE)
        printf(" result = %s", (const char *)lm_task_result(t));
    else if (lm_task_finished(t))
        printf(" (%s)", lm_err_name(lm_task_error(t)));
    printf("\n");
}

static int main_task(void *arg)
{
    (void)arg;
    lm_loop *loop = lm_loop_current();

    /* Coroutine -> Task: lm_task_new only makes it (state created); it
     * runs once lm_task_start has put it in the ready queue. */
    lm_task *fin = lm_task_new(loop, "finisher", finisher, NULL);
    if (fin == NULL)
        return LM_ENOMEM;
    printf("after lm_task_new:   finisher is %s\n", lm_state_name(lm_task_state(fin)));
    lm_task_start(fin);
    printf("after lm_task_start: finisher is %s\n", lm_state_name(lm_task_state(fin)));

    /* Pending -> Cancelled: cancelled before the loop picked it. */
    lm_task *never = lm_spawn("never runs", never_runs, NULL);
    lm_cancel(never);

    /* Awaiting -> (cancel) -> Cancelled: cancelled at its await point. */
    lm_task *sleepy = lm_spawn("sleeper", sleeper, NULL);
    lm_sleep(LM_MSEC(100)); /* let both others reach their await */
    lm_cancel(sleepy);

    lm_join(fin, NULL);
    lm_join(never, NULL);
    lm_join(sleepy, NULL);

    printf("every end of a task's life:\n");
    show(fin);
    show(never);
    show(sleepy);

    lm_task_release(fin);
    lm_task_release(never);
    lm_task_release(sleepy);
    return 0;
}

int main(void)
{
    int rc = lm_run("main", main_task, NULL);
    if (rc != 0)
        fprintf(stderr, "lifecycle: %s\n", lm_strerror(rc));
    return rc == 0 ? 0 : 1;
}

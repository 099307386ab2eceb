/*
 * state_machine.c: a task that fails with an error beside tasks that succeed.
 *
 * Reproduces seed 002's "Event Loop State Machine" (Created -> Scheduled ->
 * Running -> Suspended -> ... -> Done / Error). Three tasks are made
 * (created), scheduled, and gathered with LM_GATHER_RETURN_EXCEPTIONS so
 * that one failure does not cancel the others:
 *
 *   "load config"    runs once and returns: Running -> Done.
 *   "download"       awaits a sleep twice (Running -> Suspended ->
 *                    Scheduled -> Running ...), then returns.
 *   "validate input" awaits once, then fails with lm_fail(): Running -> Error,
 *                    with its message kept in the trace.
 *
 *   LOOPMAID_CLOCK=virtual LOOPMAID_TRACE=state_machine.yaml build/examples/state_machine
 *   build/loopmaid render --view state --states seed002 state_machine.yaml
 */
#include "loopmaid.h"

#include <stdio.h>

/* An application's own error codes are <= LM_EUSER. */
#define APP_EBADJSON (LM_EUSER - 1)

static int load_config(void *arg)
{
    (void)arg;
    lm_return("config ok");
    return 0;
}

static int download(void *arg)
{
    (void)arg;
    for (int chunk = 0; chunk < 2; chunk++) {
        int rc = lm_sleep(LM_MSEC(30)); /* Suspended: the loop runs others */
        if (rc < 0)
            return rc;
    }
    lm_return("2 chunks");
    return 0;
}

static int validate_input(void *arg)
{
    (void)arg;
    int rc = lm_sleep(LM_MSEC(10));
    if (rc < 0)
        return rc;
    /* Raises an exception: the task ends failed, with a code and a message. */
    return lm_fail(APP_EBADJSON, "invalid JSON at line 3");
}

static int main_task(void *arg)
{
    (void)arg;
    lm_loop *loop = lm_loop_current();
    const char *names[3] = {"load config", "download", "validate input"};
    lm_coro_fn fns[3] = {load_config, download, validate_input};
    lm_task *tasks[3];

    /* Created (async def called), then Scheduled (create_task). */
    for (int i = 0; i < 3; i++) {
        tasks[i] = lm_task_new(loop, names[i], fns[i], NULL);
        if (tasks[i] == NULL)
            return LM_ENOMEM;
    }
    for (int i = 0; i < 3; i++)
        lm_task_start(tasks[i]);

    void *results[3];
    int errors[3];
    lm_gather(tasks, 3, LM_GATHER_RETURN_EXCEPTIONS, results, errors);

    for (int i = 0; i < 3; i++) {
        if (errors[i] == 0)
            printf("%-15s done:  %s\n", names[i], (const char *)results[i]);
        else
            printf("%-15s error: %s (code %d)\n", names[i],
                   lm_task_error_message(tasks[i]), errors[i]);
        lm_task_release(tasks[i]);
    }
    return 0;
}

int main(void)
{
    int rc = lm_run("main", main_task, NULL);
    if (rc != 0)
        fprintf(stderr, "state_machine: %s\n", lm_strerror(rc));
    return rc == 0 ? 0 : 1;
}

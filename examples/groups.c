/*
 * groups.c: gather() vs wait() vs task groups, side by side.
 *
 * Reproduces seed 000's "gather() vs wait() vs TaskGroup". Each scenario is a
 * task of its own (so the `tasks` view draws one subtree per scenario) that
 * starts three jobs A, B and C. The jobs sleep 30, 10 and 20 ms, so they
 * finish in the order B, C, A; in the scenarios marked "B fails", B fails
 * after its 10 ms instead of returning.
 *
 *   gather in order        results come back as A, B, C (the order asked),
 *                          not B, C, A (the order finished).
 *   gather fail-fast       B fails: gather hands B's error to the caller at once;
 *                          A and C keep running and end done (asyncio's default).
 *   gather cancel_on_error B fails: A and C are cancelled, gather returns B's error
 *                          once they have ended. NOT asyncio: the opt-in flag
 *                          LM_GATHER_CANCEL_ON_ERROR (what the seed diagram says
 *                          gather does; Trio's nurseries and task groups do it).
 *   gather return_exc      B fails: nothing is cancelled, errors[] says who failed.
 *   wait first_completed   returns when B is done; A and C are still pending.
 *   wait first_exception   returns when B fails; A and C are still pending.
 *   wait all_completed     returns when all three are done.
 *   taskgroup              B fails: the group cancels A and C, and reports
 *                          B's error (asyncio's ExceptionGroup).
 *
 * wait() never cancels anything: what it leaves pending, the caller must
 * finish or cancel (here: cancel, then join).
 *
 *   LOOPMAID_CLOCK=virtual LOOPMAID_TRACE=groups.yaml build/examples/groups
 *   build/loopmaid render --view tasks groups.yaml
 */
#include "loopmaid.h"

#include <stdio.h>

/* A job: sleep, then return its letter or fail. */
typedef struct job {
    const char *letter;
    lm_time delay;
    int fails;
} job;

static const job plain[3] = {{"A", LM_MSEC(30), 0}, {"B", LM_MSEC(10), 0}, {"C", LM_MSEC(20), 0}};
static const job b_fails[3] = {{"A", LM_MSEC(30), 0}, {"B", LM_MSEC(10), 1}, {"C", LM_MSEC(20), 0}};

static int run_job(void *arg)
{
    const job *j = arg;
    int rc = lm_sleep(j->delay);
    if (rc < 0)
        return rc; /* cancelled while sleeping */
    if (j->fails)
        return lm_fail(LM_EUSER, "B failed");
    lm_return((void *)j->letter);
    return 0;
}

/* Spawns the three jobs as "<scenario> A" etc. The caller releases them. */
static void spawn_jobs(const char *scenario, const job *jobs, lm_task *out[3])
{
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s %s", scenario, jobs[i].letter);
        out[i] = lm_spawn(name, run_job, (void *)&jobs[i]);
    }
}

/* Cancels what a wait() left pending and waits for the cleanup. */
static void cancel_rest(lm_task *t[3])
{
    for (int i = 0; i < 3; i++)
        lm_cancel(t[i]); /* harmless on a finished task */
    for (int i = 0; i < 3; i++)
        lm_join(t[i], NULL);
}

static void release_all(lm_task *t[3])
{
    for (int i = 0; i < 3; i++)
        lm_task_release(t[i]);
}

/* Prints how each job ended: "A cancelled, B failed, C cancelled". */
static void print_ends(lm_task *t[3])
{
    static const char *const letters[3] = {"A", "B", "C"};
    printf("%-22s", "");
    for (int i = 0; i < 3; i++)
        printf("%s%s %s", i ? ", " : "", letters[i], lm_state_name(lm_task_state(t[i])));
    printf("\n");
}

/* ---- gather ------------------------------------------------------------ */

static int gather_in_order(void *arg)
{
    (void)arg;
    lm_task *t[3];
    spawn_jobs("gather", plain, t);
    void *results[3];
    int rc = lm_gather(t, 3, 0, results, NULL);
    printf("%-22sresults = [%s, %s, %s] (finished B, C, A)\n", "gather in order",
           (const char *)results[0], (const char *)results[1], (const char *)results[2]);
    release_all(t);
    return rc;
}

/* asyncio's gather: the first error comes back at once, the others go on. */
static int gather_fail_fast(void *arg)
{
    (void)arg;
    lm_task *t[3];
    lm_time start = lm_now();
    spawn_jobs("fail-fast", b_fails, t);
    int rc = lm_gather(t, 3, 0, NULL, NULL);
    printf("%-22sreturned %s after %lld ms\n", "gather fail-fast", lm_err_name(rc),
           (long long)((lm_now() - start) / LM_MSEC(1)));
    print_ends(t);
    /* Nothing was cancelled: the caller awaits the others itself. */
    for (int i = 0; i < 3; i++)
        lm_join(t[i], NULL);
    print_ends(t);
    release_all(t);
    return 0; /* the failure was expected: this scenario succeeded */
}

/* The opt-in variant (not asyncio): the first failure cancels the others. */
static int gather_cancel_on_error(void *arg)
{
    (void)arg;
    lm_task *t[3];
    lm_time start = lm_now();
    spawn_jobs("cancel_on_error", b_fails, t);
    int rc = lm_gather(t, 3, LM_GATHER_CANCEL_ON_ERROR, NULL, NULL);
    printf("gather cancel_on_error returned %s after %lld ms (opt-in, not asyncio)\n",
           lm_err_name(rc), (long long)((lm_now() - start) / LM_MSEC(1)));
    print_ends(t);
    release_all(t);
    return 0;
}

static int gather_return_exceptions(void *arg)
{
    (void)arg;
    lm_task *t[3];
    spawn_jobs("return_exc", b_fails, t);
    int errors[3];
    int rc = lm_gather(t, 3, LM_GATHER_RETURN_EXCEPTIONS, NULL, errors);
    printf("%-22sreturned %s, errors = [%s, %s, %s]\n", "gather return_exc",
           lm_err_name(rc), lm_err_name(errors[0]), lm_err_name(errors[1]),
           lm_err_name(errors[2]));
    release_all(t);
    return rc;
}

/* ---- wait -------------------------------------------------------------- */

static int wait_mode(const char *mode_name, const job *jobs, lm_wait_mode mode)
{
    lm_task *t[3];
    spawn_jobs(mode_name, jobs, t);
    unsigned char done[3];
    size_t ndone;
    int rc = lm_wait(t, 3, mode, -1, done, &ndone);
    printf("wait %-17sdone = {", mode_name);
    for (int i = 0; i < 3; i++)
        if (done[i])
            printf(" %s", jobs[i].letter);
    printf(" }, pending = {");
    for (int i = 0; i < 3; i++)
        if (!done[i])
            printf(" %s", jobs[i].letter);
    printf(" }\n");
    cancel_rest(t);
    release_all(t);
    return rc;
}

static int wait_first_completed(void *arg)
{
    (void)arg;
    return wait_mode("first_completed", plain, LM_FIRST_COMPLETED);
}

static int wait_first_exception(void *arg)
{
    (void)arg;
    return wait_mode("first_exception", b_fails, LM_FIRST_EXCEPTION);
}

static int wait_all_completed(void *arg)
{
    (void)arg;
    return wait_mode("all_completed", plain, LM_ALL_COMPLETED);
}

/* ---- task group -------------------------------------------------------- */

static int taskgroup(void *arg)
{
    (void)arg;
    lm_taskgroup *g = lm_taskgroup_new("taskgroup");
    if (g == NULL)
        return LM_ENOMEM;
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "taskgroup %s", b_fails[i].letter);
        lm_taskgroup_spawn(g, name, run_job, (void *)&b_fails[i]);
    }
    int rc = lm_taskgroup_wait(g); /* the end of `async with TaskGroup()` */
    int errs[3];
    size_t nerr = lm_taskgroup_errors(g, errs, 3);
    lm_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = lm_taskgroup_task(g, (size_t)i);
    printf("%-22sreturned %s, %zu failure(s) in the group\n", "taskgroup",
           lm_err_name(rc), nerr);
    print_ends(t);
    lm_taskgroup_free(g);
    return 0;
}

/* ---- main: one scenario after another ---------------------------------- */

static int main_task(void *arg)
{
    (void)arg;
    static const struct {
        const char *name;
        lm_coro_fn fn;
    } scenarios[] = {
        {"gather in order", gather_in_order},
        {"gather fail-fast", gather_fail_fast},
        {"not asyncio: cancel_on_error", gather_cancel_on_error},
        {"gather return_exceptions", gather_return_exceptions},
        {"wait FIRST_COMPLETED + cancel rest", wait_first_completed},
        {"wait FIRST_EXCEPTION", wait_first_exception},
        {"wait ALL_COMPLETED", wait_all_completed},
        {"task group", taskgroup},
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        lm_task *s = lm_spawn(scenarios[i].name, scenarios[i].fn, NULL);
        if (lm_join(s, NULL) != 0)
            failed++;
        lm_task_release(s);
    }
    return failed ? LM_EFAILED : 0;
}

int main(void)
{
    int rc = lm_run("main", main_task, NULL);
    if (rc != 0)
        fprintf(stderr, "groups: %s\n", lm_strerror(rc));
    return rc == 0 ? 0 : 1;
}

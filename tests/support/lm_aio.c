/*
 * lm_aio.c: see lm_aio.h.
 */
#include <criterion/criterion.h>

#include "lm_aio.h"

int lmt_job_run(void *arg)
{
    lmt_job *j = arg;
    j->started = 1;
    /* asyncio.sleep(0) is a bare yield (no timer): lm_yield. */
    int rc = j->sleep > 0 ? lm_sleep(j->sleep) : lm_yield();
    if (rc == LM_ECANCELED) {
        j->saw_cancel = 1;
        if (j->cleanup > 0)
            lm_sleep(j->cleanup);
        j->finished = 1;
        j->ended_at = lm_now();
        if (j->cleanup_err != 0)
            return lm_fail(j->cleanup_err, "failed in its cleanup");
        if (j->swallow) {
            lm_return((void *)j->result);
            return 0;
        }
        return LM_ECANCELED;
    }
    j->finished = 1;
    j->ended_at = lm_now();
    if (j->err != 0)
        return lm_fail(j->err, "job failed");
    lm_return((void *)j->result);
    return 0;
}

lm_task *lmt_spawn_job(const char *name, lmt_job *j)
{
    lm_task *t = lm_spawn(name, lmt_job_run, j);
    cr_assert_not_null(t);
    return t;
}

void lmt_release(lm_task **t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lm_task_release(t[i]);
}

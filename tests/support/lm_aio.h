/*
 * lm_aio.h: small building blocks for the ports of CPython's asyncio tests
 * (tests/test_aio_*.c), so each ported case reads like its Python original.
 *
 * A job is the C form of the coroutines those tests write again and again:
 *     async def job():
 *         try:
 *             await asyncio.sleep(sleep)
 *         except CancelledError:
 *             (cleanup sleep; maybe fail; maybe swallow and return)
 *         (maybe fail)
 *         return result
 * It records what happened so a test can assert on it after the loop.
 */
#ifndef LM_AIO_H
#define LM_AIO_H

#include "loopmaid.h"

#include <stdint.h>

typedef struct lmt_job {
    /* behaviour */
    lm_time sleep;        /* the body's one await (a sleep; 0: a yield) */
    int err;              /* after the sleep: fail with this (0: succeed) */
    intptr_t result;      /* lm_return value on success */
    lm_time cleanup;      /* when cancelled: a cleanup sleep of this long */
    int cleanup_err;      /* when cancelled: fail with this after cleanup */
    int swallow;          /* when cancelled: swallow it and return `result` */
    /* record */
    int started;          /* the body ran */
    int saw_cancel;       /* its await returned LM_ECANCELED */
    int finished;         /* the body returned */
    lm_time ended_at;     /* lm_now() when it returned */
} lmt_job;

/* The coroutine for a job: lm_spawn("x", lmt_job_run, &job). */
int lmt_job_run(void *arg);

/* A job that sleeps `ms` milliseconds and returns `result`. */
#define LMT_SLEEP(ms, res) ((lmt_job){.sleep = LM_MSEC(ms), .result = (res)})
/* A job that sleeps `ms` then fails with `e`. */
#define LMT_FAIL(ms, e) ((lmt_job){.sleep = LM_MSEC(ms), .err = (e)})

/* lm_spawn of a job (asserts it was made). */
lm_task *lmt_spawn_job(const char *name, lmt_job *j);

/* Releases n tasks (NULL entries are skipped). */
void lmt_release(lm_task **t, size_t n);

/* Milliseconds of virtual time now. */
#define LMT_NOW_MS() (lm_now() / LM_MSEC(1))

#endif

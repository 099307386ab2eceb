/*
 * deadline.c: one program, two runs, for `loopmaid diff`.
 *
 *     async def main(timeout):
 *         fetcher = asyncio.create_task(fetch())      # takes 300 ms
 *         logger = asyncio.create_task(log_progress())
 *         try:
 *             await asyncio.wait_for(fetcher, timeout)
 *         except TimeoutError:
 *             ...                                      # the fetch was cancelled
 *         logger.cancel()
 *
 *     deadline            # timeout 500 ms: the fetch finishes
 *     deadline 200        # timeout 200 ms: wait_for cancels the fetch
 *
 * Traced under the virtual clock, the two runs differ exactly where the
 * behaviour does: the fetch ends done in one and cancelled by the deadline in
 * the other, main's await ends differently, and the run is shorter.
 * `loopmaid diff A.yaml B.yaml` reports that, and nothing else.
 */
#include <loopmaid.h>

#include <stdio.h>
#include <stdlib.h>

static int fetch(void *arg)
{
    (void)arg;
    lm_note("GET /data");
    int rc = lm_sleep(LM_MSEC(300)); /* the server takes its time */
    if (rc == LM_ECANCELED)
        lm_note("fetch cancelled: closing the connection");
    return rc;
}

static int log_progress(void *arg)
{
    (void)arg;
    for (;;) {
        int rc = lm_sleep(LM_MSEC(100));
        if (rc)
            return rc;
        lm_note("still fetching");
    }
}

static int main_task(void *arg)
{
    lm_time timeout = *(lm_time *)arg;
    lm_task *fetcher = lm_spawn("fetch", fetch, NULL);
    lm_task *logger = lm_spawn("log_progress", log_progress, NULL);
    lm_time start = lm_now();
    int rc = lm_wait_for(fetcher, timeout, NULL);
    lm_time took = lm_now() - start;
    printf("wait_for(fetch(), %lld ms): %s after %lld ms\n",
           (long long)(timeout / LM_MSEC(1)), rc == 0 ? "done" : lm_err_name(rc),
           (long long)(took / LM_MSEC(1)));
    lm_cancel(logger);
    lm_join(logger, NULL);
    lm_task_release(logger);
    lm_task_release(fetcher);
    return rc == 0 || rc == LM_ETIMEDOUT ? 0 : rc;
}

int main(int argc, char **argv)
{
    long ms = 500;
    if (argc > 1) {
        char *end;
        ms = strtol(argv[1], &end, 10);
        if (*end || ms < 0) {
            fprintf(stderr, "usage: deadline [TIMEOUT_MS]\n");
            return 2;
        }
    }
    lm_time timeout = LM_MSEC(ms);
    int rc = lm_run("main", main_task, &timeout);
    if (rc != 0)
        fprintf(stderr, "deadline: %s\n", lm_strerror(rc));
    return rc == 0 ? 0 : 1;
}

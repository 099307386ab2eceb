/*
 * offload.c: CPU work handed to the thread pool, with a timer ticking beside
 * it (the offload-heavy case of seed 002's "When to Use Which Approach").
 *
 * Four "resize" tasks each hand about 150 ms of CPU work (measured on the
 * pool thread's own CPU clock) to the thread pool with lm_offload, as
 * asyncio code would with `await asyncio.to_thread(...)`, while a
 * "heartbeat" task wakes every 10 ms until they are done. The loop itself
 * is almost always idle, and the timer fires dozens of times, yet the
 * program is CPU-bound: its time goes to the pool. `loopmaid inspect
 * --advise` and `render --view advise` must say so (the heartbeat must not
 * turn it into "I/O-bound"); tests/data/advise/offload.real.yaml is one
 * such run, recorded with the real clock.
 *
 *   LOOPMAID_TRACE=offload.yaml build/examples/offload      # real clock
 *   build/loopmaid inspect --advise offload.yaml
 *
 * Under LOOPMAID_CLOCK=virtual the work is a small fixed amount and takes
 * no virtual time (the clock only moves on timers), so there is nothing to
 * judge: record it with the real clock. It prints what it measured.
 */
#include "loopmaid.h"

#include <stdio.h>
#include <time.h>

enum { JOBS = 4 };

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* On a pool thread: ~150 ms of this thread's CPU (10 rounds when arg is
 * non-NULL, for the virtual clock). Must not touch the loop. */
static void *resize(void *arg)
{
    double start = thread_cpu_ms();
    volatile unsigned long x = 7;
    for (int round = 0;; round++) {
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005UL + 1442695040888963407UL;
        if (arg ? round >= 10 : thread_cpu_ms() - start >= 150.0)
            break;
    }
    return NULL;
}

static int job(void *arg)
{
    return lm_offload("resize an image", resize, arg, NULL);
}

static int done_jobs;

static int heartbeat(void *arg)
{
    int *beats = arg;
    while (done_jobs < JOBS) {
        int rc = lm_sleep(LM_MSEC(10));
        if (rc < 0)
            return rc;
        ++*beats;
    }
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    int virtual_clock = lm_loop_clock(lm_loop_current()) == LM_CLOCK_VIRTUAL;
    void *job_arg = virtual_clock ? (void *)&virtual_clock : NULL;
    int beats = 0;
    lm_time start = lm_now();
    lm_task *hb = lm_spawn("heartbeat", heartbeat, &beats);
    lm_task *t[JOBS];
    for (int i = 0; i < JOBS; i++) {
        char name[32];
        snprintf(name, sizeof name, "resize %d", i + 1);
        t[i] = lm_spawn(name, job, job_arg);
    }
    int rc = 0;
    for (int i = 0; i < JOBS; i++) {
        int r = lm_join(t[i], NULL);
        if (r < 0 && rc == 0)
            rc = r;
        done_jobs++;
        lm_task_release(t[i]);
    }
    done_jobs = JOBS;
    int r = lm_join(hb, NULL);
    lm_task_release(hb);
    if (r < 0 && rc == 0)
        rc = r;
    double ms = (double)(lm_now() - start) / 1e6;
    lm_notef("%d jobs in %.0f ms, %d heartbeats", JOBS, ms, beats);
    printf("%d jobs offloaded: %.0f ms in all, %d heartbeats meanwhile\n", JOBS,
           ms, beats);
    return rc;
}

int main(void)
{
    int rc = lm_run("main", main_task, NULL);
    if (rc != 0)
        fprintf(stderr, "offload: %s\n", lm_strerror(rc));
    return rc == 0 ? 0 : 1;
}

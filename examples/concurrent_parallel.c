/*
 * concurrent_parallel.c: the same three 1-second jobs, three ways.
 *
 * Reproduces seed 002's "Concurrent vs Parallel Execution":
 *
 *   sequential  jobs A, B, C awaited one after another: about 3 s.
 *   concurrent  A, B, C started together on the loop's one thread; each job
 *               is a 1 s wait (lm_sleep standing for a network call), so
 *               they wait at the same time: about 1 s.
 *   parallel    A, B, C handed to the thread pool with lm_offload; each job
 *               is 1 s of CPU work, so they compute at the same time on
 *               different cores: about 1 s (given 3 free cores).
 *
 * It prints the three measured totals. The `gantt` view of its trace draws
 * the three phases on one time line.
 *
 *   LOOPMAID_TRACE=cp.yaml build/examples/concurrent_parallel   (real: ~5 s)
 *   build/loopmaid render --view gantt cp.yaml
 *
 * Under LOOPMAID_CLOCK=virtual the sleeps cost no real time, and the CPU job
 * does a small fixed amount of work instead of one real second (the virtual
 * clock only moves on timers, so work on other threads takes no virtual
 * time): the totals read 3 s, 1 s and 0 s, and the trace is the same on
 * every run.
 */
#include "loopmaid.h"

#include <stdio.h>
#include <time.h>

/* ---- the job ----------------------------------------------------------- */

/* The I/O-bound form of the job: a 1-second wait, during which the loop is
 * free to run other tasks. */
static int wait_job(void *arg)
{
    (void)arg;
    return lm_sleep(LM_SEC(1));
}

/* The CPU-bound form of the job, run on a pool thread: it must not touch
 * the loop. With the real clock it computes until its thread has used one
 * second of CPU; with the virtual clock (arg != NULL) a fixed number of
 * rounds, so that the run stays quick and repeatable. */
static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *cpu_job(void *arg)
{
    int virtual_clock = arg != NULL;
    double start = thread_cpu_seconds();
    volatile unsigned long x = 1;
    for (unsigned long round = 0;; round++) {
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005UL + 1442695040888963407UL;
        if (virtual_clock ? round >= 10 : thread_cpu_seconds() - start >= 1.0)
            break;
    }
    return NULL;
}

static int offload_job(void *arg)
{
    return lm_offload("1 s of CPU", cpu_job, arg, NULL);
}

/* ---- the three ways ---------------------------------------------------- */

static const char *const letters[3] = {"A", "B", "C"};

static int sequential(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "sequential %s", letters[i]);
        lm_task *t = lm_spawn(name, wait_job, NULL);
        int rc = lm_join(t, NULL); /* await job(): nothing else starts meanwhile */
        lm_task_release(t);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Starts A, B and C with fn and gathers them. */
static int all_at_once(const char *way, lm_coro_fn fn, void *arg)
{
    lm_task *t[3];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s %s", way, letters[i]);
        t[i] = lm_spawn(name, fn, arg);
    }
    int rc = lm_gather(t, 3, 0, NULL, NULL);
    for (int i = 0; i < 3; i++)
        lm_task_release(t[i]);
    return rc;
}

static int concurrent(void *arg)
{
    (void)arg;
    return all_at_once("concurrent", wait_job, NULL);
}

static int parallel(void *arg)
{
    return all_at_once("parallel", offload_job, arg);
}

/* ---- main: run and measure each way ------------------------------------ */

static int main_task(void *arg)
{
    (void)arg;
    int virtual_clock = lm_loop_clock(lm_loop_current()) == LM_CLOCK_VIRTUAL;
    static const struct {
        const char *name;
        lm_coro_fn fn;
        const char *how;
    } ways[3] = {
        {"sequential", sequential, "one after another"},
        {"concurrent", concurrent, "one thread, interleaved"},
        {"parallel", parallel, "thread pool, simultaneous"},
    };
    /* Any non-NULL pointer tells cpu_job to do its small fixed amount. */
    void *cpu_arg = virtual_clock ? (void *)&virtual_clock : NULL;

    for (int i = 0; i < 3; i++) {
        lm_time start = lm_now();
        lm_task *t = lm_spawn(ways[i].name, ways[i].fn, cpu_arg);
        int rc = lm_join(t, NULL);
        lm_task_release(t);
        if (rc < 0)
            return rc;
        double secs = (double)(lm_now() - start) / 1e9;
        lm_notef("%s total: %.1f s", ways[i].name, secs);
        printf("%-10s total %.1f s  (%s)\n", ways[i].name, secs, ways[i].how);
    }
    if (virtual_clock)
        printf("(virtual clock: thread-pool work takes no virtual time)\n");
    return 0;
}

int main(void)
{
    int rc = lm_run("main", main_task, NULL);
    if (rc != 0)
        fprintf(stderr, "concurrent_parallel: %s\n", lm_strerror(rc));
    return rc == 0 ? 0 : 1;
}

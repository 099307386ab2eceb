/*
 * crunch.c: a CPU-bound program on the event loop (what NOT to do).
 *
 * The other half of seed 002's "When to Use Which Approach": three tasks
 * checksum a buffer in chunks, each chunk a long stretch of computation on
 * the loop's only thread. While a chunk runs, nothing else can: the loop is
 * blocked, and lm_yield between chunks only takes turns. A trace of it shows
 * long steps and little waiting, so `loopmaid inspect --advise` and
 * `render --view advise` take the decision tree's CPU-heavy branch: move the
 * work off the loop (processes, or threads as concurrent_parallel does).
 *
 *   LOOPMAID_TRACE=crunch.yaml build/examples/crunch      # real clock, ~1 s
 *   build/loopmaid inspect --advise crunch.yaml
 *   build/loopmaid render --view advise crunch.yaml
 *
 * Run it with the real clock to see that advice: under LOOPMAID_CLOCK=virtual
 * computation takes no virtual time (the clock only moves on timers), so the
 * program does a small fixed amount of work and its trace shows no CPU time.
 */
#include "loopmaid.h"

#include <stdio.h>
#include <time.h>

enum { CHUNKS = 2 };

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One chunk: about 150 ms of CPU with the real clock (a fixed 10 rounds
 * under the virtual clock). Returns the chunk's checksum. */
static unsigned long crunch_chunk(unsigned long seed, int virtual_clock)
{
    double start = thread_cpu_ms();
    unsigned long x = seed;
    for (int round = 0;; round++) {
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005UL + 1442695040888963407UL;
        if (virtual_clock ? round >= 10 : thread_cpu_ms() - start >= 150.0)
            break;
    }
    return x;
}

typedef struct part {
    int index;
    int virtual_clock;
    unsigned long sum; /* written by the task, read by main */
    lm_time blocked;   /* measured: loop time spent inside its chunks */
} part;

static int checksum(void *arg)
{
    part *p = arg;
    p->sum = (unsigned long)p->index;
    for (int c = 0; c < CHUNKS; c++) {
        lm_time t0 = lm_now();
        p->sum = crunch_chunk(p->sum, p->virtual_clock); /* blocks the loop */
        p->blocked += lm_now() - t0;
        int rc = lm_yield(); /* lets the others take a turn; no waiting */
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    int virtual_clock = lm_loop_clock(lm_loop_current()) == LM_CLOCK_VIRTUAL;
    part parts[3];
    lm_task *t[3];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "checksum part %d", i + 1);
        parts[i] = (part){i + 1, virtual_clock, 0, 0};
        t[i] = lm_spawn(name, checksum, &parts[i]);
    }
    lm_time start = lm_now();
    int rc = lm_gather(t, 3, 0, NULL, NULL);
    lm_time took = lm_now() - start;
    for (int i = 0; i < 3; i++)
        lm_task_release(t[i]);
    if (rc != 0)
        return rc;
    printf("3 checksums of %d chunks each, computed on the loop's thread\n", CHUNKS);
    if (virtual_clock)
        printf("(virtual clock: computation takes no virtual time; run it with the "
               "real clock to measure it)\n");
    else {
        /* Both figures measured: the gather's wall time, and how much of it
         * the loop spent inside the chunks (blocked for every other task). */
        lm_time blocked = parts[0].blocked + parts[1].blocked + parts[2].blocked;
        lm_notef("took %.2f s, %.2f s of it inside chunks (loop blocked)",
                 (double)took / 1e9, (double)blocked / 1e9);
        printf("took %.2f s, %.2f s of it with the loop blocked in chunks\n",
               (double)took / 1e9, (double)blocked / 1e9);
    }
    return 0;
}

int main(void)
{
    int rc = lm_run("main", main_task, NULL);
    if (rc != 0)
        fprintf(stderr, "crunch: %s\n", lm_strerror(rc));
    return rc == 0 ? 0 : 1;
}

/*
 * bench_util.h: what every C benchmark program (loopmaid and libuv) shares:
 * a monotonic clock, the peak resident set size, argument parsing and the one
 * result line that bench/run.py reads.
 *
 * Each program runs ONE workload per process, so peak RSS belongs to that
 * workload alone, and prints exactly one line on stdout:
 *
 *     workload=echo n=100000 seconds=0.12 cpu=0.11 rss_kib=4321 base_rss_kib=1234
 *
 * `seconds` is the wall time of the measured region only (from just before the
 * loop runs to just after it returns), so process start-up and the dynamic
 * loader are not part of any figure; `cpu` is the user + system CPU time of
 * the same region; lm_bench adds `loop_cpu`, the loop thread's share of it. `rss_kib` is the peak RSS of the
 * process image (VmHWM), `base_rss_kib` the RSS just before the measured
 * region; the runner subtracts the two to get memory per task.
 * Everything here is static so each program stays one translation unit.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Seconds on the monotonic clock (a vDSO call: no system call). */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * Reads one "Key:   N kB" line of /proc/self/status; -1 when absent.
 *
 * Why not getrusage(): Linux carries the high-water mark of the image a
 * process exec'd FROM into its ru_maxrss, and Python's subprocess starts
 * children with vfork, so every child would report the runner's own ~15 MiB.
 * VmHWM is the peak of this process image alone.
 */
static inline long bench_status_kib(const char *key)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t klen = strlen(key);
    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof line, fp) != NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtol(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(fp);
    return v;
}

/* Peak resident set size of this process image so far, in KiB. */
static inline long bench_maxrss_kib(void)
{
    long v = bench_status_kib("VmHWM");
    if (v < 0) {
        struct rusage ru;
        v = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
    }
    return v;
}

/* Resident set size right now, in KiB: the base that per-task memory is
 * measured from. */
static inline long bench_rss_kib(void)
{
    long v = bench_status_kib("VmRSS");
    return v < 0 ? bench_maxrss_kib() : v;
}

/* CPU time (user + system) this process has used so far, in seconds. On a
 * busy machine wall time includes waiting for a core; CPU time does not, so
 * the runner reports both. */
static inline double bench_cpu(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* CPU time of the calling thread alone. loopmaid's trace has a writer
 * thread of its own: the loop thread's time is what tracing costs the
 * program's work, the process's (bench_cpu) what it costs the machine. */
static inline double bench_thread_cpu(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* Parses a positive count; exits with a message on anything else. */
static inline long bench_parse_n(const char *prog, const char *text)
{
    char *end = NULL;
    long n = strtol(text, &end, 10);
    if (end == text || *end != '\0' || n <= 0) {
        fprintf(stderr, "%s: bad count '%s' (want a positive integer)\n", prog,
                text);
        exit(2);
    }
    return n;
}

/* thread_cpu < 0: not measured (single-threaded programs). */
static inline void bench_report(const char *workload, long n, double seconds,
                                double cpu_seconds, long base_rss_kib,
                                double thread_cpu)
{
    printf("workload=%s n=%ld seconds=%.6f cpu=%.6f rss_kib=%ld base_rss_kib=%ld",
           workload, n, seconds, cpu_seconds, bench_maxrss_kib(), base_rss_kib);
    if (thread_cpu >= 0)
        printf(" loop_cpu=%.6f", thread_cpu);
    printf("\n");
    fflush(stdout);
}

/* Bytes each echo client sends per round trip, and the client count. */
#define BENCH_ECHO_MSG 32
#define BENCH_ECHO_CLIENTS 100

#endif /* BENCH_UTIL_H */

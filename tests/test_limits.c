/*
 * test_limits.c: absurd traces fail with one clear message, within a
 * bounded memory budget, instead of being swapped into the ground
 * (docs/reliability.md lists the limits and budgets).
 *
 * Each case writes a hostile trace to a temporary file and renders it in a
 * forked child whose address space is capped with setrlimit(RLIMIT_AS) at
 * what it already uses plus a budget. The child sends its lmr_error back
 * through a pipe. A case passes only when the child exits normally (no
 * crash, no OOM kill) with the expected outcome: a limit the input goes over
 * must be reported as LMR_ELIMIT (not LMR_ENOMEM: that would mean the reader
 * tried to hold the thing before refusing it), with a position and a
 * message naming the limit.
 *
 * Under ASan (which reserves terabytes of shadow memory) and valgrind (which
 * runs the program in its own address space) RLIMIT_AS means nothing, so
 * there the cap is skipped and only the outcome is checked.
 */
#include <criterion/criterion.h>

#include "lmr_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define MIB (1024L * 1024L)

static char tpath[64];

static FILE *new_trace(void)
{
    strcpy(tpath, "/tmp/loopmaid-limits-XXXXXX");
    int fd = mkstemp(tpath);
    cr_assert_geq(fd, 0);
    FILE *fp = fdopen(fd, "w");
    cr_assert_not_null(fp);
    fputs("loopmaid: 1\nprogram: \"limits\"\nclock: virtual\nevents:\n"
          "  - {t: 0, ev: loop_start, loop: 1, name: \"loop\"}\n",
          fp);
    return fp;
}

static void close_trace(FILE *fp)
{
    cr_assert_eq(fflush(fp), 0);
    cr_assert_eq(ferror(fp), 0);
    fclose(fp);
}

/* Bytes of address space this process maps now (VmSize). */
static long vm_size(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    cr_assert_not_null(fp);
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "VmSize: %ld kB", &kb) == 1)
            break;
    fclose(fp);
    cr_assert_gt(kb, 0);
    return kb * 1024;
}

typedef struct result {
    int rc;
    int capped;     /* RLIMIT_AS was applied */
    size_t out_len; /* diagram bytes on success */
    lmr_error err;
} result;

/* Renders tpath (state view) in a child limited to its current size plus
 * `budget` bytes of address space. */
static result render_capped(long budget)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        result r;
        memset(&r, 0, sizeof r);
        if (!UNDER_ASAN && !RUNNING_ON_VALGRIND) {
            struct rlimit rl;
            rl.rlim_cur = rl.rlim_max = (rlim_t)(vm_size() + budget);
            r.capped = setrlimit(RLIMIT_AS, &rl) == 0;
        }
        lmr_options o;
        lmr_options_init(&o);
        o.view = LMR_VIEW_STATE;
        o.quiet = 1;
        lmr_buf out = {0};
        r.rc = lmr_render_file(tpath, &o, &out, NULL, &r.err);
        r.out_len = out.len;
        lmr_buf_free(&out);
        ssize_t w = write(p[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(p[1]);
    result r;
    memset(&r, 0, sizeof r);
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = read(p[0], (char *)&r + got, sizeof r - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(p[0]);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the renderer died (status 0x%x) instead of failing cleanly", st);
    cr_assert_eq(got, sizeof r);
    if (r.rc && getenv("LIMITS_VERBOSE"))
        cr_log_info("%s:%d:%d: %s", r.err.file, r.err.line, r.err.col, r.err.msg);
    if (!UNDER_ASAN && !RUNNING_ON_VALGRIND)
        cr_assert(r.capped, "setrlimit(RLIMIT_AS) failed in the child");
    unlink(tpath);
    return r;
}

/* The outcome must be LMR_ELIMIT at a position, naming `word`. */
static void expect_limit(const result *r, const char *word)
{
    cr_assert_eq(r->rc, LMR_ELIMIT, "expected LMR_ELIMIT, got %d: %s:%d:%d: %s",
                 r->rc, r->err.file, r->err.line, r->err.col, r->err.msg);
    cr_expect_gt(r->err.line, 0, "no position in: %s", r->err.msg);
    cr_expect_str_eq(r->err.file, tpath);
    cr_expect(strstr(r->err.msg, word) != NULL,
              "message does not name the limit (%s): %s", word, r->err.msg);
}

Test(limits, name_of_a_mebibyte)
{
    FILE *fp = new_trace();
    fputs("  - {t: 0, ev: spawn, task: 1, parent: 0, name: \"", fp);
    for (long i = 0; i < MIB; i++)
        fputc('n', fp);
    fputs("\"}\n", fp);
    close_trace(fp);
    result r = render_capped(64 * MIB);
    expect_limit(&r, "limit");
}

/* libyaml buffers a whole scalar before handing it over: 256 MiB on one
 * line must be refused after LMR__MAX_TOKEN bytes, inside a 64 MiB budget. */
Test(limits, scalar_of_256_mib_in_64_mib, .timeout = 120)
{
    FILE *fp = new_trace();
    fputs("  - {t: 0, ev: spawn, task: 1, parent: 0, name: ", fp);
    static char chunk[1 << 16];
    memset(chunk, 'x', sizeof chunk);
    for (long i = 0; i < 256 * MIB / (long)sizeof chunk; i++)
        cr_assert_eq(fwrite(chunk, 1, sizeof chunk, fp), sizeof chunk);
    fputs("}\n", fp);
    close_trace(fp);
    result r = render_capped(64 * MIB);
    expect_limit(&r, "limit");
}

Test(limits, group_of_a_million_members)
{
    FILE *fp = new_trace();
    fputs("  - {t: 0, ev: spawn, task: 1, parent: 0, name: \"main\"}\n"
          "  - {t: 0, ev: group, group: 1, kind: gather, owner: 1, members: [",
          fp);
    for (long i = 0; i < 1000000; i++)
        fprintf(fp, "%s%ld", i ? ", " : "", i + 2);
    fputs("]}\n", fp);
    close_trace(fp);
    result r = render_capped(64 * MIB);
    expect_limit(&r, "members");
}

Test(limits, nesting_ten_thousand_deep)
{
    FILE *fp = new_trace();
    fputs("  - {t: 0, ev: note, task: 0, extra: ", fp);
    for (int i = 0; i < 10000; i++)
        fputc('[', fp);
    for (int i = 0; i < 10000; i++)
        fputc(']', fp);
    fputs("}\n", fp);
    close_trace(fp);
    result r = render_capped(64 * MIB);
    expect_limit(&r, "nest");
}

/* Memory grows with tasks, not events: a million events of three tasks
 * render, inside 64 MiB, into a diagram that stays inside its budget. */
Test(limits, million_events_in_64_mib, .timeout = 300)
{
    if (RUNNING_ON_VALGRIND)
        cr_skip_test("a memory budget cannot be measured inside valgrind");
    FILE *fp = new_trace();
    for (int t = 1; t <= 3; t++)
        fprintf(fp,
                "  - {t: 0, ev: spawn, task: %d, parent: %d, name: \"w%d\"}\n"
                "  - {t: 0, ev: state, task: %d, from: created, to: pending, by: spawn}\n",
                t, t == 1 ? 0 : 1, t, t);
    long ts = 0;
    for (long i = 0; i < 1000000 / 6; i++) {
        int t = (int)(i % 3) + 1;
        ts += 1000;
        fprintf(fp,
                "  - {t: %ld, ev: state, task: %d, from: pending, to: running}\n"
                "  - {t: %ld, ev: note, task: %d, text: \"step %ld\"}\n"
                "  - {t: %ld, ev: state, task: %d, from: running, to: awaiting, on: sleep}\n"
                "  - {t: %ld, ev: timer, task: %d}\n"
                "  - {t: %ld, ev: state, task: %d, from: awaiting, to: pending, by: timer}\n"
                "  - {t: %ld, ev: tick, n: %ld, ran: 1, io: 0, timers: 1}\n",
                ts, t, ts, t, i, ts, t, ts + 500, t, ts + 500, t, ts + 500, i + 1);
    }
    for (int t = 3; t >= 1; t--)
        fprintf(fp,
                "  - {t: %ld, ev: state, task: %d, from: pending, to: running}\n"
                "  - {t: %ld, ev: state, task: %d, from: running, to: done}\n",
                ts + 1000, t, ts + 1000, t);
    fprintf(fp, "  - {t: %ld, ev: loop_end}\n", ts + 1000);
    close_trace(fp);
    result r = render_capped(64 * MIB);
    cr_assert_eq(r.rc, 0, "%s:%d:%d: %s", r.err.file, r.err.line, r.err.col,
                 r.err.msg);
    cr_expect_gt(r.out_len, 0);
    cr_expect_leq(r.out_len, (size_t)LMR__DEFAULT_MAX_CHARS);
}

/* Half a million tasks need more than 32 MiB of model: the render must say
 * so (out of memory, or a limit) rather than crash. Without the cap (ASan,
 * valgrind) the same trace renders, so the failure is the budget's. */
Test(limits, half_a_million_tasks_in_32_mib, .timeout = 300)
{
    if (RUNNING_ON_VALGRIND)
        cr_skip_test("a memory budget cannot be measured inside valgrind");
    FILE *fp = new_trace();
    for (long t = 1; t <= 500000; t++)
        fprintf(fp, "  - {t: 0, ev: spawn, task: %ld, parent: 0, name: \"task %ld\"}\n",
                t, t);
    close_trace(fp);
    result r = render_capped(32 * MIB);
    if (UNDER_ASAN || RUNNING_ON_VALGRIND) {
        cr_expect_eq(r.rc, 0, "%s", r.err.msg);
        return;
    }
    cr_assert(r.rc == LMR_ENOMEM || r.rc == LMR_ELIMIT,
              "expected out of memory, got %d: %s", r.rc, r.err.msg);
    cr_expect_neq(r.err.msg[0], '\0');
    cr_expect_str_eq(r.err.file, tpath);
}

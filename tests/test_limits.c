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
#include "loopmaid.h"

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

/* One more member than the tracer can ever write (LM_GROUP_MAX_MEMBERS):
 * refused as a limit, never held (8 MiB of ids at most). */
Test(limits, group_over_the_tracer_limit)
{
    FILE *fp = new_trace();
    fputs("  - {t: 0, ev: spawn, task: 1, parent: 0, name: \"main\"}\n"
          "  - {t: 0, ev: group, group: 1, kind: gather, owner: 1, members: [",
          fp);
    for (long i = 0; i < (long)LM_GROUP_MAX_MEMBERS + 1; i++)
        fprintf(fp, "%s%ld", i ? ", " : "", i + 2);
    fputs("]}\n", fp);
    close_trace(fp);
    result r = render_capped(64 * MIB);
    expect_limit(&r, "members");
}

/* ---- limits agree end to end: what the tracer writes, the reader reads ---- */

#define BIG_GATHER 100000

static int leaf(void *arg)
{
    (void)arg;
    return 0;
}

static int gather_main(void *arg)
{
    size_t n = *(size_t *)arg;
    lm_loop *loop = lm_loop_current();
    lm_task **ts = malloc(n * sizeof *ts);
    if (!ts)
        return LM_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!(ts[i] = lm_task_new(loop, "leaf", leaf, NULL)))
            return LM_ENOMEM;
    int rc = lm_gather(ts, n, 0, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        lm_task_release(ts[i]);
    free(ts);
    return rc;
}

/* lm_gather of 100,000 tasks (a valid call) writes a trace that every view
 * and inspect read (it used to be "more than the limit of 65536 members"). */
Test(limits, gather_of_100000_tasks_reads_in_every_view, .timeout = 300)
{
    char path[] = "/tmp/loopmaid-gather-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    lm_loop_options lo;
    lm_loop_options_init(&lo);
    lo.clock = LM_CLOCK_VIRTUAL;
    lo.handle_signals = 0;
    lm_loop *loop = lm_loop_new(&lo);
    cr_assert_not_null(loop);
    cr_assert_eq(lm_trace_open(loop, path), 0);
    size_t n = BIG_GATHER;
    cr_assert_eq(lm_loop_run(loop, "main", gather_main, &n, NULL), 0);
    lm_loop_free(loop);
    /* The YAML is parsed once (pass 1, teeing the events into a spill as
     * lmr_render_file does) and every view's pass 2 replays the spill:
     * the reader, the model, the spill and every renderer see the whole
     * 100,000-member group, in a fraction of six full renders. */
    FILE *fp = fopen(path, "r"), *spill = tmpfile();
    cr_assert(fp && spill);
    lmr__model m;
    lmr_error err;
    lmr__tee tee = {.spill = spill};
    int rc = lmr__model_build_via(fp, path, &m, NULL, lmr__read_teed, &tee,
                                  &err);
    cr_assert_eq(tee.rc, 0);
    cr_assert_eq(rc, 0, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    cr_expect_eq(m.ntasks, (size_t)BIG_GATHER + 1);
    cr_assert_eq(m.ngroups, 1u);
    cr_expect_eq(m.groups[0].nmembers, (size_t)BIG_GATHER);
    for (int v = 0; v < LMR_VIEW__COUNT; v++) {
        lmr_options o;
        lmr_options_init(&o);
        o.view = (lmr_view)v;
        o.quiet = 1;
        lmr_buf out = {0};
        lmr__out budget = {.buf = &out, .max_chars = LMR__DEFAULT_MAX_CHARS};
        cr_assert_eq(fseeko(spill, 0, SEEK_SET), 0);
        rc = lmr__walk_spill(spill, path, &m, &o, lmr__renderer_for(o.view), &budget, &err);
        cr_expect_eq(rc, 0, "%s: %s:%d:%d: %s", lmr_view_name((lmr_view)v), err.file,
                     err.line, err.col, err.msg);
        cr_expect(rc != 0 || (out.len > 0 && out.len <= LMR__DEFAULT_MAX_CHARS),
                  "%s: %zu bytes", lmr_view_name((lmr_view)v), out.len);
        lmr_buf_free(&out);
    }
    lmr__model_free(&m);
    fclose(spill);
    fclose(fp);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    rc = lmr_inspect_file(path, 1, mem, NULL, &err);
    fclose(mem);
    cr_expect_eq(rc, 0, "inspect: %s", err.msg);
    cr_expect(text && strstr(text, "tasks: 100001: 100001 done") != NULL, "%.300s", text);
    free(text);
    unlink(path);
}

static int over_main(void *arg)
{
    (void)arg;
    lm_task *t = lm_spawn("one", leaf, NULL);
    size_t n = (size_t)LM_GROUP_MAX_MEMBERS + 1;
    lm_task **ts = malloc(n * sizeof *ts);
    if (!t || !ts)
        return LM_ENOMEM;
    for (size_t i = 0; i < n; i++)
        ts[i] = t; /* the same task many times: a valid list, just too long */
    int rc = lm_gather(ts, n, 0, NULL, NULL);
    int rc2 = lm_wait(ts, n, LM_ALL_COMPLETED, -1, NULL, NULL);
    free(ts);
    lm_task_release(t);
    return rc == LM_EINVAL && rc2 == LM_EINVAL ? 0 : 1;
}

/* The other half of the agreement: the tracer refuses a group the reader
 * could not read, up front, with LM_EINVAL. */
Test(limits, tracer_refuses_a_group_over_the_limit)
{
    lm_loop_options lo;
    lm_loop_options_init(&lo);
    lo.clock = LM_CLOCK_VIRTUAL;
    lo.handle_signals = 0;
    lm_loop *loop = lm_loop_new(&lo);
    cr_assert_not_null(loop);
    cr_expect_eq(lm_loop_run(loop, "main", over_main, NULL, NULL), 0);
    lm_loop_free(loop);
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

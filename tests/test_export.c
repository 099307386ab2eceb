/*
 * test_export.c: `loopmaid export --format chrome` (render/export.c).
 *  - golden: tests/data/views/NAME.yaml -> tests/data/export/NAME.json through
 *    the library (LOOPMAID_UPDATE_GOLDEN=1 rewrites them);
 *  - every trace we have (hostile names, examples) exports to JSON that
 *    Python's strict JSON parser reads and tests/support/chrome_check.py
 *    finds well formed (named tracks, paired flows, no overlapping slices);
 *  - --tasks / --from / --to select as in the views;
 *  - streaming: the peak memory of an export does not grow with the number
 *    of events (50,000 vs 500,000 events of the same 100 tasks);
 *  - errors: a malformed trace names its position, a failed write says so.
 */
#include <criterion/criterion.h>

#include "lmr_internal.h"
#include "support/lm_test.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
/* AddressSanitizer keeps freed memory in quarantine, so a peak RSS says
 * nothing about what the code keeps: the streaming check skips itself. */
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

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    lmr_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cr_assert_eq(lmr__buf_append(&b, chunk, n), 0);
    fclose(f);
    if (len)
        *len = b.len;
    return b.data ? b.data : calloc(1, 1);
}

/* Exports `trace` into a new temporary file; returns its path (static). */
static const char *export_to_tmp(const char *trace, const lmr_options *o)
{
    static char path[64];
    strcpy(path, "/tmp/loopmaid-export-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    cr_assert(f);
    lmr_error e;
    int rc = lmr_export_file(trace, o, f, NULL, &e);
    cr_assert_eq(rc, 0, "%s: %s:%d:%d: %s", trace, e.file, e.line, e.col,
                 e.msg);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* The checker's verdict on a JSON file: its one line of output. */
static char *check(const char *json)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "python3 tests/support/chrome_check.py %s 2>&1",
             json);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    static char line[512];
    line[0] = '\0';
    if (!fgets(line, sizeof line, p))
        line[0] = '\0';
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", json, line);
    return line;
}

static void golden(const char *name)
{
    char trace[256], want_path[256];
    snprintf(trace, sizeof trace, "tests/data/views/%s.yaml", name);
    snprintf(want_path, sizeof want_path, "tests/data/export/%s.json", name);
    const char *got_path = export_to_tmp(trace, NULL);
    size_t glen, wlen;
    char *got = slurp(got_path, &glen);
    if (getenv("LOOPMAID_UPDATE_GOLDEN")) {
        FILE *f = fopen(want_path, "wb");
        cr_assert(f);
        fwrite(got, 1, glen, f);
        fclose(f);
    }
    char *want = slurp(want_path, &wlen);
    cr_assert(want, "missing golden %s (LOOPMAID_UPDATE_GOLDEN=1 writes it)",
              want_path);
    cr_expect(glen == wlen && memcmp(got, want, glen) == 0,
              "%s differs from the export:\n%s", want_path, got);
    cr_expect(strncmp(check(got_path), "ok ", 3) == 0);
    unlink(got_path);
    free(got);
    free(want);
}

Test(export, golden_gather) { golden("gather"); }
Test(export, golden_timeout) { golden("timeout"); }

/* The golden's content, asserted for what a timeline reader relies on. */
Test(export, gather_tracks_slices_flows)
{
    const char *path = export_to_tmp("tests/data/views/gather.yaml", NULL);
    char *j = slurp(path, NULL);
    /* one track per task, named, under the loop's process */
    cr_expect(strstr(j, "\"name\":\"process_name\",\"args\":{\"name\":\"loop\"}"));
    cr_expect(strstr(j, "\"name\":\"thread_name\",\"args\":{\"name\":\"A\"}"));
    /* a name with quotes stays one JSON string */
    cr_expect(strstr(j, "{\"name\":\"B \\\"the bad\\\"\"}"));
    /* awaiting slices are named by what was awaited */
    cr_expect(strstr(j, "\"cat\":\"awaiting\",\"name\":\"await sleep\""));
    cr_expect(strstr(j, "\"name\":\"await gather(A, B)\""));
    /* a failure is an instant carrying lm_fail's message, controls escaped */
    cr_expect(strstr(j, "\"name\":\"failed: LM_EUSER\",\"args\":{\"text\":"
                        "\"bad reply:\\u000a\\u0009no body\"}"));
    /* a timer wakes a sleeper: an arrow from the loop's track (tid 0) */
    cr_expect(strstr(j, "{\"ph\":\"s\",\"pid\":1,\"tid\":0,\"ts\":5000.000,"
                        "\"cat\":\"wake\",\"id\":1,\"name\":\"timer\"}"));
    /* virtual 5 ms = 5000 us, exact */
    cr_expect(strstr(j, "\"dur\":5000.000"));
    unlink(path);
    free(j);
}

Test(export, every_trace_is_valid_json)
{
    static const char *const traces[] = {
        "tests/data/hostile.yaml",
        "tests/data/views/gather.yaml",
        "tests/data/views/timeout.yaml",
        "tests/data/examples/groups.yaml",
        "tests/data/examples/fetch.yaml",
        "tests/data/examples/timeout.yaml",
        "tests/data/examples/concurrent_parallel.yaml",
        "tests/data/examples/crunch.real.yaml",
        "tests/data/truncated/midline.yaml",
        "tests/data/truncated/no_loop_end.yaml",
    };
    for (size_t i = 0; i < sizeof traces / sizeof traces[0]; i++) {
        if (access(traces[i], R_OK) != 0) {
            cr_log_warn("%s: not present, skipped", traces[i]);
            continue;
        }
        lmr_options o;
        lmr_options_init(&o);
        o.quiet = 1;
        const char *path = export_to_tmp(traces[i], &o);
        const char *verdict = check(path);
        cr_expect(strncmp(verdict, "ok ", 3) == 0, "%s: %s", traces[i],
                  verdict);
        unlink(path);
    }
}

Test(export, selection_and_window)
{
    lmr_options o;
    lmr_options_init(&o);
    o.tasks = "^A$";
    const char *path = export_to_tmp("tests/data/views/gather.yaml", &o);
    char *j = slurp(path, NULL);
    cr_expect(strstr(j, "\"tid\":2,"), "task A is kept");
    cr_expect(!strstr(j, "\"tid\":3,"), "task B is left out:\n%s", j);
    cr_expect(!strstr(j, "\"tid\":1,"), "main is left out");
    cr_expect(strstr(j, "\"cat\":\"poll\""), "the loop's own events stay");
    unlink(path);
    free(j);

    lmr_options_init(&o);
    o.from = 6000000; /* after B failed at 5 ms */
    path = export_to_tmp("tests/data/views/gather.yaml", &o);
    j = slurp(path, NULL);
    cr_expect(!strstr(j, "failed: LM_EUSER"), "B's failure is before --from");
    cr_expect(strstr(j, "\"ts\":10000.000"), "A's wake at 10 ms is inside");
    unlink(path);
    free(j);
}

Test(export, malformed_trace_names_its_position)
{
    FILE *f = fopen("/dev/null", "w");
    cr_assert(f);
    lmr_error e;
    int rc = lmr_export_file("tests/data/bad/backwards.yaml", NULL, f, NULL,
                             &e);
    fclose(f);
    cr_expect_lt(rc, 0);
    cr_expect_gt(e.line, 0, "%s", e.msg);
    cr_expect_str_eq(e.file, "tests/data/bad/backwards.yaml");
}

Test(export, failed_write_is_reported)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f) {
        cr_log_warn("no /dev/full here: skipped");
        return;
    }
    lmr_error e;
    int rc = lmr_export_file("tests/data/hostile.yaml", NULL, f, NULL, &e);
    fclose(f);
    cr_expect_eq(rc, LMR_EIO);
    cr_expect(strstr(e.msg, "cannot write the export"), "%s", e.msg);
}

#if !UNDER_ASAN /* ASan keeps freed memory in quarantine: no peak to judge */
/* The gentrace tool beside this test binary (BUILD/tools/gentrace). */
static int gentrace(long events, const char *out)
{
    char dir[PATH_MAX];
    char cmd[PATH_MAX + 256];
    snprintf(cmd, sizeof cmd, "%s/tools/gentrace --events %ld --tasks 100 > %s",
             lmt_build_dir(dir, sizeof dir), events, out);
    return system(cmd);
}

/* Peak resident size (KiB) of a child that exports `trace` to /dev/null. */
static long export_peak_kib(const char *trace)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        FILE *f = fopen("/dev/null", "w");
        lmr_options o;
        lmr_options_init(&o);
        o.quiet = 1;
        lmr_error e;
        int rc = f ? lmr_export_file(trace, &o, f, NULL, &e) : -1;
        _exit(rc == 0 ? 0 : 1);
    }
    int st;
    struct rusage ru;
    cr_assert_eq(wait4(pid, &st, 0, &ru), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "export failed");
    return ru.ru_maxrss;
}

Test(export, memory_does_not_grow_with_events, .timeout = 300)
{
    if (RUNNING_ON_VALGRIND || getenv("LOOPMAID_UNDER_VALGRIND"))
        cr_skip_test("under valgrind: the peak-memory check is skipped");
    char small[64], big[64];
    snprintf(small, sizeof small, "/tmp/loopmaid-export-%d-small.yaml", (int)getpid());
    snprintf(big, sizeof big, "/tmp/loopmaid-export-%d-big.yaml", (int)getpid());
    cr_assert_eq(gentrace(50000, small), 0);
    cr_assert_eq(gentrace(500000, big), 0);
    long a = export_peak_kib(small), b = export_peak_kib(big);
    unlink(small);
    unlink(big);
    /* Ten times the events, same tasks: the peak may move by buffers and
     * allocator noise, never by the events' count (500,000 events of JSON
     * are ~60 MB). */
    cr_expect_lt(b - a, 8 * 1024, "peak %ld KiB for 50k events, %ld KiB for 500k",
                 a, b);
}
#endif

Test(export, cli)
{
    char out[64], args[256];
    snprintf(out, sizeof out, "/tmp/loopmaid-export-%d.json", (int)getpid());
    snprintf(args, sizeof args, "export --format chrome -o %s tests/data/views/gather.yaml", out);
    cr_expect_eq(lmt_cli(args), 0);
    char *got = slurp(out, NULL), *want = slurp("tests/data/export/gather.json", NULL);
    cr_assert(got && want);
    cr_expect_str_eq(got, want, "the CLI writes what the library does");
    free(got);
    free(want);
    /* a failed export leaves the target as it was */
    FILE *f = fopen(out, "w");
    fputs("keep", f);
    fclose(f);
    snprintf(args, sizeof args, "export -o %s tests/data/bad/backwards.yaml", out);
    cr_expect_eq(lmt_cli(args), 1);
    got = slurp(out, NULL);
    cr_expect_str_eq(got, "keep");
    free(got);
    unlink(out);
    cr_expect_eq(lmt_cli("export --format json tests/data/views/gather.yaml"), 2);
    cr_expect_eq(lmt_cli("export --from 5ms --to 1ms tests/data/views/gather.yaml"), 2);
    cr_expect_eq(lmt_cli("export -o tests/data/views/gather.yaml tests/data/views/gather.yaml"), 2,
                 "the input is never overwritten");
    cr_expect_eq(lmt_cli("export"), 2);
}

/*
 * test_diff.c: `loopmaid diff` (render/diff.c).
 *  - one example run two ways (examples/deadline.c: a wait_for whose deadline
 *    fires in one run and not in the other), traced under the virtual clock,
 *    diffed as text and as each view; compared with tests/data/diff/ goldens
 *    (LOOPMAID_UPDATE_GOLDEN=1 rewrites them) and asserted for the facts;
 *  - a run against itself, and two traces that differ only in task ids:
 *    no differences, exit 0;
 *  - the tolerance, selection, a view diff cannot draw, a malformed input.
 */
#include <criterion/criterion.h>

#include "lmr_internal.h"
#include "support/lm_test.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp(const char *path)
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
    return b.data ? b.data : calloc(1, 1);
}

/* Runs BUILD/examples/deadline with a timeout, traced under the virtual
 * clock, into `out`. */
static void run_deadline(const char *ms, const char *out)
{
    char dir[PATH_MAX];
    char cmd[PATH_MAX + 256];
    snprintf(cmd, sizeof cmd,
             "LOOPMAID_CLOCK=virtual LOOPMAID_TRACE=%s %s/examples/deadline %s"
             " >/dev/null", out, lmt_build_dir(dir, sizeof dir), ms);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Per test process: Criterion runs tests in parallel processes. */
static char A[64], B[64];

static void two_runs(void)
{
    snprintf(A, sizeof A, "/tmp/loopmaid-diff-%d-500.yaml", (int)getpid());
    snprintf(B, sizeof B, "/tmp/loopmaid-diff-%d-200.yaml", (int)getpid());
    run_deadline("500", A);
    run_deadline("200", B);
}

static void cleanup(void)
{
    unlink(A);
    unlink(B);
}

static int diff(const char *a, const char *b, const lmr_diff_options *o,
                lmr_buf *out, lmr_error *e)
{
    return lmr_diff_files(a, b, o, out, NULL, e);
}

static void golden(const char *name, const lmr_buf *got)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/diff/%s", name);
    if (getenv("LOOPMAID_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "wb");
        cr_assert(f);
        fwrite(got->data, 1, got->len, f);
        fclose(f);
    }
    char *want = slurp(path);
    cr_assert(want, "missing golden %s (LOOPMAID_UPDATE_GOLDEN=1 writes it)", path);
    /* The text names the inputs; the goldens name them A and B. */
    cr_expect_str_eq(got->data, want, "%s differs:\n%s", path, got->data);
    free(want);
}

TestSuite(diff, .init = two_runs, .fini = cleanup);

Test(diff, deadline_text)
{
    lmr_buf out = {0};
    lmr_error e;
    cr_assert_eq(diff(A, B, NULL, &out, &e), 1, "%s", e.msg);
    /* the facts a reviewer reads it for */
    cr_expect(strstr(out.data, "tasks: 3 in A, 3 in B, 3 matched"));
    cr_expect(strstr(out.data, "~ main/fetch: outcome done -> cancelled (timeout by main)"),
              "%s", out.data);
    cr_expect(strstr(out.data, "~ main/log_progress: awaited sleep x4 -> sleep x3"));
    cr_expect(strstr(out.data, "~ the run: 300 ms -> 200 ms"));
    cr_expect(!strstr(out.data, "added") && !strstr(out.data, "removed"));
    /* the paths are the caller's; the golden has fixed ones */
    char *nl = strchr(out.data, '\n');
    cr_assert(nl);
    lmr_buf fixed = {0};
    lmr__buf_append(&fixed, "loopmaid diff: A -> B", 21);
    lmr__buf_append(&fixed, nl, strlen(nl));
    golden("deadline.txt", &fixed);
    lmr_buf_free(&fixed);
    lmr_buf_free(&out);
}

Test(diff, deadline_views)
{
    static const char *const views[] = {"tasks", "state", "sequence"};
    for (size_t i = 0; i < 3; i++) {
        lmr_diff_options o;
        lmr_diff_options_init(&o);
        o.view = lmr_view_parse(views[i]);
        lmr_buf out = {0};
        lmr_error e;
        cr_assert_eq(diff(A, B, &o, &out, &e), 1, "%s: %s", views[i], e.msg);
        char name[64];
        snprintf(name, sizeof name, "deadline.%s.mmd", views[i]);
        golden(name, &out);
        cr_expect(!strstr(out.data, "%%"), "no directive or comment");
        lmr_buf_free(&out);
    }
}

Test(diff, tasks_view_marks_the_change)
{
    lmr_diff_options o;
    lmr_diff_options_init(&o);
    o.view = LMR_VIEW_TASKS;
    lmr_buf out = {0};
    lmr_error e;
    cr_assert_eq(diff(A, B, &o, &out, &e), 1);
    cr_expect(strstr(out.data, "flowchart TD\n"));
    cr_expect(strstr(out.data, "done -#62; cancelled (timeout by main)"),
              "%s", out.data);
    cr_expect(strstr(out.data, "class d2 changed"));
    lmr_buf_free(&out);
}

Test(diff, same_run_is_equal)
{
    lmr_buf out = {0};
    lmr_error e;
    cr_expect_eq(diff(A, A, NULL, &out, &e), 0);
    cr_expect(strstr(out.data, "no differences\n"), "%s", out.data);
    lmr_buf_free(&out);
}

/* Tasks are matched by name and place, not by id. */
Test(diff, ids_do_not_matter)
{
    char x[64], y[64];
    snprintf(x, sizeof x, "/tmp/loopmaid-diff-%d-x.yaml", (int)getpid());
    snprintf(y, sizeof y, "/tmp/loopmaid-diff-%d-y.yaml", (int)getpid());
    FILE *f = fopen(x, "w");
    cr_assert(f);
    fputs("loopmaid: 1\nprogram: \"p\"\nclock: virtual\nevents:\n"
          "  - {t: 0, ev: loop_start, loop: 1, name: \"loop\"}\n"
          "  - {t: 0, ev: spawn, task: 1, name: \"main\", parent: 0}\n"
          "  - {t: 0, ev: spawn, task: 2, name: \"a\", parent: 1}\n"
          "  - {t: 0, ev: spawn, task: 3, name: \"b\", parent: 1}\n"
          "  - {t: 0, ev: loop_end}\n", f);
    fclose(f);
    f = fopen(y, "w");
    cr_assert(f);
    fputs("loopmaid: 1\nprogram: \"p\"\nclock: virtual\nevents:\n"
          "  - {t: 0, ev: loop_start, loop: 1, name: \"loop\"}\n"
          "  - {t: 0, ev: spawn, task: 1, name: \"main\", parent: 0}\n"
          "  - {t: 0, ev: spawn, task: 2, name: \"b\", parent: 1}\n"
          "  - {t: 0, ev: spawn, task: 3, name: \"a\", parent: 1}\n"
          "  - {t: 0, ev: spawn, task: 4, name: \"c\", parent: 3}\n"
          "  - {t: 0, ev: loop_end}\n", f);
    fclose(f);
    lmr_buf out = {0};
    lmr_error e;
    cr_expect_eq(diff(x, y, NULL, &out, &e), 1, "%s", e.msg);
    cr_expect(strstr(out.data, "tasks: 3 in A, 4 in B, 3 matched"), "%s", out.data);
    cr_expect(strstr(out.data, "+ added: main/a/c (still created)"), "%s", out.data);
    cr_expect(strstr(out.data, "1 difference\n"), "%s", out.data);
    unlink(x);
    unlink(y);
    lmr_buf_free(&out);
}

Test(diff, tolerance_and_selection)
{
    lmr_diff_options o;
    lmr_diff_options_init(&o);
    o.tolerance = 150000000; /* 150 ms: 300 -> 200 is within */
    lmr_buf out = {0};
    lmr_error e;
    cr_expect_eq(diff(A, B, &o, &out, &e), 1);
    cr_expect(!strstr(out.data, "lifetime"), "%s", out.data);
    cr_expect(strstr(out.data, "outcome done -> cancelled"));
    lmr_buf_free(&out);

    lmr_diff_options_init(&o);
    o.tolerance_pct = 50; /* 100 ms of 300 is 33 %: within */
    cr_expect_eq(diff(A, B, &o, &out, &e), 1);
    cr_expect(!strstr(out.data, "lifetime"), "%s", out.data);
    lmr_buf_free(&out);

    /* only the logger: its awaits still differ, fetch is not compared */
    lmr_diff_options_init(&o);
    o.tasks = "^log";
    cr_expect_eq(diff(A, B, &o, &out, &e), 1);
    cr_expect(!strstr(out.data, "main/fetch"), "%s", out.data);
    lmr_buf_free(&out);
}

Test(diff, refusals)
{
    lmr_diff_options o;
    lmr_diff_options_init(&o);
    o.view = LMR_VIEW_GANTT;
    lmr_buf out = {0};
    lmr_error e;
    cr_expect_eq(diff(A, B, &o, &out, &e), LMR_EUSAGE);
    cr_expect(strstr(e.msg, "gantt"), "%s", e.msg);
    cr_expect_lt(diff(A, "tests/data/bad/backwards.yaml", NULL, &out, &e), 0);
    cr_expect_gt(e.line, 0, "a malformed input names its position: %s", e.msg);
    cr_expect_lt(diff("/nonexistent.yaml", B, NULL, &out, &e), 0);
    lmr_buf_free(&out);
}

/* The CLI: diff(1)'s exit codes, --view, -o through the one writer. */
Test(diff, cli_exit_codes_and_output)
{
    char args[512], out[64];
    snprintf(args, sizeof args, "diff %s %s", A, B);
    cr_expect_eq(lmt_cli(args), 1, "different runs: 1");
    snprintf(args, sizeof args, "diff %s %s", A, A);
    cr_expect_eq(lmt_cli(args), 0, "the same run: 0");
    snprintf(args, sizeof args, "diff %s tests/data/bad/backwards.yaml", A);
    cr_expect_eq(lmt_cli(args), 2, "trouble: 2");
    snprintf(args, sizeof args, "diff %s", A);
    cr_expect_eq(lmt_cli(args), 2, "one trace: usage");
    snprintf(args, sizeof args, "diff --view gantt %s %s", A, B);
    cr_expect_eq(lmt_cli(args), 2);
    snprintf(args, sizeof args, "diff --time-tolerance soon %s %s", A, B);
    cr_expect_eq(lmt_cli(args), 2);
    snprintf(args, sizeof args, "diff --format md %s %s", A, B);
    cr_expect_eq(lmt_cli(args), 2, "--format without --view");
    snprintf(out, sizeof out, "/tmp/loopmaid-diff-%d.md", (int)getpid());
    snprintf(args, sizeof args, "diff --view tasks --format md -o %s %s %s", out,
             A, B);
    cr_expect_eq(lmt_cli(args), 1);
    char *md = slurp(out);
    cr_assert(md);
    cr_expect(strncmp(md, "```mermaid\nflowchart TD\n", 24) == 0, "%s", md);
    free(md);
    unlink(out);
    snprintf(args, sizeof args, "diff -o %s %s %s", A, A, B);
    cr_expect_eq(lmt_cli(args), 2, "output = an input: refused");
}

/*
 * test_build.c: `loopmaid build`, the docs-build command (render/build.c).
 *
 * Each test makes a scratch directory with a config, a trace and targets,
 * runs the real CLI (build/loopmaid) on it and checks the files and the
 * output byte for byte.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loopmaid.h" /* lm_trace_is_binary */

static char dir[256];
static char cli[512];

/* A small valid trace: main spawns two workers, one sleeps, one fails. */
static const char *TRACE =
    "loopmaid: 1\n"
    "program: \"build_test\"\n"
    "clock: virtual\n"
    "events:\n"
    "  - {t: 0, ev: loop_start, loop: 1}\n"
    "  - {t: 0, ev: spawn, task: 1, name: \"main\", parent: 0}\n"
    "  - {t: 0, ev: state, task: 1, from: created, to: pending, by: spawn}\n"
    "  - {t: 0, ev: state, task: 1, from: pending, to: running}\n"
    "  - {t: 0, ev: spawn, task: 2, name: \"worker\", parent: 1}\n"
    "  - {t: 0, ev: state, task: 2, from: created, to: pending, by: spawn}\n"
    "  - {t: 0, ev: state, task: 1, from: running, to: awaiting, on: task, task_awaited: 2}\n"
    "  - {t: 0, ev: state, task: 2, from: pending, to: running}\n"
    "  - {t: 0, ev: state, task: 2, from: running, to: awaiting, on: sleep}\n"
    "  - {t: 0, ev: tick, n: 1, ran: 2, io: 0, timers: 0}\n"
    "  - {t: 1000000, ev: timer, task: 2}\n"
    "  - {t: 1000000, ev: state, task: 2, from: awaiting, to: pending, by: timer}\n"
    "  - {t: 1000000, ev: state, task: 2, from: pending, to: running}\n"
    "  - {t: 1000000, ev: state, task: 2, from: running, to: done}\n"
    "  - {t: 1000000, ev: state, task: 1, from: awaiting, to: pending, by: task}\n"
    "  - {t: 1000000, ev: state, task: 1, from: pending, to: running}\n"
    "  - {t: 1000000, ev: state, task: 1, from: running, to: done}\n"
    "  - {t: 1000000, ev: tick, n: 2, ran: 2, io: 0, timers: 1}\n"
    "  - {t: 1000000, ev: loop_end, loop: 1}\n";

static void put(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "wb");
    cr_assert_not_null(fp, "cannot write %s", p);
    fputs(text, fp);
    fclose(fp);
}

/* Reads a scratch file; the caller frees. */
static char *get(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "rb");
    cr_assert_not_null(fp, "cannot read %s", p);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return strdup(buf);
}

/* Runs `loopmaid build ARGS` in the scratch dir; returns the exit status and
 * the combined stdout+stderr in *out (caller frees). */
static int run(char **out, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' build %s 2>&1", dir, cli, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - 1 - n, p)) > 0)
        n += got;
    buf[n] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void setup(void)
{
    /* The loopmaid beside this binary (BUILD/tests/test_build ->
     * BUILD/loopmaid), so `make asan` tests the sanitized CLI. */
    char self[400];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert(n > 0);
    self[n] = '\0';
    for (int up = 0; up < 2; up++)
        *strrchr(self, '/') = '\0';
    snprintf(cli, sizeof cli, "%s/loopmaid", self);
    const char *b = getenv("LOOPMAID_TEST_CLI");
    if (b)
        snprintf(cli, sizeof cli, "%s", b);
    snprintf(dir, sizeof dir, "/tmp/lm-build-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    put("trace.yaml", TRACE);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(build, .init = setup, .fini = teardown);

static const char *CONFIG_MD =
    "version: 1\n"
    "diagrams:\n"
    "  - name: seq\n"
    "    trace: trace.yaml\n"
    "    view: sequence\n"
    "    target: doc.md\n";

static const char *DOC_BEFORE = "# Title\n\nText before, kept  exactly.\t\n\n"
                                "<!-- loopmaid:seq -->\nold stuff\n<!-- /loopmaid -->\n"
                                "\nText after.\nNo newline at end";

Test(build, region_replaced_rest_identical)
{
    int rc;
    put("loopmaid.yaml", CONFIG_MD);
    put("doc.md", DOC_BEFORE);
    char *out;
    rc = run(&out, "");
    cr_assert_eq(rc, 0, "build failed: %s", out);
    cr_assert(strstr(out, "wrote: ") != NULL, "%s", out);
    free(out);
    char *doc = get("doc.md");
    const char *pre = "# Title\n\nText before, kept  exactly.\t\n\n<!-- loopmaid:seq sum=";
    cr_assert_eq(strncmp(doc, pre, strlen(pre)), 0, "prefix changed: %s", doc);
    const char *post = "```\n<!-- /loopmaid -->\n\nText after.\nNo newline at end";
    size_t dl = strlen(doc), pl = strlen(post);
    cr_assert(dl > pl && strcmp(doc + dl - pl, post) == 0, "suffix changed: %s", doc);
    cr_assert(strstr(doc, "```mermaid\nsequenceDiagram") != NULL, "%s", doc);
    cr_assert(strstr(doc, "old stuff") == NULL);
    free(doc);
}

Test(build, second_build_changes_nothing)
{
    int rc;
    put("loopmaid.yaml", CONFIG_MD);
    put("doc.md", DOC_BEFORE);
    char *out;
    rc = run(&out, "-q");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    char *first = get("doc.md");
    struct stat st1, st2;
    char p[512];
    snprintf(p, sizeof p, "%s/doc.md", dir);
    cr_assert_eq(stat(p, &st1), 0);
    rc = run(&out, "");
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "nothing to do") != NULL, "%s", out);
    free(out);
    cr_assert_eq(stat(p, &st2), 0);
    char *second = get("doc.md");
    cr_assert_str_eq(first, second);
    /* Not rewritten at all: same inode (an atomic rewrite would change it). */
    cr_assert_eq(st1.st_ino, st2.st_ino);
    free(first);
    free(second);
}

Test(build, check_exit_codes_and_output)
{
    int rc;
    put("loopmaid.yaml", CONFIG_MD);
    put("doc.md", DOC_BEFORE);
    char *out;
    rc = run(&out, "--check");
    cr_assert_eq(rc, 1, "stale target must exit 1: %s", out);
    cr_assert(strstr(out, "stale: ") != NULL && strstr(out, "doc.md (seq, region seq)") != NULL,
              "%s", out);
    cr_assert(strstr(out, "1 of 1 target stale") != NULL, "%s", out);
    free(out);
    char *doc = get("doc.md");
    cr_assert_str_eq(doc, DOC_BEFORE, "--check must not write");
    free(doc);
    rc = run(&out, "-q");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    rc = run(&out, "--check");
    cr_assert_eq(rc, 0, "up-to-date target must exit 0: %s", out);
    cr_assert(strstr(out, "up to date") != NULL, "%s", out);
    free(out);
}

Test(build, diff_prints_unified_diff)
{
    int rc;
    put("loopmaid.yaml", CONFIG_MD);
    put("doc.md", DOC_BEFORE);
    char *out;
    rc = run(&out, "--check --diff");
    cr_assert_eq(rc, 1);
    cr_assert(strstr(out, "--- a/") != NULL && strstr(out, "+++ b/") != NULL, "%s", out);
    cr_assert(strstr(out, "\n-old stuff\n") != NULL, "%s", out);
    cr_assert(strstr(out, "\n+sequenceDiagram\n") != NULL, "%s", out);
    cr_assert(strstr(out, "\n@@ -") != NULL, "%s", out);
    free(out);
}

Test(build, hand_edited_region_refused)
{
    int rc;
    put("loopmaid.yaml", CONFIG_MD);
    put("doc.md", DOC_BEFORE);
    char *out;
    rc = run(&out, "-q");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    /* Edit one character inside the generated block. */
    char *doc = get("doc.md");
    char *seq = strstr(doc, "sequenceDiagram");
    cr_assert_not_null(seq);
    seq[0] = 'S';
    put("doc.md", doc);
    rc = run(&out, "");
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "doc.md:5:1: region 'seq' was edited by hand") != NULL, "%s", out);
    free(out);
    char *after = get("doc.md");
    cr_assert_str_eq(after, doc, "an edited region must not be overwritten");
    free(after);
    rc = run(&out, "--force -q");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    after = get("doc.md");
    cr_assert(strstr(after, "\nsequenceDiagram") != NULL);
    cr_assert(strstr(after, "Sequence") == NULL);
    free(after);
    free(doc);
}

Test(build, crlf_kept)
{
    int rc;
    put("loopmaid.yaml", CONFIG_MD);
    put("doc.md", "# T\r\n\r\n<!-- loopmaid:seq -->\r\n<!-- /loopmaid -->\r\nafter\r\n");
    char *out;
    rc = run(&out, "-q");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    char *doc = get("doc.md");
    for (char *p = doc; *p; p++)
        if (*p == '\n')
            cr_assert(p > doc && p[-1] == '\r', "bare LF at offset %ld", (long)(p - doc));
    cr_assert(strstr(doc, "```mermaid\r\nsequenceDiagram\r\n") != NULL);
    cr_assert(strstr(doc, "<!-- /loopmaid -->\r\nafter\r\n") != NULL);
    free(doc);
    /* And the second build sees nothing to do. */
    rc = run(&out, "--check");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
}

Test(build, mmd_target_and_run_command)
{
    int rc;
    put("loopmaid.yaml", "version: 1\n"
                         "diagrams:\n"
                         "  - name: st\n"
                         "    run: cp trace.yaml \"$LOOPMAID_TRACE\"\n"
                         "    trace: made.yaml\n"
                         "    view: state\n"
                         "    target: out/st.mmd\n");
    char p[512];
    snprintf(p, sizeof p, "%s/out", dir);
    cr_assert_eq(mkdir(p, 0755), 0);
    char *out;
    rc = run(&out, "");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    char *mmd = get("out/st.mmd");
    cr_assert_eq(strncmp(mmd, "stateDiagram-v2\n", 16), 0, "%s", mmd);
    free(mmd);
    rc = run(&out, "--check");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
}

/* Every config error names the file, line and column of the problem. */
static void expect_error(const char *config, const char *doc, const char *want)
{
    put("loopmaid.yaml", config);
    if (doc)
        put("doc.md", doc);
    char *out;
    int rc = run(&out, "");
    cr_assert_eq(rc, 1, "config error must exit 1 (got %d): %s", rc, out);
    cr_assert(strstr(out, want) != NULL, "expected \"%s\" in:\n%s", want, out);
    free(out);
}

Test(build, config_error_positions)
{
    expect_error("version: 1\ndiagrams:\n  - name: a\n    trace: trace.yaml\n    view: state\n"
                 "    target: x.mmd\n    colour: red\n",
                 NULL, "loopmaid.yaml:7:5: unknown key 'colour'");
    expect_error("version: 1\ndiagrams:\n  - name: a\n    trace: missing.yaml\n    view: state\n"
                 "    target: x.mmd\n",
                 NULL, "loopmaid.yaml:4:12: trace '");
    expect_error("version: 1\ndiagrams:\n  - name: a\n    trace: trace.yaml\n    view: state\n"
                 "    tasks: \"ab(c\"\n    target: x.mmd\n",
                 NULL, "loopmaid.yaml:6:17: bad regular expression");
    expect_error("version: 1\ndiagrams:\n  - name: a\n    trace: trace.yaml\n    view: pie\n"
                 "    target: x.mmd\n",
                 NULL, "loopmaid.yaml:5:11: unknown view 'pie'");
    expect_error("version: 1\ndiagrams:\n  - name: a\n    trace: trace.yaml\n    view: state\n"
                 "    target: doc.md\n",
                 "intro\n<!-- loopmaid:a -->\nbody\n", "doc.md:2:1: region 'a' is never closed");
    expect_error("version: 1\ndiagrams:\n  - name: a\n    trace: trace.yaml\n    view: state\n"
                 "    target: doc.md\n",
                 "intro\n\n<!-- /loopmaid -->\n", "doc.md:3:1: closing marker without an opening");
    expect_error("version: 1\ndiagrams:\n  - name: a\n    trace: trace.yaml\n    view: state\n"
                 "    target: doc.md\n",
                 "no markers here\n", "loopmaid.yaml:3:5: 'doc.md' has no region 'a'");
    expect_error("version: 1\ndiagrams:\n  - name: a\n    trace: [x]\n", NULL,
                 "loopmaid.yaml:4:12: 'trace' takes a single value");
    expect_error("version: 2\ndiagrams: []\n", NULL,
                 "loopmaid.yaml:1:10: unsupported config version");
    expect_error("version: 1\ndiagrams:\n  - name: a\n   bad: [\n", NULL, "loopmaid.yaml:");
    expect_error("version: 1\ndiagrams:\n  - name: a\n    view: state\n    target: x.mmd\n", NULL,
                 "loopmaid.yaml:3:5: diagram 'a' has no 'trace'");
}

Test(build, usage_errors_exit_2)
{
    put("loopmaid.yaml", CONFIG_MD);
    char *out;
    int rc = run(&out, "--bogus");
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "unknown option '--bogus'") != NULL, "%s", out);
    free(out);
    rc = run(&out, "nosuchdiagram");
    cr_assert_eq(rc, 2, "%s", out);
    free(out);
    rc = run(&out, "--help");
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "usage: loopmaid build") != NULL, "%s", out);
    free(out);
    rc = run(&out, "-c");
    cr_assert_eq(rc, 2, "%s", out);
    free(out);
    rc = run(&out, "-c nothere.yaml");
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "nothere.yaml: cannot read config") != NULL, "%s", out);
    free(out);
}

/* ---- issue 15: a build is safe in any CI -------------------------------- */

/* Every file under the scratch dir with its inode, size, mtime and mode,
 * sorted: equal snapshots mean nothing was written, renamed or touched. */
static char *snapshot(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && find . -path ./tmp -prune -o -printf '%%p %%i %%s %%T@ %%m %%y\\n' | sort",
             dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + n, 1, cap - 1 - n, p)) > 0)
        n += got;
    buf[n] = '\0';
    pclose(p);
    return buf;
}

/* Two diagrams from one command's trace (like the README's fetch and
 * advise_io), the trace in a folder that does not exist yet. */
static const char *CONFIG_RUN =
    "version: 1\n"
    "diagrams:\n"
    "  - name: seq\n"
    "    run: cp trace.yaml \"$LOOPMAID_TRACE\"\n"
    "    trace: out/deep/made.yaml\n"
    "    view: sequence\n"
    "    target: doc.md\n"
    "  - name: st\n"
    "    trace: out/deep/made.yaml\n"
    "    view: state\n"
    "    target: st.mmd\n"
    "  - name: fc\n"
    "    trace: trace.yaml\n"
    "    view: flowchart\n"
    "    target: fc.mmd\n";

Test(build, run_creates_the_trace_folder)
{
    put("loopmaid.yaml", CONFIG_RUN);
    put("doc.md", DOC_BEFORE);
    char *out;
    int rc = run(&out, "");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    char *made = get("out/deep/made.yaml");
    cr_expect_str_eq(made, TRACE);
    free(made);
    char p[300];
    snprintf(p, sizeof p, "%s/out/deep", dir);
    cr_expect_eq(access(p, W_OK), 0);
    /* No temporary file is left beside the trace. */
    snprintf(p, sizeof p, "ls -A '%s/out/deep' | wc -l", dir);
    FILE *fp = popen(p, "r");
    int n = 0;
    cr_assert_eq(fscanf(fp, "%d", &n), 1);
    pclose(fp);
    cr_expect_eq(n, 1);
}

/* --check and --diff write no file: not the targets, not the traces (the
 * command's trace goes to a temporary folder, removed after). */
Test(build, check_and_diff_change_no_file)
{
    put("loopmaid.yaml", CONFIG_RUN);
    put("doc.md", DOC_BEFORE);
    char *out;
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s/tmp", dir);
    cr_assert_eq(mkdir(tmp, 0755), 0);
    char args[400];
    /* Fresh: no trace, no folder, stale targets. Then up to date. */
    for (int round = 0; round < 2; round++) {
        char *before = snapshot();
        snprintf(args, sizeof args, "--check");
        setenv("TMPDIR", tmp, 1);
        int rc = run(&out, args);
        cr_expect_eq(rc, round == 0 ? 1 : 0, "%s", out);
        cr_expect(strstr(out, round == 0 ? "3 of 3 targets stale" : "3 targets up to date") != NULL,
                  "%s", out);
        free(out);
        rc = run(&out, "--diff");
        cr_expect_eq(rc, 0, "--diff alone reports, it does not fail: %s", out);
        if (round == 0)
            cr_expect(strstr(out, "+++ b/") != NULL && strstr(out, "nothing written") != NULL,
                      "%s", out);
        free(out);
        rc = run(&out, "--check --diff");
        cr_expect_eq(rc, round == 0 ? 1 : 0, "%s", out);
        free(out);
        unsetenv("TMPDIR");
        char *after = snapshot();
        cr_expect_str_eq(after, before, "a dry run changed files");
        free(before);
        free(after);
        snprintf(args, sizeof args, "ls -A '%s' | wc -l", tmp);
        FILE *fp = popen(args, "r");
        int n = -1;
        cr_assert_eq(fscanf(fp, "%d", &n), 1);
        pclose(fp);
        cr_expect_eq(n, 0, "the scratch trace folder was left in TMPDIR");
        if (round == 0) {
            rc = run(&out, "-q");
            cr_assert_eq(rc, 0, "%s", out);
            free(out);
        }
    }
    /* A second real build rewrites the trace (a new run) but no target. */
    char *doc1 = get("doc.md");
    int rc = run(&out, "");
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "nothing to do: 3 targets up to date") != NULL, "%s", out);
    free(out);
    char *doc2 = get("doc.md");
    cr_expect_str_eq(doc1, doc2);
    free(doc1);
    free(doc2);
}

/* `build --check A B` reports on A and B, not on the whole config. */
Test(build, check_reports_what_it_checked)
{
    put("loopmaid.yaml", CONFIG_RUN);
    put("doc.md", DOC_BEFORE);
    char *out;
    cr_assert_eq(run(&out, "-q"), 0, "%s", out);
    free(out);
    cr_expect_eq(run(&out, "--check seq fc"), 0, "%s", out);
    cr_expect(strstr(out, "2 targets up to date") != NULL, "%s", out);
    free(out);
    cr_expect_eq(run(&out, "--check fc"), 0, "%s", out);
    cr_expect(strstr(out, "1 target up to date") != NULL, "%s", out);
    free(out);
    put("fc.mmd", "stale\n");
    cr_expect_eq(run(&out, "--check fc seq"), 1, "%s", out);
    cr_expect(strstr(out, "1 of 2 targets stale") != NULL, "%s", out);
    free(out);
    /* The help says what --check and --diff do. */
    cr_expect_eq(run(&out, "--help"), 0);
    cr_expect(strstr(out, "--check        write no file") != NULL, "%s", out);
    cr_expect(strstr(out, "--diff         write no file either") != NULL, "%s", out);
    free(out);
}

/* A `run:` that does not end is killed, with its process group, at its
 * timeout, and reported at the `run:` value. */
Test(build, run_timeout_kills_the_process_group, .timeout = 30)
{
    put("loopmaid.yaml", "version: 1\n"
                         "diagrams:\n"
                         "  - name: slow\n"
                         "    run: sleep 30 & echo $! > bg.pid; sleep 30\n"
                         "    timeout: 300ms\n"
                         "    trace: slow.yaml\n"
                         "    view: state\n"
                         "    target: slow.mmd\n");
    char *out;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = run(&out, "");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "loopmaid.yaml:4:10: diagram 'slow': 'run: sleep 30 & echo $! > "
                          "bg.pid; sleep 30' did not finish within 300 ms") != NULL,
              "%s", out);
    cr_expect_lt(took, 5.0, "took %.1f s", took);
    /* The background sleep was in the group: it is gone too. */
    char *pid_text = get("bg.pid");
    int pid = atoi(pid_text);
    free(pid_text);
    cr_assert_gt(pid, 1);
    bool gone = false;
    for (int i = 0; i < 200 && !gone; i++) {
        char stat_path[64], st[512] = "";
        snprintf(stat_path, sizeof stat_path, "/proc/%d/stat", pid);
        FILE *fp = fopen(stat_path, "r");
        if (!fp) {
            gone = true;
            break;
        }
        size_t n = fread(st, 1, sizeof st - 1, fp);
        fclose(fp);
        st[n] = '\0';
        char *rp = strrchr(st, ')');
        gone = rp && (rp[2] == 'Z' || rp[2] == 'X');
        if (!gone)
            usleep(10000);
    }
    cr_expect(gone, "the command's background process %d survived the timeout", pid);
    /* No trace was put in place, and the target was not made. */
    char p[300];
    snprintf(p, sizeof p, "%s/slow.yaml", dir);
    cr_expect_neq(access(p, F_OK), 0);
    free(out);
    /* The time is parsed by the CLI's parser: exact, with a unit. */
    put("loopmaid.yaml", "version: 1\ndiagrams:\n  - name: a\n    run: true\n"
                         "    timeout: 1.5e3\n    trace: t.yaml\n    view: state\n"
                         "    target: a.mmd\n");
    cr_expect_eq(run(&out, ""), 1);
    cr_expect(strstr(out, "loopmaid.yaml:5:14: 'timeout' must be a time") != NULL, "%s", out);
    free(out);
}

/* A command that writes its trace by name instead of to $LOOPMAID_TRACE
 * gets a message saying so, and an existing trace stays as it was. */
Test(build, run_that_ignores_loopmaid_trace_is_reported)
{
    put("loopmaid.yaml", "version: 1\ndiagrams:\n  - name: a\n    run: echo hi\n"
                         "    trace: trace.yaml\n    view: state\n    target: a.mmd\n");
    char *out;
    cr_expect_eq(run(&out, ""), 1);
    cr_expect(strstr(out, "loopmaid.yaml:4:10: diagram 'a': 'run: echo hi' wrote no trace "
                          "to $LOOPMAID_TRACE") != NULL,
              "%s", out);
    free(out);
    char *t = get("trace.yaml");
    cr_expect_str_eq(t, TRACE);
    free(t);
}

/* The view table is the same as render's; a target that is an input is
 * refused, as by render -o. */
Test(build, refuses_unused_options_and_input_as_target)
{
    expect_error("version: 1\ndiagrams:\n  - name: a\n    trace: trace.yaml\n    view: flowchart\n"
                 "    counts: true\n    target: x.mmd\n",
                 NULL, "loopmaid.yaml:6:5: 'counts' is not used by the flowchart view");
    expect_error("version: 1\ndiagrams:\n  - name: a\n    trace: trace.yaml\n    view: advise\n"
                 "    target: x.mmd\n    tasks: main\n",
                 NULL, "loopmaid.yaml:7:5: 'tasks' is not used by the advise view");
    expect_error("version: 1\ndiagrams:\n  - name: a\n    trace: trace.yaml\n    view: state\n"
                 "    target: x.mmd\n    max_rows: 3\n",
                 NULL, "loopmaid.yaml:7:5: 'max_rows' is not used by the state view");
    put("same.mmd", TRACE);
    expect_error("version: 1\ndiagrams:\n  - name: a\n    trace: same.mmd\n    view: state\n"
                 "    target: same.mmd\n",
                 NULL, "same.mmd: is the same file as the input 'same.mmd'");
    char *t = get("same.mmd");
    cr_expect_str_eq(t, TRACE);
    free(t);
}

/* A fresh clone, with the CLI and examples of this build but no build/demo
 * (what `git clone && make` gives), passes `loopmaid build --check`. */
Test(build, fresh_clone_passes_check, .timeout = 120)
{
    char top[400] = "";
    FILE *p = popen("git rev-parse --show-toplevel 2>/dev/null", "r");
    if (!p || !fgets(top, sizeof top, p) || !top[0]) {
        if (p)
            pclose(p);
        cr_skip_test("not in a git checkout");
    }
    pclose(p);
    top[strcspn(top, "\n")] = '\0';
    char build[sizeof cli];
    snprintf(build, sizeof build, "%s", cli);
    *strrchr(build, '/') = '\0';
    char cmd[3000];
    snprintf(cmd, sizeof cmd,
             "set -e; git clone -q '%s' '%s/clone' && cd '%s/clone' && mkdir build && "
             "cp -r '%s/examples' build/ && cp '%s' build/loopmaid && "
             "test ! -e build/demo && build/loopmaid build --check > ../check.out 2>&1",
             top, dir, dir, build, cli);
    int st = system(cmd);
    char *o = get("check.out");
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fresh clone: %s", o);
    cr_expect(strstr(o, "targets up to date") != NULL, "%s", o);
    free(o);
    char demo[600];
    snprintf(demo, sizeof demo, "%s/clone/build/demo", dir);
    cr_expect_neq(access(demo, F_OK), 0, "--check made build/demo");
}

/* --check --diff on an entry with run: also says what changed in behaviour
 * (loopmaid diff between the trace on disk and the new run), so a CI log
 * tells a reviewer why the diagram went stale (issue 19). */
Test(build, check_diff_says_what_changed_in_behaviour)
{
    /* examples/deadline beside the CLI: a wait_for deadline of 500 ms lets
     * the fetch finish, 200 ms cancels it. */
    char exe[600], cfg[1400];
    snprintf(exe, sizeof exe, "%s", cli);
    *strrchr(exe, '/') = '\0';
    const char *fmt = "version: 1\ndiagrams:\n  - name: dl\n    run: %s/examples/deadline %s\n"
                      "    trace: dl.yaml\n    view: tasks\n    target: dl.mmd\n";
    snprintf(cfg, sizeof cfg, fmt, exe, "500");
    put("loopmaid.yaml", cfg);
    char *out;
    cr_assert_eq(run(&out, "-q"), 0, "%s", out);
    free(out);
    snprintf(cfg, sizeof cfg, fmt, exe, "200");
    put("loopmaid.yaml", cfg);
    int rc = run(&out, "--check --diff");
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "behaviour of dl (loopmaid diff dl.yaml <new run>):\n") != NULL, "%s", out);
    cr_expect(strstr(out, "  ~ main/fetch: outcome done -> cancelled (timeout by main)\n") != NULL,
              "%s", out);
    free(out);
    /* the trace on disk is still the 500 ms run: --check wrote nothing */
    char *t = get("dl.yaml");
    cr_expect(strstr(t, "to: done") != NULL && strstr(t, "reason: timeout") == NULL, "%s", t);
    free(t);
    /* same behaviour, other view options: no behaviour lines */
    snprintf(cfg, sizeof cfg, "%s    title: other\n", fmt);
    char cfg2[1600];
    snprintf(cfg2, sizeof cfg2, cfg, exe, "500");
    put("loopmaid.yaml", cfg2);
    rc = run(&out, "--check --diff");
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "behaviour of") == NULL, "%s", out);
    free(out);
}

/* A trace named *.lmt is a binary trace (issue 18): the build's run: writes
 * one (the tracer picks the format by the name's end, so the temporary name
 * the build hands it ends in .lmt too), reads it as the YAML it stands for,
 * and --check --diff compares two of them. */
Test(build, binary_trace_by_its_name)
{
    char exe[600], cfg[1400];
    snprintf(exe, sizeof exe, "%s", cli);
    *strrchr(exe, '/') = '\0';
    const char *fmt = "version: 1\ndiagrams:\n  - name: dl\n    run: %s/examples/deadline %s\n"
                      "    trace: dl.%s\n    view: tasks\n    target: dl.%s.mmd\n";
    char *out;
    snprintf(cfg, sizeof cfg, fmt, exe, "500", "yaml", "yaml");
    put("loopmaid.yaml", cfg);
    cr_assert_eq(run(&out, "-q"), 0, "%s", out);
    free(out);
    snprintf(cfg, sizeof cfg, fmt, exe, "500", "lmt", "lmt");
    put("loopmaid.yaml", cfg);
    cr_assert_eq(run(&out, "-q"), 0, "%s", out);
    free(out);
    char p[512];
    snprintf(p, sizeof p, "%s/dl.lmt", dir);
    FILE *fp = fopen(p, "rb");
    cr_assert_not_null(fp);
    unsigned char head[8];
    size_t n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    cr_expect(lm_trace_is_binary(head, n), "the build's dl.lmt is not binary");
    char *a = get("dl.yaml.mmd"), *b = get("dl.lmt.mmd");
    cr_expect_str_eq(b, a);
    free(a);
    free(b);
    /* no temporary file of the build is left beside the trace */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s' | grep '^\\.')\"", dir);
    cr_expect_eq(system(cmd), 0, "a temporary file was left in %s", dir);
    cr_expect_eq(run(&out, "--check"), 0, "%s", out);
    free(out);
    snprintf(cfg, sizeof cfg, fmt, exe, "200", "lmt", "lmt");
    put("loopmaid.yaml", cfg);
    cr_expect_eq(run(&out, "--check --diff"), 1, "%s", out);
    cr_expect(strstr(out, "behaviour of dl (loopmaid diff dl.lmt <new run>):\n") != NULL, "%s",
              out);
    cr_expect(strstr(out, "  ~ main/fetch: outcome done -> cancelled (timeout by main)\n") != NULL,
              "%s", out);
    free(out);
}

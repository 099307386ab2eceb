/*
 * test_cli.c: build/loopmaid as a user runs it, in a subprocess: exit codes
 * (0 ok, 1 bad input, 2 bad usage), --help everywhere, messages on stderr,
 * `-` for stdin, -o written atomically, the md fence, warnings and -q;
 * binary traces (.lmt): convert, and every command reading them as YAML.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/lm_test.h"
#include "loopmaid.h" /* lm_trace_is_binary */

/* The loopmaid next to this test binary (BUILD/tests/test_cli ->
 * BUILD/loopmaid), so `make asan` tests the sanitized CLI. */
static char bin[512];
#define BIN bin
#define GATHER "tests/data/traces/gather3.yaml"

static char dir[64];
static char *out_text, *err_text;

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return strdup("");
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, fp);
    s[got] = '\0';
    fclose(fp);
    return s;
}

static void setup(void)
{
    char build[PATH_MAX];
    int len = snprintf(bin, sizeof bin, "%s/loopmaid",
                       lmt_build_dir(build, sizeof build));
    cr_assert(len > 0 && (size_t)len < sizeof bin, "build path too long");
    cr_assert_eq(access(bin, X_OK), 0, "no CLI at %s", bin);
    snprintf(dir, sizeof dir, "/tmp/lmcli.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    free(out_text);
    free(err_text);
    out_text = err_text = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Runs `loopmaid ARGS` through sh; stdout and stderr land in out/err. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char args[1024], cmd[2048], o[96], e[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(o, sizeof o, "%s/stdout", dir);
    snprintf(e, sizeof e, "%s/stderr", dir);
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s", BIN, args, o, e);
    int st = system(cmd);
    free(out_text);
    free(err_text);
    out_text = slurp(o);
    err_text = slurp(e);
    cr_assert(WIFEXITED(st), "%s: did not exit normally", cmd);
    return WEXITSTATUS(st);
}

TestSuite(cli, .init = setup, .fini = teardown);

Test(cli, version_and_help)
{
    cr_expect_eq(run("--version"), 0);
    cr_expect(strncmp(out_text, "loopmaid ", 9) == 0, "%s", out_text);
    cr_expect_eq(run("help"), 0);
    cr_expect(strstr(out_text, "usage: loopmaid COMMAND") != NULL);
    cr_expect_eq(run("--help"), 0);
    cr_expect(strstr(out_text, "render") && strstr(out_text, "inspect"));
    cr_expect_eq(run("render --help"), 0);
    cr_expect(strstr(out_text, "usage: loopmaid render") != NULL);
    cr_expect(strstr(out_text, "--max-chars") != NULL);
    cr_expect_eq(run("inspect --help"), 0);
    cr_expect(strstr(out_text, "usage: loopmaid inspect") != NULL);
    cr_expect_eq(run("help render"), 0);
    cr_expect(strstr(out_text, "usage: loopmaid render") != NULL);
    cr_expect_eq(err_text[0], '\0');
}

Test(cli, usage_errors_exit_2)
{
    cr_expect_eq(run("%s", ""), 2);
    cr_expect(strstr(err_text, "usage: loopmaid") != NULL);
    cr_expect_eq(run("frobnicate"), 2);
    cr_expect(strstr(err_text, "unknown command 'frobnicate'") != NULL);
    cr_expect_eq(run("render --bogus " GATHER), 2);
    cr_expect(strstr(err_text, "unknown option '--bogus'") != NULL, "%s",
              err_text);
    cr_expect_eq(run("render " GATHER " --view"), 2);
    cr_expect(strstr(err_text, "needs a value") != NULL, "%s", err_text);
    cr_expect_eq(run("render --view pie " GATHER), 2);
    cr_expect(strstr(err_text, "unknown view 'pie'") != NULL);
    cr_expect_eq(run("render --format html " GATHER), 2);
    cr_expect_eq(run("render --max-chars 12 " GATHER), 2);
    cr_expect_eq(run("render --max-chars lots " GATHER), 2);
    cr_expect_eq(run("render --max-messages 0 " GATHER), 2);
    cr_expect_eq(run("render --from 3parsecs " GATHER), 2);
    cr_expect(strstr(err_text, "--from expects a time") != NULL);
    cr_expect_eq(run("render --from 2ms --to 1ms " GATHER), 2);
    cr_expect_eq(run("render --tasks '(' " GATHER), 2);
    cr_expect(strstr(err_text, "--tasks") != NULL, "%s", err_text);
    cr_expect_eq(run("render --states 'nonsense=x' " GATHER), 2);
    cr_expect_eq(run("render"), 2);
    cr_expect(strstr(err_text, "missing the TRACE") != NULL);
    cr_expect_eq(run("render " GATHER " " GATHER), 2);
    cr_expect_eq(run("inspect"), 2);
    cr_expect_eq(run("inspect --frob " GATHER), 2);
    cr_expect_eq(out_text[0], '\0');
}

Test(cli, bad_input_exits_1_with_position)
{
    cr_expect_eq(run("render tests/data/bad/illegal_transition.yaml"), 1);
    cr_expect_str_eq(err_text, "tests/data/bad/illegal_transition.yaml:7:5: "
                               "illegal transition created -> running for "
                               "task 1 \"main\"\n");
    cr_expect_eq(out_text[0], '\0');
    cr_expect_eq(run("inspect tests/data/bad/version2.yaml"), 1);
    cr_expect(strstr(err_text, "version2.yaml:1:11: unsupported trace format "
                               "version 2 (this reader knows 1)") != NULL);
    cr_expect_eq(run("render %s/missing.yaml", dir), 1);
    cr_expect(strstr(err_text, "cannot open") != NULL);
    cr_expect_eq(run("render %s", dir), 1); /* a directory */
}

Test(cli, renders_every_view)
{
    const char *views[] = {"state", "sequence", "flowchart", "tasks", "gantt",
                           "advise"};
    for (size_t i = 0; i < 6; i++) {
        cr_expect_eq(run("render --view %s " GATHER, views[i]), 0, "%s: %s",
                     views[i], err_text);
        cr_expect_gt(strlen(out_text), 10);
        cr_expect_eq(err_text[0], '\0', "%s", err_text);
    }
}

Test(cli, stdin_gives_the_same_bytes)
{
    cr_expect_eq(run("render --view sequence " GATHER), 0);
    char *direct = strdup(out_text);
    cr_expect_eq(run("render --view sequence - < " GATHER), 0);
    cr_expect_str_eq(out_text, direct);
    cr_expect_eq(run("render --view sequence - < tests/data/bad/deep.yaml"), 1);
    cr_expect(strncmp(err_text, "<stdin>:7:55: ", 14) == 0, "%s", err_text);
    cr_expect_eq(run("inspect - < " GATHER), 0);
    cr_expect(strstr(out_text, "tasks: 4") != NULL, "%s", out_text);
    free(direct);
}

static int count_entries(const char *d)
{
    DIR *dp = opendir(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(dp);
    return n;
}

Test(cli, output_file_is_replaced_atomically)
{
    char sub[128], target[160];
    snprintf(sub, sizeof sub, "%s/out", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    snprintf(target, sizeof target, "%s/diagram.mmd", sub);
    FILE *fp = fopen(target, "w");
    fputs("old contents\n", fp);
    fclose(fp);
    struct stat before, after;
    stat(target, &before);

    /* A failing render leaves the old file alone. */
    cr_expect_eq(run("render -o %s tests/data/bad/backwards.yaml", target), 1);
    char *s = slurp(target);
    cr_expect_str_eq(s, "old contents\n");
    free(s);
    cr_expect_eq(count_entries(sub), 1);

    cr_expect_eq(run("render --view state " GATHER), 0);
    char *want = strdup(out_text);
    cr_expect_eq(run("render --view state -o %s " GATHER, target), 0);
    cr_expect_eq(out_text[0], '\0');
    s = slurp(target);
    cr_expect_str_eq(s, want);
    free(s);
    free(want);
    stat(target, &after);
    cr_expect_neq(before.st_ino, after.st_ino, "not replaced by rename");
    cr_expect_eq(after.st_mode & 0777, 0666 & ~(mode_t)umask(022),
                 "mode %o", after.st_mode & 0777);
    cr_expect_eq(count_entries(sub), 1, "temporary file left behind");

    cr_expect_eq(run("render -o %s/nodir/x.mmd " GATHER, dir), 1);
    cr_expect(strstr(err_text, "cannot create a temporary file") != NULL);
}

Test(cli, markdown_fence)
{
    cr_expect_eq(run("render --format md --view gantt " GATHER), 0);
    cr_expect(strncmp(out_text, "```mermaid\n", 11) == 0, "%s", out_text);
    size_t n = strlen(out_text);
    cr_assert_gt(n, 16);
    cr_expect_str_eq(out_text + n - 4, "\n```\n" + 1);
    cr_expect_eq(out_text[n - 5], '\n');
}

Test(cli, truncated_trace_warns_unless_quiet)
{
    cr_expect_eq(run("render tests/data/truncated/midline.yaml"), 0);
    cr_expect_str_eq(err_text, "tests/data/truncated/midline.yaml:8:1: "
                               "warning: trace is truncated after event 3; "
                               "rendering what was recorded\n");
    cr_expect_gt(strlen(out_text), 10);
    cr_expect_eq(run("render -q tests/data/truncated/midline.yaml"), 0);
    cr_expect_eq(err_text[0], '\0');
    cr_expect_eq(run("inspect tests/data/truncated/midline.yaml"), 0);
    cr_expect(strstr(err_text, "warning: trace is truncated") != NULL);
    cr_expect(strstr(out_text, "(truncated)") != NULL);
}

Test(cli, inspect_summary_and_advice)
{
    cr_expect_eq(run("inspect tests/data/traces/timeout.yaml"), 0);
    cr_expect(strstr(out_text, "tasks: 2: 1 done, 0 failed, 1 cancelled (1 by "
                               "timeout), 0 unfinished") != NULL,
              "%s", out_text);
    cr_expect(strstr(out_text, "task 2 \"slow_query\" cancelled by task 1 "
                               "\"main\" (timeout: its deadline passed), "
                               "ended cancelled at 5.0 ms") != NULL,
              "%s", out_text);
    cr_expect(strstr(out_text, "advice") == NULL);
    cr_expect_eq(run("inspect --advise " GATHER), 0);
    cr_expect(strstr(out_text, "advice") != NULL);
    cr_expect(strstr(out_text, "Waiting on I/O? yes") != NULL, "%s", out_text);
    cr_expect_eq(run("inspect tests/data/traces/failure.yaml"), 0);
    /* lm_fail's message, from the trace's `message`, beside the code. */
    cr_expect(strstr(out_text, "task 2 \"parse_config\" at 1.0 ms: LM_EUSER "
                               "(code -100): \"config.yaml:3: bad value\"") != NULL,
              "%s", out_text);
}

/* inspect takes render's selection and window, --format md and -o. */
Test(cli, inspect_selection_window_format_and_output)
{
    /* --tasks: only the matching task is summarised. */
    cr_expect_eq(run("inspect --tasks '^cancel_on_error' tests/data/examples/groups.yaml"), 0,
                 "%s", err_text);
    cr_expect(strstr(out_text, "tasks: 3 (of 33; --tasks/--exclude): 0 done, 1 failed, "
                               "2 cancelled") != NULL, "%s", out_text);
    cr_expect(strstr(out_text, "task 12 \"cancel_on_error B\" at 70.0 ms: LM_EUSER (code -100): "
                               "\"B failed\"") != NULL, "%s", out_text);
    cr_expect(strstr(out_text, "gather A") == NULL, "%s", out_text);
    /* The cause of a group's cancellation is the member that failed, which
     * the trace records as the canceller (never the group or the victim). */
    cr_expect(strstr(out_text, "task 11 \"cancel_on_error A\" cancelled by task 12 "
                               "\"cancel_on_error B\" (group: task 12 \"cancel_on_error B\" "
                               "failed), ended cancelled at 70.0 ms") != NULL, "%s", out_text);
    cr_expect_eq(run("inspect --exclude . tests/data/examples/groups.yaml"), 0);
    cr_expect(strstr(out_text, "tasks: 0 (of 33") != NULL, "%s", out_text);
    /* --from/--to: durations clipped to the window. */
    cr_expect_eq(run("inspect --from 1s --to 1.5s tests/data/examples/concurrent_parallel.yaml"),
                 0, "%s", err_text);
    cr_expect(strstr(out_text, "window: 1.00 s to 1.50 s since the trace began "
                               "(500.0 ms)") != NULL, "%s", out_text);
    /* main, sequential and sequential B await for the whole 500 ms. */
    cr_expect(strstr(out_text, "  awaiting  1.50 s\n") != NULL, "%s", out_text);
    cr_expect(strstr(out_text, "sequential A") == NULL, "%s", out_text);
    cr_expect_eq(run("inspect --from 100s tests/data/examples/groups.yaml"), 0);
    cr_expect(strstr(out_text, "window: starts after the trace ends (at 160.0 ms)") != NULL,
              "%s", out_text);
    cr_expect_eq(run("inspect --from 2s --to 1s " GATHER), 2);
    cr_expect_eq(run("inspect --from soon " GATHER), 2);
    cr_expect_eq(run("inspect --tasks '(' " GATHER), 2);
    /* Markdown: headings and list items; trace text cannot become markup. */
    cr_expect_eq(run("inspect --format md --advise tests/data/hostile.yaml"), 0, "%s", err_text);
    cr_expect(strncmp(out_text, "## Trace ", 9) == 0, "%s", out_text);
    cr_expect(strstr(out_text, "\n### failures\n\n- ") != NULL, "%s", out_text);
    cr_expect(strstr(out_text, "<script") == NULL, "%s", out_text);
    cr_expect(strstr(out_text, "&lt;script&gt;") != NULL, "%s", out_text);
    cr_expect_eq(run("inspect --format html " GATHER), 2);
    /* -o: the same writer as render -o. */
    cr_expect_eq(run("inspect -o %s/summary.txt --advise " GATHER, dir), 0, "%s", err_text);
    cr_expect_eq(out_text[0], '\0');
    char path[128];
    snprintf(path, sizeof path, "%s/summary.txt", dir);
    char *file = slurp(path);
    cr_expect(strstr(file, "advice (seed 002") != NULL, "%s", file);
    free(file);
}

/* advise: verdicts on real-clock runs, through the CLI. */
Test(cli, inspect_advise_classifies_real_runs)
{
    cr_expect_eq(run("inspect --advise tests/data/advise/fetch.real.yaml"), 0);
    cr_expect(strstr(out_text, "=> I/O-bound with several operations in flight") != NULL,
              "%s", out_text);
    cr_expect_eq(run("inspect --advise tests/data/advise/offload.real.yaml"), 0);
    cr_expect(strstr(out_text, "=> CPU-bound, and the work already runs in the thread "
                               "pool") != NULL, "%s", out_text);
    cr_expect_eq(run("inspect --advise tests/data/advise/crunch.real.yaml"), 0);
    cr_expect(strstr(out_text, "=> CPU-bound on the loop thread") != NULL, "%s", out_text);
    cr_expect(strstr(out_text, "(it blocked the loop)") != NULL, "%s", out_text);
}

/* gantt: --max-rows is validated; --counts is honoured. */
Test(cli, gantt_rows_and_counts)
{
    cr_expect_eq(run("render --view gantt --max-rows 0 " GATHER), 2);
    cr_expect(strstr(err_text, "--max-rows expects a positive number") != NULL, "%s", err_text);
    cr_expect_eq(run("render --view gantt --max-rows 2 tests/data/examples/groups.yaml"), 0);
    cr_expect(strstr(out_text, "#8230; 31 more tasks not shown") != NULL, "%s", out_text);
    cr_expect_eq(run("render --view gantt --counts tests/data/examples/groups.yaml"), 0);
    cr_expect(strstr(out_text, " x2\n") != NULL, "%s", out_text);
}

Test(cli, time_units_select_a_window)
{
    cr_expect_eq(run("render --view sequence --from 2ms --to 3.012ms " GATHER),
                 0, "%s", err_text);
    char *win = strdup(out_text);
    cr_expect_eq(run("render --view sequence --from 2000000 --to 3012000ns "
                     GATHER),
                 0);
    cr_expect_str_eq(out_text, win);
    cr_expect_eq(run("render --view sequence --from 2000us --to 3012us " GATHER),
                 0);
    cr_expect_str_eq(out_text, win);
    cr_expect_eq(run("render --view sequence " GATHER), 0);
    cr_expect_str_neq(out_text, win);
    free(win);
}

/* issue 13/14: the sequence view's time marks, causes, participant cap and
 * window through the CLI. */
Test(cli, sequence_time_causes_cap_and_window)
{
    const char *tr = "tests/data/views/timeout.yaml";
    char cmd[256];
    snprintf(cmd, sizeof cmd, "render --view sequence %s", tr);
    cr_assert_eq(run(cmd), 0, "%s", err_text);
    cr_expect(strstr(out_text, "lp1->>tm1: set timer 2 s (due 2 s)\n"), "%s", out_text);
    cr_expect(strstr(out_text, "Note over lp1: t = 2 s (+2 s)"), "%s", out_text);
    cr_expect(strstr(out_text, "lp1-xp2: cancel: wait_for<br/>deadline passed\n"), "%s", out_text);
    /* One lifeline: the cancelled task is the one kept. */
    snprintf(cmd, sizeof cmd, "render --view sequence --max-participants 1 %s", tr);
    cr_assert_eq(run(cmd), 0, "%s", err_text);
    cr_expect(strstr(out_text, "participant p2 as Slow Task\n"), "%s", out_text);
    cr_expect(!strstr(out_text, "participant p1 "), "%s", out_text);
    cr_expect(strstr(out_text, "1 more task not shown"), "%s", out_text);
    snprintf(cmd, sizeof cmd, "render --view sequence --max-participants 0 %s", tr);
    cr_expect_eq(run(cmd), 2);
    cr_expect(strstr(err_text, "--max-participants expects a positive number"), "%s", err_text);
    snprintf(cmd, sizeof cmd, "render --view sequence --from 1s %s", tr);
    cr_assert_eq(run(cmd), 0, "%s", err_text);
    cr_expect(strstr(out_text, "window: t = 1 s to 2 s"), "%s", out_text);
    cr_expect(run("help render") == 0 && strstr(out_text, "--max-participants N"),
              "%s", out_text);
}

Test(cli, write_error_is_reported)
{
    if (access("/dev/full", W_OK) != 0)
        return;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s render " GATHER " >/dev/full 2>%s/err", BIN,
             dir);
    int st = system(cmd);
    cr_expect_eq(WEXITSTATUS(st), 1);
}

/* gentrace (BUILD/tools/gentrace): deterministic, valid, and every view of
 * its hostile trace stays inside Mermaid's default 50,000-character limit. */
Test(cli, gentrace_hostile_trace_renders_within_budget)
{
    char gen[600], cmd[4096];
    snprintf(gen, sizeof gen, "%s", bin);
    char *slash = strrchr(gen, '/');
    strcpy(slash + 1, "tools/gentrace");
    if (access(gen, X_OK) != 0)
        cr_skip_test("no %s (make tools)", gen);
    snprintf(cmd, sizeof cmd,
             "%s --events 20000 --tasks 150 --hostile --seed 3 >%s/a.yaml && "
             "%s --events 20000 --tasks 150 --hostile --seed 3 >%s/b.yaml && "
             "cmp -s %s/a.yaml %s/b.yaml",
             gen, dir, gen, dir, dir, dir);
    cr_assert_eq(system(cmd), 0, "gentrace is not deterministic");
    const char *views[] = {"state", "sequence", "flowchart", "tasks", "gantt",
                           "advise"};
    for (size_t i = 0; i < 6; i++) {
        cr_expect_eq(run("render --view %s %s/a.yaml", views[i], dir), 0,
                     "%s: %s", views[i], err_text);
        cr_expect_leq(strlen(out_text), 50000, "%s: %zu chars", views[i],
                      strlen(out_text));
        cr_expect(strstr(out_text, "%%{") == NULL, "%s: directive", views[i]);
        cr_expect(strstr(out_text, "<script") == NULL, "%s: html", views[i]);
    }
    cr_expect_eq(run("inspect %s/a.yaml", dir), 0);
    cr_expect(strstr(out_text, "tasks: 150:") != NULL, "%s", out_text);

    /* Several loops: tasks are told apart by (loop, id). */
    snprintf(cmd, sizeof cmd, "%s --events 6000 --tasks 60 --loops 3 >%s/m.yaml",
             gen, dir);
    cr_assert_eq(system(cmd), 0);
    cr_expect_eq(run("inspect %s/m.yaml", dir), 0, "%s", err_text);
    cr_expect(strstr(out_text, "3 loops") != NULL, "%s", out_text);
    cr_expect(strstr(out_text, "tasks: 60:") != NULL, "%s", out_text);
    for (size_t i = 0; i < 6; i++)
        cr_expect_eq(run("render --view %s %s/m.yaml", views[i], dir), 0,
                     "%s: %s", views[i], err_text);
}

/* Every option is honoured or refused, naming the option and the view
 * (cli.c's view_honours table); never accepted and ignored. */
Test(cli, options_a_view_does_not_use_are_refused)
{
    static const struct { const char *args, *option, *view; } no[] = {
        {"--view state --max-messages 5", "--max-messages", "state"},
        {"--view gantt --max-nodes 5", "--max-nodes", "gantt"},
        {"--view state --max-rows 5", "--max-rows", "state"},
        {"--view tasks --max-participants 5", "--max-participants", "tasks"},
        {"--view sequence --max-causes 5", "--max-causes", "sequence"},
        {"--view advise --tasks main", "--tasks", "advise"},
        {"--view sequence --counts", "--counts", "sequence"},
        {"--view flowchart --counts", "--counts", "flowchart"},
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        cr_expect_eq(run("render %s " GATHER, no[i].args), 2, "%s", no[i].args);
        char want[160];
        snprintf(want, sizeof want, "loopmaid render: %s is not used by the %s view",
                 no[i].option, no[i].view);
        cr_expect(strstr(err_text, want) != NULL, "%s: %s", no[i].args, err_text);
        cr_expect_eq(out_text[0], '\0');
    }
    static const char *const yes[] = {
        "--view state --counts --states asyncio --from 1ms --tasks main",
        "--view sequence --max-messages 5 --to 2ms --exclude x",
        "--view gantt --states asyncio --from 1ms --counts --max-rows 3",
        "--view tasks --states seed002 --tasks main --from 1ms --max-nodes 3",
        "--view advise --title T --max-chars 2000 --from 1ms",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        cr_expect_eq(run("render %s " GATHER, yes[i]), 0, "%s: %s", yes[i], err_text);
    /* The help lists the same table. */
    cr_expect_eq(run("render --help"), 0);
    cr_expect(strstr(out_text, "--counts            state and gantt\n") != NULL, "%s", out_text);
    cr_expect(strstr(out_text, "--max-rows          gantt\n") != NULL, "%s", out_text);
    cr_expect(strstr(out_text, "--max-messages      sequence\n") != NULL, "%s", out_text);
}

/* The cap options (issue 14): documented, positive counts only, and honoured
 * by the tasks view (the other caps are wired by their views). */
Test(cli, cap_options)
{
    static const char *const caps[] = {"--max-nodes", "--max-children",
        "--max-groups", "--max-members", "--max-causes", "--max-rows",
        "--max-participants"};
    /* the view that honours each */
    static const char *const views[] = {"tasks", "tasks", "tasks", "tasks",
        "state", "gantt", "sequence"};
    cr_expect_eq(run("help render"), 0);
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        cr_expect(strstr(out_text, caps[i]) != NULL, "help lacks %s", caps[i]);
        char *help = out_text;
        out_text = NULL;
        cr_expect_eq(run("render --view %s %s 0 " GATHER, views[i], caps[i]), 2,
                     "%s 0", caps[i]);
        cr_expect(strstr(err_text, "expects a positive number") != NULL, "%s", err_text);
        cr_expect_eq(run("render --view %s %s many " GATHER, views[i], caps[i]), 2,
                     "%s many", caps[i]);
        cr_expect_eq(run("render --view %s %s 3 " GATHER, views[i], caps[i]), 0,
                     "%s 3: %s", caps[i], err_text);
        free(out_text);
        out_text = help;
    }
    cr_expect_eq(run("render --view tasks --max-nodes 1 " GATHER), 0);
    cr_expect(strstr(out_text, "not shown") != NULL, "%s", out_text);
}

/* ------------------------------------------------------------------------ */
/* Binary traces (.lmt, issue 18)                                            */
/* ------------------------------------------------------------------------ */

/* The example whose golden trace (tests/data/examples/groups.yaml, under the
 * virtual clock) the binary trace of the same run must convert to. */
#define EXAMPLE "groups"
#define EXAMPLE_YAML "tests/data/examples/" EXAMPLE ".yaml"

/* Runs BUILD/examples/EXAMPLE under the virtual clock, tracing to `trace`
 * (dir/NAME.lmt: binary); asserts that it exits 0. As test_examples.c does,
 * the example starts with only 0, 1 and 2 open, since traces name fds. */
static void trace_example(const char *trace)
{
    char build[PATH_MAX], exe[PATH_MAX + 64];
    snprintf(exe, sizeof exe, "%s/examples/" EXAMPLE,
             lmt_build_dir(build, sizeof build));
    cr_assert(access(exe, X_OK) == 0, "%s is missing: run `make` first", exe);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        setenv("LOOPMAID_CLOCK", "virtual", 1);
        setenv("LOOPMAID_TRACE", trace, 1);
        unsetenv("LOOPMAID_TRACE_RING");
        unsetenv("LOOPMAID_TRACE_FORMAT"); /* the .lmt name decides */
        int fd = open("/dev/null", O_WRONLY);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(126);
        long maxfd = sysconf(_SC_OPEN_MAX);
        for (long i = 3; i < (maxfd > 0 && maxfd < 65536 ? maxfd : 65536); i++)
            close((int)i);
        execl(exe, EXAMPLE, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        cr_assert(errno == EINTR);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, EXAMPLE " failed");
}

/* The first 8 bytes of path are the binary magic (the tracer's own test). */
static bool is_binary_file(const char *path)
{
    unsigned char head[8];
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "%s", path);
    size_t n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    return lm_trace_is_binary(head, n);
}

Test(cli, convert_gives_the_golden_yaml)
{
    char lmt[128], yaml[128];
    snprintf(lmt, sizeof lmt, "%s/" EXAMPLE ".lmt", dir);
    snprintf(yaml, sizeof yaml, "%s/out.yaml", dir);
    trace_example(lmt);
    cr_assert(is_binary_file(lmt), "LOOPMAID_TRACE=*.lmt wrote no binary trace");
    char *golden = slurp(EXAMPLE_YAML);
    cr_assert_gt(strlen(golden), 100);

    cr_expect_eq(run("convert %s", lmt), 0, "%s", err_text);
    cr_expect_str_eq(out_text, golden);
    cr_expect_eq(err_text[0], '\0', "%s", err_text);
    cr_expect_eq(run("convert -o %s %s", yaml, lmt), 0, "%s", err_text);
    cr_expect_eq(out_text[0], '\0');
    char *s = slurp(yaml);
    cr_expect_str_eq(s, golden);
    free(s);
    /* stdin, seekable and as a pipe */
    cr_expect_eq(run("convert - < %s", lmt), 0, "%s", err_text);
    cr_expect_str_eq(out_text, golden);
    cr_expect_eq(run("convert - < %s", lmt), 0, "%s", err_text);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cat %s | %s convert - >%s 2>%s/err", lmt, BIN,
             yaml, dir);
    cr_expect_eq(system(cmd), 0);
    s = slurp(yaml);
    cr_expect_str_eq(s, golden);
    free(s);
    /* A YAML trace is not a binary one: refused at byte 0. */
    cr_expect_eq(run("convert " EXAMPLE_YAML), 1);
    cr_expect(strncmp(err_text, EXAMPLE_YAML ": byte 0: ",
                      strlen(EXAMPLE_YAML ": byte 0: ")) == 0, "%s", err_text);
    cr_expect_eq(run("convert --help"), 0);
    cr_expect(strstr(out_text, "usage: loopmaid convert") != NULL);
    cr_expect_eq(run("help"), 0);
    cr_expect(strstr(out_text, "  convert ") != NULL);
    cr_expect_eq(run("convert"), 2);
    cr_expect_eq(run("convert %s %s", lmt, lmt), 2);
    free(golden);
}

/* text without inspect's first line ("trace: NAME"), which names the
 * operand; everything else must be the same bytes. */
static const char *past_name(const char *text)
{
    if (strncmp(text, "trace: ", 7) != 0)
        return text;
    const char *nl = strchr(text, '\n');
    return nl ? nl + 1 : text;
}

/* Every command that reads a trace reads a .lmt as it reads the YAML it
 * stands for: the same bytes out, on a path, on stdin and through a pipe,
 * and the operand named as the user gave it (never a temporary file). */
Test(cli, commands_read_binary_traces_as_yaml)
{
    char lmt[128];
    snprintf(lmt, sizeof lmt, "%s/" EXAMPLE ".lmt", dir);
    trace_example(lmt);
    static const char *const cmds[] = {
        "render --view state", "render --view sequence", "render --view tasks",
        "render --view gantt --counts", "inspect --advise", "export",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        cr_expect_eq(run("%s " EXAMPLE_YAML, cmds[i]), 0, "%s", err_text);
        char *want = strdup(out_text), *want_err = strdup(err_text);
        cr_expect_eq(run("%s %s", cmds[i], lmt), 0, "%s: %s", cmds[i], err_text);
        cr_expect_str_eq(past_name(out_text), past_name(want), "%s", cmds[i]);
        cr_expect_str_eq(err_text, want_err, "%s", cmds[i]);
        if (past_name(out_text) != out_text)
            cr_expect(strncmp(out_text + 7, lmt, strlen(lmt)) == 0, "%s",
                      out_text);
        cr_expect_eq(run("%s - < " EXAMPLE_YAML, cmds[i]), 0, "%s", err_text);
        free(want);
        want = strdup(out_text); /* inspect says "trace: <stdin>" */
        cr_expect_eq(run("%s - < %s", cmds[i], lmt), 0, "%s", err_text);
        cr_expect_str_eq(out_text, want, "%s on stdin", cmds[i]);
        free(want);
        free(want_err);
    }
    /* A pipe is read once: the sniff must not lose its first bytes. */
    char cmd[2048], o[128];
    snprintf(o, sizeof o, "%s/piped", dir);
    cr_expect_eq(run("inspect - < " EXAMPLE_YAML), 0);
    char *want = strdup(out_text);
    snprintf(cmd, sizeof cmd, "cat %s | %s inspect - >%s", lmt, BIN, o);
    cr_expect_eq(system(cmd), 0);
    char *s = slurp(o);
    cr_expect_str_eq(s, want);
    free(s);
    snprintf(cmd, sizeof cmd, "cat " EXAMPLE_YAML " | %s inspect - >%s", BIN, o);
    cr_expect_eq(system(cmd), 0);
    s = slurp(o);
    cr_expect_str_eq(s, want);
    free(s);
    free(want);
    /* diff: a run against its own binary trace agrees */
    cr_expect_eq(run("diff " EXAMPLE_YAML " %s", lmt), 0, "%s%s", out_text,
                 err_text);
    char head[300];
    snprintf(head, sizeof head, "loopmaid diff: " EXAMPLE_YAML " -> %s\n", lmt);
    cr_expect(strncmp(out_text, head, strlen(head)) == 0, "%s", out_text);
    cr_expect_eq(run("diff %s %s", lmt, lmt), 0, "%s", err_text);
}

/* convert -o goes through the one writer: the input itself (by any name) is
 * refused, a failed conversion leaves the target as it was. */
Test(cli, convert_output_is_safe)
{
    char lmt[128], link[128], target[128], ro[128];
    snprintf(lmt, sizeof lmt, "%s/" EXAMPLE ".lmt", dir);
    snprintf(link, sizeof link, "%s/link.lmt", dir);
    snprintf(target, sizeof target, "%s/keep.yaml", dir);
    snprintf(ro, sizeof ro, "%s/ro.yaml", dir);
    trace_example(lmt);
    char *before = slurp(lmt);
    size_t before_len = 0;
    struct stat st;
    cr_assert_eq(stat(lmt, &st), 0);
    before_len = (size_t)st.st_size;

    /* 2, as for render -o: choosing the input as the output is usage */
    cr_expect_eq(run("convert -o %s %s", lmt, lmt), 2);
    cr_expect(strstr(err_text, "is the same file as the input") != NULL, "%s",
              err_text);
    cr_assert_eq(symlink(lmt, link), 0);
    cr_expect_eq(run("convert -o %s %s", link, lmt), 2);
    cr_expect_eq(run("convert -o %s - < %s", lmt, lmt), 2);
    cr_assert_eq(stat(lmt, &st), 0);
    cr_expect_eq((size_t)st.st_size, before_len, "the input was written");
    char *after = slurp(lmt);
    cr_expect(memcmp(before, after, before_len < 8 ? before_len : 8) == 0);
    cr_expect(is_binary_file(lmt));
    free(after);
    free(before);

    FILE *fp = fopen(ro, "w");
    fputs("read-only\n", fp);
    fclose(fp);
    chmod(ro, 0444);
    cr_expect_eq(run("convert -o %s %s", ro, lmt), 1); /* root too */
    cr_expect(strstr(err_text, "is read-only") != NULL, "%s", err_text);
    char *r = slurp(ro);
    cr_expect_str_eq(r, "read-only\n");
    free(r);
    cr_expect_eq(run("convert -o %s/nodir/x.yaml %s", dir, lmt), 1);
    cr_expect(strstr(err_text, "cannot create a temporary file") != NULL, "%s",
              err_text);
    cr_expect_eq(run("convert -o /dev/null %s", lmt), 0, "%s", err_text);

    /* A conversion that fails leaves -o alone, temporary file and all. */
    fp = fopen(target, "w");
    fputs("old contents\n", fp);
    fclose(fp);
    cr_expect_eq(run("convert -o %s " EXAMPLE_YAML, target), 1);
    char *s = slurp(target);
    cr_expect_str_eq(s, "old contents\n");
    free(s);
}

/* A cut binary trace (a run killed by SIGKILL): convert refuses it, naming
 * the byte; the readers warn, naming the byte, and read what was recorded
 * before the cut, as they do a cut YAML trace. */
Test(cli, truncated_binary_trace_names_the_byte)
{
    char lmt[128], cut[128];
    snprintf(lmt, sizeof lmt, "%s/" EXAMPLE ".lmt", dir);
    snprintf(cut, sizeof cut, "%s/cut.lmt", dir);
    trace_example(lmt);
    struct stat st;
    cr_assert_eq(stat(lmt, &st), 0);
    cr_assert_gt(st.st_size, 64);
    /* cut in the middle of the file: inside some chunk */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "head -c %lld %s > %s",
             (long long)st.st_size / 2 + 3, lmt, cut);
    cr_assert_eq(system(cmd), 0);
    static const char *const cmds[] = {"convert", "render", "inspect", "export"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        bool reader = i > 0;
        cr_expect_eq(run("%s %s", cmds[i], cut), reader ? 0 : 1, "%s: %s",
                     cmds[i], err_text);
        char want[160];
        snprintf(want, sizeof want, "%s: byte ", cut);
        cr_expect(strncmp(err_text, want, strlen(want)) == 0, "%s: %s", cmds[i],
                  err_text);
        const char *p = err_text + strlen(want);
        cr_expect(*p >= '0' && *p <= '9', "%s: no offset: %s", cmds[i],
                  err_text);
        unsigned long long at = strtoull(p, NULL, 10);
        cr_expect_leq(at, (unsigned long long)st.st_size / 2 + 3, "%s", err_text);
        cr_expect_eq(strstr(err_text, ": warning: ") != NULL, reader, "%s: %s",
                     cmds[i], err_text);
        cr_expect_eq(out_text[0] != '\0', reader, "%s", cmds[i]);
    }
    /* What the readers read is the part before the cut: fewer events than
     * the whole trace, and every one of them. */
    cr_expect_eq(run("inspect %s", lmt), 0);
    char *whole = strdup(out_text);
    cr_expect_eq(run("inspect %s", cut), 0);
    const char *ew = strstr(whole, " events"), *ec = strstr(out_text, " events");
    cr_assert(ew && ec, "%s", out_text);
    while (ew > whole && ew[-1] >= '0' && ew[-1] <= '9')
        ew--;
    while (ec > out_text && ec[-1] >= '0' && ec[-1] <= '9')
        ec--;
    cr_expect_lt(strtol(ec, NULL, 10), strtol(ew, NULL, 10), "%s", out_text);
    free(whole);
    cr_expect_eq(run("render -q %s", cut), 0);
    cr_expect_str_eq(err_text, "", "-q keeps the warning quiet");
    cr_expect_eq(run("convert - < %s", cut), 1);
    cr_expect(strncmp(err_text, "<stdin>: byte ", 14) == 0, "%s", err_text);
    /* diff reads it too: the runs differ (what came after the cut). */
    cr_expect_eq(run("diff " EXAMPLE_YAML " %s", cut), 1, "%s", err_text);
    /* The magic alone is a run killed before its header: it converts to
     * the empty YAML such a run would have left, which the reader then
     * refuses, naming the operand, never the temporary file. */
    snprintf(cmd, sizeof cmd, "head -c 8 %s > %s", lmt, cut);
    cr_assert_eq(system(cmd), 0);
    cr_expect(is_binary_file(cut));
    cr_expect_eq(run("convert %s", cut), 0, "%s", err_text);
    cr_expect_eq(out_text[0], '\0');
    cr_expect_eq(run("render %s", cut), 1);
    char want[200];
    snprintf(want, sizeof want, "%s:1:1: ", cut);
    cr_expect(strncmp(err_text, want, strlen(want)) == 0, "%s", err_text);
    cr_expect(strstr(err_text, "/dev/fd/") == NULL, "%s", err_text);
}

/*
 * test_env.c: the environment variables the tracer reads (LOOPMAID_CLOCK,
 * LOOPMAID_STACK, LOOPMAID_TRACE, LOOPMAID_TRACE_RING, LOOPMAID_TRACE_TSC;
 * tracer/loopmaid.h lists them). A bad value is reported on stderr, naming the variable and the
 * value, and lm_loop_new fails: it is never replaced by a default in silence.
 * LOOPMAID_TRACE=fd:N writes the trace to a descriptor, so it cannot mix
 * with what the program prints (as "-" does).
 *
 * Each case runs in a forked child with its own environment and its stderr
 * in a pipe, so the suite's own environment is never touched.
 */
#include <criterion/criterion.h>

#include "loopmaid.h"
#include "lmr_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct outcome {
    int made;       /* lm_loop_new returned a loop */
    int err;        /* errno when it did not */
    int clock;      /* lm_loop_clock of the loop */
    char msg[512];  /* what it wrote on stderr */
} outcome;

static int say_hi(void *arg)
{
    (void)arg;
    printf("hello from the program\n");
    fflush(stdout);
    return lm_sleep(1000000);
}

/* In a child: sets NAME=VALUE (pairs, NULL-terminated), makes a loop, runs
 * say_hi when it was made, and reports. */
static outcome try_env(const char *const *kv, int run)
{
    int p[2], q[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(pipe(q), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        close(q[0]);
        dup2(p[1], 2);
        for (const char *const *e = kv; *e; e += 2)
            setenv(e[0], e[1], 1);
        outcome o;
        memset(&o, 0, sizeof o);
        lm_loop_options opt;
        lm_loop_options_init(&opt);
        opt.handle_signals = 0;
        errno = 0;
        lm_loop *loop = lm_loop_new(&opt);
        o.made = loop != NULL;
        o.err = errno;
        if (loop) {
            o.clock = (int)lm_loop_clock(loop);
            if (run)
                lm_loop_run(loop, "main", say_hi, NULL, NULL);
            lm_loop_free(loop);
        }
        ssize_t w = write(q[1], &o, sizeof o);
        _exit(w == (ssize_t)sizeof o ? 0 : 1);
    }
    close(p[1]);
    close(q[1]);
    outcome o;
    memset(&o, 0, sizeof o);
    cr_assert_eq(read(q[0], &o, sizeof o), (ssize_t)sizeof o);
    ssize_t n = read(p[0], o.msg, sizeof o.msg - 1);
    o.msg[n > 0 ? n : 0] = '\0';
    close(p[0]);
    close(q[0]);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return o;
}

static void expect_refused(const char *name, const char *value)
{
    const char *kv[] = {name, value, NULL};
    outcome o = try_env(kv, 0);
    cr_expect_eq(o.made, 0, "%s=%s was accepted", name, value);
    char want[200];
    snprintf(want, sizeof want, "loopmaid: %s=%s: ", name, value);
    cr_expect(strstr(o.msg, want) != NULL, "%s=%s: stderr was '%s'", name, value, o.msg);
}

Test(env, bad_values_are_reported_and_fail)
{
    expect_refused("LOOPMAID_CLOCK", "bogus");
    expect_refused("LOOPMAID_CLOCK", "Virtual");
    expect_refused("LOOPMAID_STACK", "12");       /* below 16K */
    expect_refused("LOOPMAID_STACK", "64q");
    expect_refused("LOOPMAID_STACK", "-1");
    expect_refused("LOOPMAID_STACK", "99999M");
    const char *ring[] = {"LOOPMAID_TRACE", "/dev/null", "LOOPMAID_TRACE_RING", "ten", NULL};
    outcome o = try_env(ring, 0);
    cr_expect_eq(o.made, 0);
    cr_expect(strstr(o.msg, "LOOPMAID_TRACE_RING=ten: not a positive number") != NULL, "%s", o.msg);
    const char *tsc[] = {"LOOPMAID_TRACE", "/dev/null", "LOOPMAID_TRACE_TSC", "off", NULL};
    o = try_env(tsc, 0);
    cr_expect_eq(o.made, 0);
    cr_expect(strstr(o.msg, "LOOPMAID_TRACE_TSC=off: not 0 or 1") != NULL, "%s", o.msg);
    expect_refused("LOOPMAID_TRACE", "/nonexistent-dir/t.yaml");
    expect_refused("LOOPMAID_TRACE", "fd:");
    expect_refused("LOOPMAID_TRACE", "fd:3x");
    expect_refused("LOOPMAID_TRACE", "fd:987"); /* not open */
}

Test(env, good_values_are_used)
{
    const char *v[] = {"LOOPMAID_CLOCK", "virtual", "LOOPMAID_STACK", "64K", NULL};
    outcome o = try_env(v, 0);
    cr_expect_eq(o.made, 1, "%s", o.msg);
    cr_expect_eq(o.clock, LM_CLOCK_VIRTUAL);
    cr_expect_str_eq(o.msg, "");
    const char *m[] = {"LOOPMAID_CLOCK", "monotonic", NULL};
    o = try_env(m, 0);
    cr_expect_eq(o.made, 1, "%s", o.msg);
    cr_expect_eq(o.clock, LM_CLOCK_MONOTONIC);
    const char *empty[] = {"LOOPMAID_CLOCK", "", "LOOPMAID_STACK", "", NULL};
    o = try_env(empty, 0);
    cr_expect_eq(o.made, 1, "empty means unset: %s", o.msg);
}

/* fd:N: the trace goes to the descriptor, the program's stdout stays its
 * own; and the trace reads back as a trace. */
Test(env, trace_to_a_descriptor_does_not_mix_with_stdout)
{
    char tpath[] = "/tmp/lmenv-trace-XXXXXX", opath[] = "/tmp/lmenv-out-XXXXXX";
    int tfd = mkstemp(tpath), ofd = mkstemp(opath);
    cr_assert_geq(tfd, 0);
    cr_assert_geq(ofd, 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(tfd, 7);
        dup2(ofd, 1);
        setenv("LOOPMAID_TRACE", "fd:7", 1);
        setenv("LOOPMAID_CLOCK", "virtual", 1);
        lm_loop_options opt;
        lm_loop_options_init(&opt);
        opt.handle_signals = 0;
        lm_loop *loop = lm_loop_new(&opt);
        if (!loop)
            _exit(3);
        int rc = lm_loop_run(loop, "main", say_hi, NULL, NULL);
        lm_loop_free(loop);
        /* The tracer never closes the program's descriptor. */
        _exit(rc != 0 ? 4 : fcntl(7, F_GETFD) < 0 ? 5 : 0);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
    FILE *fp = fopen(opath, "r");
    char buf[256] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    cr_expect_str_eq(buf, "hello from the program\n", "stdout holds only the program's text");
    lmr_options o;
    lmr_options_init(&o);
    lmr_buf out = {0};
    lmr_error err;
    cr_expect_eq(lmr_render_file(tpath, &o, &out, NULL, &err), 0, "%s", err.msg);
    cr_expect(out.len > 0 && strstr(out.data, "stateDiagram-v2") != NULL);
    lmr_buf_free(&out);
    close(tfd);
    close(ofd);
    unlink(tpath);
    unlink(opath);
}

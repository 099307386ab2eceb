/*
 * lm_test.c: see lm_test.h.
 */
#include <criterion/criterion.h>

#include "lm_test.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

lm_loop *lmt_loop(lm_clock_kind clock)
{
    lm_loop_options o;
    lm_loop_options_init(&o);
    o.clock = clock;
    o.handle_signals = 0;
    lm_loop *l = lm_loop_new(&o);
    cr_assert_not_null(l);
    return l;
}

int lmt_run(lm_coro_fn fn, void *arg)
{
    lm_loop *l = lmt_loop(LM_CLOCK_VIRTUAL);
    int rc = lm_loop_run(l, "main", fn, arg, NULL);
    lm_loop_free(l);
    return rc;
}

int lmt_res[64];
int lmt_nres;

void lmt_push(int v)
{
    cr_assert_lt(lmt_nres, 64, "result log full");
    lmt_res[lmt_nres++] = v;
}

void lmt_expect_res_(int line, const int *want, size_t n)
{
    cr_expect_eq((size_t)lmt_nres, n, "line %d: %d results, want %zu", line, lmt_nres, n);
    for (size_t i = 0; i < n && i < (size_t)lmt_nres; i++)
        cr_expect_eq(lmt_res[i], want[i], "line %d: result[%zu] is %d, want %d", line, i,
                     lmt_res[i], want[i]);
}

static void cancel_cb(void *arg) { lm_cancel(arg); }

void lmt_cancel_soon(lm_task *t)
{
    cr_assert_not_null(lm_call_soon(lm_loop_current(), cancel_cb, t));
}

const char *lmt_build_dir(char *buf, size_t n)
{
    cr_assert_gt(n, 1);
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    cr_assert_gt(len, 0, "cannot read /proc/self/exe");
    buf[len] = '\0';
    /* BUILD/tests/test_x: drop the file name, then the tests directory. */
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(buf, '/');
        cr_assert_not_null(slash, "%s: not under BUILD/tests", buf);
        *slash = '\0';
    }
    return buf;
}

int lmt_cli(const char *args)
{
    char dir[PATH_MAX], cmd[PATH_MAX + 1024];
    int len = snprintf(cmd, sizeof cmd, "%s/loopmaid %s >/dev/null 2>&1",
                       lmt_build_dir(dir, sizeof dir), args);
    cr_assert(len > 0 && (size_t)len < sizeof cmd, "command too long");
    int st = system(cmd);
    cr_assert(WIFEXITED(st), "%s", cmd);
    return WEXITSTATUS(st);
}

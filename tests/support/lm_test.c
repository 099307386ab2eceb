/*
 * lm_test.c: see lm_test.h.
 */
#include <criterion/criterion.h>

#include "lm_test.h"

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

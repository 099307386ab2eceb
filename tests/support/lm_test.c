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

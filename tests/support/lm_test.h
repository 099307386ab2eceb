/*
 * lm_test.h: the loop helpers every runtime test needs, in one place.
 *
 * Every .c file under tests/support is linked into every test binary, so
 * these names carry the lmt_ prefix to stay clear of the library (lm_, lm__)
 * and of each test's own statics. Both helpers assert with Criterion, so call them only from a
 * test (or from code a test runs).
 */
#ifndef LM_TEST_H
#define LM_TEST_H

#include "loopmaid.h"

/* A new loop on `clock` that leaves the process's signals alone (Criterion
 * owns them). Fails the current test when the loop cannot be made. The caller
 * frees it with lm_loop_free(). */
lm_loop *lmt_loop(lm_clock_kind clock);

/* Runs fn(arg) as the task "main" on a fresh loop with the virtual clock, so
 * sleeps cost nothing and lm_now() is exact, then frees the loop. Returns
 * what lm_loop_run() returned. */
int lmt_run(lm_coro_fn fn, void *arg);

#endif

/*
 * lm_test.h: what the tests share: a loop for the runtime tests, and the
 * build directory and the CLI for the tests that run the programs.
 *
 * Every .c file under tests/support is linked into every test binary, so
 * these names carry the lmt_ prefix to stay clear of the library (lm_, lm__)
 * and of each test's own statics. The helpers assert with Criterion, so
 * call them only from a test (or from code a test runs).
 */
#ifndef LM_TEST_H
#define LM_TEST_H

#include "loopmaid.h"

#include <stddef.h>

/* A new loop on `clock` that leaves the process's signals alone (Criterion
 * owns them). Fails the current test when the loop cannot be made. The caller
 * frees it with lm_loop_free(). */
lm_loop *lmt_loop(lm_clock_kind clock);

/* Runs fn(arg) as the task "main" on a fresh loop with the virtual clock, so
 * sleeps cost nothing and lm_now() is exact, then frees the loop. Returns
 * what lm_loop_run() returned. */
int lmt_run(lm_coro_fn fn, void *arg);

/* For the ports of CPython's asyncio tests (tests/test_aio_*.c): a log of
 * small ints that tasks append to, like those tests' `result` lists, and
 * a check of its contents. */
extern int lmt_res[64];
extern int lmt_nres;
void lmt_push(int v);
void lmt_expect_res_(int line, const int *want, size_t n);
#define LMT_EXPECT_RES(...)                                                    \
    lmt_expect_res_(__LINE__, (const int[]){__VA_ARGS__},                      \
                    sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

/* asyncio's loop.call_soon(t.cancel): cancels t from a loop callback. */
void lmt_cancel_soon(lm_task *t);

/* For the tests that run the programs: the build directory (the parent of
 * BUILD/tests, where the test binary runs from), written into buf (n bytes)
 * and returned. Fails the current test when it cannot be found. */
const char *lmt_build_dir(char *buf, size_t n);

/* Runs `BUILD/loopmaid ARGS` through sh with its output discarded and
 * returns its exit status; fails the current test when it did not exit
 * (a signal). */
int lmt_cli(const char *args);

#endif

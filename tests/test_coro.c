/*
 * test_coro.c: the context switch and the stack pool, below the loop.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lm_coro.h"

static lm__coro_sched sched;
static int steps[16];
static int nsteps;

static void pingpong(void *arg)
{
    int base = *(int *)arg;
    for (int i = 0; i < 3; i++) {
        steps[nsteps++] = base + i;
        lm__coro_suspend(&sched);
    }
    lm__coro_exit(&sched);
}

Test(coro, switches_back_and_forth_in_order)
{
    lm__coro_sched_init(&sched, 0);
    nsteps = 0;
    int a = 10, b = 20;
    lm__coro *ca = lm__coro_new(&sched, pingpong, &a);
    lm__coro *cb = lm__coro_new(&sched, pingpong, &b);
    cr_assert(ca && cb && ca != cb);
    for (int i = 0; i < 3; i++) {
        lm__coro_resume(&sched, ca);
        lm__coro_resume(&sched, cb);
    }
    lm__coro_resume(&sched, ca); /* both exit */
    lm__coro_resume(&sched, cb);
    int want[] = {10, 20, 11, 21, 12, 22};
    cr_assert_eq(nsteps, 6);
    cr_assert_arr_eq(steps, want, sizeof want);
    lm__coro_free(&sched, ca);
    lm__coro_free(&sched, cb);
    lm__coro_sched_destroy(&sched);
}

/* Callee-saved integer and floating-point values must survive a switch in
 * both directions. volatile keeps the compiler from folding them away. */
static volatile double fsum;
static void floats(void *arg)
{
    (void)arg;
    double x = 1.5;
    for (int i = 0; i < 4; i++) {
        x = x * 2.0 + 0.25;
        lm__coro_suspend(&sched);
    }
    fsum = x;
    lm__coro_exit(&sched);
}

Test(coro, registers_survive_switches)
{
    lm__coro_sched_init(&sched, 0);
    lm__coro *c = lm__coro_new(&sched, floats, NULL);
    double y = 3.0;
    long acc = 7;
    for (int i = 0; i < 5; i++) {
        y = y * 1.5 - 0.5;
        acc = acc * 3 + i;
        lm__coro_resume(&sched, c);
    }
    double x = 1.5;
    for (int i = 0; i < 4; i++)
        x = x * 2.0 + 0.25;
    cr_assert_float_eq(fsum, x, 1e-12);
    double yy = 3.0;
    long aa = 7;
    for (int i = 0; i < 5; i++) {
        yy = yy * 1.5 - 0.5;
        aa = aa * 3 + i;
    }
    cr_assert_float_eq(y, yy, 1e-12);
    cr_assert_eq(acc, aa);
    lm__coro_free(&sched, c);
    lm__coro_sched_destroy(&sched);
}

static void *seen_frame;
static void record_frame(void *arg)
{
    (void)arg;
    char local;
    seen_frame = &local;
    lm__coro_exit(&sched);
}

Test(coro, stacks_are_pooled_and_frames_live_inside_them)
{
    lm__coro_sched_init(&sched, 0);
    lm__coro *c = lm__coro_new(&sched, record_frame, NULL);
    void *lo;
    size_t size;
    lm__coro_stack(c, &lo, &size);
    lm__coro_resume(&sched, c);
    cr_assert((char *)seen_frame >= (char *)lo && (char *)seen_frame < (char *)lo + size,
              "the coroutine must run on its own stack");
    cr_assert(((uintptr_t)lo & 4095) == 0, "usable stack starts right after the guard page");
    lm__coro_free(&sched, c);
    cr_assert_eq(sched.nfree, 1);
    lm__coro *d = lm__coro_new(&sched, record_frame, NULL);
    cr_assert_eq(d, c, "a freed stack is reused first");
    cr_assert_eq(sched.mapped, 1);
    lm__coro_resume(&sched, d);
    lm__coro_free(&sched, d);
    lm__coro_sched_destroy(&sched);
    cr_assert_eq(sched.mapped, 0);
}

Test(coro, stack_size_from_options_and_environment)
{
    lm__coro_sched_init(&sched, 100000);
    cr_assert_eq(sched.stack_size % sched.page, 0);
    cr_assert_geq(sched.stack_size, 100000);
    cr_assert_eq(sched.map_size, sched.stack_size + sched.page);
    setenv("LOOPMAID_STACK", "128k", 1);
    lm__coro_sched_init(&sched, 0);
    cr_assert_eq(sched.stack_size, 128 * 1024);
    /* Too small is a bad value, not the minimum: lm_loop_new reports it and
     * fails (tests/test_env.c). */
    setenv("LOOPMAID_STACK", "1", 1);
    cr_assert_eq(lm__env_stack_size(false), (size_t)-1);
    unsetenv("LOOPMAID_STACK");
}

static int depth_reached;
static int recurse(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    depth_reached = n;
    return n == 0 ? pad[0] : recurse(n - 1) + pad[0];
}

static void deep(void *arg)
{
    recurse(*(int *)arg);
    lm__coro_exit(&sched);
}

Test(coro, deep_recursion_fits_a_default_stack)
{
    lm__coro_sched_init(&sched, 0);
    int n = 40; /* ~20 KiB of frames */
    lm__coro *c = lm__coro_new(&sched, deep, &n);
    lm__coro_resume(&sched, c);
    cr_assert_eq(depth_reached, 0);
    lm__coro_free(&sched, c);
    lm__coro_sched_destroy(&sched);
}

#if !defined(__SANITIZE_ADDRESS__)
/* Running off the end of a stack hits the guard page: a clean SIGSEGV,
 * never silent corruption of the neighbouring memory. */
static void overflow(void *arg)
{
    (void)arg;
    recurse(1 << 20);
    lm__coro_exit(&sched);
}

Test(coro, overflow_hits_the_guard_page, .signal = SIGSEGV)
{
    lm__coro_sched_init(&sched, 16 * 1024);
    lm__coro *c = lm__coro_new(&sched, overflow, NULL);
    lm__coro_resume(&sched, c);
}
#endif

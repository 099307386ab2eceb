/*
 * test_coro.c: the context switch and the stack pool, below the loop.
 */
#include <criterion/criterion.h>
#include <fenv.h>
#include <signal.h>
#include <stdbool.h>
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

/* ---- what a switch must preserve, register by register ------------------- */

/*
 * lmt_regs_call(in, out, fn, a, b) loads every callee-saved register of the
 * ABI from in[], calls fn(a, b), and stores the same registers to out[] when
 * fn returns. With fn a context switch, out[] == in[] proves the switch gave
 * back every one of them, even when the other side (which does the same with
 * its own values) changed all of them meanwhile: a dropped restore shows the
 * other side's value, two swapped ones show each other's. Plain C cannot test
 * this, since the compiler decides which registers hold what.
 *
 * It lives here rather than in a .S file so the native suite and the
 * aarch64 one (mk/cross.mk) build it with no extra rule.
 */
#if defined(__x86_64__) || defined(__aarch64__)
#define HAVE_REGS_CALL 1
void lmt_regs_call(const uint64_t *in, uint64_t *out, void (*fn)(void), void *a, void *b);

#if defined(__x86_64__)
#define NREGS 6
static const char *const reg_name[NREGS] = {"rbx", "rbp", "r12", "r13", "r14", "r15"};
#ifdef __CET__
#define LMT_ENDBR "endbr64\n"
#else
#define LMT_ENDBR ""
#endif
/* in = rdi, out = rsi, fn = rdx, a = rcx, b = r8. out is kept on the stack;
 * seven pushes keep the stack 16-byte aligned at the call. */
__asm__(".pushsection .text\n"
        ".p2align 4\n"
        ".globl lmt_regs_call\n"
        ".hidden lmt_regs_call\n"
        ".type lmt_regs_call, @function\n"
        "lmt_regs_call:\n" LMT_ENDBR
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n"
        "  pushq %r14\n  pushq %r15\n  pushq %rsi\n"
        "  movq %rdx, %rax\n"
        "  movq 0(%rdi), %rbx\n  movq 8(%rdi), %rbp\n  movq 16(%rdi), %r12\n"
        "  movq 24(%rdi), %r13\n  movq 32(%rdi), %r14\n  movq 40(%rdi), %r15\n"
        "  movq %rcx, %rdi\n  movq %r8, %rsi\n"
        "  callq *%rax\n"
        "  movq (%rsp), %rax\n"
        "  movq %rbx, 0(%rax)\n  movq %rbp, 8(%rax)\n  movq %r12, 16(%rax)\n"
        "  movq %r13, 24(%rax)\n  movq %r14, 32(%rax)\n  movq %r15, 40(%rax)\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".size lmt_regs_call, .-lmt_regs_call\n"
        ".popsection\n");
#else
#define NREGS 19
static const char *const reg_name[NREGS] = {
    "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29 (fp)",
    "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15"};
/* in = x0, out = x1, fn = x2, a = x3, b = x4. in[0..9] = x19..x28,
 * in[10] = x29, in[11..18] = d8..d15 (their bits). Our own callee-saved
 * registers and out go in a 176-byte frame; `hint #34` is BTI's landing pad
 * (a no-op where BTI is off). */
__asm__(".pushsection .text\n"
        ".p2align 4\n"
        ".globl lmt_regs_call\n"
        ".hidden lmt_regs_call\n"
        ".type lmt_regs_call, %function\n"
        "lmt_regs_call:\n"
        "  hint #34\n"
        "  stp x29, x30, [sp, #-176]!\n"
        "  mov x29, sp\n"
        "  stp x19, x20, [sp, #16]\n  stp x21, x22, [sp, #32]\n"
        "  stp x23, x24, [sp, #48]\n  stp x25, x26, [sp, #64]\n"
        "  stp x27, x28, [sp, #80]\n"
        "  stp d8, d9, [sp, #96]\n  stp d10, d11, [sp, #112]\n"
        "  stp d12, d13, [sp, #128]\n  stp d14, d15, [sp, #144]\n"
        "  str x1, [sp, #160]\n"
        "  mov x16, x2\n"
        "  ldp x19, x20, [x0, #0]\n  ldp x21, x22, [x0, #16]\n"
        "  ldp x23, x24, [x0, #32]\n  ldp x25, x26, [x0, #48]\n"
        "  ldp x27, x28, [x0, #64]\n  ldr x29, [x0, #80]\n"
        "  ldp d8, d9, [x0, #88]\n  ldp d10, d11, [x0, #104]\n"
        "  ldp d12, d13, [x0, #120]\n  ldp d14, d15, [x0, #136]\n"
        "  mov x0, x3\n  mov x1, x4\n"
        "  blr x16\n"
        "  ldr x16, [sp, #160]\n"
        "  stp x19, x20, [x16, #0]\n  stp x21, x22, [x16, #16]\n"
        "  stp x23, x24, [x16, #32]\n  stp x25, x26, [x16, #48]\n"
        "  stp x27, x28, [x16, #64]\n  str x29, [x16, #80]\n"
        "  stp d8, d9, [x16, #88]\n  stp d10, d11, [x16, #104]\n"
        "  stp d12, d13, [x16, #120]\n  stp d14, d15, [x16, #136]\n"
        "  ldp x19, x20, [sp, #16]\n  ldp x21, x22, [sp, #32]\n"
        "  ldp x23, x24, [sp, #48]\n  ldp x25, x26, [sp, #64]\n"
        "  ldp x27, x28, [sp, #80]\n"
        "  ldp d8, d9, [sp, #96]\n  ldp d10, d11, [sp, #112]\n"
        "  ldp d12, d13, [sp, #128]\n  ldp d14, d15, [sp, #144]\n"
        "  ldp x29, x30, [sp], #176\n"
        "  ret\n"
        ".size lmt_regs_call, .-lmt_regs_call\n"
        ".popsection\n");
#endif

static uint64_t regs_sched_in[2][NREGS], regs_sched_out[2][NREGS];
static uint64_t regs_coro_in[NREGS], regs_coro_out[NREGS];
static lm__coro *regs_c;

/* With the inline assembly switch, call it directly: a C function in between
 * would save and restore the registers it uses itself and hide a fault of the
 * switch. Otherwise (ucontext, ASan) go through resume/suspend. */
static void regs_resume(const uint64_t *in, uint64_t *out)
{
#ifdef LM__CORO_INLINE
    sched.running = regs_c;
    lmt_regs_call(in, out, (void (*)(void))lm__ctx_switch, &sched.ctx, regs_c);
    sched.running = NULL;
#else
    lmt_regs_call(in, out, (void (*)(void))lm__coro_resume, &sched, regs_c);
#endif
}

static void regs_suspend(const uint64_t *in, uint64_t *out)
{
#ifdef LM__CORO_INLINE
    lmt_regs_call(in, out, (void (*)(void))lm__ctx_switch, regs_c, &sched.ctx);
#else
    lmt_regs_call(in, out, (void (*)(void))lm__coro_suspend, &sched, NULL);
#endif
}

static void regs_body(void *arg)
{
    (void)arg;
    regs_suspend(regs_coro_in, regs_coro_out);
    lm__coro_exit(&sched);
}

static void regs_expect(const uint64_t *want, const uint64_t *got, const char *who)
{
    for (int i = 0; i < NREGS; i++)
        cr_expect_eq(got[i], want[i], "%s: %s is %#llx after the switch, was %#llx", who,
                     reg_name[i], (unsigned long long)got[i], (unsigned long long)want[i]);
}

Test(coro, callee_saved_registers_survive_switches_one_by_one)
{
    /* A different value in every register on every side and every pass,
     * none of them zero (the value a new coroutine starts with). */
    for (int i = 0; i < NREGS; i++) {
        uint64_t r = 0x0101010101010101ull * (uint64_t)(i + 1);
        regs_sched_in[0][i] = r ^ 0xA000000000000000ull;
        regs_sched_in[1][i] = r ^ 0xB000000000000000ull;
        regs_coro_in[i] = r ^ 0xC000000000000000ull;
    }
    lm__coro_sched_init(&sched, 0);
    regs_c = lm__coro_new(&sched, regs_body, NULL);
    cr_assert_not_null(regs_c);
    regs_resume(regs_sched_in[0], regs_sched_out[0]); /* to its suspend */
    regs_expect(regs_sched_in[0], regs_sched_out[0], "scheduler, first switch back");
    regs_resume(regs_sched_in[1], regs_sched_out[1]); /* it exits */
    regs_expect(regs_sched_in[1], regs_sched_out[1], "scheduler, second switch back");
    regs_expect(regs_coro_in, regs_coro_out, "coroutine, resumed");
    lm__coro_free(&sched, regs_c);
    lm__coro_sched_destroy(&sched);
}
#endif /* HAVE_REGS_CALL */

/* The floating-point rounding mode is part of a coroutine's state (the ABIs
 * let a callee rely on it across a call, and a switch is a call): one task
 * that changes it must neither leak it into the scheduler nor lose it while
 * it waits. x86-64 keeps it in MXCSR and the x87 control word, aarch64 in
 * FPCR; each switch must save and restore it. */
static int round_seen;
static void rounding(void *arg)
{
    (void)arg;
    fesetround(FE_UPWARD);
    lm__coro_suspend(&sched);
    round_seen = fegetround();
    lm__coro_exit(&sched);
}

Test(coro, rounding_mode_belongs_to_each_coroutine)
{
    cr_assert_eq(fesetround(FE_TONEAREST), 0);
    lm__coro_sched_init(&sched, 0);
    lm__coro *c = lm__coro_new(&sched, rounding, NULL);
    lm__coro_resume(&sched, c);
    int back = fegetround();
    fesetround(FE_TOWARDZERO);
    lm__coro_resume(&sched, c);
    int after = fegetround();
    fesetround(FE_TONEAREST);
    cr_expect_eq(back, FE_TONEAREST, "the coroutine's rounding mode leaked into the scheduler");
    cr_expect_eq(round_seen, FE_UPWARD, "the coroutine lost its rounding mode while suspended");
    cr_expect_eq(after, FE_TOWARDZERO, "the scheduler lost its rounding mode");
    lm__coro_free(&sched, c);
    lm__coro_sched_destroy(&sched);
}

/* Many coroutines, each suspended at the bottom of a recursion (deep stacks,
 * live floating-point values in every frame), resumed round-robin: every
 * result must equal the same computation run without switching. */
#define MANY 200
#define MANY_STEPS 12
static bool dive_switches;
static double dive(int depth, double x)
{
    volatile double pad[24]; /* a real frame on each level */
    pad[depth % 24] = x * 0.5;
    if (depth == 0) {
        if (dive_switches)
            lm__coro_suspend(&sched);
        return x + pad[0];
    }
    double y = dive(depth - 1, x * 1.25 + depth);
    return y - x / 3.0 + pad[depth % 24];
}

static double many_work(int k)
{
    double acc = k + 0.5;
    for (int step = 0; step < MANY_STEPS; step++)
        acc = acc * 0.75 + dive(1 + (k + step) % 40, acc);
    return acc;
}

static double many_result[MANY];
static bool many_done[MANY];
static void many_body(void *arg)
{
    int k = (int)(intptr_t)arg;
    many_result[k] = many_work(k);
    many_done[k] = true;
    lm__coro_exit(&sched);
}

Test(coro, many_deep_coroutines_interleaved_keep_their_values)
{
    lm__coro_sched_init(&sched, 0);
    static lm__coro *cs[MANY];
    for (int k = 0; k < MANY; k++) {
        cs[k] = lm__coro_new(&sched, many_body, (void *)(intptr_t)k);
        cr_assert_not_null(cs[k]);
        many_done[k] = false;
    }
    dive_switches = true;
    int left = MANY;
    while (left > 0) {
        for (int k = 0; k < MANY; k++) {
            if (cs[k] == NULL)
                continue;
            lm__coro_resume(&sched, cs[k]);
            if (many_done[k]) {
                lm__coro_free(&sched, cs[k]);
                cs[k] = NULL;
                left--;
            }
        }
    }
    dive_switches = false;
    for (int k = 0; k < MANY; k++) {
        double want = many_work(k);
        cr_expect(many_result[k] == want, "coroutine %d: %.17g, without switches %.17g", k,
                  many_result[k], want);
    }
    cr_assert_eq(sched.live, 0);
    lm__coro_sched_destroy(&sched);
}

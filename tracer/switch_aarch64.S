/*
 * switch_aarch64.S: the context switch for AArch64 (AAPCS64).
 *
 *   void lm__ctx_switch(struct lm__ctx *from, struct lm__ctx *to);
 *
 * Saves exactly what AAPCS64 says a called function must preserve, on the
 * stack being left: x19-x28, the frame pointer x29, the link register x30
 * (where this call returns), the low 64 bits d8-d15 of v8-v15 (the upper
 * halves and v0-v7, v16-v31 are caller-saved), and the floating-point
 * control register FPCR (rounding mode, flush-to-zero, default NaN: a callee
 * that changes them must put them back, so one task's fesetround() must not
 * reach another task; x86-64 keeps MXCSR for the same reason). sp itself is
 * what goes into from->sp. Then it resumes `to` the same way in reverse.
 * Everything else (x0-x18, the flags, FPSR's sticky exception bits) is
 * caller-saved: the C compiler has already spilled what it needs before the
 * call, so a switch costs two dozen instructions and no system call.
 *
 * A suspended context's stack, as lm__ctx_switch leaves it (176 bytes,
 * 16-byte aligned as AAPCS64 requires of sp at all times; addresses grow
 * upwards; ctx->sp points at the bottom line; each cell is 8 bytes):
 *
 *      +-----------+-----------+  higher addresses
 *      | fpcr      | (unused)  |  +160  FPCR (only its low 32 bits mean anything)
 *      | d14       | d15       |  +144
 *      | d12       | d13       |  +128
 *      | d10       | d11       |  +112
 *      | d8        | d9        |  +96
 *      | x29 (fp)  | x30 (lr)  |  +80   x30 = where lm__ctx_switch returns
 *      | x27       | x28       |  +64
 *      | x25       | x26       |  +48
 *      | x23       | x24       |  +32
 *      | x21       | x22       |  +16
 *      | x19       | x20       |  +0
 *      +-----------+-----------+  <- ctx->sp
 *
 * A new coroutine gets this picture built by coro.c with x30 = lm__ctx_boot,
 * x19 = the entry function, x20 = its argument, x29 = 0 (ends backtraces)
 * and fpcr = 0 (Linux's initial FPCR: round to nearest, no traps); the first
 * switch into it "returns" into lm__ctx_boot, which calls x19(x20).
 *
 * tests/test_coro.c checks every register named here one by one
 * (callee_saved_registers_survive_switches_one_by_one) and the rounding mode
 * (rounding_mode_belongs_to_each_coroutine); `make cross-check` runs them
 * under qemu-aarch64. Keep the offsets here, the picture and coro.c's first
 * frame in step.
 */
#if defined(__aarch64__) && !defined(LM_CORO_UCONTEXT)

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define LM_BTI_C hint #34
#else
#define LM_BTI_C
#endif

    .text
    .p2align 4
    .globl lm__ctx_switch
    .hidden lm__ctx_switch
    .type lm__ctx_switch, %function
lm__ctx_switch:
    LM_BTI_C
    sub     sp, sp, #176
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x2, fpcr
    str     x2, [sp, #160]
    mov     x2, sp
    str     x2, [x0]            /* from->sp */
    ldr     x2, [x1]            /* to->sp */
    mov     sp, x2
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    /* Writing FPCR can stall the pipeline on some cores, and nearly every
     * switch finds it unchanged: write it only when it differs. */
    ldr     x2, [sp, #160]
    mrs     x3, fpcr
    cmp     x2, x3
    b.eq    1f
    msr     fpcr, x2
1:  add     sp, sp, #176
    ret
    .size lm__ctx_switch, .-lm__ctx_switch

    .p2align 4
    .globl lm__ctx_boot
    .hidden lm__ctx_boot
    .type lm__ctx_boot, %function
lm__ctx_boot:
    LM_BTI_C
    mov     x0, x20
    blr     x19
    brk     #0                  /* the entry function never returns */
    .size lm__ctx_boot, .-lm__ctx_boot

#endif

#if defined(__linux__) && defined(__ELF__)
    .section .note.GNU-stack,"",%progbits
#endif

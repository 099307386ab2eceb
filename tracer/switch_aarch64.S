/*
 * switch_aarch64.S: the context switch for AArch64 (AAPCS64).
 *
 *   void lm__ctx_switch(struct lm__ctx *from, struct lm__ctx *to);
 *
 * Saves only the callee-saved registers (x19-x28, the frame pointer x29, the
 * link register x30 and the low halves d8-d15 of v8-v15) on the stack being
 * left, stores that stack pointer in from->sp, and resumes `to` in reverse.
 *
 * A suspended context's stack (160 bytes, 16-byte aligned; ctx->sp points
 * at the bottom line):
 *
 *      +-----------+-----------+  higher addresses
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
 * x19 = the entry function and x20 = its argument.
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
    sub     sp, sp, #160
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
    mov     x2, sp
    str     x2, [x0]
    ldr     x2, [x1]
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
    add     sp, sp, #160
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

/*
 * switch_x86_64.S: the context switch for x86-64 (System V ABI).
 *
 *   void lm__ctx_switch(struct lm__ctx *from, struct lm__ctx *to);
 *
 * Saves only what the ABI says a called function must preserve (rbx, rbp,
 * r12-r15, and the MXCSR / x87 control words), on the stack being left, then
 * stores that stack pointer in from->sp and resumes `to` the same way in
 * reverse. Everything else is caller-saved, so the C compiler has already
 * spilled what it needs before the call: this is why a switch costs a dozen
 * instructions and no system call.
 *
 * A suspended context's stack, as lm__ctx_switch leaves it (addresses grow
 * upwards; ctx->sp points at the bottom line):
 *
 *      +-----------------------+  higher addresses
 *      | return address        |  where lm__ctx_switch returns to
 *      | rbp                   |
 *      | rbx                   |
 *      | r12                   |
 *      | r13                   |
 *      | r14                   |
 *      | r15                   |
 *      | fpucw:16 | mxcsr:32   |  8 bytes: mxcsr at +0, x87 control at +4
 *      +-----------------------+  <- ctx->sp
 *
 * A new coroutine gets the same picture built by coro.c, with the return
 * address pointing at lm__ctx_boot, r12 = the entry function and r13 = its
 * argument; lm__ctx_boot calls r12(r13) with a 16-byte aligned stack.
 */
#if defined(__x86_64__) && !defined(LM_CORO_UCONTEXT)

#ifdef __CET__
#define LM_ENDBR endbr64
#else
#define LM_ENDBR
#endif

    .text
    .p2align 4
    .globl lm__ctx_switch
    .hidden lm__ctx_switch
    .type lm__ctx_switch, @function
lm__ctx_switch:
    LM_ENDBR
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movq    %rsp, (%rdi)        /* from->sp */
    movq    (%rsi), %rsp        /* to->sp */
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .size lm__ctx_switch, .-lm__ctx_switch

    .p2align 4
    .globl lm__ctx_boot
    .hidden lm__ctx_boot
    .type lm__ctx_boot, @function
lm__ctx_boot:
    LM_ENDBR
    movq    %r13, %rdi
    callq   *%r12
    ud2                         /* the entry function never returns */
    .size lm__ctx_boot, .-lm__ctx_boot

#endif

#if defined(__linux__) && defined(__ELF__)
    .section .note.GNU-stack,"",%progbits
#endif

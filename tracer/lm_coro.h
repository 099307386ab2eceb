/*
 * lm_coro.h: stackful coroutines and their stack pool (coro.c and the
 * switch_*.S files). Private to the runtime (loop.c, task.c); never installed.
 *
 * A coroutine is a stack plus a saved context. Its control block lives at the
 * top of its own stack mapping, so making one allocates nothing beyond the
 * stack, and a recycled stack brings its control block with it.
 *
 *   high addresses  +--------------------------------+  <- end of the mapping
 *                   | struct lm__coro (control block)|
 *                   +--------------------------------+  <- initial stack top
 *                   | the coroutine's frames, growing |     (16-byte aligned)
 *                   | downwards ...                   |
 *                   |                                 |
 *                   +--------------------------------+  <- lo (usable bottom)
 *                   | guard page (no access)          |  a stack overflow faults
 *   low addresses   +--------------------------------+  <- start of the mapping
 *
 * Which switch is used is chosen at build time: the hand-written assembly
 * for x86-64 and aarch64, or ucontext everywhere else and whenever
 * LM_CORO_UCONTEXT is defined (make CORO=ucontext). All three are tested:
 * natively, under qemu-aarch64 (make cross-check) and with make
 * test-ucontext. A port to another architecture adds its macro below, a
 * switch_ARCH.S with its stack picture, and its first frame in coro.c
 * (README "Platforms").
 */
#ifndef LM_CORO_H
#define LM_CORO_H

#include <stdbool.h>
#include <stddef.h>

#if !defined(LM_CORO_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__)
#define LM_CORO_UCONTEXT 1
#endif

#ifdef LM_CORO_UCONTEXT
#include <ucontext.h>

struct lm__ctx {
    ucontext_t uc;
};
#else
/* The assembly saves the callee-saved registers on the stack being left,
 * so a context is nothing but the saved stack pointer. */
struct lm__ctx {
    void *sp;
};
#endif

/* Internal, so hidden: why, in lm_internal.h. */
#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility push(hidden)
#endif

typedef struct lm__ctx lm__ctx;
typedef struct lm__coro lm__coro;
typedef struct lm__slab lm__slab;

/* The scheduler side: the loop's own context plus the stack pool. One per
 * loop; it lives inside struct lm_loop. */
typedef struct lm__coro_sched {
    lm__ctx ctx;             /* the loop's context while a coroutine runs */
    lm__coro *running;       /* the coroutine running now, or NULL */
    /* Stack pool: a LIFO of stacks ready for reuse (the most recently used
     * one is still warm in the cache and already backed by pages), doubly
     * linked so a whole slab's stacks can leave it when the slab is unmapped.
     * Stacks are carved from slabs (one mmap for slab_stacks stacks), so a
     * burst of n new tasks costs n/slab_stacks mmaps, not n. */
    lm__coro *free_list;
    size_t nfree;
    size_t max_free;         /* a slab with no stack in use is unmapped when
                                the pool would still keep this many */
    lm__slab *slabs;         /* every mapped slab (doubly linked) */
    lm__slab *carving;       /* the slab new stacks are carved from */
    size_t slab_stacks;      /* stacks per slab */
    size_t stack_size;       /* usable bytes per stack (page multiple) */
    size_t map_size;         /* bytes per mapping, guard page included */
    size_t page;
    bool no_batch_guard;     /* process_madvise refused a guard batch:
                                install guards one stack at a time */
    size_t live;             /* stacks handed out and not returned */
    size_t mapped;           /* mappings that exist (live + pooled) */
    /* AddressSanitizer's view of the thread stack the loop runs on. */
    void *asan_fake;
    const void *asan_bottom;
    size_t asan_size;
} lm__coro_sched;

/* LOOPMAID_STACK in bytes; 0 when unset, (size_t)-1 when bad (a message
 * on stderr when report). lm_loop_new fails on a bad one. */
size_t lm__env_stack_size(bool report);
/* Prepares s. stack_size 0 means LOOPMAID_STACK from the environment
 * (bytes, or with a K/M suffix), else 64 KiB. */
void lm__coro_sched_init(lm__coro_sched *s, size_t stack_size);
/* Unmaps every pooled stack. Stacks still handed out must be freed first. */
void lm__coro_sched_destroy(lm__coro_sched *s);

/*
 * A coroutine that will run fn(arg) when first resumed. fn must never return:
 * it ends with lm__coro_exit(). Takes a stack from the pool or maps one
 * (mmap, guard page); NULL when the system refuses memory. O(1) from the pool.
 */
lm__coro *lm__coro_new(lm__coro_sched *s, void (*fn)(void *), void *arg);
/* Returns c's stack to the pool (and unmaps its slab when no stack of it is
 * in use and the pool holds enough others). c must not be running, and must
 * have exited or never started. */
void lm__coro_free(lm__coro_sched *s, lm__coro *c);

#if defined(__SANITIZE_ADDRESS__)
#define LM__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LM__ASAN 1
#endif
#endif

#ifndef LM_CORO_UCONTEXT
/* The assembly (switch_x86_64.S, switch_aarch64.S, each with a picture of
 * the context it saves): lm__ctx_switch saves the callee-saved registers on
 * the stack being left, stores its stack pointer in from and resumes to.
 * lm__ctx_boot is never called from C: it is the return address coro.c
 * puts in a new coroutine's first frame, and calls the entry found there.
 * (With ucontext, coro.c has a static lm__ctx_switch of its own.) */
void lm__ctx_switch(lm__ctx *from, lm__ctx *to);
void lm__ctx_boot(void);
#endif

#if !defined(LM_CORO_UCONTEXT) && !defined(LM__ASAN)
/* The assembly switch with nothing to tell a sanitizer: resume and suspend
 * are inline, so the frames on either side of a switch are one fewer each.
 * That matters more than the call itself: every `ret` after a switch lands
 * somewhere the CPU's return predictor did not expect (it remembers the
 * other stack's calls), so each frame between the switch and the code that
 * waits costs a mispredicted return per switch. This relies on ctx being the
 * first member of struct lm__coro (coro.c checks it). */
#define LM__CORO_INLINE 1

/* From the scheduler: runs c until it suspends or exits. */
static inline void lm__coro_resume(lm__coro_sched *s, lm__coro *c)
{
    s->running = c;
    lm__ctx_switch(&s->ctx, (lm__ctx *)(void *)c);
    s->running = NULL;
}

/* From inside the running coroutine: back to the scheduler. Returns when
 * the scheduler resumes it. */
static inline void lm__coro_suspend(lm__coro_sched *s)
{
    lm__ctx_switch((lm__ctx *)(void *)s->running, &s->ctx);
}

/* From inside the running coroutine: straight on to another one (which has
 * run before), without passing through the scheduler. Returns when the
 * scheduler or another coroutine resumes this one. */
static inline void lm__coro_transfer(lm__coro_sched *s, lm__coro *to)
{
    lm__coro *from = s->running;
    s->running = to;
    lm__ctx_switch((lm__ctx *)(void *)from, (lm__ctx *)(void *)to);
}
#else
/* From the scheduler: runs c until it suspends or exits. */
void lm__coro_resume(lm__coro_sched *s, lm__coro *c);
/* From inside the running coroutine: back to the scheduler. Returns when
 * the scheduler (or another coroutine) resumes it. */
void lm__coro_suspend(lm__coro_sched *s);
/* From inside the running coroutine: straight on to another one (which has
 * run before), without passing through the scheduler. */
void lm__coro_transfer(lm__coro_sched *s, lm__coro *to);
#endif
/* From inside the running coroutine, for the last time. */
_Noreturn void lm__coro_exit(lm__coro_sched *s);

/* The usable stack bounds of c (for tests and diagnostics). */
void lm__coro_stack(const lm__coro *c, void **lo, size_t *size);

#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility pop
#endif

#endif /* LM_CORO_H */

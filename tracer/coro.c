/*
 * coro.c: stackful coroutines for the task runtime, and their stack pool.
 *
 * The picture of a stack mapping is in lm_coro.h; the pictures of a saved
 * context are in switch_x86_64.S and switch_aarch64.S. This file builds the
 * first frame of a new coroutine, talks to the sanitizers, and keeps stacks
 * for reuse so that spawning a task costs no system call once the pool is
 * warm.
 *
 * Memory: a stack is mapped with MAP_NORESERVE, so only the pages a task
 * actually touches use memory (typically one or two 4 KiB pages for a task
 * that sleeps), however large the virtual size.
 *
 * Stacks come from slabs: one mapping of sched->slab_stacks stacks (about
 * 4 MiB of address space), each stack with its own guard page, carved one at
 * a time so a stack's pages are touched only when a task gets it. A burst of
 * tasks thus costs one mmap per slab plus one madvise (the guard) per new
 * stack, and nothing per reused stack. A slab whose stacks are all back in
 * the pool is unmapped as a whole (one munmap) once the pool holds at least
 * max_free other stacks, so a burst's memory goes back to the system.
 */
#include "lm_coro.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- sanitizer and valgrind glue ---------------------------------------- */

/* LM__ASAN comes from lm_coro.h. */
#ifdef LM__ASAN
/* Declared here rather than through <sanitizer/common_interface_defs.h> so
 * the build does not depend on where a compiler keeps that header. */
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom,
                                    size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                     const void **bottom_old, size_t *size_old);
#define LM__ASAN_START(save, bottom, size)                                     \
    __sanitizer_start_switch_fiber((save), (bottom), (size))
#define LM__ASAN_FINISH(save, bottom, size)                                    \
    __sanitizer_finish_switch_fiber((save), (bottom), (size))
#else
#define LM__ASAN_START(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define LM__ASAN_FINISH(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define LM__VALGRIND 1
#endif
#endif

/* MADV_GUARD_INSTALL (Linux 6.13) makes a guard page without splitting the
 * mapping into two VMAs; older kernels refuse it and mprotect is used. This
 * matters for 100,000 tasks: vm.max_map_count is 65530 by default. */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#ifndef MAP_STACK
#define MAP_STACK 0
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

/* ---- the control block -------------------------------------------------- */

struct lm__coro {
    lm__ctx ctx;
    void (*fn)(void *);
    void *arg;
    lm__coro_sched *sched;
    char *map;            /* start of the mapping (the guard page) */
    char *lo;             /* lowest usable byte */
    size_t size;          /* usable bytes, lo .. initial stack top */
    lm__coro *next_free;  /* in sched->free_list while pooled */
    lm__coro *prev_free;
    lm__slab *slab;       /* the mapping this stack was carved from */
    void *asan_fake;      /* ASan's fake stack of this coroutine */
    unsigned vg_id;       /* valgrind's stack id */
};

/* The control block takes the top of the mapping, rounded to 64 bytes so the
 * stack top below it is 16-byte aligned as both ABIs require. */
#define LM__CB_SIZE ((sizeof(lm__coro) + 63u) & ~(size_t)63u)

/* One mapping holding up to sched->slab_stacks stacks, back to back, each
 * laid out as in lm_coro.h. The header is malloc'd: the mapping's first page
 * is stack 0's guard. */
struct lm__slab {
    char *map;
    bool guarded;         /* every stack's guard page is already installed */
    size_t carved;        /* stacks carved so far (from the bottom) */
    size_t live;          /* carved stacks handed out now */
    lm__slab *next, *prev;
};

/* Address space per slab; stacks are NORESERVE, so this costs no memory. */
#define LM__SLAB_BYTES ((size_t)4 << 20)

#ifdef LM_CORO_UCONTEXT
static _Thread_local lm__coro *boot_coro;

/* Stands in for the assembly switch under its name (static here, so the
 * lm__ prefix is the exception): the code below is the same for both. */
static void lm__ctx_switch(lm__ctx *from, lm__ctx *to)
{
    swapcontext(&from->uc, &to->uc);
}
#endif

/* lm_coro.h's inline resume/suspend hand a coroutine to the switch as its
 * context. */
_Static_assert(offsetof(lm__coro, ctx) == 0, "ctx must come first in lm__coro");

/* ---- the pool ----------------------------------------------------------- */

/* LOOPMAID_STACK: bytes, or with a K/M suffix; 0 when unset or empty,
 * (size_t)-1 for a bad value (reported on stderr when `report`). */
size_t lm__env_stack_size(bool report)
{
    const char *e = getenv("LOOPMAID_STACK");
    if (e == NULL || *e == '\0')
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(e, &end, 10);
    bool ok = errno == 0 && end != e && *e >= '0' && *e <= '9';
    if (ok && (*end == 'k' || *end == 'K')) {
        v *= 1024ull;
        end++;
    } else if (ok && (*end == 'm' || *end == 'M')) {
        v *= 1024ull * 1024ull;
        end++;
    }
    ok = ok && *end == '\0' && v >= 16 * 1024 && v <= (1ull << 32);
    if (!ok) {
        if (report)
            fprintf(stderr, "loopmaid: LOOPMAID_STACK=%s: expected a stack size "
                            "from 16K to 4096M (bytes, or with K or M)\n", e);
        return (size_t)-1;
    }
    return (size_t)v;
}

void lm__coro_sched_init(lm__coro_sched *s, size_t stack_size)
{
    memset(s, 0, sizeof *s);
    long pg = sysconf(_SC_PAGESIZE);
    s->page = pg > 0 ? (size_t)pg : 4096;
    if (stack_size == 0) {
        stack_size = lm__env_stack_size(false); /* lm_loop_new reported it */
        if (stack_size == (size_t)-1)
            stack_size = 0;
    }
    if (stack_size == 0) {
#ifdef LM__ASAN
        /* ASan's redzones make frames several times larger. */
        stack_size = 256 * 1024;
#else
        stack_size = 64 * 1024;
#endif
    }
    if (stack_size < 16 * 1024)
        stack_size = 16 * 1024;
    stack_size = (stack_size + s->page - 1) & ~(s->page - 1);
    s->stack_size = stack_size;
    s->map_size = stack_size + s->page;
    s->max_free = 256;
    s->slab_stacks = LM__SLAB_BYTES / s->map_size;
    if (s->slab_stacks == 0)
        s->slab_stacks = 1;
}

/* ---- the free list (LIFO, doubly linked), O(1) -------------------------- */

static void fl_push(lm__coro_sched *s, lm__coro *c)
{
    c->prev_free = NULL;
    c->next_free = s->free_list;
    if (s->free_list != NULL)
        s->free_list->prev_free = c;
    s->free_list = c;
    s->nfree++;
}

static void fl_unlink(lm__coro_sched *s, lm__coro *c)
{
    if (c->prev_free != NULL)
        c->prev_free->next_free = c->next_free;
    else
        s->free_list = c->next_free;
    if (c->next_free != NULL)
        c->next_free->prev_free = c->prev_free;
    c->next_free = c->prev_free = NULL;
    s->nfree--;
}

/* The control block of stack i of slab b (it sits at the top of the stack). */
static lm__coro *slab_coro(const lm__coro_sched *s, const lm__slab *b, size_t i)
{
    return (lm__coro *)(void *)(b->map + (i + 1) * s->map_size - LM__CB_SIZE);
}

/* Unmaps a slab none of whose stacks is in use: its carved stacks leave the
 * pool first. One munmap; O(stacks carved). */
static void slab_unmap(lm__coro_sched *s, lm__slab *b)
{
    for (size_t i = 0; i < b->carved; i++) {
        lm__coro *c = slab_coro(s, b, i);
        fl_unlink(s, c);
#ifdef LM__VALGRIND
        VALGRIND_STACK_DEREGISTER(c->vg_id);
#endif
    }
    s->mapped -= b->carved;
    munmap(b->map, s->slab_stacks * s->map_size);
    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        s->slabs = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    if (s->carving == b)
        s->carving = NULL;
    free(b);
}

void lm__coro_sched_destroy(lm__coro_sched *s)
{
    while (s->slabs != NULL)
        slab_unmap(s, s->slabs);
    s->free_list = NULL;
    s->nfree = 0;
}

/* Installs the guard page of every stack of a new slab in as few system
 * calls as the kernel allows: process_madvise takes a vector of ranges, so a
 * slab of 61 stacks costs one call instead of 61 madvise calls (the guards
 * cannot be one range: a stack lies between each two). The calling thread is
 * named by PIDFD_SELF_THREAD, so no pidfd is opened. Kernels without it
 * (before 6.15) or without guard pages in process_madvise refuse the call;
 * then false is returned, remembered, and guards are installed per stack as
 * before. Any partial success also returns false: installing a guard twice
 * is harmless. */
#ifndef SYS_process_madvise
#ifdef __NR_process_madvise
#define SYS_process_madvise __NR_process_madvise
#endif
#endif
#define LM__PIDFD_SELF_THREAD (-10000)

#ifdef SYS_process_madvise
/* Applies advice to one page per stack of a slab, the one at first + k *
 * map_size, in calls of up to 64 ranges; false as soon as the kernel does
 * less than asked. */
static bool slab_madvise(const lm__coro_sched *s, char *first, int advice)
{
    struct iovec iov[64];
    size_t done = 0;
    while (done < s->slab_stacks) {
        size_t n = s->slab_stacks - done;
        if (n > 64)
            n = 64;
        for (size_t i = 0; i < n; i++) {
            iov[i].iov_base = first + (done + i) * s->map_size;
            iov[i].iov_len = s->page;
        }
        long r = syscall(SYS_process_madvise, LM__PIDFD_SELF_THREAD, iov, n,
                         advice, 0);
        if (r != (long)(n * s->page))
            return false;
        done += n;
    }
    return true;
}
#endif

static bool slab_guard_all(lm__coro_sched *s, char *map)
{
#ifdef SYS_process_madvise
    if (s->no_batch_guard)
        return false;
#ifdef LM__VALGRIND
    /* Valgrind (3.19 at least) does not know process_madvise and would log
     * a warning for every slab. */
    if (RUNNING_ON_VALGRIND) {
        s->no_batch_guard = true;
        return false;
    }
#endif
    if (!slab_madvise(s, map, MADV_GUARD_INSTALL)) {
        s->no_batch_guard = true;
        return false;
    }
    return true;
#else
    (void)map;
    s->no_batch_guard = true;
    return false;
#endif
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* A burst of tasks (this is not the loop's first slab) will very likely use
 * every stack of the new slab, and each first touches the top page of its
 * stack (its control block and first frames). Faulting those pages in now
 * with one process_madvise(MADV_POPULATE_WRITE) costs the same page
 * allocations without one page-fault exception per task. At most one
 * slab's top pages (about 240 KiB) go unused if the burst ends early; a
 * loop with fewer than a slab of tasks never gets here. Best effort: a
 * refusal only means the pages fault in one by one, as before. */
static void slab_prefault(lm__coro_sched *s, char *map)
{
#ifdef SYS_process_madvise
    if (s->no_batch_guard || s->mapped < s->slab_stacks)
        return;
    /* The top page of each stack: the page below the next stack's guard. */
    (void)slab_madvise(s, map + s->map_size - s->page, MADV_POPULATE_WRITE);
#else
    (void)s;
    (void)map;
#endif
}

/* Carves a fresh stack, with its guard page, from the current slab, mapping
 * a new slab when it is used up. Costs one madvise (or mprotect) per stack
 * and one mmap per slab. If the kernel refuses a guard (too many mappings),
 * the stack is still usable without one rather than failing the task. */
static lm__coro *coro_map(lm__coro_sched *s)
{
    lm__slab *b = s->carving;
    if (b == NULL || b->carved == s->slab_stacks) {
        b = malloc(sizeof *b);
        if (b == NULL)
            return NULL;
        char *m = mmap(NULL, s->slab_stacks * s->map_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                       -1, 0);
        if (m == MAP_FAILED) {
            free(b);
            return NULL;
        }
        b->map = m;
        b->guarded = slab_guard_all(s, m);
        slab_prefault(s, m);
        b->carved = 0;
        b->live = 0;
        b->prev = NULL;
        b->next = s->slabs;
        if (s->slabs != NULL)
            s->slabs->prev = b;
        s->slabs = b;
        s->carving = b;
    }
    char *m = b->map + b->carved * s->map_size;
    if (!b->guarded && madvise(m, s->page, MADV_GUARD_INSTALL) != 0)
        (void)mprotect(m, s->page, PROT_NONE);
    lm__coro *c = slab_coro(s, b, b->carved);
    memset(c, 0, sizeof *c);
    c->map = m;
    c->lo = m + s->page;
    c->size = (size_t)((char *)c - c->lo);
    c->slab = b;
    b->carved++;
#ifdef LM__VALGRIND
    c->vg_id = VALGRIND_STACK_REGISTER(c->lo, (char *)c);
#endif
    s->mapped++;
    return c;
}

#ifdef LM_CORO_UCONTEXT
static void coro_main(void);
#else
static void coro_main(void *arg);
#endif

#ifdef LM_CORO_UCONTEXT
/* Kept out of line: getcontext returns twice as far as the compiler knows,
 * which would make every local of the caller suspect. */
__attribute__((noinline)) static int uc_prepare(lm__coro *c)
{
    if (getcontext(&c->ctx.uc) != 0)
        return -1;
    c->ctx.uc.uc_stack.ss_sp = c->lo;
    c->ctx.uc.uc_stack.ss_size = c->size;
    c->ctx.uc.uc_link = NULL;
    makecontext(&c->ctx.uc, coro_main, 0);
    return 0;
}
#endif

lm__coro *lm__coro_new(lm__coro_sched *s, void (*fn)(void *), void *arg)
{
    lm__coro *c = s->free_list;
    if (c != NULL) {
        fl_unlink(s, c);
    } else {
        c = coro_map(s);
        if (c == NULL)
            return NULL;
    }
    c->slab->live++;
    c->fn = fn;
    c->arg = arg;
    c->sched = s;
    c->asan_fake = NULL;
    s->live++;

#ifdef LM_CORO_UCONTEXT
    if (uc_prepare(c) != 0) {
        lm__coro_free(s, c);
        return NULL;
    }
#else
    /* Build the frame lm__ctx_switch expects to pop (see the .S files). */
    uintptr_t top = (uintptr_t)c & ~(uintptr_t)15;
    void **sp = (void **)top;
#if defined(__x86_64__)
    *--sp = NULL;                        /* alignment: boot runs at top-16 */
    *--sp = NULL;
    *--sp = (void *)lm__ctx_boot;        /* return address */
    *--sp = NULL;                        /* rbp: ends backtraces */
    *--sp = NULL;                        /* rbx */
    *--sp = (void *)coro_main;           /* r12: called by lm__ctx_boot */
    *--sp = (void *)c;                   /* r13: its argument */
    *--sp = NULL;                        /* r14 */
    *--sp = NULL;                        /* r15 */
    /* MXCSR (all exceptions masked) and the x87 control word (double
     * extended precision, all masked): the ABI's initial values. */
    *--sp = (void *)(uintptr_t)(0x1F80u | ((uint64_t)0x037Fu << 32));
#elif defined(__aarch64__)
    sp -= 22;                            /* 176 bytes */
    memset(sp, 0, 176);                  /* x21-x28, d8-d15: 0 */
    sp[0] = (void *)coro_main;           /* x19: called by lm__ctx_boot */
    sp[1] = (void *)c;                   /* x20: its argument */
    sp[10] = NULL;                       /* x29: ends backtraces */
    sp[11] = (void *)lm__ctx_boot;       /* x30: where the switch returns */
    sp[20] = NULL;                       /* fpcr: round to nearest, no traps */
#endif
    c->ctx.sp = sp;
#endif
    return c;
}

void lm__coro_free(lm__coro_sched *s, lm__coro *c)
{
    s->live--;
    lm__slab *b = c->slab;
    b->live--;
    fl_push(s, c);
    if (b->live == 0 && s->nfree - b->carved >= s->max_free)
        slab_unmap(s, b);
}

/* ---- switching ---------------------------------------------------------- */

#ifdef LM_CORO_UCONTEXT
static void coro_main(void)
{
    lm__coro *c = boot_coro;
#else
static void coro_main(void *arg)
{
    lm__coro *c = arg;
#endif
    lm__coro_sched *s = c->sched;
    /* Completes the switch that started us, and learns the bounds of the
     * thread stack the scheduler runs on. */
    LM__ASAN_FINISH(NULL, &s->asan_bottom, &s->asan_size);
    c->fn(c->arg);
    abort(); /* fn must end with lm__coro_exit */
}

#ifndef LM__CORO_INLINE
void lm__coro_resume(lm__coro_sched *s, lm__coro *c)
{
    s->running = c;
#ifdef LM_CORO_UCONTEXT
    boot_coro = c;
#endif
    LM__ASAN_START(&s->asan_fake, c->lo, c->size);
    lm__ctx_switch(&s->ctx, &c->ctx);
    LM__ASAN_FINISH(s->asan_fake, NULL, NULL);
    s->running = NULL;
}

void lm__coro_suspend(lm__coro_sched *s)
{
    lm__coro *c = s->running;
    LM__ASAN_START(&c->asan_fake, s->asan_bottom, s->asan_size);
    lm__ctx_switch(&c->ctx, &s->ctx);
    /* Not &s->asan_bottom: what resumes us may be another coroutine
     * (lm__coro_transfer), and the scheduler's bounds were learnt once and
     * for all in coro_main. */
    LM__ASAN_FINISH(c->asan_fake, NULL, NULL);
}

void lm__coro_transfer(lm__coro_sched *s, lm__coro *to)
{
    lm__coro *c = s->running;
    s->running = to;
    LM__ASAN_START(&c->asan_fake, to->lo, to->size);
    lm__ctx_switch(&c->ctx, &to->ctx);
    LM__ASAN_FINISH(c->asan_fake, NULL, NULL);
}
#endif /* LM__CORO_INLINE */

_Noreturn void lm__coro_exit(lm__coro_sched *s)
{
    lm__coro *c = s->running;
    /* NULL: this fiber is leaving for good, so ASan frees its fake stack. */
    LM__ASAN_START(NULL, s->asan_bottom, s->asan_size);
    lm__ctx_switch(&c->ctx, &s->ctx);
    abort(); /* an exited coroutine is never resumed */
}

void lm__coro_stack(const lm__coro *c, void **lo, size_t *size)
{
    *lo = c->lo;
    *size = c->size;
}

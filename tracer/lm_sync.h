/*
 * lm_sync.h: the waiter machinery shared by sync.c (futures, events, locks,
 * semaphores), queue.c and cond.c (conditions, barriers). Private to those
 * three files; written against lm_internal.h only.
 *
 * A task that has to wait links a waiter (struct lm__sw, on its own stack,
 * valid while it is parked) into the primitive's list and parks; whoever
 * satisfies it picks it, records what it hands over in the waiter, and wakes
 * it. Each primitive keeps up to two lists:
 *
 *   waiters  tasks parked and not chosen yet, in arrival order (FIFO);
 *   woken    tasks a waker has already chosen (handed the lock, a unit, a
 *            queue slot or item, a notification) that have not run yet.
 *
 * The woken list exists for lm_*_free: freeing a primitive flags every waiter
 * on both lists `closed`, so they return LM_ECLOSED without touching the
 * freed memory.
 *
 * Skipping the cancelled. A parked task that is cancelled is made pending by
 * the runtime at once but unlinks itself only when it runs. Wakers skip such
 * a waiter (its task is no longer `awaiting`), so a release, a put or a
 * notify reaches the first waiter that still waits: a cancelled waiter never
 * swallows a wakeup (asyncio 3.12+: `_wake_up_first` / `_wakeup_next` skip
 * done futures).
 *
 * Cancellation wins (asyncio). A waiter that was chosen and then cancelled
 * before it ran gets LM_ECANCELED from sw_wait, exactly as asyncio raises
 * CancelledError at an await whose future was already completed when the
 * task's cancel() came. The primitive then gives what it had handed over to
 * the next waiter (the lock, the unit, the item, the notification), so
 * nothing is lost.
 */
#ifndef LM_SYNC_H
#define LM_SYNC_H

#include "lm_internal.h"

/* Internal, so hidden: why, in lm_internal.h. */
#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility push(hidden)
#endif

/* A task waiting on a primitive. Lives on the waiting task's stack. */
typedef struct lm__sw {
    lm__list node;  /* in the primitive's waiters or woken list */
    lm_task *task;
    void *item;     /* future value / queue item handed over */
    uint64_t seq;   /* futures: arrival order among waiters and callbacks */
    int status;     /* what the waker gave: 0, an error, or LM_ECLOSED */
    bool woken;     /* a waker chose this waiter */
    bool closed;    /* the primitive is gone: do not touch it again */
} lm__sw;

static inline void lm__sw_init(lm__sw *w, lm_task *t, void *item)
{
    lm__list_init(&w->node);
    w->task = t;
    w->item = item;
    w->seq = 0;
    w->status = 0;
    w->woken = false;
    w->closed = false;
}

static inline uint64_t lm__sw_waker(void)
{
    lm_task *cur = lm__current();
    return cur != NULL ? cur->id : 0;
}

/* Still parked: not yet made pending by a cancel (or anything else). */
static inline bool lm__sw_live(const lm__sw *w)
{
    return w->task->state == LM_STATE_AWAITING;
}

/* The first waiter of `list` that still waits, or NULL. Cancelled waiters
 * are stepped over (they unlink themselves when they run). */
static inline lm__sw *lm__sw_first_live(lm__list *list)
{
    for (lm__list *n = list->next; n != list; n = n->next) {
        lm__sw *w = LM__CONTAINER_OF(n, lm__sw, node);
        if (lm__sw_live(w))
            return w;
    }
    return NULL;
}

/*
 * Chooses w: moves it to `woken` (or off any list when woken is NULL),
 * records status and item, and makes its task pending (by: `by`).
 */
static inline void lm__sw_choose(lm__sw *w, lm__list *woken, uint8_t by,
                                 int status, void *item)
{
    lm__list_remove(&w->node);
    if (woken != NULL)
        lm__list_push_back(woken, &w->node);
    w->woken = true;
    w->status = status;
    w->item = item;
    lm__wake(w->task, by, lm__sw_waker(), 0);
}

/* Chooses the first live waiter of `from`; returns it, or NULL. */
static inline lm__sw *lm__sw_wake_first(lm__list *from, lm__list *woken,
                                        uint8_t by, int status, void *item)
{
    lm__sw *w = lm__sw_first_live(from);
    if (w != NULL)
        lm__sw_choose(w, woken, by, status, item);
    return w;
}

/* Flags every waiter of a list as closed (the primitive is being freed) and
 * wakes those still parked with LM_ECLOSED. O(waiters). */
static inline void lm__sw_close_all(lm__list *list, bool parked, uint8_t by)
{
    lm__list *n;
    while ((n = lm__list_pop_front(list)) != NULL) {
        lm__sw *w = LM__CONTAINER_OF(n, lm__sw, node);
        w->closed = true;
        if (parked) {
            w->woken = true;
            w->status = LM_ECLOSED;
            lm__wake(w->task, by, lm__sw_waker(), 0);
        }
    }
}

/*
 * Parks the current task at the end of `list` (FIFO) with the given `on`
 * until a waker chooses it or it is cancelled; returns 0 or LM_ECANCELED
 * with w unlinked from whatever list it ended in. LM_ECANCELED with
 * w->woken set means: chosen, then cancelled before it ran (cancellation
 * wins, see above); the caller passes on what it was handed. A wake that
 * did not come from a waker of this primitive (the contract does not
 * produce one, but it costs nothing to tolerate) parks again at the same
 * place in the line.
 * Inlined into every wait: one frame fewer between the code that waits and
 * the context switch (see lm_coro.h).
 */
static inline __attribute__((always_inline)) int lm__sw_wait(lm__list *list,
                                                             lm__sw *w,
                                                             uint8_t on)
{
    lm__reason r = {0};
    r.on = on;
    r.fd = -1;
    lm__list_push_back(list, &w->node);
    int rc;
    do {
        rc = lm__park(&r, -1);
    } while (rc == 0 && !w->woken);
    lm__list_remove(&w->node);
    if (rc == 0 && w->task->cancel_pending) {
        w->task->cancel_pending = false; /* delivered here */
        rc = LM_ECANCELED;
    }
    return rc;
}

/* Locks, for cond.c: acquire / release with the trace tokens of the caller
 * (a condition re-acquiring its lock still shows `on: lock`). */
int lm__lock_acquire_on(lm_lock *l, uint8_t on);
bool lm__lock_locked(const lm_lock *l);

#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility pop
#endif

#endif /* LM_SYNC_H */

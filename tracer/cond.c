/*
 * cond.c: condition variables and barriers (asyncio.Condition, Barrier).
 *
 * Both are written against lm_sync.h (read it first). A condition waits on
 * its own FIFO list and re-acquires its lock through the lock's ordinary
 * line. A barrier is asyncio's algorithm (Lib/asyncio/locks.py: a state
 * machine filling -> draining -> filling, with resetting and broken) on a
 * waiter list of its own: asyncio's Barrier guards itself with a Condition
 * whose lock is never contended (no task suspends while holding it), so
 * leaving the lock out changes no order and no outcome.
 */
#include "lm_sync.h"

#include <limits.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* Conditions                                                                */
/* ------------------------------------------------------------------------ */

struct lm_cond {
    lm_lock *lock;
    bool own_lock;   /* made by lm_cond_new(NULL): freed with the condition */
    lm__list waiters, woken;
};

lm_cond *lm_cond_new(lm_lock *lock)
{
    lm_cond *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (lock == NULL) {
        if ((lock = lm_lock_new()) == NULL) {
            free(c);
            return NULL;
        }
        c->own_lock = true;
    }
    c->lock = lock;
    lm__list_init(&c->waiters);
    lm__list_init(&c->woken);
    return c;
}

void lm_cond_free(lm_cond *c)
{
    if (c == NULL)
        return;
    lm__sw_close_all(&c->waiters, true, LM__BY_CONDITION);
    lm__sw_close_all(&c->woken, false, LM__BY_CONDITION);
    if (c->own_lock)
        lm_lock_free(c->lock);
    free(c);
}

lm_lock *lm_cond_lock(lm_cond *c) { return c != NULL ? c->lock : NULL; }
int lm_cond_acquire(lm_cond *c) { return c != NULL ? lm_lock_acquire(c->lock) : LM_EINVAL; }
int lm_cond_release(lm_cond *c) { return c != NULL ? lm_lock_release(c->lock) : LM_EINVAL; }
int lm_cond_locked(const lm_cond *c) { return c != NULL && lm__lock_locked(c->lock); }

/* Wakes up to n waiters that still wait, in arrival order. */
static void cond_notify(lm_cond *c, size_t n)
{
    while (n-- > 0 &&
           lm__sw_wake_first(&c->waiters, &c->woken, LM__BY_CONDITION, 0, NULL) != NULL)
        ;
}

int lm_cond_notify(lm_cond *c, size_t n)
{
    if (c == NULL)
        return LM_EINVAL;
    if (!lm__lock_locked(c->lock))
        return LM_ESTATE;
    cond_notify(c, n);
    return 0;
}

int lm_cond_notify_all(lm_cond *c) { return lm_cond_notify(c, SIZE_MAX); }

int lm_cond_wait(lm_cond *c)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (c == NULL)
        return LM_EINVAL;
    if (!lm__lock_locked(c->lock))
        return LM_ESTATE;
    lm_lock *l = c->lock;
    lm_lock_release(l);
    lm__sw w;
    lm__sw_init(&w, self, NULL);
    int rc = lm__sw_wait(&c->waiters, &w, LM__ON_CONDITION);
    if (w.closed)
        return rc == LM_ECANCELED ? rc : LM_ECLOSED; /* c (and maybe l) gone */
    bool notified = w.woken;
    /* The lock is taken back whatever happened, also when cancelled (a
     * cancel during the re-acquire is kept and reported at the end), as
     * asyncio's wait does in its finally clause. */
    for (;;) {
        int r = lm__lock_acquire_on(l, LM__ON_LOCK);
        if (r == 0)
            break;
        if (r != LM_ECANCELED)
            return r; /* the lock was freed */
        rc = LM_ECANCELED;
    }
    /* A notification this waiter cannot use goes to the next in line, so a
     * cancel racing a notify loses no wakeup (asyncio 3.13). */
    if (rc == LM_ECANCELED && notified)
        cond_notify(c, 1);
    return rc;
}

int lm_cond_wait_for(lm_cond *c, lm_cond_pred pred, void *arg)
{
    if (c == NULL || pred == NULL)
        return LM_EINVAL;
    int r = pred(arg);
    while (r == 0) {
        int rc = lm_cond_wait(c);
        if (rc != 0)
            return rc;
        r = pred(arg);
    }
    return r;
}

/* ------------------------------------------------------------------------ */
/* Barriers                                                                  */
/* ------------------------------------------------------------------------ */

struct lm_barrier {
    unsigned parties;
    unsigned count;  /* tasks inside wait (filling, or not yet left) */
    int state;       /* lm_barrier_state */
    lm__list waiters, woken;
};

lm_barrier *lm_barrier_new(unsigned parties)
{
    if (parties == 0 || parties > INT_MAX) /* indexes are returned as int */
        return NULL;
    lm_barrier *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->parties = parties;
    b->state = LM_BARRIER_FILLING;
    lm__list_init(&b->waiters);
    lm__list_init(&b->woken);
    return b;
}

void lm_barrier_free(lm_barrier *b)
{
    if (b == NULL)
        return;
    lm__sw_close_all(&b->waiters, true, LM__BY_BARRIER);
    lm__sw_close_all(&b->woken, false, LM__BY_BARRIER);
    free(b);
}

unsigned lm_barrier_parties(const lm_barrier *b) { return b != NULL ? b->parties : 0; }
int lm_barrier_state(const lm_barrier *b) { return b != NULL ? b->state : LM_BARRIER_BROKEN; }
int lm_barrier_broken(const lm_barrier *b) { return b != NULL && b->state == LM_BARRIER_BROKEN; }

unsigned lm_barrier_n_waiting(const lm_barrier *b)
{
    return b != NULL && b->state == LM_BARRIER_FILLING ? b->count : 0;
}

static void barrier_notify_all(lm_barrier *b)
{
    while (lm__sw_wake_first(&b->waiters, &b->woken, LM__BY_BARRIER, 0, NULL) != NULL)
        ;
}

/* One condition wait: 0 when notified, LM_ECANCELED, or LM_ECLOSED (the
 * barrier was freed: *gone is set and b must not be touched). */
static int barrier_park(lm_barrier *b, lm_task *self, bool *gone)
{
    lm__sw w;
    lm__sw_init(&w, self, NULL);
    int rc = lm__sw_wait(&b->waiters, &w, LM__ON_BARRIER);
    if (w.closed) {
        *gone = true;
        return rc == LM_ECANCELED ? rc : LM_ECLOSED;
    }
    return rc;
}

int lm_barrier_wait(lm_barrier *b)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (b == NULL)
        return LM_EINVAL;
    bool gone = false;
    /* Block while the barrier drains or resets. */
    while (b->state == LM_BARRIER_DRAINING || b->state == LM_BARRIER_RESETTING) {
        int rc = barrier_park(b, self, &gone);
        if (rc != 0)
            return rc;
    }
    if (b->state == LM_BARRIER_BROKEN)
        return LM_EBROKEN;
    int index = (int)b->count++;
    int rc = index;
    if ((unsigned)index + 1 == b->parties) {
        /* The last party releases everybody. */
        b->state = LM_BARRIER_DRAINING;
        barrier_notify_all(b);
    } else {
        while (b->state == LM_BARRIER_FILLING) {
            int r = barrier_park(b, self, &gone);
            if (gone)
                return r;
            if (r != 0) {
                rc = r;
                break;
            }
        }
        if (rc >= 0 && (b->state == LM_BARRIER_BROKEN || b->state == LM_BARRIER_RESETTING))
            rc = LM_EBROKEN;
    }
    /* Leaving: the last one out ends the draining or the reset. */
    if (--b->count == 0) {
        if (b->state == LM_BARRIER_RESETTING || b->state == LM_BARRIER_DRAINING)
            b->state = LM_BARRIER_FILLING;
        barrier_notify_all(b);
    }
    return rc;
}

void lm_barrier_reset(lm_barrier *b)
{
    if (b == NULL)
        return;
    b->state = b->count > 0 ? LM_BARRIER_RESETTING : LM_BARRIER_FILLING;
    barrier_notify_all(b);
}

void lm_barrier_abort(lm_barrier *b)
{
    if (b == NULL)
        return;
    b->state = LM_BARRIER_BROKEN;
    barrier_notify_all(b);
}

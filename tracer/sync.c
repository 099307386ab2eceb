/*
 * sync.c: futures, events, locks and semaphores between tasks.
 *
 * Written against the runtime contract of lm_internal.h only, through the
 * waiter machinery of lm_sync.h (read its comment first: FIFO lists, skipping
 * cancelled waiters, cancellation wins). queue.c has the queues, cond.c the
 * conditions and barriers. Nothing on the waiting paths allocates; a done
 * callback costs one allocation when it is added.
 *
 * The semantics follow asyncio 3.12+ (Lib/asyncio/futures.py, locks.py);
 * docs/asyncio-conformance.md lists the CPython tests this is checked
 * against and every remaining deviation.
 */
#include "lm_sync.h"

#include <limits.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* Futures                                                                   */
/* ------------------------------------------------------------------------ */

/* A done callback. Waiters and callbacks are served in the order they were
 * added (one sequence number for both), as asyncio's task wakeups are just
 * done callbacks of the awaited future. */
typedef struct fcb {
    lm__list node;  /* in f->callbacks, then in f->scheduled */
    lm_future *f;
    lm_future_cb cb;
    void *arg;
    lm_handle *h;   /* while scheduled: the loop callback that runs it */
    uint64_t seq;
} fcb;

struct lm_future {
    lm__list waiters;   /* lm__sw, parked */
    lm__list callbacks; /* fcb, not scheduled yet, in add order */
    lm__list scheduled; /* fcb, handed to lm_call_soon, not run yet */
    lm_loop *loop;      /* where callbacks run: current at creation */
    uint64_t seq;
    void *value;
    int err;
    bool done;
    bool cancelled;
};

lm_future *lm_future_new(void)
{
    lm_future *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    lm__list_init(&f->waiters);
    lm__list_init(&f->callbacks);
    lm__list_init(&f->scheduled);
    f->loop = lm__loop();
    return f;
}

/* Waiters woken by a completion keep the outcome in their own lm__sw, so
 * they never read the future again and need no `woken` list. Scheduled
 * callbacks are unscheduled: a freed future calls nobody back. */
void lm_future_free(lm_future *f)
{
    if (f == NULL)
        return;
    lm__sw_close_all(&f->waiters, true, LM__BY_FUTURE);
    lm__list *n;
    while ((n = lm__list_pop_front(&f->callbacks)) != NULL)
        free(LM__CONTAINER_OF(n, fcb, node));
    while ((n = lm__list_pop_front(&f->scheduled)) != NULL) {
        fcb *c = LM__CONTAINER_OF(n, fcb, node);
        lm_handle_cancel(c->h);
        free(c);
    }
    free(f);
}

/* The loop callback: unlinks and frees the record first, so the callback
 * may free the future (or add callbacks) freely. */
static void fcb_run(void *arg)
{
    fcb *c = arg;
    lm_future *f = c->f;
    lm_future_cb cb = c->cb;
    void *cb_arg = c->arg;
    lm__list_remove(&c->node);
    free(c);
    cb(f, cb_arg);
}

/* Schedules c with call_soon; false when that is impossible (no memory, no
 * loop), in which case c is left unlinked for the caller. */
static bool fcb_schedule(lm_future *f, fcb *c)
{
    lm__list_remove(&c->node);
    lm_loop *loop = f->loop != NULL ? f->loop : lm__loop();
    c->h = loop != NULL ? lm_call_soon(loop, fcb_run, c) : NULL;
    if (c->h == NULL)
        return false;
    lm__list_push_back(&f->scheduled, &c->node);
    return true;
}

/* Runs callbacks that could not be scheduled, now, in order. Each record is
 * off every list of f first, so a callback freeing f harms nobody. */
static void fcb_run_late(lm__list *late)
{
    lm__list *n;
    while ((n = lm__list_pop_front(late)) != NULL)
        fcb_run(LM__CONTAINER_OF(n, fcb, node));
}

static int future_complete(lm_future *f, void *value, int err, bool cancelled)
{
    if (f == NULL)
        return LM_EINVAL;
    if (f->done)
        return LM_ESTATE;
    f->done = true;
    f->cancelled = cancelled;
    f->value = value;
    f->err = err;
    int status = cancelled ? LM_ECANCELED : err;
    lm__list late;
    lm__list_init(&late);
    /* Everybody listening gets the outcome, in the order they came. */
    for (;;) {
        lm__sw *w = lm__sw_first_live(&f->waiters);
        fcb *c = lm__list_empty(&f->callbacks)
                     ? NULL
                     : LM__CONTAINER_OF(f->callbacks.next, fcb, node);
        if (w == NULL && c == NULL)
            break;
        if (w != NULL && (c == NULL || w->seq < c->seq))
            lm__sw_choose(w, NULL, LM__BY_FUTURE, status, value);
        else if (!fcb_schedule(f, c))
            lm__list_push_back(&late, &c->node);
    }
    fcb_run_late(&late);
    return LM_OK;
}

int lm_future_set(lm_future *f, void *value)
{
    return future_complete(f, value, 0, false);
}

int lm_future_set_error(lm_future *f, int err)
{
    /* LM_ECANCELED is not an error a future can hold: lm_future_cancel. */
    if (err >= 0 || err == LM_ECANCELED)
        return LM_EINVAL;
    return future_complete(f, NULL, err, false);
}

int lm_future_cancel(lm_future *f)
{
    if (f == NULL || f->done)
        return 0;
    future_complete(f, NULL, LM_ECANCELED, true);
    return 1;
}

int lm_future_done(const lm_future *f) { return f != NULL && f->done; }
lm_loop *lm_future_loop(const lm_future *f) { return f != NULL ? f->loop : NULL; }
int lm_future_cancelled(const lm_future *f) { return f != NULL && f->cancelled; }

int lm_future_result(const lm_future *f, void **value)
{
    if (f == NULL)
        return LM_EINVAL;
    if (!f->done)
        return LM_ESTATE;
    if (f->cancelled)
        return LM_ECANCELED;
    if (value != NULL)
        *value = f->value;
    return f->err;
}

int lm_future_exception(const lm_future *f, int *err)
{
    if (f == NULL)
        return LM_EINVAL;
    if (!f->done)
        return LM_ESTATE;
    if (f->cancelled)
        return LM_ECANCELED;
    if (err != NULL)
        *err = f->err;
    return 0;
}

int lm_future_add_done_callback(lm_future *f, lm_future_cb cb, void *arg)
{
    if (f == NULL || cb == NULL)
        return LM_EINVAL;
    if (f->loop == NULL && (f->loop = lm__loop()) == NULL)
        return LM_ESTATE;
    fcb *c = malloc(sizeof *c);
    if (c == NULL)
        return LM_ENOMEM;
    lm__list_init(&c->node);
    c->f = f;
    c->cb = cb;
    c->arg = arg;
    c->h = NULL;
    c->seq = ++f->seq;
    if (!f->done) {
        lm__list_push_back(&f->callbacks, &c->node);
        return 0;
    }
    if (!fcb_schedule(f, c)) {
        free(c);
        return LM_ENOMEM;
    }
    return 0;
}

size_t lm_future_remove_done_callback(lm_future *f, lm_future_cb cb, void *arg)
{
    if (f == NULL)
        return 0;
    size_t removed = 0;
    lm__list *n = f->callbacks.next;
    while (n != &f->callbacks) {
        lm__list *next = n->next;
        fcb *c = LM__CONTAINER_OF(n, fcb, node);
        if (c->cb == cb && c->arg == arg) {
            lm__list_remove(n);
            free(c);
            removed++;
        }
        n = next;
    }
    return removed;
}

int lm_future_wait(lm_future *f, void **value)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (f == NULL)
        return LM_EINVAL;
    if (f->done)
        return lm_future_result(f, value);
    lm__sw w;
    lm__sw_init(&w, self, NULL);
    w.seq = ++f->seq;
    int rc = lm__sw_wait(&f->waiters, &w, LM__ON_FUTURE);
    /* A cancellation wins even over a value that arrived first (asyncio
     * raises CancelledError); the value stays in the future. */
    if (rc != 0)
        return rc;
    if (w.status == 0 && value != NULL)
        *value = w.item;
    return w.status;
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

struct lm_event {
    lm__list waiters; /* lm__sw, parked */
    bool set;
};

lm_event *lm_event_new(void)
{
    lm_event *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    lm__list_init(&e->waiters);
    return e;
}

void lm_event_free(lm_event *e)
{
    if (e == NULL)
        return;
    lm__sw_close_all(&e->waiters, true, LM__BY_EVENT);
    free(e);
}

void lm_event_set(lm_event *e)
{
    if (e == NULL || e->set)
        return;
    e->set = true;
    while (lm__sw_wake_first(&e->waiters, NULL, LM__BY_EVENT, 0, NULL) != NULL)
        ;
}

void lm_event_clear(lm_event *e)
{
    if (e != NULL)
        e->set = false;
}

int lm_event_is_set(const lm_event *e) { return e != NULL && e->set; }

/* A waiter woken by a set returns 0 even if the event was cleared again
 * before it ran (asyncio's semantics: it saw the set). */
int lm_event_wait(lm_event *e)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (e == NULL)
        return LM_EINVAL;
    if (e->set)
        return 0;
    lm__sw w;
    lm__sw_init(&w, self, NULL);
    int rc = lm__sw_wait(&e->waiters, &w, LM__ON_EVENT);
    return rc != 0 ? rc : w.status;
}

/* ------------------------------------------------------------------------ */
/* Locks                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * A release hands the lock straight to the first waiter that still waits
 * (it becomes the owner before it even runs), so a task that calls acquire
 * in between queues behind it: strict FIFO, as asyncio 3.12+ (whose newcomer
 * waits while a woken, uncancelled waiter exists). Between the release and
 * the moment that waiter runs the lock is `handed`: lm_lock_locked() says 0
 * then, as asyncio's locked() does, yet nobody else can take it.
 */
struct lm_lock {
    lm_task *owner; /* the holder, or the waiter it was handed to */
    bool handed;    /* owner was chosen by a release and has not run yet */
    lm__list waiters, woken;
};

lm_lock *lm_lock_new(void)
{
    lm_lock *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    lm__list_init(&l->waiters);
    lm__list_init(&l->woken);
    return l;
}

void lm_lock_free(lm_lock *l)
{
    if (l == NULL)
        return;
    lm__sw_close_all(&l->waiters, true, LM__BY_LOCK);
    lm__sw_close_all(&l->woken, false, LM__BY_LOCK);
    free(l);
}

/* Gives the lock to the first waiter still waiting, or leaves it free. So a
 * free lock never has a live waiter, and acquire's fast path needs no scan. */
static void lock_pass(lm_lock *l)
{
    l->owner = NULL;
    l->handed = false;
    lm__sw *w = lm__sw_first_live(&l->waiters);
    if (w != NULL) {
        l->owner = w->task;
        l->handed = true;
        lm__sw_choose(w, &l->woken, LM__BY_LOCK, 0, NULL);
    }
}

int lm__lock_acquire_on(lm_lock *l, uint8_t on)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (l == NULL)
        return LM_EINVAL;
    if (l->owner == self && !l->handed)
        return LM_EBUSY; /* not reentrant: waiting would deadlock */
    if (l->owner == NULL)
        return (l->owner = self, 0);
    lm__sw w;
    lm__sw_init(&w, self, NULL);
    int rc = lm__sw_wait(&l->waiters, &w, on);
    if (w.closed)
        return rc == LM_ECANCELED ? rc : LM_ECLOSED;
    if (!w.woken)
        return rc; /* cancelled while parked: it held nothing */
    l->handed = false;
    if (rc == LM_ECANCELED) {
        /* Handed the lock, then cancelled before running: pass it on. */
        lock_pass(l);
        return rc;
    }
    return 0;
}

int lm_lock_acquire(lm_lock *l) { return lm__lock_acquire_on(l, LM__ON_LOCK); }

bool lm__lock_locked(const lm_lock *l)
{
    return l != NULL && l->owner != NULL && !l->handed;
}

int lm_lock_locked(const lm_lock *l) { return lm__lock_locked(l); }

int lm_lock_release(lm_lock *l)
{
    if (l == NULL)
        return LM_EINVAL;
    if (!lm__lock_locked(l))
        return LM_ESTATE;
    lock_pass(l);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Semaphores                                                                */
/* ------------------------------------------------------------------------ */

/*
 * asyncio 3.13's algorithm: `value` counts the units nobody has been given.
 * A release adds a unit and, if a waiter still waits, gives it that unit at
 * once (value goes back down). A newcomer waits whenever the semaphore is
 * locked: no unit left, or anybody in line (parked, or woken and not run
 * yet), so nobody overtakes. A woken waiter, when it runs, wakes as many of
 * the waiters behind it as the value allows (units released while it was
 * on its way); one cancelled after it was woken returns its unit first.
 */
struct lm_sem {
    unsigned value;
    unsigned bound;  /* lm_sem_new_bounded: the initial value */
    bool bounded;
    lm__list waiters, woken;
};

static lm_sem *sem_make(unsigned initial, bool bounded)
{
    lm_sem *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->value = initial;
    s->bound = initial;
    s->bounded = bounded;
    lm__list_init(&s->waiters);
    lm__list_init(&s->woken);
    return s;
}

lm_sem *lm_sem_new(unsigned initial) { return sem_make(initial, false); }
lm_sem *lm_sem_new_bounded(unsigned initial) { return sem_make(initial, true); }

void lm_sem_free(lm_sem *s)
{
    if (s == NULL)
        return;
    lm__sw_close_all(&s->waiters, true, LM__BY_SEMAPHORE);
    lm__sw_close_all(&s->woken, false, LM__BY_SEMAPHORE);
    free(s);
}

unsigned lm_sem_value(const lm_sem *s) { return s != NULL ? s->value : 0; }

int lm_sem_locked(const lm_sem *s)
{
    if (s == NULL)
        return 0;
    return s->value == 0 || !lm__list_empty(&s->woken) ||
           lm__sw_first_live((lm__list *)&s->waiters) != NULL;
}

/* Gives one unit to the first waiter still waiting; false if there is none. */
static bool sem_wake_next(lm_sem *s)
{
    lm__sw *w = lm__sw_first_live(&s->waiters);
    if (w == NULL)
        return false;
    s->value--;
    lm__sw_choose(w, &s->woken, LM__BY_SEMAPHORE, 0, NULL);
    return true;
}

int lm_sem_release(lm_sem *s)
{
    if (s == NULL)
        return LM_EINVAL;
    if ((s->bounded && s->value >= s->bound) || s->value == UINT_MAX)
        return LM_ERANGE;
    s->value++;
    sem_wake_next(s);
    return 0;
}

int lm_sem_acquire(lm_sem *s)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (s == NULL)
        return LM_EINVAL;
    if (!lm_sem_locked(s))
        return (s->value--, 0);
    lm__sw w;
    lm__sw_init(&w, self, NULL);
    int rc = lm__sw_wait(&s->waiters, &w, LM__ON_SEMAPHORE);
    if (w.closed)
        return rc == LM_ECANCELED ? rc : LM_ECLOSED;
    if (w.woken && rc == LM_ECANCELED)
        s->value++; /* given a unit, then cancelled before running */
    /* Units that came while we were on our way go to those behind us. */
    while (s->value > 0 && sem_wake_next(s))
        ;
    return rc;
}

/*
 * sync.c: futures, events, queues, locks and semaphores between tasks.
 *
 * Everything here is written against the runtime contract of lm_internal.h
 * only: a task that has to wait links a waiter into the primitive's list and
 * calls lm__park(); whoever satisfies it calls lm__wake(). Nothing on these
 * paths allocates except an unbounded queue growing its ring buffer.
 *
 * The waiter (struct sw) lives on the waiting task's own stack, which stays
 * valid for as long as the task is parked. Each primitive keeps two lists:
 *
 *   waiters  tasks parked and not chosen yet, in arrival order (FIFO);
 *   woken    tasks a waker has already chosen (handed the lock, a semaphore
 *            unit, a queue slot or item) that have not run yet.
 *
 * The second list exists for two races. (1) A task can be chosen and then
 * cancelled before it runs. The runtime's lm__park() then returns the wake's
 * status (0) and keeps the cancellation for the task's next await, so the
 * task keeps what it was handed (and releases it in its cleanup). Should
 * lm__park() report LM_ECANCELED instead, the task passes what it was handed
 * to the next waiter, so nothing is lost either way. (2) A primitive can be freed while chosen tasks have not run yet: the free
 * flags every waiter on both lists as `closed`, so they return LM_ECLOSED
 * without touching the freed memory.
 *
 * Freeing a primitive that still has waiters is therefore defined: every
 * waiter (parked or already chosen) returns LM_ECLOSED. Any other use of a
 * freed primitive (releasing a freed lock, say) is undefined.
 *
 * The waker always passes status 0 to lm__wake(); what the waiter got is in
 * its struct sw, so a LM_ECANCELED from lm__park() always means a real
 * cancellation and can never be confused with a value.
 */
#include "lm_internal.h"

#include <limits.h>
#include <stdlib.h>

/* A task waiting on a primitive. Lives on the waiting task's stack. */
typedef struct sw {
    lm__list node;  /* in the primitive's waiters or woken list */
    lm_task *task;
    void *item;     /* future value / queue item handed over */
    int status;     /* what the waker gave: 0, an error, or LM_ECLOSED */
    bool woken;     /* a waker chose this waiter */
    bool closed;    /* the primitive is gone: do not touch it again */
} sw;

static void sw_init(sw *w, lm_task *t, void *item)
{
    lm__list_init(&w->node);
    w->task = t;
    w->item = item;
    w->status = 0;
    w->woken = false;
    w->closed = false;
}

static uint64_t waker_id(void)
{
    lm_task *cur = lm__current();
    return cur != NULL ? cur->id : 0;
}

/*
 * Chooses the first parked waiter of `from`: moves it to `woken` (or off any
 * list when woken is NULL), records status and item, and makes it pending.
 * Returns the waiter, or NULL when nobody is parked. O(1).
 */
static sw *sw_wake_first(lm__list *from, lm__list *woken, uint8_t by,
                         int status, void *item)
{
    lm__list *n = lm__list_pop_front(from);
    if (n == NULL)
        return NULL;
    sw *w = LM__CONTAINER_OF(n, sw, node);
    if (woken != NULL)
        lm__list_push_back(woken, &w->node);
    w->woken = true;
    w->status = status;
    w->item = item;
    lm__wake(w->task, by, waker_id(), 0);
    return w;
}

/* Flags every waiter of a list as closed (the primitive is being freed) and
 * wakes those still parked with LM_ECLOSED. O(waiters). */
static void sw_close_all(lm__list *list, bool parked, uint8_t by)
{
    lm__list *n;
    while ((n = lm__list_pop_front(list)) != NULL) {
        sw *w = LM__CONTAINER_OF(n, sw, node);
        w->closed = true;
        if (parked) {
            w->woken = true;
            w->status = LM_ECLOSED;
            lm__wake(w->task, by, waker_id(), 0);
        }
    }
}

/*
 * Parks the current task in `list` (at its end: FIFO) with the given `on`
 * until a waker chooses it or it is cancelled; returns lm__park's code with
 * w unlinked from whatever list it ended in. A wake that did not come from
 * a waker of this primitive (which the contract does not produce, but which
 * costs nothing to tolerate) parks again at the same place in the line.
 */
/* Inlined into every wait: one frame fewer between the code that waits and
 * the context switch, and so one mispredicted return fewer per wake (see
 * lm_coro.h). */
static inline __attribute__((always_inline)) int sw_wait(lm__list *list, sw *w,
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
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Futures                                                                   */
/* ------------------------------------------------------------------------ */

struct lm_future {
    lm__list waiters; /* sw, parked */
    void *value;
    int err;
    bool done;
};

lm_future *lm_future_new(void)
{
    lm_future *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    lm__list_init(&f->waiters);
    return f;
}

/* Waiters woken by a set keep the value in their own struct sw, so they
 * never read the future again and need no `woken` list. */
void lm_future_free(lm_future *f)
{
    if (f == NULL)
        return;
    sw_close_all(&f->waiters, true, LM__BY_FUTURE);
    free(f);
}

static int future_complete(lm_future *f, void *value, int err)
{
    if (f == NULL)
        return LM_EINVAL;
    if (f->done)
        return LM_ESTATE;
    f->done = true;
    f->value = value;
    f->err = err;
    /* Everybody waiting gets the outcome, in arrival order. */
    while (sw_wake_first(&f->waiters, NULL, LM__BY_FUTURE, err, value) != NULL)
        ;
    return LM_OK;
}

int lm_future_set(lm_future *f, void *value) { return future_complete(f, value, 0); }

int lm_future_set_error(lm_future *f, int err)
{
    if (err >= 0)
        return LM_EINVAL;
    return future_complete(f, NULL, err);
}

int lm_future_done(const lm_future *f) { return f != NULL && f->done; }

int lm_future_wait(lm_future *f, void **value)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (f == NULL)
        return LM_EINVAL;
    if (!f->done) {
        sw w;
        sw_init(&w, self, NULL);
        int rc = sw_wait(&f->waiters, &w, LM__ON_FUTURE);
        /* A cancellation wins even when the future was set in the same
         * tick: the task asked to stop, as asyncio raises CancelledError. */
        if (rc != 0)
            return rc;
        if (value != NULL)
            *value = w.item;
        return w.status;
    }
    if (value != NULL)
        *value = f->value;
    return f->err;
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

struct lm_event {
    lm__list waiters; /* sw, parked */
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
    sw_close_all(&e->waiters, true, LM__BY_EVENT);
    free(e);
}

void lm_event_set(lm_event *e)
{
    if (e == NULL || e->set)
        return;
    e->set = true;
    while (sw_wake_first(&e->waiters, NULL, LM__BY_EVENT, 0, NULL) != NULL)
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
    sw w;
    sw_init(&w, self, NULL);
    int rc = sw_wait(&e->waiters, &w, LM__ON_EVENT);
    return rc != 0 ? rc : w.status;
}

/* ------------------------------------------------------------------------ */
/* Queues                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * A ring buffer of pointers plus two FIFO lists of parked tasks. Items always
 * go through the buffer (never handed directly to a getter), so the order of
 * items is the order of the puts whatever happens to the tasks.
 *
 * No barging: when a get makes room, the slot is reserved for the first
 * parked putter (`reserved_put`); when a put adds an item, it is reserved for
 * the first parked getter (`reserved_get`). Newcomers, including try_put /
 * try_get, only see what is not reserved. A chosen task that turns out to be
 * cancelled gives its reservation to the next parked task.
 */
struct lm_queue {
    void **buf;
    size_t cap;      /* slots in buf */
    size_t head;     /* index of the oldest item */
    size_t len;      /* items in buf */
    size_t limit;    /* capacity given by the user; 0 = unbounded */
    size_t reserved_get; /* items promised to chosen getters */
    size_t reserved_put; /* slots promised to chosen putters */
    lm__list getters, putters, woken;
    bool closed;
};

lm_queue *lm_queue_new(size_t capacity)
{
    lm_queue *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->limit = capacity;
    /* A bounded queue allocates its whole buffer now so put never fails
     * with LM_ENOMEM; an unbounded one grows by doubling from 16. */
    q->cap = capacity != 0 ? capacity : 16;
    if (q->cap > SIZE_MAX / sizeof(void *) || (q->buf = malloc(q->cap * sizeof(void *))) == NULL) {
        free(q);
        return NULL;
    }
    lm__list_init(&q->getters);
    lm__list_init(&q->putters);
    lm__list_init(&q->woken);
    return q;
}

void lm_queue_free(lm_queue *q)
{
    if (q == NULL)
        return;
    sw_close_all(&q->getters, true, LM__BY_QUEUE);
    sw_close_all(&q->putters, true, LM__BY_QUEUE);
    sw_close_all(&q->woken, false, LM__BY_QUEUE);
    free(q->buf);
    free(q);
}

size_t lm_queue_len(const lm_queue *q) { return q != NULL ? q->len : 0; }

static size_t queue_room(const lm_queue *q)
{
    if (q->limit == 0)
        return SIZE_MAX;
    size_t used = q->len + q->reserved_put;
    return used >= q->limit ? 0 : q->limit - used;
}

/* Doubles an unbounded queue's buffer, unrolling the ring. O(len). */
static int queue_grow(lm_queue *q)
{
    if (q->cap > SIZE_MAX / 2 / sizeof(void *))
        return LM_ENOMEM;
    size_t ncap = q->cap * 2;
    void **nb = malloc(ncap * sizeof(void *));
    if (nb == NULL)
        return LM_ENOMEM;
    for (size_t i = 0; i < q->len; i++)
        nb[i] = q->buf[(q->head + i) % q->cap];
    free(q->buf);
    q->buf = nb;
    q->cap = ncap;
    q->head = 0;
    return 0;
}

static int queue_push(lm_queue *q, void *item)
{
    if (q->len == q->cap) {
        int rc = queue_grow(q);
        if (rc != 0)
            return rc;
    }
    q->buf[(q->head + q->len) % q->cap] = item;
    q->len++;
    return 0;
}

static void *queue_pop(lm_queue *q)
{
    void *item = q->buf[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return item;
}

/* Hands unreserved items to parked getters and free slots to parked putters,
 * first come first served. Called after every change of the queue. */
static void queue_pump(lm_queue *q)
{
    while (q->len > q->reserved_get && !lm__list_empty(&q->getters)) {
        sw_wake_first(&q->getters, &q->woken, LM__BY_QUEUE, 0, NULL);
        q->reserved_get++;
    }
    while (queue_room(q) > 0 && !lm__list_empty(&q->putters)) {
        lm__list *n = q->putters.next;
        sw *w = LM__CONTAINER_OF(n, sw, node);
        sw_wake_first(&q->putters, &q->woken, LM__BY_QUEUE, 0, w->item);
        q->reserved_put++;
    }
}

int lm_queue_try_put(lm_queue *q, void *item)
{
    if (q == NULL)
        return LM_EINVAL;
    if (q->closed)
        return LM_ECLOSED;
    if (!lm__list_empty(&q->putters) || queue_room(q) == 0)
        return LM_EAGAIN;
    int rc = queue_push(q, item);
    if (rc == 0)
        queue_pump(q);
    return rc;
}

int lm_queue_put(lm_queue *q, void *item)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    int rc = lm_queue_try_put(q, item);
    if (rc != LM_EAGAIN)
        return rc;
    sw w;
    sw_init(&w, self, item);
    rc = sw_wait(&q->putters, &w, LM__ON_QUEUE);
    if (w.closed) /* the queue was freed: do not touch it */
        return rc == LM_ECANCELED ? rc : LM_ECLOSED;
    if (!w.woken)
        return rc; /* cancelled while parked */
    if (w.status != 0)
        return rc == LM_ECANCELED ? rc : w.status; /* woken by close */
    /* A slot was reserved for us. */
    q->reserved_put--;
    if (rc == LM_ECANCELED || q->closed) {
        queue_pump(q); /* the slot goes to the next putter */
        return rc == LM_ECANCELED ? rc : LM_ECLOSED;
    }
    rc = queue_push(q, item);
    queue_pump(q);
    return rc;
}

int lm_queue_try_get(lm_queue *q, void **item)
{
    if (q == NULL)
        return LM_EINVAL;
    if (q->len <= q->reserved_get)
        return q->closed ? LM_ECLOSED : LM_EAGAIN;
    void *it = queue_pop(q);
    if (item != NULL)
        *item = it;
    queue_pump(q);
    return 0;
}

int lm_queue_get(lm_queue *q, void **item)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    int rc = lm_queue_try_get(q, item);
    if (rc != LM_EAGAIN)
        return rc;
    sw w;
    sw_init(&w, self, NULL);
    rc = sw_wait(&q->getters, &w, LM__ON_QUEUE);
    if (w.closed)
        return rc == LM_ECANCELED ? rc : LM_ECLOSED;
    if (!w.woken)
        return rc;
    if (w.status != 0)
        return rc == LM_ECANCELED ? rc : w.status; /* closed while empty */
    /* An item was reserved for us; it is the oldest unreserved one, and
     * since reservations are FIFO too, the front of the buffer is ours. */
    q->reserved_get--;
    if (rc == LM_ECANCELED) {
        queue_pump(q); /* the item goes to the next getter */
        return rc;
    }
    void *it = queue_pop(q);
    if (item != NULL)
        *item = it;
    queue_pump(q);
    return 0;
}

/* Parked putters get LM_ECLOSED at once; parked getters too, since a getter
 * only parks when no item is left for it. Items already in the queue can
 * still be taken. */
void lm_queue_close(lm_queue *q)
{
    if (q == NULL || q->closed)
        return;
    q->closed = true;
    while (sw_wake_first(&q->putters, NULL, LM__BY_QUEUE, LM_ECLOSED, NULL) != NULL)
        ;
    while (sw_wake_first(&q->getters, NULL, LM__BY_QUEUE, LM_ECLOSED, NULL) != NULL)
        ;
}

/* ------------------------------------------------------------------------ */
/* Locks                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * Release hands the lock straight to the first parked task (it becomes the
 * owner before it even runs), so a task that calls acquire in between can
 * never barge ahead: strict FIFO.
 */
struct lm_lock {
    lm_task *owner;
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
    sw_close_all(&l->waiters, true, LM__BY_LOCK);
    sw_close_all(&l->woken, false, LM__BY_LOCK);
    free(l);
}

/* Gives the lock to the first parked task, or leaves it free. */
static void lock_pass(lm_lock *l)
{
    l->owner = NULL;
    if (!lm__list_empty(&l->waiters)) {
        sw *w = LM__CONTAINER_OF(l->waiters.next, sw, node);
        l->owner = w->task;
        sw_wake_first(&l->waiters, &l->woken, LM__BY_LOCK, 0, NULL);
    }
}

int lm_lock_acquire(lm_lock *l)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (l == NULL)
        return LM_EINVAL;
    if (l->owner == self)
        return LM_EBUSY; /* not reentrant: waiting would deadlock */
    if (l->owner == NULL)
        return (l->owner = self, 0);
    sw w;
    sw_init(&w, self, NULL);
    int rc = sw_wait(&l->waiters, &w, LM__ON_LOCK);
    if (w.closed)
        return rc == LM_ECANCELED ? rc : LM_ECLOSED;
    if (!w.woken)
        return rc;
    if (rc == LM_ECANCELED) {
        /* Handed the lock, then cancelled before running: pass it on. */
        lock_pass(l);
        return rc;
    }
    return 0;
}

int lm_lock_release(lm_lock *l)
{
    if (l == NULL)
        return LM_EINVAL;
    lm_task *self = lm__current();
    if (self == NULL || l->owner != self)
        return LM_ESTATE;
    lock_pass(l);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Semaphores                                                                */
/* ------------------------------------------------------------------------ */

/* Same hand-off as the lock: a release with parked tasks gives its unit to
 * the first of them instead of incrementing the value. */
struct lm_sem {
    unsigned value;
    lm__list waiters, woken;
};

lm_sem *lm_sem_new(unsigned initial)
{
    lm_sem *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->value = initial;
    lm__list_init(&s->waiters);
    lm__list_init(&s->woken);
    return s;
}

void lm_sem_free(lm_sem *s)
{
    if (s == NULL)
        return;
    sw_close_all(&s->waiters, true, LM__BY_SEMAPHORE);
    sw_close_all(&s->woken, false, LM__BY_SEMAPHORE);
    free(s);
}

unsigned lm_sem_value(const lm_sem *s) { return s != NULL ? s->value : 0; }

void lm_sem_release(lm_sem *s)
{
    if (s == NULL)
        return;
    if (sw_wake_first(&s->waiters, &s->woken, LM__BY_SEMAPHORE, 0, NULL) == NULL &&
        s->value < UINT_MAX)
        s->value++;
}

int lm_sem_acquire(lm_sem *s)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (s == NULL)
        return LM_EINVAL;
    if (s->value > 0 && lm__list_empty(&s->waiters))
        return (s->value--, 0);
    sw w;
    sw_init(&w, self, NULL);
    int rc = sw_wait(&s->waiters, &w, LM__ON_SEMAPHORE);
    if (w.closed)
        return rc == LM_ECANCELED ? rc : LM_ECLOSED;
    if (!w.woken)
        return rc;
    if (rc == LM_ECANCELED) {
        lm_sem_release(s); /* handed a unit, then cancelled: pass it on */
        return rc;
    }
    return 0;
}

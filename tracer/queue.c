/*
 * queue.c: FIFO, LIFO and priority queues between tasks (asyncio.Queue,
 * LifoQueue, PriorityQueue), with join / task_done and shutdown.
 *
 * Items live in one buffer: a ring for FIFO and LIFO (LIFO takes from the
 * tail), a binary heap for priority queues (ordered by the user's compare,
 * ties by put order). Items always go through the buffer, never straight to
 * a getter, so the order items come out is the queue's order whatever
 * happens to the tasks.
 *
 * No barging: when a get makes room, the slot is reserved for the first
 * parked putter (`reserved_put`); when a put adds an item, one item is
 * reserved for the first parked getter (`reserved_get`). Newcomers,
 * including try_put / try_get, only see what is not reserved. A chosen task
 * that turns out to be cancelled gives its reservation to the next waiter
 * (lm_sync.h: cancellation wins). This is stricter than asyncio, whose
 * put_nowait / get_nowait may take what a woken waiter was woken for (that
 * waiter then queues again at the end): docs/asyncio-conformance.md.
 */
#include "lm_sync.h"

#include <stdlib.h>

typedef struct qent {
    void *item;
    uint64_t seq; /* put order: breaks priority ties */
} qent;

enum { Q_FIFO, Q_LIFO, Q_PRIO };

struct lm_queue {
    qent *buf;
    size_t cap;      /* slots in buf */
    size_t head;     /* ring: index of the oldest item (heap: always 0) */
    size_t len;      /* items in buf */
    size_t limit;    /* capacity given by the user; 0 = unbounded */
    size_t reserved_get; /* items promised to chosen getters */
    size_t reserved_put; /* slots promised to chosen putters */
    size_t unfinished;   /* puts not yet matched by task_done */
    uint64_t seq;
    lm_queue_cmp cmp;
    int kind;
    lm__list getters, putters, joiners, woken;
    bool closed;
};

static lm_queue *queue_make(size_t capacity, int kind, lm_queue_cmp cmp)
{
    lm_queue *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->limit = capacity;
    q->kind = kind;
    q->cmp = cmp;
    /* A bounded queue allocates its whole buffer now so put never fails
     * with LM_ENOMEM; an unbounded one grows by doubling from 16. */
    q->cap = capacity != 0 ? capacity : 16;
    if (q->cap > SIZE_MAX / sizeof(qent) ||
        (q->buf = malloc(q->cap * sizeof(qent))) == NULL) {
        free(q);
        return NULL;
    }
    lm__list_init(&q->getters);
    lm__list_init(&q->putters);
    lm__list_init(&q->joiners);
    lm__list_init(&q->woken);
    return q;
}

lm_queue *lm_queue_new(size_t capacity) { return queue_make(capacity, Q_FIFO, NULL); }
lm_queue *lm_queue_new_lifo(size_t capacity) { return queue_make(capacity, Q_LIFO, NULL); }

lm_queue *lm_queue_new_priority(size_t capacity, lm_queue_cmp cmp)
{
    return cmp != NULL ? queue_make(capacity, Q_PRIO, cmp) : NULL;
}

void lm_queue_free(lm_queue *q)
{
    if (q == NULL)
        return;
    lm__sw_close_all(&q->getters, true, LM__BY_QUEUE);
    lm__sw_close_all(&q->putters, true, LM__BY_QUEUE);
    lm__sw_close_all(&q->joiners, true, LM__BY_QUEUE_JOIN);
    lm__sw_close_all(&q->woken, false, LM__BY_QUEUE);
    free(q->buf);
    free(q);
}

size_t lm_queue_len(const lm_queue *q) { return q != NULL ? q->len : 0; }
size_t lm_queue_maxsize(const lm_queue *q) { return q != NULL ? q->limit : 0; }
int lm_queue_full(const lm_queue *q) { return q != NULL && q->limit != 0 && q->len >= q->limit; }
size_t lm_queue_unfinished(const lm_queue *q) { return q != NULL ? q->unfinished : 0; }

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
    if (q->cap > SIZE_MAX / 2 / sizeof(qent))
        return LM_ENOMEM;
    size_t ncap = q->cap * 2;
    qent *nb = malloc(ncap * sizeof(qent));
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

/* Heap order: a before b when cmp says so, or on a tie when put first. */
static bool q_before(const lm_queue *q, const qent *a, const qent *b)
{
    int c = q->cmp(a->item, b->item);
    return c < 0 || (c == 0 && a->seq < b->seq);
}

static int queue_push(lm_queue *q, void *item)
{
    if (q->len == q->cap) {
        int rc = queue_grow(q);
        if (rc != 0)
            return rc;
    }
    qent e = {item, q->seq++};
    if (q->kind != Q_PRIO) {
        q->buf[(q->head + q->len) % q->cap] = e;
    } else { /* sift up */
        size_t i = q->len;
        while (i > 0 && q_before(q, &e, &q->buf[(i - 1) / 2])) {
            q->buf[i] = q->buf[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        q->buf[i] = e;
    }
    q->len++;
    q->unfinished++;
    return 0;
}

static void *queue_pop(lm_queue *q)
{
    void *item;
    if (q->kind == Q_FIFO) {
        item = q->buf[q->head].item;
        q->head = (q->head + 1) % q->cap;
    } else if (q->kind == Q_LIFO) {
        item = q->buf[(q->head + q->len - 1) % q->cap].item;
    } else { /* take the root, sift the last entry down */
        item = q->buf[0].item;
        qent last = q->buf[q->len - 1];
        size_t n = q->len - 1, i = 0;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= n)
                break;
            if (c + 1 < n && q_before(q, &q->buf[c + 1], &q->buf[c]))
                c++;
            if (!q_before(q, &q->buf[c], &last))
                break;
            q->buf[i] = q->buf[c];
            i = c;
        }
        q->buf[i] = last;
    }
    q->len--;
    return item;
}

/* Hands unreserved items to parked getters and free slots to parked putters,
 * first come first served. Called after every change of the queue. */
static void queue_pump(lm_queue *q)
{
    while (q->len > q->reserved_get &&
           lm__sw_wake_first(&q->getters, &q->woken, LM__BY_QUEUE, 0, NULL) != NULL)
        q->reserved_get++;
    while (queue_room(q) > 0) {
        lm__sw *w = lm__sw_first_live(&q->putters);
        if (w == NULL)
            break;
        lm__sw_choose(w, &q->woken, LM__BY_QUEUE, 0, w->item);
        q->reserved_put++;
    }
}

int lm_queue_try_put(lm_queue *q, void *item)
{
    if (q == NULL)
        return LM_EINVAL;
    if (q->closed)
        return LM_ECLOSED;
    if (lm__sw_first_live(&q->putters) != NULL || queue_room(q) == 0)
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
    lm__sw w;
    lm__sw_init(&w, self, item);
    rc = lm__sw_wait(&q->putters, &w, LM__ON_QUEUE);
    if (w.closed) /* the queue was freed: do not touch it */
        return rc == LM_ECANCELED ? rc : LM_ECLOSED;
    if (!w.woken)
        return rc; /* cancelled while parked */
    if (w.status != 0)
        return rc == LM_ECANCELED ? rc : w.status; /* woken by shutdown */
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
    lm__sw w;
    lm__sw_init(&w, self, NULL);
    rc = lm__sw_wait(&q->getters, &w, LM__ON_QUEUE);
    if (w.closed)
        return rc == LM_ECANCELED ? rc : LM_ECLOSED;
    if (!w.woken)
        return rc;
    if (w.status != 0)
        return rc == LM_ECANCELED ? rc : w.status; /* shut down while empty */
    /* One item was reserved for us. An immediate shutdown may have dropped
     * it since (and zeroed the count). */
    if (q->reserved_get > 0)
        q->reserved_get--;
    if (rc == LM_ECANCELED) {
        queue_pump(q); /* the item goes to the next getter */
        return rc;
    }
    if (q->len == 0)
        return LM_ECLOSED;
    void *it = queue_pop(q);
    if (item != NULL)
        *item = it;
    queue_pump(q);
    return 0;
}

static void queue_finished(lm_queue *q)
{
    while (lm__sw_wake_first(&q->joiners, NULL, LM__BY_QUEUE_JOIN, 0, NULL) != NULL)
        ;
}

int lm_queue_task_done(lm_queue *q)
{
    if (q == NULL)
        return LM_EINVAL;
    if (q->unfinished == 0)
        return LM_ESTATE; /* asyncio: ValueError, called too many times */
    if (--q->unfinished == 0)
        queue_finished(q);
    return 0;
}

int lm_queue_join(lm_queue *q)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (q == NULL)
        return LM_EINVAL;
    if (q->unfinished == 0)
        return 0;
    lm__sw w;
    lm__sw_init(&w, self, NULL);
    int rc = lm__sw_wait(&q->joiners, &w, LM__ON_QUEUE_JOIN);
    return rc != 0 ? rc : w.status;
}

/* Parked putters get LM_ECLOSED at once; parked getters too, since a getter
 * only parks when no item is left for it. `immediate` also drops every
 * item (each counts as a task_done), which releases join. */
void lm_queue_shutdown(lm_queue *q, int immediate)
{
    if (q == NULL)
        return;
    q->closed = true;
    if (immediate && q->len > 0) {
        size_t n = q->len;
        q->len = 0;
        q->head = 0;
        q->reserved_get = 0;
        q->unfinished = n < q->unfinished ? q->unfinished - n : 0;
        if (q->unfinished == 0)
            queue_finished(q);
    }
    while (lm__sw_wake_first(&q->putters, NULL, LM__BY_QUEUE, LM_ECLOSED, NULL) != NULL)
        ;
    while (lm__sw_wake_first(&q->getters, NULL, LM__BY_QUEUE, LM_ECLOSED, NULL) != NULL)
        ;
}

void lm_queue_close(lm_queue *q) { lm_queue_shutdown(q, 0); }

/*
 * pool.c: everything that crosses threads: lm_call_soon_threadsafe, the
 * thread pool behind lm_offload, and the loop's eventfd that both use to
 * wake the loop.
 *
 * Locking: one mutex per loop (loop->mu) guards the inbox of callbacks from
 * other threads, the queue of work for the pool, and the list of finished
 * work. The loop thread takes it once per wake-up to move everything over;
 * nothing else in the loop ever locks. An eventfd write is issued only when
 * none is outstanding (efd_signalled), so a burst of posts costs one system
 * call on each side.
 */
#include "lm_runtime.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

void lm__loop_wakeup(lm_loop *loop)
{
    uint64_t one = 1;
    ssize_t r = write(loop->efd, &one, sizeof one);
    (void)r; /* EAGAIN means the counter is already non-zero: awake anyway */
}

/* Under loop->mu: whether the caller must write the eventfd. */
static bool need_wakeup(lm_loop *loop)
{
    if (loop->efd_signalled)
        return false;
    loop->efd_signalled = true;
    return true;
}

int lm_call_soon_threadsafe(lm_loop *loop, lm_callback_fn cb, void *arg)
{
    if (loop == NULL || cb == NULL)
        return LM_EINVAL;
    lm_handle *h = calloc(1, sizeof *h);
    if (h == NULL)
        return LM_ENOMEM;
    h->loop = loop;
    h->cb = cb;
    h->arg = arg;
    h->timer.kind = LM__TIMER_HANDLE;
    lm__list_init(&h->all_node);
    pthread_mutex_lock(&loop->mu);
    lm__list_push_back(&loop->inbox, &h->ready_node);
    bool wake = need_wakeup(loop);
    pthread_mutex_unlock(&loop->mu);
    if (wake)
        lm__loop_wakeup(loop);
    return 0;
}

/* Hands one collected work to its task (loop thread). */
static void work_deliver(lm_loop *loop, lm__work *w)
{
    lm__list_remove(&w->order_node);
    loop->offloads--;
    w->done = true;
    if (w->task != NULL)
        lm__wake(w->task, LM__BY_THREAD, 0, 0);
    else
        free(w); /* its task stopped waiting (cancelled) */
}

/* The eventfd was readable: take over the inbox and, with the real clock,
 * the finished work. Under the virtual clock finished work stays in
 * done_work until lm__pool_collect_all: the order in which threads finish
 * is a race, and the loop must not let it show. */
void lm__loop_drain(lm_loop *loop)
{
    uint64_t v;
    ssize_t r = read(loop->efd, &v, sizeof v);
    (void)r;
    bool take_done = loop->clock != LM_CLOCK_VIRTUAL;
    lm__list inbox, done;
    lm__list_init(&inbox);
    lm__list_init(&done);
    pthread_mutex_lock(&loop->mu);
    loop->efd_signalled = false;
    lm__list *n;
    while ((n = lm__list_pop_front(&loop->inbox)) != NULL)
        lm__list_push_back(&inbox, n);
    if (take_done) {
        while ((n = lm__list_pop_front(&loop->done_work)) != NULL)
            lm__list_push_back(&done, n);
        loop->works_finished = 0;
    }
    pthread_mutex_unlock(&loop->mu);

    while ((n = lm__list_pop_front(&inbox)) != NULL)
        lm__loop_adopt_handle(loop, LM__CONTAINER_OF(n, lm_handle, ready_node));
    while ((n = lm__list_pop_front(&done)) != NULL)
        work_deliver(loop, LM__CONTAINER_OF(n, lm__work, node));
}

/* Virtual clock, nothing ready: the only thing that can happen next is an
 * offload finishing, and which one finishes first is up to the scheduler.
 * So wait (real time, on done_cv) until EVERY outstanding offload has
 * finished, then wake the tasks in submission order. Offloaded work thus
 * takes zero virtual time and the trace is the same on every run. Costs one
 * lock and a walk of the outstanding works; a work function that waits for
 * the loop itself would wait forever here (it must not). */
void lm__pool_collect_all(lm_loop *loop)
{
    if (loop->offloads == 0)
        return;
    pthread_mutex_lock(&loop->mu);
    loop->collector_waiting = true;
    while (loop->works_finished < loop->offloads)
        pthread_cond_wait(&loop->done_cv, &loop->mu);
    loop->collector_waiting = false;
    /* Every uncollected work is in done_work: the walk below uses the
     * submission list, so done_work is simply emptied. */
    lm__list_init(&loop->done_work);
    loop->works_finished = 0;
    pthread_mutex_unlock(&loop->mu);
    while (!lm__list_empty(&loop->offload_order))
        work_deliver(loop, LM__CONTAINER_OF(loop->offload_order.next,
                                            lm__work, order_node));
}

/* ---- the thread pool ---------------------------------------------------- */

static void *worker(void *arg)
{
    lm_loop *loop = arg;
    pthread_mutex_lock(&loop->mu);
    for (;;) {
        lm__list *n = lm__list_pop_front(&loop->work_queue);
        if (n == NULL) {
            if (loop->pool_stop)
                break;
            pthread_cond_wait(&loop->work_cv, &loop->mu);
            continue;
        }
        pthread_mutex_unlock(&loop->mu);
        lm__work *w = LM__CONTAINER_OF(n, lm__work, node);
        w->result = w->fn(w->arg);
        pthread_mutex_lock(&loop->mu);
        lm__list_push_back(&loop->done_work, &w->node);
        loop->works_finished++;
        /* The virtual clock collects completions only in
         * lm__pool_collect_all, so no eventfd write: it would only show up
         * as a poll event at a moment decided by the race. */
        if (loop->clock == LM_CLOCK_VIRTUAL) {
            if (loop->collector_waiting)
                pthread_cond_signal(&loop->done_cv);
        } else if (need_wakeup(loop)) {
            lm__loop_wakeup(loop);
        }
    }
    pthread_mutex_unlock(&loop->mu);
    return NULL;
}

static int pool_start(lm_loop *loop)
{
    loop->threads = calloc((size_t)loop->threads_wanted, sizeof *loop->threads);
    if (loop->threads == NULL)
        return LM_ENOMEM;
    for (int i = 0; i < loop->threads_wanted; i++) {
        if (pthread_create(&loop->threads[loop->nthreads], NULL, worker, loop) != 0)
            break;
        loop->nthreads++;
    }
    if (loop->nthreads == 0) {
        free(loop->threads);
        loop->threads = NULL;
        return LM_ESYS;
    }
    return 0;
}

void lm__pool_stop(lm_loop *loop)
{
    if (loop->threads == NULL)
        return;
    pthread_mutex_lock(&loop->mu);
    loop->pool_stop = true;
    pthread_cond_broadcast(&loop->work_cv);
    pthread_mutex_unlock(&loop->mu);
    /* Workers finish the work they have (and whatever is queued), so a
     * work function is never abandoned half-way. */
    for (int i = 0; i < loop->nthreads; i++)
        pthread_join(loop->threads[i], NULL);
    free(loop->threads);
    loop->threads = NULL;
    loop->nthreads = 0;
}

int lm_offload(const char *label, lm_work_fn fn, void *arg, void **result)
{
    lm_loop *loop = lm__loop();
    lm_task *t = loop != NULL ? loop->current : NULL;
    if (t == NULL)
        return LM_ENOTASK;
    if (fn == NULL)
        return LM_EINVAL;
    if (t->cancel_pending) {
        t->cancel_pending = false;
        return LM_ECANCELED;
    }
    if (loop->threads == NULL) {
        int rc = pool_start(loop);
        if (rc != 0)
            return rc;
    }
    lm__work *w = calloc(1, sizeof *w);
    if (w == NULL)
        return LM_ENOMEM;
    w->fn = fn;
    w->arg = arg;
    w->task = t;
    w->label = label;
    w->seq = ++loop->offload_seq;
    lm__list_push_back(&loop->offload_order, &w->order_node);
    pthread_mutex_lock(&loop->mu);
    lm__list_push_back(&loop->work_queue, &w->node);
    pthread_cond_signal(&loop->work_cv);
    pthread_mutex_unlock(&loop->mu);
    loop->offloads++;

    lm__reason r = {.on = LM__ON_THREAD, .label = label, .fd = -1};
    int rc = lm__park(&r, -1);
    if (w->done) {
        if (rc == 0 && result != NULL)
            *result = w->result;
        free(w);
        return rc == 0 ? 0 : rc;
    }
    /* Cancelled before the work finished: the loop frees it on arrival. */
    w->task = NULL;
    return rc;
}

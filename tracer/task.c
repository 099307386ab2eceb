/*
 * task.c: tasks, the one state-transition function, and the await
 * primitives every other module is built on (lm__park / lm__wake /
 * lm__cancel).
 *
 * The life of a task (the only transitions lm__transition allows):
 *
 *   created --spawn--> pending --pick--> running --await--> awaiting
 *      |                  |  ^              |  |                |
 *      |                  |  +----yield-----+  |                |
 *      |                  |  +------------wake (by: ...)--------+
 *      +---cancel---------+--> cancelled <-----+--> done / failed
 *
 * A task that is cancelled before its body ever ran goes straight from
 * created or pending to cancelled. A task cancelled at an await point gets
 * LM_ECANCELED from that await, is made pending (by: cancel), runs its own
 * cleanup and ends cancelled by returning LM_ECANCELED.
 *
 * Memory: a task is one calloc (its first name included); its stack
 * comes from the loop's pool when it first runs and goes back as soon as it
 * ends, so thousands of created or pending tasks cost no stacks. Nothing on the
 * yield, sleep, park or wake path allocates.
 */
#include "lm_runtime.h"
#include "lm_trace.h" /* lm__tr_state_hot, inlined below */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* legal[from] has bit `to` set when from -> to is allowed. */
#define LM__BIT(s) (1u << (s))
static const uint8_t legal[7] = {
    [LM_STATE_CREATED] = LM__BIT(LM_STATE_PENDING) | LM__BIT(LM_STATE_CANCELLED),
    [LM_STATE_PENDING] = LM__BIT(LM_STATE_RUNNING) | LM__BIT(LM_STATE_CANCELLED),
    [LM_STATE_RUNNING] = LM__BIT(LM_STATE_AWAITING) | LM__BIT(LM_STATE_PENDING) |
                         LM__BIT(LM_STATE_DONE) | LM__BIT(LM_STATE_FAILED) |
                         LM__BIT(LM_STATE_CANCELLED),
    [LM_STATE_AWAITING] = LM__BIT(LM_STATE_PENDING),
};

static const lm__reason no_reason = {.fd = -1};

__attribute__((noreturn, cold)) static void illegal(const lm_task *t,
                                                    lm_state to)
{
    fprintf(stderr, "loopmaid: illegal transition of task %llu (%s): %s -> %s\n",
            (unsigned long long)t->id, t->name, lm_state_name(t->state),
            lm_state_name(to));
    abort();
}

/* Inlined into this file's callers (park, wake, yield, step: four per
 * round trip of two tasks handing control back and forth), so that the
 * check and the store cost no call, and the reason a caller builds only for
 * the trace is built only inside the traced branch. */
static inline __attribute__((always_inline)) void
transition(lm_task *t, lm_state to, const lm__reason *r)
{
    lm_state from = t->state;
    if (LM__UNLIKELY(!(legal[from] & LM__BIT(to))))
        illegal(t, to);
    t->state = to;
    LM__TRACE(t->loop, lm__tr_state_hot, t, from, to, r != NULL ? r : &no_reason);
}

void lm__transition(lm_task *t, lm_state to, const lm__reason *r)
{
    transition(t, to, r);
}

void lm__transition_running(lm_task *t)
{
    transition(t, LM_STATE_RUNNING, NULL);
}

lm_task *lm__current(void)
{
    lm_loop *l = lm__loop();
    return l != NULL ? l->current : NULL;
}

lm_task *lm_current(void) { return lm__current(); }

/* ---- creation and references -------------------------------------------- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* Writes "task-<id>" to buf (at least 26 bytes), what snprintf("task-%llu")
 * gives, by hand: snprintf was half of the instructions of spawning a task
 * (callgrind, spawn 10k: ~700 of ~1,300 per lm_task_new). Returns buf. */
static char *default_name(char *buf, uint64_t id)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + id % 10);
        id /= 10;
    } while (id != 0);
    memcpy(buf, "task-", sizeof "task-" - 1);
    char *d = buf + sizeof "task-" - 1;
    while (n > 0)
        *d++ = digits[--n];
    *d = '\0';
    return buf;
}

/* A task's first name lives in the task's own allocation, right after the
 * struct: one calloc per task instead of two (and one free). A name set
 * later (lm_task_set_name) is malloc'd, and only such a name is freed. */
static char *inline_name(lm_task *t) { return (char *)(t + 1); }

static void name_free(lm_task *t)
{
    if (t->name != inline_name(t))
        free(t->name);
}

lm_task *lm_task_new(lm_loop *loop, const char *name, lm_coro_fn fn, void *arg)
{
    if (loop == NULL || fn == NULL)
        return NULL;
    uint64_t id = loop->next_task_id + 1;
    char buf[sizeof "task-" + 20];
    if (name == NULL)
        name = default_name(buf, id);
    size_t n = strlen(name) + 1;
    if (n > SIZE_MAX - sizeof(lm_task))
        return NULL;
    lm_task *t = calloc(1, sizeof *t + n);
    if (t == NULL)
        return NULL;
    t->name = memcpy(inline_name(t), name, n);
    loop->next_task_id = id;
    t->loop = loop;
    t->id = id;
    lm_task *cur = loop->current;
    t->parent_id = cur != NULL ? cur->id : 0;
    t->state = LM_STATE_CREATED;
    t->fn = fn;
    t->arg = arg;
    t->refs = 2; /* the caller's and the loop's (held while alive) */
    t->wake_status = 0;
    t->timer.kind = LM__TIMER_TASK;
    lm__list_init(&t->ready_node);
    lm__list_init(&t->wait_node);
    lm__list_init(&t->joiners);
    lm__list_push_back(&loop->tasks, &t->all_node);
    loop->stats.tasks_created++;
    loop->stats.tasks_alive++;
    LM__TRACE(loop, lm__tr_spawn, t);
    return t;
}

int lm_task_start(lm_task *t)
{
    if (t == NULL)
        return LM_EINVAL;
    if (t->state != LM_STATE_CREATED)
        return LM_ESTATE;
    lm_task *cur = t->loop->current;
    lm__reason r = {.by = LM__BY_SPAWN, .fd = -1, .task = cur != NULL ? cur->id : 0};
    transition(t, LM_STATE_PENDING, &r);
    lm__ready_task(t->loop, t);
    return 0;
}

lm_task *lm_spawn(const char *name, lm_coro_fn fn, void *arg)
{
    lm_task *t = lm_task_new(lm__loop(), name, fn, arg);
    if (t != NULL)
        lm_task_start(t);
    return t;
}

void lm__task_destroy(lm_task *t)
{
    if (t->coro != NULL) {
        /* Only when a loop is freed with a task still suspended: its stack
         * goes back, whatever its frames held is lost. */
        lm__coro_free(&t->loop->sched, t->coro);
        t->coro = NULL;
    }
    lm__list_remove(&t->all_node);
    lm__list_remove(&t->ready_node);
    lm__list_remove(&t->wait_node);
    name_free(t);
    free(t->error_message);
    free(t);
}

void lm_task_release(lm_task *t)
{
    if (t != NULL && --t->refs == 0)
        lm__task_destroy(t);
}

lm_task *lm_task_retain(lm_task *t)
{
    if (t != NULL)
        t->refs++;
    return t;
}

/* ---- accessors ---------------------------------------------------------- */

uint64_t lm_task_id(const lm_task *t) { return t != NULL ? t->id : 0; }
const char *lm_task_name(const lm_task *t) { return t != NULL ? t->name : ""; }
lm_state lm_task_state(const lm_task *t) { return t->state; }
uint64_t lm_task_parent_id(const lm_task *t) { return t->parent_id; }
void *lm_task_result(const lm_task *t) { return t->result; }
const char *lm_task_error_message(const lm_task *t) { return t->error_message; }

int lm_task_finished(const lm_task *t)
{
    return t->state == LM_STATE_DONE || t->state == LM_STATE_FAILED ||
           t->state == LM_STATE_CANCELLED;
}

int lm_task_error(const lm_task *t)
{
    return lm_task_finished(t) ? t->error : LM_ESTATE;
}

int lm_task_set_name(lm_task *t, const char *name)
{
    if (t == NULL || name == NULL)
        return LM_EINVAL;
    char *n = dup_str(name);
    if (n == NULL)
        return LM_ENOMEM;
    name_free(t);
    t->name = n;
    LM__TRACE(t->loop, lm__tr_name, t->id, n);
    return 0;
}

int lm_return(void *value)
{
    lm_task *t = lm__current();
    if (t == NULL)
        return LM_ENOTASK;
    t->result = value;
    return 0;
}

int lm_fail(int code, const char *message)
{
    if (code >= 0)
        code = LM_EFAILED; /* a failure must not read as success */
    lm_task *t = lm__current();
    if (t == NULL)
        return code;
    if (message != NULL) {
        char *m = dup_str(message);
        if (m != NULL) {
            free(t->error_message);
            t->error_message = m;
        }
    }
    return code;
}

/* ---- running ------------------------------------------------------------ */

/* After a task ended (on the loop's stack): its stack goes back to the pool,
 * joiners are woken, and the loop drops its reference. */
static void task_finish(lm_loop *loop, lm_task *t)
{
    if (t->coro != NULL) {
        lm__coro_free(&loop->sched, t->coro);
        t->coro = NULL;
    }
    loop->stats.tasks_alive--;
    if (t == loop->main)
        loop->main_done = true;
    lm__list *n;
    while ((n = lm__list_pop_front(&t->joiners)) != NULL) {
        lm__waiter *w = LM__CONTAINER_OF(n, lm__waiter, node);
        if (w->ended != NULL)
            w->ended(w, t);
        else
            lm__wake(w->task, LM__BY_TASK, t->id, 0);
    }
    lm_task_release(t);
}

/* The bottom frame of every task's stack. */
static void task_entry(void *arg)
{
    lm_task *t = arg;
    lm_loop *loop = t->loop;
    int rc = t->fn(t->arg);
    lm__reason r = {.fd = -1};
    lm_state to;
    if (rc > 0) {
        /* The contract is 0 or a negative code. A positive return is most
         * likely C's "1 means error" habit: reading it as success would hide
         * a failure, so it fails like lm_fail(positive) does. */
        if (t->error_message == NULL) {
            char buf[96];
            snprintf(buf, sizeof buf,
                     "task function returned %d (positive codes are not success)", rc);
            t->error_message = dup_str(buf);
        }
        rc = LM_EFAILED;
    }
    if (rc == 0 && t->cancel_pending) {
        /* It cancelled itself (or was cancelled while running) and
         * returned before any await could deliver it: asyncio ends such a
         * task cancelled too (the request wins over the return). */
        t->cancel_pending = false;
        rc = LM_ECANCELED;
    }
    if (rc == 0) {
        to = LM_STATE_DONE;
    } else if (rc == LM_ECANCELED) {
        to = LM_STATE_CANCELLED;
        r.by = LM__BY_CANCEL;
        r.task = t->cancel_by;
    } else {
        to = LM_STATE_FAILED;
        r.message = t->error_message;
    }
    r.error = rc;
    t->error = rc;
    transition(t, to, &r);
    lm__coro_exit(&loop->sched);
}

/* The first step of t, the part of lm__task_step (lm_runtime.h) that runs
 * once per task: a task cancelled while pending ends without running, and
 * one that gets no stack fails; both return false. Otherwise t is running
 * and has its coroutine. */
bool lm__task_first_step(lm_loop *loop, lm_task *t)
{
    if (t->cancel_pending) {
        /* Cancelled while pending: the body never runs. */
        lm__reason r = {.by = LM__BY_CANCEL, .task = t->cancel_by, .fd = -1,
                        .error = LM_ECANCELED};
        t->error = LM_ECANCELED;
        t->cancel_pending = false;
        transition(t, LM_STATE_CANCELLED, &r);
        task_finish(loop, t);
        return false;
    }
    transition(t, LM_STATE_RUNNING, NULL);
    t->coro = lm__coro_new(&loop->sched, task_entry, t);
    if (t->coro == NULL) {
        lm__reason r = {.fd = -1, .error = LM_ENOMEM, .message = "no memory for a stack"};
        t->error = LM_ENOMEM;
        transition(t, LM_STATE_FAILED, &r);
        task_finish(loop, t);
        return false;
    }
    t->started = true;
    return true;
}

void lm__task_finish(lm_loop *loop, lm_task *t) { task_finish(loop, t); }

/* ---- park / wake / cancel ----------------------------------------------- */

/* The one body of lm__park and lm__park_passing, inlined into both so that
 * plain parks (every sleep, event, queue, lock wait) pay nothing for passing
 * cancellation on: pass_on is NULL whenever a task is not parked in an await
 * that passes it on, so lm__park never touches it. */
static inline __attribute__((always_inline)) int
park_impl(const lm__reason *w, lm_time deadline, lm__pass_fn pass, void *ctx)
{
    lm_loop *loop = lm__loop();
    lm_task *t = loop != NULL ? loop->current : NULL;
    if (t == NULL)
        return LM_ENOTASK;
    if (t->cancel_pending) {
        /* asyncio: a task resumed with a cancellation pending cancels the
         * future it then awaits; for a task or gather that passes the
         * request on, and the awaiter waits for the outcome. */
        t->cancel_pending = false;
        if (pass == NULL || !pass(t, ctx, t->cancel_reason))
            return LM_ECANCELED;
    }
    t->wake_status = 0;
    if (pass != NULL) {
        t->pass_on.fn = pass;
        t->pass_on.ctx = ctx;
    }
    transition(t, LM_STATE_AWAITING, w);
    if (deadline >= 0)
        lm__timer_arm(loop, &t->timer, deadline, LM__TIMER_TASK);
    lm__task_leave(loop, t);
    /* Running again: lm__wake (or the timer, or a cancel) set the status. */
    if (pass != NULL) {
        t->pass_on.fn = NULL;
        t->pass_on.ctx = NULL;
    }
    if (t->timer.armed)
        lm__timer_disarm(loop, &t->timer);
    int st = t->wake_status;
    if (st == LM_ECANCELED)
        t->cancel_pending = false; /* delivered */
    return st;
}

int lm__park_passing(const lm__reason *w, lm_time deadline, lm__pass_fn pass,
                     void *ctx)
{
    return park_impl(w, deadline, pass, ctx);
}

int lm__park(const lm__reason *w, lm_time deadline)
{
    return park_impl(w, deadline, NULL, NULL);
}

void lm__wake(lm_task *t, uint8_t by, uint64_t by_task, int status)
{
    if (t == NULL || t->state != LM_STATE_AWAITING)
        return;
    lm_loop *loop = t->loop;
    t->wake_status = status;
    if (t->timer.armed)
        lm__timer_disarm(loop, &t->timer);
    lm__reason r = {.by = by, .task = by_task, .fd = -1};
    transition(t, LM_STATE_PENDING, &r);
    lm__ready_task(loop, t);
}

void lm__task_timer_fired(lm_loop *loop, lm_task *t)
{
    if (t->state != LM_STATE_AWAITING)
        return;
    LM__TRACE(loop, lm__tr_timer, t->id);
    lm__wake(t, LM__BY_TIMER, 0, LM_ETIMEDOUT);
}

int lm__cancel(lm_task *t, uint8_t reason, uint64_t by)
{
    if (t == NULL)
        return LM_EINVAL;
    if (lm_task_finished(t))
        return 0; /* nothing to cancel; its outcome and result stay */
    lm_loop *loop = t->loop;
    t->ncancel++;
    LM__TRACE(loop, lm__tr_cancel, t->id, by, reason);
    if (t->cancel_pending)
        return 1; /* already on its way: counted, delivered once */
    t->cancel_reason = reason;
    t->cancel_by = by;
    switch (t->state) {
    case LM_STATE_CREATED: {
        lm__reason r = {.by = LM__BY_CANCEL, .task = by, .fd = -1, .error = LM_ECANCELED};
        t->error = LM_ECANCELED;
        transition(t, LM_STATE_CANCELLED, &r);
        task_finish(loop, t);
        break;
    }
    case LM_STATE_AWAITING:
        /* An await that passes cancellation on (lm_join, gather, wait_for)
         * cancels what it awaits and keeps waiting for its end. */
        if (t->pass_on.fn != NULL && t->pass_on.fn(t, t->pass_on.ctx, reason))
            break;
        t->cancel_pending = true;
        lm__wake(t, LM__BY_CANCEL, by, LM_ECANCELED);
        break;
    default:
        /* pending: ends at its turn without running (never started) or
         * gets LM_ECANCELED at its next await; running: at its next await
         * (or ends cancelled if it returns 0 first). */
        t->cancel_pending = true;
        break;
    }
    return 1;
}

int lm_cancel(lm_task *t)
{
    lm_task *cur = lm__current();
    return lm__cancel(t, LM__CANCEL_EXPLICIT, cur != NULL ? cur->id : 0);
}

void lm__cancel_all(lm_loop *loop, uint8_t reason)
{
    lm__list *n = loop->tasks.next;
    while (n != &loop->tasks) {
        lm__list *next = n->next; /* n may be freed by the cancel */
        lm_task *t = LM__CONTAINER_OF(n, lm_task, all_node);
        if (!lm_task_finished(t))
            lm__cancel(t, reason, 0);
        n = next;
    }
}

int lm_cancelled(void)
{
    lm_task *t = lm__current();
    return t != NULL && t->ncancel > 0;
}

int lm_task_cancelling(const lm_task *t)
{
    return t != NULL ? (int)t->ncancel : 0;
}

int lm_uncancel(void)
{
    lm_task *t = lm__current();
    if (t == NULL)
        return LM_ENOTASK;
    if (t->ncancel > 0)
        t->ncancel--;
    /* As in asyncio 3.13: the last withdrawn request also withdraws a
     * delivery still on its way. */
    if (t->ncancel == 0)
        t->cancel_pending = false;
    return (int)t->ncancel;
}

/* ---- the simplest awaits ------------------------------------------------ */

int lm_sleep(lm_time d)
{
    lm_loop *loop = lm__loop();
    if (loop == NULL || loop->current == NULL)
        return LM_ENOTASK;
    if (d < 0)
        d = 0;
    lm__reason w = {.on = LM__ON_SLEEP, .fd = -1};
    int rc = lm__park(&w, lm__loop_refresh(loop) + d);
    return rc == LM_ETIMEDOUT ? 0 : rc;
}

/* Takes a pending cancellation: true (and no longer pending) if there was
 * one. */
static inline bool take_cancel(lm_task *t)
{
    if (!t->cancel_pending)
        return false;
    t->cancel_pending = false;
    return true;
}

int lm_yield(void)
{
    lm_task *t = lm__current();
    if (t == NULL)
        return LM_ENOTASK;
    if (take_cancel(t))
        return LM_ECANCELED;
    lm_loop *loop = t->loop;
    lm__reason r = {.by = LM__BY_YIELD, .task = t->id, .fd = -1};
    transition(t, LM_STATE_PENDING, &r);
    lm__ready_task(loop, t);
    lm__task_leave(loop, t);
    /* A yield hands nothing over, so a cancel that came meanwhile is
     * delivered right here. */
    return take_cancel(t) ? LM_ECANCELED : 0;
}

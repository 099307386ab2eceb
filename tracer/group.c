/*
 * group.c: awaiting other tasks. lm_join, lm_shield, lm_gather, lm_wait,
 * lm_wait_for, task groups (structured concurrency) and timeout scopes.
 *
 * Written only against lm_internal.h. The mechanism: the awaiting task (the
 * owner) links one lm__waiter per member into that member's `joiners` list
 * and parks. When a member ends, the runtime calls the waiter's `ended`
 * callback, which updates the call's state and wakes the owner only when the
 * call's condition is met (asyncio completes one outer future): the owner is
 * woken once per await, by the member that settled it (by: task).
 *
 * Cancellation follows asyncio:
 *  - lm_join, lm_gather and lm_wait_for pass an owner's cancellation on to
 *    what it awaits (lm__park_passing) and go on waiting for the outcome;
 *    lm_shield and lm_wait do not (the owner gets LM_ECANCELED at once).
 *  - A cancellation that arrives after the condition was met but before the
 *    owner ran again is delivered by the call itself (asyncio raises
 *    CancelledError at that await): nothing is lost, the members' outcomes
 *    stay readable on the tasks.
 *
 * Costs: every group call allocates one waiter per member (on the stack up to
 * LM__GROUP_SMALL members), plus, only when tracing is on, the member id list
 * and the label. A member's end costs O(1) in its callback; only a
 * cancellation that goes to every member scans them (once).
 */
#include "lm_internal.h"

#include <stdlib.h>
#include <string.h>

/* Members up to which a group call needs no heap memory. */
#define LM__GROUP_SMALL 8
/* Longest label written to a trace ("gather(A, B, ...)"), in bytes. */
#define LM__LABEL_MAX 200

/* ------------------------------------------------------------------------ */
/* Labels and trace events                                                   */
/* ------------------------------------------------------------------------ */

/* Length of the longest prefix of s[0..len) that ends on a UTF-8 character
 * boundary, so a truncated name never splits a character. */
static size_t utf8_cut(const char *s, size_t len)
{
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return len;
}

/*
 * Builds "head(A, B, C)" from the members' names, at most LM__LABEL_MAX
 * bytes ("..." marks what was left out). Returns a malloc'd string the caller
 * frees, or NULL when out of memory (the trace then has no label).
 */
static char *build_label(const char *head, lm_task *const *tasks, size_t n)
{
    char *out = malloc(LM__LABEL_MAX + 8);
    if (out == NULL)
        return NULL;
    size_t len = 0;
    size_t hl = strlen(head);
    if (hl > LM__LABEL_MAX / 2)
        hl = utf8_cut(head, LM__LABEL_MAX / 2);
    memcpy(out, head, hl);
    len = hl;
    out[len++] = '(';
    for (size_t i = 0; i < n; i++) {
        const char *nm = lm_task_name(tasks[i]);
        size_t nl = nm != NULL ? strlen(nm) : 0;
        size_t sep = i > 0 ? 2 : 0;
        if (len + sep + nl > LM__LABEL_MAX) {
            /* Out of room: as much of this name as fits, then "...". */
            size_t room = LM__LABEL_MAX > len + sep ? LM__LABEL_MAX - len - sep : 0;
            if (room > 0 && nl > 0) {
                memcpy(out + len, ", ", sep);
                len += sep;
                size_t cut = utf8_cut(nm, room);
                memcpy(out + len, nm, cut);
                len += cut;
            }
            memcpy(out + len, "...", 3);
            len += 3;
            break;
        }
        memcpy(out + len, ", ", sep);
        len += sep;
        if (nl > 0)
            memcpy(out + len, nm, nl);
        len += nl;
    }
    out[len++] = ')';
    out[len] = '\0';
    return out;
}


/* ------------------------------------------------------------------------ */
/* The common part of gather / wait / wait_for                               */
/* ------------------------------------------------------------------------ */

typedef struct grp {
    lm_loop *loop;
    lm_task *owner;
    lm_task *const *tasks;
    size_t n;
    size_t left;             /* members not finished yet */
    lm__waiter *w;           /* n waiters, one per member */
    uint32_t id;
    uint8_t kind;
    int mode;                /* gather flags, or the lm_wait_mode */
    bool met;                /* the call's condition is met (owner woken) */
    bool cancel_requested;   /* the owner's cancellation went to the members */
    int first;               /* gather: the first member error */
    char *label;             /* only when tracing */
    lm__waiter small_w[LM__GROUP_SMALL];
} grp;

static const char *const kind_head[LM__GROUP__COUNT] = {
    [LM__GROUP_GATHER] = "gather",
    [LM__GROUP_WAIT] = "wait",
    [LM__GROUP_TASKGROUP] = "taskgroup",
    [LM__GROUP_WAIT_FOR] = "wait_for",
};

static const uint8_t kind_on[LM__GROUP__COUNT] = {
    [LM__GROUP_GATHER] = LM__ON_GATHER,
    [LM__GROUP_WAIT] = LM__ON_WAIT,
    [LM__GROUP_TASKGROUP] = LM__ON_TASKGROUP,
    [LM__GROUP_WAIT_FOR] = LM__ON_WAIT_FOR,
};

/* Checks that every member can be awaited by self: not NULL, not self (that
 * would wait forever), on the same loop. */
static int check_members(lm_task *self, lm_task *const *tasks, size_t n)
{
    if ((n > 0 && tasks == NULL) || n > LM_GROUP_MAX_MEMBERS)
        return LM_EINVAL; /* more could not be read back from the trace */
    for (size_t i = 0; i < n; i++)
        if (tasks[i] == NULL || tasks[i] == self || tasks[i]->loop != self->loop)
            return LM_EINVAL;
    return 0;
}

/* Writes the `group` event: members' ids, mode, timeout and label. */
static void trace_group(lm_loop *loop, uint32_t id, uint8_t kind, uint64_t owner,
                        lm_task *const *tasks, size_t n, int mode,
                        lm_time timeout, const char *label)
{
    if (lm__loop_trace(loop) == NULL)
        return;
    uint64_t small[LM__GROUP_SMALL];
    uint64_t *ids = n <= LM__GROUP_SMALL ? small : malloc(n * sizeof *ids);
    size_t nids = ids != NULL ? n : 0; /* out of memory: an empty list */
    for (size_t i = 0; i < nids; i++)
        ids[i] = tasks[i]->id;
    LM__TRACE(loop, lm__tr_group, id, kind, owner, ids, nids, mode, timeout, label);
    if (ids != small)
        free(ids);
}

/* outcome: "ok", "failed", "cancelled" or "timeout"; rc: the code the
 * owner gets (0 for a wait that timed out, as in asyncio). */
static void trace_group_end(lm_loop *loop, uint32_t id, const char *outcome, int rc)
{
    LM__TRACE(loop, lm__tr_group_end, id, outcome, rc);
}

static const char *outcome_of(int rc)
{
    return rc == 0 ? "ok" : rc == LM_ECANCELED ? "cancelled"
                        : rc == LM_ETIMEDOUT   ? "timeout"
                                               : "failed";
}

/* A cancellation of the owner that arrived after its condition was met and
 * before it ran again (it is pending): delivered here, as asyncio raises
 * CancelledError at the await whose future had already completed. */
static bool take_pending_cancel(lm_task *self)
{
    if (!self->cancel_pending)
        return false;
    self->cancel_pending = false;
    return true;
}

/* Decides, after member i ended, whether the call's condition is met. */
static void grp_settle(grp *g, size_t i)
{
    lm_task *t = g->tasks[i];
    switch (g->kind) {
    case LM__GROUP_GATHER:
        if (!(g->mode & LM_GATHER_RETURN_EXCEPTIONS) && t->error != 0 &&
            g->first == 0) {
            /* The first error (a member cancelled by someone else counts,
             * with LM_ECANCELED, as asyncio.gather raises CancelledError). */
            g->first = t->error;
            if (g->mode & LM_GATHER_CANCEL_ON_ERROR) {
                /* Opt-in (Trio / task-group style): the others are
                 * cancelled by the member that failed, and awaited. */
                for (size_t k = 0; k < g->n; k++)
                    if (!lm_task_finished(g->tasks[k]))
                        lm__cancel(g->tasks[k], LM__CANCEL_GROUP, t->id);
            } else {
                g->met = true; /* asyncio: the error goes out at once */
            }
        }
        break;
    case LM__GROUP_WAIT:
        if (g->mode == LM_FIRST_COMPLETED ||
            (g->mode == LM_FIRST_EXCEPTION && t->state == LM_STATE_FAILED))
            g->met = true; /* a cancelled member is no exception (asyncio) */
        break;
    default: /* wait_for: its one member */
        g->met = true;
        break;
    }
    if (g->left == 0)
        g->met = true;
}

/* A member's end (the waiter's callback, on the loop's thread). */
static void grp_member_ended(lm__waiter *w, lm_task *ended)
{
    grp *g = w->ctx;
    g->left--;
    if (g->met)
        return; /* already settled: the owner has been woken */
    if (g->kind == LM__GROUP_GATHER && ended->error == 0 && g->left > 0)
        return; /* the common case of a gather: nothing to decide yet */
    grp_settle(g, (size_t)(w - g->w));
    if (g->met)
        lm__wake(g->owner, LM__BY_TASK, ended->id, 0);
}

/*
 * Starts a group call: validates, starts members still `created` (awaiting
 * an un-started task would wait forever; like asyncio.gather wrapping
 * coroutines in tasks), links one waiter per unfinished member, settles the
 * members that had already ended (in index order) and writes the `group`
 * event. 0, LM_EINVAL or LM_ENOMEM.
 */
static int grp_begin(grp *g, lm_task *self, uint8_t kind, lm_task *const *tasks,
                     size_t n, int mode, lm_time timeout)
{
    int rc = check_members(self, tasks, n);
    if (rc != 0)
        return rc;
    memset(g, 0, offsetof(grp, small_w));
    g->loop = self->loop;
    g->owner = self;
    g->tasks = tasks;
    g->n = n;
    g->left = n;
    g->kind = kind;
    g->mode = mode;
    if (n <= LM__GROUP_SMALL) {
        g->w = g->small_w;
    } else {
        g->w = malloc(n * sizeof *g->w);
        if (g->w == NULL)
            return LM_ENOMEM;
    }
    g->id = lm__group_id(g->loop);
    if (lm__loop_trace(g->loop) != NULL)
        g->label = build_label(kind_head[kind], tasks, n);
    trace_group(g->loop, g->id, kind, self->id, tasks, n, mode, timeout, g->label);
    bool any_finished = false;
    for (size_t i = 0; i < n; i++) {
        if (tasks[i]->state == LM_STATE_CREATED)
            lm_task_start(tasks[i]);
        g->w[i].task = self;
        g->w[i].ended = grp_member_ended;
        g->w[i].ctx = g;
        lm__list_init(&g->w[i].node);
        if (!lm_task_finished(tasks[i]))
            lm__list_push_back(&tasks[i]->joiners, &g->w[i].node);
        else
            any_finished = true;
    }
    /* Members that have already ended count as if they ended now, in
     * index order (the same task twice is linked twice: both see its end),
     * once every other member is linked (settling may cancel them). */
    if (n == 0)
        g->met = true;
    for (size_t i = 0; any_finished && i < n; i++) {
        if (lm_task_finished(tasks[i]) && lm__list_unlinked(&g->w[i].node)) {
            g->left--;
            if (!g->met)
                grp_settle(g, i);
        }
    }
    return 0;
}

/* Passes the owner's cancellation on to every member still running (gather:
 * reason group, asked by the owner, as _GatheringFuture.cancel does). */
static bool grp_pass_cancel(lm_task *self, void *ctx, uint8_t reason)
{
    (void)reason;
    grp *g = ctx;
    bool any = false;
    for (size_t i = 0; i < g->n; i++) {
        if (!lm_task_finished(g->tasks[i])) {
            lm__cancel(g->tasks[i], LM__CANCEL_GROUP, self->id);
            any = true;
        }
    }
    if (any)
        g->cancel_requested = true;
    return any;
}

/* wait_for: the owner's cancellation goes to its one member with the
 * owner's own reason (3.12's wait_for is `await task` in a timeout scope). */
static bool wf_pass_cancel(lm_task *self, void *ctx, uint8_t reason)
{
    grp *g = ctx;
    if (lm_task_finished(g->tasks[0]))
        return false;
    g->cancel_requested = true;
    lm__cancel(g->tasks[0], reason, self->id);
    return true;
}

static int grp_park(grp *g, lm_time deadline, lm__pass_fn pass)
{
    lm__reason r = {0};
    r.on = kind_on[g->kind];
    r.fd = -1;
    r.group = g->id;
    r.label = g->label;
    if (g->kind == LM__GROUP_WAIT_FOR)
        r.task = g->tasks[0]->id;
    return lm__park_passing(&r, deadline, pass, g);
}

/* Unlinks the waiters still linked, writes `group_end`, frees. */
static void grp_end(grp *g, const char *outcome, int rc)
{
    for (size_t i = 0; i < g->n; i++)
        lm__list_remove(&g->w[i].node);
    trace_group_end(g->loop, g->id, outcome, rc);
    if (g->w != g->small_w)
        free(g->w);
    free(g->label);
}

/* ------------------------------------------------------------------------ */
/* join and shield                                                           */
/* ------------------------------------------------------------------------ */

/* lm_join: the joiner's cancellation goes on to the awaited task, with the
 * joiner's reason, asked by the joiner. */
static bool join_pass_cancel(lm_task *self, void *ctx, uint8_t reason)
{
    lm_task *t = ctx;
    if (lm_task_finished(t))
        return false;
    lm__cancel(t, reason, self->id);
    return true;
}

/* The waiter lives on the joining task's stack and is linked into t's
 * joiners only while that task is parked, then unlinked before returning;
 * GCC cannot see the unlink and would warn about a dangling pointer. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
static int join_common(lm_task *t, void **result, bool shielded)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (t == NULL || t == self || t->loop != self->loop)
        return LM_EINVAL;
    if (t->state == LM_STATE_CREATED)
        lm_task_start(t);
    if (!lm_task_finished(t)) {
        lm__waiter w;
        w.task = self;
        w.ended = NULL;
        w.ctx = NULL;
        lm__list_init(&w.node);
        lm__list_push_back(&t->joiners, &w.node);
        lm__reason r = {0};
        r.on = LM__ON_TASK;
        r.fd = -1;
        r.task = t->id;
        r.label = shielded ? "shield" : NULL;
        int rc = 0;
        while (rc == 0 && !lm_task_finished(t))
            rc = lm__park_passing(&r, -1, shielded ? NULL : join_pass_cancel, t);
        lm__list_remove(&w.node);
        if (rc != 0)
            return rc; /* our own cancellation (shield: t goes on) */
        if (take_pending_cancel(self))
            return LM_ECANCELED;
    }
    if (result != NULL)
        *result = t->result;
    return t->error;
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif

int lm_join(lm_task *t, void **result) { return join_common(t, result, false); }

int lm_shield(lm_task *t, void **result) { return join_common(t, result, true); }

/* ------------------------------------------------------------------------ */
/* gather                                                                    */
/* ------------------------------------------------------------------------ */

int lm_gather(lm_task *const *tasks, size_t n, int flags, void **results,
              int *errors)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if ((flags & ~(LM_GATHER_RETURN_EXCEPTIONS | LM_GATHER_CANCEL_ON_ERROR)) != 0 ||
        flags == (LM_GATHER_RETURN_EXCEPTIONS | LM_GATHER_CANCEL_ON_ERROR))
        return LM_EINVAL;
    grp g;
    int rc = grp_begin(&g, self, LM__GROUP_GATHER, tasks, n, flags, -1);
    if (rc != 0)
        return rc;
    bool parked = false;
    while (!g.met) {
        parked = true;
        /* With the cancellation passed on, the only way out is a member's
         * end; LM_ECANCELED comes back only if no member was left to take
         * it, and then every member has ended. */
        if (grp_park(&g, -1, grp_pass_cancel) == LM_ECANCELED) {
            g.cancel_requested = true;
            break;
        }
    }
    if (parked && take_pending_cancel(self))
        g.cancel_requested = true;
    for (size_t i = 0; i < n; i++) {
        if (results != NULL)
            results[i] = lm_task_finished(tasks[i]) ? tasks[i]->result : NULL;
        if (errors != NULL)
            errors[i] = lm_task_error(tasks[i]);
    }
    if (g.first != 0)
        rc = g.first;
    else
        rc = g.cancel_requested ? LM_ECANCELED : 0;
    grp_end(&g, outcome_of(rc), rc);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* wait                                                                      */
/* ------------------------------------------------------------------------ */

int lm_wait(lm_task *const *tasks, size_t n, lm_wait_mode mode,
            lm_time timeout, unsigned char *done, size_t *ndone)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (mode != LM_FIRST_COMPLETED && mode != LM_FIRST_EXCEPTION &&
        mode != LM_ALL_COMPLETED)
        return LM_EINVAL;
    if (n == 0)
        return LM_EINVAL; /* asyncio: "Set of Tasks/Futures is empty." */
    lm_time deadline = timeout >= 0 ? lm__loop_stamp(self->loop) + timeout : -1;
    grp g;
    int rc = grp_begin(&g, self, LM__GROUP_WAIT, tasks, n, (int)mode,
                       timeout >= 0 ? timeout : -1);
    if (rc != 0)
        return rc;
    bool timed_out = false, parked = false;
    while (!g.met) {
        parked = true;
        int prc = grp_park(&g, deadline, NULL);
        if (prc == LM_ETIMEDOUT) {
            timed_out = true;
            break;
        }
        if (prc == LM_ECANCELED) {
            rc = LM_ECANCELED; /* wait cancels nothing */
            break;
        }
    }
    if (rc == 0 && parked && take_pending_cancel(self))
        rc = LM_ECANCELED;
    /* done[] reflects the states now, including members that ended in the
     * same tick as the timeout. */
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        int f = lm_task_finished(tasks[i]);
        count += (size_t)f;
        if (done != NULL)
            done[i] = (unsigned char)f;
    }
    if (ndone != NULL)
        *ndone = count;
    grp_end(&g, timed_out && rc == 0 ? "timeout" : outcome_of(rc), rc);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* wait_for                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Like asyncio.wait_for (3.12): when the deadline passes, t is cancelled
 * (reason timeout, by the caller) and awaited to its very end, so its
 * cleanup has run before the caller sees LM_ETIMEDOUT. If t ignored the
 * cancellation and ended anyway (returned 0 or another error), that outcome
 * is returned instead. A zero timeout cancels t at once (a t that has not
 * run yet never runs its body) and awaits its end. The caller's own
 * cancellation goes on to t (with its reason); the caller gets LM_ECANCELED
 * once t has ended cancelled, or t's outcome if t ignored it.
 */
/* The deadline of a wait_for: a loop callback (asyncio's timeout handle)
 * that cancels the member on the owner's behalf without waking the owner,
 * which goes on waiting for the member's end: one wake per wait_for. */
typedef struct wf_deadline {
    grp *g;
    lm_handle *h;      /* pending callback, or NULL once it ran */
    bool fired;
} wf_deadline;

static void wf_deadline_fire(void *arg)
{
    wf_deadline *d = arg;
    d->h = NULL;
    if (d->g->met)
        return; /* the member ended first */
    d->fired = true;
    lm__cancel(d->g->tasks[0], LM__CANCEL_TIMEOUT, d->g->owner->id);
}

int lm_wait_for(lm_task *t, lm_time timeout, void **result)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    lm_task *one[1] = {t};
    grp g;
    int rc = grp_begin(&g, self, LM__GROUP_WAIT_FOR, one, 1, 0,
                       timeout >= 0 ? timeout : -1);
    if (rc != 0)
        return rc;
    bool timed_out = false, delivered = false, parked = false;
    wf_deadline d = {.g = &g};
    if (timeout == 0 && !g.met) {
        /* asyncio: timeout <= 0 cancels at once and waits for the end. */
        timed_out = true;
        lm__cancel(t, LM__CANCEL_TIMEOUT, self->id);
    } else if (timeout > 0 && !g.met) {
        d.h = lm_call_later(self->loop, timeout, wf_deadline_fire, &d);
        if (d.h != NULL)
            lm__handle_deadline_of(d.h, self->id);
        if (d.h == NULL) {
            grp_end(&g, "failed", LM_ENOMEM);
            return LM_ENOMEM;
        }
    }
    while (!g.met) {
        parked = true;
        if (grp_park(&g, -1, wf_pass_cancel) == LM_ECANCELED) {
            delivered = true; /* t had ended: nothing to pass on */
            break;
        }
    }
    if (d.h != NULL)
        lm_handle_cancel(d.h);
    timed_out = timed_out || d.fired;
    if (parked && take_pending_cancel(self))
        delivered = true;
    if (delivered || (t->state == LM_STATE_CANCELLED && g.cancel_requested)) {
        rc = LM_ECANCELED; /* the caller's own cancellation */
    } else if (t->state == LM_STATE_CANCELLED && timed_out) {
        rc = LM_ETIMEDOUT;
    } else {
        rc = t->error; /* in time, or t ignored the cancellation */
        if (result != NULL)
            *result = t->result;
    }
    grp_end(&g, outcome_of(rc), rc);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Task groups                                                               */
/* ------------------------------------------------------------------------ */

/*
 * asyncio.TaskGroup. Each child carries a waiter in its joiners list from
 * its spawn on, so the group hears of every child's end at once, whether the
 * owner is in its body or at the end of the block (lm_taskgroup_exit):
 *  - a child that failed adds its code to the errors (in the order they
 *    happen) and, the first time, aborts the group: the other children are
 *    cancelled by it (reason group) and, if the owner is still in its body,
 *    so is the owner, at its current await (asyncio cancels the parent task;
 *    the exit withdraws that request again);
 *  - when the owner waits in lm_taskgroup_exit, the last child's end wakes
 *    it (once).
 * The failing child is never cancelled itself: it has ended when this runs.
 */
typedef struct tg_child {
    lm__waiter w;          /* in t->joiners until t ends or the group is freed */
    lm_task *t;            /* the group's reference */
} tg_child;

struct lm_taskgroup {
    lm_loop *loop;
    lm_task *owner;
    char *name;
    uint32_t id;
    tg_child **c;
    size_t n, cap;
    size_t left;      /* children not finished */
    int *errs;        /* failures in the order they happened (+ the body's) */
    size_t nerr, errcap;
    int first_err;    /* errs[0], also when out of memory */
    bool aborting;    /* children cancelled: a failure, the body's error or
                         cancellation; no more spawns */
    bool parent_cancel_requested; /* the group cancelled its owner */
    bool waiting;     /* the owner is in lm_taskgroup_exit */
    bool exited;
    int exit_rc;
};

static void tg_add_error(lm_taskgroup *g, int err)
{
    if (g->first_err == 0)
        g->first_err = err; /* kept even when the list cannot grow */
    if (g->nerr == g->errcap) {
        size_t ncap = g->errcap != 0 ? g->errcap * 2 : 4;
        int *ne = realloc(g->errs, ncap * sizeof *ne);
        if (ne == NULL)
            return; /* out of memory: lm_taskgroup_errors misses this one */
        g->errs = ne;
        g->errcap = ncap;
    }
    g->errs[g->nerr++] = err;
}

/* Cancels every child still running (reason group, asked by `by`). */
static void tg_abort(lm_taskgroup *g, uint64_t by)
{
    g->aborting = true;
    for (size_t i = 0; i < g->n; i++)
        if (!lm_task_finished(g->c[i]->t))
            lm__cancel(g->c[i]->t, LM__CANCEL_GROUP, by);
}

static void tg_child_ended(lm__waiter *w, lm_task *t)
{
    lm_taskgroup *g = w->ctx;
    g->left--;
    if (t->state == LM_STATE_FAILED) {
        tg_add_error(g, t->error);
        if (!g->aborting && !g->parent_cancel_requested) {
            tg_abort(g, t->id);
            /* The owner's body is interrupted at its current await; an
             * owner already waiting at the end of the block just goes on
             * waiting (asyncio interrupts and resumes that wait; nothing
             * observable differs). */
            if (!g->waiting && !lm_task_finished(g->owner)) {
                g->parent_cancel_requested = true;
                lm__cancel(g->owner, LM__CANCEL_GROUP, t->id);
            }
        }
    }
    if (g->waiting && g->left == 0)
        lm__wake(g->owner, LM__BY_TASK, t->id, 0);
}

lm_taskgroup *lm_taskgroup_new(const char *name)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return NULL;
    lm_taskgroup *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    if (name != NULL && (g->name = strdup(name)) == NULL) {
        free(g);
        return NULL;
    }
    g->loop = self->loop;
    g->owner = self;
    g->id = lm__group_id(g->loop);
    return g;
}

lm_task *lm_taskgroup_spawn(lm_taskgroup *g, const char *name, lm_coro_fn fn,
                            void *arg)
{
    if (g == NULL || fn == NULL || g->exited || g->aborting ||
        g->n >= LM_GROUP_MAX_MEMBERS)
        return NULL;
    if (g->n == g->cap) {
        size_t ncap = g->cap != 0 ? g->cap * 2 : 8;
        tg_child **nc = realloc(g->c, ncap * sizeof *nc);
        if (nc == NULL)
            return NULL;
        g->c = nc;
        g->cap = ncap;
    }
    tg_child *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    lm__list_init(&c->w.node);
    c->w.task = g->owner;
    c->w.ended = tg_child_ended;
    c->w.ctx = g;
    c->t = lm_task_new(g->loop, name, fn, arg);
    if (c->t == NULL) {
        free(c);
        return NULL;
    }
    g->c[g->n++] = c;
    lm__list_push_back(&c->t->joiners, &c->w.node);
    g->left++;
    lm_task_start(c->t);
    return c->t;
}

size_t lm_taskgroup_size(const lm_taskgroup *g) { return g != NULL ? g->n : 0; }

lm_task *lm_taskgroup_task(const lm_taskgroup *g, size_t i)
{
    return g != NULL && i < g->n ? g->c[i]->t : NULL;
}

size_t lm_taskgroup_errors(const lm_taskgroup *g, int *errs, size_t cap)
{
    if (g == NULL)
        return 0;
    for (size_t i = 0; errs != NULL && i < g->nerr && i < cap; i++)
        errs[i] = g->errs[i];
    return g->nerr;
}

int lm_taskgroup_exit(lm_taskgroup *g, int body_rc)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (g == NULL || self != g->owner)
        return LM_EINVAL;
    if (g->exited)
        return g->exit_rc;
    if (g->waiting)
        return LM_EBUSY;
    if (body_rc > 0)
        body_rc = LM_EFAILED;
    bool propagate_cancel = body_rc == LM_ECANCELED;
    if (g->parent_cancel_requested) {
        /* The group's own request is withdrawn; a cancellation the body
         * got from elsewhere still counts (asyncio's uncancel). */
        g->parent_cancel_requested = false;
        if (lm_uncancel() == 0)
            propagate_cancel = false;
    }
    if (body_rc != 0 && !g->aborting)
        tg_abort(g, self->id);
    char *label = NULL;
    if (lm__loop_trace(g->loop) != NULL) {
        lm_task **ts = malloc((g->n + 1) * sizeof *ts);
        if (ts != NULL) {
            for (size_t i = 0; i < g->n; i++)
                ts[i] = g->c[i]->t;
            label = build_label(g->name != NULL ? g->name : "taskgroup", ts, g->n);
            trace_group(g->loop, g->id, LM__GROUP_TASKGROUP, self->id, ts, g->n,
                        0, -1, g->name);
            free(ts);
        }
    }
    g->waiting = true;
    lm__reason r = {0};
    r.on = LM__ON_TASKGROUP;
    r.fd = -1;
    r.group = g->id;
    r.label = label;
    while (g->left > 0) {
        if (lm__park(&r, -1) == LM_ECANCELED && !g->aborting) {
            /* The owner is cancelled while it waits: the children are
             * cancelled and awaited, then the cancellation goes on. */
            propagate_cancel = true;
            tg_abort(g, self->id);
        }
    }
    free(label);
    g->waiting = false;
    g->exited = true;
    if (body_rc != 0 && body_rc != LM_ECANCELED)
        tg_add_error(g, body_rc); /* the body's own error joins the group's */
    /* Errors take precedence over a cancellation, as the ExceptionGroup
     * does in asyncio. */
    g->exit_rc = g->first_err != 0 ? g->first_err : propagate_cancel ? LM_ECANCELED : 0;
    /* The errors win over a cancellation from outside the group, but that
     * request still stands (asyncio 3.13 uncancels and cancels again): it is
     * delivered at the owner's next await. */
    if (g->first_err != 0 && self->ncancel > 0)
        self->cancel_pending = true;
    trace_group_end(g->loop, g->id, outcome_of(g->exit_rc), g->exit_rc);
    return g->exit_rc;
}

int lm_taskgroup_wait(lm_taskgroup *g) { return lm_taskgroup_exit(g, 0); }

void lm_taskgroup_free(lm_taskgroup *g)
{
    if (g == NULL)
        return;
    lm_task *self = lm__current();
    uint64_t by = self != NULL ? self->id : 0;
    /* Unlink first: the cancellations below may end children at once. */
    for (size_t i = 0; i < g->n; i++)
        lm__list_remove(&g->c[i]->w.node);
    for (size_t i = 0; i < g->n; i++) {
        tg_child *c = g->c[i];
        if (!lm_task_finished(c->t))
            lm__cancel(c->t, LM__CANCEL_GROUP, by);
        lm_task_release(c->t);
        free(c);
    }
    free(g->c);
    free(g->errs);
    free(g->name);
    free(g);
}

/* ------------------------------------------------------------------------ */
/* Timeout scopes                                                            */
/* ------------------------------------------------------------------------ */

/*
 * asyncio.timeout / timeout_at: a deadline over several awaits of one task.
 * When it passes, a loop callback cancels the task (reason timeout, by the
 * loop); lm_timeout_end turns the LM_ECANCELED that came out of the block
 * into LM_ETIMEDOUT when that cancellation was this scope's (no other
 * request is left once its own is withdrawn).
 */
enum { TO_ENTERED = 1, TO_EXPIRING, TO_EXPIRED, TO_EXITED };

struct lm_timeout {
    lm_loop *loop;
    lm_task *task;
    lm_time when;      /* absolute loop time; negative: none */
    lm_handle *h;      /* the pending callback, or NULL */
    uint32_t cancelling; /* the task's requests when the scope began */
    uint8_t state;
};

static void to_fire(void *arg)
{
    lm_timeout *to = arg;
    to->h = NULL;
    to->state = TO_EXPIRING;
    lm__cancel(to->task, LM__CANCEL_TIMEOUT, 0);
}

static int to_arm(lm_timeout *to, lm_time when)
{
    if (to->h != NULL) {
        lm_handle_cancel(to->h);
        to->h = NULL;
    }
    to->when = when < 0 ? -1 : when;
    if (when < 0)
        return 0;
    lm_time now = lm__loop_stamp(to->loop);
    /* A deadline already passed cancels at the loop's next turn, as
     * asyncio's call_soon does, not on the spot. */
    to->h = when <= now ? lm_call_soon(to->loop, to_fire, to)
                        : lm_call_later(to->loop, when - now, to_fire, to);
    if (to->h == NULL)
        return LM_ENOMEM;
    lm__handle_deadline_of(to->h, to->task->id);
    return 0;
}

lm_timeout *lm_timeout_begin_at(lm_time when)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return NULL;
    lm_timeout *to = calloc(1, sizeof *to);
    if (to == NULL)
        return NULL;
    to->loop = self->loop;
    to->task = self;
    to->cancelling = self->ncancel;
    to->state = TO_ENTERED;
    if (to_arm(to, when) != 0) {
        free(to);
        return NULL;
    }
    return to;
}

lm_timeout *lm_timeout_begin(lm_time delay)
{
    lm_loop *loop = lm__loop();
    if (loop == NULL)
        return NULL;
    return lm_timeout_begin_at(delay < 0 ? -1 : lm__loop_stamp(loop) + delay);
}

int lm_timeout_reschedule(lm_timeout *to, lm_time when)
{
    if (to == NULL)
        return LM_EINVAL;
    if (to->state != TO_ENTERED)
        return LM_ESTATE; /* expiring, expired or ended: too late */
    return to_arm(to, when);
}

lm_time lm_timeout_when(const lm_timeout *to) { return to != NULL ? to->when : -1; }

int lm_timeout_expired(const lm_timeout *to)
{
    return to != NULL && (to->state == TO_EXPIRING || to->state == TO_EXPIRED);
}

int lm_timeout_end(lm_timeout *to, int rc)
{
    if (to == NULL)
        return LM_EINVAL;
    if (lm__current() != to->task)
        return LM_EINVAL;
    if (to->state != TO_ENTERED && to->state != TO_EXPIRING)
        return LM_ESTATE;
    if (to->h != NULL) {
        lm_handle_cancel(to->h);
        to->h = NULL;
    }
    if (to->state == TO_EXPIRING) {
        to->state = TO_EXPIRED;
        if ((uint32_t)lm_uncancel() <= to->cancelling && rc == LM_ECANCELED)
            return LM_ETIMEDOUT;
        return rc;
    }
    to->state = TO_EXITED;
    return rc;
}

void lm_timeout_free(lm_timeout *to)
{
    if (to == NULL)
        return;
    if (to->h != NULL)
        lm_handle_cancel(to->h);
    free(to);
}

/*
 * group.c: awaiting other tasks. lm_join, lm_gather, lm_wait, lm_wait_for
 * and task groups (structured concurrency).
 *
 * Written only against lm_internal.h. The mechanism: the awaiting task (the
 * owner) links one lm__waiter per member into that member's `joiners` list
 * and parks; when a member ends, the runtime unlinks every waiter of its
 * joiners list and wakes each waiter's task (by: task). The owner then looks
 * at the members' states to decide whether it is done, so a wake that finds
 * the owner already pending (two members ending in the same tick) loses
 * nothing.
 *
 * Waiters are linked only while the owner is parked in a group call: an
 * owner that is sleeping somewhere else must not be woken by a member's end.
 *
 * Cancellation is delivered once per request (the runtime's cancel_pending),
 * so after an owner received LM_ECANCELED it can park again to wait for the
 * members it has just cancelled; their cleanup therefore always finishes
 * before a gather, wait_for or task group returns to a cancelled caller.
 *
 * Costs: every group call allocates one waiter per member (on the stack up to
 * LM__GROUP_SMALL members), plus, only when tracing is on, the member id list
 * and the label. A member's end moves its waiter onto the group's `done`
 * list (task.c), so the owner learns which members ended in O(1) each and a
 * gather of n tasks costs O(n) in all, not O(n^2). Only a first failure or a
 * cancellation scans every member (once).
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
    size_t left;             /* members whose end was not seen yet */
    lm__waiter *w;           /* n waiters, one per member */
    lm__list done;           /* waiters of members that ended, not yet seen */
    uint32_t id;
    uint8_t on;
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
    LM__TRACE(loop, group, id, kind, owner, ids, nids, mode, timeout, label);
    if (ids != small)
        free(ids);
}

/* outcome: "ok", "failed", "cancelled" or "timeout"; rc: the code the
 * owner gets (0 for a wait that timed out, as in asyncio). */
static void trace_group_end(lm_loop *loop, uint32_t id, const char *outcome, int rc)
{
    LM__TRACE(loop, group_end, id, outcome, rc);
}

static const char *outcome_of(int rc)
{
    return rc == 0 ? "ok" : rc == LM_ECANCELED ? "cancelled"
                        : rc == LM_ETIMEDOUT   ? "timeout"
                                               : "failed";
}

/*
 * Starts a group call: validates, starts members still `created` (awaiting
 * an un-started task would wait forever; like asyncio.gather wrapping
 * coroutines in tasks), links one waiter per unfinished member and writes
 * the `group` event. 0, LM_EINVAL or LM_ENOMEM.
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
    g->on = kind_on[kind];
    if (n <= LM__GROUP_SMALL) {
        g->w = g->small_w;
    } else {
        g->w = malloc(n * sizeof *g->w);
        if (g->w == NULL)
            return LM_ENOMEM;
    }
    lm__list_init(&g->done);
    for (size_t i = 0; i < n; i++) {
        if (tasks[i]->state == LM_STATE_CREATED)
            lm_task_start(tasks[i]);
        g->w[i].task = self;
        g->w[i].done = &g->done;
        lm__list_init(&g->w[i].node);
        /* A member that has already ended is seen at the first look, as
         * if it had ended just now. */
        lm__list_push_back(lm_task_finished(tasks[i]) ? &g->done
                                                      : &tasks[i]->joiners,
                           &g->w[i].node);
    }
    g->id = lm__group_id(g->loop);
    if (lm__loop_trace(g->loop) != NULL)
        g->label = build_label(kind_head[kind], tasks, n);
    trace_group(g->loop, g->id, kind, self->id, tasks, n, mode, timeout, g->label);
    return 0;
}

/* A member whose end was not processed yet (in the order they ended), O(1).
 * Its waiter stays unlinked, so grp_end's unlink is a no-op for it. */
static bool grp_next(grp *g, size_t *idx)
{
    lm__list *n = lm__list_pop_front(&g->done);
    if (n == NULL)
        return false;
    g->left--;
    *idx = (size_t)(LM__CONTAINER_OF(n, lm__waiter, node) - g->w);
    return true;
}

/* Cancels every member still running (reason group, asked by the owner). */
static void grp_cancel_rest(grp *g, uint8_t reason)
{
    for (size_t i = 0; i < g->n; i++)
        if (!lm_task_finished(g->tasks[i]))
            lm__cancel(g->tasks[i], reason, g->owner->id);
}

static int grp_park(grp *g, lm_time deadline)
{
    lm__reason r = {0};
    r.on = g->on;
    r.fd = -1;
    r.group = g->id;
    r.label = g->label;
    if (g->on == LM__ON_WAIT_FOR && g->n == 1)
        r.task = g->tasks[0]->id;
    return lm__park(&r, deadline);
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
/* join                                                                      */
/* ------------------------------------------------------------------------ */

/* The waiter lives on the joining task's stack and is linked into t's
 * joiners only while that task is parked, then unlinked before returning;
 * GCC cannot see the unlink and would warn about a dangling pointer. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
int lm_join(lm_task *t, void **result)
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
        w.done = NULL;
        lm__list_init(&w.node);
        lm__list_push_back(&t->joiners, &w.node);
        lm__reason r = {0};
        r.on = LM__ON_TASK;
        r.fd = -1;
        r.task = t->id;
        int rc = 0;
        while (rc == 0 && !lm_task_finished(t))
            rc = lm__park(&r, -1);
        lm__list_remove(&w.node);
        /* Our own cancellation; t goes on running (if it ended in the
         * same tick, the cancellation still wins: the caller asked to stop,
         * and lm_task_error(t) has t's code). */
        if (rc != 0)
            return rc;
    }
    if (result != NULL)
        *result = t->result;
    return t->error;
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif

/* ------------------------------------------------------------------------ */
/* gather                                                                    */
/* ------------------------------------------------------------------------ */

int lm_gather(lm_task *const *tasks, size_t n, int flags, void **results,
              int *errors)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if ((flags & ~LM_GATHER_RETURN_EXCEPTIONS) != 0)
        return LM_EINVAL;
    const bool collect = (flags & LM_GATHER_RETURN_EXCEPTIONS) != 0;
    grp g;
    int rc = grp_begin(&g, self, LM__GROUP_GATHER, tasks, n, flags, -1);
    if (rc != 0)
        return rc;
    int first = 0;          /* the first member error, fail-fast mode */
    bool cancelled = false; /* the owner was cancelled */
    for (;;) {
        size_t i;
        /* Members that ended since the last look. Among those that failed
         * in the same batch the lowest index counts as the first, so
         * "first" is exact across ticks and does not depend on the order
         * members ended within one tick. */
        size_t fi = SIZE_MAX;
        while (grp_next(&g, &i))
            if (g.tasks[i]->error != 0 && i < fi)
                fi = i;
        if (!collect && fi != SIZE_MAX && first == 0 && !cancelled) {
            first = g.tasks[fi]->error;
            grp_cancel_rest(&g, LM__CANCEL_GROUP);
            continue; /* members that never started have ended now */
        }
        if (g.left == 0)
            break;
        int prc = grp_park(&g, -1);
        if (prc == LM_ECANCELED && !cancelled) {
            cancelled = true;
            grp_cancel_rest(&g, LM__CANCEL_GROUP);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (results != NULL)
            results[i] = tasks[i]->result;
        if (errors != NULL)
            errors[i] = tasks[i]->error;
    }
    rc = cancelled ? LM_ECANCELED : first;
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
    lm_time deadline = timeout >= 0 ? lm_loop_now(self->loop) + timeout : -1;
    grp g;
    int rc = grp_begin(&g, self, LM__GROUP_WAIT, tasks, n, (int)mode,
                       timeout >= 0 ? timeout : -1);
    if (rc != 0)
        return rc;
    size_t seen = 0;
    bool satisfied = false, timed_out = false;
    for (;;) {
        size_t i;
        while (grp_next(&g, &i)) {
            seen++;
            /* As in asyncio, a cancelled member is not an exception. */
            if (mode == LM_FIRST_EXCEPTION && g.tasks[i]->state == LM_STATE_FAILED)
                satisfied = true;
        }
        if (g.left == 0 || satisfied || (mode == LM_FIRST_COMPLETED && seen > 0))
            break;
        int prc = grp_park(&g, deadline);
        if (prc == LM_ETIMEDOUT) {
            timed_out = true;
            break;
        }
        if (prc == LM_ECANCELED) {
            rc = LM_ECANCELED;
            break;
        }
    }
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
    grp_end(&g, timed_out ? "timeout" : outcome_of(rc), rc);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* wait_for                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Like asyncio.wait_for: when the deadline passes, t is cancelled (reason
 * timeout) and awaited to its very end, so its cleanup has run before the
 * caller sees LM_ETIMEDOUT. If t ignored the cancellation and ended anyway
 * (returned 0 or another error), that outcome is returned instead, as asyncio
 * returns a result that arrived despite the timeout.
 */
int lm_wait_for(lm_task *t, lm_time timeout, void **result)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    lm_time deadline = timeout >= 0 ? lm_loop_now(self->loop) + timeout : -1;
    lm_task *one[1] = {t};
    grp g;
    int rc = grp_begin(&g, self, LM__GROUP_WAIT_FOR, one, 1, 0,
                       timeout >= 0 ? timeout : -1);
    if (rc != 0)
        return rc;
    bool timed_out = false, cancelled = false;
    while (!lm_task_finished(t)) {
        int prc = grp_park(&g, timed_out || cancelled ? -1 : deadline);
        if (prc == LM_ETIMEDOUT && !timed_out && !cancelled) {
            timed_out = true;
            lm__cancel(t, LM__CANCEL_TIMEOUT, self->id);
        } else if (prc == LM_ECANCELED && !cancelled) {
            /* The caller's cancellation reaches t too, and the caller still
             * waits for t's cleanup before it hears LM_ECANCELED. */
            cancelled = true;
            if (!timed_out)
                lm__cancel(t, LM__CANCEL_GROUP, self->id);
        }
    }
    if (cancelled) {
        rc = LM_ECANCELED;
    } else if (timed_out && t->state == LM_STATE_CANCELLED) {
        rc = LM_ETIMEDOUT;
    } else {
        rc = t->error;
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
 * Every child runs through tg_main(), which calls the user's function and,
 * when it fails, cancels the other children right away from inside the
 * failing child (the owner may be busy elsewhere: asyncio also reacts at the
 * child's end, not when the owner reaches the end of its block).
 *
 * A child's record (tg_child) is owned by the group. If the group is freed
 * while a child's function is still running, the record is detached
 * (g = NULL) and tg_main frees it when the function returns. A child that
 * never started is cancelled by lm_taskgroup_free and, by the runtime's
 * contract, never runs its body, so its record can go with the group.
 */
typedef struct tg_child {
    lm__waiter w;          /* in t->joiners while the owner waits */
    lm_task *t;            /* the group's reference */
    lm_coro_fn fn;
    void *arg;
    struct lm_taskgroup *g; /* NULL: detached, tg_main frees the record */
    bool running;          /* fn entered and not yet returned */
} tg_child;

struct lm_taskgroup {
    lm_loop *loop;
    lm_task *owner;
    char *name;
    uint32_t id;
    tg_child **c;
    size_t n, cap;
    int first_err;   /* the first failure's code, in completion order */
    int wait_rc;
    bool failed;     /* a child failed: no more spawns, the rest cancelled */
    bool cancelled;  /* the waiting owner was cancelled */
    bool waiting;
    bool waited;
    /* While the owner waits: children's waiters move here as they end
     * (task.c), and `left` counts those linked and not yet seen, so a
     * wake-up costs O(children that ended), not O(children). */
    lm__list done;
    size_t left;
};

static void tg_cancel_rest(lm_taskgroup *g, uint64_t by)
{
    for (size_t i = 0; i < g->n; i++)
        if (!lm_task_finished(g->c[i]->t))
            lm__cancel(g->c[i]->t, LM__CANCEL_GROUP, by);
}

static int tg_main(void *arg)
{
    tg_child *c = arg;
    c->running = true;
    int rc = c->fn(c->arg);
    c->running = false;
    lm_taskgroup *g = c->g;
    if (g == NULL) {
        free(c);
        return rc;
    }
    if (rc != 0 && rc != LM_ECANCELED && !g->failed) {
        g->failed = true;
        g->first_err = rc;
        tg_cancel_rest(g, c->t->id);
    }
    return rc;
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
    lm__list_init(&g->done);
    return g;
}

lm_task *lm_taskgroup_spawn(lm_taskgroup *g, const char *name, lm_coro_fn fn,
                            void *arg)
{
    if (g == NULL || fn == NULL || g->waited || g->failed || g->cancelled ||
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
    c->fn = fn;
    c->arg = arg;
    c->g = g;
    lm__list_init(&c->w.node);
    c->w.task = g->owner;
    c->w.done = &g->done;
    c->t = lm_task_new(g->loop, name, tg_main, c);
    if (c->t == NULL) {
        free(c);
        return NULL;
    }
    g->c[g->n++] = c;
    lm_task_start(c->t);
    /* A child spawned while the owner waits (by another child, say) is
     * awaited too. */
    if (g->waiting) {
        lm__list_push_back(&c->t->joiners, &c->w.node);
        g->left++;
    }
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
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++) {
        const lm_task *t = g->c[i]->t;
        if (t->state == LM_STATE_FAILED) {
            if (errs != NULL && k < cap)
                errs[k] = t->error;
            k++;
        }
    }
    return k;
}

/* Counts the children that ended since the last look; true when none is
 * left running. */
static bool tg_all_finished(lm_taskgroup *g)
{
    while (lm__list_pop_front(&g->done) != NULL)
        g->left--;
    return g->left == 0;
}

int lm_taskgroup_wait(lm_taskgroup *g)
{
    lm_task *self = lm__current();
    if (self == NULL)
        return LM_ENOTASK;
    if (g == NULL || self->loop != g->loop)
        return LM_EINVAL;
    if (g->waited)
        return g->wait_rc;
    if (g->waiting)
        return LM_EBUSY;
    g->waiting = true;
    g->owner = self;
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
    g->left = 0;
    for (size_t i = 0; i < g->n; i++) {
        g->c[i]->w.task = self;
        if (!lm_task_finished(g->c[i]->t)) {
            lm__list_push_back(&g->c[i]->t->joiners, &g->c[i]->w.node);
            g->left++;
        }
    }
    lm__reason r = {0};
    r.on = LM__ON_TASKGROUP;
    r.fd = -1;
    r.group = g->id;
    r.label = label;
    while (!tg_all_finished(g)) {
        int prc = lm__park(&r, -1);
        if (prc == LM_ECANCELED && !g->cancelled) {
            g->cancelled = true;
            tg_cancel_rest(g, self->id);
        }
    }
    for (size_t i = 0; i < g->n; i++)
        lm__list_remove(&g->c[i]->w.node);
    free(label);
    g->waiting = false;
    g->waited = true;
    /* Errors take precedence over the owner's cancellation, as an
     * ExceptionGroup does in asyncio. */
    g->wait_rc = g->failed ? g->first_err : g->cancelled ? LM_ECANCELED : 0;
    trace_group_end(g->loop, g->id, outcome_of(g->wait_rc), g->wait_rc);
    return g->wait_rc;
}

void lm_taskgroup_free(lm_taskgroup *g)
{
    if (g == NULL)
        return;
    lm_task *self = lm__current();
    uint64_t by = self != NULL ? self->id : 0;
    for (size_t i = 0; i < g->n; i++) {
        tg_child *c = g->c[i];
        lm__list_remove(&c->w.node);
        if (!lm_task_finished(c->t))
            lm__cancel(c->t, LM__CANCEL_GROUP, by);
        lm_task_release(c->t);
        if (c->running)
            c->g = NULL; /* tg_main frees it */
        else
            free(c);
    }
    free(g->c);
    free(g->name);
    free(g);
}

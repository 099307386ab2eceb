/*
 * model.c: pass 1 over a trace. Builds the lmr__model (header, loops, task
 * table, groups, totals) and checks that the trace is consistent: every task
 * id is known, every transition is legal and starts from the task's current
 * state, time never goes backwards within a loop, one task runs at a time.
 *
 * Memory grows with the number of tasks and groups, never with the number of
 * events: per event we do O(1) work (a hash lookup) and allocate only when a
 * task, group or loop appears, or a name changes. Limits (lmr_internal.h):
 * LMR__MAX_TASKS tasks, LMR__MAX_GROUPS groups, LMR__MAX_GROUP_MEMBERS group
 * members in all, LMR__MAX_LOOPS loops; over one is LMR_ELIMIT.
 *
 * Flight-recorder traces (docs/trace-format.md, section 7) lose events: after
 * a `gap`, a task may appear without its `spawn` and in any state. Such a task
 * is created on the spot (`implicit`), and each task's state check restarts
 * at its first event after a gap.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Build-time extras per task, parallel to m->tasks (spawn order). */
typedef struct aux {
    char on[16];     /* what it awaits now (token, cut) */
    lmr__on on_id;   /* the same, decoded */
    int line;        /* where it was spawned (for "spawned twice") */
    uint32_t epoch;  /* its loop's gap count when last checked */
} aux;

/* Build-time extras per loop, parallel to m->loops. */
typedef struct loopx {
    uint32_t epoch;   /* gaps seen in this loop */
    int64_t running;  /* index of the running task; -1 = none */
    bool started;
} loopx;

/* A group's sort key with its index: the key travels with the element, so
 * qsort needs no context (and a lookup reads one small array). */
typedef struct gkey {
    uint32_t loop, id;
    uint32_t idx; /* into m->groups */
} gkey;

typedef struct priv {
    gkey *gidx; /* the groups sorted by (loop, id) */
} priv;

typedef struct mb {
    lmr__model *m;
    const char *name;
    aux *aux;
    size_t cap_tasks;
    uint32_t *hash; /* (loop, id) -> task index + 1; 0 = empty */
    size_t hcap;
    uint32_t *ghash; /* (loop, group) -> group index + 1 */
    size_t ghcap, cap_groups;
    uint64_t members_total;
    loopx *lx;
    size_t cap_loops;
    bool lenient; /* ring trace: missing spawns are expected */
    int last_line;
} mb;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t key_of(uint32_t loop, uint64_t id)
{
    return mix(id * 0x9E3779B97F4A7C15ULL + loop);
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */
/* ------------------------------------------------------------------------ */

/* A task's name, cut and made safe for a terminal, for messages. */
static const char *tname(const lmr__task *t, char *buf, size_t n)
{
    const char *s = t->name ? t->name : "";
    size_t j = 0;
    for (; *s && j + 5 < n; s++) {
        unsigned char c = (unsigned char)*s;
        buf[j++] = (c < 0x20 || c == 0x7f || c == '"') ? '?' : (char)c;
    }
    if (*s) {
        while (j > 0 && ((unsigned char)buf[j - 1] & 0xC0) == 0x80)
            j--;
        if (j > 0 && ((unsigned char)buf[j - 1] & 0xC0) == 0xC0)
            j--;
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j] = '\0';
    return buf;
}

static int bad(mb *b, const lmr__event *e, lmr_error *err, int code,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int bad(mb *b, const lmr__event *e, lmr_error *err, int code,
               const char *fmt, ...)
{
    char msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lmr__err(err, code, b->name, e->line, e->col, "%s", msg);
}

/* The legal (from, to) pairs of docs/trace-format.md, section 5. */
static bool legal(int from, int to)
{
    switch (from) {
    case LMR__ST_CREATED:
        return to == LMR__ST_PENDING || to == LMR__ST_CANCELLED;
    case LMR__ST_PENDING:
        return to == LMR__ST_RUNNING || to == LMR__ST_CANCELLED;
    case LMR__ST_RUNNING:
        return to == LMR__ST_AWAITING || to == LMR__ST_PENDING ||
               to == LMR__ST_DONE || to == LMR__ST_FAILED ||
               to == LMR__ST_CANCELLED;
    case LMR__ST_AWAITING:
        return to == LMR__ST_PENDING;
    default:
        return false;
    }
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                   */
/* ------------------------------------------------------------------------ */

static int64_t task_find(const mb *b, uint32_t loop, uint64_t id)
{
    if (!b->hcap)
        return -1;
    size_t mask = b->hcap - 1;
    for (size_t i = key_of(loop, id) & mask;; i = (i + 1) & mask) {
        uint32_t v = b->hash[i];
        if (!v)
            return -1;
        const lmr__task *t = &b->m->tasks[v - 1];
        if (t->id == id && t->loop == loop)
            return v - 1;
    }
}

static void hash_put(uint32_t *h, size_t cap, uint64_t key, uint32_t val)
{
    size_t mask = cap - 1;
    size_t i = key & mask;
    while (h[i])
        i = (i + 1) & mask;
    h[i] = val;
}

static int task_rehash(mb *b, lmr_error *err)
{
    size_t cap = b->hcap ? b->hcap * 2 : 1024;
    uint32_t *h = calloc(cap, sizeof *h);
    if (!h)
        return lmr__err(err, LMR_ENOMEM, b->name, 0, 0, "out of memory");
    for (size_t i = 0; i < b->m->ntasks; i++)
        hash_put(h, cap, key_of(b->m->tasks[i].loop, b->m->tasks[i].id),
                 (uint32_t)i + 1);
    free(b->hash);
    b->hash = h;
    b->hcap = cap;
    return 0;
}

/* Adds a task in `created` state. Allocates (amortised O(1)). */
static int task_add(mb *b, const lmr__event *e, uint32_t loop, uint64_t id,
                    const char *name, lmr_error *err, lmr__task **out)
{
    lmr__model *m = b->m;
    if (m->ntasks >= LMR__MAX_TASKS)
        return bad(b, e, err, LMR_ELIMIT,
                   "more than the limit of %u tasks in one trace",
                   (unsigned)LMR__MAX_TASKS);
    if (m->ntasks == b->cap_tasks) {
        size_t cap = b->cap_tasks ? b->cap_tasks * 2 : 256;
        lmr__task *t = realloc(m->tasks, cap * sizeof *t);
        if (!t)
            return lmr__err(err, LMR_ENOMEM, b->name, 0, 0, "out of memory");
        m->tasks = t;
        aux *a = realloc(b->aux, cap * sizeof *a);
        if (!a)
            return lmr__err(err, LMR_ENOMEM, b->name, 0, 0, "out of memory");
        b->aux = a;
        b->cap_tasks = cap;
    }
    if ((m->ntasks + 1) * 2 > b->hcap) {
        int rc = task_rehash(b, err);
        if (rc)
            return rc;
    }
    lmr__task *t = &m->tasks[m->ntasks];
    memset(t, 0, sizeof *t);
    t->name = strdup(name ? name : "");
    if (!t->name)
        return lmr__err(err, LMR_ENOMEM, b->name, 0, 0, "out of memory");
    t->id = id;
    t->loop = loop;
    t->state = LMR__ST_CREATED;
    t->t_spawn = t->t_state = e->t;
    t->t_end = -1;
    t->t_cancel = -1;
    t->selected = true;
    t->ord = (uint32_t)m->ntasks;
    aux *a = &b->aux[m->ntasks];
    memset(a, 0, sizeof *a);
    a->line = e->line;
    hash_put(b->hash, b->hcap, key_of(loop, id), (uint32_t)m->ntasks + 1);
    m->ntasks++;
    *out = t;
    return 0;
}

/* The loop record for number `id`, created on first sight. */
static int loop_get(mb *b, const lmr__event *e, uint32_t id, lmr_error *err,
                    size_t *out)
{
    lmr__model *m = b->m;
    size_t lo = 0, hi = m->nloops;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->loops[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->nloops && m->loops[lo].id == id) {
        *out = lo;
        return 0;
    }
    if (m->nloops >= LMR__MAX_LOOPS)
        return bad(b, e, err, LMR_ELIMIT,
                   "more than the limit of %u loops in one trace",
                   (unsigned)LMR__MAX_LOOPS);
    if (m->nloops == b->cap_loops) {
        size_t cap = b->cap_loops ? b->cap_loops * 2 : 4;
        lmr__loop *l = realloc(m->loops, cap * sizeof *l);
        if (!l)
            return lmr__err(err, LMR_ENOMEM, b->name, 0, 0, "out of memory");
        m->loops = l;
        loopx *x = realloc(b->lx, cap * sizeof *x);
        if (!x)
            return lmr__err(err, LMR_ENOMEM, b->name, 0, 0, "out of memory");
        b->lx = x;
        b->cap_loops = cap;
    }
    memmove(&m->loops[lo + 1], &m->loops[lo],
            (m->nloops - lo) * sizeof *m->loops);
    memmove(&b->lx[lo + 1], &b->lx[lo], (m->nloops - lo) * sizeof *b->lx);
    lmr__loop *l = &m->loops[lo];
    memset(l, 0, sizeof *l);
    l->id = id;
    l->name = strdup("loop");
    if (!l->name)
        return lmr__err(err, LMR_ENOMEM, b->name, 0, 0, "out of memory");
    l->t_start = e->t;
    l->t_end = -1;
    l->t_last = e->t;
    b->lx[lo] = (loopx){0, -1, false};
    m->nloops++;
    *out = lo;
    return 0;
}

static int set_str(char **dst, const char *s, mb *b, lmr_error *err)
{
    char *d = strdup(s ? s : "");
    if (!d)
        return lmr__err(err, LMR_ENOMEM, b->name, 0, 0, "out of memory");
    free(*dst);
    *dst = d;
    return 0;
}

/*
 * The task an event names. Unknown ids are an error, except in flight-recorder
 * traces, where the spawn may have been dropped: then the task is made up.
 */
static int task_ref(mb *b, const lmr__event *e, uint64_t id, const char *what,
                    lmr_error *err, lmr__task **out)
{
    int64_t i = task_find(b, e->loop, id);
    if (i >= 0) {
        *out = &b->m->tasks[i];
        return 0;
    }
    if (b->lenient) {
        char name[32];
        snprintf(name, sizeof name, "task %" PRIu64, id);
        int rc = task_add(b, e, e->loop, id, name, err, out);
        if (rc)
            return rc;
        (*out)->implicit = true;
        b->aux[(*out)->ord].epoch = UINT32_MAX; /* state unknown */
        return 0;
    }
    return bad(b, e, err, LMR_ESEMANTIC,
               "unknown task %" PRIu64 " in '%s' event (%s; no 'spawn' for it "
               "in loop %" PRIu32 ")",
               id, e->ev, what, e->loop);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                   */
/* ------------------------------------------------------------------------ */

static int on_state(mb *b, const lmr__event *e, size_t li, lmr_error *err)
{
    lmr__model *m = b->m;
    lmr__task *t;
    int rc = task_ref(b, e, e->task, "the task changing state", err, &t);
    if (rc)
        return rc;
    aux *a = &b->aux[t->ord];
    loopx *x = &b->lx[li];
    char nb[80];
    int64_t idx = t - m->tasks;
    bool synced = a->epoch == x->epoch;
    if (!synced) {
        /* First event after a gap: believe it. */
        t->state = e->from;
        t->t_state = e->t;
        a->epoch = x->epoch;
    }
    if (t->state != e->from)
        return bad(b, e, err, LMR_ESEMANTIC,
                   "task %" PRIu64 " \"%s\" is %s, but this event moves it "
                   "from %s",
                   t->id, tname(t, nb, sizeof nb), lmr__state_tok[t->state],
                   lmr__state_tok[e->from]);
    if (!legal(e->from, e->to))
        return bad(b, e, err, LMR_ESEMANTIC,
                   "illegal transition %s -> %s for task %" PRIu64 " \"%s\"",
                   lmr__state_tok[e->from], lmr__state_tok[e->to], t->id,
                   tname(t, nb, sizeof nb));
    if (synced && e->from == LMR__ST_PENDING && e->to == LMR__ST_CANCELLED &&
        t->steps > 0)
        return bad(b, e, err, LMR_ESEMANTIC,
                   "illegal transition pending -> cancelled for task %" PRIu64
                   " \"%s\": it has already run, so it must run again and "
                   "end running -> cancelled",
                   t->id, tname(t, nb, sizeof nb));
    if (e->to == LMR__ST_RUNNING) {
        if (synced && x->running >= 0 && x->running != idx) {
            char nb2[80];
            const lmr__task *o = &m->tasks[x->running];
            return bad(b, e, err, LMR_ESEMANTIC,
                       "task %" PRIu64 " \"%s\" starts running while task "
                       "%" PRIu64 " \"%s\" is still running in loop %" PRIu32,
                       t->id, tname(t, nb, sizeof nb), o->id,
                       tname(o, nb2, sizeof nb2), e->loop);
        }
        x->running = idx;
        t->steps++;
        m->steps++;
    } else if (e->from == LMR__ST_RUNNING && x->running == idx) {
        x->running = -1;
    }

    /* Time accounting: the stretch in `from` ends now. */
    int64_t dt = e->t - t->t_state;
    if (dt < 0)
        dt = 0;
    t->time_in[e->from] += dt;
    if (e->from == LMR__ST_RUNNING) {
        m->run_total += dt;
        if (dt > t->longest_step)
            t->longest_step = dt;
        if (dt > m->longest_step || m->longest_step_task == 0) {
            m->longest_step = dt;
            m->longest_step_task = t->id;
            m->longest_step_loop = t->loop;
        }
    } else if (e->from == LMR__ST_AWAITING) {
        switch (a->on_id) {
        case LMR__ON_IO: m->await_io += dt; break;
        case LMR__ON_SLEEP: m->await_sleep += dt; break;
        case LMR__ON_THREAD: m->await_thread += dt; break;
        default: m->await_other += dt; break;
        }
        if (dt > t->longest_await || !t->longest_await_on) {
            t->longest_await = dt;
            if ((rc = set_str(&t->longest_await_on, a->on[0] ? a->on : "?",
                              b, err)) != 0)
                return rc;
        }
    }
    if (e->to == LMR__ST_AWAITING) {
        /* The same cut as snprintf("%s") without its cost: this runs for
         * every awaiting transition. */
        const char *on = e->on ? e->on : "";
        size_t n = strnlen(on, sizeof a->on - 1);
        memcpy(a->on, on, n);
        a->on[n] = '\0';
        a->on_id = e->on_id;
    }
    t->state = e->to;
    t->t_state = e->t;
    if (e->to >= LMR__ST_DONE) {
        t->t_end = e->t;
        if (e->to == LMR__ST_DONE) {
            m->done++;
            t->timed_out = false;
        } else if (e->to == LMR__ST_FAILED) {
            m->failed++;
            t->timed_out = false;
            const char *why = e->error ? e->error : e->message;
            if ((rc = set_str(&t->error, why ? why : "failed", b, err)) != 0)
                return rc;
            if (e->message &&
                (rc = set_str(&t->message, e->message, b, err)) != 0)
                return rc;
        } else {
            m->cancelled++;
            if (t->timed_out)
                m->timed_out++;
        }
    }
    return 0;
}

static int on_group(mb *b, const lmr__event *e, lmr_error *err)
{
    lmr__model *m = b->m;
    lmr__task *t;
    int rc;
    if (e->owner != 0 &&
        (rc = task_ref(b, e, e->owner, "the group's owner", err, &t)) != 0)
        return rc;
    for (size_t i = 0; i < e->nmembers; i++)
        if ((rc = task_ref(b, e, e->members[i], "a member", err, &t)) != 0)
            return rc;
    /* Duplicate ids within one loop are an error. */
    size_t mask = b->ghcap ? b->ghcap - 1 : 0;
    if (b->ghcap)
        for (size_t i = key_of(e->loop, e->group) & mask; b->ghash[i];
             i = (i + 1) & mask) {
            const lmr__group *g = &m->groups[b->ghash[i] - 1];
            if (g->id == e->group && g->loop == e->loop) {
                if (b->lenient)
                    return 0;
                return bad(b, e, err, LMR_ESEMANTIC,
                           "group %" PRIu32 " of loop %" PRIu32
                           " appears twice",
                           e->group, e->loop);
            }
        }
    if (m->ngroups >= LMR__MAX_GROUPS)
        return bad(b, e, err, LMR_ELIMIT,
                   "more than the limit of %u groups in one trace",
                   (unsigned)LMR__MAX_GROUPS);
    if (b->members_total + e->nmembers > LMR__MAX_GROUP_MEMBERS)
        return bad(b, e, err, LMR_ELIMIT,
                   "more than the limit of %u group members in one trace",
                   (unsigned)LMR__MAX_GROUP_MEMBERS);
    if (m->ngroups == b->cap_groups) {
        size_t cap = b->cap_groups ? b->cap_groups * 2 : 64;
        lmr__group *g = realloc(m->groups, cap * sizeof *g);
        if (!g)
            return lmr__err(err, LMR_ENOMEM, b->name, 0, 0, "out of memory");
        m->groups = g;
        b->cap_groups = cap;
    }
    if ((m->ngroups + 1) * 2 > b->ghcap) {
        size_t cap = b->ghcap ? b->ghcap * 2 : 256;
        uint32_t *h = calloc(cap, sizeof *h);
        if (!h)
            return lmr__err(err, LMR_ENOMEM, b->name, 0, 0, "out of memory");
        for (size_t i = 0; i < m->ngroups; i++)
            hash_put(h, cap, key_of(m->groups[i].loop, m->groups[i].id),
                     (uint32_t)i + 1);
        free(b->ghash);
        b->ghash = h;
        b->ghcap = cap;
    }
    lmr__group *g = &m->groups[m->ngroups];
    memset(g, 0, sizeof *g);
    g->id = e->group;
    g->loop = e->loop;
    g->owner = e->owner;
    g->timeout = e->timeout;
    g->t_start = e->t;
    g->t_end = -1;
    g->kind_id = e->kind_id;
    m->ngroups++; /* now lmr__model_free frees what we set below */
    if (!(g->kind = strdup(e->group_kind)) ||
        (e->mode && !(g->mode = strdup(e->mode))) ||
        (e->label && !(g->label = strdup(e->label))))
        return lmr__err(err, LMR_ENOMEM, b->name, 0, 0, "out of memory");
    if (e->nmembers) {
        g->members = malloc(e->nmembers * sizeof *g->members);
        if (!g->members)
            return lmr__err(err, LMR_ENOMEM, b->name, 0, 0, "out of memory");
        memcpy(g->members, e->members, e->nmembers * sizeof *g->members);
        g->nmembers = e->nmembers;
        b->members_total += e->nmembers;
    }
    hash_put(b->ghash, b->ghcap, key_of(e->loop, e->group),
             (uint32_t)m->ngroups);
    return 0;
}

static lmr__group *group_find(mb *b, uint32_t loop, uint32_t id)
{
    if (!b->ghcap)
        return NULL;
    size_t mask = b->ghcap - 1;
    for (size_t i = key_of(loop, id) & mask; b->ghash[i]; i = (i + 1) & mask) {
        lmr__group *g = &b->m->groups[b->ghash[i] - 1];
        if (g->id == id && g->loop == loop)
            return g;
    }
    return NULL;
}

/* The event's time against its loop's clock, and the trace's span. */
static int advance_clock(mb *b, const lmr__event *e, lmr__loop *l,
                         lmr_error *err)
{
    lmr__model *m = b->m;
    if (e->t < l->t_last)
        return bad(b, e, err, LMR_ESEMANTIC,
                   "time goes backwards in loop %" PRIu32 ": t = %" PRId64
                   " after t = %" PRId64,
                   e->loop, e->t, l->t_last);
    l->t_last = e->t;
    if (m->events == 0 || e->t < m->t_first)
        m->t_first = e->t;
    if (e->t > m->t_last)
        m->t_last = e->t;
    m->events++;
    return 0;
}

static int on_loop_start(mb *b, const lmr__event *e, size_t li,
                         lmr_error *err)
{
    lmr__loop *l = &b->m->loops[li];
    if (b->lx[li].started)
        return bad(b, e, err, LMR_ESEMANTIC, "loop %" PRIu32 " starts twice",
                   e->loop);
    b->lx[li].started = true;
    l->t_start = e->t;
    return e->name ? set_str(&l->name, e->name, b, err) : 0;
}

static int on_spawn(mb *b, const lmr__event *e, size_t li, lmr_error *err)
{
    lmr__task *t;
    int rc;
    if (e->task == 0)
        return bad(b, e, err, LMR_ESEMANTIC,
                   "'spawn' of task 0: task 0 is the loop itself; tasks "
                   "are numbered from 1");
    int64_t i = task_find(b, e->loop, e->task);
    if (i >= 0) {
        if (b->lenient && b->m->tasks[i].implicit)
            return 0;
        return bad(b, e, err, LMR_ESEMANTIC,
                   "task %" PRIu64 " of loop %" PRIu32
                   " is spawned twice (first at line %d)",
                   e->task, e->loop, b->aux[i].line);
    }
    if (e->parent != 0 && task_find(b, e->loop, e->parent) < 0 &&
        !b->lenient)
        return bad(b, e, err, LMR_ESEMANTIC,
                   "unknown parent task %" PRIu64 " of task %" PRIu64
                   " (no 'spawn' for it in loop %" PRIu32 ")",
                   e->parent, e->task, e->loop);
    if ((rc = task_add(b, e, e->loop, e->task, e->name, err, &t)) != 0)
        return rc;
    t->parent = e->parent;
    b->aux[t->ord].epoch = b->lx[li].epoch;
    return 0;
}

/* A display name: task 0's is the loop's. */
static int on_name(mb *b, const lmr__event *e, size_t li, lmr_error *err)
{
    lmr__task *t;
    int rc;
    if (e->task == 0)
        return set_str(&b->m->loops[li].name, e->name, b, err);
    if ((rc = task_ref(b, e, e->task, "the task renamed", err, &t)) != 0)
        return rc;
    return set_str(&t->name, e->name, b, err);
}

static int on_group_end(mb *b, const lmr__event *e, lmr_error *err)
{
    lmr__model *m = b->m;
    int rc;
    lmr__group *g = group_find(b, e->loop, e->group);
    if (!g) {
        if (b->lenient)
            return 0;
        return bad(b, e, err, LMR_ESEMANTIC,
                   "unknown group %" PRIu32 " in 'group_end' (no 'group' "
                   "event for it in loop %" PRIu32 ")",
                   e->group, e->loop);
    }
    g->t_end = e->t;
    /* Event order, not time: under the virtual clock the members the
     * owner cancels after wait() returns end at the same t. */
    g->returned_done = 0;
    for (size_t k = 0; k < g->nmembers; k++) {
        int64_t i = task_find(b, g->loop, g->members[k]);
        if (i >= 0 && m->tasks[i].state >= LMR__ST_DONE)
            g->returned_done++;
    }
    if (e->error && (rc = set_str(&g->error, e->error, b, err)) != 0)
        return rc;
    g->outcome_id = e->outcome ? e->outcome_id : LMR__OUT_OK;
    return set_str(&g->outcome, e->outcome ? e->outcome
                                           : lmr__outcome_tok[LMR__OUT_OK],
                   b, err);
}

/* A cancel request: the first one is the task's cause. */
static int on_cancel(mb *b, const lmr__event *e, lmr_error *err)
{
    lmr__model *m = b->m;
    lmr__task *t;
    int rc;
    m->cancels++;
    if ((rc = task_ref(b, e, e->task, "the task cancelled", err, &t)) != 0)
        return rc;
    if (e->by_task) {
        lmr__task *by;
        if ((rc = task_ref(b, e, e->by_task, "the cancelling task", err,
                           &by)) != 0)
            return rc;
        t = &m->tasks[task_find(b, e->loop, e->task)]; /* may move */
    }
    if (t->cancel_reason)
        return 0;
    t->cancelled_by = e->by_task;
    t->t_cancel = e->t;
    t->cancel_reason_id = e->reason ? e->reason_id : LMR__REASON_EXPLICIT;
    if ((rc = set_str(&t->cancel_reason,
                      lmr__reason_tok[t->cancel_reason_id]
                          ? lmr__reason_tok[t->cancel_reason_id]
                          : e->reason,
                      b, err)) != 0)
        return rc;
    if (t->cancel_reason_id == LMR__REASON_TIMEOUT && t->state < LMR__ST_DONE)
        t->timed_out = true;
    return 0;
}

/* Events about a task that the model only counts; task 0 is the loop itself
 * (a call_later timer, a loop-level fd, a note about the loop). */
static int count_task_event(mb *b, const lmr__event *e, uint64_t *counter,
                            const char *what, lmr_error *err)
{
    lmr__task *t;
    (*counter)++;
    return e->task ? task_ref(b, e, e->task, what, err, &t) : 0;
}

/* Pass 1's callback: one event into the model, in the steps above. */
static int on_event(void *ctx, const lmr__header *h, const lmr__event *e,
                    lmr_error *err)
{
    mb *b = ctx;
    lmr__model *m = b->m;
    int rc;
    size_t li = 0;
    if (h->ring >= 0)
        b->lenient = true; /* a flight-recorder trace: spawns may be lost */
    b->last_line = e->line;
    if (e->kind == LMR__EV_UNKNOWN)
        return 0; /* a kind from a later v1: skipped */
    if ((rc = loop_get(b, e, e->loop, err, &li)) != 0 ||
        (rc = advance_clock(b, e, &m->loops[li], err)) != 0)
        return rc;

    switch (e->kind) {
    case LMR__EV_LOOP_START:
        return on_loop_start(b, e, li, err);
    case LMR__EV_LOOP_END:
        m->loops[li].ended = true;
        m->loops[li].t_end = e->t;
        return 0;
    case LMR__EV_SPAWN:
        return on_spawn(b, e, li, err);
    case LMR__EV_STATE:
        return on_state(b, e, li, err);
    case LMR__EV_NOTE:
        return count_task_event(b, e, &m->notes, "the note's author", err);
    case LMR__EV_NAME:
        return on_name(b, e, li, err);
    case LMR__EV_GROUP:
        return on_group(b, e, err);
    case LMR__EV_GROUP_END:
        return on_group_end(b, e, err);
    case LMR__EV_CANCEL:
        return on_cancel(b, e, err);
    case LMR__EV_POLL:
        m->polls++;
        m->poll_waited += e->waited;
        return 0;
    case LMR__EV_IO:
        return count_task_event(b, e, &m->io_wakeups, "the task woken", err);
    case LMR__EV_TIMER:
        return count_task_event(b, e, &m->timers_fired, "the task woken",
                                err);
    case LMR__EV_CALL:
        m->calls++;
        return 0;
    case LMR__EV_TICK:
        m->ticks++;
        return 0;
    case LMR__EV_GAP: /* a flight-recorder gap: what follows may lack its
                         beginning, so be lenient and forget who runs */
        m->gaps++;
        m->dropped += (uint64_t)e->dropped;
        b->lenient = true;
        b->lx[li].epoch++;
        b->lx[li].running = -1;
        return 0;
    case LMR__EV_UNKNOWN:
    case LMR__EV__COUNT:
        break;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Build, lookups, free                                                     */
/* ------------------------------------------------------------------------ */

static int cmp_task(const void *a, const void *b)
{
    const lmr__task *x = a, *y = b;
    if (x->loop != y->loop)
        return x->loop < y->loop ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_gkey(const void *a, const void *b)
{
    const gkey *x = a, *y = b;
    if (x->loop != y->loop)
        return x->loop < y->loop ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void warnf(FILE *warn, const char *file, int line, const char *msg)
{
    if (!warn)
        return;
    if (line > 0)
        fprintf(warn, "%s:%d:1: warning: %s\n", file, line, msg);
    else
        fprintf(warn, "%s: warning: %s\n", file, msg);
}

int lmr__model_build(FILE *fp, const char *name, lmr__model *m, FILE *warn,
                     lmr_error *err)
{
    return lmr__model_build_via(fp, name, m, warn, NULL, NULL, err);
}

int lmr__model_build_via(FILE *fp, const char *name, lmr__model *m,
                         FILE *warn, lmr__read_fn read, void *rctx,
                         lmr_error *err)
{
    lmr_error dummy;
    if (!err)
        err = &dummy;
    memset(m, 0, sizeof *m);
    mb b = {.m = m, .name = name ? name : "-"};
    int truncated = 0;
    int rc = read ? read(rctx, fp, b.name, &m->header, on_event, &b,
                         &truncated, err)
                  : lmr__read(fp, b.name, &m->header, on_event, &b,
                              &truncated, err);
    free(b.hash);
    free(b.ghash);
    free(b.aux);
    loopx *lx = b.lx;
    if (rc) {
        free(lx);
        lmr__model_free(m);
        return rc;
    }
    /* Close every open stretch at the end of its loop's trace, so that
     * "time in each state" covers the whole run. */
    for (size_t i = 0; i < m->ntasks; i++) {
        lmr__task *t = &m->tasks[i];
        if (t->t_end >= 0)
            continue;
        const lmr__loop *l = lmr__model_loop(m, t->loop);
        int64_t end = l ? l->t_last : m->t_last;
        if (end > t->t_state)
            t->time_in[t->state] += end - t->t_state;
    }
    free(lx);

    char msg[sizeof err->msg + 64];
    if (truncated) {
        m->truncated = true;
        snprintf(msg, sizeof msg, "%s", err->msg);
        if (warn)
            fprintf(warn, "%s:%d:%d: warning: %s\n", b.name, err->line,
                    err->col > 0 ? err->col : 1, msg);
    } else {
        for (size_t i = 0; i < m->nloops; i++)
            if (!m->loops[i].ended) {
                m->truncated = true;
                snprintf(msg, sizeof msg,
                         "trace is truncated after event %" PRIu64
                         " (loop %" PRIu32 " has no loop_end); rendering "
                         "what was recorded",
                         m->events, m->loops[i].id);
                warnf(warn, b.name, b.last_line + 1, msg);
                break;
            }
    }
    memset(err, 0, sizeof *err);

    /* Sort for O(log n) lookups; `ord` keeps the spawn order. */
    if (m->ntasks)
        qsort(m->tasks, m->ntasks, sizeof *m->tasks, cmp_task);
    priv *p = calloc(1, sizeof *p);
    if (!p || (m->ngroups &&
               !(p->gidx = malloc(m->ngroups * sizeof *p->gidx)))) {
        free(p);
        lmr__model_free(m);
        return lmr__err(err, LMR_ENOMEM, b.name, 0, 0, "out of memory");
    }
    for (size_t i = 0; i < m->ngroups; i++)
        p->gidx[i] = (gkey){m->groups[i].loop, m->groups[i].id, (uint32_t)i};
    if (m->ngroups)
        qsort(p->gidx, m->ngroups, sizeof *p->gidx, cmp_gkey);
    m->priv = p;
    return 0;
}

lmr__task *lmr__model_task(const lmr__model *m, uint32_t loop, uint64_t id)
{
    /* Most traces have one loop whose task ids run 1, 2, 3...: then task id
     * sits at index id - 1, and one compare saves the binary search (this is
     * called for every event of pass 2). Anything else falls through. */
    if (id - 1 < m->ntasks) {
        lmr__task *g = &m->tasks[id - 1];
        if (g->id == id && g->loop == loop)
            return g;
    }
    size_t lo = 0, hi = m->ntasks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const lmr__task *t = &m->tasks[mid];
        if (t->loop < loop || (t->loop == loop && t->id < id))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->ntasks && m->tasks[lo].loop == loop && m->tasks[lo].id == id)
        return &m->tasks[lo];
    return NULL;
}

const lmr__group *lmr__model_group(const lmr__model *m, uint32_t loop,
                                   uint32_t id)
{
    const priv *p = m->priv;
    if (!p)
        return NULL;
    size_t lo = 0, hi = m->ngroups;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const gkey *k = &p->gidx[mid];
        if (k->loop < loop || (k->loop == loop && k->id < id))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->ngroups) {
        const gkey *k = &p->gidx[lo];
        if (k->loop == loop && k->id == id)
            return &m->groups[k->idx];
    }
    return NULL;
}

const lmr__loop *lmr__model_loop(const lmr__model *m, uint32_t loop)
{
    size_t lo = 0, hi = m->nloops;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->loops[mid].id < loop)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->nloops && m->loops[lo].id == loop ? &m->loops[lo] : NULL;
}

void lmr__model_free(lmr__model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->ntasks; i++) {
        lmr__task *t = &m->tasks[i];
        free(t->name);
        free(t->longest_await_on);
        free(t->error);
        free(t->message);
        free(t->cancel_reason);
    }
    free(m->tasks);
    for (size_t i = 0; i < m->ngroups; i++) {
        lmr__group *g = &m->groups[i];
        free(g->kind);
        free(g->members);
        free(g->mode);
        free(g->label);
        free(g->outcome);
        free(g->error);
    }
    free(m->groups);
    for (size_t i = 0; i < m->nloops; i++)
        free(m->loops[i].name);
    free(m->loops);
    priv *p = m->priv;
    if (p)
        free(p->gidx);
    free(p);
    lmr__header_free(&m->header);
    memset(m, 0, sizeof *m);
}

void lmr__group_tally(const lmr__model *m, const lmr__group *g, int64_t until,
                      lmr__tally *t)
{
    memset(t, 0, sizeof *t);
    for (size_t k = 0; k < g->nmembers; k++) {
        const lmr__task *mt = lmr__model_task(m, g->loop, g->members[k]);
        if (!mt) {
            t->missing++;
            continue;
        }
        int st = until >= 0 && mt->t_end > until ? LMR__ST_AWAITING : mt->state;
        switch (st) {
        case LMR__ST_DONE: t->done++; break;
        case LMR__ST_FAILED:
            t->failed++;
            if (!t->first_failed || mt->t_end < t->first_failed->t_end)
                t->first_failed = mt;
            break;
        case LMR__ST_CANCELLED:
            if (mt->timed_out)
                t->timed_out++;
            else
                t->cancelled++;
            break;
        default: t->unfinished++; break;
        }
    }
    if (g->t_end >= 0 && (until < 0 || g->t_end <= until)) {
        t->returned_done = g->returned_done;
        t->returned_pending = g->nmembers - g->returned_done;
    }
}

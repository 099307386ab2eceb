/*
 * diff.c: `loopmaid diff A.yaml B.yaml`, what changed between two runs of
 * the same program.
 *
 * Task ids are an accident of scheduling, so tasks are matched by their
 * place in the task tree instead: a task's key is the path of names from
 * its loop's root, with the ordinal among same-named siblings when there are
 * several ("main/fetch#2"). For each matched task it compares
 *   - the outcome (done, failed with which error, cancelled, still alive),
 *   - the cause of a cancellation (the reason, and the canceller's key),
 *   - the await structure: what the task awaited, in order ("sleep",
 *     "task parse", "gather(A, B)", "io read"; fd numbers are left out, they
 *     are not behaviour), compared by a hash of the whole sequence and shown
 *     by its first AW_SHOWN bytes with repeats folded ("sleep x4"),
 *   - its lifetime (spawn to end), beyond a tolerance.
 * Tasks only in A are removed, only in B added.
 *
 * Each trace is read by the same two passes as a render (lmr__run_passes)
 * with a collecting renderer whose end() copies what the comparison needs
 * out of the model, so memory is O(tasks) whatever the number of events.
 * The report is text (the default) or one Mermaid diagram of both runs
 * (tasks, state or sequence) with the changes marked; labels go through the
 * escaper like every view's.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AW_SHOWN 160        /* bytes of the awaits kept for the report */
#define AW_TEXT 48          /* bytes of one await's description */
#define DIFF_NODE_CAP 120   /* tasks drawn in the tasks diagram */
#define DIFF_NOTE_CAP 40    /* notes in the sequence diagram */
#define LABEL_CP 60

typedef struct dtask {
    char *key;              /* "main/fetch#2"; owned */
    char *name;             /* owned */
    size_t parent;          /* index of the parent in the run; SIZE_MAX: root */
    int state;              /* final */
    char *error;            /* owned; when failed */
    char *cause;            /* owned; when cancelled: "timeout by main" */
    int64_t t_spawn, t_end; /* t_end -1: never ended */
    uint64_t nawaits, await_hash;
    char shown[AW_SHOWN];   /* the first awaits, repeats folded: "sleep x4, ..." */
    char last[AW_TEXT];     /* the await being repeated, not yet in shown */
    uint32_t reps;          /* how often `last` came in a row */
    bool cut;               /* shown is full: later awaits only hashed */
    size_t match;           /* index in the other run; SIZE_MAX: none */
    bool selected;          /* passes --tasks / --exclude: compared */
} dtask;

typedef struct drun {
    const char *path;
    dtask *tasks;
    size_t ntasks;
    uint64_t moves[LMR__ST__COUNT][LMR__ST__COUNT]; /* state transitions */
    int64_t t_last;
    char *clock;            /* owned */
} drun;

#define NONE SIZE_MAX

/* ------------------------------------------------------------------------ */
/* Collecting one run                                                        */
/* ------------------------------------------------------------------------ */

/* FNV-1a over the descriptions, so sequences of any length compare in O(1). */
static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull;
}

static char *dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int co_begin(lmr__render_ctx *c)
{
    drun *r = c->out->user;
    const lmr__model *m = c->model;
    r->tasks = calloc(m->ntasks ? m->ntasks : 1, sizeof *r->tasks);
    if (!r->tasks)
        return LMR_ENOMEM;
    r->ntasks = m->ntasks;
    for (size_t i = 0; i < m->ntasks; i++)
        r->tasks[i].await_hash = 14695981039346656037ull;
    return 0;
}

/* Moves the repeated await into `shown` ("sleep x4"), while it fits. */
static void flush_await(dtask *d)
{
    if (!d->reps || d->cut)
        return;
    size_t used = strlen(d->shown);
    char one[AW_TEXT + 24];
    if (d->reps > 1)
        snprintf(one, sizeof one, "%s%s x%" PRIu32, used ? ", " : "", d->last,
                 d->reps);
    else
        snprintf(one, sizeof one, "%s%s", used ? ", " : "", d->last);
    if (used + strlen(one) + 1 > sizeof d->shown)
        d->cut = true;
    else
        memcpy(d->shown + used, one, strlen(one) + 1);
    d->reps = 0;
}

static int co_event(lmr__render_ctx *c, const lmr__event *e)
{
    drun *r = c->out->user;
    if (e->kind != LMR__EV_STATE || e->to < 0 || e->to >= LMR__ST__COUNT)
        return 0;
    if (e->from >= 0 && e->from < LMR__ST__COUNT)
        r->moves[e->from][e->to]++;
    if (e->to != LMR__ST_AWAITING)
        return 0;
    const lmr__task *t = lmr__model_task(c->model, e->loop, e->task);
    if (!t)
        return 0;
    dtask *d = &r->tasks[t - c->model->tasks];
    char what[AW_TEXT];
    const char *on = e->on ? e->on : "?";
    const lmr__task *aw = e->awaits ? lmr__model_task(c->model, e->loop, e->awaits)
                                    : NULL;
    if (aw)
        snprintf(what, sizeof what, "%s %s", on, aw->name ? aw->name : "?");
    else if (e->label)
        snprintf(what, sizeof what, "%s", e->label);
    else if (e->dir)
        snprintf(what, sizeof what, "%s %s", on, e->dir);
    else
        snprintf(what, sizeof what, "%s", on);
    if (d->reps && !strcmp(d->last, what)) {
        d->reps++;
    } else {
        flush_await(d);
        memcpy(d->last, what, sizeof d->last);
        d->reps = 1;
    }
    d->nawaits++;
    d->await_hash = fnv(d->await_hash, what);
    return 0;
}

/* Keys beyond this length (a deep chain of spawns) continue from a hash of
 * the parent's key, so memory stays linear in the number of tasks. */
#define KEY_MAX 512

typedef struct sib {
    uint32_t loop;
    uint64_t parent;
    const char *name;
    size_t i;
} sib;

static int by_sibling(const void *x, const void *y)
{
    const sib *a = x, *b = y;
    if (a->loop != b->loop)
        return a->loop < b->loop ? -1 : 1;
    if (a->parent != b->parent)
        return a->parent < b->parent ? -1 : 1;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    return a->i < b->i ? -1 : a->i > b->i;
}

/*
 * The ordinal of each task among same-named siblings (one sort, O(n log n)),
 * then keys in id order: a parent is always created before its children, so
 * its key exists when a child's is made.
 */
static int make_keys(drun *r, const lmr__model *m)
{
    size_t n = m->ntasks;
    sib *v = malloc((n ? n : 1) * sizeof *v);
    size_t *ord = malloc((n ? n : 1) * sizeof *ord);
    if (!v || !ord) {
        free(v);
        free(ord);
        return LMR_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (sib){m->tasks[i].loop, m->tasks[i].parent,
                     m->tasks[i].name ? m->tasks[i].name : "", i};
    qsort(v, n, sizeof *v, by_sibling);
    for (size_t i = 0; i < n;) {
        size_t k = i;
        while (k < n && v[k].loop == v[i].loop && v[k].parent == v[i].parent &&
               !strcmp(v[k].name, v[i].name))
            k++;
        for (size_t j = i; j < k; j++)
            ord[v[j].i] = k - i > 1 ? j - i + 1 : 0; /* 0: the only one */
        i = k;
    }
    free(v);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const lmr__task *t = &m->tasks[i];
        dtask *d = &r->tasks[i];
        const lmr__task *p = t->parent ? lmr__model_task(m, t->loop, t->parent)
                                       : NULL;
        d->parent = p && p < t ? (size_t)(p - m->tasks) : NONE;
        char head[64] = "";
        const char *pk = d->parent != NONE ? r->tasks[d->parent].key : NULL;
        if (pk && strlen(pk) > KEY_MAX) {
            snprintf(head, sizeof head, "...%016" PRIx64, fnv(0, pk));
            pk = head;
        } else if (!pk && m->nloops > 1) {
            snprintf(head, sizeof head, "loop%" PRIu32 ":", t->loop);
        }
        const char *name = t->name ? t->name : "";
        size_t len = (pk ? strlen(pk) : strlen(head)) + strlen(name) + 32;
        d->key = malloc(len);
        if (!d->key) {
            rc = LMR_ENOMEM;
            break;
        }
        int w = snprintf(d->key, len, "%s%s%s", pk ? pk : head, pk ? "/" : "",
                         name);
        if (ord[i])
            snprintf(d->key + w, len - (size_t)w, "#%zu", ord[i]);
    }
    free(ord);
    return rc;
}

static int co_end(lmr__render_ctx *c)
{
    drun *r = c->out->user;
    const lmr__model *m = c->model;
    if (!r->tasks)
        return 0;
    int rc = make_keys(r, m);
    for (size_t i = 0; rc == 0 && i < m->ntasks; i++) {
        const lmr__task *t = &m->tasks[i];
        dtask *d = &r->tasks[i];
        flush_await(d);
        d->name = dup(t->name ? t->name : "");
        d->state = t->state;
        d->t_spawn = t->t_spawn;
        d->t_end = t->t_end;
        d->match = NONE;
        d->selected = t->selected;
        if (t->error)
            d->error = dup(t->error);
        if (t->state == LMR__ST_CANCELLED) {
            const lmr__task *by = t->cancelled_by
                                      ? lmr__model_task(m, t->loop, t->cancelled_by)
                                      : NULL;
            const char *reason = t->timed_out ? "timeout"
                                 : t->cancel_reason ? t->cancel_reason
                                                    : "cancelled";
            size_t n = strlen(reason) + (by ? strlen(r->tasks[by - m->tasks].key) : 0) + 8;
            d->cause = malloc(n);
            if (d->cause)
                snprintf(d->cause, n, "%s%s%s", reason, by ? " by " : "",
                         by ? r->tasks[by - m->tasks].key : "");
        }
        if (!d->name || (t->error && !d->error) ||
            (t->state == LMR__ST_CANCELLED && !d->cause))
            rc = LMR_ENOMEM;
    }
    r->t_last = m->t_last;
    r->clock = dup(m->header.clock ? m->header.clock : "");
    return rc;
}

static const lmr__renderer collect = {"diff", co_begin, co_event, co_end};

static void run_free(drun *r)
{
    for (size_t i = 0; r->tasks && i < r->ntasks; i++) {
        free(r->tasks[i].key);
        free(r->tasks[i].name);
        free(r->tasks[i].error);
        free(r->tasks[i].cause);
    }
    free(r->tasks);
    free(r->clock);
    memset(r, 0, sizeof *r);
}

/* One run's tasks: the two passes with the collector, under e's options
 * (the selection of the diff) and warnings. */
static int run_load(const char *path, const lmr__entry *e, drun *r)
{
    memset(r, 0, sizeof *r);
    r->path = lmr__shown_name(path); /* a converted .lmt: its own name */
    lmr_buf scratch = {0};
    lmr__out lo = {.buf = &scratch, .max_chars = SIZE_MAX / 4, .user = r};
    int rc = lmr__run_passes(path, e->o, &collect, &lo, e->warn, true,
                             e->err);
    lmr_buf_free(&scratch);
    if (rc)
        run_free(r);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Matching and comparing                                                    */
/* ------------------------------------------------------------------------ */

static int by_key(const void *a, const void *b)
{
    const dtask *x = *(dtask *const *)a, *y = *(dtask *const *)b;
    return strcmp(x->key, y->key);
}

/* Sorted pointers to a run's selected tasks (*n of them), for the join. */
static dtask **sorted(const drun *r, size_t *n)
{
    dtask **v = malloc((r->ntasks ? r->ntasks : 1) * sizeof *v);
    if (!v)
        return NULL;
    *n = 0;
    for (size_t i = 0; i < r->ntasks; i++)
        if (r->tasks[i].selected)
            v[(*n)++] = &r->tasks[i];
    qsort(v, *n, sizeof *v, by_key);
    return v;
}

static int match(drun *a, drun *b)
{
    size_t na = 0, nb = 0;
    dtask **va = sorted(a, &na), **vb = sorted(b, &nb);
    if (!va || !vb) {
        free(va);
        free(vb);
        return LMR_ENOMEM;
    }
    size_t i = 0, k = 0;
    while (i < na && k < nb) {
        int c = strcmp(va[i]->key, vb[k]->key);
        if (c == 0) {
            va[i]->match = (size_t)(vb[k] - b->tasks);
            vb[k]->match = (size_t)(va[i] - a->tasks);
            i++, k++;
        } else if (c < 0) {
            i++;
        } else {
            k++;
        }
    }
    free(va);
    free(vb);
    return 0;
}

/* "done", "failed LM_EUSER", "cancelled (timeout by main)", "still awaiting" */
static void outcome(const dtask *d, char *dst, size_t n)
{
    static const char *const names[LMR__ST__COUNT] = {
        "created", "pending", "running", "awaiting", "done", "failed",
        "cancelled"};
    const char *s = d->state >= 0 && d->state < LMR__ST__COUNT ? names[d->state]
                                                               : "?";
    if (d->state == LMR__ST_FAILED && d->error)
        snprintf(dst, n, "failed %s", d->error);
    else if (d->state == LMR__ST_CANCELLED && d->cause)
        snprintf(dst, n, "cancelled (%s)", d->cause);
    else if (d->state < LMR__ST_DONE)
        snprintf(dst, n, "still %s", s);
    else
        snprintf(dst, n, "%s", s);
}

/* The awaits kept, repeats folded: "sleep x4, task parse". */
static void awaits_text(const dtask *d, char *dst, size_t n)
{
    if (!d->nawaits)
        snprintf(dst, n, "nothing");
    else if (d->cut)
        snprintf(dst, n, "%s, ... (%" PRIu64 " in all)", d->shown, d->nawaits);
    else
        snprintf(dst, n, "%s", d->shown);
}

static int64_t lifetime(const dtask *d, int64_t t_last)
{
    return (d->t_end >= 0 ? d->t_end : t_last) - d->t_spawn;
}

static bool beyond(const lmr_diff_options *o, int64_t x, int64_t y)
{
    int64_t d = x > y ? x - y : y - x;
    if (o->tolerance_pct > 0) {
        int64_t base = x > y ? x : y;
        return (double)d > (double)base * o->tolerance_pct / 100.0;
    }
    return d > o->tolerance;
}

/* What differs for a matched pair; bits of CH_*. */
enum { CH_OUTCOME = 1, CH_AWAITS = 2, CH_TIME = 4 };

static int changes(const lmr_diff_options *o, const drun *ra, const dtask *a,
                   const drun *rb, const dtask *b)
{
    int ch = 0;
    char x[160], y[160];
    outcome(a, x, sizeof x);
    outcome(b, y, sizeof y);
    if (strcmp(x, y))
        ch |= CH_OUTCOME;
    if (a->nawaits != b->nawaits || a->await_hash != b->await_hash)
        ch |= CH_AWAITS;
    if (beyond(o, lifetime(a, ra->t_last), lifetime(b, rb->t_last)))
        ch |= CH_TIME;
    return ch;
}

/* ------------------------------------------------------------------------ */
/* The text report                                                           */
/* ------------------------------------------------------------------------ */

/* One line "WHAT: KEY (OUTCOME)" per selected task of r that the other run
 * lacks (tasks removed from A, added in B). How many. */
static size_t report_unmatched(const drun *r, const char *what, lmr__out *out)
{
    size_t n = 0;
    char x[512];
    for (size_t i = 0; i < r->ntasks; i++) {
        const dtask *t = &r->tasks[i];
        if (t->match != NONE || !t->selected)
            continue;
        outcome(t, x, sizeof x);
        lmr__printf(out, "%s: %s (%s)\n", what, t->key, x);
        n++;
    }
    return n;
}

static size_t report_text(const lmr_diff_options *o, const drun *a,
                          const drun *b, lmr__out *out)
{
    size_t ndiff = 0, matched = 0;
    char x[512], y[512], dx[32], dy[32];
    lmr__printf(out, "loopmaid diff: %s -> %s\n", a->path, b->path);
    size_t in_a = 0, in_b = 0;
    for (size_t i = 0; i < a->ntasks; i++) {
        matched += a->tasks[i].match != NONE;
        in_a += a->tasks[i].selected;
    }
    for (size_t i = 0; i < b->ntasks; i++)
        in_b += b->tasks[i].selected;
    lmr__printf(out, "tasks: %zu in A, %zu in B, %zu matched by name and place\n",
                in_a, in_b, matched);
    ndiff += report_unmatched(a, "- removed", out);
    ndiff += report_unmatched(b, "+ added", out);
    for (size_t i = 0; i < a->ntasks; i++) {
        const dtask *ta = &a->tasks[i];
        if (ta->match == NONE)
            continue;
        const dtask *tb = &b->tasks[ta->match];
        int ch = changes(o, a, ta, b, tb);
        if (ch & CH_OUTCOME) {
            outcome(ta, x, sizeof x);
            outcome(tb, y, sizeof y);
            lmr__printf(out, "~ %s: outcome %s -> %s\n", ta->key, x, y);
        }
        if (ch & CH_AWAITS) {
            awaits_text(ta, x, sizeof x);
            awaits_text(tb, y, sizeof y);
            lmr__printf(out, "~ %s: awaited %s -> %s\n", ta->key, x, y);
        }
        if (ch & CH_TIME) {
            lmr__fmt_dur(dx, sizeof dx, lifetime(ta, a->t_last));
            lmr__fmt_dur(dy, sizeof dy, lifetime(tb, b->t_last));
            lmr__printf(out, "~ %s: lifetime %s -> %s\n", ta->key, dx, dy);
        }
        ndiff += ch != 0;
    }
    if (beyond(o, a->t_last, b->t_last)) {
        lmr__fmt_dur(dx, sizeof dx, a->t_last);
        lmr__fmt_dur(dy, sizeof dy, b->t_last);
        lmr__printf(out, "~ the run: %s -> %s\n", dx, dy);
        ndiff++;
    }
    if (ndiff)
        lmr__printf(out, "%zu difference%s\n", ndiff, ndiff == 1 ? "" : "s");
    else
        lmr__puts(out, "no differences\n");
    return ndiff;
}

/* ------------------------------------------------------------------------ */
/* Diagrams of both runs                                                     */
/* ------------------------------------------------------------------------ */

typedef struct pick {
    const dtask *a, *b; /* either may be NULL */
    int ch;             /* CH_*, or -1 removed, -2 added */
} pick;

/* Every task of either run, changed ones first (they are what a reader
 * opened the diagram for), then the rest in A's order. */
static pick *picks(const lmr_diff_options *o, const drun *a, const drun *b,
                   size_t *n)
{
    pick *v = malloc((a->ntasks + b->ntasks + 1) * sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < a->ntasks; i++) {
            const dtask *ta = &a->tasks[i];
            if (!ta->selected)
                continue;
            const dtask *tb = ta->match != NONE ? &b->tasks[ta->match] : NULL;
            int ch = tb ? changes(o, a, ta, b, tb) : -1;
            if ((ch != 0) == (pass == 0))
                v[k++] = (pick){ta, tb, ch};
        }
        if (pass == 0)
            for (size_t i = 0; i < b->ntasks; i++)
                if (b->tasks[i].match == NONE && b->tasks[i].selected)
                    v[k++] = (pick){NULL, &b->tasks[i], -2};
    }
    *n = k;
    return v;
}

/* What changed for one pick, as up to three lines (parts[] gets them,
 * NULL-terminated; the text lives in buf). */
static void change_lines(const drun *ra, const drun *rb, const pick *p,
                         char buf[3][400], const char *parts[4])
{
    char x[160], y[160];
    const dtask *t = p->a ? p->a : p->b;
    size_t k = 0;
    if (p->ch < 0) {
        outcome(t, x, sizeof x);
        snprintf(buf[k++], 400, p->ch == -1 ? "removed (was %s)" : "added (%s)", x);
    } else if (p->ch == 0) {
        outcome(t, x, sizeof x);
        snprintf(buf[k++], 400, "%s", x);
    } else {
        if (p->ch & CH_OUTCOME) {
            outcome(p->a, x, sizeof x);
            outcome(p->b, y, sizeof y);
            snprintf(buf[k++], 400, "%s -> %s", x, y);
        }
        if (p->ch & CH_AWAITS)
            snprintf(buf[k++], 400, "awaits: %" PRIu64 " -> %" PRIu64,
                     p->a->nawaits, p->b->nawaits);
        if (p->ch & CH_TIME) {
            lmr__fmt_dur(x, sizeof x, lifetime(p->a, ra->t_last));
            lmr__fmt_dur(y, sizeof y, lifetime(p->b, rb->t_last));
            snprintf(buf[k++], 400, "lifetime %s -> %s", x, y);
        }
    }
    for (size_t i = 0; i < k; i++)
        parts[i] = buf[i];
    parts[k] = NULL;
}

/* A flowchart of the union of both task trees: added, removed and changed
 * tasks styled, the change written in the node. */
static void diagram_tasks(const lmr_diff_options *o, const drun *a,
                          const drun *b, const pick *v, size_t n, lmr__out *out)
{
    lmr__begin_diagram(out, o->title, NULL, "flowchart TD");
    size_t shown = n < DIFF_NODE_CAP ? n : DIFF_NODE_CAP;
    /* node ids: index in v; edges need the parent's pick index */
    for (size_t i = 0; i < shown; i++) {
        const dtask *t = v[i].a ? v[i].a : v[i].b;
        char buf[3][400], id[24];
        const char *lines[4], *parts[5] = {t->name};
        change_lines(a, b, &v[i], buf, lines);
        for (size_t k = 0; k < 4; k++)
            parts[k + 1] = lines[k];
        snprintf(id, sizeof id, "d%zu", i + 1);
        lmr__node(out, id, "[", "]", parts, LABEL_CP);
    }
    for (size_t i = 0; i < shown; i++) {
        const dtask *t = v[i].a ? v[i].a : v[i].b;
        const drun *r = v[i].a ? a : b;
        if (t->parent == NONE)
            continue;
        const dtask *p = &r->tasks[t->parent];
        for (size_t k = 0; k < shown; k++)
            if ((v[i].a ? v[k].a : v[k].b) == p) {
                lmr__printf(out, "    d%zu --> d%zu\n", k + 1, i + 1);
                break;
            }
    }
    static const char *const classes =
        "    classDef added fill:#d3f9d8,stroke:#2b8a3e,stroke-width:2px\n"
        "    classDef removed fill:#ffe3e3,stroke:#c92a2a,stroke-dasharray:5 5\n"
        "    classDef changed fill:#fff3bf,stroke:#e67700,stroke-width:2px\n";
    lmr__puts(out, classes);
    for (size_t i = 0; i < shown; i++) {
        const char *cls = v[i].ch == -1 ? "removed" : v[i].ch == -2 ? "added"
                          : v[i].ch ? "changed" : NULL;
        if (cls)
            lmr__printf(out, "    class d%zu %s\n", i + 1, cls);
    }
    if (n > shown) {
        char more[96];
        snprintf(more, sizeof more, "%zu unchanged tasks not shown", n - shown);
        const char *parts[] = {more, NULL};
        lmr__node(out, "dmore", "[", "]", parts, LABEL_CP);
    }
}

/* The state view's transitions, counted in each run. */
static void diagram_state(const lmr_diff_options *o, const drun *a,
                          const drun *b, lmr__out *out)
{
    static const char *const st[LMR__ST__COUNT] = {
        "created", "pending", "running", "awaiting", "done", "failed",
        "cancelled"};
    lmr__begin_diagram(out, o->title, NULL, "stateDiagram-v2");
    lmr__puts(out, "    [*] --> created\n");
    for (int f = 0; f < LMR__ST__COUNT; f++)
        for (int t = 0; t < LMR__ST__COUNT; t++) {
            uint64_t x = a->moves[f][t], y = b->moves[f][t];
            if (!x && !y)
                continue;
            char label[64];
            if (x == y)
                snprintf(label, sizeof label, "%" PRIu64, x);
            else if (!x)
                snprintf(label, sizeof label, "added: 0 to %" PRIu64, y);
            else if (!y)
                snprintf(label, sizeof label, "removed: %" PRIu64 " to 0", x);
            else
                snprintf(label, sizeof label, "changed: %" PRIu64 " to %" PRIu64,
                         x, y);
            lmr__printf(out, "    %s --> %s : ", st[f], st[t]);
            lmr__esc_label(out, label, LABEL_CP);
            lmr__puts(out, "\n");
        }
    for (int s = LMR__ST_DONE; s < LMR__ST__COUNT; s++)
        if (a->moves[LMR__ST_RUNNING][s] || b->moves[LMR__ST_RUNNING][s] ||
            a->moves[LMR__ST_AWAITING][s] || b->moves[LMR__ST_AWAITING][s] ||
            a->moves[LMR__ST_PENDING][s] || b->moves[LMR__ST_PENDING][s] ||
            a->moves[LMR__ST_CREATED][s] || b->moves[LMR__ST_CREATED][s])
            lmr__printf(out, "    %s --> [*]\n", st[s]);
}

/* One participant per changed task (at most DIFF_NOTE_CAP), a note with
 * what changed; the runs as two participants that frame it. */
static void diagram_sequence(const lmr_diff_options *o, const drun *a,
                             const drun *b, const pick *v, size_t n,
                             lmr__out *out)
{
    lmr__begin_diagram(out, o->title, NULL, "sequenceDiagram");
    size_t shown = 0;
    for (size_t i = 0; i < n && v[i].ch != 0 && shown < DIFF_NOTE_CAP; i++)
        shown++;
    for (size_t i = 0; i < shown; i++) {
        const dtask *t = v[i].a ? v[i].a : v[i].b;
        lmr__printf(out, "    participant p%zu as ", i + 1);
        lmr__esc_label(out, t->key, LABEL_CP);
        lmr__puts(out, "\n");
    }
    if (!shown) {
        lmr__puts(out, "    participant p0 as no differences\n");
        return;
    }
    for (size_t i = 0; i < shown; i++) {
        char buf[3][400];
        const char *lines[4];
        change_lines(a, b, &v[i], buf, lines);
        for (size_t k = 0; lines[k]; k++) {
            lmr__printf(out, "    Note over p%zu: ", i + 1);
            lmr__esc_label(out, lines[k], LABEL_CP);
            lmr__puts(out, "\n");
        }
        if (v[i].ch > 0 && (v[i].ch & CH_AWAITS)) {
            char x[300], y[300];
            awaits_text(v[i].a, x, sizeof x);
            awaits_text(v[i].b, y, sizeof y);
            lmr__printf(out, "    Note over p%zu: A awaited ", i + 1);
            lmr__esc_label(out, x, LABEL_CP);
            lmr__printf(out, "\n    Note over p%zu: B awaited ", i + 1);
            lmr__esc_label(out, y, LABEL_CP);
            lmr__puts(out, "\n");
        }
    }
    size_t changed = 0;
    for (size_t i = 0; i < n; i++)
        changed += v[i].ch != 0;
    if (changed > shown)
        lmr__printf(out, "    Note over p1: %zu more changed tasks not shown\n",
                    changed - shown);
}

/* ------------------------------------------------------------------------ */
/* The entry point                                                           */
/* ------------------------------------------------------------------------ */

void lmr_diff_options_init(lmr_diff_options *o)
{
    memset(o, 0, sizeof *o);
    o->view = -1;
    o->tolerance = 1000000; /* 1 ms */
}

int lmr_diff_files(const char *path_a, const char *path_b,
                   const lmr_diff_options *o, lmr_buf *out, FILE *warn,
                   lmr_error *err)
{
    lmr_diff_options defaults;
    if (!o) {
        lmr_diff_options_init(&defaults);
        o = &defaults;
    }
    /* Both runs are read as render reads a trace, with the diff's selection
     * and -q: the shared entry then makes err and warn as for every entry. */
    lmr_options ro;
    lmr_options_init(&ro);
    ro.tasks = o->tasks;
    ro.exclude = o->exclude;
    ro.quiet = o->quiet;
    lmr__entry e;
    lmr__entry_begin(&e, &ro, warn, err);
    err = e.err;
    if (o->view >= 0 && o->view != LMR_VIEW_STATE &&
        o->view != LMR_VIEW_TASKS && o->view != LMR_VIEW_SEQUENCE)
        return lmr__err(err, LMR_EUSAGE, "loopmaid", 0, 0,
                        "diff draws the state, tasks or sequence view, not %s",
                        lmr_view_name((lmr_view)o->view)
                            ? lmr_view_name((lmr_view)o->view) : "?");
    drun a, b;
    int rc = run_load(path_a, &e, &a);
    if (rc)
        return rc;
    if ((rc = run_load(path_b, &e, &b)) != 0) {
        run_free(&a);
        return rc;
    }
    if ((rc = match(&a, &b)) != 0) {
        lmr__err(err, rc, path_a, 0, 0, "out of memory");
        goto done;
    }
    size_t len0 = out->len;
    lmr__out lo = {.buf = out, .start = out->len, .max_chars = SIZE_MAX / 4};
    lmr_buf sink = {0};
    lmr__out quiet = {.buf = &sink, .max_chars = SIZE_MAX / 4};
    size_t ndiff = report_text(o, &a, &b, o->view >= 0 ? &quiet : &lo);
    lmr_buf_free(&sink);
    if (o->view >= 0) {
        size_t n;
        pick *v = picks(o, &a, &b, &n);
        if (!v) {
            rc = lmr__err(err, LMR_ENOMEM, path_a, 0, 0, "out of memory");
            goto done;
        }
        if (o->format == LMR_FORMAT_MD)
            lmr__puts(&lo, "```mermaid\n");
        if (o->view == LMR_VIEW_TASKS)
            diagram_tasks(o, &a, &b, v, n, &lo);
        else if (o->view == LMR_VIEW_STATE)
            diagram_state(o, &a, &b, &lo);
        else
            diagram_sequence(o, &a, &b, v, n, &lo);
        if (o->format == LMR_FORMAT_MD)
            lmr__puts(&lo, "```\n");
        free(v);
    }
    if (lo.err) {
        lmr__buf_cut(out, len0);
        rc = lmr__err(err, LMR_ENOMEM, path_a, 0, 0, "out of memory");
        goto done;
    }
    rc = ndiff ? 1 : 0;
done:
    run_free(&a);
    run_free(&b);
    return rc;
}

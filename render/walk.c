/*
 * walk.c: pass 2, the one walker every renderer sits behind.
 *
 * It streams the trace again (the model from pass 1 already knows every task,
 * group and total) and hands each event to the renderer when it passes:
 *   - the task filter: events about a task are kept when the task is
 *     selected (lmr__select: --tasks / --exclude on its final name); a group
 *     is kept when its owner or any member is selected; events about the loop
 *     itself (loop_start/end, poll, tick, call, gap, notes and names of
 *     task 0) are always kept;
 *   - the time window --from/--to (ns, inclusive): applies to every event but
 *     loop_start and loop_end, so a diagram always opens and closes. The
 *     events of selected tasks before --from go to the view's `prior` hook
 *     (lmr__prior_for; the state view's), so it knows where each task stood
 *     when the window opened.
 * Cost per event: O(log tasks) for the task lookup; no allocation.
 *
 * It also holds what every view shares about choosing: lmr__rank (which
 * tasks a view keeps first when it cannot draw all), lmr__task_in_window,
 * and lmr__warn_selection (a filter or window that leaves nothing).
 */
#include "lmr_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

const lmr__renderer *lmr__renderer_for(lmr_view v)
{
    switch (v) {
    case LMR_VIEW_STATE:
        return &lmr__view_state;
    case LMR_VIEW_SEQUENCE:
        return &lmr__view_sequence;
    case LMR_VIEW_FLOWCHART:
        return &lmr__view_flowchart;
    case LMR_VIEW_TASKS:
        return &lmr__view_tasks;
    case LMR_VIEW_GANTT:
        return &lmr__view_gantt;
    case LMR_VIEW_ADVISE:
        return &lmr__view_advise;
    case LMR_VIEW__COUNT:
        break;
    }
    return NULL;
}

lmr__event_hook lmr__prior_for(const lmr__renderer *r)
{
    if (r == &lmr__view_state)
        return lmr__state_prior;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Task selection                                                           */
/* ------------------------------------------------------------------------ */

/* Backtracking cap per match: a pathological pattern on a 64 KiB name must
 * not hang the CLI. Going over it is reported, not treated as "no match". */
#define MATCH_LIMIT 10000000u

typedef struct rx {
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mc;
} rx;

static void rx_free(rx *r)
{
    pcre2_match_data_free(r->md);
    pcre2_match_context_free(r->mc);
    pcre2_code_free(r->code);
    memset(r, 0, sizeof *r);
}

static int rx_compile(rx *r, const char *pat, const char *flag,
                      lmr_error *err)
{
    int ec;
    PCRE2_SIZE off;
    memset(r, 0, sizeof *r);
    r->code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                            PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec, &off,
                            NULL);
    if (!r->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return lmr__err(err, LMR_EREGEX, flag, 0, 0,
                        "bad regular expression at offset %zu: %s",
                        (size_t)off, (const char *)msg);
    }
    /* No JIT: each pattern runs once per task, so compiling machine code
     * would not pay off, and JIT code reads past the subject in 16-byte
     * loads, which valgrind reports. */
    r->md = pcre2_match_data_create_from_pattern(r->code, NULL);
    r->mc = pcre2_match_context_create(NULL);
    if (!r->md || !r->mc) {
        rx_free(r);
        return lmr__err(err, LMR_ENOMEM, flag, 0, 0, "out of memory");
    }
    pcre2_set_match_limit(r->mc, MATCH_LIMIT);
    return 0;
}

/* 1 match, 0 no match, negative: error (filled in). */
static int rx_match(rx *r, const char *s, const char *flag, lmr_error *err)
{
    int rc = pcre2_match(r->code, (PCRE2_SPTR)s, strlen(s), 0, 0, r->md,
                         r->mc);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    return lmr__err(err, LMR_EREGEX, flag, 0, 0,
                    "regular expression failed on a task name: %s",
                    (const char *)msg);
}

int lmr__select(lmr__model *m, const lmr_options *o, lmr_error *err)
{
    rx inc = {0}, exc = {0};
    int rc = 0;
    bool have_inc = o->tasks && *o->tasks, have_exc = o->exclude && *o->exclude;
    if (have_inc && (rc = rx_compile(&inc, o->tasks, "--tasks", err)) != 0)
        return rc;
    if (have_exc && (rc = rx_compile(&exc, o->exclude, "--exclude", err))) {
        rx_free(&inc);
        return rc;
    }
    for (size_t i = 0; i < m->ntasks && rc >= 0; i++) {
        lmr__task *t = &m->tasks[i];
        bool sel = true;
        if (have_inc) {
            rc = rx_match(&inc, t->name ? t->name : "", "--tasks", err);
            sel = rc == 1;
        }
        if (sel && have_exc && rc >= 0) {
            rc = rx_match(&exc, t->name ? t->name : "", "--exclude", err);
            sel = rc == 0;
        }
        t->selected = sel;
    }
    rx_free(&inc);
    rx_free(&exc);
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------------------ */
/* The walk                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct walker {
    const lmr__model *m;
    const lmr_options *o;
    const lmr__renderer *r;
    lmr__render_ctx c;
    const char *name;
    bool *gsel; /* per group (index in m->groups): kept */
    lmr__event_hook prior; /* the view's hook for events before --from */
} walker;

static bool task_sel(const walker *w, uint32_t loop, uint64_t id)
{
    if (id == 0)
        return true; /* the loop itself */
    const lmr__task *t = lmr__model_task(w->m, loop, id);
    return t && t->selected;
}

/* 1: in the window, -1: before it, 0: after it or filtered out. */
static int keep(const walker *w, const lmr__event *e)
{
    switch (e->kind) {
    case LMR__EV_LOOP_START:
    case LMR__EV_LOOP_END:
        return true;
    case LMR__EV_UNKNOWN:
    case LMR__EV__COUNT:
        return false;
    default:
        break;
    }
    /* whole_time: the view clips to the window itself (gantt). */
    if (!w->c.whole_time && w->o->to >= 0 && e->t > w->o->to)
        return false;
    int in = !w->c.whole_time && e->t < w->o->from ? -1 : 1;
    switch (e->kind) {
    case LMR__EV_SPAWN:
    case LMR__EV_STATE:
    case LMR__EV_CANCEL:
    case LMR__EV_IO:
    case LMR__EV_TIMER:
    case LMR__EV_NOTE:
    case LMR__EV_NAME:
        return task_sel(w, e->loop, e->task) ? in : 0;
    case LMR__EV_GROUP:
    case LMR__EV_GROUP_END: {
        const lmr__group *g = lmr__model_group(w->m, e->loop, e->group);
        return g && w->gsel[g - w->m->groups] ? in : 0;
    }
    default:
        return in; /* poll, call, tick, gap: the loop's own */
    }
}

static int walk_event(void *ctx, const lmr__header *h, const lmr__event *e,
                      lmr_error *err)
{
    walker *w = ctx;
    (void)h;
    int k = keep(w, e);
    lmr__event_hook fn = k > 0 ? w->r->event : k < 0 ? w->prior : NULL;
    if (!fn)
        return 0;
    int rc = fn(&w->c, e);
    if (rc < 0 && err->code == 0)
        lmr__err(err, rc, w->name, e->line, e->col, "%s", lmr_strerror(rc));
    return rc < 0 ? rc : 0;
}

/* The spill's replay as an lmr__read_fn, so that one walk serves both. A
 * spill holds only events: the header stays empty, nothing is truncated. */
static int read_spill(void *unused, FILE *fp, const char *name,
                      lmr__header *h, lmr__event_fn cb, void *ctx,
                      int *truncated, lmr_error *err)
{
    (void)unused;
    memset(h, 0, sizeof *h);
    h->ring = -1;
    *truncated = 0;
    return lmr__spill_replay(fp, name, cb, ctx, err);
}

/* Every walk: the events come through read (the trace's YAML when NULL,
 * or a spill through read_spill). */
static int walk_any(FILE *fp, lmr__read_fn read, void *rctx,
                    const char *name, const lmr__model *m,
                    const lmr_options *o, const lmr__renderer *r,
                    lmr__out *out, lmr_error *err)
{
    lmr_error dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof *err);
    walker w = {.m = m, .o = o, .r = r, .name = name ? name : "-",
                .prior = o->from > 0 ? lmr__prior_for(r) : NULL};
    w.c = (lmr__render_ctx){.model = m, .opts = o, .out = out};
    if (m->ngroups) {
        w.gsel = calloc(m->ngroups, sizeof *w.gsel);
        if (!w.gsel)
            return lmr__err(err, LMR_ENOMEM, w.name, 0, 0, "out of memory");
        for (size_t i = 0; i < m->ngroups; i++) {
            const lmr__group *g = &m->groups[i];
            bool sel = g->owner != 0 && task_sel(&w, g->loop, g->owner);
            for (size_t k = 0; !sel && k < g->nmembers; k++)
                sel = task_sel(&w, g->loop, g->members[k]);
            w.gsel[i] = sel;
        }
    }
    int rc = r->begin ? r->begin(&w.c) : 0;
    if (rc < 0) {
        free(w.gsel);
        if (err->code == 0)
            lmr__err(err, rc, w.name, 0, 0, "%s", lmr_strerror(rc));
        return rc;
    }
    lmr__header h;
    int truncated = 0;
    rc = read ? read(rctx, fp, w.name, &h, walk_event, &w, &truncated, err)
              : lmr__read(fp, w.name, &h, walk_event, &w, &truncated, err);
    lmr__header_free(&h);
    if (rc == 0)
        memset(err, 0, sizeof *err); /* pass 1 already warned */
    /* end() frees the renderer's state, so it runs even after an error. */
    int rc2 = r->end ? r->end(&w.c) : 0;
    free(w.gsel);
    if (rc == 0 && rc2 < 0) {
        rc = rc2;
        lmr__err(err, rc, w.name, 0, 0, "%s", lmr_strerror(rc));
    }
    if (rc == 0 && out->err < 0)
        rc = lmr__err(err, out->err, w.name, 0, 0, "out of memory");
    return rc;
}

int lmr__walk(FILE *fp, const char *name, const lmr__model *m,
              const lmr_options *o, const lmr__renderer *r, lmr__out *out,
              lmr_error *err)
{
    return walk_any(fp, NULL, NULL, name, m, o, r, out, err);
}

int lmr__walk_via(FILE *fp, const char *name, const lmr__model *m,
                  const lmr_options *o, const lmr__renderer *r, lmr__out *out,
                  lmr__read_fn read, void *rctx, lmr_error *err)
{
    return walk_any(fp, read, rctx, name, m, o, r, out, err);
}

int lmr__walk_spill(FILE *spill, const char *name, const lmr__model *m,
                    const lmr_options *o, const lmr__renderer *r,
                    lmr__out *out, lmr_error *err)
{
    return walk_any(spill, read_spill, NULL, name, m, o, r, out, err);
}

bool lmr__task_in_window(const lmr_options *o, const lmr__task *t)
{
    if (!t->selected)
        return false;
    if (o->to >= 0 && t->t_spawn > o->to)
        return false;
    if (t->t_end >= 0 && t->t_end < o->from)
        return false;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Interest: what a view keeps first when it cannot draw everything         */
/* ------------------------------------------------------------------------ */

/* The end of a task's life as the window sees it. */
static int64_t seen_end(const lmr__model *m, const lmr_options *o,
                        const lmr__task *t)
{
    int64_t end = t->t_end >= 0 ? t->t_end : m->t_last;
    if (o->to >= 0 && end > o->to)
        end = o->to;
    return end;
}

int64_t lmr__task_span(const lmr__model *m, const lmr_options *o,
                       const lmr__task *t)
{
    int64_t start = t->t_spawn > o->from ? t->t_spawn : o->from;
    int64_t end = seen_end(m, o, t);
    return end > start ? end - start : 0;
}

int lmr__interest(const lmr_options *o, const lmr__task *t)
{
    /* An outcome counts only once it happened inside the window. */
    bool ended = t->t_end >= 0 && (o->to < 0 || t->t_end <= o->to);
    if (ended && t->state == LMR__ST_FAILED)
        return LMR__INT_FAILED;
    if (ended && t->state == LMR__ST_CANCELLED)
        return t->timed_out ? LMR__INT_TIMED_OUT : LMR__INT_CANCELLED;
    return LMR__INT_REST;
}

typedef struct rank_key {
    size_t idx;
    int tier;
    int64_t span;
    uint32_t ord;
} rank_key;

static int cmp_rank(const void *a, const void *b)
{
    const rank_key *x = a, *y = b;
    if (x->tier != y->tier)
        return x->tier < y->tier ? -1 : 1;
    if (x->tier == LMR__INT_SLOW && x->span != y->span)
        return x->span > y->span ? -1 : 1;
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

size_t lmr__rank(const lmr__model *m, const lmr_options *o, size_t *idx,
                 int *tier)
{
    size_t n = 0;
    rank_key *k = malloc((m->ntasks ? m->ntasks : 1) * sizeof *k);
    if (!k) {
        /* No memory for the sort: spawn order, which is still correct. */
        for (size_t i = 0; i < m->ntasks; i++)
            if (lmr__task_in_window(o, &m->tasks[i])) {
                if (tier)
                    tier[n] = LMR__INT_REST;
                idx[n++] = i;
            }
        return n;
    }
    /* The LMR__SLOWEST longest-lived (clipped to the window) and those with
     * the longest steps (they blocked the loop) rank after the failures. */
    size_t top[2][LMR__SLOWEST];
    size_t ntop[2] = {0, 0};
    for (size_t i = 0; i < m->ntasks; i++) {
        const lmr__task *t = &m->tasks[i];
        if (!lmr__task_in_window(o, t))
            continue;
        k[n] = (rank_key){i, lmr__interest(o, t), lmr__task_span(m, o, t),
                          t->ord};
        if (k[n].tier == LMR__INT_REST) {
            for (int w = 0; w < 2; w++) {
                int64_t v = w == 0 ? k[n].span : t->longest_step;
                if (v <= 0)
                    continue;
                /* insertion into a sorted top list, largest first */
                size_t p = ntop[w];
                while (p > 0) {
                    const rank_key *q = &k[top[w][p - 1]];
                    int64_t qv = w == 0 ? q->span
                                        : m->tasks[q->idx].longest_step;
                    if (qv >= v)
                        break;
                    p--;
                }
                if (p >= LMR__SLOWEST)
                    continue;
                size_t last = ntop[w] < LMR__SLOWEST ? ntop[w] : LMR__SLOWEST - 1;
                memmove(&top[w][p + 1], &top[w][p], (last - p) * sizeof top[w][0]);
                top[w][p] = n;
                if (ntop[w] < LMR__SLOWEST)
                    ntop[w]++;
            }
        }
        n++;
    }
    for (int w = 0; w < 2; w++)
        for (size_t j = 0; j < ntop[w]; j++)
            k[top[w][j]].tier = LMR__INT_SLOW;
    qsort(k, n, sizeof *k, cmp_rank);
    /* The interesting tiers take turns (one failed, one timed out, one
     * cancelled, one slow, again...), so that a small cap still shows one
     * of each kind rather than only the first kind; then the rest. */
    size_t start[LMR__INT_REST + 2] = {0}, pos[LMR__INT_REST + 1];
    for (size_t i = 0; i < n; i++)
        start[k[i].tier + 1]++;
    for (int t = 1; t <= LMR__INT_REST + 1; t++)
        start[t] += start[t - 1];
    for (int t = 0; t <= LMR__INT_REST; t++)
        pos[t] = start[t];
    size_t out = 0;
    while (out < start[LMR__INT_REST])
        for (int t = 0; t < LMR__INT_REST; t++)
            if (pos[t] < start[t + 1]) {
                idx[out] = k[pos[t]].idx;
                if (tier)
                    tier[out] = t;
                pos[t]++;
                out++;
            }
    for (size_t i = start[LMR__INT_REST]; i < n; i++) {
        idx[i] = k[i].idx;
        if (tier)
            tier[i] = k[i].tier;
    }
    free(k);
    return n;
}

/* ------------------------------------------------------------------------ */
/* Selections that leave nothing to draw                                     */
/* ------------------------------------------------------------------------ */

void lmr__warn_selection(const lmr__model *m, const lmr_options *o,
                         FILE *warn)
{
    if (!warn || o->quiet)
        return;
    size_t sel = 0, inwin = 0;
    for (size_t i = 0; i < m->ntasks; i++) {
        sel += m->tasks[i].selected;
        inwin += lmr__task_in_window(o, &m->tasks[i]);
    }
    char a[32], b[32];
    if (m->ntasks && sel == 0) {
        fprintf(warn, "loopmaid: warning: no task matches");
        if (o->tasks && *o->tasks)
            fprintf(warn, " --tasks '%s'", o->tasks);
        if (o->exclude && *o->exclude)
            fprintf(warn, "%s --exclude '%s'",
                    o->tasks && *o->tasks ? " with" : "", o->exclude);
        fprintf(warn, " (%zu tasks in the trace); the diagram shows the loop "
                      "only\n", m->ntasks);
        return;
    }
    if (m->events && o->from > m->t_last) {
        lmr__fmt_dur(a, sizeof a, o->from);
        lmr__fmt_dur(b, sizeof b, m->t_last);
        fprintf(warn, "loopmaid: warning: --from %s is after the end of the "
                      "trace (its last event is at %s); the window is empty\n",
                a, b);
        return;
    }
    if (o->to >= 0 && m->events && o->to < m->t_first) {
        lmr__fmt_dur(a, sizeof a, o->to);
        lmr__fmt_dur(b, sizeof b, m->t_first);
        fprintf(warn, "loopmaid: warning: --to %s is before the trace's first "
                      "event (at %s); the window is empty\n", a, b);
        return;
    }
    if (sel && inwin == 0)
        fprintf(warn, "loopmaid: warning: none of the %zu selected tasks is "
                      "alive inside the --from/--to window\n", sel);
}

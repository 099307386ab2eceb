/*
 * view_state.c: `--view state`, a stateDiagram-v2 of the transitions the
 * selected tasks went through, each edge labelled with what caused it
 * (spawn, await sleep, timer, io, cancel...) and, with --counts, how often.
 *
 * Memory: a table of edges (at most --max-causes causes per state pair,
 * the rest folded into "other causes") plus a few bytes per task,
 * so it grows with tasks, not events. Output is at most a few kilobytes; it
 * still checks the budget line by line and says what did not fit.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEF_CAUSES 6   /* distinct causes kept per (from, to) pair */
#define MAX_CAUSES 64  /* --max-causes is clamped here */
#define CAUSE_MAX 64   /* bytes of a cause, before escaping */
#define STATE_CP 40    /* cut state names here */
#define CAUSE_CP 44    /* cut edge labels here */
#define WHO_CP 20      /* a task named in a cause */

/* Causes per edge, twice: as said ("worker-7 finished") and generic
 * ("task finished"). When the named ones overflow --max-causes, the edge
 * shows the generic ones, which are few. */
typedef struct st_causes {
    char (*cause)[CAUSE_MAX]; /* ncap + 1; [ncap] is "other" */
    uint64_t *count;
    int ncauses;
} st_causes;

typedef struct st_edge {
    st_causes named, generic;
} st_edge;

typedef struct st_data {
    st_edge e[LMR__ST__COUNT][LMR__ST__COUNT];
    int ncap;                      /* --max-causes */
    bool seen[LMR__ST__COUNT];
    uint64_t spawned;              /* [*] --> created */
    uint64_t entered[LMR__ST__COUNT]; /* alive at the window's start */
    uint64_t finished[LMR__ST__COUNT]; /* terminal state --> [*] */
    int64_t *t_enter;              /* per task (by ord): when its state began */
    int8_t *state;                 /* per task: state so far; -1 = unknown */
    uint32_t *awaiting;            /* per task: group it awaits; 0 = none */
    bool windowed, opened;         /* --from set; window-start counts done */
    uint64_t steps, awaits, timeouts, failed;
    uint64_t awaiting_now;         /* tasks awaiting at this event */
    uint64_t steps_meanwhile;      /* steps begun while others awaited */
    int64_t longest_step, longest_await;
    uint64_t longest_step_task, longest_await_task;
    uint32_t longest_step_loop, longest_await_loop;
} st_data;

static void add_cause(st_data *d, st_causes *e, const char *cause)
{
    for (int i = 0; i < e->ncauses; i++)
        if (strcmp(e->cause[i], cause) == 0) {
            e->count[i]++;
            return;
        }
    if (e->ncauses < d->ncap) {
        snprintf(e->cause[e->ncauses], CAUSE_MAX, "%s", cause);
        e->count[e->ncauses++] = 1;
        return;
    }
    e->count[d->ncap]++;
}

/* dst = a b c, cut to n bytes (causes are cut again, on code points, when
 * escaped). */
static void join(char *dst, size_t n, const char *a, const char *b,
                 const char *c)
{
    size_t len = 0;
    const char *parts[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && len + 1 < n; p++)
            dst[len++] = *p;
    while (len > 0 && ((unsigned char)dst[len - 1] & 0xC0) == 0xC0)
        len--; /* never end on a lead byte */
    dst[len] = '\0';
}

static const char *who(const lmr__model *m, uint32_t loop, uint64_t id)
{
    const lmr__task *t = id ? lmr__model_task(m, loop, id) : NULL;
    return t && t->name ? t->name : NULL;
}

/* " by NAME" for a cause made by another task; "" when none. */
static void by_whom(const lmr__render_ctx *c, const lmr__event *ev,
                    uint64_t by_task, char *dst, size_t n)
{
    dst[0] = '\0';
    if (!by_task)
        return;
    if (by_task == ev->task) {
        snprintf(dst, n, " by itself (as recorded)");
        return;
    }
    const char *nm = who(c->model, ev->loop, by_task);
    char cut[WHO_CP * 4 + 8];
    lmr__cut_name(cut, sizeof cut, nm ? nm : "?", WHO_CP);
    snprintf(dst, n, " by %s", cut);
}

/* Why a task was cancelled, from the model's first cancel request. */
static void cancel_phrase(const lmr__render_ctx *c, const lmr__event *ev,
                          bool named, char *dst, size_t n)
{
    const lmr__task *t = lmr__model_task(c->model, ev->loop, ev->task);
    const char *reason = t && t->cancel_reason ? t->cancel_reason : NULL;
    lmr__reason rid = t ? t->cancel_reason_id : LMR__REASON_NONE;
    uint64_t by = ev->by_task ? ev->by_task : t ? t->cancelled_by : 0;
    char bw[WHO_CP * 4 + 32];
    by_whom(c, ev, named ? by : 0, bw, sizeof bw);
    if (rid == LMR__REASON_TIMEOUT || rid == LMR__REASON_SHUTDOWN ||
        rid == LMR__REASON_SIGNAL)
        bw[0] = '\0'; /* the reason says who */
    snprintf(dst, n, "%s%s", lmr__cancel_words(c->opts, reason), bw);
}

/* Task `id`'s name cut to WHO_CP code points, "?" when it has none. */
static void cut_who(const lmr__render_ctx *c, uint32_t loop, uint64_t id,
                    char *dst, size_t n)
{
    const char *nm = who(c->model, loop, id);
    lmr__cut_name(dst, n, nm ? nm : "?", WHO_CP);
}

/* Why a task became pending: spawned, cancelled, its group timed out, or
 * woken by a task (by name when `named`) or anything else. */
static void pending_cause(const lmr__render_ctx *c, const st_data *d,
                          const lmr__event *ev, const lmr__task *t, bool a,
                          bool named, char *dst, size_t n)
{
    if (ev->from == LMR__ST_CREATED) {
        snprintf(dst, n, "%s", a ? "create_task()" : "spawn");
        return;
    }
    if (ev->by_id == LMR__BY_CANCEL) {
        cancel_phrase(c, ev, named, dst, n);
        return;
    }
    const lmr__group *g =
        t && d->awaiting[t->ord]
            ? lmr__model_group(c->model, ev->loop, d->awaiting[t->ord])
            : NULL;
    if (g && g->outcome_id == LMR__OUT_TIMEOUT) {
        snprintf(dst, n, "%s", a ? "TimeoutError to the caller" : "timed out");
        return;
    }
    if (named && ev->by_id == LMR__BY_TASK && ev->by_task &&
        ev->by_task != ev->task) {
        /* "download finished" says more than "task finished" */
        char cut[WHO_CP * 4 + 8];
        cut_who(c, ev->loop, ev->by_task, cut, sizeof cut);
        join(dst, n, cut, a ? " done" : " finished", "");
        return;
    }
    char bw[WHO_CP * 4 + 32];
    by_whom(c, ev, named ? ev->by_task : 0, bw, sizeof bw);
    join(dst, n, lmr__wake_words(c->opts, ev->by_id, ev->by), bw, "");
}

/* What a task awaits: the awaited task by name when `named`. */
static void await_cause(const lmr__render_ctx *c, const lmr__event *ev, bool a,
                        bool named, char *dst, size_t n)
{
    char w[64];
    lmr__await_words(c->opts, ev->on_id, ev->on, w, sizeof w);
    if (named && ev->on_id == LMR__ON_TASK && ev->awaits) {
        char cut[WHO_CP * 4 + 8];
        cut_who(c, ev->loop, ev->awaits, cut, sizeof cut);
        join(dst, n, a ? "await " : "await task ", cut, "");
    } else {
        snprintf(dst, n, "%s", w);
    }
}

/* How a task was cancelled: at its await (by a deadline or not), or
 * before it ever ran, and then why. */
static void cancelled_cause(const lmr__render_ctx *c, const lmr__event *ev,
                            const lmr__task *t, bool a, bool named, char *dst,
                            size_t n)
{
    bool deadline = t && t->timed_out;
    if (ev->from == LMR__ST_RUNNING) {
        if (a)
            snprintf(dst, n, "%s", deadline ? "CancelledError (deadline)"
                                            : "CancelledError at the await");
        else
            snprintf(dst, n, "%s", deadline ? "cancelled: deadline" : "cancelled");
        return;
    }
    char ph[CAUSE_MAX];
    cancel_phrase(c, ev, named, ph, sizeof ph);
    join(dst, n, ph, a ? " before it ran" : "", "");
}

/* What caused a transition, in a few words: asyncio's under --states
 * asyncio, plain words otherwise; unknown trace tokens as written. */
static void cause_of(const lmr__render_ctx *c, const st_data *d,
                     const lmr__event *ev, bool named, char *dst, size_t n)
{
    bool a = lmr__speaks_asyncio(c->opts);
    const lmr__task *t = lmr__model_task(c->model, ev->loop, ev->task);
    switch (ev->to) {
    case LMR__ST_PENDING:
        pending_cause(c, d, ev, t, a, named, dst, n);
        break;
    case LMR__ST_RUNNING:
        snprintf(dst, n, "%s", a ? "loop runs it" : "run");
        break;
    case LMR__ST_AWAITING:
        await_cause(c, ev, a, named, dst, n);
        break;
    case LMR__ST_DONE:
        snprintf(dst, n, "%s", a ? "return value" : "return");
        break;
    case LMR__ST_FAILED: {
        /* lm_fail's message when the trace has it, else the error's name */
        const char *why = ev->message ? ev->message : ev->error;
        snprintf(dst, n, "%s%s%.40s", a ? "raises" : "error", why ? ": " : "",
                 why ? why : "");
        break;
    }
    case LMR__ST_CANCELLED:
        cancelled_cause(c, ev, t, a, named, dst, n);
        break;
    default:
        snprintf(dst, n, "?");
    }
}

static void st_free(st_data *d)
{
    if (!d)
        return;
    for (int f = 0; f < LMR__ST__COUNT; f++)
        for (int t = 0; t < LMR__ST__COUNT; t++) {
            free(d->e[f][t].named.cause);
            free(d->e[f][t].named.count);
            free(d->e[f][t].generic.cause);
            free(d->e[f][t].generic.count);
        }
    free(d->t_enter);
    free(d->state);
    free(d->awaiting);
    free(d);
}

static int st_begin(lmr__render_ctx *c)
{
    st_data *d = calloc(1, sizeof *d);
    if (!d)
        return LMR_ENOMEM;
    size_t cap = lmr__cap(c->opts->max_causes, DEF_CAUSES);
    d->ncap = (int)(cap > MAX_CAUSES ? MAX_CAUSES : cap);
    size_t nt = c->model->ntasks ? c->model->ntasks : 1;
    d->t_enter = calloc(nt, sizeof *d->t_enter);
    d->state = malloc(nt * sizeof *d->state);
    d->awaiting = calloc(nt, sizeof *d->awaiting);
    bool ok = d->t_enter && d->state && d->awaiting;
    for (int f = 0; f < LMR__ST__COUNT && ok; f++)
        for (int t = 0; t < LMR__ST__COUNT && ok; t++) {
            st_causes *e[2] = {&d->e[f][t].named, &d->e[f][t].generic};
            for (int k = 0; k < 2 && ok; k++) {
                e[k]->cause = calloc((size_t)d->ncap + 1, sizeof *e[k]->cause);
                e[k]->count = calloc((size_t)d->ncap + 1, sizeof *e[k]->count);
                ok = e[k]->cause && e[k]->count;
            }
        }
    if (!ok) {
        st_free(d);
        return LMR_ENOMEM;
    }
    memset(d->state, -1, nt * sizeof *d->state);
    d->windowed = c->opts->from > 0;
    c->state = d;
    return 0;
}

/* Before the window: only each task's state, when it began, what it awaits. */
int lmr__state_prior(lmr__render_ctx *c, const lmr__event *ev)
{
    st_data *d = c->state;
    const lmr__task *t = ev->kind == LMR__EV_SPAWN || ev->kind == LMR__EV_STATE
                             ? lmr__model_task(c->model, ev->loop, ev->task)
                             : NULL;
    if (!t)
        return 0;
    if (ev->kind == LMR__EV_SPAWN) {
        d->state[t->ord] = LMR__ST_CREATED;
        d->t_enter[t->ord] = ev->t;
    } else if (ev->to >= 0 && ev->to < LMR__ST__COUNT) {
        d->state[t->ord] = (int8_t)ev->to;
        d->t_enter[t->ord] = ev->t;
        d->awaiting[t->ord] = ev->to == LMR__ST_AWAITING ? ev->group : 0;
    }
    return 0;
}

/* At the first event inside the window: the tasks alive at its start enter
 * the diagram in the state they were in. */
static void open_window(lmr__render_ctx *c, st_data *d)
{
    d->opened = true;
    if (!d->windowed)
        return;
    for (size_t i = 0; i < c->model->ntasks; i++) {
        const lmr__task *t = &c->model->tasks[i];
        int s = d->state[t->ord];
        if (s < 0 || s >= LMR__ST_DONE || !t->selected)
            continue;
        d->entered[s]++;
        d->seen[s] = true;
        if (s == LMR__ST_AWAITING)
            d->awaiting_now++;
        if (d->t_enter[t->ord] < c->opts->from)
            d->t_enter[t->ord] = c->opts->from; /* durations are clipped */
    }
}

static int st_event(lmr__render_ctx *c, const lmr__event *ev)
{
    st_data *d = c->state;
    if (ev->t < c->opts->from)
        return 0; /* loop_start, always passed on, may come before --from */
    if (!d->opened)
        open_window(c, d);
    if (ev->kind == LMR__EV_SPAWN) {
        d->spawned++;
        d->seen[LMR__ST_CREATED] = true;
        const lmr__task *t = lmr__model_task(c->model, ev->loop, ev->task);
        if (t)
            d->t_enter[t->ord] = ev->t;
        return 0;
    }
    if (ev->kind != LMR__EV_STATE || ev->from < 0 || ev->to < 0 ||
        ev->from >= LMR__ST__COUNT || ev->to >= LMR__ST__COUNT)
        return 0;
    char cause[CAUSE_MAX];
    cause_of(c, d, ev, true, cause, sizeof cause);
    add_cause(d, &d->e[ev->from][ev->to].named, cause);
    cause_of(c, d, ev, false, cause, sizeof cause);
    add_cause(d, &d->e[ev->from][ev->to].generic, cause);
    d->seen[ev->from] = d->seen[ev->to] = true;
    if (ev->to >= LMR__ST_DONE)
        d->finished[ev->to]++;
    if (ev->to == LMR__ST_FAILED)
        d->failed++;
    const lmr__task *t = lmr__model_task(c->model, ev->loop, ev->task);
    if (!t)
        return 0;
    int64_t span = ev->t - d->t_enter[t->ord];
    if (ev->from == LMR__ST_RUNNING && span > d->longest_step) {
        d->longest_step = span;
        d->longest_step_task = t->id;
        d->longest_step_loop = t->loop;
    }
    if (ev->from == LMR__ST_AWAITING && span > d->longest_await) {
        d->longest_await = span;
        d->longest_await_task = t->id;
        d->longest_await_loop = t->loop;
    }
    if (ev->to == LMR__ST_RUNNING) {
        d->steps++;
        if (d->awaiting_now > 0)
            d->steps_meanwhile++; /* the loop ran it while others waited */
    }
    if (ev->to == LMR__ST_AWAITING) {
        d->awaits++;
        d->awaiting_now++;
    }
    if (ev->from == LMR__ST_AWAITING && d->awaiting_now > 0)
        d->awaiting_now--;
    d->t_enter[t->ord] = ev->t;
    d->state[t->ord] = (int8_t)ev->to;
    d->awaiting[t->ord] = ev->to == LMR__ST_AWAITING ? ev->group : 0;
    return 0;
}

/* Appends `line` (composed in scratch) when it fits; counts it otherwise. */
static bool put_line(lmr__out *o, const lmr_buf *line, uint64_t *dropped)
{
    if (lmr__fits(o, line->len)) {
        lmr__outn(o, line->data, line->len);
        return true;
    }
    (*dropped)++;
    return false;
}

static const char *task_name(const lmr__model *m, uint32_t loop, uint64_t id)
{
    const lmr__task *t = lmr__model_task(m, loop, id);
    return t && t->name ? t->name : "?";
}

/* Starts the note beside state s in l (composed in lb, put by put_line). */
static void note_open(lmr__out *l, lmr_buf *lb, int s)
{
    lmr__out_scratch(l, lb);
    lmr__printf(l, "    note right of s%d: ", s + 1);
}

/* "<br/>longest DUR in NAME": how a note on steps or awaits ends. */
static void longest_in(lmr__out *l, const lmr__model *m, int64_t ns,
                       uint32_t loop, uint64_t task)
{
    char dur[32], txt[64];
    lmr__fmt_dur(dur, sizeof dur, ns);
    snprintf(txt, sizeof txt, "longest %s in", dur);
    lmr__puts(l, "<br/>");
    lmr__esc_label(l, txt, 0);
    lmr__puts(l, " ");
    lmr__esc_label(l, task_name(m, loop, task), 32);
}

/* What st_end's steps share: every line is composed in lb through l and
 * put by put_line, which counts the lines that did not fit in dropped. */
typedef struct st_draw {
    lmr__render_ctx *c;
    st_data *d;
    lmr__out *o;
    lmr_buf lb;
    lmr__out l;
    uint64_t dropped;
} st_draw;

/* The first state drawn, where the notes about the whole diagram go. */
static int first_seen(const st_data *d)
{
    int first = 0;
    while (first < LMR__ST__COUNT - 1 && !d->seen[first])
        first++;
    return first;
}

/* ": N tasks" after an edge from or to [*], under --counts. */
static void count_label(st_draw *g, uint64_t n)
{
    if (!g->c->opts->counts)
        return;
    char txt[64];
    snprintf(txt, sizeof txt, "%" PRIu64 " tasks", n);
    lmr__puts(&g->l, ": ");
    lmr__esc_label(&g->l, txt, 0);
}

/* One state line per state seen; false when there is none. */
static bool state_lines(st_draw *g)
{
    bool any = false;
    for (int s = 0; s < LMR__ST__COUNT; s++) {
        if (!g->d->seen[s])
            continue;
        any = true;
        lmr__out_scratch(&g->l, &g->lb);
        lmr__puts(&g->l, "    state \"");
        lmr__esc_label(&g->l, lmr__state_label(g->c->opts, s), STATE_CP);
        lmr__puts(&g->l, "\" as ");
        lmr__id(&g->l, "s", (uint64_t)s + 1);
        lmr__puts(&g->l, "\n");
        put_line(g->o, &g->lb, &g->dropped);
    }
    return any;
}

/* The edges from [*]: tasks spawned, and tasks alive when the window opens,
 * which enter where they were. */
static void entry_edges(st_draw *g)
{
    st_data *d = g->d;
    if (d->spawned) {
        lmr__out_scratch(&g->l, &g->lb);
        lmr__printf(&g->l, "    [*] --> s%d", LMR__ST_CREATED + 1);
        count_label(g, d->spawned);
        lmr__puts(&g->l, "\n");
        put_line(g->o, &g->lb, &g->dropped);
    }
    for (int s = 0; s < LMR__ST_DONE; s++) {
        if (!d->entered[s])
            continue;
        char txt[96], at[32];
        lmr__fmt_dur(at, sizeof at, g->c->opts->from);
        snprintf(txt, sizeof txt, "%" PRIu64 " task%s here at %s",
                 d->entered[s], d->entered[s] == 1 ? "" : "s", at);
        lmr__out_scratch(&g->l, &g->lb);
        lmr__printf(&g->l, "    [*] --> s%d: ", s + 1);
        lmr__esc_label(&g->l, txt, 0);
        lmr__puts(&g->l, "\n");
        put_line(g->o, &g->lb, &g->dropped);
    }
}

/* The edge from state f to state t, when anything caused it: one edge,
 * its causes one per line, as parallel edges each with a label would
 * spread the diagram across the page. */
static void cause_edge(st_draw *g, int f, int t)
{
    st_data *d = g->d;
    st_causes *e = &d->e[f][t].named;
    if (e->count[d->ncap])
        e = &d->e[f][t].generic; /* too many to name: say what */
    bool first = true;
    lmr__out_scratch(&g->l, &g->lb);
    for (int i = 0; i <= d->ncap; i++) {
        if (e->count[i] == 0)
            continue;
        char txt[CAUSE_MAX + 32];
        const char *cause = i < d->ncap ? e->cause[i] : "other causes";
        if (g->c->opts->counts || i == d->ncap)
            snprintf(txt, sizeof txt, "%s (%" PRIu64 ")", cause, e->count[i]);
        else
            snprintf(txt, sizeof txt, "%s", cause);
        if (first)
            lmr__printf(&g->l, "    s%d --> s%d: ", f + 1, t + 1);
        else
            lmr__puts(&g->l, "<br/>");
        first = false;
        lmr__esc_label(&g->l, txt, CAUSE_CP);
    }
    if (first)
        return;
    lmr__puts(&g->l, "\n");
    put_line(g->o, &g->lb, &g->dropped);
}

/* The edges to [*]: tasks that finished in each terminal state. */
static void exit_edges(st_draw *g)
{
    for (int s = LMR__ST_DONE; s < LMR__ST__COUNT; s++) {
        if (!g->d->finished[s])
            continue;
        lmr__out_scratch(&g->l, &g->lb);
        lmr__printf(&g->l, "    s%d --> [*]", s + 1);
        count_label(g, g->d->finished[s]);
        lmr__puts(&g->l, "\n");
        put_line(g->o, &g->lb, &g->dropped);
    }
}

/* The notes with what was measured, as the seeds explain each state: the
 * steps beside running, the awaits beside awaiting. */
static void measure_notes(st_draw *g)
{
    st_data *d = g->d;
    const lmr__model *m = g->c->model;
    char txt[96];
    if (d->steps && d->seen[LMR__ST_RUNNING]) {
        note_open(&g->l, &g->lb, LMR__ST_RUNNING);
        /* One at a time is checked, not assumed: lmr__model_build rejects a
         * trace where two tasks of one loop run at once. */
        snprintf(txt, sizeof txt, "%" PRIu64 " steps, one at a time%s", d->steps,
                 m->nloops > 1 ? " per loop" : "");
        lmr__esc_label(&g->l, txt, 0);
        if (d->longest_step > 0)
            longest_in(&g->l, m, d->longest_step, d->longest_step_loop,
                       d->longest_step_task);
        lmr__puts(&g->l, "\n");
        put_line(g->o, &g->lb, &g->dropped);
    }
    if (d->awaits && d->seen[LMR__ST_AWAITING] && d->longest_await > 0) {
        note_open(&g->l, &g->lb, LMR__ST_AWAITING);
        snprintf(txt, sizeof txt, "%" PRIu64 " awaits", d->awaits);
        lmr__esc_label(&g->l, txt, 0);
        if (d->steps_meanwhile) {
            snprintf(txt, sizeof txt, "%" PRIu64 " steps of other tasks",
                     d->steps_meanwhile);
            lmr__puts(&g->l, "<br/>");
            lmr__esc_label(&g->l, "meanwhile the loop ran", 0);
            lmr__puts(&g->l, "<br/>");
            lmr__esc_label(&g->l, txt, 0);
        }
        longest_in(&g->l, m, d->longest_await, d->longest_await_loop,
                   d->longest_await_task);
        lmr__puts(&g->l, "\n");
        put_line(g->o, &g->lb, &g->dropped);
    }
}

/* Under --from/--to the diagram says which part of the run it shows and,
 * where the window leaves off, how many tasks had not finished. */
static void window_note(st_draw *g)
{
    const lmr_options *op = g->c->opts;
    const lmr__model *m = g->c->model;
    if (!(op->from > 0 || op->to >= 0))
        return;
    char txt[128], a[32], b[32];
    lmr__fmt_dur(a, sizeof a, op->from);
    lmr__fmt_dur(b, sizeof b, op->to >= 0 ? op->to : m->t_last);
    snprintf(txt, sizeof txt, "window %s to %s of the run", a, b);
    lmr__out_scratch(&g->l, &g->lb);
    lmr__printf(&g->l, "    note left of s%d: ", first_seen(g->d) + 1);
    lmr__esc_label(&g->l, txt, 0);
    if (op->to >= 0) {
        uint64_t open = 0;
        for (size_t i = 0; i < m->ntasks; i++) {
            const lmr__task *t = &m->tasks[i];
            int st = g->d->state[t->ord];
            open += t->selected && st >= 0 && st < LMR__ST_DONE;
        }
        snprintf(txt, sizeof txt, "%" PRIu64 " task%s not finished at %s",
                 open, open == 1 ? "" : "s", b);
        lmr__puts(&g->l, "<br/>");
        lmr__esc_label(&g->l, txt, 0);
    }
    lmr__puts(&g->l, "\n");
    put_line(g->o, &g->lb, &g->dropped);
}

/* The closing note: how many lines did not fit. It is written straight to
 * the output, into the room kept back for it. */
static void dropped_note(st_draw *g)
{
    if (!g->dropped)
        return;
    char txt[96];
    snprintf(txt, sizeof txt, "%" PRIu64 " lines not shown (--max-chars)",
             g->dropped);
    g->o->reserve = 0;
    lmr__printf(g->o, "    note left of s%d: ", first_seen(g->d) + 1);
    lmr__esc_label(g->o, txt, 0);
    lmr__puts(g->o, "\n");
}

/* Everything is drawn at the end, once every transition is counted: the
 * states, the edges from [*], between states and to [*], then the notes. */
static int st_end(lmr__render_ctx *c)
{
    st_draw g = {.c = c, .d = c->state, .o = c->out};
    if (!g.d->opened)
        open_window(c, g.d);
    /* The closing note about omissions needs about 120 characters. */
    g.o->reserve = 160;

    lmr__begin_diagram(g.o, c->opts->title, NULL, "stateDiagram-v2");
    if (state_lines(&g)) {
        entry_edges(&g);
        for (int f = 0; f < LMR__ST__COUNT; f++)
            for (int t = 0; t < LMR__ST__COUNT; t++)
                cause_edge(&g, f, t);
        exit_edges(&g);
        measure_notes(&g);
        window_note(&g);
        dropped_note(&g);
    } else {
        lmr__puts(g.o, "    state \"");
        lmr__esc_label(g.o, "no task transitions in the selection", 0);
        lmr__puts(g.o, "\" as s1\n");
    }
    lmr_buf_free(&g.lb);
    st_free(g.d);
    c->state = NULL;
    return g.o->err;
}

const lmr__renderer lmr__view_state = {"state", st_begin, st_event, st_end};

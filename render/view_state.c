/*
 * view_state.c: `--view state`, a stateDiagram-v2 of the transitions the
 * selected tasks went through, each edge labelled with what caused it
 * (spawn, await sleep, timer, io, cancel...) and, with --counts, how often.
 *
 * Memory: a fixed table of edges (at most MAX_CAUSES causes per state pair,
 * the rest folded into "other") plus one timestamp per task for the notes,
 * so it grows with tasks, not events. Output is at most a few kilobytes; it
 * still checks the budget line by line and says what did not fit.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CAUSES 4   /* distinct causes kept per (from, to) pair */
#define CAUSE_MAX 32   /* bytes of a cause, before escaping */
#define STATE_CP 40    /* cut state names here */
#define CAUSE_CP 28    /* cut edge labels here */

typedef struct st_edge {
    char cause[MAX_CAUSES + 1][CAUSE_MAX]; /* [MAX_CAUSES] is "other" */
    uint64_t count[MAX_CAUSES + 1];
    int ncauses;
} st_edge;

typedef struct st_data {
    st_edge e[LMR__ST__COUNT][LMR__ST__COUNT];
    bool seen[LMR__ST__COUNT];
    uint64_t spawned;              /* [*] --> created */
    uint64_t finished[LMR__ST__COUNT]; /* terminal state --> [*] */
    int64_t *t_enter;              /* per task (by ord): when its state began */
    uint64_t steps, awaits, timeouts, failed;
    int64_t longest_step, longest_await;
    uint64_t longest_step_task, longest_await_task;
    uint32_t longest_step_loop, longest_await_loop;
} st_data;

static void add_cause(st_edge *e, const char *cause)
{
    for (int i = 0; i < e->ncauses; i++)
        if (strcmp(e->cause[i], cause) == 0) {
            e->count[i]++;
            return;
        }
    if (e->ncauses < MAX_CAUSES) {
        snprintf(e->cause[e->ncauses], CAUSE_MAX, "%s", cause);
        e->count[e->ncauses++] = 1;
        return;
    }
    snprintf(e->cause[MAX_CAUSES], CAUSE_MAX, "other");
    e->count[MAX_CAUSES]++;
}

/* What caused a transition, in a few words (trace tokens are kept as
 * written: they may be tokens this version does not know). */
static void cause_of(const lmr__event *ev, char *dst, size_t n)
{
    switch (ev->to) {
    case LMR__ST_PENDING:
        snprintf(dst, n, "%s", ev->by ? ev->by : "woken");
        break;
    case LMR__ST_RUNNING:
        snprintf(dst, n, "run");
        break;
    case LMR__ST_AWAITING:
        snprintf(dst, n, "await%s%s", ev->on ? " " : "", ev->on ? ev->on : "");
        break;
    case LMR__ST_DONE:
        snprintf(dst, n, "return");
        break;
    case LMR__ST_FAILED:
        snprintf(dst, n, "error");
        break;
    case LMR__ST_CANCELLED:
        snprintf(dst, n, "%s", ev->by ? ev->by : "cancel");
        break;
    default:
        snprintf(dst, n, "?");
    }
}

static int st_begin(lmr__render_ctx *c)
{
    st_data *d = calloc(1, sizeof *d);
    if (!d)
        return LMR_ENOMEM;
    size_t nt = c->model->ntasks ? c->model->ntasks : 1;
    d->t_enter = calloc(nt, sizeof *d->t_enter);
    if (!d->t_enter) {
        free(d);
        return LMR_ENOMEM;
    }
    c->state = d;
    return 0;
}

static int st_event(lmr__render_ctx *c, const lmr__event *ev)
{
    st_data *d = c->state;
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
    cause_of(ev, cause, sizeof cause);
    add_cause(&d->e[ev->from][ev->to], cause);
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
    if (ev->to == LMR__ST_RUNNING)
        d->steps++;
    if (ev->to == LMR__ST_AWAITING)
        d->awaits++;
    d->t_enter[t->ord] = ev->t;
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

static int st_end(lmr__render_ctx *c)
{
    st_data *d = c->state;
    lmr__out *o = c->out;
    lmr_buf lb = {0};
    lmr__out l;
    uint64_t dropped = 0;
    /* The closing note about omissions needs about 120 characters. */
    o->reserve = 160;

    lmr__begin_diagram(o, c->opts->title, NULL, "stateDiagram-v2");
    bool any = false;
    for (int s = 0; s < LMR__ST__COUNT; s++) {
        if (!d->seen[s])
            continue;
        any = true;
        lmr__out_scratch(&l, &lb);
        lmr__puts(&l, "    state \"");
        lmr__esc_label(&l, lmr__state_label(c->opts, s), STATE_CP);
        lmr__puts(&l, "\" as ");
        lmr__id(&l, "s", (uint64_t)s + 1);
        lmr__puts(&l, "\n");
        put_line(o, &lb, &dropped);
    }
    if (!any) {
        lmr__puts(o, "    state \"");
        lmr__esc_label(o, "no task transitions in the selection", 0);
        lmr__puts(o, "\" as s1\n");
        goto out;
    }
    if (d->spawned) {
        lmr__out_scratch(&l, &lb);
        lmr__printf(&l, "    [*] --> s%d", LMR__ST_CREATED + 1);
        if (c->opts->counts) {
            char txt[64];
            snprintf(txt, sizeof txt, "%" PRIu64 " tasks", d->spawned);
            lmr__puts(&l, ": ");
            lmr__esc_label(&l, txt, 0);
        }
        lmr__puts(&l, "\n");
        put_line(o, &lb, &dropped);
    }
    for (int f = 0; f < LMR__ST__COUNT; f++)
        for (int t = 0; t < LMR__ST__COUNT; t++) {
            st_edge *e = &d->e[f][t];
            for (int i = 0; i <= MAX_CAUSES; i++) {
                if (e->count[i] == 0)
                    continue;
                char txt[CAUSE_MAX + 32];
                if (c->opts->counts)
                    snprintf(txt, sizeof txt, "%s (%" PRIu64 ")", e->cause[i],
                             e->count[i]);
                else
                    snprintf(txt, sizeof txt, "%s", e->cause[i]);
                lmr__out_scratch(&l, &lb);
                lmr__printf(&l, "    s%d --> s%d: ", f + 1, t + 1);
                lmr__esc_label(&l, txt, CAUSE_CP);
                lmr__puts(&l, "\n");
                put_line(o, &lb, &dropped);
            }
        }
    for (int s = LMR__ST_DONE; s < LMR__ST__COUNT; s++) {
        if (!d->finished[s])
            continue;
        lmr__out_scratch(&l, &lb);
        lmr__printf(&l, "    s%d --> [*]", s + 1);
        if (c->opts->counts) {
            char txt[64];
            snprintf(txt, sizeof txt, "%" PRIu64 " tasks", d->finished[s]);
            lmr__puts(&l, ": ");
            lmr__esc_label(&l, txt, 0);
        }
        lmr__puts(&l, "\n");
        put_line(o, &lb, &dropped);
    }
    /* Notes with what was measured, as the seeds explain each state. */
    if (d->steps && d->seen[LMR__ST_RUNNING]) {
        char dur[32], txt[64];
        lmr__fmt_dur(dur, sizeof dur, d->longest_step);
        lmr__out_scratch(&l, &lb);
        lmr__printf(&l, "    note right of s%d: ", LMR__ST_RUNNING + 1);
        snprintf(txt, sizeof txt, "%" PRIu64 " steps", d->steps);
        lmr__esc_label(&l, txt, 0);
        if (d->longest_step > 0) {
            lmr__puts(&l, "<br/>");
            snprintf(txt, sizeof txt, "longest %s in", dur);
            lmr__esc_label(&l, txt, 0);
            lmr__puts(&l, " ");
            lmr__esc_label(&l, task_name(c->model, d->longest_step_loop,
                                         d->longest_step_task), 32);
        }
        lmr__puts(&l, "\n");
        put_line(o, &lb, &dropped);
    }
    if (d->awaits && d->seen[LMR__ST_AWAITING] && d->longest_await > 0) {
        char dur[32], txt[64];
        lmr__fmt_dur(dur, sizeof dur, d->longest_await);
        lmr__out_scratch(&l, &lb);
        lmr__printf(&l, "    note right of s%d: ", LMR__ST_AWAITING + 1);
        snprintf(txt, sizeof txt, "%" PRIu64 " awaits", d->awaits);
        lmr__esc_label(&l, txt, 0);
        lmr__puts(&l, "<br/>");
        snprintf(txt, sizeof txt, "longest %s in", dur);
        lmr__esc_label(&l, txt, 0);
        lmr__puts(&l, " ");
        lmr__esc_label(&l, task_name(c->model, d->longest_await_loop,
                                     d->longest_await_task), 32);
        lmr__puts(&l, "\n");
        put_line(o, &lb, &dropped);
    }
    if (dropped) {
        char txt[96];
        snprintf(txt, sizeof txt, "%" PRIu64 " lines not shown (--max-chars)",
                 dropped);
        int first = 0;
        while (first < LMR__ST__COUNT - 1 && !d->seen[first])
            first++;
        o->reserve = 0;
        lmr__printf(o, "    note left of s%d: ", first + 1);
        lmr__esc_label(o, txt, 0);
        lmr__puts(o, "\n");
    }
out:
    lmr_buf_free(&lb);
    free(d->t_enter);
    free(d);
    c->state = NULL;
    return o->err;
}

const lmr__renderer lmr__view_state = {"state", st_begin, st_event, st_end};

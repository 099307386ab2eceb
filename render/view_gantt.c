/*
 * view_gantt.c: `--view gantt`, one section per task with its running,
 * ready and awaiting stretches on a time axis (seed 002's "Concurrent vs
 * Parallel": the total time is about that of the slowest task), and a first
 * section with the whole trace's span.
 *
 * Time: the trace's nanoseconds are shown in one unit (ns, us, ms or s)
 * chosen so that the span is at most 100,000 units; one unit is written as
 * one millisecond of `dateFormat x` and `axisFormat %Q` prints the raw
 * number, so the axis reads "units since the loop started" (the section
 * title names the unit). Stretches shorter than 1/200 of the span are merged
 * into their neighbours, a row keeps at most BAR_CAP bars (merging pairs
 * when it would exceed that), at most ROW_CAP tasks get a row, and what was
 * cut is said in a last section. Memory: ROW_CAP * BAR_CAP bars plus one int
 * per task. Compact display mode (set in front matter, never from trace
 * text) puts a task's bars on one line.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ROW_CAP 30
#define BAR_CAP 24
#define NAME_CP 32
#define ON_MAX 16
#define CLOSE_RESERVE 400

enum { K_RUN, K_READY, K_AWAIT };

typedef struct gt_bar {
    int kind;
    char on[ON_MAX]; /* what it awaited (trace token, escaped on output) */
    int64_t a, b;
} gt_bar;

typedef struct gt_row {
    size_t task;        /* index in model->tasks */
    gt_bar bars[BAR_CAP];
    size_t nbars;
    int64_t q;          /* merge resolution of this row, ns */
    int64_t t_enter;    /* when the current state began */
    int state;          /* current state, -1 unknown */
    char on[ON_MAX];
    uint64_t merged;    /* stretches merged into others */
} gt_row;

typedef struct gt_data {
    int32_t *row_of;    /* per task index: row or -1 */
    gt_row *rows;
    size_t nrows, eligible;
    int64_t t0, t1;
    lmr_buf scratch;
} gt_data;

static bool in_window(const lmr_options *o, const lmr__task *t)
{
    if (!t->selected)
        return false;
    if (o->to >= 0 && t->t_spawn > o->to)
        return false;
    if (t->t_end >= 0 && t->t_end < o->from)
        return false;
    return true;
}

static int gt_begin(lmr__render_ctx *c)
{
    const lmr__model *m = c->model;
    gt_data *d = calloc(1, sizeof *d);
    if (!d)
        return LMR_ENOMEM;
    d->row_of = malloc((m->ntasks ? m->ntasks : 1) * sizeof *d->row_of);
    d->rows = calloc(ROW_CAP, sizeof *d->rows);
    if (!d->row_of || !d->rows) {
        free(d->row_of);
        free(d->rows);
        free(d);
        return LMR_ENOMEM;
    }
    d->t0 = m->t_first > c->opts->from ? m->t_first : c->opts->from;
    d->t1 = (c->opts->to >= 0 && c->opts->to < m->t_last) ? c->opts->to : m->t_last;
    if (d->t1 < d->t0)
        d->t1 = d->t0;
    int64_t q = (d->t1 - d->t0) / 200;
    /* Rows go to the first tasks in spawn order (ord), not in id order. */
    for (size_t i = 0; i < m->ntasks; i++)
        d->row_of[i] = -1;
    size_t n = m->ntasks;
    /* ord is a permutation of 0..n-1: invert it once, O(n). */
    size_t *by_ord = malloc((n ? n : 1) * sizeof *by_ord);
    if (!by_ord) {
        free(d->row_of);
        free(d->rows);
        free(d);
        return LMR_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        by_ord[i] = SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        if (m->tasks[i].ord < n)
            by_ord[m->tasks[i].ord] = i;
    for (size_t k = 0; k < n && d->nrows < ROW_CAP; k++) {
        size_t i = by_ord[k];
        if (i == SIZE_MAX || !in_window(c->opts, &m->tasks[i]))
            continue;
        d->row_of[i] = (int32_t)d->nrows;
        gt_row *r = &d->rows[d->nrows++];
        r->task = i;
        r->q = q > 0 ? q : 1;
        r->state = -1;
    }
    free(by_ord);
    for (size_t i = 0; i < n; i++)
        d->eligible += in_window(c->opts, &m->tasks[i]);
    c->state = d;
    return 0;
}

static void add_bar(gt_row *r, int kind, const char *on, int64_t a, int64_t b)
{
    if (b <= a)
        return;
    gt_bar *last = r->nbars ? &r->bars[r->nbars - 1] : NULL;
    bool same = last && last->kind == kind && strcmp(last->on, on) == 0 &&
                a - last->b <= r->q;
    if (same || (last && b - a < r->q && a - last->b <= r->q)) {
        if (!same)
            r->merged++;
        last->b = b;
        return;
    }
    if (r->nbars == BAR_CAP) {
        /* Halve: merge neighbours, keeping the kind of the longer one. */
        size_t k = 0;
        for (size_t i = 0; i < r->nbars; i += 2) {
            gt_bar x = r->bars[i];
            if (i + 1 < r->nbars) {
                gt_bar y = r->bars[i + 1];
                if (y.b - y.a > x.b - x.a) {
                    x.kind = y.kind;
                    memcpy(x.on, y.on, sizeof x.on);
                }
                x.b = y.b;
                r->merged++;
            }
            r->bars[k++] = x;
        }
        r->nbars = k;
        r->q *= 2;
    }
    gt_bar *nb = &r->bars[r->nbars++];
    nb->kind = kind;
    snprintf(nb->on, sizeof nb->on, "%s", on);
    nb->a = a;
    nb->b = b;
}

static void close_stretch(gt_data *d, gt_row *r, int64_t t)
{
    if (r->state < LMR__ST_PENDING || r->state > LMR__ST_AWAITING)
        return;
    int64_t a = r->t_enter < d->t0 ? d->t0 : r->t_enter;
    int64_t b = t > d->t1 ? d->t1 : t;
    int kind = r->state == LMR__ST_RUNNING ? K_RUN
             : r->state == LMR__ST_PENDING ? K_READY : K_AWAIT;
    add_bar(r, kind, kind == K_AWAIT ? r->on : "", a, b);
}

static int gt_event(lmr__render_ctx *c, const lmr__event *ev)
{
    gt_data *d = c->state;
    if (ev->kind != LMR__EV_STATE)
        return 0;
    const lmr__task *t = lmr__model_task(c->model, ev->loop, ev->task);
    if (!t)
        return 0;
    int32_t ri = d->row_of[t - c->model->tasks];
    if (ri < 0)
        return 0;
    gt_row *r = &d->rows[ri];
    if (r->state < 0)
        r->state = ev->from;
    close_stretch(d, r, ev->t);
    r->state = ev->to;
    r->t_enter = ev->t;
    snprintf(r->on, sizeof r->on, "%s", ev->to == LMR__ST_AWAITING && ev->on
                                            ? ev->on : "");
    return 0;
}

static void bar_line(lmr__out *l, const char *text, const char *tag,
                     uint64_t id, int64_t a, int64_t b)
{
    lmr__puts(l, "    ");
    lmr__esc_gantt(l, text, 40);
    lmr__printf(l, " :%s%s", tag, *tag ? ", " : "");
    lmr__id(l, "t", id);
    lmr__printf(l, ", %" PRId64 ", %" PRId64 "\n", a, b);
}

static int gt_end(lmr__render_ctx *c)
{
    gt_data *d = c->state;
    const lmr__model *m = c->model;
    lmr__out *o = c->out;
    lmr__out l;
    static const struct { const char *name; int64_t ns; } units[] = {
        {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000}};
    size_t ui = 0;
    int64_t span = d->t1 - d->t0;
    while (ui + 1 < sizeof units / sizeof units[0] && span / units[ui].ns > 100000)
        ui++;
    int64_t u = units[ui].ns;
    for (size_t i = 0; i < d->nrows; i++) {
        gt_row *r = &d->rows[i];
        if (r->state >= LMR__ST_PENDING && r->state <= LMR__ST_AWAITING)
            close_stretch(d, r, d->t1);
    }
    o->reserve = CLOSE_RESERVE;
    lmr__begin_diagram(o, c->opts->title,
                       "config:\n  gantt:\n    displayMode: compact\n", "gantt");
    lmr__puts(o, "    dateFormat x\n    axisFormat %Q\n");
    uint64_t id = 0;
    char txt[160], dur[32];
    lmr__fmt_dur(dur, sizeof dur, span);
    /* The slowest task: the longest lifetime among the rows. */
    int64_t slow = -1;
    const lmr__task *slow_t = NULL;
    for (size_t i = 0; i < d->nrows; i++) {
        const lmr__task *t = &m->tasks[d->rows[i].task];
        int64_t life = (t->t_end >= 0 ? t->t_end : d->t1) - t->t_spawn;
        if (life > slow) {
            slow = life;
            slow_t = t;
        }
    }
    snprintf(txt, sizeof txt, "Time in %s since loop start", units[ui].name);
    lmr__puts(o, "    section ");
    lmr__esc_gantt(o, txt, 0);
    lmr__puts(o, "\n");
    snprintf(txt, sizeof txt, "total %s", dur);
    bar_line(o, txt, "crit", ++id, 0, span / u > 0 ? span / u : 1);
    if (slow_t) {
        char sd[32];
        lmr__fmt_dur(sd, sizeof sd, slow);
        snprintf(txt, sizeof txt, "slowest task %s", sd);
        int64_t a = (slow_t->t_spawn - d->t0) / u;
        if (a < 0)
            a = 0;
        int64_t b = a + slow / u;
        bar_line(o, txt, "done", ++id, a, b > a ? b : a + 1);
    }
    size_t rows_shown = 0;
    uint64_t merged = 0;
    for (size_t i = 0; i < d->nrows; i++) {
        gt_row *r = &d->rows[i];
        const lmr__task *t = &m->tasks[r->task];
        lmr__out_scratch(&l, &d->scratch);
        lmr__puts(&l, "    section ");
        lmr__esc_gantt(&l, t->name ? t->name : "", NAME_CP);
        lmr__puts(&l, "\n");
        uint64_t id0 = id;
        if (r->nbars == 0) {
            /* Never changed state inside the window: say so on one bar. */
            snprintf(txt, sizeof txt, "%s", lmr__state_label(c->opts, t->state));
            bar_line(&l, txt, "done", ++id, 0, 1);
        }
        for (size_t k = 0; k < r->nbars; k++) {
            const gt_bar *b = &r->bars[k];
            int64_t a = (b->a - d->t0) / u, e = (b->b - d->t0) / u;
            if (e <= a)
                e = a + 1;
            if (b->kind == K_RUN)
                bar_line(&l, lmr__state_label(c->opts, LMR__ST_RUNNING),
                         "active", ++id, a, e);
            else if (b->kind == K_READY)
                bar_line(&l, lmr__state_label(c->opts, LMR__ST_PENDING), "done",
                         ++id, a, e);
            else {
                snprintf(txt, sizeof txt, "%s%s%s",
                         lmr__state_label(c->opts, LMR__ST_AWAITING),
                         *b->on ? " " : "", b->on);
                bar_line(&l, txt, "", ++id, a, e);
            }
        }
        if (!lmr__fits(o, d->scratch.len)) {
            id = id0;
            break;
        }
        lmr__outn(o, d->scratch.data, d->scratch.len);
        rows_shown++;
        merged += r->merged;
    }
    o->reserve = 0;
    if (rows_shown < d->eligible || merged) {
        lmr__puts(o, "    section ");
        lmr__esc_gantt(o, "Not shown", 0);
        lmr__puts(o, "\n");
        if (rows_shown < d->eligible) {
            snprintf(txt, sizeof txt, "\xE2\x80\xA6 %zu more tasks not shown",
                     d->eligible - rows_shown);
            bar_line(o, txt, "done", ++id, 0, span / u > 0 ? span / u : 1);
        }
        if (merged) {
            snprintf(txt, sizeof txt, "%" PRIu64 " short stretches merged", merged);
            bar_line(o, txt, "done", ++id, 0, span / u > 0 ? span / u : 1);
        }
    }
    lmr_buf_free(&d->scratch);
    free(d->row_of);
    free(d->rows);
    free(d);
    c->state = NULL;
    return o->err;
}

const lmr__renderer lmr__view_gantt = {"gantt", gt_begin, gt_event, gt_end};

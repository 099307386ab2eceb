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
 * title names the unit). The span is cut into BINS slices; each row adds up
 * how long the task spent running, ready or awaiting (by what) in each
 * slice, each slice shows its dominant state, and neighbouring slices with
 * the same state make one bar. So a busy task's thousands of stretches cost
 * at most BINS bars, and what is shorter than a slice is said to be folded.
 * At most ROW_CAP tasks get a row (and fewer when the budget is tight); what
 * was cut is said in a last section. Memory: ROW_CAP * BINS * NKINDS
 * counters plus one int per task. Compact display mode (set in front
 * matter, never from trace text) puts a task's bars on one line.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ROW_CAP 30
#define BINS 100
#define NAME_CP 32
#define CLOSE_RESERVE 400

/* Kinds of time in a slice: running, ready, then awaiting by what. */
static const char *const await_on[] = {
    "sleep", "io", "task", "gather", "wait", "taskgroup", "wait_for",
    "future", "event", "queue", "lock", "semaphore", "thread"};
#define N_ON (sizeof await_on / sizeof await_on[0])
enum { K_RUN, K_READY, K_AWAIT0 };
#define K_OTHER (K_AWAIT0 + N_ON) /* awaiting something else */
#define NKINDS (K_OTHER + 1)

typedef struct gt_row {
    size_t task;        /* index in model->tasks */
    int64_t bins[BINS][NKINDS]; /* ns of each kind in each slice */
    int64_t t_enter;    /* when the current state began */
    int state;          /* current state, -1 unknown */
    int kind;           /* the current state's kind when awaiting */
    uint64_t stretches; /* stretches recorded */
} gt_row;

typedef struct gt_data {
    int32_t *row_of;    /* per task index: row or -1 */
    gt_row *rows;
    size_t nrows, eligible;
    int64_t t0, t1, q;
    lmr_buf scratch;
} gt_data;

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
    d->q = (d->t1 - d->t0 + BINS - 1) / BINS;
    if (d->q < 1)
        d->q = 1;
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
        if (i == SIZE_MAX || !lmr__task_in_window(c->opts, &m->tasks[i]))
            continue;
        d->row_of[i] = (int32_t)d->nrows;
        gt_row *r = &d->rows[d->nrows++];
        r->task = i;
        r->state = -1;
    }
    free(by_ord);
    for (size_t i = 0; i < n; i++)
        d->eligible += lmr__task_in_window(c->opts, &m->tasks[i]);
    c->state = d;
    return 0;
}

/* Adds [a, b) of one kind to the row's slices. O(slices covered). */
static void add_time(gt_data *d, gt_row *r, int kind, int64_t a, int64_t b)
{
    if (a < d->t0)
        a = d->t0;
    if (b > d->t1)
        b = d->t1;
    if (b <= a)
        return;
    r->stretches++;
    while (a < b) {
        int64_t bin = (a - d->t0) / d->q;
        if (bin >= BINS)
            bin = BINS - 1;
        int64_t edge = d->t0 + (bin + 1) * d->q;
        int64_t e = (bin == BINS - 1 || edge > b) ? b : edge;
        r->bins[bin][kind] += e - a;
        a = e;
    }
}

static int kind_of_on(const char *on)
{
    for (size_t i = 0; on && i < N_ON; i++)
        if (strcmp(on, await_on[i]) == 0)
            return K_AWAIT0 + (int)i;
    return K_OTHER;
}

static void close_stretch(gt_data *d, gt_row *r, int64_t t)
{
    if (r->state < LMR__ST_PENDING || r->state > LMR__ST_AWAITING)
        return;
    int kind = r->state == LMR__ST_RUNNING ? K_RUN
             : r->state == LMR__ST_PENDING ? K_READY : r->kind;
    add_time(d, r, kind, r->t_enter, t);
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
    r->kind = ev->to == LMR__ST_AWAITING ? kind_of_on(ev->on) : K_RUN;
    return 0;
}

/* The dominant kind of a slice; -1 when the task did not exist then.
 * Ties go to the lower kind, so the result is deterministic. */
static int dominant(const gt_row *r, int bin)
{
    int best = -1;
    int64_t most = 0;
    for (int k = 0; k < (int)NKINDS; k++)
        if (r->bins[bin][k] > most) {
            most = r->bins[bin][k];
            best = k;
        }
    return best;
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
        size_t nbars = 0;
        for (int bin = 0; bin < BINS;) {
            int k = dominant(r, bin);
            int end = bin + 1;
            while (end < BINS && dominant(r, end) == k)
                end++;
            if (k >= 0) {
                int64_t a = (int64_t)bin * d->q / u;
                int64_t e = end == BINS ? span / u : (int64_t)end * d->q / u;
                if (e <= a)
                    e = a + 1;
                nbars++;
                if (k == K_RUN)
                    bar_line(&l, lmr__state_label(c->opts, LMR__ST_RUNNING),
                             "active", ++id, a, e);
                else if (k == K_READY)
                    bar_line(&l, lmr__state_label(c->opts, LMR__ST_PENDING),
                             "done", ++id, a, e);
                else {
                    snprintf(txt, sizeof txt, "%s%s%s",
                             lmr__state_label(c->opts, LMR__ST_AWAITING),
                             k == K_OTHER ? "" : " ",
                             k == K_OTHER ? "" : await_on[k - K_AWAIT0]);
                    bar_line(&l, txt, "", ++id, a, e);
                }
            }
            bin = end;
        }
        if (nbars == 0) {
            /* No measurable time in the window: say what state it was in,
             * as a sliver where the task lived (not at 0: work offloaded
             * under the virtual clock takes no time but happens late). */
            snprintf(txt, sizeof txt, "%s", lmr__state_label(c->opts, t->state));
            int64_t a = t->t_spawn > d->t0 ? (t->t_spawn - d->t0) / u : 0;
            if (a >= span / u && span / u > 0)
                a = span / u - 1;
            bar_line(&l, txt, "done", ++id, a, a + 1);
        }
        if (!lmr__fits(o, d->scratch.len)) {
            id = id0;
            break;
        }
        lmr__outn(o, d->scratch.data, d->scratch.len);
        rows_shown++;
        if (r->stretches > nbars)
            merged += r->stretches - nbars;
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
            char qd[32];
            lmr__fmt_dur(qd, sizeof qd, d->q);
            snprintf(txt, sizeof txt,
                     "%" PRIu64 " stretches folded into %s slices", merged, qd);
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

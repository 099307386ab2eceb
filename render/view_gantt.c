/*
 * view_gantt.c: `--view gantt`, one row per task with its running, ready
 * and awaiting stretches on a time axis (seed 002's "Concurrent vs
 * Parallel": the total is about the slowest task), how each task ENDED at
 * the time it ended (a failure at t is a red diamond at t, a cancellation
 * names its cause), and a first section with the window's total and the
 * slowest task.
 *
 * Time: one unit (ns, us, ms or s) is chosen so that the window is at most
 * 100,000 units; a unit is written as one millisecond of `dateFormat x` and
 * `axisFormat %Q` prints the raw number, so the axis reads units since the
 * loop started, also under --from/--to (the header says which window and
 * clock it shows). Under the virtual clock only timers move time, so work on
 * the loop or in threads takes none: the header says so, and a task that
 * lived no measurable time is a diamond where it lived, not a bar.
 *
 * Stretches: the window is cut into BINS slices; each row adds up how long
 * the task spent running, ready or awaiting (by what) in each slice, each
 * slice shows its dominant state, and neighbouring slices with the same
 * state make one bar, so a busy task costs at most BINS bars; what is
 * shorter than a slice is said to be folded. The walker hands every event of
 * the selected tasks (whole_time), so a task's state at the window's start
 * is known and every duration is clipped to the window.
 *
 * Readability at page width: the chart is drawn 900 px wide (useWidth);
 * the label column is as wide as the longest row name; a bar's text is
 * written only when it fits inside the bar (Mermaid would otherwise draw it
 * over the next bar of the row), else a shorter word, else nothing (the key
 * row says what the colours mean).
 *
 * Rows: at most --max-rows (default 30). When tasks must be left out, rows
 * go first to tasks that failed, were cancelled or timed out inside the
 * window, then to the longest-lived ones; the rows kept are drawn in spawn
 * order and a last section says how many were left out and why these were
 * kept. Memory: rows * BINS * NKINDS counters plus two words per task.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ROWS 30
#define MAX_ROWS 2000      /* --max-rows above this is clamped: the text
                              budget ends far sooner */
#define BINS 100
#define NAME_CP 28
#define CLOSE_RESERVE 500
#define CHART_W 900        /* px: a docs page */
#define RIGHT_PAD 75       /* Mermaid's default rightPadding */
#define CHAR_PX 11         /* a character at fontSize 11, with Mermaid's
                              own margins (measured: 9 still lets "wait" spill
                              out of a 53 px bar) */
#define NAME_CHAR_PX 7     /* a section name, for the label column */

/* The `on` tokens a bar names: sleep .. thread, the first ones of
 * lm_vocab.h's list. Awaits on the later ones (condition, barrier,
 * queue_join) and unknown tokens share K_OTHER, an unnamed "awaiting" bar, as
 * they always have. */
#define N_ON (LMR__ON_THREAD - LMR__ON_SLEEP + 1)
enum { K_RUN, K_READY, K_AWAIT0 };
#define K_OTHER (K_AWAIT0 + N_ON) /* awaiting something else */
#define NKINDS (K_OTHER + 1)

typedef struct gt_row {
    size_t task;        /* index in model->tasks */
    int64_t bins[BINS][NKINDS]; /* ns of each kind in each slice */
    int64_t t_enter;    /* when the current state began */
    int state;          /* current state, -1 unknown */
    int kind;           /* the current state's kind */
    uint64_t stretches; /* stretches recorded in the window */
    char *why;          /* lm_fail's message (or error), when it failed */
    lmr_buf text;       /* the row, written before choosing what fits */
    int prio;           /* 0 ended badly in the window, 1 other */
    uint32_t ord;       /* the task's spawn order: rows are drawn in it */
    bool shown;
} gt_row;

typedef struct gt_data {
    int32_t *row_of;    /* per task index: row or -1 */
    gt_row *rows;
    size_t nrows, eligible, bad_kept;
    int64_t t0, t1, q;
    int64_t u;          /* ns per unit */
    const char *uname;
    int left_px;        /* the label column */
} gt_data;

/* Lifetime inside the window. */
static int64_t life_in(const gt_data *d, const lmr__task *t)
{
    int64_t a = t->t_spawn > d->t0 ? t->t_spawn : d->t0;
    int64_t b = (t->t_end >= 0 && t->t_end < d->t1) ? t->t_end : d->t1;
    return b > a ? b - a : 0;
}

static bool ended_badly(const gt_data *d, const lmr__task *t)
{
    return t->t_end >= d->t0 && t->t_end <= d->t1 &&
           (t->state == LMR__ST_FAILED || t->state == LMR__ST_CANCELLED);
}

typedef struct cand {
    size_t i;
    int prio;
    int64_t life;
    uint32_t ord;
} cand;

static int by_interest(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    if (a->prio != b->prio)
        return a->prio - b->prio;
    if (a->life != b->life)
        return a->life > b->life ? -1 : 1;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

static int rows_by_ord(const void *x, const void *y)
{
    const gt_row *a = x, *b = y;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

static int gt_begin(lmr__render_ctx *c)
{
    const lmr__model *m = c->model;
    const lmr_options *o = c->opts;
    c->whole_time = true;
    gt_data *d = calloc(1, sizeof *d);
    if (!d)
        return LMR_ENOMEM;
    c->state = d;
    d->t0 = m->t_first > o->from ? m->t_first : o->from;
    d->t1 = (o->to >= 0 && o->to < m->t_last) ? o->to : m->t_last;
    if (d->t1 < d->t0)
        d->t1 = d->t0;
    d->q = (d->t1 - d->t0 + BINS - 1) / BINS;
    if (d->q < 1)
        d->q = 1;
    size_t cap = o->max_rows ? o->max_rows : DEFAULT_ROWS;
    if (cap > MAX_ROWS)
        cap = MAX_ROWS;
    size_t n = m->ntasks;
    d->row_of = malloc((n ? n : 1) * sizeof *d->row_of);
    cand *cs = malloc((n ? n : 1) * sizeof *cs);
    if (!d->row_of || !cs) {
        free(cs);
        return LMR_ENOMEM;
    }
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        d->row_of[i] = -1;
        const lmr__task *t = &m->tasks[i];
        if (!lmr__task_in_window(o, t))
            continue;
        cs[nc++] = (cand){i, ended_badly(d, t) ? 0 : 1, life_in(d, t), t->ord};
    }
    d->eligible = nc;
    /* Only sort when something must be left out: otherwise all are shown. */
    if (nc > cap)
        qsort(cs, nc, sizeof *cs, by_interest);
    d->nrows = nc < cap ? nc : cap;
    d->rows = calloc(d->nrows ? d->nrows : 1, sizeof *d->rows);
    if (!d->rows) {
        free(cs);
        return LMR_ENOMEM;
    }
    for (size_t k = 0; k < d->nrows; k++) {
        gt_row *r = &d->rows[k];
        r->task = cs[k].i;
        r->prio = cs[k].prio;
        r->ord = cs[k].ord;
        r->state = -1;
    }
    free(cs);
    qsort(d->rows, d->nrows, sizeof *d->rows, rows_by_ord);
    for (size_t k = 0; k < d->nrows; k++)
        d->row_of[d->rows[k].task] = (int32_t)k;
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

static int kind_of(int state, lmr__on on)
{
    if (state == LMR__ST_RUNNING)
        return K_RUN;
    if (state == LMR__ST_PENDING)
        return K_READY;
    if (on >= LMR__ON_SLEEP && on <= LMR__ON_THREAD)
        return K_AWAIT0 + (int)(on - LMR__ON_SLEEP);
    return K_OTHER;
}

static void close_stretch(gt_data *d, gt_row *r, int64_t t)
{
    if (r->state < LMR__ST_PENDING || r->state > LMR__ST_AWAITING)
        return;
    add_time(d, r, r->kind, r->t_enter, t);
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
    if (r->state != ev->from) { /* first event, or after a recorder gap */
        r->state = ev->from;
        r->t_enter = ev->from == LMR__ST_CREATED ? t->t_spawn : ev->t;
        r->kind = kind_of(ev->from, LMR__ON_NONE);
    }
    close_stretch(d, r, ev->t);
    r->state = ev->to;
    r->t_enter = ev->t;
    r->kind = kind_of(ev->to, ev->on_id);
    if (ev->to == LMR__ST_FAILED) {
        const char *why = ev->message ? ev->message : ev->error;
        free(r->why);
        r->why = why ? strdup(why) : NULL;
        if (why && !r->why)
            return LMR_ENOMEM;
    }
    return 0;
}

/* The dominant kind of a slice; -1 when the task had no time in it.
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

static size_t cps(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Pixels a bar of [a, b) units gets on the chart. */
static int64_t bar_px(const gt_data *d, int64_t a, int64_t b)
{
    int64_t span = (d->t1 - d->t0) / d->u;
    if (span < 1)
        span = 1;
    return (b - a) * (CHART_W - d->left_px - RIGHT_PAD) / span;
}

/*
 * Room for words to the right of a diamond ending at unit e. Mermaid puts
 * text outside a bar on the right only when
 * endX + textWidth + 1.5 * leftPadding <= width, else on the left (over the
 * row's bars); its text measure runs about OUT_CHAR_PX per character.
 */
#define OUT_CHAR_PX 10
static int64_t room_right(const gt_data *d, int64_t base, int64_t e)
{
    int64_t r = CHART_W - d->left_px * 3 / 2 - bar_px(d, base, e);
    /* fitting() counts CHAR_PX per character: scale to Mermaid's measure. */
    return r > 0 ? r * CHAR_PX / OUT_CHAR_PX : 0;
}

/* The first of the texts that fits in px (NULL-terminated), else "". */
static const char *fitting(const char *const *texts, int64_t px)
{
    for (; *texts; texts++)
        if ((int64_t)cps(*texts) * CHAR_PX + 12 <= px)
            return *texts;
    return "";
}

static void bar_line(lmr__out *l, const char *text, const char *tag,
                     uint64_t id, int64_t a, int64_t b)
{
    lmr__puts(l, "    ");
    lmr__esc_gantt(l, text, 80);
    lmr__printf(l, " :%s%s", tag, *tag ? ", " : "");
    lmr__id(l, "t", id);
    lmr__printf(l, ", %" PRId64 ", %" PRId64 "\n", a, b);
}

static void section(lmr__out *o, const char *name)
{
    lmr__puts(o, "    section ");
    lmr__esc_gantt(o, name, NAME_CP);
    lmr__puts(o, "\n");
}

/* How a task ended, in words: what a reader asks first. */
static void end_words(const lmr__model *m, const lmr__task *t, const char *why,
                      char *dst, size_t n)
{
    if (t->state == LMR__ST_FAILED) {
        snprintf(dst, n, "failed: %s", why ? why : t->error ? t->error : "error");
        return;
    }
    lmr__reason r = t->cancel_reason_id;
    const lmr__task *by = t->cancelled_by && t->cancelled_by != t->id
                              ? lmr__model_task(m, t->loop, t->cancelled_by)
                              : NULL;
    const char *byname = by && by->name ? by->name : "a task";
    if (t->timed_out || r == LMR__REASON_TIMEOUT)
        snprintf(dst, n, "timed out: the deadline passed");
    else if (r == LMR__REASON_GROUP && (by = lmr__group_culprit(m, t)) != NULL)
        snprintf(dst, n, "cancelled: %s failed", by->name ? by->name : "a task");
    else if (r == LMR__REASON_GROUP)
        snprintf(dst, n, "cancelled by its group");
    else if (r == LMR__REASON_SHUTDOWN)
        snprintf(dst, n, "cancelled at shutdown");
    else if (r == LMR__REASON_SIGNAL)
        snprintf(dst, n, "cancelled by a signal");
    else if (by)
        snprintf(dst, n, "cancelled by %s", byname);
    else
        snprintf(dst, n, "cancelled");
}

/* No room anywhere for the end's words: the row's name, cut to leave
 * room for the word, then ": word". */
static void name_with_word(char *name, size_t n, const char *word)
{
    size_t cp = 0, j = 0;
    for (; name[j]; j++)
        if (((unsigned char)name[j] & 0xC0) != 0x80 && ++cp > NAME_CP - 12)
            break;
    bool cut = name[j] != '\0';
    size_t len = j;
    if (cut && len + 3 < n) {
        memcpy(name + len, "\xE2\x80\xA6", 3); /* ellipsis */
        len += 3;
    }
    snprintf(name + len, n - len, ": %s", word);
}

/* The end of a task that ended badly, at its time (*end_at): a red diamond
 * with its words to the right when they fit there (Mermaid would otherwise
 * draw them over the row's own bars); when not even the short word fits,
 * it goes in the row's name. Returns the diamond's words (in `end`, or ""). */
static const char *place_end(const lmr__model *m, const gt_data *d,
                             const gt_row *r, int64_t base, char *name,
                             size_t nname, char *end, size_t nend,
                             int64_t *end_at)
{
    const lmr__task *t = &m->tasks[r->task];
    end_words(m, t, r->why, end, nend);
    *end_at = (t->t_end - m->t_first) / d->u;
    int64_t room = room_right(d, base, *end_at + 1);
    const char *shortw = t->state == LMR__ST_FAILED ? "failed"
                         : t->timed_out ? "timed out" : "cancelled";
    const char *end_text = fitting((const char *[]){end, shortw, NULL}, room);
    if (!*end_text)
        name_with_word(name, nname, shortw);
    return end_text;
}

/* One bar from a to e (px wide) of kind k, labelled with the state's name
 * when it fits. */
static void state_bar(lmr__render_ctx *c, lmr__out *l, int k, uint64_t *id,
                      int64_t a, int64_t e, int64_t px)
{
    if (k == K_RUN) {
        const char *run = lmr__state_label(c->opts, LMR__ST_RUNNING);
        bar_line(l, fitting((const char *[]){run, NULL}, px), "active", ++*id,
                 a, e);
    } else if (k == K_READY) {
        const char *rd = lmr__state_label(c->opts, LMR__ST_PENDING);
        bar_line(l, fitting((const char *[]){rd, NULL}, px), "done", ++*id, a,
                 e);
    } else {
        char txt[200];
        const char *aw = lmr__state_label(c->opts, LMR__ST_AWAITING);
        const char *on = k == K_OTHER ? ""
                                      : lmr__on_tok[LMR__ON_SLEEP + k - K_AWAIT0];
        snprintf(txt, sizeof txt, "%s%s%s", aw, *on ? " " : "", on);
        bar_line(l, fitting((const char *[]){txt, on, NULL}, px), "", ++*id, a,
                 e);
    }
}

/* The row's bars: each run of bins with the same dominant kind is one bar,
 * cut at end_at when the task ended badly. Returns how many; *last_e is
 * where the last one stops. */
static size_t state_bars(lmr__render_ctx *c, const gt_data *d, const gt_row *r,
                         lmr__out *l, uint64_t *id, int64_t base, bool bad,
                         int64_t end_at, int64_t *last_e)
{
    size_t nbars = 0;
    for (int bin = 0; bin < BINS;) {
        int k = dominant(r, bin);
        int stop = bin + 1;
        while (stop < BINS && dominant(r, stop) == k)
            stop++;
        if (k >= 0) {
            int64_t a = base + (int64_t)bin * d->q / d->u;
            int64_t e = stop == BINS ? base + (d->t1 - d->t0) / d->u
                                     : base + (int64_t)stop * d->q / d->u;
            if (bad && e > end_at)
                e = end_at; /* slices round up: never past the end */
            if (e <= a)
                e = a + 1;
            if (e > *last_e)
                *last_e = e;
            nbars++;
            state_bar(c, l, k, id, a, e, bar_px(d, a, e));
        }
        bin = stop;
    }
    return nbars;
}

/* No measurable time in the window (under the virtual clock, work in a
 * thread takes none): a diamond where the task lived, saying so. */
static void no_time_mark(lmr__render_ctx *c, const gt_data *d,
                         const lmr__task *t, lmr__out *l, uint64_t *id,
                         int64_t base, bool bad)
{
    const lmr__model *m = c->model;
    int64_t span_u = (d->t1 - d->t0) / d->u;
    int64_t a = t->t_spawn > d->t0 ? (t->t_spawn - m->t_first) / d->u : base;
    if (a >= base + span_u && span_u > 0)
        a = base + span_u - 1;
    const char *st = lmr__state_label(c->opts, t->state);
    char txt[200];
    snprintf(txt, sizeof txt, "%s, no measurable time%s", st,
             lmr__clock_is_virtual(m->header.clock) ? " (virtual clock)" : "");
    if (bad)
        return;
    /* Nothing else is drawn in this row, so Mermaid may put the words left
     * of the diamond when they do not fit right. */
    int64_t room = bar_px(d, a, base + span_u) - 20;
    int64_t left = bar_px(d, base, a) - 20;
    if (left > room)
        room = left;
    bar_line(l, fitting((const char *[]){txt, st, NULL}, room), "milestone",
             ++*id, a, a + 1);
}

/* Writes row r's section into r->text; returns the number of bars. */
static size_t write_row(lmr__render_ctx *c, gt_data *d, gt_row *r,
                        uint64_t *id)
{
    const lmr__model *m = c->model;
    const lmr__task *t = &m->tasks[r->task];
    lmr__out l;
    lmr__out_scratch(&l, &r->text);
    char name[160], end[160];
    snprintf(name, sizeof name, "%s", t->name ? t->name : "");
    bool bad = ended_badly(d, t);
    if (c->opts->counts) {
        size_t len = strlen(name);
        snprintf(name + len, sizeof name - len, " x%" PRIu64, t->steps);
    }
    int64_t base = (d->t0 - m->t_first) / d->u;
    const char *end_text = NULL;
    int64_t end_at = 0;
    if (bad)
        end_text = place_end(m, d, r, base, name, sizeof name, end, sizeof end,
                             &end_at);
    section(&l, name);
    int64_t last_e = 0;
    size_t nbars = state_bars(c, d, r, &l, id, base, bad, end_at, &last_e);
    if (nbars == 0)
        no_time_mark(c, d, t, &l, id, base, bad);
    if (bad) {
        /* Not before the last bar, or compact mode would stack it on a
         * second line of the row. */
        int64_t at = end_at > last_e ? end_at : last_e;
        bar_line(&l, end_text, "crit, milestone", ++*id, at, at + 1);
    }
    return nbars;
}

static void free_rows(gt_data *d)
{
    for (size_t i = 0; i < d->nrows; i++) {
        free(d->rows[i].why);
        lmr_buf_free(&d->rows[i].text);
    }
}

/* What gt_end's steps share: the chart being drawn and where its axis
 * starts (base) and how long it is (span_u), both in units. */
typedef struct gt_chart {
    lmr__render_ctx *c;
    const lmr__model *m;
    lmr__out *o;
    gt_data *d;
    uint64_t id;        /* the last bar's id */
    int64_t span;       /* ns in the window */
    int64_t base, span_u;
} gt_chart;

/* Frees the view's state; gt_end's last step, also when it fails. */
static void gt_free(lmr__render_ctx *c)
{
    gt_data *d = c->state;
    if (d->rows)
        free_rows(d);
    free(d->rows);
    free(d->row_of);
    free(d);
    c->state = NULL;
}

/* The unit: the largest one that keeps the window within 100,000 units. */
static void choose_unit(gt_data *d)
{
    static const struct { const char *name; int64_t ns; } units[] = {
        {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000}};
    size_t ui = 0;
    int64_t span = d->t1 - d->t0;
    while (ui + 1 < sizeof units / sizeof units[0] && span / units[ui].ns > 100000)
        ui++;
    d->u = units[ui].ns;
    d->uname = units[ui].name;
}

/* The label column: as wide as the longest section name, head included. */
static void label_column(const gt_chart *g, const char *head)
{
    gt_data *d = g->d;
    size_t widest = cps(head) < NAME_CP ? cps(head) : NAME_CP;
    for (size_t i = 0; i < d->nrows; i++) {
        const lmr__task *t = &g->m->tasks[d->rows[i].task];
        size_t w = cps(t->name ? t->name : "") + (g->c->opts->counts ? 6 : 0) +
                   (ended_badly(d, t) ? 12 : 0);
        if (w > NAME_CP + 1)
            w = NAME_CP + 1;
        if (w > widest)
            widest = w;
    }
    d->left_px = (int)(widest * NAME_CHAR_PX) + 12;
    if (d->left_px < 75)
        d->left_px = 75;
}

/* The diagram's start: its config (width, label column) and time axis. */
static void begin_chart(gt_chart *g)
{
    char cfg[160];
    snprintf(cfg, sizeof cfg,
             "config:\n  gantt:\n    displayMode: compact\n    useWidth: %d\n"
             "    leftPadding: %d\n",
             CHART_W, g->d->left_px);
    lmr__begin_diagram(g->o, g->c->opts->title, cfg, "gantt");
    lmr__puts(g->o, "    dateFormat x\n    axisFormat %Q\n");
}

/* The header's first bar: what the axis shows and the total. */
static void total_bar(gt_chart *g, const char *head)
{
    const lmr__model *m = g->m;
    const lmr_options *op = g->c->opts;
    gt_data *d = g->d;
    bool virt = lmr__clock_is_virtual(m->header.clock);
    bool windowed = op->from > 0 || op->to >= 0;
    char txt[200], d1[32], d2[48], d3[48];
    section(g->o, head);
    lmr__fmt_dur(d1, sizeof d1, g->span);
    if (windowed && op->from > m->t_last) {
        lmr__fmt_dur(d2, sizeof d2, m->t_last - m->t_first);
        snprintf(txt, sizeof txt, "the window starts after the trace ends "
                 "(at %s)", d2);
    } else if (windowed) {
        lmr__fmt_dur(d2, sizeof d2, d->t0 - m->t_first);
        lmr__fmt_dur(d3, sizeof d3, d->t1 - m->t_first);
        snprintf(txt, sizeof txt, "window %s to %s: %s%s", d2, d3, d1,
                 virt ? " of virtual time" : "");
    } else {
        snprintf(txt, sizeof txt, "total %s%s", d1,
                 virt ? " (virtual clock: thread work takes no time)" : "");
    }
    snprintf(d3, sizeof d3, "total %s", d1);
    bar_line(g->o, fitting((const char *[]){txt, d3, d1, NULL},
                           bar_px(d, g->base, g->base + g->span_u)),
             "crit", ++g->id, g->base, g->base + g->span_u);
}

/* The slowest task: the longest-lived one that awaited no other task of
 * the rows' (a leaf), as the seed's "total = the slowest task". It is
 * called a leaf task: a parent that ran its children one after the other
 * lived longer, and "slowest task" alone would be untrue of it. NULL when
 * no row lived in the window; *life is its lifetime there. Allocates a
 * flag per task for the time of the call: 0 or LMR_ENOMEM. */
static int slowest_leaf(const gt_chart *g, const lmr__task **slow_t,
                        int64_t *life)
{
    const lmr__model *m = g->m;
    gt_data *d = g->d;
    bool *parent = calloc(m->ntasks ? m->ntasks : 1, sizeof *parent);
    if (!parent)
        return LMR_ENOMEM;
    for (size_t i = 0; i < d->nrows; i++) {
        const lmr__task *t = &m->tasks[d->rows[i].task];
        const lmr__task *p = t->parent ? lmr__model_task(m, t->loop, t->parent)
                                       : NULL;
        if (p)
            parent[p - m->tasks] = true;
    }
    *slow_t = NULL;
    *life = 0;
    for (size_t i = 0; i < d->nrows; i++) {
        const lmr__task *t = &m->tasks[d->rows[i].task];
        int64_t l = life_in(d, t);
        if (!parent[d->rows[i].task] && l > *life) {
            *life = l;
            *slow_t = t;
        }
    }
    free(parent);
    return 0;
}

/* The header's second bar: the slowest leaf task, when there is one. */
static void slowest_bar(gt_chart *g, const lmr__task *slow_t, int64_t slow)
{
    gt_data *d = g->d;
    char txt[200], d1[32], d2[48];
    lmr__fmt_dur(d1, sizeof d1, slow);
    snprintf(txt, sizeof txt, "slowest leaf task: %s, %s",
             slow_t->name ? slow_t->name : "", d1);
    int64_t a = slow_t->t_spawn > d->t0
                    ? (slow_t->t_spawn - g->m->t_first) / d->u : g->base;
    int64_t b = a + slow / d->u;
    if (b <= a)
        b = a + 1;
    snprintf(d2, sizeof d2, "slowest leaf %s", d1);
    /* Alone on its line of the header: its words may also stand to
     * the right of the bar. */
    int64_t px = bar_px(d, a, b), right = room_right(d, g->base, b);
    bar_line(g->o, fitting((const char *[]){txt, d2, d1, NULL},
                           px > right ? px : right),
             "done", ++g->id, a, b);
}

/* The key: what the colours mean, since short bars carry no text. */
static void colour_key(gt_chart *g, const char *key)
{
    if (!g->d->nrows)
        return;
    const lmr_options *op = g->c->opts;
    section(g->o, key);
    int64_t third = g->span_u / 3 > 0 ? g->span_u / 3 : 1;
    const char *words[3] = {lmr__state_label(op, LMR__ST_RUNNING),
                            lmr__state_label(op, LMR__ST_PENDING),
                            lmr__state_label(op, LMR__ST_AWAITING)};
    static const char *const tags[3] = {"active", "done", ""};
    for (int k = 0; k < 3; k++) {
        int64_t a = g->base + k * third,
                b = k == 2 ? g->base + g->span_u : a + third;
        bar_line(g->o, fitting((const char *[]){words[k], NULL},
                               bar_px(g->d, a, b)),
                 tags[k], ++g->id, a, b);
    }
}

/* Writes every row into its own text; returns the stretches folded. */
static uint64_t write_rows(gt_chart *g)
{
    uint64_t merged = 0;
    for (size_t i = 0; i < g->d->nrows; i++) {
        gt_row *r = &g->d->rows[i];
        size_t nb = write_row(g->c, g->d, r, &g->id);
        if (r->stretches > nb)
            merged += r->stretches - nb;
        if (r->text.len == 0 && r->text.data == NULL)
            g->o->err = LMR_ENOMEM;
    }
    return merged;
}

/* Marks the rows shown: by interest (ended badly, then the longest-lived)
 * while they fit in what the budget has left. */
static void choose_rows(gt_chart *g)
{
    gt_data *d = g->d;
    lmr__out *o = g->o;
    size_t budget_used = lmr__used(o);
    size_t room = lmr__budget(o) > budget_used + o->reserve
                      ? lmr__budget(o) - budget_used - o->reserve : 0;
    cand *order = malloc((d->nrows ? d->nrows : 1) * sizeof *order);
    if (!order) {
        o->err = LMR_ENOMEM;
        return;
    }
    for (size_t i = 0; i < d->nrows; i++)
        order[i] = (cand){i, d->rows[i].prio,
                          life_in(d, &g->m->tasks[d->rows[i].task]),
                          d->rows[i].ord};
    qsort(order, d->nrows, sizeof *order, by_interest);
    /* A row that does not fit never gives its place to a less
     * interesting one: once a failure is left out, no ordinary row is
     * drawn instead of it. */
    int blocked = 2;
    for (size_t k = 0; k < d->nrows; k++) {
        gt_row *r = &d->rows[order[k].i];
        if (r->prio > blocked)
            break;
        if (r->text.len > room) {
            blocked = r->prio;
            continue;
        }
        r->shown = true;
        room -= r->text.len;
    }
    free(order);
}

/* Writes the rows shown, in spawn order; returns how many, and in *bad
 * how many of them ended badly. */
static size_t draw_rows(gt_chart *g, size_t *bad)
{
    size_t rows_shown = 0;
    *bad = 0;
    for (size_t i = 0; i < g->d->nrows; i++) {
        gt_row *r = &g->d->rows[i];
        if (!r->shown)
            continue;
        lmr__outn(g->o, r->text.data, r->text.len);
        rows_shown++;
        *bad += r->prio == 0;
    }
    return rows_shown;
}

/* The last section: the rows left out and the stretches folded, if any. */
static void not_shown(gt_chart *g, size_t rows_shown, size_t bad_shown,
                      uint64_t merged)
{
    gt_data *d = g->d;
    if (rows_shown >= d->eligible && !merged)
        return;
    char txt[200], d1[32], d2[48];
    int64_t b0 = g->base, b1 = g->base + g->span_u;
    section(g->o, "Not shown");
    int64_t px = bar_px(d, b0, b1);
    if (rows_shown < d->eligible) {
        snprintf(txt, sizeof txt,
                 "\xE2\x80\xA6 %zu more tasks not shown; kept first: %zu "
                 "failed or cancelled, then the longest-lived",
                 d->eligible - rows_shown, bad_shown);
        snprintf(d2, sizeof d2, "\xE2\x80\xA6 %zu more tasks not shown",
                 d->eligible - rows_shown);
        bar_line(g->o, fitting((const char *[]){txt, d2, NULL}, px), "done",
                 ++g->id, b0, b1);
    }
    if (merged) {
        lmr__fmt_dur(d1, sizeof d1, d->q);
        snprintf(txt, sizeof txt,
                 "%" PRIu64 " stretches shorter than a %s slice folded",
                 merged, d1);
        snprintf(d2, sizeof d2, "%" PRIu64 " stretches folded", merged);
        bar_line(g->o, fitting((const char *[]){txt, d2, NULL}, px), "done",
                 ++g->id, b0, b1);
    }
}

/* Everything is drawn at the end, once every stretch is known: the unit
 * and the label column, then the header (total, slowest leaf), the colour
 * key, the rows that fit, and what was left out. */
static int gt_end(lmr__render_ctx *c)
{
    gt_data *d = c->state;
    if (!d)
        return LMR_ENOMEM;
    if (!d->rows) {
        gt_free(c);
        return LMR_ENOMEM;
    }
    gt_chart g = {.c = c, .m = c->model, .o = c->out, .d = d,
                  .span = d->t1 - d->t0};
    choose_unit(d);
    for (size_t i = 0; i < d->nrows; i++)
        close_stretch(d, &d->rows[i], d->t1);

    char head[96], key[32];
    snprintf(head, sizeof head, "%s since loop start", d->uname);
    /* Its bars span the axis only to show the colours: the name says they
     * are not work on the timeline. */
    snprintf(key, sizeof key, "colour key, not tasks");
    label_column(&g, head);
    g.o->reserve = CLOSE_RESERVE;
    begin_chart(&g);
    g.base = (d->t0 - g.m->t_first) / d->u;
    g.span_u = g.span / d->u > 0 ? g.span / d->u : 1;

    total_bar(&g, head);
    const lmr__task *slow_t;
    int64_t slow;
    if (slowest_leaf(&g, &slow_t, &slow) != 0) {
        gt_free(c);
        return LMR_ENOMEM;
    }
    if (slow_t)
        slowest_bar(&g, slow_t, slow);
    colour_key(&g, key);

    /* Rows: written first, then chosen by interest while they fit, then
     * drawn in spawn order. */
    uint64_t merged = write_rows(&g);
    choose_rows(&g);
    size_t bad_shown, rows_shown = draw_rows(&g, &bad_shown);
    g.o->reserve = 0;
    not_shown(&g, rows_shown, bad_shown, merged);
    gt_free(c);
    return g.o->err;
}

const lmr__renderer lmr__view_gantt = {"gantt", gt_begin, gt_event, gt_end};

/*
 * view_sequence.c: `--view sequence`, a sequenceDiagram of the loop and the
 * tasks (seed 002's "Async/Await Execution Flow", seed 000's "Timeout and
 * Cancellation"). The loop starts and resumes tasks (->>), tasks await
 * saying on what, yield and finish (-->>, --x when failed or cancelled),
 * cancellations are crosses (-x), user notes are notes, groups, polls,
 * callbacks and flight-recorder gaps are notes over the loop.
 *
 * Big traces stay renderable:
 *  - folding: a run of identical message blocks (up to FOLD_K lines long)
 *    repeated back to back becomes one `loop N times` block;
 *  - tasks started together: when the loop starts several tasks one after
 *    the other, each running only until it hands control back (an await,
 *    a yield, done), all in the same tick of the loop (the trace's tick
 *    events separate them), those steps become one `par start together`
 *    block with an `and` section per task. A task never shares a block
 *    with its spawner (it cannot have started in the spawner's tick; this
 *    matters for traces without tick events). Only lines outside a `loop`
 *    fold take part: a fold ends any pending run first, so blocks never
 *    nest;
 *  - participants are declared when first used, up to MAX_PART tasks; the
 *    events of further tasks are counted and reported;
 *  - once the character budget or --max-messages is reached, every later
 *    message is counted, and the diagram ends with a note saying how many
 *    events were not shown and over which time span.
 * Memory: two bytes per task plus at most 2 * FOLD_K + PAR_LINES pending
 * lines.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLD_K 24       /* longest repeated block that folds */
#define HIST_MAX (2 * FOLD_K)
#define MAX_PART 40     /* task participants */
#define MAX_LOOPS 16    /* loop participants */
#define NAME_CP 40      /* participant labels */
#define TEXT_CP 80      /* message and note text */
#define CLOSE_RESERVE 600 /* closing notes */
#define PAR_LINES 64    /* pending lines of a run of task starts */
#define PAR_SEG 12      /* longest first step that joins a par section */

enum { F_DECLARED = 1, F_STARTED = 2, F_HIDDEN = 4 };

/* What woke a task, remembered until it runs again (one byte per task). */
static const char *const wake_tok[] = {
    NULL, "spawn", "yield", "timer", "timeout", "io", "task", "future",
    "event", "queue", "lock", "semaphore", "thread", "cancel"};
#define WAKE_OTHER 255

/* What a line means for `par` grouping: the loop starting a task, the task
 * handing control back to the loop, or anything else. */
enum { L_OTHER = 0, L_START, L_RETURN };

typedef struct sq_line {
    char *text; /* one line without indentation or newline; owned */
    size_t len;
    uint64_t hash; /* FNV-1a of text: most comparisons stop here */
    int64_t t;
    uint8_t kind;  /* L_*; not part of equality (the text says it all) */
    uint32_t loop; /* of L_START and L_RETURN lines */
    uint64_t task; /* participant number pN of L_START and L_RETURN lines */
    uint64_t tick; /* tick events seen before this line */
    uint64_t parent; /* of L_START lines: the spawner's pN, 0 = none */
} sq_line;

typedef struct sq_data {
    uint8_t *flags, *wake;   /* per task, by ord */
    bool loop_declared[MAX_LOOPS + 1];
    uint32_t nparts;
    sq_line hist[HIST_MAX + 1];
    size_t nhist;
    sq_line block[FOLD_K];
    size_t k, pos;
    uint64_t reps;
    bool repeating;
    bool stopped;
    /* The par run: complete sections [0, par_seg[npar]) and, when par_open,
     * the section of par_task still running from par_seg[npar] on. */
    sq_line par[PAR_LINES];
    size_t npar_lines, npar;
    size_t par_seg[PAR_LINES + 1];
    bool par_open;
    uint32_t par_loop;
    uint64_t par_task, par_tick;
    uint64_t ticks; /* tick events seen so far: "together" = same tick */
    uint64_t start_parent; /* for the next L_START line, set by state_event */
    uint64_t messages;
    uint64_t not_shown, hidden_events, hidden_tasks, hidden_loop_events;
    int64_t ns_first, ns_last;
    lmr_buf scratch;
} sq_data;

static void line_free(sq_line *l)
{
    free(l->text);
    l->text = NULL;
}

static void count_not_shown(sq_data *d, int64_t t)
{
    if (d->not_shown == 0 || t < d->ns_first)
        d->ns_first = t;
    if (d->not_shown == 0 || t > d->ns_last)
        d->ns_last = t;
    d->not_shown++;
}

static bool over_messages(const lmr__render_ctx *c, const sq_data *d,
                          uint64_t more)
{
    return c->opts->max_messages && d->messages + more > c->opts->max_messages;
}

/* Writes one line at top level, or stops the diagram body when it does
 * not fit the budget or --max-messages. Takes ownership of l->text. */
static void write_plain(lmr__render_ctx *c, sq_line *l)
{
    sq_data *d = c->state;
    if (!d->stopped && (over_messages(c, d, 1) || !lmr__fits(c->out, l->len + 5)))
        d->stopped = true;
    if (d->stopped) {
        count_not_shown(d, l->t);
    } else {
        lmr__puts(c->out, "    ");
        lmr__outn(c->out, l->text, l->len);
        lmr__puts(c->out, "\n");
        d->messages++;
    }
    line_free(l);
}

/*
 * Ends the pending par run: two or more complete sections become one
 * `par start together` block, written whole or not at all (so its `end` is
 * always there); fewer sections, a block that does not fit, and the lines
 * of a section still running are written as plain lines. Deterministic:
 * the choice depends only on the lines and the budget.
 */
static void par_flush(lmr__render_ctx *c)
{
    sq_data *d = c->state;
    size_t done = d->par_seg[d->npar], i = 0;
    if (d->npar >= 2 && !d->stopped) {
        size_t need = 40 + 8 * d->npar;
        for (size_t j = 0; j < done; j++)
            need += d->par[j].len + 9;
        if (!over_messages(c, d, done) && lmr__fits(c->out, need)) {
            lmr__puts(c->out, "    par ");
            lmr__esc_seq(c->out, "start together", 0);
            lmr__puts(c->out, "\n");
            for (size_t s = 0; s < d->npar; s++) {
                if (s > 0)
                    lmr__puts(c->out, "    and\n");
                for (size_t j = d->par_seg[s]; j < d->par_seg[s + 1]; j++) {
                    lmr__puts(c->out, "        ");
                    lmr__outn(c->out, d->par[j].text, d->par[j].len);
                    lmr__puts(c->out, "\n");
                    line_free(&d->par[j]);
                }
            }
            lmr__puts(c->out, "    end\n");
            d->messages += done;
            i = done;
        }
    }
    for (; i < d->npar_lines; i++)
        write_plain(c, &d->par[i]);
    d->npar_lines = d->npar = 0;
    d->par_seg[0] = 0;
    d->par_open = false;
}

/*
 * Every top-level line passes here on its way out: a task start opens a
 * par section that lasts until that task hands control back; runs of such
 * sections wait in d->par. Anything else ends the run. Cost: O(1) per line
 * plus the flush; at most PAR_LINES lines are held.
 */
static void emit_plain(lmr__render_ctx *c, sq_line *l)
{
    sq_data *d = c->state;
    if (d->stopped) {
        par_flush(c);
        write_plain(c, l);
        return;
    }
    if (l->kind == L_START) {
        bool split = d->par_open ||
                     (d->npar && (l->loop != d->par_loop || l->tick != d->par_tick)) ||
                     d->npar_lines + PAR_SEG >= PAR_LINES;
        for (size_t s = 0; s < d->npar && !split && l->parent; s++)
            split = d->par[d->par_seg[s]].task == l->parent;
        if (split)
            par_flush(c);
        d->par_open = true;
        d->par_loop = l->loop;
        d->par_task = l->task;
        d->par_tick = l->tick;
        d->par[d->npar_lines++] = *l;
        return;
    }
    if (!d->par_open) {
        par_flush(c);
        write_plain(c, l);
        return;
    }
    if (d->npar_lines - d->par_seg[d->npar] >= PAR_SEG) {
        /* A long first step is not "started together": show it as is. */
        par_flush(c);
        write_plain(c, l);
        return;
    }
    d->par[d->npar_lines++] = *l;
    if (l->kind == L_RETURN && l->task == d->par_task && l->loop == d->par_loop) {
        d->par_open = false;
        d->par_seg[++d->npar] = d->npar_lines;
    }
}

/* Writes the current repeated block as `loop N times`, then puts the lines
 * of an incomplete last repetition back at the top level. */
static void flush_block(lmr__render_ctx *c)
{
    sq_data *d = c->state;
    if (!d->repeating)
        return;
    d->repeating = false;
    /* Lines before the fold are out already or waiting in a par run: the
     * run ends here, so a par block never holds a loop block. */
    par_flush(c);
    char times[48];
    snprintf(times, sizeof times, "%" PRIu64 " times", d->reps);
    size_t need = 20 + strlen(times);
    for (size_t i = 0; i < d->k; i++)
        need += d->block[i].len + 9;
    if (!d->stopped && (over_messages(c, d, d->k) || !lmr__fits(c->out, need)))
        d->stopped = true;
    if (d->stopped) {
        for (uint64_t r = 0; r < d->reps; r++)
            for (size_t i = 0; i < d->k; i++)
                count_not_shown(d, d->block[i].t);
    } else {
        lmr__puts(c->out, "    loop ");
        lmr__esc_seq(c->out, times, 0);
        lmr__puts(c->out, "\n");
        for (size_t i = 0; i < d->k; i++) {
            lmr__puts(c->out, "        ");
            lmr__outn(c->out, d->block[i].text, d->block[i].len);
            lmr__puts(c->out, "\n");
        }
        lmr__puts(c->out, "    end\n");
        d->messages += d->k;
    }
    /* The partial repetition: its lines were matched but not yet shown. */
    for (size_t i = 0; i < d->pos; i++) {
        sq_line copy = d->block[i];
        copy.text = malloc(copy.len + 1);
        if (copy.text) {
            memcpy(copy.text, d->block[i].text, copy.len + 1);
            emit_plain(c, &copy);
        }
    }
    for (size_t i = 0; i < d->k; i++)
        line_free(&d->block[i]);
    d->k = d->pos = 0;
    d->reps = 0;
}

static bool line_eq(const sq_line *a, const sq_line *b)
{
    return a->hash == b->hash && a->len == b->len &&
           memcmp(a->text, b->text, a->len) == 0;
}

/*
 * Feeds one line through the folder. Cost: O(FOLD_K^2) comparisons per line
 * at worst, no allocation beyond the line itself.
 */
static void push_line(lmr__render_ctx *c, sq_line *l)
{
    sq_data *d = c->state;
    if (d->stopped) {
        count_not_shown(d, l->t);
        line_free(l);
        return;
    }
    if (d->repeating) {
        if (line_eq(l, &d->block[d->pos])) {
            line_free(l);
            if (++d->pos == d->k) {
                d->pos = 0;
                d->reps++;
            }
            return;
        }
        flush_block(c);
    }
    d->hist[d->nhist++] = *l;
    for (size_t k = 1; k <= FOLD_K && 2 * k <= d->nhist; k++) {
        size_t a = d->nhist - 2 * k, b = d->nhist - k;
        bool same = true;
        for (size_t i = 0; i < k && same; i++)
            same = line_eq(&d->hist[a + i], &d->hist[b + i]);
        if (!same)
            continue;
        for (size_t i = 0; i < a; i++)
            emit_plain(c, &d->hist[i]);
        for (size_t i = 0; i < k; i++) {
            d->block[i] = d->hist[b + i];
            line_free(&d->hist[a + i]);
        }
        d->k = k;
        d->pos = 0;
        d->reps = 2;
        d->repeating = true;
        d->nhist = 0;
        return;
    }
    if (d->nhist > HIST_MAX) {
        emit_plain(c, &d->hist[0]);
        memmove(&d->hist[0], &d->hist[1], (d->nhist - 1) * sizeof d->hist[0]);
        d->nhist--;
    }
}

/* Takes the scratch text as a new line of the given L_* kind. */
static void push_scratch(lmr__render_ctx *c, int64_t t, uint8_t kind,
                         uint32_t loop, uint64_t task)
{
    sq_data *d = c->state;
    sq_line l = {NULL, d->scratch.len, 1469598103934665603ull, t, kind, loop,
                 task, d->ticks, kind == L_START ? d->start_parent : 0};
    d->start_parent = 0;
    l.text = malloc(l.len + 1);
    if (!l.text) {
        c->out->err = LMR_ENOMEM;
        return;
    }
    memcpy(l.text, d->scratch.data ? d->scratch.data : "", l.len);
    l.text[l.len] = '\0';
    for (size_t i = 0; i < l.len; i++)
        l.hash = (l.hash ^ (unsigned char)l.text[i]) * 1099511628211ull;
    push_line(c, &l);
}

/* Declares the loop participant lpN when first needed; false when the loop
 * is beyond MAX_LOOPS (its events are counted as not shown). */
static bool loop_part(lmr__render_ctx *c, uint32_t loop)
{
    sq_data *d = c->state;
    if (loop == 0 || loop > MAX_LOOPS)
        return false;
    if (d->loop_declared[loop])
        return true;
    if (!lmr__fits(c->out, 40 + NAME_CP * 10))
        return false;
    d->loop_declared[loop] = true;
    const lmr__loop *lp = lmr__model_loop(c->model, loop);
    char dflt[48];
    if (c->model->nloops > 1)
        snprintf(dflt, sizeof dflt, "Event loop %" PRIu32, loop);
    else
        snprintf(dflt, sizeof dflt, "Event loop");
    const char *name = (lp && lp->name && strcmp(lp->name, "loop") != 0)
                           ? lp->name : dflt;
    lmr__puts(c->out, "    participant ");
    lmr__id(c->out, "lp", loop);
    lmr__puts(c->out, " as ");
    lmr__esc_seq(c->out, name, NAME_CP);
    lmr__puts(c->out, "\n");
    return true;
}

/* The participant of a task, declared when first needed; NULL when it is
 * not shown (unknown, or beyond MAX_PART: then counted). */
static const lmr__task *task_part(lmr__render_ctx *c, uint32_t loop,
                                  uint64_t id, bool count_hidden)
{
    sq_data *d = c->state;
    const lmr__task *t = lmr__model_task(c->model, loop, id);
    if (!t || !t->selected)
        return NULL;
    uint8_t *f = &d->flags[t->ord];
    if (*f & F_DECLARED)
        return t;
    if (!(*f & F_HIDDEN) && d->nparts < MAX_PART && !d->stopped &&
        lmr__fits(c->out, 40 + NAME_CP * 10) && loop_part(c, loop)) {
        *f |= F_DECLARED;
        d->nparts++;
        lmr__puts(c->out, "    participant ");
        lmr__id(c->out, "p", (uint64_t)t->ord + 1);
        lmr__puts(c->out, " as ");
        lmr__esc_seq(c->out, t->name ? t->name : "", NAME_CP);
        lmr__puts(c->out, "\n");
        return t;
    }
    if (!(*f & F_HIDDEN)) {
        *f |= F_HIDDEN;
        d->hidden_tasks++;
    }
    if (count_hidden)
        d->hidden_events++;
    return NULL;
}

static int sq_begin(lmr__render_ctx *c)
{
    sq_data *d = calloc(1, sizeof *d);
    if (!d)
        return LMR_ENOMEM;
    size_t nt = c->model->ntasks ? c->model->ntasks : 1;
    d->flags = calloc(nt, 1);
    d->wake = calloc(nt, 1);
    if (!d->flags || !d->wake) {
        free(d->flags);
        free(d->wake);
        free(d);
        return LMR_ENOMEM;
    }
    c->state = d;
    c->out->reserve = CLOSE_RESERVE;
    lmr__begin_diagram(c->out, c->opts->title, NULL, "sequenceDiagram");
    loop_part(c, c->model->nloops ? c->model->loops[0].id : 1);
    return 0;
}

/* Starts composing a line "FROM ARROW TO: " in scratch. */
static lmr__out *compose(lmr__render_ctx *c, lmr__out *l)
{
    sq_data *d = c->state;
    lmr__out_scratch(l, &d->scratch);
    return l;
}

static void msg(lmr__render_ctx *c, const char *from_p, uint64_t from_n,
                const char *arrow, const char *to_p, uint64_t to_n,
                const char *text, int64_t t)
{
    lmr__out l;
    compose(c, &l);
    lmr__id(&l, from_p, from_n);
    lmr__puts(&l, arrow);
    lmr__id(&l, to_p, to_n);
    lmr__puts(&l, ": ");
    lmr__esc_seq(&l, text, TEXT_CP);
    /* A start opens a par section; the task's own -->> or --x to its loop
     * closes it. */
    uint8_t kind = L_OTHER;
    if (strcmp(from_p, "lp") == 0 && strcmp(to_p, "p") == 0 &&
        strcmp(arrow, "->>") == 0 && strcmp(text, "start") == 0)
        kind = L_START;
    else if (strcmp(from_p, "p") == 0 && strcmp(to_p, "lp") == 0 &&
             (strcmp(arrow, "-->>") == 0 || strcmp(arrow, "--x") == 0))
        kind = L_RETURN;
    push_scratch(c, t, kind, (uint32_t)(kind == L_START ? from_n : to_n),
                 kind == L_START ? to_n : from_n);
}

static void note(lmr__render_ctx *c, const char *p, uint64_t n,
                 const char *text, int64_t t)
{
    lmr__out l;
    compose(c, &l);
    lmr__puts(&l, "Note over ");
    lmr__id(&l, p, n);
    lmr__puts(&l, ": ");
    lmr__esc_seq(&l, text, TEXT_CP);
    push_scratch(c, t, L_OTHER, 0, 0);
}

static uint8_t wake_index(const char *by)
{
    if (!by)
        return 0;
    for (size_t i = 1; i < sizeof wake_tok / sizeof wake_tok[0]; i++)
        if (strcmp(wake_tok[i], by) == 0)
            return (uint8_t)i;
    return WAKE_OTHER;
}

static void state_event(lmr__render_ctx *c, const lmr__event *ev,
                        const lmr__task *t)
{
    sq_data *d = c->state;
    uint64_t p = (uint64_t)t->ord + 1, lp = ev->loop;
    char txt[256];
    switch (ev->to) {
    case LMR__ST_PENDING:
        if (ev->from == LMR__ST_RUNNING) {
            msg(c, "p", p, "-->>", "lp", lp, "yield", ev->t);
            d->wake[t->ord] = wake_index("yield");
        } else {
            d->wake[t->ord] = wake_index(ev->by);
        }
        return;
    case LMR__ST_RUNNING: {
        uint8_t w = d->wake[t->ord];
        d->wake[t->ord] = 0;
        if (!(d->flags[t->ord] & F_STARTED)) {
            d->flags[t->ord] |= F_STARTED;
            const lmr__task *par =
                t->parent ? lmr__model_task(c->model, ev->loop, t->parent) : NULL;
            d->start_parent = par ? (uint64_t)par->ord + 1 : 0;
            msg(c, "lp", lp, "->>", "p", p, "start", ev->t);
        } else if (w && w != WAKE_OTHER && w != 2 /* yield */) {
            snprintf(txt, sizeof txt, "resume after %s", wake_tok[w]);
            msg(c, "lp", lp, "->>", "p", p, txt, ev->t);
        } else {
            msg(c, "lp", lp, "->>", "p", p, "resume", ev->t);
        }
        return;
    }
    case LMR__ST_AWAITING: {
        const char *on = ev->on ? ev->on : "something";
        if (ev->label)
            snprintf(txt, sizeof txt, "await %.200s", ev->label);
        else if (ev->awaits) {
            const lmr__task *a = lmr__model_task(c->model, ev->loop, ev->awaits);
            snprintf(txt, sizeof txt, "await task %.100s",
                     a && a->name ? a->name : "?");
        } else if (ev->fd >= 0 && strcmp(on, "io") == 0)
            snprintf(txt, sizeof txt, "await io fd %" PRId64 "%s%.16s", ev->fd,
                     ev->dir ? " " : "", ev->dir ? ev->dir : "");
        else
            snprintf(txt, sizeof txt, "await %.100s", on);
        msg(c, "p", p, "-->>", "lp", lp, txt, ev->t);
        return;
    }
    case LMR__ST_DONE:
        msg(c, "p", p, "-->>", "lp", lp, "done", ev->t);
        return;
    case LMR__ST_FAILED:
        snprintf(txt, sizeof txt, "failed%s%.60s%s%.100s", ev->error ? " " : "",
                 ev->error ? ev->error : "", ev->message ? " " : "",
                 ev->message ? ev->message : "");
        msg(c, "p", p, "--x", "lp", lp, txt, ev->t);
        return;
    case LMR__ST_CANCELLED:
        if (ev->from == LMR__ST_RUNNING)
            msg(c, "p", p, "--x", "lp", lp, "cancelled", ev->t);
        else
            msg(c, "lp", lp, "--x", "p", p, "cancelled before it ran", ev->t);
        return;
    default:
        return;
    }
}

static int sq_event(lmr__render_ctx *c, const lmr__event *ev)
{
    sq_data *d = c->state;
    if (c->out->err)
        return c->out->err;
    if (ev->kind == LMR__EV_TICK) {
        d->ticks++;
        return 0;
    }
    bool loop_ok = d->loop_declared[ev->loop <= MAX_LOOPS ? ev->loop : 0] ||
                   (!d->stopped && loop_part(c, ev->loop));
    char txt[320], dur[32];
    const lmr__task *t = NULL;
    switch (ev->kind) {
    case LMR__EV_SPAWN:
    case LMR__EV_STATE:
    case LMR__EV_CANCEL:
        if (!loop_ok) {
            d->hidden_loop_events++;
            return 0;
        }
        if (d->stopped) {
            /* Only count: declaring more participants would waste budget. */
            const lmr__task *x = lmr__model_task(c->model, ev->loop, ev->task);
            if (x && (d->flags[x->ord] & F_DECLARED) && ev->kind == LMR__EV_STATE &&
                ev->to != LMR__ST_PENDING)
                count_not_shown(d, ev->t);
            else if (x && !(d->flags[x->ord] & F_DECLARED))
                task_part(c, ev->loop, ev->task, true);
            return 0;
        }
        t = task_part(c, ev->loop, ev->task, true);
        if (!t)
            return 0;
        break;
    case LMR__EV_NOTE:
        if (!loop_ok) {
            d->hidden_loop_events++;
            return 0;
        }
        if (ev->task == 0) {
            note(c, "lp", ev->loop, ev->text ? ev->text : "", ev->t);
        } else if ((t = task_part(c, ev->loop, ev->task, true)) != NULL) {
            note(c, "p", (uint64_t)t->ord + 1, ev->text ? ev->text : "", ev->t);
        }
        return 0;
    case LMR__EV_GROUP: {
        if (!loop_ok) {
            d->hidden_loop_events++;
            return 0;
        }
        const lmr__task *ow = lmr__model_task(c->model, ev->loop, ev->owner);
        int n = 0;
        if (ev->label)
            n = snprintf(txt, sizeof txt, "%.120s", ev->label);
        else
            n = snprintf(txt, sizeof txt, "%.20s of %zu tasks",
                         ev->group_kind ? ev->group_kind : "group", ev->nmembers);
        if (ow && ow->name && n > 0 && (size_t)n < sizeof txt)
            n += snprintf(txt + n, sizeof txt - (size_t)n, " by %.60s", ow->name);
        if (ev->mode && n > 0 && (size_t)n < sizeof txt)
            n += snprintf(txt + n, sizeof txt - (size_t)n, " %.30s", ev->mode);
        if (ev->timeout >= 0 && n > 0 && (size_t)n < sizeof txt) {
            lmr__fmt_dur(dur, sizeof dur, ev->timeout);
            snprintf(txt + n, sizeof txt - (size_t)n, " timeout %s", dur);
        }
        note(c, "lp", ev->loop, txt, ev->t);
        return 0;
    }
    case LMR__EV_GROUP_END: {
        if (!loop_ok) {
            d->hidden_loop_events++;
            return 0;
        }
        const lmr__group *g = lmr__model_group(c->model, ev->loop, ev->group);
        snprintf(txt, sizeof txt, "%.20s %" PRIu32 " ended %.20s",
                 g && g->kind ? g->kind : "group", ev->group,
                 ev->outcome ? ev->outcome : "");
        note(c, "lp", ev->loop, txt, ev->t);
        return 0;
    }
    case LMR__EV_POLL:
        if (!loop_ok) {
            d->hidden_loop_events++;
            return 0;
        }
        if (ev->waited <= 0 && ev->ready <= 0)
            return 0;
        lmr__fmt_dur(dur, sizeof dur, ev->waited);
        snprintf(txt, sizeof txt, "poll waited %s %" PRId64 " ready", dur,
                 ev->ready > 0 ? ev->ready : 0);
        note(c, "lp", ev->loop, txt, ev->t);
        return 0;
    case LMR__EV_CALL:
        if (!loop_ok) {
            d->hidden_loop_events++;
            return 0;
        }
        snprintf(txt, sizeof txt, "callback%s%.120s", ev->label ? " " : "",
                 ev->label ? ev->label : "");
        note(c, "lp", ev->loop, txt, ev->t);
        return 0;
    case LMR__EV_GAP:
        if (!loop_ok) {
            d->hidden_loop_events++;
            return 0;
        }
        snprintf(txt, sizeof txt, "%" PRId64 " events lost here (flight recorder)",
                 ev->dropped);
        note(c, "lp", ev->loop, txt, ev->t);
        return 0;
    default:
        return 0;
    }

    uint64_t p = (uint64_t)t->ord + 1;
    if (ev->kind == LMR__EV_SPAWN) {
        if (ev->parent) {
            const lmr__task *par = task_part(c, ev->loop, ev->parent, false);
            if (par)
                msg(c, "p", (uint64_t)par->ord + 1, "-)", "p", p, "spawn", ev->t);
        }
        return 0;
    }
    if (ev->kind == LMR__EV_CANCEL) {
        snprintf(txt, sizeof txt, "cancel%s%.30s", ev->reason ? " " : "",
                 ev->reason ? ev->reason : "");
        const lmr__task *by =
            ev->by_task ? task_part(c, ev->loop, ev->by_task, false) : NULL;
        if (by)
            msg(c, "p", (uint64_t)by->ord + 1, "-x", "p", p, txt, ev->t);
        else
            msg(c, "lp", ev->loop, "-x", "p", p, txt, ev->t);
        return 0;
    }
    state_event(c, ev, t);
    return 0;
}

static int sq_end(lmr__render_ctx *c)
{
    sq_data *d = c->state;
    flush_block(c);
    for (size_t i = 0; i < d->nhist; i++)
        emit_plain(c, &d->hist[i]);
    d->nhist = 0;
    flush_block(c);
    par_flush(c);
    lmr__out *o = c->out;
    o->reserve = 0;
    uint32_t lp0 = c->model->nloops ? c->model->loops[0].id : 1;
    if (!d->loop_declared[lp0 <= MAX_LOOPS ? lp0 : 0])
        lp0 = 1;
    char txt[256], a[32], b[32];
    if (d->not_shown) {
        lmr__fmt_dur(a, sizeof a, d->ns_first);
        lmr__fmt_dur(b, sizeof b, d->ns_last);
        snprintf(txt, sizeof txt,
                 "\xE2\x80\xA6 %" PRIu64 " events not shown from t %s to %s (%s)",
                 d->not_shown, a, b,
                 over_messages(c, d, 1) ? "--max-messages" : "--max-chars");
        lmr__puts(o, "    Note over ");
        lmr__id(o, "lp", lp0);
        lmr__puts(o, ": ");
        lmr__esc_seq(o, txt, 0);
        lmr__puts(o, "\n");
    }
    if (d->hidden_tasks) {
        snprintf(txt, sizeof txt,
                 "\xE2\x80\xA6 %" PRIu64 " events of %" PRIu64
                 " more tasks not shown (participants are capped)",
                 d->hidden_events, d->hidden_tasks);
        lmr__puts(o, "    Note over ");
        lmr__id(o, "lp", lp0);
        lmr__puts(o, ": ");
        lmr__esc_seq(o, txt, 0);
        lmr__puts(o, "\n");
    }
    if (d->hidden_loop_events) {
        snprintf(txt, sizeof txt,
                 "\xE2\x80\xA6 %" PRIu64 " events of further loops not shown",
                 d->hidden_loop_events);
        lmr__puts(o, "    Note over ");
        lmr__id(o, "lp", lp0);
        lmr__puts(o, ": ");
        lmr__esc_seq(o, txt, 0);
        lmr__puts(o, "\n");
    }
    lmr_buf_free(&d->scratch);
    free(d->flags);
    free(d->wake);
    free(d);
    c->state = NULL;
    return o->err;
}

const lmr__renderer lmr__view_sequence = {"sequence", sq_begin, sq_event,
                                          sq_end};

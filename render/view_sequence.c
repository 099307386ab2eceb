/*
 * view_sequence.c: `--view sequence`, a sequenceDiagram of the loop and the
 * tasks (seed 002's "Async/Await Execution Flow", seed 000's "Timeout and
 * Cancellation"). The loop starts and resumes tasks (->>), tasks await
 * saying on what, yield and finish (-->>, --x when failed or cancelled),
 * cancellations are crosses (-x), user notes are notes.
 *
 * What a reader of the seeds looks for, and where it is drawn (issue 13):
 *  - time: a note "t = 2 s (+2 s)" over the loop each time the clock moved
 *    noticeably (by over 1/50 of the trace's span, and under a real clock
 *    by at least 1 ms: a virtual clock's jumps to its next timer), with
 *    how many drawn tasks were waiting through it; from the fifth same jump
 *    in a row it says only "+1 s", so that periodic work still folds into
 *    `loop N times`;
 *  - deadlines: a `Timeout timer` participant; a wait_for with a timeout
 *    draws "set timer 2 s (due 2 s)" to it and, when the deadline
 *    passes, "2 s elapsed" back;
 *  - causes: every resume says what woke the task (which task ended, its
 *    sleep, the deadline, which fd, a cancellation and why); every
 *    cancellation is drawn from whoever asked (the task that called
 *    cancel, or the loop for shutdown and signals) and says why (wait_for's
 *    deadline, a sibling's failure, an explicit cancel(), shutdown, signal);
 *  - outcomes: each task's end where it happens, failures with lm_fail's
 *    message, and a group's end with its members' outcomes.
 * Readable at page width (issue 14): no notes for polls (the time marks say
 * what a poll meant), long texts wrapped with <br/> and group labels given
 * once (in a note over its owner; the awaits then say only "await
 * gather").
 *
 * Selection: at most --max-participants tasks (default 8) get a lifeline.
 * When more are alive in the window, the interesting ones are kept first:
 * failed, cancelled and timed-out tasks, then the slowest (longest lived),
 * then those with the longest step, then the rest in spawn order; the
 * closing notes say how many tasks and events were left out and why.
 * The layout (folding repeated blocks, the budget) is seq_layout.c.
 * Memory: ~16 bytes per task plus the layout's pending lines.
 */
#include "seq_layout.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_PART 8 /* task lifelines unless --max-participants */
#define MAX_LOOPS 16       /* loop participants */
#define NAME_CP 16         /* participant labels: bytes per line */
#define REF_CP 24          /* a task's name inside a message */
#define WRAP 22            /* bytes per line of a wrapped text */
#define WRAP_SLACK 4       /* a last line this short joins the one before */
#define WRAP_LINES 4       /* lines of a wrapped text */
#define CLOSE_RESERVE 700  /* closing notes */
#define LABEL_CUT 41       /* an fd's label: bytes kept, with the NUL */
#define MAX_DEADLINES 16   /* wait_for deadlines pending at once */
#define MARKS_PER_SPAN 50  /* real clock: a time mark per 1/50 of the span */
#define MARK_MIN_REAL 1000000 /* real clock: and not for moves under 1 ms */

enum { F_DECLARED = 1, F_STARTED = 2, F_HIDDEN = 4, F_ALLOWED = 8,
       F_ENDED = 16 /* its end was seen (drawn or not) */ };

/* What woke a task (an lmr__by) is remembered until it runs again, and why
 * a cancellation was asked (an lmr__reason): one byte per task each. */
_Static_assert(LMR__BY_OTHER <= UINT8_MAX && LMR__REASON_OTHER <= UINT8_MAX,
               "a token id must fit the per-task byte");

/* What a task awaits, for the wake text. */
enum { A_NONE = 0, A_SLEEP, A_IO_READ, A_IO_WRITE, A_OTHER };

typedef struct deadline {
    uint32_t loop;
    uint64_t owner;   /* task id of the wait_for's caller */
    int64_t due, timeout;
} deadline;

typedef struct sq_data {
    lmr__sl sl;
    uint8_t *flags, *wake, *reason, *awaits; /* per task, by ord */
    uint32_t *wake_by;   /* per task: the waker's id + 1, 0 = none */
    uint32_t *cancel_by; /* per task: the canceller's id, 0 = none */
    int32_t *fd;                   /* per task: the fd it awaits */
    char **iolabel;  /* per task: lm_fd_label's name of that fd, owned */
    uint32_t *grp;   /* per task: index + 1 of its latest group, 0 = none */
    uint64_t *gfail; /* per group: id of a member seen failing, 0 = none */
    bool loop_declared[MAX_LOOPS + 1];
    bool timer_declared;
    uint32_t nparts, cap;
    size_t nt; /* length of the per-task arrays */
    deadline dl[MAX_DEADLINES];
    size_t ndl;
    int64_t t_shown, mark_step, last_dt;
    uint64_t same_dt; /* marks in a row with the same jump */
    uint64_t nawaiting; /* drawn tasks awaiting right now */
    uint64_t hidden_events, hidden_tasks, hidden_loop_events;
    uint64_t not_in_window; /* tasks of the trace outside --from/--to */
    lmr_buf scratch;
} sq_data;

/* "2 s", "1.5 s", "300 ms", "12 us", "0": a time for a reader. */
static void fmt_t(char *dst, size_t n, int64_t ns)
{
    static const struct { const char *unit; int64_t div; } u[] = {
        {"s", 1000000000}, {"ms", 1000000}, {"us", 1000}, {"ns", 1}};
    if (ns <= 0) {
        snprintf(dst, n, "0");
        return;
    }
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        if (ns >= u[i].div) {
            int64_t whole = ns / u[i].div, tenth = ns % u[i].div * 10 / u[i].div;
            if (tenth && whole < 100)
                snprintf(dst, n, "%" PRId64 ".%" PRId64 " %s", whole, tenth,
                         u[i].unit);
            else
                snprintf(dst, n, "%" PRId64 " %s", whole, u[i].unit);
            return;
        }
    }
}

/*
 * Writes text escaped for a sequence label, wrapped at spaces into at most
 * WRAP_LINES lines of about `wrap` bytes joined by <br/> (Mermaid's line
 * break in messages, notes and participants; a line costs width, so this is
 * what keeps the diagram at page width), a last piece up to `slack` bytes
 * staying on its line, the last line cut with an ellipsis when the text is
 * longer.
 */
static void put_text(lmr__out *o, const char *text, size_t wrap, size_t slack)
{
    const char *p = text ? text : "";
    while (*p == ' ')
        p++;
    char piece[256];
    for (int line = 0; line < WRAP_LINES; line++) {
        size_t left = strlen(p);
        if (line > 0)
            lmr__puts(o, "<br/>");
        if (left <= wrap + slack || line == WRAP_LINES - 1) {
            lmr__esc_seq(o, p, line == WRAP_LINES - 1 ? wrap + slack : 0);
            return;
        }
        size_t cut = wrap;
        while (cut > wrap / 2 && p[cut] != ' ')
            cut--;
        if (p[cut] != ' ') { /* no space: break inside, on a UTF-8 start */
            cut = wrap;
            while (cut > 0 && ((unsigned char)p[cut] & 0xC0) == 0x80)
                cut--;
        }
        if (cut >= sizeof piece)
            cut = sizeof piece - 1;
        memcpy(piece, p, cut);
        piece[cut] = '\0';
        lmr__esc_seq(o, piece, 0);
        p += cut;
        while (*p == ' ')
            p++;
        if (!*p)
            return;
    }
}

/* Queues the scratch line into the layout. */
static void push_scratch(lmr__render_ctx *c, int64_t t)
{
    sq_data *d = c->state;
    lmr__sl_push(&d->sl, d->scratch.data, d->scratch.len, t);
}

static lmr__out *compose(lmr__render_ctx *c, lmr__out *l)
{
    sq_data *d = c->state;
    lmr__out_scratch(l, &d->scratch);
    return l;
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
    put_text(c->out, name, NAME_CP, 0);
    lmr__puts(c->out, "\n");
    return true;
}

/* The deadline timer's lifeline, declared when the first deadline is set. */
static bool timer_part(lmr__render_ctx *c)
{
    sq_data *d = c->state;
    if (d->timer_declared)
        return true;
    if (d->sl.stopped || !lmr__fits(c->out, 60))
        return false;
    d->timer_declared = true;
    lmr__puts(c->out, "    participant tm1 as Timeout timer\n");
    return true;
}

/* The participant of a task, declared when first needed; NULL when it is
 * not drawn (unknown, not selected, or not among the kept ones). */
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
    if ((*f & F_ALLOWED) && !d->sl.stopped &&
        lmr__fits(c->out, 40 + NAME_CP * 10) && loop_part(c, loop)) {
        *f |= F_DECLARED;
        d->nparts++;
        lmr__puts(c->out, "    participant ");
        lmr__id(c->out, "p", (uint64_t)t->ord + 1);
        lmr__puts(c->out, " as ");
        put_text(c->out, t->name ? t->name : "", NAME_CP, 0);
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

/* A task's name for a message, short. */
static const char *task_name(const lmr__render_ctx *c, uint32_t loop,
                             uint64_t id)
{
    const lmr__task *t = id ? lmr__model_task(c->model, loop, id) : NULL;
    return t && t->name ? t->name : "?";
}

/* ---- selection by interest -------------------------------------------- */

static int64_t lifetime(const lmr__model *m, const lmr__task *t)
{
    int64_t end = t->t_end >= 0 ? t->t_end : m->t_last;
    return end - t->t_spawn;
}

/* A task's interest, precomputed so that qsort needs no context. */
typedef struct interest {
    bool bad;           /* failed, cancelled or timed out */
    int64_t life, step; /* lifetime, longest step */
    uint32_t ord;
} interest;

/* Interest order: ended badly first, then the slowest, the longest step,
 * then spawn order. */
static int by_interest(const void *a, const void *b)
{
    const interest *x = a, *y = b;
    if (x->bad != y->bad)
        return x->bad ? -1 : 1;
    if (x->life != y->life)
        return x->life > y->life ? -1 : 1;
    if (x->step != y->step)
        return x->step > y->step ? -1 : 1;
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* Marks the tasks that get a lifeline (F_ALLOWED). O(n log n). */
static int choose_tasks(lmr__render_ctx *c, sq_data *d)
{
    const lmr__model *m = c->model;
    size_t n = 0;
    for (size_t i = 0; i < m->ntasks; i++) {
        const lmr__task *t = &m->tasks[i];
        if (lmr__task_in_window(c->opts, t))
            n++;
        else if (t->selected)
            d->not_in_window++;
    }
    if (n <= d->cap) {
        for (size_t i = 0; i < m->ntasks; i++)
            if (lmr__task_in_window(c->opts, &m->tasks[i]))
                d->flags[m->tasks[i].ord] |= F_ALLOWED;
        return 0;
    }
    interest *v = malloc(n * sizeof *v);
    if (!v)
        return LMR_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < m->ntasks; i++) {
        const lmr__task *t = &m->tasks[i];
        if (!lmr__task_in_window(c->opts, t))
            continue;
        v[k++] = (interest){t->state == LMR__ST_FAILED ||
                                t->state == LMR__ST_CANCELLED || t->timed_out,
                            lifetime(m, t), t->longest_step, t->ord};
    }
    qsort(v, n, sizeof *v, by_interest);
    for (size_t i = 0; i < d->cap; i++)
        d->flags[v[i].ord] |= F_ALLOWED;
    free(v);
    return 0;
}

/* ---- begin ------------------------------------------------------------ */

static void sq_free(sq_data *d)
{
    if (!d)
        return;
    lmr__sl_free(&d->sl);
    lmr_buf_free(&d->scratch);
    free(d->flags);
    free(d->wake);
    free(d->reason);
    free(d->awaits);
    free(d->wake_by);
    free(d->cancel_by);
    free(d->fd);
    if (d->iolabel)
        for (size_t i = 0; i < d->nt; i++)
            free(d->iolabel[i]);
    free(d->iolabel);
    free(d->grp);
    free(d->gfail);
    free(d);
}

static int sq_begin(lmr__render_ctx *c)
{
    sq_data *d = calloc(1, sizeof *d);
    if (!d)
        return LMR_ENOMEM;
    size_t nt = c->model->ntasks ? c->model->ntasks : 1;
    d->flags = calloc(nt, 1);
    d->wake = calloc(nt, 1);
    d->reason = calloc(nt, 1);
    d->awaits = calloc(nt, 1);
    d->wake_by = calloc(nt, sizeof *d->wake_by);
    d->cancel_by = calloc(nt, sizeof *d->cancel_by);
    d->fd = calloc(nt, sizeof *d->fd);
    d->iolabel = calloc(nt, sizeof *d->iolabel);
    d->nt = nt;
    d->grp = calloc(nt, sizeof *d->grp);
    d->gfail = calloc(c->model->ngroups ? c->model->ngroups : 1, sizeof *d->gfail);
    if (!d->flags || !d->wake || !d->reason || !d->awaits || !d->wake_by ||
        !d->cancel_by || !d->fd || !d->iolabel || !d->grp || !d->gfail) {
        sq_free(d);
        return LMR_ENOMEM;
    }
    d->cap = c->opts->max_participants ? (uint32_t)(c->opts->max_participants > 1000
                                                        ? 1000
                                                        : c->opts->max_participants)
                                       : DEFAULT_MAX_PART;
    c->state = d;
    int rc = choose_tasks(c, d);
    if (rc) {
        sq_free(d);
        c->state = NULL;
        return rc;
    }
    lmr__sl_init(&d->sl, c->out, c->opts->max_messages);
    c->out->reserve = CLOSE_RESERVE;
    lmr__begin_diagram(c->out, c->opts->title, NULL, "sequenceDiagram");
    uint32_t lp0 = c->model->nloops ? c->model->loops[0].id : 1;
    loop_part(c, lp0);
    /* Time marks: for moves over 1/MARKS_PER_SPAN of the trace's span (a
     * virtual clock's jumps to the next timer are that big; a real clock
     * moves a little at every event, and not all of that is news). */
    bool virt = lmr__clock_is_virtual(c->model->header.clock);
    int64_t span = c->model->t_last - c->model->t_first;
    d->mark_step = span / MARKS_PER_SPAN;
    if (d->mark_step < (virt ? 1 : MARK_MIN_REAL))
        d->mark_step = virt ? 1 : MARK_MIN_REAL;
    d->t_shown = c->opts->from > 0 ? c->opts->from : 0;
    if (c->opts->from > 0 || c->opts->to >= 0) {
        char a[32], b[32], txt[160];
        fmt_t(a, sizeof a, c->opts->from);
        if (c->opts->to >= 0)
            fmt_t(b, sizeof b, c->opts->to);
        else
            fmt_t(b, sizeof b, c->model->t_last);
        snprintf(txt, sizeof txt, "window: t = %s to %s (--from/--to)", a, b);
        lmr__out l;
        compose(c, &l);
        lmr__puts(&l, "Note over ");
        lmr__id(&l, "lp", lp0 <= MAX_LOOPS ? lp0 : 1);
        lmr__puts(&l, ": ");
        put_text(&l, txt, WRAP, WRAP_SLACK);
        push_scratch(c, c->opts->from);
    }
    return 0;
}

/* ---- lines ------------------------------------------------------------ */

/* Before a line at t: a note over the loop when the clock moved. */
static void mark_time(lmr__render_ctx *c, uint32_t loop, int64_t t)
{
    sq_data *d = c->state;
    if (t - d->t_shown < d->mark_step || t <= d->t_shown)
        return;
    char at[32], dt[32], txt[96], waited[64] = "";
    fmt_t(at, sizeof at, t);
    fmt_t(dt, sizeof dt, t - d->t_shown);
    /* The same jump again (a periodic timer) says only "+1 s", so that the
     * repetitions stay identical and fold into one `loop N times`. */
    if (t - d->t_shown == d->last_dt && d->same_dt >= 3) {
        snprintf(txt, sizeof txt, "+%s", dt);
    } else {
        snprintf(txt, sizeof txt, "t = %s (+%s)", at, dt);
        if (d->nawaiting)
            snprintf(waited, sizeof waited, "%" PRIu64 " %s waited",
                     d->nawaiting, d->nawaiting == 1 ? "task" : "tasks");
    }
    d->same_dt = t - d->t_shown == d->last_dt ? d->same_dt + 1 : 0;
    d->last_dt = t - d->t_shown;
    d->t_shown = t;
    lmr__out l;
    compose(c, &l);
    lmr__puts(&l, "Note over ");
    lmr__id(&l, "lp", loop);
    lmr__puts(&l, ": ");
    lmr__esc_seq(&l, txt, 0);
    if (*waited) {
        lmr__puts(&l, "<br/>");
        lmr__esc_seq(&l, waited, 0);
    }
    push_scratch(c, t);
}

static void msg(lmr__render_ctx *c, uint32_t loop, const char *from_p,
                uint64_t from_n, const char *arrow, const char *to_p,
                uint64_t to_n, const char *text, int64_t t)
{
    mark_time(c, loop, t);
    lmr__out l;
    compose(c, &l);
    lmr__id(&l, from_p, from_n);
    lmr__puts(&l, arrow);
    lmr__id(&l, to_p, to_n);
    lmr__puts(&l, ": ");
    put_text(&l, text, WRAP, WRAP_SLACK);
    push_scratch(c, t);
}

static void note(lmr__render_ctx *c, uint32_t loop, const char *p, uint64_t n,
                 const char *text, int64_t t)
{
    mark_time(c, loop, t);
    lmr__out l;
    compose(c, &l);
    lmr__puts(&l, "Note over ");
    lmr__id(&l, p, n);
    lmr__puts(&l, ": ");
    put_text(&l, text, WRAP, WRAP_SLACK);
    push_scratch(c, t);
}

/* Why a task was cancelled, for a message: "wait_for deadline", ... */
static void cancel_why(const lmr__render_ctx *c, uint32_t loop, lmr__reason r,
                       uint64_t by_id, uint64_t target, char *dst, size_t n)
{
    const lmr__task *by = by_id ? lmr__model_task(c->model, loop, by_id) : NULL;
    switch (r) {
    case LMR__REASON_TIMEOUT:
        snprintf(dst, n, "wait_for deadline passed");
        return;
    case LMR__REASON_GROUP: {
        /* The sibling whose failure made the group cancel the rest: the
         * canceller itself when it failed, else a member of the target's
         * group seen failing before. */
        const lmr__task *sib = by && by_id != target &&
                                       by->state == LMR__ST_FAILED ? by : NULL;
        const sq_data *d = c->state;
        const lmr__task *tt = lmr__model_task(c->model, loop, target);
        uint32_t g = tt ? d->grp[tt->ord] : 0;
        if (!sib && g && d->gfail[g - 1] && d->gfail[g - 1] != target)
            sib = lmr__model_task(c->model, loop, d->gfail[g - 1]);
        if (sib)
            snprintf(dst, n, "sibling %.*s failed", REF_CP,
                     sib->name ? sib->name : "?");
        else if (by && by_id != target)
            snprintf(dst, n, "its group, by %.*s", REF_CP,
                     by->name ? by->name : "?");
        else
            snprintf(dst, n, "its group failed");
        return;
    }
    case LMR__REASON_SHUTDOWN:
        snprintf(dst, n, "shutdown: main returned");
        return;
    case LMR__REASON_SIGNAL:
        snprintf(dst, n, "signal (SIGINT/SIGTERM)");
        return;
    case LMR__REASON_EXPLICIT:
        if (by && by_id != target)
            snprintf(dst, n, "cancel() by %.*s", REF_CP,
                     by->name ? by->name : "?");
        else
            snprintf(dst, n, "cancel()");
        return;
    default:
        snprintf(dst, n, "cancelled");
        return;
    }
}

/* Copies s into dst[n], cut at a character boundary if it is too long. */
static void cut_utf8(char *dst, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len >= n) {
        len = n - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
}

/* The resume text: what woke the task. */
static void wake_text(const lmr__render_ctx *c, const sq_data *d,
                      uint32_t loop, const lmr__task *t, char *dst, size_t n)
{
    lmr__by w = (lmr__by)d->wake[t->ord];
    char why[96];
    switch (w) {
    case LMR__BY_TIMER:
        snprintf(dst, n, d->awaits[t->ord] == A_SLEEP ? "resume: sleep over"
                                                      : "resume: timer");
        return;
    case LMR__BY_TIMEOUT:
        snprintf(dst, n, "resume: deadline passed");
        return;
    case LMR__BY_IO:
        if ((d->awaits[t->ord] == A_IO_READ || d->awaits[t->ord] == A_IO_WRITE) &&
            d->iolabel[t->ord])
            snprintf(dst, n, "resume: %s %s", d->iolabel[t->ord],
                     d->awaits[t->ord] == A_IO_READ ? "readable" : "writable");
        else if (d->awaits[t->ord] == A_IO_READ || d->awaits[t->ord] == A_IO_WRITE)
            snprintf(dst, n, "resume: fd %" PRId32 " %s", d->fd[t->ord],
                     d->awaits[t->ord] == A_IO_READ ? "readable" : "writable");
        else
            snprintf(dst, n, "resume: I/O ready");
        return;
    case LMR__BY_CANCEL:
        cancel_why(c, loop, (lmr__reason)d->reason[t->ord],
                   d->cancel_by[t->ord], t->id, why, sizeof why);
        snprintf(dst, n, "resume with CancelledError (%s)", why);
        return;
    case LMR__BY_THREAD:
        snprintf(dst, n, "resume: thread job done");
        return;
    case LMR__BY_TASK:
    case LMR__BY_FUTURE:
    case LMR__BY_EVENT:
    case LMR__BY_QUEUE:
    case LMR__BY_LOCK:
    case LMR__BY_SEMAPHORE:
        break;
    default: /* spawn, yield, condition, barrier, queue_join, unknown */
        snprintf(dst, n, "resume");
        return;
    }
    /* woken by a task: the one that ended, set the future, released... */
    const char *what = lmr__by_tok[w];
    if (d->wake_by[t->ord]) {
        /* wake_by holds the waker's id + 1 on this loop */
        const lmr__task *x =
            lmr__model_task(c->model, loop, d->wake_by[t->ord] - 1);
        const char *nm = x && x->name ? x->name : "?";
        if (w == LMR__BY_TASK)
            snprintf(dst, n, "resume: %.*s %s", REF_CP, nm,
                     x ? lmr__state_label(c->opts, x->state) : "ended");
        else
            snprintf(dst, n, "resume: %s from %.*s", what, REF_CP, nm);
    } else {
        snprintf(dst, n, "resume: %s", what);
    }
}

static void set_awaiting(sq_data *d, const lmr__task *t, bool on)
{
    bool was = d->awaits[t->ord] != A_NONE;
    if (!(d->flags[t->ord] & F_DECLARED))
        return;
    if (on && !was)
        d->nawaiting++;
    else if (!on && was && d->nawaiting)
        d->nawaiting--;
}

static void state_event(lmr__render_ctx *c, const lmr__event *ev,
                        const lmr__task *t)
{
    sq_data *d = c->state;
    uint64_t p = (uint64_t)t->ord + 1;
    uint32_t lp = ev->loop;
    char txt[256];
    switch (ev->to) {
    case LMR__ST_PENDING:
        if (ev->from == LMR__ST_RUNNING) {
            msg(c, lp, "p", p, "-->>", "lp", lp, "yield", ev->t);
            d->wake[t->ord] = LMR__BY_YIELD;
        } else {
            lmr__by w = ev->by_id;
            /* the timer event before it said it was the deadline */
            if (!(w == LMR__BY_TIMER && d->wake[t->ord] == LMR__BY_TIMEOUT))
                d->wake[t->ord] = (uint8_t)w;
            d->wake_by[t->ord] = ev->by_task ? (uint32_t)(ev->by_task + 1) : 0;
            if (ev->by_task > UINT32_MAX - 1)
                d->wake_by[t->ord] = 0;
        }
        return;
    case LMR__ST_RUNNING: {
        if (!(d->flags[t->ord] & F_STARTED)) {
            d->flags[t->ord] |= F_STARTED;
            /* A task spawned before the window ran before it, too. */
            if (t->t_spawn >= c->opts->from || ev->from == LMR__ST_CREATED) {
                msg(c, lp, "lp", lp, "->>", "p", p, "start", ev->t);
                break;
            }
        }
        wake_text(c, d, lp, t, txt, sizeof txt);
        msg(c, lp, "lp", lp, "->>", "p", p, txt, ev->t);
        break;
    }
    case LMR__ST_AWAITING: {
        const char *on = ev->on ? ev->on : "something";
        uint8_t a = A_OTHER;
        if (ev->group)
            snprintf(txt, sizeof txt, "await %.40s", on);
        else if (ev->fd >= 0 && ev->on_id == LMR__ON_IO) {
            /* The program's name for the fd (lm_fd_label) is what a
             * reader knows; the number only when there is none. */
            bool rd = ev->dir_id != LMR__DIR_WRITE;
            free(d->iolabel[t->ord]);
            d->iolabel[t->ord] = NULL;
            if (ev->label && ev->label[0]) {
                char lab[LABEL_CUT];
                cut_utf8(lab, sizeof lab, ev->label);
                d->iolabel[t->ord] = strdup(lab);
                snprintf(txt, sizeof txt, "await %s %s", rd ? "read from" : "write to",
                         lab);
            } else {
                snprintf(txt, sizeof txt, "await %s (fd %" PRId64 ")",
                         rd ? "read" : "write", ev->fd);
            }
            a = rd ? A_IO_READ : A_IO_WRITE;
            d->fd[t->ord] = ev->fd > INT32_MAX ? -1 : (int32_t)ev->fd;
        } else if (ev->label)
            snprintf(txt, sizeof txt, "await %.200s", ev->label);
        else if (ev->awaits)
            snprintf(txt, sizeof txt, "await %.*s", REF_CP,
                     task_name(c, lp, ev->awaits));
        else {
            snprintf(txt, sizeof txt, "await %.100s", on);
            if (ev->on_id == LMR__ON_SLEEP)
                a = A_SLEEP;
        }
        msg(c, lp, "p", p, "-->>", "lp", lp, txt, ev->t);
        set_awaiting(d, t, true);
        d->awaits[t->ord] = a;
        return;
    }
    case LMR__ST_DONE:
        msg(c, lp, "p", p, "-->>", "lp", lp, "done", ev->t);
        break;
    case LMR__ST_FAILED:
        if (d->grp[t->ord] && !d->gfail[d->grp[t->ord] - 1])
            d->gfail[d->grp[t->ord] - 1] = t->id;
        if (ev->message)
            snprintf(txt, sizeof txt, "failed: %.100s", ev->message);
        else
            snprintf(txt, sizeof txt, "failed%s%.60s", ev->error ? ": " : "",
                     ev->error ? ev->error : "");
        msg(c, lp, "p", p, "--x", "lp", lp, txt, ev->t);
        break;
    case LMR__ST_CANCELLED: {
        char why[96];
        cancel_why(c, lp, (lmr__reason)d->reason[t->ord], d->cancel_by[t->ord],
                   t->id, why, sizeof why);
        if (ev->from == LMR__ST_RUNNING) {
            msg(c, lp, "p", p, "--x", "lp", lp, "cancelled", ev->t);
        } else {
            snprintf(txt, sizeof txt, "cancelled before it ran (%s)", why);
            msg(c, lp, "lp", lp, "--x", "p", p, txt, ev->t);
        }
        break;
    }
    default:
        return;
    }
    /* running or finished: no longer awaiting */
    set_awaiting(d, t, false);
    d->awaits[t->ord] = A_NONE;
    d->wake[t->ord] = LMR__BY_NONE;
    d->wake_by[t->ord] = 0;
}

/* A group's end: what its members did, counted from the model. */
static void group_end(lmr__render_ctx *c, const lmr__event *ev)
{
    const lmr__group *g = lmr__model_group(c->model, ev->loop, ev->group);
    const char *kind = g && g->kind ? g->kind : "group";
    const char *out = ev->outcome ? ev->outcome : "";
    size_t cnt[LMR__ST__COUNT] = {0};
    for (size_t i = 0; g && i < g->nmembers; i++) {
        const lmr__task *m = lmr__model_task(c->model, ev->loop, g->members[i]);
        /* As things stood when the group ended: a member that ends later
         * (e.g. cancelled by the program after wait returned) is pending.
         * A selected member's end is seen in event order; for one the
         * filters left out only its end time can tell. */
        const sq_data *d = c->state;
        bool ended = m && (m->selected ? (d->flags[m->ord] & F_ENDED) != 0
                                       : m->t_end >= 0 && m->t_end <= ev->t);
        if (m && !ended)
            cnt[LMR__ST_PENDING]++;
        else if (m && m->state >= 0 && m->state < LMR__ST__COUNT)
            cnt[m->state]++;
    }
    char txt[256];
    int n;
    if (ev->outcome_id == LMR__OUT_TIMEOUT)
        n = snprintf(txt, sizeof txt, "%.20s timeout: TimeoutError to the caller", kind);
    else if (ev->outcome_id == LMR__OUT_OK)
        n = snprintf(txt, sizeof txt, "%.20s returned", kind);
    else
        n = snprintf(txt, sizeof txt, "%.20s ended %.20s", kind, out);
    static const int order[] = {LMR__ST_FAILED, LMR__ST_DONE,
                                LMR__ST_CANCELLED, LMR__ST_PENDING};
    const char *sep = ": ";
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        size_t s = (size_t)order[k];
        if (!cnt[s] || n <= 0 || (size_t)n >= sizeof txt)
            continue;
        n += snprintf(txt + n, sizeof txt - (size_t)n, "%s%zu %s", sep, cnt[s],
                      s == LMR__ST_PENDING ? "still pending"
                                           : lmr__state_label(c->opts, (int)s));
        sep = ", ";
    }
    sq_data *d = c->state;
    for (size_t i = 0; g && i < d->ndl; i++)
        if (d->dl[i].loop == ev->loop && d->dl[i].owner == g->owner) {
            d->dl[i] = d->dl[--d->ndl]; /* ended before its deadline */
            break;
        }
    const lmr__task *ow = g ? task_part(c, ev->loop, g->owner, false) : NULL;
    if (ow)
        note(c, ev->loop, "p", (uint64_t)ow->ord + 1, txt, ev->t);
    else
        note(c, ev->loop, "lp", ev->loop, txt, ev->t);
}

/* A wait_for with a timeout: the timer is set. */
static void deadline_set(lmr__render_ctx *c, const lmr__event *ev)
{
    sq_data *d = c->state;
    if (!timer_part(c))
        return;
    char dur[32], due[32], txt[96];
    fmt_t(dur, sizeof dur, ev->timeout);
    fmt_t(due, sizeof due, ev->t + ev->timeout);
    snprintf(txt, sizeof txt, "set timer %s (due %s)", dur, due);
    msg(c, ev->loop, "lp", ev->loop, "->>", "tm", 1, txt, ev->t);
    if (d->ndl < MAX_DEADLINES)
        d->dl[d->ndl++] = (deadline){ev->loop, ev->owner, ev->t + ev->timeout,
                                     ev->timeout};
}

/* A timer fired for task `task`: a deadline when one is due now. */
static void timer_fired(lmr__render_ctx *c, const lmr__event *ev)
{
    sq_data *d = c->state;
    for (size_t i = 0; i < d->ndl; i++) {
        if (d->dl[i].loop != ev->loop || d->dl[i].owner != ev->task ||
            ev->t < d->dl[i].due)
            continue;
        char dur[32], txt[96];
        fmt_t(dur, sizeof dur, d->dl[i].timeout);
        snprintf(txt, sizeof txt, "%s elapsed: deadline", dur);
        msg(c, ev->loop, "tm", 1, "-->>", "lp", ev->loop, txt, ev->t);
        const lmr__task *t = lmr__model_task(c->model, ev->loop, ev->task);
        if (t)
            d->wake[t->ord] = LMR__BY_TIMEOUT;
        d->dl[i] = d->dl[--d->ndl];
        return;
    }
}

/* A group begins: its members are marked as its, and its label is said
 * once over the owner (or the loop); a timeout sets the timer. */
static void group_begin(lmr__render_ctx *c, const lmr__event *ev)
{
    sq_data *d = c->state;
    const lmr__group *g = lmr__model_group(c->model, ev->loop, ev->group);
    for (size_t i = 0; g && i < ev->nmembers; i++) {
        const lmr__task *m = lmr__model_task(c->model, ev->loop, ev->members[i]);
        if (m)
            d->grp[m->ord] = (uint32_t)(g - c->model->groups) + 1;
    }
    const lmr__task *ow = task_part(c, ev->loop, ev->owner, false);
    char txt[320];
    int n = 0;
    if (ev->label)
        n = snprintf(txt, sizeof txt, "%.120s", ev->label);
    else
        n = snprintf(txt, sizeof txt, "%.20s of %zu tasks",
                     ev->group_kind ? ev->group_kind : "group", ev->nmembers);
    if (ev->mode && n > 0 && (size_t)n < sizeof txt)
        snprintf(txt + n, sizeof txt - (size_t)n, " (%.30s)", ev->mode);
    /* The label is said here, once; the owner's awaits on the group
     * then say only "await gather". */
    if (ow)
        note(c, ev->loop, "p", (uint64_t)ow->ord + 1, txt, ev->t);
    else
        note(c, ev->loop, "lp", ev->loop, txt, ev->t);
    if (ev->timeout >= 0)
        deadline_set(c, ev);
}

/* A note from the program: over the loop, or over its task when drawn. */
static void program_note(lmr__render_ctx *c, const lmr__event *ev)
{
    const char *text = ev->text ? ev->text : "";
    const lmr__task *t;
    if (ev->task == 0)
        note(c, ev->loop, "lp", ev->loop, text, ev->t);
    else if ((t = task_part(c, ev->loop, ev->task, true)) != NULL)
        note(c, ev->loop, "p", (uint64_t)t->ord + 1, text, ev->t);
}

/* What the loop itself did that is no task's: a callback ran, or the
 * flight recorder lost events. */
static void loop_note(lmr__render_ctx *c, const lmr__event *ev)
{
    char txt[320];
    if (ev->kind == LMR__EV_CALL)
        snprintf(txt, sizeof txt, "callback%s%.120s", ev->label ? " " : "",
                 ev->label ? ev->label : "");
    else
        snprintf(txt, sizeof txt, "%" PRId64 " events lost here (flight recorder)",
                 ev->dropped);
    note(c, ev->loop, "lp", ev->loop, txt, ev->t);
}

/* A spawn: an arrow from the parent, when the parent is drawn. */
static void task_spawned(lmr__render_ctx *c, const lmr__event *ev,
                         const lmr__task *t)
{
    if (!ev->parent)
        return;
    const lmr__task *par = task_part(c, ev->loop, ev->parent, false);
    if (par)
        msg(c, ev->loop, "p", (uint64_t)par->ord + 1, "-)", "p",
            (uint64_t)t->ord + 1, "spawn", ev->t);
}

/* A cancel request: remembered for the task's end, and drawn as an arrow
 * from whoever asked. */
static void task_cancel(lmr__render_ctx *c, const lmr__event *ev,
                        const lmr__task *t)
{
    sq_data *d = c->state;
    uint64_t p = (uint64_t)t->ord + 1;
    /* A task that already ended is never cancelled (the trace may still
     * record the request), nor is the group member whose failure made
     * its group cancel the others (recorded as cancelling itself, issue
     * 13): nothing happens to it, so nothing is drawn. */
    lmr__reason r = ev->reason_id;
    if ((d->flags[t->ord] & F_ENDED) ||
        (r == LMR__REASON_GROUP && ev->by_task == ev->task))
        return;
    d->reason[t->ord] = (uint8_t)r;
    d->cancel_by[t->ord] = ev->by_task && ev->by_task < UINT32_MAX
                               ? (uint32_t)ev->by_task : 0;
    char txt[320];
    cancel_why(c, ev->loop, r, ev->by_task, ev->task, txt, sizeof txt);
    /* The arrow starts at whoever asked; never at the task itself (a
     * failing group member used to be recorded as its own canceller). */
    const lmr__task *by = ev->by_task && ev->by_task != ev->task &&
                                  r != LMR__REASON_SHUTDOWN && r != LMR__REASON_SIGNAL
                              ? task_part(c, ev->loop, ev->by_task, false)
                              : NULL;
    char line[360];
    if (r == LMR__REASON_EXPLICIT)
        snprintf(line, sizeof line, "%s", by ? "cancel()" : txt);
    else
        snprintf(line, sizeof line, "cancel: %s", txt);
    if (by)
        msg(c, ev->loop, "p", (uint64_t)by->ord + 1, "-x", "p", p, line, ev->t);
    else
        msg(c, ev->loop, "lp", ev->loop, "-x", "p", p, line, ev->t);
}

static int sq_event(lmr__render_ctx *c, const lmr__event *ev)
{
    sq_data *d = c->state;
    if (c->out->err)
        return c->out->err;
    if (ev->kind == LMR__EV_TICK || ev->kind == LMR__EV_POLL ||
        ev->kind == LMR__EV_IO || ev->kind == LMR__EV_LOOP_START ||
        ev->kind == LMR__EV_LOOP_END || ev->kind == LMR__EV_NAME)
        return 0;
    bool loop_ok = d->loop_declared[ev->loop <= MAX_LOOPS ? ev->loop : 0] ||
                   (!d->sl.stopped && loop_part(c, ev->loop));
    if (!loop_ok) {
        d->hidden_loop_events++;
        return 0;
    }
    if (ev->kind == LMR__EV_STATE && ev->to >= LMR__ST_DONE) {
        const lmr__task *x = lmr__model_task(c->model, ev->loop, ev->task);
        if (x)
            d->flags[x->ord] |= F_ENDED;
    }
    const lmr__task *t;
    switch (ev->kind) {
    case LMR__EV_SPAWN:
    case LMR__EV_STATE:
    case LMR__EV_CANCEL:
        t = task_part(c, ev->loop, ev->task, true);
        if (!t)
            break;
        if (ev->kind == LMR__EV_SPAWN)
            task_spawned(c, ev, t);
        else if (ev->kind == LMR__EV_CANCEL)
            task_cancel(c, ev, t);
        else
            state_event(c, ev, t);
        break;
    case LMR__EV_TIMER:
        timer_fired(c, ev);
        break;
    case LMR__EV_NOTE:
        program_note(c, ev);
        break;
    case LMR__EV_GROUP:
        group_begin(c, ev);
        break;
    case LMR__EV_GROUP_END:
        group_end(c, ev);
        break;
    case LMR__EV_CALL:
    case LMR__EV_GAP:
        loop_note(c, ev);
        break;
    default:
        break;
    }
    return 0;
}

/* One closing note over the first loop. */
static void close_note(lmr__out *o, uint32_t lp0, const char *txt)
{
    lmr__puts(o, "    Note over ");
    lmr__id(o, "lp", lp0);
    lmr__puts(o, ": ");
    put_text(o, txt, 30, WRAP_SLACK);
    lmr__puts(o, "\n");
}

static int sq_end(lmr__render_ctx *c)
{
    sq_data *d = c->state;
    int err = 0;
    if (d) {
        lmr__sl_flush(&d->sl);
        lmr__out *o = c->out;
        o->reserve = 0;
        uint32_t lp0 = c->model->nloops ? c->model->loops[0].id : 1;
        if (!d->loop_declared[lp0 <= MAX_LOOPS ? lp0 : 0])
            lp0 = 1;
        char txt[320], a[32], b[32];
        if (d->sl.not_shown) {
            fmt_t(a, sizeof a, d->sl.ns_first);
            fmt_t(b, sizeof b, d->sl.ns_last);
            snprintf(txt, sizeof txt,
                     "\xE2\x80\xA6 %" PRIu64 " events not shown from t %s to %s (%s)",
                     d->sl.not_shown, a, b,
                     lmr__sl_over_messages(&d->sl) ? "--max-messages" : "--max-chars");
            close_note(o, lp0, txt);
        }
        if (d->hidden_tasks) {
            snprintf(txt, sizeof txt,
                     "\xE2\x80\xA6 %" PRIu64 " more %s not shown (%" PRIu64
                     " events): --max-participants %" PRIu32
                     " keeps failed, cancelled, timed-out and the slowest first",
                     d->hidden_tasks, d->hidden_tasks == 1 ? "task" : "tasks",
                     d->hidden_events, d->cap);
            close_note(o, lp0, txt);
        }
        if (d->not_in_window) {
            snprintf(txt, sizeof txt,
                     "\xE2\x80\xA6 %" PRIu64 " %s lived only outside the window",
                     d->not_in_window, d->not_in_window == 1 ? "task" : "tasks");
            close_note(o, lp0, txt);
        }
        if (d->hidden_loop_events) {
            snprintf(txt, sizeof txt,
                     "\xE2\x80\xA6 %" PRIu64 " events of further loops not shown",
                     d->hidden_loop_events);
            close_note(o, lp0, txt);
        }
        err = o->err;
    }
    sq_free(d);
    c->state = NULL;
    return err;
}

const lmr__renderer lmr__view_sequence = {"sequence", sq_begin, sq_event,
                                          sq_end};

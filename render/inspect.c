/*
 * inspect.c: `loopmaid inspect`, a validating read of a trace and a summary
 * a person can act on: tasks by outcome, time in each state, ticks, the step
 * that blocked the loop longest (asyncio warns about callbacks slower than
 * 100 ms; a step that long here did the same to every other task), the
 * longest awaits, each failure with lm_fail's message, and what cancelled
 * what and why. With --advise: where the time went (analysis.c, the same
 * figures as the advise view) and what that suggests along seed 002's
 * "When to Use Which Approach" tree.
 *
 * It takes the views' selection (--tasks, --exclude) and window (--from,
 * --to): pass 1 builds the model, pass 2 walks every event of the selected
 * tasks (like a whole_time renderer) and clips each stretch to the window,
 * so "time in each state" means time inside the window. Output is plain
 * text or Markdown (o->format), appended to a buffer so that the CLI writes
 * it with the same writer as render's -o.
 *
 * Memory: one small record per task; the top-N lists are O(tasks * N).
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define TOP 5         /* entries in each "longest" list */
#define LISTED 20     /* failures / cancellations listed before "... N more" */
#define NAME_SHOWN 60
#define ON_MAX 16

static const char *const st_names[LMR__ST__COUNT] = {
    "created", "pending", "running", "awaiting", "done", "failed", "cancelled",
};

/* ---- output: text or Markdown ------------------------------------------ */

typedef struct em {
    lmr_buf *b;
    bool md;
    int err;
} em;

static void em_vadd(em *e, const char *fmt, va_list ap)
{
    char buf[2048];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1;
    if (!e->err && lmr__buf_append(e->b, buf, (size_t)n) < 0)
        e->err = LMR_ENOMEM;
}

static void __attribute__((format(printf, 2, 3))) em_add(em *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    em_vadd(e, fmt, ap);
    va_end(ap);
}

/* A header fact: "key: value" (text) or "- **key**: value" (md). */
static void __attribute__((format(printf, 3, 4)))
em_fact(em *e, const char *key, const char *fmt, ...)
{
    em_add(e, e->md ? "- **%s**: " : "%s: ", key);
    va_list ap;
    va_start(ap, fmt);
    em_vadd(e, fmt, ap);
    va_end(ap);
    em_add(e, "\n");
}

static void em_section(em *e, const char *title)
{
    em_add(e, e->md ? "\n### %s\n\n" : "\n%s:\n", title);
}

static void __attribute__((format(printf, 2, 3))) em_item(em *e, const char *fmt, ...)
{
    em_add(e, e->md ? "- " : "  ");
    va_list ap;
    va_start(ap, fmt);
    em_vadd(e, fmt, ap);
    va_end(ap);
    em_add(e, "\n");
}

/*
 * Trace text (names, messages), cut and made safe: control characters
 * become '?', `"` and `\` are backslashed (the text stands in quotes); in
 * Markdown every character that could start markup is backslashed too, and
 * `&` `<` `>` become entities, so a name can never become a link or HTML.
 */
static const char *shown(const em *e, const char *s, char *buf, size_t n)
{
    size_t j = 0, cp = 0;
    if (!s)
        s = "";
    for (; *s && j + 10 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c & 0xC0) != 0x80 && ++cp > NAME_SHOWN)
            break;
        if (e->md && (c == '&' || c == '<' || c == '>')) {
            const char *ent = c == '&' ? "&amp;" : c == '<' ? "&lt;" : "&gt;";
            memcpy(buf + j, ent, strlen(ent));
            j += strlen(ent);
            continue;
        }
        if (c == '"' || c == '\\' ||
            (e->md && strchr("`*_[]#|~!", c) && c))
            buf[j++] = '\\';
        buf[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (*s)
        j = lmr__ellipsis(buf, j);
    buf[j] = '\0';
    return buf;
}

static const char *dur(int64_t ns, char *buf, size_t n)
{
    if (ns < 0)
        ns = 0;
    if (ns < 1000)
        snprintf(buf, n, "%" PRId64 " ns", ns);
    else if (ns < 1000000)
        snprintf(buf, n, "%.1f us", (double)ns / 1e3);
    else if (ns < 1000000000LL)
        snprintf(buf, n, "%.1f ms", (double)ns / 1e6);
    else
        snprintf(buf, n, "%.2f s", (double)ns / 1e9);
    return buf;
}

static double pct(int64_t part, int64_t whole)
{
    return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

/* ---- pass 2: per-task facts inside the window -------------------------- */

typedef struct it {
    int state;              /* -1 until known */
    int64_t t_enter;
    char on[ON_MAX];        /* what it awaits now */
    int64_t in[LMR__ST__COUNT]; /* ns in each state, inside the window */
    int64_t longest_await;
    char await_on[ON_MAX];
    char *message;          /* lm_fail's text, when the trace has it */
    int64_t code;           /* 0 = absent */
} it;

typedef struct ic {
    const lmr__model *m;
    int64_t t0, t1;
    it *tasks;
    lmr__analysis *an;
    int err;
} ic;

static void add_in(ic *x, it *p, int state, int64_t a, int64_t b)
{
    if (a < x->t0)
        a = x->t0;
    if (b > x->t1)
        b = x->t1;
    if (b <= a || state < 0 || state >= LMR__ST__COUNT)
        return;
    p->in[state] += b - a;
    if (state == LMR__ST_AWAITING && b - a > p->longest_await) {
        p->longest_await = b - a;
        memcpy(p->await_on, p->on, sizeof p->on);
    }
}

static int ic_event(lmr__render_ctx *c, const lmr__event *ev)
{
    ic *x = c->state;
    lmr__analysis_event(x->an, ev);
    if (ev->kind != LMR__EV_STATE)
        return 0;
    const lmr__task *t = lmr__model_task(x->m, ev->loop, ev->task);
    if (!t)
        return 0;
    it *p = &x->tasks[t - x->m->tasks];
    if (p->state != ev->from) { /* first event, or after a recorder gap */
        p->state = ev->from;
        p->t_enter = p->state == LMR__ST_CREATED ? t->t_spawn : ev->t;
    }
    add_in(x, p, p->state, p->t_enter, ev->t);
    p->state = ev->to;
    p->t_enter = ev->t;
    if (ev->to == LMR__ST_AWAITING) {
        snprintf(p->on, sizeof p->on, "%s", ev->on ? ev->on : "?");
    }
    if (ev->to == LMR__ST_FAILED) {
        p->code = ev->code;
        free(p->message);
        p->message = ev->message ? strdup(ev->message) : NULL;
        if (ev->message && !p->message)
            x->err = LMR_ENOMEM;
    }
    return 0;
}

/* What lmr_inspect asks of the walk, through lmr__out.user: the summary
 * goes to out->buf, under the trace's name, with the advice or not. */
typedef struct inspect_req {
    const char *name;
    int advise;
} inspect_req;

static void ic_free(ic *x)
{
    if (x->an) {
        lmr__advice unused;
        lmr__analysis_finish(x->an, &unused);
    }
    if (x->tasks)
        for (size_t i = 0; i < x->m->ntasks; i++)
            free(x->tasks[i].message);
    free(x->tasks);
    free(x);
}

static int ic_begin(lmr__render_ctx *c)
{
    const lmr__model *m = c->model;
    const lmr_options *o = c->opts;
    c->whole_time = true; /* clips each stretch to the window itself */
    ic *x = calloc(1, sizeof *x);
    if (!x)
        return LMR_ENOMEM;
    x->m = m;
    x->t0 = m->t_first > o->from ? m->t_first : o->from;
    x->t1 = (o->to >= 0 && o->to < m->t_last) ? o->to : m->t_last;
    if (x->t1 < x->t0)
        x->t1 = x->t0;
    x->tasks = calloc(m->ntasks ? m->ntasks : 1, sizeof *x->tasks);
    x->an = lmr__analysis_new(m, o);
    if (!x->tasks || !x->an) {
        ic_free(x);
        return LMR_ENOMEM;
    }
    for (size_t i = 0; i < m->ntasks; i++) {
        x->tasks[i].state = LMR__ST_CREATED;
        x->tasks[i].t_enter = m->tasks[i].t_spawn;
    }
    c->state = x;
    return 0;
}

/* ---- the summary -------------------------------------------------------- */

static void task_ref(em *e, const lmr__model *m, const lmr__task *t)
{
    char nb[NAME_SHOWN * 6 + 16];
    if (m->nloops > 1)
        em_add(e, "loop %" PRIu32 " task %" PRIu64 " \"%s\"", t->loop, t->id,
               shown(e, t->name, nb, sizeof nb));
    else
        em_add(e, "task %" PRIu64 " \"%s\"", t->id,
               shown(e, t->name, nb, sizeof nb));
}

/* A cancel request worth listing: not one a task "made" on itself as it
 * ended some other way (older tracers recorded a failing task-group child
 * so; a member that ended is never cancelled, it cancels its siblings). */
static bool listed_cancel(const lmr__task *t)
{
    return t->cancel_reason &&
           !(t->cancelled_by == t->id && t->state != LMR__ST_CANCELLED);
}

/* Why a cancellation happened, in words (docs/trace-format.md 4.4). */
static const char *cause_words(const lmr__task *t)
{
    switch (t->cancel_reason_id) {
    case LMR__REASON_NONE:
        return "requested";
    case LMR__REASON_TIMEOUT:
        return "timeout: its deadline passed";
    case LMR__REASON_GROUP:
        return "group: its group was cancelled";
    case LMR__REASON_EXPLICIT:
        return "explicit: the program cancelled it";
    case LMR__REASON_SHUTDOWN:
        return "shutdown: the loop was shutting down";
    case LMR__REASON_SIGNAL:
        return "signal: a signal stopped the loop";
    default:
        return t->cancel_reason; /* a reason this reader does not know */
    }
}

/* Indexes of the TOP tasks by key[i], largest first; returns how many. */
static size_t top_tasks(size_t ntasks, const int64_t *key, const bool *sel,
                        size_t out[TOP])
{
    size_t n = 0;
    for (size_t i = 0; i < ntasks; i++) {
        int64_t k = key[i];
        if (k <= 0 || !sel[i])
            continue;
        size_t pos = n;
        while (pos > 0 && key[out[pos - 1]] < k)
            pos--;
        if (pos >= TOP)
            continue;
        size_t last = n < TOP ? n : TOP - 1;
        memmove(&out[pos + 1], &out[pos], (last - pos) * sizeof *out);
        out[pos] = i;
        if (n < TOP)
            n++;
    }
    return n;
}

static void print_advice(em *e, const lmr__model *m, const lmr__advice *a)
{
    char b1[32], b2[32], b3[32];
    em_section(e, "advice (seed 002, \"When to Use Which Approach\"; wall time "
                  "in the window, not summed over tasks)");
    em_item(e, "loop idle, awaiting I/O or timers: %s of %s (%.1f%%); at most "
               "%" PRIu64 " operations in flight at once",
            dur(a->wall_wait, b1, sizeof b1), dur(a->span, b2, sizeof b2),
            pct(a->wall_wait, a->span), a->peak_inflight);
    if (a->cpu_measured) {
        em_item(e, "loop running tasks: %s (%.1f%%); thread pool busy: %s "
                   "(%.1f%%)",
                dur(a->wall_run, b1, sizeof b1), pct(a->wall_run, a->span),
                dur(a->wall_thread, b2, sizeof b2),
                pct(a->wall_thread, a->span));
        if (a->longest_step_task) {
            const lmr__task *t =
                lmr__model_task(m, a->longest_step_loop, a->longest_step_task);
            em_add(e, e->md ? "- " : "  ");
            em_add(e, "longest step: %s by ",
                   dur(a->longest_step, b1, sizeof b1));
            if (t)
                task_ref(e, m, t);
            em_add(e, "%s\n", a->longest_step >= LMR__BLOCKING_STEP_NS
                                  ? " (it blocked the loop)" : "");
        }
    } else {
        em_item(e, "running and thread-pool time: not measured (virtual "
                   "clock: only timers move time)");
    }
    em_item(e, "summed over tasks: awaiting I/O %s, sleeping %s, in threads %s",
            dur(a->sum_io, b1, sizeof b1), dur(a->sum_sleep, b2, sizeof b2),
            dur(a->sum_thread, b3, sizeof b3));
    const char *text = lmr__advise_text(a->verdict);
    if (a->verdict == LMR__ADV_NOTHING) {
        em_item(e, "%s", text);
        return;
    }
    em_add(e, e->md ? "- " : "  ");
    em_add(e, "Waiting on I/O? %s", a->waits_on_io ? "yes" : "no");
    if (a->waits_on_io)
        em_add(e, " -> Multiple I/O operations? %s",
               a->multiple_io ? "yes" : "no, just one");
    else if (!a->cpu_measured)
        em_add(e, " -> CPU-heavy? not measured");
    else {
        em_add(e, " -> CPU-heavy? %s", a->cpu_heavy ? "yes" : "no");
        if (a->cpu_heavy)
            em_add(e, " -> Need shared memory? (a trace cannot tell)");
    }
    em_add(e, "\n");
    em_add(e, e->md ? "- **=> %s**\n" : "  => %s\n", text);
}

/*
 * What every step of the summary reads: the output, the model, the options
 * and the walk's per-task facts, with the selection worked out once (sel is
 * NULL until summary has it).
 */
typedef struct sumctx {
    em *e;
    const lmr__model *m;
    const lmr_options *o;
    const ic *x;
    const bool *sel;  /* per task: selected and alive in the window */
    bool windowed;    /* --from or --to given */
    bool virt;        /* virtual clock: running time is not measured */
} sumctx;

/* The trace itself: its name, program, clock, recorder, span and window. */
static void sum_header(const sumctx *s, const char *name)
{
    em *e = s->e;
    const lmr__model *m = s->m;
    const lmr__header *h = &m->header;
    char b1[32], b2[32], b3[32], nb[NAME_SHOWN * 6 + 16];
    if (e->md)
        em_add(e, "## Trace %s\n\n", shown(e, name, nb, sizeof nb));
    else
        em_fact(e, "trace", "%s", name);
    em_fact(e, "program", "\"%s\", clock: %s%s, format: %d%s",
            shown(e, h->program, nb, sizeof nb), h->clock ? h->clock : "?",
            s->virt ? " (only timers move it: running and thread work take "
                      "no time)" : "",
            h->version, m->truncated ? " (truncated)" : "");
    if (h->ring >= 0)
        em_fact(e, "flight recorder", "ring of %" PRId64 " events, %" PRIu64
                " events dropped in %" PRIu64 " gaps",
                h->ring, m->dropped, m->gaps);
    em_fact(e, "span", "%s, %" PRIu64 " events, %" PRIu32 " loop%s, %" PRIu64
            " ticks",
            dur(m->t_last - m->t_first, b1, sizeof b1), m->events, m->nloops,
            m->nloops == 1 ? "" : "s", m->ticks);
    if (s->windowed && s->o->from > m->t_last)
        em_fact(e, "window", "starts after the trace ends (at %s): nothing "
                "to summarise", dur(m->t_last - m->t_first, b1, sizeof b1));
    else if (s->windowed)
        em_fact(e, "window", "%s to %s since the trace began (%s); durations "
                "are clipped to it",
                dur(s->x->t0 - m->t_first, b1, sizeof b1),
                dur(s->x->t1 - m->t_first, b2, sizeof b2),
                dur(s->x->t1 - s->x->t0, b3, sizeof b3));
}

/*
 * The tasks shown, by outcome, and the loop's own counters. Tasks that end
 * after the window count as unfinished. Returns how many shown tasks failed
 * inside the window, which decides whether the failures section appears.
 */
static uint64_t sum_tasks(const sumctx *s)
{
    em *e = s->e;
    const lmr__model *m = s->m;
    const lmr_options *o = s->o;
    char b2[32];
    size_t nsel = 0;
    uint64_t done = 0, failed = 0, cancelled = 0, timed_out = 0;
    for (size_t i = 0; i < m->ntasks; i++) {
        const lmr__task *t = &m->tasks[i];
        if (!s->sel[i])
            continue;
        nsel++;
        if (t->t_end < 0 || t->t_end > s->x->t1)
            continue; /* unfinished (by the window's end) */
        done += t->state == LMR__ST_DONE;
        failed += t->state == LMR__ST_FAILED;
        cancelled += t->state == LMR__ST_CANCELLED;
        timed_out += t->state == LMR__ST_CANCELLED && t->timed_out;
    }
    bool filtered = (o->tasks && *o->tasks) || (o->exclude && *o->exclude);
    char scope[96] = "";
    if (filtered || s->windowed)
        snprintf(scope, sizeof scope, " (of %zu; %s%s%s)", m->ntasks,
                 filtered ? "--tasks/--exclude" : "",
                 filtered && s->windowed ? ", " : "",
                 s->windowed ? "alive in the window" : "");
    em_fact(e, "tasks", "%zu%s: %" PRIu64 " done, %" PRIu64 " failed, %" PRIu64
            " cancelled (%" PRIu64 " by timeout), %" PRIu64 " unfinished%s",
            nsel, scope, done, failed, cancelled, timed_out,
            (uint64_t)nsel - done - failed - cancelled,
            s->windowed ? " by the window's end" : "");
    em_fact(e, "loop", "%" PRIu64 " task steps, %" PRIu64 " callbacks, %" PRIu64
            " polls waiting %s, %" PRIu64 " I/O wakeups, %" PRIu64
            " timers, %" PRIu64 " notes (whole trace)",
            m->steps, m->calls, m->polls, dur(m->poll_waited, b2, sizeof b2),
            m->io_wakeups, m->timers_fired, m->notes);
    return failed;
}

/* Time in each state, summed over the tasks shown, then the longest step
 * (only when the clock measured running time). */
static void sum_states(const sumctx *s, const lmr__advice *adv)
{
    em *e = s->e;
    const lmr__model *m = s->m;
    char b1[32];
    int64_t in[LMR__ST__COUNT] = {0};
    for (size_t i = 0; i < m->ntasks; i++)
        if (s->sel[i])
            for (int st = 0; st < LMR__ST__COUNT; st++)
                in[st] += s->x->tasks[i].in[st];
    em_section(e, s->windowed ? "time in each state (tasks shown, summed, "
                                "inside the window)"
                              : "time in each state (all tasks together)");
    for (int st = LMR__ST_CREATED; st <= LMR__ST_AWAITING; st++)
        em_item(e, "%-9s %s%s", st_names[st], dur(in[st], b1, sizeof b1),
                s->virt && st == LMR__ST_RUNNING
                    ? " (not measured: virtual clock)" : "");

    if (adv->longest_step_task && adv->cpu_measured) {
        const lmr__task *t =
            lmr__model_task(m, adv->longest_step_loop, adv->longest_step_task);
        em_add(e, e->md ? "\n- **longest step**: " : "\nlongest step: ");
        if (t)
            task_ref(e, m, t);
        em_add(e, " ran %s without awaiting%s\n",
               dur(adv->longest_step, b1, sizeof b1),
               adv->longest_step >= LMR__BLOCKING_STEP_NS
                   ? ": it blocked the loop (over asyncio's 100 ms "
                     "slow-callback threshold)"
                   : "");
    }
}

/* The TOP longest single awaits among the tasks shown, and on what.
 * Allocates a key per task for the ranking (freed here); on failure sets
 * e->err, prints nothing and returns LMR_ENOMEM so the summary stops. */
static int sum_awaits(const sumctx *s)
{
    em *e = s->e;
    const lmr__model *m = s->m;
    char b1[32], nb[NAME_SHOWN * 6 + 16];
    size_t top[TOP];
    int64_t *key = malloc((m->ntasks ? m->ntasks : 1) * sizeof *key);
    if (!key) {
        e->err = LMR_ENOMEM;
        return LMR_ENOMEM;
    }
    for (size_t i = 0; i < m->ntasks; i++)
        key[i] = s->x->tasks[i].longest_await;
    size_t n = top_tasks(m->ntasks, key, s->sel, top);
    free(key);
    if (!n)
        return 0;
    em_section(e, "longest awaits");
    for (size_t i = 0; i < n; i++) {
        const it *p = &s->x->tasks[top[i]];
        em_add(e, e->md ? "- " : "  ");
        em_add(e, "%s on %s: ", dur(p->longest_await, b1, sizeof b1),
               shown(e, p->await_on, nb, sizeof nb));
        task_ref(e, m, &m->tasks[top[i]]);
        em_add(e, "\n");
    }
    return 0;
}

/* Each shown task that failed inside the window (the first LISTED of the
 * `failed` counted by sum_tasks), with its error, code and lm_fail text. */
static void sum_failures(const sumctx *s, uint64_t failed)
{
    em *e = s->e;
    const lmr__model *m = s->m;
    char b1[32], nb[NAME_SHOWN * 6 + 16];
    if (!failed)
        return;
    em_section(e, "failures");
    size_t k = 0;
    for (size_t i = 0; i < m->ntasks; i++) {
        const lmr__task *t = &m->tasks[i];
        if (!s->sel[i] || t->state != LMR__ST_FAILED || t->t_end > s->x->t1)
            continue;
        if (k++ == LISTED) {
            em_item(e, "... %" PRIu64 " more", failed - LISTED);
            break;
        }
        const it *p = &s->x->tasks[i];
        em_add(e, e->md ? "- " : "  ");
        task_ref(e, m, t);
        em_add(e, " at %s: %s", dur(t->t_end - m->t_first, b1, sizeof b1),
               shown(e, t->error, nb, sizeof nb));
        if (p->code)
            em_add(e, " (code %" PRId64 ")", p->code);
        if (p->message && (!t->error || strcmp(p->message, t->error)))
            em_add(e, ": \"%s\"", shown(e, p->message, nb, sizeof nb));
        em_add(e, "\n");
    }
}

/* One cancellation line: who cancelled t, why (naming the failed member for
 * a group cancel), and how t ended. */
static void sum_cancel_one(const sumctx *s, const lmr__task *t)
{
    em *e = s->e;
    const lmr__model *m = s->m;
    char b1[32];
    em_add(e, e->md ? "- " : "  ");
    task_ref(e, m, t);
    em_add(e, " cancelled by ");
    const lmr__task *by = t->cancelled_by && t->cancelled_by != t->id
                              ? lmr__model_task(m, t->loop, t->cancelled_by)
                              : NULL;
    if (by)
        task_ref(e, m, by);
    else if (t->cancelled_by == t->id)
        em_add(e, "itself");
    else
        em_add(e, "the loop");
    const lmr__task *culprit = t->cancel_reason_id == LMR__REASON_GROUP
                                   ? lmr__group_culprit(m, t) : NULL;
    if (culprit) {
        em_add(e, " (group: ");
        task_ref(e, m, culprit);
        em_add(e, " failed), ");
    } else {
        em_add(e, " (%s), ", cause_words(t));
    }
    if (t->t_end >= 0)
        em_add(e, "ended %s at %s\n", st_names[t->state],
               dur(t->t_end - m->t_first, b1, sizeof b1));
    else
        em_add(e, "ended unfinished\n");
}

/* The cancel requests worth listing (listed_cancel) among the tasks shown,
 * the first LISTED of them in full, then how many more. */
static void sum_cancellations(const sumctx *s)
{
    const lmr__model *m = s->m;
    size_t ncancel = 0;
    for (size_t i = 0; i < m->ntasks; i++)
        ncancel += s->sel[i] && listed_cancel(&m->tasks[i]);
    if (!ncancel)
        return;
    em_section(s->e, "cancellations (what cancelled what, and why)");
    size_t k = 0;
    for (size_t i = 0; i < m->ntasks; i++) {
        const lmr__task *t = &m->tasks[i];
        if (!s->sel[i] || !listed_cancel(t))
            continue;
        if (k++ == LISTED) {
            em_item(s->e, "... %zu more", ncancel - LISTED);
            break;
        }
        sum_cancel_one(s, t);
    }
}

/*
 * The whole summary, section by section, in the order a reader asks: what
 * trace, which tasks and how they ended, where their time went, what waited
 * longest, what failed, what was cancelled, and (--advise) what to do.
 * Allocates the selection (one bool per task, freed here); on failure sets
 * e->err and stops after the header, which lmr_inspect then drops.
 */
static void summary(em *e, const char *name, const lmr__model *m,
                    const lmr_options *o, ic *x, const lmr__advice *adv,
                    bool advise)
{
    sumctx s = {
        .e = e, .m = m, .o = o, .x = x, .sel = NULL,
        .windowed = o->from > 0 || o->to >= 0,
        .virt = lmr__clock_is_virtual(m->header.clock),
    };
    sum_header(&s, name);

    /* Tasks shown: selected and alive in the window. */
    bool *sel = calloc(m->ntasks ? m->ntasks : 1, sizeof *sel);
    if (!sel) {
        e->err = LMR_ENOMEM;
        return;
    }
    for (size_t i = 0; i < m->ntasks; i++)
        sel[i] = lmr__task_in_window(o, &m->tasks[i]);
    s.sel = sel;

    uint64_t failed = sum_tasks(&s);
    sum_states(&s, adv);
    if (sum_awaits(&s) < 0) {
        free(sel);
        return;
    }
    sum_failures(&s, failed);
    sum_cancellations(&s);
    free(sel);
    if (advise)
        print_advice(e, m, adv);
}

/* The stretches still open at the window's end count up to it; then the
 * summary. Runs after every walk, even one that failed (lmr_inspect then
 * drops what it wrote). */
static int ic_end(lmr__render_ctx *c)
{
    ic *x = c->state;
    const inspect_req *q = c->out->user;
    if (!x)
        return 0;
    for (size_t i = 0; i < x->m->ntasks; i++) {
        it *p = &x->tasks[i];
        if (p->state >= 0 && p->state < LMR__ST_DONE)
            add_in(x, p, p->state, p->t_enter, x->t1);
    }
    lmr__advice adv;
    lmr__analysis_finish(x->an, &adv);
    x->an = NULL;
    em e = {.b = c->out->buf, .md = c->opts->format == LMR_FORMAT_MD};
    summary(&e, q->name, x->m, c->opts, x, &adv, q->advise);
    int rc = e.err ? e.err : x->err;
    ic_free(x);
    c->state = NULL;
    return rc;
}

static const lmr__renderer inspect_walk = {"inspect", ic_begin, ic_event,
                                           ic_end};

int lmr_inspect(const char *path, const lmr_options *o, int advise,
                lmr_buf *out, FILE *warn, lmr_error *err)
{
    lmr__entry e;
    lmr__entry_begin(&e, o, warn, err);
    inspect_req q = {.name = lmr__trace_name(path), .advise = advise};
    size_t len0 = out->len;
    lmr__out lo = {.buf = out,
                   .start = len0,
                   .max_chars = LMR__DEFAULT_MAX_CHARS,
                   .user = &q};
    /* Not drawing: the summary itself says what the selection left. */
    int rc = lmr__run_passes(path, e.o, &inspect_walk, &lo, e.warn, false,
                             e.err);
    if (rc)
        lmr__buf_cut(out, len0); /* never hand back half a summary */
    return rc;
}

int lmr_inspect_file(const char *path, int advise, FILE *out, FILE *warn,
                     lmr_error *err)
{
    lmr_buf b = {0};
    int rc = lmr_inspect(path, NULL, advise, &b, warn, err);
    if (rc == 0 && b.len && fwrite(b.data, 1, b.len, out) != b.len)
        rc = lmr__err(err, LMR_EIO, "-", 0, 0, "cannot write the summary");
    lmr_buf_free(&b);
    return rc;
}

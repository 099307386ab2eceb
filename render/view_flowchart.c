/*
 * view_flowchart.c: `--view flowchart`, seed 000's "Event Loop Internals":
 * the fixed structure of one loop iteration (run ready callbacks, poll I/O,
 * wake tasks, fire timers), annotated with what this trace measured: ticks,
 * task steps and callbacks run, polls and the time they waited, I/O
 * wakeups and timers fired, and on each decision edge how often it was
 * taken. At the poll it says how far the clock advanced there (the gap from
 * each poll to its loop's next event): under the virtual clock polls never
 * block and the clock jumps; under a real one it is the polls' own `waited`. --from/--to: counts of the events inside the
 * window, which the tick node names. Fixed size (14 edges, about 1,500
 * characters): the colours are dropped first when the budget is very small.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fc_data {
    uint64_t ticks, ticks_ran, ran, ticks_io, io, ticks_timers, timers;
    uint64_t polls, polls_ready, steps, calls, wakeups, fired, ended;
    int64_t waited, t_first, t_last;
    int64_t advanced;   /* how far the clock moved from polls to what followed */
    uint64_t jumps;     /* polls after which it moved */
    int64_t poll_t;     /* the last poll's t, while its successor is unseen */
    uint32_t poll_loop;
    bool after_poll;
    bool any;
    /* Set while the diagram is written again in its compact form (a very
     * small --max-chars): each node keeps its title and first figure. */
    bool compact;
} fc_data;

static int fc_begin(lmr__render_ctx *c)
{
    fc_data *d = calloc(1, sizeof *d);
    if (!d)
        return LMR_ENOMEM;
    c->state = d;
    return 0;
}

static int fc_event(lmr__render_ctx *c, const lmr__event *ev)
{
    fc_data *d = c->state;
    if (!d->any || ev->t < d->t_first)
        d->t_first = ev->t;
    if (!d->any || ev->t > d->t_last)
        d->t_last = ev->t;
    d->any = true;
    /* The clock moves at the poll: under the virtual clock it jumps to the
     * next timer right after it, under a real one the poll blocked. Either
     * way the gap to the loop's next event is the time that passed there. */
    if (d->after_poll && ev->loop == d->poll_loop) {
        if (ev->t > d->poll_t) {
            d->advanced += ev->t - d->poll_t;
            d->jumps++;
        }
        d->after_poll = false;
    }
    if (ev->kind == LMR__EV_POLL) {
        d->after_poll = true;
        d->poll_t = ev->t;
        d->poll_loop = ev->loop;
    }
    switch (ev->kind) {
    case LMR__EV_TICK:
        d->ticks++;
        d->ran += ev->ran;
        d->io += ev->io;
        d->timers += ev->timers;
        d->ticks_ran += ev->ran > 0;
        d->ticks_io += ev->io > 0;
        d->ticks_timers += ev->timers > 0;
        break;
    case LMR__EV_POLL:
        d->polls++;
        d->waited += ev->waited > 0 ? ev->waited : 0;
        d->polls_ready += ev->ready > 0;
        break;
    case LMR__EV_STATE:
        if (ev->to == LMR__ST_RUNNING)
            d->steps++;
        if (ev->to >= LMR__ST_DONE)
            d->ended++;
        break;
    case LMR__EV_CALL:
        d->calls++;
        break;
    case LMR__EV_IO:
        d->wakeups++;
        break;
    case LMR__EV_TIMER:
        d->fired++;
        break;
    default:
        break;
    }
    return 0;
}

/* Flowchart nodes of this view: labels cut at 60 code points. */
static void node(const fc_data *d, lmr__out *o, const char *id,
                 const char *open, const char *close, const char *const *parts)
{
    const char *few[3] = {parts[0], parts[0] ? parts[1] : NULL, NULL};
    lmr__node(o, id, open, close, d->compact ? few : parts, 60);
}

static void edge(lmr__out *o, const char *from, const char *yes_no,
                 uint64_t n, const char *to)
{
    char txt[48];
    snprintf(txt, sizeof txt, "%s %" PRIu64, yes_no, n);
    lmr__printf(o, "    %s -->|\"", from);
    lmr__esc_label(o, txt, 0);
    lmr__printf(o, "\"| %s\n", to);
}

static uint64_t sub0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

static void fc_emit(lmr__render_ctx *c, fc_data *d)
{
    lmr__out *o = c->out;
    char a[96], b[96], e[96], dur[32];
    lmr__begin_diagram(o, c->opts->title, NULL, "flowchart TD");

    const lmr_options *op = c->opts;
    bool windowed = op->from > 0 || op->to >= 0;
    int64_t from = windowed ? op->from : d->t_first;
    int64_t to = windowed ? (op->to >= 0 ? op->to : c->model->t_last)
                          : d->t_last;
    lmr__fmt_dur(dur, sizeof dur, d->any || windowed ? to - from : 0);
    snprintf(a, sizeof a, "%" PRIu64 " ticks in %s", d->ticks, dur);
    if (windowed) {
        char f[32], t[32];
        lmr__fmt_dur(f, sizeof f, from);
        lmr__fmt_dur(t, sizeof t, to);
        snprintf(b, sizeof b, "window %s to %s", f, t);
    }
    node(d, o, "TICK", "[", "]",
         (const char *[]){"Event Loop Tick", a, windowed ? b : NULL, NULL});
    node(d, o, "READY", "{", "}", (const char *[]){"Ready queue has tasks?", NULL});
    snprintf(a, sizeof a, "%" PRIu64 " task steps", d->steps);
    snprintf(b, sizeof b, "%" PRIu64 " callbacks", d->calls);
    snprintf(e, sizeof e, "%" PRIu64 " tasks finished", d->ended);
    node(d, o, "RUN", "[", "]",
         (const char *[]){"Run next callback", "one at a time", a, b, e, NULL});
    node(d, o, "MORE", "{", "}", (const char *[]){"More ready callbacks?", NULL});
    bool virt = lmr__clock_is_virtual(c->model->header.clock);
    snprintf(a, sizeof a, "%" PRIu64 " polls", d->polls);
    /* What passed at the polls: under the virtual clock a poll never
     * blocks ("waited 0 ns" would hide every sleep): the clock jumps to
     * the next timer, and that jump is what the reader needs. Under a real
     * clock the poll's own `waited` is the time it blocked. */
    char w[96];
    lmr__fmt_dur(dur, sizeof dur, d->waited);
    snprintf(w, sizeof w, "blocked %s in all", dur);
    if (virt) {
        lmr__fmt_dur(dur, sizeof dur, d->advanced);
        snprintf(b, sizeof b, "clock advanced %s", dur);
        if (d->jumps)
            snprintf(e, sizeof e, "in %" PRIu64 " jump%s, virtual clock",
                     d->jumps, d->jumps == 1 ? "" : "s");
        else
            snprintf(e, sizeof e, "virtual clock");
    } else if (c->model->nloops > 1) {
        snprintf(e, sizeof e, "over %" PRIu32 " loops", c->model->nloops);
    }
    /* A virtual-clock trace whose polls say they waited (written by hand,
     * or by another runtime) gets both figures. */
    const char *parts[6] = {"Poll for I/O events", a, NULL, NULL, NULL, NULL};
    size_t np = 2;
    if (virt)
        parts[np++] = b;
    if (!virt || d->waited > 0)
        parts[np++] = w;
    if (virt || c->model->nloops > 1)
        parts[np++] = e;
    node(d, o, "POLL", "[", "]", parts);
    node(d, o, "IODONE", "{", "}", (const char *[]){"I/O completed?", NULL});
    snprintf(a, sizeof a, "%" PRIu64 " I/O wakeups", d->io ? d->io : d->wakeups);
    node(d, o, "WAKE", "[", "]",
         (const char *[]){"Move completed tasks", "to ready queue", a, NULL});
    node(d, o, "TIMERS", "[", "]", (const char *[]){"Check timers", "sleep and timeout", NULL});
    node(d, o, "EXPIRED", "{", "}", (const char *[]){"Timers expired?", NULL});
    snprintf(a, sizeof a, "%" PRIu64 " timers fired",
             d->timers ? d->timers : d->fired);
    node(d, o, "SCHED", "[", "]",
         (const char *[]){"Schedule timer", "callbacks as ready", a, NULL});

    lmr__puts(o, "    TICK --> READY\n");
    edge(o, "READY", "Yes", d->ticks_ran, "RUN");
    lmr__puts(o, "    RUN --> MORE\n");
    edge(o, "MORE", "Yes", sub0(d->ran, d->ticks_ran), "RUN");
    edge(o, "MORE", "No", d->ticks_ran, "POLL");
    edge(o, "READY", "No", sub0(d->ticks, d->ticks_ran), "POLL");
    lmr__puts(o, "    POLL --> IODONE\n");
    edge(o, "IODONE", "Yes", d->ticks_io, "WAKE");
    edge(o, "IODONE", "No", sub0(d->ticks, d->ticks_io), "TIMERS");
    lmr__puts(o, "    WAKE --> TIMERS\n");
    lmr__puts(o, "    TIMERS --> EXPIRED\n");
    edge(o, "EXPIRED", "Yes", d->ticks_timers, "SCHED");
    edge(o, "EXPIRED", "No", sub0(d->ticks, d->ticks_timers), "TICK");
    lmr__puts(o, "    SCHED --> TICK\n");

    /* The seed's colours, only when they fit. */
    size_t mark = lmr__mark(o);
    lmr__puts(o, "    style TICK fill:#cc5de8,stroke:#9c36b5,color:#fff\n"
                 "    style RUN fill:#51cf66,stroke:#27ae60,color:#fff\n"
                 "    style POLL fill:#4a9eff,stroke:#2670c2,color:#fff\n"
                 "    style WAKE fill:#ffd43b,stroke:#f59f00,color:#000\n");
    if (lmr__used(o) > lmr__budget(o))
        lmr__rollback(o, mark);
}

static int fc_end(lmr__render_ctx *c)
{
    fc_data *d = c->state;
    lmr__out *o = c->out;
    o->reserve = 0;
    size_t start = lmr__mark(o);
    d->compact = false;
    fc_emit(c, d);
    if (lmr__used(o) > lmr__budget(o)) {
        lmr__rollback(o, start);
        d->compact = true;
        fc_emit(c, d);
    }
    free(d);
    c->state = NULL;
    return o->err;
}

const lmr__renderer lmr__view_flowchart = {"flowchart", fc_begin, fc_event,
                                           fc_end};

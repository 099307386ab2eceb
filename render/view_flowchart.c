/*
 * view_flowchart.c: `--view flowchart`, seed 000's "Event Loop Internals":
 * the fixed structure of one loop iteration (run ready callbacks, poll I/O,
 * wake tasks, fire timers), annotated with what this trace measured: ticks,
 * task steps and callbacks run, polls and the time they waited, I/O
 * wakeups and timers fired, and on each decision edge how often it was
 * taken. Fixed size (14 edges, about 1,500 characters): the summary node
 * and the colours are dropped first when the budget is very small.
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
    bool any;
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
static void node(lmr__out *o, const char *id, const char *open,
                 const char *close, const char *const *parts)
{
    lmr__node(o, id, open, close, parts, 60);
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

static int fc_end(lmr__render_ctx *c)
{
    fc_data *d = c->state;
    lmr__out *o = c->out;
    char a[64], b[64], e[64], dur[32];
    o->reserve = 0;
    lmr__begin_diagram(o, c->opts->title, NULL, "flowchart TD");

    snprintf(a, sizeof a, "%" PRIu64 " ticks", d->ticks);
    node(o, "TICK", "[", "]", (const char *[]){"Event Loop Tick", a, NULL});
    node(o, "READY", "{", "}", (const char *[]){"Ready queue has tasks?", NULL});
    snprintf(a, sizeof a, "%" PRIu64 " task steps", d->steps);
    snprintf(b, sizeof b, "%" PRIu64 " callbacks", d->calls);
    node(o, "RUN", "[", "]",
         (const char *[]){"Run next callback", "one at a time", a, b, NULL});
    node(o, "MORE", "{", "}", (const char *[]){"More ready callbacks?", NULL});
    lmr__fmt_dur(dur, sizeof dur, d->waited);
    snprintf(a, sizeof a, "%" PRIu64 " polls", d->polls);
    snprintf(b, sizeof b, "waited %s", dur);
    node(o, "POLL", "[", "]", (const char *[]){"Poll for I/O events", a, b, NULL});
    node(o, "IODONE", "{", "}", (const char *[]){"I/O completed?", NULL});
    snprintf(a, sizeof a, "%" PRIu64 " I/O wakeups", d->io ? d->io : d->wakeups);
    node(o, "WAKE", "[", "]",
         (const char *[]){"Move completed tasks", "to ready queue", a, NULL});
    node(o, "TIMERS", "[", "]", (const char *[]){"Check timers", "sleep and timeout", NULL});
    node(o, "EXPIRED", "{", "}", (const char *[]){"Timers expired?", NULL});
    snprintf(a, sizeof a, "%" PRIu64 " timers fired",
             d->timers ? d->timers : d->fired);
    node(o, "SCHED", "[", "]",
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

    /* Extras, only when they fit: a summary node and the seed's colours. */
    size_t mark = lmr__mark(o);
    lmr__fmt_dur(dur, sizeof dur, d->any ? d->t_last - d->t_first : 0);
    snprintf(a, sizeof a, "measured over %s", dur);
    snprintf(b, sizeof b, "%zu tasks in the trace", c->model->ntasks);
    snprintf(e, sizeof e, "%" PRIu64 " of them finished here", d->ended);
    const char *prog = c->model->header.program;
    node(o, "INFO", "[", "]",
         (const char *[]){prog && *prog ? prog : "trace", a, b, e, NULL});
    lmr__puts(o, "    style TICK fill:#cc5de8,stroke:#9c36b5,color:#fff\n"
                 "    style RUN fill:#51cf66,stroke:#27ae60,color:#fff\n"
                 "    style POLL fill:#4a9eff,stroke:#2670c2,color:#fff\n"
                 "    style WAKE fill:#ffd43b,stroke:#f59f00,color:#000\n"
                 "    style INFO fill:#f8f9fa,stroke:#adb5bd,color:#000\n");
    if (lmr__used(o) > lmr__budget(o))
        lmr__rollback(o, mark);
    free(d);
    c->state = NULL;
    return o->err;
}

const lmr__renderer lmr__view_flowchart = {"flowchart", fc_begin, fc_event,
                                           fc_end};

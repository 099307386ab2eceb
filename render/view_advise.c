/*
 * view_advise.c: `--view advise`, seed 002's "When to Use Which Approach"
 * decision tree with the path this trace takes highlighted, decided from
 * what the trace measured (time awaiting I/O and sleeps vs running on the
 * loop vs offloaded to threads, and the longest step that blocked the loop).
 *
 * lmr__advise_compute is shared with `loopmaid inspect --advise` so that the
 * summary and the picture always agree. Fixed size: 10 edges, ~2 KB.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCKING_STEP_NS (100 * 1000000LL) /* asyncio's slow-callback scale */

void lmr__advise_compute(const lmr__model *m, lmr__advice *a)
{
    memset(a, 0, sizeof *a);
    a->total = m->t_last > m->t_first ? m->t_last - m->t_first : 0;
    a->running = m->run_total;
    a->await_io = m->await_io;
    a->await_sleep = m->await_sleep;
    a->await_thread = m->await_thread;
    a->await_other = m->await_other;
    a->longest_step = m->longest_step;
    a->ntasks = m->ntasks;
    uint64_t waiters = 0;
    for (size_t i = 0; i < m->ntasks; i++)
        waiters += m->tasks[i].time_in[LMR__ST_AWAITING] > 0;
    int64_t waiting = a->await_io + a->await_sleep + a->await_thread;
    a->waits_on_io = waiting > 0 && waiting >= a->running;
    a->multiple_io = waiters >= 2 && a->await_io + a->await_sleep > 0;
    a->cpu_heavy = (a->total > 0 && a->running > a->total / 2) ||
                   a->longest_step >= BLOCKING_STEP_NS;
    a->shared_memory = a->await_thread > 0;
    if (a->ntasks == 0 || (a->running == 0 && waiting == 0 && a->await_other == 0))
        a->verdict = LMR__ADV_NOTHING;
    else if (a->waits_on_io)
        a->verdict = a->multiple_io ? LMR__ADV_ASYNC : LMR__ADV_SYNC_ONE;
    else if (a->cpu_heavy)
        a->verdict = a->shared_memory ? LMR__ADV_THREAD : LMR__ADV_MULTI;
    else
        a->verdict = LMR__ADV_SYNC;
}

const char *lmr__advise_text(lmr__verdict v)
{
    switch (v) {
    case LMR__ADV_ASYNC:
        return "I/O-bound with several operations in flight: async/await with "
               "gather fits this workload";
    case LMR__ADV_SYNC_ONE:
        return "I/O-bound but one operation at a time: plain sequential code "
               "would do as well";
    case LMR__ADV_SYNC:
        return "neither waits nor computes much: no concurrency is needed";
    case LMR__ADV_THREAD:
        return "CPU-heavy and already offloading to threads: keep threads "
               "with locks for shared memory";
    case LMR__ADV_MULTI:
        return "CPU-heavy on the loop thread: steps block the loop; move the "
               "work to processes (or threads)";
    default:
        return "the trace has no task activity to judge";
    }
}

static int ad_begin(lmr__render_ctx *c)
{
    (void)c;
    return 0;
}

/* Decision-tree nodes: labels cut at 120 code points. */
static void node(lmr__out *o, const char *id, const char *open,
                 const char *close, const char *const *parts)
{
    lmr__node(o, id, open, close, parts, 120);
}

static void edge(lmr__out *o, const char *from, const char *text,
                 const char *to)
{
    lmr__printf(o, "    %s -->|\"", from);
    lmr__esc_label(o, text, 0);
    lmr__printf(o, "\"| %s\n", to);
}

/*
 * Writes the tree; `full` adds the measurements to the questions and the
 * verdict's sentence, `compact` (for budgets near the 1,000 minimum) keeps
 * the seed's words, the path and nothing else.
 */
static void ad_write(lmr__render_ctx *c, const lmr__advice *ap, bool full)
{
    lmr__out *o = c->out;
    lmr__advice a = *ap;
    char l1[96], l2[96], l3[160], dio[32], drun[32], dstep[32], dthr[32];
    lmr__fmt_dur(dio, sizeof dio, a.await_io + a.await_sleep);
    lmr__fmt_dur(drun, sizeof drun, a.running);
    lmr__fmt_dur(dstep, sizeof dstep, a.longest_step);
    lmr__fmt_dur(dthr, sizeof dthr, a.await_thread);
    lmr__begin_diagram(o, c->opts->title, NULL, "flowchart TD");
    node(o, "START", "[", "]", (const char *[]){"What kind of work?", NULL});
    snprintf(l1, sizeof l1, "this trace awaited I/O and sleeps %s", dio);
    snprintf(l2, sizeof l2, "and ran on the loop %s", drun);
    node(o, "Q1", "{", "}",
         full ? (const char *[]){"Waiting on I/O?", "(network, files, DB)", l1, l2, NULL}
              : (const char *[]){"Waiting on I/O?", NULL});
    snprintf(l1, sizeof l1, "%" PRIu64 " tasks", a.ntasks);
    node(o, "Q2", "{", "}",
         (const char *[]){"Multiple I/O operations?", full ? l1 : NULL, NULL});
    snprintf(l1, sizeof l1, "longest step %s", dstep);
    node(o, "Q3", "{", "}",
         full ? (const char *[]){"CPU-heavy?", "(math, image processing)", l1, NULL}
              : (const char *[]){"CPU-heavy?", NULL});
    snprintf(l1, sizeof l1, "offloaded to threads %s", dthr);
    node(o, "Q4", "{", "}",
         (const char *[]){"Need shared memory?", full ? l1 : NULL, NULL});
    node(o, "ASYNC", "[", "]",
         (const char *[]){"Use asyncio", "async/await + gather()", NULL});
    node(o, "SYNC_OK", "[", "]",
         (const char *[]){"Plain sync is fine", "one request at a time", NULL});
    node(o, "SYNC", "[", "]",
         (const char *[]){"Plain sync is fine", "No concurrency needed", NULL});
    node(o, "THREAD", "[", "]", (const char *[]){"Use threading", "with locks", NULL});
    node(o, "MULTI", "[", "]",
         (const char *[]){"Use multiprocessing", "One process per core", NULL});
    snprintf(l3, sizeof l3, "This trace: %s", lmr__advise_text(a.verdict));
    node(o, "VERDICT", "[", "]",
         (const char *[]){full ? l3 : "This trace", NULL});
    /* Edge order matters: linkStyle below refers to these indexes. */
    lmr__puts(o, "    START --> Q1\n");                 /* 0 */
    edge(o, "Q1", "Yes", "Q2");                         /* 1 */
    edge(o, "Q1", "No", "Q3");                          /* 2 */
    edge(o, "Q2", "Yes", "ASYNC");                      /* 3 */
    edge(o, "Q2", "No, just one", "SYNC_OK");           /* 4 */
    edge(o, "Q3", "Yes", "Q4");                         /* 5 */
    edge(o, "Q3", "No", "SYNC");                        /* 6 */
    edge(o, "Q4", "Yes", "THREAD");                     /* 7 */
    edge(o, "Q4", "No", "MULTI");                       /* 8 */
    static const char *const leaf[] = {
        [LMR__ADV_NOTHING] = "START", [LMR__ADV_ASYNC] = "ASYNC",
        [LMR__ADV_SYNC_ONE] = "SYNC_OK", [LMR__ADV_SYNC] = "SYNC",
        [LMR__ADV_THREAD] = "THREAD", [LMR__ADV_MULTI] = "MULTI"};
    lmr__printf(o, "    %s -.- VERDICT\n", leaf[a.verdict]); /* 9 */
    /* The path taken: its nodes and edges highlighted. */
    static const char *const path_nodes[][4] = {
        [LMR__ADV_NOTHING] = {"START", NULL},
        [LMR__ADV_ASYNC] = {"START", "Q1", "Q2", "ASYNC"},
        [LMR__ADV_SYNC_ONE] = {"START", "Q1", "Q2", "SYNC_OK"},
        [LMR__ADV_SYNC] = {"START", "Q1", "Q3", "SYNC"},
        [LMR__ADV_THREAD] = {"START", "Q1", "Q3", "Q4"},
        [LMR__ADV_MULTI] = {"START", "Q1", "Q3", "Q4"}};
    static const char *const path_edges[] = {
        [LMR__ADV_NOTHING] = "9", [LMR__ADV_ASYNC] = "0,1,3,9",
        [LMR__ADV_SYNC_ONE] = "0,1,4,9", [LMR__ADV_SYNC] = "0,2,6,9",
        [LMR__ADV_THREAD] = "0,2,5,7,9", [LMR__ADV_MULTI] = "0,2,5,8,9"};
    lmr__puts(o, "    classDef path fill:#ffd43b,stroke:#e8590c,stroke-width:3px,color:#000\n");
    if (full)
        lmr__puts(o, "    classDef off fill:#f1f3f5,stroke:#ced4da,color:#868e96\n");
    static const char *const all[] = {"START", "Q1", "Q2", "Q3", "Q4", "ASYNC",
                                      "SYNC_OK", "SYNC", "THREAD", "MULTI"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        bool on = strcmp(all[i], leaf[a.verdict]) == 0;
        for (size_t k = 0; k < 4 && path_nodes[a.verdict][k]; k++)
            on = on || strcmp(all[i], path_nodes[a.verdict][k]) == 0;
        if (on || full)
            lmr__printf(o, "    class %s %s\n", all[i], on ? "path" : "off");
    }
    lmr__puts(o, "    class VERDICT path\n");
    lmr__printf(o, "    linkStyle %s stroke:#e8590c,stroke-width:4px\n",
                path_edges[a.verdict]);
}

static int ad_end(lmr__render_ctx *c)
{
    lmr__advice a;
    lmr__advise_compute(c->model, &a);
    c->out->reserve = 0;
    size_t mark = lmr__mark(c->out);
    ad_write(c, &a, true);
    if (lmr__used(c->out) > lmr__budget(c->out)) {
        lmr__rollback(c->out, mark);
        ad_write(c, &a, false);
    }
    return c->out->err;
}

const lmr__renderer lmr__view_advise = {"advise", ad_begin, NULL, ad_end};

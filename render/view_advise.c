/*
 * view_advise.c: `--view advise`, seed 002's "When to Use Which Approach"
 * decision tree with the path this trace takes highlighted, decided from
 * what the trace measured (time awaiting I/O and sleeps vs running on the
 * loop vs offloaded to threads, and the longest step that blocked the loop).
 *
 * The analysis (analysis.c) is shared with `loopmaid inspect --advise` so
 * that the summary and the picture always agree. Its figures are wall time
 * in the --from/--to window. Q4 "Need shared memory?" is about the program's
 * data, which no trace records: the node says so and both answers stay
 * open. Under the virtual clock the CPU question is marked not measured.
 * Fixed size: 10 edges, ~2.5 KB.
 */
#include "lmr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ad_begin(lmr__render_ctx *c)
{
    c->state = lmr__analysis_new(c->model, c->opts);
    c->whole_time = true; /* the analysis clips to the window itself */
    return c->state ? 0 : LMR_ENOMEM;
}

static int ad_event(lmr__render_ctx *c, const lmr__event *ev)
{
    lmr__analysis_event(c->state, ev);
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

/* "12 ms of 300 ms". */
static void of_span(char *dst, size_t n, const char *what, int64_t part,
                    int64_t whole)
{
    char p[32], w[32];
    lmr__fmt_dur(p, sizeof p, part);
    lmr__fmt_dur(w, sizeof w, whole);
    snprintf(dst, n, "%s %s of %s", what, p, w);
}

/* The root and the four questions; `full` adds what the trace measured
 * under each. */
static void question_nodes(lmr__render_ctx *c, const lmr__advice *a, bool full)
{
    lmr__out *o = c->out;
    char l0[160], l1[200], l2[200], d1[32], d2[32], d3[32];
    lmr__fmt_dur(d1, sizeof d1, a->span);
    if (c->opts->from > 0 || c->opts->to >= 0) {
        lmr__fmt_dur(d2, sizeof d2, a->t0 - c->model->t_first);
        lmr__fmt_dur(d3, sizeof d3, a->t1 - c->model->t_first);
        snprintf(l0, sizeof l0, "window %s to %s: %s", d2, d3, d1);
    } else {
        snprintf(l0, sizeof l0, "this trace: %s, %llu tasks", d1,
                 (unsigned long long)a->ntasks);
    }
    node(o, "START", "[", "]",
         (const char *[]){"What kind of work?", full ? l0 : NULL, NULL});
    of_span(l1, sizeof l1, "loop idle, awaiting I/O or timers:", a->wall_wait,
            a->span);
    if (a->cpu_measured)
        of_span(l2, sizeof l2, "computing, loop or threads:", a->wall_cpu,
                a->span);
    else
        snprintf(l2, sizeof l2, "computing: not measured (virtual clock)");
    node(o, "Q1", "{", "}",
         full ? (const char *[]){"Waiting on I/O?", "(network, files, DB)", l1, l2, NULL}
              : (const char *[]){"Waiting on I/O?", NULL});
    snprintf(l1, sizeof l1, "at most %llu in flight at once",
             (unsigned long long)a->peak_inflight);
    node(o, "Q2", "{", "}",
         (const char *[]){"Multiple I/O operations?", full ? l1 : NULL, NULL});
    if (a->cpu_measured) {
        lmr__fmt_dur(d1, sizeof d1, a->wall_run);
        lmr__fmt_dur(d2, sizeof d2, a->wall_thread);
        lmr__fmt_dur(d3, sizeof d3, a->longest_step);
        snprintf(l1, sizeof l1, "loop busy %s, thread pool busy %s", d1, d2);
        snprintf(l2, sizeof l2, "longest step %s", d3);
    } else {
        snprintf(l1, sizeof l1, "not measured: under the virtual clock");
        snprintf(l2, sizeof l2, "running and threads take no time");
    }
    node(o, "Q3", "{", "}",
         full ? (const char *[]){"CPU-heavy?", "(math, image processing)", l1, l2, NULL}
              : (const char *[]){"CPU-heavy?", NULL});
    node(o, "Q4", "{", "}",
         (const char *[]){"Need shared memory?",
                          full ? "(a trace cannot tell)" : NULL, NULL});
}

/* The five answers; the same whatever the trace says. */
static void answer_nodes(lmr__out *o)
{
    node(o, "ASYNC", "[", "]",
         (const char *[]){"Use asyncio", "async/await + gather()", NULL});
    node(o, "SYNC_OK", "[", "]",
         (const char *[]){"Plain sync is fine", "one request at a time", NULL});
    node(o, "SYNC", "[", "]",
         (const char *[]){"Plain sync is fine", "No concurrency needed", NULL});
    node(o, "THREAD", "[", "]", (const char *[]){"Use threading", "with locks", NULL});
    node(o, "MULTI", "[", "]",
         (const char *[]){"Use multiprocessing", "One process per core", NULL});
}

/* The verdict's sentence, one clause a line (at ": " and "; "), so the
 * node stays narrow and nothing is cut; without `full`, only its name. */
static void verdict_node(lmr__out *o, lmr__verdict v, bool full)
{
    char l3[300];
    snprintf(l3, sizeof l3, "This trace: %s", lmr__advise_text(v));
    const char *parts[8] = {NULL};
    size_t np = 0;
    for (char *p = l3; p && np < 7;) {
        parts[np++] = p;
        char *colon = strstr(p, ": "), *semi = strstr(p, "; ");
        char *cut = !colon ? semi : !semi ? colon : colon < semi ? colon : semi;
        if (!cut)
            break;
        cut[*cut == ':' ? 1 : 0] = '\0'; /* a colon stays, a semicolon goes */
        p = cut + 2;
    }
    if (!full) {
        parts[0] = "This trace";
        parts[1] = NULL;
    }
    lmr__node(o, "VERDICT", "[", "]", parts, 160);
}

/* Where the verdict hangs: the CPU-bound paths stop at Q4, whose
 * answer is the program's (both leaves are marked as open). */
static const char *const leaf[] = {
    [LMR__ADV_NOTHING] = "START", [LMR__ADV_ASYNC] = "ASYNC",
    [LMR__ADV_SYNC_ONE] = "SYNC_OK", [LMR__ADV_SYNC] = "SYNC",
    [LMR__ADV_CPU_POOL] = "Q4", [LMR__ADV_CPU_LOOP] = "Q4",
    [LMR__ADV_UNMEASURED] = "Q3"};

/* The tree's edges, then the verdict's dotted one. */
static void tree_edges(lmr__out *o, lmr__verdict v)
{
    /* Edge order matters: linkStyle in highlight_path refers to these
     * indexes. */
    lmr__puts(o, "    START --> Q1\n");                 /* 0 */
    edge(o, "Q1", "Yes", "Q2");                         /* 1 */
    edge(o, "Q1", "No", "Q3");                          /* 2 */
    edge(o, "Q2", "Yes", "ASYNC");                      /* 3 */
    edge(o, "Q2", "No, just one", "SYNC_OK");           /* 4 */
    edge(o, "Q3", "Yes", "Q4");                         /* 5 */
    edge(o, "Q3", "No", "SYNC");                        /* 6 */
    edge(o, "Q4", "Yes", "THREAD");                     /* 7 */
    edge(o, "Q4", "No", "MULTI");                       /* 8 */
    lmr__printf(o, "    %s -.- VERDICT\n", leaf[v]);    /* 9 */
}

/* The path taken: its nodes and edges highlighted; `full` greys the
 * nodes off it. */
static void highlight_path(lmr__out *o, lmr__verdict v, bool full)
{
    static const char *const path_nodes[][4] = {
        [LMR__ADV_NOTHING] = {"START", NULL},
        [LMR__ADV_ASYNC] = {"START", "Q1", "Q2", "ASYNC"},
        [LMR__ADV_SYNC_ONE] = {"START", "Q1", "Q2", "SYNC_OK"},
        [LMR__ADV_SYNC] = {"START", "Q1", "Q3", "SYNC"},
        [LMR__ADV_CPU_POOL] = {"START", "Q1", "Q3", "Q4"},
        [LMR__ADV_CPU_LOOP] = {"START", "Q1", "Q3", "Q4"},
        [LMR__ADV_UNMEASURED] = {"START", "Q1", "Q3", NULL}};
    static const char *const path_edges[] = {
        [LMR__ADV_NOTHING] = "9", [LMR__ADV_ASYNC] = "0,1,3,9",
        [LMR__ADV_SYNC_ONE] = "0,1,4,9", [LMR__ADV_SYNC] = "0,2,6,9",
        [LMR__ADV_CPU_POOL] = "0,2,5,9", [LMR__ADV_CPU_LOOP] = "0,2,5,9",
        [LMR__ADV_UNMEASURED] = "0,2,9"};
    bool open_q4 = v == LMR__ADV_CPU_POOL || v == LMR__ADV_CPU_LOOP;
    lmr__puts(o, "    classDef path fill:#ffd43b,stroke:#e8590c,stroke-width:3px,color:#000\n");
    if (open_q4)
        lmr__puts(o, "    classDef open fill:#fff3bf,stroke:#e8590c,stroke-dasharray:5 3,color:#000\n");
    if (full)
        lmr__puts(o, "    classDef off fill:#f1f3f5,stroke:#ced4da,color:#868e96\n");
    static const char *const all[] = {"START", "Q1", "Q2", "Q3", "Q4", "ASYNC",
                                      "SYNC_OK", "SYNC", "THREAD", "MULTI"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        bool on = strcmp(all[i], leaf[v]) == 0;
        for (size_t k = 0; k < 4 && path_nodes[v][k]; k++)
            on = on || strcmp(all[i], path_nodes[v][k]) == 0;
        bool maybe = open_q4 && (strcmp(all[i], "THREAD") == 0 ||
                                 strcmp(all[i], "MULTI") == 0);
        if (on || maybe || full)
            lmr__printf(o, "    class %s %s\n", all[i],
                        on ? "path" : maybe ? "open" : "off");
    }
    lmr__puts(o, "    class VERDICT path\n");
    lmr__printf(o, "    linkStyle %s stroke:#e8590c,stroke-width:4px\n",
                path_edges[v]);
    if (open_q4)
        lmr__puts(o, "    linkStyle 7,8 stroke:#e8590c,stroke-width:2px,stroke-dasharray:5 3\n");
}

/*
 * Writes the tree; `full` adds the measurements to the questions and the
 * verdict's sentence, `compact` (for budgets near the 1,000 minimum) keeps
 * the seed's words, the path and nothing else.
 */
static void ad_write(lmr__render_ctx *c, const lmr__advice *a, bool full)
{
    lmr__begin_diagram(c->out, c->opts->title, NULL, "flowchart TD");
    question_nodes(c, a, full);
    answer_nodes(c->out);
    verdict_node(c->out, a->verdict, full);
    tree_edges(c->out, a->verdict);
    highlight_path(c->out, a->verdict, full);
}

static int ad_end(lmr__render_ctx *c)
{
    lmr__advice a;
    lmr__analysis_finish(c->state, &a);
    c->state = NULL;
    c->out->reserve = 0;
    size_t mark = lmr__mark(c->out);
    ad_write(c, &a, true);
    if (lmr__used(c->out) > lmr__budget(c->out)) {
        lmr__rollback(c->out, mark);
        ad_write(c, &a, false);
    }
    return c->out->err;
}

const lmr__renderer lmr__view_advise = {"advise", ad_begin, ad_event, ad_end};

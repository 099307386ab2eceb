/*
 * analysis.c: where a trace's time went, for the advise view and
 * `loopmaid inspect --advise` (seed 002's "When to Use Which Approach").
 * Its own module so that inspect does not depend on a view.
 *
 * Figures are WALL time inside the --from/--to window: "the loop was idle,
 * waiting on I/O or timers, for 280 ms of 300 ms", never "awaited 1200 ms"
 * summed over four tasks that waited at the same time (those sums are kept
 * too, and always printed as sums "over N tasks"). The walker hands every
 * event of the selected tasks (whole_time); one counter per kind of state
 * says how many tasks are in it, and each stretch of time between events is
 * credited to the kinds that had a task then.
 *
 * The decision, in this order, so that timers ticking beside real work do
 * not hide it:
 *   CPU-bound   the loop ran tasks, or the thread pool ran offloaded work,
 *               for half of the window or more, or one step held the loop
 *               for 100 ms or more (asyncio's slow-callback threshold);
 *               the larger of the two says where: loop or pool;
 *   I/O-bound   else, when the idle waiting (something awaited I/O or a
 *               timer and nothing computed) is at least the computing:
 *               several operations at once -> asyncio, one -> plain sync;
 *   neither     else.
 * Under the virtual clock, running and offloaded work take no time, so the
 * CPU question cannot be answered from the trace: it is never answered
 * "no" (the verdict says it was not measured).
 */
#include "lmr_internal.h"

#include <stdlib.h>
#include <string.h>

enum { C_NONE = 0, C_READY, C_RUN, C_IO, C_SLEEP, C_THREAD, C_OTHER, C__N };

typedef struct at {
    uint8_t cat;       /* C_* */
    bool seen;         /* had a state event */
    int64_t run_start; /* when the current running stretch began */
} at;

struct lmr__analysis {
    const lmr__model *m;
    at *tasks;
    uint64_t n[C__N];
    int64_t now;
    lmr__advice a;
};

static int cat_of(int state, lmr__on on)
{
    switch (state) {
    case LMR__ST_PENDING:
        return C_READY;
    case LMR__ST_RUNNING:
        return C_RUN;
    case LMR__ST_AWAITING:
        switch (on) {
        case LMR__ON_IO: return C_IO;
        case LMR__ON_SLEEP: return C_SLEEP;
        case LMR__ON_THREAD: return C_THREAD;
        default: return C_OTHER;
        }
    default:
        return C_NONE;
    }
}

lmr__analysis *lmr__analysis_new(const lmr__model *m, const lmr_options *o)
{
    lmr__analysis *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->tasks = calloc(m->ntasks ? m->ntasks : 1, sizeof *a->tasks);
    if (!a->tasks) {
        free(a);
        return NULL;
    }
    a->m = m;
    a->a.t0 = m->t_first > o->from ? m->t_first : o->from;
    a->a.t1 = (o->to >= 0 && o->to < m->t_last) ? o->to : m->t_last;
    if (a->a.t1 < a->a.t0)
        a->a.t1 = a->a.t0;
    a->a.span = a->a.t1 - a->a.t0;
    a->a.cpu_measured = !lmr__clock_is_virtual(m->header.clock);
    for (size_t i = 0; i < m->ntasks; i++)
        a->a.ntasks += lmr__task_in_window(o, &m->tasks[i]);
    a->now = m->t_first;
    return a;
}

/* Credits [now, t) (clipped to the window) to the kinds that had a task. */
static void advance(lmr__analysis *a, int64_t t)
{
    if (t <= a->now)
        return; /* several loops interleave: time never goes back here */
    int64_t lo = a->now > a->a.t0 ? a->now : a->a.t0;
    int64_t hi = t < a->a.t1 ? t : a->a.t1;
    a->now = t;
    if (hi <= lo)
        return;
    int64_t dt = hi - lo;
    lmr__advice *v = &a->a;
    bool run = a->n[C_RUN] > 0, thr = a->n[C_THREAD] > 0;
    v->wall_run += run ? dt : 0;
    v->wall_thread += thr ? dt : 0;
    v->wall_cpu += (run || thr) ? dt : 0;
    if (!run && !thr && a->n[C_IO] + a->n[C_SLEEP] > 0)
        v->wall_wait += dt;
    v->sum_run += dt * (int64_t)a->n[C_RUN];
    v->sum_io += dt * (int64_t)a->n[C_IO];
    v->sum_sleep += dt * (int64_t)a->n[C_SLEEP];
    v->sum_thread += dt * (int64_t)a->n[C_THREAD];
    v->sum_other += dt * (int64_t)a->n[C_OTHER];
    /* Waits in flight together for some time inside the window (a wait
     * that began before the window counts once the window starts). */
    if (a->n[C_IO] + a->n[C_SLEEP] > v->peak_inflight)
        v->peak_inflight = a->n[C_IO] + a->n[C_SLEEP];
}

/* A running stretch [start, t) ends: the longest step inside the window. */
static void step_end(lmr__analysis *a, const lmr__task *t, int64_t start,
                     int64_t end)
{
    if (start < a->a.t0)
        start = a->a.t0;
    if (end > a->a.t1)
        end = a->a.t1;
    if (end - start > a->a.longest_step ||
        (end > start && a->a.longest_step_task == 0)) {
        a->a.longest_step = end - start;
        a->a.longest_step_task = t->id;
        a->a.longest_step_loop = t->loop;
    }
}

void lmr__analysis_event(lmr__analysis *a, const lmr__event *ev)
{
    if (!a || ev->kind != LMR__EV_STATE)
        return;
    const lmr__task *t = lmr__model_task(a->m, ev->loop, ev->task);
    if (!t)
        return;
    at *x = &a->tasks[t - a->m->tasks];
    advance(a, ev->t);
    if (!x->seen) {
        x->seen = true;
        x->cat = (uint8_t)cat_of(ev->from, LMR__ON_NONE);
        a->n[x->cat]++;
        if (x->cat == C_RUN)
            x->run_start = ev->t;
    }
    if (x->cat == C_RUN)
        step_end(a, t, x->run_start, ev->t);
    a->n[x->cat]--;
    x->cat = (uint8_t)cat_of(ev->to, ev->on_id);
    a->n[x->cat]++;
    if (x->cat == C_RUN)
        x->run_start = ev->t;
}

void lmr__analysis_finish(lmr__analysis *a, lmr__advice *out)
{
    memset(out, 0, sizeof *out);
    if (!a)
        return;
    advance(a, a->a.t1);
    for (size_t i = 0; i < a->m->ntasks; i++)
        if (a->tasks[i].seen && a->tasks[i].cat == C_RUN)
            step_end(a, &a->m->tasks[i], a->tasks[i].run_start, a->a.t1);
    lmr__advice *v = &a->a;
    v->multiple_io = v->peak_inflight >= 2;
    bool blocking = v->cpu_measured && v->longest_step >= LMR__BLOCKING_STEP_NS;
    v->cpu_heavy = v->cpu_measured && v->span > 0 &&
                   (v->wall_cpu * 2 >= v->span || blocking);
    v->waits_on_io = !v->cpu_heavy && v->wall_wait > 0 &&
                     v->wall_wait >= v->wall_cpu;
    bool any = v->sum_run + v->sum_io + v->sum_sleep + v->sum_thread +
                   v->sum_other > 0 || v->longest_step_task != 0;
    if (v->ntasks == 0 || !any)
        v->verdict = LMR__ADV_NOTHING;
    else if (v->cpu_heavy)
        v->verdict = (blocking || v->wall_run >= v->wall_thread)
                         ? LMR__ADV_CPU_LOOP : LMR__ADV_CPU_POOL;
    else if (v->waits_on_io)
        v->verdict = v->multiple_io ? LMR__ADV_ASYNC : LMR__ADV_SYNC_ONE;
    else if (!v->cpu_measured)
        v->verdict = LMR__ADV_UNMEASURED;
    else
        v->verdict = LMR__ADV_SYNC;
    *out = *v;
    free(a->tasks);
    free(a);
}

/* See lmr_internal.h. The trace may name the group's owner as the
 * canceller: then the cause is a failed member of one of t's groups. */
const lmr__task *lmr__group_culprit(const lmr__model *m, const lmr__task *t)
{
    if (t->cancelled_by && t->cancelled_by != t->id) {
        const lmr__task *by = lmr__model_task(m, t->loop, t->cancelled_by);
        if (by && by->state == LMR__ST_FAILED)
            return by;
    }
    if (m->ngroups > 100000)
        return NULL;
    for (size_t g = 0; g < m->ngroups; g++) {
        const lmr__group *gr = &m->groups[g];
        if (gr->loop != t->loop)
            continue;
        bool member = false;
        for (size_t k = 0; k < gr->nmembers && !member; k++)
            member = gr->members[k] == t->id;
        for (size_t k = 0; member && k < gr->nmembers; k++) {
            const lmr__task *s = lmr__model_task(m, t->loop, gr->members[k]);
            if (s && s != t && s->state == LMR__ST_FAILED &&
                s->t_end <= t->t_end)
                return s;
        }
    }
    return NULL;
}

const char *lmr__advise_text(lmr__verdict v)
{
    switch (v) {
    case LMR__ADV_ASYNC:
        return "I/O-bound with several operations in flight at once: "
               "async/await with gather fits this workload";
    case LMR__ADV_SYNC_ONE:
        return "I/O-bound but one operation at a time: plain sequential code "
               "would do as well";
    case LMR__ADV_SYNC:
        return "neither waits nor computes much: no concurrency is needed";
    case LMR__ADV_CPU_POOL:
        return "CPU-bound, and the work already runs in the thread pool, off "
               "the loop: threads if it needs shared memory, processes if not "
               "(a trace cannot tell which)";
    case LMR__ADV_CPU_LOOP:
        return "CPU-bound on the loop thread: its steps block every other "
               "task; move the work to processes, or to threads if it needs "
               "shared memory (a trace cannot tell which)";
    case LMR__ADV_UNMEASURED:
        return "the virtual clock does not measure CPU time: record a trace "
               "with the real clock to judge this program";
    default:
        return "the trace has no task activity to judge";
    }
}

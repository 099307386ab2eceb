/*
 * export.c: `loopmaid export --format chrome`, a trace as Chrome trace-event
 * JSON for Perfetto UI and chrome://tracing, for when a diagram is not enough.
 *
 * The mapping (one line of JSON per event, so the output greps and diffs):
 *   - pid = the trace's loop number, named after the loop ("process_name");
 *     tid = the task id, named after the task ("thread_name") and sorted in
 *     spawn order; tid 0 is the loop's own track (polls, callbacks, timers,
 *     notes written outside tasks);
 *   - a complete slice ("ph":"X") for every stretch a task spent running,
 *     awaiting (named by what it awaited: "await sleep", "await task fetch"),
 *     or ready in the queue ("ready"), and one per poll on the loop's track;
 *   - instant events ("ph":"i") for notes, cancellation requests, failures
 *     and cancellations, dropped events (flight recorder);
 *   - flow arrows ("ph":"s" then "ph":"f") for every wake with a known waker:
 *     a task that ended or released something -> the task it woke, a timer or
 *     an fd (the loop's track) -> the sleeper / reader, a canceller -> the
 *     task it cancelled.
 * Times are microseconds with nanosecond decimals, as the format wants.
 *
 * It is a renderer behind the shared walker, so --tasks/--exclude/--from/--to
 * mean what they mean in the views. Unlike the views it streams: the buffer
 * is drained to the output file every 64 KiB, and the only state kept is one
 * small slot per task, so memory grows with the number of tasks, never with
 * the number of events.
 *
 * JSON strings are written here (the only JSON this program emits): UTF-8 is
 * passed through (the reader already refused invalid UTF-8), `"` and `\` are
 * escaped, control characters become \u00XX; nothing else is needed for any
 * JSON parser, and no name can end a string early.
 */
#include "lmr_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Drain the buffer to the file once it holds this much. */
#define EXPORT_CHUNK (64u * 1024u)
/* A slice name is cut here: Perfetto shows the start of it anyway. */
#define SLICE_NAME_MAX 120

typedef struct slot {
    int state;              /* the state the task is in (lmr__ST_*), -1 unknown */
    int64_t since;          /* when it entered it */
    char what[SLICE_NAME_MAX]; /* the slice's name, composed on entry */
} slot;

typedef struct exporter {
    slot *slots;            /* one per model task, same index */
    uint64_t flow_id;       /* the last flow arrow's id */
    bool first;             /* no event line written yet (no comma) */
    int rc;                 /* the first write error */
} exporter;

/* ------------------------------------------------------------------------ */
/* JSON output                                                               */
/* ------------------------------------------------------------------------ */

static void json_str(lmr__out *o, const char *s)
{
    lmr__puts(o, "\"");
    const char *run = s;
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch != '"' && ch != '\\' && ch >= 0x20)
            continue;
        lmr__outn(o, run, (size_t)(s - run));
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            lmr__outn(o, esc, 2);
        } else {
            lmr__printf(o, "\\u%04x", ch);
        }
        run = s + 1;
    }
    if (s)
        lmr__outn(o, run, (size_t)(s - run));
    lmr__puts(o, "\"");
}

/* Microseconds with three decimals: exact for any nanosecond count. */
static void json_us(lmr__out *o, int64_t ns)
{
    if (ns < 0) {
        lmr__puts(o, "-");
        ns = ns == INT64_MIN ? INT64_MAX : -ns;
    }
    lmr__printf(o, "%" PRId64 ".%03d", ns / 1000, (int)(ns % 1000));
}

/* Writes what the buffer holds to the sink and empties it. */
static void drain(lmr__render_ctx *c, bool always)
{
    exporter *x = c->state;
    lmr__out *o = c->out;
    size_t n = o->buf->len - o->start;
    if (!o->sink || n == 0 || (!always && n < EXPORT_CHUNK))
        return;
    if (fwrite(o->buf->data + o->start, 1, n, o->sink) != n && x->rc == 0)
        x->rc = LMR_EIO;
    o->buf->len = o->start;
    o->buf->data[o->start] = '\0';
}

/* Starts one event object: `{"ph":"X","pid":1,"tid":2,"ts":0.000` */
static void ev_open(lmr__render_ctx *c, char ph, uint32_t loop, uint64_t tid,
                    int64_t t)
{
    exporter *x = c->state;
    lmr__out *o = c->out;
    lmr__outn(o, x->first ? "\n" : ",\n", x->first ? 1 : 2);
    x->first = false;
    lmr__printf(o, "{\"ph\":\"%c\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu64
                   ",\"ts\":", ph, loop, tid);
    json_us(o, t);
}

static void ev_close(lmr__render_ctx *c)
{
    lmr__puts(c->out, "}");
    drain(c, false);
}

static void metadata(lmr__render_ctx *c, const char *what, uint32_t loop,
                     uint64_t tid, const char *name)
{
    ev_open(c, 'M', loop, tid, 0);
    lmr__printf(c->out, ",\"name\":\"%s\",\"args\":{\"name\":", what);
    json_str(c->out, name);
    lmr__puts(c->out, "}");
    ev_close(c);
}

/* An instant on a track, with an optional `"args":{"text":...}`. */
static void instant(lmr__render_ctx *c, uint32_t loop, uint64_t tid, int64_t t,
                    const char *cat, const char *name, const char *text)
{
    ev_open(c, 'i', loop, tid, t);
    lmr__printf(c->out, ",\"s\":\"t\",\"cat\":\"%s\",\"name\":", cat);
    json_str(c->out, name);
    if (text) {
        lmr__puts(c->out, ",\"args\":{\"text\":");
        json_str(c->out, text);
        lmr__puts(c->out, "}");
    }
    ev_close(c);
}

/* A flow arrow from track `from` to track `to` at time t. */
static void flow(lmr__render_ctx *c, uint32_t loop, uint64_t from, uint64_t to,
                 int64_t t, const char *name)
{
    exporter *x = c->state;
    uint64_t id = ++x->flow_id;
    ev_open(c, 's', loop, from, t);
    lmr__printf(c->out, ",\"cat\":\"wake\",\"id\":%" PRIu64 ",\"name\":", id);
    json_str(c->out, name);
    ev_close(c);
    ev_open(c, 'f', loop, to, t);
    lmr__printf(c->out, ",\"bp\":\"e\",\"cat\":\"wake\",\"id\":%" PRIu64
                        ",\"name\":", id);
    json_str(c->out, name);
    ev_close(c);
}

/* ------------------------------------------------------------------------ */
/* Slices                                                                    */
/* ------------------------------------------------------------------------ */

static const char *task_name(const lmr__model *m, uint32_t loop, uint64_t id)
{
    const lmr__task *t = lmr__model_task(m, loop, id);
    return t && t->name ? t->name : "?";
}

/* The name of the slice a task starts with this state event. */
static void slice_name(const lmr__render_ctx *c, const lmr__event *e,
                       char *dst, size_t n)
{
    switch (e->to) {
    case LMR__ST_RUNNING:
        snprintf(dst, n, "running");
        return;
    case LMR__ST_PENDING:
        snprintf(dst, n, "ready");
        return;
    default:
        break;
    }
    const char *on = e->on ? e->on : "?";
    if (e->awaits)
        snprintf(dst, n, "await %s %s", on,
                 task_name(c->model, e->loop, e->awaits));
    else if (e->fd >= 0)
        snprintf(dst, n, "await %s fd %" PRId64 "%s%s", on, e->fd,
                 e->dir ? " " : "", e->dir ? e->dir : "");
    else if (e->label && !strncmp(e->label, on, strlen(on)))
        snprintf(dst, n, "await %s", e->label); /* "gather(A, B)" */
    else if (e->label)
        snprintf(dst, n, "await %s %s", on, e->label);
    else
        snprintf(dst, n, "await %s", on);
}

static bool has_slice(int state)
{
    return state == LMR__ST_RUNNING || state == LMR__ST_AWAITING ||
           state == LMR__ST_PENDING;
}

/* Ends the task's open slice (if any) at time t. */
static void slice_end(lmr__render_ctx *c, const lmr__task *t, slot *s,
                      int64_t at)
{
    if (!has_slice(s->state))
        return;
    static const char *const cat[LMR__ST__COUNT] = {
        [LMR__ST_RUNNING] = "running",
        [LMR__ST_AWAITING] = "awaiting",
        [LMR__ST_PENDING] = "ready",
    };
    ev_open(c, 'X', t->loop, t->id, s->since);
    lmr__puts(c->out, ",\"dur\":");
    json_us(c->out, at > s->since ? at - s->since : 0);
    lmr__printf(c->out, ",\"cat\":\"%s\",\"name\":", cat[s->state]);
    json_str(c->out, s->what);
    ev_close(c);
    s->state = -1;
}

static slot *slot_of(lmr__render_ctx *c, uint32_t loop, uint64_t id,
                     const lmr__task **tp)
{
    exporter *x = c->state;
    const lmr__task *t = lmr__model_task(c->model, loop, id);
    *tp = t;
    return t ? &x->slots[t - c->model->tasks] : NULL;
}

/* What woke a task, for the flow arrow's name and its source track. */
static bool waker(const lmr__event *e, uint64_t *from, const char **what)
{
    const char *by = e->by ? e->by : "";
    if (e->by_task) {
        *from = e->by_task;
        *what = by[0] ? by : "wake";
        return true;
    }
    switch (e->by_id) {
    case LMR__BY_TIMER:
    case LMR__BY_TIMEOUT:
    case LMR__BY_IO:
    case LMR__BY_THREAD:
        *from = 0; /* the loop's own track: its timers, poller, pool */
        *what = by;
        return true;
    default:
        return false;
    }
}

static void on_state(lmr__render_ctx *c, const lmr__event *e)
{
    const lmr__task *t;
    slot *s = slot_of(c, e->loop, e->task, &t);
    if (!s)
        return;
    slice_end(c, t, s, e->t);
    if (has_slice(e->to)) {
        s->state = e->to;
        s->since = e->t;
        slice_name(c, e, s->what, sizeof s->what);
    }
    uint64_t from;
    const char *what;
    if ((e->to == LMR__ST_PENDING || e->to == LMR__ST_CANCELLED) &&
        e->from == LMR__ST_AWAITING && waker(e, &from, &what))
        flow(c, e->loop, from, e->task, e->t, what);
    if (e->to == LMR__ST_FAILED) {
        char name[160];
        snprintf(name, sizeof name, "failed: %s",
                 e->error ? e->error : "error");
        instant(c, e->loop, e->task, e->t, "outcome", name, e->message);
    } else if (e->to == LMR__ST_CANCELLED) {
        instant(c, e->loop, e->task, e->t, "outcome", "cancelled", NULL);
    }
}

/* ------------------------------------------------------------------------ */
/* The renderer                                                              */
/* ------------------------------------------------------------------------ */

static int ex_begin(lmr__render_ctx *c)
{
    const lmr__model *m = c->model;
    exporter *x = calloc(1, sizeof *x);
    if (!x)
        return LMR_ENOMEM;
    x->slots = calloc(m->ntasks ? m->ntasks : 1, sizeof *x->slots);
    if (!x->slots) {
        free(x);
        return LMR_ENOMEM;
    }
    for (size_t i = 0; i < m->ntasks; i++)
        x->slots[i].state = -1;
    x->first = true;
    c->state = x;

    lmr__out *o = c->out;
    lmr__puts(o, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"program\":");
    json_str(o, m->header.program ? m->header.program : "");
    lmr__puts(o, ",\"clock\":");
    json_str(o, m->header.clock ? m->header.clock : "");
    /* No version here: the same trace exports to the same bytes whatever
     * release wrote it (goldens, diffs). */
    lmr__printf(o, ",\"generator\":\"loopmaid export\",\"format\":%d},"
                   "\"traceEvents\":[", LMR_TRACE_FORMAT_MAJOR);
    for (uint32_t i = 0; i < m->nloops; i++) {
        const lmr__loop *l = &m->loops[i];
        metadata(c, "process_name", l->id, 0, l->name ? l->name : "loop");
        metadata(c, "thread_name", l->id, 0, "loop: polls, timers, callbacks");
    }
    for (size_t i = 0; i < m->ntasks; i++) {
        const lmr__task *t = &m->tasks[i];
        if (!lmr__task_in_window(c->opts, t))
            continue;
        metadata(c, "thread_name", t->loop, t->id, t->name ? t->name : "?");
        ev_open(c, 'M', t->loop, t->id, 0);
        lmr__printf(o, ",\"name\":\"thread_sort_index\",\"args\":"
                       "{\"sort_index\":%" PRIu32 "}", t->ord + 1);
        ev_close(c);
    }
    return o->err;
}

static int ex_event(lmr__render_ctx *c, const lmr__event *e)
{
    const lmr__model *m = c->model;
    char name[160];
    switch (e->kind) {
    case LMR__EV_STATE:
        on_state(c, e);
        break;
    case LMR__EV_NOTE:
        instant(c, e->loop, e->task, e->t, "note", "note", e->text);
        break;
    case LMR__EV_CANCEL: {
        snprintf(name, sizeof name, "cancel requested (%s)",
                 e->reason ? e->reason : "?");
        instant(c, e->loop, e->task, e->t, "cancel", name, NULL);
        if (e->by_task && e->by_task != e->task)
            flow(c, e->loop, e->by_task, e->task, e->t, "cancel");
        break;
    }
    case LMR__EV_POLL: {
        int64_t waited = e->waited > 0 ? e->waited : 0;
        ev_open(c, 'X', e->loop, 0, e->t - waited);
        lmr__puts(c->out, ",\"dur\":");
        json_us(c->out, waited);
        lmr__printf(c->out, ",\"cat\":\"poll\",\"name\":\"poll\",\"args\":"
                            "{\"timeout_ns\":%" PRId64 ",\"ready\":%" PRId64
                            "}", e->timeout, e->ready > 0 ? e->ready : 0);
        ev_close(c);
        break;
    }
    case LMR__EV_CALL:
        instant(c, e->loop, 0, e->t, "call", "callback", e->label);
        break;
    case LMR__EV_GAP:
        snprintf(name, sizeof name, "%" PRId64 " events dropped",
                 e->dropped > 0 ? e->dropped : 0);
        instant(c, e->loop, 0, e->t, "gap", name, NULL);
        break;
    case LMR__EV_LOOP_END:
        /* Everything of this loop still open ends with it. */
        for (size_t i = 0; i < m->ntasks; i++)
            if (m->tasks[i].loop == e->loop)
                slice_end(c, &m->tasks[i], &((exporter *)c->state)->slots[i],
                          e->t);
        break;
    default:
        break;
    }
    return c->out->err;
}

static int ex_end(lmr__render_ctx *c)
{
    exporter *x = c->state;
    if (!x)
        return 0;
    const lmr__model *m = c->model;
    /* A truncated trace: slices still open end with the last event. */
    for (size_t i = 0; i < m->ntasks; i++)
        slice_end(c, &m->tasks[i], &x->slots[i], m->t_last);
    lmr__puts(c->out, "\n]}\n");
    drain(c, true);
    int rc = x->rc ? x->rc : c->out->err;
    free(x->slots);
    free(x);
    c->state = NULL;
    return rc;
}

static const lmr__renderer chrome = {"chrome", ex_begin, ex_event, ex_end};

int lmr_export_file(const char *path, const lmr_options *o, FILE *out,
                    FILE *warn, lmr_error *err)
{
    lmr__entry e;
    lmr__entry_begin(&e, o, warn, err);
    err = e.err;
    lmr_buf buf = {0};
    lmr__out lo = {.buf = &buf, .max_chars = SIZE_MAX / 4, .sink = out};
    int rc = lmr__run_passes(path, e.o, &chrome, &lo, e.warn, true, err);
    lmr_buf_free(&buf);
    /* A failed write (a full disk, a closed pipe) is the output's fault,
     * not the trace's: say so rather than "input/output error". */
    if ((fflush(out) != 0 || ferror(out)) && (rc == 0 || rc == LMR_EIO))
        rc = lmr__err(err, LMR_EIO, "loopmaid", 0, 0,
                      "cannot write the export: %s", strerror(errno));
    return rc;
}

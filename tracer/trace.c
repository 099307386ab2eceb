/*
 * trace.c: the trace hooks the runtime calls through LM__TRACE, and the
 * public tracing API (lm_trace_*, lm_note, lm_notef).
 *
 * Every hook takes a slot in the loop's record array, fills it and commits:
 * no formatting, no lock, no allocation (strings: see lm_trace.h). The array
 * leaves the loop thread in trace_buf.c at tick boundaries, when it fills, at
 * loop end and at flush; the YAML is made there or on the writer thread. The format is docs/trace-format.md.
 */
#include "lm_runtime.h" /* struct lm_loop: its clock origin */
#include "lm_trace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Opening                                                                   */
/* ------------------------------------------------------------------------ */

/* A bad value is reported and fails lm_loop_new: a typo must not turn a
 * flight recorder into a full trace (or nothing) without a word. */
static int ring_from_env(lm__trace *tr)
{
    const char *r = getenv("LOOPMAID_TRACE_RING");
    if (r == NULL || *r == '\0')
        return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(r, &end, 10);
    if (errno != 0 || *end != '\0' || n == 0 || r[0] < '0' || r[0] > '9') {
        fprintf(stderr, "loopmaid: LOOPMAID_TRACE_RING=%s: not a positive "
                        "number of events\n", r);
        return LM_EINVAL;
    }
    int rc = lm__trace_set_ring(tr, (size_t)n);
    if (rc != 0)
        fprintf(stderr, "loopmaid: LOOPMAID_TRACE_RING=%s: %s\n", r,
                lm_strerror(rc));
    return rc;
}

/* LOOPMAID_TRACE_TSC: unset, empty or 1 (the default: use the counter where
 * it is sound), or 0. Anything else is refused like any bad value. */
static int tsc_env_check(void)
{
    const char *v = getenv("LOOPMAID_TRACE_TSC");
    if (v == NULL || *v == '\0' || strcmp(v, "0") == 0 || strcmp(v, "1") == 0)
        return 0;
    fprintf(stderr, "loopmaid: LOOPMAID_TRACE_TSC=%s: not 0 or 1\n", v);
    return LM_EINVAL;
}

/* LOOPMAID_TRACE_FORMAT: unset or empty (the path decides: ".lmt" is
 * binary), yaml or binary. Anything else is refused like any bad value. */
static int format_env(int *fmt)
{
    const char *v = getenv("LOOPMAID_TRACE_FORMAT");
    *fmt = -1;
    if (v == NULL || *v == '\0')
        return 0;
    if (strcmp(v, "yaml") == 0 || strcmp(v, "binary") == 0) {
        *fmt = v[0] == 'b';
        return 0;
    }
    fprintf(stderr, "loopmaid: LOOPMAID_TRACE_FORMAT=%s: not yaml or binary\n", v);
    return LM_EINVAL;
}

int lm__trace_from_env(lm_loop *loop, lm__trace **out)
{
    (void)loop; /* its clock is read at loop_start: it may be half made now */
    *out = NULL;
    const char *path = getenv("LOOPMAID_TRACE");
    if (path == NULL || *path == '\0')
        return 0;
    int fmt;
    if (tsc_env_check() != 0 || format_env(&fmt) != 0) {
        errno = EINVAL;
        return LM_EINVAL;
    }
    lm__sink *s;
    int rc = lm__sink_open_path_fmt(path, true, fmt, &s);
    if (rc != 0) {
        /* lm_loop_new fails: asked for a trace, the user must get one. */
        int e = errno;
        fprintf(stderr, "loopmaid: LOOPMAID_TRACE=%s: %s%s\n", path,
                rc == LM_ESYS ? strerror(e) : lm_strerror(rc),
                strncmp(path, "fd:", 3) == 0
                    ? " (fd:N needs N open for writing, e.g. 3>trace.yaml)"
                    : "");
        errno = rc == LM_ESYS ? e : EINVAL;
        return rc;
    }
    lm__trace *tr = lm__trace_new(s, LM_CLOCK_MONOTONIC);
    if (tr == NULL)
        return LM_ENOMEM;
    if ((rc = ring_from_env(tr)) != 0) {
        lm__trace_free(tr);
        errno = EINVAL;
        return rc;
    }
    *out = tr;
    return 0;
}

void lm__trace_destroy(lm__trace *tr) { lm__trace_free(tr); }

/* Replaces the loop's trace by one writing to sink (reference taken over). */
static int attach(lm_loop *loop, lm__sink *s)
{
    lm__trace *tr = lm__trace_new(s, lm_loop_clock(loop));
    if (tr == NULL)
        return LM_ENOMEM;
    lm__trace *old = lm__loop_trace(loop);
    if (old != NULL && old->program != NULL) {
        tr->program = old->program; /* a name set before the switch stays */
        old->program = NULL;
    }
    lm__loop_set_trace(loop, tr);
    lm__trace_free(old);
    return 0;
}

int lm_trace_open(lm_loop *loop, const char *path)
{
    if (loop == NULL || path == NULL || *path == '\0')
        return LM_EINVAL;
    lm__sink *s;
    int rc = lm__sink_open_path(path, false, &s);
    return rc != 0 ? rc : attach(loop, s);
}

int lm_trace_file(lm_loop *loop, FILE *fp)
{
    if (loop == NULL || fp == NULL)
        return LM_EINVAL;
    lm__sink *s;
    int rc = lm__sink_open_file(fp, &s);
    return rc != 0 ? rc : attach(loop, s);
}

int lm_trace_set_program(lm_loop *loop, const char *name)
{
    if (loop == NULL || name == NULL)
        return LM_EINVAL;
    lm__trace *tr = lm__loop_trace(loop);
    if (tr == NULL)
        return LM_ESTATE; /* tracing is off: open a trace first */
    char *p = strdup(name);
    if (p == NULL)
        return LM_ENOMEM;
    free(tr->program);
    tr->program = p;
    return 0;
}

int lm_trace_ring(lm_loop *loop, size_t n)
{
    if (loop == NULL)
        return LM_EINVAL;
    lm__trace *tr = lm__loop_trace(loop);
    if (tr == NULL)
        return LM_ESTATE;
    return lm__trace_set_ring(tr, n);
}

int lm_trace_flush(lm_loop *loop)
{
    if (loop == NULL)
        return LM_EINVAL;
    lm__trace *tr = lm__loop_trace(loop);
    return tr != NULL ? lm__trace_flush_now(tr) : 0;
}

void lm_trace_close(lm_loop *loop)
{
    if (loop == NULL)
        return;
    lm__trace *tr = lm__loop_trace(loop);
    if (tr == NULL)
        return;
    lm__loop_set_trace(loop, NULL);
    lm__trace_free(tr);
}

/* ------------------------------------------------------------------------ */
/* The clock                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * Under the monotonic clock every record needs a time stamp, and
 * clock_gettime(CLOCK_MONOTONIC) was the largest single cost of a traced
 * event on the loop thread (26 ns in the vDSO of the 2-core VM the benchmarks
 * run on; rdtsc is 11 ns there, bench/README.md). So when the loop thread
 * hands its records to the writer thread (trace_buf.c), it stamps them with
 * the raw time stamp counter, and the records are put back into loop time
 * when they are formatted: each array of records carries two anchors, (TSC,
 * CLOCK_MONOTONIC) pairs read when the array was emptied before and when it
 * is passed on, and a stamp is interpolated between them (lm__tscmap). The
 * stamps are then exactly the monotonic clock at every anchor, never
 * decrease (each is clamped to its array's anchors, and one array's end is
 * the next one's start), and in between are off by the clock's slewing over
 * the span of one array: arrays are passed on at least every 100 ms while
 * events come, and a loop blocked in poll records nothing in the middle.
 *
 * Only where that is sound: x86-64 with an invariant TSC (CPUID) that the
 * kernel itself uses as its clocksource (so it found the counters in step
 * across cores), a trace that goes to the writer thread, the monotonic clock.
 * LOOPMAID_TRACE_TSC=0 turns it off (for comparisons). Everything else,
 * the virtual clock first of all, keeps lm__loop_stamp.
 */

static bool g_tsc_ok;
static pthread_once_t g_tsc_once = PTHREAD_ONCE_INIT;

static void tsc_probe(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
                     : "a"(0x80000000u), "c"(0));
    if (a < 0x80000007u)
        return;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
                     : "a"(0x80000007u), "c"(0));
    if (!(d & (1u << 8)))
        return; /* no invariant TSC */
    FILE *fp = fopen("/sys/devices/system/clocksource/clocksource0/"
                     "current_clocksource", "re");
    if (fp == NULL)
        return;
    char buf[32] = "";
    bool tsc = fgets(buf, sizeof buf, fp) != NULL && strcmp(buf, "tsc\n") == 0;
    fclose(fp);
    g_tsc_ok = tsc;
#endif
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

lm__tscmap lm__tscmap_make(uint64_t from, uint64_t tsc0, int64_t ns0,
                           uint64_t tsc1, int64_t ns1)
{
    lm__tscmap m = {.from = from, .tsc0 = tsc0, .ns0 = ns0,
                    .ns1 = ns1 > ns0 ? ns1 : ns0};
    if (tsc1 > tsc0 && ns1 > ns0) {
        unsigned __int128 q =
            ((unsigned __int128)(uint64_t)(ns1 - ns0) << 32) / (tsc1 - tsc0);
        m.mult = q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
    }
    return m;
}

lm__tscmap lm__trace_tscmap_now(const lm__trace *tr, uint64_t *tsc, int64_t *ns)
{
    if (!tr->tsc) {
        *tsc = 0;
        *ns = 0;
        return (lm__tscmap){.from = UINT64_MAX};
    }
    /* TSC first: every record already stamped has a smaller reading. */
    *tsc = lm__tsc_read();
    *ns = mono_ns() - tr->mono_start;
    return lm__tscmap_make(tr->tsc_from, tr->tsc0, tr->ns0, *tsc, *ns);
}

/* At loop_start: raw stamps from the next record on, where they are sound. */
static void tsc_start(lm__trace *tr, lm_loop *loop)
{
    const char *env = getenv("LOOPMAID_TRACE_TSC");
    if (tr->tsc || tr->ring || tr->sink == NULL || tr->sink->fp != NULL ||
        lm_loop_clock(loop) != LM_CLOCK_MONOTONIC ||
        (env != NULL && strcmp(env, "0") == 0))
        return;
    pthread_once(&g_tsc_once, tsc_probe);
    if (!g_tsc_ok)
        return;
    /* The loop's origin, as lm__loop_stamp subtracts it. */
    tr->mono_start = loop->mono_start;
    tr->tsc0 = lm__tsc_read();
    tr->last_tsc = tr->tsc0;
    tr->ns0 = mono_ns() - tr->mono_start;
    tr->tsc_from = tr->wr;
    tr->tsc = true;
}

/* ------------------------------------------------------------------------ */
/* Hooks                                                                     */
/* ------------------------------------------------------------------------ */

/* A zeroed slot stamped with the loop's clock. A hook stores its arena
 * string (str_ref, lm__trace_blob; one at most) before it takes the slot:
 * storing one may pass the array to the writer (lm__trace_pass), which would
 * take the slot with it. The store makes room in a full array first, so the
 * slot taken here never passes the string's arena away. Interning never
 * passes. */
static inline lm__rec *rec_begin(lm__trace *tr, lm_loop *loop, uint8_t kind)
{
    lm__rec *r = lm__trace_slot(tr);
    *r = (lm__rec){.t = tr->tsc ? (int64_t)lm__trace_tsc(tr) : lm__loop_stamp(loop),
                   .kind = kind};
    return r;
}

static uint32_t str_ref(lm__trace *tr, const char *s)
{
    return lm__trace_str(tr, s ? s : "", s ? strlen(s) : 0);
}

void lm__tr_loop_start(lm__trace *tr, lm_loop *loop, int unused)
{
    (void)unused;
    tr->clock = lm_loop_clock(loop);
    tsc_start(tr, loop);
    uint32_t name = str_ref(tr, lm__loop_name(loop));
    lm__rec *r = rec_begin(tr, loop, LM__R_LOOP_START);
    r->s2 = name;
    lm__trace_commit(tr);
}

void lm__tr_loop_end(lm__trace *tr, lm_loop *loop, int unused)
{
    (void)unused;
    rec_begin(tr, loop, LM__R_LOOP_END);
    lm__trace_commit(tr);
    lm__trace_flush_now(tr);
}

void lm__tr_spawn(lm__trace *tr, lm_loop *loop, const lm_task *t)
{
    uint32_t name = str_ref(tr, t->name);
    lm__rec *r = rec_begin(tr, loop, LM__R_SPAWN);
    r->a = t->id;
    r->b = t->parent_id;
    r->s2 = name;
    lm__trace_commit(tr);
}

/* Every state record the fast path of lm__tr_state_hot does not take: a
 * failure (its message), a label to intern, a full array, or stamps from
 * the loop's clock (the virtual clock, so every golden, comes here). */
static __attribute__((noinline)) void state_general(lm__trace *tr, lm_loop *loop,
                                                    const lm_task *t, lm_state from,
                                                    lm_state to, const lm__reason *rs)
{
    uint32_t msg_ref = 0;
    if (to == LM_STATE_FAILED) {
        /* Failures are rare: copying the message here costs nothing. */
        const char *msg = rs != NULL && rs->message ? rs->message
                                                    : t->error_message;
        if (msg != NULL)
            msg_ref = str_ref(tr, msg);
    }
    lm__rec *r = rec_begin(tr, loop, LM__R_STATE);
    lm__trace_state_fill(r, r->t, t, from, to, rs);
    if (rs != NULL && rs->label != NULL)
        r->s1 = lm__trace_intern(tr, rs->label);
    if (to == LM_STATE_FAILED) {
        r->i = rs != NULL && rs->error != 0 ? rs->error : t->error;
        r->s2 = msg_ref;
    }
    lm__trace_commit(tr);
}

/* The out-of-line hook: task.c calls lm__tr_state_hot (lm_trace.h), whose
 * fast path is inlined there; what it does not take comes here. */
void lm__tr_state(lm__trace *tr, lm_loop *loop, const lm_task *t,
                  lm_state from, lm_state to, const lm__reason *rs)
{
    state_general(tr, loop, t, from, to, rs);
}

/* A note and a rename are the same record: a task and one text. */
static void task_text(lm__trace *tr, lm_loop *loop, uint8_t kind, uint64_t task,
                      const char *text)
{
    uint32_t ref = str_ref(tr, text); /* before the slot (see rec_begin) */
    lm__rec *r = rec_begin(tr, loop, kind);
    r->a = task;
    r->s2 = ref;
    lm__trace_commit(tr);
}

void lm__tr_note(lm__trace *tr, lm_loop *loop, uint64_t task, const char *text)
{
    task_text(tr, loop, LM__R_NOTE, task, text);
}

void lm__tr_name(lm__trace *tr, lm_loop *loop, uint64_t task, const char *name)
{
    task_text(tr, loop, LM__R_NAME, task, name);
}

void lm__tr_group(lm__trace *tr, lm_loop *loop, uint32_t group, uint8_t kind,
                  uint64_t owner, const uint64_t *members, size_t n, int mode,
                  lm_time timeout, const char *label)
{
    if (n > (size_t)INT32_MAX / 8)
        n = (size_t)INT32_MAX / 8;
    uint32_t blob = lm__trace_blob(tr, members, n * sizeof *members);
    lm__rec *r = rec_begin(tr, loop, LM__R_GROUP);
    r->a = group;
    r->b = owner;
    r->p0 = kind;
    r->i = (int32_t)n;
    r->s2 = blob;
    /* mode: gather passes its flags, wait its lm_wait_mode (lm_internal.h). */
    if (kind == LM__GROUP_GATHER)
        r->p1 = (mode & LM_GATHER_RETURN_EXCEPTIONS)  ? 2
                : (mode & LM_GATHER_CANCEL_ON_ERROR) ? 6
                                                     : 1;
    else if (kind == LM__GROUP_WAIT && mode >= LM_FIRST_COMPLETED &&
             mode <= LM_ALL_COMPLETED)
        r->p1 = (uint8_t)(mode + 2);
    r->c = (kind == LM__GROUP_WAIT || kind == LM__GROUP_WAIT_FOR) && timeout >= 0
               ? timeout
               : -1;
    if (label != NULL)
        r->s1 = lm__trace_intern(tr, label);
    lm__trace_commit(tr);
}

void lm__tr_group_end(lm__trace *tr, lm_loop *loop, uint32_t group,
                      const char *outcome, int error)
{
    lm__rec *r = rec_begin(tr, loop, LM__R_GROUP_END);
    r->a = group;
    r->i = error;
    r->p0 = LM__OUT_OTHER;
    for (uint8_t k = 1; k < LM__OUT__COUNT; k++)
        if (outcome != NULL && strcmp(outcome, lm__outcome_tok[k]) == 0)
            r->p0 = k;
    if (r->p0 == LM__OUT_OTHER && outcome != NULL)
        r->s1 = lm__trace_intern(tr, outcome);
    lm__trace_commit(tr);
}

/* A record with no string of its own to store (s1 at most an id already
 * interned), stored member by member as in lm__trace_state_fill. */
static inline void plain_fill(lm__rec *r, int64_t stamp, uint8_t kind, uint64_t a,
                              uint64_t b, int64_t c, int32_t i, uint32_t s1,
                              uint8_t p0)
{
    r->t = stamp;
    r->a = a;
    r->b = b;
    r->c = c;
    r->s1 = s1;
    r->s2 = 0;
    r->i = i;
    r->kind = kind;
    r->p0 = p0;
    r->p1 = 0;
    r->p2 = 0;
}

static __attribute__((noinline)) void plain_general(lm__trace *tr, lm_loop *loop,
                                                    uint8_t kind, uint64_t a,
                                                    uint64_t b, int64_t c, int32_t i,
                                                    uint32_t s1, uint8_t p0)
{
    lm__rec *r = rec_begin(tr, loop, kind);
    plain_fill(r, r->t, kind, a, b, c, i, s1, p0);
    lm__trace_commit(tr);
}

/* The body of the cancel, poll, io, timer and call hooks: with TSC stamps
 * and room in the array a leaf (lm__trace_fast_slot), else plain_general. */
static inline void plain(lm__trace *tr, lm_loop *loop, uint8_t kind, uint64_t a,
                         uint64_t b, int64_t c, int32_t i, uint32_t s1, uint8_t p0)
{
    lm__rec *r = lm__trace_fast_slot(tr);
    if (LM__LIKELY(r != NULL)) {
        plain_fill(r, (int64_t)lm__trace_tsc(tr), kind, a, b, c, i, s1, p0);
        lm__trace_commit(tr);
    } else {
        plain_general(tr, loop, kind, a, b, c, i, s1, p0);
    }
}

void lm__tr_cancel(lm__trace *tr, lm_loop *loop, uint64_t task, uint64_t by,
                   uint8_t reason)
{
    plain(tr, loop, LM__R_CANCEL, task, by, 0, 0, 0, reason);
}

void lm__tr_poll(lm__trace *tr, lm_loop *loop, lm_time timeout, lm_time waited,
                 int nready)
{
    plain(tr, loop, LM__R_POLL, 0, (uint64_t)(waited < 0 ? 0 : waited), timeout,
          nready, 0, 0);
}

void lm__tr_io(lm__trace *tr, lm_loop *loop, uint64_t task, int fd, int dir)
{
    plain(tr, loop, LM__R_IO, task, 0, 0, fd, 0, (uint8_t)(dir & 3));
}

void lm__tr_timer(lm__trace *tr, lm_loop *loop, uint64_t task)
{
    plain(tr, loop, LM__R_TIMER, task, 0, 0, 0, 0, 0);
}

/* Interning never passes the array on, so it may come before the slot. */
void lm__tr_call(lm__trace *tr, lm_loop *loop, const char *label)
{
    uint32_t s1 = label != NULL ? lm__trace_intern(tr, label) : 0;
    plain(tr, loop, LM__R_CALL, 0, 0, 0, 0, s1, 0);
}

/* The runtime's own callbacks (one call record each, a timers workload's
 * every other record): the label is the constant below, so its id is
 * interned once per trace and kept, instead of the intern cache's strcmp
 * on every record (54 of the 96 instructions of a call record). */
static const char callback_label[] = "callback";

void lm__tr_callback(lm__trace *tr, lm_loop *loop, int unused)
{
    (void)unused;
    if (LM__UNLIKELY(tr->call_id == 0))
        tr->call_id = lm__trace_intern(tr, callback_label); /* 0: no memory */
    plain(tr, loop, LM__R_CALL, 0, 0, 0, 0, tr->call_id, 0);
}

/* The out-of-line tick hook: loop.c calls lm__tr_tick_hot (lm_trace.h),
 * whose fast path is inlined there; what it does not take comes here. */
void lm__tr_tick(lm__trace *tr, lm_loop *loop, uint64_t n, uint32_t ran,
                 uint32_t io, uint32_t timers)
{
    lm__rec *r = rec_begin(tr, loop, LM__R_TICK);
    lm__trace_tick_fill(r, r->t, n, ran, io, timers);
    lm__trace_commit(tr);
    lm__trace_tick_boundary(tr);
}

/* ------------------------------------------------------------------------ */
/* Notes                                                                     */
/* ------------------------------------------------------------------------ */

void lm_note(const char *text)
{
    lm_loop *loop = lm__loop();
    if (loop == NULL)
        return;
    lm_task *t = lm__current();
    LM__TRACE(loop, lm__tr_note, t != NULL ? t->id : 0, text != NULL ? text : "");
}

void lm_notef(const char *fmt, ...)
{
    lm_loop *loop = lm__loop();
    /* Off: not even the formatting is paid for. */
    if (loop == NULL || lm__loop_trace(loop) == NULL || fmt == NULL)
        return;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *text = small, *big = NULL;
    if ((size_t)n >= sizeof small) {
        big = malloc((size_t)n + 1);
        if (big == NULL)
            return;
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        text = big;
    }
    lm_note(text);
    free(big);
}

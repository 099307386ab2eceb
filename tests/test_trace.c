/*
 * test_trace.c: the trace recorder (tracer/trace*.c) against format v1
 * (docs/trace-format.md).
 *
 *  - fmt:     the formatter and escaper on hand-made records, exact bytes.
 *  - golden:  small programs run under the virtual clock into a memory
 *             stream, compared byte for byte with tests/data/trace/NAME.yaml
 *             (LOOPMAID_UPDATE_GOLDEN=1 rewrites them; review the diff).
 *  - escape:  hostile names and notes come back intact through libyaml.
 *  - ring:    flight-recorder mode keeps exactly the last N events.
 *  - crash:   a child that calls abort() leaves a trace that parses.
 */
#include <criterion/criterion.h>

#include "lm_trace.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* A loop of that clock, traced only where a test asks for it. */
static lm_loop *loop_of(lm_clock_kind clock)
{
    lm_loop_options o;
    lm_loop_options_init(&o);
    o.clock = clock;
    o.handle_signals = 0;
    unsetenv("LOOPMAID_TRACE");
    unsetenv("LOOPMAID_TRACE_RING");
    lm_loop *l = lm_loop_new(&o);
    cr_assert_not_null(l);
    return l;
}

static lm_loop *vloop(void) { return loop_of(LM_CLOCK_VIRTUAL); }

/* A loop tracing to a new file made from the mkstemp template path (so its
 * batches go to the writer thread). */
static lm_loop *loop_to_file(lm_clock_kind clock, char *path)
{
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    lm_loop *l = loop_of(clock);
    cr_assert_eq(lm_trace_open(l, path), 0);
    return l;
}

/* Runs fn as main on a fresh virtual loop traced into memory (ring = 0: the
 * normal mode); returns the trace text (caller frees) and main's code. */
static char *run_traced(lm_coro_fn fn, void *arg, size_t ring, int *rc_out)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    cr_assert_not_null(fp);
    lm_loop *l = vloop();
    cr_assert_eq(lm_trace_file(l, fp), 0);
    cr_assert_eq(lm_trace_set_program(l, "test"), 0);
    if (ring)
        cr_assert_eq(lm_trace_ring(l, ring), 0);
    int rc = lm_loop_run(l, "main", fn, arg, NULL);
    if (rc_out)
        *rc_out = rc;
    lm_loop_free(l);
    fclose(fp);
    return text;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        fwrite(tmp, 1, n, m);
    fclose(f);
    fclose(m);
    return buf;
}

static void check_golden(const char *name, const char *got)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/trace/%s.yaml", name);
    const char *upd = getenv("LOOPMAID_UPDATE_GOLDEN");
    if (upd && *upd == '1') {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f, "cannot write %s", path);
        fputs(got, f);
        fclose(f);
        return;
    }
    char *want = slurp(path);
    cr_assert_not_null(want, "missing golden %s (LOOPMAID_UPDATE_GOLDEN=1)", path);
    cr_assert_str_eq(got, want, "trace differs from %s", path);
    free(want);
}

/* libyaml: the whole text as one document; NULL-safe lookups. */
typedef struct ydoc {
    yaml_document_t doc;
    bool ok;
} ydoc;

static void yparse(ydoc *d, const char *text)
{
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    d->ok = yaml_parser_load(&p, &d->doc) == 1 &&
            yaml_document_get_root_node(&d->doc) != NULL;
    if (!d->ok)
        cr_log_error("libyaml: %s at line %zu col %zu", p.problem ? p.problem : "?",
                     p.problem_mark.line + 1, p.problem_mark.column + 1);
    yaml_parser_delete(&p);
}

static yaml_node_t *yget(ydoc *d, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
         pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(&d->doc, pr->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(&d->doc, pr->value);
    }
    return NULL;
}

static const char *ystr(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                            : NULL;
}

static size_t ylen(yaml_node_t *n) { return n ? n->data.scalar.length : 0; }

static size_t yevents(ydoc *d, yaml_node_t **out, size_t cap)
{
    yaml_node_t *ev = yget(d, yaml_document_get_root_node(&d->doc), "events");
    if (!ev || ev->type != YAML_SEQUENCE_NODE)
        return 0;
    size_t n = 0;
    for (yaml_node_item_t *it = ev->data.sequence.items.start;
         it < ev->data.sequence.items.top; it++, n++)
        if (n < cap)
            out[n] = yaml_document_get_node(&d->doc, *it);
    return n;
}

static size_t count_lines(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* ------------------------------------------------------------------------ */
/* fmt: the formatter on hand-made input                                     */
/* ------------------------------------------------------------------------ */

static int heap_flush(lm__emit *e, size_t need)
{
    size_t cap = e->cap ? e->cap * 2 : 16;
    while (cap < e->len + need)
        cap *= 2;
    e->buf = realloc(e->buf, cap);
    e->cap = cap;
    return e->buf ? 0 : -1;
}

static char *quote(const char *s, size_t n)
{
    lm__emit e = {.flush = heap_flush};
    lm__emit_quoted(&e, s, n);
    lm__emit_bytes(&e, "", 1);
    cr_assert(!e.failed);
    return e.buf;
}

#define QEQ(in, want)                                                          \
    do {                                                                       \
        char *q_ = quote(in, sizeof(in) - 1);                                  \
        cr_expect_str_eq(q_, want, "quote(%s)", #in);                          \
        free(q_);                                                              \
    } while (0)

Test(fmt, escapes)
{
    QEQ("plain text", "\"plain text\"");
    QEQ("", "\"\"");
    QEQ("a\"b\\c", "\"a\\\"b\\\\c\"");
    QEQ("l1\nl2\tx\ry", "\"l1\\nl2\\tx\\ry\"");
    QEQ("\x01\x1f\x7f", "\"\\x01\\x1F\\x7F\"");
    QEQ("nul\0after", "\"nul\\x00after\"");
    QEQ("caf\xc3\xa9 \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
    QEQ("\xc2\x85|\xc2\x9f", "\"\\x85|\\x9F\"");                   /* C1 */
    QEQ("\xe2\x80\xa8\xe2\x80\xa9", "\"\\u2028\\u2029\"");          /* LS, PS */
    QEQ("\xef\xbb\xbf\xef\xbf\xbe", "\"\\uFEFF\\uFFFE\"");
    /* Invalid UTF-8: one U+FFFD per maximal ill-formed subpart. */
    QEQ("a\xff" "b", "\"a\xef\xbf\xbd" "b\"");
    QEQ("\xe2\x82", "\"\xef\xbf\xbd\"");                  /* truncated 3-byte */
    QEQ("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");      /* overlong */
    QEQ("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* surrogate */
    QEQ("\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    QEQ("\xf0\x9f\x98", "\"\xef\xbf\xbd\"");
}

Test(fmt, integers)
{
    lm__emit e = {.flush = heap_flush};
    lm__emit_i64(&e, 0);
    lm__emit_str(&e, " ");
    lm__emit_i64(&e, -1);
    lm__emit_str(&e, " ");
    lm__emit_i64(&e, INT64_MIN);
    lm__emit_str(&e, " ");
    lm__emit_i64(&e, INT64_MAX);
    lm__emit_bytes(&e, "", 1);
    cr_assert_str_eq(e.buf, "0 -1 -9223372036854775808 9223372036854775807");
    free(e.buf);
}

/* A trace on a memory stream, for records made by hand; the caller frees
 * the trace, then closes g_bare_fp and frees g_bare_buf. */
static char *g_bare_buf;
static size_t g_bare_len;
static FILE *g_bare_fp;

static lm__trace *bare_trace(void)
{
    FILE *fp = g_bare_fp = open_memstream(&g_bare_buf, &g_bare_len);
    lm__sink *s;
    cr_assert_eq(lm__sink_open_file(fp, &s), 0);
    lm__trace *tr = lm__trace_new(s, LM_CLOCK_VIRTUAL);
    cr_assert_not_null(tr);
    return tr;
}

static char *fmt_rec(lm__trace *tr, const lm__rec *r)
{
    lm__emit e = {.flush = heap_flush};
    lm__emit_rec(&e, tr, r);
    lm__emit_bytes(&e, "", 1);
    return e.buf;
}

Test(fmt, records)
{
    lm__trace *tr = bare_trace();
    tr->loopno = 1;
    struct {
        lm__rec r;
        const char *want;
    } cases[] = {
        {{.t = 5, .kind = LM__R_STATE, .a = 3,
          .p0 = LM_STATE_RUNNING | LM_STATE_AWAITING << 4, .p1 = LM__ON_IO,
          .i = 7, .c = 3},
         "  - {t: 5, ev: state, task: 3, from: running, to: awaiting, on: io, fd: 7, dir: readwrite}\n"},
        {{.t = 6, .kind = LM__R_STATE, .a = 3, .b = 9,
          .p0 = LM_STATE_AWAITING | LM_STATE_PENDING << 4, .p2 = LM__BY_TASK},
         "  - {t: 6, ev: state, task: 3, from: awaiting, to: pending, by: task, by_task: 9}\n"},
        {{.t = 7, .kind = LM__R_STATE, .a = 3,
          .p0 = LM_STATE_RUNNING | LM_STATE_FAILED << 4, .i = LM_EUSER - 7},
         "  - {t: 7, ev: state, task: 3, from: running, to: failed, error: \"LM_EUSER\", code: -107}\n"},
        {{.t = 8, .kind = LM__R_CANCEL, .a = 4, .b = 1, .p0 = LM__CANCEL_TIMEOUT},
         "  - {t: 8, ev: cancel, task: 4, reason: timeout, by_task: 1}\n"},
        {{.t = 9, .kind = LM__R_POLL, .c = -5, .b = 0, .i = 2},
         "  - {t: 9, ev: poll, timeout: -1, waited: 0, ready: 2}\n"},
        {{.t = 10, .kind = LM__R_TICK, .a = 4, .i = 3, .b = 1, .c = 2},
         "  - {t: 10, ev: tick, n: 4, ran: 3, io: 1, timers: 2}\n"},
        {{.t = 11, .kind = LM__R_GROUP_END, .a = 2, .p0 = LM__OUT_TIMEOUT,
          .i = LM_ETIMEDOUT},
         "  - {t: 11, ev: group_end, group: 2, outcome: timeout, error: \"LM_ETIMEDOUT\"}\n"},
        {{.t = 12, .kind = LM__R_LOOP_END},
         "  - {t: 12, ev: loop_end, loop: 1}\n"},
        {{.t = 13, .kind = LM__R_IO, .a = 2, .i = 5, .p0 = LM_WRITABLE},
         "  - {t: 13, ev: io, task: 2, fd: 5, dir: write}\n"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *got = fmt_rec(tr, &cases[k].r);
        cr_expect_str_eq(got, cases[k].want, "case %zu", k);
        free(got);
    }
    /* Strings: members, interned labels, arena text; loop 2 shows itself. */
    uint64_t mem[3] = {2, 3, 4};
    lm__rec g = {.t = 1, .kind = LM__R_GROUP, .a = 1, .b = 1, .p0 = LM__GROUP_WAIT,
                 .p1 = 3, .c = 500, .i = 3};
    g.s2 = lm__trace_blob(tr, mem, sizeof mem);
    g.s1 = lm__trace_intern(tr, "wait(A, B, C)");
    cr_assert_eq(lm__trace_intern(tr, "wait(A, B, C)"), g.s1, "interned twice");
    tr->loopno = 2;
    char *got = fmt_rec(tr, &g);
    cr_expect_str_eq(got, "  - {t: 1, ev: group, loop: 2, group: 1, kind: wait, owner: 1, "
                          "members: [2, 3, 4], mode: first_completed, timeout: 500, "
                          "label: \"wait(A, B, C)\"}\n");
    free(got);
    lm__trace_free(tr);
    fclose(g_bare_fp);
    free(g_bare_buf);
}

/* ------------------------------------------------------------------------ */
/* golden: one small program per primitive                                   */
/* ------------------------------------------------------------------------ */

static int p_sleep(void *arg)
{
    (void)arg;
    lm_sleep(LM_MSEC(10));
    return lm_sleep(LM_MSEC(5));
}

static int child_yield(void *arg)
{
    (void)arg;
    lm_yield();
    return 0;
}

static int p_yield(void *arg)
{
    (void)arg;
    lm_task *c = lm_spawn("child", child_yield, NULL);
    lm_yield();
    lm_yield();
    int rc = lm_join(c, NULL);
    lm_task_release(c);
    return rc;
}

static int body_never(void *arg)
{
    (void)arg;
    cr_assert_fail("a task cancelled before it ran must not run");
    return 0;
}

static int p_cancel_pending(void *arg)
{
    (void)arg;
    lm_task *a = lm_spawn("pending one", body_never, NULL);
    lm_task *b = lm_task_new(lm_loop_current(), "created one", body_never, NULL);
    lm_cancel(a);
    lm_cancel(b);
    int rc = lm_join(a, NULL);
    lm_task_release(a);
    lm_task_release(b);
    return rc == LM_ECANCELED ? 0 : -1;
}

static int sleeper_cleanup(void *arg)
{
    (void)arg;
    int rc = lm_sleep(LM_SEC(1));
    if (rc == LM_ECANCELED)
        lm_note("cleaning up");
    return rc;
}

static int p_cancel_awaiting(void *arg)
{
    (void)arg;
    lm_task *c = lm_spawn("sleeper", sleeper_cleanup, NULL);
    lm_sleep(LM_MSEC(1));
    lm_cancel(c);
    int rc = lm_join(c, NULL);
    lm_task_release(c);
    return rc == LM_ECANCELED ? 0 : -1;
}

static int failer(void *arg)
{
    (void)arg;
    lm_sleep(LM_MSEC(2));
    return lm_fail(LM_EUSER - 7, "bad \"reply\":\n\tno body");
}

static int p_failure(void *arg)
{
    (void)arg;
    lm_task *c = lm_spawn("failer", failer, NULL);
    int rc = lm_join(c, NULL);
    lm_task_release(c);
    return rc == LM_EUSER - 7 ? 0 : -1;
}

static int p_note_rename(void *arg)
{
    (void)arg;
    lm_note("Send HTTP request");
    lm_notef("attempt %d of %d", 1, 3);
    lm_task_set_name(lm_current(), "renamed main");
    lm_loop_set_name(lm_loop_current(), "the loop");
    return 0;
}

static int quick(void *arg)
{
    return lm_sleep(LM_MSEC((intptr_t)arg));
}

static int bad(void *arg)
{
    lm_sleep(LM_MSEC((intptr_t)arg));
    return lm_fail(LM_EIO, "boom");
}

static int p_groups(void *arg)
{
    (void)arg;
    lm_task *t[3] = {lm_spawn("A", quick, (void *)3), lm_spawn("B", bad, (void *)1),
                     lm_spawn("C", quick, (void *)2)};
    int errs[3];
    lm_gather(t, 3, LM_GATHER_RETURN_EXCEPTIONS, NULL, errs);
    for (int i = 0; i < 3; i++)
        lm_task_release(t[i]);

    lm_task *w[2] = {lm_spawn("fast", quick, (void *)1), lm_spawn("slow", quick, (void *)50)};
    unsigned char done[2];
    lm_wait(w, 2, LM_FIRST_COMPLETED, LM_MSEC(20), done, NULL);
    lm_task *slow = lm_spawn("slower", quick, (void *)100);
    int rc = lm_wait_for(slow, LM_MSEC(5), NULL);
    cr_expect_eq(rc, LM_ETIMEDOUT);
    lm_task_release(slow);
    lm_cancel(w[1]);
    lm_join(w[1], NULL);
    lm_task_release(w[0]);
    lm_task_release(w[1]);

    lm_taskgroup *g = lm_taskgroup_new("fetchers");
    lm_taskgroup_spawn(g, "g1", quick, (void *)4);
    lm_taskgroup_spawn(g, "g2", quick, (void *)6);
    rc = lm_taskgroup_wait(g);
    lm_taskgroup_free(g);
    return rc;
}

static int consumer(void *arg)
{
    lm_queue *q = arg;
    void *item;
    int n = 0;
    while (lm_queue_get(q, &item) == 0)
        n++;
    return n == 2 ? 0 : -1;
}

static int locker(void *arg)
{
    lm_lock *l = arg;
    lm_lock_acquire(l);
    lm_sleep(LM_MSEC(1));
    lm_lock_release(l);
    return 0;
}

static int p_sync(void *arg)
{
    (void)arg;
    lm_queue *q = lm_queue_new(1);
    lm_task *c = lm_spawn("consumer", consumer, q);
    lm_queue_put(q, (void *)1);
    lm_queue_put(q, (void *)2);
    lm_queue_close(q);
    lm_join(c, NULL);
    lm_task_release(c);
    lm_queue_free(q);

    lm_lock *l = lm_lock_new();
    lm_task *a = lm_spawn("locker 1", locker, l);
    lm_task *b = lm_spawn("locker 2", locker, l);
    lm_join(a, NULL);
    lm_join(b, NULL);
    lm_task_release(a);
    lm_task_release(b);
    lm_lock_free(l);
    return 0;
}

/* Conditions, barriers and queue joins: on/by condition, barrier, queue_join. */
static lm_cond *g_cond;
static int g_ready;
static int cond_waiter(void *arg)
{
    (void)arg;
    lm_cond_acquire(g_cond);
    while (!g_ready)
        lm_cond_wait(g_cond);
    lm_cond_release(g_cond);
    return 0;
}

static int barrier_party(void *arg)
{
    return lm_barrier_wait(arg) >= 0 ? 0 : -1;
}

static int q_worker(void *arg)
{
    lm_queue *q = arg;
    void *item;
    while (lm_queue_get(q, &item) == 0) {
        lm_sleep(LM_MSEC(1));
        lm_queue_task_done(q);
    }
    return 0;
}

static int p_sync2(void *arg)
{
    (void)arg;
    g_ready = 0;
    g_cond = lm_cond_new(NULL);
    lm_task *w = lm_spawn("cond waiter", cond_waiter, NULL);
    lm_sleep(LM_MSEC(1));
    lm_cond_acquire(g_cond);
    g_ready = 1;
    lm_cond_notify_all(g_cond);
    lm_cond_release(g_cond);
    lm_join(w, NULL);
    lm_task_release(w);
    lm_cond_free(g_cond);

    lm_barrier *b = lm_barrier_new(2);
    lm_task *p = lm_spawn("party", barrier_party, b);
    lm_sleep(LM_MSEC(2));
    lm_barrier_wait(b);
    lm_join(p, NULL);
    lm_task_release(p);
    lm_barrier_free(b);

    lm_queue *q = lm_queue_new(0);
    lm_task *k = lm_spawn("worker", q_worker, q);
    lm_queue_put(q, (void *)1);
    lm_queue_put(q, (void *)2);
    lm_queue_join(q);
    lm_queue_close(q);
    lm_join(k, NULL);
    lm_task_release(k);
    lm_queue_free(q);
    return 0;
}

static const struct golden {
    const char *name;
    lm_coro_fn fn;
} goldens[] = {
    {"sleep", p_sleep},
    {"yield", p_yield},
    {"cancel_pending", p_cancel_pending},
    {"cancel_awaiting", p_cancel_awaiting},
    {"failure", p_failure},
    {"note_rename", p_note_rename},
    {"groups", p_groups},
    {"sync", p_sync},
    {"sync2", p_sync2},
};

Test(golden, primitives)
{
    for (size_t i = 0; i < sizeof goldens / sizeof goldens[0]; i++) {
        char *a = run_traced(goldens[i].fn, NULL, 0, NULL);
        check_golden(goldens[i].name, a);
        /* Determinism: a second run gives the same bytes. */
        char *b = run_traced(goldens[i].fn, NULL, 0, NULL);
        cr_expect_str_eq(a, b, "%s: two runs differ", goldens[i].name);
        ydoc d;
        yparse(&d, a);
        cr_expect(d.ok, "%s: not valid YAML", goldens[i].name);
        if (d.ok)
            yaml_document_delete(&d.doc);
        free(a);
        free(b);
    }
}

/* The same programs traced to a .lmt path (so through the writer thread's
 * RECS chunks) and converted (tracer/trace_bin.c): the golden bytes again. */
Test(golden, primitives_through_the_binary_spill)
{
    for (size_t i = 0; i < sizeof goldens / sizeof goldens[0]; i++) {
        char path[] = "/tmp/loopmaid-trace-XXXXXX.lmt";
        int fd = mkstemps(path, 4);
        cr_assert_geq(fd, 0);
        close(fd);
        lm_loop *l = vloop();
        cr_assert_eq(lm_trace_open(l, path), 0);
        cr_assert_eq(lm_trace_set_program(l, "test"), 0);
        lm_loop_run(l, "main", goldens[i].fn, NULL, NULL);
        lm_loop_free(l);
        int in = open(path, O_RDONLY);
        cr_assert_geq(in, 0);
        char magic[8];
        cr_assert_eq(pread(in, magic, 8, 0), 8);
        cr_assert(lm_trace_is_binary(magic, 8), "%s: not binary", goldens[i].name);
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        lm_convert_error e;
        cr_assert_eq(lm_trace_convert(in, m, &e), 0, "%s: %s at %llu", goldens[i].name,
                     e.msg, (unsigned long long)e.offset);
        fclose(m);
        close(in);
        unlink(path);
        char gp[256];
        snprintf(gp, sizeof gp, "tests/data/trace/%s.yaml", goldens[i].name);
        char *want = slurp(gp);
        cr_assert_not_null(want, "missing golden %s", gp);
        cr_expect_str_eq(text, want, "%s: converted .lmt differs from %s", goldens[i].name,
                         gp);
        free(want);
        free(text);
    }
}

Test(golden, content_checks)
{
    /* Independent of the golden files: the facts the doc promises. */
    char *s = run_traced(p_cancel_pending, NULL, 0, NULL);
    cr_expect(strstr(s, "from: pending, to: cancelled, by: cancel") != NULL);
    cr_expect(strstr(s, "from: created, to: cancelled, by: cancel") != NULL);
    cr_expect(strstr(s, "ev: cancel, task: 2, reason: explicit, by_task: 1") != NULL);
    free(s);
    s = run_traced(p_cancel_awaiting, NULL, 0, NULL);
    cr_expect(strstr(s, "from: awaiting, to: pending, by: cancel") != NULL);
    cr_expect(strstr(s, "from: running, to: cancelled") != NULL);
    cr_expect(strstr(s, "awaiting, to: cancelled") == NULL);
    free(s);
    s = run_traced(p_failure, NULL, 0, NULL);
    cr_expect(strstr(s, "to: failed, error: \"LM_EUSER\", code: -107, "
                        "message: \"bad \\\"reply\\\":\\n\\tno body\"}") != NULL, "%s", s);
    free(s);
    s = run_traced(p_sync2, NULL, 0, NULL);
    const char *toks[] = {"on: condition", "by: condition", "on: barrier", "by: barrier",
                          "on: queue_join", "by: queue_join"};
    for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++)
        cr_expect(strstr(s, toks[i]) != NULL, "%s", toks[i]);
    free(s);
    s = run_traced(p_note_rename, NULL, 0, NULL);
    cr_expect(strstr(s, "ev: note, task: 1, text: \"attempt 1 of 3\"") != NULL);
    cr_expect(strstr(s, "ev: name, task: 1, name: \"renamed main\"") != NULL);
    cr_expect(strncmp(s, "loopmaid: 1\nprogram: \"test\"\nclock: virtual\nevents:\n", 50) == 0);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* escape: hostile names round-trip through libyaml                          */
/* ------------------------------------------------------------------------ */

static char long_name[5001];

static const struct hostile {
    const char *in, *want; /* want NULL: same as in */
} hostile[] = {
    {"say \"hi\"", NULL},
    {"line1\nline2\r\n", NULL},
    {"back\\slash\\", NULL},
    {"tab\there", NULL},
    {"emoji \xf0\x9f\x90\x8d snake, \xe6\x97\xa5\xe6\x9c\xac", NULL},
    {"bad \xff\xfe utf8 \xc3", "bad \xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd"},
    {"ctl \x01\x07\x1b[31m", NULL},
    {"ls\xe2\x80\xa8ps\xe2\x80\xa9nel\xc2\x85", NULL},
    {"}, ev: spawn, task: 99 #", NULL},
    {"%%{init: {}}%% click x", NULL},
    {"- {t: 0}\n  - {t: 1, ev: loop_end}", NULL},
    {"", NULL},
    {long_name, NULL},
};
#define NHOSTILE (sizeof hostile / sizeof hostile[0])

static int noop(void *arg)
{
    (void)arg;
    return 0;
}

static int p_hostile(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < NHOSTILE; i++) {
        lm_task *t = lm_spawn(hostile[i].in, noop, NULL);
        lm_note(hostile[i].in);
        lm_join(t, NULL);
        lm_task_release(t);
    }
    return 0;
}

Test(escape, hostile_names_round_trip)
{
    for (size_t i = 0; i < 5000; i++)
        long_name[i] = (char)('a' + i % 26);
    char *s = run_traced(p_hostile, NULL, 0, NULL);
    ydoc d;
    yparse(&d, s);
    cr_assert(d.ok, "trace with hostile names is not valid YAML");
    yaml_node_t *ev[4096];
    size_t n = yevents(&d, ev, 4096);
    cr_assert(n > 2 * NHOSTILE);
    size_t spawns = 0, notes = 0;
    for (size_t k = 0; k < n && k < 4096; k++) {
        const char *kind = ystr(yget(&d, ev[k], "ev"));
        cr_assert_not_null(kind);
        const char *key = strcmp(kind, "spawn") == 0  ? "name"
                          : strcmp(kind, "note") == 0 ? "text"
                                                      : NULL;
        if (!key)
            continue;
        size_t *cnt = strcmp(kind, "spawn") == 0 ? &spawns : &notes;
        if (strcmp(kind, "spawn") == 0 && *cnt == 0 &&
            strcmp(ystr(yget(&d, ev[k], "name")), "main") == 0)
            continue; /* main itself */
        cr_assert_lt(*cnt, NHOSTILE);
        const struct hostile *h = &hostile[*cnt];
        const char *want = h->want ? h->want : h->in;
        yaml_node_t *v = yget(&d, ev[k], key);
        cr_expect_eq(ylen(v), strlen(want), "%s %zu: length", kind, *cnt);
        cr_expect(ystr(v) && strcmp(ystr(v), want) == 0, "%s %zu differs", kind, *cnt);
        (*cnt)++;
    }
    cr_expect_eq(spawns, NHOSTILE);
    cr_expect_eq(notes, NHOSTILE);
    /* Still one event per line: the number of "  - {" lines is the count. */
    cr_expect_eq(count_lines(s, "\n  - {"), n);
    yaml_document_delete(&d.doc);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* ring: exactly the last N                                                  */
/* ------------------------------------------------------------------------ */

static int p_chatty(void *arg)
{
    int rounds = (int)(intptr_t)arg;
    for (int i = 0; i < rounds; i++) {
        lm_notef("round %d: %s", i, "some text that makes the arena grow a bit");
        lm_yield();
    }
    return 0;
}

/* The event lines of a trace (the lines starting "  - {"), as offsets. */
static size_t event_lines(const char *s, const char **out, size_t cap)
{
    /* memchr, not strstr: sanitizer interceptors make strstr re-measure the
     * rest of the string on every call (quadratic on big traces). */
    size_t n = 0;
    const char *end = s + strlen(s);
    for (const char *p = s, *nl; p < end && (nl = memchr(p, '\n', (size_t)(end - p)));
         p = nl + 1) {
        if (nl - p >= 5 && memcmp(p, "  - {", 5) == 0) {
            if (n < cap)
                out[n] = p;
            n++;
        }
    }
    return n;
}

static size_t line_len(const char *p) { return (size_t)(strchr(p, '\n') - p) + 1; }

Test(ring, keeps_exactly_the_last_n)
{
    const size_t N = 25;
    char *full = run_traced(p_chatty, (void *)(intptr_t)200, 0, NULL);
    char *ring = run_traced(p_chatty, (void *)(intptr_t)200, N, NULL);
    static const char *fl[100000], *rl[1000];
    size_t nf = event_lines(full, fl, 100000), nr = event_lines(ring, rl, 1000);
    cr_assert_gt(nf, N + 1);
    cr_assert_eq(nr, N + 1, "ring: %zu event lines, want gap + %zu", nr, N);
    cr_expect(strstr(ring, "\nring: 25\n") != NULL);
    cr_expect(strstr(rl[0], "ev: gap, dropped: ") == rl[0] + strcspn(rl[0], "e"),
              "first line is the gap");
    char want_gap[64];
    snprintf(want_gap, sizeof want_gap, "dropped: %zu}", nf - N);
    cr_expect(strncmp(strstr(rl[0], "dropped: "), want_gap, strlen(want_gap)) == 0,
              "gap counts the dropped events");
    for (size_t k = 0; k < N; k++) {
        const char *a = fl[nf - N + k], *b = rl[1 + k];
        cr_expect(line_len(a) == line_len(b) && memcmp(a, b, line_len(a)) == 0,
                  "ring line %zu differs from the full trace's", k);
    }
    free(full);
    free(ring);
}

Test(ring, strings_survive_compaction)
{
    /* 40000 notes of ~60 bytes: the arena passes its compaction threshold
     * several times; the kept notes must still read right. */
    const size_t N = 100;
    char *ring = run_traced(p_chatty, (void *)(intptr_t)40000, N, NULL);
    char *full = run_traced(p_chatty, (void *)(intptr_t)40000, 0, NULL);
    static const char *fl[400000], *rl[1000];
    size_t nf = event_lines(full, fl, 400000), nr = event_lines(ring, rl, 1000);
    cr_assert_eq(nr, N + 1);
    for (size_t k = 0; k < N; k++)
        cr_expect(memcmp(fl[nf - N + k], rl[1 + k], line_len(rl[1 + k])) == 0,
                  "line %zu", k);
    free(full);
    free(ring);
}

Test(ring, flush_on_demand_then_rest)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    lm_loop *l = vloop();
    lm_trace_file(l, fp);
    lm_trace_set_program(l, "test");
    cr_assert_eq(lm_trace_ring(l, 5), 0);
    cr_assert_eq(lm_trace_ring(l, 0), LM_EINVAL);
    lm_loop_run(l, "main", p_chatty, (void *)(intptr_t)3, NULL);
    lm_trace_flush(l);
    size_t after_first = len;
    lm_trace_flush(l); /* nothing new: nothing written */
    cr_expect_eq(len, after_first);
    lm_loop_free(l);
    fclose(fp);
    cr_expect_eq(count_lines(text, "loopmaid: 1"), 1, "one header");
    free(text);
}

/* ------------------------------------------------------------------------ */
/* multi-loop: one file, loop numbers                                        */
/* ------------------------------------------------------------------------ */

Test(multi, two_loops_one_file)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    lm_loop *a = vloop(), *b = vloop();
    lm_trace_file(a, fp);
    lm_trace_file(b, fp);
    lm_trace_set_program(a, "test");
    lm_loop_run(a, "main", p_sleep, NULL, NULL);
    lm_loop_run(b, "main", p_sleep, NULL, NULL);
    lm_loop_free(a);
    lm_loop_free(b);
    fclose(fp);
    cr_expect_eq(count_lines(text, "loopmaid: 1"), 1, "one header");
    const char *second = strstr(text, "ev: loop_end, loop: 1}");
    cr_assert_not_null(second);
    /* Every event after loop 1 ended carries loop: 2. */
    size_t lines = 0, tagged = 0;
    for (const char *p = strstr(second, "\n  - {"); p; p = strstr(p + 1, "\n  - {")) {
        lines++;
        const char *nl = strchr(p + 1, '\n');
        const char *tag = strstr(p, "loop: 2");
        if (tag && tag < nl)
            tagged++;
    }
    cr_expect_gt(lines, 3);
    cr_expect_eq(lines, tagged);
    ydoc d;
    yparse(&d, text);
    cr_expect(d.ok);
    if (d.ok)
        yaml_document_delete(&d.doc);
    free(text);
}

/* ------------------------------------------------------------------------ */
/* crash: abort() in a child leaves a readable trace                         */
/* ------------------------------------------------------------------------ */

static int p_abort(void *arg)
{
    (void)arg;
    lm_task *c = lm_spawn("worker", quick, (void *)1);
    lm_sleep(LM_MSEC(3));
    lm_note("about to abort");
    abort();
    lm_task_release(c);
    return 0;
}

Test(crash, abort_leaves_a_parseable_trace)
{
    char path[] = "/tmp/loopmaid-trace-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* Only our handler between abort() and the default action. */
        signal(SIGABRT, SIG_DFL);
        lm_loop *l = vloop();
        if (lm_trace_open(l, path) != 0)
            _exit(3);
        lm_loop_run(l, "main", p_abort, NULL, NULL);
        _exit(4);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "child status %d", st);
    char *s = slurp(path);
    unlink(path);
    cr_assert_not_null(s);
    cr_assert_gt(strlen(s), 0, "empty trace after abort");
    cr_expect_eq(s[strlen(s) - 1], '\n', "ends with a whole line");
    ydoc d;
    yparse(&d, s);
    cr_assert(d.ok, "trace cut by abort does not parse:\n%s", s);
    yaml_node_t *ev[1024];
    size_t n = yevents(&d, ev, 1024);
    cr_assert_gt(n, 3);
    cr_expect_str_eq(ystr(yget(&d, ev[n - 1], "ev")), "note");
    cr_expect_str_eq(ystr(yget(&d, ev[n - 1], "text")), "about to abort");
    yaml_document_delete(&d.doc);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* API edges                                                                 */
/* ------------------------------------------------------------------------ */

Test(api, off_and_errors)
{
    lm_loop *l = vloop();
    cr_expect_eq(lm_trace_set_program(l, "x"), LM_ESTATE);
    cr_expect_eq(lm_trace_ring(l, 4), LM_ESTATE);
    cr_expect_eq(lm_trace_flush(l), 0);
    cr_expect_eq(lm_trace_open(l, "/nonexistent-dir/x.yaml"), LM_ESYS);
    cr_expect_eq(lm_trace_open(l, ""), LM_EINVAL);
    lm_trace_close(l); /* off: harmless */
    lm_note("no trace, no crash");
    lm_loop_free(l);
    lm_note("no loop, no crash");
}

Test(api, env_trace_shared_by_sequential_loops)
{
    char path[] = "/tmp/loopmaid-env-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("LOOPMAID_TRACE", path, 1);
        setenv("LOOPMAID_CLOCK", "virtual", 1);
        for (int i = 0; i < 2; i++) {
            lm_loop_options o;
            lm_loop_options_init(&o);
            o.handle_signals = 0;
            lm_loop *l = lm_loop_new(&o);
            lm_loop_run(l, "main", p_sleep, NULL, NULL);
            lm_loop_free(l);
        }
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *s = slurp(path);
    unlink(path);
    cr_expect_eq(count_lines(s, "loopmaid: 1"), 1);
    cr_expect_eq(count_lines(s, "ev: loop_start, loop: 1"), 1);
    cr_expect_eq(count_lines(s, "ev: loop_start, loop: 2"), 1);
    cr_expect(strstr(s, "clock: virtual") != NULL);
    free(s);
}

static int p_exit(void *arg)
{
    (void)arg;
    lm_sleep(LM_MSEC(2));
    lm_note("bye");
    exit(0); /* the atexit handler must write what is buffered */
}

Test(crash, exit_inside_a_task_flushes)
{
    char path[] = "/tmp/loopmaid-exit-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    pid_t pid = fork();
    if (pid == 0) {
        lm_loop *l = vloop();
        if (lm_trace_open(l, path) != 0)
            _exit(3);
        lm_loop_run(l, "main", p_exit, NULL, NULL);
        _exit(4);
    }
    int st;
    waitpid(pid, &st, 0);
    /* The status is not checked: a leak checker may object to the loop that
     * exit() never freed; the trace is what this test is about. */
    cr_assert(WIFEXITED(st));
    char *s = slurp(path);
    unlink(path);
    ydoc d;
    yparse(&d, s);
    cr_assert(d.ok);
    yaml_node_t *ev[256];
    size_t n = yevents(&d, ev, 256);
    cr_assert_gt(n, 3);
    cr_expect_str_eq(ystr(yget(&d, ev[n - 1], "text")), "bye");
    yaml_document_delete(&d.doc);
    free(s);
}

/* ---- lm_fd_label: the program's name for an fd rides on its awaits ---- */

static int fd_writer(void *arg)
{
    int fd = *(int *)arg;
    cr_assert_eq(write(fd, "x", 1), 1);
    lm_yield();
    cr_assert_eq(write(fd, "y", 1), 1);
    return 0;
}

static int fd_label_main(void *arg)
{
    int *p = arg;
    cr_assert_eq(lm_fd_label(-1, "x"), LM_EINVAL);
    cr_assert_eq(lm_fd_label(p[0], "the \"slow\" pipe"), 0);
    lm_task *w = lm_spawn("writer", fd_writer, &p[1]);
    char c;
    cr_assert_eq(lm_wait_fd(p[0], LM_READABLE, -1), LM_READABLE);
    cr_assert_eq(read(p[0], &c, 1), 1);
    cr_assert_eq(lm_fd_label(p[0], NULL), 0); /* cleared: the fd again */
    cr_assert_eq(lm_wait_fd(p[0], LM_READABLE, -1), LM_READABLE);
    cr_assert_eq(read(p[0], &c, 1), 1);
    lm_join(w, NULL);
    lm_task_release(w);
    return 0;
}

Test(trace, fd_label_is_recorded_on_the_awaits_of_that_fd)
{
    cr_assert_eq(lm_fd_label(0, "outside"), LM_ENOTASK);
    int p[2];
    cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    int rc = -1;
    char *text = run_traced(fd_label_main, p, 0, &rc);
    cr_assert_eq(rc, 0);
    char want[128];
    snprintf(want, sizeof want, "on: io, fd: %d, dir: read, label: \"the \\\"slow\\\" pipe\"}",
             p[0]);
    const char *first = strstr(text, want);
    cr_assert(first, "labelled await missing (%s) in:\n%s", want, text);
    const char *after = first + strlen(want);
    cr_expect(!strstr(after, "label: \"the"), "the label outlived NULL:\n%s", text);
    snprintf(want, sizeof want, "on: io, fd: %d, dir: read}", p[0]);
    cr_expect(strstr(after, want), "the unlabelled await missing:\n%s", text);
    free(text);
    close(p[0]);
    close(p[1]);
}

/* ------------------------------------------------------------------------ */
/* writer: the writer thread makes the very bytes the loop thread made       */
/* ------------------------------------------------------------------------ */

/* Many batches' worth of every kind of string: names, notes, groups with
 * members, and a gather label (made of the members' names) that is new for
 * the first 700 rounds, so the intern store grows while the writer reads
 * earlier batches. */
static int p_many(void *arg)
{
    int rounds = (int)(intptr_t)arg;
    for (int i = 0; i < rounds; i++) {
        char name[32];
        snprintf(name, sizeof name, "worker %d", i % 700);
        lm_task *t[2] = {lm_spawn(name, quick, (void *)1),
                         lm_spawn("same", quick, (void *)0)};
        lm_gather(t, 2, 0, NULL, NULL);
        lm_task_release(t[0]);
        lm_task_release(t[1]);
        lm_notef("round %d \"quoted\" \xc3\xa9", i);
        lm_yield();
    }
    return 0;
}

/* The same program traced to a path (batches go to the writer thread) and
 * to a memory FILE (formatted on the loop thread). */
static void trace_both(lm_coro_fn fn, void *arg, char **by_writer, char **by_loop)
{
    char path[] = "/tmp/loopmaid-writer-XXXXXX";
    lm_loop *l = loop_to_file(LM_CLOCK_VIRTUAL, path);
    cr_assert_eq(lm_trace_set_program(l, "test"), 0);
    cr_assert_eq(lm_loop_run(l, "main", fn, arg, NULL), 0);
    lm_loop_free(l);
    *by_writer = slurp(path);
    cr_assert_not_null(*by_writer);
    unlink(path);
    int rc = -1;
    *by_loop = run_traced(fn, arg, 0, &rc);
    cr_assert_eq(rc, 0);
}

Test(writer, same_bytes_as_the_loop_thread)
{
    char *w, *l;
    trace_both(p_many, (void *)3000, &w, &l);
    cr_expect(count_lines(w, "\n") > 4 * LM__TRACE_CAP, "too short to need batches");
    cr_expect(strcmp(w, l) == 0, "the writer thread's trace differs (%zu vs %zu bytes)",
              strlen(w), strlen(l));
    free(w);
    free(l);
}

Test(writer, lm_trace_flush_writes_everything_so_far)
{
    char path[] = "/tmp/loopmaid-writer-XXXXXX";
    lm_loop *l = loop_to_file(LM_CLOCK_VIRTUAL, path);
    cr_assert_eq(lm_loop_run(l, "main", p_many, (void *)500, NULL), 0);
    /* loop_end is written when lm_loop_run returns, before lm_loop_free. */
    char *text = slurp(path);
    cr_assert_not_null(text);
    cr_expect_not_null(strstr(text, "ev: loop_end"));
    free(text);
    lm_loop_free(l);
    unlink(path);
}

/* The stamp map (lm__tscmap): exact at both anchors, linear in between,
 * clamped outside, and records before `from` are left alone. */
Test(writer, tsc_map)
{
    lm__tscmap m = lm__tscmap_make(10, 1000, 500, 3000, 1500);
    cr_expect_eq(lm__tscmap_ns(&m, 10, 1000), 500);
    cr_expect_eq(lm__tscmap_ns(&m, 11, 3000), 1500);
    cr_expect_eq(lm__tscmap_ns(&m, 12, 2000), 1000);
    cr_expect_eq(lm__tscmap_ns(&m, 13, 999), 500, "before the first anchor");
    cr_expect_eq(lm__tscmap_ns(&m, 14, 9000), 1500, "after the second anchor");
    cr_expect_eq(lm__tscmap_ns(&m, 9, 77), 77, "loop time already");
    lm__tscmap z = lm__tscmap_make(0, 5, 40, 5, 40);
    cr_expect_eq(lm__tscmap_ns(&z, 0, 5), 40, "no time between the anchors");
    /* Over a day of ticks at 3 GHz the product does not overflow, and the
     * 32-bit fraction of the rate is off by under 1 ns per 4 s of span. */
    uint64_t day = 86400ull * 3000000000ull;
    lm__tscmap d = lm__tscmap_make(0, 0, 0, day, 86400000000000ll);
    int64_t mid = lm__tscmap_ns(&d, 0, (int64_t)(day / 2));
    cr_expect(mid <= 43200000000000ll && mid > 43200000000000ll - 43200 / 4,
              "half a day: %lld", (long long)mid);
}

static int p_real(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        lm_note("tick");
        if (i % 16 == 0)
            lm_yield();
    }
    return lm_sleep(LM_MSEC(1));
}

/* Under the monotonic clock (raw counter stamps where the machine allows
 * them), t never decreases and stays within the run. */
Test(writer, real_clock_stamps_never_decrease)
{
    char path[] = "/tmp/loopmaid-writer-XXXXXX";
    lm_loop *l = loop_to_file(LM_CLOCK_MONOTONIC, path);
    cr_assert_eq(lm_loop_run(l, "main", p_real, NULL, NULL), 0);
    lm_time end = lm_loop_now(l);
    lm_loop_free(l);
    char *text = slurp(path);
    cr_assert_not_null(text);
    long long prev = -1, n = 0;
    for (const char *p = strstr(text, "  - {t: "); p; p = strstr(p + 1, "  - {t: ")) {
        long long t = strtoll(p + 8, NULL, 10);
        cr_assert_geq(t, prev, "t went back from %lld to %lld at event %lld", prev, t, n);
        prev = t;
        n++;
    }
    cr_expect_gt(n, 20000);
    cr_expect_leq(prev, (long long)end + LM_MSEC(1000), "t past the end of the run");
    free(text);
    unlink(path);
}

static int p_flush_full(void *arg)
{
    int *rc = arg;
    for (int i = 0; i < 5000; i++)
        lm_notef("note %d", i);
    *rc = lm_trace_flush(lm_loop_current());
    return 0;
}

/* A write the writer thread could not make is reported by the next flush,
 * as the loop thread's own write was. */
Test(writer, a_failed_write_is_reported_by_flush)
{
    if (access("/dev/full", W_OK) != 0)
        cr_skip_test("no /dev/full");
    /* stderr into a file, to see what the tracer says (once) */
    FILE *errf = tmpfile();
    cr_assert_not_null(errf);
    fflush(stderr);
    int saved = dup(2);
    cr_assert_geq(saved, 0);
    cr_assert_geq(dup2(fileno(errf), 2), 0);
    lm_loop *l = vloop();
    cr_assert_eq(lm_trace_open(l, "/dev/full"), 0);
    int rc = 0;
    cr_assert_eq(lm_loop_run(l, "main", p_flush_full, &rc, NULL), 0);
    cr_expect_eq(rc, LM_EIO, "lm_trace_flush: %d", rc);
    lm_loop_free(l);
    dup2(saved, 2);
    close(saved);
    char said[1024] = "";
    rewind(errf);
    size_t n = fread(said, 1, sizeof said - 1, errf);
    said[n] = '\0';
    fclose(errf);
    const char *want = "loopmaid: cannot write the trace to /dev/full: ";
    const char *at = strstr(said, want);
    cr_expect_not_null(at, "stderr: %s", said);
    cr_expect(at == NULL || strstr(at + 1, want) == NULL, "said twice: %s", said);
}

/* ------------------------------------------------------------------------ */
/* hot: the traced loop thread (issue 18)                                    */
/* ------------------------------------------------------------------------ */

/* A busy loop with no I/O, no timer and no offload: only yields. */
static int p_busy(void *arg)
{
    for (int i = 0; i < (int)(intptr_t)arg; i++)
        lm_yield();
    return 0;
}

/* Runs p_busy on a loop of that clock, traced into memory or not; returns
 * the loop's counters and, traced, the trace text (caller frees). */
static lm_loop_stats run_busy(lm_clock_kind clock, bool traced, char **text)
{
    size_t len = 0;
    FILE *fp = NULL;
    lm_loop *l = loop_of(clock);
    if (traced) {
        fp = open_memstream(text, &len);
        cr_assert_not_null(fp);
        cr_assert_eq(lm_trace_file(l, fp), 0);
    }
    cr_assert_eq(lm_loop_run(l, "main", p_busy, (void *)1000, NULL), 0);
    lm_loop_stats st;
    lm_loop_stats_get(l, &st);
    lm_loop_free(l);
    if (fp != NULL)
        fclose(fp);
    return st;
}

/* Tracing does not change what a real-clock loop does: a busy loop polls
 * every 64th tick whether traced or not, and the trace has one `poll` event
 * per poll made (none for the ticks that skipped it). */
Test(hot, real_clock_traced_busy_loop_skips_polls_like_untraced)
{
    char *text = NULL;
    lm_loop_stats off = run_busy(LM_CLOCK_MONOTONIC, false, NULL);
    lm_loop_stats on = run_busy(LM_CLOCK_MONOTONIC, true, &text);
    cr_assert_not_null(text);
    cr_expect_eq(on.ticks, off.ticks);
    cr_expect_eq(on.polls, off.polls, "traced %llu polls, untraced %llu",
                 (unsigned long long)on.polls, (unsigned long long)off.polls);
    cr_expect_lt(on.polls, on.ticks / 32, "%llu polls in %llu ticks",
                 (unsigned long long)on.polls, (unsigned long long)on.ticks);
    cr_expect_eq((uint64_t)count_lines(text, "ev: poll,"), on.polls);
    cr_expect_eq((uint64_t)count_lines(text, "ev: tick,"), on.ticks);
    free(text);
}

/* Under the virtual clock a traced loop still polls every tick (the goldens
 * show it), while an untraced one skips as under the real clock. */
Test(hot, virtual_clock_traced_loop_polls_every_tick)
{
    char *text = NULL;
    lm_loop_stats off = run_busy(LM_CLOCK_VIRTUAL, false, NULL);
    lm_loop_stats on = run_busy(LM_CLOCK_VIRTUAL, true, &text);
    cr_assert_not_null(text);
    cr_expect_eq(on.ticks, off.ticks);
    cr_expect_eq(on.polls, on.ticks);
    cr_expect_lt(off.polls, off.ticks / 32);
    cr_expect_eq((uint64_t)count_lines(text, "ev: poll,"), on.ticks);
    free(text);
}

static int w_yields(void *arg)
{
    for (int i = 0; i < (int)(intptr_t)arg; i++)
        if (lm_yield() != 0)
            return LM_ECANCELED;
    return 0;
}

static int w_fails(void *arg)
{
    (void)arg;
    lm_yield();
    return lm_fail(LM_EIO, "boom");
}

static int hot_fds[2];

/* Awaits one byte on hot_fds[0]: an io await, a poll that finds it, an io
 * record. */
static int w_reads(void *arg)
{
    (void)arg;
    char c;
    int rc = lm_wait_fd(hot_fds[0], LM_READABLE, -1);
    if (rc < 0)
        return rc;
    return read(hot_fds[0], &c, 1) == 1 ? 0 : LM_ESYS;
}

static void cb_nothing(void *arg) { (void)arg; }

/* Every kind of record the hooks' fast paths make, none waiting on a timer,
 * so that under the real clock only the stamps differ between two runs:
 * steps, yields, a gather (its label interned), a join, a failure with its
 * message, a cancellation, a callback, an fd awaited and its poll and io. */
static int p_states(void *arg)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, hot_fds), 0);
    for (int round = 0; round < (int)(intptr_t)arg; round++) {
        lm_task *rd = lm_spawn("r", w_reads, NULL);
        lm_call_soon(lm_loop_current(), cb_nothing, NULL);
        lm_yield();
        cr_assert_eq(write(hot_fds[1], "x", 1), 1);
        cr_assert_eq(lm_join(rd, NULL), 0);
        lm_task_release(rd);
        lm_task *t[3] = {lm_spawn("y", w_yields, (void *)3),
                         lm_spawn("f", w_fails, NULL),
                         lm_spawn("z", w_yields, (void *)1)};
        lm_gather(t, 3, LM_GATHER_RETURN_EXCEPTIONS, NULL, NULL);
        for (int i = 0; i < 3; i++)
            lm_task_release(t[i]);
        lm_task *c = lm_spawn("c", w_yields, (void *)100);
        lm_yield();
        lm_cancel(c);
        lm_join(c, NULL);
        lm_task_release(c);
        lm_note("round");
    }
    close(hot_fds[0]);
    close(hot_fds[1]);
    return 0;
}

/* The trace of p_states under the real clock with t: and waited: blanked;
 * *fast says whether records were stamped from the TSC (the hooks' fast
 * path) in that run. */
static char *real_run_blanked(bool tsc, bool *fast)
{
    char path[] = "/tmp/loopmaid-hot-XXXXXX";
    setenv("LOOPMAID_TRACE_TSC", tsc ? "1" : "0", 1);
    lm_loop *l = loop_to_file(LM_CLOCK_MONOTONIC, path);
    cr_assert_eq(lm_loop_run(l, "main", p_states, (void *)400, NULL), 0);
    *fast = lm__loop_trace(l)->tsc;
    lm_loop_free(l);
    unsetenv("LOOPMAID_TRACE_TSC");
    char *text = slurp(path);
    cr_assert_not_null(text);
    unlink(path);
    /* Drop the digits after "{t: " and "waited: ", in place. */
    char *out = text;
    for (const char *p = text; *p != '\0';) {
        bool key = strncmp(p, "{t: ", 4) == 0 || strncmp(p, "waited: ", 8) == 0;
        if (key) {
            size_t n = p[0] == '{' ? 4 : 8;
            memmove(out, p, n);
            out += n;
            p += n;
            while (*p >= '0' && *p <= '9')
                p++;
        } else {
            *out++ = *p++;
        }
    }
    *out = '\0';
    return text;
}

/* The hooks' fast path (TSC stamps, no string) makes the very records the
 * general path makes: the same program traced both ways gives the same
 * YAML but the stamps, across several batches and every state kind. */
Test(hot, fast_path_records_equal_the_general_path)
{
    bool fast_on, fast_off;
    char *general = real_run_blanked(false, &fast_off);
    char *fast = real_run_blanked(true, &fast_on);
    cr_assert(!fast_off);
    if (!fast_on)
        cr_log_warn("no usable TSC here: both runs took the general path");
    cr_expect(count_lines(fast, "ev: state,") > 3 * 1024, "too short: %zu",
              count_lines(fast, "ev: state,"));
    cr_expect(strstr(fast, "label: \"gather(") != NULL, "no interned label");
    cr_expect(strstr(fast, "message: \"boom\"") != NULL, "no failure");
    cr_expect(strstr(fast, "ev: io,") != NULL && strstr(fast, "ev: call,") != NULL &&
              strstr(fast, "ev: cancel,") != NULL && strstr(fast, "ev: poll,") != NULL,
              "a record kind is missing");
    cr_expect(strcmp(general, fast) == 0, "fast path records differ (%zu vs %zu bytes)",
              strlen(general), strlen(fast));
    free(general);
    free(fast);
}

/* ---- a tick with more events than the record array ------------------------ */

/* A note's text goes into the arena before the note takes its record slot.
 * When the array was full at that moment, taking the slot passed the array
 * on, and the arena with it, text included: the note was left pointing into
 * the next arena (wrong text, or bytes past its end). Only a tick with more
 * events than the array holds (2048 with a writer, 8192 without) could get
 * there, hence thousands of notes without a single await. */
#define MANY_NOTES 20000

static int p_many_notes(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < MANY_NOTES; i++)
        lm_notef("mark %u", i);
    return 0;
}

static void expect_every_mark(const char *s)
{
    cr_assert_not_null(s);
    unsigned want = 0;
    const char *p = s;
    while ((p = strstr(p, "text: \"mark ")) != NULL) {
        unsigned m;
        cr_assert_eq(sscanf(p, "text: \"mark %u\"", &m), 1);
        cr_assert_eq(m, want, "mark %u where %u was due", m, want);
        want++;
        p++;
    }
    cr_assert_eq(want, MANY_NOTES);
}

Test(trace, notes_beyond_a_full_array_keep_their_text)
{
    /* Without a writer: a memory stream. */
    char *s = run_traced(p_many_notes, NULL, 0, NULL);
    expect_every_mark(s);
    free(s);
    /* With one, as YAML and as the binary spill. */
    const char *tails[] = {"", ".lmt"};
    for (int k = 0; k < 2; k++) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/loopmaid-notes-XXXXXX%s", tails[k]);
        int fd = mkstemps(path, (int)strlen(tails[k]));
        cr_assert_geq(fd, 0);
        close(fd);
        lm_loop *l = loop_of(LM_CLOCK_VIRTUAL);
        cr_assert_eq(lm_trace_open(l, path), 0);
        cr_assert_eq(lm_loop_run(l, "main", p_many_notes, NULL, NULL), 0);
        lm_loop_free(l);
        char *t = NULL;
        if (k == 0) {
            t = slurp(path);
        } else {
            size_t len = 0;
            FILE *m = open_memstream(&t, &len);
            int in = open(path, O_RDONLY);
            cr_assert_geq(in, 0);
            lm_convert_error err;
            cr_assert_eq(lm_trace_convert(in, m, &err), 0, "%s", err.msg);
            close(in);
            fclose(m);
        }
        unlink(path);
        expect_every_mark(t);
        free(t);
    }
}

/* ---- one stamp for a burst of bookkeeping --------------------------------- */

typedef struct burst_pp {
    lm_event *ping, *pong;
} burst_pp;

static int p_burst_ponger(void *arg)
{
    burst_pp *pp = arg;
    for (int i = 0; i < 500; i++) {
        lm_event_wait(pp->pong);
        lm_event_clear(pp->pong);
        lm_event_set(pp->ping);
    }
    return 0;
}

static int p_burst(void *arg)
{
    (void)arg;
    burst_pp pp = {lm_event_new(), lm_event_new()};
    lm_task *t = lm_spawn("ponger", p_burst_ponger, &pp);
    for (int i = 0; i < 500; i++) {
        lm_event_set(pp.pong);
        lm_event_wait(pp.ping);
        lm_event_clear(pp.ping);
    }
    cr_assert_eq(lm_join(t, NULL), 0);
    lm_task_release(t);
    lm_event_free(pp.ping);
    lm_event_free(pp.pong);
    return 0;
}

static long long stamp_of(const char *line)
{
    long long t = -1;
    cr_assert_eq(sscanf(line, " - {t: %lld,", &t), 1, "%.60s", line);
    return t;
}

/* Under TSC stamps, a task parking, the quiet end of its tick and the next
 * task starting (lm__loop_handoff runs them as one burst, no clock read in
 * between) carry one stamp, and t never decreases. Without the burst the
 * three would be ~10 ns apart (a reading each). */
Test(trace, a_burst_of_bookkeeping_shares_one_stamp)
{
    char path[] = "/tmp/loopmaid-burst-XXXXXX";
    setenv("LOOPMAID_TRACE_TSC", "1", 1);
    lm_loop *l = loop_to_file(LM_CLOCK_MONOTONIC, path);
    cr_assert_eq(lm_loop_run(l, "main", p_burst, NULL, NULL), 0);
    bool fast = lm__loop_trace(l)->tsc;
    lm_loop_free(l);
    unsetenv("LOOPMAID_TRACE_TSC");
    char *text = slurp(path);
    unlink(path);
    cr_assert_not_null(text);
    if (!fast) {
        free(text);
        cr_skip_test("no usable TSC here: every record reads the clock");
    }
    int bursts = 0;
    long long last = -1;
    const char *prev = NULL, *line = strstr(text, "\n  - {t: ");
    while (line != NULL) {
        line++;
        const char *next = strstr(line, "\n  - {t: ");
        long long t = stamp_of(line);
        cr_assert_geq(t, last);
        last = t;
        if (prev != NULL && strncmp(strstr(line, "ev: "), "ev: tick", 8) == 0 &&
            strstr(prev, "to: awaiting") != NULL &&
            strstr(prev, "to: awaiting") < strchr(prev, '\n') && next != NULL &&
            strstr(next + 1, "to: running") < strchr(next + 1, '\n')) {
            /* The loop's own path (after a first step, say) reads the
             * clock for each; a burst never does. */
            if (stamp_of(prev) == t && stamp_of(next + 1) == t)
                bursts++;
        }
        prev = line;
        line = next;
    }
    /* Two ticks a round trip; every 64th polls, so it is no burst. */
    cr_assert_geq(bursts, 900, "%d", bursts);
    free(text);
}

/*
 * test_trace_bin.c: the binary spill (tracer/trace_bin.c, docs/trace-format.md
 * section 14). The promise is that converting a .lmt gives the very bytes
 * the same run writes as YAML, so every check here compares with YAML:
 *
 *  - examples: every example with a golden trace, run under the virtual
 *              clock into a .lmt, converted, compared with its golden file;
 *              LOOPMAID_TRACE_FORMAT picks the format either way round and
 *              refuses other values;
 *  - runs:     in-process programs traced to NAME.lmt and NAME.yaml: a
 *              40,000+-event run through the writer thread (labels interned
 *              all along, so strings arrive chunk after chunk), a ring,
 *              loops one after another and loops on two threads sharing one
 *              sink;
 *  - hostile:  every prefix of a small file, flipped bytes and hand-made
 *              chunks give 0 or a clean error with the chunk's offset, and
 *              write exactly the chunks before it.
 */
#include <criterion/criterion.h>

#include "lm_trace.h"
#include "support/lm_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct buf {
    char *p;
    size_t n;
} buf;

/* A whole file (NUL-terminated); p NULL when it cannot be read. Caller frees. */
static buf slurp(const char *path)
{
    buf b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return b;
    FILE *m = open_memstream(&b.p, &b.n);
    char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
        fwrite(tmp, 1, k, m);
    fclose(f);
    fclose(m);
    return b;
}

static void spill(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Converts the file at path; the YAML in *out (caller frees). */
static int convert_path(const char *path, buf *out, lm_convert_error *err)
{
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    out->p = NULL;
    out->n = 0;
    FILE *m = open_memstream(&out->p, &out->n);
    cr_assert_not_null(m);
    int rc = lm_trace_convert(fd, m, err);
    fclose(m);
    close(fd);
    return rc;
}

/* The chunks of a binary trace: how many of each type, where each ends
 * (ends[0] is the end of the magic), and the loop numbers of RECS chunks
 * (a bit per loop 1..63). Asserts the framing is sound. */
typedef struct census {
    size_t text, recs;
    size_t ends[4096];
    size_t nends;
    uint64_t loops;
} census;

static void take_census(const buf *b, census *c)
{
    memset(c, 0, sizeof *c);
    cr_assert(lm_trace_is_binary(b->p, b->n), "not a binary trace");
    size_t i = LM__BIN_MAGIC_LEN;
    c->ends[c->nends++] = i;
    while (i < b->n) {
        cr_assert_leq(i + LM__CH_HDR, b->n);
        const unsigned char *h = (const unsigned char *)b->p + i;
        size_t n = (size_t)h[1] | (size_t)h[2] << 8 | (size_t)h[3] << 16 |
                   (size_t)h[4] << 24;
        cr_assert(h[0] == LM__CH_TEXT || h[0] == LM__CH_RECS);
        if (h[0] == LM__CH_TEXT) {
            c->text++;
        } else {
            c->recs++;
            unsigned loop = h[5]; /* the first varint: loops < 128 */
            if (loop < 64)
                c->loops |= (uint64_t)1 << loop;
        }
        i += LM__CH_HDR + n;
        cr_assert_leq(i, b->n, "the last chunk runs past the file");
        if (c->nends < sizeof c->ends / sizeof c->ends[0])
            c->ends[c->nends++] = i;
    }
}

/* Reports where two texts first differ. */
static void expect_same(const buf *got, const buf *want, const char *what)
{
    if (got->n == want->n && memcmp(got->p, want->p, got->n) == 0)
        return;
    size_t i = 0, line = 1;
    while (i < got->n && i < want->n && got->p[i] == want->p[i])
        line += got->p[i++] == '\n';
    cr_assert_fail("%s: converted YAML differs at line %zu (byte %zu; sizes %zu, %zu)",
                   what, line, i, got->n, want->n);
}

/* The event lines that contain needle (all of them: needle ""). Line by
 * line with memchr: sanitizer interceptors make strstr measure the rest of
 * the string on every call, quadratic on a big trace. */
static size_t count_events(const buf *b, const char *needle)
{
    size_t n = 0, nl = strlen(needle);
    const char *end = b->p + b->n;
    for (const char *p = b->p, *eol; p < end && (eol = memchr(p, '\n', (size_t)(end - p)));
         p = eol + 1)
        if (eol - p >= 5 && memcmp(p, "  - {", 5) == 0 &&
            (nl == 0 || memmem(p, (size_t)(eol - p), needle, nl) != NULL))
            n++;
    return n;
}

/* A temporary directory for a test's files. */
static void tmpdir(char dir[64])
{
    strcpy(dir, "/tmp/loopmaid-bin-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rmtree(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* ------------------------------------------------------------------------ */
/* examples: the golden traces, through the binary spill                     */
/* ------------------------------------------------------------------------ */

/* Runs BUILD/examples/NAME under the virtual clock with LOOPMAID_TRACE=trace
 * (and LOOPMAID_TRACE_FORMAT=fmt unless NULL); its exit status. stderr goes
 * to errpath. */
static int run_example(const char *name, const char *trace, const char *fmt,
                       const char *errpath)
{
    char build[PATH_MAX], bin[PATH_MAX + 64];
    snprintf(bin, sizeof bin, "%s/examples/%s", lmt_build_dir(build, sizeof build),
             name);
    cr_assert(access(bin, X_OK) == 0, "%s is missing: run `make` first", bin);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("LOOPMAID_CLOCK", "virtual", 1);
        setenv("LOOPMAID_TRACE", trace, 1);
        unsetenv("LOOPMAID_TRACE_RING");
        if (fmt)
            setenv("LOOPMAID_TRACE_FORMAT", fmt, 1);
        else
            unsetenv("LOOPMAID_TRACE_FORMAT");
        int o = open("/dev/null", O_WRONLY);
        int e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        /* As from a shell: only 0, 1 and 2 open (traces name descriptors). */
        for (int i = 3; i < 1024; i++)
            close(i);
        execl(bin, name, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        cr_assert_eq(errno, EINTR);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *const examples[] = {
    "loop_internals", "lifecycle", "groups", "timeout", "state_machine",
    "fetch", "concurrent_parallel", "crunch",
};

Test(examples, golden_through_the_spill, .timeout = 120)
{
    char dir[64];
    tmpdir(dir);
    for (size_t k = 0; k < sizeof examples / sizeof examples[0]; k++) {
        const char *name = examples[k];
        char trace[128], err[128], golden[128];
        snprintf(trace, sizeof trace, "%s/%s.lmt", dir, name);
        snprintf(err, sizeof err, "%s/%s.err", dir, name);
        snprintf(golden, sizeof golden, "tests/data/examples/%s.yaml", name);
        cr_assert_eq(run_example(name, trace, NULL, err), 0, "%s failed", name);
        buf raw = slurp(trace), want = slurp(golden), got;
        cr_assert_not_null(want.p, "%s is missing", golden);
        census c;
        take_census(&raw, &c);
        /* The writer thread's path, not only TEXT chunks of YAML. */
        cr_expect_geq(c.recs, 1, "%s: no RECS chunk", name);
        cr_expect_lt(raw.n * 3, want.n, "%s: %zu bytes binary, %zu YAML", name,
                     raw.n, want.n);
        lm_convert_error e;
        cr_assert_eq(convert_path(trace, &got, &e), 0, "%s: %s at %llu", name,
                     e.msg, (unsigned long long)e.offset);
        expect_same(&got, &want, name);
        free(raw.p);
        free(want.p);
        free(got.p);
    }
    rmtree(dir);
}

Test(examples, format_from_the_environment, .timeout = 60)
{
    char dir[64], trace[128], err[128];
    tmpdir(dir);
    snprintf(err, sizeof err, "%s/err", dir);
    buf want = slurp("tests/data/examples/lifecycle.yaml");
    cr_assert_not_null(want.p);

    /* binary overrides a .yaml name... */
    snprintf(trace, sizeof trace, "%s/a.yaml", dir);
    cr_assert_eq(run_example("lifecycle", trace, "binary", err), 0);
    buf got, raw = slurp(trace);
    cr_expect(lm_trace_is_binary(raw.p, raw.n));
    cr_assert_eq(convert_path(trace, &got, NULL), 0);
    expect_same(&got, &want, "FORMAT=binary");
    free(got.p);
    free(raw.p);

    /* ...and yaml a .lmt one. */
    snprintf(trace, sizeof trace, "%s/b.lmt", dir);
    cr_assert_eq(run_example("lifecycle", trace, "yaml", err), 0);
    raw = slurp(trace);
    cr_expect(!lm_trace_is_binary(raw.p, raw.n));
    expect_same(&raw, &want, "FORMAT=yaml");
    free(raw.p);

    /* Anything else: one clear message, and no run (as a bad TSC value). */
    snprintf(trace, sizeof trace, "%s/c.lmt", dir);
    cr_expect_neq(run_example("lifecycle", trace, "xml", err), 0);
    buf msg = slurp(err);
    cr_assert_not_null(msg.p);
    cr_expect(strstr(msg.p, "LOOPMAID_TRACE_FORMAT=xml: not yaml or binary") != NULL,
              "stderr: %s", msg.p);
    free(msg.p);
    free(want.p);
    rmtree(dir);
}

/* ------------------------------------------------------------------------ */
/* runs: in-process programs, .lmt against .yaml                             */
/* ------------------------------------------------------------------------ */

static int quick(void *arg)
{
    lm_sleep(LM_MSEC((intptr_t)arg));
    return 0;
}

/* rounds of a note and a yield; every 500th round a task group with a new
 * label (a string interned late, so it travels in a later RECS chunk). */
static int p_chatty(void *arg)
{
    int rounds = (int)(intptr_t)arg;
    for (int i = 0; i < rounds; i++) {
        lm_notef("round %d: %s", i, "some text for the arena");
        if (i % 500 == 0) {
            char label[32];
            snprintf(label, sizeof label, "group %d", i);
            lm_taskgroup *g = lm_taskgroup_new(label);
            lm_taskgroup_spawn(g, "member", quick, (void *)1);
            lm_taskgroup_wait(g);
            lm_taskgroup_free(g);
        }
        lm_yield();
    }
    return 0;
}

static lm_loop *vloop(void)
{
    lm_loop_options o;
    lm_loop_options_init(&o);
    o.clock = LM_CLOCK_VIRTUAL;
    o.handle_signals = 0;
    unsetenv("LOOPMAID_TRACE");
    unsetenv("LOOPMAID_TRACE_RING");
    unsetenv("LOOPMAID_TRACE_FORMAT");
    lm_loop *l = lm_loop_new(&o);
    cr_assert_not_null(l);
    return l;
}

/* Runs p_chatty(rounds) traced to path (ring slots, 0: none). */
static void run_to(const char *path, int rounds, size_t ring)
{
    lm_loop *l = vloop();
    cr_assert_eq(lm_trace_open(l, path), 0);
    cr_assert_eq(lm_trace_set_program(l, "test"), 0);
    if (ring)
        cr_assert_eq(lm_trace_ring(l, ring), 0);
    cr_assert_eq(lm_loop_run(l, "main", p_chatty, (void *)(intptr_t)rounds, NULL), 0);
    lm_loop_free(l);
}

/* The same run as .lmt and .yaml: the conversion is the YAML. */
static void same_run(int rounds, size_t ring, census *c, size_t *events)
{
    char dir[64], lmt[96], yaml[96];
    tmpdir(dir);
    snprintf(lmt, sizeof lmt, "%s/t.lmt", dir);
    snprintf(yaml, sizeof yaml, "%s/t.yaml", dir);
    run_to(lmt, rounds, ring);
    run_to(yaml, rounds, ring);
    buf raw = slurp(lmt), want = slurp(yaml), got;
    take_census(&raw, c);
    lm_convert_error e;
    cr_assert_eq(convert_path(lmt, &got, &e), 0, "%s at %llu", e.msg,
                 (unsigned long long)e.offset);
    expect_same(&got, &want, "run");
    *events = count_events(&want, "");
    free(raw.p);
    free(want.p);
    free(got.p);
    rmtree(dir);
}

Test(runs, forty_thousand_events_through_the_writer, .timeout = 120)
{
    census c;
    size_t events;
    same_run(20000, 0, &c, &events);
    cr_expect_geq(events, 40000, "only %zu events", events);
    /* Many batches, each one RECS chunk (the header is the one TEXT). */
    cr_expect_geq(c.recs, events / LM__TRACE_BATCH);
    cr_expect_eq(c.text, 1);
}

Test(runs, ring_is_text_chunks, .timeout = 60)
{
    census c;
    size_t events;
    same_run(3000, 100, &c, &events);
    cr_expect_eq(events, 101, "gap + the last 100");
    cr_expect_eq(c.recs, 0, "a ring is formatted at the end, on the loop thread");
    cr_expect_geq(c.text, 1);
}

/* Loops sharing one sink: LOOPMAID_TRACE's file is shared by every loop of
 * the process. */
static void *loop_thread(void *arg)
{
    lm_loop_options o;
    lm_loop_options_init(&o);
    o.clock = LM_CLOCK_VIRTUAL;
    o.handle_signals = 0;
    lm_loop *l = lm_loop_new(&o);
    if (!l)
        return (void *)1;
    lm_trace_set_program(l, "test");
    int rc = lm_loop_run(l, "main", p_chatty, arg, NULL);
    lm_loop_free(l);
    return (void *)(intptr_t)(rc != 0);
}

/* Runs two loops (of rounds r1 and r2) on one env sink at path, on two
 * threads at once or one after another. */
static void two_loops(const char *path, int r1, int r2, bool threads)
{
    setenv("LOOPMAID_TRACE", path, 1);
    unsetenv("LOOPMAID_TRACE_FORMAT");
    unsetenv("LOOPMAID_TRACE_RING");
    if (threads) {
        pthread_t a, b;
        void *ra, *rb;
        cr_assert_eq(pthread_create(&a, NULL, loop_thread, (void *)(intptr_t)r1), 0);
        cr_assert_eq(pthread_create(&b, NULL, loop_thread, (void *)(intptr_t)r2), 0);
        pthread_join(a, &ra);
        pthread_join(b, &rb);
        cr_assert(ra == NULL && rb == NULL);
    } else {
        cr_assert_null(loop_thread((void *)(intptr_t)r1));
        cr_assert_null(loop_thread((void *)(intptr_t)r2));
    }
    unsetenv("LOOPMAID_TRACE");
}

/* two_loops traced to lmt, then the same to yaml, each in a child (an env
 * sink stays open until the process exits); the .lmt must hold RECS chunks
 * of loops 1 and 2. The two files' contents in *raw and *want. */
static void two_runs(const char *lmt, const char *yaml, int n1, int n2,
                     bool threads, buf *raw, buf *want)
{
    for (int k = 0; k < 2; k++) {
        fflush(NULL);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            two_loops(k ? yaml : lmt, n1, n2, threads);
            _exit(0);
        }
        int st;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    *raw = slurp(lmt);
    *want = slurp(yaml);
    census c;
    take_census(raw, &c);
    cr_expect_eq(c.loops, (1u << 1) | (1u << 2), "RECS chunks of loops 1 and 2");
}

Test(runs, loops_one_after_another_share_the_file, .timeout = 120)
{
    char dir[64], lmt[96], yaml[96];
    tmpdir(dir);
    snprintf(lmt, sizeof lmt, "%s/t.lmt", dir);
    snprintf(yaml, sizeof yaml, "%s/t.yaml", dir);
    buf raw, want, got;
    two_runs(lmt, yaml, 3000, 2000, false, &raw, &want);
    cr_assert_eq(convert_path(lmt, &got, NULL), 0);
    expect_same(&got, &want, "two loops");
    free(raw.p);
    free(want.p);
    free(got.p);
    rmtree(dir);
}

/* The event lines of one loop, with their loop tag taken out (loop 1's
 * lines have none but at loop_start and loop_end). */
static char *loop_lines(const buf *b, int loop)
{
    char *out = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&out, &n);
    char tag[32];
    int tlen = snprintf(tag, sizeof tag, ", loop: %d", loop);
    for (const char *p = b->p, *nl; (nl = memchr(p, '\n', (size_t)(b->p + b->n - p)));
         p = nl + 1) {
        if (nl - p < 5 || memcmp(p, "  - {", 5) != 0)
            continue;
        size_t len = (size_t)(nl - p) + 1;
        const char *t = memmem(p, len, ", loop: ", 8);
        int have = t ? atoi(t + 8) : 1;
        if (have != loop)
            continue;
        if (t) {
            fwrite(p, 1, (size_t)(t - p), m);
            fwrite(t + tlen, 1, len - (size_t)(t - p) - (size_t)tlen, m);
        } else {
            fwrite(p, 1, len, m);
        }
    }
    fclose(m);
    return out;
}

Test(runs, loops_on_two_threads_share_the_file, .timeout = 120)
{
    char dir[64], lmt[96], yaml[96];
    tmpdir(dir);
    snprintf(lmt, sizeof lmt, "%s/t.lmt", dir);
    snprintf(yaml, sizeof yaml, "%s/t.yaml", dir);
    buf raw, want, got;
    two_runs(lmt, yaml, 9000, 6000, true, &raw, &want);
    cr_assert_eq(convert_path(lmt, &got, NULL), 0);
    /* Which loop is number 1 is a race, and so is how their chunks (or
     * lines) interleave: each loop's own lines are what must agree. The
     * loops differ in length, so the longer one is the same loop in both. */
    char *g1 = loop_lines(&got, 1), *g2 = loop_lines(&got, 2);
    char *w1 = loop_lines(&want, 1), *w2 = loop_lines(&want, 2);
    const char *glong = strlen(g1) > strlen(g2) ? g1 : g2;
    const char *gshort = glong == g1 ? g2 : g1;
    const char *wlong = strlen(w1) > strlen(w2) ? w1 : w2;
    const char *wshort = wlong == w1 ? w2 : w1;
    cr_expect_gt(strlen(gshort), 100000);
    cr_expect(strcmp(glong, wlong) == 0, "the longer loop's lines differ");
    cr_expect(strcmp(gshort, wshort) == 0, "the shorter loop's lines differ");
    cr_expect(strncmp(got.p, "loopmaid: 1\n", 12) == 0);
    cr_expect_null(strstr(got.p + 1, "\nloopmaid: 1\n"), "one header");
    free(g1);
    free(g2);
    free(w1);
    free(w2);
    free(raw.p);
    free(want.p);
    free(got.p);
    rmtree(dir);
}

/* ------------------------------------------------------------------------ */
/* hostile: truncated, flipped and hand-made files                           */
/* ------------------------------------------------------------------------ */

static int p_small(void *arg)
{
    (void)arg;
    lm_task *t[2] = {lm_spawn("A", quick, (void *)3), lm_spawn("B", quick, (void *)1)};
    lm_gather(t, 2, 0, NULL, NULL);
    lm_task_release(t[0]);
    lm_task_release(t[1]);
    lm_taskgroup *g = lm_taskgroup_new("fetchers");
    lm_taskgroup_spawn(g, "g1", quick, (void *)4);
    lm_taskgroup_wait(g);
    lm_taskgroup_free(g);
    lm_note("done \xF0\x9F\x8E\x89");
    return 0;
}

/* A small binary trace with TEXT and RECS chunks, and its conversion. */
static void small_trace(const char *dir, buf *raw, buf *yaml)
{
    char path[96];
    snprintf(path, sizeof path, "%s/small.lmt", dir);
    lm_loop *l = vloop();
    cr_assert_eq(lm_trace_open(l, path), 0);
    lm_trace_set_program(l, "test");
    cr_assert_eq(lm_loop_run(l, "main", p_small, NULL, NULL), 0);
    lm_loop_free(l);
    *raw = slurp(path);
    cr_assert_eq(convert_path(path, yaml, NULL), 0);
}

Test(hostile, every_prefix, .timeout = 120)
{
    char dir[64], path[96];
    tmpdir(dir);
    buf raw, full;
    small_trace(dir, &raw, &full);
    census c;
    take_census(&raw, &c);
    cr_assert_geq(c.recs, 1);
    snprintf(path, sizeof path, "%s/cut.lmt", dir);
    /* The output at each chunk boundary: a prefix of the full YAML. */
    buf *at = calloc(c.nends, sizeof *at);
    for (size_t k = 0; k < c.nends; k++) {
        spill(path, raw.p, c.ends[k]);
        cr_assert_eq(convert_path(path, &at[k], NULL), 0, "cut at chunk end %zu", k);
        cr_assert_leq(at[k].n, full.n);
        cr_assert(memcmp(at[k].p, full.p, at[k].n) == 0);
    }
    cr_expect_eq(at[c.nends - 1].n, full.n);
    size_t k = 0;
    for (size_t len = 0; len < raw.n; len++) {
        while (k < c.nends && c.ends[k] < len)
            k++;
        spill(path, raw.p, len);
        buf got;
        lm_convert_error e;
        int rc = convert_path(path, &got, &e);
        if (k < c.nends && c.ends[k] == len) {
            cr_assert_eq(rc, 0, "cut at %zu (a chunk end): %s", len, e.msg);
            cr_assert_eq(got.n, at[k].n);
        } else {
            /* Inside the magic (offset 0) or inside the chunk that starts
             * at the previous end: truncated, and all before it written. */
            cr_assert_eq(rc, LM_EOF_, "cut at %zu: rc %d (%s)", len, rc, e.msg);
            cr_assert_eq(e.code, LM_EOF_);
            cr_assert_neq(e.msg[0], '\0');
            uint64_t want_off = k == 0 ? 0 : c.ends[k - 1];
            cr_assert_eq(e.offset, want_off, "cut at %zu: offset %llu, want %llu", len,
                         (unsigned long long)e.offset, (unsigned long long)want_off);
            size_t before = k == 0 ? 0 : at[k - 1].n;
            cr_assert_eq(got.n, before, "cut at %zu: %zu bytes out, want %zu", len,
                         got.n, before);
            cr_assert(memcmp(got.p, full.p, got.n) == 0);
        }
        free(got.p);
    }
    for (size_t j = 0; j < c.nends; j++)
        free(at[j].p);
    free(at);
    free(raw.p);
    free(full.p);
    rmtree(dir);
}

Test(hostile, flipped_bytes, .timeout = 120)
{
    char dir[64], path[96];
    tmpdir(dir);
    buf raw, full;
    small_trace(dir, &raw, &full);
    snprintf(path, sizeof path, "%s/flip.lmt", dir);
    static const unsigned char masks[] = {0x01, 0x80, 0xFF};
    size_t failed = 0;
    for (size_t i = 0; i < raw.n; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            raw.p[i] ^= (char)masks[m];
            spill(path, raw.p, raw.n);
            raw.p[i] ^= (char)masks[m];
            buf got;
            lm_convert_error e;
            int rc = convert_path(path, &got, &e);
            /* Never a crash or a hang (ASan, valgrind and the timeout watch
             * those): 0, or one of the input's error codes with a message. */
            if (rc != 0) {
                failed++;
                cr_assert(rc == LM_EINVAL || rc == LM_EOF_ || rc == LM_ERANGE ||
                              rc == LM_ENOMEM,
                          "flip %zu/%zu: rc %d", i, m, rc);
                cr_assert_eq(e.code, rc);
                cr_assert_leq(e.offset, raw.n);
                cr_assert_neq(e.msg[0], '\0');
            }
            if (i < LM__BIN_MAGIC_LEN)
                cr_assert_eq(rc, LM_EINVAL, "a bad magic is refused");
            free(got.p);
        }
    }
    cr_expect_gt(failed, raw.n, "most flips are caught");
    free(raw.p);
    free(full.p);
    rmtree(dir);
}

/* A file of the magic and one chunk (type, payload). */
static int convert_chunk(const char *dir, int type, uint32_t len, const void *p,
                         size_t n, lm_convert_error *e, buf *out)
{
    char path[96];
    snprintf(path, sizeof path, "%s/one.lmt", dir);
    char *f = malloc(LM__BIN_MAGIC_LEN + LM__CH_HDR + n);
    memcpy(f, LM__BIN_MAGIC, LM__BIN_MAGIC_LEN);
    lm__bin_hdr(f + LM__BIN_MAGIC_LEN, type, 0);
    for (int k = 0; k < 4; k++)
        f[LM__BIN_MAGIC_LEN + 1 + k] = (char)(len >> (8 * k));
    memcpy(f + LM__BIN_MAGIC_LEN + LM__CH_HDR, p, n);
    spill(path, f, LM__BIN_MAGIC_LEN + LM__CH_HDR + n);
    free(f);
    return convert_path(path, out, e);
}

Test(hostile, hand_made_chunks)
{
    char dir[64];
    tmpdir(dir);
    lm_convert_error e;
    buf out;

    /* A chunk longer than any reader accepts: refused before allocating. */
    cr_expect_eq(convert_chunk(dir, LM__CH_TEXT, 0xFFFFFFFFu, "x", 1, &e, &out),
                 LM_ERANGE);
    cr_expect_eq(e.offset, LM__BIN_MAGIC_LEN);
    free(out.p);
    /* An unknown type. */
    cr_expect_eq(convert_chunk(dir, 9, 1, "x", 1, &e, &out), LM_EINVAL);
    free(out.p);
    /* A TEXT chunk is copied as is. */
    cr_expect_eq(convert_chunk(dir, LM__CH_TEXT, 3, "ab\n", 3, &e, &out), 0);
    cr_expect(out.n == 3 && memcmp(out.p, "ab\n", 3) == 0);
    free(out.p);
    /* RECS: a billion strings claimed in a few bytes. */
    static const unsigned char many[] = {1, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x04, 0};
    cr_expect_eq(convert_chunk(dir, LM__CH_RECS, sizeof many, many, sizeof many, &e,
                               &out),
                 LM_EINVAL);
    free(out.p);
    /* RECS: strings from id 5 when none were sent. */
    static const unsigned char skip[] = {1, 0, 5, 0, 0, 0};
    cr_expect_eq(convert_chunk(dir, LM__CH_RECS, sizeof skip, skip, sizeof skip, &e,
                               &out),
                 LM_EINVAL);
    free(out.p);
    /* RECS: a 60 MiB arena claimed by a 9-byte chunk. */
    static const unsigned char arena[] = {1, 0, 0, 0, 0x80, 0x80, 0x80, 0x1E, 0, 0};
    cr_expect_eq(convert_chunk(dir, LM__CH_RECS, sizeof arena, arena, sizeof arena,
                               &e, &out),
                 LM_EINVAL);
    free(out.p);
    /* RECS: a note whose arena reference points past the arena. */
    static const unsigned char note[] = {1, 0, 0, 0, 16, 0, 1, 255, LM__R_NOTE, 1 | 16, 0, 2, 17};
    cr_expect_eq(convert_chunk(dir, LM__CH_RECS, sizeof note, note, sizeof note, &e,
                               &out),
                 LM_EINVAL);
    free(out.p);
    /* The same note pointing at its entry: one line. */
    static const unsigned char ok[] = {1, 0, 0, 0, 16, 2, 'h', 'i', 1, 255, LM__R_NOTE,
                                       1 | 16, 4, 14, 1};
    cr_expect_eq(convert_chunk(dir, LM__CH_RECS, sizeof ok, ok, sizeof ok, &e, &out), 0,
                 "%s", e.msg);
    cr_expect(out.p && strcmp(out.p, "  - {t: 2, ev: note, task: 7, text: \"hi\"}\n") == 0,
              "got %s", out.p);
    free(out.p);
    /* A record in a shape slot never filled. */
    static const unsigned char noshape[] = {1, 0, 0, 0, 0, 1, 7, 0};
    cr_expect_eq(convert_chunk(dir, LM__CH_RECS, sizeof noshape, noshape, sizeof noshape,
                               &e, &out),
                 LM_EINVAL);
    free(out.p);
    /* Not a binary trace at all. */
    cr_expect(!lm_trace_is_binary("loopmaid: 1\n", 12));
    cr_expect(!lm_trace_is_binary(LM__BIN_MAGIC, 7));
    cr_expect(!lm_trace_is_binary(NULL, 8));
    cr_expect(lm_trace_is_binary(LM__BIN_MAGIC, 8));
    /* Another version of the layout: binary, and refused by name. */
    char path[96];
    snprintf(path, sizeof path, "%s/v1.lmt", dir);
    spill(path, "LMTRACE\x01\x01\x03\0\0\0ab\n", 16);
    cr_expect(lm_trace_is_binary("LMTRACE\x01", 8));
    cr_expect_eq(convert_path(path, &out, &e), LM_EINVAL);
    cr_expect(strstr(e.msg, "version 1") != NULL, "%s", e.msg);
    cr_expect_eq(out.n, 0);
    free(out.p);
    cr_expect_eq(lm_trace_convert(-1, stdout, &e), LM_EINVAL);
    rmtree(dir);
}

/* A forked child's loops share its parent's env sink and, as the counter is
 * copied, its loop numbers: each RECS chunk names its process, so their
 * string tables do not mix and the file still converts. */
Test(runs, forked_child_shares_the_file, .timeout = 120)
{
    char dir[64], lmt[96];
    tmpdir(dir);
    snprintf(lmt, sizeof lmt, "%s/t.lmt", dir);
    fflush(NULL);
    pid_t outer = fork();
    cr_assert_geq(outer, 0);
    if (outer == 0) {
        setenv("LOOPMAID_TRACE", lmt, 1);
        unsetenv("LOOPMAID_TRACE_FORMAT");
        if (loop_thread((void *)(intptr_t)3000) != NULL)
            _exit(1);
        fflush(NULL);
        pid_t kid = fork();
        if (kid < 0)
            _exit(2);
        /* Both make loop number 2, with labels of their own. */
        void *rc = loop_thread((void *)(intptr_t)(kid == 0 ? 2600 : 4100));
        if (kid == 0)
            _exit(rc != NULL);
        int st;
        if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            _exit(3);
        _exit(rc != NULL);
    }
    int st;
    cr_assert_eq(waitpid(outer, &st, 0), outer);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
    buf got;
    lm_convert_error e;
    cr_assert_eq(convert_path(lmt, &got, &e), 0, "%s at %llu", e.msg,
                 (unsigned long long)e.offset);
    cr_expect_eq(count_events(&got, "ev: loop_end"), 3);
    cr_expect_eq(count_events(&got, "label: \"group 4000\""), 1, "the longest loop's");
    cr_expect_eq(count_events(&got, "label: \"group 2500\""), 3, "in all three loops");
    free(got.p);
    rmtree(dir);
}

/* A million loops with one empty string each: ~15 MB of file that would
 * cost a gigabyte of string tables; the tables' memory is capped. */
Test(hostile, many_loops_hit_the_string_cap, .timeout = 120)
{
    char dir[64], path[96];
    tmpdir(dir);
    snprintf(path, sizeof path, "%s/loops.lmt", dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite(LM__BIN_MAGIC, 1, LM__BIN_MAGIC_LEN, f);
    for (uint32_t k = 1; k <= 1000000; k++) {
        unsigned char p[16];
        size_t n = 0;
        for (uint32_t v = k; ; v >>= 7) { /* loop number, a varint */
            p[n++] = (unsigned char)(v < 0x80 ? v : (v & 0x7F) | 0x80);
            if (v < 0x80)
                break;
        }
        static const unsigned char rest[] = {0, 0, 1, 0, 0, 0}; /* pid from nnew "" alen nrec */
        memcpy(p + n, rest, sizeof rest);
        n += sizeof rest;
        char h[LM__CH_HDR];
        lm__bin_hdr(h, LM__CH_RECS, n);
        fwrite(h, 1, sizeof h, f);
        fwrite(p, 1, n, f);
    }
    fclose(f);
    buf out;
    lm_convert_error e;
    cr_expect_eq(convert_path(path, &out, &e), LM_ERANGE, "%s", e.msg);
    cr_expect_gt(e.offset, LM__BIN_MAGIC_LEN);
    cr_log_info("%s at %llu", e.msg, (unsigned long long)e.offset);
    free(out.p);
    rmtree(dir);
}

/*
 * test_views.c: the six renderers.
 *  - golden: tests/data/views/NAME.yaml (and tests/data/hostile.yaml) ->
 *    tests/data/views/NAME.VIEW.mmd for every view, through the library
 *    (lmr_render_file) and through the CLI (BUILD/loopmaid, found beside this
 *    test binary). LOOPMAID_UPDATE_GOLDEN=1 rewrites the expected files.
 *  - budget: a generated trace of many tasks and events must stay within
 *    --max-chars (default and Gitea's 5,000) and under 500 flowchart edges,
 *    and say what it left out;
 *  - hand-built models fed straight to the hooks: sequence folding and
 *    --max-messages, behaviour that does not depend on the reader.
 */
#include <criterion/criterion.h>

#include "lmr_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const views[] = {"state", "sequence", "flowchart",
                                    "tasks", "gantt", "advise"};
#define NVIEWS (sizeof views / sizeof views[0])

/* Pulls every view into the test binary whatever the walker links. */
static const lmr__renderer *const all_renderers[] = {
    &lmr__view_state, &lmr__view_sequence, &lmr__view_flowchart,
    &lmr__view_tasks, &lmr__view_gantt, &lmr__view_advise};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    lmr_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cr_assert_eq(lmr__buf_append(&b, chunk, n), 0);
    fclose(f);
    if (len)
        *len = b.len;
    if (!b.data)
        return calloc(1, 1);
    return b.data;
}

static int render(const char *path, lmr_options *o, lmr_buf *out)
{
    lmr_error e;
    int rc = lmr_render_file(path, o, out, NULL, &e);
    if (rc)
        cr_log_error("%s: %s:%d:%d: %s", path, e.file, e.line, e.col, e.msg);
    return rc;
}

/* Runs the CLI and returns what it printed (caller frees); NULL when the
 * CLI is not built. */
static char *run_cli(const char *args)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0'; /* BUILD/tests */
    char cmd[PATH_MAX + 512];
    snprintf(cmd, sizeof cmd, "%s/../loopmaid", exe);
    if (access(cmd, X_OK) != 0)
        return NULL;
    snprintf(cmd, sizeof cmd, "%s/../loopmaid %s", exe, args);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    lmr_buf b = {0};
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, p)) > 0)
        lmr__buf_append(&b, chunk, k);
    int st = pclose(p);
    cr_expect_eq(st, 0, "loopmaid %s exited with %d", args, st);
    return b.data ? b.data : calloc(1, 1);
}

typedef struct golden {
    const char *trace, *name, *extra_cli;
    const char *states, *title;
    int counts;
} golden;

static const golden goldens[] = {
    {"tests/data/views/gather.yaml", "gather", "", NULL, NULL, 0},
    {"tests/data/views/timeout.yaml", "timeout", "", NULL, NULL, 0},
    {"tests/data/hostile.yaml", "hostile", "", NULL, NULL, 0},
    {"tests/data/views/gather.yaml", "gather-asyncio",
     "--states asyncio --counts --title 'gather: \"demo\" %%{init}%%'",
     "asyncio", "gather: \"demo\" %%{init}%%", 1},
};

static void check_golden(const golden *g, const char *view)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = (lmr_view)lmr_view_parse(view);
    o.states = g->states;
    o.title = g->title;
    o.counts = g->counts;
    lmr_buf out = {0};
    cr_assert_eq(render(g->trace, &o, &out), 0, "%s %s", g->trace, view);
    char path[512];
    snprintf(path, sizeof path, "tests/data/views/%s.%s.mmd", g->name, view);
    if (getenv("LOOPMAID_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "wb");
        cr_assert(f);
        fwrite(out.data, 1, out.len, f);
        fclose(f);
    }
    size_t len;
    char *want = slurp(path, &len);
    cr_assert(want, "missing golden %s (LOOPMAID_UPDATE_GOLDEN=1 writes it)", path);
    cr_expect(len == out.len && memcmp(want, out.data, len) == 0,
              "%s differs from the library's output:\n%s", path, out.data);
    char args[1024];
    snprintf(args, sizeof args, "render -q --view %s %s %s", view, g->extra_cli,
             g->trace);
    char *cli = run_cli(args);
    if (cli) {
        cr_expect_str_eq(cli, want, "CLI output differs from %s", path);
        free(cli);
    } else {
        cr_log_warn("build/loopmaid not built: CLI half of %s skipped", path);
    }
    free(want);
    lmr_buf_free(&out);
}

Test(views, golden_all)
{
    for (size_t i = 0; i < sizeof goldens / sizeof goldens[0]; i++)
        for (size_t v = 0; v < NVIEWS; v++)
            check_golden(&goldens[i], views[v]);
}

Test(views, deterministic)
{
    lmr_options o;
    lmr_options_init(&o);
    for (size_t v = 0; v < NVIEWS; v++) {
        o.view = (lmr_view)v;
        lmr_buf a = {0}, b = {0};
        cr_assert_eq(render("tests/data/hostile.yaml", &o, &a), 0);
        cr_assert_eq(render("tests/data/hostile.yaml", &o, &b), 0);
        cr_expect(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        lmr_buf_free(&a);
        lmr_buf_free(&b);
    }
}

/* Flowchart edges: arrows outside labels (labels never hold a raw '-'). */
static size_t count_edges(const char *s)
{
    size_t n = 0;
    for (const char *line = s; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        for (size_t i = 0; i + 2 < len; i++)
            if ((line[i] == '-' && line[i + 1] == '-' && line[i + 2] == '>') ||
                (line[i] == '-' && line[i + 1] == '.' && line[i + 2] == '-')) {
                n++;
                break;
            }
        line = nl ? nl + 1 : NULL;
    }
    return n;
}

/* Nothing from a name may become syntax: checks on whole diagrams. */
static void check_safe(const char *s, const char *what)
{
    cr_expect(!strstr(s, "%%"), "%s: %%%% in output", what);
    cr_expect(!strcasestr(s, "<script"), "%s: script", what);
    /* Words like "click" may appear inside labels; a statement can only
     * start a line, and no line may start with one built from a name. */
    for (const char *line = s; line && *line;) {
        while (*line == ' ')
            line++;
        cr_expect(strncasecmp(line, "click", 5) != 0 &&
                      strncasecmp(line, "call", 4) != 0 &&
                      strncasecmp(line, "href", 4) != 0,
                  "%s: a line starts a link: %.40s", what, line);
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    cr_expect(!strcasestr(s, "direction"), "%s: direction", what);
    /* Names keep their non-ASCII text (escape.c writes it as UTF-8), but
     * never a control character. */
    for (const char *p = s; *p; p++)
        cr_expect(*p == '\n' || ((unsigned char)*p >= 0x20 && *p != 0x7F),
                  "%s: byte 0x%02x", what, (unsigned char)*p);
}

Test(views, hostile_renders_safely_in_every_view)
{
    lmr_options o;
    lmr_options_init(&o);
    o.states = "created=%%{init}%%,pending=<script>,running=a;b,done=direction LR";
    o.title = "\n---\n%%{init: {}}%%\nclick x href";
    for (size_t v = 0; v < NVIEWS; v++) {
        o.view = (lmr_view)v;
        lmr_buf out = {0};
        cr_assert_eq(render("tests/data/hostile.yaml", &o, &out), 0);
        check_safe(out.data, views[v]);
        cr_expect_leq(out.len, LMR__DEFAULT_MAX_CHARS);
        lmr_buf_free(&out);
    }
}

/*
 * A big trace: `tasks` workers spawned by main under one gather, each going
 * around sleep -> timer -> run `rounds` times, some failing or cancelled at
 * the end, ticks and polls in between. About 7 events per worker round.
 */
static void write_big(const char *path, int tasks, int rounds)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, "loopmaid: 1\nprogram: \"big\"\nclock: virtual\nevents:\n");
    fprintf(f, "  - {t: 0, ev: loop_start, loop: 1, name: \"loop\"}\n");
    fprintf(f, "  - {t: 0, ev: spawn, task: 1, name: \"main\", parent: 0}\n"
               "  - {t: 0, ev: state, task: 1, from: created, to: pending, by: spawn}\n"
               "  - {t: 0, ev: state, task: 1, from: pending, to: running}\n");
    for (int i = 2; i < tasks + 2; i++)
        fprintf(f, "  - {t: 0, ev: spawn, task: %d, name: \"worker %d\", parent: 1}\n"
                   "  - {t: 0, ev: state, task: %d, from: created, to: pending, by: spawn}\n",
                i, i, i);
    fprintf(f, "  - {t: 0, ev: group, group: 1, kind: gather, owner: 1, members: [");
    for (int i = 2; i < tasks + 2; i++)
        fprintf(f, "%s%d", i > 2 ? ", " : "", i);
    fprintf(f, "], mode: fail_fast}\n"
               "  - {t: 0, ev: state, task: 1, from: running, to: awaiting, on: gather, group: 1}\n");
    long long t = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 2; i < tasks + 2; i++) {
            fprintf(f, "  - {t: %lld, ev: state, task: %d, from: pending, to: running}\n", t, i);
            t += 100;
            if (r == rounds - 1) {
                if (i % 7 == 0)
                    fprintf(f, "  - {t: %lld, ev: state, task: %d, from: running, to: failed, error: \"LM_EUSER\"}\n", t, i);
                else
                    fprintf(f, "  - {t: %lld, ev: state, task: %d, from: running, to: done}\n", t, i);
            } else {
                fprintf(f, "  - {t: %lld, ev: state, task: %d, from: running, to: awaiting, on: sleep}\n", t, i);
            }
        }
        fprintf(f, "  - {t: %lld, ev: tick, n: %d, ran: %d, io: 0, timers: %d}\n", t, r + 1, tasks, tasks);
        if (r == rounds - 1)
            break;
        t += 1000;
        fprintf(f, "  - {t: %lld, ev: poll, timeout: 1000, waited: 1000, ready: 0}\n", t);
        for (int i = 2; i < tasks + 2; i++)
            fprintf(f, "  - {t: %lld, ev: timer, task: %d}\n"
                       "  - {t: %lld, ev: state, task: %d, from: awaiting, to: pending, by: timer}\n",
                    t, i, t, i);
    }
    fprintf(f, "  - {t: %lld, ev: group_end, group: 1, outcome: failed}\n"
               "  - {t: %lld, ev: state, task: 1, from: awaiting, to: pending, by: task}\n"
               "  - {t: %lld, ev: state, task: 1, from: pending, to: running}\n"
               "  - {t: %lld, ev: state, task: 1, from: running, to: done}\n"
               "  - {t: %lld, ev: loop_end, loop: 1}\n", t, t, t, t, t);
    fclose(f);
}

static void check_budget(const char *path, size_t max_chars, bool expect_cut)
{
    lmr_options o;
    lmr_options_init(&o);
    o.max_chars = max_chars;
    size_t limit = max_chars ? max_chars : LMR__DEFAULT_MAX_CHARS;
    for (size_t v = 0; v < NVIEWS; v++) {
        o.view = (lmr_view)v;
        lmr_buf out = {0};
        cr_assert_eq(render(path, &o, &out), 0);
        cr_expect_leq(out.len, limit, "%s view: %zu chars > %zu", views[v],
                      out.len, limit);
        if (o.view == LMR_VIEW_FLOWCHART || o.view == LMR_VIEW_TASKS ||
            o.view == LMR_VIEW_ADVISE)
            cr_expect_lt(count_edges(out.data), LMR__MAX_EDGES, "%s view",
                         views[v]);
        if (expect_cut && (o.view == LMR_VIEW_SEQUENCE || o.view == LMR_VIEW_TASKS ||
                           o.view == LMR_VIEW_GANTT))
            cr_expect(strstr(out.data, "not shown"),
                      "%s view must say what it left out:\n%s", views[v], out.data);
        lmr_buf_free(&out);
    }
}

Test(views, big_traces_stay_in_budget, .timeout = 120)
{
    /* ~125,000 events through every view, three budgets each: valgrind
     * needs far longer than the timeout, and the code paths are the same as
     * in the smaller tests it does run (ASan covers this one's memory). */
    if (getenv("LOOPMAID_UNDER_VALGRIND") != NULL)
        cr_skip_test("too big for valgrind; make asan runs it");
    char path[] = "/tmp/loopmaid-views-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    write_big(path, 1000, 6); /* many tasks: ~35,000 events */
    check_budget(path, 0, true);
    check_budget(path, 5000, true);
    check_budget(path, LMR__MIN_MAX_CHARS, true);
    write_big(path, 3, 8000); /* few tasks, long: ~90,000 events */
    check_budget(path, 0, false);
    check_budget(path, LMR__MIN_MAX_CHARS, false);
    unlink(path);
}

/* --- hand-built models, fed straight to the hooks ----------------------- */

typedef struct fixture {
    lmr__model m;
    lmr__task tasks[3];
    lmr__loop loop;
    lmr_options o;
    lmr_buf buf;
    lmr__out out;
    lmr__render_ctx c;
} fixture;

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    static const char *const names[] = {"main", "ping", "pong"};
    for (int i = 0; i < 3; i++) {
        f->tasks[i].id = (uint64_t)i + 1;
        f->tasks[i].loop = 1;
        f->tasks[i].name = (char *)names[i];
        f->tasks[i].selected = true;
        f->tasks[i].ord = (uint32_t)i;
        f->tasks[i].t_end = -1;
        f->tasks[i].state = LMR__ST_AWAITING;
    }
    f->m.tasks = f->tasks;
    f->m.ntasks = 3;
    f->loop.id = 1;
    f->loop.name = (char *)"loop";
    f->m.loops = &f->loop;
    f->m.nloops = 1;
    lmr_options_init(&f->o);
    f->out = (lmr__out){.buf = &f->buf, .max_chars = LMR__DEFAULT_MAX_CHARS};
    f->c = (lmr__render_ctx){.model = &f->m, .opts = &f->o, .out = &f->out};
}

static lmr__event st(int64_t t, uint64_t task, int from, int to, const char *on)
{
    lmr__event e = {.kind = LMR__EV_STATE, .t = t, .loop = 1, .task = task,
                    .from = from, .to = to, .on = on, .fd = -1, .timeout = -1};
    return e;
}

static void feed_ping_pong(fixture *f, const lmr__renderer *r, int rounds)
{
    cr_assert_eq(r->begin(&f->c), 0);
    int64_t t = 0;
    for (int i = 0; i < rounds; i++)
        for (uint64_t k = 2; k <= 3; k++) {
            lmr__event e = st(t++, k, LMR__ST_PENDING, LMR__ST_RUNNING, NULL);
            if (r->event)
                cr_assert_eq(r->event(&f->c, &e), 0);
            e = st(t++, k, LMR__ST_RUNNING, LMR__ST_AWAITING, "queue");
            if (r->event)
                cr_assert_eq(r->event(&f->c, &e), 0);
            e = st(t++, k, LMR__ST_AWAITING, LMR__ST_PENDING, NULL);
            e.by = "queue";
            if (r->event)
                cr_assert_eq(r->event(&f->c, &e), 0);
        }
    cr_assert_eq(r->end(&f->c), 0);
}

Test(hooks, sequence_folds_repeats_into_a_loop_block)
{
    fixture f;
    fixture_init(&f);
    feed_ping_pong(&f, &lmr__view_sequence, 1000);
    const char *s = f.buf.data;
    cr_expect(strstr(s, "    loop 999 times\n"), "%s", s);
    cr_expect(!strstr(s, "not shown"), "%s", s);
    cr_expect_lt(f.buf.len, 1000, "%s", s);
    /* Every block is closed. */
    size_t opens = 0, ends = 0;
    for (const char *p = s; (p = strstr(p, "    loop ")); p++)
        opens++;
    for (const char *p = s; (p = strstr(p, "    end\n")); p++)
        ends++;
    cr_expect_eq(opens, ends);
    lmr_buf_free(&f.buf);
}

/* Feeds the first step of `task` (start, then await) to the sequence view. */
static void first_step(fixture *f, int64_t *t, uint64_t task)
{
    lmr__event e = st((*t)++, task, LMR__ST_PENDING, LMR__ST_RUNNING, NULL);
    cr_assert_eq(lmr__view_sequence.event(&f->c, &e), 0);
    e = st((*t)++, task, LMR__ST_RUNNING, LMR__ST_AWAITING, "sleep");
    cr_assert_eq(lmr__view_sequence.event(&f->c, &e), 0);
}

static void tick(fixture *f, int64_t t)
{
    lmr__event e = {.kind = LMR__EV_TICK, .t = t, .loop = 1, .fd = -1,
                    .timeout = -1};
    cr_assert_eq(lmr__view_sequence.event(&f->c, &e), 0);
}

/* issue 14: steps that ran one after another on the one thread are drawn
 * one after another, never inside a `par`. */
Test(hooks, sequence_draws_steps_of_one_tick_in_order_not_as_par)
{
    fixture f;
    fixture_init(&f);
    int64_t t = 0;
    cr_assert_eq(lmr__view_sequence.begin(&f.c), 0);
    first_step(&f, &t, 1);
    tick(&f, t);
    first_step(&f, &t, 2); /* ping and pong in one tick */
    first_step(&f, &t, 3);
    tick(&f, t);
    cr_assert_eq(lmr__view_sequence.end(&f.c), 0);
    cr_expect_str_eq(f.buf.data,
                     "sequenceDiagram\n"
                     "    participant lp1 as Event loop\n"
                     "    participant p1 as main\n"
                     "    participant p2 as ping\n"
                     "    participant p3 as pong\n"
                     "    lp1->>p1: start\n"
                     "    p1-->>lp1: await sleep\n"
                     "    lp1->>p2: start\n"
                     "    p2-->>lp1: await sleep\n"
                     "    lp1->>p3: start\n"
                     "    p3-->>lp1: await sleep\n");
    lmr_buf_free(&f.buf);
}

/* The sequence view wraps long texts with <br/>: the checks read them
 * unwrapped. Caller frees. */
static char *unwrap(const char *s)
{
    char *r = strdup(s ? s : ""), *w = r;
    cr_assert(r);
    for (const char *p = r; *p;) {
        if (strncmp(p, "<br/>", 5) == 0) {
            *w++ = ' ';
            p += 5;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return r;
}

static void feed(fixture *f, lmr__event e)
{
    if (e.fd == 0)
        e.fd = -1;
    if (e.timeout == 0)
        e.timeout = -1;
    if (e.loop == 0)
        e.loop = 1;
    cr_assert_eq(lmr__view_sequence.event(&f->c, &e), 0);
}

/* issue 13: every cancellation says who and why, every wake its waker. */
Test(hooks, sequence_names_causes_of_cancels_and_wakes)
{
    fixture f;
    fixture_init(&f);
    f.tasks[1].state = LMR__ST_FAILED;    /* ping failed */
    f.tasks[2].state = LMR__ST_CANCELLED; /* pong was cancelled */
    cr_assert_eq(lmr__view_sequence.begin(&f.c), 0);
    int64_t t = 0;
    for (uint64_t k = 1; k <= 3; k++)
        first_step(&f, &t, k);
    /* pong is woken by ping ending, then cancelled by its group because
     * its sibling ping failed, then by main explicitly, by the shutdown,
     * and once recorded as cancelling itself (drawn: nothing). */
    lmr__event e = st(t, 3, LMR__ST_AWAITING, LMR__ST_PENDING, NULL);
    e.by = "task";
    e.by_task = 2;
    feed(&f, e);
    feed(&f, st(t, 3, LMR__ST_PENDING, LMR__ST_RUNNING, NULL));
    feed(&f, (lmr__event){.kind = LMR__EV_CANCEL, .t = t, .task = 3,
                          .reason = "group", .by_task = 2});
    feed(&f, (lmr__event){.kind = LMR__EV_CANCEL, .t = t, .task = 3,
                          .reason = "explicit", .by_task = 1});
    feed(&f, (lmr__event){.kind = LMR__EV_CANCEL, .t = t, .task = 3,
                          .reason = "shutdown", .by_task = 1});
    feed(&f, (lmr__event){.kind = LMR__EV_CANCEL, .t = t, .task = 3,
                          .reason = "group", .by_task = 3});
    e = st(t, 3, LMR__ST_RUNNING, LMR__ST_AWAITING, "sleep");
    feed(&f, e);
    e = st(t, 3, LMR__ST_AWAITING, LMR__ST_PENDING, NULL);
    e.by = "cancel";
    e.by_task = 1;
    feed(&f, e);
    feed(&f, st(t, 3, LMR__ST_PENDING, LMR__ST_RUNNING, NULL));
    cr_assert_eq(lmr__view_sequence.end(&f.c), 0);
    char *s = unwrap(f.buf.data);
    cr_expect(strstr(s, "    lp1->>p3: resume: ping failed\n"), "%s", s);
    cr_expect(strstr(s, "    p2-xp3: cancel: sibling ping failed\n"), "%s", s);
    cr_expect(strstr(s, "    p1-xp3: cancel()\n"), "%s", s);
    cr_expect(strstr(s, "    lp1-xp3: cancel: shutdown: main returned\n"), "%s", s);
    /* a group member recorded as cancelling itself is the failing one:
     * never an arrow from a task to itself, and no cancel drawn at all */
    cr_expect(!strstr(s, "p3-xp3"), "%s", s);
    cr_expect(!strstr(s, "its group failed"), "%s", s);
    cr_expect(strstr(s, "    lp1->>p3: resume with CancelledError (shutdown: main returned)\n"),
              "%s", s);
    free(s);
    lmr_buf_free(&f.buf);
}

/* issue 14: over --max-participants, the interesting tasks keep their
 * lifelines and the diagram says what it left out. */
Test(hooks, sequence_keeps_interesting_tasks_first)
{
    fixture f;
    fixture_init(&f);
    f.o.max_participants = 1;
    f.tasks[2].state = LMR__ST_FAILED; /* pong: the one a reader looks for */
    cr_assert_eq(lmr__view_sequence.begin(&f.c), 0);
    int64_t t = 0;
    for (uint64_t k = 1; k <= 3; k++)
        first_step(&f, &t, k);
    cr_assert_eq(lmr__view_sequence.end(&f.c), 0);
    char *s = unwrap(f.buf.data);
    cr_expect(strstr(s, "participant p3 as pong\n"), "%s", s);
    cr_expect(!strstr(s, "participant p1 "), "%s", s);
    cr_expect(!strstr(s, "participant p2 "), "%s", s);
    cr_expect(strstr(s, "2 more tasks not shown (4 events):"), "%s", s);
    cr_expect(strstr(s, "--max-participants 1 keeps failed"), "%s", s);
    free(s);
    lmr_buf_free(&f.buf);
    /* Among tasks that ended well, the slowest wins. */
    fixture_init(&f);
    f.o.max_participants = 1;
    for (int i = 0; i < 3; i++) {
        f.tasks[i].state = LMR__ST_DONE;
        f.tasks[i].t_end = i == 1 ? 900 : 10;
    }
    cr_assert_eq(lmr__view_sequence.begin(&f.c), 0);
    t = 0;
    for (uint64_t k = 1; k <= 3; k++)
        first_step(&f, &t, k);
    cr_assert_eq(lmr__view_sequence.end(&f.c), 0);
    cr_expect(strstr(f.buf.data, "participant p2 as ping\n"), "%s", f.buf.data);
    lmr_buf_free(&f.buf);
}

/* issue 13: the sequence view marks time, draws the deadline being set and
 * expiring, and says why the task was cancelled; the same through the CLI
 * (golden_all compares the whole text of timeout.sequence.mmd too). */
Test(views, sequence_marks_time_and_the_deadline)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = LMR_VIEW_SEQUENCE;
    lmr_buf out = {0};
    cr_assert_eq(render("tests/data/views/timeout.yaml", &o, &out), 0);
    char *s = unwrap(out.data);
    const char *want[] = {
        "    participant tm1 as Timeout timer\n",
        "    lp1->>tm1: set timer 2 s (due 2 s)\n",
        "    Note over lp1: t = 2 s (+2 s) 2 tasks waited\n",
        "    tm1-->>lp1: 2 s elapsed: deadline\n",
        "    lp1-xp2: cancel: wait_for deadline passed\n",
        "    p2--xlp1: cancelled\n",
        "    Note over p1: wait_for timeout: TimeoutError to the caller: 1 cancelled\n",
    };
    const char *at = s;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *p = strstr(at, want[i]);
        cr_expect(p, "missing or out of order: %s\nin:\n%s", want[i], s);
        if (p)
            at = p;
    }
    cr_expect(!strstr(s, "poll"), "no poll notes: %s", s);
    free(s);
    lmr_buf_free(&out);
}

/* issue 13: after wait(FIRST_COMPLETED) returns, its pending members are
 * still pending; the program's cancel() of them is drawn after, from the
 * task that called it, and a group's cancellations name the sibling that
 * failed (examples/groups.c's trace). */
Test(views, sequence_group_outcomes_and_who_cancelled)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = LMR_VIEW_SEQUENCE;
    o.max_participants = 40;
    lmr_buf out = {0};
    cr_assert_eq(render("tests/data/examples/groups.yaml", &o, &out), 0);
    char *s = unwrap(out.data);
    const char *w = strstr(s, "wait returned: 1 done, 2 still pending");
    cr_expect(w, "%s", s);
    cr_expect(w && strstr(w, ": cancel()\n"), "the program's cancel() comes after: %s", s);
    cr_expect(strstr(s, "cancel: sibling"), "%s", s);
    cr_expect(!strstr(s, "cancel: its group failed"), "%s", s);
    free(s);
    lmr_buf_free(&out);
}

/* issue 14: --from/--to: the diagram says what window it shows, a task
 * spawned before the window is resumed there (never "start"ed), and the
 * first time mark counts from the window's start. */
Test(views, sequence_window_is_said_and_honoured)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = LMR_VIEW_SEQUENCE;
    o.from = 1000000000;
    lmr_buf out = {0};
    cr_assert_eq(render("tests/data/views/timeout.yaml", &o, &out), 0);
    char *s = unwrap(out.data);
    cr_expect(strstr(s, "Note over lp1: window: t = 1 s to 2 s (--from/--to)"), "%s", s);
    cr_expect(strstr(s, "Note over lp1: t = 2 s (+1 s)\n"), "%s", s);
    cr_expect(!strstr(s, ": start\n"), "%s", s);
    cr_expect(!strstr(s, "set timer"), "the deadline was set before the window: %s", s);
    free(s);
    lmr_buf_free(&out);
    /* A task that lived only before the window is said to be left out. */
    o.from = 7000000;
    cr_assert_eq(render("tests/data/views/gather.yaml", &o, &out), 0);
    s = unwrap(out.data);
    cr_expect(strstr(s, "window: t = 7 ms to 10 ms"), "%s", s);
    cr_expect(strstr(s, "1 task lived only outside the window"), "%s", s);
    cr_expect(!strstr(s, "participant p3 "), "B ended at 5 ms: %s", s);
    free(s);
    lmr_buf_free(&out);
    /* Without a window there is no window note. */
    o.from = 0;
    cr_assert_eq(render("tests/data/views/timeout.yaml", &o, &out), 0);
    cr_expect(!strstr(out.data, "window"), "%s", out.data);
    lmr_buf_free(&out);
}

Test(hooks, sequence_honours_max_messages)
{
    fixture f;
    fixture_init(&f);
    f.o.max_messages = 3;
    /* Distinct text per message defeats folding. */
    cr_assert_eq(lmr__view_sequence.begin(&f.c), 0);
    char txt[32];
    for (int i = 0; i < 10; i++) {
        snprintf(txt, sizeof txt, "note %d", i);
        lmr__event e = {.kind = LMR__EV_NOTE, .t = i, .loop = 1, .task = 2,
                        .text = txt, .fd = -1, .timeout = -1};
        cr_assert_eq(lmr__view_sequence.event(&f.c, &e), 0);
    }
    cr_assert_eq(lmr__view_sequence.end(&f.c), 0);
    char *s = unwrap(f.buf.data);
    cr_expect(strstr(s, "Note over p2: note 2\n"), "%s", s);
    cr_expect(!strstr(s, "note 3"), "%s", s);
    cr_expect(strstr(s, "\xE2\x80\xA6 7 events not shown from t 3 ns to 9 ns"),
              "%s", s);
    cr_expect(strstr(s, "(--max-messages)"), "%s", s);
    free(s);
    lmr_buf_free(&f.buf);
}

Test(hooks, every_view_closes_on_an_empty_trace)
{
    for (size_t v = 0; v < NVIEWS; v++) {
        fixture f;
        fixture_init(&f);
        f.m.ntasks = 0;
        const lmr__renderer *r = all_renderers[v];
        cr_assert_eq(r->begin(&f.c), 0);
        cr_assert_eq(r->end(&f.c), 0);
        cr_expect(f.buf.len > 0 && f.buf.data[f.buf.len - 1] == '\n', "%s",
                  views[v]);
        lmr_buf_free(&f.buf);
    }
}

Test(hooks, state_counts_causes)
{
    fixture f;
    fixture_init(&f);
    f.o.counts = 1;
    f.o.states = "seed002";
    feed_ping_pong(&f, &lmr__view_state, 5);
    const char *s = f.buf.data;
    cr_expect(strstr(s, "    state \"Suspended\" as s4\n"), "%s", s);
    cr_expect(strstr(s, "    s3 --> s4: await queue (10)\n"), "%s", s);
    cr_expect(strstr(s, "    s4 --> s2: queue (10)\n"), "%s", s);
    lmr_buf_free(&f.buf);
}

/* A task with no measurable time (work offloaded under the virtual clock)
 * is drawn as a sliver where it lived, not at the start of the chart: in
 * concurrent_parallel the parallel jobs run at 4 s, the end of the chart
 * (3999-4000 in ms units), after the sequential and concurrent phases. */
Test(views, gantt_places_instant_tasks_at_their_time)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = LMR_VIEW_GANTT;
    o.quiet = 1;
    lmr_buf out = {0};
    lmr_error e;
    int rc = lmr_render_file("tests/data/examples/concurrent_parallel.yaml", &o, &out,
                             NULL, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    const char *sec = strstr(out.data, "section #112;arallel A\n");
    cr_assert_not_null(sec, "%s", out.data);
    const char *bar = strchr(sec, '\n') + 1;
    const char *colon = strchr(bar, ':');
    cr_assert_not_null(colon);
    /* The bar line reads "TEXT :done, tN, START, END". */
    int id;
    long start, end;
    cr_assert_eq(sscanf(colon, ":done, t%d, %ld, %ld", &id, &start, &end), 3, "%.40s", bar);
    cr_assert_geq(start, 3999, "instant task drawn at %ld: %.60s", start, bar);
    cr_assert_eq(end, start + 1);
    lmr_buf_free(&out);
}

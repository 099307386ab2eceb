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
     "--title 'gather: \"demo\" %%{init}%%'", /* + states, counts: below */
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
    /* The CLI refuses an option the view does not use (cli.c's table), so
     * it gets --states / --counts only where they apply; the library output
     * above, made with them set, must be the same: they are really unused. */
    char args[1024];
    lmr_view vw = (lmr_view)lmr_view_parse(view);
    snprintf(args, sizeof args, "render -q --view %s %s%s%s%s %s", view,
             g->states && !lmr__view_refuses(vw, LMR__OPT_STATES) ? "--states " : "",
             g->states && !lmr__view_refuses(vw, LMR__OPT_STATES) ? g->states : "",
             g->counts && !lmr__view_refuses(vw, LMR__OPT_COUNTS) ? " --counts " : " ",
             g->extra_cli, g->trace);
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
    lmr__event_tokens(&e); /* views switch on the ids, as the reader sets */
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
            lmr__event_tokens(&e);
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
    lmr__event_tokens(&e);
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
    /* seed002 comes from an asyncio doc: its edges speak asyncio */
    cr_expect(strstr(s, "    s4 --> s2: queue ready (10)\n"), "%s", s);
    cr_expect(strstr(s, "    s2 --> s3: loop runs it (10)\n"), "%s", s);
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
    /* No measurable time under the virtual clock: a diamond, saying so,
     * "TEXT :milestone, tN, START, END". */
    int id;
    long start, end;
    cr_assert_eq(sscanf(colon, ":milestone, t%d, %ld, %ld", &id, &start, &end), 3, "%.40s", bar);
    cr_assert(strstr(bar, "no measurable time") != NULL, "%.80s", bar);
    cr_assert_geq(start, 3999, "instant task drawn at %ld: %.60s", start, bar);
    cr_assert_eq(end, start + 1);
    lmr_buf_free(&out);
}

/* --- truth, words, caps, windows: flowchart, state and tasks (issues 13,
 * 14). tests/data/views/causes.yaml: a task group whose member "tg fails"
 * fails and its siblings are cancelled BY it; wait(FIRST_COMPLETED) after
 * which main cancels "slow" itself; wait_for whose 5 ms deadline cancels
 * "slow call". ---------------------------------------------------------- */

#define CAUSES "tests/data/views/causes.yaml"

/* Renders through the library; the caller frees. */
static char *render_with(const char *path, lmr_options *o)
{
    lmr_buf out = {0};
    o->quiet = 1;
    cr_assert_eq(render(path, o, &out), 0);
    return out.data ? out.data : calloc(1, 1);
}

/* The line of s that contains `needle` (static copy; "" when none). */
static const char *line_with(const char *s, const char *needle)
{
    static char buf[2048];
    const char *p = strstr(s, needle);
    buf[0] = '\0';
    if (!p)
        return buf;
    const char *a = p, *b = p;
    while (a > s && a[-1] != '\n')
        a--;
    while (*b && *b != '\n')
        b++;
    size_t n = (size_t)(b - a) < sizeof buf - 1 ? (size_t)(b - a) : sizeof buf - 1;
    memcpy(buf, a, n);
    buf[n] = '\0';
    return buf;
}

static lmr_options opts_for(lmr_view v)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = v;
    return o;
}

Test(truth, group_node_counts_its_members_outcomes)
{
    lmr_options o = opts_for(LMR_VIEW_TASKS);
    char *s = render_with(CAUSES, &o);
    const char *g1 = line_with(s, "g1{{");
    cr_expect(strstr(g1, "1 failed, 2 cancelled"), "%s", g1);
    cr_expect(strstr(g1, "raised disk full"), "the error the group raised: %s", g1);
    cr_expect(!strstr(s, "members failed") && !strstr(s, "members ok"), "%s", s);
    const char *g2 = line_with(s, "g2{{");
    cr_expect(strstr(g2, "1 cancelled, 1 done"), "%s", g2);
    cr_expect(strstr(g2, "returned 1 done, 1 pending"), "wait()'s sets: %s", g2);
    const char *g3 = line_with(s, "g3{{");
    cr_expect(strstr(g3, "1 timed out"), "%s", g3);
    free(s);
}

Test(truth, cancellations_name_who_and_why_in_the_tasks_view)
{
    lmr_options o = opts_for(LMR_VIEW_TASKS);
    char *s = render_with(CAUSES, &o);
    const char *a = line_with(s, "t3[");
    cr_expect(strstr(a, "cancelled<br/>by tg fails<br/>a sibling that failed"), "%s", a);
    const char *slow = line_with(s, "t6[");
    cr_expect(strstr(slow, "by main<br/>after wait() returned"),
              "the program cancelled it, not wait(): %s", slow);
    const char *call = line_with(s, "t7[");
    cr_expect(strstr(call, "timed out<br/>by the wait_for deadline"), "%s", call);
    /* lm_fail's message, not the error's name */
    cr_expect(strstr(line_with(s, "t2["), "failed: disk full"), "%s", s);
    cr_expect(!strstr(s, "LM_EUSER"), "%s", s);
    free(s);
}

Test(truth, a_member_hangs_from_its_group_only)
{
    lmr_options o = opts_for(LMR_VIEW_TASKS);
    char *s = render_with(CAUSES, &o);
    cr_expect(strstr(s, "    g1 -.-> t2\n") && strstr(s, "    t1 -.-> g1\n"), "%s", s);
    cr_expect(!strstr(s, "    t1 --> t2\n"), "duplicate parent edge: %s", s);
    /* one root: no loop node, no legend, nothing floating; everything is
     * drawn, so no lifetimes widen the nodes */
    cr_expect(!strstr(s, "lp1") && !strstr(s, "legend"), "%s", s);
    cr_expect(!strstr(s, "done after"), "%s", s);
    free(s);
}

Test(words, state_edges_speak_asyncio)
{
    lmr_options o = opts_for(LMR_VIEW_STATE);
    o.states = "asyncio";
    o.max_causes = 20; /* every cause named */
    char *s = render_with(CAUSES, &o);
    cr_expect(strstr(s, "    s1 --> s2: create_task()\n"), "%s", s);
    cr_expect(strstr(line_with(s, "s3 --> s7:"), "CancelledError at the await"), "%s", s);
    cr_expect(strstr(line_with(s, "s4 --> s2:"), "TimeoutError to the caller"), "%s", s);
    cr_expect(strstr(line_with(s, "s3 --> s6:"), "raises#58; disk full"), "%s", s);
    cr_expect(strstr(line_with(s, "s3 --> s4:"), "await asyncio.sleep()"), "%s", s);
    /* wakes and cancellations name the task that caused them */
    const char *wake = line_with(s, "s4 --> s2:");
    cr_expect(strstr(wake, "group cancel() by tg fails"), "%s", wake);
    cr_expect(strstr(wake, "task.cancel() by main"), "%s", wake);
    cr_expect(strstr(wake, "quick done"), "%s", wake);
    free(s);
    o.states = NULL;
    s = render_with(CAUSES, &o);
    cr_expect(!strstr(s, "create_task"), "asyncio words only with --states asyncio: %s", s);
    cr_expect(strstr(line_with(s, "s4 --> s2:"), "group cancel by tg fails"), "%s", s);
    free(s);
}

Test(caps, max_causes_folds_named_causes_into_generic_ones)
{
    lmr_options o = opts_for(LMR_VIEW_STATE);
    o.max_causes = 2;
    char *s = render_with(CAUSES, &o);
    const char *wake = line_with(s, "s4 --> s2:");
    cr_expect(strstr(wake, "other causes ("), "%s", wake);
    cr_expect(!strstr(wake, " by "), "generic causes name nobody: %s", wake);
    free(s);
    char *cli = run_cli("render -q --view state --max-causes 2 " CAUSES);
    if (cli) {
        lmr_options o2 = opts_for(LMR_VIEW_STATE);
        o2.max_causes = 2;
        char *lib = render_with(CAUSES, &o2);
        cr_expect_str_eq(cli, lib);
        free(lib);
        free(cli);
    }
}

/* A flat trace: main gathers `tasks` workers; every 7th fails. */
static char *flat_trace(int tasks)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/loopmaid-flat-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    write_big(path, tasks, 2);
    return path;
}

Test(caps, tasks_view_keeps_failures_first_under_max_nodes)
{
    char *path = flat_trace(60);
    lmr_options o = opts_for(LMR_VIEW_TASKS);
    o.max_nodes = 6;
    o.max_children = 5;
    char *s = render_with(path, &o);
    /* main + 5 children: failed workers (every 7th: 7, 14, 21) and the
     * slowest (the last to finish: 61, 60) take turns, before any other */
    size_t nodes = 0;
    for (const char *p = s; (p = strstr(p, "\"]:::")); p++)
        if (strncmp(p, "\"]:::more", 9) != 0)
            nodes++;
    cr_expect_eq(nodes, 6, "%s", s);
    for (int w = 7; w <= 21; w += 7) {
        char want[64];
        snprintf(want, sizeof want, "worker %d<br/>failed", w);
        cr_expect(strstr(s, want), "failed worker %d is drawn first: %s", w, s);
    }
    cr_expect(strstr(s, "worker 61<br/>done after ") && strstr(s, "worker 60<br/>done after "),
              "the slowest, with how long they lived: %s", s);
    cr_expect(!strstr(s, "worker 2<br/>"), "%s", s);
    /* what was left out is said: a fold with the outcomes (under the group
     * its members hang from), and the caption */
    cr_expect(strstr(s, "… and 55 more tasks<br/>5 failed, 50 done"), "%s", s);
    cr_expect(strstr(s, "g1 -.-> f1"), "%s", s);
    cr_expect(strstr(s, "not shown#58; 55 of 61 tasks"), "%s", s);
    char args[256];
    snprintf(args, sizeof args, "render -q --view tasks --max-nodes 6 --max-children 5 %s",
             path);
    char *cli = run_cli(args);
    if (cli) {
        cr_expect_str_eq(cli, s);
        free(cli);
    }
    free(s);
    unlink(path);
}

Test(caps, ranking_puts_failed_cancelled_then_slowest_first)
{
    lmr__model m;
    FILE *fp = fopen(CAUSES, "rb");
    cr_assert(fp);
    lmr_error e;
    cr_assert_eq(lmr__model_build(fp, CAUSES, &m, NULL, &e), 0, "%s", e.msg);
    fclose(fp);
    lmr_options o;
    lmr_options_init(&o);
    size_t idx[16];
    int tier[16];
    size_t n = lmr__rank(&m, &o, idx, tier);
    cr_assert_eq(n, 7);
    cr_expect_str_eq(m.tasks[idx[0]].name, "tg fails");
    cr_expect_eq(tier[0], LMR__INT_FAILED);
    cr_expect_str_eq(m.tasks[idx[1]].name, "slow call");
    cr_expect_eq(tier[1], LMR__INT_TIMED_OUT);
    cr_expect_eq(tier[2], LMR__INT_CANCELLED);
    cr_expect_str_eq(m.tasks[idx[2]].name, "tg sib A");
    /* then the slowest: main lived 25 ms; the kinds take turns */
    cr_expect_str_eq(m.tasks[idx[3]].name, "main");
    cr_expect_eq(tier[3], LMR__INT_SLOW);
    cr_expect_eq(tier[4], LMR__INT_CANCELLED);
    cr_expect_eq(tier[5], LMR__INT_SLOW);
    cr_expect_str_eq(m.tasks[idx[5]].name, "quick");
    cr_expect_eq(tier[6], LMR__INT_CANCELLED);
    /* a window that ends before the failure: no longer ranked as failed */
    o.to = 5000000;
    n = lmr__rank(&m, &o, idx, tier);
    cr_expect_eq(n, 4);
    cr_expect_neq(tier[0], LMR__INT_FAILED);
    lmr__model_free(&m);
}

Test(window, state_view_starts_where_tasks_were)
{
    lmr_options o = opts_for(LMR_VIEW_STATE);
    o.from = 15000000;
    char *s = render_with(CAUSES, &o);
    /* at 15 ms main, quick and slow are all awaiting (wait()) */
    cr_expect(strstr(s, "    [*] --> s4: 3 tasks here at 15 ms\n"), "%s", s);
    cr_expect(strstr(s, "window 15 ms to 25 ms of the run"), "%s", s);
    cr_expect(!strstr(s, "not finished at"), "no --to: the run's end: %s", s);
    /* only "slow call" was spawned inside the window */
    cr_expect(strstr(s, "    [*] --> s1\n"), "%s", s);
    cr_expect(!strstr(s, "tg fails"), "events before the window are not drawn: %s", s);
    /* durations clipped to the window: quick awaited from 15 to 20 ms */
    cr_expect(strstr(s, "longest 5000 us in"), "%s", s);
    free(s);
}

Test(window, state_view_says_what_is_open_at_the_window_end)
{
    lmr_options o = opts_for(LMR_VIEW_STATE);
    o.from = 15000000;
    o.to = 22000000;
    char *s = render_with(CAUSES, &o);
    /* at 22 ms main awaits wait_for and slow call awaits its read */
    cr_expect(strstr(s, "window 15 ms to 22 ms of the run<br/>2 tasks not finished at 22 ms"),
              "%s", s);
    free(s);
}

Test(window, tasks_view_honours_the_window)
{
    lmr_options o = opts_for(LMR_VIEW_TASKS);
    o.to = 15000000;
    char *s = render_with(CAUSES, &o);
    cr_expect(!strstr(s, "slow call"), "spawned after the window: %s", s);
    cr_expect(strstr(line_with(s, "t1["), "still alive at window end"), "%s", s);
    cr_expect(strstr(line_with(s, "t6["), "still alive at window end"),
              "slow is cancelled only at 20 ms: %s", s);
    cr_expect(strstr(line_with(s, "t2["), "failed: disk full"), "%s", s);
    cr_expect(strstr(s, "tasks alive from 0 ns to 15 ms"), "the window is said: %s", s);
    free(s);
}

Test(window, flowchart_counts_inside_the_window_and_says_so)
{
    lmr_options o = opts_for(LMR_VIEW_FLOWCHART);
    char *all = render_with(CAUSES, &o);
    cr_expect(strstr(line_with(all, "TICK["), "3 ticks in 25 ms"), "%s", all);
    cr_expect(strstr(line_with(all, "POLL["), "clock advanced 25 ms"),
              "the virtual clock's jumps, not 'waited 0 ns': %s", all);
    o.from = 15000000;
    char *s = render_with(CAUSES, &o);
    cr_expect(strstr(line_with(s, "TICK["), "1 ticks in 10 ms<br/>window 15 ms to 25 ms"),
              "%s", s);
    cr_expect(strstr(line_with(s, "POLL["), "1 polls<br/>clock advanced 5000 us"),
              "%s", s);
    free(s);
    free(all);
}

Test(window, empty_selections_are_said_on_stderr)
{
    char *out = run_cli("render --view tasks --tasks '^nomatch$' " CAUSES " 2>&1 >/dev/null");
    if (!out)
        cr_skip_test("build/loopmaid not built");
    cr_expect(strstr(out, "no task matches --tasks '^nomatch$' (7 tasks in the trace)"),
              "%s", out);
    free(out);
    out = run_cli("render --view state --from 2s " CAUSES " 2>&1 >/dev/null");
    cr_expect(strstr(out, "--from 2000 ms is after the end of the trace"), "%s", out);
    free(out);
    out = run_cli("render -q --view state --from 2s " CAUSES " 2>&1 >/dev/null");
    cr_expect_str_eq(out, "", "-q silences it");
    free(out);
}

/* Goldens of the three views on causes.yaml, library and CLI. */
Test(views, golden_causes)
{
    static const struct {
        const char *name, *view, *cli;
        lmr_options o;
    } cases[] = {
        {"causes", "tasks", "", {.view = LMR_VIEW_TASKS, .to = -1}},
        {"causes", "state", "", {.view = LMR_VIEW_STATE, .to = -1}},
        {"causes", "flowchart", "", {.view = LMR_VIEW_FLOWCHART, .to = -1}},
        {"causes-asyncio", "state", "--states asyncio --counts",
         {.view = LMR_VIEW_STATE, .to = -1, .states = "asyncio", .counts = 1}},
        {"causes-asyncio", "tasks", "--states asyncio",
         {.view = LMR_VIEW_TASKS, .to = -1, .states = "asyncio"}},
        {"causes-window", "state", "--from 15ms --to 22ms",
         {.view = LMR_VIEW_STATE, .from = 15000000, .to = 22000000}},
        {"causes-window", "tasks", "--from 15ms --to 22ms",
         {.view = LMR_VIEW_TASKS, .from = 15000000, .to = 22000000}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lmr_options o = cases[i].o;
        char *got = render_with(CAUSES, &o);
        char path[256];
        snprintf(path, sizeof path, "tests/data/views/%s.%s.mmd", cases[i].name,
                 cases[i].view);
        if (getenv("LOOPMAID_UPDATE_GOLDEN")) {
            FILE *f = fopen(path, "wb");
            cr_assert(f);
            fputs(got, f);
            fclose(f);
        }
        char *want = slurp(path, NULL);
        cr_assert(want, "missing golden %s (LOOPMAID_UPDATE_GOLDEN=1 writes it)", path);
        cr_expect_str_eq(got, want, "%s differs", path);
        char args[512];
        snprintf(args, sizeof args, "render -q --view %s %s %s", cases[i].view,
                 cases[i].cli, CAUSES);
        char *cli = run_cli(args);
        if (cli) {
            cr_expect_str_eq(cli, want, "CLI output differs from %s", path);
            free(cli);
        }
        free(want);
        free(got);
    }
}
/* ---- advise: verdicts on real-clock runs of three kinds of program ------ */

static char *render_opts(const char *trace, lmr_options *o)
{
    lmr_buf out = {0};
    cr_assert_eq(render(trace, o, &out), 0, "%s", trace);
    return out.data ? out.data : calloc(1, 1);
}

/* Recorded once with the real clock (examples/fetch.c, offload.c, crunch.c):
 * the three answers of the decision tree, through the library and the CLI
 * (goldens tests/data/views/NAME-real.advise.mmd). */
Test(advise, verdicts_on_real_traces)
{
    static const struct {
        golden g;
        const char *path_class, *verdict;
    } cases[] = {
        {{"tests/data/advise/fetch.real.yaml", "fetch-real", "", NULL, NULL, 0},
         "class ASYNC path", "I/O-bound with several operations"},
        {{"tests/data/advise/offload.real.yaml", "offload-real", "", NULL, NULL, 0},
         "class Q4 path", "already runs in the thread pool"},
        {{"tests/data/advise/crunch.real.yaml", "crunch-real", "", NULL, NULL, 0},
         "class Q4 path", "CPU-bound on the loop thread"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_golden(&cases[i].g, "advise");
        lmr_options o;
        lmr_options_init(&o);
        o.view = LMR_VIEW_ADVISE;
        char *d = render_opts(cases[i].g.trace, &o);
        cr_expect(strstr(d, cases[i].path_class) != NULL, "%s:\n%s",
                  cases[i].g.trace, d);
        cr_expect(strstr(d, cases[i].verdict) != NULL, "%s:\n%s",
                  cases[i].g.trace, d);
        /* "Need shared memory?" is the program's call: never answered. */
        cr_expect(strstr(d, "class THREAD path") == NULL &&
                      strstr(d, "class MULTI path") == NULL, "%s", d);
        free(d);
    }
}

/* The offload run has a heartbeat timer firing ~130 times beside the pool
 * work: it must not make the program "I/O-bound" (issue 13), and the idle
 * time is wall time, never more than the run. */
Test(advise, timers_beside_pool_work_do_not_hide_it)
{
    lmr_buf out = {0};
    lmr_options o;
    lmr_options_init(&o);
    cr_assert_eq(lmr_inspect("tests/data/advise/offload.real.yaml", &o, 1,
                             &out, NULL, NULL), 0);
    cr_expect(strstr(out.data, "Waiting on I/O? no -> CPU-heavy? yes") != NULL,
              "%s", out.data);
    double idle, span, sleeping;
    const char *p = strstr(out.data, "loop idle, awaiting I/O or timers: ");
    cr_assert_not_null(p, "%s", out.data);
    cr_assert_eq(sscanf(p, "loop idle, awaiting I/O or timers: %lf ms of %lf s",
                        &idle, &span), 2, "%.80s", p);
    cr_expect_lt(idle, span * 1000 * 0.1, "%.80s", p);
    p = strstr(out.data, "sleeping ");
    cr_assert_not_null(p);
    cr_assert_eq(sscanf(p, "sleeping %lf s", &sleeping), 1, "%.40s", p);
    lmr_buf_free(&out);
}

/* Virtual clock: no "ran on the loop 0 ns", no CPU answer claimed. */
Test(advise, virtual_clock_claims_no_cpu_figures)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = LMR_VIEW_ADVISE;
    char *d = render_opts("tests/data/examples/concurrent_parallel.yaml", &o);
    cr_expect(strstr(d, "not measured") != NULL, "%s", d);
    cr_expect(strstr(d, "ran on the loop") == NULL, "%s", d);
    cr_expect(strstr(d, "class SYNC path") == NULL, "%s", d);
    free(d);
}

/* --from/--to: the figures are those of the window. */
Test(advise, window_is_honoured)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = LMR_VIEW_ADVISE;
    o.from = 1000000000; /* concurrent_parallel: 1 s to 2 s is sequential B */
    o.to = 2000000000;
    char *d = render_opts("tests/data/examples/concurrent_parallel.yaml", &o);
    cr_expect(strstr(d, "window 1000 ms to 2000 ms: 1000 ms") != NULL, "%s", d);
    cr_expect(strstr(d, "at most 1 in flight at once") != NULL, "%s", d);
    cr_expect(strstr(d, "class SYNC_OK path") != NULL, "%s", d);
    free(d);
}

/* ---- gantt: ends at their time, causes, windows, rows by interest -------- */

/* The line after `section NAME` whose text (escaped) contains `what`. */
static const char *row_line(const char *d, const char *section, const char *what)
{
    char want[256];
    snprintf(want, sizeof want, "    section %s", section);
    const char *s = strstr(d, want);
    if (!s)
        return NULL;
    const char *next = strstr(s + 1, "    section ");
    const char *l = strstr(s, what);
    return l && (!next || l < next) ? l : NULL;
}

Test(gantt, ends_are_drawn_at_their_time_with_their_cause)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = LMR_VIEW_GANTT;
    char *d = render_opts("tests/data/examples/groups.yaml", &o);
    /* fail-fast B failed at 40 ms with lm_fail's message; asyncio's gather
     * leaves A and C running. With the opt-in cancel_on_error flag B fails
     * at 70 ms and A and C are cancelled there because of it. */
    const char *l = row_line(d, "#102;ail-fast B", "#102;ailed#58; B failed :crit, milestone");
    cr_assert_not_null(l, "%s", d);
    int id;
    long a, b;
    cr_assert_eq(sscanf(strchr(l, ':'), ":crit, milestone, t%d, %ld, %ld", &id, &a, &b), 3);
    cr_expect_eq(a, 40);
    cr_expect(row_line(d, "#102;ail-fast A", "milestone") == NULL,
              "fail-fast A is not cancelled (asyncio's gather): %s", d);
    cr_expect(row_line(d, "#99;ancel_on_error A", "#99;ancelled") != NULL, "%s", d);
    /* No bar of an ended task runs past its end. */
    l = row_line(d, "#99;ancel_on_error A", ":t");
    cr_assert_not_null(l);
    cr_assert_eq(sscanf(l, ":t%d, %ld, %ld", &id, &a, &b), 3);
    cr_expect_leq(b, 70);
    free(d);
    /* A wait_for deadline says so (in the row's name when the diamond sits
     * at the right edge with no room for words). */
    d = render_opts("tests/data/views/timeout.yaml", &o);
    cr_expect(strstr(d, "section #83;low Task#58; timed out") != NULL, "%s", d);
    free(d);
}

Test(gantt, window_clips_every_bar_and_the_axis_says_so)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = LMR_VIEW_GANTT;
    o.from = 30000000;
    o.to = 50000000;
    char *d = render_opts("tests/data/examples/groups.yaml", &o);
    /* 20 ms of window: the axis counts us since the loop started. */
    cr_expect(strstr(d, "section #117;s since loop start") != NULL, "%s", d);
    cr_expect(strstr(d, "#119;indow 30 ms to 50 ms#58; 20 ms") != NULL, "%s", d);
    /* Every bar lies inside [30, 50] ms (a diamond takes one unit). */
    size_t bars = 0;
    for (const char *p = strstr(d, "axisFormat"); (p = strstr(p, ", t")); p++) {
        int id;
        long a, b;
        if (sscanf(p, ", t%d, %ld, %ld", &id, &a, &b) != 3)
            continue;
        bars++;
        cr_expect(a >= 30000 && b <= 50001, "bar t%d at [%ld, %ld]", id, a, b);
    }
    cr_expect_gt(bars, 5);
    /* gather B (0 to 10 ms) ended before the window. */
    cr_expect(strstr(d, "section #103;ather B\n") == NULL, "%s", d);
    free(d);
    /* A window past the end says so. */
    o.from = 100000000000;
    o.to = -1;
    d = render_opts("tests/data/examples/groups.yaml", &o);
    cr_expect(strstr(d, "#116;he window starts after the trace ends (at 160 ms)") != NULL,
              "%s", d);
    free(d);
}

Test(gantt, max_rows_keeps_failures_first_and_says_what_is_left_out)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = LMR_VIEW_GANTT;
    o.max_rows = 4;
    char *d = render_opts("tests/data/examples/groups.yaml", &o);
    size_t rows = 0;
    for (const char *p = d; (p = strstr(p, "    section ")); p++)
        rows++;
    cr_expect_eq(rows, 2 + 4 + 1, "header, key, 4 rows, not shown:\n%s", d);
    size_t ends = 0;
    for (const char *p = d; (p = strstr(p, ":crit, milestone")); p++)
        ends++;
    cr_expect_eq(ends, 4, "every row kept ended badly:\n%s", d);
    cr_expect(strstr(d, "#8230; 29 more tasks not shown") != NULL, "%s", d);
    free(d);
    char *cli = run_cli("render -q --view gantt --max-rows 4 tests/data/examples/groups.yaml");
    if (cli) {
        o.max_rows = 4;
        d = render_opts("tests/data/examples/groups.yaml", &o);
        cr_expect_str_eq(cli, d);
        free(d);
        free(cli);
    }
}

Test(gantt, counts_adds_runs_per_task)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = LMR_VIEW_GANTT;
    o.counts = 1;
    char *d = render_opts("tests/data/examples/groups.yaml", &o);
    cr_expect(strstr(d, "section #102;ail-fast B x2") != NULL, "%s", d);
    free(d);
}

/* The gallery's gantt: drawn 900 px wide, whatever the page. */
Test(gantt, fixed_width_and_label_column)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = LMR_VIEW_GANTT;
    char *d = render_opts("tests/data/examples/concurrent_parallel.yaml", &o);
    cr_expect(strstr(d, "    useWidth: 900\n") != NULL, "%s", d);
    cr_expect(strstr(d, "#116;otal 4000 ms (virtual clock#58; thread work "
                        "takes no time)") != NULL, "%s", d);
    free(d);
}

/* A tight --max-chars: the rows that fit are still the interesting ones. */
Test(gantt, tight_budget_keeps_the_failures)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = LMR_VIEW_GANTT;
    o.max_chars = 2000;
    char *d = render_opts("tests/data/examples/groups.yaml", &o);
    cr_expect_leq(strlen(d), 2000);
    size_t rows = 0, ends = 0;
    for (const char *p = d; (p = strstr(p, "    section ")); p++)
        rows++;
    for (const char *p = d; (p = strstr(p, ":crit, milestone")); p++)
        ends++;
    rows -= 3; /* header, key, not shown */
    cr_expect_gt(rows, 2, "%s", d);
    cr_expect_lt(rows, 12, "the budget should cut some rows:\n%s", d);
    cr_expect_eq(ends, rows, "every row kept ended badly:\n%s", d);
    cr_expect(strstr(d, "more tasks not shown") != NULL, "%s", d);
    free(d);
}

/* issue 13: an fd the program labelled (lm_fd_label) is named by its label
 * in the sequence view, not by its number (examples/timeout.c's trace). */
Test(words, io_awaits_name_the_fd_label_not_the_number)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = LMR_VIEW_SEQUENCE;
    o.max_participants = 10;
    char *s = render_with("tests/data/examples/timeout.yaml", &o);
    char *u = unwrap(s);
    cr_expect(strstr(u, "await read from slow server"), "%s", u);
    cr_expect(strstr(u, "await read from client"), "%s", u);
    cr_expect(strstr(u, "resume: client readable"), "%s", u);
    cr_expect(strstr(u, "await write to new connection"), "%s", u);
    cr_expect(!strstr(u, "(fd "), "no fd numbers where labels exist: %s", u);
    free(u);
    free(s);
}

/*
 * test_examples.c: every example program, run for real under the virtual
 * clock, checked two ways:
 *
 *  1. its trace and its printed summary are compared byte for byte with the
 *     golden files tests/data/examples/NAME.yaml and NAME.out (regenerate
 *     them with `make demo-golden`, which also checks that two runs agree,
 *     and review the diff before committing);
 *  2. the facts the seed diagram is about are checked in the trace and in
 *     the diagram the example exists for (rendered in-process with
 *     lmr_render_file): who the participants are, the order of the key
 *     messages, which tasks ended cancelled, that the cleanup note comes
 *     before the timeout... so a golden file refreshed without care cannot
 *     hide a regression in what the example demonstrates.
 *
 * The examples are found next to this binary: BUILD/tests/test_examples runs
 * BUILD/examples/NAME, so `make asan` tests the ASan build of the examples.
 */
#include <criterion/criterion.h>

#include "loopmaid_render.h"
#include "support/lm_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Small text helpers                                                        */
/* ------------------------------------------------------------------------ */

/* Reads a whole file; NULL when it cannot be read. Caller frees. */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(fp);
    if (buf != NULL)
        buf[len] = '\0';
    return buf;
}

/* A text split into lines (the text is modified in place and owned). */
typedef struct lines {
    char *text;
    char **v;
    size_t n;
} lines;

static void lines_split(lines *l, char *text)
{
    l->text = text;
    l->n = 0;
    size_t cap = 64;
    l->v = malloc(cap * sizeof *l->v);
    cr_assert_not_null(l->v);
    char *p = text;
    while (*p != '\0') {
        if (l->n == cap) {
            cap *= 2;
            l->v = realloc(l->v, cap * sizeof *l->v);
            cr_assert_not_null(l->v);
        }
        l->v[l->n++] = p;
        char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
}

static void lines_free(lines *l)
{
    free(l->v);
    free(l->text);
}

/*
 * Mermaid labels may arrive entity-encoded (`#59;` for ";", MERMAID.md) and
 * wrapped with <br/> (the sequence view): turn every `#N;` back into UTF-8
 * and every <br/> into a space so that the checks can look for plain words.
 * In place; the result is never longer.
 */
static void decode_entities(char *s)
{
    char *w = s;
    for (char *r = s; *r != '\0';) {
        if (strncmp(r, "<br/>", 5) == 0) {
            *w++ = ' ';
            r += 5;
            continue;
        }
        if (r[0] == '#' && r[1] >= '0' && r[1] <= '9') {
            char *end;
            unsigned long cp = strtoul(r + 1, &end, 10);
            if (*end == ';' && cp > 0 && cp < 0x110000) {
                if (cp == 160)
                    cp = ' ';
                if (cp < 0x80) {
                    *w++ = (char)cp;
                } else if (cp < 0x800) {
                    *w++ = (char)(0xC0 | (cp >> 6));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    *w++ = (char)(0xE0 | (cp >> 12));
                    *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                } else {
                    *w++ = (char)(0xF0 | (cp >> 18));
                    *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                    *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                }
                r = end + 1;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
}

/* Index of the first line at or after `from` containing every one of the
 * NULL-terminated needles; -1 when none does. */
static long find_line(const lines *l, long from, ...)
{
    for (size_t i = from < 0 ? 0 : (size_t)from; i < l->n; i++) {
        va_list ap;
        va_start(ap, from);
        const char *needle;
        int all = 1;
        while ((needle = va_arg(ap, const char *)) != NULL)
            if (strstr(l->v[i], needle) == NULL)
                all = 0;
        va_end(ap);
        if (all)
            return (long)i;
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Running an example                                                        */
/* ------------------------------------------------------------------------ */

/* One example's run: where its trace and output went, and their text. */
typedef struct run {
    char dir[PATH_MAX];
    char trace_path[PATH_MAX + 32];
    char out_path[PATH_MAX + 32];
    char *trace; /* owned */
    char *out;   /* owned */
} run;

/* Runs BUILD/examples/NAME under the virtual clock with a trace; asserts
 * that it exits 0. */
static void run_example(const char *name, run *r)
{
    char build[PATH_MAX], bin[PATH_MAX + 64];
    snprintf(bin, sizeof bin, "%s/examples/%s",
             lmt_build_dir(build, sizeof build), name);
    cr_assert(access(bin, X_OK) == 0, "%s is missing: run `make` first", bin);

    snprintf(r->dir, sizeof r->dir, "/tmp/loopmaid-example-XXXXXX");
    cr_assert_not_null(mkdtemp(r->dir));
    snprintf(r->trace_path, sizeof r->trace_path, "%s/%s.yaml", r->dir, name);
    snprintf(r->out_path, sizeof r->out_path, "%s/%s.out", r->dir, name);

    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        setenv("LOOPMAID_CLOCK", "virtual", 1);
        setenv("LOOPMAID_TRACE", r->trace_path, 1);
        unsetenv("LOOPMAID_TRACE_RING");
        int fd = open(r->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(126);
        /* Traces name file descriptors, so the example must start with only
         * 0, 1 and 2 open, as it does from a shell: close what Criterion
         * and this process opened. */
        long maxfd = sysconf(_SC_OPEN_MAX);
        for (long i = 3; i < (maxfd > 0 && maxfd < 65536 ? maxfd : 65536); i++)
            close((int)i);
        execl(bin, name, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        cr_assert(errno == EINTR);
    r->trace = slurp(r->trace_path);
    r->out = slurp(r->out_path);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "%s exited with %s %d; it printed:\n%s", name,
              WIFEXITED(st) ? "status" : "signal",
              WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
              r->out ? r->out : "");
    cr_assert_not_null(r->trace, "%s wrote no trace", name);
    cr_assert_not_null(r->out);
}

static void run_free(run *r)
{
    if (r->dir[0] == '\0')
        return; /* not a run of ours */
    unlink(r->trace_path);
    unlink(r->out_path);
    rmdir(r->dir);
    free(r->trace);
    free(r->out);
}

/* Compares text with tests/data/examples/FILE and points at the first
 * differing line. */
static void expect_golden(const char *text, const char *file)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "tests/data/examples/%s", file);
    char *want = slurp(path);
    cr_assert_not_null(want, "%s is missing: run `make demo-golden`", path);
    if (strcmp(text, want) != 0) {
        long line = 1;
        const char *a = text, *b = want;
        while (*a != '\0' && *a == *b) {
            if (*a == '\n')
                line++;
            a++;
            b++;
        }
        const char *ae = strchr(a, '\n'), *be = strchr(b, '\n');
        cr_assert_fail("%s differs from this run at line %ld:\n  golden: %.*s\n  now:    %.*s\n"
                       "(if the change is intended, run `make demo-golden` and review the diff)",
                       path, line, be ? (int)(be - b) : (int)strlen(b), b,
                       ae ? (int)(ae - a) : (int)strlen(a), a);
    }
    free(want);
}

/* Renders the run's trace with a view and options; returns the diagram's
 * lines with labels decoded. */
static void render(const run *r, lmr_view view, const char *states,
                   const char *exclude, lines *out)
{
    lmr_options o;
    lmr_options_init(&o);
    o.view = view;
    o.states = states;
    o.exclude = exclude;
    o.quiet = 1;
    lmr_buf buf = {0};
    lmr_error err;
    int rc = lmr_render_file(r->trace_path, &o, &buf, NULL, &err);
    cr_assert_eq(rc, 0, "render --view %s failed: %s:%d:%d: %s", lmr_view_name(view),
                 err.file, err.line, err.col, err.msg);
    cr_assert(buf.len > 0);
    char *text = malloc(buf.len + 1);
    cr_assert_not_null(text);
    memcpy(text, buf.data, buf.len + 1);
    lmr_buf_free(&buf);
    decode_entities(text);
    lines_split(out, text);
}

/* ---- facts from the trace ---------------------------------------------- */

/* The id of the task spawned with exactly this name; fails when absent. */
static long task_id(const lines *trace, const char *name)
{
    char needle[256];
    snprintf(needle, sizeof needle, "name: \"%s\", parent:", name);
    long i = find_line(trace, 0, "ev: spawn,", needle, NULL);
    cr_assert(i >= 0, "the trace has no task named \"%s\"", name);
    const char *p = strstr(trace->v[i], "task: ");
    cr_assert_not_null(p);
    return strtol(p + 6, NULL, 10);
}

/* The line where task `id` entered state `to` (first time); -1 if never. */
static long state_line(const lines *trace, long id, const char *to)
{
    char who[64], what[64];
    snprintf(who, sizeof who, "ev: state, task: %ld,", id);
    snprintf(what, sizeof what, "to: %s", to);
    for (long i = 0; (i = find_line(trace, i, who, what, NULL)) >= 0; i++) {
        /* "to: done" must not match "to: done_something" */
        const char *p = strstr(trace->v[i], what) + strlen(what);
        if (*p == ',' || *p == '}')
            return i;
    }
    return -1;
}

/* The final state of task `id`: the `to:` of its last state event. */
static const char *final_state(const lines *trace, long id)
{
    static char state[32];
    char who[64];
    snprintf(who, sizeof who, "ev: state, task: %ld,", id);
    state[0] = '\0';
    for (long i = 0; (i = find_line(trace, i, who, NULL)) >= 0; i++)
        sscanf(strstr(trace->v[i], "to: ") + 4, "%31[a-z]", state);
    return state;
}

/* The line of task `id`'s note containing `text`; -1 if none. */
static long note_line(const lines *trace, long id, const char *text)
{
    char who[64];
    snprintf(who, sizeof who, "ev: note, task: %ld,", id);
    return find_line(trace, 0, who, text, NULL);
}

static void trace_lines(const run *r, lines *l)
{
    char *copy = strdup(r->trace);
    cr_assert_not_null(copy);
    lines_split(l, copy);
}

/* ---- facts from a sequence diagram ------------------------------------- */

/* The id of the participant whose label contains `label`; "" if none. */
static const char *participant(const lines *d, const char *label, char *id, size_t n)
{
    id[0] = '\0';
    for (size_t i = 0; i < d->n; i++) {
        char pid[64];
        int off = 0;
        const char *s = d->v[i];
        while (*s == ' ')
            s++;
        if ((sscanf(s, "participant %63s as %n", pid, &off) == 1 ||
             sscanf(s, "actor %63s as %n", pid, &off) == 1) &&
            off > 0 && strstr(s + off, label) != NULL) {
            snprintf(id, n, "%s", pid);
            break;
        }
    }
    return id;
}

/* The first `Note over ID...: ...text` line; -1 if none. */
static long note_over(const lines *d, const char *id, const char *text)
{
    char over[96];
    snprintf(over, sizeof over, "over %s", id);
    for (long i = 0; (i = find_line(d, i, "Note ", over, text, NULL)) >= 0; i++) {
        const char *p = strstr(d->v[i], over) + strlen(over);
        if (*p == ':' || *p == ',' || *p == ' ')
            return i;
    }
    return -1;
}

/* ---- facts from a state diagram ---------------------------------------- */

#define NSTATES 6 /* the states a story test looks for */

/* The ids of the states labelled names[0..NSTATES) into id; each must be
 * there. */
static void state_ids(const lines *d, const char *const names[NSTATES],
                      char id[NSTATES][32])
{
    for (int i = 0; i < NSTATES; i++) {
        char q[64];
        snprintf(q, sizeof q, "state \"%s\" as ", names[i]);
        long l = find_line(d, 0, q, NULL);
        cr_assert(l >= 0, "state %s is missing", names[i]);
        snprintf(id[i], sizeof id[i], "%s", strstr(d->v[l], " as ") + 4);
    }
}

/* Each edge (from, to), indices into names and id, must be drawn. */
static void expect_edges(const lines *d, const char *const names[NSTATES],
                         char id[NSTATES][32], const int (*edges)[2], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char edge[96];
        snprintf(edge, sizeof edge, "%s --> %s", id[edges[i][0]],
                 id[edges[i][1]]);
        cr_assert(find_line(d, 0, edge, NULL) >= 0, "edge %s --> %s is missing",
                  names[edges[i][0]], names[edges[i][1]]);
    }
}

/* ------------------------------------------------------------------------ */
/* Golden files: the trace and the summary, byte for byte                    */
/* ------------------------------------------------------------------------ */

static void golden_test(const char *name)
{
    run r;
    run_example(name, &r);
    char file[128];
    snprintf(file, sizeof file, "%s.out", name);
    expect_golden(r.out, file);
    snprintf(file, sizeof file, "%s.yaml", name);
    expect_golden(r.trace, file);
    run_free(&r);
}

Test(golden, loop_internals, .timeout = 60) { golden_test("loop_internals"); }
Test(golden, lifecycle, .timeout = 60) { golden_test("lifecycle"); }
Test(golden, groups, .timeout = 60) { golden_test("groups"); }
Test(golden, timeout, .timeout = 60) { golden_test("timeout"); }
Test(golden, state_machine, .timeout = 60) { golden_test("state_machine"); }
Test(golden, fetch, .timeout = 60) { golden_test("fetch"); }
Test(golden, concurrent_parallel, .timeout = 60) { golden_test("concurrent_parallel"); }

/* ------------------------------------------------------------------------ */
/* The stories: what each seed diagram says, checked in trace and diagram    */
/* ------------------------------------------------------------------------ */

/* Seed 002 "Async/Await Execution Flow": A, B, C send their requests before
 * any answer arrives; B's answer is handled first, then A's, then C's;
 * gather returns the results in the order asked; total = the slowest. */
Test(story, fetch, .timeout = 60)
{
    run r;
    run_example("fetch", &r);
    lines tr;
    trace_lines(&r, &tr);
    long a = task_id(&tr, "Task A (fetch user)");
    long b = task_id(&tr, "Task B (fetch posts)");
    long c = task_id(&tr, "Task C (fetch comments)");

    long sent_last = note_line(&tr, c, "Send HTTP request");
    cr_assert(note_line(&tr, a, "Send HTTP request") >= 0);
    cr_assert(note_line(&tr, b, "Send HTTP request") >= 0);
    long pa = note_line(&tr, a, "Parse JSON"), pb = note_line(&tr, b, "Parse JSON"),
         pc = note_line(&tr, c, "Parse JSON");
    cr_assert(sent_last >= 0 && pa > sent_last && pb > sent_last && pc > sent_last,
              "all three requests must be in flight before any answer is parsed");
    cr_assert(pb < pa && pa < pc, "answers must be handled B, A, C (lines %ld %ld %ld)", pb, pa, pc);
    cr_assert(state_line(&tr, b, "done") < state_line(&tr, a, "done"));
    cr_assert(state_line(&tr, a, "done") < state_line(&tr, c, "done"));
    /* Every fetch really waited on a socket. */
    char io[64];
    snprintf(io, sizeof io, "ev: io, task: %ld,", b);
    cr_assert(find_line(&tr, 0, io, "dir: read", NULL) >= 0, "B never woke on socket readiness");

    cr_assert_not_null(strstr(r.out, "  user: 1 items\n  posts: 3 items\n  comments: 7 items\n"),
                       "gather must return the results in the order asked:\n%s", r.out);
    cr_assert_not_null(strstr(r.out, "total 300 ms"), "total should be the slowest fetch:\n%s", r.out);

    /* The sequence diagram: the three tasks are participants, the server is
     * not, and the notes come in the order above. */
    lines d;
    render(&r, LMR_VIEW_SEQUENCE, NULL, "^server", &d);
    cr_assert(find_line(&d, 0, "sequenceDiagram", NULL) >= 0);
    char ida[64], idb[64], idc[64], ids[64];
    cr_assert_str_neq(participant(&d, "Task A (fetch user)", ida, sizeof ida), "");
    cr_assert_str_neq(participant(&d, "Task B (fetch posts)", idb, sizeof idb), "");
    cr_assert_str_neq(participant(&d, "Task C (fetch comments)", idc, sizeof idc), "");
    cr_assert_str_eq(participant(&d, "server", ids, sizeof ids), "", "the server must be excluded");
    long da = note_over(&d, ida, "Parse JSON"), db = note_over(&d, idb, "Parse JSON"),
         dc = note_over(&d, idc, "Parse JSON");
    long ds = note_over(&d, idc, "Send HTTP request");
    cr_assert(ds >= 0 && da > ds && db > ds && dc > ds, "requests before answers in the diagram");
    cr_assert(db < da && da < dc, "diagram must show B's answer first, then A's, then C's");
    lines_free(&d);
    lines_free(&tr);
    run_free(&r);
}

/* Seed 000 "Timeout and Cancellation": wait_for cancels the slow task at its
 * await (a socket read), the task's cleanup runs, and only then does main
 * get the timeout. */
Test(story, timeout, .timeout = 60)
{
    run r;
    run_example("timeout", &r);
    lines tr;
    trace_lines(&r, &tr);
    long main_id = task_id(&tr, "main"), slow = task_id(&tr, "Slow Task");

    char want[96];
    snprintf(want, sizeof want, "ev: state, task: %ld, from: running, to: awaiting, on: io", slow);
    long awaiting_read = find_line(&tr, 0, want, "dir: read", NULL);
    cr_assert(awaiting_read >= 0, "the slow task must await a socket read");
    snprintf(want, sizeof want, "ev: cancel, task: %ld, reason: timeout", slow);
    long cancel = find_line(&tr, awaiting_read, want, NULL);
    cr_assert(cancel >= 0, "wait_for must cancel the slow task (reason: timeout) while it reads");
    long cleanup = note_line(&tr, slow, "finally: cleanup");
    long ended = state_line(&tr, slow, "cancelled");
    long timed_out = find_line(&tr, 0, "ev: group_end", "outcome: timeout", "LM_ETIMEDOUT", NULL);
    cr_assert(cancel < cleanup && cleanup < ended && ended < timed_out,
              "order must be cancel < cleanup < slow task cancelled < main's timeout (%ld %ld %ld %ld)",
              cancel, cleanup, ended, timed_out);
    cr_assert(note_line(&tr, main_id, "Handle timeout gracefully") > timed_out);
    cr_assert(find_line(&tr, 0, "t: 2000000000, ev: cancel", NULL) == cancel,
              "the deadline must pass at exactly 2 s of virtual time");
    cr_assert_not_null(strstr(r.out, "LM_ETIMEDOUT"), "%s", r.out);

    lines d;
    render(&r, LMR_VIEW_SEQUENCE, NULL, "^server", &d);
    char idm[64], ids[64], idsrv[64];
    cr_assert_str_neq(participant(&d, "main", idm, sizeof idm), "");
    cr_assert_str_neq(participant(&d, "Slow Task", ids, sizeof ids), "");
    cr_assert_str_eq(participant(&d, "server", idsrv, sizeof idsrv), "");
    char idl[64], cancel_msg[160], resume_main[160];
    cr_assert_str_neq(participant(&d, "Event loop", idl, sizeof idl), "");
    /* main -x Slow Task: the cancellation, then the cleanup note, then the
     * slow task ends, then the loop resumes main with the timeout. */
    snprintf(cancel_msg, sizeof cancel_msg, "%s-x%s: cancel", idm, ids);
    long dcancel = find_line(&d, 0, cancel_msg, NULL);
    long dclean = note_over(&d, ids, "finally: cleanup");
    long dended = find_line(&d, dclean, ids, "cancelled", NULL);
    snprintf(resume_main, sizeof resume_main, "%s->>%s: resume", idl, idm);
    long dresume = find_line(&d, dended, resume_main, NULL);
    long dtimeout = find_line(&d, dended, "wait_for", "timeout", NULL);
    cr_assert(dcancel >= 0 && dclean > dcancel, "the cancel must precede the cleanup note");
    cr_assert(dended > dclean, "the slow task must end cancelled after its cleanup");
    cr_assert(dresume > dended && dtimeout > dended,
              "main must be resumed with the timeout only after the cleanup");
    lines_free(&d);
    lines_free(&tr);
    run_free(&r);
}

/* Seed 000 "Task Lifecycle States": created (a coroutine) -> pending ->
 * running <-> awaiting, ending done, cancelled while pending (body never
 * ran), and cancelled at an await. */
Test(story, lifecycle, .timeout = 60)
{
    run r;
    run_example("lifecycle", &r);
    lines tr;
    trace_lines(&r, &tr);
    long fin = task_id(&tr, "finisher"), never = task_id(&tr, "never runs"),
         sleeper = task_id(&tr, "sleeper");

    cr_assert_str_eq(final_state(&tr, fin), "done");
    cr_assert_str_eq(final_state(&tr, never), "cancelled");
    cr_assert_str_eq(final_state(&tr, sleeper), "cancelled");
    cr_assert_eq(state_line(&tr, never, "running"), -1, "\"never runs\" must never run");
    char want[96];
    snprintf(want, sizeof want, "task: %ld, from: pending, to: cancelled", never);
    cr_assert(find_line(&tr, 0, want, NULL) >= 0, "cancelled while pending");
    snprintf(want, sizeof want, "task: %ld, from: awaiting, to: pending, by: cancel", sleeper);
    long woken = find_line(&tr, 0, want, NULL);
    cr_assert(woken >= 0, "the sleeper must be cancelled at its await");
    cr_assert(note_line(&tr, sleeper, "cleaning up") > woken);
    /* The finisher was made (created) before it was started. */
    snprintf(want, sizeof want, "task: %ld, from: created, to: pending", fin);
    cr_assert(find_line(&tr, 0, want, NULL) >= 0);
    cr_assert_not_null(strstr(r.out, "after lm_task_new:   finisher is created"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "result = 42"), "%s", r.out);

    /* In asyncio's words: every state of the seed that loopmaid has, and the
     * three ways to Cancelled / Done. */
    lines d;
    render(&r, LMR_VIEW_STATE, "asyncio", NULL, &d);
    cr_assert(find_line(&d, 0, "stateDiagram-v2", NULL) == 0);
    const char *const states[NSTATES] = {"Coroutine", "Pending", "Running",
                                         "Awaiting", "Done", "Cancelled"};
    char id[NSTATES][32];
    state_ids(&d, states, id);
    cr_assert(find_line(&d, 0, "state \"Failed\"", NULL) < 0, "no task failed here");
    /* Pending --> Cancelled: never ran; Running --> Cancelled: after its
     * cleanup. */
    const int edges[][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 1}, {2, 4}, {1, 5}, {2, 5}};
    expect_edges(&d, states, id, edges, sizeof edges / sizeof edges[0]);
    lines_free(&d);
    lines_free(&tr);
    run_free(&r);
}

/* Seed 002 "Event Loop State Machine": Created -> Scheduled -> Running ->
 * Suspended -> Scheduled ..., ending Done or Error. */
Test(story, state_machine, .timeout = 60)
{
    run r;
    run_example("state_machine", &r);
    lines tr;
    trace_lines(&r, &tr);
    long cfg = task_id(&tr, "load config"), dl = task_id(&tr, "download"),
         bad = task_id(&tr, "validate input");
    cr_assert_str_eq(final_state(&tr, cfg), "done");
    cr_assert_str_eq(final_state(&tr, dl), "done");
    cr_assert_str_eq(final_state(&tr, bad), "failed");
    long failed = state_line(&tr, bad, "failed");
    cr_assert_not_null(strstr(tr.v[failed], "message: \"invalid JSON at line 3\""), "%s", tr.v[failed]);
    cr_assert_not_null(strstr(tr.v[failed], "code: -101"), "%s", tr.v[failed]);
    /* download suspended twice. */
    char want[96];
    snprintf(want, sizeof want, "task: %ld, from: running, to: awaiting, on: sleep", dl);
    long first = find_line(&tr, 0, want, NULL);
    cr_assert(first >= 0 && find_line(&tr, first + 1, want, NULL) > first);
    cr_assert_not_null(strstr(r.out, "validate input  error: invalid JSON at line 3"), "%s", r.out);
    cr_assert_eq(find_line(&tr, 0, "to: cancelled", NULL), -1, "nothing is cancelled here");

    lines d;
    render(&r, LMR_VIEW_STATE, "seed002", NULL, &d);
    const char *const states[NSTATES] = {"Created", "Scheduled", "Running",
                                         "Suspended", "Done", "Error"};
    char id[NSTATES][32];
    state_ids(&d, states, id);
    cr_assert(find_line(&d, 0, "state \"Cancelled\"", NULL) < 0);
    const int edges[][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 1}, {2, 4}, {2, 5}};
    expect_edges(&d, states, id, edges, sizeof edges / sizeof edges[0]);
    char edge[96];
    snprintf(edge, sizeof edge, "%s --> [*]", id[5]);
    cr_assert(find_line(&d, 0, edge, NULL) >= 0, "Error must be a final state");
    lines_free(&d);
    lines_free(&tr);
    run_free(&r);
}

/* Seed 000 "gather() vs wait() vs TaskGroup". */
static void expect_ends(const lines *tr, const char *scenario, const char *a,
                        const char *b, const char *c)
{
    const char *want[3] = {a, b, c};
    const char *letter[3] = {"A", "B", "C"};
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s %s", scenario, letter[i]);
        cr_assert_str_eq(final_state(tr, task_id(tr, name)), want[i],
                         "%s ended %s, expected %s", name,
                         final_state(tr, task_id(tr, name)), want[i]);
    }
}

Test(story, groups, .timeout = 60)
{
    run r;
    run_example("groups", &r);
    lines tr;
    trace_lines(&r, &tr);
    /* Who ended how, per scenario (B fails in the "b_fails" scenarios). */
    expect_ends(&tr, "gather", "done", "done", "done");
    /* asyncio's gather: B's error goes out at once, A and C run on. */
    expect_ends(&tr, "fail-fast", "done", "failed", "done");
    /* The opt-in LM_GATHER_CANCEL_ON_ERROR: B cancels A and C. */
    expect_ends(&tr, "cancel_on_error", "cancelled", "failed", "cancelled");
    expect_ends(&tr, "return_exc", "done", "failed", "done");
    expect_ends(&tr, "first_completed", "cancelled", "done", "cancelled");
    expect_ends(&tr, "first_exception", "cancelled", "failed", "cancelled");
    expect_ends(&tr, "all_completed", "done", "done", "done");
    expect_ends(&tr, "taskgroup", "cancelled", "failed", "cancelled");
    /* Who cancelled: the member that failed (reason: group), in the opt-in
     * gather and in the task group, never the failed member itself; after
     * a wait() it is the caller's own explicit cancel. asyncio's gather
     * cancels nobody. */
    char want[128];
    snprintf(want, sizeof want, "ev: cancel, task: %ld, reason: group, by_task: %ld",
             task_id(&tr, "cancel_on_error A"), task_id(&tr, "cancel_on_error B"));
    cr_assert(find_line(&tr, 0, want, NULL) >= 0, "%s", want);
    snprintf(want, sizeof want, "ev: cancel, task: %ld, reason: group, by_task: %ld",
             task_id(&tr, "taskgroup C"), task_id(&tr, "taskgroup B"));
    cr_assert(find_line(&tr, 0, want, NULL) >= 0, "%s", want);
    snprintf(want, sizeof want, "ev: cancel, task: %ld,", task_id(&tr, "taskgroup B"));
    cr_assert(find_line(&tr, 0, want, NULL) < 0, "the failed child is not cancelled");
    snprintf(want, sizeof want, "ev: cancel, task: %ld,", task_id(&tr, "fail-fast A"));
    cr_assert(find_line(&tr, 0, want, NULL) < 0, "asyncio's gather cancels nobody");
    snprintf(want, sizeof want, "ev: cancel, task: %ld, reason: explicit, by_task: %ld",
             task_id(&tr, "first_completed A"), task_id(&tr, "wait FIRST_COMPLETED + cancel rest"));
    cr_assert(find_line(&tr, 0, want, NULL) >= 0, "%s", want);
    /* Finish order B, C, A; results in the order asked. */
    long ga = state_line(&tr, task_id(&tr, "gather A"), "done"),
         gb = state_line(&tr, task_id(&tr, "gather B"), "done"),
         gc = state_line(&tr, task_id(&tr, "gather C"), "done");
    cr_assert(gb < gc && gc < ga, "jobs must finish B, C, A");
    cr_assert_not_null(strstr(r.out, "gather in order       results = [A, B, C]"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "errors = [LM_OK, LM_EUSER, LM_OK]"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "wait first_completed  done = { B }, pending = { A C }"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "wait first_exception  done = { B }, pending = { A C }"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "wait all_completed    done = { A B C }"), "%s", r.out);
    /* The groups, with their kinds and modes, and how they ended. */
    cr_assert(find_line(&tr, 0, "kind: gather", "mode: fail_fast", "outcome", NULL) < 0);
    cr_assert(find_line(&tr, 0, "ev: group,", "kind: wait", "mode: first_exception", NULL) >= 0);
    cr_assert(find_line(&tr, 0, "ev: group,", "kind: taskgroup", NULL) >= 0);
    cr_assert(find_line(&tr, 0, "ev: group_end", "outcome: failed", "LM_EUSER", NULL) >= 0);

    /* The tasks view: one node per task, and every task that ended cancelled
     * is drawn as such (its label or class says so). */
    lines d;
    render(&r, LMR_VIEW_TASKS, NULL, NULL, &d);
    cr_assert(find_line(&d, 0, "flowchart", NULL) == 0);
    const char *cancelled[] = {"cancel_on_error A", "cancel_on_error C", "taskgroup A", "taskgroup C",
                               "first_completed A", "first_exception C"};
    for (size_t i = 0; i < sizeof cancelled / sizeof cancelled[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "%s", cancelled[i]);
        long l = find_line(&d, 0, label, NULL);
        cr_assert(l >= 0, "task %s is not in the tasks view", cancelled[i]);
        cr_assert(find_line(&d, l, label, "cancelled", NULL) == l ||
                      find_line(&d, 0, ":::cancelled", NULL) >= 0,
                  "task %s is not shown as cancelled: %s", cancelled[i], d.v[l]);
    }
    cr_assert(find_line(&d, 0, "return_exc A", NULL) >= 0);
    lines_free(&d);
    lines_free(&tr);
    run_free(&r);
}

/* Seed 000 "Event Loop Internals": the tick's phases all happen: ready work
 * run one step at a time, polls, I/O wake-ups, timers (task sleeps and a
 * plain callback). */
Test(story, loop_internals, .timeout = 60)
{
    run r;
    run_example("loop_internals", &r);
    lines tr;
    trace_lines(&r, &tr);
    long counter = task_id(&tr, "counter"), client = task_id(&tr, "client"),
         server = task_id(&tr, "echo server"), sleeper = task_id(&tr, "sleeper");
    char want[96];
    snprintf(want, sizeof want, "task: %ld, from: running, to: pending, by: yield", counter);
    long y1 = find_line(&tr, 0, want, NULL);
    cr_assert(y1 >= 0 && find_line(&tr, y1 + 1, want, NULL) > y1, "the counter yields (ready work)");
    snprintf(want, sizeof want, "ev: io, task: %ld,", client);
    cr_assert(find_line(&tr, 0, want, "dir: read", NULL) >= 0, "the client wakes on I/O");
    snprintf(want, sizeof want, "ev: io, task: %ld,", server);
    cr_assert(find_line(&tr, 0, want, NULL) >= 0, "the server wakes on I/O");
    snprintf(want, sizeof want, "ev: timer, task: %ld}", sleeper);
    cr_assert(find_line(&tr, 0, want, NULL) >= 0, "the sleeper wakes on its timer");
    cr_assert(find_line(&tr, 0, "ev: call,", NULL) >= 0, "plain callbacks run");
    cr_assert(find_line(&tr, 0, "call_soon callback", NULL) >= 0);
    long later = find_line(&tr, 0, "call_later callback", NULL);
    cr_assert(later >= 0 && strncmp(tr.v[later], "  - {t: 15000000,", 17) == 0,
              "the call_later callback runs at 15 ms: %s", later >= 0 ? tr.v[later] : "");
    cr_assert(note_line(&tr, client, "got pong") >= 0);
    cr_assert_str_eq(final_state(&tr, task_id(&tr, "main")), "done");
    cr_assert_not_null(strstr(r.out, "2 callbacks"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "3 timers fired"), "%s", r.out);

    lines d;
    render(&r, LMR_VIEW_FLOWCHART, NULL, NULL, &d);
    cr_assert(find_line(&d, 0, "flowchart", NULL) == 0);
    /* The seed's phases are nodes of the diagram. */
    cr_assert(find_line(&d, 0, "eady", NULL) >= 0, "no ready-queue node");
    cr_assert(find_line(&d, 0, "oll", NULL) >= 0, "no poll node");
    cr_assert(find_line(&d, 0, "imer", NULL) >= 0, "no timers node");
    lines_free(&d);
    lines_free(&tr);
    run_free(&r);
}

/* Seed 002 "Concurrent vs Parallel": sequential 3 s, concurrent 1 s, and
 * parallel on the thread pool (0 s of virtual time: threads do not move the
 * virtual clock). */
Test(story, concurrent_parallel, .timeout = 60)
{
    run r;
    run_example("concurrent_parallel", &r);
    lines tr;
    trace_lines(&r, &tr);
    cr_assert_not_null(strstr(r.out, "sequential total 3.0 s"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "concurrent total 1.0 s"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "parallel   total 0.0 s"), "%s", r.out);
    /* Sequential: B starts only after A is done; concurrent: all three are
     * awaiting their sleep at once; parallel: they await threads. */
    long sa = task_id(&tr, "sequential A"), sb = task_id(&tr, "sequential B");
    cr_assert(state_line(&tr, sa, "done") < state_line(&tr, sb, "running"));
    long ca = task_id(&tr, "concurrent A"), cc = task_id(&tr, "concurrent C");
    char want[96];
    snprintf(want, sizeof want, "task: %ld, from: running, to: awaiting, on: sleep", cc);
    long c_waits = find_line(&tr, 0, want, NULL);
    cr_assert(c_waits >= 0 && c_waits < state_line(&tr, ca, "done"),
              "C must start waiting before A is done");
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "parallel %c", 'A' + i);
        snprintf(want, sizeof want, "task: %ld, from: running, to: awaiting, on: thread",
                 task_id(&tr, name));
        cr_assert(find_line(&tr, 0, want, NULL) >= 0, "%s must offload to a thread", name);
        cr_assert_str_eq(final_state(&tr, task_id(&tr, name)), "done");
    }

    lines d;
    render(&r, LMR_VIEW_GANTT, NULL, NULL, &d);
    long g = -1; /* the keyword line, after the front matter */
    for (size_t i = 0; i < d.n && g < 0; i++)
        if (strcmp(d.v[i], "gantt") == 0)
            g = (long)i;
    cr_assert(g >= 0, "no gantt keyword line");
    cr_assert(find_line(&d, 0, "sequential A", NULL) >= 0);
    cr_assert(find_line(&d, 0, "concurrent C", NULL) >= 0);
    cr_assert(find_line(&d, 0, "parallel B", NULL) >= 0);
    lines_free(&d);
    lines_free(&tr);
    run_free(&r);
}

/* ---- seed 002 "When to Use Which Approach" ----------------------------- */

/* The node ids on the highlighted path of an advise diagram: every
 * `class ID path` line. Returns 1 when `id` is on it. */
static int on_path(const lines *d, const char *id)
{
    char want[64];
    snprintf(want, sizeof want, "class %s path", id);
    for (size_t i = 0; i < d->n; i++) {
        const char *s = d->v[i];
        while (*s == ' ')
            s++;
        if (strcmp(s, want) == 0)
            return 1;
    }
    return 0;
}

static void render_path(const char *path, lmr_view view, lines *out)
{
    run fake = {0};
    snprintf(fake.trace_path, sizeof fake.trace_path, "%s", path);
    render(&fake, view, NULL, NULL, out);
}

/* crunch under the virtual clock: computation in steps separated by yields,
 * no waiting on anything but the gather. */
Test(golden, crunch, .timeout = 60) { golden_test("crunch"); }

Test(story, crunch, .timeout = 60)
{
    run r;
    run_example("crunch", &r);
    lines tr;
    trace_lines(&r, &tr);
    for (int i = 1; i <= 3; i++) {
        char name[32], want[96];
        snprintf(name, sizeof name, "checksum part %d", i);
        long id = task_id(&tr, name);
        cr_assert_str_eq(final_state(&tr, id), "done");
        snprintf(want, sizeof want, "task: %ld, from: running, to: pending, by: yield", id);
        cr_assert(find_line(&tr, 0, want, NULL) >= 0, "%s must take turns with lm_yield", name);
        snprintf(want, sizeof want, "task: %ld, from: running, to: awaiting", id);
        cr_assert_eq(find_line(&tr, 0, want, NULL), -1, "%s must never wait", name);
    }
    lines_free(&tr);
    run_free(&r);
}

/* The I/O-bound run (fetch, virtual clock) takes the asyncio branch. */
Test(story, advise_io, .timeout = 60)
{
    run r;
    run_example("fetch", &r);
    lines d;
    render(&r, LMR_VIEW_ADVISE, NULL, NULL, &d);
    cr_assert(find_line(&d, 0, "flowchart", NULL) == 0);
    cr_assert(on_path(&d, "Q1") && on_path(&d, "Q2") && on_path(&d, "ASYNC"),
              "fetch must go Waiting on I/O? yes -> Multiple? yes -> asyncio");
    cr_assert(!on_path(&d, "Q3") && !on_path(&d, "MULTI") && !on_path(&d, "SYNC_OK"));
    lines_free(&d);
    run_free(&r);
}

/* The CPU-bound run (crunch, a recorded real-clock run) takes the CPU-heavy
 * branch to "Need shared memory?", which no trace can answer: both leaves
 * stay open and the verdict names the loop thread as where the time went. */
Test(story, advise_cpu)
{
    lines d;
    render_path("tests/data/examples/crunch.real.yaml", LMR_VIEW_ADVISE, &d);
    cr_assert(on_path(&d, "Q1") && on_path(&d, "Q3") && on_path(&d, "Q4"),
              "crunch must go Waiting on I/O? no -> CPU-heavy? yes -> shared memory?");
    cr_assert(!on_path(&d, "Q2") && !on_path(&d, "ASYNC") &&
              !on_path(&d, "THREAD") && !on_path(&d, "MULTI"));
    cr_assert(find_line(&d, 0, "class MULTI open", NULL) >= 0 &&
              find_line(&d, 0, "class THREAD open", NULL) >= 0);
    cr_assert(find_line(&d, 0, "CPU-bound on the loop thread", NULL) >= 0);
    lines_free(&d);
}

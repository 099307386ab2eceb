/*
 * test_lossless.c: a traced program that dies loses no events it should
 * have kept (docs/trace-format.md section 8, docs/reliability.md).
 *
 * Each test forks a child that runs a real loop traced to a file. Its main
 * task writes numbered notes ("mark N") as fast as it can, yielding every
 * 64, and after each note tells the parent N through a pipe. The parent
 * ends the child one way or another, drains the pipe to learn the last mark
 * the child reached, and reads the trace back with the render half's
 * streaming reader:
 *  - SIGINT / SIGTERM while the loop handles signals: the loop cancels its
 *    main task (reason: signal) and ends normally: every mark, the cancel,
 *    the final transition and loop_end are in the trace, which is complete;
 *  - SIGTERM / SIGABRT with nobody handling them, and abort() called by the
 *    program itself: every reported mark is in the trace (the signal
 *    handlers write what is in memory before the default action);
 *  - SIGKILL: nothing can run, so what is still in memory is lost; that is
 *    at most LM__TRACE_CAP events (the loop thread's array and the batches
 *    with the writer thread) plus the formatted lines not yet written (under
 *    32 KiB); the marks that are there form an unbroken prefix, every line
 *    but possibly the last is whole, and the reader reports the file as
 *    truncated instead of failing;
 *  - a signal while the writer thread is behind: the trace goes to a pipe
 *    that the parent does not read, so the writer blocks, every batch is in
 *    flight and the loop thread waits for one (back-pressure); the signal's
 *    handler must still write every batch, in order, before the records
 *    left in the loop thread's array.
 *
 * Each case runs twice: tracing YAML, and tracing the binary spill (a .lmt
 * path, or LOOPMAID_TRACE_FORMAT=binary for the pipe), converted with
 * lm_trace_convert before it is read (test names ending _binary).
 */
#include <criterion/criterion.h>

#include "lm_trace.h"
#include "lmr_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct child_cfg {
    int report_fd;     /* write end of the pipe */
    uint32_t abort_at; /* call abort() after this mark; 0 = never */
} child_cfg;

static int chatty_main(void *arg)
{
    child_cfg *c = arg;
    for (uint32_t i = 0;; i++) {
        lm_notef("mark %u", i);
        /* The parent learns i only once the note has been recorded. */
        if (write(c->report_fd, &i, sizeof i) != (ssize_t)sizeof i)
            _exit(90);
        if (c->abort_at && i == c->abort_at)
            abort();
        if (i % 64 == 63) {
            int rc = lm_yield();
            if (rc == LM_ECANCELED)
                return rc; /* the signal's cancellation: end cleanly */
        }
    }
}

/* Touches the next 256 KiB of the main stack. A signal that arrives while
 * the loop thread waits on the main stack (back-pressure, below) has its
 * frame pushed there; valgrind cannot grow a forked child's main stack during
 * signal delivery, so the pages must exist beforehand. */
static __attribute__((noinline)) void touch_stack(void)
{
    volatile char pad[256 * 1024];
    for (size_t i = 0; i < sizeof pad; i += 4096)
        pad[i] = 0;
}

/* The child: never returns. path may be "fd:N". */
/* The test traces the binary spill (set by the _binary tests; each test
 * runs in its own process). */
static bool g_binary;

/* A test as two: on YAML, and on the binary spill. */
#define BOTH(name)                                                             \
    static void name##_(void);                                                 \
    Test(lossless, name, .timeout = 120) { name##_(); }                        \
    Test(lossless, name##_binary, .timeout = 120)                              \
    {                                                                          \
        g_binary = true;                                                       \
        name##_();                                                             \
    }                                                                          \
    static void name##_(void)

static void child(const char *path, int report_fd, int handle_signals,
                  uint32_t abort_at)
{
    /* Whatever the test runner installed, start from the defaults, so the
     * signals do what they do in an ordinary program. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGABRT, SIG_DFL);
    unsetenv("LOOPMAID_TRACE");
    unsetenv("LOOPMAID_TRACE_RING");
    unsetenv("LOOPMAID_TRACE_FORMAT");
    /* A descriptor has no name to say ".lmt": the environment says it. */
    bool by_env = g_binary && strncmp(path, "fd:", 3) == 0;
    if (by_env) {
        setenv("LOOPMAID_TRACE", path, 1);
        setenv("LOOPMAID_TRACE_FORMAT", "binary", 1);
    }
    touch_stack();
    lm_loop_options o;
    lm_loop_options_init(&o);
    o.clock = LM_CLOCK_MONOTONIC;
    o.handle_signals = handle_signals;
    lm_loop *loop = lm_loop_new(&o);
    if (!loop || (!by_env && lm_trace_open(loop, path) != 0))
        _exit(91);
    child_cfg c = {.report_fd = report_fd, .abort_at = abort_at};
    int rc = lm_loop_run(loop, "main", chatty_main, &c, NULL);
    lm_loop_free(loop);
    _exit(rc == LM_ECANCELED ? 3 : 92);
}

typedef struct outcome {
    int status;             /* waitpid status */
    int64_t last_reported;  /* -1: none */
    char path[64];          /* what the child wrote */
    char yaml[72];          /* the YAML to read: path, or its conversion */
} outcome;

/* The trace file for a child: .lmt for the binary spill. */
static void make_path(outcome *out)
{
    strcpy(out->path, g_binary ? "/tmp/loopmaid-lossless-XXXXXX.lmt"
                               : "/tmp/loopmaid-lossless-XXXXXX");
    int fd = mkstemps(out->path, g_binary ? 4 : 0);
    cr_assert_geq(fd, 0);
    close(fd);
}

/* Once the child is gone: o->yaml is the YAML to read. A binary trace must
 * be one, and convert whole, except that SIGKILL may cut its last chunk. */
static void to_yaml(outcome *o)
{
    if (!g_binary) {
        strcpy(o->yaml, o->path);
        return;
    }
    snprintf(o->yaml, sizeof o->yaml, "%s.yaml", o->path);
    int in = open(o->path, O_RDONLY);
    cr_assert_geq(in, 0);
    char magic[8];
    cr_assert_eq(pread(in, magic, 8, 0), 8);
    cr_assert(lm_trace_is_binary(magic, 8), "%s is not a binary trace", o->path);
    FILE *out = fopen(o->yaml, "wb");
    cr_assert_not_null(out);
    lm_convert_error err;
    int rc = lm_trace_convert(in, out, &err);
    bool killed = WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGKILL;
    cr_assert(rc == 0 || (killed && rc == LM_EOF_),
              "convert: %d at %llu: %s", rc, (unsigned long long)err.offset, err.msg);
    fclose(out);
    close(in);
    unlink(o->path);
}

/*
 * Runs a child; once it has reported `after` marks, sends `sig` (0: send
 * nothing and wait for the child to end on its own).
 */
static void run_child(outcome *out, int sig, int handle_signals,
                      uint32_t abort_at, uint32_t after)
{
    make_path(out);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        child(out->path, p[1], handle_signals, abort_at);
    }
    close(p[1]);
    out->last_reported = -1;
    bool sent = sig == 0;
    uint32_t v;
    for (;;) {
        ssize_t n = read(p[0], &v, sizeof v);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof v)
            break; /* EOF: the child is gone */
        out->last_reported = v;
        if (!sent && v >= after) {
            cr_assert_eq(kill(pid, sig), 0);
            sent = true;
        }
    }
    close(p[0]);
    cr_assert_eq(waitpid(pid, &out->status, 0), pid);
    to_yaml(out);
}

/* What the reader makes of the trace. */
typedef struct seen {
    int64_t marks;          /* marks seen, all in order 0, 1, 2, ... */
    bool out_of_order;
    uint64_t events, cancels_by_signal, loop_ends;
    int main_final;         /* last state of task 1 */
} seen;

static int on_event(void *ctx, const lmr__header *h, const lmr__event *ev,
                    lmr_error *err)
{
    (void)h;
    (void)err;
    seen *s = ctx;
    s->events++;
    unsigned m;
    if (ev->kind == LMR__EV_NOTE && ev->text && sscanf(ev->text, "mark %u", &m) == 1) {
        if ((int64_t)m != s->marks)
            s->out_of_order = true;
        s->marks++;
    } else if (ev->kind == LMR__EV_CANCEL && ev->reason &&
               !strcmp(ev->reason, "signal")) {
        s->cancels_by_signal++;
    } else if (ev->kind == LMR__EV_LOOP_END) {
        s->loop_ends++;
    } else if (ev->kind == LMR__EV_STATE && ev->task == 1) {
        s->main_final = ev->to;
    }
    return 0;
}

static void read_trace(const outcome *o, seen *s, int *truncated)
{
    memset(s, 0, sizeof *s);
    s->main_final = -1;
    FILE *fp = fopen(o->yaml, "rb");
    cr_assert_not_null(fp);
    lmr__header h;
    memset(&h, 0, sizeof h);
    lmr_error err;
    memset(&err, 0, sizeof err);
    *truncated = 0;
    int rc = lmr__read(fp, o->yaml, &h, on_event, s, truncated, &err);
    cr_assert_eq(rc, 0, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    lmr__header_free(&h);
    fclose(fp);
    cr_assert(!s->out_of_order, "marks are missing in the middle or reordered");
}

/* Pass 1 accepts the trace (every transition legal) and calls it truncated
 * exactly when it should: a trace cut short is a warning, not an error. */
static void expect_model(const outcome *o, bool want_truncated)
{
    FILE *fp = fopen(o->yaml, "rb");
    cr_assert_not_null(fp);
    lmr__model m;
    memset(&m, 0, sizeof m);
    lmr_error err;
    memset(&err, 0, sizeof err);
    int rc = lmr__model_build(fp, o->yaml, &m, NULL, &err);
    cr_expect_eq(rc, 0, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    cr_expect_eq(m.truncated, want_truncated, "truncated: %d, expected %d",
                 m.truncated, want_truncated);
    lmr__model_free(&m);
    fclose(fp);
}

/* A child whose loop handled the signal and ended: the whole trace, one
 * cancel by the signal, one loop_end. */
static void expect_clean_end(outcome *o, seen *s)
{
    cr_assert(WIFEXITED(o->status) && WEXITSTATUS(o->status) == 3,
              "the child should end its loop normally (status 0x%x)", o->status);
    int truncated;
    read_trace(o, s, &truncated);
    cr_expect_eq(truncated, 0);
    cr_expect_eq(s->marks, o->last_reported + 1, "trace has %lld marks, child made %lld",
                 (long long)s->marks, (long long)o->last_reported + 1);
    cr_expect_eq(s->cancels_by_signal, 1);
    cr_expect_eq(s->loop_ends, 1);
    expect_model(o, false);
    unlink(o->yaml);
}

static void handled_signal(int sig)
{
    outcome o;
    run_child(&o, sig, 1, 0, 20000);
    seen s;
    expect_clean_end(&o, &s);
    cr_expect_eq(s.main_final, LMR__ST_CANCELLED);
}

BOTH(sigint_handled_by_the_loop_loses_nothing)
{
    handled_signal(SIGINT);
}

BOTH(sigterm_handled_by_the_loop_loses_nothing)
{
    handled_signal(SIGTERM);
}

/* A child killed mid-run: every mark it reported is in the trace (the mark
 * after it may be too: killed before reporting), and no loop_end. */
static void expect_killed_trace(outcome *o)
{
    seen s;
    int truncated;
    read_trace(o, &s, &truncated);
    cr_expect_geq(s.marks, o->last_reported + 1, "lost %lld reported marks",
                  (long long)(o->last_reported + 1 - s.marks));
    cr_expect_leq(s.marks, o->last_reported + 2);
    cr_expect_eq(s.loop_ends, 0);
    expect_model(o, true);
    unlink(o->yaml);
}

/* Death by a signal loses nothing. */
static void fatal_signal(int sig, uint32_t abort_at)
{
    outcome o;
    run_child(&o, abort_at ? 0 : sig, 0, abort_at, 20000);
    cr_assert(WIFSIGNALED(o.status) && WTERMSIG(o.status) == sig,
              "the child should die of signal %d (status 0x%x)", sig, o.status);
    expect_killed_trace(&o);
}

BOTH(sigterm_unhandled_loses_nothing)
{
    fatal_signal(SIGTERM, 0);
}

BOTH(sigint_unhandled_loses_nothing)
{
    fatal_signal(SIGINT, 0);
}

BOTH(sigabrt_from_outside_loses_nothing)
{
    fatal_signal(SIGABRT, 0);
}

BOTH(abort_in_a_task_loses_nothing)
{
    fatal_signal(SIGABRT, 25000);
}

BOTH(sigkill_loses_at_most_one_buffer)
{
    outcome o;
    run_child(&o, SIGKILL, 1, 0, 30000);
    cr_assert(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGKILL);
    seen s;
    int truncated;
    read_trace(&o, &s, &truncated);
    expect_model(&o, true);
    int64_t made = o.last_reported + 1, lost = made - s.marks;
    /* One record buffer, plus at most 32 KiB of formatted lines, each note
     * line being over 40 bytes. */
    int64_t bound = LM__TRACE_CAP + 32768 / 40;
    cr_expect_geq(s.marks, 1, "nothing at all was written before the kill");
    cr_expect_leq(lost, bound, "lost %lld marks of %lld (bound %lld)",
                  (long long)lost, (long long)made, (long long)bound);
    cr_log_info("SIGKILL after %lld marks lost %lld of them", (long long)made,
                (long long)lost);

    /* Every line but the last is whole: the writer writes whole lines. */
    FILE *fp = fopen(o.yaml, "rb");
    cr_assert_not_null(fp);
    char line[4096];
    size_t partial = 0;
    while (fgets(line, sizeof line, fp))
        if (!strchr(line, '\n'))
            partial++;
    fclose(fp);
    cr_expect_leq(partial, 1);
    unlink(o.yaml);
}

/*
 * Many batches in flight: the child traces to a pipe ("fd:N") that nobody
 * reads until it stalls (no new mark for 300 ms: the pipe is full, the writer
 * thread is blocked in write(2), every batch is handed off and the loop
 * thread waits for a free one). Then `sig`, and the parent reads the pipe to
 * its end into the trace file.
 */
static void run_stalled_child(outcome *out, int sig, int handle_signals)
{
    make_path(out);
    int fd = open(out->path, O_WRONLY | O_TRUNC);
    cr_assert_geq(fd, 0);
    int rep[2], tp[2];
    cr_assert_eq(pipe(rep), 0);
    cr_assert_eq(pipe(tp), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(rep[0]);
        close(tp[0]);
        close(fd);
        char spec[32];
        snprintf(spec, sizeof spec, "fd:%d", tp[1]);
        child(spec, rep[1], handle_signals, 0);
    }
    close(rep[1]);
    close(tp[1]);
    out->last_reported = -1;
    uint32_t v;
    for (;;) {
        struct pollfd pf = {.fd = rep[0], .events = POLLIN};
        int n = poll(&pf, 1, 300);
        if (n < 0 && errno == EINTR)
            continue;
        cr_assert_geq(n, 0);
        /* Stalled on the full trace pipe; before a batch's worth of marks,
         * a pause is only the machine being busy. */
        if (n == 0 && out->last_reported > (int64_t)LM__TRACE_BATCH)
            break;
        if (n == 0)
            continue;
        ssize_t r = read(rep[0], &v, sizeof v);
        cr_assert_eq(r, (ssize_t)sizeof v, "the child ended before it stalled");
        out->last_reported = v;
    }
    cr_assert_eq(kill(pid, sig), 0);
    /* Both pipes to their end: the trace into the file, and the marks the
     * child may still report while it finishes (handled signal). */
    char buf[65536];
    for (bool tdone = false, rdone = false; !tdone || !rdone;) {
        struct pollfd pf[2] = {{.fd = tdone ? -1 : tp[0], .events = POLLIN},
                               {.fd = rdone ? -1 : rep[0], .events = POLLIN}};
        if (poll(pf, 2, -1) < 0) {
            cr_assert_eq(errno, EINTR);
            continue;
        }
        if (pf[0].revents) {
            /* Slowly, 4 KiB a millisecond: a crash path that wrote while the
             * writer thread still writes would interleave with it. */
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
            ssize_t n = read(tp[0], buf, 4096);
            if (n <= 0)
                tdone = true;
            else
                cr_assert_eq(write(fd, buf, (size_t)n), n);
        }
        if (pf[1].revents) {
            ssize_t n = read(rep[0], &v, sizeof v);
            if (n != (ssize_t)sizeof v)
                rdone = true;
            else
                out->last_reported = v;
        }
    }
    close(tp[0]);
    close(rep[0]);
    close(fd);
    cr_assert_eq(waitpid(pid, &out->status, 0), pid);
    to_yaml(out);
}

BOTH(sigterm_with_batches_in_flight_loses_nothing)
{
    outcome o;
    run_stalled_child(&o, SIGTERM, 0);
    cr_assert(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGTERM,
              "the child should die of SIGTERM (status 0x%x)", o.status);
    expect_killed_trace(&o);
}

BOTH(handled_sigint_with_batches_in_flight_loses_nothing)
{
    outcome o;
    run_stalled_child(&o, SIGINT, 1);
    seen s;
    expect_clean_end(&o, &s);
}

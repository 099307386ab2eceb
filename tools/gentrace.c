/*
 * gentrace: writes a big, valid, deterministic loopmaid trace (format v1,
 * docs/trace-format.md) to stdout, for tests, conformance runs and benchmarks.
 *
 *   gentrace [--events N] [--tasks N] [--seed N] [--loops N] [--hostile]
 *
 * It simulates one loop: `main` (task 1) spawns the other tasks in batches of
 * up to BATCH, gathers each batch, and every worker goes through rounds of
 * pending -> running -> awaiting (sleep or io) -> woken, then ends done,
 * failed, or cancelled by a wait_for-style timeout (delivered at its await
 * point, as the format requires). Between rounds come tick and poll events,
 * so every view has something to show. The number of rounds per worker is
 * chosen so the trace has about --events events (within a few percent).
 *
 * Same arguments, same bytes: the only randomness is a seeded splitmix64.
 * With --hostile, names, notes and labels come from a list of strings that
 * try to break Mermaid (keywords, arrows, ;, #, %%{init}%%, quotes, HTML,
 * newlines, emoji, 5,000-character names, empty names, names that collide
 * once cleaned); they are quoted by the tracer's own quoter.
 *
 * With --loops N, N loops (threads) write to the file, one after the other,
 * each with its own task ids and clock (the events and tasks are shared out).
 *
 * Memory: O(tasks in one batch). Exit status 0, or 2 on bad usage.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm_trace.h" /* lm__emit_quoted: the one YAML quoter */

#define BATCH 64

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

/* ------------------------------------------------------------------------ */
/* Strings: quoted by the tracer's own quoter (docs/trace-format.md, §1)    */
/* ------------------------------------------------------------------------ */

/* The emitter's buffer is full: write it to stdout and start again. */
static int flush_stdout(lm__emit *e, size_t need)
{
    fwrite(e->buf, 1, e->len, stdout);
    e->len = 0;
    return need <= e->cap ? 0 : -1;
}

/* s as a YAML double-quoted scalar, byte for byte what a traced program
 * writes (lm__emit_quoted: tracer/trace_fmt.c). A long string goes out in
 * pieces of the buffer's size. */
static void put_str(const char *s)
{
    char buf[1024];
    lm__emit e = {.buf = buf, .cap = sizeof buf, .flush = flush_stdout};
    lm__emit_quoted(&e, s, strlen(s));
    fwrite(buf, 1, e.len, stdout);
}

static const char *const hostile[] = {
    "end",
    "loop",
    "participant",
    "click",
    "direction TB",
    "x direction LR",
    "a --> b",
    "a ->> b: hi",
    "semi; colon: here",
    "# not a comment",
    "%%{init: {\"theme\": \"dark\"}}%%",
    "%%{init: {}}%%",
    "\"double\" and 'single' quotes",
    "<script>alert(1)</script>",
    "<b>bold</b> &amp; <img src=x onerror=alert(1)>",
    "line one\nline two\r\nthree\tfour",
    "emoji \xF0\x9F\x9A\x80\xF0\x9F\x94\xA5 \xE2\x9C\x85",
    "",
    "a b",
    "a_b",
    "a-b",
    "a.b",
    "A B",
    "classDef x fill:#f00",
    "style p1 fill:#f00",
    "note over p1: injected",
    "state \"x\" as s1",
    "[*] --> s1",
    "<<choice>>",
    "[[join]]",
    "title: injected",
    "dateFormat YYYY",
    "2024-01-01",
    "%",
    "ctrl \x01\x02\x1b[31m red \x7f",
    "nel \xC2\x85 ls \xE2\x80\xA8 ps \xE2\x80\xA9 bom \xEF\xBB\xBF",
    "}; alert(1); {",
    "\\ backslash \\n not a newline",
    "javascript:alert(1)",
    "--- front matter ---",
    "```mermaid",
};
#define NHOSTILE (sizeof hostile / sizeof hostile[0])

static char long_name[5001];

/* The name of worker `id`: plain, or one of the hostile ones. */
static void put_name(uint64_t id, bool host)
{
    if (!host) {
        printf("\"worker-%" PRIu64 "\"", id);
        return;
    }
    uint64_t k = id % (NHOSTILE + 2);
    if (k == NHOSTILE)
        put_str(long_name);
    else if (k == NHOSTILE + 1) {
        char buf[64];
        snprintf(buf, sizeof buf, "end %" PRIu64 " -->", id);
        put_str(buf);
    } else
        put_str(hostile[k]);
}

/* ------------------------------------------------------------------------ */
/* The simulation                                                           */
/* ------------------------------------------------------------------------ */

typedef struct worker {
    uint64_t id;
    int state;       /* 0 pending, 1 awaiting, 2 final */
    uint64_t rounds; /* awaits left before it ends */
    int fate;        /* 0 done, 1 failed, 2 cancelled by timeout */
    bool io;         /* awaiting io (else sleep) */
    int fd;
} worker;

static uint64_t nevents;
static int64_t now;
static uint64_t cur_loop = 1;

#define EV(...)                                                                \
    do {                                                                       \
        printf("  - {t: %" PRId64 ", ", now);                                  \
        if (cur_loop > 1)                                                      \
            printf("loop: %" PRIu64 ", ", cur_loop);                          \
        printf(__VA_ARGS__);                                                   \
        nevents++;                                                             \
    } while (0)

static void usage(void)
{
    fputs("usage: gentrace [--events N] [--tasks N] [--seed N] [--loops N] "
          "[--hostile]\n"
          "Writes a valid loopmaid trace (format v1) of about N events to "
          "stdout.\n",
          stderr);
}

static bool num(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    uint64_t want = 10000, ntasks = 100, seed = 1, nloops = 1;
    bool host = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--events") == 0 && i + 1 < argc && num(argv[i + 1], &want))
            i++;
        else if (strcmp(a, "--tasks") == 0 && i + 1 < argc &&
                 num(argv[i + 1], &ntasks))
            i++;
        else if (strcmp(a, "--seed") == 0 && i + 1 < argc &&
                 num(argv[i + 1], &seed))
            i++;
        else if (strcmp(a, "--loops") == 0 && i + 1 < argc &&
                 num(argv[i + 1], &nloops) && nloops >= 1 && nloops <= 64)
            i++;
        else if (strcmp(a, "--hostile") == 0)
            host = true;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    if (ntasks < 2)
        ntasks = 2;
    rng_state = seed;
    memset(long_name, 'x', sizeof long_name - 1);
    memcpy(long_name, "long end --> ", 13);
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);

    ntasks = ntasks / nloops < 2 ? 2 : ntasks / nloops;
    want /= nloops;
    uint64_t workers = ntasks - 1;
    /* Per worker and round: running, awaiting, wake-up, pending (4), plus a
     * share of ticks and polls; 8 events of fixed cost per worker. */
    uint64_t per = want / workers;
    uint64_t rounds = per > 12 ? (per - 8) / 4 : 1;

    printf("loopmaid: 1\nprogram: ");
    put_str(host ? "gentrace <script>; %%{init: {}}%%" : "gentrace");
    printf("\nclock: virtual\nevents:\n");
    for (cur_loop = 1; cur_loop <= nloops; cur_loop++) {
    now = 0;
    if (cur_loop == 1)
        EV("ev: loop_start, loop: 1, name: ");
    else
        EV("ev: loop_start, name: "); /* EV wrote loop: N */
    put_str(host ? "loop --> end; click" : "loop");
    printf("}\n");
    EV("ev: spawn, task: 1, name: ");
    put_str(host ? "main\n%%{init: {}}%%" : "main");
    printf(", parent: 0}\n");
    EV("ev: state, task: 1, from: created, to: pending, by: spawn}\n");
    EV("ev: state, task: 1, from: pending, to: running}\n");

    uint64_t tick = 0, group = 0, next_id = 2;
    worker batch[BATCH];
    while (next_id <= ntasks) {
        uint64_t n = ntasks - next_id + 1;
        if (n > BATCH)
            n = BATCH;
        for (uint64_t i = 0; i < n; i++) {
            worker *w = &batch[i];
            w->id = next_id++;
            w->state = 0;
            w->rounds = rounds + below(3);
            uint64_t f = below(100);
            w->fate = f < 85 ? 0 : f < 93 ? 1 : 2;
            w->io = false;
            w->fd = 0;
            EV("ev: spawn, task: %" PRIu64 ", name: ", w->id);
            put_name(w->id, host);
            printf(", parent: 1}\n");
            EV("ev: state, task: %" PRIu64
               ", from: created, to: pending, by: spawn}\n",
               w->id);
        }
        group++;
        EV("ev: group, group: %" PRIu64 ", kind: gather, owner: 1, members: [",
           group);
        for (uint64_t i = 0; i < n; i++)
            printf("%s%" PRIu64, i ? ", " : "", batch[i].id);
        printf("], mode: return_exceptions, label: ");
        put_str(host ? hostile[group % NHOSTILE] : "gather(batch)");
        printf("}\n");
        EV("ev: state, task: 1, from: running, to: awaiting, on: gather, "
           "group: %" PRIu64 "}\n",
           group);
        if (host && group % 3 == 1) {
            EV("ev: note, task: 0, text: ");
            put_str(hostile[(group + 7) % NHOSTILE]);
            printf("}\n");
        }
        uint64_t live = n, failed = 0, last = 0;
        while (live) {
            /* Run every pending worker once. */
            uint64_t ran = 0;
            for (uint64_t i = 0; i < n; i++) {
                worker *w = &batch[i];
                if (w->state != 0)
                    continue;
                ran++;
                now += 1000 + (int64_t)below(50000);
                EV("ev: state, task: %" PRIu64 ", from: pending, to: running}\n",
                   w->id);
                now += 500 + (int64_t)below(20000);
                if (w->rounds == 0) {
                    w->state = 2;
                    live--;
                    last = w->id;
                    if (w->fate == 0) {
                        EV("ev: state, task: %" PRIu64
                           ", from: running, to: done}\n",
                           w->id);
                    } else if (w->fate == 1) {
                        failed++;
                        EV("ev: state, task: %" PRIu64
                           ", from: running, to: failed, error: "
                           "\"LM_EUSER\", code: -100, message: ",
                           w->id);
                        put_str(host ? hostile[w->id % NHOSTILE]
                                     : "bad reply");
                        printf("}\n");
                    } else {
                        EV("ev: state, task: %" PRIu64
                           ", from: running, to: cancelled}\n",
                           w->id);
                    }
                    continue;
                }
                w->rounds--;
                w->io = below(2) == 0;
                if (w->io) {
                    w->fd = 5 + (int)(w->id % 1000);
                    EV("ev: state, task: %" PRIu64
                       ", from: running, to: awaiting, on: io, fd: %d, dir: "
                       "read}\n",
                       w->id, w->fd);
                } else {
                    EV("ev: state, task: %" PRIu64
                       ", from: running, to: awaiting, on: sleep}\n",
                       w->id);
                }
                w->state = 1;
            }
            tick++;
            EV("ev: tick, n: %" PRIu64 ", ran: %" PRIu64
               ", io: 0, timers: 0}\n",
               tick, ran);
            if (!live)
                break;
            /* Poll, then wake every awaiting worker. */
            int64_t waited = 100000 + (int64_t)below(2000000);
            uint64_t ready = 0;
            for (uint64_t i = 0; i < n; i++)
                ready += batch[i].state == 1 && batch[i].io;
            EV("ev: poll, timeout: %" PRId64 ", waited: %" PRId64
               ", ready: %" PRIu64 "}\n",
               waited, waited, ready);
            now += waited;
            for (uint64_t i = 0; i < n; i++) {
                worker *w = &batch[i];
                if (w->state != 1)
                    continue;
                if (w->rounds == 0 && w->fate == 2) {
                    EV("ev: cancel, task: %" PRIu64
                       ", reason: timeout, by_task: 1}\n",
                       w->id);
                    EV("ev: state, task: %" PRIu64
                       ", from: awaiting, to: pending, by: cancel}\n",
                       w->id);
                } else if (w->io) {
                    EV("ev: io, task: %" PRIu64 ", fd: %d, dir: read}\n",
                       w->id, w->fd);
                    EV("ev: state, task: %" PRIu64
                       ", from: awaiting, to: pending, by: io}\n",
                       w->id);
                } else {
                    EV("ev: timer, task: %" PRIu64 "}\n", w->id);
                    EV("ev: state, task: %" PRIu64
                       ", from: awaiting, to: pending, by: timer}\n",
                       w->id);
                }
                w->state = 0;
            }
        }
        EV("ev: group_end, group: %" PRIu64 ", outcome: ok}\n", group);
        EV("ev: state, task: 1, from: awaiting, to: pending, by: task, "
           "by_task: %" PRIu64 "}\n",
           last);
        EV("ev: state, task: 1, from: pending, to: running}\n");
        (void)failed;
    }
    now += 1000;
    EV("ev: state, task: 1, from: running, to: done}\n");
    tick++;
    EV("ev: tick, n: %" PRIu64 ", ran: 1, io: 0, timers: 0}\n", tick);
    if (cur_loop == 1)
        EV("ev: loop_end, loop: 1}\n");
    else
        EV("ev: loop_end}\n");
    } /* loops */
    if (fflush(stdout) != 0) {
        perror("gentrace");
        return 1;
    }
    return 0;
}

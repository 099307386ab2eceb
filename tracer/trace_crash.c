/*
 * trace_crash.c: the safety nets. A registry of live traces, and the handlers
 * that flush them when the process ends without lm_loop_free: atexit,
 * SIGINT/SIGTERM when nobody handles them, and the crash signals. The rules
 * that make the handler's view consistent are at the top of trace_buf.c.
 */
#include "lm_trace.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* The registry of live traces                                               */
/* ------------------------------------------------------------------------ */

#define LM__REG_MAX 256

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static lm__trace *volatile g_reg[LM__REG_MAX];  /* read by the crash handler */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void install_safety_nets(void);

void lm__trace_register(lm__trace *tr)
{
    pthread_once(&g_once, install_safety_nets);
    pthread_mutex_lock(&g_mu);
    tr->slot = -1;
    for (int i = 0; i < LM__REG_MAX; i++) {
        if (g_reg[i] == NULL) {
            g_reg[i] = tr;
            tr->slot = i;
            break;
        }
    }
    /* More than LM__REG_MAX live traces: the extra ones are still flushed at
     * loop end and lm_loop_free, just not by exit or crash handlers. */
    pthread_mutex_unlock(&g_mu);
}

void lm__trace_unregister(lm__trace *tr)
{
    pthread_mutex_lock(&g_mu);
    if (tr->slot >= 0)
        g_reg[tr->slot] = NULL;
    tr->slot = -1;
    pthread_mutex_unlock(&g_mu);
}

/* ------------------------------------------------------------------------ */
/* Safety nets                                                               */
/* ------------------------------------------------------------------------ */

/* At exit(): flush the traces of this thread (other threads may be inside
 * their hot path; touching their buffers would be a data race). */
static void at_exit(void)
{
    pid_t me = getpid();
    pthread_t self = pthread_self();
    pthread_mutex_lock(&g_mu);
    lm__trace *mine[LM__REG_MAX];
    int n = 0;
    for (int i = 0; i < LM__REG_MAX; i++) {
        lm__trace *tr = g_reg[i];
        if (tr && tr->pid == me && pthread_equal(tr->owner, self))
            mine[n++] = tr;
    }
    pthread_mutex_unlock(&g_mu);
    for (int i = 0; i < n; i++)
        lm__trace_flush_now(mine[i]);
}

/* The crash path's emitter: a static buffer written out when full. */
typedef struct sig_out {
    int fd;
    bool binary;
} sig_out;

/* The buffer has room for a chunk header before it (e->buf is g_sigraw +
 * LM__CH_HDR): in a binary sink each flush is one TEXT chunk, one write(2),
 * with no allocation. */
static int sig_flush(lm__emit *e, size_t need)
{
    sig_out *o = e->ctx;
    (void)need;
    if (e->len > 0) {
        const char *p = e->buf;
        size_t n = e->len;
        if (o->binary) {
            p -= LM__CH_HDR;
            lm__bin_hdr((char *)p, LM__CH_TEXT, n);
            n += LM__CH_HDR;
        }
        if (!lm__write_all(o->fd, p, n))
            return -1;
    }
    e->len = 0;
    return 0;
}

static char g_sigraw[LM__CH_HDR + 16384];

/* Whether the crash path is to write batch b itself: it takes a QUEUED one
 * (CAS to CLAIMED); one being written by the writer thread is waited for (at
 * most 10 s: a writer stuck on a full pipe must not hang the crash). */
static bool claim(lm__trace *tr, lm__batch *b)
{
    for (int waited = 0; waited < 10000; waited++) {
        int st = atomic_load(&b->state);
        if (st == LM__B_QUEUED &&
            atomic_compare_exchange_strong(&b->state, &st, LM__B_CLAIMED))
            return true;
        if (st == LM__B_FREE || st == LM__B_CLAIMED)
            return false;
        if (st == LM__B_WRITING && pthread_equal(pthread_self(), tr->writer))
            return false; /* the writer itself crashed: nobody to wait for */
        if (st == LM__B_WRITING) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
    return false;
}

static void header_once(lm__trace *tr, lm__emit *e)
{
    lm__sink *s = tr->sink;
    if (!s->header_done) {
        lm__emit_header(e, lm__trace_program(tr), tr->clock, tr->ring ? tr->cap : 0);
        s->header_done = 1;
    }
}

static void dump_one(lm__trace *tr)
{
    lm__sink *s = tr->sink;
    if (!s || s->fd < 0 || s->broken || tr->pid != getpid())
        return;
    sig_out o = {s->fd, s->binary};
    lm__emit e = {.buf = g_sigraw + LM__CH_HDR, .cap = sizeof g_sigraw - LM__CH_HDR,
                  .flush = sig_flush, .ctx = &o};
    /* First the batches handed to the writer thread, oldest first: they
     * come before the records still in the loop thread's array. */
    lm__batch *fl[LM__TRACE_BATCHES];
    int nfl = lm__trace_inflight(tr, fl);
    for (int i = 0; i < nfl; i++) {
        lm__batch *b = fl[i];
        if (!claim(tr, b))
            continue;
        header_once(tr, &e);
        for (uint64_t k = b->rd; k < b->wr; k++) {
            lm__rec r = b->rec[k % b->cap];
            r.t = lm__tscmap_ns(&b->tm, k, r.t);
            lm__emit_rec_strs(&e, &b->strs, &r);
        }
        /* Out before FREE: the writer may take the next batch then. */
        sig_flush(&e, 0);
        atomic_store(&b->state, LM__B_FREE);
    }
    header_once(tr, &e);
    /* Formatted text not yet written: whole lines only. */
    const char *out = tr->out;
    size_t off = tr->ooff, len = tr->olen;
    while (len > off && out[len - 1] != '\n')
        len--;
    if (len > off && !s->binary) {
        sig_flush(&e, 0);
        lm__write_all(s->fd, out + off, len - off);
    } else if (len > off) {
        lm__emit_bytes(&e, out + off, len - off); /* as TEXT chunks */
    }
    lm__trace_loopno(tr);
    uint64_t rd = tr->rd, wr = tr->wr;
    size_t cap = tr->cap;
    if (wr - rd > cap)
        rd = wr - cap;
    uint64_t tsc;
    int64_t ns;
    lm__tscmap tm = lm__trace_tscmap_now(tr, &tsc, &ns);
    if (tr->dropped > 0 && wr > rd) {
        lm__rec gap = {.kind = LM__R_GAP, .a = tr->dropped,
                       .t = lm__tscmap_ns(&tm, rd, tr->rec[rd % cap].t)};
        lm__emit_rec(&e, tr, &gap);
    }
    for (uint64_t k = rd; k < wr; k++) {
        lm__rec r = tr->rec[k % cap];
        r.t = lm__tscmap_ns(&tm, k, r.t);
        lm__emit_rec(&e, tr, &r);
    }
    sig_flush(&e, 0);
    /* Nothing is written twice if a chained handler goes on to exit(). */
    tr->rd = wr;
    tr->tsc0 = tsc;
    tr->ns0 = ns;
    tr->dropped = 0;
    tr->ooff = tr->olen = 0;
}

static struct sigaction g_old[NSIG];
static volatile sig_atomic_t g_dumping;

static void on_signal(int sig)
{
    int saved = errno;
    if (!g_dumping) {
        g_dumping = 1;
        for (int i = 0; i < LM__REG_MAX; i++) {
            lm__trace *tr = g_reg[i];
            if (tr)
                dump_one(tr);
        }
        g_dumping = 0;
    }
    /* Back to what was there before us, and let the signal do its work:
     * it is blocked while we run, so it is delivered as we return (a fault
     * re-executes the instruction and faults again). */
    sigaction(sig, &g_old[sig], NULL);
    raise(sig);
    errno = saved;
}

static void install_safety_nets(void)
{
    atexit(at_exit);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_ONSTACK: a task that overflows its stack faults on it; if the
     * loop set up an alternate signal stack, the handler runs there. */
    sa.sa_flags = SA_ONSTACK;
    static const int crash[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof crash / sizeof crash[0]; i++)
        sigaction(crash[i], &sa, &g_old[crash[i]]);
    /* SIGINT/SIGTERM only when nobody handles them: the loop installs its
     * own handler while it runs (cancel main, then a normal flush), and a
     * program's own handler or SIG_IGN is not ours to replace. */
    static const int term[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof term / sizeof term[0]; i++) {
        struct sigaction cur;
        if (sigaction(term[i], NULL, &cur) == 0 && cur.sa_handler == SIG_DFL &&
            !(cur.sa_flags & SA_SIGINFO))
            sigaction(term[i], &sa, &g_old[term[i]]);
    }
}

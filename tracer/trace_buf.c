/*
 * trace_buf.c: the recorder's record arrays (stream and flight-recorder
 * modes), the drain that formats records and the writes to the sink. The
 * string store is trace_str.c, the sinks trace_sink.c, the safety nets
 * (atexit, SIGINT/SIGTERM when nobody handles them, crash signals)
 * trace_crash.c.
 *
 * Crash safety rests on three rules kept throughout these files:
 *  1. A record is visible to the crash handler (tr->wr) only once complete;
 *     drains and writes, which move records into lines and lines out, run
 *     with asynchronous signals held, so the handler sees either state.
 *  2. Buffers the handler may read are never realloc'ed in place: a bigger
 *     one is filled, published, and only then is the old one freed.
 *  3. The handler uses write(2) and the async-signal-safe formatter only.
 */
#include "lm_trace.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Buffers that the crash handler may read: grow by copy-publish-free        */
/* ------------------------------------------------------------------------ */

const char *lm__trace_program(const lm__trace *tr)
{
    if (tr->program)
        return tr->program;
    extern char *program_invocation_short_name;
    return program_invocation_short_name && *program_invocation_short_name
               ? program_invocation_short_name
               : "program";
}

/* The emitter's flush for tr->out: grows it. */
static int out_grow(lm__emit *e, size_t need)
{
    lm__trace *tr = e->ctx;
    size_t ncap = e->cap ? e->cap : 65536;
    while (ncap < e->len + need) {
        if (ncap > SIZE_MAX / 2)
            return -1;
        ncap *= 2;
    }
    char *nb = malloc(ncap);
    if (!nb)
        return -1;
    if (e->len)
        memcpy(nb, e->buf, e->len);
    char *old = e->buf;
    e->buf = nb;
    e->cap = ncap;
    tr->out = nb;
    tr->ocap = ncap;
    atomic_signal_fence(memory_order_seq_cst);
    free(old);
    return 0;
}

lm__trace *lm__trace_new(lm__sink *sink, lm_clock_kind clock)
{
    lm__trace *tr = calloc(1, sizeof *tr);
    lm__rec *rec = calloc(LM__TRACE_CAP, sizeof *rec);
    uint32_t *itab = calloc(64, sizeof *itab);
    if (!tr || !rec || !itab) {
        free(tr);
        free(rec);
        free(itab);
        lm__sink_release(sink);
        return NULL;
    }
    tr->sink = sink;
    tr->clock = clock;
    tr->pid = getpid();
    tr->owner = pthread_self();
    tr->rec = rec;
    tr->cap = LM__TRACE_CAP;
    tr->itab = itab;
    tr->itabcap = 64;
    lm__trace_register(tr);
    return tr;
}

int lm__trace_set_ring(lm__trace *tr, size_t n)
{
    if (n == 0 || n > SIZE_MAX / sizeof(lm__rec) || n > (size_t)1 << 40)
        return LM_EINVAL;
    lm__trace_flush_now(tr);
    lm__rec *rec = calloc(n, sizeof *rec);
    if (!rec)
        return LM_ENOMEM;
    lm__rec *old = tr->rec;
    tr->cap = n;
    tr->head = 0;
    tr->wr = tr->rd = 0;
    tr->dropped = 0;
    atomic_signal_fence(memory_order_seq_cst);
    tr->rec = rec;
    tr->ring = true;
    atomic_signal_fence(memory_order_seq_cst);
    free(old);
    return 0;
}

void lm__trace_full(lm__trace *tr)
{
    if (!tr->ring)
        lm__trace_flush_now(tr);
    if (tr->wr - tr->rd == tr->cap) {
        /* Ring mode (or a drain that could not run): the oldest record is
         * at head; forget it before its slot is reused. */
        tr->dropped++;
        atomic_signal_fence(memory_order_seq_cst);
        tr->rd++;
        atomic_signal_fence(memory_order_seq_cst);
    }
}

/* ------------------------------------------------------------------------ */
/* Draining and writing                                                      */
/* ------------------------------------------------------------------------ */

void lm__trace_loopno(lm__trace *tr)
{
    if (tr->loopno == 0 && tr->sink)
        tr->loopno = atomic_fetch_add(&tr->sink->nloops, 1) + 1;
}

/* Async signals (SIGINT, SIGTERM, a kill -ABRT from outside...) are held
 * while a drain or a write changes what the crash handler reads, so it never
 * sees a line both formatted and still pending as a record. Two system calls,
 * paid only when a batch of records is formatted, not per event. The
 * synchronous crash signals stay open: they can only come from a bug here. */
static void hold_signals(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_BLOCK, &all, old);
}

static void release_signals(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void drain_locked(lm__trace *tr)
{
    if (tr->wr == tr->rd)
        return;
    lm__trace_loopno(tr);
    lm__emit e = {.buf = tr->out, .len = tr->olen, .cap = tr->ocap,
                  .flush = out_grow, .ctx = tr};
    if (tr->dropped > 0) {
        lm__rec gap = {.kind = LM__R_GAP, .a = tr->dropped,
                       .t = tr->rec[tr->rd % tr->cap].t};
        lm__emit_rec(&e, tr, &gap);
        if (!e.failed) {
            tr->olen = e.len;
            tr->dropped = 0;
        }
    }
    while (tr->rd != tr->wr) {
        const lm__rec *r = &tr->rec[tr->rd % tr->cap];
        lm__emit_rec(&e, tr, r);
        if (e.failed) {
            /* Out of memory: drop the rest rather than write half lines. */
            e.len = tr->olen;
            tr->dropped += tr->wr - tr->rd;
            tr->rd = tr->wr;
            break;
        }
        tr->olen = e.len;
        tr->rd++;
    }
    tr->alen = 0; /* no record refers to the arena any more */
    tr->alive = 0;
}

void lm__trace_drain(lm__trace *tr)
{
    if (tr->wr == tr->rd)
        return;
    sigset_t old;
    hold_signals(&old);
    drain_locked(tr);
    release_signals(&old);
}

static int64_t coarse_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void emit_header_heap(lm__trace *tr, lm__emit *e)
{
    lm__emit_header(e, lm__trace_program(tr), tr->clock, tr->ring ? tr->cap : 0);
}

static int heap_grow(lm__emit *e, size_t need)
{
    size_t ncap = e->cap ? e->cap * 2 : 1024;
    while (ncap < e->len + need)
        ncap *= 2;
    char *nb = realloc(e->buf, ncap);
    if (!nb)
        return -1;
    e->buf = nb;
    e->cap = ncap;
    return 0;
}

/* Writes the header if this sink has none yet; s->mu held. */
static bool sink_header(lm__sink *s, lm__trace *tr)
{
    if (s->header_done)
        return true;
    lm__emit e = {.flush = heap_grow};
    emit_header_heap(tr, &e);
    bool ok = !e.failed && lm__sink_put(s, e.buf, e.len);
    free(e.buf);
    if (ok)
        s->header_done = 1;
    return ok;
}

int lm__trace_write(lm__trace *tr)
{
    lm__sink *s = tr->sink;
    if (!s)
        return LM_ESTATE;
    /* Nothing to say: do not even write the header yet (lm_trace_ring and
     * lm_trace_set_program may still change it). */
    if (tr->olen == tr->ooff)
        return 0;
    sigset_t old;
    hold_signals(&old);
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (!sink_header(s, tr)) {
        rc = LM_EIO;
    } else if (tr->olen > tr->ooff) {
        if (!lm__sink_put(s, tr->out + tr->ooff, tr->olen - tr->ooff))
            rc = LM_EIO;
    }
    pthread_mutex_unlock(&s->mu);
    /* Written or not (a broken sink stays broken), the text is gone. */
    tr->ooff = 0;
    tr->olen = 0;
    tr->last_write_ns = coarse_now();
    release_signals(&old);
    return rc;
}

int lm__trace_flush_now(lm__trace *tr)
{
    sigset_t old;
    hold_signals(&old);
    drain_locked(tr);
    int rc = lm__trace_write(tr);
    release_signals(&old);
    return rc;
}

void lm__trace_tick_boundary(lm__trace *tr)
{
    /* Records wait in memory (the crash path formats them too) until a
     * batch is worth formatting and writing: 1024 of them, or 100 ms since
     * the last write so that a slow program's trace still moves. */
    if (tr->ring || tr->wr == tr->rd)
        return;
    if (tr->wr - tr->rd < 1024 && coarse_now() - tr->last_write_ns < 100000000)
        return;
    lm__trace_flush_now(tr);
}

void lm__trace_free(lm__trace *tr)
{
    if (!tr)
        return;
    lm__trace_flush_now(tr);
    if (tr->sink && !tr->sink->header_done) {
        /* A loop that recorded nothing still leaves a valid (empty) trace. */
        pthread_mutex_lock(&tr->sink->mu);
        sink_header(tr->sink, tr);
        pthread_mutex_unlock(&tr->sink->mu);
    }
    lm__trace_unregister(tr);
    lm__sink_release(tr->sink);
    free(tr->rec);
    free(tr->arena);
    free(tr->istore);
    free(tr->ioff);
    free(tr->itab);
    free(tr->out);
    free(tr->program);
    free(tr);
}


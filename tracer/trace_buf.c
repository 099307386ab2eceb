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
 *
 * In stream mode to a file the loop thread does not format at all: it hands
 * whole batches of records to a writer thread ("The writer thread" below).
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
    size_t ncap = lm__grow_cap(e->cap, 65536, e->len + need);
    if (ncap == 0)
        return -1;
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
    /* A sink the writer thread can serve fills smaller arrays: the memory
     * bound (LM__TRACE_CAP records) is shared with the batches in flight. */
    size_t cap = sink && sink->fp == NULL ? LM__TRACE_BATCH : LM__TRACE_CAP;
    lm__trace *tr = calloc(1, sizeof *tr);
    lm__rec *rec = calloc(cap, sizeof *rec);
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
    tr->cap = cap;
    tr->itab = itab;
    tr->itabcap = 64;
    pthread_mutex_init(&tr->wmu, NULL);
    pthread_cond_init(&tr->wcv, NULL);
    pthread_cond_init(&tr->fcv, NULL);
    for (int i = 0; i < LM__TRACE_BATCHES; i++) {
        atomic_init(&tr->batch[i].state, LM__B_FREE);
        tr->batch[i].seq = UINT64_MAX; /* never handed off */
    }
    tr->tsc_from = UINT64_MAX;
    atomic_init(&tr->werr, 0);
    lm__trace_register(tr);
    return tr;
}

static void writer_stop(lm__trace *tr);

int lm__trace_set_ring(lm__trace *tr, size_t n)
{
    if (n == 0 || n > SIZE_MAX / sizeof(lm__rec) || n > (size_t)1 << 40)
        return LM_EINVAL;
    lm__trace_flush_now(tr);
    /* A flight recorder formats at the end, on the loop thread, and so
     * stamps with loop time (the array is empty now). */
    writer_stop(tr);
    tr->tsc = false;
    tr->tsc_from = UINT64_MAX;
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
        lm__trace_pass(tr);
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
/* Draining and writing on the loop thread (ring mode, FILE sinks)           */
/* ------------------------------------------------------------------------ */

void lm__trace_loopno(lm__trace *tr)
{
    if (tr->loopno == 0 && tr->sink)
        tr->loopno = atomic_fetch_add(&tr->sink->nloops, 1) + 1;
}

/* Async signals (SIGINT, SIGTERM, a kill -ABRT from outside...) are held
 * while a drain, a hand-off or a write changes what the crash handler reads,
 * so it never sees a line both formatted and still pending as a record. Two
 * system calls, paid per batch of records, not per event. The synchronous
 * crash signals stay open: they can only come from a bug here. */
void lm__hold_signals(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_BLOCK, &all, old);
}

void lm__release_signals(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void drain_locked(lm__trace *tr)
{
    if (tr->wr == tr->rd)
        return;
    lm__trace_loopno(tr);
    lm__strs v = lm__trace_strs(tr);
    uint64_t tsc;
    int64_t ns;
    lm__tscmap tm = lm__trace_tscmap_now(tr, &tsc, &ns);
    lm__emit e = {.buf = tr->out, .len = tr->olen, .cap = tr->ocap,
                  .flush = out_grow, .ctx = tr};
    if (tr->dropped > 0) {
        uint64_t k = tr->rd;
        lm__rec gap = {.kind = LM__R_GAP, .a = tr->dropped,
                       .t = lm__tscmap_ns(&tm, k, tr->rec[k % tr->cap].t)};
        lm__emit_rec_strs(&e, &v, &gap);
        if (!e.failed) {
            tr->olen = e.len;
            tr->dropped = 0;
        }
    }
    while (tr->rd != tr->wr) {
        lm__rec r = tr->rec[tr->rd % tr->cap];
        r.t = lm__tscmap_ns(&tm, tr->rd, r.t);
        lm__emit_rec_strs(&e, &v, &r);
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
    tr->tsc0 = tsc; /* the next records' anchor */
    tr->ns0 = ns;
}

void lm__trace_drain(lm__trace *tr)
{
    if (tr->wr == tr->rd)
        return;
    sigset_t old;
    lm__hold_signals(&old);
    drain_locked(tr);
    lm__release_signals(&old);
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
    size_t ncap = lm__grow_cap(e->cap ? e->cap * 2 : 0, 1024, e->len + need);
    if (ncap == 0)
        return -1;
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
    bool ok = !e.failed && lm__sink_text(s, e.buf, e.len);
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
    lm__hold_signals(&old);
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (!sink_header(s, tr)) {
        rc = LM_EIO;
    } else if (tr->olen > tr->ooff) {
        if (!lm__sink_text(s, tr->out + tr->ooff, tr->olen - tr->ooff))
            rc = LM_EIO;
    }
    pthread_mutex_unlock(&s->mu);
    /* Written or not (a broken sink stays broken), the text is gone. */
    tr->ooff = 0;
    tr->olen = 0;
    tr->last_write_ns = coarse_now();
    lm__release_signals(&old);
    return rc;
}

/* Formats and writes every buffered record here, on the calling thread. */
static int flush_here(lm__trace *tr)
{
    sigset_t old;
    lm__hold_signals(&old);
    drain_locked(tr);
    int rc = lm__trace_write(tr);
    lm__release_signals(&old);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The writer thread                                                         */
/* ------------------------------------------------------------------------ */

/*
 * In stream mode to a file descriptor (a path, "fd:N"), formatting and
 * write(2) happen on a thread of the trace's own, so a traced event costs the
 * loop thread the record only. The loop thread fills its array; when it is
 * full, at a tick boundary with LM__TRACE_PASS_AT records or 100 ms after the last
 * hand-off, and at flush, it hands off (hand_off): array and arena go into a
 * FREE batch, whose empty buffers it takes in exchange. The writer formats
 * the batches in order and writes each one whole, under the sink's mutex.
 *
 * Strings. A batch owns the arena its records point into. Interned labels
 * are shared: the batch keeps a snapshot of the store (pointer, offsets,
 * count); the store only appends, and a buffer replaced by a bigger one is
 * retired, not freed, until lm__trace_free (trace_str.c), so whatever the
 * snapshot points to stays valid while the loop thread goes on interning.
 *
 * Back-pressure. At most LM__TRACE_BATCHES batches are with the writer; when
 * none is free, the loop thread waits for the writer (fcv). A program that
 * makes events faster than they can be written is slowed to the writer's
 * pace; it loses nothing and its memory stays bounded (LM__TRACE_CAP records
 * plus their strings).
 *
 * FILE sinks (lm_trace_file, "-") stay on the loop thread: the program may
 * write to that FILE too, and its lines and the trace's must keep their
 * order. So do rings (formatted once, at the end) and a trace whose thread
 * could not be started. A fork()ed child never uses its parent's writer: the
 * thread does not exist there, and the parent writes the batches it had.
 *
 * Crash path. The handler (trace_crash.c) takes the in-flight batches oldest
 * first (lm__trace_inflight): it waits for one being WRITING to be done,
 * claims a QUEUED one by CAS and writes it itself, then writes what is still
 * in the loop thread's array. The writer stores FREE without a lock, so the
 * handler never waits on a mutex its own thread may hold; a batch the
 * handler wrote is FREE with the seq the writer expects, and it skips it.
 */

static bool writer_here(const lm__trace *tr)
{
    return tr->wstarted && tr->pid == getpid();
}

/* Every batch handed off is written (or was written by the crash path). */
static bool writer_idle(lm__trace *tr)
{
    for (int i = 0; i < LM__TRACE_BATCHES; i++)
        if (atomic_load(&tr->batch[i].state) != LM__B_FREE)
            return false;
    return true;
}

/* Waits on cv for at most ns (under a second). */
static void wait_for(pthread_cond_t *cv, pthread_mutex_t *mu, long ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ns;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(cv, mu, &ts);
}

/* Waits on cv for at most 10 ms: the crash path frees batches without the
 * mutex and cannot signal, so a waiter looks again now and then. */
static void wait_a_little(pthread_cond_t *cv, pthread_mutex_t *mu)
{
    wait_for(cv, mu, 10000000);
}

static void wait_idle(lm__trace *tr)
{
    pthread_mutex_lock(&tr->wmu);
    pthread_cond_signal(&tr->wcv); /* a napping writer: now, not in 1 ms */
    while (!writer_idle(tr))
        wait_a_little(&tr->fcv, &tr->wmu);
    pthread_mutex_unlock(&tr->wmu);
}

/* The header of b, if the sink has none yet; s->mu held. */
static bool batch_header(lm__sink *s, lm__batch *b)
{
    if (s->header_done || !b->header)
        return true;
    bool ok = lm__sink_text(s, b->header, b->hlen);
    if (ok)
        s->header_done = 1;
    return ok;
}

/* A binary sink: the batch as one RECS chunk (trace_bin.c), about a fifth of
 * the YAML's bytes and work. false when it cannot be encoded: YAML then. */
static bool write_batch_bin(lm__trace *tr, lm__batch *b, lm__emit *e)
{
    if (!lm__bin_recs(e, b, (uint32_t)tr->pid, tr->bin_nid))
        return false;
    lm__sink *s = tr->sink;
    pthread_mutex_lock(&s->mu);
    bool ok = batch_header(s, b) && lm__sink_put(s, e->buf, e->len);
    pthread_mutex_unlock(&s->mu);
    if (!ok)
        atomic_store(&tr->werr, LM_EIO);
    /* Sent (or the sink is broken and nothing is sent any more). */
    tr->bin_nid = b->strs.nid;
    return true;
}

/* Formats one batch into *e (the writer's buffer) and writes it. On out of
 * memory the lines made so far are written, then a gap for the rest. */
static void write_batch(lm__trace *tr, lm__batch *b, lm__emit *e)
{
    if (tr->sink->binary && write_batch_bin(tr, b, e))
        return;
    e->len = 0;
    e->failed = false;
    size_t good = 0;
    uint64_t k = b->rd;
    for (; k < b->wr; k++) {
        lm__rec r = b->rec[k % b->cap];
        r.t = lm__tscmap_ns(&b->tm, k, r.t);
        lm__emit_rec_strs(e, &b->strs, &r);
        if (e->failed)
            break;
        good = e->len;
    }
    char gapbuf[128];
    lm__emit g = {.buf = gapbuf, .cap = sizeof gapbuf};
    if (k < b->wr) {
        lm__rec gap = {.kind = LM__R_GAP, .a = b->wr - k,
                       .t = lm__tscmap_ns(&b->tm, k, b->rec[k % b->cap].t)};
        lm__emit_rec_strs(&g, &b->strs, &gap);
    }
    lm__sink *s = tr->sink;
    pthread_mutex_lock(&s->mu);
    bool ok = batch_header(s, b);
    if (ok && good > 0)
        ok = lm__sink_text(s, e->buf, good);
    if (ok && g.len > 0 && !g.failed)
        ok = lm__sink_text(s, g.buf, g.len);
    pthread_mutex_unlock(&s->mu);
    if (!ok)
        atomic_store(&tr->werr, LM_EIO);
}

/* Waking the writer costs the loop thread a futex system call, and on a VM
 * an inter-processor interrupt, for every batch: ~15 % of a traced
 * ping-pong's loop thread. So a writer that has just written a batch does
 * not wait to be woken but naps (1 ms, woken earlier only by a second batch
 * queued, a flush or the stop); only when a nap found nothing does it sleep
 * for good, with wdeep set, and then the next hand-off wakes it. A busy
 * trace thus costs one wake per two batches, and an idle one no wake-ups
 * at all; a batch waits at most 1 ms longer to be written. */
#define LM__WRITER_NAP_NS 1000000L

static void *writer_main(void *arg)
{
    lm__trace *tr = arg;
    lm__emit e = {.flush = heap_grow};
    bool napped = true; /* nothing written yet: sleep until woken */
    pthread_mutex_lock(&tr->wmu);
    for (;;) {
        lm__batch *b = NULL;
        for (int i = 0; i < LM__TRACE_BATCHES; i++)
            if (tr->batch[i].seq == tr->wseq &&
                atomic_load(&tr->batch[i].state) != LM__B_FREE)
                b = &tr->batch[i];
        if (b == NULL) {
            /* Nothing handed off yet with that seq, or the crash path wrote
             * it already (FREE): then go on with the next one. */
            bool skipped = false;
            for (int i = 0; i < LM__TRACE_BATCHES; i++)
                if (tr->batch[i].seq == tr->wseq && tr->wseq < tr->next_seq)
                    skipped = true;
            if (skipped) {
                tr->wseq++;
                continue;
            }
            if (tr->wstop)
                break;
            if (napped) {
                tr->wdeep = true;
                pthread_cond_wait(&tr->wcv, &tr->wmu);
                tr->wdeep = false;
            } else {
                napped = true;
                wait_for(&tr->wcv, &tr->wmu, LM__WRITER_NAP_NS);
            }
            continue;
        }
        int st = LM__B_QUEUED;
        if (!atomic_compare_exchange_strong(&b->state, &st, LM__B_WRITING)) {
            /* The crash path has it: wait until it is done with it. */
            wait_a_little(&tr->wcv, &tr->wmu);
            continue;
        }
        tr->wseq++;
        napped = false;
        pthread_mutex_unlock(&tr->wmu);
        write_batch(tr, b, &e);
        free(b->header);
        b->header = NULL;
        atomic_store(&b->state, LM__B_FREE);
        pthread_mutex_lock(&tr->wmu);
        pthread_cond_broadcast(&tr->fcv);
    }
    pthread_mutex_unlock(&tr->wmu);
    free(e.buf);
    return NULL;
}

/* Starts the writer if this trace may have one; false to stay synchronous. */
static bool writer_start(lm__trace *tr)
{
    if (tr->wstarted)
        return tr->pid == getpid();
    if (tr->wfailed || tr->ring || !tr->sink || tr->sink->fp != NULL ||
        tr->pid != getpid())
        return false;
    /* The thread takes no asynchronous signal: they stay with the program's
     * threads, whose handlers expect them. */
    sigset_t old;
    lm__hold_signals(&old);
    tr->wstop = false;
    int rc = pthread_create(&tr->writer, NULL, writer_main, tr);
    lm__release_signals(&old);
    if (rc != 0) {
        tr->wfailed = true;
        return false;
    }
    tr->wstarted = true;
    return true;
}

/* Waits for the writer to be idle, ends it and frees the batches' buffers. */
static void writer_stop(lm__trace *tr)
{
    if (!tr->wstarted)
        return;
    if (tr->pid == getpid()) {
        wait_idle(tr);
        pthread_mutex_lock(&tr->wmu);
        tr->wstop = true;
        pthread_cond_signal(&tr->wcv);
        pthread_mutex_unlock(&tr->wmu);
        pthread_join(tr->writer, NULL);
    }
    tr->wstarted = false;
    for (int i = 0; i < LM__TRACE_BATCHES; i++) {
        lm__batch *b = &tr->batch[i];
        free(b->rec);
        free(b->arena);
        free(b->header);
        b->rec = NULL;
        b->arena = NULL;
        b->header = NULL;
        b->acap = 0;
        b->seq = UINT64_MAX;
        atomic_store(&b->state, LM__B_FREE);
    }
}

/* How many batches wait for the writer. */
static int queued(lm__trace *tr)
{
    int n = 0;
    for (int i = 0; i < LM__TRACE_BATCHES; i++)
        n += atomic_load(&tr->batch[i].state) == LM__B_QUEUED;
    return n;
}

/* A FREE batch, waiting for the writer when there is none (back-pressure). */
static lm__batch *free_batch(lm__trace *tr)
{
    lm__batch *b = NULL;
    pthread_mutex_lock(&tr->wmu);
    for (;;) {
        for (int i = 0; i < LM__TRACE_BATCHES && !b; i++)
            if (atomic_load(&tr->batch[i].state) == LM__B_FREE)
                b = &tr->batch[i];
        if (b)
            break;
        wait_a_little(&tr->fcv, &tr->wmu);
    }
    pthread_mutex_unlock(&tr->wmu);
    return b;
}

/* The array the loop thread gets back was last read by the writer, on
 * another core: its cache lines are shared with that core's cache, and each
 * first store of a record into one waits for the other copy to be
 * invalidated. One record at a time, those waits are not overlapped and
 * stall the loop thread (a traced ping-pong spent a third of its time
 * there on a 2-core AMD VM; prefetching a few records ahead did not help).
 * Clearing the slots to be filled next, in one memset, takes the lines back
 * in bulk at memory speed. Only the LM__TRACE_PASS_AT slots from head: the
 * next tick boundary normally passes the array on by then. */
static void own_slots(lm__rec *rec, size_t cap, size_t head)
{
    size_t n = cap < LM__TRACE_PASS_AT ? cap : LM__TRACE_PASS_AT;
    size_t first = cap - head < n ? cap - head : n;
    memset(rec + head, 0, first * sizeof *rec);
    memset(rec, 0, (n - first) * sizeof *rec);
}

/* Hands [rd, wr) and their strings to the writer; false when the records
 * must be written here instead (no writer, or out of memory). */
static bool hand_off(lm__trace *tr)
{
    if (!writer_start(tr))
        return false;
    lm__batch *b = free_batch(tr);
    /* The buffers the loop thread gets back: the batch's, or new ones. */
    lm__rec *nrec = b->rec;
    size_t ncap = b->cap;
    if (nrec == NULL || ncap != tr->cap) {
        free(nrec);
        nrec = calloc(tr->cap, sizeof *nrec);
        ncap = tr->cap;
        b->rec = nrec;
        b->cap = ncap;
        if (nrec == NULL) {
            b->cap = 0;
            return false;
        }
    }
    own_slots(nrec, ncap, tr->head);
    char *header = NULL;
    size_t hlen = 0;
    if (!tr->hdr_seen) {
        /* The writer sets header_done under the sink's mutex. */
        pthread_mutex_lock(&tr->sink->mu);
        tr->hdr_seen = tr->sink->header_done;
        pthread_mutex_unlock(&tr->sink->mu);
    }
    if (!tr->hdr_seen) {
        /* Made now, as the loop thread's drain made it at its first write:
         * lm_trace_set_program before that still names the program. */
        lm__emit e = {.flush = heap_grow};
        emit_header_heap(tr, &e);
        if (e.failed) {
            free(e.buf);
            return false;
        }
        header = e.buf;
        hlen = e.len;
    }
    lm__trace_loopno(tr);
    sigset_t old;
    lm__hold_signals(&old);
    uint64_t tsc;
    int64_t ns;
    b->tm = lm__trace_tscmap_now(tr, &tsc, &ns);
    char *narena = b->arena;
    size_t nacap = b->acap;
    b->rec = tr->rec;
    b->cap = tr->cap;
    b->rd = tr->rd;
    b->wr = tr->wr;
    b->arena = tr->arena;
    b->acap = tr->acap;
    b->strs = lm__trace_strs(tr);
    free(b->header); /* left by a crash path that wrote the batch itself */
    b->header = header;
    b->hlen = hlen;
    /* The loop thread's side, as the crash handler must see it: records
     * [rd, wr) are the batch's now, the array is empty. */
    tr->rec = nrec;
    tr->arena = narena;
    tr->acap = nacap;
    tr->alen = 0;
    tr->tsc0 = tsc;
    tr->ns0 = ns;
    atomic_signal_fence(memory_order_seq_cst);
    tr->rd = tr->wr;
    pthread_mutex_lock(&tr->wmu);
    b->seq = tr->next_seq++;
    atomic_store(&b->state, LM__B_QUEUED);
    if (tr->wdeep || queued(tr) >= 2) /* see writer_main */
        pthread_cond_signal(&tr->wcv);
    pthread_mutex_unlock(&tr->wmu);
    tr->last_write_ns = coarse_now();
    lm__release_signals(&old);
    return true;
}

int lm__trace_inflight(lm__trace *tr, lm__batch **out)
{
    int n = 0;
    for (int i = 0; i < LM__TRACE_BATCHES; i++) {
        int st = atomic_load(&tr->batch[i].state);
        if (st == LM__B_QUEUED || st == LM__B_WRITING)
            out[n++] = &tr->batch[i];
    }
    for (int i = 1; i < n; i++) /* insertion sort by seq: n <= 3 */
        for (int j = i; j > 0 && out[j - 1]->seq > out[j]->seq; j--) {
            lm__batch *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Passing, flushing, freeing                                                */
/* ------------------------------------------------------------------------ */

void lm__trace_pass(lm__trace *tr)
{
    if (tr->wr == tr->rd)
        return;
    if (!tr->ring && hand_off(tr))
        return;
    /* Written here: after whatever the writer still has, to keep order. */
    if (writer_here(tr))
        wait_idle(tr);
    flush_here(tr);
}

int lm__trace_flush_now(lm__trace *tr)
{
    if (!writer_here(tr))
        return flush_here(tr);
    lm__trace_pass(tr);
    wait_idle(tr);
    int rc = flush_here(tr); /* lines formatted here earlier, if any */
    int werr = atomic_exchange(&tr->werr, 0);
    return rc != 0 ? rc : werr;
}

void lm__trace_tick_boundary(lm__trace *tr)
{
    /* Records wait in memory (the crash path formats them too) until a
     * batch is worth passing on: LM__TRACE_PASS_AT of them, or 100 ms since
     * the last write or hand-off, so that a slow program's trace still moves. */
    if (tr->ring || tr->wr == tr->rd)
        return;
    if (tr->wr - tr->rd < LM__TRACE_PASS_AT &&
        coarse_now() - tr->last_write_ns < 100000000)
        return;
    lm__trace_pass(tr);
}

void lm__trace_free(lm__trace *tr)
{
    if (!tr)
        return;
    lm__trace_flush_now(tr);
    writer_stop(tr);
    if (tr->sink) {
        /* A loop that recorded nothing still leaves a valid (empty) trace. */
        pthread_mutex_lock(&tr->sink->mu);
        sink_header(tr->sink, tr);
        pthread_mutex_unlock(&tr->sink->mu);
    }
    lm__trace_unregister(tr);
    lm__sink_release(tr->sink);
    pthread_cond_destroy(&tr->fcv);
    pthread_cond_destroy(&tr->wcv);
    pthread_mutex_destroy(&tr->wmu);
    for (int i = 0; i < tr->nretired; i++)
        free(tr->retired[i]);
    free(tr->rec);
    free(tr->arena);
    free(tr->istore);
    free(tr->ioff);
    free(tr->itab);
    free(tr->out);
    free(tr->program);
    free(tr);
}

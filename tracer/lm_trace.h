/*
 * lm_trace.h: what the trace recorder's own files share (trace.c: hooks and
 * public API; trace_buf.c: record buffers, draining, writing; trace_str.c:
 * the string store; trace_sink.c: sinks; trace_crash.c: the safety nets;
 * trace_fmt.c: binary record -> YAML line). Never installed; tests include it
 * to check the formatter and the ring on hand-made records.
 *
 * Design (docs/trace-format.md section 12): the hot path fills one fixed-size
 * lm__rec in a per-loop array and bumps a counter. Strings never go into the
 * record: labels are interned (id into a per-trace table, so a label repeated
 * a million times costs one hash lookup each, no copy), one-shot strings
 * (names, notes, messages, member lists) are copied into a per-trace arena
 * and referenced by offset. Formatting happens later: in stream mode to a
 * file, on a writer thread to which the loop thread hands whole batches of
 * records with their strings (trace_buf.c, "The writer thread"); otherwise at
 * the drain, on the loop thread.
 */
#ifndef LM_TRACE_H
#define LM_TRACE_H

#include "lm_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

/* Internal, so hidden: why, in lm_internal.h. */
#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility push(hidden)
#endif

/* The capacity a growing buffer doubles to: cap (or first, when 0) doubled
 * until it holds want; 0 when that would overflow. One rule for the record,
 * text and string buffers. */
static inline size_t lm__grow_cap(size_t cap, size_t first, size_t want)
{
    size_t n = cap ? cap : first;
    while (n < want) {
        if (n > SIZE_MAX / 2)
            return 0;
        n *= 2;
    }
    return n;
}

/* Record kinds, in lm_vocab.h's order from 1; LM__R_GAP is never recorded,
 * only written by the drain. */
enum {
    LM__R_NONE = 0,
#define LM__X(id, tok) LM__R_##id,
    LM_VOCAB_EVENTS(LM__X)
#undef LM__X
    LM__R__COUNT
};

/* group_end outcomes; 0 means "the string in s1". */
enum {
    LM__OUT_OTHER = 0,
#define LM__X(id, tok) LM__OUT_##id,
    LM_VOCAB_OUTCOME(LM__X)
#undef LM__X
    LM__OUT__COUNT
};

/*
 * One event, 48 bytes. The meaning of the generic fields per kind:
 *   spawn      a=task b=parent s2=name
 *   state      a=task b=awaits (to awaiting) or by_task  c=group (on group
 *              kinds) or dir (on io)  i=fd (on io) or error (to failed)
 *              s1=label s2=message p0=from|to<<4 p1=on p2=by
 *   note/name  a=task s2=text
 *   group      a=group b=owner c=timeout (<0 none) i=member count
 *              s1=label s2=members (uint64_t array) p0=kind p1=mode+1 (0 none)
 *   group_end  a=group i=error p0=outcome s1=outcome text when p0 == 0
 *   cancel     a=task b=by_task p0=reason
 *   poll       b=waited c=timeout i=ready
 *   io         a=task i=fd p0=dir
 *   timer      a=task
 *   call       s1=label
 *   tick       a=n b=io c=timers i=ran
 *   loop_start s2=loop name
 * s1: interned string id + 1; s2: arena offset + 1; 0 = none.
 */
typedef struct lm__rec {
    int64_t t;
    uint64_t a, b;
    int64_t c;
    uint32_t s1, s2;
    int32_t i;
    uint8_t kind, p0, p1, p2;
} lm__rec;

_Static_assert(sizeof(lm__rec) == 48, "lm__rec must stay 48 bytes");

/* Where the YAML goes: a file we opened, or the user's FILE. Several loops
 * may share one sink; `mu` serialises whole-line writes. */
typedef struct lm__sink {
    struct lm__sink *next; /* in the process-wide sink list */
    int refs;              /* traces using it (+1 when held by the env) */
    char *path;            /* owned; NULL for FILE sinks */
    FILE *fp;              /* not owned; NULL for path sinks */
    int fd;                /* owned fd (path) or fileno(fp) (-1: none) */
    bool own_fd;
    bool env;              /* opened from LOOPMAID_TRACE: kept until exit */
    volatile sig_atomic_t header_done;
    volatile sig_atomic_t broken; /* a write failed: stop writing */
    atomic_uint nloops;    /* loop numbers handed out */
    pthread_mutex_t mu;
    bool binary;           /* a binary spill (trace_bin.c): chunks, not YAML */
} lm__sink;

/* What the formatter needs to spell a record's strings and loop number:
 * the trace's own stores (lm__trace_strs), or the snapshot a batch took when
 * it was handed to the writer thread. */
typedef struct lm__strs {
    const char *arena;
    size_t alen;
    const char *istore;
    const uint32_t *ioff;
    uint32_t nid;
    uint32_t loopno;
} lm__strs;

/* Raw time-stamp-counter stamps to loop time (trace.c, "The clock"). The
 * records from the `from`-th on (totals, as rd/wr) carry a TSC reading in t;
 * between two anchors (tsc0, ns0) and (tsc1, ns1), taken when the array
 * started and when it was passed on, a reading becomes
 * ns0 + (tsc - tsc0) * mult / 2^32, clamped to [ns0, ns1]. from == UINT64_MAX:
 * every t is loop time already. */
typedef struct lm__tscmap {
    uint64_t from;
    uint64_t tsc0;
    int64_t ns0, ns1;
    uint64_t mult;         /* ns per tick, << 32 */
} lm__tscmap;

/* The time stamp counter; only read when lm__trace.tsc is on. */
static inline uint64_t lm__tsc_read(void)
{
#if defined(__x86_64__)
    return __builtin_ia32_rdtsc();
#else
    return 0;
#endif
}

/* The map for the anchors (tsc0, ns0) .. (tsc1, ns1); async-signal-safe. */
lm__tscmap lm__tscmap_make(uint64_t from, uint64_t tsc0, int64_t ns0,
                           uint64_t tsc1, int64_t ns1);
/* Record number k's stamp t in loop time. */
static inline int64_t lm__tscmap_ns(const lm__tscmap *m, uint64_t k, int64_t t)
{
    if (k < m->from)
        return t;
    uint64_t d = (uint64_t)t > m->tsc0 ? (uint64_t)t - m->tsc0 : 0;
    unsigned __int128 x = (unsigned __int128)d * m->mult;
    int64_t span = m->ns1 - m->ns0;
    int64_t ns = (x >> 32) > (unsigned __int128)span ? span : (int64_t)(x >> 32);
    return m->ns0 + ns;
}

/* A batch handed to the writer thread. Its state is the one thing the loop
 * thread, the writer and the crash handler agree on without a lock:
 *   FREE     the writer is done with it (or never had it): the buffers are
 *            the loop thread's again;
 *   QUEUED   handed off, waiting; the writer takes it by CAS to WRITING,
 *            the crash handler by CAS to CLAIMED (it then writes it itself);
 *   WRITING  the writer formats and writes it, then stores FREE.
 * Batches are written in `seq` order, whoever writes them. */
enum { LM__B_FREE, LM__B_QUEUED, LM__B_WRITING, LM__B_CLAIMED };

typedef struct lm__batch {
    lm__rec *rec;          /* owned, cap slots; records are [rd, wr) */
    size_t cap;
    uint64_t rd, wr;
    char *arena;           /* owned: the strings those records reference */
    size_t acap;
    lm__strs strs;         /* strs.arena == arena */
    lm__tscmap tm;         /* the stamps of [rd, wr) */
    char *header;          /* owned: the header, if the sink had none yet */
    size_t hlen;
    uint64_t seq;
    atomic_int state;
} lm__batch;

/* Stream mode keeps at most LM__TRACE_CAP records in memory: the array being
 * filled plus LM__TRACE_BATCHES batches with the writer. */
#define LM__TRACE_BATCHES 3
#define LM__TRACE_BATCH (LM__TRACE_CAP / (LM__TRACE_BATCHES + 1))
/* Retired intern buffers (trace_str.c): they double, 48 is plenty. */
#define LM__RETIRED_MAX 48

struct lm__trace {
    lm__sink *sink;
    uint32_t loopno;       /* 0 until the first format (attach order) */
    lm_clock_kind clock;   /* for the header */
    char *program;         /* owned; NULL = process name */
    pid_t pid;             /* the process that made it (fork safety) */
    pthread_t owner;       /* thread that made it (atexit flushes its own) */
    int slot;              /* index in the crash registry, -1 none */

    /* Records: a circular array. Stream mode drains when full; ring mode
     * overwrites the oldest and counts it in `dropped`. The live records are
     * the totals [rd, wr) (slot = total % cap): each counter only grows and
     * changes in one store, so a signal handler always sees a consistent
     * window. head is wr % cap, kept so the hot path never divides. */
    lm__rec *rec;
    size_t cap, head;
    uint64_t wr, rd;
    uint64_t dropped;
    bool ring;

    /* The arena of one-shot strings: [u32 len][u32 0][bytes][NUL], 8-aligned. */
    char *arena;
    size_t alen, acap, alive; /* alive: bytes kept by the last compaction */

    /* Interned strings: store of [bytes][NUL], id -> offset, open hash. */
    char *istore;
    size_t ilen, icap;
    uint32_t *ioff;
    uint32_t nid, idcap;
    uint32_t *itab;        /* hash slots holding id + 1; 0 = empty */
    uint32_t itabcap;      /* power of two */
    const char *lc_ptr;    /* last label pointer interned, and its id: */
    uint32_t lc_id;        /* compared by content, never trusted alone */
    uint32_t call_id;      /* id + 1 of "callback" (trace.c), 0 until interned */

    /* Formatted YAML not yet written: out[ooff..olen). Only whole lines. */
    char *out;
    size_t olen, ocap, ooff;
    int64_t last_write_ns; /* CLOCK_MONOTONIC_COARSE, not in the trace */

    /* The writer thread (trace_buf.c). Started at the first hand-off, so a
     * short trace, a ring, or a FILE sink never has one. wmu guards wseq,
     * wstop and the condition variables; batch states are atomics. */
    lm__batch batch[LM__TRACE_BATCHES];
    uint64_t next_seq;     /* loop thread: seq of the next hand-off */
    uint64_t wseq;         /* writer: seq of the next batch to write */
    pthread_mutex_t wmu;
    pthread_cond_t wcv;    /* writer waits for work */
    pthread_cond_t fcv;    /* loop thread waits for a free batch */
    pthread_t writer;
    bool wstarted;         /* the thread runs (in the process tr->pid) */
    bool wfailed;          /* it could not be started: stay synchronous */
    bool wstop;
    bool wdeep;            /* writer: waiting with no timeout (wake it) */
    bool hdr_seen;         /* the sink's header is known to be written */

    /* The clock (trace.c, "The clock"): with tsc on, records from the
     * tsc_from-th carry raw TSC readings; (tsc0, ns0) is the anchor taken
     * when the array was last emptied. mono_start: the loop's, for ns0. */
    bool tsc;
    uint64_t tsc_from;
    uint64_t tsc0;
    int64_t ns0;
    int64_t mono_start;
    uint64_t tick_tsc;     /* TSC at the last tick-boundary check (trace.c) */
    uint64_t last_tsc;     /* the last TSC reading a record was stamped with */
    bool burst;            /* stamp with last_tsc, no reading (lm__trace_tsc) */
    atomic_int werr;       /* LM_EIO once a write of the writer failed */
    void *retired[LM__RETIRED_MAX]; /* old intern buffers (trace_str.c) */
    int nretired;
    uint32_t bin_nid;      /* writer: interned ids already in a RECS chunk */
};

/* ---- trace_fmt.c: formatting (async-signal-safe: no stdio, no malloc) ---- */

/* Token spellings (from lm_vocab.h), indexed by the enums of lm_internal.h
 * and lm_state; NULL where an enum means "none". */
extern const char *const lm__state_tok[LM_STATE_CANCELLED + 1];
extern const char *const lm__on_tok[LM__ON__COUNT];
extern const char *const lm__by_tok[LM__BY__COUNT];
extern const char *const lm__reason_tok[LM__CANCEL__COUNT];
extern const char *const lm__kind_tok[LM__GROUP__COUNT];
extern const char *const lm__outcome_tok[LM__OUT__COUNT];

/* An output buffer. `flush` is called when `len + need > cap`: it must make
 * room (grow, or write out) and return 0, or return -1 (the output is then
 * dropped silently: formatting never fails half-way into bad YAML in memory). */
typedef struct lm__emit {
    char *buf;
    size_t len, cap;
    int (*flush)(struct lm__emit *e, size_t need);
    void *ctx;
    bool failed;
} lm__emit;

void lm__emit_bytes(lm__emit *e, const char *p, size_t n);
void lm__emit_str(lm__emit *e, const char *s);
void lm__emit_i64(lm__emit *e, int64_t v);
/* s[0..n) as a YAML double-quoted scalar (quotes included). */
void lm__emit_quoted(lm__emit *e, const char *s, size_t n);
/* The header lines up to and including "events:\n". */
void lm__emit_header(lm__emit *e, const char *program, lm_clock_kind clock,
                     size_t ring);
/* One event line "  - {...}\n" for r, strings looked up in tr / in v. */
void lm__emit_rec(lm__emit *e, const lm__trace *tr, const lm__rec *r);
void lm__emit_rec_strs(lm__emit *e, const lm__strs *v, const lm__rec *r);
/* The name of an error code (from LM_ERRNO_MAP); "LM_EUSER" for codes below
 * it, "LM_EUNKNOWN" otherwise. Static text. */
const char *lm__err_tok(int err);

/* ---- trace_buf.c, trace_str.c, trace_sink.c: buffers, sinks, flushing ---- */

/* Default capacity of a stream-mode record buffer (events). */
#define LM__TRACE_CAP 8192
/* A tick boundary passes the records on once this many wait (trace_buf.c). */
#define LM__TRACE_PASS_AT 1024
/* Strings are cut to this many bytes (at a character boundary). */
#define LM__TRACE_STR_MAX 65535

/* Sinks. Path "-" means stdout. env sinks stay open until exit so that the
 * loops of one process run one after another share the file. */
int lm__sink_open_path(const char *path, bool env, lm__sink **out);
int lm__sink_open_file(FILE *fp, lm__sink **out);
void lm__sink_release(lm__sink *s);

/* A trace writing to `sink` (takes over the caller's sink reference).
 * NULL when out of memory (the sink is then released). */
lm__trace *lm__trace_new(lm__sink *sink, lm_clock_kind clock);
/* Switches to flight-recorder mode with n slots (drains first). */
int lm__trace_set_ring(lm__trace *tr, size_t n);

/* Makes room for a record when the array is full (stream: passes). */
void lm__trace_full(lm__trace *tr);

/* The stamp of a record under TSC stamps: a fresh reading, or during a burst
 * (lm__loop_handoff: a task has just parked and the loop's bookkeeping runs
 * on to the next task, no user code, no system call, some tens of ns) the
 * reading of the record that began it. A reading costs ~10 ns on some
 * machines, as much as a whole step of that bookkeeping, and the events of
 * one burst are no further apart than that anyway. docs/trace-format.md
 * says so where it defines `t`. */
static inline uint64_t lm__trace_tsc(lm__trace *tr)
{
    if (tr->burst)
        return tr->last_tsc;
    uint64_t v = lm__tsc_read();
    tr->last_tsc = v;
    return v;
}

/* The hot path: a slot for the next record, then commit once it is filled.
 * Cost: a compare and an index bump; no allocation, no lock. */
static inline lm__rec *lm__trace_slot(lm__trace *tr)
{
    if (LM__UNLIKELY(tr->wr - tr->rd == tr->cap))
        lm__trace_full(tr);
    return &tr->rec[tr->head];
}
static inline void lm__trace_commit(lm__trace *tr)
{
    /* The crash handler reads wr: publish the record's bytes first. */
    if (++tr->head == tr->cap)
        tr->head = 0;
    atomic_signal_fence(memory_order_release);
    tr->wr++;
}

/* The hooks' fast path (trace.c): the next slot when records are stamped
 * with the time stamp counter and the array has room; NULL otherwise (then
 * the general path takes the slot with lm__trace_slot, which may pass the
 * array on, and reads the loop's clock). It calls nothing, so a hook whose
 * common case uses only this, lm__tsc_read and lm__trace_commit is a leaf:
 * no registers saved, no frame. */
static inline lm__rec *lm__trace_fast_slot(lm__trace *tr)
{
    if (LM__UNLIKELY(!tr->tsc || tr->wr - tr->rd == tr->cap))
        return NULL;
    return &tr->rec[tr->head];
}

/* A state record but its strings (s1, s2) and the failure code, stored
 * into r member by member: everything both paths of a state hook store
 * (lm__tr_state_hot here, state_general in trace.c), written once here. Every byte of r is stored (a slot holds an old record),
 * and without a whole-struct temporary, which GCC builds on the stack. */
static inline void lm__trace_state_fill(lm__rec *r, int64_t stamp, const lm_task *t,
                                        lm_state from, lm_state to,
                                        const lm__reason *rs)
{
    uint64_t b = 0;
    int64_t c = 0;
    int32_t i = 0;
    uint8_t on = 0, by = 0;
    if (rs != NULL) {
        b = rs->task;
        if (to == LM_STATE_AWAITING) {
            on = rs->on;
            if (rs->on == LM__ON_IO) {
                i = rs->fd;
                c = rs->dir & 3;
            } else {
                c = rs->group;
            }
        } else {
            by = rs->by;
        }
    }
    r->t = stamp;
    r->a = t->id;
    r->b = b;
    r->c = c;
    r->s1 = 0;
    r->s2 = 0;
    r->i = i;
    r->kind = LM__R_STATE;
    r->p0 = (uint8_t)((from & 15) | (to & 15) << 4);
    r->p1 = on;
    r->p2 = by;
}

/* The state hook task.c calls (three records per task step: to running,
 * to awaiting, and the wake-up to pending), inline there so that the call,
 * and the tests on a reason the caller just built, disappear. The common
 * case, TSC stamps and no string, fills the slot and commits; the rest
 * (labels, failures, a full array, the virtual clock: every golden) is
 * lm__tr_state in trace.c, the general code. */
static inline void lm__tr_state_hot(lm__trace *tr, lm_loop *loop, const lm_task *t,
                                    lm_state from, lm_state to,
                                    const lm__reason *rs)
{
    lm__rec *r;
    if (LM__LIKELY(to != LM_STATE_FAILED && (rs == NULL || rs->label == NULL)) &&
        (r = lm__trace_fast_slot(tr)) != NULL) {
        lm__trace_state_fill(r, (int64_t)lm__trace_tsc(tr), t, from, to, rs);
        lm__trace_commit(tr);
    } else {
        lm__tr_state(tr, loop, t, from, to, rs);
    }
}

/* Interns s (cut to LM__TRACE_STR_MAX); returns id + 1, 0 when out of memory. */
uint32_t lm__trace_intern(lm__trace *tr, const char *s);
/* Copies s[0..n) (cut) into the arena; returns offset + 1, 0 on failure. */
uint32_t lm__trace_str(lm__trace *tr, const char *s, size_t n);
uint32_t lm__trace_blob(lm__trace *tr, const void *p, size_t n);
/* The string / blob behind a reference, and its length. */
const char *lm__trace_istr(const lm__trace *tr, uint32_t ref, size_t *len);
const char *lm__trace_astr(const lm__trace *tr, uint32_t ref, size_t *len);
/* The same, looked up in a snapshot; lm__trace_strs takes one of tr (valid
 * until the next string is stored). */
lm__strs lm__trace_strs(const lm__trace *tr);
const char *lm__strs_i(const lm__strs *v, uint32_t ref, size_t *len);
const char *lm__strs_a(const lm__strs *v, uint32_t ref, size_t *len);

/* Formats every buffered record into tr->out (stream and ring alike). */
void lm__trace_drain(lm__trace *tr);
/* Writes tr->out to the sink (with the header first, once per sink). */
int lm__trace_write(lm__trace *tr);
/* Makes the buffered records leave the array: handed to the writer thread
 * (may wait for a free batch: back-pressure), or drained and written here.
 * A record slot taken but not committed must not be held across it. */
void lm__trace_pass(lm__trace *tr);
/* Everything recorded so far is written when it returns (pass, then wait
 * for the writer). LM_EIO when a write failed since the last call. */
int lm__trace_flush_now(lm__trace *tr);
/* At a tick boundary: drain (stream mode) and write when enough piled up. */
void lm__trace_tick_boundary(lm__trace *tr);

/* A tick record, stored member by member (see lm__trace_state_fill). */
static inline void lm__trace_tick_fill(lm__rec *r, int64_t stamp, uint64_t n,
                                       uint32_t ran, uint32_t io, uint32_t timers)
{
    r->t = stamp;
    r->a = n;
    r->b = io;
    r->c = timers;
    r->s1 = 0;
    r->s2 = 0;
    r->i = (int32_t)(ran > INT32_MAX ? INT32_MAX : ran);
    r->kind = LM__R_TICK;
    r->p0 = 0;
    r->p1 = 0;
    r->p2 = 0;
}

/* The tick hook loop.c calls, inline there like lm__tr_state_hot; the rest
 * is lm__tr_tick in trace.c. After the record, the boundary check
 * (trace_buf.c), which reads the coarse clock for its 100 ms rule and cost
 * more than the record: with the counter just read, it is asked only when
 * 2^20 counts have passed since the last time (under 1 ms at any rate above
 * 1 GHz, so the rule still holds to the millisecond) or when
 * LM__TRACE_PASS_AT records wait (its other rule: a batch worth passing on). */
static inline void lm__tr_tick_hot(lm__trace *tr, lm_loop *loop, uint64_t n,
                                   uint32_t ran, uint32_t io, uint32_t timers)
{
    lm__rec *r = lm__trace_fast_slot(tr);
    if (LM__UNLIKELY(r == NULL)) {
        lm__tr_tick(tr, loop, n, ran, io, timers);
        return;
    }
    uint64_t now = lm__trace_tsc(tr);
    lm__trace_tick_fill(r, (int64_t)now, n, ran, io, timers);
    lm__trace_commit(tr);
    if (tr->wr - tr->rd >= LM__TRACE_PASS_AT || now - tr->tick_tsc >= (1u << 20)) {
        tr->tick_tsc = now;
        lm__trace_tick_boundary(tr);
    }
}

/* Flushes, unregisters, releases the sink, frees. */
void lm__trace_free(lm__trace *tr);
/* The program name of the header: the one set, else the process's. */
const char *lm__trace_program(const lm__trace *tr);
/* Gives tr its loop number in the sink (attach order) if it has none yet. */
void lm__trace_loopno(lm__trace *tr);

/* write(2) until done; false on a real error. Async-signal-safe. */
bool lm__write_all(int fd, const char *p, size_t n);
/* Writes whole lines to the sink; s->mu held. false (and the sink marked
 * broken) when a write fails. */
bool lm__sink_put(lm__sink *s, const char *p, size_t n);

/* Blocks the asynchronous signals (old mask in *old) / restores them. */
void lm__hold_signals(sigset_t *old);
void lm__release_signals(const sigset_t *old);
/* For the crash handler: the in-flight batches of tr, oldest first, into
 * out[LM__TRACE_BATCHES]; returns how many. */
int lm__trace_inflight(lm__trace *tr, lm__batch **out);

/* The map of the records now in tr's array, anchored at the current time
 * (async-signal-safe); and starting a new array's anchor at that time. */
lm__tscmap lm__trace_tscmap_now(const lm__trace *tr, uint64_t *tsc,
                                int64_t *ns);

/* ---- trace_bin.c: the binary spill (docs/trace-format.md, section 14) ---- */

/* A binary trace: the magic, then chunks of [type][u32 LE payload length]
 * [payload]. TEXT carries YAML bytes verbatim; RECS one writer-thread batch
 * as compact records. Readers refuse longer chunks than LM__CH_MAX, so a
 * hostile length cannot make them allocate more; writers split TEXT at
 * LM__CH_TEXT_MAX and fall back to TEXT for a batch whose RECS would not fit. */
/* The last byte of the magic is the layout's version: 1 was the first
 * commit's (no pid, no shape table); files of another version are
 * recognised as binary but refused with a message saying so. */
#define LM__BIN_MAGIC "LMTRACE\x02"
#define LM__BIN_MAGIC_LEN 8
#define LM__BIN_VERSION 2
enum { LM__CH_TEXT = 1, LM__CH_RECS = 2 };
#define LM__CH_HDR 5
#define LM__CH_TEXT_MAX (1u << 20)
#define LM__CH_MAX (64u << 20)

/* The chunk header for a payload of n bytes (n <= LM__CH_MAX).
 * Async-signal-safe. */
void lm__bin_hdr(char hdr[LM__CH_HDR], int type, size_t n);
/* Encodes batch b of the process pid as one RECS chunk, header included,
 * into e (from e->len 0), with the interned strings from id `from` (a count)
 * on. false when it
 * cannot (out of memory, or too big for one chunk): the caller writes the
 * batch as YAML then. */
bool lm__bin_recs(lm__emit *e, const lm__batch *b, uint32_t pid, uint32_t from);
/* YAML bytes to the sink: as is, or as TEXT chunks in a binary sink; s->mu
 * held. false (sink marked broken) when a write fails. */
bool lm__sink_text(lm__sink *s, const char *p, size_t n);
/* lm__sink_open_path with the format given: -1 by the name (".lmt" is
 * binary), 0 YAML, 1 binary. "-" and FILE sinks are always YAML. */
int lm__sink_open_path_fmt(const char *path, bool env, int fmt, lm__sink **out);

/* ---- trace_crash.c: the safety nets ---- */

/* Adds tr to the registry that exit and the signal handlers flush (installs
 * the handlers on first use); removes it. */
void lm__trace_register(lm__trace *tr);
void lm__trace_unregister(lm__trace *tr);

#if defined(__GNUC__) && !defined(LM__NO_HIDDEN)
#pragma GCC visibility pop
#endif

#endif /* LM_TRACE_H */

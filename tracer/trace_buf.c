/*
 * trace_buf.c: the recorder's memory and its way out: record arrays (stream
 * and flight-recorder modes), the string arena and intern table, the drain
 * that formats records, sinks shared by several loops, and the safety nets
 * (atexit, SIGINT/SIGTERM when nobody handles them, crash signals).
 *
 * Crash safety rests on three rules kept throughout this file:
 *  1. A record is visible to the crash handler (tr->wr) only once complete;
 *     drains and writes, which move records into lines and lines out, run
 *     with asynchronous signals held, so the handler sees either state.
 *  2. Buffers the handler may read are never realloc'ed in place: a bigger
 *     one is filled, published, and only then is the old one freed.
 *  3. The handler uses write(2) and the async-signal-safe formatter only.
 */
#include "lm_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Process-wide state: sinks, the registry of live traces, handlers          */
/* ------------------------------------------------------------------------ */

#define LM__REG_MAX 256

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static lm__sink *g_sinks;                       /* under g_mu */
static lm__trace *volatile g_reg[LM__REG_MAX];  /* read by the crash handler */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void install_safety_nets(void);

static void reg_add(lm__trace *tr)
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

static void reg_remove(lm__trace *tr)
{
    pthread_mutex_lock(&g_mu);
    if (tr->slot >= 0)
        g_reg[tr->slot] = NULL;
    tr->slot = -1;
    pthread_mutex_unlock(&g_mu);
}

/* ------------------------------------------------------------------------ */
/* Sinks                                                                     */
/* ------------------------------------------------------------------------ */

static lm__sink *sink_alloc(void)
{
    lm__sink *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->refs = 1;
    s->fd = -1;
    atomic_init(&s->nloops, 0);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

int lm__sink_open_file(FILE *fp, lm__sink **out)
{
    if (!fp)
        return LM_EINVAL;
    pthread_mutex_lock(&g_mu);
    for (lm__sink *s = g_sinks; s; s = s->next) {
        if (s->fp == fp) {
            s->refs++;
            pthread_mutex_unlock(&g_mu);
            *out = s;
            return 0;
        }
    }
    lm__sink *s = sink_alloc();
    if (!s) {
        pthread_mutex_unlock(&g_mu);
        return LM_ENOMEM;
    }
    s->fp = fp;
    s->fd = fileno(fp); /* -1 for memory streams: no crash-time output */
    s->next = g_sinks;
    g_sinks = s;
    pthread_mutex_unlock(&g_mu);
    *out = s;
    return 0;
}

int lm__sink_open_path(const char *path, bool env, lm__sink **out)
{
    if (!path || !*path)
        return LM_EINVAL;
    if (strcmp(path, "-") == 0) {
        int rc = lm__sink_open_file(stdout, out);
        if (rc == 0 && env && !(*out)->env) {
            (*out)->env = true; /* the env's own reference, kept until exit */
            pthread_mutex_lock(&g_mu);
            (*out)->refs++;
            pthread_mutex_unlock(&g_mu);
        }
        return rc;
    }
    /* "fd:N": a descriptor the program (or its parent) opened, e.g.
     * LOOPMAID_TRACE=fd:3 prog 3>trace.yaml: unlike "-" it cannot collide
     * with what the program prints. Written with write(2), never closed. */
    int given_fd = -1;
    if (strncmp(path, "fd:", 3) == 0) {
        long n = 0;
        const char *q = path + 3;
        if (*q < '0' || *q > '9')
            return LM_EINVAL;
        for (; *q >= '0' && *q <= '9'; q++)
            if ((n = n * 10 + (*q - '0')) > 1000000)
                return LM_EINVAL;
        if (*q)
            return LM_EINVAL;
        int fl = fcntl((int)n, F_GETFL);
        if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
            errno = EBADF; /* not open, or not for writing */
            return LM_ESYS;
        }
        given_fd = (int)n;
    }
    pthread_mutex_lock(&g_mu);
    if (env) {
        /* Loops of one process that trace through LOOPMAID_TRACE share the
         * file (each with its own loop number) instead of truncating it. */
        for (lm__sink *s = g_sinks; s; s = s->next) {
            if (s->env && s->path && strcmp(s->path, path) == 0) {
                s->refs++;
                pthread_mutex_unlock(&g_mu);
                *out = s;
                return 0;
            }
        }
    }
    lm__sink *s = sink_alloc();
    char *p = s ? strdup(path) : NULL;
    if (!p) {
        free(s);
        pthread_mutex_unlock(&g_mu);
        return LM_ENOMEM;
    }
    int fd = given_fd >= 0 ? given_fd
                           : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        free(p);
        pthread_mutex_destroy(&s->mu);
        free(s);
        pthread_mutex_unlock(&g_mu);
        errno = err;
        return LM_ESYS;
    }
    s->path = p;
    s->fd = fd;
    s->own_fd = given_fd < 0; /* the program's own descriptor stays open */
    if (env) {
        s->env = true;
        s->refs++; /* the env's reference */
    }
    s->next = g_sinks;
    g_sinks = s;
    pthread_mutex_unlock(&g_mu);
    *out = s;
    return 0;
}

static void sink_free_locked(lm__sink *s)
{
    for (lm__sink **pp = &g_sinks; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    if (s->own_fd && s->fd >= 0)
        close(s->fd);
    else if (s->fp)
        fflush(s->fp);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

void lm__sink_release(lm__sink *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&g_mu);
    if (--s->refs == 0)
        sink_free_locked(s);
    pthread_mutex_unlock(&g_mu);
}

/* write(2) until done; false on a real error. Async-signal-safe. */
static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Writes whole lines to the sink; s->mu held. */
static bool sink_put(lm__sink *s, const char *p, size_t n)
{
    if (s->broken)
        return false;
    bool ok;
    if (s->fp) {
        ok = fwrite(p, 1, n, s->fp) == n;
        /* Flushed at once: the crash handler writes to fileno(fp) directly
         * and must not overtake bytes still sitting in the FILE buffer. */
        ok = fflush(s->fp) == 0 && ok;
    } else {
        ok = write_all(s->fd, p, n);
    }
    if (!ok)
        s->broken = 1; /* a full disk or a closed pipe: stop, do not spin */
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Buffers that the crash handler may read: grow by copy-publish-free        */
/* ------------------------------------------------------------------------ */

static const char *program_name(const lm__trace *tr)
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
    reg_add(tr);
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
/* Strings                                                                   */
/* ------------------------------------------------------------------------ */

/* n cut to the limit, backing up to a UTF-8 character boundary. */
static size_t cut_len(const char *s, size_t n)
{
    if (n <= LM__TRACE_STR_MAX)
        return n;
    n = LM__TRACE_STR_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Word-at-a-time hash: labels are hashed on every transition that carries
 * one, so this is on the hot path (a byte-wise FNV was a third of its cost). */
static uint32_t intern_slow(lm__trace *tr, const char *s);

static uint32_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n, w;
    while (n >= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

const char *lm__trace_istr(const lm__trace *tr, uint32_t ref, size_t *len)
{
    if (ref == 0 || ref > tr->nid)
        return NULL;
    const char *s = tr->istore + tr->ioff[ref - 1];
    if (len)
        *len = strlen(s);
    return s;
}

const char *lm__trace_astr(const lm__trace *tr, uint32_t ref, size_t *len)
{
    if (ref == 0 || ref - 1 >= tr->alen)
        return NULL;
    uint32_t n;
    memcpy(&n, tr->arena + ref - 1, sizeof n);
    if (len)
        *len = n;
    return tr->arena + ref - 1 + 8;
}

/* A bigger copy of a buffer the crash handler reads, published via *slot. */
static bool grow_pub(char **slot, size_t *cap, size_t used, size_t need)
{
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < used + need) {
        if (ncap > SIZE_MAX / 2)
            return false;
        ncap *= 2;
    }
    char *nb = malloc(ncap);
    if (!nb)
        return false;
    if (used)
        memcpy(nb, *slot, used);
    char *old = *slot;
    *slot = nb;
    *cap = ncap;
    atomic_signal_fence(memory_order_seq_cst);
    free(old);
    return true;
}

uint32_t lm__trace_intern(lm__trace *tr, const char *s)
{
    /* The same label pointer as last time (a group passes its label on
     * every park): one strcmp confirms the text is unchanged. */
    if (s == tr->lc_ptr && tr->lc_id != 0 &&
        strcmp(tr->istore + tr->ioff[tr->lc_id - 1], s) == 0)
        return tr->lc_id;
    uint32_t id = intern_slow(tr, s);
    tr->lc_ptr = s;
    tr->lc_id = id;
    return id;
}

static uint32_t intern_slow(lm__trace *tr, const char *s)
{
    size_t n = cut_len(s, strlen(s));
    uint32_t h = fnv1a(s, n), mask = tr->itabcap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t id = tr->itab[i];
        if (id == 0)
            break;
        const char *t = tr->istore + tr->ioff[id - 1];
        if (strncmp(t, s, n) == 0 && t[n] == '\0')
            return id;
    }
    /* New string: the store, the id table, and maybe a bigger hash table. */
    if (tr->ilen + n + 1 > UINT32_MAX || tr->nid >= UINT32_MAX / 4)
        return 0;
    if (tr->ilen + n + 1 > tr->icap &&
        !grow_pub(&tr->istore, &tr->icap, tr->ilen, n + 1))
        return 0;
    if (tr->nid == tr->idcap) {
        size_t cap = tr->idcap * sizeof(uint32_t);
        if (!grow_pub((char **)&tr->ioff, &cap, tr->nid * sizeof(uint32_t),
                      sizeof(uint32_t)))
            return 0;
        tr->idcap = (uint32_t)(cap / sizeof(uint32_t));
    }
    if ((tr->nid + 1) * 2 > tr->itabcap) {
        uint32_t ncap = tr->itabcap * 2;
        uint32_t *nt = calloc(ncap, sizeof *nt);
        if (!nt)
            return 0;
        for (uint32_t id = 1; id <= tr->nid; id++) {
            const char *t = tr->istore + tr->ioff[id - 1];
            uint32_t j = fnv1a(t, strlen(t)) & (ncap - 1);
            while (nt[j])
                j = (j + 1) & (ncap - 1);
            nt[j] = id;
        }
        free(tr->itab);
        tr->itab = nt;
        tr->itabcap = ncap;
        mask = ncap - 1;
    }
    memcpy(tr->istore + tr->ilen, s, n);
    tr->istore[tr->ilen + n] = '\0';
    tr->ioff[tr->nid] = (uint32_t)tr->ilen;
    tr->ilen += n + 1;
    uint32_t i = h & mask;
    while (tr->itab[i])
        i = (i + 1) & mask;
    atomic_signal_fence(memory_order_seq_cst);
    tr->itab[i] = ++tr->nid;
    return tr->nid;
}

/* Stream mode drains before the arena exceeds this; ring mode compacts. */
#define LM__ARENA_SOFT (8u << 20)

/* Ring mode: copies the strings the kept records still use into a fresh
 * arena and remaps them. O(kept records + live bytes). */
static bool arena_compact(lm__trace *tr, size_t need)
{
    size_t live = 0;
    for (size_t k = 0, i = (size_t)(tr->rd % tr->cap);
         k < (size_t)(tr->wr - tr->rd); k++, i = (i + 1 == tr->cap) ? 0 : i + 1) {
        size_t n;
        if (tr->rec[i].s2 && lm__trace_astr(tr, tr->rec[i].s2, &n))
            live += 8 + ((n + 1 + 7) & ~(size_t)7);
    }
    size_t ncap = tr->acap;
    while (ncap < live + need + (live + need) / 2) {
        if (ncap > SIZE_MAX / 2)
            return false;
        ncap *= 2;
    }
    char *nb = malloc(ncap);
    if (!nb)
        return false;
    size_t nl = 0;
    /* Remapping touches records the crash handler may be formatting: build
     * the new arena first, then switch every reference and the pointer in
     * one go between two fences. A crash inside that window can mislabel a
     * string; it cannot make the output invalid YAML (lengths are checked). */
    size_t live_n = (size_t)(tr->wr - tr->rd);
    uint32_t *map = malloc((live_n ? live_n : 1) * sizeof *map);
    if (!map) {
        free(nb);
        return false;
    }
    for (size_t k = 0, i = (size_t)(tr->rd % tr->cap);
         k < (size_t)(tr->wr - tr->rd); k++, i = (i + 1 == tr->cap) ? 0 : i + 1) {
        size_t n;
        const char *s;
        map[k] = 0;
        if (tr->rec[i].s2 && (s = lm__trace_astr(tr, tr->rec[i].s2, &n))) {
            uint32_t n32 = (uint32_t)n, z = 0;
            memcpy(nb + nl, &n32, 4);
            memcpy(nb + nl + 4, &z, 4);
            memcpy(nb + nl + 8, s, n);
            nb[nl + 8 + n] = '\0';
            map[k] = (uint32_t)nl + 1;
            nl += 8 + ((n + 1 + 7) & ~(size_t)7);
        }
    }
    char *old = tr->arena;
    atomic_signal_fence(memory_order_seq_cst);
    for (size_t k = 0, i = (size_t)(tr->rd % tr->cap);
         k < (size_t)(tr->wr - tr->rd); k++, i = (i + 1 == tr->cap) ? 0 : i + 1)
        tr->rec[i].s2 = map[k];
    tr->arena = nb;
    tr->acap = ncap;
    tr->alen = nl;
    atomic_signal_fence(memory_order_seq_cst);
    free(old);
    free(map);
    tr->alive = nl;
    return true;
}

uint32_t lm__trace_blob(lm__trace *tr, const void *p, size_t n)
{
    size_t need = 8 + ((n + 1 + 7) & ~(size_t)7);
    if (tr->alen + need > tr->acap) {
        if (!tr->ring && tr->alen > LM__ARENA_SOFT) {
            /* Every buffered record is formatted, then no string is in use.
             * The caller's own record is not counted yet, so it is safe. */
            lm__trace_flush_now(tr);
        } else if (tr->ring && tr->alen > 2 * tr->alive + (1u << 20)) {
            arena_compact(tr, need);
        }
    }
    if (tr->alen + need > UINT32_MAX - 1)
        return 0;
    if (tr->alen + need > tr->acap &&
        !grow_pub(&tr->arena, &tr->acap, tr->alen, need))
        return 0;
    char *d = tr->arena + tr->alen;
    uint32_t n32 = (uint32_t)n, z = 0;
    memcpy(d, &n32, 4);
    memcpy(d + 4, &z, 4);
    if (n)
        memcpy(d + 8, p, n);
    d[8 + n] = '\0';
    uint32_t ref = (uint32_t)tr->alen + 1;
    tr->alen += need;
    return ref;
}

uint32_t lm__trace_str(lm__trace *tr, const char *s, size_t n)
{
    return lm__trace_blob(tr, s, cut_len(s, n));
}

/* ------------------------------------------------------------------------ */
/* Draining and writing                                                      */
/* ------------------------------------------------------------------------ */

static void assign_loopno(lm__trace *tr)
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
    assign_loopno(tr);
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
    lm__emit_header(e, program_name(tr), tr->clock, tr->ring ? tr->cap : 0);
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
    bool ok = !e.failed && sink_put(s, e.buf, e.len);
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
        if (!sink_put(s, tr->out + tr->ooff, tr->olen - tr->ooff))
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
    reg_remove(tr);
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
} sig_out;

static int sig_flush(lm__emit *e, size_t need)
{
    sig_out *o = e->ctx;
    (void)need;
    if (e->len > 0 && !write_all(o->fd, e->buf, e->len))
        return -1;
    e->len = 0;
    return 0;
}

static char g_sigbuf[16384];

static void dump_one(lm__trace *tr)
{
    lm__sink *s = tr->sink;
    if (!s || s->fd < 0 || s->broken || tr->pid != getpid())
        return;
    sig_out o = {s->fd};
    lm__emit e = {.buf = g_sigbuf, .cap = sizeof g_sigbuf, .flush = sig_flush,
                  .ctx = &o};
    if (!s->header_done) {
        lm__emit_header(&e, program_name(tr), tr->clock, tr->ring ? tr->cap : 0);
        s->header_done = 1;
    }
    /* Formatted text not yet written: whole lines only. */
    const char *out = tr->out;
    size_t off = tr->ooff, len = tr->olen;
    while (len > off && out[len - 1] != '\n')
        len--;
    if (len > off) {
        sig_flush(&e, 0);
        write_all(s->fd, out + off, len - off);
    }
    assign_loopno(tr);
    uint64_t rd = tr->rd, wr = tr->wr;
    size_t cap = tr->cap;
    if (wr - rd > cap)
        rd = wr - cap;
    if (tr->dropped > 0 && wr > rd) {
        lm__rec gap = {.kind = LM__R_GAP, .a = tr->dropped,
                       .t = tr->rec[rd % cap].t};
        lm__emit_rec(&e, tr, &gap);
    }
    for (uint64_t k = rd; k < wr; k++)
        lm__emit_rec(&e, tr, &tr->rec[k % cap]);
    sig_flush(&e, 0);
    /* Nothing is written twice if a chained handler goes on to exit(). */
    tr->rd = wr;
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

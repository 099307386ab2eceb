/*
 * spill.c: a compact binary copy of the decoded events, written during pass 1
 * so that pass 2 does not parse the YAML a second time.
 *
 * Parsing YAML is the cost of a render; the renderers themselves are cheap.
 * Pass 1 (the model) must see every event before any renderer starts, so a
 * render reads the trace twice. Instead of asking libyaml twice, pass 1's
 * callback is wrapped in a tee (lmr__tee_event) that copies each decoded
 * event into a temporary file in this format, and the walker replays it (lmr__spill_replay): ~30 bytes an event
 * on disk, nothing kept in memory but one event.
 *
 * Record: kind (1 byte), then varints: zigzag t, loop, line, col, a presence
 * mask, then each present field in mask order (integers as zigzag varints,
 * strings as length + bytes, members as count + ids). Tokens are stored as
 * the reader decoded them: the `ev` string and the token strings (on, by,
 * dir, kind, mode, outcome, reason) only when this reader does not know them;
 * a known token's spelling comes back from its number and the table
 * (vocab.c), so replay hands the views the same event. The spill belongs to
 * one thread, hence the unlocked stdio calls.
 */
#include "lmr_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { /* numeric fields */
    F_TASK, F_PARENT, F_FROM, F_TO, F_FD, F_BY_TASK, F_GROUP, F_OWNER,
    F_TIMEOUT, F_WAITED, F_READY, F_N, F_RAN, F_IO, F_TIMERS, F_AWAITS,
    F_CODE, F_DROPPED,
    F_TOKS, /* the token ids, packed (tok_pack) */
    F__NUM
};
enum { /* strings, after the numbers */
    S_EV, S_NAME, S_ON, S_LABEL, S_DIR, S_BY, S_ERROR, S_TEXT, S_KIND, S_MODE,
    S_OUTCOME, S_REASON, S_MESSAGE, S__NUM
};
#define F_MEMBERS (F__NUM + S__NUM)

static uint64_t zz(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzz(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* Appends v as a varint at p; returns the end. At most 10 bytes. */
static unsigned char *put_var(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)((v & 0x7f) | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

/*
 * Replay reads the spill through a window of WIN bytes and decodes varints
 * straight from memory: a getc per byte costs more than the decoding. Every
 * record field but a long string or member list is far smaller than the
 * window, and those are copied out piece by piece (win_bytes).
 */
#define WIN (64u * 1024u)

typedef struct win {
    FILE *fp;
    unsigned char *buf;
    size_t pos, len;
    bool eof;
} win;

/* Makes at least `want` (<= WIN) bytes available unless the file ends.
 * Returns the bytes available. */
static size_t win_fill(win *w, size_t want)
{
    size_t have = w->len - w->pos;
    if (have >= want || w->eof)
        return have;
    memmove(w->buf, w->buf + w->pos, have);
    w->pos = 0;
    w->len = have;
    while (w->len < want && !w->eof) {
        size_t n = fread_unlocked(w->buf + w->len, 1, WIN - w->len, w->fp);
        if (n == 0)
            w->eof = true;
        w->len += n;
    }
    return w->len;
}

static bool get_var(win *w, uint64_t *out)
{
    if (w->len - w->pos < 10 && win_fill(w, 10) == 0)
        return false;
    const unsigned char *p = w->buf + w->pos, *end = w->buf + w->len;
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
        unsigned c = *p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            w->pos = (size_t)(p - w->buf);
            *out = v;
            return true;
        }
    }
    return false;
}

/* Copies n bytes of the spill to dst. */
static bool win_bytes(win *w, void *dst, size_t n)
{
    unsigned char *d = dst;
    while (n > 0) {
        size_t have = w->len - w->pos;
        if (have == 0 && (have = win_fill(w, 1)) == 0)
            return false;
        size_t k = have < n ? have : n;
        memcpy(d, w->buf + w->pos, k);
        w->pos += k;
        d += k;
        n -= k;
    }
    return true;
}

/*
 * The seven token ids in one number, 5 bits each (every set's OTHER is below
 * 32): one field, absent (0) on the many events that carry no token, instead
 * of seven to test and skip on each.
 */
#define TOK_BITS 5
enum { T_ON, T_BY, T_DIR, T_KIND, T_MODE, T_OUTCOME, T_REASON, T__NUM };
static const int tok_other[T__NUM] = {
    [T_ON] = LMR__ON_OTHER,     [T_BY] = LMR__BY_OTHER,
    [T_DIR] = LMR__DIR_OTHER,   [T_KIND] = LMR__GK_OTHER,
    [T_MODE] = LMR__MODE_OTHER, [T_OUTCOME] = LMR__OUT_OTHER,
    [T_REASON] = LMR__REASON_OTHER,
};
_Static_assert(LMR__ON_OTHER < 32 && LMR__BY_OTHER < 32 &&
                   LMR__REASON_OTHER < 32 && LMR__GK_OTHER < 32 &&
                   LMR__MODE_OTHER < 32 && LMR__OUT_OTHER < 32 &&
                   LMR__DIR_OTHER < 32,
               "a token id must fit in TOK_BITS");

static int64_t tok_pack(const lmr__event *e)
{
    return (int64_t)e->on_id << (T_ON * TOK_BITS) |
           (int64_t)e->by_id << (T_BY * TOK_BITS) |
           (int64_t)e->dir_id << (T_DIR * TOK_BITS) |
           (int64_t)e->kind_id << (T_KIND * TOK_BITS) |
           (int64_t)e->mode_id << (T_MODE * TOK_BITS) |
           (int64_t)e->outcome_id << (T_OUTCOME * TOK_BITS) |
           (int64_t)e->reason_id << (T_REASON * TOK_BITS);
}

/* Id k of v, or -1 when it is no id of that set (a damaged spill). */
static int tok_at(int64_t v, int k)
{
    int id = (int)(v >> (k * TOK_BITS)) & ((1 << TOK_BITS) - 1);
    return id <= tok_other[k] ? id : -1;
}

/* Fills e's token ids from v; false when v holds no such ids. */
static bool tok_unpack(int64_t v, lmr__event *e)
{
    if (v < 0 || v >> (T__NUM * TOK_BITS))
        return false;
    int on = tok_at(v, T_ON), by = tok_at(v, T_BY), dir = tok_at(v, T_DIR),
        kind = tok_at(v, T_KIND), mode = tok_at(v, T_MODE),
        out = tok_at(v, T_OUTCOME), reason = tok_at(v, T_REASON);
    if ((on | by | dir | kind | mode | out | reason) < 0)
        return false;
    e->on_id = (lmr__on)on;
    e->by_id = (lmr__by)by;
    e->dir_id = (lmr__dir)dir;
    e->kind_id = (lmr__gkind)kind;
    e->mode_id = (lmr__mode)mode;
    e->outcome_id = (lmr__outcome)out;
    e->reason_id = (lmr__reason)reason;
    return true;
}

/* Known tokens' spellings, from their ids: NONE and OTHER are NULL in the
 * tables, so then the stored string (an unknown token), or none, stands. */
static void tok_spell(lmr__event *e)
{
    if (!e->on)
        e->on = lmr__on_tok[e->on_id];
    if (!e->by)
        e->by = lmr__by_tok[e->by_id];
    if (!e->dir)
        e->dir = lmr__dir_tok[e->dir_id];
    if (!e->group_kind)
        e->group_kind = lmr__gkind_tok[e->kind_id];
    if (!e->mode)
        e->mode = lmr__mode_tok[e->mode_id];
    if (!e->outcome)
        e->outcome = lmr__outcome_tok[e->outcome_id];
    if (!e->reason)
        e->reason = lmr__reason_tok[e->reason_id];
}

/* The numbers' "absent" values, in F_ order (lmr__event's defaults). */
static const int64_t defs[F__NUM] = {
    [F_FROM] = -1, [F_TO] = -1, [F_FD] = -1, [F_TIMEOUT] = -1,
};

/* The event's numbers, in F_ order. */
static void nums(const lmr__event *e, int64_t v[F__NUM])
{
    int64_t vals[F__NUM] = {
        (int64_t)e->task, (int64_t)e->parent, e->from, e->to, e->fd,
        (int64_t)e->by_task, e->group, (int64_t)e->owner, e->timeout,
        e->waited, e->ready, (int64_t)e->n, (int64_t)e->ran, (int64_t)e->io,
        (int64_t)e->timers, (int64_t)e->awaits, e->code, e->dropped,
        tok_pack(e),
    };
    memcpy(v, vals, sizeof vals);
}

static void strs(const lmr__event *e, const char *s[S__NUM])
{
    const char *v[S__NUM] = {e->ev,    e->name,   e->on,      e->label,
                             e->dir,   e->by,     e->error,   e->text,
                             e->group_kind, e->mode, e->outcome, e->reason,
                             e->message};
    memcpy(s, v, sizeof v);
    /* Known tokens are implied by their numbers. */
    if (e->kind != LMR__EV_UNKNOWN && e->kind < LMR__EV__COUNT)
        s[S_EV] = NULL;
    if (e->on_id != LMR__ON_OTHER)
        s[S_ON] = NULL;
    if (e->by_id != LMR__BY_OTHER)
        s[S_BY] = NULL;
    if (e->dir_id != LMR__DIR_OTHER)
        s[S_DIR] = NULL;
    if (e->kind_id != LMR__GK_OTHER)
        s[S_KIND] = NULL;
    if (e->mode_id != LMR__MODE_OTHER)
        s[S_MODE] = NULL;
    if (e->outcome_id != LMR__OUT_OTHER)
        s[S_OUTCOME] = NULL;
    if (e->reason_id != LMR__REASON_OTHER)
        s[S_REASON] = NULL;
}



/*
 * One record is encoded in a stack buffer and handed to stdio in as few
 * fwrite_unlocked calls as possible (one for a record without long strings):
 * a putc per byte costs more than the encoding itself. Strings that do not
 * fit in what is left of the buffer are written straight from the event.
 */
int lmr__spill_put(FILE *fp, const lmr__event *e)
{
    int64_t v[F__NUM];
    const char *s[S__NUM];
    nums(e, v);
    strs(e, s);
    uint64_t mask = 0;
    for (int i = 0; i < F__NUM; i++)
        if (v[i] != defs[i])
            mask |= 1ull << i;
    for (int i = 0; i < S__NUM; i++)
        if (s[i])
            mask |= 1ull << (F__NUM + i);
    if (e->members)
        mask |= 1ull << F_MEMBERS;
    /* 1 kind byte + 5 header varints + F__NUM numbers, 10 bytes each at
     * most, then room for short strings. */
    unsigned char buf[1024];
    unsigned char *p = buf, *end = buf + sizeof buf;
    *p++ = (unsigned char)e->kind;
    p = put_var(p, zz(e->t));
    p = put_var(p, e->loop);
    p = put_var(p, (uint64_t)e->line);
    p = put_var(p, (uint64_t)e->col);
    p = put_var(p, mask);
    for (int i = 0; i < F__NUM; i++)
        if (mask & (1ull << i))
            p = put_var(p, zz(v[i]));
    for (int i = 0; i < S__NUM; i++)
        if (s[i]) {
            size_t n = strlen(s[i]);
            if ((size_t)(end - p) < n + 10) {
                fwrite_unlocked(buf, 1, (size_t)(p - buf), fp);
                p = buf;
            }
            p = put_var(p, n);
            if ((size_t)(end - p) >= n) {
                memcpy(p, s[i], n);
                p += n;
            } else {
                fwrite_unlocked(buf, 1, (size_t)(p - buf), fp);
                fwrite_unlocked(s[i], 1, n, fp);
                p = buf;
            }
        }
    if (e->members) {
        if ((size_t)(end - p) < 10) {
            fwrite_unlocked(buf, 1, (size_t)(p - buf), fp);
            p = buf;
        }
        p = put_var(p, e->nmembers);
        for (size_t i = 0; i < e->nmembers; i++) {
            if ((size_t)(end - p) < 10) {
                fwrite_unlocked(buf, 1, (size_t)(p - buf), fp);
                p = buf;
            }
            p = put_var(p, e->members[i]);
        }
    }
    if (p > buf)
        fwrite_unlocked(buf, 1, (size_t)(p - buf), fp);
    return ferror_unlocked(fp) ? LMR_EIO : 0;
}

/* How reading one part of a spilled event went. */
typedef enum { REPLAY_OK, REPLAY_CORRUPT, REPLAY_NOMEM } replay_st;

/* Buffers reused from event to event: one event's strings and members. */
typedef struct {
    char *sbuf;
    size_t scap;
    uint64_t *mem;
    size_t mcap;
} replay_bufs;

/* The fixed head (kind, t, loop, line, col) and the numeric fields that
 * *mask says are there; the others take their defaults. */
static inline bool replay_numbers(win *w, int kind, lmr__event *e,
                                  uint64_t *mask, int64_t v[F__NUM])
{
    uint64_t t, loop, line, col, x;
    if (kind >= LMR__EV__COUNT || !get_var(w, &t) || !get_var(w, &loop) ||
        !get_var(w, &line) || !get_var(w, &col) || !get_var(w, mask))
        return false;
    e->kind = (lmr__ev_kind)kind;
    e->t = unzz(t);
    e->loop = (uint32_t)loop;
    e->line = (int)line;
    e->col = (int)col;
    for (int i = 0; i < F__NUM; i++) {
        v[i] = defs[i];
        if (*mask & (1ull << i)) {
            if (!get_var(w, &x))
                return false;
            v[i] = unzz(x);
        }
    }
    e->task = (uint64_t)v[F_TASK];
    e->parent = (uint64_t)v[F_PARENT];
    e->from = (int)v[F_FROM];
    e->to = (int)v[F_TO];
    e->fd = v[F_FD];
    e->by_task = (uint64_t)v[F_BY_TASK];
    e->group = (uint32_t)v[F_GROUP];
    e->owner = (uint64_t)v[F_OWNER];
    e->timeout = v[F_TIMEOUT];
    e->waited = v[F_WAITED];
    e->ready = v[F_READY];
    e->n = (uint64_t)v[F_N];
    e->ran = (uint64_t)v[F_RAN];
    e->io = (uint64_t)v[F_IO];
    e->timers = (uint64_t)v[F_TIMERS];
    e->awaits = (uint64_t)v[F_AWAITS];
    e->code = v[F_CODE];
    e->dropped = v[F_DROPPED];
    /* 0: no token, the ids stay NONE */
    return v[F_TOKS] == 0 || tok_unpack(v[F_TOKS], e);
}

/* The strings that mask says are there. They go into one buffer; pointers
 * are fixed once it is full (a realloc would move it). */
static inline replay_st replay_strings(win *w, uint64_t mask, lmr__event *e,
                                       replay_bufs *b)
{
    size_t off[S__NUM], len = 0;
    uint64_t x;
    for (int i = 0; i < S__NUM; i++) {
        off[i] = SIZE_MAX;
        if (!(mask & (1ull << (F__NUM + i))))
            continue;
        if (!get_var(w, &x) || x > LMR__MAX_SCALAR)
            return REPLAY_CORRUPT;
        if (len + x + 1 > b->scap) {
            size_t cap = b->scap ? b->scap : 4096;
            while (cap < len + x + 1)
                cap *= 2;
            char *nb = realloc(b->sbuf, cap);
            if (!nb)
                return REPLAY_NOMEM;
            b->sbuf = nb;
            b->scap = cap;
        }
        if (!win_bytes(w, b->sbuf + len, (size_t)x))
            return REPLAY_CORRUPT;
        b->sbuf[len + x] = '\0';
        off[i] = len;
        len += x + 1;
    }
    const char **dst[S__NUM] = {&e->ev,    &e->name,   &e->on,    &e->label,
                                &e->dir,   &e->by,     &e->error, &e->text,
                                &e->group_kind, &e->mode, &e->outcome,
                                &e->reason, &e->message};
    for (int i = 0; i < S__NUM; i++)
        *dst[i] = off[i] == SIZE_MAX ? NULL : b->sbuf + off[i];
    return REPLAY_OK;
}

/* A group's members, when mask says they are there. */
static inline replay_st replay_members(win *w, uint64_t mask, lmr__event *e,
                                       replay_bufs *b)
{
    uint64_t x;
    if (!(mask & (1ull << F_MEMBERS)))
        return REPLAY_OK;
    if (!get_var(w, &x) || x > LMR__MAX_MEMBERS)
        return REPLAY_CORRUPT;
    if (x > b->mcap) {
        uint64_t *nm = realloc(b->mem, (size_t)x * sizeof *nm);
        if (!nm)
            return REPLAY_NOMEM;
        b->mem = nm;
        b->mcap = (size_t)x;
    }
    for (uint64_t i = 0; i < x; i++)
        if (!get_var(w, &b->mem[i]))
            return REPLAY_CORRUPT;
    e->members = b->mem;
    e->nmembers = (size_t)x;
    return REPLAY_OK;
}

/* One event, from its kind byte (already read) to its last member. */
static inline replay_st replay_event(win *w, int kind, lmr__event *e,
                                     replay_bufs *b)
{
    uint64_t mask;
    int64_t v[F__NUM];
    memset(e, 0, sizeof *e);
    if (!replay_numbers(w, kind, e, &mask, v))
        return REPLAY_CORRUPT;
    replay_st st = replay_strings(w, mask, e, b);
    if (st != REPLAY_OK)
        return st;
    if (!e->ev)
        e->ev = lmr__ev_tok[e->kind];
    if (v[F_TOKS] != 0)
        tok_spell(e);
    return replay_members(w, mask, e, b);
}

int lmr__spill_replay(FILE *fp, const char *name, lmr__event_fn cb,
                      void *ctx, lmr_error *err)
{
    replay_bufs b = {0};
    int rc = 0;
    replay_st st = REPLAY_OK;
    lmr__header h = {.version = LMR_TRACE_FORMAT_MAJOR, .ring = -1};
    win w = {.fp = fp, .buf = malloc(WIN)};
    if (!w.buf)
        st = REPLAY_NOMEM;
    while (st == REPLAY_OK) {
        if (w.pos == w.len && win_fill(&w, 1) == 0) {
            if (ferror(fp))
                rc = lmr__err(err, LMR_EIO, name, 0, 0,
                              "cannot read the temporary copy of the trace: %s",
                              strerror(errno));
            break;
        }
        int kind = w.buf[w.pos++];
        lmr__event e;
        st = replay_event(&w, kind, &e, &b);
        if (st == REPLAY_OK && (rc = cb(ctx, &h, &e, err)) != 0)
            break;
    }
    if (st == REPLAY_CORRUPT)
        rc = lmr__err(err, LMR_EIO, name, 0, 0,
                      "the temporary copy of the trace is damaged");
    else if (st == REPLAY_NOMEM)
        rc = lmr__err(err, LMR_ENOMEM, name, 0, 0, "out of memory");
    free(w.buf);
    free(b.sbuf);
    free(b.mem);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The tee: pass 1's callback, wrapped                                      */
/* ------------------------------------------------------------------------ */

int lmr__tee_event(void *tee, const lmr__header *h, const lmr__event *ev,
                   lmr_error *err)
{
    lmr__tee *t = tee;
    /* The copy first, as the event arrived: a consumer that rejects it ends
     * the read anyway, and then the spill is never replayed. */
    if (t->spill && !t->rc)
        t->rc = lmr__spill_put(t->spill, ev);
    return t->cb ? t->cb(t->ctx, h, ev, err) : 0;
}

int lmr__read_teed(void *tee, FILE *fp, const char *name, lmr__header *h,
                   lmr__event_fn cb, void *ctx, int *truncated,
                   lmr_error *err)
{
    lmr__tee *t = tee;
    t->cb = cb;
    t->ctx = ctx;
    return lmr__read(fp, name, h, lmr__tee_event, t, truncated, err);
}

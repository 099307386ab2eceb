/*
 * trace_bin.c: the binary spill (docs/trace-format.md, section 14). The
 * writer thread's cost per event was formatting YAML (~73 ns and 73 bytes an
 * event, slower than the loop makes them, so back-pressure set the program's
 * pace). In a binary sink it writes each batch as one RECS chunk instead:
 * a few varints per record, strings copied once. Everything else the sink
 * gets (header, rings, loop-thread drains, crash output, gap lines) is the
 * YAML it always was, wrapped in TEXT chunks.
 *
 * The converter turns the chunks back into YAML with the one formatter
 * (lm__emit_rec_strs), so the result is byte for byte what a YAML sink of the
 * same run would hold. It trusts nothing in the file: every length, count
 * and string reference is checked against what was read, and memory stays
 * under fixed caps (LM__CH_MAX per chunk, BIN_STRS_MAX for the strings).
 */
#include "lm_trace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * A RECS payload, all integers LEB128 varints:
 *   loopno, pid (a forked child's loops may reuse its parent's numbers in a
 *   shared file; their string tables must not mix), from (interned ids
 *   already sent for this loop), nnew,
 *   nnew x (len, bytes)                the interned strings from id from+1 on;
 *   alen, then the arena's entries (len, bytes) in order: the reader rebuilds
 *   the arena with the recorder's layout, so the records' offsets stay valid;
 *   nrec, nrec x record.
 * A record starts with its shape: kind, the mask of its fields that are not
 * zero, p0, p1, p2. Most records repeat a shape seen shortly before, so a
 * per-chunk table of 255 shapes, indexed by a hash of the shape, turns it
 * into one byte: the slot, when it holds that shape; else 255, kind, mask,
 * then p0 (when its bit is set) and p1 p2 (one bit for both), and both sides
 * store the shape in its slot. Then t - previous t (zigzag), and the fields
 * of the mask in this order: a (zigzag difference from the last a of that
 * kind: task ids alternate, tick numbers count up), b, c (zigzag), s1, s2,
 * i (zigzag). Absent fields are 0. The tables start empty in each chunk, so
 * chunks decode on their own. pingpong: ~3.5 bytes a record.
 */
enum {
    M_A = 1, M_B = 2, M_C = 4, M_S1 = 8, M_S2 = 16, M_I = 32, M_P0 = 64,
    M_P12 = 128
};
/* The most a record takes: escape, kind, mask, 3 bytes, 5 varints of 10,
 * 3 of 5. */
#define REC_MAX 80
#define NSHAPES 255
#define SHAPE_NEW 255

typedef struct shapes {
    uint64_t key[NSHAPES]; /* NO_SHAPE: empty */
    uint64_t last_a[256];  /* per kind */
} shapes;
#define NO_SHAPE UINT64_MAX

static void shapes_init(shapes *t)
{
    for (int k = 0; k < NSHAPES; k++)
        t->key[k] = NO_SHAPE;
    memset(t->last_a, 0, sizeof t->last_a);
}

static inline uint64_t shape_key(unsigned kind, unsigned mask, unsigned p0,
                                 unsigned p1, unsigned p2)
{
    return (uint64_t)kind | (uint64_t)mask << 8 | (uint64_t)p0 << 16 |
           (uint64_t)p1 << 24 | (uint64_t)p2 << 32;
}

static inline unsigned shape_slot(uint64_t key)
{
    unsigned h = (unsigned)((key * 0x9E3779B97F4A7C15ull) >> 56);
    return h == SHAPE_NEW ? 0 : h;
}

void lm__bin_hdr(char hdr[LM__CH_HDR], int type, size_t n)
{
    hdr[0] = (char)type;
    for (int k = 0; k < 4; k++)
        hdr[1 + k] = (char)((n >> (8 * k)) & 0xFF);
}

static inline uint64_t zig(int64_t v)
{
    uint64_t u = (uint64_t)v;
    return (u << 1) ^ (0 - (u >> 63));
}

static inline int64_t unzig(uint64_t u)
{
    return (int64_t)((u >> 1) ^ (0 - (u & 1)));
}

static inline size_t put_var(char *buf, size_t at, uint64_t v)
{
    unsigned char *p = (unsigned char *)buf + at;
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return (size_t)(p - (unsigned char *)buf);
}

/* Room for need more bytes in e (the writer's growing buffer). */
static bool reserve(lm__emit *e, size_t need)
{
    if (e->len + need <= e->cap)
        return true;
    if (e->len + need > LM__CH_HDR + (size_t)LM__CH_MAX + REC_MAX ||
        !e->flush || e->flush(e, need) != 0 || e->len + need > e->cap) {
        e->failed = true;
        return false;
    }
    return true;
}

static bool put_bytes(lm__emit *e, const char *s, size_t n)
{
    if (!reserve(e, 10 + n))
        return false;
    e->len = put_var(e->buf, e->len, n);
    memcpy(e->buf + e->len, s, n);
    e->len += n;
    return true;
}

bool lm__bin_recs(lm__emit *e, const lm__batch *b, uint32_t pid, uint32_t from)
{
    const lm__strs *v = &b->strs;
    e->len = 0;
    e->failed = false;
    if (v->alen > LM__CH_MAX / 2 || !reserve(e, LM__CH_HDR + 40))
        return false;
    e->len = LM__CH_HDR;
    uint32_t nnew = v->nid > from ? v->nid - from : 0;
    e->len = put_var(e->buf, e->len, v->loopno);
    e->len = put_var(e->buf, e->len, pid);
    e->len = put_var(e->buf, e->len, from);
    e->len = put_var(e->buf, e->len, nnew);
    for (uint32_t id = from; id < v->nid; id++) {
        const char *s = v->istore + v->ioff[id];
        if (!put_bytes(e, s, strlen(s)))
            return false;
    }
    /* The arena only ever appends entries [u32 len][u32 0][bytes][NUL] padded
     * to 8 (trace_str.c), so its lengths alone give every offset back; the
     * padding (never written, so never initialised) stays out of the file. */
    if (!reserve(e, 10))
        return false;
    e->len = put_var(e->buf, e->len, v->alen);
    for (size_t off = 0; off < v->alen;) {
        uint32_t n;
        if (v->alen - off < 8)
            return false;
        memcpy(&n, v->arena + off, 4);
        size_t step = 8 + (((size_t)n + 1 + 7) & ~(size_t)7);
        if (step > v->alen - off || !put_bytes(e, v->arena + off + 8, n))
            return false;
        off += step;
    }
    uint64_t nrec = b->wr - b->rd;
    if (!reserve(e, 10))
        return false;
    e->len = put_var(e->buf, e->len, nrec);
    int64_t prev = 0;
    size_t slot = (size_t)(b->rd % b->cap);
    /* 4 KiB of writer-thread stack, set once a batch (~1000 records). */
    shapes sh;
    shapes_init(&sh);
    for (uint64_t k = b->rd; k < b->wr; k++) {
        if (LM__UNLIKELY(e->len + REC_MAX > e->cap) && !reserve(e, REC_MAX))
            return false;
        const lm__rec *r = &b->rec[slot];
        if (++slot == b->cap)
            slot = 0;
        int64_t t = lm__tscmap_ns(&b->tm, k, r->t);
        char *buf = e->buf;
        size_t at = e->len;
        unsigned mask = (r->a ? M_A : 0) | (r->b ? M_B : 0) | (r->c ? M_C : 0) |
                        (r->s1 ? M_S1 : 0) | (r->s2 ? M_S2 : 0) |
                        (r->i ? M_I : 0) | (r->p0 ? M_P0 : 0) |
                        (r->p1 | r->p2 ? M_P12 : 0);
        uint64_t key = shape_key(r->kind, mask, r->p0, r->p1, r->p2);
        unsigned h = shape_slot(key);
        if (LM__LIKELY(sh.key[h] == key)) {
            buf[at++] = (char)h;
        } else {
            sh.key[h] = key;
            buf[at++] = (char)SHAPE_NEW;
            buf[at++] = (char)r->kind;
            buf[at++] = (char)mask;
            if (mask & M_P0)
                buf[at++] = (char)r->p0;
            if (mask & M_P12) {
                buf[at++] = (char)r->p1;
                buf[at++] = (char)r->p2;
            }
        }
        /* Unsigned subtraction: a hostile clock cannot overflow here. */
        at = put_var(buf, at, zig((int64_t)((uint64_t)t - (uint64_t)prev)));
        prev = t;
        if (mask & M_A) {
            at = put_var(buf, at, zig((int64_t)(r->a - sh.last_a[r->kind])));
            sh.last_a[r->kind] = r->a;
        }
        if (mask & M_B)
            at = put_var(buf, at, r->b);
        if (mask & M_C)
            at = put_var(buf, at, zig(r->c));
        if (mask & M_S1)
            at = put_var(buf, at, r->s1);
        if (mask & M_S2)
            at = put_var(buf, at, r->s2);
        if (mask & M_I)
            at = put_var(buf, at, zig(r->i));
        e->len = at;
    }
    size_t n = e->len - LM__CH_HDR;
    if (n > LM__CH_MAX)
        return false;
    lm__bin_hdr(e->buf, LM__CH_RECS, n);
    return true;
}

/* ------------------------------------------------------------------------ */
/* The converter                                                             */
/* ------------------------------------------------------------------------ */

/* Any version: a file of another one is still no YAML, and the converter
 * says which version it is rather than a YAML parser failing on it. */
bool lm_trace_is_binary(const void *data, size_t len)
{
    return data != NULL && len >= LM__BIN_MAGIC_LEN &&
           memcmp(data, LM__BIN_MAGIC, LM__BIN_MAGIC_LEN - 1) == 0;
}

/* All interned strings of all loops together: a real trace has kilobytes of
 * labels; a file claiming more is refused rather than believed. */
#define BIN_STRS_MAX ((size_t)256 << 20)
/* Loops in one file (each costs a small struct until it has strings). */
#define BIN_LOOPS_MAX (1u << 20)

/* One loop's interned strings, as the recorder had them. */
typedef struct bloop {
    uint64_t key;          /* pid << 32 | loopno */
    uint32_t nid, idcap;
    uint32_t *ioff;
    char *store;
    size_t slen, scap;
} bloop;

typedef struct conv {
    int fd;
    uint64_t pos;          /* bytes read so far */
    unsigned char *buf;    /* the current chunk's payload */
    size_t bcap;
    char *arena;           /* the current RECS chunk's arena, rebuilt */
    size_t acap;
    bloop *loops;          /* sorted by key */
    size_t nloops, lcap;
    size_t strs_total;     /* bytes the string tables hold allocated */
    lm__emit e;
    FILE *out;
    lm_convert_error *err;
    uint64_t chunk_at;
} conv;

static int fail(conv *c, int code, const char *msg, uint64_t a, uint64_t b)
{
    if (c->err) {
        c->err->code = code;
        c->err->offset = c->chunk_at;
        char *d = c->err->msg;
        snprintf(d, sizeof c->err->msg, msg, (unsigned long long)a,
                 (unsigned long long)b);
    }
    return code;
}

/* Reads up to n bytes; how many (short only at end of file), or -1. */
static ssize_t read_some(conv *c, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(c->fd, (char *)p + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    c->pos += got;
    return (ssize_t)got;
}

static int out_flush(lm__emit *e, size_t need)
{
    conv *c = e->ctx;
    (void)need;
    if (e->len > 0 && fwrite(e->buf, 1, e->len, c->out) != e->len)
        return -1;
    e->len = 0;
    return 0;
}

/* The payload of a chunk of n bytes into c->buf, grown as the bytes come so
 * that a truncated file never costs the memory its header claims. */
static int read_payload(conv *c, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < (1u << 20) ? n - got : (1u << 20);
        if (got + want > c->bcap) {
            size_t ncap = lm__grow_cap(c->bcap, 65536, got + want);
            unsigned char *nb = ncap ? realloc(c->buf, ncap) : NULL;
            if (!nb)
                return fail(c, LM_ENOMEM, "out of memory for a chunk of %llu bytes",
                            n, 0);
            c->buf = nb;
            c->bcap = ncap;
        }
        ssize_t r = read_some(c, c->buf + got, want);
        if (r < 0)
            return fail(c, LM_EIO, "read error in a chunk of %llu bytes", n, 0);
        got += (size_t)r;
        if ((size_t)r < want)
            return fail(c, LM_EOF_, "truncated chunk: %llu of %llu payload bytes",
                        got, n);
    }
    return 0;
}

/* A cursor over a payload. */
typedef struct cur {
    const unsigned char *p, *end;
    bool bad;
} cur;

static uint64_t get_var(cur *u)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (u->p == u->end) {
            u->bad = true;
            return 0;
        }
        unsigned char b = *u->p++;
        if (shift == 63 && b > 1) {
            u->bad = true; /* more than 64 bits */
            return 0;
        }
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return v;
    }
    u->bad = true;
    return 0;
}

static unsigned get_byte(cur *u)
{
    if (u->p == u->end) {
        u->bad = true;
        return 0;
    }
    return *u->p++;
}

/* The loop's string table, made on first sight; NULL when out of memory or
 * when the file names too many loops. */
static bloop *loop_of(conv *c, uint64_t key)
{
    size_t lo = 0, hi = c->nloops;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->loops[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->nloops && c->loops[lo].key == key)
        return &c->loops[lo];
    if (c->nloops >= BIN_LOOPS_MAX)
        return NULL;
    if (c->nloops == c->lcap) {
        size_t ncap = lm__grow_cap(c->lcap, 8, c->nloops + 1);
        bloop *nl = realloc(c->loops, ncap * sizeof *nl);
        if (!nl)
            return NULL;
        c->loops = nl;
        c->lcap = ncap;
    }
    memmove(&c->loops[lo + 1], &c->loops[lo],
            (c->nloops - lo) * sizeof *c->loops);
    c->nloops++;
    memset(&c->loops[lo], 0, sizeof c->loops[lo]);
    c->loops[lo].key = key;
    return &c->loops[lo];
}

/* Counts what the string tables hold allocated (stores and offset arrays
 * of every loop), so that neither many small strings nor many loops with
 * one string each can add up to more than BIN_STRS_MAX. */
static int add_string(conv *c, bloop *l, const unsigned char *s, size_t n)
{
    if (l->slen + n + 1 > UINT32_MAX)
        return fail(c, LM_ERANGE, "interned strings of one loop over 4 GiB", 0, 0);
    size_t scap = l->scap, idcap = l->idcap;
    if (l->slen + n + 1 > scap)
        scap = lm__grow_cap(scap, 256, l->slen + n + 1);
    if (l->nid == idcap)
        idcap = lm__grow_cap(idcap, 16, (size_t)l->nid + 1);
    size_t more = (scap - l->scap) + (idcap - l->idcap) * sizeof(uint32_t);
    if (scap == 0 || idcap == 0 || idcap > UINT32_MAX ||
        c->strs_total + more > BIN_STRS_MAX)
        return fail(c, LM_ERANGE, "interned strings over the %llu-byte limit",
                    BIN_STRS_MAX, 0);
    if (scap != l->scap) {
        char *ns = realloc(l->store, scap);
        if (!ns)
            return fail(c, LM_ENOMEM, "out of memory for strings", 0, 0);
        l->store = ns;
        c->strs_total += scap - l->scap;
        l->scap = scap;
    }
    if (idcap != l->idcap) {
        uint32_t *ni = realloc(l->ioff, idcap * sizeof *ni);
        if (!ni)
            return fail(c, LM_ENOMEM, "out of memory for strings", 0, 0);
        l->ioff = ni;
        c->strs_total += (idcap - l->idcap) * sizeof(uint32_t);
        l->idcap = (uint32_t)idcap;
    }
    memcpy(l->store + l->slen, s, n);
    l->store[l->slen + n] = '\0';
    l->ioff[l->nid++] = (uint32_t)l->slen;
    l->slen += n + 1;
    return 0;
}

/* Decodes one record; false when the bytes are not one. */
static bool get_rec(cur *u, lm__rec *r, int64_t *prev, shapes *sh,
                    const lm__strs *v)
{
    memset(r, 0, sizeof *r);
    unsigned h = get_byte(u), kind, mask, p0 = 0, p1 = 0, p2 = 0;
    uint64_t key;
    if (h == SHAPE_NEW) {
        kind = get_byte(u);
        mask = get_byte(u);
        if (mask & M_P0)
            p0 = get_byte(u);
        if (mask & M_P12) {
            p1 = get_byte(u);
            p2 = get_byte(u);
        }
        key = shape_key(kind, mask, p0, p1, p2);
        sh->key[shape_slot(key)] = key;
    } else {
        key = sh->key[h];
        if (key == NO_SHAPE)
            return false; /* a slot never filled */
        kind = key & 0xFF;
        mask = (key >> 8) & 0xFF;
        p0 = (key >> 16) & 0xFF;
        p1 = (key >> 24) & 0xFF;
        p2 = (key >> 32) & 0xFF;
    }
    r->kind = (uint8_t)kind;
    r->p0 = (uint8_t)p0;
    r->p1 = (uint8_t)p1;
    r->p2 = (uint8_t)p2;
    *prev = (int64_t)((uint64_t)*prev + (uint64_t)unzig(get_var(u)));
    r->t = *prev;
    if (mask & M_A) {
        r->a = sh->last_a[kind] + (uint64_t)unzig(get_var(u));
        sh->last_a[kind] = r->a;
    }
    if (mask & M_B)
        r->b = get_var(u);
    if (mask & M_C)
        r->c = unzig(get_var(u));
    uint64_t s1 = mask & M_S1 ? get_var(u) : 0;
    uint64_t s2 = mask & M_S2 ? get_var(u) : 0;
    uint64_t i = mask & M_I ? get_var(u) : 0;
    if (u->bad || kind == 0 || kind >= LM__R__COUNT || s1 > UINT32_MAX ||
        s2 > UINT32_MAX || i > UINT32_MAX)
        return false;
    int64_t iv = unzig(i);
    if (iv < INT32_MIN || iv > INT32_MAX)
        return false;
    r->i = (int32_t)iv;
    r->s1 = (uint32_t)s1;
    r->s2 = (uint32_t)s2;
    if (r->s2) {
        /* The formatter trusts the arena: the whole entry must be in it. */
        size_t at = r->s2 - 1;
        uint32_t n;
        if (at > v->alen || v->alen - at < 8)
            return false;
        memcpy(&n, v->arena + at, 4);
        if (v->alen - at - 8 < (size_t)n)
            return false;
    }
    return true;
}

static int do_recs(conv *c, size_t n)
{
    cur u = {c->buf, c->buf + n, false};
    uint64_t loopno = get_var(&u), pid = get_var(&u);
    uint64_t from = get_var(&u), nnew = get_var(&u);
    if (u.bad || loopno > UINT32_MAX || pid > UINT32_MAX)
        return fail(c, LM_EINVAL, "bad RECS chunk head", 0, 0);
    bloop *l = loop_of(c, pid << 32 | loopno);
    if (!l)
        return fail(c, LM_ENOMEM, "too many loops (or out of memory) at loop %llu",
                    loopno, 0);
    if (from != l->nid)
        return fail(c, LM_EINVAL, "strings from id %llu, but %llu known", from,
                    l->nid);
    if (nnew > (uint64_t)(u.end - u.p))
        return fail(c, LM_EINVAL, "%llu new strings in a %llu-byte chunk", nnew, n);
    for (uint64_t k = 0; k < nnew; k++) {
        uint64_t len = get_var(&u);
        if (u.bad || len > (uint64_t)(u.end - u.p))
            return fail(c, LM_EINVAL, "string %llu runs past the chunk", k, 0);
        int rc = add_string(c, l, u.p, (size_t)len);
        if (rc)
            return rc;
        u.p += len;
    }
    /* An entry of len bytes takes at most len + 16 in the arena and at
     * least len + 1 in the file: a longer arena is a lie, refused before it
     * is allocated. */
    uint64_t alen = get_var(&u);
    if (u.bad || alen > LM__CH_MAX || alen > 16 * (uint64_t)(u.end - u.p))
        return fail(c, LM_EINVAL, "bad arena length %llu", alen, 0);
    if (alen > c->acap) {
        char *na = realloc(c->arena, (size_t)alen);
        if (!na)
            return fail(c, LM_ENOMEM, "out of memory for an arena of %llu bytes",
                        alen, 0);
        c->arena = na;
        c->acap = (size_t)alen;
    }
    for (size_t off = 0; off < alen;) {
        uint64_t len = get_var(&u);
        if (u.bad || len > (uint64_t)(u.end - u.p) || len > UINT32_MAX)
            return fail(c, LM_EINVAL, "arena entry at %llu runs past the chunk",
                        off, 0);
        size_t step = 8 + (((size_t)len + 1 + 7) & ~(size_t)7);
        if (step > alen - off)
            return fail(c, LM_EINVAL, "arena entry at %llu runs past its length",
                        off, 0);
        uint32_t n32 = (uint32_t)len;
        memset(c->arena + off, 0, step);
        memcpy(c->arena + off, &n32, 4);
        memcpy(c->arena + off + 8, u.p, (size_t)len);
        u.p += len;
        off += step;
    }
    uint64_t nrec = get_var(&u);
    if (u.bad || nrec > (uint64_t)(u.end - u.p) / 2)
        return fail(c, LM_EINVAL, "bad record count %llu", nrec, 0);
    lm__strs v = {.arena = c->arena, .alen = (size_t)alen, .istore = l->store,
                  .ioff = l->ioff, .nid = l->nid, .loopno = (uint32_t)loopno};
    /* Checked whole first, then written: a bad chunk writes nothing. */
    const unsigned char *recs = u.p;
    int64_t prev = 0;
    lm__rec r;
    shapes sh;
    shapes_init(&sh);
    for (uint64_t k = 0; k < nrec; k++)
        if (!get_rec(&u, &r, &prev, &sh, &v))
            return fail(c, LM_EINVAL, "bad record %llu of %llu", k, nrec);
    if (u.p != u.end)
        return fail(c, LM_EINVAL, "%llu bytes after the last record",
                    (uint64_t)(u.end - u.p), 0);
    u.p = recs;
    prev = 0;
    shapes_init(&sh);
    for (uint64_t k = 0; k < nrec; k++) {
        get_rec(&u, &r, &prev, &sh, &v);
        lm__emit_rec_strs(&c->e, &v, &r);
    }
    if (c->e.failed)
        return fail(c, LM_EIO, "write error", 0, 0);
    return 0;
}

static int convert(conv *c)
{
    unsigned char magic[LM__BIN_MAGIC_LEN];
    ssize_t got = read_some(c, magic, sizeof magic);
    if (got < 0)
        return fail(c, LM_EIO, "read error", 0, 0);
    if (!lm_trace_is_binary(magic, (size_t)got))
        return fail(c, got < (ssize_t)sizeof magic ? LM_EOF_ : LM_EINVAL,
                    "not a binary loopmaid trace (no LMTRACE magic)", 0, 0);
    if (magic[LM__BIN_MAGIC_LEN - 1] != LM__BIN_VERSION)
        return fail(c, LM_EINVAL,
                    "binary trace format version %llu; this loopmaid reads "
                    "version %llu (convert it with the loopmaid that wrote it)",
                    magic[LM__BIN_MAGIC_LEN - 1], LM__BIN_VERSION);
    for (;;) {
        c->chunk_at = c->pos;
        unsigned char h[LM__CH_HDR];
        got = read_some(c, h, sizeof h);
        if (got < 0)
            return fail(c, LM_EIO, "read error", 0, 0);
        if (got == 0)
            break;
        if (got < LM__CH_HDR)
            return fail(c, LM_EOF_, "truncated chunk header (%llu of 5 bytes)",
                        (uint64_t)got, 0);
        uint32_t n = (uint32_t)h[1] | (uint32_t)h[2] << 8 | (uint32_t)h[3] << 16 |
                     (uint32_t)h[4] << 24;
        if (h[0] != LM__CH_TEXT && h[0] != LM__CH_RECS)
            return fail(c, LM_EINVAL, "unknown chunk type %llu", h[0], 0);
        if (n > LM__CH_MAX)
            return fail(c, LM_ERANGE, "chunk of %llu bytes over the %llu limit", n,
                        LM__CH_MAX);
        int rc = read_payload(c, n);
        if (rc)
            return rc;
        /* The writer never makes an empty chunk, and c->buf is still NULL
         * when the first chunk is empty: a RECS chunk needs its head, an
         * empty TEXT chunk says nothing. */
        if (n == 0) {
            if (h[0] == LM__CH_RECS)
                return fail(c, LM_EINVAL, "empty RECS chunk", 0, 0);
            continue;
        }
        if (h[0] == LM__CH_TEXT) {
            lm__emit_bytes(&c->e, (const char *)c->buf, n);
            if (c->e.failed)
                return fail(c, LM_EIO, "write error", 0, 0);
        } else if ((rc = do_recs(c, n)) != 0) {
            return rc;
        }
    }
    return 0;
}

int lm_trace_convert(int in_fd, FILE *out, lm_convert_error *err)
{
    if (err) {
        err->code = 0;
        err->offset = 0;
        err->msg[0] = '\0';
    }
    if (in_fd < 0 || out == NULL) {
        if (err) {
            err->code = LM_EINVAL;
            snprintf(err->msg, sizeof err->msg, "no input or no output");
        }
        return LM_EINVAL;
    }
    static const size_t obuf = 65536;
    conv c = {.fd = in_fd, .out = out, .err = err};
    c.e = (lm__emit){.buf = malloc(obuf), .cap = obuf, .flush = out_flush,
                     .ctx = &c};
    int rc;
    if (c.e.buf == NULL) {
        rc = fail(&c, LM_ENOMEM, "out of memory", 0, 0);
    } else {
        rc = convert(&c);
        /* What came before a bad chunk is written all the same. */
        bool was_failed = c.e.failed;
        c.e.failed = false;
        if ((out_flush(&c.e, 0) != 0 || fflush(out) != 0 || was_failed) && rc == 0)
            rc = fail(&c, LM_EIO, "write error", 0, 0);
    }
    for (size_t k = 0; k < c.nloops; k++) {
        free(c.loops[k].store);
        free(c.loops[k].ioff);
    }
    free(c.loops);
    free(c.buf);
    free(c.arena);
    free(c.e.buf);
    return rc;
}
